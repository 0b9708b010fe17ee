"""Shared by the discovery benchmarks: several search seeds in sequence, each a full run (search, selection
on validation, held-out test), then the per-group verdict of each and their combination across seeds.

A gain over a group's best baseline is claimed only when its 95% interval excludes zero both across search
seeds (the search is repeatable) and across held-out seeds (the difference is larger than workload noise).
Runs live in RUN_ROOT/seedN and are resumed (or simply re-read) when the script is run again.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

from policyforge.search.loop import Evolution, EvolveConfig
from policyforge.search.runs import run_verdict, selected_best
from policyforge.search.verdict import Verdict, across_search_seeds, label, render_table


def log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def run_seeds(make_config: Callable[[int], EvolveConfig], run_root: Path, seeds: list[int], samples: int) -> int:
    """Run (or resume) one search per seed, print each verdict, then the table across seeds."""
    verdicts: list[Verdict] = []
    for seed in seeds:
        run_dir = run_root / f"seed{seed}"
        started = time.perf_counter()
        if (run_dir / "run.sqlite").exists():
            evolution = Evolution(run_dir, resume=True, overrides={"max_samples": samples})
        else:
            evolution = Evolution(run_dir, make_config(seed))
        try:
            evolution.run(log)
        finally:
            evolution.evaluator.close()
        store = evolution.store
        best = selected_best(store)
        verdict = run_verdict(store)
        if best is None or verdict is None:
            print(f"search seed {seed}: no valid candidate was measured on test")
            return 1
        statuses: dict[str, int] = {}
        for c in store.all("sample IS NOT NULL"):
            statuses[c.status] = statuses.get(c.status, 0) + 1
        print(f"\n== search seed {seed}: {store.count_samples()} samples in {(time.perf_counter() - started) / 60:.1f} min "
              f"({', '.join(f'{k} {v}' for k, v in sorted(statuses.items()))})")
        print(f"selected candidate {best.id} ({best.proposer}): train {best.score:.3f}, "
              f"validation {best.validation_score:.3f}")
        print("\n".join(render_table(verdict)))
        print(verdict.conclusion)
        for note in verdict.notes:
            print(f"note: {note}")
        print(f"\nthe selected policy:\n{best.code}", flush=True)
        verdicts.append(verdict)
    print(f"\n== across {len(verdicts)} search seed(s) ({', '.join(map(str, seeds))}), {samples} samples each")
    rows = across_search_seeds(verdicts)
    width = max([18, *(len(label(r.group)) + 2 for r in rows)])
    print(f"{'held-out group':<{width}}{'best baseline':<22}{'baseline':>9}  {'evolved (95% CI)':<26}"
          f"{'evolved - best, over search seeds':<36}{'over held-out seeds':<38}claim")
    for row in rows:
        evolved = f"{row.candidate.mean:.2f}" + ("" if not row.candidate.defined else
                                                 f" [{row.candidate.low:.2f}, {row.candidate.high:.2f}]")
        print(f"{label(row.group):<{width}}{row.best_baseline:<22}{row.baseline:>9.2f}  {evolved:<26}"
              f"{row.difference.text():<36}{row.held_out.text():<38}{row.claim}")
    improved = sum(v.improved for v in verdicts)
    print(f"search seeds whose own verdict is an improvement: {improved} of {len(verdicts)}")
    return 0
