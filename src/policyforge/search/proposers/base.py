"""What a proposer is: it writes a new candidate from parent programs (`Proposer`), each shown with its code
and figures (`ParentInfo`), and answers with a `Proposal`. Plain data, so a new LLM provider or offline
proposer is one small module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class ParentInfo:
    """A program shown to a proposer: its code and what is known of it."""

    id: int
    code: str
    score: float | None
    scores: dict[str, float] = field(default_factory=dict)
    feedback: str = ""
    status: str = "ok"
    reason: str = ""


@dataclass(frozen=True)
class Proposal:
    """A proposer's answer. `code` is None when the reply could not be parsed or applied (`error` says why)."""

    code: str | None
    proposer: str
    parents: tuple[int, ...] = ()
    prompt: str = ""
    raw_reply: str = ""
    error: str = ""
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    seconds: float = 0.0


class Proposer(Protocol):
    """Writes a new candidate from parent programs. `context` carries the task's interface documentation
    (PolicySpec.render_markdown()), baseline figures and anything else a prompt needs."""

    name: str

    def propose(self, parents: list[ParentInfo], context: dict[str, Any], seed: int) -> Proposal: ...
