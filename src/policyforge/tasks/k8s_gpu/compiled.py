"""The compiled paths of the inflation experiment, their inputs built from the run's: a GP tree's run and the
trusted replay of any policy's decisions.

A policy whose `score` carries a `program` (policyforge.program; the trusted interpreter's functions do) and no
`choose_gpus` runs in tree_kernel.run_tree, one call for the whole arrival sequence, when every terminal it
reads is one the kernel computes; anything else returns None and runs through engine.Scheduler as before.
The replay runs in replay_kernel.replay. Same decisions and figures either way (tests/test_k8s_kernels.py);
numba is imported only when one of these paths is taken.
"""

from __future__ import annotations

import numpy as np

from policyforge.program import TERMINAL, bind
from policyforge.tasks.k8s_gpu.cluster import ClusterState, PodRequest
from policyforge.tasks.k8s_gpu.trace import ALL_MODELS_MASK, KNOWN_GPU_MODELS
from policyforge.tasks.k8s_gpu.workload import TargetWorkload


def tree_program(score) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, np.ndarray] | None:
    """(opcodes, arguments, constants, depth, which terminals are read) of `score`'s program
    (policyforge.program) bound to the kernel's value rows, or None when it has none or reads a terminal the
    kernel does not compute. `bind` checks the program again (a module in the sandbox could have altered or
    forged one); a sandboxed module carrying a forged one only runs this kernel in its own sandbox, and its
    decisions are replayed by the trusted judge like any other."""
    from policyforge.tasks.k8s_gpu.tree_kernel import SLOTS, TERMINALS

    code = bind(getattr(score, "program", None), SLOTS)
    if code is None:
        return None
    ops, args, consts, depth = code
    used = np.zeros(len(TERMINALS), np.bool_)
    used[args[ops == TERMINAL]] = True
    return ops, args, consts, depth, used


def sequence_arrays(sequence: list[PodRequest]) -> tuple[np.ndarray, ...]:
    """The arrival sequence as columns (CPU, memory, GPU count, milli per GPU, model mask, and an id of what a
    hypothetical placement depends on: CPU, GPU count, milli), remembered for the last few sequences (the
    simulator remembers the sequences themselves)."""
    known = _ARRAYS.get(id(sequence))
    if known is not None and known[0] is sequence:
        return known[1]
    columns = np.array([(p.cpu_milli, p.memory_mib, p.num_gpu, p.gpu_milli, p.model_mask) for p in sequence],
                       np.int64).reshape(-1, 5)
    ids: dict[tuple[int, int, int], int] = {}
    keys = np.array([ids.setdefault((p.cpu_milli, p.num_gpu, p.gpu_milli), len(ids)) for p in sequence], np.int64)
    arrays = (*(np.ascontiguousarray(columns[:, k]) for k in range(5)), keys)
    if len(_ARRAYS) >= 32:  # about 0.5 MB each at full size
        _ARRAYS.pop(next(iter(_ARRAYS)))
    _ARRAYS[id(sequence)] = (sequence, arrays)
    return arrays


_ARRAYS: dict[int, tuple[list, tuple[np.ndarray, ...]]] = {}


def _workload_arrays(w: TargetWorkload) -> tuple:
    return (np.asarray(w.cpu_milli, np.int64), np.asarray(w.num_gpu, np.int64), np.asarray(w.gpu_milli, np.int64),
            np.asarray(w.model_mask, np.int64), np.asarray(w.probability, np.float64), ALL_MODELS_MASK)


def run_tree_program(program, state: ClusterState, sequence: list[PodRequest], workload: TargetWorkload,
                     rank: np.ndarray, tables) -> tuple[np.ndarray, np.ndarray]:
    """Place `sequence` on `state` (updated in place) with the compiled program: per pod the node (-1:
    failed) and its GPUs as a bit mask. `tables` is the run's features.ModelTables."""
    from policyforge.tasks.k8s_gpu.features import FGD_STEPS
    from policyforge.tasks.k8s_gpu.tree_kernel import run_tree

    ops, args, consts, depth, used = program
    cpu, memory, num, milli, mask, keys = sequence_arrays(sequence)
    shares = np.array([tables.cpu_only_share, tables.sharing_share, tables.multi_gpu_share,
                       tables.constrained_share], np.float64)
    return run_tree(ops, args, consts, depth, used, cpu, memory, num, milli, mask, keys, int(keys.max(initial=0)) + 1,
                    state.cpu_capacity, state.memory_capacity, state.gpu_count, state.gpu_model,
                    state.model_bit.astype(np.int64), state.gpu_exists, rank,
                    state.cpu_free, state.memory_free, state.gpu_free, state.full_free_gpus, state.max_gpu_free,
                    state.gpu_free_total, state.pod_count, state.sharing_pods, state.whole_gpu_pods, state.version,
                    *_workload_arrays(workload), np.asarray(tables.demand_share, np.float64), shares,
                    float(tables.cpu_per_gpu_milli), FGD_STEPS, len(KNOWN_GPU_MODELS), *_node_types(state))


def _node_types(state: ClusterState) -> tuple[np.ndarray, int]:
    """Per node, a number shared by the nodes that start alike for fragmentation (CPU, GPU count, model)."""
    rows = np.stack([state.cpu_capacity, state.gpu_count, state.model_bit], 1).astype(np.int64)
    kinds, which = np.unique(rows, axis=0, return_inverse=True)
    return which.ravel().astype(np.int64), len(kinds)


def replay_compiled(state: ClusterState, sequence: list[PodRequest], workload: TargetWorkload, node: np.ndarray,
                    gpu_mask: np.ndarray, initial: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """Bind the decisions on the fresh `state` (updated in place): (index of the first illegal decision or -1,
    failed per pod, change of cluster fragmentation per pod); `initial` is every node's fragmentation."""
    from policyforge.tasks.k8s_gpu.replay_kernel import replay

    cpu, memory, num, milli, mask, _ = sequence_arrays(sequence)
    bad, failed, steps = replay(cpu, memory, num, milli, mask, np.asarray(node, np.int64),
                                np.asarray(gpu_mask).astype(np.uint64), state.gpu_count,
                                state.model_bit.astype(np.int64), state.cpu_free, state.memory_free, state.gpu_free,
                                state.full_free_gpus, state.max_gpu_free, np.array(initial, np.float64),
                                *_workload_arrays(workload))
    return int(bad), failed, steps
