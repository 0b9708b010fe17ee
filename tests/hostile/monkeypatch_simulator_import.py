# expect: rejected | imports the simulator's state module to patch its validation
import policyforge.tasks.k8s_gpu.cluster as cluster_module


def score(pod, nodes, cluster):
    cluster_module.Cluster.bind = lambda *args, **kwargs: None
    return [0.0, 0.0, 0.0]
