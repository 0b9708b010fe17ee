"""The public task contract: everything a task (ours, or anyone's own simulator) gives the engine.

A task is a class. It declares the policy interface once (`spec`, a `PolicySpec`), names its baselines
(policy files in that interface), lists its instances split into train, validation and test, and evaluates a
policy in two halves that never share an interpreter:

- `run(policy, instance)` is the UNTRUSTED half. It runs in the sandbox's child process beside the candidate's
  code and returns the policy's *decisions* (numbers: placements, assignments, evictions ...), nothing else.
- `score(instance, decisions)` is the TRUSTED half. It runs in a process that never imported candidate code,
  replays the decisions against a fresh simulator of its own, raises `PolicyError` on the first decision the
  true world rejects, and computes the objective (higher is better) and named metrics.

So a candidate that corrupts everything within its reach (module constants, the simulator it runs beside, its
own output) can at worst hand back decisions, and decisions are judged by code it never touched. Two kinds
of policy are not candidates' code and run both halves in the engine's worker processes, no sandbox: the
task's own baseline files (after the static check) and, for a task whose `search_hints()` set
`trusted_tree_runs`, the GP proposer's trees, which are data the engine built from the spec and evaluates
with its own interpreter.

Everything else is optional and has a default here: a few members of the evaluation contract, and three
groups a task may offer, each one method returning a documented dataclass: `search_hints()` (SearchHints:
proxies or a screen, the GP proposer's interface and table, trusted tree runs, feedback), `reporting()`
(Reporting: curves and report sections) and `command_line()` (CommandLine: its own `simulate`, further
subcommands). The engine, the reports and the command line call nothing that is not declared in this
module. Write your own task by subclassing `Task` (see `examples/binpacking/task.py` and
docs/write-your-own-task.md) and pass `--task path/to/file.py:ClassName`, `--task package.module:ClassName`,
or register it under the entry-point group `policyforge.tasks`. A task
file's folder is importable wherever the file is loaded (tasks/registry.py), so a feature module beside it is
imported by its plain name.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar, Protocol

import numpy as np

from policyforge.errors import PolicyCrashed, PolicyError, PolicyforgeError

__all__ = [
    "SPLITS", "Instance", "FieldSpec", "ViewSpec", "FunctionSpec", "PolicySpec", "GPTable", "Evaluation",
    "Decisions", "Command", "CommandLine", "PolicyRunner", "Simulate", "SearchHints", "Reporting", "Feedback",
    "Task", "PolicyError", "PolicyCrashed", "PolicyforgeError", "policy_function",
    "check_held_out", "instance_rng", "keyed", "unseeded", "default_feedback", "screen_instances",
]

SPLITS = ("train", "validation", "test")
"""Search sees train; selection uses validation; reports quote test."""


@dataclass(frozen=True)
class Instance:
    """One evaluation case of a task. `params` is JSON-able; `group` names the table row the instance
    belongs to in verdicts and reports (a workload, trace or scenario), its seeds being the repeats.

    `key` is set by the engine (`keyed`), never by a task: a secret per instance from which `instance_rng`
    draws everything random about it. Tasks pass the instance to nothing a policy can see."""

    id: str
    split: str
    params: dict[str, Any] = field(default_factory=dict)
    group: str = ""
    key: str = field(default="", repr=False)


# --- randomness a policy cannot recover ------------------------------------------------------------

PUBLIC_KEY = "policyforge-public"
"""What `instance_rng` keys an instance with when the engine gave it no secret (`tasks check`, tests):
deterministic and public, so fine for anything but a search."""


def keyed(instances: list[Instance], secret: str) -> list[Instance]:
    """`instances` with their secret keys: HMAC(secret, id and params), so every instance of every task has
    its own key and one key says nothing about another (or about the secret)."""
    return [Instance(i.id, i.split, i.params, i.group, _hmac(secret, json.dumps([i.id, i.params], sort_keys=True,
                                                                                 default=str)))
            for i in instances]


def instance_rng(instance: Instance, stream: str) -> np.random.Generator:
    """THE way a task draws anything random about an instance (arrival order, sizes, noise, the policy's
    own generator): a generator keyed by the engine's secret, the instance and the stream's name.

    Without it a policy can identify the instance: a published seed and a public generator let it recompute
    the whole future from the few draws it has seen (then it plans with foresight, making only legal
    decisions the judge cannot fault). Keyed by a secret it never sees, the history says nothing about what
    comes next. Use one stream name per purpose ("items", "noise", "policy") so streams stay independent;
    the generator has no path back to the key (its seed sequence is a dummy)."""
    key = instance.key or _hmac(PUBLIC_KEY, json.dumps([instance.id, instance.params], sort_keys=True, default=str))
    entropy = int(_hmac(key, stream), 16)
    return unseeded(np.random.Generator(np.random.PCG64(entropy)))


def unseeded(rng: np.random.Generator) -> np.random.Generator:
    """A generator with the same future draws as `rng` and no path back to its seed: a numpy generator keeps
    its seed in `bit_generator.seed_seq.entropy`; this one's seed sequence is a constant dummy. Give a
    policy only generators made this way (public seeds keep their streams, so published figures stand)."""
    bits = type(rng.bit_generator)(0)
    bits.state = rng.bit_generator.state
    return np.random.Generator(bits)


def _hmac(key: str, message: str) -> str:
    return hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest()


# --- the policy interface, declared once ----------------------------------------------------------


@dataclass(frozen=True)
class FieldSpec:
    """One attribute of a view: its name, shape ("K" per candidate, "scalar", "K x G" ...), numeric kind,
    unit and meaning."""

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
    """A policy interface: the functions a policy defines, the read-only views they get, the feature
    functions they may import, and the allow-list of imports. The LLM prompt, the offline proposer's
    grammar, the sandbox's static check and the docs are all generated from it."""

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

    @property
    def required_functions(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.functions if f.required)

    def render_markdown(self) -> str:
        """Human- and LLM-readable documentation of the interface."""
        out = [f"# Policy interface: {self.task}", "", self.summary, "", "## Functions to define", ""]
        for fn in self.functions:
            out.append(f"- `{fn.signature}` -> {fn.returns}{'' if fn.required else ' (optional)'}: {fn.doc}")
        for view in self.views:
            out += ["", f"## `{view.name}`: {view.doc}", "", "| attribute | shape | kind | unit | meaning |",
                    "| --- | --- | --- | --- | --- |"]
            out += [f"| `{f.name}` | {f.shape} | {f.kind} | {f.unit} | {f.doc} |" for f in view.fields]
        if self.features:
            out += ["", f"## Features (`from {self.feature_module} import ...`)", ""]
            out += [f"- `{fn.signature}` -> {fn.returns}: {fn.doc}" for fn in self.features]
        out += ["", "## Rules", ""] + [f"- {rule}" for rule in self.rules]
        out.append(f"- Imports allowed: {', '.join(self.allowed_imports)}.")
        return "\n".join(out) + "\n"


@dataclass(frozen=True)
class GPTable:
    """What a PolicySpec cannot say to the offline (GP) proposer: which view is per candidate (`vector_view`,
    fields of shape "K") and which is scalar, fields that are identifiers or codes rather than quantities,
    constants worth drawing, feature argument overrides, seed trees (s-expressions; baselines written in the
    grammar), the functions evolved together, and the `imports`/`epilogue` lines around them."""

    vector_view: str = "nodes"
    scalar_view: str = "pod"
    exclude: tuple[str, ...] = ()
    constants: tuple[float, ...] = (0.5, 1.0, 2.0, 10.0, 100.0)
    feature_args: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    seeds: Mapping[str, str] = field(default_factory=dict)
    imports: tuple[str, ...] = ()
    epilogue: tuple[str, ...] = ()
    functions: tuple[str, ...] = ()
    """The spec's functions evolved together, each a tree over the same terminals returning one float per
    candidate (default: the first required one alone). With several, seeds are `(program t1 t2 ...)`."""


# --- evaluation ---------------------------------------------------------------------------------------

Decisions = dict[str, Any]
"""What `run` returns: a dict of numpy arrays of numbers (bool, int, float) and JSON scalars/lists. It crosses
from the sandbox to the trusted side as data (no pickle), so nothing else survives the trip."""


@dataclass(frozen=True)
class Evaluation:
    """The trusted figures of one instance: the objective (higher is better, finite) and named metrics."""

    score: float
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Command:
    """A task-specific subcommand (`policyforge NAME ...`), e.g. a bound only one task can compute."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


class PolicyRunner(Protocol):
    """The engine's one way to run a policy FILE under trust, handed to a task's own `simulate`: a user's
    file is as untrusted as a candidate, so it runs in the sandbox and only its decisions come back, for the
    task's trusted half to replay. A task never imports the sandbox; it asks this."""

    def decisions(self, task: Task, policy: Path, instances: Sequence[Instance]) -> dict[str, Decisions]:
        """The decisions of the policy in `policy` on `instances` of `task` (an instance of the class the
        command was given; any options); PolicyError, one line naming the file, when it is refused or fails."""
        ...


@dataclass(frozen=True)
class Simulate:
    """A task's own `policyforge simulate`, replacing the engine's generic one (every policy's objective per
    instance): `add_arguments` adds the task's options beside everyone's (--task, --policy, --seeds, --jobs,
    --json, --unsafe-local-policy); `run(args, runner)` returns the exit code and runs policy files through
    `runner`."""

    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, PolicyRunner], int]


@dataclass(frozen=True)
class CommandLine:
    """Optional group, extra commands: what a task adds to `policyforge` (default: nothing; the generic
    `simulate`, `evaluate`, `tasks check`, `evolve` and `report` work for every task without it)."""

    simulate: Simulate | None = None
    """The task's own simulate (its options, tables, plots), or None for the generic one."""
    commands: tuple[Command, ...] = ()
    """Further subcommands (`policyforge bound` ...)."""


def policy_function(policy: ModuleType, name: str, required: bool = True) -> Callable | None:
    """The policy module's function `name`; PolicyError when a required one is missing or not callable."""
    fn = policy.__dict__.get(name)
    if fn is None and not required:
        return None
    if not callable(fn):
        raise PolicyError(f"the policy must define a function {name}(...)")
    return fn


Feedback = Callable[[dict[str, float], dict[str, dict[str, float]], dict[str, dict[str, float]]], str]
"""`feedback(scores, metrics, baseline_scores)`: short structured text for the proposer about one candidate
(instance id -> its score, instance id -> its metrics, baseline -> instance id -> score)."""


@dataclass(frozen=True)
class SearchHints:
    """Optional group, search hints: what makes a search cheaper or better informed. None of it is needed
    for a correct run, and none of it changes a figure the verdict reports (validation and test are always
    the full instances, scored by `score`)."""

    proxy_instances: tuple[Instance, ...] = ()
    """Cheaper stand-ins for the train instances (a proportional sample of the cluster, a shorter window or
    scenario), for multi-fidelity search: the engine screens every candidate on them and promotes the best
    to full train fidelity (successive halving). Each has split "train", the id `<id of the train instance it
    stands for>@<anything>` (the engine refuses any other: a proxy of a held-out instance would screen on
    held-out data), and that instance's group. Worth having only when their scores rank policies as the full
    instances do: measure the rank correlation (benchmarks/proxy_fidelity.py)."""
    screen_instances: tuple[Instance, ...] = ()
    """The screen when there are no proxies (default: the first train instance)."""
    gp_spec: PolicySpec | None = None
    """The interface the offline (GP) proposer evolves (default: the task's `spec`)."""
    gp_table: GPTable | None = None
    """The offline proposer's table for that interface (default: derived from the spec alone, whose views
    are then expected to be named `nodes` and `pod`)."""
    trusted_tree_runs: bool = False
    """Opt in to fast offline search: when True, a GP tree (which the engine builds from the spec's declared
    fields and features, so it is data, not code) is evaluated in the engine's worker processes by a trusted
    interpreter instead of being rendered and run in a sandboxed child per instance. The engine calls the
    task's own `run` there, with a module object whose evolved functions compute the tree exactly as the
    rendered module would, then `score` as always. Turn it on when `run` may be called many times in one
    long-lived process with the same results as in a fresh one (keep no state between calls that changes
    what a later call computes; caches of read-only inputs are fine). Code from an LLM or a user always runs
    in the sandbox, and the task's baseline files always run in the worker processes (after the static
    check: they are the author's code, not a candidate's)."""
    feedback: Feedback | None = None
    """Feedback for the proposer (default: `default_feedback`, each instance's score next to every
    baseline's, its metrics, and the mean against the best baseline)."""


@dataclass(frozen=True)
class Reporting:
    """Optional group, reporting: curves of a replayed run, drawn as task-specific sections of the run
    report. The report runs every drawn policy where candidates run (the sandbox) and replays its decisions
    with `series`, which is TRUSTED like `score`."""

    series: Callable[[Instance, Decisions], dict[str, list[float]]]
    """TRUSTED: named series (curves) of the run the decisions describe."""
    sections: Callable[[dict[str, dict[str, dict[str, list[float]]]], Path], list[tuple[str, str]]]
    """(title, HTML) sections drawn from `series[policy][instance id]` (the selected candidate, labelled
    `best #ID`, and every baseline on the first test instance of a few groups). Images go into the given
    folder, the report's, and are referenced by file name."""


class Task:
    """Base class of every task. Override the four required methods; the rest have working defaults.

    Required: `instances`, `baselines`, `run` (untrusted half), `score` (trusted half), and the class
    attributes `name` and `spec`. The constructor takes keyword options only, and `options()` returns the
    JSON-able keywords that rebuild an equal task in another process (the sandbox child, the trusted scorer).
    Everything must be deterministic given the options and the instance.

    Beside the evaluation contract (the required members, and `interfaces`, `reference_baselines`,
    `options`, `options_from_cli`, `objective`, `data_paths`, `cache_dir`, `read_only_probe` with their
    defaults), a task may offer three optional groups, each one method returning a documented dataclass:
    `search_hints()` (SearchHints), `reporting()` (Reporting) and `command_line()` (CommandLine).
    """

    name: ClassVar[str] = ""
    spec: ClassVar[PolicySpec]
    interfaces: ClassVar[tuple[PolicySpec, ...]] = ()
    """Further interfaces a policy may implement instead of `spec` (e.g. a RANK function driving a mechanism
    the task runs); a policy must define every required function of at least one interface."""

    # --- required ----------------------------------------------------------------------------------
    def instances(self) -> list[Instance]:
        """Every instance, each with split "train", "validation" or "test" and a `group` (table row)."""
        raise NotImplementedError

    def baselines(self) -> dict[str, Path]:
        """Baseline name -> policy file in `spec` (or one of `interfaces`); all are measured by every run."""
        raise NotImplementedError

    def run(self, policy: ModuleType, instance: Instance) -> Decisions:
        """UNTRUSTED: simulate `instance` with the loaded policy module and return its decisions. Raise
        PolicyError for an invalid output of the policy, PolicyCrashed when its code raised."""
        raise NotImplementedError

    def score(self, instance: Instance, decisions: Decisions) -> Evaluation:
        """TRUSTED: replay `decisions` on a fresh simulation of `instance`; PolicyError on the first illegal
        one; the objective (higher is better) and metrics otherwise. Never imports policy code."""
        raise NotImplementedError

    # --- optional, with defaults -------------------------------------------------------------------
    def reference_baselines(self) -> tuple[str, ...]:
        """Names of baselines the task computes with its own trusted code instead of a policy file: the
        mechanism-level policies that do not fit the interface (ARC's queues, say). Every run measures them
        on train, validation and test beside `baselines()`; feedback, the screen's threshold (the median of
        every baseline on the screen instance), progress lines and verdicts count them; they seed no island.
        An offline optimum is a bound, not a baseline: leave it out, or no candidate can ever win. Default:
        none."""
        return ()

    def reference_evaluation(self, name: str, instance: Instance) -> Evaluation:
        """TRUSTED: reference baseline `name`'s evaluation on `instance`, on the same scale as `score`."""
        raise NotImplementedError(f"task {self.name or type(self).__name__} has no reference baseline {name!r}")

    def options(self) -> dict[str, Any]:
        """JSON-able keyword arguments that rebuild this task (default: none)."""
        return {}

    @classmethod
    def options_from_cli(cls, workload: str | None, report: Callable[[str], None] = print) -> dict[str, Any]:
        """Task options for the command line's generic `--workload` (default: passed as `workload` when
        given). Raise PolicyforgeError here for a bad value: it is checked before anything starts."""
        return {} if workload is None else {"workload": workload}

    def objective(self) -> str:
        """One sentence on what the score means, for prompts and reports."""
        return "The mean score over instances; higher is better."

    def data_paths(self) -> tuple[str, ...]:
        """Files or folders the sandboxed `run` reads (mounted read-only into the sandbox)."""
        return ()

    def cache_dir(self) -> Path | None:
        """Where deterministic results (baselines) are cached across runs (default: None, which means
        `results/` in the data folder, $POLICYFORGE_DATA or ./data). Keys cover the options, the policy's code, policyforge's
        source and the .py files beside the task's module."""
        return None

    def read_only_probe(self) -> str | None:
        """Source of a policy that tries to write every view; `tasks check` expects it to fail cleanly."""
        return None

    # --- optional groups: each a few named capabilities, off by default ---------------------------------
    def search_hints(self) -> SearchHints:
        """Optional group, search hints: proxies or a screen, the GP proposer's interface and table, trusted
        tree runs, feedback for the proposer (`SearchHints`; default: none of them)."""
        return SearchHints()

    def reporting(self) -> Reporting | None:
        """Optional group, reporting: curves of a replayed run and the run report's sections drawn from them
        (`Reporting`; default None: the report has no task sections and runs nothing for them)."""
        return None

    @classmethod
    def command_line(cls) -> CommandLine:
        """Optional group, extra commands: the task's own `simulate` and subcommands (`CommandLine`)."""
        return CommandLine()


def versus_best_baseline(scores: dict[str, float], baseline_scores: dict[str, dict[str, float]]) -> str:
    """"mean M vs best baseline B S (+D)" over the instances of `scores` ("" without both)."""
    if not scores or not baseline_scores:
        return ""
    mean = sum(scores.values()) / len(scores)
    best_name, best = max(((b, sum(s.get(i, 0.0) for i in scores) / len(scores))
                           for b, s in baseline_scores.items()), key=lambda x: x[1])
    return f"mean {mean:.4g} vs best baseline {best_name} {best:.4g} ({mean - best:+.4g})"


def default_feedback(scores: dict[str, float], metrics: dict[str, dict[str, float]],
                     baseline_scores: dict[str, dict[str, float]]) -> str:
    """The feedback of a task whose hints give none: score per instance next to every baseline, the
    metrics, and the mean against the best baseline."""
    lines = []
    for instance, value in scores.items():
        refs = ", ".join(f"{b} {s[instance]:.4g}" for b, s in baseline_scores.items() if instance in s)
        extra = ", ".join(f"{k} {v:.4g}" for k, v in list(metrics.get(instance, {}).items())[:8])
        lines.append(f"{instance}: score {value:.4g} (baselines: {refs or 'none'}){'; ' + extra if extra else ''}")
    lines.append(versus_best_baseline(scores, baseline_scores))
    return "\n".join(line for line in lines if line)


def screen_instances(task: Task, hints: SearchHints | None = None) -> list[Instance]:
    """The cheap first stage of the evaluation cascade when the task declares no proxies: its hints'
    `screen_instances`, else its first train instance."""
    hints = task.search_hints() if hints is None else hints
    return list(hints.screen_instances) or [i for i in task.instances() if i.split == "train"][:1]


def check_held_out(task: str, train: tuple[int, ...], validation: tuple[int, ...], test: tuple[int, ...]) -> None:
    """PolicyforgeError when a test seed is also a train or validation seed: a held-out figure must not be
    one the search saw or selected on."""
    overlap = (set(train) | set(validation)) & set(test)
    if overlap:
        raise PolicyforgeError(f"{task}: seeds {sorted(overlap)} are in both test and train/validation")


def finite_evaluation(score: Any, metrics: Mapping[str, Any] | None = None) -> Evaluation:
    """An Evaluation after checking the trusted side produced finite numbers (a task bug otherwise)."""
    value = float(score)
    if not math.isfinite(value):
        raise ValueError(f"non-finite score {value}")
    clean = {str(k): float(v) for k, v in (metrics or {}).items() if v is not None and math.isfinite(float(v))}
    return Evaluation(value, clean)


def as_int_array(decisions: Decisions, key: str, length: int | None = None) -> np.ndarray:
    """A decision column as int64, checked: present, 1-D, whole numbers, and `length` long when given.
    For trusted `score` implementations: decisions come from an untrusted process."""
    if key not in decisions:
        raise PolicyError(f"decisions lack {key!r}")
    array = np.asarray(decisions[key])
    if array.ndim != 1 or (array.size and array.dtype.kind not in "iub"):
        raise PolicyError(f"decisions[{key!r}] is not a 1-D integer array")
    if length is not None and len(array) != length:
        raise PolicyError(f"decisions[{key!r}] has {len(array)} entries, expected {length}")
    return array.astype(np.int64, copy=False)
