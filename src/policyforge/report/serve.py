"""Serve a run's report on localhost and keep it current while the run is in progress.

The HTTP server runs in a background thread and only hands out files; regeneration happens in the calling
thread, when the run's database changed and at most every `interval` seconds, so a busy run is not read
in a tight loop. Files are replaced atomically and served with no-store, and the page polls a version file
to reload itself, so a reader sees the newest complete report. Ctrl-C (or SIGTERM) stops both cleanly.
"""

from __future__ import annotations

import functools
import signal
import threading
import time
from collections.abc import Callable
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from policyforge.errors import PolicyforgeError
from policyforge.report.run_report import write_run_report
from policyforge.toolkit import html as h

DEFAULT_PORT = 8765


class _Handler(SimpleHTTPRequestHandler):
    """Static files from the report folder, never cached (they are regenerated in place), no access log."""

    def do_GET(self) -> None:
        if self.path.split("?")[0] == "/favicon.ico":  # browsers ask; an empty answer, not a logged 404
            self.send_response(204)
            self.end_headers()
            return
        super().do_GET()

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def database_state(run_dir: Path) -> tuple[tuple[int, int], ...]:
    """Size and modification time of run.sqlite and its WAL: writes land in the WAL first."""
    state = []
    for name in ("run.sqlite", "run.sqlite-wal"):
        try:
            st = (run_dir / name).stat()
            state.append((st.st_size, st.st_mtime_ns))
        except FileNotFoundError:
            state.append((-1, -1))
    return tuple(state)


def _placeholder(out: Path, message: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    h.finish_page(out, h.page("policyforge report", message, [h.Section("waiting", "Waiting", h.note(message))],
                              live=True))


def serve(run_dir: Path, out_dir: Path | None = None, port: int = DEFAULT_PORT, interval: float = 10.0,
          echo: Callable[[str], None] = print) -> int:
    """Serve until interrupted; returns 0 after a clean stop."""
    run_dir = Path(run_dir)
    out = Path(out_dir) if out_dir is not None else run_dir / "report"
    if not run_dir.is_dir():
        raise PolicyforgeError(f"{run_dir}: no such run directory")
    if not (out / "index.html").exists():
        _placeholder(out, "generating the report…")
    try:
        server = ThreadingHTTPServer(("127.0.0.1", port), functools.partial(_Handler, directory=str(out)))
    except OSError as exc:
        raise PolicyforgeError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}") from None
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="report-http", daemon=True)
    main = threading.current_thread() is threading.main_thread()
    previous_term = signal.signal(signal.SIGTERM, _raise_interrupt) if main else None
    thread.start()
    echo(f"serving {run_dir} at http://127.0.0.1:{server.server_address[1]}/ (Ctrl-C to stop)")
    try:
        _watch(run_dir, out, interval, echo)
    except KeyboardInterrupt:
        echo("stopped")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        if main:
            signal.signal(signal.SIGTERM, previous_term)
    return 0


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _watch(run_dir: Path, out: Path, interval: float, echo: Callable[[str], None]) -> None:
    """Regenerate when the database changed, at most every `interval` seconds; never returns."""
    seen: tuple[tuple[int, int], ...] | None = None
    last = float("-inf")
    while True:
        state = database_state(run_dir)
        if state != seen and time.monotonic() - last >= interval:
            last = time.monotonic()
            if state[0][0] < 0:
                _placeholder(out, f"waiting for {run_dir / 'run.sqlite'} to appear")
            else:
                try:
                    write_run_report(run_dir, out)
                except Exception as exc:  # a half-written run or a bad candidate must not stop the server
                    echo(f"warning: report not regenerated: {type(exc).__name__}: {exc}")
            seen = state
        time.sleep(0.5)
