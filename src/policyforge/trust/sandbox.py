"""Evaluate untrusted, generated policy code without trusting it.

Three layers, each assuming the one before it failed:

1. `static_check.check_source` refuses code that imports or reaches for anything but computation; refused
   code never gets a process.
2. The evaluation runs in a child process (`python -m policyforge.trust.worker`) in its own session, with
   rlimits (CPU, address space, file size, no core, few files, no new processes) that the worker applies to
   itself before the candidate exists, a wall-clock deadline after which the whole process group is
   SIGKILLed, and where this host allows it a pids cgroup that bounds fork bombs even for root.
3. The child runs under bubblewrap: read-only root, fresh /dev and /proc, a small private tmpfs as cwd and
   HOME, sensitive directories masked, no network, its own pid namespace (it sees no other process and dies
   with its namespace), no capabilities, a cleared environment.

Without bubblewrap `run` refuses unless `allow_unsafe=True` (layers 1-2 only, with a warning). The parent
never holds more than `Limits.output_bytes` of the child's output plus one bounded result line.

What comes back is only the policy's decisions, and only from a clean exit (status 0, within the limits, one
result line): scores are computed from them by the trusted judge (judge.py), never by the child.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import logging
import os
import re
import secrets
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import policyforge
from policyforge.trust.instance_keys import key_path
from policyforge.trust.requests import STATUSES, EvalRequest, EvalResult, Limits
from policyforge.trust.static_check import check_source
from policyforge.wire import WireError, decode

logger = logging.getLogger(__name__)

INSTALL_HINT = "apt-get install -y bubblewrap"
READ_CHUNK = 1 << 16
RESULT_LINE_LIMIT = 64 << 20
"""Decisions of a long run (a million cache evictions) fit; more is refused, not buffered."""
SCRATCH_BYTES = 32 << 20
PIDS_LIMIT = 32
REASON_CHARS = 300
MASKED_DIRS = ("/root", "/home", "/run", "/mnt", "/media", "/srv", "/var/tmp")
"""Hidden behind empty read-only tmpfs (secrets, sockets such as /run/docker.sock); what Python and
policyforge need from under them is bound back read-only."""
MASKED_FILES = ("/etc/shadow", "/etc/gshadow")
PACKAGE_PARENT = Path(policyforge.__file__).resolve().parent.parent

_unsafe_warned = False


def sandbox_available() -> bool:
    """True when bubblewrap is installed and can create its namespaces on this host."""
    return _bwrap_problem() is None


def run(request: EvalRequest, *, allowed_imports: tuple[str, ...], allow_unsafe: bool = False, tag: str = "",
        required_functions: tuple[tuple[str, ...], ...] = (("score",),)) -> EvalResult:
    """Run `request` in the sandbox and return the policy's decisions (no scores); never raises for anything
    the candidate does.

    `allowed_imports` is the task's allow-list (PolicySpec.allowed_imports); `required_functions` lists, per
    interface the task accepts, the functions a policy must define (one interface must be complete). `tag`
    (letters, digits, `._-`) appears on the worker's command line, so an operator or a test can find an
    evaluation's processes.
    """
    start = time.monotonic()

    def result(status: str, reason: str, **fields: object) -> EvalResult:
        return EvalResult(status, _one_line(reason), seconds=time.monotonic() - start, **fields)

    _load_task_modules(request.task)
    reason = check_source(request.code, allowed_imports, required_functions)
    if reason is not None:
        return result("rejected", reason)
    problem = _bwrap_problem()
    if problem and not allow_unsafe:
        return result("rejected", f"{problem}; or pass allow_unsafe=True to run without it")
    if problem:
        _warn_unsafe(problem)
    nonce = secrets.token_hex(16)
    payload = json.dumps({
        "nonce": nonce, "task": request.task, "task_options": request.task_options, "code": request.code,
        "instances": [dataclasses.asdict(inst) for inst in request.instances],
        "limits": dataclasses.asdict(request.limits),
    }).encode()
    capture = _Capture(nonce.encode(), request.limits.output_bytes)
    tag = re.sub(r"[^A-Za-z0-9_.-]", "", tag)[:64] or "policyforge-eval"
    scratch = (tempfile.TemporaryDirectory(prefix="policyforge-eval-", ignore_cleanup_errors=True) if problem
               else contextlib.nullcontext(""))
    with scratch as folder:
        if problem:
            cmd, env, cwd = _worker_command(tag), _child_env(home=folder), folder
        else:  # bubblewrap provides the scratch folder (a private tmpfs) and the environment
            cmd, env, cwd = _bwrap_command(tag, request), {"PATH": _PATH}, None
        cgroup = _make_pids_cgroup()
        if cgroup is not None:  # join it before exec, without a preexec_fn (unsafe with threads)
            join = '{ echo $$ > "$0"; } 2>/dev/null; exec "$@"'
            cmd = ["/bin/sh", "-c", join, str(cgroup / "cgroup.procs"), *cmd]
        try:
            outcome = _execute(cmd, env, cwd, payload, capture, request.limits.wall_seconds)
        except OSError as exc:
            return result("crashed", f"could not start the sandbox: {exc}")
        finally:
            if cgroup is not None:
                _remove_cgroup(cgroup)
    capture.finish()
    status, reason, decisions = _classify(outcome, capture, request.limits, bwrap=not problem)
    return result(status, reason, decisions=decisions, output=capture.text())


def _load_task_modules(ref: str) -> None:
    """Load the task's class here (trusted code): its folder joins `sys.path`, so the static check can read
    an outside feature module's `__all__` (it refuses the names of a module it cannot find)."""
    from policyforge.tasks.registry import task_class

    # the selftest probes fail here, and so does a task that will fail in the child with its own message
    with contextlib.suppress(Exception):
        task_class(ref)


# --- the child's command line ----------------------------------------------------------------------

_PATH = "/usr/local/bin:/usr/bin:/bin"


def _worker_command(tag: str) -> list[str]:
    # -s: no user site; -P: cwd (the scratch dir holding candidate.py) is not importable; -B: no .pyc
    return [sys.executable, "-s", "-P", "-B", "-m", "policyforge.trust.worker", "--tag", tag]


def _engine_pythonpath() -> list[str]:
    """The absolute folders of this process's PYTHONPATH (read-only in the sandbox, like the rest of /)."""
    return [os.path.abspath(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]


def _child_env(home: str) -> dict[str, str]:
    """The child's whole environment (bubblewrap starts it from a cleared one)."""
    return {
        # policyforge, then what the engine's own PYTHONPATH adds (a task found there must load in the child too)
        "PATH": _PATH, "HOME": home, "PYTHONHASHSEED": "0",
        "PYTHONPATH": os.pathsep.join(dict.fromkeys([str(PACKAGE_PARENT), *_engine_pythonpath()])),
        "POLICYFORGE_SANDBOXED": "1",  # tasks may adapt (the cache loads compiled kernels from scratch space)
        "PYTHONIOENCODING": "utf-8", "PYTHONDONTWRITEBYTECODE": "1",
        "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
        # the task resolves its data folder from here, as the caller would (the child's cwd is scratch)
        "POLICYFORGE_DATA": os.path.abspath(os.environ.get("POLICYFORGE_DATA", "data")),
    }


def _bwrap_args(extra_paths: tuple[str, ...] = ()) -> list[str]:
    """Mount and namespace options: read-only root with masks, fresh /dev and /proc, private scratch."""
    args = ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    masked = [d for d in MASKED_DIRS if os.path.isdir(d) and not os.path.islink(d)]
    for d in masked:
        args += ["--tmpfs", d]
    args += ["--size", str(SCRATCH_BYTES), "--tmpfs", "/tmp"]
    hidden = (*MASKED_FILES, os.path.realpath(key_path()))  # the instance key too, as defence in depth
    args += [arg for f in hidden if os.path.isfile(f) for arg in ("--ro-bind", "/dev/null", f)]
    for path in _outermost({*_runtime_paths(), *_with_targets(extra_paths)}):
        if any(path == d or path.startswith(d + "/") for d in [*masked, "/tmp"]):
            args += ["--ro-bind", path, path]  # bind sources are the host's, not the masked view
    for d in [*masked, "/dev"]:
        args += ["--remount-ro", d]
    args += ["--chdir", "/tmp", "--unshare-all", "--unshare-user", "--disable-userns", "--cap-drop", "ALL",
             "--die-with-parent", "--new-session", "--hostname", "sandbox", "--clearenv"]
    return args


def _bwrap_command(tag: str, request: EvalRequest) -> list[str]:
    setenv = [arg for k, v in _child_env(home="/tmp").items() for arg in ("--setenv", k, v)]
    readable = (*_option_paths(request.task_options), *(p for p in request.data_paths if os.path.exists(p)))
    return [_bwrap()[0], *_bwrap_args(readable), *setenv, "--", *_worker_command(tag)]


@functools.lru_cache(maxsize=1)
def _runtime_paths() -> frozenset[str]:
    """What every worker reads: the interpreter, its prefixes and import path, policyforge, its data."""
    found = {sys.executable, sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
             str(PACKAGE_PARENT), *(p for p in sys.path if p)}
    data = _child_env("/tmp")["POLICYFORGE_DATA"]
    return frozenset(_with_targets(tuple(found)) | _with_targets((data,), depth=2))


def _option_paths(options: dict) -> tuple[str, ...]:
    """Absolute paths among the task's options (e.g. its data folder): the task will read them."""
    found = []
    for value in options.values():
        for v in value if isinstance(value, list | tuple) else [value]:
            if isinstance(v, str) and os.path.isabs(v) and os.path.exists(v):
                found.append(v)
    return tuple(found)


def _with_targets(paths: tuple[str, ...], depth: int = 0) -> set[str]:
    """Each path as written and resolved, plus (within `depth` levels) where its entries' symlinks point,
    since masking may hide either (fetched traces may be links into a shared folder)."""
    out: set[str] = set()
    for p in paths:
        out.update(q for q in (os.path.abspath(p), os.path.realpath(p)) if os.path.exists(q))
        if depth > 0 and os.path.isdir(p):
            try:
                entries = sorted(os.listdir(p))[:500]
            except OSError:
                continue
            for name in entries:
                entry = os.path.join(p, name)
                if os.path.islink(entry):
                    out.update(_with_targets((os.path.dirname(os.path.realpath(entry)),)))
                elif os.path.isdir(entry):
                    out.update(_with_targets((entry,), depth - 1))
    return out


def _outermost(paths: set[str]) -> list[str]:
    """The paths without those inside another one (a parent sorts right before its children)."""
    kept: list[str] = []
    for p in sorted(paths):
        if not kept or not p.startswith(kept[-1].rstrip("/") + "/"):
            kept.append(p)
    return kept


def _bwrap_problem() -> str | None:
    """None when bubblewrap works here, otherwise why not (installed? namespaces allowed?)."""
    return _bwrap()[1]


@functools.lru_cache(maxsize=1)
def _bwrap() -> tuple[str, str | None]:
    """bubblewrap's path and, when it cannot be used, why (probed once per process)."""
    path = shutil.which("bwrap", path=os.environ.get("PATH", _PATH) + os.pathsep + _PATH)
    if path is None:
        return "", f"bubblewrap (bwrap) is not installed; install it with `{INSTALL_HINT}`"
    try:
        probe = subprocess.run([path, *_bwrap_args(), "--", "/bin/true"], capture_output=True, timeout=30,
                               env={"PATH": _PATH})
    except (OSError, subprocess.TimeoutExpired) as exc:
        return path, f"bubblewrap cannot run here: {exc}"
    if probe.returncode != 0:
        lines = probe.stderr.decode(errors="replace").strip().splitlines() or [f"exit {probe.returncode}"]
        return path, f"bubblewrap cannot create its sandbox here: {lines[-1]}"
    return path, None


def _warn_unsafe(problem: str) -> None:
    global _unsafe_warned
    if not _unsafe_warned:
        _unsafe_warned = True
        message = (f"SANDBOX DISABLED: {problem}. Candidate code runs with resource limits and a static "
                   "check only, with full access to this user's files and network.")
        logger.warning(message)
        warnings.warn(message, RuntimeWarning, stacklevel=3)


# --- the pids cgroup (best effort) ----------------------------------------------------------------------


def _cgroup_bases() -> list[Path]:
    """Directories under which this process may create a pids-limited child cgroup (v1 or v2)."""
    try:
        mounts = Path("/proc/self/mounts").read_text().splitlines()
        own = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return []
    bases = []
    for line in mounts:
        fields = line.split()
        if len(fields) < 4:
            continue
        point, kind, options = fields[1], fields[2], fields[3].split(",")
        for entry in own:
            hier, controllers, path = entry.split(":", 2)
            if kind == "cgroup" and "pids" in options and "pids" in controllers.split(","):
                bases.append(Path(point + path))
            elif kind == "cgroup2" and hier == "0":
                base = Path(point + path)
                try:
                    if "pids" in (base / "cgroup.subtree_control").read_text().split():
                        bases.append(base)
                except OSError:
                    pass
    return bases


def _make_pids_cgroup() -> Path | None:
    for base in _cgroup_bases():
        path = base / f"policyforge-{secrets.token_hex(6)}"
        try:
            path.mkdir()
        except OSError:
            continue
        try:
            (path / "pids.max").write_text(str(PIDS_LIMIT))
            return path
        except OSError:
            path.rmdir()
    return None


def _remove_cgroup(path: Path) -> None:
    """Kill whatever is left in the cgroup (escapees of the process group), then remove it."""
    for _ in range(200):
        try:
            if (path / "cgroup.kill").exists():
                (path / "cgroup.kill").write_text("1")
            pids = [int(p) for p in (path / "cgroup.procs").read_text().split()]
            for pid in pids:
                _signal(os.kill, pid)
            if not pids:
                path.rmdir()
                return
        except OSError:
            pass
        time.sleep(0.01)
    logger.warning("could not remove cgroup %s", path)


# --- running the child --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Outcome:
    returncode: int
    timed_out: bool
    cpu_seconds: float


class _Capture:
    """Splits the child's stream into the nonce-prefixed result line and a bounded tail of everything else."""

    def __init__(self, nonce: bytes, cap: int) -> None:
        self.needle = b"\n" + nonce + b" "
        self.cap = cap
        self.tail = bytearray()
        self.dropped = 0
        self.pending = b""  # a possible start of the needle, not yet known to be output
        self.line: bytearray | None = None  # the result line while it arrives
        self.result: bytes | None = None
        self.lines = 0  # result lines seen: exactly one is accepted
        self.head = nonce + b" "  # a result line right after another one starts without a newline of its own
        self.line_start = False  # just after a result line's newline

    def _out(self, data: bytes) -> None:
        self.tail += data
        if len(self.tail) > self.cap:
            excess = len(self.tail) - self.cap
            self.dropped += excess
            del self.tail[:excess]

    def feed(self, chunk: bytes) -> None:
        data, self.pending = self.pending + chunk, b""
        while data:
            if self.line_start:
                if data.startswith(self.head):
                    self.line, data, self.line_start = bytearray(), data[len(self.head):], False
                    continue
                if self.head.startswith(data):  # too short to tell yet
                    self.pending = data
                    return
                self.line_start = False
            if self.line is not None:
                end = data.find(b"\n")
                self.line += data if end < 0 else data[:end]
                if len(self.line) > RESULT_LINE_LIMIT:
                    self.line = None
                    self._out(b"[oversized result line dropped]\n")
                if end < 0:
                    return
                self._close_line()
                data = data[end + 1:]
                self.line_start = True  # another result line may follow at once
                continue
            at = data.find(self.needle)
            if at < 0:
                keep = min(len(data), len(self.needle) - 1)
                self._out(data[:len(data) - keep])
                self.pending = data[len(data) - keep:]
                return
            self._out(data[:at])
            self.line = bytearray()
            data = data[at + len(self.needle):]

    def _close_line(self) -> None:
        if self.line is not None:
            self.lines += 1
            if self.result is None:
                self.result = bytes(self.line)
        self.line = None

    def finish(self) -> None:
        self._out(self.pending)
        self.pending = b""
        self._close_line()

    def text(self) -> str:
        body = self.tail.decode("utf-8", errors="replace")
        return f"[{self.dropped} earlier bytes dropped]\n{body}" if self.dropped else body


def _execute(cmd: list[str], env: dict[str, str], cwd: str | None, payload: bytes, capture: _Capture,
             wall_seconds: float) -> _Outcome:
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            cwd=cwd, env=env, start_new_session=True)
    deadline = time.monotonic() + wall_seconds
    timed_out = True
    try:
        timed_out = not (_pump(proc, payload, capture, deadline) and _wait_exit(proc.pid, deadline))
    finally:
        # The leader is not reaped yet, so its pid (= the group id) cannot have been reused.
        _signal(os.killpg, proc.pid)
        try:
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode, cpu = os.waitstatus_to_exitcode(status), usage.ru_utime + usage.ru_stime
        except ChildProcessError:  # reaped behind our back (someone called os.wait()): status unknown
            proc.returncode, cpu = -signal.SIGKILL, 0.0
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
    return _Outcome(proc.returncode, timed_out, cpu)


def _pump(proc: subprocess.Popen, payload: bytes, capture: _Capture, deadline: float) -> bool:
    """Write the request, drain the output until EOF; False if the deadline came first."""
    assert proc.stdin is not None and proc.stdout is not None
    out_fd, in_fd = proc.stdout.fileno(), proc.stdin.fileno()
    os.set_blocking(in_fd, False)
    pending = memoryview(payload)
    with selectors.DefaultSelector() as sel:
        sel.register(out_fd, selectors.EVENT_READ)
        sel.register(in_fd, selectors.EVENT_WRITE)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            for key, _ in sel.select(remaining):
                if key.fd == in_fd:
                    try:
                        pending = pending[os.write(in_fd, pending[:READ_CHUNK]):]
                    except BlockingIOError:
                        continue
                    except OSError:  # the child closed stdin or died; its exit status will tell
                        pending = pending[:0]
                    if not pending:
                        sel.unregister(in_fd)
                        proc.stdin.close()
                else:
                    data = os.read(out_fd, READ_CHUNK)
                    if not data:
                        return True
                    capture.feed(data)


def _wait_exit(pid: int, deadline: float) -> bool:
    """Wait for the child to exit without reaping it; False if the deadline came first."""
    pause = 0.001
    while time.monotonic() < deadline:
        if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
            return True
        time.sleep(pause)
        pause = min(pause * 2, 0.05)
    return False


def _signal(kill: Callable[[int, int], None], pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        kill(pid, signal.SIGKILL)


# --- what happened --------------------------------------------------------------------------------


def _classify(outcome: _Outcome, capture: _Capture, limits: Limits, bwrap: bool
              ) -> tuple[str, str, dict[str, object]]:
    """(status, reason, decisions). A result line counts only after a clean exit within the limits, and only
    when it is the one result line; anything else the child printed is never believed."""
    if outcome.timed_out:
        return "timeout", f"exceeded the wall-clock limit of {limits.wall_seconds:g} s", {}
    code = outcome.returncode
    sig = -code if code < 0 else (code - 128 if bwrap and code > 128 else 0)
    if sig == signal.SIGXCPU or (sig == signal.SIGKILL and outcome.cpu_seconds >= limits.cpu_seconds - 0.05):
        return "timeout", f"exceeded the CPU limit of {limits.cpu_seconds:g} s", {}
    if sig == signal.SIGKILL:
        return "crashed", f"killed by SIGKILL (likely out of memory; limit {limits.memory_mb} MB)", {}
    if sig:
        return "crashed", f"killed by {_signal_name(sig)}", {}
    last = next((ln for ln in reversed(capture.text().splitlines()) if ln.strip()), "no output")
    if code != 0:
        if "MemoryError" in last:
            return "crashed", f"out of memory (limit {limits.memory_mb} MB): {last}", {}
        return "crashed", f"exited with code {code}: {last}", {}
    if capture.result is None:
        return "crashed", f"exited without a result: {last}", {}
    if capture.lines != 1:
        return "invalid_output", f"{capture.lines} result lines instead of one", {}
    try:
        data = json.loads(capture.result)
        status = data["status"]
        if status not in STATUSES or status == "rejected":
            raise ValueError(status)
        if status != "ok":
            return status, str(data.get("reason", "")), {}
        decisions = decode(data["decisions"])
        if not isinstance(decisions, dict):
            raise ValueError("decisions")
        return "ok", "", decisions
    except WireError as exc:
        return "invalid_output", f"malformed decisions: {exc}", {}
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return "invalid_output", "malformed result line from the worker", {}


def _signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= REASON_CHARS else text[:REASON_CHARS - 3] + "..."
