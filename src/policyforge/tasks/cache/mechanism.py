"""Which mechanism runs a policy and which judge checks its decisions: RANK (`score`, rank.py) or the
sampled-at-eviction mode (`priority`, sampled.py), each with its compiled path for a GP tree's program."""

from __future__ import annotations

from types import ModuleType

import numpy as np

from policyforge.contract import Decisions, Instance, PolicyError, instance_rng, policy_function
from policyforge.tasks.cache import rank, sampled
from policyforge.tasks.cache.simulate import Result
from policyforge.tasks.cache.trace import Trace

SAMPLE_STREAM = "eviction-sample"
"""The keyed random stream (contract.instance_rng) the sampled mode's draws come from."""


def sample_seed(instance: Instance) -> int:
    """The sampled mode's generator seed: keyed by the engine's secret, so no policy can recompute it."""
    return int(instance_rng(instance, SAMPLE_STREAM).integers(2 ** 63))


def run(policy: ModuleType, instance: Instance, trace: Trace, mode: str, capacity: int) -> Decisions:
    """UNTRUSTED: the decisions of `policy` on the mechanism its functions ask for. A GP tree's program (the
    trusted interpreter's `gp_program`) runs inside the compiled loop; see rank.run_program on why a module
    that merely claims one gains nothing."""
    programs = policy.__dict__.get("gp_program")
    programs = programs if isinstance(programs, dict) else {}
    if "score" not in policy.__dict__ and callable(policy.__dict__.get("priority")):
        seed = sample_seed(instance)
        if "priority" in programs:
            decisions = sampled.run_program(trace, mode, capacity, programs["priority"], seed)
            if decisions is not None:
                return decisions
        return sampled.run_policy(trace, mode, capacity, policy_function(policy, "priority"), seed)
    score = policy_function(policy, "score")
    admit = policy_function(policy, "admit", required=False)
    if admit is None and "score" in programs:
        decisions = rank.run_program(trace, mode, capacity, programs["score"])
        if decisions is not None:
            return decisions
    return rank.run_policy(trace, mode, capacity, score, admit)


def judge(instance: Instance, trace: Trace, mode: str, capacity: int, decisions: Decisions) -> Result:
    """TRUSTED: the replay of `decisions` by the judge of the mode they come from."""
    victims = decisions.get("victims") if isinstance(decisions, dict) else None
    array = np.asarray(victims) if victims is not None else None
    if array is None or array.ndim != 1 or (array.size and array.dtype.kind not in "iu"):
        raise PolicyError("decisions need 'victims': a 1-D array of object ids")
    if array.dtype.kind == "i" and array.size and array.min() < 0:
        raise PolicyError("decisions: negative object id among the victims")
    if decisions.get("sampled"):
        if decisions.get("rejected") is not None:
            raise PolicyError("decisions: the sampled mode refuses no admissions")
        return sampled.judge(trace, mode, capacity, array, sample_seed(instance))
    refused = decisions.get("rejected")
    chosen = {"victims": array} if refused is None else {"victims": array, "rejected": np.asarray(refused)}
    return rank.judge(trace, mode, capacity, chosen)
