"""The declared interface is the truth: every declared attribute exists on the live views with that shape."""

from __future__ import annotations

import numpy as np

from policyforge.tasks.k8s_gpu import features
from policyforge.tasks.k8s_gpu.cluster import ClusterState, PodRequest
from policyforge.tasks.k8s_gpu.interface import K8S_GPU_POLICY
from policyforge.tasks.k8s_gpu.views import ClusterView, NodesView, NodeView, PodView
from policyforge.tasks.k8s_gpu.workload import target_workload


def test_views_match_the_declaration(tiny):
    nodes, pods = tiny
    state = ClusterState(nodes)
    index = np.array([0, 3, 5])
    live = {
        "pod": PodView.of(PodRequest(1000, 10, 1, 500, 1), 0),
        "nodes": NodesView(state, index),
        "cluster": ClusterView(state, target_workload(pods), np.random.default_rng(0)),
        "node": NodeView.of(state, 0),
    }
    sizes = {"K": len(index), "N": len(nodes), "G": state.max_gpus}
    for view in K8S_GPU_POLICY.views:
        obj = live[view.name]
        declared = {f.name for f in view.fields}
        public = {a for a in dir(obj) if not a.startswith("_") and not callable(getattr(obj, a))} - {"of"}
        assert declared <= public, (view.name, declared - public)
        for spec in view.fields:
            value = getattr(obj, spec.name)
            if spec.shape in ("K", "K x G", "N", "N x G"):
                rows = sizes[spec.shape[0]]
                expect = (rows,) if len(spec.shape) == 1 else (rows, sizes["G"])
                assert value.shape == expect, (view.name, spec.name)
                assert not value.flags.writeable


def test_declared_features_exist_and_doc_renders():
    for fn in K8S_GPU_POLICY.features:
        assert callable(getattr(features, fn.name)) and fn.name in features.__all__
    text = K8S_GPU_POLICY.render_markdown()
    assert "score(pod, nodes, cluster)" in text and "| `gpu_free` | K x G |" in text
