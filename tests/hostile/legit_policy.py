# expect: ok | an ordinary policy using every allowed import, annotations and isinstance(np.ndarray)
from __future__ import annotations

import math

import numpy as np
from policyforge.tasks.k8s_gpu import features  # noqa: F401


def _weights(n: int) -> np.ndarray:
    return np.linspace(1.0, 2.0, n)


def score(pod, nodes, cluster) -> np.ndarray:
    values = np.asarray(nodes, dtype=float)
    assert isinstance(values, (np.ndarray, list))
    for _ in range(2):
        values = values * _weights(len(values)) + math.log1p(1.0)
    return values
