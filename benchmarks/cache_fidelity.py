"""The README's fidelity table: every row of libCacheSim 0.3.5's figures (../shared/data/cache/expected)
next to ours, as markdown (miss ratio; byte miss ratio difference in the last column).

    python benchmarks/cache_fidelity.py
"""

from __future__ import annotations

import json
from pathlib import Path

from policyforge.tasks.cache.simulate import LIBCACHESIM_NAMES, available, run_baseline
from policyforge.tasks.cache.trace import read_trace

ROOT = Path(__file__).resolve().parents[1]
TRACES = {"cloudPhysicsIO": ("cloudPhysicsIO.oracleGeneral.bin", None),
          "twitter_cluster52_first1m": ("twitter_cluster52_10m.csv.zst", "0:1000000")}


def main() -> None:
    print("| trace | mode | size | policy | libCacheSim | policyforge | difference | byte difference |")
    print("| --- | --- | ---: | --- | ---: | ---: | ---: | ---: |")
    for name, (file, window) in TRACES.items():
        trace = read_trace(ROOT / "data" / "cache" / file, window)
        rows = json.loads((ROOT.parent / "shared" / "data" / "cache" / "expected" / f"{name}.json").read_text())["rows"]
        for row in rows:
            policy = LIBCACHESIM_NAMES[row["algo"]]
            label = f"| {name.split('_')[0]} | {row['mode']} | {row['fraction']:g} | {row['algo']} | {row['miss_ratio']:.6f}"
            if policy not in available():
                print(f"{label} | not built | | |")
                continue
            got = run_baseline(trace, policy, trace.cache_size(row["fraction"], row["mode"]), row["mode"])
            print(f"{label} | {got.miss_ratio:.6f} | {got.miss_ratio - row['miss_ratio']:+.6f} | "
                  f"{got.byte_miss_ratio - row['byte_miss_ratio']:+.6f} |")


if __name__ == "__main__":
    main()
