"""The cache task under the public contract: conformance, trusted scores equal to in-process runs, forged
decisions and hostile candidates through the real sandbox and judge."""

from __future__ import annotations

import json
import textwrap
import types

import numpy as np
import pytest
from cache_data import CACHE_DATA
from clirun import run_cli

from policyforge.contract import PolicyError
from policyforge.search.conformance import check_task
from policyforge.tasks.cache import rank
from policyforge.tasks.cache.task import TWITTER, CacheTask
from policyforge.tasks.registry import get_task
from policyforge.toolkit.policy_files import import_policy_file
from policyforge.trees.grammar import build_grammar, parse_sexpr, render
from policyforge.trust import sandbox
from policyforge.trust.judge import judge
from policyforge.trust.requests import EvalRequest, Limits
from policyforge.trust.runner import allowed_imports, required_functions, sandbox_paths
from policyforge.wire import decode, encode

SMALL = {"window": 20_000, "train_windows": [0], "validation_windows": [20_000], "test_windows": [40_000],
         "modes": ["objects"], "fractions": [0.1], "cloudphysics": False}
"""A task small enough for sandboxed runs in a test (the first 60,000 Twitter requests)."""

HONEST = "import numpy as np\n\n\ndef score(objs, stats):\n    return np.asarray(objs.last_access, dtype=float)\n"


@pytest.fixture(scope="module")
def task() -> CacheTask:
    if not (CACHE_DATA / TWITTER).exists():
        pytest.skip("cache traces not fetched (policyforge data fetch cache)")
    built = CacheTask(**SMALL, data_dir=str(CACHE_DATA))
    built.data_paths()  # decode the windows, as the engine does before sandboxing
    return built


def sandboxed(task: CacheTask, code: str, ref: str = "cache", options: dict | None = None):
    """The engine's path: sandboxed untrusted half, then the trusted judge."""
    if not sandbox.sandbox_available():
        pytest.skip("bubblewrap unusable here")
    request = EvalRequest(ref, code, tuple(task.screen_instances()), options or task.options(),
                          Limits(wall_seconds=120, cpu_seconds=120), sandbox_paths(ref, task))
    return judge(request, sandbox.run(request, allowed_imports=allowed_imports(task),
                                      required_functions=required_functions(task)))


def test_conformance(task):
    assert check_task("cache", **task.options()) == []


def test_registered_and_rebuilt_from_options(task):
    again = get_task("cache", **json.loads(json.dumps(task.options())))
    assert again.instances() == task.instances()
    splits = {i.split for i in task.instances()}
    assert splits == {"train", "validation", "test"}
    assert all(i.group == "twitter/objects/10%" for i in task.instances())


def test_default_splits_hold_out_test_windows_and_cloudphysics():
    task = CacheTask(data_dir=str(CACHE_DATA))
    train = [i for i in task.instances() if i.split == "train"]
    test = [i for i in task.instances() if i.split == "test"]
    last_seen = max(i.params["end"] for i in task.instances() if i.split != "test")
    assert all(i.params["trace"] != TWITTER or i.params["start"] >= last_seen for i in test)
    assert {i.group.split("/")[0] for i in test} == {"twitter", "cloudphysics"}
    assert {i.group for i in train} == {f"twitter/{m}/{f}" for m in ("bytes", "objects") for f in ("10%", "1%")}
    per_group: dict[str, int] = {}
    for i in test:
        per_group[i.group] = per_group.get(i.group, 0) + 1
    assert min(per_group.values()) >= 4  # every held-out group has repeats, so its verdict has an interval
    physics = [i for i in test if i.params["trace"] != TWITTER]
    spans = sorted({(i.params["start"], i.params["end"]) for i in physics})
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False))  # CloudPhysics windows do not overlap


def test_trusted_score_of_a_baseline_equals_both_halves_in_process(task):
    instance = task.screen_instances()[0]
    scores = {}
    for name, path in task.baselines().items():
        module, _ = import_policy_file(path, "cache_test_baseline")
        decisions = decode(json.loads(json.dumps(encode(task.run(module, instance)))))
        scores[name] = task.score(instance, decisions)
        direct = rank.judge(task.trace(instance), "objects", task.capacity(instance), task.run(module, instance))
        assert scores[name].metrics["miss_ratio"] == direct.miss_ratio
    assert scores["fifo"].score == 0.0  # the FIFO policy file reproduces the compiled FIFO exactly
    assert scores["fifo"].metrics["miss_ratio"] == scores["fifo"].metrics["fifo_miss_ratio"]
    result = sandboxed(task, task.baselines()["lru"].read_text())
    assert result.status == "ok", result.reason
    assert result.scores[instance.id] == scores["lru"].score
    assert scores["lru"].score > 0  # LRU beats FIFO on Twitter


FORGING_TASK = '''
import numpy as np
from policyforge.tasks.cache.task import CacheTask


class ForgingTask(CacheTask):
    """The untrusted half tampered with: its decisions are forged after an honest run."""

    def __init__(self, forge="none", **options):
        super().__init__(**options)
        self.forge = forge

    def options(self):
        return {**super().options(), "forge": self.forge}

    def run(self, policy, instance):
        victims = super().run(policy, instance)["victims"]
        if self.forge == "unknown":
            victims = np.concatenate([np.array([12345678901234567], np.uint64), victims[1:]])
        elif self.forge == "not-cached":
            victims = np.concatenate([victims[:1], victims[:1], victims[2:]])
        elif self.forge == "short":
            victims = victims[:-1]
        elif self.forge == "long":
            victims = np.concatenate([victims, victims[-1:]])
        elif self.forge == "floats":
            victims = victims.astype(np.float64)
        return {"victims": victims}
'''


@pytest.mark.parametrize("forge, reason", [("unknown", "not cached"), ("not-cached", "not cached"),
                                           ("short", "decisions ended"), ("long", "left over"),
                                           ("floats", "array of object ids")])
def test_forged_decisions_are_invalid_output_through_the_sandbox(task, tmp_path, forge, reason):
    path = tmp_path / "forging_task.py"
    path.write_text(FORGING_TASK)
    ref = f"{path}:ForgingTask"
    result = sandboxed(task, HONEST, ref, {**task.options(), "forge": forge})
    assert result.status == "invalid_output"
    assert reason in result.reason


def test_decisions_that_are_not_ids_are_refused(task):
    instance = task.screen_instances()[0]
    for bad in ({}, {"victims": np.zeros((2, 2), np.int64)}, {"victims": np.array([-1], np.int64)},
                {"victims": [1.5]}):
        with pytest.raises(PolicyError):
            task.score(instance, bad)


def test_only_the_mechanisms_own_evictions_pass_the_judge(task):
    """Victims forged from a true run (through the wire, as a child would send them): every eviction the
    mechanism would not make, any count but the exact one, any other type is refused; claimed figures are
    ignored."""
    instance = task.screen_instances()[0]
    module, _ = import_policy_file(task.baselines()["lru"], "cache_forge_lru")
    victims = task.run(module, instance)["victims"]
    honest = task.score(instance, {"victims": victims})
    forged = {
        "not cached": [victims[::-1], np.concatenate([victims[:100], victims[99:]]),  # out of order; one extra
                       np.concatenate([np.array([2**64 - 1], np.uint64), victims[1:]])],  # an unknown id
        "decisions ended": [victims[:0], victims[:-1]],  # none, hoping capacity goes unchecked; one short
        "left over": [np.concatenate([victims, victims[-1:]])],
        "negative object id": [np.concatenate([np.array([-1], np.int64), victims[1:].astype(np.int64)])],
        "array of object ids": [victims.astype(np.float64), np.ones(len(victims), np.bool_), victims[None, :],
                                victims[0], ["1", "2"]],
    }
    for reason, cases in forged.items():
        for victims_forged in cases:
            with pytest.raises(PolicyError, match=reason):
                task.score(instance, decode(json.loads(json.dumps(encode({"victims": victims_forged})))))
    claimed = decode(json.loads(json.dumps(encode({"victims": victims, "miss_ratio": 0.0, "score": 1e9}))))
    assert task.score(instance, claimed) == honest


HOSTILE = '''
import numpy as np


def score(objs, stats):
    """Keeps the honest LRU answer, then tries to reach the mechanism through every argument."""
    keep = np.array(objs.last_access, dtype=float)
    for name in dir(objs):
        column = getattr(objs, name)
        try:
            column.flags.writeable = True
            column[...] = -1.0e18  # e.g. mark every row a hit, every object just inserted
        except (ValueError, TypeError, AttributeError):
            pass
    for target, name in ((objs, "hit"), (objs, "count"), (stats, "capacity")):
        try:
            object.__setattr__(target, name, np.zeros(len(objs)))
        except (AttributeError, TypeError):
            pass
    try:
        objs._columns["hit"] = np.ones(len(objs))
        stats._columns["capacity"] = 1.0e18
    except (AttributeError, TypeError, KeyError):
        pass
    return keep
'''


def test_hostile_candidate_scores_as_its_honest_twin_or_is_refused(task):
    honest = sandboxed(task, HONEST)
    hostile = sandboxed(task, HOSTILE)
    assert honest.status == "ok", honest.reason
    assert hostile.status == "rejected" or hostile.scores == honest.scores, (hostile.status, hostile.reason)
    # In-process too (no static check there): the copies it scribbles on are its own.
    instance = task.screen_instances()[0]
    ns: dict = {}
    exec(compile(HOSTILE, "hostile", "exec"), ns)  # noqa: S102 - trusted test code
    trace, capacity = task.trace(instance), task.capacity(instance)
    mine = rank.run_policy(trace, "objects", capacity, ns["score"])["victims"]
    lru = rank.run_policy(trace, "objects", capacity, lambda objs, stats: objs.last_access)["victims"]
    assert np.array_equal(mine, lru)


def test_gp_seeds_render_to_policies_that_match_the_baselines(task):
    grammar = build_grammar(task.spec, task.search_hints().gp_table)
    instance = task.screen_instances()[0]
    for name in ("lru", "lfu", "gdsf-rank", "gdsf-like", "size-aware"):
        tree = parse_sexpr(task.search_hints().gp_table.seeds[name])
        assert grammar.valid_program(tree), name
        module = _module_from(render(grammar, tree), name)
        seeded = task.score(instance, task.run(module, instance)).score
        baseline, _ = import_policy_file(task.baselines()[name], "cache_seed_baseline")
        assert seeded == pytest.approx(task.score(instance, task.run(baseline, instance)).score, abs=1e-9), name


def _module_from(code: str, name: str):
    import types

    module = types.ModuleType(f"cache_seed_{name.replace('-', '_')}")
    exec(compile(textwrap.dedent(code), module.__name__, "exec"), module.__dict__)  # noqa: S102
    return module


def test_mechanism_baselines_are_reference_baselines_and_belady_is_only_the_bound(task):
    instance = task.screen_instances()[0]
    module, _ = import_policy_file(task.baselines()["lru"], "cache_fb")
    evaluation = task.score(instance, task.run(module, instance))
    names = task.reference_baselines()
    assert {"arc", "s3fifo", "lirs", "cacheus", "wtinylfu"} <= set(names) and "belady" not in names
    references = task.reference_scores(instance)
    for name in names:
        assert task.reference_evaluation(name, instance).score == references[name]
    text = task.feedback({instance.id: evaluation.score}, {instance.id: evaluation.metrics},
                         {"fifo": {instance.id: 0.0}, "s3fifo": {instance.id: references["s3fifo"]}})
    assert "s3fifo" in text and "Belady" in text and instance.id in text
    assert references["belady"] > max(v for k, v in references.items() if k != "belady")


JIT_PROBE = """
import numpy as np
from policyforge.tasks.cache import rank, _rank_kernels as kernels
ids = (np.arange(300) % 40).astype(np.uint64)
trace = rank.make_trace("probe", np.arange(300), ids, np.ones(300, dtype=np.int64))
rank.run_policy(trace, "objects", 10, lambda objs, stats: objs.last_access * 2.0, lambda objs, stats: objs.count)
used = [getattr(kernels, n).stats for n in ("stream_features", "chunk", "advance")]
print(sum(sum(s.cache_hits.values()) for s in used), sum(sum(s.cache_misses.values()) for s in used))
"""


def test_the_sandboxed_child_loads_the_compiled_mechanism_instead_of_compiling_it(task):
    """numba cannot write its cache in the read-only sandbox; the child must still load what the engine
    compiled (data_paths warms it up), or every evaluation pays the compilation again."""
    import subprocess
    import sys

    if not sandbox.sandbox_available():
        pytest.skip("bubblewrap unusable here")
    rank.warm_up()
    env = [arg for k, v in sandbox._child_env(home="/tmp").items() for arg in ("--setenv", k, v)]
    command = [sandbox._bwrap()[0], *sandbox._bwrap_args(), *env, "--", sys.executable, "-c", JIT_PROBE]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    hits, misses = map(int, result.stdout.split())
    assert (hits, misses) == (3, 0)


ADMITTING = HONEST + "\n\ndef admit(objs, stats):\n    return np.asarray(objs.total_count, dtype=float) - 1.5\n"


def test_an_admission_hook_runs_in_the_sandbox_and_the_judge_replays_its_refusals(task):
    """`admit` is optional: a policy refusing first accesses scores what both halves give in-process, and
    differently from its twin without the hook."""
    instance = task.screen_instances()[0]
    result = sandboxed(task, ADMITTING)
    assert result.status == "ok", result.reason
    module = types.ModuleType("admitting")
    exec(compile(ADMITTING, "admitting", "exec"), module.__dict__)  # noqa: S102  (our own code)
    decisions = task.run(module, instance)
    assert len(decisions["rejected"]) > 0
    assert result.scores[instance.id] == task.score(instance, decisions).score
    assert result.scores[instance.id] != sandboxed(task, HONEST).scores[instance.id]


CARRY = '''import numpy as np

NEXT = {}


def score(objs, stats):
    now = np.asarray(objs.last_access, dtype=float)
    prev = np.asarray(objs.prev_access, dtype=float)
    for p, t in zip(prev.tolist(), now.tolist()):
        if p >= 0:
            NEXT[p] = t
    # the next access of this row's object, as learnt on an earlier instance of the same trace window
    return -np.array([NEXT.get(t, 1.0e12) for t in now.tolist()])
'''


def test_module_state_cannot_carry_one_instance_into_the_next(tmp_path):
    """Two instances of one trace window (two cache sizes): had they shared a child, a policy remembering
    every (previous access -> access) pair from the first would evict as Belady on the second. Candidates
    get one child per instance, in the engine and in `policyforge evaluate`, so it scores as LRU (with nothing
    remembered its scores all tie, and ties evict the least recently scored)."""
    from policyforge.search.evaluation import Evaluator
    from policyforge.search.loop import EvolveConfig

    if not sandbox.sandbox_available():
        pytest.skip("bubblewrap unusable here")
    options = {**SMALL, "fractions": [0.1, 0.05], "data_dir": str(CACHE_DATA)}
    task = get_task("cache", **options)
    train = [i for i in task.instances() if i.split == "train"]
    assert len(train) == 2
    lru = (rank.POLICY_DIR / "lru.py").read_text()
    evaluator = Evaluator(EvolveConfig(task="cache", task_options=options), task)
    try:
        carried = evaluator.submit(CARRY, train, split=True).result()
        honest = evaluator.submit(lru, train, split=True).result()
    finally:
        evaluator.close()
    assert carried.ok and honest.ok, (carried.reason, honest.reason)
    assert carried.scores == honest.scores
    path = tmp_path / "carry.py"
    path.write_text(CARRY)
    shown = run_cli("evaluate", "--task", "cache", "--task-options", json.dumps(options), "--policy", str(path),
                    "--split", "train", "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["scores"] == honest.scores
