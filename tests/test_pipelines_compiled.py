"""A GP tree's scheduling calls run compiled (rank_kernel.decide) and decide exactly as the rendered module.

Random well-typed trees of the pipelines grammar (the GP proposer's generator), its seeds and trees built to
hit the float edge cases (NaN, +-inf, protected division, clip with NaN bounds, CPU counts on a rounding tie)
run through the task's `run` twice on a proxy instance of three scenarios, the memory-tight one included
(OOM retries): as the rendered module (the Python mechanism calls its functions) and as the
trusted interpreter's module (the compiled path). Every decision column must be identical.
"""

from __future__ import annotations

import types

import numpy as np
import pytest

from policyforge.contract import keyed
from policyforge.program import GPProgram
from policyforge.search.proposers.gp import GPProposer
from policyforge.tasks.pipelines import ranking
from policyforge.tasks.pipelines.policy import baseline_path, policy_of_module
from policyforge.tasks.pipelines.rank_kernel import N_COLUMNS, N_VALUES
from policyforge.tasks.pipelines.rank_programs import VALUES, tree_programs
from policyforge.tasks.registry import get_task
from policyforge.trees.grammar import build_grammar, parse_sexpr
from policyforge.trees.interpreter import compile_tree

EDGE_TREES = (
    # inf - inf is NaN in every function: NaN ranks as 0 after nan_to_num; NaN sizes as the mechanism's bounds
    "(program (sub (mul ops.waited 1e+308) (mul ops.waited 1e+308)) (sub (mul ops.ram_gb 1e+308) "
    "(mul ops.ram_gb 1e+308)) (sub (mul ops.cpus 1e+308) (mul ops.cpus 1e+308)))",
    # overflow to +-inf (made +-max float), a divisor within EPS of zero, sizes far out of bounds
    "(program (add (mul ops.priority 1e+308) (neg (mul ops.weight 1e+308))) (mul ops.ram_gb 1e+308) "
    "(neg (mul ops.cpus 1e+308)))",
    "(program (div ops.path_seconds (sub ops.priority 1.0)) (div ops.est_memory_gb (mul ops.failures 1e-10)) "
    "(div load.max_cpu_free (sub load.ready 1.0)))",
    # clip with NaN and crossed bounds, where on comparisons, floor; CPUs on .5 ties (rounded to even)
    "(program (clip ops.waited (sub (mul load.now 1e+308) (mul load.now 1e+308)) 5.0) "
    "(clip ops.ram_gb 100.0 2.0) (add (floor ops.cpus) 0.5))",
    "(program (where (lt ops.children 1.0) (neg ops.ready_waited) (floor (div ops.pipeline_seconds_left 10.0))) "
    "(where (gt load.ram_free_fraction 0.5) (mul ops.ram_gb 0.5) (mul ops.ram_gb 2.0)) "
    "(add (mul load.cpu_free_fraction 3.0) 1.5))",
    # a constant rank (every tie kept in ready order) and sizes read from the load alone
    "(program 1.0 load.max_ram_free_gb load.pool_cpus)",
)


def _rendered(code: str) -> types.ModuleType:
    module = types.ModuleType("rendered")
    exec(compile(code, "rendered", "exec"), module.__dict__)  # noqa: S102 - the engine's own rendering
    return module


def _programs(policy):
    """The packed programs the policy's schedule hands the mechanism (None: the Python path)."""
    cells = zip(policy.schedule.__code__.co_freevars, policy.schedule.__closure__, strict=True)
    return dict((name, cell.cell_contents) for name, cell in cells)["programs"]


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(np.asarray(a[k]), np.asarray(b[k])) for k in a)


@pytest.mark.parametrize("scenario", ["mixed", "memory-tight", "query-burst"])
def test_the_compiled_path_decides_as_the_rendered_module(scenario):
    task = get_task("pipelines", scenario=scenario)
    gp = GPProposer.for_task(task)
    grammar = build_grammar(task.search_hints().gp_spec, task.search_hints().gp_table)
    instance = keyed(task.proxy_instances(), "compiled-test")[0]
    trees = [gp.parse(code) for code in gp.seed_programs()]
    trees += [gp.random_tree(np.random.default_rng([23, k])) for k in range(8)]
    trees += [parse_sexpr(text) for text in EDGE_TREES]
    failures = 0
    for tree in trees:
        assert grammar.valid_program(tree), tree
        code = gp.render(tree)
        module = compile_tree(grammar, tree, None)
        assert _programs(policy_of_module(module, "tree")) is not None  # the mechanism runs them compiled
        assert _programs(policy_of_module(_rendered(code), "rendered")) is None
        expected = task.run(_rendered(code), instance)
        got = task.run(module, instance)
        assert _same(expected, got), code
        assert len(got["pools"]) > 0, code
        record = task.replay(instance, got)
        failures += record.failures
    assert failures > 0  # the OOM retries (doubled RAM, given up at the largest pool) were exercised


def test_only_functions_carrying_a_program_the_kernel_reads_are_compiled():
    """The rendered module's plain functions, a baseline's, a forged program and one reading a terminal the
    kernel does not compute all take the Python path (tree_programs is None)."""
    task = get_task("pipelines")
    rendered = _rendered(GPProposer.for_task(task).seed_programs()[0])
    assert tree_programs(rendered.rank, rendered.ram_gb, rendered.cpus) is None
    baseline = _rendered(baseline_path("wsjf").read_text())
    assert tree_programs(baseline.rank, None, None) is None

    def with_program(program):
        def fn(ops, load):
            return ops.priority
        fn.program = program
        return fn

    good = GPProgram(np.array([0]), np.array([0]), np.empty(0), ("ops.priority",), 1)
    assert tree_programs(with_program(good), None, None) is not None
    assert tree_programs(with_program(good), rendered.ram_gb, None) is None  # one function without: Python
    unknown = GPProgram(np.array([0]), np.array([0]), np.empty(0), ("ops.id",), 1)
    assert tree_programs(with_program(unknown), None, None) is None
    forged = GPProgram(np.array([0]), np.array([0]), np.empty(0), ("ops.priority",), 1)
    object.__setattr__(forged, "args", np.array([10 ** 9]))
    assert tree_programs(with_program(forged), None, None) is None
    assert tree_programs(with_program({"ops": [0]}), None, None) is None


def test_the_kernels_rows_are_the_declared_columns_and_load():
    assert VALUES[:N_COLUMNS] == tuple(f"ops.{name}" for name in ranking.COLUMNS)
    assert len(VALUES) == N_VALUES
    assert ranking._STORED[:12] == ("pipeline", *ranking.STATIC)  # rank_kernel reads the stored rows by position
    assert ranking._STORED[12:] == ("ready_since", "after_oom", "failures")


def test_compacting_the_ready_table_changes_no_decision(monkeypatch):
    """A table of one slot compacts (and doubles) on almost every call; one wide enough never does: the same
    decisions either way, on the Python path and the compiled one."""
    task = get_task("pipelines", scenario="memory-tight")
    instance = keyed(task.proxy_instances(), "compiled-test")[0]
    gp = GPProposer.for_task(task)
    tree = gp.random_tree(np.random.default_rng(5))
    grammar = build_grammar(task.search_hints().gp_spec, task.search_hints().gp_table)
    runs = {}
    for width in (1, 1 << 16):
        monkeypatch.setattr(ranking, "TABLE_WIDTH", width)
        runs[width] = (task.run(_rendered(gp.render(tree)), instance), task.run(compile_tree(grammar, tree, None),
                                                                                 instance))
    for decisions in (*runs[1], runs[1 << 16][1]):
        assert _same(runs[1 << 16][0], decisions)
