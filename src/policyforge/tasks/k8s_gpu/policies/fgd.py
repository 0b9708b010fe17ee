"""FGD (Fragmentation Gradient Descent, Weng et al., ATC'23): move the cluster's fragmentation downhill.

Fragmentation of a node is the GPU milli that pods drawn from the target workload could not use. Each node
scores sigmoid((before - after) / 1000) * 100 for the hypothetical placement, as an integer; a sharing pod
tries every GPU and takes the best (lowest index on ties).
"""

from policyforge.tasks.k8s_gpu.features import fgd_gpu, fgd_score


def score(pod, nodes, cluster):
    return fgd_score(pod, nodes, cluster)


def choose_gpus(pod, node, cluster):
    return fgd_gpu(pod, node, cluster)
