"""What the pipelines GP grammar can say: its rank baselines are seeds that reproduce them decision for
decision, and the terminals added for search (progress, total work, fan-out, time ready, headroom, pool
scale, urgent work waiting) hold what they declare, computed from estimates and the call's state only."""

from __future__ import annotations

import numpy as np
import pytest

from policyforge.tasks.pipelines import ranking
from policyforge.tasks.pipelines.engine import ClusterConfig, simulate
from policyforge.tasks.pipelines.features import BATCH, cpu_seconds
from policyforge.tasks.pipelines.generator import generate
from policyforge.tasks.pipelines.interface import PIPELINES_RANK_GP_TABLE, PIPELINES_RANK_POLICY
from policyforge.tasks.pipelines.policy import RANK_BASELINES, Policy, baseline_path
from policyforge.tasks.pipelines.scenarios import SCENARIOS
from policyforge.tasks.registry import get_task
from policyforge.trees.grammar import build_grammar, parse_sexpr, render
from policyforge.trees.interpreter import compile_tree
from policyforge.trust.static_check import check_source
from policyforge.trust.vouched import _features


@pytest.fixture(scope="module")
def task():
    return get_task("pipelines")


def _module(code: str, name: str):
    import types

    module = types.ModuleType(name)
    exec(compile(code, name, "exec"), module.__dict__)  # noqa: S102 - the engine's own rendering
    return module


def test_every_rank_baseline_is_a_gp_seed_that_reproduces_it(task):
    grammar = build_grammar(PIPELINES_RANK_POLICY, PIPELINES_RANK_GP_TABLE)
    instance = task.proxy_instances()[0]
    assert set(RANK_BASELINES) <= set(task.baselines())
    assert set(RANK_BASELINES) == set(PIPELINES_RANK_GP_TABLE.seeds)
    for name in RANK_BASELINES:
        tree = parse_sexpr(PIPELINES_RANK_GP_TABLE.seeds[name])
        assert grammar.valid_program(tree), name
        baseline = task.run(_module(baseline_path(name).read_text(), "baseline"), instance)
        rendered = task.run(_module(render(grammar, tree), "seed"), instance)
        compiled = task.run(compile_tree(grammar, tree, _features(grammar.feature_module)), instance)
        for decisions in (rendered, compiled):
            assert decisions.keys() == baseline.keys()
            assert all(np.array_equal(decisions[k], baseline[k]) for k in baseline), name
        assert len(baseline["ticks"]) > 100 and len(baseline["pools"]) > 100, name  # a run that decides much
        assert task.score(instance, rendered).score == task.score(instance, baseline).score


def test_the_rank_baselines_pass_the_rank_interface_check():
    for name in RANK_BASELINES:
        assert check_source(baseline_path(name).read_text(), PIPELINES_RANK_POLICY.allowed_imports, ("rank",)) is None


def test_new_terminals_hold_what_they_declare():
    workload = generate(SCENARIOS["mixed"], 3)
    config = ClusterConfig((16,) * 3, (64.0, 48.0, 96.0), 100, 200.0)
    clusters, checked = [], []

    def rank(ops, load):  # checked during the call: views of the cluster read the engine's current state
        cluster = clusters[-1]
        free_cpu = [p.cpu_free for p in cluster.pools]
        free_ram = [p.ram_free_gb for p in cluster.pools]
        assert load.max_cpu_free == max(free_cpu) and load.max_ram_free_gb == max(free_ram)
        assert load.pool_cpus == 16 and load.pool_ram_gb == 96.0
        assert load.urgent_ready == int(np.sum(ops.priority != BATCH))
        assert np.all(ops.ready_waited >= 0) and np.all(ops.ready_waited <= ops.waited)
        assert np.all(ops.pipeline_ops_left <= ops.pipeline_ops)
        assert np.all(ops.pipeline_seconds_left <= ops.pipeline_seconds + 1e-9)
        owner = {op: pid for pid in cluster.outstanding() for op in cluster.pipeline(pid).ops.ids}
        for k, op_id in enumerate(ops.id.tolist()):
            pipeline = cluster.pipeline(owner[op_id])
            position = op_id - pipeline.ops.ids.start
            assert ops.pipeline_ops[k] == len(pipeline.ops)
            assert ops.children[k] == sum(position in parents for parents in pipeline.ops.parents)
            expected = sum(o.est_io_seconds + cpu_seconds(o.scaling, o.est_cpu_seconds, ranking._useful({}, o.scaling))
                           for o in pipeline.ops)
            assert ops.pipeline_seconds[k] == pytest.approx(expected, rel=1e-12)
        checked.append((ops.children.copy(), ops.ready_waited < ops.waited, len(ops)))
        return -ops.priority

    def schedule(state, results, arrivals, cluster):
        clusters.append(cluster)
        return ranking.schedule(state, results, arrivals, cluster, rank)

    simulate(workload, config, Policy("probe", baseline_path("sized"), schedule, ranking.init, ""), 3)
    assert len(checked) > 50 and any(n > 3 for _, _, n in checked)
    assert any(np.any(children > 1) for children, _, _ in checked)  # fan-out exists in the workload
    assert any(np.any(later) for _, later, _ in checked)  # some operators became ready after they arrived
