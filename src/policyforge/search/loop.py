"""The generate-evaluate-select loop, resumable after any crash.

Samples are drawn in batches: every sample of a batch is proposed from the database as it stood at the
start of the batch, all are evaluated concurrently, and results enter the database in sample order. So a run
is a pure function of its seed, whatever the timing of evaluations, and a resumed run rebuilds the exact
database by replaying the store. Each candidate is written to the store the moment it is proposed and again
when evaluated; a candidate found unevaluated on resume is evaluated then, without drawing a new sample.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from policyforge.contract import Instance, Task, default_feedback, finite_evaluation, keyed, screen_instances
from policyforge.errors import PolicyforgeError
from policyforge.search.database import DatabaseConfig, Program, ProgramsDatabase
from policyforge.search.dedup import code_hash, normalised_hash
from policyforge.search.evaluation import Evaluator, merge
from policyforge.search.proposers.base import ParentInfo, Proposal
from policyforge.search.runs import run_verdict, selected_best
from policyforge.search.store import Candidate, Store
from policyforge.tasks.registry import get_task
from policyforge.trust.instance_keys import installation_key
from policyforge.trust.requests import EvalResult, Limits

TUNE_LEADERS = 5
"""A tuning sample is shown its island's best programs, best first; it tunes the first it can (a GP tree with
constants), since the very best may be a baseline file or a tree without constants."""


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
    jobs: int = 0
    """Evaluations at once; 0 means every core."""
    unsafe: bool = False
    validate_top: int = 3
    promote_top: float = 1 / 3
    """Successive halving's 1/eta: a screened candidate goes on to full train fidelity when its screen score
    is among this top share of every screen score so far (baselines, seeds, earlier samples and its own
    batch), or when it beats the best screen score of its parents."""
    tune_share: float = 0.2
    """The share of GP samples that tune the constants of their island's best programs (every constant moved
    at once) instead of varying sampled parents: a local search around the elite, which the promotion rule
    above judges against its parent."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_json(data: dict[str, Any]) -> EvolveConfig:
        known = {f for f in EvolveConfig.__dataclass_fields__}
        # a run saved before tuning existed resumes without it: the same samples it would have drawn
        return EvolveConfig(**{"tune_share": 0.0, **{k: v for k, v in data.items() if k in known}})


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
        if not 0 < self.config.promote_top <= 1:
            raise PolicyforgeError(f"promote_top must lie in (0, 1], not {self.config.promote_top}")
        if not 0 <= self.config.tune_share <= 1:
            raise PolicyforgeError(f"tune_share must lie in [0, 1], not {self.config.tune_share}")
        self.task = get_task(self.config.task, **self.config.task_options)
        # Every instance draws its randomness from a key the candidates never see (contract.instance_rng). A
        # resumed run keeps the key it started with; one from before keys existed stays on public seeds.
        self.instance_key = stored.get("instance_key", "") if resume else installation_key()
        self.instances = keyed(self.task.instances(), self.instance_key) if self.instance_key else \
            self.task.instances()
        self.train = [i for i in self.instances if i.split == "train"]
        self.validation = [i for i in self.instances if i.split == "validation"]
        self.test = [i for i in self.instances if i.split == "test"]
        hints = self.task.search_hints()
        self.feedback = hints.feedback or default_feedback
        """What the proposer is told about a candidate (the task's, else the contract's default)."""
        proxies = checked_proxies(list(hints.proxy_instances), self.instances) if self.config.cascade else []
        screen = proxies or (screen_instances(self.task, hints) if self.config.cascade else [])
        self.proxies = keyed(proxies, self.instance_key) if self.instance_key else proxies
        self.screen = keyed(screen, self.instance_key) if self.instance_key else screen
        """The first rung of successive halving: the task's proxies, else its screen (a train subset)."""
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
        self.baseline_screen: dict[str, dict[str, float]] = {}
        self.rung: list[float] = []
        """Screen means of every program screened so far, baselines and seeds included (the promotion bar)."""
        self.tally = Tally.of(self.store)

    # --- set-up ------------------------------------------------------------------------------------
    def _evaluate_baselines(self, display: Callable[[str], None] = lambda line: None) -> None:
        """Every baseline of the task is evaluated once per run (in the trusted worker pool, after the static
        check; cached across runs), then seeds the islands; later it is measured on validation and test."""
        done = {c.name: c for c in self.store.all("proposer = 'baseline' AND status = 'ok'")}
        paths = self.task.baselines()
        missing = [n for n in paths if n not in done]
        if missing:
            display(f"measuring {len(missing)} baseline(s) on {len(self.train)} train instance(s)")
        measured = self.train + self.proxies
        futures = {n: self.evaluator.submit(paths[n].read_text(), measured, cacheable=True) for n in missing}
        for position, name in enumerate(missing, start=1):
            result = futures[name].result()
            code = paths[name].read_text()
            train, screen = self._split(result.scores)
            self.store.insert(proposer="baseline", name=name, code=code, code_hash=code_hash(code),
                              norm_hash=normalised_hash(code), status=result.status, reason=result.reason,
                              stage="train", scores=train, metrics=self._train_only(result.metrics),
                              screen_scores=screen, score=_mean(train) if result.ok else None,
                              eval_seconds=result.seconds)
            if not result.ok:
                raise PolicyforgeError(f"baseline {name} failed: {result.status}: {result.reason}")
            display(f"  baseline {name}: train {_mean(train):.3f} ({position}/{len(missing)})")
        references = [n for n in self.task.reference_baselines() if n not in done and n not in paths]
        if references:
            display(f"computing {len(references)} reference baseline(s) of the task on {len(self.train)} train "
                    "instance(s) (trusted code)")
        for name in references:
            scores, metrics = self._reference(name, self.train + self.proxies)
            train, screen = self._split(scores)
            code = reference_code(name)
            self.store.insert(proposer="baseline", name=name, code=code, code_hash=code_hash(code),
                              norm_hash=normalised_hash(code), status="ok", reason="", stage="train",
                              scores=train, metrics=self._train_only(metrics), screen_scores=screen,
                              score=_mean(train), eval_seconds=0.0)
            display(f"  reference {name}: train {_mean(train):.3f}")
        for c in self.store.all("proposer = 'baseline' AND status = 'ok'"):
            self.baseline_scores[c.name] = c.scores
            self.baseline_screen[c.name] = c.screen_scores or {}
            if c.name in paths:  # a reference baseline is no program: it seeds no island
                self.database.seed(self._program(c))
        seeds = [code for code in self._seed_programs()
                 if self.store.find_hash(code_hash(code), normalised_hash(code)) is None]
        futures = [(code, self.evaluator.submit(code, measured, split=True)) for code in seeds]
        for code, future in futures:
            result = future.result()
            train, screen = self._split(result.scores)
            self.store.insert(proposer="seed", code=code, code_hash=code_hash(code), norm_hash=normalised_hash(code),
                              status=result.status, reason=result.reason, stage="train", scores=train,
                              metrics=self._train_only(result.metrics), screen_scores=screen,
                              score=_mean(train) if result.ok else None, eval_seconds=result.seconds)
        for c in self.store.all("proposer = 'seed' AND status = 'ok'"):
            self.database.seed(self._program(c))

    def _split(self, scores: dict[str, float]) -> tuple[dict[str, float], dict[str, float]]:
        """(train scores, screen scores) of one result's per-instance scores."""
        train_ids, screen_ids = {i.id for i in self.train}, {i.id for i in self.screen}
        return ({k: v for k, v in scores.items() if k in train_ids},
                {k: v for k, v in scores.items() if k in screen_ids})

    def _train_only(self, metrics: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        train_ids = {i.id for i in self.train}
        return {k: v for k, v in metrics.items() if k in train_ids}

    def _screen_mean(self, c: Candidate) -> float | None:
        """A program's mean over the whole screen, or None when it was not measured on all of it."""
        values = [(c.screen_scores or {}).get(i.id) for i in self.screen]
        return None if not values or None in values else float(np.mean(values))

    def _rebuild_rung(self) -> None:
        """The rung as the live run built it: every program with a whole screen, whatever happened after
        (a candidate promoted from the screen that then failed on train counted there too)."""
        self.rung = [m for c in self.store.all("screen_scores IS NOT NULL")
                     if (m := self._screen_mean(c)) is not None]

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
        self._rebuild_rung()
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

    def _tunes(self, sample: int, kind: str) -> bool:
        """Whether this GP sample tunes its island's best (drawn from the run seed, so a resume agrees)."""
        return kind == "gp" and np.random.default_rng([self.config.seed, sample, 5]).random() < self.config.tune_share

    def _parents(self, island: int, sample: int, tune: bool = False) -> list[ParentInfo]:
        rng = np.random.default_rng([self.config.seed, sample, 1])
        out = []
        leaders = self.database.islands[island].leaders(TUNE_LEADERS) if tune else []
        for program in leaders or self.database.sample(island, rng):
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
        tune = self._tunes(sample, kind)
        parents = self._parents(island, sample, tune)
        started = time.perf_counter()
        try:
            context = {**self._context(), "tune": tune}
            proposal: Proposal = proposer.propose(parents, context, self.config.seed * 1_000_003 + sample)
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

    def _promotion_bar(self, batch_means: list[float]) -> float:
        """The screen score a candidate of this batch must reach to be promoted (successive halving): the
        (1 - promote_top) quantile of every screen score so far and the batch's own; everything passes while
        there are too few scores to rank."""
        values = self.rung + batch_means
        if len(values) * self.config.promote_top < 1:
            return -math.inf
        return float(np.quantile(values, 1.0 - self.config.promote_top))

    def _parent_screen(self, c: Candidate) -> float | None:
        means = [m for p in c.parents if (m := self._screen_mean(self.store.get(p))) is not None]
        return max(means) if means else None

    def _record(self, c: Candidate, stage: str, result: EvalResult, screen: dict[str, float],
                reason: str = "") -> None:
        status = result.status
        train, _ = self._split(result.scores)
        metrics = self._train_only(result.metrics)
        if result.ok and stage == "screen":
            status = "screened_out"
            feedback = self.feedback(screen, {k: v for k, v in result.metrics.items() if k in screen},
                                     self.baseline_screen)
        else:
            reason = result.reason
            feedback = self.feedback(train, metrics, self.baseline_scores) if result.ok else \
                f"{result.status}: {result.reason}"
        score = _mean(train) if status == "ok" else None
        self.tally.evaluated += 1
        self.tally.valid += status in ("ok", "screened_out")
        self.store.update(c.id, status=status, reason=reason, stage=stage, scores=train, metrics=metrics,
                          screen_scores=screen or None, score=score, feedback=feedback,
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
        """Evaluate a batch by successive halving: every candidate on the screen, the promoted ones on the
        rest of train; results enter the store in sample order, so timing never changes the run."""
        candidates = [self.store.get(i) for i in ids]
        if not self.screen:
            futures = [(c, self.evaluator.submit(c.code or "", self.train, split=True)) for c in candidates]
            for c, future in futures:
                self._record(c, "train", future.result(), {})
            self._add_to_database(candidates)
            return
        first = [(c, self.evaluator.submit(c.code or "", self.screen, split=True)) for c in candidates]
        screened = [(c, future.result()) for c, future in first]
        means = {c.id: _mean(r.scores) for c, r in screened if r.ok}
        bar = self._promotion_bar([m for m in means.values() if m is not None])
        rest = [i for i in self.train if i.id not in {s.id for s in self.screen}]
        second: list[tuple[Candidate, EvalResult, Future | None, str]] = []
        for c, result in screened:
            mean = means.get(c.id)
            if mean is None:
                second.append((c, result, None, ""))
                continue
            parent = self._parent_screen(c)
            if mean >= bar or (parent is not None and mean > parent):
                second.append((c, result, self.evaluator.submit(c.code or "", rest, split=True) if rest else None, ""))
            else:
                shown = "" if parent is None else f" and its parents' best {parent:.3f}"
                second.append((c, result, None, f"screen score {mean:.3f} below the promotion bar {bar:.3f}{shown}"))
        for c, result, future, reason in second:
            _, screen = self._split(result.scores)
            if not result.ok:
                self._record(c, "screen", result, {})
            elif reason:
                self._record(c, "screen", result, screen, reason)
            else:
                full = merge([result, future.result()]) if future is not None else result
                self._record(c, "train", full, screen)
        self.rung.extend(m for m in means.values() if m is not None)
        self._add_to_database(candidates)

    def _add_to_database(self, candidates: list[Candidate]) -> None:
        for candidate in candidates:
            c = self.store.get(candidate.id)
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
        # only what is missing: a resumed run whose task gained held-out instances measures just those
        missing = [i for i in self.test if best is not None and i.id not in (best.test_scores or {})]
        if best is not None and missing:
            display(f"measuring the selected candidate {best.id} on {len(missing)} held-out test instance(s)")
            result = self.evaluator.submit(best.code or "", missing, split=True).result()
            scores = {**(best.test_scores or {}), **result.scores} if result.ok else dict(best.test_scores or {})
            held_out = {i.id for i in self.test}
            current = _mean({k: v for k, v in scores.items() if k in held_out})
            self.store.update(best.id, test_scores=scores, test_score=current)
        self._baselines_on("test", self.test, display)
        verdict = run_verdict(self.store)
        return {"best": best.id if best else None, "verdict": verdict.to_json() if verdict else None}

    def _baselines_on(self, split: str, instances: list[Instance], display: Callable[[str], None]) -> None:
        """Every baseline's scores on `split`, stored like a candidate's (cached across runs)."""
        column = f"{split}_scores"
        ids = {i.id for i in instances}
        # per baseline, the instances it lacks (all of them at first; after a resume, only ones the task added)
        todo = [(c, [i for i in instances if i.id not in (getattr(c, column) or {})])
                for c in self.store.all("proposer = 'baseline' AND status = 'ok'")]
        todo = [(c, lacking) for c, lacking in todo if lacking]
        if not todo:
            return
        display(f"measuring {len(todo)} baseline(s) on {max(len(lacking) for _, lacking in todo)} {split} "
                "instance(s) (cached for later runs)")
        references = set(self.task.reference_baselines()) - set(self.task.baselines())
        futures = [(c, lacking, None if c.name in references else
                    self.evaluator.submit(c.code or "", lacking, cacheable=True)) for c, lacking in todo]
        for position, (c, lacking, future) in enumerate(futures, start=1):
            if future is None:
                measured, _ = self._reference(c.name or "", lacking)
                ok, shown = True, ""
            else:
                result = future.result()
                measured, ok = result.scores if result.ok else {}, result.ok
                shown = "" if ok else f"{result.status}: {result.reason}"
            scores = {**(getattr(c, column) or {}), **measured}
            current = {k: v for k, v in scores.items() if k in ids}
            self.store.update(c.id, **{column: scores, f"{split}_score": _mean(current) if ok else None})
            kind = "reference" if future is None else "baseline"
            display(f"  {kind} {c.name}: {split} {shown or f'{_mean(current):.3f}'} ({position}/{len(todo)})")


def checked_proxies(proxies: list[Instance], instances: list[Instance]) -> list[Instance]:
    """The task's proxies after checking each stands for a train instance: split "train" and an id
    `<train instance id>@...`. A proxy of a validation or test instance would let the search screen on
    held-out data (a sample of the test trace), so it stops the run before anything is measured."""
    train = {i.id for i in instances if i.split == "train"}
    taken = {i.id for i in instances}
    for proxy in proxies:
        stands_for = proxy.id.rpartition("@")[0]
        if proxy.split != "train" or stands_for not in train or proxy.id in taken:
            raise PolicyforgeError(f"proxy instance {proxy.id!r}: a proxy must have split 'train' and an id "
                                   "'<train instance id>@...' of its own (it stands for that train instance)")
        taken.add(proxy.id)
    return proxies


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

        proposers["gp"] = GPProposer.for_task(task)
    if config.proposer in ("llm", "mixed"):
        from policyforge.search.proposers.llm.proposer import LLMProposer

        proposers["llm"] = LLMProposer(**config.llm)
    if not proposers:
        raise PolicyforgeError(f"unknown proposer {config.proposer!r} (gp, llm, mixed)")
    return proposers
