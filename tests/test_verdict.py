"""Verdicts: paired differences with Student-t intervals, the best baseline per group, the words of the
conclusion, and the verdict a run directory reports (runs show, its JSON, the report)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from clirun import run_cli

from policyforge.search.runs import run_verdict, summary
from policyforge.search.store import Store
from policyforge.search.verdict import (
    across_search_seeds,
    compare,
    mean_interval,
    stratified_interval,
    t95,
)


def test_t_quantiles_match_the_table_and_approach_the_normal():
    assert t95(1) == pytest.approx(12.706) and t95(4) == pytest.approx(2.776) and t95(30) == pytest.approx(2.042)
    assert t95(45) < t95(40) and t95(1000) == pytest.approx(1.96, abs=0.005)


def test_mean_interval_is_students_t():
    interval = mean_interval([1.0, 2.0, 3.0, 4.0, 5.0])
    half = 2.776 * math.sqrt(2.5) / math.sqrt(5)
    assert interval.mean == 3.0 and interval.low == pytest.approx(3 - half) and interval.high == pytest.approx(3 + half)
    single = mean_interval([0.4])
    assert not single.defined and "interval undefined: 1 seed" in single.text()


def test_stratified_interval_weights_groups_equally_and_needs_two_seeds_each():
    both = stratified_interval([[1.0, 1.0, 1.0], [3.0, 3.0, 3.0, 3.0, 3.0, 3.0]])
    assert both.mean == 2.0 and both.low == both.high == 2.0     # no variance: a point
    assert not stratified_interval([[1.0, 2.0], [5.0]]).defined


def scores(values: dict[str, list[float]]) -> dict[str, float]:
    return {f"{group}/seed{i}": v for group, vs in values.items() for i, v in enumerate(vs)}


GROUPS = {f"{g}/seed{i}": g for g in ("easy", "hard") for i in range(4)}
BASELINES = {
    "strong": scores({"easy": [90.0, 91.0, 92.0, 93.0], "hard": [70.0, 72.0, 71.0, 73.0]}),
    "weak": scores({"easy": [80.0, 80.0, 81.0, 82.0], "hard": [75.0, 74.0, 76.0, 75.0]}),
}


def test_a_planted_better_policy_is_reported_with_its_interval():
    better = scores({"easy": [91.0, 92.2, 93.1, 93.9], "hard": [76.0, 75.1, 77.2, 76.0]})
    verdict = compare(better, BASELINES, GROUPS, name="planted")
    easy, hard = verdict.groups
    assert (easy.best_baseline, hard.best_baseline) == ("strong", "weak")       # each group's own best
    assert easy.vs_best.above_zero and hard.vs_best.above_zero
    assert easy.vs_best.mean == pytest.approx(1.05)
    assert verdict.overall.best_baseline == "strong" and verdict.improved
    assert verdict.conclusion.startswith("improvement: planted beats the best baseline overall, strong, by +")
    assert "interval excludes zero" in verdict.conclusion and "better on 2 of 2 (easy, hard)" in verdict.conclusion
    assert set(verdict.groups[0].differences) == {"strong", "weak"}             # against every baseline


def test_a_candidate_equal_to_the_best_baseline_is_no_improvement():
    same = dict(BASELINES["strong"])
    verdict = compare(same, BASELINES, GROUPS)
    assert not verdict.improved and verdict.conclusion.startswith("no improvement found")
    assert verdict.groups[1].vs_best.below_zero and "worse on hard" in verdict.conclusion


def test_a_noisy_small_gain_is_not_claimed():
    noisy = scores({"easy": [92.0, 89.0, 94.0, 92.0], "hard": [70.0, 72.0, 71.0, 73.0]})
    verdict = compare(noisy, {"strong": BASELINES["strong"]}, GROUPS)
    assert verdict.overall.vs_best.mean > 0 and not verdict.improved
    assert "no improvement found" in verdict.conclusion and "interval includes zero" in verdict.conclusion


def test_one_seed_per_group_says_the_interval_is_undefined():
    one = {"a/seed1": 2.0, "b/seed1": 3.0}
    verdict = compare(one, {"base": {"a/seed1": 1.0, "b/seed1": 1.0}}, {"a/seed1": "a", "b/seed1": "b"})
    assert not verdict.improved and "interval undefined" in verdict.conclusion


def test_search_seeds_combine_per_group_against_the_best_baseline():
    runs = [compare(scores({"easy": [91.5 + s + d for s in (0.0, 1.0, 2.0, 3.0)], "hard": [76.0 + d] * 4}),
                    BASELINES, GROUPS) for d in (0.0, 0.5, 1.0)]
    combined = {row.group: row for row in across_search_seeds(runs)}
    assert list(combined) == ["easy", "hard", "overall"]
    assert combined["easy"].best_baseline == "strong" and combined["easy"].baseline == pytest.approx(91.5)
    assert combined["easy"].difference.mean == pytest.approx(2.0) and combined["easy"].difference.n == 3
    half = 4.303 * 0.5 / math.sqrt(3)
    assert combined["hard"].difference.low == pytest.approx(1.5 - half)
    assert combined["easy"].claim == "gain"


def test_identical_search_seeds_claim_nothing_the_held_out_noise_does_not_support():
    noisy = scores({"easy": [92.0, 89.0, 94.0, 92.0], "hard": [70.0, 72.0, 71.0, 73.0]})
    combined = across_search_seeds([compare(noisy, {"strong": BASELINES["strong"]}, GROUPS)] * 3)
    easy = combined[0]
    assert easy.difference.above_zero and easy.difference.low == easy.difference.high   # no search variance
    assert not easy.held_out.above_zero and easy.claim == "none"


# --- a run directory's verdict ------------------------------------------------------------------------
def planted_run(path: Path, candidate: dict[str, float], proposer: str = "gp") -> Path:
    """A run directory as `evolve` leaves it, written directly: every baseline measured on train,
    validation and test, and one selected candidate."""
    path.mkdir()
    store = Store(path / "run.sqlite")
    store.set_config({"config": {"task": "toy", "task_options": {}}, "groups": GROUPS})
    for name, test in BASELINES.items():
        store.insert(proposer="baseline", name=name, status="ok", score=80.0, scores={"t": 80.0},
                     validation_score=80.0, validation_scores={"v": 80.0}, test_score=sum(test.values()) / 8,
                     test_scores=test)
    store.insert(proposer=proposer, sample=0, status="ok", code="def score(): ...", score=85.0,
                 scores={"t": 85.0}, validation_score=85.0, validation_scores={"v": 85.0},
                 test_score=sum(candidate.values()) / 8, test_scores=candidate)
    store.close()
    return path


def cli(*args: str):
    return run_cli(*args)  # in this process: what it prints is under test, not the process start


@pytest.mark.integration  # through the CLI, the store and the report; the rest of this file is unit
def test_runs_show_prints_the_verdict_and_json_carries_it(tmp_path):
    run = planted_run(tmp_path / "run", scores({"easy": [91.0, 92.2, 93.1, 93.9], "hard": [76.0, 75.1, 77.2, 76.0]}))
    shown = cli("runs", "show", str(run))
    assert shown.returncode == 0, shown.stderr
    assert "improvement: candidate 3 beats the best baseline overall, strong, by +" in shown.stdout
    assert "easy" in shown.stdout and "hard" in shown.stdout and "overall" in shown.stdout
    data = json.loads(cli("runs", "show", str(run), "--json").stdout)
    assert data["verdict"]["improved"] is True
    assert [g["best_baseline"] for g in data["verdict"]["groups"]] == ["strong", "weak"]
    assert data["verdict"]["groups"][0]["differences"]["weak"]["low"] > 0
    assert all(b["validation_score"] is not None for b in data["baselines"].values())


@pytest.mark.integration
def test_a_selected_seed_program_says_the_search_found_nothing_better(tmp_path):
    run = planted_run(tmp_path / "run", dict(BASELINES["strong"]), proposer="seed")
    store = Store(run / "run.sqlite")
    verdict = run_verdict(store)
    assert verdict is not None and not verdict.improved
    assert verdict.conclusion.startswith("no improvement found: candidate 3 is not better than")
    assert any("seed program" in note for note in verdict.notes)
    assert summary(store)["verdict"]["conclusion"] == verdict.conclusion
    report = cli("report", str(run), "--out", str(tmp_path / "report"))
    assert report.returncode == 0, report.stderr
    page = (tmp_path / "report" / "index.html").read_text()
    assert "no improvement found" in page and "seed program" in page


def test_group_labels_shorten_file_paths_only():
    from policyforge.search.verdict import label

    assert label("/data/clusters/tiny.yaml") == "tiny.yaml"
    assert label("pods/openb_pod_list_gpuspec33.csv") == "openb_pod_list_gpuspec33.csv"
    assert label("twitter/bytes/10%") == "twitter/bytes/10%"
    assert label("cloudphysics/objects/0.1%") == "cloudphysics/objects/0.1%"
    assert label("default") == "default"


def test_a_single_instance_group_beside_repeated_ones_is_named_as_why_overall_has_no_interval():
    """Groups with ten windows each do not make the overall interval defined when one group has a single
    instance (cache's whole-trace CloudPhysics group): the conclusion names that group, and claims nothing."""
    candidate = {f"a/w{i}": 5.0 + 0.1 * i for i in range(10)} | {"trace": 4.0}
    base = {f"a/w{i}": 1.0 for i in range(10)} | {"trace": 1.0}
    groups = {f"a/w{i}": "a" for i in range(10)} | {"trace": "cloudphysics/bytes/1%"}
    verdict = compare(candidate, {"base": base}, groups)
    assert verdict.groups[0].vs_best.above_zero  # the repeated group alone has its interval
    assert not verdict.improved
    assert "cloudphysics/bytes/1% has a single held-out instance" in verdict.conclusion
