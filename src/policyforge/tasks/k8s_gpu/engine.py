"""The scheduling cycle: filter feasible nodes, let the policy score them, pick the best, choose GPUs, bind.

Ties go to a fixed random node order drawn once per run from the seed, as in the FGD paper's simulator (it
prefixes every node name with its index in a seeded permutation and takes the smallest name). A pod with a
single feasible node takes it without asking the policy, as Kubernetes does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from policyforge.errors import PolicyCrashed, PolicyError
from policyforge.tasks.k8s_gpu.cluster import ClusterState, PlacementError, PodRequest
from policyforge.tasks.k8s_gpu.policy import Policy
from policyforge.tasks.k8s_gpu.views import ClusterView, NodesView, NodeView, PodView
from policyforge.tasks.k8s_gpu.workload import TargetWorkload


@dataclass(frozen=True, slots=True)
class Placement:
    node: int
    gpus: tuple[int, ...]


def tie_break_rank(names: tuple[str, ...], rng: np.random.Generator) -> np.ndarray:
    """Each node's position in a seeded random order of the nodes sorted by name (lower wins ties)."""
    by_name = np.array(sorted(range(len(names)), key=names.__getitem__), np.int64)
    rank = np.empty(len(names), np.int64)
    rank[by_name] = rng.permutation(len(names))
    return rank


class Scheduler:
    """Places pods one at a time on a ClusterState with one policy."""

    def __init__(self, state: ClusterState, policy: Policy, workload: TargetWorkload,
                 tie_rng: np.random.Generator, policy_rng: np.random.Generator) -> None:
        self.state = state
        self.policy = policy
        self.workload = workload
        self.rank = tie_break_rank(state.nodes.names, tie_rng)
        self.policy_rng = policy_rng
        self.caches: dict = {}
        self._views: dict[PodRequest, PodView] = {}

    def _pod_view(self, pod: PodRequest) -> PodView:
        """The pod's view, one per shape (frozen, so sharing it is safe), numbered in order of first arrival."""
        view = self._views.get(pod)
        if view is None:
            view = self._views[pod] = PodView.of(pod, len(self._views))
        return view

    def _cluster_view(self) -> ClusterView:
        return ClusterView(self.state, self.workload, self.policy_rng, self.caches)

    def place(self, pod: PodRequest) -> Placement | None:
        """Bind `pod` where the policy prefers and return where, or None when no node can host it."""
        candidates = self.state.feasible(pod)
        if len(candidates) == 0:
            return None
        view = self._pod_view(pod)
        cluster = self._cluster_view()
        if len(candidates) == 1:
            node = int(candidates[0])
        else:
            scores = self._scores(view, candidates, cluster)
            best = np.flatnonzero(scores == scores.max())
            if len(best) > 1:
                best = best[np.argmin(self.rank[candidates[best]])]
            node = int(candidates[int(np.atleast_1d(best)[0])])
        gpus = self._gpus(view, pod, node, cluster)
        self.state.bind(node, pod, gpus)
        return Placement(node, gpus)

    def _scores(self, pod: PodView, candidates: np.ndarray, cluster: ClusterView) -> np.ndarray:
        try:
            raw = self.policy.score(pod, NodesView(self.state, candidates), cluster)
        except Exception as exc:  # the policy's own bug: reported with its reason, never a traceback
            raise PolicyCrashed(f"policy {self.policy.name}: score raised {type(exc).__name__}: {exc}") from None
        try:
            scores = np.asarray(raw, dtype=np.float64)
        except (TypeError, ValueError):
            raise PolicyError(f"policy {self.policy.name}: score returned {type(raw).__name__}, not numbers") from None
        if scores.shape != (len(candidates),):
            raise PolicyError(f"policy {self.policy.name}: score returned shape {scores.shape} "
                              f"for {len(candidates)} candidate nodes")
        if not np.isfinite(scores).all():
            raise PolicyError(f"policy {self.policy.name}: score returned NaN or infinite values")
        return scores

    def _gpus(self, pod: PodView, request: PodRequest, node: int, cluster: ClusterView) -> tuple[int, ...]:
        if request.num_gpu == 0:
            return ()
        if self.policy.choose_gpus is not None:
            try:
                chosen = self.policy.choose_gpus(pod, NodeView.of(self.state, node), cluster)
            except Exception as exc:
                raise PolicyCrashed(f"policy {self.policy.name}: choose_gpus raised {type(exc).__name__}: {exc}") from None
            if chosen is not None:
                try:
                    gpus = tuple(int(g) for g in np.atleast_1d(np.asarray(chosen)))
                except (TypeError, ValueError):
                    raise PolicyError(f"policy {self.policy.name}: choose_gpus returned {chosen!r}") from None
                try:
                    self.state.check_placement(node, request, gpus)
                except PlacementError as exc:
                    raise PolicyError(f"policy {self.policy.name}: choose_gpus: {exc}") from None
                return gpus
        return self.state.default_gpus(node, request)


def pod_requests(pods) -> list[PodRequest]:
    """PodRequest for every row of a PodTable (shared objects for identical shapes keep caches small)."""
    rows = np.stack([pods.cpu_milli, pods.memory_mib, pods.num_gpu, pods.gpu_milli, pods.model_mask], 1)
    if not len(rows):
        return []
    shapes, which = np.unique(rows.astype(np.int64), axis=0, return_inverse=True)
    interned = [PodRequest(*shape) for shape in shapes.tolist()]
    return [interned[i] for i in which.ravel().tolist()]
