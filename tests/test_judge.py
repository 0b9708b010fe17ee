"""The judge: scores come only from trusted replays of a candidate's decisions.

Three kinds of attack, each through the real sandbox and judge:
- candidates that attack what they can reach in their task (constants, feature modules, the views handed in,
  the mechanism): each is refused, or scores exactly what its honest twin (the file without its `# hostile`
  lines) scores;
- a doctored worker that forges the child's whole answer: the judge refuses it or scores the true run;
- the run's store, fed a forging candidate: it records the trusted figures or `invalid_output`.
And a walk over everything a policy may import, which must hold no mutable container.
"""

from __future__ import annotations

import math
import os
import re
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from cache_data import CACHE_DATA

from policyforge.contract import Task
from policyforge.tasks.registry import BUILTIN, get_task, task_class
from policyforge.trust import sandbox
from policyforge.trust.requests import EvalRequest, EvalResult, Limits
from policyforge.trust.runner import allowed_imports, required_functions, run_sandboxed, sandbox_paths

HERE = Path(__file__).parent
BINPACKING_REF = f"{HERE.parent / 'examples' / 'binpacking' / 'task.py'}:OnlineBinPacking"
CASES = sorted((HERE / "hostile_tasks").glob("*.py"))
TINY = str(HERE / "data" / "tiny_cluster.yaml")
TASKS = {
    "k8s-gpu": {"workload": TINY, "test_workloads": [TINY], "train_seeds": [1], "validation_seeds": [2],
                "test_seeds": [3]},
    "pipelines": {"scenario": "mixed", "train_seeds": [1], "validation_seeds": [2], "test_seeds": [3],
                  "test_scenarios": ["mixed"]},
    # the first 60,000 Twitter requests; its screen instance is 20,000 requests, objects mode, 10% cache
    "cache": {"window": 20_000, "train_windows": [0], "validation_windows": [20_000], "test_windows": [40_000],
              "modes": ["objects"], "fractions": [0.1], "cloudphysics": False, "data_dir": str(CACHE_DATA)},
}
REFUSED = ("rejected", "invalid_output", "crashed")


@pytest.fixture
def bwrap() -> None:
    if not sandbox.sandbox_available():
        message = f"bubblewrap unusable here ({sandbox._bwrap_problem()})"
        if os.environ.get("POLICYFORGE_REQUIRE_SANDBOX"):
            pytest.fail(message)
        pytest.skip(message)


def evaluate(ref: str, code: str) -> EvalResult:
    """One candidate on the task's screen instance, exactly as the engine evaluates it."""
    if ref == "cache" and not (CACHE_DATA / "twitter_cluster52_10m.csv.zst").exists():
        pytest.skip("cache traces not fetched (policyforge data fetch cache)")
    task = get_task(ref, **TASKS[ref])
    request = EvalRequest(ref, code, tuple(task.screen_instances()), task.options(),
                          Limits(wall_seconds=120.0, cpu_seconds=120.0, memory_mb=2048), sandbox_paths(ref, task))
    return run_sandboxed(request, False, allowed_imports(task), required_functions(task))


def header(path: Path) -> tuple[str, str]:
    found = re.match(r"# task: (\S+) \| expect: (twin|refused) \| \S", path.read_text().splitlines()[0])
    assert found, f"{path.name}: first line must be '# task: NAME | expect: twin|refused | what it attempts'"
    return found.group(1), found.group(2)


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_a_candidate_attacking_its_task_is_refused_or_scores_as_its_honest_twin(path: Path, bwrap: None) -> None:
    ref, expect = header(path)
    code = path.read_text()
    twin = "\n".join(line for line in code.splitlines() if not line.rstrip().endswith("# hostile")) + "\n"
    assert twin != code
    honest = evaluate(ref, twin)
    assert honest.ok, honest.reason  # the twin is a real policy with real scores
    assert all(math.isfinite(v) for v in honest.scores.values())
    result = evaluate(ref, code)
    if expect == "refused":
        assert result.status in REFUSED and result.reason and "\n" not in result.reason
        assert not result.scores
    else:
        assert result.ok, result.reason
        assert result.scores == honest.scores and result.metrics == honest.metrics


# --- the doctored worker ----------------------------------------------------------------------------------
DOCTOR = HERE / "doctored_worker.py"


def doctored(mode: str, monkeypatch: pytest.MonkeyPatch) -> EvalResult:
    monkeypatch.setattr(sandbox, "_worker_command", lambda tag: [sys.executable, "-s", "-B", str(DOCTOR), tag])
    code = f"import numpy as np\n\n\ndef score(pod, nodes, cluster):\n    return -nodes.cpu_free  # doctor: {mode}\n"
    return evaluate("k8s-gpu", code)


@pytest.mark.parametrize(("mode", "status", "reason"), [
    ("scores", "invalid_output", "malformed result line"),
    ("wrong-instance", "invalid_output", "decisions for the wrong instances"),
    ("all-on-node-0", "invalid_output", "illegal placement"),
    ("refuse-all", "invalid_output", "left unplaced, but node"),
    ("two-lines", "invalid_output", "2 result lines"),
    ("exit-1", "crashed", "exited with code 1"),
    ("nan", "invalid_output", "decisions lack 'gpu_mask'"),
])
def test_a_doctored_worker_cannot_forge_a_score(mode: str, status: str, reason: str, bwrap: None,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    result = doctored(mode, monkeypatch)
    assert (result.status, result.scores) == (status, {}), result.reason
    assert reason in result.reason


@pytest.mark.parametrize("mode", ["cache-extra", "cache-claims"])
def test_a_doctored_cache_worker_gets_only_what_its_victims_earn(mode: str, bwrap: None,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """cache-extra: LRU's victims with one eviction the mechanism never needed, mid-run (refused); cache-claims:
    LRU's victims plus a claimed miss ratio and score (the claims are ignored, the victims judged). More
    forgeries, in process: tests/test_cache_task.py."""
    lru = "def score(objs, stats):\n    return objs.last_access\n"
    monkeypatch.setattr(sandbox, "_worker_command", lambda tag: [sys.executable, "-s", "-B", str(DOCTOR), tag])
    forged = evaluate("cache", lru.replace("\n", f"  # doctor: {mode}\n", 2))
    if mode == "cache-extra":
        assert (forged.status, forged.scores) == ("invalid_output", {}) and "is not cached" in forged.reason
        return
    task = get_task("cache", **TASKS["cache"])
    instance = task.screen_instances()[0]
    module = types.ModuleType("lru")
    module.score = lambda objs, stats: objs.last_access
    honest = task.score(instance, task.run(module, instance))
    assert forged.ok, forged.reason
    assert forged.scores == {instance.id: honest.score} and forged.metrics == {instance.id: honest.metrics}


def test_a_doctored_worker_sending_a_true_run_gets_that_runs_score(bwrap: None,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Decisions are judged on their merits: BestFit's real decisions score exactly as BestFit does."""
    from policyforge.tasks.k8s_gpu.policy import baseline_path

    bestfit = evaluate("k8s-gpu", baseline_path("bestfit").read_text())
    forged = doctored("honest", monkeypatch)
    assert forged.ok and forged.scores == bestfit.scores and forged.metrics == bestfit.metrics


def test_the_run_records_trusted_figures_when_the_child_forges(tmp_path: Path, bwrap: None,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from policyforge.search.loop import Evolution, EvolveConfig
    from policyforge.search.proposers.base import Proposal
    from policyforge.search.store import Store

    class Forger:
        name = "forger"

        def propose(self, parents, context, seed):
            mode, scale = ("scores", 1) if seed % 2 == 0 else ("honest", 2)  # not duplicates of each other
            return Proposal(f"import numpy as np\n\n\ndef score(pod, nodes, cluster):\n    return -{scale} * "
                            f"nodes.cpu_free  # doctor: {mode}\n", "forger")

    config = EvolveConfig(task="k8s-gpu", task_options=TASKS["k8s-gpu"], proposer="gp", max_samples=2,
                          batch_size=1, jobs=1, cascade=False, validate_top=0)
    evolution = Evolution(tmp_path / "run", config, proposer_factory=lambda c, t: {"gp": Forger()})
    evolution._evaluate_baselines()  # with the real worker
    monkeypatch.setattr(sandbox, "_worker_command", lambda tag: [sys.executable, "-s", "-B", str(DOCTOR), tag])
    try:
        evolution.search()
    finally:
        evolution.evaluator.close()
    store = Store(tmp_path / "run" / "run.sqlite")
    samples = store.all("sample IS NOT NULL", order="sample")
    bestfit = next(c for c in store.all("proposer = 'baseline'") if c.name == "bestfit")
    assert [c.status for c in samples] == ["invalid_output", "ok"]
    assert samples[0].score is None and not samples[0].scores
    assert samples[1].scores == bestfit.scores  # the honest forger scored as the run it sent
    assert max(c.score for c in store.all("score IS NOT NULL")) < 1e9


# --- nothing a policy may import is mutable ---------------------------------------------------------------
MUTABLE = (dict, list, set, bytearray)


def _immutable_problems(value: object, path: str, seen: set[int]) -> list[str]:
    if id(value) in seen or isinstance(value, str | bytes | int | float | complex | bool | type(None)):
        return []
    seen.add(id(value))
    if isinstance(value, MUTABLE):
        return [f"{path} is a mutable {type(value).__name__}"]
    if isinstance(value, np.ndarray):
        return [f"{path} is a writable array"] if value.flags.writeable else []
    if isinstance(value, tuple | frozenset):
        return [p for i, item in enumerate(value) for p in _immutable_problems(item, f"{path}[{i}]", seen)]
    if isinstance(value, types.MappingProxyType):
        return [p for k, item in value.items() for p in _immutable_problems(item, f"{path}[{k!r}]", seen)]
    if isinstance(value, types.FunctionType):
        defaults = (value.__defaults__ or ()) + tuple((value.__kwdefaults__ or {}).values())
        return [p for d in defaults for p in _immutable_problems(d, f"{path}(default)", seen)]
    if isinstance(value, type):
        return [p for name, item in vars(value).items() if not name.startswith("_")
                for p in _immutable_problems(item, f"{path}.{name}", seen)]
    if isinstance(value, types.ModuleType | types.BuiltinFunctionType | np.ufunc):
        return []
    return [f"{path} is a {type(value).__name__}, which may hold mutable state"]


def _task_modules(cls: type[Task]) -> list[str]:
    gp_spec = get_task(cls.name, **TASKS[cls.name]).search_hints().gp_spec
    specs = [cls.spec, *cls.interfaces, *([gp_spec] if gp_spec else [])]
    return sorted({m for spec in specs for m in spec.allowed_imports if m.startswith("policyforge")})


@pytest.mark.parametrize("ref", list(BUILTIN))
def test_nothing_a_policy_may_import_is_mutable_or_beyond_its_exports(ref: str) -> None:
    import importlib

    cls = task_class(ref)
    others = {m for spec in (cls.spec, *cls.interfaces) for m in spec.allowed_imports} - set(_task_modules(cls))
    assert others <= {"math", "numpy"}, f"{ref} lets policies import {others - {'math', 'numpy'}}"
    for name in _task_modules(cls):
        module = importlib.import_module(name)
        exported = getattr(module, "__all__", None)
        assert exported is not None, f"{name} must declare __all__ (what policies may use)"
        problems = [p for attr in exported for p in _immutable_problems(getattr(module, attr), f"{name}.{attr}", set())]
        assert not problems, problems


def test_a_feature_module_exports_only_its_all() -> None:
    from policyforge.trust.static_check import check_source

    allowed = ("numpy", "policyforge.tasks.pipelines.features")
    ok = "from policyforge.tasks.pipelines.features import WEIGHTS\n\ndef rank(ops, load):\n    return ops.weight\n"
    assert check_source(ok, allowed, ("rank",)) is None
    for head in ("from policyforge.tasks.pipelines.features import SCALING\n",
                 "from policyforge.tasks.pipelines.features import np\n"):
        assert "exports only" in check_source(head + "\ndef rank(ops, load):\n    return ops.weight\n", allowed, ("rank",))
    via_module = ("from policyforge.tasks.pipelines import features as f\n\ndef rank(ops, load):\n"
                  "    return ops.weight * len(f.SCALING)\n")
    assert "exports only" in check_source(via_module, allowed, ("rank",))


# --- simulate runs a user's policy file in the sandbox --------------------------------------------------
def _cli(*args: str):
    from clirun import run_cli  # in this process; the policy file still runs in a sandboxed child

    return run_cli(*args)


def test_simulate_runs_a_policy_file_in_the_sandbox_with_the_same_numbers(tmp_path: Path, bwrap: None) -> None:
    import json

    from policyforge.tasks.k8s_gpu.policy import baseline_path

    mine = tmp_path / "mine.py"
    mine.write_text(baseline_path("bestfit").read_text())
    out = _cli("simulate", "--workload", TINY, "--policy", f"bestfit,{mine}", "--seeds", "1-2", "--json")
    assert out.returncode == 0, out.stderr
    policies = json.loads(out.stdout)["policies"]
    assert policies["mine"]["alloc_at_100"] == policies["bestfit"]["alloc_at_100"]
    assert [r["alloc_at_100"] for r in policies["mine"]["per_seed"]] == \
        [r["alloc_at_100"] for r in policies["bestfit"]["per_seed"]]
    hostile = tmp_path / "hostile.py"
    hostile.write_text("import os\n\n\ndef score(pod, nodes, cluster):\n    return [len(os.environ)] * len(nodes)\n")
    refused = _cli("simulate", "--workload", TINY, "--policy", str(hostile), "--seeds", "1")
    assert refused.returncode == 2 and "rejected" in refused.stderr and "'os'" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1


def test_simulate_pipelines_policy_file_in_the_sandbox(tmp_path: Path, bwrap: None) -> None:
    import json

    from policyforge.tasks.pipelines.policy import baseline_path

    params = tmp_path / "p.toml"
    params.write_text("duration = 60\nticks_per_second = 100\nnum_pools = 2\nscheduler_algo = 'priority'\n")
    mine = tmp_path / "mine.py"
    mine.write_text(baseline_path("priority").read_text())
    out = _cli("simulate", "--task", "pipelines", "--params", str(params), "--policy", f"priority,{mine}", "--json")
    assert out.returncode == 0, out.stderr
    policies = json.loads(out.stdout)["policies"]
    same = ("throughput", "assignments", "suspensions", "failures", "score")
    assert {k: policies["mine"][k] for k in same} == {k: policies["priority"][k] for k in same}


def test_a_judge_process_serves_again_only_after_an_ok_replay() -> None:
    """A refused replay may have filled caches in its judge process (a hostile log's sizes become cache
    keys): the next call gets a fresh process. An honest one keeps the process warm."""
    from policyforge.trust import bounded

    task = get_task(BINPACKING_REF, items=40)
    instance = next(i for i in task.instances() if i.split == "test")
    best_fit = types.ModuleType("best_fit")
    exec(compile((HERE.parent / "examples" / "binpacking" / "baselines" / "best_fit.py").read_text(), "bf", "exec"),
         best_fit.__dict__)
    honest = task.run(best_fit, instance)
    limit = bounded.Budget(seconds=60.0, memory_mb=1024)
    bounded.shutdown()
    assert bounded.score(BINPACKING_REF, task.options(), instance, honest, limit).status == "ok"
    warm = list(bounded._idle[1024])
    assert len(warm) == 1
    forged = {"bin": np.full_like(np.asarray(honest["bin"]), 10**6)}
    assert bounded.score(BINPACKING_REF, task.options(), instance, forged, limit).status == "invalid"
    assert bounded._idle.get(1024, []) == [] and warm[0].proc.poll() is not None  # retired, not kept warm
    assert bounded.score(BINPACKING_REF, task.options(), instance, honest, limit).status == "ok"
    bounded.shutdown()
