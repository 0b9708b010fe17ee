"""The search loop's own decisions, on a real run of the example task: successive halving promotes exactly the
candidates its rule says (the top share of every screen score so far, or better than a parent), and tuning
samples move the constants of their island's leaders."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from policyforge.errors import PolicyforgeError
from policyforge.search.loop import Evolution, EvolveConfig
from policyforge.search.proposers.gp import GPProposer

ROOT = Path(__file__).resolve().parent.parent
BINPACKING = f"{ROOT / 'examples' / 'binpacking' / 'task.py'}:OnlineBinPacking"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    with pytest.MonkeyPatch.context() as env:  # the same instances on every installation: the same run
        env.setenv("POLICYFORGE_INSTANCE_KEY", "11" * 32)
        yield _search(tmp_path_factory)


def _search(tmp_path_factory):
    config = EvolveConfig(task=BINPACKING, task_options={"items": 120}, max_samples=40, seed=3, batch_size=8,
                          jobs=1, tune_share=0.3)
    evolution = Evolution(tmp_path_factory.mktemp("loop") / "run", config)
    try:
        evolution.search()
    finally:
        evolution.evaluator.close()
    return evolution


def screen_mean(c) -> float:
    return float(np.mean(list(c.screen_scores.values())))


def test_successive_halving_promotes_by_its_rule_in_sample_order(run):
    store, config = run.store, run.config
    samples = store.all("sample IS NOT NULL", order="sample")
    rung = [screen_mean(c) for c in store.all("sample IS NULL AND screen_scores IS NOT NULL")]
    outcomes = {"ok": 0, "screened_out": 0}
    for first in range(0, len(samples), config.batch_size):
        batch = [c for c in samples[first:first + config.batch_size] if c.screen_scores]
        means = [screen_mean(c) for c in batch]
        values = rung + means
        bar = -np.inf if len(values) * config.promote_top < 1 else float(np.quantile(values, 1 - config.promote_top))
        for c, mean in zip(batch, means, strict=True):
            parents = [screen_mean(p) for p in map(store.get, c.parents) if p.screen_scores]
            promoted = mean >= bar or (bool(parents) and mean > max(parents))
            assert c.status == ("ok" if promoted else "screened_out"), (c.id, mean, bar, parents)
            assert (c.score is not None) == promoted  # a train score only for a candidate that ran on all of train
            outcomes[c.status] += 1
        rung += means
    assert outcomes["ok"] and outcomes["screened_out"]  # the rule both promoted and stopped candidates


def test_tuning_samples_move_the_constants_of_an_island_leader(run):
    store = run.store
    gp = GPProposer.for_task(run.task)
    tuned = [c for c in store.all("sample IS NOT NULL", order="sample") if (c.prompt or "").startswith("gp: constant tuning")]
    assert len(tuned) >= 2
    for c in tuned:
        (parent_id,) = c.parents
        parent = store.get(parent_id)
        assert parent.status == "ok" and c.island == (c.sample % run.config.islands)
        child, tree = gp.parse(c.code), gp.parse(parent.code)
        assert child != tree and _shape(child) == _shape(tree)


def test_tuning_is_off_at_share_zero_and_the_share_is_checked(tmp_path):
    config = EvolveConfig(task=BINPACKING, task_options={"items": 40}, tune_share=0.0)
    evolution = Evolution(tmp_path / "run", config)
    try:
        assert not any(evolution._tunes(s, "gp") for s in range(200))
    finally:
        evolution.evaluator.close()
    assert json.loads(json.dumps(config.to_json()))["tune_share"] == 0.0
    assert EvolveConfig.from_json(EvolveConfig(tune_share=0.3).to_json()).tune_share == 0.3
    older = {k: v for k, v in EvolveConfig().to_json().items() if k != "tune_share"}
    assert EvolveConfig.from_json(older).tune_share == 0.0  # a run from before tuning resumes as it began
    with pytest.raises(PolicyforgeError, match="tune_share"):
        Evolution(tmp_path / "bad", EvolveConfig(task=BINPACKING, task_options={"items": 40}, tune_share=1.5))


def _shape(node):
    return (node.op, tuple(_shape(c) for c in node.children))
