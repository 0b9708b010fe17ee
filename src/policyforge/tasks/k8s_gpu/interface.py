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
    exclude=("nodes.index", "nodes.gpu_model", "pod.model_mask"),
    constants=(0.5, 1.0, 2.0, 10.0, 100.0, 1000.0, 8000.0, 128000.0),
    seeds={
        # BestFit without its integer min-max normalisation: least CPU and GPU left over wins.
        "bestfit-like": "(sub (mul (div (neg (sub nodes.cpu_free pod.cpu_milli)) 128000.0) 0.5) "
                        "(mul (div (sub nodes.gpu_free_total pod.total_gpu_milli) 8000.0) 0.5))",
        # FGD without the integer sigmoid: the fragmentation the placement removes.
        "fgd-like": "(sub fragmentation fragmentation_after)",
        # The same, quantised to steps of 40 milli as FGD's integer sigmoid is near 0: near-equal
        # candidates then tie and go to the fixed node order, which is worth ~2 points of allocation.
        "fgd-quantised": "(floor (div (sub fragmentation fragmentation_after) 40.0))",
        # GpuPacking's tiers, roughly: used nodes over idle ones, fewer idle GPUs first, and for a
        # sharing pod a bonus for partly used GPU milli that can take it (less free milli is better).
        "packing-like": "(add (where (gt nodes.pod_count 0.5) (sub 50.0 nodes.full_free_gpus) "
                        "(sub 33.0 nodes.full_free_gpus)) (where pod.is_sharing (where (gt (sub "
                        "nodes.gpu_free_total (mul nodes.full_free_gpus 1000.0)) "
                        "(sub pod.gpu_milli 0.5)) (sub 50.0 (sub (div nodes.gpu_free_total 100.0) "
                        "(mul nodes.full_free_gpus 10.0))) 0.0) 0.0))",
    },
)
"""What the offline (GP) proposer needs beyond the spec: identifier fields, constants, and seed trees that
express the baselines in the grammar."""
