"""`policyforge simulate --task cache`: JSON shape, baselines and RANK files side by side, one-line errors."""

from __future__ import annotations

import json

import numpy as np

from policyforge.cli import main
from policyforge.tasks.cache.trace import ORACLE_GENERAL


def small_trace(tmp_path):
    rng = np.random.default_rng(3)
    data = np.zeros(3000, dtype=ORACLE_GENERAL)
    data["time"] = np.arange(3000)
    data["obj_id"] = rng.zipf(1.3, 3000) % 300 + 1
    data["size"] = data["obj_id"] % 50 + 1
    path = tmp_path / "t.oracleGeneral.bin"
    path.write_bytes(data.tobytes())
    return path


def test_json_lists_every_policy_with_its_miss_ratios(tmp_path, capsys):
    path = small_trace(tmp_path)
    policy = tmp_path / "mine.py"
    policy.write_text("def score(objs, stats):\n    return objs.last_access\n")
    args = ["simulate", "--task", "cache", "--trace", str(path), "--window", "100:2900", "--cache-size", "0.1",
            "--mode", "objects", "--policy", f"fifo,lru,{policy}", "--json"]
    assert main(args) == 2  # a policy file runs in this process only when its author vouches for it
    assert "--unsafe-local-policy" in capsys.readouterr().err
    code = main([*args, "--unsafe-local-policy"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["policies"]) == {"fifo", "lru", "mine"}
    assert out["requests"] == 2800
    assert out["policies"]["mine"]["miss_ratio"] == out["policies"]["lru"]["miss_ratio"]
    assert all(0 < p["miss_ratio"] <= 1 and 0 < p["byte_miss_ratio"] <= 1 for p in out["policies"].values())


def test_the_miss_ratio_curve_is_drawn(tmp_path, capsys):
    path = small_trace(tmp_path)
    plot = tmp_path / "mrc.png"
    assert main(["simulate", "--task", "cache", "--trace", str(path), "--policy", "lru,s3fifo",
                 "--mrc", str(plot)]) == 0
    assert plot.stat().st_size > 1000
    assert "s3fifo" in capsys.readouterr().out


def test_an_unknown_policy_is_one_line(tmp_path, capsys):
    code = main(["simulate", "--task", "cache", "--trace", str(small_trace(tmp_path)), "--policy", "nope"])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert "unknown cache policy 'nope'" in err and "\n" not in err
