"""Turning an LLM reply into candidate code: fenced-code extraction and SEARCH/REPLACE edits.

Models drift from the requested format (no language tag, a trailing blank line, re-indented snippets), so
matching tolerates whitespace; but an edit that matches nowhere or in several places is refused with a
one-line reason rather than guessed, because a wrong edit wastes an evaluation and misleads the search.
Nothing here raises on bad input: every function returns (result | None, error).
"""

from __future__ import annotations

import re

from policyforge.trust.static_check import parse as parse_source

_FENCE = re.compile(r"^[ \t]*```[ \t]*([\w+.-]*)[ \t]*$")
_SEARCH = re.compile(r"^[ \t]*<{5,9}[ \t]*SEARCH[ \t]*$")
_DIVIDER = re.compile(r"^[ \t]*={5,9}[ \t]*$")
_REPLACE = re.compile(r"^[ \t]*>{5,9}[ \t]*REPLACE[ \t]*$")
_CODE_TAGS = ("", "python", "py", "python3")

Block = tuple[list[str], list[str]]


def extract_code(reply: str) -> str | None:
    """The reply's policy code: the last fenced block tagged python (or untagged) that is at least half as
    long as the longest such block, so a closing usage snippet or an early draft does not win. An
    unterminated final fence (reply cut at max_tokens) counts. A reply with no fence that parses as Python
    and defines a function is taken whole. None when there is no code."""
    lines = _lines(reply)
    blocks: list[str] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        end = next((j for j in range(i + 1, len(lines)) if _FENCE.match(lines[j])), len(lines))
        if m.group(1).lower() in _CODE_TAGS:
            body = "\n".join(lines[i + 1:end]).strip("\n")
            if body.strip():
                blocks.append(body + "\n")
        i = end + 1
    if blocks:
        longest = max(len(b) for b in blocks)
        return [b for b in blocks if 2 * len(b) >= longest][-1]
    text = reply.strip("\n")
    if "```" not in text and re.search(r"^(async )?def \w+", text, re.M) and _parses(text):
        return text + "\n"
    return None


def parse_blocks(reply: str) -> tuple[list[Block], str]:
    """SEARCH/REPLACE blocks as (search lines, replace lines), or an error naming the broken block."""
    blocks: list[Block] = []
    lines = _lines(reply)
    i = 0
    while i < len(lines):
        if not _SEARCH.match(lines[i]):
            i += 1
            continue
        n = len(blocks) + 1
        div = _next_marker(lines, i + 1, _DIVIDER)
        if div is None or not _DIVIDER.match(lines[div]):
            return [], f"edit block {n} is incomplete: no ======= after its SEARCH section"
        end = _next_marker(lines, div + 1, _REPLACE)
        if end is None or not _REPLACE.match(lines[end]):
            return [], f"edit block {n} is incomplete: no >>>>>>> REPLACE after its replacement"
        blocks.append((lines[i + 1:div], lines[div + 1:end]))
        i = end + 1
    return blocks, ""


def apply_blocks(code: str, blocks: list[Block]) -> tuple[str | None, str]:
    """Apply blocks in order, each to the result of the previous ones. Each SEARCH is matched exactly, then
    ignoring trailing spaces and blank edge lines, then also ignoring a consistent indentation shift (the
    replacement is re-indented by the same shift). Zero or several matches is an error."""
    lines = _lines(code)
    for n, (search, replace) in enumerate(blocks, 1):
        if not any(s.strip() for s in search):
            return None, f"edit block {n} has an empty SEARCH section"
        lines, error = _apply_one(lines, search, replace)
        if error:
            return None, f"edit block {n} {error} (SEARCH starts {_first(search)!r})"
    out = "\n".join(lines)
    return (out + "\n" if code.endswith("\n") or not code else out), ""


def _next_marker(lines: list[str], start: int, marker: re.Pattern[str]) -> int | None:
    """Index of the next `marker` line, or of a new SEARCH line (which means this block is unfinished)."""
    hits = (j for j in range(start, len(lines)) if marker.match(lines[j]) or _SEARCH.match(lines[j]))
    return next(hits, None)


def code_from_reply(reply: str, parent_code: str | None) -> tuple[str | None, str]:
    """New code from a reply: edits applied to `parent_code` in diff mode (None = full mode). A diff-mode
    reply with no edit blocks but a whole module defining a function is accepted as a full rewrite."""
    if not reply.strip():
        return None, "empty reply"
    if parent_code is None:
        code = extract_code(reply)
        return (code, "") if code else (None, "no Python code block in the reply")
    blocks, error = parse_blocks(reply)
    if error:
        return None, error
    if not blocks:
        code = extract_code(reply)
        if code and re.search(r"^def \w+", code, re.M):
            return code, ""
        return None, "no SEARCH/REPLACE blocks in the reply"
    new, error = apply_blocks(parent_code, blocks)
    if new is not None and _lines(new) == _lines(parent_code):
        return None, "the edits leave the program unchanged"
    return new, error


# --- matching ---------------------------------------------------------------------------------------------

def _apply_one(lines: list[str], search: list[str], replace: list[str]) -> tuple[list[str], str]:
    hits = _find(lines, search, lambda s: s)
    if len(hits) == 1:
        i = hits[0]
        return lines[:i] + replace + lines[i + len(search):], ""
    if len(hits) > 1:
        return lines, f"matches {len(hits)} places; include more surrounding lines"
    search, replace = _trim_blank_edges(search, replace)
    for level in ("rstrip", "indent"):
        hits = _find(lines, search, str.rstrip) if level == "rstrip" else _find_shifted(lines, search)
        if len(hits) > 1:
            return lines, f"matches {len(hits)} places (ignoring whitespace); include more surrounding lines"
        if hits:
            i = hits[0]
            if level == "indent":
                replace = _reindent(replace, _indent_of(search), _indent_of(lines[i:i + len(search)]))
            return lines[:i] + replace + lines[i + len(search):], ""
    return lines, "matches nothing in the program, even ignoring whitespace"


def _find(lines: list[str], search: list[str], norm) -> list[int]:
    want = [norm(s) for s in search]
    have = [norm(s) for s in lines]
    n = len(want)
    return [i for i in range(len(have) - n + 1) if have[i:i + n] == want]


def _find_shifted(lines: list[str], search: list[str]) -> list[int]:
    """Windows equal to `search` once each side's common indentation is removed (tabs as 4 spaces)."""
    want = _dedent(search)
    n = len(want)
    return [i for i in range(len(lines) - n + 1) if _dedent(lines[i:i + n]) == want]


def _dedent(block: list[str]) -> list[str]:
    rows = [s.expandtabs(4).rstrip() for s in block]
    cut = min((len(s) - len(s.lstrip()) for s in rows if s), default=0)
    return [s[cut:] for s in rows]


def _width(line: str) -> int:
    body = line.expandtabs(4)
    return len(body) - len(body.lstrip())


def _indent_of(block: list[str]) -> str:
    """The leading whitespace of the block's least-indented non-blank line."""
    rows = [s for s in block if s.strip()]
    least = min(rows, key=_width) if rows else ""
    return least[: len(least) - len(least.lstrip())]


def _reindent(block: list[str], old: str, new: str) -> list[str]:
    """Shift `block` so text indented like `old` is indented like `new`; relative indentation is kept (in
    spaces, tabs counting 4, as in the matching)."""
    base, out = _width(old), []
    for s in block:
        if not s.strip():
            out.append("")
        elif _width(s) >= base:
            out.append(new + " " * (_width(s) - base) + s.lstrip())
        else:  # less indented than the SEARCH text
            out.append(" " * max(0, _width(new) + _width(s) - base) + s.lstrip())
    return out


def _trim_blank_edges(search: list[str], replace: list[str]) -> tuple[list[str], list[str]]:
    """Drop blank lines at the edges of SEARCH, and up to as many at the same edges of REPLACE."""
    lead = next((k for k, s in enumerate(search) if s.strip()), len(search))
    trail = next((k for k, s in enumerate(reversed(search)) if s.strip()), 0)
    r_lead = next((k for k, s in enumerate(replace) if s.strip()), len(replace))
    r_trail = next((k for k, s in enumerate(reversed(replace)) if s.strip()), 0)
    r_lead, r_trail = min(lead, r_lead), min(trail, r_trail, len(replace) - min(lead, r_lead))
    return search[lead:len(search) - trail], replace[r_lead:len(replace) - r_trail]


def _lines(text: str) -> list[str]:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text[:-1].split("\n") if text.endswith("\n") else (text.split("\n") if text else [])


def _first(block: list[str]) -> str:
    line = next((s.strip() for s in block if s.strip()), "")
    return line if len(line) <= 60 else line[:57] + "..."


def _parses(text: str) -> bool:
    try:
        parse_source(text)
    except (SyntaxError, ValueError):
        return False
    return True
