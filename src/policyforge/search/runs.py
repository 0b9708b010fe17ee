"""Reading a run directory back: counts, leaderboard, the selected best, export."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from policyforge.errors import PolicyforgeError
from policyforge.search.store import Candidate, Store


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


def summary(store: Store, top: int = 10) -> dict[str, Any]:
    everything = store.all()
    samples = [c for c in everything if c.sample is not None]
    statuses: dict[str, int] = {}
    for c in samples:
        statuses[c.status] = statuses.get(c.status, 0) + 1
    best = selected_best(store)
    baselines = {c.name: {"score": c.score, "test_score": c.test_score} for c in everything if c.proposer == "baseline"}
    ranked = sorted((c for c in everything if c.status == "ok" and c.proposer != "baseline"),
                    key=lambda c: (-(c.validation_score if c.validation_score is not None else -1e9), -(c.score or 0), c.id))
    return {
        "samples": len(samples),
        "valid": sum(1 for c in samples if c.status in ("ok", "screened_out")),
        "statuses": statuses,
        "cost_usd": round(store.total_cost(), 6),
        "baselines": baselines,
        "best": None if best is None else {
            "id": best.id, "score": best.score, "validation_score": best.validation_score,
            "test_score": best.test_score, "test_scores": best.test_scores, "proposer": best.proposer,
            "code": best.code,
        },
        "leaderboard": [{"id": c.id, "score": c.score, "validation_score": c.validation_score,
                         "proposer": c.proposer} for c in ranked[:top]],
        "candidates": [{"id": c.id, "sample": c.sample, "parents": c.parents, "status": c.status, "score": c.score,
                        "proposer": c.proposer, "reason": c.reason} for c in everything],
    }


def export_best(store: Store, out: str | Path) -> Candidate:
    best = selected_best(store)
    if best is None or not best.code:
        raise PolicyforgeError("the run has no valid candidate to export yet")
    Path(out).write_text(best.code, encoding="utf-8")
    return best
