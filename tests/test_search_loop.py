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


def test_a_resumed_run_whose_held_out_set_grew_measures_only_the_new_instances(tmp_path, monkeypatch):
    """A task that gains test instances (cache's CloudPhysics trace split into windows) need not search again:
    resuming measures the selected candidate and every baseline on just the added instances, keeps the old
    figures, and the verdict covers exactly the current held-out set (a removed instance's figure stays in the
    store but counts nowhere)."""
    monkeypatch.setenv("POLICYFORGE_INSTANCE_KEY", "22" * 32)
    options = {"items": 60, "test_seeds": [21, 22]}
    config = EvolveConfig(task=BINPACKING, task_options=options, max_samples=8, seed=1, batch_size=8, jobs=1)
    first = Evolution(tmp_path / "run", config)
    try:
        first.run()
    finally:
        first.evaluator.close()
    from policyforge.search.runs import run_verdict, selected_best

    before = selected_best(first.store)
    old = dict(before.test_scores)
    assert len(old) == 2 * 4  # two seeds of each of the four distributions
    lines: list[str] = []
    grown = {**options, "test_seeds": [22, 23, 24]}  # one dropped, two added
    again = Evolution(tmp_path / "run", resume=True,
                      overrides={"task_options": grown, "max_samples": 8})
    try:
        again.run(lines.append)
    finally:
        again.evaluator.close()
    after = selected_best(again.store)
    assert after.id == before.id
    assert any("on 8 held-out test instance(s)" in line for line in lines)  # seeds 23 and 24 only
    assert all(after.test_scores[i] == v for i, v in old.items())  # nothing measured twice, nothing lost
    current = {i.id for i in again.test}
    assert current <= set(after.test_scores) and len(current) == 12
    verdict = run_verdict(again.store)
    assert {r.seeds for r in verdict.groups} == {3}  # seeds 22-24; seed 21's figures count nowhere
    for c in again.store.all("proposer = 'baseline' AND status = 'ok'"):
        assert current <= set(c.test_scores)
