# expect: rejected | `import a.b.features` binds the package `policyforge`, which reaches every simulator module
import policyforge.tasks.k8s_gpu.features


def score(pod, nodes, cluster):
    print(policyforge.tasks.k8s_gpu.cluster)
    return [0.0, 0.0, 0.0]
