"""Task-agnostic declaration of a policy interface: what a policy is called with and may return.

A task declares its interface once, as data. The docs, the LLM prompt, the offline proposer's grammar and the
sandbox's allow-list are all generated from it, so they cannot drift apart; tests check the live views
against the declaration.
"""

from __future__ import annotations

from dataclasses import dataclass, field


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
