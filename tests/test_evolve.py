"""Whole evolution runs through the CLI, on the tiny cluster: output, determinism, kill -9 and resume, the
LLM proposer against a real local chat-completions server, and `evaluate` on hostile code."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from clirun import run_cli

from policyforge.trust.sandbox import sandbox_available

TINY = str(Path(__file__).parent / "data" / "tiny_cluster.yaml")
HOSTILE = Path(__file__).parent / "hostile"

pytestmark = pytest.mark.skipif(not sandbox_available() and not os.environ.get("POLICYFORGE_REQUIRE_SANDBOX"),
                                reason="bubblewrap not available")


def cli(*args: str, env: dict | None = None):
    """In this process (the kill -9 test below starts a real one: its process is what is killed)."""
    return run_cli(*args, env=env)


@pytest.fixture
def no_report(monkeypatch):
    """Runs whose HTML report nobody here reads skip writing it (matplotlib, seconds a run); evolve writing
    its report is checked in test_report.py (its run_dir fixture and the Ctrl-C test)."""
    from policyforge import cli as cli_module

    monkeypatch.setattr(cli_module, "_report_after_run", lambda run_dir, display: None)


def rows(run_dir: Path) -> list[tuple]:
    with sqlite3.connect(run_dir / "run.sqlite") as db:
        return db.execute("SELECT sample, code_hash, status, score, parents FROM candidates "
                          "WHERE sample IS NOT NULL ORDER BY sample").fetchall()


def evolve(run_dir: Path, samples: int, seed: int = 1, *extra: str, env: dict | None = None):
    return cli("evolve", "--workload", TINY, "--run-dir", str(run_dir), "--max-samples", str(samples),
               "--seed", str(seed), *extra, env=env)


def test_evolve_then_show_and_export(tmp_path):
    run = tmp_path / "run"
    result = evolve(run, 6)
    assert result.returncode == 0, result.stderr
    assert "samples 6/6" in result.stderr and "selected: candidate" in result.stdout
    for phase in ("baseline fgd: train", "baseline fgd: validation", "baseline fgd: test", "validating the top"):
        assert phase in result.stderr                      # every long phase reports progress
    shown = json.loads(cli("runs", "show", str(run), "--json").stdout)
    # every baseline of the task is measured on train, validation and test, like a candidate
    from policyforge.tasks.k8s_gpu.policy import BASELINES

    assert set(shown["baselines"]) == set(BASELINES)
    assert all(None not in (b["score"], b["validation_score"], b["test_score"]) for b in shown["baselines"].values())
    # a 6-sample search on the tiny cluster finds nothing better than the best baseline: said in words, and
    # when the selected candidate is a seed program (written before the search), that is said too
    verdict = shown["verdict"]
    assert verdict["improved"] is False and verdict["conclusion"].startswith("no improvement found")
    assert "no improvement found" in result.stdout
    assert ("is a seed program" in result.stdout) == (shown["best"]["proposer"] == "seed")
    assert len(verdict["overall"]["differences"]) == len(BASELINES)
    assert shown["samples"] == 6 and 0 <= shown["valid"] <= 6
    assert {"id", "score", "test_score", "code"} <= set(shown["best"]) and shown["best"]["test_score"] is not None
    assert len(shown["candidates"]) >= 6
    assert all({"id", "parents", "status", "score"} <= set(c) for c in shown["candidates"])
    out = tmp_path / "best.py"
    assert cli("runs", "export", str(run), "--best", str(out)).returncode == 0
    assert "def score(" in out.read_text()
    again = evolve(run, 6)
    assert again.returncode == 2 and "use --resume" in again.stderr


def test_same_seed_same_run_whatever_the_parallelism(tmp_path, no_report):
    assert evolve(tmp_path / "a", 4, 3, "--jobs", "2").returncode == 0  # 4 samples: two batches of two at once
    assert evolve(tmp_path / "b", 4, 3, "--jobs", "1").returncode == 0
    assert rows(tmp_path / "a") == rows(tmp_path / "b")


def test_kill_9_then_resume_loses_nothing_and_counts_exactly(tmp_path, no_report):
    samples = 10
    reference = tmp_path / "reference"
    assert evolve(reference, samples, 5).returncode == 0

    run = tmp_path / "killed"
    process = subprocess.Popen([sys.executable, "-m", "policyforge.cli", "evolve", "--workload", TINY, "--run-dir",
                                str(run), "--max-samples", str(samples), "--seed", "5"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 300
    evaluated: list[tuple] = []
    while time.time() < deadline:
        time.sleep(0.2)
        if (run / "run.sqlite").exists():
            try:
                evaluated = [r for r in rows(run) if r[2] != "proposed"]
            except sqlite3.Error:
                continue
            if len(evaluated) >= 4:
                break
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert len(evaluated) >= 4, "the run did not get far enough before the deadline"
    before = [r for r in rows(run) if r[2] != "proposed"]

    resumed = cli("evolve", "--resume", str(run))
    assert resumed.returncode == 0, resumed.stderr
    after = rows(run)
    assert set(before) <= set(after)                      # nothing evaluated before the kill is lost
    assert [r[0] for r in after] == list(range(samples))  # every sample once, none twice
    assert after == rows(reference)                       # and the run is the one it would have been


def test_llm_run_against_a_local_chat_completions_server(tmp_path, monkeypatch, no_report):
    pytest.importorskip("openai")
    sys.path.insert(0, str(Path(__file__).parent))
    from chat_server import ChatServer, reply, status

    good = ("```python\nimport numpy as np\n\n\ndef score(pod, nodes, cluster):\n"
            "    return -(nodes.gpu_free_total - pod.total_gpu_milli) - 0.01 * nodes.cpu_free\n```")
    sneaky = "```python\nimport os\n\n\ndef score(pod, nodes, cluster):\n    return [len(os.environ)] * len(nodes)\n```"
    server = ChatServer().start()
    server.script(reply(good, 900, 120), reply("I cannot help with that."), status(429, retry_after=0),
                  reply(sneaky, 800, 60), *[reply(good.replace("0.01", f"0.0{i}"), 900, 100) for i in range(2, 9)])
    try:
        env = {**os.environ, "TEST_LLM_KEY": "sk-test-secret"}
        result = evolve(tmp_path / "llm", 5, 0, "--model", "scripted", "--base-url", server.base_url,
                        "--api-key-env", "TEST_LLM_KEY", "--llm-mode", "full", "--price-in", "1", "--price-out", "2",
                        "--jobs", "1", env=env)
        assert result.returncode == 0, result.stderr
        shown = json.loads(cli("runs", "show", str(tmp_path / "llm"), "--json").stdout)
        statuses = [c["status"] for c in shown["candidates"]]
        assert shown["samples"] == 5
        assert "proposal_error" in statuses and "rejected" in statuses
        assert shown["cost_usd"] > 0
        text = (tmp_path / "llm" / "run.sqlite").read_bytes()
        assert b"sk-test-secret" not in text
        assert any(r.headers.get("authorization") == "Bearer sk-test-secret" for r in server.requests)
    finally:
        server.stop()


@pytest.mark.parametrize(("name", "expect"), [
    ("fork_bomb_os.py", "rejected"), ("env_read_os.py", "rejected"), ("network_socket.py", "rejected"),
    ("returns_nan.py", "invalid_output"), ("wrong_shape.py", "invalid_output"), ("infinite_loop.py", "timeout"),
    ("raises.py", "crashed")])
def test_evaluate_reports_status_for_hostile_files_on_the_real_task(name, expect):
    path = HOSTILE / name
    result = cli("evaluate", "--task", "k8s-gpu", "--workload", TINY, "--policy", str(path), "--split", "screen",
                 "--json", "--wall-limit", "4")
    data = json.loads(result.stdout)
    assert data["status"] == expect and data["reason"] and result.returncode == 1


def test_evaluate_a_good_policy():
    policy = Path(__file__).parent.parent / "src/policyforge/tasks/k8s_gpu/policies/bestfit.py"
    result = cli("evaluate", "--task", "k8s-gpu", "--workload", TINY, "--policy", str(policy), "--split", "screen", "--json")
    data = json.loads(result.stdout)
    assert result.returncode == 0 and data["status"] == "ok" and 0 < data["score"] <= 100


def test_a_run_fed_hostile_candidates_records_each_and_goes_on(tmp_path, no_report):
    """An LLM that answers with hostile programs: each is contained, recorded with its reason, and the
    run finishes with the exact sample count."""
    pytest.importorskip("openai")
    sys.path.insert(0, str(Path(__file__).parent))
    from chat_server import ChatServer, reply

    names = ["infinite_loop.py", "memory_bomb_numpy.py", "returns_nan.py", "monkeypatch_private_state.py",
             "network_socket.py", "raises.py"]
    server = ChatServer().start()
    server.script(*[reply(f"```python\n{(HOSTILE / n).read_text()}\n```", 100, 100) for n in names])
    try:
        result = evolve(tmp_path / "hostile", len(names), 0, "--model", "scripted", "--base-url", server.base_url,
                        "--llm-mode", "full", "--jobs", "1", "--batch-size", "1", "--wall-limit", "4",
                        "--memory-limit", "1024")
        assert result.returncode == 0, result.stderr
        with sqlite3.connect(tmp_path / "hostile" / "run.sqlite") as db:
            recorded = db.execute("SELECT sample, status, reason FROM candidates WHERE sample IS NOT NULL "
                                  "ORDER BY sample").fetchall()
        assert [r[1] for r in recorded] == ["timeout", "crashed", "invalid_output", "rejected", "rejected", "crashed"], recorded
        assert all(r[2] and "\n" not in r[2] for r in recorded)
    finally:
        server.stop()
