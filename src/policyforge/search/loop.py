"""The generate-evaluate-select loop, resumable after any crash.

Samples are drawn in batches: every sample of a batch is proposed from the database as it stood at the
start of the batch, all are evaluated concurrently, and results enter the database in sample order. So a run
is a pure function of its seed, whatever the timing of evaluations, and a resumed run rebuilds the exact
database by replaying the store. Each candidate is written to the store the moment it is proposed and again
when evaluated; a candidate found unevaluated on resume is evaluated then, without drawing a new sample.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from policyforge.contract import Task, finite_evaluation, keyed
from policyforge.errors import PolicyforgeError
from policyforge.search.contracts import EvalResult, Instance, Limits, ParentInfo, Proposal
from policyforge.search.database import DatabaseConfig, Program, ProgramsDatabase
from policyforge.search.dedup import code_hash, normalised_hash
from policyforge.search.evaluation import Evaluator
from policyforge.search.instance_keys import installation_key
from policyforge.search.runs import run_verdict, selected_best
from policyforge.search.store import Candidate, Store
from policyforge.tasks.registry import get_task


@dataclass(frozen=True)
class EvolveConfig:
    task: str = ""
    """A task reference (tasks/registry.py): a name, path/to/file.py:Class or package.module:Class."""
    task_options: dict[str, Any] = field(default_factory=dict)
    proposer: str = "gp"
    llm: dict[str, Any] = field(default_factory=dict)
    llm_share: float = 0.5
    max_samples: int = 50
    max_cost: float | None = None
    seed: int = 0
    batch_size: int = 2
    islands: int = 4
    reset_every: int = 10
    cascade: bool = True
    limits: dict[str, Any] = field(default_factory=lambda: asdict(Limits()))
    executor: str = "local"
    ray_address: str | None = None
    jobs: int = 2
    unsafe: bool = False
    validate_top: int = 3

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_json(data: dict[str, Any]) -> EvolveConfig:
        known = {f for f in EvolveConfig.__dataclass_fields__}
        return EvolveConfig(**{k: v for k, v in data.items() if k in known})


@dataclass
class Progress:
    samples: int
    max_samples: int
    valid: int
    evaluated: int
    best: float | None
    best_baseline: tuple[str, float] | None
    cost: float
    started: float
    new_this_session: int

    def line(self) -> str:
        valid = f"{100 * self.valid / self.evaluated:.0f}%" if self.evaluated else "-"
        best = "-" if self.best is None else f"{self.best:.3f}"
        vs = ""
        if self.best is not None and self.best_baseline:
            name, value = self.best_baseline
            vs = f" vs {name} {value:.3f} ({self.best - value:+.3f})"
        minutes = max(time.time() - self.started, 1e-9) / 60
        return (f"samples {self.samples}/{self.max_samples} | valid {valid} | best train {best}{vs} | "
                f"cost ${self.cost:.4f} | {self.new_this_session / minutes:.1f} samples/min")


@dataclass
class Tally:
    """Running counts of the samples, kept in step with every write so a progress line or a budget check
    never reads the store (its cost would grow with the run)."""

    samples: int = 0
    evaluated: int = 0
    valid: int = 0
    cost: float = 0.0

    @staticmethod
    def of(store: Store) -> Tally:
        evaluated, valid = store.sample_outcomes()
        return Tally(store.count_samples(), evaluated, valid, store.total_cost())


def _mean(scores: dict[str, float]) -> float | None:
    return float(np.mean(list(scores.values()))) if scores else None


class Evolution:
    """One run directory: its store, task, proposers, evaluator and database."""

    def __init__(self, run_dir: Path, config: EvolveConfig | None = None, resume: bool = False,
                 overrides: dict[str, Any] | None = None,
                 proposer_factory: Callable[[EvolveConfig, Task], dict[str, Any]] | None = None) -> None:
        self.run_dir = Path(run_dir)
        db_path = self.run_dir / "run.sqlite"
        stored: dict[str, Any] = {}
        if resume:
            if not db_path.exists():
                raise PolicyforgeError(f"{self.run_dir}: no run to resume (run.sqlite missing)")
            self.store = Store(db_path)
            stored = self.store.config()
            if "config" not in stored:
                raise PolicyforgeError(f"{db_path}: run has no configuration")
            self.config = replace(EvolveConfig.from_json(stored["config"]), **(overrides or {}))
        else:
            if db_path.exists():
                raise PolicyforgeError(f"{self.run_dir}: a run already exists here; use --resume {self.run_dir}")
            if config is None:
                raise PolicyforgeError("a new run needs a configuration")
            self.config = config
        # Everything that can refuse the configuration (task, options, files, proposers) runs before the run
        # folder exists, so a failed start leaves nothing behind that neither a new run nor --resume can use.
        self.task = get_task(self.config.task, **self.config.task_options)
        # Every instance draws its randomness from a key the candidates never see (contract.instance_rng). A
        # resumed run keeps the key it started with; one from before keys existed stays on public seeds.
        self.instance_key = stored.get("instance_key", "") if resume else installation_key()
        self.instances = keyed(self.task.instances(), self.instance_key) if self.instance_key else \
            self.task.instances()
        self.train = [i for i in self.instances if i.split == "train"]
        self.validation = [i for i in self.instances if i.split == "validation"]
        self.test = [i for i in self.instances if i.split == "test"]
        screen = self.task.screen_instances() if self.config.cascade else []
        self.screen = keyed(screen, self.instance_key) if self.instance_key else screen
        factory = proposer_factory or default_proposers
        self.proposers = factory(self.config, self.task)
        if not resume:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self.store = Store(db_path)
        # `groups` names each instance's table row (Instance.group), so verdicts never parse instance ids.
        self.store.set_config({"config": self.config.to_json(), "instance_key": self.instance_key,
                               "groups": {i.id: i.group or i.id for i in self.instances}})
        self.evaluator = Evaluator(self.config, self.task)
        self.database = ProgramsDatabase(DatabaseConfig(islands=self.config.islands))
        self.baseline_scores: dict[str, dict[str, float]] = {}
        self.screen_threshold: float | None = None
        self.tally = Tally.of(self.store)

    # --- set-up ------------------------------------------------------------------------------------
    def _evaluate_baselines(self, display: Callable[[str], None] = lambda line: None) -> None:
        """Every baseline of the task is evaluated once per run through the same sandbox as candidates
        (cached across runs), then seeds the islands; later it is measured on validation and test too."""
        done = {c.name: c for c in self.store.all("proposer = 'baseline' AND status = 'ok'")}
        paths = self.task.baselines()
        missing = [n for n in paths if n not in done]
        if missing:
            display(f"measuring {len(missing)} baseline(s) on {len(self.train)} train instance(s)")
        futures = {n: self.evaluator.submit(paths[n].read_text(), self.train, cacheable=True) for n in missing}
        for position, name in enumerate(missing, start=1):
            result = futures[name].result()
            code = paths[name].read_text()
            self.store.insert(proposer="baseline", name=name, code=code, code_hash=code_hash(code),
                              norm_hash=normalised_hash(code), status=result.status, reason=result.reason,
                              stage="train", scores=result.scores, metrics=result.metrics,
                              score=_mean(result.scores) if result.ok else None, eval_seconds=result.seconds)
            if not result.ok:
                raise PolicyforgeError(f"baseline {name} failed in the sandbox: {result.status}: {result.reason}")
            display(f"  baseline {name}: train {_mean(result.scores):.3f} ({position}/{len(missing)})")
        references = [n for n in self.task.reference_baselines() if n not in done and n not in paths]
        if references:
            display(f"computing {len(references)} reference baseline(s) of the task on {len(self.train)} train "
                    "instance(s) (trusted code)")
        for name in references:
            scores, metrics = self._reference(name, self.train)
            code = reference_code(name)
            self.store.insert(proposer="baseline", name=name, code=code, code_hash=code_hash(code),
                              norm_hash=normalised_hash(code), status="ok", reason="", stage="train",
                              scores=scores, metrics=metrics, score=_mean(scores), eval_seconds=0.0)
            display(f"  reference {name}: train {_mean(scores):.3f}")
        for c in self.store.all("proposer = 'baseline' AND status = 'ok'"):
            self.baseline_scores[c.name] = c.scores
            if c.name in paths:  # a reference baseline is no program: it seeds no island
                self.database.seed(self._program(c))
        for code in self._seed_programs():
            if self.store.find_hash(code_hash(code), normalised_hash(code)) is None:
                result = self.evaluator.submit(code, self.train).result()
                self.store.insert(proposer="seed", code=code, code_hash=code_hash(code), norm_hash=normalised_hash(code),
                                  status=result.status, reason=result.reason, stage="train", scores=result.scores,
                                  metrics=result.metrics, score=_mean(result.scores) if result.ok else None,
                                  eval_seconds=result.seconds)
        for c in self.store.all("proposer = 'seed' AND status = 'ok'"):
            self.database.seed(self._program(c))
        if self.screen:
            first = self.screen[0].id
            values = sorted(s[first] for s in self.baseline_scores.values() if first in s)
            self.screen_threshold = float(np.median(values)) if values else None

    def _reference(self, name: str, instances: list[Instance]) -> tuple[dict[str, float], dict[str, dict]]:
        """A reference baseline's scores and metrics, computed by the task's trusted code in this process."""
        scores: dict[str, float] = {}
        metrics: dict[str, dict] = {}
        for instance in instances:
            try:
                raw = self.task.reference_evaluation(name, instance)
                evaluation = finite_evaluation(raw.score, raw.metrics)
            except Exception as exc:  # the task's own code failed: say which baseline and instance
                raise PolicyforgeError(f"reference baseline {name} on {instance.id}: "
                                       f"{type(exc).__name__}: {exc}") from None
            scores[instance.id] = evaluation.score
            metrics[instance.id] = evaluation.metrics
        return scores, metrics

    def _seed_programs(self) -> list[str]:
        programs: list[str] = []
        for proposer in self.proposers.values():
            seeds = getattr(proposer, "seed_programs", None)
            if callable(seeds):
                programs.extend(seeds())
        return programs

    def _program(self, c: Candidate) -> Program:
        signature = tuple(round(c.scores[i.id], 2) for i in self.train if i.id in c.scores)
        return Program(c.id, float(c.score), signature, len(c.code or ""))

    def _replay(self) -> None:
        """Rebuild the islands from the store: the same adds and resets, in the same order, as the live run."""
        evaluated = self.store.all("sample IS NOT NULL AND status NOT IN ('proposed')", order="sample")
        by_batch: dict[int, list[Candidate]] = {}
        for c in evaluated:
            by_batch.setdefault(c.sample // self.config.batch_size, []).append(c)
        last = max(by_batch, default=-1)
        for batch in range(last + 1):
            self._maybe_reset(batch)
            for c in by_batch.get(batch, []):
                if c.status == "ok" and c.score is not None:
                    self.database.add(self._program(c), c.island or 0)

    def _maybe_reset(self, batch: int) -> None:
        if batch > 0 and self.config.reset_every and batch % self.config.reset_every == 0:
            self.database.reset_weaker_half(np.random.default_rng([self.config.seed, batch, 7]))

    # --- one sample --------------------------------------------------------------------------------
    def _proposer_for(self, sample: int) -> tuple[str, Any]:
        if self.config.proposer != "mixed":
            return self.config.proposer, self.proposers[self.config.proposer]
        draw = np.random.default_rng([self.config.seed, sample, 3]).random()
        kind = "llm" if draw < self.config.llm_share else "gp"
        return kind, self.proposers[kind]

    def _parents(self, island: int, sample: int) -> list[ParentInfo]:
        rng = np.random.default_rng([self.config.seed, sample, 1])
        out = []
        for program in self.database.sample(island, rng):
            c = self.store.get(program.id)
            out.append(ParentInfo(c.id, c.code or "", c.score, c.scores, c.feedback, c.status, c.reason))
        return out

    def _context(self) -> dict[str, Any]:
        train_ids = [i.id for i in self.train]
        return {
            "task": self.task.name,
            "interface": interface_text(self.task),
            "objective": self.task.objective(),
            "baselines": {n: {i: s[i] for i in train_ids if i in s} for n, s in self.baseline_scores.items()},
        }

    def _propose(self, sample: int) -> int:
        island = sample % self.config.islands
        kind, proposer = self._proposer_for(sample)
        parents = self._parents(island, sample)
        started = time.perf_counter()
        try:
            proposal: Proposal = proposer.propose(parents, self._context(), self.config.seed * 1_000_003 + sample)
        except Exception as exc:  # a proposer must not take the run down; record and go on
            proposal = Proposal(None, kind, error=f"{type(exc).__name__}: {exc}")
        fields: dict[str, Any] = dict(
            sample=sample, proposer=proposal.proposer or kind, island=island,
            parents=list(proposal.parents) if proposal.parents else [p.id for p in parents],
            prompt=proposal.prompt, raw_reply=proposal.raw_reply, tokens_in=proposal.tokens_in,
            tokens_out=proposal.tokens_out, cost_usd=proposal.cost_usd,
            propose_seconds=proposal.seconds or time.perf_counter() - started)
        self.tally.samples += 1
        self.tally.cost += proposal.cost_usd
        if proposal.code is None:
            self.tally.evaluated += 1
            return self.store.insert(status="proposal_error", reason=proposal.error or "no code", **fields)
        code = proposal.code
        exact, norm = code_hash(code), normalised_hash(code)
        duplicate = self.store.find_hash(exact, norm)
        if duplicate is not None:
            self.tally.evaluated += 1
            return self.store.insert(status="duplicate", reason=f"same program as candidate {duplicate}", code=code,
                                     code_hash=exact, norm_hash=norm, **fields)
        return self.store.insert(status="proposed", code=code, code_hash=exact, norm_hash=norm, **fields)

    def _evaluate(self, candidate_id: int) -> Future:
        """Submit the cascade for a proposed candidate; the future resolves to the store update."""
        c = self.store.get(candidate_id)
        stages: list[tuple[str, list[Instance]]] = []
        if self.screen and self.screen_threshold is not None:
            stages.append(("screen", self.screen))
        rest = [i for i in self.train if i not in self.screen] if stages else self.train
        stages.append(("train", rest))
        return self.evaluator.cascade(c.code or "", stages, self.screen_threshold)

    def _record(self, candidate_id: int, outcome: tuple[str, EvalResult]) -> None:
        stage, result = outcome
        status = result.status
        score = _mean(result.scores) if result.ok else None
        if result.ok and stage == "screen":
            status, reason = "screened_out", f"screen score {score:.3f} below threshold {self.screen_threshold:.3f}"
        else:
            reason = result.reason
        feedback = self.task.feedback(result.scores, result.metrics, self.baseline_scores) if result.ok else \
            f"{result.status}: {result.reason}"
        self.tally.evaluated += 1
        self.tally.valid += status in ("ok", "screened_out")
        self.store.update(candidate_id, status=status, reason=reason, stage=stage, scores=result.scores,
                          metrics=result.metrics, score=score if status == "ok" else None, feedback=feedback,
                          output=result.output[-4000:], eval_seconds=result.seconds)

    # --- the run -----------------------------------------------------------------------------------
    def run(self, display: Callable[[str], None] = lambda line: None) -> dict[str, Any]:
        """Search until the budget is spent, then select on validation and measure on test."""
        self.search(display)
        return self.finish(display)

    def search(self, display: Callable[[str], None] = lambda line: None) -> None:
        """The generate-evaluate loop alone (resuming whatever the store holds)."""
        started = time.time()
        new = 0
        self._evaluate_baselines(display)
        self._replay()
        pending = [c.id for c in self.store.all("status = 'proposed' AND sample IS NOT NULL")]
        if pending:
            display(f"resuming: evaluating {len(pending)} candidate(s) interrupted before their result")
            self._finish_batch(pending)
        while self._budget_left():
            first = self.store.next_sample()
            batch_index = first // self.config.batch_size
            if first % self.config.batch_size == 0:
                self._maybe_reset(batch_index)
            end = min((batch_index + 1) * self.config.batch_size, self.config.max_samples)
            ids = self._propose_all(range(first, end))
            self._finish_batch([i for i in ids if self.store.get(i).status == "proposed"])
            new += len(ids)
            display(self.progress(started, new).line())

    def _propose_all(self, samples: range) -> list[int]:
        kinds = {self._proposer_for(s)[0] for s in samples}
        if kinds == {"gp"} or len(samples) == 1:
            return [self._propose(s) for s in samples]
        with ThreadPoolExecutor(max_workers=len(samples)) as pool:
            return list(pool.map(self._propose, samples))

    def _finish_batch(self, ids: list[int]) -> None:
        futures = [(i, self._evaluate(i)) for i in ids]
        for candidate_id, future in futures:
            self._record(candidate_id, future.result())
        for candidate_id, _ in futures:
            c = self.store.get(candidate_id)
            if c.status == "ok" and c.score is not None:
                self.database.add(self._program(c), c.island or 0)

    def _budget_left(self) -> bool:
        if self.tally.samples >= self.config.max_samples:
            return False
        return not (self.config.max_cost is not None and self.tally.cost >= self.config.max_cost)

    def progress(self, started: float, new: int) -> Progress:
        t = self.tally
        best = self.database.best()
        train_ids = [i.id for i in self.train]
        means = {n: float(np.mean([s[i] for i in train_ids])) for n, s in self.baseline_scores.items()}
        best_baseline = max(means.items(), key=lambda kv: kv[1]) if means else None
        return Progress(t.samples, self.config.max_samples, t.valid, t.evaluated, best.score if best else None,
                        best_baseline, t.cost, started, new)

    # --- selection and held-out figures ------------------------------------------------------------
    def finish(self, display: Callable[[str], None] = lambda line: None) -> dict[str, Any]:
        """Select on validation among the best by train score, measure the winner and every baseline on
        validation and test, and return the verdict (selected candidate against every baseline)."""
        contenders = sorted(self.store.all("status = 'ok' AND proposer != 'baseline' AND score IS NOT NULL"),
                            key=lambda c: (-c.score, c.id))[: self.config.validate_top]
        # a measurement that failed (stored as {}: a timeout on a loaded machine, say) is tried again
        todo = [c for c in contenders if not c.validation_scores and self.validation]
        if todo:
            display(f"validating the top {len(todo)} candidate(s) on {len(self.validation)} validation instance(s)")
        futures = [(c, self.evaluator.submit(c.code or "", self.validation, split=True)) for c in todo]
        for position, (c, future) in enumerate(futures, start=1):
            result = future.result()
            self.store.update(c.id, validation_scores=result.scores if result.ok else {},
                              validation_score=_mean(result.scores) if result.ok else None)
            shown = f"{_mean(result.scores):.3f}" if result.ok else f"{result.status}: {result.reason}"
            display(f"  candidate {c.id}: validation {shown} ({position}/{len(todo)})")
        self._baselines_on("validation", self.validation, display)
        best = selected_best(self.store)
        if best is not None and not best.test_scores and self.test:
            display(f"measuring the selected candidate {best.id} on {len(self.test)} held-out test instance(s)")
            result = self.evaluator.submit(best.code or "", self.test, split=True).result()
            self.store.update(best.id, test_scores=result.scores if result.ok else {},
                              test_score=_mean(result.scores) if result.ok else None)
        self._baselines_on("test", self.test, display)
        verdict = run_verdict(self.store)
        return {"best": best.id if best else None, "verdict": verdict.to_json() if verdict else None}

    def _baselines_on(self, split: str, instances: list[Instance], display: Callable[[str], None]) -> None:
        """Every baseline's scores on `split`, stored like a candidate's (cached across runs)."""
        column = f"{split}_scores"
        missing = [c for c in self.store.all("proposer = 'baseline' AND status = 'ok'")
                   if not getattr(c, column)]
        if not missing or not instances:
            return
        display(f"measuring {len(missing)} baseline(s) on {len(instances)} {split} instance(s) "
                "(cached for later runs)")
        references = set(self.task.reference_baselines()) - set(self.task.baselines())
        futures = [(c, None if c.name in references else self.evaluator.submit(c.code or "", instances, cacheable=True))
                   for c in missing]
        for position, (c, future) in enumerate(futures, start=1):
            if future is None:
                scores, _ = self._reference(c.name or "", instances)
                self.store.update(c.id, **{column: scores, f"{split}_score": _mean(scores)})
                display(f"  reference {c.name}: {split} {_mean(scores):.3f} ({position}/{len(missing)})")
                continue
            result = future.result()
            self.store.update(c.id, **{column: result.scores if result.ok else {},
                                       f"{split}_score": _mean(result.scores) if result.ok else None})
            shown = f"{_mean(result.scores):.3f}" if result.ok else f"{result.status}: {result.reason}"
            display(f"  baseline {c.name}: {split} {shown} ({position}/{len(missing)})")


def reference_code(name: str) -> str:
    """What the store keeps as a reference baseline's code: a note, since the task computes it itself."""
    return f"# reference baseline {name}: computed by the task's own trusted code (no policy file)\n"


def interface_text(task: Task) -> str:
    """The interface documentation a proposer sees: the task's interface, then any alternative ones."""
    text = task.spec.render_markdown()
    for other in task.interfaces:
        text += "\n---\n\nAlternatively, implement this interface instead:\n\n" + other.render_markdown()
    return text


def default_proposers(config: EvolveConfig, task: Task) -> dict[str, Any]:
    """The proposers a configuration asks for, built lazily (the LLM one needs the `llm` extra)."""
    proposers: dict[str, Any] = {}
    if config.proposer in ("gp", "mixed"):
        from policyforge.search.proposers.gp import GPProposer

        proposers["gp"] = GPProposer(task.gp_spec or task.spec, table=task.gp_table)
    if config.proposer in ("llm", "mixed"):
        from policyforge.search.proposers.llm import LLMProposer

        proposers["llm"] = LLMProposer(**config.llm)
    if not proposers:
        raise PolicyforgeError(f"unknown proposer {config.proposer!r} (gp, llm, mixed)")
    return proposers
