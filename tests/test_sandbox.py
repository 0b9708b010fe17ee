"""The sandbox end to end: the hostile corpus, the limits, and probes that prove the OS-level containment.

Needs bubblewrap (`apt-get install -y bubblewrap`); without it those tests skip, or fail when
POLICYFORGE_REQUIRE_SANDBOX is set (as CI should). The refusal without bubblewrap and the rlimit-only unsafe
mode are tested everywhere.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from policyforge.tasks.k8s_gpu.interface import K8S_GPU_POLICY
from policyforge.trust import sandbox
from policyforge.trust.judge import judge
from policyforge.trust.requests import STATUSES, EvalRequest, EvalResult, Instance, Limits
from policyforge.trust.sandbox import sandbox_available

HOSTILE = Path(__file__).parent / "hostile"
CASES = sorted(HOSTILE.glob("*.py"))
LIMITS = Limits(wall_seconds=3.0, cpu_seconds=3.0, memory_mb=512, output_bytes=16_000)
OK_CODE = "import numpy as np\n\ndef score(pod, nodes, cluster):\n    return np.asarray(nodes) * 2.0\n"
LOOP_CODE = "def score(pod, nodes, cluster):\n    while True:\n        pass\n"
REPO = Path(sandbox.PACKAGE_PARENT).parent


@pytest.fixture
def bwrap() -> None:
    if not sandbox_available():
        message = f"bubblewrap unusable here ({sandbox._bwrap_problem()})"
        if os.environ.get("POLICYFORGE_REQUIRE_SANDBOX"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
def no_bwrap(monkeypatch: pytest.MonkeyPatch):
    """The sandbox as seen on a host without bubblewrap (the detection itself runs)."""
    sandbox._bwrap.cache_clear()
    monkeypatch.setattr(sandbox.shutil, "which", lambda *args, **kwargs: None)
    monkeypatch.setattr(sandbox, "_unsafe_warned", False)
    yield
    sandbox._bwrap.cache_clear()


def run(request: EvalRequest, **options: object) -> EvalResult:
    """The sandbox then the judge, as the engine runs them (the selftest probes report their own figures)."""
    options.setdefault("allowed_imports", K8S_GPU_POLICY.allowed_imports)
    return judge(request, sandbox.run(request, **options))


def request(code: str, task: str = "selftest", limits: Limits = LIMITS, **options: object) -> EvalRequest:
    return EvalRequest(task, code, (Instance("i1", "train"),), dict(options), limits)


def expected(path: Path) -> str:
    status = re.match(r"# expect: (\w+) \| \S", path.read_text().splitlines()[0])
    assert status, f"{path.name}: first line must be '# expect: STATUS | what it attempts'"
    return status.group(1)


def processes_with(token: str, grace: float = 2.0) -> list[int]:
    """Live processes whose command line contains `token`, after up to `grace` seconds for them to go."""
    deadline = time.monotonic() + grace
    while True:
        found = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                if token.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                    found.append(int(pid))
            except OSError:
                continue
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def peak_rss_kb() -> int:
    return int(re.search(r"VmHWM:\s+(\d+)", Path("/proc/self/status").read_text()).group(1))


def check_result(result: EvalResult, limits: Limits) -> None:
    assert result.status in STATUSES
    assert "\n" not in result.reason and len(result.reason) <= sandbox.REASON_CHARS
    assert (result.reason == "") == result.ok
    assert len(result.output) <= limits.output_bytes + 64


def test_corpus_is_complete() -> None:
    assert len(CASES) >= 22
    statuses = {expected(p) for p in CASES}
    assert statuses == set(STATUSES)


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_hostile_candidate(path: Path, bwrap: None) -> None:
    tag = f"pfhostile-{secrets.token_hex(4)}"
    huge = path.stem == "huge_output"
    if huge:
        Path("/proc/self/clear_refs").write_text("5")  # reset the peak RSS
        before = peak_rss_kb()
    result = run(request(path.read_text()), tag=tag)
    check_result(result, LIMITS)
    assert result.status == expected(path), result
    if result.status == "timeout":
        assert result.seconds < LIMITS.wall_seconds + 1.5
    if result.ok:
        assert result.scores and result.metrics
    if path.stem.startswith("memory_bomb"):
        assert "memory" in result.reason
    if huge:
        assert peak_rss_kb() - before < 30_000, "the parent buffered the child's output"
        assert result.output.startswith("[") and "earlier bytes dropped" in result.output.splitlines()[0]
        assert result.output.rstrip("\n").endswith("x" * 999)
    assert processes_with(tag) == []


def test_wall_limit_kills_the_whole_tree_on_time(bwrap: None) -> None:
    """Detached grandchildren (own sessions) die with the evaluation, right at the limit."""
    tag = f"pfspawn-{secrets.token_hex(4)}"
    limits = Limits(wall_seconds=2.0, cpu_seconds=30.0, memory_mb=512)
    result = run(request(OK_CODE, "selftest-spawn", limits, tag=tag), tag=tag)
    assert result.status == "timeout" and "wall-clock" in result.reason
    assert 2.0 <= result.seconds < 2.8
    assert processes_with(tag) == []


def test_cpu_limit(bwrap: None) -> None:
    result = run(request(LOOP_CODE, limits=Limits(wall_seconds=20.0, cpu_seconds=1.0, memory_mb=512)))
    assert result.status == "timeout" and "CPU limit" in result.reason
    assert result.seconds < 10.0  # generous: 1 s of CPU on a loaded machine


def test_probe_filesystem_is_read_only(bwrap: None, tmp_path: Path) -> None:
    outside = REPO / f"sandbox-probe-{secrets.token_hex(4)}.txt"
    data = tmp_path / "data" / "trace.csv"  # under /tmp, which the sandbox replaces by its own scratch
    data.parent.mkdir()
    data.write_text("a,b\n")
    try:
        result = run(request(OK_CODE, "selftest-fs", outside=str(outside), readable=str(data)))
        assert result.ok, result
        assert result.metrics["i1"] == {"wrote_outside": 0.0, "wrote_scratch": 1.0, "wrote_oversize": 0.0,
                                        "read_system": 1.0, "read_option": 1.0}
        assert not outside.exists()
    finally:
        outside.unlink(missing_ok=True)


def test_probe_no_network(bwrap: None) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        result = run(request(OK_CODE, "selftest-net", port=server.getsockname()[1]))
    assert result.ok, result
    assert result.metrics["i1"] == {"loopback_connected": 0.0, "internet_connected": 0.0}


def test_probe_sees_no_other_process(bwrap: None) -> None:
    marker = f"pfmarker-{secrets.token_hex(4)}"
    neighbour = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", marker])
    try:
        result = run(request(OK_CODE, "selftest-procs", caller_marker=marker))
    finally:
        neighbour.kill()
        neighbour.wait()
    assert result.ok, result
    assert result.metrics["i1"]["sees_caller"] == 0.0
    assert result.metrics["i1"]["visible_processes"] <= 3  # bwrap's init, the worker (and maybe /proc/self)


def test_probe_fork_bomb_is_bounded(bwrap: None) -> None:
    tag = f"pffork-{secrets.token_hex(4)}"
    result = run(request(OK_CODE, "selftest-fork", n=200), tag=tag)
    assert result.ok, result
    if sandbox._cgroup_bases() or os.geteuid() != 0:  # a pids cgroup, or RLIMIT_NPROC for non-root
        assert result.metrics["i1"]["forked"] < sandbox.PIDS_LIMIT
    assert processes_with(tag) == []  # the children slept on; they died with the namespace


def test_concurrent_evaluations_from_threads(bwrap: None) -> None:
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(run, [request(OK_CODE), request(OK_CODE.replace("2.0", "3.0"))]))
    assert [r.scores for r in results] == [{"i1": 12.0}, {"i1": 18.0}]


def test_refuses_without_bubblewrap(no_bwrap: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox.subprocess, "Popen", _no_process)
    assert not sandbox_available()
    result = run(request(OK_CODE))
    assert result.status == "rejected"
    assert "bubblewrap" in result.reason and "apt-get install -y bubblewrap" in result.reason
    assert "allow_unsafe=True" in result.reason


def test_rejected_code_never_spawns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox.subprocess, "Popen", _no_process)
    result = run(request((HOSTILE / "fork_bomb_os.py").read_text()), allow_unsafe=True)
    assert result.status == "rejected" and "'os'" in result.reason


def test_unsafe_mode_keeps_the_limits(no_bwrap: None) -> None:
    with pytest.warns(RuntimeWarning, match="SANDBOX DISABLED"):
        ok = run(request(OK_CODE), allow_unsafe=True)
    assert ok.ok and ok.scores == {"i1": 12.0}
    limits = Limits(wall_seconds=2.0, cpu_seconds=30.0, memory_mb=512)
    tag = f"pfunsafe-{secrets.token_hex(4)}"
    loop = run(request(LOOP_CODE, limits=limits), allow_unsafe=True, tag=tag)
    assert loop.status == "timeout" and 2.0 <= loop.seconds < 2.8
    assert processes_with(tag) == []
    bomb = run(request((HOSTILE / "memory_bomb_numpy.py").read_text()), allow_unsafe=True)
    assert bomb.status == "crashed" and "memory" in bomb.reason


def test_worker_protocol(tmp_path: Path) -> None:
    """The worker alone: one nonce-prefixed JSON line after whatever the candidate printed."""
    code = OK_CODE.replace("    return", "    print('chatter')\n    return")
    payload = {"nonce": "n0nce", "task": "selftest", "task_options": {}, "code": code,
               "instances": [{"id": "a", "split": "train", "params": {}}],
               "limits": {"cpu_seconds": 10, "memory_mb": 512}}
    proc = subprocess.run([sys.executable, "-m", "policyforge.trust.worker"], input=json.dumps(payload).encode(),
                          capture_output=True, timeout=60, cwd=tmp_path,  # the worker writes candidate.py here
                          env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    lines = proc.stdout.decode().splitlines()
    assert lines[0] == "chatter" and lines[-1].startswith("n0nce ")
    assert json.loads(lines[-1][len("n0nce "):]) == {"status": "ok",
                                                      "decisions": {"a": {"score": 12.0, "metrics": {"n": 3.0}}}}


@pytest.mark.parametrize("chunk", [1, 3, 7, 4096])
def test_capture_splits_result_from_bounded_output(chunk: int) -> None:
    nonce = b"abc123"
    stream = b"noise " * 500 + b"\nabc12 fake\n" + b"\nabc123 {\"status\": \"ok\"}\n" + b"tail\n"
    capture = sandbox._Capture(nonce, cap=100)
    for i in range(0, len(stream), chunk):
        capture.feed(stream[i:i + chunk])
    capture.finish()
    assert capture.result == b'{"status": "ok"}'
    assert len(capture.tail) <= 100 and capture.tail.endswith(b"\nabc12 fake\ntail\n")
    assert capture.dropped == len(stream) - len(b'\nabc123 {"status": "ok"}\n') - len(capture.tail)


def _no_process(*args: object, **kwargs: object) -> None:
    raise AssertionError("the sandbox must not start a process here")
