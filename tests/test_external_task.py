"""A task written outside the package (examples/binpacking) is first-class: found by file:Class, module:Class
or entry point, conformant, evolvable in the sandbox, judged by its trusted half; and the guide's commands
(docs/write-your-own-task.md) are the ones run here."""

from __future__ import annotations

import json
import os
import re
import shlex
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from clirun import run_cli

from policyforge.contract import Instance, keyed
from policyforge.search.conformance import evaluate_trusted
from policyforge.tasks.registry import get_task, task_class
from policyforge.toolkit.policy_files import import_policy_file
from policyforge.trust.judge import judge
from policyforge.trust.requests import EvalRequest, EvalResult
from policyforge.trust.sandbox import sandbox_available

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "binpacking"
REF = f"{EXAMPLE / 'task.py'}:OnlineBinPacking"
GUIDE = ROOT / "docs" / "write-your-own-task.md"

needs_sandbox = pytest.mark.skipif(not sandbox_available() and not os.environ.get("POLICYFORGE_REQUIRE_SANDBOX"),
                                   reason="bubblewrap not available")


def cli(*args: str, cwd: Path = ROOT):
    """In this process: the output and exit code are under test, not the process start."""
    return run_cli(*args, cwd=cwd)


def process(*args: str, env: dict) -> subprocess.CompletedProcess:
    """A real child, for what only a new interpreter sees (PYTHONPATH, installed distributions)."""
    return subprocess.run([sys.executable, "-m", "policyforge.cli", *args], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=600)


def guide_commands() -> list[str]:
    """Every `policyforge ...` line of the guide's bash blocks, in order."""
    blocks = re.findall(r"```bash\n(.*?)```", GUIDE.read_text(), flags=re.S)
    return [line.strip() for block in blocks for line in block.splitlines() if line.startswith("policyforge ")]


def guide_command(prefix: str) -> list[str]:
    """The guide's one command starting `policyforge PREFIX`, as arguments after `policyforge`."""
    found = [shlex.split(c)[1:] for c in guide_commands() if c.startswith(f"policyforge {prefix}")]
    assert len(found) == 1, (prefix, guide_commands())
    return found[0]


# --- the example's own contract ------------------------------------------------------------------------


def test_feature_module_exports_exactly_its_all_and_nothing_mutable():
    task = get_task(REF)  # loading the task file puts its folder on sys.path
    import binpacking_features as features

    public = {name for name in vars(features) if not name.startswith("_")}
    assert isinstance(features.__all__, tuple) and public == set(features.__all__)
    assert {fn.name for fn in task.spec.features} <= public
    for name in features.__all__:
        value = getattr(features, name)
        assert callable(value) or isinstance(value, tuple | int | float | str) or \
            (isinstance(value, np.ndarray) and not value.flags.writeable), name


def test_views_match_the_declaration_and_are_read_only():
    module = sys.modules[task_class(REF).__module__]
    packing = module.Packing(100, 10)
    packing.place(0, 60, 0)
    packing.place(1, 30, 1)
    candidates = packing.candidates(45)  # bin 0 has 40 free: only bin 1 and the new bin 2 can take it
    live = {"item": module.ItemView(45, 100, 2, packing.open_bins), "bins": module.BinsView.of(packing, candidates)}
    assert candidates.tolist() == [1, 2]
    for view in task_class(REF).spec.views:
        obj = live[view.name]
        for spec in view.fields:
            value = getattr(obj, spec.name)
            if spec.shape == "K":
                assert value.shape == (len(candidates),) and not value.flags.writeable, spec.name
    assert live["bins"].is_new.tolist() == [0, 1] and live["bins"].free.tolist() == [70, 100]


def test_tasks_check_passes_from_the_command_line():
    args = guide_command("tasks check")
    assert args == ["tasks", "check", "examples/binpacking/task.py:OnlineBinPacking"]
    result = cli(*args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAIL" not in result.stdout and result.stdout.strip().endswith("conformant")
    assert "ok   views are read-only" in result.stdout


def test_a_task_registered_by_entry_point_is_listed_and_checked(tmp_path):
    """A dist-info folder on the path is what an installed package leaves behind for importlib.metadata."""
    site = tmp_path / "site"
    info = site / "binpacking_demo-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: binpacking-demo\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[policyforge.tasks]\nbinpacking-demo = task:OnlineBinPacking\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(EXAMPLE)])}
    listed = process(*guide_command("tasks list"), env=env)
    names = listed.stdout.split()
    assert listed.returncode == 0 and names[:2] == ["k8s-gpu", "pipelines"] and "binpacking-demo" in names
    checked = process("tasks", "check", "binpacking-demo", env=env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.strip().splitlines()[-1] == "binpacking-demo: conformant"


@pytest.mark.parametrize("command", ["check", "evaluate", "evolve", "simulate"])
@pytest.mark.parametrize("ref, message", [
    ("nosuch.py:X", "task file not found"),
    ("os:path", "path is not a subclass of policyforge.contract.Task"),
    ("no_such_module_here:Task", "cannot import no_such_module_here"),
    ("NOTATASK", "is not a subclass of policyforge.contract.Task"),
    ("BROKEN", "failed to load: ZeroDivisionError"),
    ("nosuchname", "unknown task 'nosuchname'"),
])
def test_an_unusable_task_reference_is_one_line_and_exit_2(tmp_path, command, ref, message):
    (tmp_path / "plain.py").write_text("class NotATask:\n    pass\n")
    (tmp_path / "broken.py").write_text("1 / 0\n")
    ref = {"NOTATASK": f"{tmp_path / 'plain.py'}:NotATask", "BROKEN": f"{tmp_path / 'broken.py'}:Task"}.get(ref, ref)
    policy = EXAMPLE / "baselines" / "best_fit.py"
    args = {"check": ["tasks", "check", ref],
            "evaluate": ["evaluate", "--task", ref, "--policy", str(policy)],
            "evolve": ["evolve", "--task", ref, "--run-dir", str(tmp_path / "run")],
            "simulate": ["simulate", "--task", ref, "--policy", str(policy)]}[command]
    result = cli(*args, cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("policyforge: error:") and message in lines[0], lines
    assert not (tmp_path / "run").exists()


def test_the_guide_names_the_real_cache_location_and_the_len_a_gp_view_needs(monkeypatch, tmp_path):
    from policyforge.search.evaluation import result_cache_path
    from policyforge.search.proposers.gp import GPProposer

    text = " ".join(GUIDE.read_text().split())
    task = get_task(REF)
    monkeypatch.delenv("POLICYFORGE_DATA", raising=False)
    assert result_cache_path(task) == Path("data/results/evaluations.sqlite")
    assert "`data/results/evaluations.sqlite`" in text and "`$POLICYFORGE_DATA`" in text
    monkeypatch.setenv("POLICYFORGE_DATA", str(tmp_path))
    assert result_cache_path(task) == tmp_path / "results" / "evaluations.sqlite"
    assert GPProposer.for_task(task).grammar.length_expr == "len(bins)"  # the vector view, sized by len()
    assert "`len(<vector_view>)`" in text and "must define `__len__`" in text
    assert len(sys.modules[type(task).__module__].BinsView(*[np.zeros(3)] * 5)) == 3


def test_a_task_with_a_hook_outside_its_group_is_refused_in_one_line(tmp_path):
    """A task written against the old contract (a loose `feedback`, say) is told where the hook went, never
    silently run without it."""
    source = (EXAMPLE / "task.py").read_text()
    (tmp_path / "old.py").write_text(source.replace("    def search_hints(self)", "    def feedback(self, *args):\n"
                                                    "        return ''\n\n    def _unused_hints(self)"))
    result = cli("tasks", "check", f"{tmp_path / 'old.py'}:OnlineBinPacking", cwd=tmp_path)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stdout + result.stderr
    assert re.search(r"OnlineBinPacking\.(feedback|proxy_instances) is not read by policyforge: return it from "
                     r"OnlineBinPacking\.search_hints\(\)", lines[0]), lines


# --- the trusted half ------------------------------------------------------------------------------------

OPTIONS = {"items": 60}


def forged(decisions: dict, instance: Instance) -> EvalResult:
    request = EvalRequest(REF, "", (instance,), OPTIONS)
    return judge(request, EvalResult("ok", decisions={instance.id: decisions}))


def honest_run() -> tuple[Instance, np.ndarray]:
    """A train instance and first fit's decisions on it, from the untrusted half run in this process."""
    task = get_task(REF, **OPTIONS)
    instance = next(i for i in task.instances() if i.group == "uniform")
    policy, _ = import_policy_file(EXAMPLE / "baselines" / "first_fit.py", "test_external")
    return instance, np.asarray(task.run(policy, instance)["bin"])


def test_honest_decisions_are_scored():
    instance, bins = honest_run()
    result = forged({"bin": bins}, instance)
    assert result.status == "ok" and 0 < result.scores[instance.id] <= 100
    assert result.metrics[instance.id]["bins"] == bins.max() + 1


@pytest.mark.parametrize("forge, reason", [
    (lambda b: _set(b, 5, 10_000), "item 5: bin 10000 does not exist"),
    (lambda b: _set(b, 5, -1), "item 5: bin -1 does not exist"),
    (lambda b: np.zeros_like(b), "does not fit in bin 0"),
    (lambda b: b[:-1], "has 59 entries, expected 60"),
    (lambda b: b.astype(float), "is not a 1-D integer array"),
    (lambda b: "all in bin 0", "is not a 1-D integer array"),
])
def test_forged_decisions_are_invalid_output_with_the_reason(forge, reason):
    instance, bins = honest_run()
    result = forged({"bin": forge(bins.copy())}, instance)
    assert result.status == "invalid_output" and reason in result.reason, result.reason
    assert result.reason.startswith(instance.id)


def test_decisions_without_the_key_or_for_other_instances_are_refused():
    instance, bins = honest_run()
    assert "decisions lack 'bin'" in forged({"bins": bins}, instance).reason
    request = EvalRequest(REF, "", (instance,), OPTIONS)
    result = judge(request, EvalResult("ok", decisions={"other/seed1": {"bin": bins}}))
    assert result.status == "invalid_output" and "wrong instances" in result.reason


def _set(array: np.ndarray, index: int, value: int) -> np.ndarray:
    array[index] = value
    return array


# --- the sandbox and the engine ---------------------------------------------------------------------------


@needs_sandbox
@pytest.mark.parametrize("body, status, reason", [
    ("return np.full(len(bins), np.nan)", "invalid_output", "must return"),
    ("bins.free[0] = 0\n    return np.zeros(len(bins))", "crashed", "read-only"),
    ("return remaining(item, bins)[:1]", "invalid_output", "finite numbers"),
])
def test_a_bad_policy_fails_in_the_sandbox_with_its_reason(tmp_path, body, status, reason):
    policy = tmp_path / "bad.py"
    policy.write_text(f"import numpy as np\nfrom binpacking_features import remaining\n\n\n"
                      f"def score(item, bins):\n    {body}\n")
    result = cli("evaluate", "--task", REF, "--policy", str(policy), "--split", "screen", "--json", cwd=tmp_path)
    data = json.loads(result.stdout)
    assert result.returncode == 1 and data["status"] == status and reason in data["reason"], data


@needs_sandbox
def test_the_guides_evaluate_command_runs_a_baseline_in_the_sandbox():
    args = guide_command("evaluate")
    result = cli(*args, "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads(result.stdout)
    task = get_task(REF)
    test = [i for i in task.instances() if i.split == "test"]
    assert data["status"] == "ok" and set(data["scores"]) == {i.id for i in test}
    assert {i.group for i in test} == {"uniform", "small", "bimodal", "weibull"}


@needs_sandbox
def test_the_guides_simulate_prints_the_objective_per_policy_scored_by_the_trusted_half():
    """The generic simulate, for a task that brings none: a baseline (worker-pool path), a reference baseline
    (the task's own trusted code) and a policy file (the sandbox, then the judge), each with the task's
    objective per test instance, equal to what the trusted half computes in this process."""
    args = guide_command("simulate")
    result = cli(*args)
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads(result.stdout)
    task = get_task(REF)
    test = [i for i in task.instances() if i.split == "test"]
    assert data["task"] == "binpacking" and data["objective"] == task.objective() and data["split"] == "test"
    assert data["instances"] == [i.id for i in test]
    expected = {name: {i: e.score for i, e in evaluate_trusted(task, task.baselines()[name], test).items()}
                for name in ("first-fit", "best-fit")}
    assert list(data["policies"]) == ["first-fit", "harmonic-4", "best_fit"]
    assert data["policies"]["first-fit"]["kind"] == "baseline"
    assert data["policies"]["first-fit"]["scores"] == pytest.approx(expected["first-fit"])
    assert data["policies"]["best_fit"]["kind"] == "file"  # the file, not the baseline of the same code
    assert data["policies"]["best_fit"]["scores"] == pytest.approx(expected["best-fit"])
    harmonic = {i.id: task.reference_evaluation("harmonic-4", i).score for i in test}
    assert data["policies"]["harmonic-4"]["scores"] == pytest.approx(harmonic)
    for entry in data["policies"].values():
        assert entry["status"] == "ok"
        assert entry["score"] == pytest.approx(sum(entry["scores"].values()) / len(test))


def test_the_generic_simulate_reads_its_own_options_and_refuses_others_in_one_line():
    table = cli("simulate", "--task", REF, "--policy", "worst-fit", "--split", "validation", "--task-options",
                '{"items": 60}')
    assert table.returncode == 0, table.stderr
    rows = table.stdout.splitlines()
    assert "validation instances" in rows[0] and rows[-1].split()[0] == "worst-fit"
    for args, message in [(["--seeds", "1-3"], "unrecognized arguments: --seeds 1-3"),  # its instances are its own
                          (["--policy", "nope"], "unknown policy 'nope'"),
                          (["--policy", "missing.py"], "missing.py: policy file not found")]:
        result = cli("simulate", "--task", REF, *args)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and len(lines) == 1 and message in lines[0], result.stderr


@needs_sandbox
@pytest.mark.e2e  # the guide's whole run; the rest of this file is integration (tests/conftest.py)
def test_the_guides_evolve_run_finishes_and_its_scores_are_the_trusted_ones(tmp_path):
    args = guide_command("evolve")
    at = args.index("--run-dir")
    run = tmp_path / "run"
    args[at + 1] = str(run)
    args[args.index("--task") + 1] = REF  # the run starts in tmp_path (its cache goes there too)
    result = cli(*args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "samples 6/6" in result.stderr and "selected: candidate" in result.stdout
    with sqlite3.connect(run / "run.sqlite") as db:
        db.row_factory = sqlite3.Row
        rows = db.execute("SELECT * FROM candidates").fetchall()
        secret = json.loads(db.execute("SELECT value FROM run WHERE key = 'instance_key'").fetchone()[0])
    # the run keyed its instances with this installation's secret (created in the run's data folder)
    assert secret and secret == (tmp_path / "data" / "instance.key").read_text().strip()
    samples = [r for r in rows if r["sample"] is not None]
    assert len(samples) == 6
    ok = [r for r in samples if r["status"] == "ok"]
    assert ok and all(r["score"] is not None and json.loads(r["scores"]) for r in ok)
    baselines = {r["name"]: r for r in rows if r["proposer"] == "baseline"}
    assert set(baselines) == {"first-fit", "best-fit", "worst-fit", "harmonic-4"}
    options = json.loads(args[args.index("--task-options") + 1])
    task = get_task(REF, **options)
    train = keyed([i for i in task.instances() if i.split == "train"], secret)
    test = keyed([i for i in task.instances() if i.split == "test"], secret)
    for name, path in task.baselines().items():
        in_process = {i: e.score for i, e in evaluate_trusted(task, path, train).items()}
        assert json.loads(baselines[name]["scores"]) == in_process, name
        assert baselines[name]["test_score"] is not None
    # the reference baseline (trusted task code, no policy file) is measured on every split and judged against
    harmonic = baselines["harmonic-4"]
    assert json.loads(harmonic["scores"]) == {i.id: task.reference_evaluation("harmonic-4", i).score for i in train}
    assert json.loads(harmonic["test_scores"]) == {i.id: task.reference_evaluation("harmonic-4", i).score
                                                   for i in test}
    shown = json.loads(cli("runs", "show", str(run), "--json", cwd=tmp_path).stdout)
    assert "harmonic-4" in shown["verdict"]["overall"]["baselines"]
    # the GP proposer started from the task's seed trees (measured on train before any sample, as `seed`
    # rows), and best fit's scores exactly as the baseline it expresses; the samples are its offspring, which
    # need not reach it in six samples
    from policyforge.search.proposers.gp import GPProposer
    from policyforge.trees.grammar import parse_sexpr

    gp = GPProposer.for_task(task)
    code = gp.render(parse_sexpr(gp.grammar.seeds["best-fit"]))
    seed = [r for r in rows if r["proposer"] == "seed" and r["code"] == code]
    assert len(seed) == 1 and seed[0]["status"] == "ok" and seed[0]["sample"] is None
    assert json.loads(seed[0]["scores"]) == json.loads(baselines["best-fit"]["scores"])


def test_editing_an_outside_task_invalidates_its_cached_results(tmp_path):
    """The result cache keys on policyforge's source; an outside task's own files must count too."""
    from policyforge.search.evaluation import ResultCache, task_fingerprint

    copy = tmp_path / "bp"
    copy.mkdir()
    for name in ("task.py", "binpacking_features.py"):
        (copy / name).write_text((EXAMPLE / name).read_text())
    ref = f"{copy / 'task.py'}:OnlineBinPacking"
    before = task_fingerprint(get_task(ref))
    assert before == task_fingerprint(get_task(ref))
    (copy / "binpacking_features.py").write_text((EXAMPLE / "binpacking_features.py").read_text() + "\n# edited\n")
    after = task_fingerprint(get_task(ref))
    instance = get_task(ref).instances()[0]
    assert before != after
    assert ResultCache.key(ref, {}, "code", instance, before) != ResultCache.key(ref, {}, "code", instance, after)


def test_baselines_and_engine_trees_go_to_the_worker_pool_and_code_to_the_sandbox(monkeypatch):
    """The engine vouches for two kinds of code: the task's own baseline files and its own renderings of
    well-typed GP trees. Both run in the trusted worker pool, split per instance; anything else (a GP module
    with one edited line, a user's function) goes to the sandbox."""
    from concurrent.futures import Future

    from policyforge.search.evaluation import Evaluator
    from policyforge.search.loop import EvolveConfig
    from policyforge.search.proposers.gp import GPProposer

    task = get_task(REF)
    seen: list[tuple[str, EvalRequest]] = []

    def fake(kind):
        def submit(fn, request, *args):
            seen.append((args[0] if kind == "compute" else "sandbox", request))
            done: Future = Future()
            done.set_result(EvalResult("ok", "", {i.id: float(len(i.id)) for i in request.instances},
                                       {i.id: {} for i in request.instances}))
            return done
        return submit

    evaluator = Evaluator(EvolveConfig(task=REF), task)
    try:
        monkeypatch.setattr(evaluator.executor, "submit", fake("sandbox"))
        monkeypatch.setattr(evaluator.executor, "submit_compute", fake("compute"))
        monkeypatch.setattr(evaluator.cache, "get", lambda key: None)  # canned results must never be cached
        monkeypatch.setattr(evaluator.cache, "put", lambda key, score, metrics: None)
        test = [i for i in task.instances() if i.split == "test"]
        baseline = task.baselines()["best-fit"].read_text()
        result = evaluator.submit(baseline, test, cacheable=True).result()
        assert [(kind, len(r.instances)) for kind, r in seen] == [("baseline", 1)] * len(test)
        assert list(result.scores) == [i.id for i in test]
        gp = GPProposer.for_task(task)
        tree_code = gp.seed_programs()[0]
        for code, expected in ((tree_code, "tree"), (tree_code + "\nLEAK = 1\n", "sandbox"),
                               ("def score(item, bins):\n    return bins.remaining\n", "sandbox")):
            seen.clear()
            evaluator.submit(code, test[:2]).result()
            assert {kind for kind, _ in seen} == {expected}, code
    finally:
        evaluator.close()


def test_a_baseline_file_that_fails_the_static_check_is_rejected_not_run(tmp_path):
    """A baseline runs outside the sandbox only because it is the task author's file; it must still be a
    valid example of the interface, so the static check refuses it exactly as it would a candidate."""
    from policyforge.search.evaluation import Evaluator
    from policyforge.search.loop import EvolveConfig

    task = get_task(REF)
    bad = "import os\n\n\ndef score(item, bins):\n    return bins.free\n"
    evaluator = Evaluator(EvolveConfig(task=REF), task)
    try:
        evaluator.baseline_codes.add(bad)
        result = evaluator.submit(bad, task.instances()[:1], cacheable=True).result()
    finally:
        evaluator.close()
    assert result.status == "rejected" and "os" in result.reason


@needs_sandbox
def test_a_reference_baseline_that_fails_stops_the_run_in_one_line(tmp_path):
    """The task's own trusted code failing is the task author's mistake: one line naming the reference
    baseline and the instance, exit 2, no traceback."""
    broken = tmp_path / "broken_reference.py"
    broken.write_text(
        "import importlib.util\n"
        "import sys\n"
        f"sys.path.insert(0, {str(EXAMPLE)!r})\n"
        # a name of its own: a bare `task` may already be another test's copy of the example in this process
        f"spec = importlib.util.spec_from_file_location('broken_reference_base', {str(EXAMPLE / 'task.py')!r})\n"
        "base = sys.modules['broken_reference_base'] = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(base)\n"
        "OnlineBinPacking = base.OnlineBinPacking\n\n\n"
        "class BrokenReference(OnlineBinPacking):\n"
        "    def reference_evaluation(self, name, instance):\n"
        "        raise KeyError('no table for ' + instance.id)\n")
    result = cli("evolve", "--task", f"{broken}:BrokenReference", "--task-options", '{"items": 40}',
                 "--run-dir", str(tmp_path / "run"), "--max-samples", "1", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert "reference baseline harmonic-4 on uniform/seed1: KeyError" in last and "Traceback" not in result.stderr


def test_the_example_packs_a_gp_tree_in_its_compiled_loop_as_the_rendered_module():
    """The guide's compiled-loop example: a GP tree's module from the trusted interpreter carries its program,
    and the example's `run` packs with it in one numba loop (binpacking_kernel.py, on the shared evaluator
    policyforge.program_kernel) without calling `score`, choosing exactly the bins the rendered module
    chooses: the GP seeds and random trees, on every distribution. A module carrying anything but a real
    program is packed by calling its `score`, as before."""
    import types

    from policyforge.search.proposers.gp import GPProposer
    from policyforge.trees.grammar import build_grammar
    from policyforge.trees.interpreter import compile_tree
    from policyforge.trust.vouched import _features

    task = get_task(REF, items=300)
    hints = task.search_hints()
    gp = GPProposer(task.spec, table=hints.gp_table)
    grammar = build_grammar(task.spec, hints.gp_table)
    features = _features(grammar.feature_module)
    instances = [i for i in task.instances() if i.split == "test" and i.params["seed"] == task.test_seeds[0]]
    assert {i.group for i in instances} == {"uniform", "small", "bimodal", "weibull"}

    def refuse(*args):
        raise AssertionError("the compiled loop calls no Python score")

    trees = [gp.parse(code) for code in gp.seed_programs()]
    trees += [gp.random_tree(np.random.default_rng([5, k])) for k in range(25)]
    for tree in trees:
        code = gp.render(tree)
        rendered = types.ModuleType("rendered")
        exec(compile(code, "rendered", "exec"), rendered.__dict__)
        compiled = types.ModuleType("compiled")
        compiled.gp_program = compile_tree(grammar, tree, features).gp_program
        compiled.score = refuse
        for instance in instances:
            expected = task.run(rendered, instance)["bin"]
            assert np.array_equal(task.run(compiled, instance)["bin"], expected), (code, instance.id)
    calls = []
    forged = types.ModuleType("forged")
    forged.gp_program = {"score": {"ops": [0]}}  # not a GPProgram: `score` is called
    forged.score = lambda item, bins: calls.append(1) or rendered.score(item, bins)
    assert np.array_equal(task.run(forged, instances[0])["bin"], task.run(rendered, instances[0])["bin"])
    assert len(calls) == 300
