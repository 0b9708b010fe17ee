"""The README's and the guide's code stays true to the code: every `policyforge ...` command they show parses
with the real command line (its options exist and take those values; the guide's commands are also run end
to end by tests/test_external_task.py), and every Python excerpt the guide quotes is in the example."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from policyforge.cli import _simulate_task, build_parser

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", ROOT / "docs" / "write-your-own-task.md"]
EXAMPLE = ROOT / "examples" / "binpacking"


def commands(path: Path) -> list[str]:
    """Each `policyforge ...` command of the file's bash blocks: continuations joined, comments and optional
    `[...]` parts dropped, placeholders (`...`) skipped."""
    out = []
    for block in re.findall(r"```bash\n(.*?)```", path.read_text(), flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = re.sub(r"\s#\s.*$", "", line).strip()
            line = re.sub(r"\[[^\]]*\]", "", line)
            if line.startswith("policyforge ") and "..." not in line:
                out.append(" ".join(line.split()))
    return out


@pytest.mark.parametrize("command", [c for path in DOCS for c in commands(path)])
def test_every_command_the_docs_show_parses(command):
    argv = shlex.split(command)[1:]
    args = build_parser(_simulate_task(argv)).parse_args(argv)
    assert args.func is not None


def test_the_docs_show_commands():
    assert len(commands(DOCS[0])) >= 15 and len(commands(DOCS[1])) >= 5


def test_every_python_excerpt_of_the_guide_is_in_the_example():
    source = " ".join(" ".join(p.read_text().split()) for p in sorted(EXAMPLE.rglob("*.py")))
    blocks = re.findall(r"```python\n(.*?)```", DOCS[1].read_text(), flags=re.S)
    assert len(blocks) >= 5
    for block in blocks:
        for line in block.splitlines():
            text = " ".join(re.sub(r"(^|\s+)#\s.*$", "", line).split())
            if not text or "..." in text or text.startswith(("class ", "def ", "elif ", "else", ")", "from ")):
                continue
            assert text.rstrip(",") in source, line
