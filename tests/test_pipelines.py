"""The pipelines task: inputs, tick arithmetic, the mechanism's guarantees, views, baselines and the task."""

from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policyforge.errors import InputError, PolicyCrashed, PolicyError
from policyforge.tasks.pipelines.engine import ClusterConfig, simulate
from policyforge.tasks.pipelines.features import cpu_seconds, useful_cpus
from policyforge.tasks.pipelines.generator import generate
from policyforge.tasks.pipelines.interface import PIPELINES_POLICY
from policyforge.tasks.pipelines.model import BATCH, QUERY, SCALING, Operator, Pipeline, Segment, Workload
from policyforge.tasks.pipelines.params import load_params, parse_params
from policyforge.tasks.pipelines.policy import BASELINES, baseline_path, load_policy, load_policy_file
from policyforge.tasks.pipelines.scenarios import SCENARIOS
from policyforge.tasks.pipelines.timeline import operator_run
from policyforge.tasks.pipelines.trace import read_trace
from policyforge.trust.static_check import check_source

HEADER = "pipeline_id,arrival_seconds,priority,operator_id,parents,baseline_cpu_seconds,cpu_scaling,memory_gb,storage_read_gb\n"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def policy_file(tmp_path: Path, source: str, name: str = "policy.py"):
    return load_policy_file(write(tmp_path, name, source))


def one_pool(cpus=8, ram=100.0, tps=10, duration=60.0, multi=True) -> ClusterConfig:
    return ClusterConfig((cpus,), (ram,), tps, duration, multi)


def workload(*ops: Segment, tps: int = 10, priority: int = BATCH, arrival: int = 0) -> Workload:
    """One chain pipeline of the given single-segment operators."""
    chain = tuple(Operator(f"op{i + 1}", (i - 1,) if i else (), (s,)) for i, s in enumerate(ops))
    return Workload((Pipeline("p1", priority, arrival, chain),), tps)


# ----- inputs ------------------------------------------------------------------------------------------


def test_trace_rows_become_pipelines(tmp_path):
    path = write(tmp_path, "t.csv", HEADER + "p1,1.5,QUERY,a,,15,linear3,,35\n"
                 "p2,2.0,BATCH_PIPELINE,x,,1,const,8,55\np2,,,y,x,2,sqrt,,5\np2,,,z,x;y,1,log,3,0\n")
    wl = read_trace(path, 10)
    assert [p.name for p in wl.pipelines] == ["p1", "p2"]
    assert [p.arrival_tick for p in wl.pipelines] == [15, 20]
    p2 = wl.pipelines[1]
    assert p2.priority == BATCH and [op.parents for op in p2.operators] == [(), (0,), (0, 1)]
    assert p2.operators[0].segments[0] == Segment(1.0, "const", 8.0, 55.0)


def test_trace_arrival_rounds_like_eudoxia(tmp_path):
    path = write(tmp_path, "t.csv", HEADER + "p1,9.96,QUERY,a,,1,const,,1\n")
    assert read_trace(path, 100).pipelines[0].arrival_tick == 997  # 9.96 / 0.01 = 996.0000000000001


@pytest.mark.parametrize("row, where", [
    ("p1,x,QUERY,a,,1,const,,1", "t.csv:2: column 'arrival_seconds': not a number"),
    ("p1,0,URGENT,a,,1,const,,1", "t.csv:2: column 'priority'"),
    ("p1,0,QUERY,a,,1,cubic,,1", "t.csv:2: column 'cpu_scaling': unknown curve"),
    ("p1,0,QUERY,a,b,1,const,,1", "t.csv:2: column 'parents': parent 'b'"),
    ("p1,0,QUERY,a,,-1,const,,1", "t.csv:2: column 'baseline_cpu_seconds'"),
    ("p1,0,QUERY,a,,1,const,1", "t.csv:2: expected 9 fields, found 8"),
])
def test_malformed_trace_row_names_file_line_and_column(tmp_path, row, where):
    path = write(tmp_path, "t.csv", HEADER + row + "\n")
    with pytest.raises(InputError) as info:
        read_trace(path, 10)
    assert where in str(info.value) and "\n" not in str(info.value)


def test_trace_without_a_column_is_rejected(tmp_path):
    path = write(tmp_path, "t.csv", "pipeline_id,arrival_seconds\np1,0\n")
    with pytest.raises(InputError, match="t.csv:1: missing column"):
        read_trace(path, 10)


def test_params_defaults_and_errors(tmp_path):
    params = load_params(write(tmp_path, "p.toml", "num_pools = 2\ncpus_per_pool = 16\n"))
    assert params.cpus == (16, 16) and params.ram_gb == (256.0, 256.0) and params.ticks_per_second == 1000
    with pytest.raises(InputError, match="p.toml: key 'num_pool': unknown parameter"):
        load_params(write(tmp_path, "p.toml", "num_pool = 2\n"))
    with pytest.raises(InputError, match="key 'num_pools': expected a positive integer, got '2'"):
        load_params(write(tmp_path, "p.toml", "num_pools = '2'\n"))
    with pytest.raises(InputError, match="p.toml:1: invalid TOML"):
        load_params(write(tmp_path, "p.toml", "num_pools = = 2\n"))
    with pytest.raises(InputError, match="must be 1"):
        parse_params({"query_prob": 0.5})
    with pytest.raises(InputError, match="max_job_seconds': not supported"):
        parse_params({"max_job_seconds": 60})
    assert parse_params({"cpu_pool": 10, "num_pools": 3}).cpus == (4, 3, 3)  # Eudoxia's legacy split


# ----- tick arithmetic -----------------------------------------------------------------------------------


def reference_run(segment: Segment, cpus: int, ram: float, tick: float) -> tuple[int, int]:
    """Eudoxia's container loop, one tick at a time: (ticks, OOM tick or 0)."""
    io_ticks = int((segment.storage_read_gb / 20) / tick)
    cpu_ticks = int(SCALING[segment.cpu_scaling](cpus, segment.baseline_cpu_seconds) / tick)
    for i in range(io_ticks + cpu_ticks):
        if i < io_ticks:
            memory = segment.memory_gb if segment.memory_gb is not None else ((i + 1) * tick) * 20
        else:
            memory = segment.memory_gb if segment.memory_gb is not None else segment.storage_read_gb
        if memory > ram:
            return i + 1, i + 1
    return max(io_ticks + cpu_ticks, 1), 0


@settings(max_examples=300, deadline=None)
@given(base=st.floats(0, 50), curve=st.sampled_from(sorted(SCALING)), memory=st.none() | st.floats(0, 200),
       read=st.floats(0, 120), cpus=st.integers(1, 64), ram=st.integers(1, 256), tps=st.sampled_from([10, 100, 1000]))
def test_operator_ticks_match_a_tick_by_tick_loop(base, curve, memory, read, cpus, ram, tps):
    segment = Segment(base, curve, memory, read)
    assert operator_run((segment,), cpus, float(ram), 1.0 / tps) == reference_run(segment, cpus, float(ram), 1.0 / tps)


def test_scaling_curves():
    assert cpu_seconds("linear3", 12.0, 2) == 6.0 and cpu_seconds("linear3", 12.0, 8) == 4.0
    assert cpu_seconds("exp", 16.0, 2) == 4.0 and cpu_seconds("exp", 16.0, 10) == 1.0
    assert cpu_seconds("log", 1.0, 1) == 1.0 and cpu_seconds("squared", 9.0, 3) == 1.0
    assert np.allclose(cpu_seconds("sqrt", 4.0, np.array([1, 4, 16])), [4.0, 2.0, 1.0])
    assert useful_cpus("const", 64) == 1 and useful_cpus("linear7", 64) == 7


# ----- the mechanism -------------------------------------------------------------------------------------

GREEDY = """
def schedule(state, results, arrivals, cluster):
    out = []
    for p in arrivals:
        out.append((0, p.assignable(parents_complete=False), 4, 50))
    return [], out
"""


def test_container_runs_and_ends_on_eudoxias_ticks(tmp_path):
    # 2 ops: 10 GB read (5 ticks at 10 ticks/s) + 1 s const (10 ticks) each -> 15 ticks per op
    seg = Segment(1.0, "const", None, 10.0)
    record = simulate(workload(seg, seg), one_pool(), policy_file(tmp_path, GREEDY))
    stats = record.eudoxia_stats()
    assert stats["containers_completed"] == 1 and stats["assignments"] == 1
    assert record.container_ticks == [30]
    assert stats["pipelines_batch"]["mean_latency_seconds"] == pytest.approx(2.9)  # finishes on tick 29


def test_oom_fails_on_the_tick_memory_exceeds_and_is_reported(tmp_path):
    seen = []
    source = GREEDY.replace("    out = []", "    out = []\n    seen.extend(results)") + "\nseen = []\n"
    policy = policy_file(tmp_path, source)
    seen = policy.schedule.__globals__["seen"]
    record = simulate(workload(Segment(1.0, "const", None, 80.0)), one_pool(), policy)  # ram 50 GB < 80 GB
    assert record.failures == 1 and record.container_ticks == [26]  # (26 * 0.1) * 20 = 52 > 50
    (result,) = seen
    assert result.outcome == "failed" and result.error == "OOM" and result.remaining == (0,)
    assert result.cpu == 4 and result.ram_gb == 50.0


def test_over_commitment_is_rejected_with_a_reason(tmp_path):
    greedy = """
    def schedule(state, results, arrivals, cluster):
        ops = [op for p in arrivals for op in p.assignable()]
        return [], [(0, (op,), 6, 60) for op in ops]
    """
    two = Workload((Pipeline("a", QUERY, 0, (Operator("op1", (), (Segment(1, "const", 1, 0),)),)),
                    Pipeline("b", QUERY, 0, (Operator("op1", (), (Segment(1, "const", 1, 0),)),))), 10)
    record = simulate(two, one_pool(cpus=8, ram=100), policy_file(tmp_path, textwrap.dedent(greedy)))
    assert record.assignments >= 1 and record.rejections >= 1
    assert "over-commits CPU: asks 6, 2 free" in record.reasons[0]


@pytest.mark.parametrize("decision, reason", [
    ("[(3, (0,), 1, 1)]", "no pool 3"),
    ("[(0, (0,), 0, 1)]", "needs at least 1 CPU"),
    ("[(0, (1,), 1, 1)]", "before its parent 0 completes"),
    ("[(0, (0, 0), 1, 1)]", "assigned twice"),
    ("[(0, (9,), 1, 1)]", "has not arrived"),
    ("[(0, (0,), 1, 1), (0, (0,), 1, 1)]", "assigned twice"),
])
def test_infeasible_assignments_are_rejected(tmp_path, decision, reason):
    source = f"def schedule(state, results, arrivals, cluster):\n    return [], {decision} if arrivals else []\n"
    seg = Segment(1.0, "const", 1.0, 0.0)
    record = simulate(workload(seg, seg), one_pool(), policy_file(tmp_path, source))
    assert any(reason in r for r in record.reasons), record.reasons


def test_suspension_at_a_boundary_writes_ram_out_then_frees_it(tmp_path):
    source = """
    def schedule(state, results, arrivals, cluster):
        state.setdefault("log", []).extend((cluster.tick, r.outcome, r.remaining) for r in results)
        if arrivals:
            return [], [(0, arrivals[0].assignable(parents_complete=False), 2, 40)]
        if cluster.suspendable and not state.get("done"):
            state["done"] = True
            state["free_at_suspend"] = cluster.pools[0].ram_free_gb
            return [cluster.suspendable[0].id], []
        return [], []
    """
    policy = policy_file(tmp_path, textwrap.dedent(source))
    seg = Segment(1.0, "const", 5.0, 0.0)  # 10 ticks per op at 10 ticks/s
    states = {}

    def init(state, cluster):
        states["state"] = state

    policy = type(policy)(policy.name, policy.path, policy.schedule, init, policy.source)
    record = simulate(workload(seg, seg, seg), one_pool(), policy)
    log = states["state"]["log"]
    # op 1 ends on tick 9; suspended on tick 10; 40 GB at 20 GB/s = 2 s = 20 ticks -> freed on tick 29
    assert log[0] == (30, "suspended", (1, 2))
    assert record.suspensions == 1 and record.suspended == 1 and record.containers_completed == 0


def test_policy_never_sees_true_needs(tmp_path):
    source = """
    def schedule(state, results, arrivals, cluster):
        for p in arrivals:
            for op in p.ops:
                for name in ("memory_gb", "storage_read_gb", "baseline_cpu_seconds", "segments", "peak_memory_gb"):
                    try:
                        getattr(op, name)
                    except AttributeError:
                        state.setdefault("hidden", set()).add(name)
                    else:
                        raise AssertionError(name)
                assert not hasattr(op, "__dict__")
        return [], []
    """
    seen = {}
    policy = policy_file(tmp_path, textwrap.dedent(source))

    def init(state, cluster):
        seen["state"] = state

    policy = type(policy)(policy.name, policy.path, policy.schedule, init, policy.source)
    simulate(workload(Segment(1.0, "const", 7.0, 3.0)), one_pool(), policy, estimate_sigma=0.3)
    assert seen["state"]["hidden"] == {"memory_gb", "storage_read_gb", "baseline_cpu_seconds", "segments",
                                       "peak_memory_gb"}


def test_estimates_are_noisy_but_seeded(tmp_path):
    source = """
    def schedule(state, results, arrivals, cluster):
        state.setdefault("est", []).extend(op.est_memory_gb for p in arrivals for op in p.ops)
        return [], []
    """
    runs = []
    for seed in (1, 1, 2):
        policy = policy_file(tmp_path, textwrap.dedent(source))
        box = {}
        policy = type(policy)(policy.name, policy.path, policy.schedule, lambda s, c, box=box: box.update(s=s),
                              policy.source)
        simulate(generate(SCENARIOS["mixed"], 3), ClusterConfig((8,), (64.0,), 100, 60.0), policy, seed)
        runs.append(box["s"]["est"])
    assert runs[0] == runs[1] and runs[0] != runs[2]


def test_views_are_read_only(tmp_path):
    from policyforge.tasks.pipelines.task import PROBE

    record = simulate(generate(SCENARIOS["mixed"], 1), ClusterConfig((16,) * 2, (64.0,) * 2, 100, 120.0),
                      policy_file(tmp_path, PROBE + "\n" + _with_assignments()), 0)
    assert record.assignments > 0  # the probe also ran while containers existed


def _with_assignments() -> str:
    return textwrap.dedent("""
    _probe = schedule

    def schedule(state, results, arrivals, cluster):
        _probe(state, results, arrivals, cluster)
        out = []
        for p in arrivals:
            ops = p.assignable()
            if ops and cluster.pools[0].cpu_free >= 1 and not out:
                out.append((0, ops[:1], 1, 1.0))
        return [], out
    """)


def test_crash_and_malformed_output(tmp_path):
    crash = "def schedule(state, results, arrivals, cluster):\n    return 1 / 0\n"
    seg = Segment(1.0, "const", 1.0, 0.0)
    with pytest.raises(PolicyCrashed, match="ZeroDivisionError"):
        simulate(workload(seg), one_pool(), policy_file(tmp_path, crash))
    bad = "def schedule(state, results, arrivals, cluster):\n    return [], [(0, 'a', 1, 1)]\n"
    with pytest.raises(PolicyError, match="operator id must be an integer"):
        simulate(workload(seg), one_pool(), policy_file(tmp_path, bad, "bad.py"))
    with pytest.raises(PolicyError, match="must define schedule"):
        policy_file(tmp_path, "x = 1\n", "empty.py")


def test_same_seed_same_run_and_deterministic_ids(tmp_path):
    wl = generate(SCENARIOS["mixed"], 7)
    config = ClusterConfig((32,) * 4, (128.0,) * 4, 100, 600.0)
    a = simulate(wl, config, load_policy("sized"), 7).eudoxia_stats()
    b = simulate(wl, config, load_policy("sized"), 7).eudoxia_stats()
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    assert generate(SCENARIOS["mixed"], 7) == wl


def test_generated_operators_are_diverse():
    wl = generate(SCENARIOS["mixed"], 1)
    segments = [s for p in wl.pipelines for op in p.operators for s in op.segments]
    assert len({s.cpu_scaling for s in segments}) == len(SCALING)
    assert any(s.memory_gb is None for s in segments) and any(s.memory_gb is not None for s in segments)
    memory = [s.memory_gb if s.memory_gb is not None else s.storage_read_gb for s in segments]
    assert np.percentile(memory, 90) > 5 * np.percentile(memory, 10)
    assert len({p.priority for p in wl.pipelines}) == 3
    assert any(len(op.parents) > 1 for p in wl.pipelines for op in p.operators)  # fan-ins, not only chains


# ----- interface, baselines, task ------------------------------------------------------------------------


def test_live_views_match_the_declaration(tmp_path):
    captured = {}
    source = """
    def schedule(state, results, arrivals, cluster):
        grab = state.setdefault("grab", {})
        if arrivals:
            grab["arrivals"] = arrivals[0]
            grab["operator"] = arrivals[0].ops[0]
        if results:
            grab["results"] = results[0]
        for pool in cluster.pools:
            for c in pool.containers:
                grab["container"] = c
        grab["cluster"] = cluster
        return [], [(0, p.assignable()[:1], 1, 200.0) for p in arrivals if cluster.pools[0].cpu_free][:1]
    """
    policy = policy_file(tmp_path, textwrap.dedent(source))
    policy = type(policy)(policy.name, policy.path, policy.schedule, lambda s, c: captured.update(s=s), policy.source)
    simulate(generate(SCENARIOS["mixed"], 1), ClusterConfig((16,) * 2, (256.0,) * 2, 100, 300.0), policy, 0)
    grab = captured["s"]["grab"]
    for view in PIPELINES_POLICY.views:
        obj = grab[view.name]
        for spec in view.fields:
            assert hasattr(obj, spec.name.split("(")[0]), (view.name, spec.name)
            if spec.shape == "P" and spec.kind in ("int", "float"):
                value = getattr(obj, spec.name)
                assert value.shape == (len(obj.pools),) and not value.flags.writeable
    text = PIPELINES_POLICY.render_markdown()
    assert "schedule(state, results, arrivals, cluster)" in text and "| `est_memory_gb` |" in text


def test_baselines_pass_the_sandbox_static_check():
    for name in BASELINES:
        assert check_source(baseline_path(name).read_text(), PIPELINES_POLICY.allowed_imports, ("schedule",)) is None


def test_task_conformance_and_scores():
    from policyforge.search.conformance import check_task, evaluate_trusted
    from policyforge.tasks.registry import get_task

    assert check_task("pipelines") == []
    task = get_task("pipelines")
    splits = {i.split for i in task.instances()}
    assert splits == {"train", "validation", "test"}
    evaluations = evaluate_trusted(task, baseline_path("sized"), task.screen_instances())
    scores = {i: e.score for i, e in evaluations.items()}
    metrics = {i: e.metrics for i, e in evaluations.items()}
    (instance,) = scores
    assert scores[instance] > 0 and metrics[instance]["query_completed"] > 0
    assert all(math.isfinite(v) for v in metrics[instance].values())
    naive = {i: e.score for i, e in evaluate_trusted(task, baseline_path("naive"), task.screen_instances()).items()}
    assert scores[instance] > naive[instance]  # the stronger baseline is stronger
    assert "baselines: naive" in task.feedback(scores, metrics, {"naive": naive})


def test_simulate_command_json(tmp_path, capsys):
    from policyforge.tasks.pipelines.cli import simulate_command

    params = write(tmp_path, "p.toml", "duration = 120\nticks_per_second = 100\nnum_pools = 2\nscheduler_algo = 'naive'\n")
    assert simulate_command(str(params), None, [], [], True) == 0
    out = json.loads(capsys.readouterr().out)
    stats = out["policies"]["naive"]
    for key in ("throughput", "p99_latency", "assignments", "suspensions", "failures", "pipelines_all",
                "pipelines_query", "pipelines_interactive", "pipelines_batch"):
        assert key in stats
    for key in ("arrival_count", "completion_count", "mean_latency_seconds", "p99_latency_seconds"):
        assert key in stats["pipelines_all"]
    assert simulate_command(str(params), None, ["naive,priority"], [1, 2], False) == 0
    table = capsys.readouterr().out
    assert "naive" in table and "priority" in table
    with pytest.raises(PolicyError, match="unknown policy"):
        simulate_command(str(params), None, ["nope"], [], False)
