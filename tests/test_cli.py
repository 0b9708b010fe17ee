"""The command line: JSON shape, determinism, plots, and one-line errors for user mistakes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from clirun import run_cli  # in this process: the output and exit code are under test, not the process start

from policyforge.cli import main, parse_seeds

TINY = str(Path(__file__).parent / "data" / "tiny_cluster.yaml")


def strip_seconds(obj):
    if isinstance(obj, dict):
        return {k: strip_seconds(v) for k, v in obj.items() if not k.startswith("seconds")}
    if isinstance(obj, list):
        return [strip_seconds(v) for v in obj]
    return obj


def test_json_has_the_documented_shape_and_is_deterministic(capsys):
    args = ["simulate", "--workload", TINY, "--policy", "fgd", "--policy", "bestfit,random", "--seeds", "1-3", "--json"]
    assert main([*args, "--jobs", "1"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert main([*args, "--jobs", "2"]) == 0
    second = json.loads(capsys.readouterr().out)
    assert strip_seconds(first) == strip_seconds(second)
    assert list(first["policies"]) == ["fgd", "bestfit", "random"]
    for entry in first["policies"].values():
        for key in ("alloc_at_100", "alloc_at_130", "frag_ratio_at_100", "failed_pods", "seconds"):
            assert isinstance(entry[key], float)
        assert [row["seed"] for row in entry["per_seed"]] == [1, 2, 3]


def test_table_and_plot(tmp_path):
    plot = tmp_path / "fig.png"
    result = run_cli("simulate", "--workload", TINY, "--policy", "all", "--seeds", "1", "--plot", str(plot))
    assert result.returncode == 0, result.stderr
    assert "balanced-allocation" in result.stdout and "alloc@100%" in result.stdout
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_policy_file_is_compared_beside_baselines(tmp_path):
    policy = tmp_path / "mine.py"
    policy.write_text("import numpy as np\n\ndef score(pod, nodes, cluster):\n    return -nodes.gpu_free_total\n")
    result = run_cli("simulate", "--workload", TINY, "--policy", str(policy), "--policy", "bestfit", "--seeds", "1", "--json")
    assert result.returncode == 0, result.stderr
    assert set(json.loads(result.stdout)["policies"]) == {"mine", "bestfit"}


def test_replay_mode_json():
    result = run_cli("simulate", "--workload", TINY, "--policy", "fgd", "--seeds", "1", "--mode", "replay", "--json")
    assert result.returncode == 0, result.stderr
    entry = json.loads(result.stdout)["policies"]["fgd"]
    assert 0 < entry["gpu_utilisation"] <= 100 and entry["wait_p99_seconds"] >= entry["wait_p50_seconds"] >= 0


@pytest.mark.parametrize(
    ("args", "needle"),
    [(["--policy", "nosuch"], "unknown policy 'nosuch'"),
     (["--policy", "/tmp/does-not-exist.py"], "policy file not found"),
     (["--workload", "nosuch"], "unknown workload 'nosuch'"),
     (["--workload", "/tmp/none.yaml"], "file not found"),
     (["--tune", "-1"], "argument --tune: -1 must be > 0")],
)
def test_user_mistakes_get_one_line_and_exit_2(args, needle):
    base = {"--workload": TINY, "--seeds": "1"}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        base[flag] = value
    result = run_cli("simulate", *[x for kv in base.items() for x in kv])
    assert result.returncode == 2
    assert needle in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_broken_policy_files_are_reported_not_crashed(tmp_path):
    cases = {"syntax.py": "def score(:\n", "noscore.py": "x = 1\n", "boom.py": "raise RuntimeError('no')\n",
             "raises.py": "def score(pod, nodes, cluster):\n    return 1 / 0\n",
             "nan.py": "import numpy as np\ndef score(pod, nodes, cluster):\n    return np.full(len(nodes), np.nan)\n"}
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
        result = run_cli("simulate", "--workload", TINY, "--policy", str(tmp_path / name), "--seeds", "1", "--jobs", "1")
        assert result.returncode == 2, (name, result.stderr)
        assert name in result.stderr or f"policy {name[:-3]}:" in result.stderr
        assert "Traceback" not in result.stderr


def test_bad_yaml_spec_names_the_entry(tmp_path):
    spec = tmp_path / "c.yaml"
    spec.write_text("nodes:\n  - {count: 2, cpu_milli: 1000, memory_mib: 10, gpus: 2, model: X9}\npods: {count: 1, shapes: [{}]}\n")
    result = run_cli("simulate", "--workload", str(spec), "--seeds", "1")
    assert result.returncode == 2 and "nodes[0]: unknown GPU model 'X9'" in result.stderr


def test_parse_seeds():
    assert parse_seeds("42-45") == [42, 43, 44, 45] and parse_seeds("1,3") == [1, 3] and parse_seeds("7") == [7]
