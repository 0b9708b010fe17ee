"""Every user mistake gives one line naming what and where, and exit 2, before any work is done; help
text for every option; --version; the replay setup and its warning."""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from clirun import Result, run_cli

from policyforge.cli import build_parser
from policyforge.search.store import Store

TINY = str(Path(__file__).parent / "data" / "tiny_cluster.yaml")


def cli(*args: str, env: dict | None = None, cwd: Path | None = None) -> Result:
    """In this process: what is under test is the message and the exit code, not the process start."""
    return run_cli(*args, env=env, cwd=cwd)


def process(*args: str) -> subprocess.CompletedProcess:
    """A real `python -m policyforge.cli` child: the entry point's exit code and streams."""
    return subprocess.run([sys.executable, "-m", "policyforge.cli", *args], capture_output=True, text=True,
                          timeout=300)


def one_line_error(result: Result | subprocess.CompletedProcess, needle: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert needle in lines[0], lines[0]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A run directory with one valid candidate, written directly (no search needed to test export)."""
    path = tmp_path_factory.mktemp("run")
    store = Store(path / "run.sqlite")
    store.set_config({"config": {"task": "k8s-gpu", "task_options": {"workload": TINY}}, "groups": {}})
    store.insert(proposer="gp", sample=0, status="ok", code="def score(pod, nodes, cluster):\n    return 0\n",
                 score=1.0, scores={"x": 1.0})
    store.close()
    return path


@pytest.mark.parametrize(("args", "needle"), [
    (["simulate", "--workload", TINY, "--seeds", "5-1"], "seed range '5-1' is reversed: write 1-5"),
    (["simulate", "--workload", TINY, "--jobs", "0"], "argument --jobs: 0 must be >= 1"),
    (["simulate", "--workload", TINY, "--mode", "replay", "--tune", "1.5"], "--tune has no effect in replay mode"),
    (["simulate", "--workload", TINY, "--mode", "replay", "--plot", "x.png"], "--plot has no effect in replay mode"),
    (["simulate", "--workload", TINY, "--speedup", "3"], "--speedup has no effect in inflation mode"),
    (["simulate", "--workload", TINY, "--replay-capacity", "0"], "argument --replay-capacity: 0 must be > 0"),
    (["simulate", "--task", "pipelines", "--workload", "default"], "unrecognized arguments: --workload default"),
    (["simulate", "--workload", TINY, "--params", "a.toml"], "unrecognized arguments: --params a.toml"),
    (["simulate", "--workload", TINY, "--seeds", "1", "--plot", "/no/such/folder/x.png"],
     "--plot /no/such/folder/x.png: folder /no/such/folder does not exist"),
    (["data", "fetch", "openb", "--from", "/no/such/openb", "--dir", "unused"],
     "--from /no/such/openb: no such folder"),
    (["evolve", "--run-dir", "r", "--islands", "0"], "argument --islands: 0 must be >= 1"),
    (["evolve", "--run-dir", "r", "--llm-share", "1.5"], "argument --llm-share: 1.5 must be between 0 and 1"),
    (["evolve", "--run-dir", "r", "--task", "nosuch"], "unknown task 'nosuch'"),
    (["evolve", "--run-dir", "r", "--model", "m", "--proposer", "gp"], "--model has no effect with --proposer gp"),
    (["tasks", "check", "nosuch"], "unknown task 'nosuch'"),
    (["report", "no-such-run"], "no-such-run: not a run directory"),
])
def test_mistakes_are_one_line_and_exit_2(args, needle, tmp_path):
    one_line_error(cli(*args, cwd=tmp_path), needle)


@pytest.mark.parametrize(("args", "needle"), [
    (["simulate", "--workload", TINY, "--seeds", "5-1"], "seed range '5-1' is reversed: write 1-5"),  # argparse's
    (["tasks", "check", "nosuch"], "unknown task 'nosuch'"),                                         # main()'s
])
def test_the_entry_point_exits_2_with_one_line(args, needle, tmp_path):
    """The two ways a mistake leaves the program (argparse's exit, main's return value), through a real
    process: the in-process tests above stand for the rest."""
    one_line_error(process(*args), needle)


def test_simulate_report_onto_an_existing_file_fails_before_simulating(tmp_path):
    existing = tmp_path / "taken"
    existing.write_text("mine")
    one_line_error(cli("simulate", "--workload", TINY, "--seeds", "1", "--report", str(existing)),
                   f"--report {existing}: a file is in the way")
    assert existing.read_text() == "mine"


def test_export_into_a_missing_folder_or_onto_a_folder(run_dir, tmp_path):
    one_line_error(cli("runs", "export", str(run_dir), "--best", str(tmp_path / "nope" / "best.py")),
                   f"{tmp_path / 'nope'}: no such folder to write best.py into")
    one_line_error(cli("runs", "export", str(run_dir), "--best", str(tmp_path)), f"{tmp_path}: is a folder")
    assert cli("runs", "export", str(run_dir), "--best", str(tmp_path / "best.py")).returncode == 0
    assert "def score" in (tmp_path / "best.py").read_text()


def test_report_onto_an_unwritable_path(run_dir, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    one_line_error(cli("report", str(run_dir), "--out", str(blocker)), f"--out {blocker}: a file is in the way")
    one_line_error(cli("report", str(run_dir), "--out", str(blocker / "inside")), str(blocker))


def test_evolve_with_a_bad_workload_fails_before_creating_the_run_folder(tmp_path):
    for workload, needle in (("nosuch", "unknown workload 'nosuch'"), (str(tmp_path / "none.yaml"), "file not found")):
        run = tmp_path / "run"
        one_line_error(cli("evolve", "--workload", workload, "--run-dir", str(run), "--unsafe-no-sandbox"), needle)
        assert not run.exists()
    one_line_error(cli("evolve", "--task", "pipelines", "--workload", "nosuch", "--run-dir", str(tmp_path / "p"),
                       "--unsafe-no-sandbox"), "pipelines: --workload 'nosuch' is neither a scenario")
    assert not (tmp_path / "p").exists()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_llm_run_without_key_or_server_fails_before_creating_the_run_folder(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "NO_SUCH_KEY_VAR"}
    run = tmp_path / "run"
    one_line_error(cli("evolve", "--workload", TINY, "--run-dir", str(run), "--model", "m", "--api-key-env",
                       "NO_SUCH_KEY_VAR", "--unsafe-no-sandbox", env=env),
                   "environment variable NO_SUCH_KEY_VAR is not set")
    assert not run.exists()
    url = f"http://127.0.0.1:{free_port()}/v1"
    one_line_error(cli("evolve", "--workload", TINY, "--run-dir", str(run), "--model", "m", "--base-url", url,
                       "--unsafe-no-sandbox"), f"{url}: no LLM server answers there")
    assert not run.exists()


def test_llm_preflight_accepts_a_live_server_and_reports_a_refused_key():
    sys.path.insert(0, str(Path(__file__).parent))
    import http.server
    import threading

    from chat_server import ChatServer

    from policyforge.errors import PolicyforgeError
    from policyforge.search.preflight import check_llm

    server = ChatServer().start()
    try:
        check_llm({"model": "m", "base_url": server.base_url})   # local: no key needed, the server answers
        assert server.requests == []                             # and no chat completion was spent on it
    finally:
        server.stop()

    class Refuse(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(401)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    httpd = http.server.HTTPServer(("127.0.0.1", 0), Refuse)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        os.environ["PF_TEST_KEY"] = "sk-wrong"
        with pytest.raises(PolicyforgeError, match="refused the key in PF_TEST_KEY"):
            check_llm({"model": "m", "base_url": f"http://127.0.0.1:{httpd.server_port}/v1",
                       "api_key_env": "PF_TEST_KEY"})
    finally:
        os.environ.pop("PF_TEST_KEY", None)
        httpd.shutdown()


def test_evaluate_resolves_baseline_names_and_files_as_simulate_does_and_says_which(tmp_path: Path):
    (tmp_path / "fgd").write_text("def score(pod, nodes, cluster):\n    return 1 / 0\n")  # shadows nothing
    result = cli("evaluate", "--workload", TINY, "--policy", "fgd", "--split", "screen", "--json",
                 "--unsafe-no-sandbox", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "evaluating baseline fgd (" in result.stderr
    own = tmp_path / "mine.py"
    own.write_text("def score(pod, nodes, cluster):\n    return -nodes.cpu_free\n")
    result = cli("evaluate", "--workload", TINY, "--policy", "mine.py", "--split", "screen", "--json",
                 "--unsafe-no-sandbox", cwd=tmp_path)
    assert result.returncode == 0 and "evaluating policy file mine.py" in result.stderr, result.stderr
    one_line_error(cli("evaluate", "--workload", TINY, "--policy", "nosuch", "--unsafe-no-sandbox"),
                   "unknown policy 'nosuch': give a k8s-gpu baseline name (random, firstfit")
    one_line_error(cli("evaluate", "--workload", TINY, "--policy", "nosuch.py", "--unsafe-no-sandbox"),
                   "nosuch.py: policy file not found")


def test_every_command_and_option_has_help_and_there_is_a_version():
    from policyforge import __version__

    parser = build_parser()
    assert parser.description and "policyforge" in parser.description.splitlines()[0]
    missing = []

    def walk(p: argparse.ArgumentParser, where: str) -> None:
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                helps = {a.dest: a.help for a in action._choices_actions}
                for name, sub in action.choices.items():
                    if not helps.get(name) or not sub.description:
                        missing.append(f"{where} {name}")
                    walk(sub, f"{where} {name}")
            elif not action.help and action.help != argparse.SUPPRESS:
                missing.append(f"{where} {'/'.join(action.option_strings) or action.dest}")

    walk(parser, "policyforge")
    assert missing == []
    result = process("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"policyforge {__version__}"
    listed = cli("evolve", "--help").stdout
    assert "k8s-gpu, pipelines" in listed


def test_replay_that_never_makes_a_pod_wait_is_flagged():
    quiet = cli("simulate", "--workload", TINY, "--mode", "replay", "--policy", "bestfit", "--seeds", "1",
                "--replay-capacity", "100", "--speedup", "0.01", "--json")
    assert quiet.returncode == 0, quiet.stderr
    assert "warning: no pod waited in this replay under any policy" in quiet.stderr
    contended = cli("simulate", "--workload", TINY, "--mode", "replay", "--policy", "bestfit,random", "--seeds", "1",
                    "--json")
    assert contended.returncode == 0 and "warning" not in contended.stderr
    assert "simulating: 2/2 runs" in contended.stderr          # progress, also when stderr is not a terminal


def test_replay_cluster_keeps_every_node_type_and_holds_the_peak():
    import numpy as np

    from policyforge.tasks.k8s_gpu.inputs import resolve
    from policyforge.tasks.k8s_gpu.simulate import peak_gpu_request, replay_cluster

    inputs = resolve(TINY)
    peak = peak_gpu_request(inputs.pods)
    small = replay_cluster(inputs.nodes, inputs.pods, 0.1)
    types = {(m, g, c, r) for m, g, c, r in zip(inputs.nodes.gpu_model, inputs.nodes.gpu_count,
                                                 inputs.nodes.cpu_milli, inputs.nodes.memory_mib, strict=True)}
    kept = {(m, g, c, r) for m, g, c, r in zip(small.gpu_model, small.gpu_count, small.cpu_milli, small.memory_mib,
                                               strict=True)}
    assert kept == types and small.total_gpus >= 0.1 * peak and len(small) < len(inputs.nodes)
    assert len(replay_cluster(inputs.nodes, inputs.pods, 1000.0)) == len(inputs.nodes)   # cannot exceed the list
    assert np.isfinite(peak) and peak > 0
