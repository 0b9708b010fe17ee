"""Reading a run directory back: counts, leaderboard, the selected best, export."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from policyforge.errors import PolicyforgeError
from policyforge.search.store import Candidate, Store
from policyforge.search.verdict import Verdict, compare


def instance_groups(store: Store) -> dict[str, str]:
    """Instance id -> group (its table row), as the run recorded it from `Instance.group`.

    Runs from before groups were recorded get them from their task, rebuilt from the stored configuration."""
    stored = store.config()
    if stored.get("groups"):
        return dict(stored["groups"])
    try:
        from policyforge.tasks.registry import get_task

        config = stored.get("config", {})
        task = get_task(config.get("task", ""), **(config.get("task_options") or {}))
        return {i.id: i.group or i.id for i in task.instances()}
    except Exception:  # an old run whose task can no longer be built: one group, still an honest verdict
        return {}


def mean_per_group(scores: dict[str, float], groups: dict[str, str]) -> dict[str, float]:
    """Scores averaged per group (in first-seen order)."""
    values: dict[str, list[float]] = {}
    for instance, value in scores.items():
        values.setdefault(groups.get(instance, instance), []).append(value)
    return {name: sum(v) / len(v) for name, v in values.items()}


def open_run(run_dir: str | Path) -> Store:
    path = Path(run_dir) / "run.sqlite"
    if not path.exists():
        raise PolicyforgeError(f"{run_dir}: not a run directory (no run.sqlite)")
    return Store(path)


def selected_best(store: Store) -> Candidate | None:
    """The candidate the run selected: best on validation among those measured there, else best on train."""
    candidates = store.all("status = 'ok' AND proposer != 'baseline' AND score IS NOT NULL")
    measured = [c for c in candidates if c.validation_score is not None]
    if measured:
        return max(measured, key=lambda c: (c.validation_score, c.score, -c.id))
    return max(candidates, key=lambda c: (c.score, -c.id), default=None)


def run_verdict(store: Store) -> Verdict | None:
    """The selected candidate against every baseline on the held-out test instances, or None until both
    have been measured there."""
    best = selected_best(store)
    if best is None or not best.test_scores:
        return None
    baselines = {c.name or f"#{c.id}": c.test_scores for c in store.all("proposer = 'baseline' AND status = 'ok'")
                 if c.test_scores}
    if not baselines:
        return None
    label = f"candidate {best.id}"
    groups = instance_groups(store)
    if groups:  # only the run's current instances: a task that changed its held-out set leaves old ids behind
        kept = {n: {i: v for i, v in s.items() if i in groups} for n, s in baselines.items()}
        baselines = {n: s for n, s in kept.items() if s}
        best_scores = {i: v for i, v in best.test_scores.items() if i in groups}
    else:
        best_scores = dict(best.test_scores)
    if not baselines or not best_scores:
        return None
    seen = {g for i, g in groups.items() if i not in best_scores}  # groups of train/validation instances
    verdict = compare(best_scores, baselines, groups, name=label, seen=seen)
    if best.proposer == "seed":
        verdict.notes.append(f"{label} is a seed program, written before the search started: no candidate the "
                             "search produced scored higher on validation")
    if best.validation_score is not None:
        rivals = [c for c in store.all("proposer = 'baseline' AND validation_score IS NOT NULL")
                  if c.validation_score >= best.validation_score]
        if rivals:
            top = max(rivals, key=lambda c: c.validation_score)
            verdict.notes.append(f"on validation, baseline {top.name} ({top.validation_score:.3f}) already scores "
                                 f"at least as high as {label} ({best.validation_score:.3f})")
    return verdict


def summary(store: Store, top: int = 10) -> dict[str, Any]:
    everything = store.all()
    samples = [c for c in everything if c.sample is not None]
    statuses: dict[str, int] = {}
    for c in samples:
        statuses[c.status] = statuses.get(c.status, 0) + 1
    best = selected_best(store)
    baselines = {c.name: {"score": c.score, "validation_score": c.validation_score, "test_score": c.test_score}
                 for c in everything if c.proposer == "baseline"}
    ranked = sorted((c for c in everything if c.status == "ok" and c.proposer != "baseline"),
                    key=lambda c: (-(c.validation_score if c.validation_score is not None else -1e9), -(c.score or 0), c.id))
    errors: dict[str, int] = {}
    for c in samples:
        if c.status == "proposal_error":
            errors[c.reason] = errors.get(c.reason, 0) + 1
    verdict = run_verdict(store)
    return {
        "samples": len(samples),
        "valid": sum(1 for c in samples if c.status in ("ok", "screened_out")),
        "statuses": statuses,
        "proposal_errors": errors,
        "cost_usd": round(store.total_cost(), 6),
        "baselines": baselines,
        "best": None if best is None else {
            "id": best.id, "score": best.score, "validation_score": best.validation_score,
            "test_score": best.test_score, "test_scores": best.test_scores, "proposer": best.proposer,
            "code": best.code,
        },
        "verdict": verdict.to_json() if verdict else None,
        "leaderboard": [{"id": c.id, "score": c.score, "validation_score": c.validation_score,
                         "test_score": c.test_score, "proposer": c.proposer} for c in ranked[:top]],
        "candidates": [{"id": c.id, "sample": c.sample, "parents": c.parents, "status": c.status, "score": c.score,
                        "proposer": c.proposer, "reason": c.reason} for c in everything],
    }


def export_best(store: Store, out: str | Path) -> Candidate:
    best = selected_best(store)
    if best is None or not best.code:
        raise PolicyforgeError("the run has no valid candidate to export yet")
    path = Path(out)
    if path.is_dir():
        raise PolicyforgeError(f"{path}: is a folder; give the file to write, e.g. {path / 'best.py'}")
    if not path.parent.is_dir():
        raise PolicyforgeError(f"{path.parent}: no such folder to write {path.name} into")
    try:
        path.write_text(best.code, encoding="utf-8")
    except OSError as exc:
        raise PolicyforgeError(f"{path}: cannot write ({exc.strerror or exc})") from None
    return best
