"""The pipelines policy interface, declared once: functions, views with units, and the feature library."""

from __future__ import annotations

from policyforge.contract import FieldSpec, FunctionSpec, GPTable, PolicySpec, ViewSpec

F = FieldSpec

PIPELINES_POLICY = PolicySpec(
    task="pipelines",
    summary=(
        "Schedule data pipelines (DAGs of operators) on pools of CPUs and RAM, as in Eudoxia. `schedule` is "
        "called on every tick where something happened (pipelines arrived; on the tick after a container "
        "completed, ran out of memory, finished suspending, or reached an operator boundary) and returns "
        "`(suspensions, assignments)`. An assignment starts a container in one pool with the CPUs and RAM "
        "you give it, running its operators in order; if an operator's memory exceeds the container's RAM, "
        "the container fails (OOM) and its unfinished operators may be assigned again. You see ESTIMATED "
        "needs only. A suspension (only at an operator boundary) writes the container's RAM out at 20 GB/s, "
        "then frees it and returns its remaining operators to pending. The mechanism validates every decision "
        "and rejects (with a recorded reason) any that over-commits a pool or is otherwise infeasible. "
        "Objective: weighted completed pipelines per minute / (1 + weighted mean latency / 10 s)."
    ),
    functions=(
        FunctionSpec("schedule", "schedule(state, results, arrivals, cluster)",
                     "(suspensions, assignments): a list of container ids and a list of "
                     "(pool, [operator ids], cpus, ram_gb) tuples",
                     "decide what to start and what to suspend now; `state` is your own dict, kept between calls"),
        FunctionSpec("init", "init(state, cluster)", "None",
                     "set up `state` (an empty dict, one per run) before the first call", required=False),
    ),
    views=(
        ViewSpec("results", "containers that ended since the previous call (tuple, by pool then creation)", (
            F("container", "scalar", "int", "id", "the container's id"),
            F("pool", "scalar", "int", "pool id", "where it ran"),
            F("pipeline", "scalar", "int", "pipeline id", "whose operators it ran"),
            F("priority", "scalar", "int", "1..3", "1 query, 2 interactive, 3 batch"),
            F("ops", "n", "int", "operator ids", "its operators, in the order they ran"),
            F("remaining", "n", "int", "operator ids", "those not completed (failed, or back to pending)"),
            F("cpu", "scalar", "int", "CPUs", "what it was given"),
            F("ram_gb", "scalar", "float", "GB", "what it was given"),
            F("outcome", "scalar", "str", "", "'completed', 'failed' or 'suspended'"),
            F("error", "scalar", "str|None", "", "'OOM' for a failure"),
            F("seconds", "scalar", "float", "s", "how long it ran"),
        )),
        ViewSpec("arrivals", "pipelines that arrived now (tuple of pipeline views, as cluster.pipeline returns)", (
            F("id", "scalar", "int", "pipeline id", "counter in arrival order"),
            F("name", "scalar", "str", "", "its name in the trace"),
            F("priority", "scalar", "int", "1..3", "1 query, 2 interactive, 3 batch (priority_name too)"),
            F("arrival", "scalar", "float", "s", "arrival time"),
            F("ops", "n", "OperatorView", "", "its operators in topological order (see `operator`)"),
            F("states", "n", "str", "", "each operator's state: pending, assigned, running, suspending, "
              "completed, failed; also .done, .has_failures, .assignable(parents_complete=True)"),
        )),
        ViewSpec("operator", "an operator (pipeline.ops[i]): identity and ESTIMATED needs", (
            F("id", "scalar", "int", "operator id", "global counter; what assignments name"),
            F("pipeline", "scalar", "int", "pipeline id", "its pipeline"),
            F("name", "scalar", "str", "", "its name in the trace"),
            F("position", "scalar", "int", "", "its index in pipeline.ops"),
            F("parents", "k", "int", "positions", "positions in pipeline.ops of the operators it waits for"),
            F("scaling", "scalar", "str", "", "how CPUs speed it up: const, log, sqrt, linear3, linear7, "
              "squared, exp (see features.cpu_seconds)"),
            F("est_memory_gb", "scalar", "float", "GB", "estimated peak memory (true value differs, ~30%)"),
            F("est_cpu_seconds", "scalar", "float", "s", "estimated CPU work on one CPU"),
            F("est_io_seconds", "scalar", "float", "s", "estimated time reading storage"),
        )),
        ViewSpec("cluster", "the state when called", (
            F("tick", "scalar", "int", "ticks", "now, in ticks"),
            F("now", "scalar", "float", "s", "now"),
            F("tick_seconds", "scalar", "float", "s", "the time quantum"),
            F("duration", "scalar", "float", "s", "when the run ends"),
            F("multi_operator_containers", "scalar", "bool", "", "False: exactly one operator per assignment"),
            F("pools", "P", "PoolView", "", "each pool: id, cpu_total, ram_total_gb, cpu_free, ram_free_gb, "
              "containers (running, creation order), suspending (count)"),
            F("suspendable", "m", "ContainerView", "", "running containers at an operator boundary now: "
              "the only ones a suspension may name"),
            F("cpu_free", "P", "int", "CPUs", "not allocated, per pool (read-only array)"),
            F("ram_free_gb", "P", "float", "GB", "not allocated, per pool (read-only array)"),
            F("cpu_total", "P", "int", "CPUs", "per pool"),
            F("ram_total_gb", "P", "float", "GB", "per pool"),
            F("random", "-", "numpy Generator", "", "seeded generator: the only randomness allowed"),
            F("pipeline(pid)", "-", "PipelineView", "", "an arrived pipeline with its operators' current states"),
            F("assignable(pid, parents_complete=True)", "n", "int", "operator ids",
              "the same as cluster.pipeline(pid).assignable(...), cheaper"),
            F("outstanding()", "n", "int", "pipeline ids", "arrived pipelines not yet completed, in arrival order"),
        )),
        ViewSpec("container", "a running container (pool.containers[i], cluster.suspendable[i])", (
            F("id", "scalar", "int", "container id", "counter in creation order"),
            F("pool", "scalar", "int", "pool id", "where it runs"),
            F("pipeline", "scalar", "int", "pipeline id", "whose operators it runs"),
            F("priority", "scalar", "int", "1..3", "its pipeline's priority"),
            F("ops", "n", "int", "operator ids", "its operators in order"),
            F("cpu", "scalar", "int", "CPUs", "allocated"),
            F("ram_gb", "scalar", "float", "GB", "allocated"),
            F("started", "scalar", "float", "s", "when it started"),
            F("current", "scalar", "int", "index into ops", "the operator running (or next, at a boundary)"),
            F("suspendable", "scalar", "bool", "", "at an operator boundary now"),
        )),
    ),
    features=(
        FunctionSpec("cpu_seconds", "cpu_seconds(scaling, baseline_seconds, cpus)", "float or array",
                     "CPU time of `baseline_seconds` single-CPU work on `cpus` CPUs (vectorised over cpus)"),
        FunctionSpec("run_seconds", "run_seconds(op, cpus)", "float or array",
                     "an operator's estimated run time: est_io_seconds + its CPU time on `cpus`"),
        FunctionSpec("useful_cpus", "useful_cpus(scaling, max_cpus, gain=0.05)", "int",
                     "fewest CPUs beyond which one more speeds the work up by less than `gain`"),
        FunctionSpec("suspend_seconds", "suspend_seconds(ram_gb)", "float", "how long suspending takes"),
        FunctionSpec("QUERY, INTERACTIVE, BATCH, PRIORITIES, WEIGHTS", "constants", "int / tuple / dict",
                     "priority values 1, 2, 3 (most urgent first) and the objective's weights 10, 5, 1"),
    ),
    feature_module="policyforge.tasks.pipelines.features",
    allowed_imports=("math", "numpy", "policyforge.tasks.pipelines.features"),
    rules=(
        "Views are read-only snapshots taken when the call starts: your own assignments of this call are not "
        "reflected in them, so track what you hand out (free CPUs and RAM per pool) yourself.",
        "Keep state in the `state` dict (item assignment, not attributes); it is fresh for every run.",
        "Return plain tuples/lists: suspensions are container ids, assignments (pool, [op ids], cpus, ram_gb) "
        "with cpus a positive integer. An infeasible decision is rejected with a reason and has no effect; more "
        "than 64 rejected in one call invalidate the policy.",
        "All operators of one assignment belong to one pipeline; each must be pending or failed, and each "
        "parent must have completed or come earlier in the same assignment.",
        "Use only `cluster.random` for randomness, so runs are reproducible; it says nothing about the "
        "instance (its seed is the engine's secret).",
        "Names starting with an underscore are private to the simulator.",
    ),
)

PIPELINES_RANK_POLICY = PolicySpec(
    task="pipelines-rank",
    summary=(
        "The pipelines task through a fixed mechanism that the task runs: it sizes each ready "
        "operator (RAM: estimate x 1.25 + 0.5 GB, doubled after an OOM; CPUs: what its scaling curve turns into "
        "speed), places operators best-fit in the order you give, retries OOMs and suspends a batch container "
        "for a blocked query or interactive operator. You write `rank(ops, load)`: one number per ready "
        "operator, higher goes first; and, if you want other sizes than the mechanism's, `ram_gb(ops, load)` "
        "and `cpus(ops, load)`. Define only these functions (no `schedule`): the task runs the mechanism and "
        "calls them."
    ),
    functions=(
        FunctionSpec("rank", "rank(ops, load)", "one float per ready operator (array of len(ops))",
                     "higher is placed first; ties keep the order in which operators became ready"),
        FunctionSpec("ram_gb", "ram_gb(ops, load)", "GB per ready operator",
                     "RAM to give each (at least 0.1; after an OOM at least twice what failed; at most the "
                     "largest pool's; NaN: the mechanism's ops.ram_gb)", required=False),
        FunctionSpec("cpus", "cpus(ops, load)", "CPUs per ready operator",
                     "CPUs to give each, rounded (1 to the largest pool's, fewer if fewer are free; NaN: the "
                     "mechanism's ops.cpus)", required=False),
    ),
    views=(
        ViewSpec("ops", "the ready operators (parents completed, not running), as read-only float columns", (
            F("id", "K", "int", "operator id", "identity, not a quantity"),
            F("priority", "K", "float", "1..3", "its pipeline's priority: 1 query, 2 interactive, 3 batch"),
            F("weight", "K", "float", "", "the objective's weight of its pipeline: 10, 5 or 1"),
            F("est_memory_gb", "K", "float", "GB", "estimated peak memory"),
            F("est_cpu_seconds", "K", "float", "s", "estimated CPU work on one CPU"),
            F("est_io_seconds", "K", "float", "s", "estimated time reading storage"),
            F("cpus", "K", "float", "CPUs", "the mechanism's size: what its curve turns into speed, up to 16"),
            F("run_seconds", "K", "float", "s", "estimated run time with `cpus` CPUs"),
            F("path_seconds", "K", "float", "s", "critical path: its run time plus the longest chain of "
              "its descendants' (at their `cpus`)"),
            F("ram_gb", "K", "float", "GB", "the mechanism's size: estimate x 1.25 + 0.5, more after OOMs"),
            F("failures", "K", "float", "", "its OOM failures so far"),
            F("waited", "K", "float", "s", "since its pipeline arrived"),
            F("pipeline_ops_left", "K", "float", "", "operators of its pipeline not yet completed"),
            F("pipeline_seconds_left", "K", "float", "s", "estimated run time of those operators, summed"),
            F("pipeline_ops", "K", "float", "", "operators of its pipeline in all (progress: 1 - left / all)"),
            F("pipeline_seconds", "K", "float", "s", "estimated run time of all its pipeline's operators, summed "
              "when it arrived (`sized` orders pipelines by their estimated work)"),
            F("children", "K", "float", "", "operators of its pipeline that wait for it directly"),
            F("ready_waited", "K", "float", "s", "since it became ready (its parents completed, or it came back "
              "after an OOM or a suspension)"),
        )),
        ViewSpec("load", "the cluster when rank is called", (
            F("now", "scalar", "float", "s", "simulated time"),
            F("cpu_free_fraction", "scalar", "float", "0..1", "CPUs not allocated, over all pools"),
            F("ram_free_fraction", "scalar", "float", "0..1", "RAM not allocated, over all pools"),
            F("ready", "scalar", "int", "", "ready operators (len(ops))"),
            F("pipelines", "scalar", "int", "", "pipelines arrived and not finished"),
            F("urgent_ready", "scalar", "int", "", "ready query and interactive operators (priority 1 or 2)"),
            F("max_cpu_free", "scalar", "int", "CPUs", "the most CPUs free in one pool"),
            F("max_ram_free_gb", "scalar", "float", "GB", "the most RAM free in one pool: an operator fits "
              "somewhere now only if it asks for no more (headroom: this minus ops.ram_gb)"),
            F("pool_cpus", "scalar", "int", "CPUs", "the largest pool's CPUs (the most one operator can get)"),
            F("pool_ram_gb", "scalar", "float", "GB", "the largest pool's RAM (the most one operator can get)"),
        )),
    ),
    features=PIPELINES_POLICY.features[:-1],
    feature_module="policyforge.tasks.pipelines.features",
    allowed_imports=PIPELINES_POLICY.allowed_imports,
    rules=(
        "Columns are numpy arrays: compute with numpy, elementwise; return one finite float per operator "
        "(NaN ranks last).",
        *PIPELINES_POLICY.rules[-2:],
    ),
)
"""Vulcan's split for the pipelines task: a small RANK function over a fixed mechanism. The offline (GP)
proposer searches this interface; LLMs may use it or write `schedule` whole."""

PIPELINES_RANK_GP_TABLE = GPTable(
    vector_view="ops",
    scalar_view="load",
    exclude=("ops.id",),
    constants=(0.5, 1.0, 2.0, 3.0, 10.0, 60.0, 100.0, 1000.0),
    functions=("rank", "ram_gb", "cpus"),
    # Each seed sizes as the mechanism does (its ops.ram_gb and ops.cpus columns), written as a product
    # with 1.0 so that constant perturbation can tune the headroom and the CPU share straight away.
    seeds={
        # The `sized` baseline's order: by priority, then the pipeline with the least work left first.
        "sized-like": "(program (neg (add (mul ops.priority 100000.0) ops.pipeline_seconds_left)) "
                      "(mul ops.ram_gb 1.0) (mul ops.cpus 1.0))",
        # Weighted shortest remaining work first: the objective's weight per second of work left.
        "wsjf": "(program (div ops.weight (add ops.pipeline_seconds_left 1.0)) (mul ops.ram_gb 1.0) "
                "(mul ops.cpus 1.0))",
        # By priority, then the longest critical path first (keeps a DAG's chain moving).
        "critical-path": "(program (add (mul ops.priority -100000.0) ops.path_seconds) (mul ops.ram_gb 1.0) "
                         "(mul ops.cpus 1.0))",
    },
)
"""The offline proposer over the rank interface: rank, ram_gb and cpus evolved together."""
