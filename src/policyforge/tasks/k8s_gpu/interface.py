"""The k8s-gpu policy interface, declared once: functions, views with units, and the feature library."""

from __future__ import annotations

from policyforge.contract import FieldSpec, FunctionSpec, GPTable, PolicySpec, ViewSpec


def _per_node(rows: str) -> tuple[FieldSpec, ...]:
    """The per-node arrays, with `rows` = K for the candidates or N for the whole cluster."""
    fields = (
        FieldSpec("cpu_free", "K", "int", "CPU milli", "CPU not yet requested on the node"),
        FieldSpec("cpu_capacity", "K", "int", "CPU milli", "allocatable CPU of the node"),
        FieldSpec("memory_free", "K", "int", "MiB", "memory not yet requested"),
        FieldSpec("memory_capacity", "K", "int", "MiB", "allocatable memory"),
        FieldSpec("gpu_count", "K", "int", "GPUs", "GPUs the node has (0 for a CPU node)"),
        FieldSpec("gpu_free", "K x G", "int", "GPU milli", "free milli of each GPU (1000 = idle; 0 for GPUs the node lacks)"),
        FieldSpec("gpu_free_total", "K", "int", "GPU milli", "sum of gpu_free over the node's GPUs"),
        FieldSpec("full_free_gpus", "K", "int", "GPUs", "GPUs that are entirely idle"),
        FieldSpec("max_gpu_free", "K", "int", "GPU milli", "the largest free milli on any one GPU"),
        FieldSpec("gpu_model", "K", "int", "model code", "index into KNOWN_GPU_MODELS, -1 for a CPU node"),
        FieldSpec("pod_count", "K", "int", "pods", "pods running on the node"),
        FieldSpec("sharing_pods", "K", "int", "pods", "pods on the node that share a GPU"),
        FieldSpec("whole_gpu_pods", "K x G", "int", "pods", "column k-1: pods on the node holding k whole GPUs"),
    )
    return tuple(FieldSpec(f.name, f.shape.replace("K", rows), f.kind, f.unit, f.doc) for f in fields)


K8S_GPU_POLICY = PolicySpec(
    task="k8s-gpu",
    summary=(
        "Place pods on a Kubernetes GPU cluster. For each arriving pod the simulator filters the nodes that can "
        "host it (CPU, memory, GPU model, GPU capacity) and calls `score` once with all of them; the highest "
        "score wins (ties: a fixed random node order). Higher is better. The mechanism validates every "
        "placement: a policy cannot over-commit anything. Objective: GPU allocation when the arrived GPU "
        "request reaches 100% of capacity (FGD paper's experiment)."
    ),
    functions=(
        FunctionSpec("score", "score(pod, nodes, cluster)", "numpy array of K finite floats",
                     "one score per candidate node, computed with numpy over all candidates at once"),
        FunctionSpec("choose_gpus", "choose_gpus(pod, node, cluster)", "list of GPU indices or None",
                     "the GPUs of the chosen node to use (num_gpu distinct indices with room); None = best fit",
                     required=False),
    ),
    views=(
        ViewSpec("pod", "the pod being placed", (
            FieldSpec("cpu_milli", "scalar", "int", "CPU milli", "CPU request"),
            FieldSpec("memory_mib", "scalar", "int", "MiB", "memory request"),
            FieldSpec("num_gpu", "scalar", "int", "GPUs", "GPUs requested (0 = CPU-only pod)"),
            FieldSpec("gpu_milli", "scalar", "int", "GPU milli", "per GPU: 1000 = whole GPUs, less = shares one GPU"),
            FieldSpec("total_gpu_milli", "scalar", "int", "GPU milli", "num_gpu * gpu_milli"),
            FieldSpec("is_sharing", "scalar", "bool", "", "True when the pod shares a single GPU"),
            FieldSpec("is_cpu_only", "scalar", "bool", "", "True when the pod needs no GPU"),
            FieldSpec("model_mask", "scalar", "int", "bit mask", "GPU models the pod accepts (bit i = KNOWN_GPU_MODELS[i])"),
        )),
        ViewSpec("nodes", "the K candidate nodes that passed the filter (read-only arrays)", (
            FieldSpec("index", "K", "int", "node id", "cluster-wide index of each candidate"),
            *_per_node("K"),
        )),
        ViewSpec("cluster", "all N nodes (same attributes as `nodes`, shape N), plus:", (
            *_per_node("N"),
            FieldSpec("num_nodes", "scalar", "int", "nodes", "N"),
            FieldSpec("total_gpu_milli", "scalar", "int", "GPU milli", "GPU capacity of the cluster"),
            FieldSpec("allocated_gpu_milli", "scalar", "int", "GPU milli", "GPU milli in use"),
            FieldSpec("workload", "S shapes", "TargetWorkload", "", "expected pod shapes: cpu_milli, num_gpu, gpu_milli, "
                      "model_mask and probability arrays"),
            FieldSpec("random", "-", "numpy Generator", "", "seeded generator: the only randomness allowed"),
        )),
        ViewSpec("node", "the chosen node, for choose_gpus", (
            FieldSpec("index", "scalar", "int", "node id", "cluster-wide node index"),
            FieldSpec("cpu_free", "scalar", "int", "CPU milli", "free CPU"),
            FieldSpec("memory_free", "scalar", "int", "MiB", "free memory"),
            FieldSpec("gpu_model", "scalar", "int", "model code", "GPU model index"),
            FieldSpec("gpu_free", "gpu_count", "int", "GPU milli", "free milli of each of the node's GPUs"),
        )),
    ),
    features=(
        FunctionSpec("fragmentation", "fragmentation(nodes, cluster)", "K floats, GPU milli",
                     "expected GPU milli of each candidate that a pod drawn from cluster.workload could not use"),
        FunctionSpec("fragmentation_after", "fragmentation_after(pod, nodes, cluster)", "K floats, GPU milli",
                     "the same after placing `pod` there (its least fragmenting GPU for a sharing pod)"),
        FunctionSpec("fgd_score", "fgd_score(pod, nodes, cluster)", "K integers 0..100",
                     "FGD's score: int(100 * sigmoid((before - after) / 1000))"),
        FunctionSpec("fgd_gpu", "fgd_gpu(pod, node, cluster)", "GPU index tuple or None",
                     "the GPU FGD would choose for a sharing pod"),
        FunctionSpec("sigmoid", "sigmoid(x)", "same shape as x", "1 / (1 + exp(-x))"),
        FunctionSpec("cpu_left_percent", "cpu_left_percent(pod, nodes, cluster)", "K floats, percent",
                     "CPU left after placing `pod`, % of the node's CPU (floor: Kubernetes' integer percent)"),
        FunctionSpec("memory_left_percent", "memory_left_percent(pod, nodes, cluster)", "K floats, percent",
                     "memory left after placing `pod`, % of the node's memory"),
        FunctionSpec("tightest_gpu_free", "tightest_gpu_free(pod, nodes, cluster)", "K floats, GPU milli",
                     "free milli of the GPU the pod takes by default (tightest fit for a sharing pod; 1000 for "
                     "a whole-GPU pod, 0 for a CPU-only pod)"),
        FunctionSpec("partial_gpus", "partial_gpus(nodes, cluster)", "K floats, GPUs",
                     "GPUs of the node that are partly used"),
        FunctionSpec("partial_gpu_free", "partial_gpu_free(nodes, cluster)", "K floats, GPU milli",
                     "free milli on the node's partly used GPUs (only sharing pods can use it)"),
        FunctionSpec("same_kind_pods", "same_kind_pods(pod, nodes, cluster)", "K floats, pods",
                     "pods on the node of the pod's GPU kind (sharing, or the same number of whole GPUs)"),
        FunctionSpec("gpu_pod_kinds", "gpu_pod_kinds(nodes, cluster)", "K floats, kinds",
                     "how many GPU pod kinds the node holds"),
        FunctionSpec("pod_model_share", "pod_model_share(pod, nodes, cluster)", "K floats, 0..1",
                     "how specific the pod is: share of the cluster's free GPU milli on models it accepts "
                     "(1 when it accepts any model or needs no GPU)"),
        FunctionSpec("model_demand_share", "model_demand_share(nodes, cluster)", "K floats, 0..1",
                     "share of the workload's GPU demand that only some models serve and that falls to the "
                     "node's model"),
        FunctionSpec("model_free_share", "model_free_share(nodes, cluster)", "K floats, 0..1",
                     "the node's GPU model's share of the cluster's free GPU milli"),
        FunctionSpec("model_scarcity", "model_scarcity(nodes, cluster)", "K floats, ratio 0..100",
                     "model_demand_share / model_free_share: above 1, pods tied to this model want more of it "
                     "than it has left"),
        FunctionSpec("cpu_gpu_balance", "cpu_gpu_balance(pod, nodes, cluster)", "K floats, ratio 0..10",
                     "CPU left per GPU milli left after placing `pod`, over the workload's CPU per GPU milli "
                     "(below 1 the node's GPUs strand for lack of CPU)"),
        FunctionSpec("workload_cpu_only_share", "workload_cpu_only_share(nodes, cluster)", "K floats, 0..1",
                     "the target workload's share of CPU-only pods"),
        FunctionSpec("workload_sharing_share", "workload_sharing_share(nodes, cluster)", "K floats, 0..1",
                     "the target workload's share of pods sharing one GPU"),
        FunctionSpec("workload_multi_gpu_share", "workload_multi_gpu_share(nodes, cluster)", "K floats, 0..1",
                     "the target workload's share of pods asking for several whole GPUs"),
        FunctionSpec("workload_constrained_share", "workload_constrained_share(nodes, cluster)",
                     "K floats, 0..1", "the target workload's share of GPU pods tied to particular models"),
    ),
    feature_module="policyforge.tasks.k8s_gpu.features",
    allowed_imports=("math", "numpy", "policyforge.tasks.k8s_gpu.features"),
    rules=(
        "Views are read-only copies; writing to them raises, and changing a copy changes nothing.",
        "Return exactly one finite number per candidate; NaN, infinities or a wrong shape invalidate the policy.",
        "Use only `cluster.random` for randomness, so runs are reproducible from their seed.",
        "Names starting with an underscore are private to the simulator.",
    ),
)

K8S_GPU_GP_TABLE = GPTable(
    # Codes, not quantities: a node's cluster index (the tie order is a separate random permutation), its GPU
    # model code and the pod's model bit mask mean nothing under arithmetic. What they mean reaches the grammar
    # through features instead: pod_model_share (how specific the pod is), model_demand_share,
    # model_free_share and model_scarcity (what the node's model is worth to the pods tied to it), and the
    # engine's node order through ties (a constant tree is FirstFit).
    exclude=("nodes.index", "nodes.gpu_model", "pod.model_mask"),
    constants=(0.5, 1.0, 2.0, 10.0, 100.0, 1000.0, 8000.0, 128000.0),
    seeds={
        # Exact: the same decisions as policies/bestfit.py. Its integer min-max normalisation is strictly
        # increasing over raw scores that span at most 0..100, so only the raw score matters; x/128000*0.5 is
        # x/256000 bit for bit (halving is exact).
        "bestfit": "(floor (mul (sub 1.0 (add (div (sub nodes.cpu_free pod.cpu_milli) 256000.0) "
                   "(div (sub nodes.gpu_free_total pod.total_gpu_milli) 16000.0))) 100.0))",
        # FGD without the integer sigmoid: the fragmentation the placement removes.
        "fgd-like": "(sub fragmentation fragmentation_after)",
        # The same, quantised to steps of 40 milli as FGD's integer sigmoid is near 0: near-equal
        # candidates then tie and go to the fixed node order, which is worth ~2 points of allocation.
        "fgd-quantised": "(floor (div (sub fragmentation fragmentation_after) 40.0))",
        # Exact: GpuPacking's tiers. An idle node always has its tightest GPU entirely free, so the idle test
        # can sit inside the "takes a whole GPU" branch; 100 - free%//10 is never below its floor of 50.
        "packing": "(where pod.is_cpu_only 0.0 (where (gt tightest_gpu_free 999.5) "
                   "(where (lt (sub nodes.gpu_count nodes.full_free_gpus) 0.5) "
                   "(max (sub 33.0 nodes.full_free_gpus) nodes.full_free_gpus) (max (sub 50.0 pod.num_gpu) 33.0)) "
                   "(sub 100.0 (floor (div tightest_gpu_free 100.0)))))",
        # Exact: FirstFit. Every candidate ties, so the engine's fixed node order decides.
        "firstfit": "100.0",
        # FGD's node choice exactly; the GPU inside the node is the default tightest fit, not FGD's own.
        "fgd-nodes": "fgd_score",
        # Exact: DotProd (dot/2 computed as halves, bit for bit).
        "dotprod": "(floor (mul 100.0 (sub 1.0 (add (mul (div nodes.cpu_free 256000.0) (div pod.cpu_milli "
                   "128000.0)) (mul (div nodes.gpu_free_total 16000.0) (div pod.total_gpu_milli 8000.0))))))",
        # Exact: Kubernetes' LeastAllocated and MostAllocated (integer percents; ceil as -floor(-x)).
        "least-allocated": "(floor (div (add (floor cpu_left_percent) (floor memory_left_percent)) 2.0))",
        "most-allocated": "(floor (div (add (floor (neg cpu_left_percent)) (floor (neg memory_left_percent))) 2.0))",
        # BalancedAllocation from the percents left (its fractions are computed differently: near-exact).
        "balanced-allocation": "(floor (sub 100.0 (mul (abs (sub cpu_left_percent memory_left_percent)) 0.5)))",
        # Exact: GpuClustering (25 x used share of an 8-GPU node, plus the kind bonus).
        "clustering": "(where pod.is_cpu_only 0.0 (add (floor (div (mul 25.0 (sub 8000.0 nodes.gpu_free_total)) "
                      "8000.0)) (where (gt same_kind_pods 0.5) (where (lt gpu_pod_kinds 1.5) 75.0 50.0) "
                      "(where (lt gpu_pod_kinds 0.5) 25.0 0.0))))",
    },
)
"""What the offline (GP) proposer needs beyond the spec: identifier fields, constants, and seed trees that
express the baselines in the grammar."""
