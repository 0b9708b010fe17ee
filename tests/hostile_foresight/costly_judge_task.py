"""A task whose trusted replay costs what the decisions ask: the stand-in for any task whose judge a flood of
decisions slows (pipelines' rejected assignments before their cap), to test the judge's budget itself."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from policyforge.contract import Evaluation, FunctionSpec, Instance, PolicySpec, Task

SPEC = PolicySpec(task="costly", summary="test task", functions=(FunctionSpec("score", "score()", "float", ""),),
                  views=(), features=(), feature_module="", allowed_imports=("numpy",))


class CostlyJudge(Task):
    name = "costly"
    spec = SPEC

    def instances(self) -> list[Instance]:
        return [Instance("only", split, {}, "only") for split in ("train", "validation", "test")]

    def baselines(self) -> dict[str, Path]:
        return {}

    def score(self, instance: Instance, decisions: dict) -> Evaluation:
        """Busy for decisions["spin"] seconds, then holds decisions["mb"] MB: the decisions choose the cost."""
        end = time.monotonic() + float(decisions.get("spin", 0.0))
        while time.monotonic() < end:
            pass
        held = np.ones(int(decisions.get("mb", 0)) << 17)  # 8 bytes each: mb MB
        return Evaluation(float(held.size > -1))
