"""Prompt assembly for LLM proposers: the task's interface, baselines, parent programs with their feedback,
and the reply format ("full" module or "diff" SEARCH/REPLACE blocks).

Prompts are deterministic (same inputs, same text) so runs can be replayed and prompts compared, and compact
(feedback capped, per-instance rows limited to the most telling ones) because every token is paid for on
every proposal.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from policyforge.search.proposers.base import ParentInfo

MODES = ("full", "diff")
MAX_INSTANCE_ROWS = 8
MAX_FEEDBACK_CHARS = 1200
MAX_REASON_CHARS = 400

SYSTEM = (
    "You are an expert in scheduling and resource management for distributed systems. You improve "
    "policies written as small Python modules against a fixed interface; a deterministic simulator scores "
    "every candidate. Follow the interface and rules exactly and answer in the requested format only."
)

FULL_FORMAT = """Reply with the complete new module (imports included) in a single ```python block. Before the
block, say in at most three sentences what you changed and why. Write no other code blocks."""

DIFF_FORMAT = """Reply with one or more SEARCH/REPLACE blocks that edit program #{pid}, each in this exact form:

<<<<<<< SEARCH
(lines copied exactly from program #{pid}, indentation included)
=======
(the lines that replace them)
>>>>>>> REPLACE

Rules: each SEARCH section must match exactly one place in the current code (add surrounding lines if it
would match more); blocks apply in order; keep each block short; to add a function, SEARCH for an existing
line and repeat it in REPLACE with the new code. Before the blocks, say in at most three sentences what you
change and why. Write no other code."""


def effective_mode(mode: str, parents: list[ParentInfo]) -> str:
    """Diff mode needs a parent to edit; without one the proposer asks for a whole module."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    return "full" if mode == "diff" and not parents else mode


def edit_target(parents: list[ParentInfo]) -> ParentInfo | None:
    """The parent a diff edits: the best-scoring one (the later one on ties, the last when none is scored),
    whatever order the caller shows them in."""
    if not parents:
        return None
    ranked = [(p.score is not None, p.score if p.score is not None else 0.0, i) for i, p in enumerate(parents)]
    return parents[max(ranked)[2]]


def build_messages(parents: list[ParentInfo], context: Mapping[str, Any], mode: str) -> list[dict[str, str]]:
    """System and user chat messages for one proposal; parents appear in the order given."""
    mode = effective_mode(mode, parents)
    target = edit_target(parents) if mode == "diff" else None
    baselines = _baselines(context.get("baselines") or {})
    parts = [f"# Task: {context.get('task', 'policy search')}"]
    if context.get("objective"):
        parts.append(f"Objective: {str(context['objective']).strip()}")
    if context.get("interface"):
        parts.append(str(context["interface"]).strip())
    if baselines:
        parts.append(_baseline_table(baselines))
    for parent in parents:
        role = " (the program to edit)" if parent is target else ""
        parts.append(_parent_section(parent, baselines, role))
    parts.append("## Your task")
    broken = [target] if target is not None else parents
    fix = " Fix the error reported above." if any(p.status != "ok" for p in broken) else ""
    if not parents:
        parts.append("Write a new policy that beats the baselines on the objective.")
    elif target is None:
        parts.append("Write an improved policy that scores higher than the programs above; you may combine "
                     "their ideas or try a different approach." + fix)
    else:
        parts.append(f"Improve program #{target.id} so it scores higher." + fix
                     + (" The other programs are shown for ideas." if len(parents) > 1 else ""))
    parts.append(FULL_FORMAT if target is None else DIFF_FORMAT.format(pid=target.id))
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "\n\n".join(parts) + "\n"}]


def prompt_text(messages: list[dict[str, str]]) -> str:
    """The messages as one string, for recording in a Proposal."""
    return "\n\n".join(f"[{m['role']}]\n{m['content']}" for m in messages)


# --- sections ---------------------------------------------------------------------------------------------

def _num(x: float | None) -> str:
    if x is None:
        return "n/a"
    return f"{x:.5g}" if math.isfinite(x) else str(x)


def _baselines(raw: Mapping[str, Any]) -> dict[str, tuple[float | None, dict[str, float]]]:
    """name -> (overall score, per-instance scores). A value is a number, or a dict of instance -> score
    (its overall score is then the mean)."""
    out: dict[str, tuple[float | None, dict[str, float]]] = {}
    for name, value in raw.items():
        if isinstance(value, Mapping):
            per = {str(k): float(v) for k, v in value.items()}
            out[str(name)] = (sum(per.values()) / len(per) if per else None, per)
        else:
            out[str(name)] = (None if value is None else float(value), {})
    return out


def _baseline_table(baselines: dict[str, tuple[float | None, dict[str, float]]]) -> str:
    rows = sorted(baselines.items(), key=lambda kv: (kv[1][0] is None, -(kv[1][0] or 0.0), kv[0]))
    lines = ["## Baselines (higher is better)", "", "| policy | score |", "| --- | ---: |"]
    lines += [f"| {name} | {_num(score)} |" for name, (score, _) in rows]
    return "\n".join(lines)


def _best(baselines: dict[str, tuple[float | None, dict[str, float]]]) -> tuple[str, float] | None:
    scored = sorted((-score, name) for name, (score, _) in baselines.items() if score is not None)
    return (scored[0][1], -scored[0][0]) if scored else None


def _parent_section(parent: ParentInfo, baselines: dict[str, tuple[float | None, dict[str, float]]],
                    role: str) -> str:
    lines = [f"## Program #{parent.id}{role}", ""]
    head = f"Status: {parent.status}; score: {_num(parent.score)}"
    best = _best(baselines)
    if parent.score is not None and best is not None:
        head += f" (best baseline {best[0]}: {_num(best[1])}, difference {parent.score - best[1]:+.4g})"
    lines.append(head)
    if parent.reason:
        lines.append(f"Reason: {_clip(parent.reason, MAX_REASON_CHARS)}")
    if parent.scores:
        lines += _instance_rows(parent.scores, baselines)
    if parent.feedback.strip():
        lines += ["", "Feedback:", _clip(parent.feedback.strip(), MAX_FEEDBACK_CHARS)]
    lines += ["", "```python", parent.code.rstrip("\n"), "```"]
    return "\n".join(lines)


def _instance_rows(scores: dict[str, float],
                   baselines: dict[str, tuple[float | None, dict[str, float]]]) -> list[str]:
    """Per-instance scores against the best baseline on that instance, worst gaps first, capped."""
    best: dict[str, tuple[float, str]] = {}
    for name, (_, per) in sorted(baselines.items()):
        for inst, value in per.items():
            if inst not in best or value > best[inst][0]:
                best[inst] = (value, name)
    ids = sorted(scores)
    if any(i in best for i in ids):
        gap = {i: scores[i] - best[i][0] if i in best else math.inf for i in ids}
        ids.sort(key=lambda i: (gap[i], i))
        wins = sum(1 for i in ids if i in best and gap[i] > 0)
        lines = [f"Per instance (worst first; beats the best baseline on {wins} of {len(ids)}):", "",
                 "| instance | score | best baseline |", "| --- | ---: | --- |"]
        for i in ids[:MAX_INSTANCE_ROWS]:
            versus = f"{_num(best[i][0])} ({best[i][1]})" if i in best else "-"
            lines.append(f"| {i} | {_num(scores[i])} | {versus} |")
    else:
        ids.sort(key=lambda i: (scores[i], i))
        lines = ["Per instance (worst first):", "", "| instance | score |", "| --- | ---: |"]
        lines += [f"| {i} | {_num(scores[i])} |" for i in ids[:MAX_INSTANCE_ROWS]]
    if len(ids) > MAX_INSTANCE_ROWS:
        lines.append(f"({len(ids) - MAX_INSTANCE_ROWS} more instances not shown)")
    return lines


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 15].rstrip() + " ... (clipped)"
