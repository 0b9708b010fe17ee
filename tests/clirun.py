"""`policyforge ARGS` run in the test's own process: the same `main(argv)` the entry point calls, with its
exit code, stdout and stderr captured, but without a Python start and policyforge's imports per call (2-5 s
each on a loaded 2-core machine). Tests of the process boundary itself (the entry point, signals, kill -9,
a server) start a real process instead; a few such tests are kept on purpose."""

from __future__ import annotations

import contextlib
import io
import os
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Result:
    """What subprocess.run(..., capture_output=True, text=True) would have returned."""

    returncode: int
    stdout: str
    stderr: str


@contextlib.contextmanager
def _environment(env: dict | None):
    if env is None:
        yield
        return
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def run_cli(*args: str, env: dict | None = None, cwd: Path | str | None = None) -> Result:
    """Run `policyforge *args` in this process, as `python -m policyforge.cli *args` would in a child.

    `env` replaces the environment for the call, `cwd` the working folder; both are restored afterwards.
    An exception the CLI does not turn into an exit code propagates (in a child it would be a traceback
    and exit 1), so a test expecting a clean one-line error fails loudly on it."""
    from policyforge.cli import main

    out, err = io.StringIO(), io.StringIO()
    before = Path.cwd()
    with _environment(env), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            if cwd is not None:
                os.chdir(cwd)
            try:
                code = main(list(args))
            except SystemExit as exc:  # argparse's errors and --help/--version exit this way
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
                if isinstance(exc.code, str):
                    print(exc.code, file=sys.stderr)
        finally:
            os.chdir(before)
    return Result(code, out.getvalue(), err.getvalue())
