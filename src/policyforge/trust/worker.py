"""The sandbox's child process: `python -m policyforge.trust.worker` (started by `sandbox.run`).

It reads one request as JSON on stdin, lowers its own resource limits before any candidate code exists,
writes the candidate into its scratch directory (the cwd), runs the task's UNTRUSTED half (`Task.run`) with it
on each instance and prints exactly one result line, prefixed by the request's nonce, on stdout: the
policy's decisions per instance, as data (policyforge/wire.py). It computes no score: everything in this process is
as untrusted as the candidate, so the parent judges the decisions with the task's trusted half
(`Task.score`, in trust/judge.py). Everything else on stdout/stderr is the candidate's captured output. Setting the limits here rather than in a `preexec_fn` keeps `sandbox.run` safe to call from
threads, and applies them identically with and without bubblewrap.

Task names starting with "selftest" are built in, so the sandbox can be tested without any real task: the
plain "selftest" runs a tiny fixed input; the others are OS-level probes that run trusted but hostile code
(no static check applies to them) to prove the containment itself. Their decisions are `{"score", "metrics"}`
per instance, which the judge's selftest scorer reads back (they test the sandbox, not a judge).
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from policyforge.contract import Instance
from policyforge.errors import PolicyCrashed, PolicyError
from policyforge.wire import encode

Outcome = tuple[dict[str, float], dict[str, dict[str, float]]]
"""A selftest's (scores, metrics), sent back as decisions."""

FILE_SIZE_LIMIT = 8 << 20
"""RLIMIT_FSIZE: the candidate file is the only thing the worker writes."""
OPEN_FILES_LIMIT = 64
REASON_CHARS = 300


def apply_limits(limits: dict[str, Any]) -> None:
    """Lower this process's limits (irreversibly: soft = hard, except CPU which gets SIGXCPU first)."""
    cpu = max(1, math.ceil(float(limits["cpu_seconds"])))
    memory = int(limits["memory_mb"]) << 20
    for kind, soft, hard in (
        (resource.RLIMIT_CPU, cpu, cpu + 1),
        (resource.RLIMIT_AS, memory, memory),
        (resource.RLIMIT_FSIZE, FILE_SIZE_LIMIT, FILE_SIZE_LIMIT),
        (resource.RLIMIT_CORE, 0, 0),
        (resource.RLIMIT_NOFILE, OPEN_FILES_LIMIT, OPEN_FILES_LIMIT),
        # Counted per user across the whole system, so any small value means "no new processes or threads"
        # for this single-threaded worker. Root is exempt: the pid namespace and the pids cgroup cover that.
        (resource.RLIMIT_NPROC, 0, 0),
    ):
        resource.setrlimit(kind, (soft, hard))


def load_module(path: Path) -> Any:
    """Import the candidate file as a fresh module named `candidate`."""
    spec = importlib.util.spec_from_file_location("candidate", path)
    if spec is None or spec.loader is None:
        raise PolicyError(f"{path}: cannot load")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _selftest(code_path: Path, instances: list[Instance], options: dict[str, Any]) -> Outcome:
    """score(pod=None, nodes=[1, 2, 3], cluster=None) must return 3 finite numbers; the score is their sum."""
    import numpy as np

    score = getattr(load_module(code_path), "score", None)
    if not callable(score):
        raise PolicyError("the candidate defines no score function")
    out = score(pod=None, nodes=[1, 2, 3], cluster=None)
    try:
        values = np.asarray(out, dtype=float)
    except (TypeError, ValueError):
        raise PolicyError(f"score returned {type(out).__name__}, not numbers") from None
    if values.shape != (3,):
        raise PolicyError(f"score returned shape {values.shape}, expected (3,)")
    if not np.all(np.isfinite(values)):
        raise PolicyError("score returned a non-finite value")
    ids = [inst.id for inst in instances] or ["i1"]
    return {i: float(values.sum()) for i in ids}, {i: {"n": 3.0} for i in ids}


def _attempt(fn: Callable[[], object]) -> float:
    """1.0 if fn() succeeds, 0.0 if it raises an OSError (the expected outcome of a blocked action)."""
    try:
        fn()
    except OSError:
        return 0.0
    return 1.0


def _probe_fs(code_path: Path, instances: list[Instance], options: dict[str, Any]) -> Outcome:
    """Write outside the scratch dir (must fail), inside it (works), past RLIMIT_FSIZE (must fail); read."""
    outside = Path(options["outside"])
    big = b"x" * (FILE_SIZE_LIMIT + 1)
    metrics = {
        "wrote_outside": _attempt(lambda: outside.write_text("escaped")),
        "wrote_scratch": _attempt(lambda: (code_path.parent / "probe.txt").write_text("ok")),
        "wrote_oversize": _attempt(lambda: (code_path.parent / "big.bin").write_bytes(big)),
        "read_system": _attempt(lambda: Path("/etc/os-release").read_bytes()),
        # a file the task's options name (say its data folder) must stay readable wherever it lives
        "read_option": _attempt(lambda: Path(options["readable"]).read_bytes()),
    }
    return {"i1": 0.0}, {"i1": metrics}


def _probe_net(code_path: Path, instances: list[Instance], options: dict[str, Any]) -> Outcome:
    """Connect to a host loopback port and to a public address: both must fail (no network)."""
    import socket

    def connect(host: str, port: int) -> None:
        socket.create_connection((host, port), timeout=1.0).close()

    metrics = {
        "loopback_connected": _attempt(lambda: connect("127.0.0.1", int(options["port"]))),
        "internet_connected": _attempt(lambda: connect("1.1.1.1", 53)),
    }
    return {"i1": 0.0}, {"i1": metrics}


def _probe_procs(code_path: Path, instances: list[Instance], options: dict[str, Any]) -> Outcome:
    """Count the processes visible in /proc and whether the caller's pid is among them."""
    pids = [p for p in os.listdir("/proc") if p.isdigit()]
    marker = options["caller_marker"].encode()  # a string only the caller's command line contains
    sees = float(any(marker in _cmdline(p) for p in pids))
    return {"i1": 0.0}, {"i1": {"visible_processes": float(len(pids)), "sees_caller": sees}}


def _cmdline(pid: str) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _probe_spawn(code_path: Path, instances: list[Instance], options: dict[str, Any]) -> Outcome:
    """Fork detached children (new sessions, tagged argv) that sleep, then spin: all must die at the limit."""
    for _ in range(int(options.get("children", 3))):
        try:
            pid = os.fork()
        except OSError:
            continue
        if pid == 0:
            os.setsid()
            os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(600)", options["tag"]])
    while True:
        time.sleep(0.05)


def _probe_fork(code_path: Path, instances: list[Instance], options: dict[str, Any]) -> Outcome:
    """Fork up to n sleeping children and count how many the limits allowed."""
    forked = 0
    for _ in range(int(options.get("n", 200))):
        try:
            pid = os.fork()
        except OSError:
            break
        if pid == 0:
            time.sleep(30)
            os._exit(0)
        forked += 1
    return {"i1": 0.0}, {"i1": {"forked": float(forked)}}


BUILTIN_TASKS: dict[str, Callable[[Path, list[Instance], dict[str, Any]], Outcome]] = {
    "selftest": _selftest,
    "selftest-fs": _probe_fs,
    "selftest-net": _probe_net,
    "selftest-procs": _probe_procs,
    "selftest-spawn": _probe_spawn,
    "selftest-fork": _probe_fork,
}


def evaluate(request: dict[str, Any]) -> dict[str, Any]:
    """Run the request's untrusted half; never raises, returns {"status", "decisions" | "reason"}."""
    try:
        code_path = Path.cwd() / "candidate.py"
        code_path.write_text(request["code"], encoding="utf-8")
        instances = [Instance(**inst) for inst in request["instances"]]
        name, options = request["task"], request["task_options"]
        if name in BUILTIN_TASKS:
            scores, metrics = BUILTIN_TASKS[name](code_path, instances, options)
            decisions = {i: {"score": v, "metrics": metrics.get(i, {})} for i, v in scores.items()}
        else:
            from policyforge.tasks.registry import get_task

            task = get_task(name, **options)
            policy = load_module(code_path)
            decisions = {inst.id: encode(task.run(policy, inst)) for inst in instances}
        return {"status": "ok", "decisions": decisions}
    except PolicyCrashed as exc:
        return {"status": "crashed", "reason": str(exc)[:REASON_CHARS]}
    except PolicyError as exc:
        return {"status": "invalid_output", "reason": str(exc)[:REASON_CHARS]}
    except MemoryError as exc:
        return {"status": "crashed", "reason": f"out of memory (MemoryError: {exc})"[:REASON_CHARS]}
    except BaseException as exc:  # noqa: B036 - SystemExit/KeyboardInterrupt raised by a candidate too
        return {"status": "crashed", "reason": f"{type(exc).__name__}: {exc}"[:REASON_CHARS]}


def main() -> int:
    request = json.loads(sys.stdin.buffer.read())
    apply_limits(request["limits"])
    result = evaluate(request)
    try:
        line = json.dumps(result, allow_nan=False).encode()
    except ValueError:  # NaN or infinity among the decisions
        line = json.dumps({"status": "invalid_output", "reason": "decisions contain NaN or infinite numbers"}).encode()
    sys.stdout.flush()
    sys.stderr.flush()
    out = b"\n" + request["nonce"].encode() + b" " + line + b"\n"
    while out:  # a full pipe may take several writes
        out = out[os.write(1, out):]
    return 0


if __name__ == "__main__":
    sys.exit(main())
