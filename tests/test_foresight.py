"""Foresight and the judge's cost: candidates that make only legal decisions but know the instance's future,
or choose how long the judge works.

- A policy's generator leads back to no seed, and reading its internals is refused by the static check.
- Fingerprinting a public generator from the history a policy sees (the example bin-packing task's items,
  pipelines' policy generator and estimate noise) pays off on public seeds, which these tests show, and
  identifies nothing on the engine's keyed instances: there the hostile policy scores exactly its twin.
- A flood of rejected decisions is refused; a replay over its budget is stopped at the budget.
Hostile policies are in tests/hostile_foresight/; a twin is the file without its `# hostile` lines.
"""

from __future__ import annotations

import resource
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest

from policyforge.contract import Instance, instance_rng, keyed
from policyforge.search.conformance import evaluate_trusted
from policyforge.tasks.registry import get_task, task_class
from policyforge.trust import bounded, sandbox
from policyforge.trust.judge import judge
from policyforge.trust.requests import EvalRequest, EvalResult, Limits
from policyforge.trust.runner import allowed_imports, required_functions, run_sandboxed, sandbox_paths
from policyforge.trust.static_check import check_source

HERE = Path(__file__).parent
HOSTILE = HERE / "hostile_foresight"
TINY = str(HERE / "data" / "tiny_cluster.yaml")
K8S = {"workload": TINY, "test_workloads": [TINY], "train_seeds": [1], "validation_seeds": [2], "test_seeds": [3]}
PIPELINES = {"scenario": "mixed", "train_seeds": [1, 2], "validation_seeds": [5], "test_seeds": [3],
             "test_scenarios": ["mixed"]}
BINPACKING = str(HERE.parent / "examples" / "binpacking" / "task.py") + ":OnlineBinPacking"
SECRET = "a-test-secret"


def twin_of(path: Path, tmp_path: Path) -> Path:
    """The honest twin: the hostile file without its `# hostile` lines."""
    code = path.read_text()
    twin = "\n".join(line for line in code.splitlines() if not line.rstrip().endswith("# hostile")) + "\n"
    assert twin != code
    out = tmp_path / f"twin_{path.name}"
    out.write_text(twin)
    return out


def scores(task, path: Path, instances: list[Instance]) -> dict[str, float]:
    return {k: v.score for k, v in evaluate_trusted(task, path, instances).items()}


@pytest.fixture
def bwrap() -> None:
    if not sandbox.sandbox_available():
        pytest.skip(f"bubblewrap unusable here ({sandbox._bwrap_problem()})")


def sandboxed(ref: str, options: dict, code: str, instances: list[Instance]) -> EvalResult:
    """Exactly as the engine evaluates a candidate: the sandbox, then the bounded judge."""
    task = get_task(ref, **options)
    request = EvalRequest(ref, code, tuple(instances), task.options(),
                          Limits(wall_seconds=120.0, cpu_seconds=120.0, memory_mb=2048), sandbox_paths(ref, task))
    return run_sandboxed(request, False, allowed_imports(task), required_functions(task))


# --- the seed through the policy's generator ----------------------------------------------------------------


def test_a_policys_generator_leads_back_to_no_seed() -> None:
    from policyforge.tasks.k8s_gpu.simulate import Streams
    from policyforge.tasks.pipelines.engine import Engine
    from policyforge.tasks.pipelines.task import instance_inputs

    instance = keyed([Instance("default/seed42", "train", {"workload": "default", "seed": 42})], SECRET)[0]
    public, secret = Streams.of(42), Streams.keyed(instance)
    assert np.random.default_rng(np.random.SeedSequence(42).spawn(3)[2]).random(3).tolist() == \
        public.policy.random(3).tolist()  # published experiments keep their policy stream...
    for rng in (public.policy, secret.policy, instance_rng(instance, "anything")):
        assert rng.bit_generator.seed_seq.entropy == 0  # ...but no generator handed out carries its seed
    task = get_task("pipelines", **PIPELINES)
    for inst in (task.instances()[0], keyed(task.instances()[:1], SECRET)[0]):
        workload, config, sigma, seed, noise = instance_inputs(inst)
        engine = Engine(workload, config, object(), seed, sigma, noise)
        assert engine.random.bit_generator.seed_seq.entropy == 0
    # keyed streams are independent of each other and of the published seed
    assert instance_rng(instance, "policy").random() != instance_rng(instance, "workload").random()
    assert instance_rng(instance, "policy").random() != public.policy.random()


@pytest.mark.parametrize(("ref", "options", "code"), [
    ("k8s-gpu", K8S, "def score(pod, nodes, cluster):\n    return nodes.cpu_free * 0 + "
                     "cluster.random.bit_generator.seed_seq.entropy\n"),
    ("pipelines", PIPELINES, "def schedule(state, results, arrivals, cluster):\n"
                             "    state['seed'] = cluster.random.bit_generator.state\n    return [], []\n"),
])
def test_reading_the_seed_through_the_generator_is_refused(ref: str, options: dict, code: str) -> None:
    task = get_task(ref, **options)
    result = sandboxed(ref, options, code, task.screen_instances())  # refused before any child starts
    assert result.status == "rejected" and "not allowed" in result.reason and not result.scores
    assert "a generator's seed and state" in result.reason


# --- fingerprinting a public generator from the history ----------------------------------------------------


def test_pipelines_fingerprint_pays_on_public_seeds_and_finds_nothing_on_keyed_instances(tmp_path: Path) -> None:
    path = HOSTILE / "pipelines_fingerprint.py"
    task = get_task("pipelines", **PIPELINES)
    assert check_source(path.read_text(), allowed_imports(task), required_functions(task)) is None  # a real threat
    train = [i for i in task.instances() if i.split == "train"]
    twin = twin_of(path, tmp_path)
    hostile, honest = scores(task, path, train), scores(task, twin, train)
    assert all(hostile[i] > honest[i] + 0.5 for i in honest), (hostile, honest)  # public seeds: foresight pays
    secret = keyed(train, SECRET)
    assert scores(task, path, secret) == scores(task, twin, secret)  # keyed: it identifies nothing


def test_pipelines_fingerprint_in_the_sandbox_scores_its_twin(tmp_path: Path, bwrap: None) -> None:
    path = HOSTILE / "pipelines_fingerprint.py"
    instance = keyed(get_task("pipelines", **PIPELINES).screen_instances(), SECRET)
    hostile = sandboxed("pipelines", PIPELINES, path.read_text(), instance)
    honest = sandboxed("pipelines", PIPELINES, twin_of(path, tmp_path).read_text(), instance)
    assert hostile.ok and honest.ok, (hostile.reason, honest.reason)
    assert hostile.scores == honest.scores and hostile.metrics == honest.metrics


def test_binpacking_fingerprint_pays_on_a_public_generator_and_finds_nothing_on_keyed_instances(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = HOSTILE / "binpacking_fingerprint.py"
    task = get_task(BINPACKING, items=120, train_seeds=[1, 2, 3], validation_seeds=[11], test_seeds=[21])
    assert check_source(path.read_text(), allowed_imports(task), required_functions(task)) is None
    chosen = [i for i in task.instances() if i.split == "train" and i.group in ("uniform", "bimodal")]
    twin = twin_of(path, tmp_path)
    secret = keyed(chosen, SECRET)
    keyed_hostile, keyed_honest = scores(task, path, secret), scores(task, twin, secret)
    assert keyed_hostile == keyed_honest  # the guide's way (instance_rng): nothing to fingerprint
    module = sys.modules[task_class(BINPACKING).__module__]

    def published(instance: Instance) -> np.ndarray:  # the example task as it drew items before: seed + crc32
        params = instance.params
        rng = np.random.default_rng([int(params["seed"]), zlib.crc32(params["distribution"].encode())])
        return module.item_sizes(params["distribution"], rng, int(params["items"]))

    monkeypatch.setattr(module, "_sizes", published)
    hostile, honest = scores(task, path, chosen), scores(task, twin, chosen)
    assert sum(hostile.values()) > sum(honest.values()) + 3.0, (hostile, honest)  # there, foresight paid


# --- flooding the judge ----------------------------------------------------------------------------------

FLOOD = '''
from policyforge.tasks.pipelines.features import best_fit


def schedule(state, results, arrivals, cluster):
    flood = [(0, [0], 1, 10.0 ** 6) for _ in range(400)]
    return [], flood
'''


def test_a_flood_of_rejected_assignments_is_refused_with_its_reason(bwrap: None) -> None:
    task = get_task("pipelines", **PIPELINES)
    started = time.monotonic()
    result = sandboxed("pipelines", PIPELINES, FLOOD, keyed(task.screen_instances(), SECRET))
    assert result.status == "invalid_output" and not result.scores
    assert "more than 64 rejected decisions in one call" in result.reason
    assert time.monotonic() - started < 30


COSTLY = str(HOSTILE / "costly_judge_task.py") + ":CostlyJudge"


def judged(decisions: dict, memory_mb: int = 1024) -> EvalResult:
    instance = get_task(COSTLY).instances()[0]
    request = EvalRequest(COSTLY, "", (instance,), {}, Limits(wall_seconds=60.0, cpu_seconds=60.0,
                                                              memory_mb=memory_mb))
    return judge(request, EvalResult("ok", decisions={instance.id: decisions}))


def test_the_judge_stops_a_replay_at_its_budget_and_the_engine_does_not_grow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bounded, "FLOOR_SECONDS", 1.0)
    monkeypatch.setattr(bounded, "_honest", {})
    honest = judged({"spin": 0.0})
    assert honest.ok and honest.scores == {"only": 1.0}
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    flood = judged({"spin": 60.0})  # a replay the decisions make 60 s long
    seconds = time.monotonic() - started
    assert flood.status == "invalid_output" and "longer than its budget of 1.0 s" in flood.reason
    assert seconds < 1.0 + 1.5, seconds  # the budget (10x the honest replay, floor 1 s), plus a kill
    hog = judged({"mb": 1500}, memory_mb=1024)  # a replay the decisions make hold 1.5 GB
    assert hog.status == "invalid_output" and "memory budget" in hog.reason
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss < 50_000  # KB: the engine did not grow
    assert judged({"spin": 0.0}).ok  # and the judge still works
