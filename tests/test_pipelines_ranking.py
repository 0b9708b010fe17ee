"""The pipelines RANK interface: the mechanism honours the policy's order, shows what it declares, never
over-commits or loops on hopeless work; the GP proposer evolves it into valid, sandbox-clean policies."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest

from policyforge.search.proposers.base import ParentInfo
from policyforge.search.proposers.gp import GPProposer
from policyforge.tasks.pipelines import ranking
from policyforge.tasks.pipelines.engine import ClusterConfig, simulate
from policyforge.tasks.pipelines.generator import generate
from policyforge.tasks.pipelines.interface import PIPELINES_RANK_GP_TABLE, PIPELINES_RANK_POLICY
from policyforge.tasks.pipelines.model import BATCH, QUERY, Operator, Pipeline, Segment, Workload
from policyforge.tasks.pipelines.policy import baseline_path, load_policy_file
from policyforge.tasks.pipelines.scenarios import SCENARIOS
from policyforge.trust.static_check import check_source

TEMPLATE = """
import numpy as np

seen = []

def rank(ops, load):
    {body}
"""


def ranked(tmp_path: Path, body: str, name: str = "ranked.py", sizes: str = ""):
    """A policy of `rank` with this body; `sizes` adds VALUE functions. The task runs the mechanism."""
    path = tmp_path / name
    text = TEMPLATE.format(body=textwrap.indent(textwrap.dedent(body), "    ").strip())
    path.write_text(text + textwrap.dedent(sizes))
    return load_policy_file(path)


def rank_globals(policy) -> dict:
    """The policy module's namespace, reached through the `rank` the mechanism closes over."""
    cells = [c.cell_contents for c in policy.schedule.__closure__]
    return next(f for f in cells if callable(f) and f.__name__ == "rank").__globals__


def busy_cluster() -> ClusterConfig:
    return ClusterConfig((16,) * 2, (64.0,) * 2, 100, 300.0)


def test_declared_columns_are_what_rank_receives(tmp_path):
    ops_view = PIPELINES_RANK_POLICY.view("ops")
    assert tuple(f.name for f in ops_view.fields) == ("id", *ranking.COLUMNS)
    assert tuple(f.name for f in PIPELINES_RANK_POLICY.view("load").fields) == ranking.Load.__slots__
    policy = ranked(tmp_path, """
        seen.append((ops, load, {name: np.array(getattr(ops, name)) for name in COLUMNS}))
        return -ops.priority""", sizes=f"\nCOLUMNS = {ranking.COLUMNS!r}\n")
    simulate(generate(SCENARIOS["mixed"], 1), busy_cluster(), policy, 1)
    calls = rank_globals(policy)["seen"]
    assert len(calls) > 10
    for ops, load, columns in calls:
        assert len(ops) == load.ready > 0 and load.pipelines >= 1
        assert 0.0 <= load.cpu_free_fraction <= 1.0 and 0.0 <= load.ram_free_fraction <= 1.0
        for values in columns.values():
            assert values.shape == (len(ops),) and np.isfinite(values).all()
        assert set(np.unique(columns["priority"])) <= {1.0, 2.0, 3.0}
        assert (columns["waited"] >= 0).all() and (columns["failures"] >= 0).all()
        assert (columns["path_seconds"] >= columns["run_seconds"] - 1e-9).all()
        assert (columns["pipeline_seconds_left"] >= columns["run_seconds"] - 1e-6).all()
        assert (columns["ram_gb"] >= np.minimum(columns["est_memory_gb"] * 1.25 + 0.5, 64.0) - 1e-9).all()
        assert len(set(ops.id.tolist())) == len(ops)  # an operator is ready once, not twice
        with pytest.raises(AttributeError):
            ops.priority = None
        assert not ops.priority.flags.writeable


def test_the_order_given_is_the_order_served(tmp_path):
    """On an overloaded cluster, ranking queries first completes more queries and fewer batch pipelines
    than ranking them last."""
    wl, config = generate(SCENARIOS["mixed"], 2), ClusterConfig((8,) * 2, (32.0,) * 2, 100, 300.0)
    first = simulate(wl, config, ranked(tmp_path, "return -ops.priority", "first.py"), 2).eudoxia_stats()
    last = simulate(wl, config, ranked(tmp_path, "return ops.priority", "last.py"), 2).eudoxia_stats()
    q_first, q_last = (s["pipelines_query"]["completion_count"] for s in (first, last))
    b_first, b_last = (s["pipelines_batch"]["completion_count"] for s in (first, last))
    assert q_first > q_last and b_first < b_last


def test_no_rejections_and_deterministic(tmp_path):
    wl, config = generate(SCENARIOS["memory-tight"], 3), ClusterConfig((16,) * 8, (64.0,) * 8, 100, 300.0)
    policy = ranked(tmp_path, "return ops.weight / (1.0 + ops.pipeline_seconds_left)")
    a = simulate(wl, config, policy, 3)
    b = simulate(wl, config, policy, 3)
    assert a.rejections == 0 and a.containers_completed > 100
    assert a.eudoxia_stats() == b.eudoxia_stats()


def test_hopeless_operator_is_given_up_not_retried_forever(tmp_path):
    """An operator needing more memory than any pool fails at most until it had the largest pool's RAM."""
    huge = Operator("huge", (), (Segment(1.0, "const", 500.0, 0.0),))
    small = Operator("small", (), (Segment(1.0, "const", 1.0, 0.0),))
    pipelines = (Pipeline("doomed", BATCH, 0, (huge,)), Pipeline("fine", QUERY, 10, (small,)))
    record = simulate(Workload(pipelines, 10), ClusterConfig((8,), (100.0,), 10, 600.0),
                      ranked(tmp_path, "return -ops.priority"), 0, estimate_sigma=0.0)
    assert 1 <= record.failures <= 8  # doubling from the estimate reaches the pool's 100 GB in a few tries
    assert record.eudoxia_stats()["pipelines_query"]["completion_count"] == 1


def test_the_mechanism_is_the_tasks_not_the_policys(tmp_path):
    """A rank policy never sees the mechanism: it cannot import it, and the task wires it in."""
    code = "from policyforge.tasks.pipelines import ranking\n\ndef rank(ops, load):\n    return ops.priority\n"
    assert "not allowed" in check_source(code, PIPELINES_RANK_POLICY.allowed_imports, ("rank",))
    policy = ranked(tmp_path, "return -ops.priority")
    assert policy.init is ranking.init


def test_value_functions_size_containers_within_the_mechanisms_bounds(tmp_path):
    """The VALUE functions decide RAM and CPUs (clipped: >= 0.1 GB and 1 CPU, <= the largest pool); NaN
    leaves a size to the mechanism, so returning NaN everywhere is exactly the mechanism's own policy."""
    wl, config = generate(SCENARIOS["mixed"], 5), busy_cluster()
    seen = []

    class Recorder:
        def __init__(self, policy):
            self.policy = policy

        def __call__(self, state, results, arrivals, cluster):
            out = self.policy.schedule(state, results, arrivals, cluster)
            seen.extend(out[1])
            return out

    fixed = ranked(tmp_path, "return -ops.priority", "fixed.py", sizes="""
        def ram_gb(ops, load):
            return np.where(ops.priority == 1, 1e9, 3.0)

        def cpus(ops, load):
            return np.full(len(ops), -5.0)
        """)
    policy = type(fixed)(fixed.name, fixed.path, Recorder(fixed), fixed.init, fixed.source)
    record = simulate(wl, config, policy, 5)
    assert record.rejections == 0 and seen
    assert {cpu for _, _, cpu, _ in seen} == {1}
    assert {ram for _, _, _, ram in seen} <= {3.0, 6.0, 12.0, 24.0, 48.0, 64.0}  # 3 GB, doubled after OOMs
    assert 64.0 in {ram for _, _, _, ram in seen}  # queries: capped at the largest pool
    nan = ranked(tmp_path, "return -ops.priority", "nan.py", sizes="""
        def ram_gb(ops, load):
            return np.full(len(ops), np.nan)

        def cpus(ops, load):
            return float("nan")
        """)
    default = ranked(tmp_path, "return -ops.priority", "default.py")
    assert simulate(wl, config, nan, 5).eudoxia_stats() == simulate(wl, config, default, 5).eudoxia_stats()


def test_a_rank_of_the_wrong_shape_is_a_clear_error(tmp_path):
    from policyforge.errors import PolicyCrashed

    with pytest.raises(PolicyCrashed, match=r"one number per ready operator"):
        simulate(generate(SCENARIOS["mixed"], 1), busy_cluster(), ranked(tmp_path, "return np.zeros(len(ops) + 1)"), 1)


def test_gp_evolves_whole_programs_that_run_and_pass_the_sandbox_check(tmp_path):
    """Rank, RAM and CPU trees evolve together: every offspring over many seeds is a valid, limited program
    with all three functions; a sample of them runs without a rejected decision."""
    gp = GPProposer(PIPELINES_RANK_POLICY, table=PIPELINES_RANK_GP_TABLE)
    assert "ops.pipeline_seconds_left" in gp.grammar.terminals and "ops.id" not in gp.grammar.terminals
    seeds = gp.seed_programs()
    assert len(seeds) == 3
    wl, config = generate(SCENARIOS["mixed"], 4), busy_cluster()
    rng = np.random.default_rng(0)
    population, codes, kinds = list(seeds), list(seeds), set()
    for seed in range(150):
        chosen = [population[i] for i in rng.choice(len(population), size=int(rng.integers(0, 3)))]
        proposal = gp.propose([ParentInfo(id=i, code=c, score=None) for i, c in enumerate(chosen)], {}, seed)
        kinds.add(proposal.prompt.split(" of ")[0].split(" ->")[0])
        tree = gp.parse(proposal.code)
        assert tree is not None and gp.within_limits(tree) and len(tree.children) == 3
        for name in ("def rank(ops, load):", "def ram_gb(ops, load):", "def cpus(ops, load):"):
            assert name in proposal.code
        assert "def schedule(" not in proposal.code and "ranking" not in proposal.code
        population = (population + [proposal.code])[-20:]
        if seed % 30 == 0:
            codes.append(proposal.code)
    assert {"gp: crossover", "gp: subtree mutation", "gp: point mutation"} <= kinds
    for i, code in enumerate(codes):
        assert check_source(code, PIPELINES_RANK_POLICY.allowed_imports, ("rank",)) is None
        path = tmp_path / f"gp{i}.py"
        path.write_text(code)
        record = simulate(wl, config, load_policy_file(path), 4)
        assert record.rejections == 0
    priority = simulate(wl, config, load_policy_file(baseline_path("priority")), 4).score()
    path = tmp_path / "gp0.py"
    assert simulate(wl, config, load_policy_file(path), 4).score() > priority  # the sized-like seed


def test_the_shared_plan_caches_stop_growing_at_their_caps_without_changing_a_run(tmp_path, monkeypatch):
    """Plans and timelines are shared per workload within a process and keyed by the sizes a policy asks for,
    so a policy must not be able to grow them without bound: past the caps results are computed, not stored,
    and the run is the same."""
    from policyforge.tasks.pipelines import engine, timeline

    wl, config = generate(SCENARIOS["memory-tight"], 4), ClusterConfig((16,) * 8, (64.0,) * 8, 100, 300.0)
    policy = ranked(tmp_path, "return ops.weight / (1.0 + ops.pipeline_seconds_left)")
    engine._shared.clear()
    free = simulate(wl, config, policy, 4).eudoxia_stats()
    monkeypatch.setattr(engine, "MAX_PLANS", 3)
    monkeypatch.setattr(timeline, "CACHE_LIMIT", 5)
    engine._shared.clear()
    capped = simulate(wl, config, policy, 4).eudoxia_stats()
    assert capped == free
    ((_, _, timelines, plans),) = engine._shared.values()
    assert len(plans) <= 3 and len(timelines.cache) <= 5 and len(timelines.ticks) <= 5
    engine._shared.clear()
