"""Task-agnostic declaration of a policy interface: what a policy is called with and may return.

A task declares its interface once, as data. The docs, the LLM prompt, the offline proposer's grammar and the
sandbox's allow-list are all generated from it, so they cannot drift apart; tests check the live views
against the declaration.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from policyforge.search.contracts import Instance


@dataclass(frozen=True)
class FieldSpec:
    """One attribute of a view: its name, shape (e.g. "K" per candidate, "K x G" per candidate GPU),
    numeric kind, unit and meaning."""

    name: str
    shape: str
    kind: str
    unit: str
    doc: str


@dataclass(frozen=True)
class ViewSpec:
    name: str
    doc: str
    fields: tuple[FieldSpec, ...]

    def field(self, name: str) -> FieldSpec:
        return next(f for f in self.fields if f.name == name)


@dataclass(frozen=True)
class FunctionSpec:
    """A function the policy module defines (or, for features, may call)."""

    name: str
    signature: str
    returns: str
    doc: str
    required: bool = True


@dataclass(frozen=True)
class PolicySpec:
    task: str
    summary: str
    functions: tuple[FunctionSpec, ...]
    views: tuple[ViewSpec, ...]
    features: tuple[FunctionSpec, ...]
    feature_module: str
    allowed_imports: tuple[str, ...]
    rules: tuple[str, ...] = field(default_factory=tuple)

    def view(self, name: str) -> ViewSpec:
        return next(v for v in self.views if v.name == name)

    def render_markdown(self) -> str:
        """Human- and LLM-readable documentation of the interface."""
        out = [f"# Policy interface: {self.task}", "", self.summary, "", "## Functions to define", ""]
        for fn in self.functions:
            out.append(f"- `{fn.signature}` -> {fn.returns}{'' if fn.required else ' (optional)'}: {fn.doc}")
        for view in self.views:
            out += ["", f"## `{view.name}`: {view.doc}", "", "| attribute | shape | kind | unit | meaning |",
                    "| --- | --- | --- | --- | --- |"]
            out += [f"| `{f.name}` | {f.shape} | {f.kind} | {f.unit} | {f.doc} |" for f in view.fields]
        out += ["", f"## Features (`from {self.feature_module} import ...`)", ""]
        out += [f"- `{fn.signature}` -> {fn.returns}: {fn.doc}" for fn in self.features]
        out += ["", "## Rules", ""] + [f"- {rule}" for rule in self.rules]
        out.append(f"- Imports allowed: {', '.join(self.allowed_imports)}.")
        return "\n".join(out) + "\n"


class Task(Protocol):
    """A search task: a policy interface, baselines, instances split three ways, and an evaluation.

    `evaluate` runs inside the sandbox's child process on a policy file; it returns the objective per instance
    (higher is better) and named metrics per instance, and raises PolicyError when the policy's output is
    invalid. Everything must be deterministic given the instances.

    A task may also set `gp_spec`, the interface the offline (GP) proposer evolves when it differs from
    `spec` (pipelines: a RANK function driving a fixed mechanism, Vulcan-style, rather than `schedule` whole).
    """

    name: str
    spec: PolicySpec

    def options(self) -> dict[str, Any]:
        """The keyword arguments that rebuild this task (passed to the sandbox child)."""
        ...

    def baselines(self) -> dict[str, Path]: ...

    def instances(self) -> list[Instance]: ...

    def screen_instances(self) -> list[Instance]:
        """The cheap first stage of the evaluation cascade (a subset of train)."""
        ...

    def evaluate(self, code_path: Path, instances: list[Instance]) -> tuple[dict[str, float], dict[str, dict[str, float]]]: ...

    def objective(self) -> str:
        """One sentence on what the score means, for prompts and reports."""
        ...

    def feedback(self, scores: dict[str, float], metrics: dict[str, dict[str, float]],
                 baseline_scores: dict[str, dict[str, float]]) -> str:
        """Structured, short feedback text for the proposer."""
        ...
