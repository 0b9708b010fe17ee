"""The trusted tree interpreter makes the same decisions as the rendered GP module, decision for decision.

For every built-in task and the example task, random well-typed trees (the GP proposer's own generator,
several seeds) run twice through the task's own `run` on a small instance: once as the rendered module (what
the sandbox would run), once as the interpreter's module (what the worker pool runs). Every decision column
must be identical. Then the routing rule: only the engine's exact rendering of a valid tree is trusted.
"""

from __future__ import annotations

import types
from pathlib import Path

import numpy as np
import pytest
from cache_data import CACHE_DATA

from policyforge.search.proposers.gp import GPProposer
from policyforge.tasks.registry import get_task
from policyforge.trees.grammar import build_grammar, parse_sexpr, render, to_sexpr, tree_size
from policyforge.trees.interpreter import compile_tree, trusted_tree
from policyforge.trust.vouched import _features

ROOT = Path(__file__).resolve().parent.parent
TREES = 6


def _tasks(tmp_path: Path) -> dict[str, tuple[str, dict]]:
    params = tmp_path / "short.toml"
    params.write_text("duration = 30\nnum_pipelines = 6\nnum_pools = 2\nwaiting_seconds_mean = 2.0\n")
    tasks = {
        "k8s-gpu": ("k8s-gpu", {"workload": str(ROOT / "tests" / "data" / "tiny_cluster.yaml")}),
        "pipelines": ("pipelines", {"params": str(params)}),
        "binpacking": (f"{ROOT / 'examples' / 'binpacking' / 'task.py'}:OnlineBinPacking", {"items": 200}),
    }
    if (CACHE_DATA / "twitter_cluster52_10m.csv.zst").exists():
        tasks["cache"] = ("cache", {"window": 5_000, "train_windows": [0], "validation_windows": [5_000],
                                    "test_windows": [10_000], "modes": ["objects"], "fractions": [0.1],
                                    "cloudphysics": False, "data_dir": str(CACHE_DATA)})
    return tasks


def _rendered(code: str) -> types.ModuleType:
    module = types.ModuleType("rendered")
    exec(compile(code, "rendered", "exec"), module.__dict__)
    return module


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(np.asarray(a[k]), np.asarray(b[k])) for k in a)


@pytest.mark.parametrize("name", ["k8s-gpu", "pipelines", "binpacking", "cache"])
def test_interpreter_decides_as_the_rendered_module(name, tmp_path):
    tasks = _tasks(tmp_path)
    if name not in tasks:
        pytest.skip("cache trace not fetched")
    ref, options = tasks[name]
    task = get_task(ref, **options)
    hints = task.search_hints()
    spec = hints.gp_spec or task.spec
    gp = GPProposer(spec, table=hints.gp_table)
    grammar = build_grammar(spec, hints.gp_table)
    instance = next(i for i in task.instances() if i.split == "train")
    trees = [gp.parse(code) for code in gp.seed_programs()]
    trees += [gp.random_tree(np.random.default_rng([7, k])) for k in range(TREES)]
    for tree in trees:
        code = gp.render(tree)
        assert trusted_tree(grammar, code) == tree
        expected = task.run(_rendered(code), instance)
        got = task.run(compile_tree(grammar, tree, _features(grammar.feature_module)), instance)
        assert _same(expected, got), code


def test_only_the_engines_own_rendering_of_a_valid_tree_is_trusted():
    task = get_task("k8s-gpu", workload=str(ROOT / "tests" / "data" / "tiny_cluster.yaml"))
    gp = GPProposer(task.spec, table=task.search_hints().gp_table)
    grammar = build_grammar(task.spec, task.search_hints().gp_table)
    code = gp.seed_programs()[0]
    assert trusted_tree(grammar, code) is not None
    line = next(x for x in code.splitlines() if x.startswith("# gp-tree: "))
    # a well-formed tree line under different code, an ill-typed tree, an unknown terminal, an added import
    assert trusted_tree(grammar, code.replace("    return", "    print(1)\n    return")) is None
    assert trusted_tree(grammar, code.replace(line, "# gp-tree: (lt nodes.cpu_free 1.0)")) is None
    assert trusted_tree(grammar, code.replace(line, "# gp-tree: nodes.gpu_model")) is None
    assert trusted_tree(grammar, "import os\n" + code) is None
    assert trusted_tree(grammar, "def score(pod, nodes, cluster):\n    return nodes.cpu_free\n") is None


def test_a_tree_too_large_for_the_trusted_path_goes_to_the_sandbox():
    """An edited chain of trees could grow without bound; past the cap it is code like any other."""
    from policyforge.trees.grammar import Node
    from policyforge.trees.interpreter import MAX_TREE_NODES

    task = get_task("k8s-gpu", workload=str(ROOT / "tests" / "data" / "tiny_cluster.yaml"))
    grammar = build_grammar(task.spec, task.search_hints().gp_table)
    tree = Node("nodes.cpu_free")
    while tree_size(tree) <= MAX_TREE_NODES:
        tree = Node("add", (tree, Node("nodes.gpu_free_total")))
    small = Node("add", (Node("nodes.cpu_free"), Node("nodes.gpu_free_total")))
    assert trusted_tree(grammar, render(grammar, small)) == small
    assert trusted_tree(grammar, render(grammar, tree)) is None


def test_a_terminal_that_cannot_be_rendered_faithfully_is_refused():
    """A field named like a keyword, or a feature named like a name the module uses itself, would make the
    exported module differ from what the interpreter computes: the grammar refuses it."""
    from dataclasses import replace as replaced

    from policyforge.contract import FieldSpec

    task = get_task(f"{ROOT / 'examples' / 'binpacking' / 'task.py'}:OnlineBinPacking")
    bins = task.spec.view("bins")
    keyword_field = replaced(bins, fields=(*bins.fields, FieldSpec("class", "K", "int", "", "a keyword")))
    spec = replaced(task.spec, views=tuple(keyword_field if v.name == "bins" else v for v in task.spec.views))
    with pytest.raises(ValueError, match="cannot be rendered faithfully"):
        build_grammar(spec, task.search_hints().gp_table)
    shadow = replaced(task.spec, features=(*task.spec.features, replaced(task.spec.features[0], name="float")))
    with pytest.raises(ValueError, match="cannot be rendered faithfully"):
        build_grammar(shadow, task.search_hints().gp_table)


EDGE_TREES = (
    # inf - inf is NaN: NaN through min, then nan_to_num makes every score 0 (ties: the earliest scored)
    "(min (sub (mul objs.size 1e+308) (mul objs.size 1e+308)) objs.last_access)",
    "(max objs.last_access (sub (mul objs.size 1e+308) (mul objs.size 1e+308)))",
    # NaN bounds of clip, an overflow to +-inf (made +-max float), a divisor within EPS of zero
    "(clip objs.last_access (sub (mul stats.capacity 1e+308) (mul stats.capacity 1e+308)) 5.0)",
    "(clip objs.last_access 10.0 (sub (mul stats.capacity 1e+308) (mul stats.capacity 1e+308)))",
    "(add (mul objs.size 1e+308) (neg (mul objs.count 1e+308)))",
    "(div objs.last_access (sub objs.count 1.0))",
    "(div objs.last_access (mul (sub objs.count 1.0) 1e-10))",
    # floor, where on a comparison, clip with crossed bounds, floor of a ratio tying many objects
    "(where (lt objs.count 2.0) (neg objs.last_access) (floor (div objs.last_access 1000.0)))",
    "(where (gt stats.clock 1.0) objs.size (clip objs.insert_time 100.0 50.0))",
    "(floor (div objs.last_access (max objs.ewma_gap 1.0)))",
    "(add stats.clock (div (mul objs.count 1000000.0) objs.size))",
    "(sub stats.clock objs.in_ghost)",
)


def test_the_cache_tasks_compiled_loop_evicts_as_the_rendered_module(monkeypatch):
    """The cache task runs a tree's postfix program in one compiled loop (rank.run_program). On real Twitter
    windows in both modes at both cache sizes, for the GP seeds, random trees and trees built to hit the
    float edge cases (NaN, +-inf, protected division, floor, clip, where), its victims equal those of the
    rendered module called per chunk, victim for victim."""
    from cache_data import CACHE_DATA

    from policyforge.tasks.cache import rank
    from policyforge.tasks.cache.task import CacheTask, load_window

    if not (CACHE_DATA / "twitter_cluster52_10m.csv.zst").exists():
        pytest.skip("cache trace not fetched")
    task = CacheTask(data_dir=str(CACHE_DATA))
    gp = GPProposer.for_task(task)
    grammar = build_grammar(task.spec, task.search_hints().gp_table)
    trees = [gp.parse(code) for code in gp.seed_programs()]
    trees += [gp.random_tree(np.random.default_rng([11, k])) for k in range(10)]
    trees += [parse_sexpr(text) for text in EDGE_TREES]
    windows = [load_window(task.data_dir, "twitter_cluster52_10m.csv.zst", start, start + 2500)
               for start in (0, 1_000_000)]
    compiled_runs = 0
    for tree in trees:
        assert grammar.valid_program(tree), to_sexpr(tree)
        code = gp.render(tree)
        module = compile_tree(grammar, tree, None)
        rendered = _rendered(code)
        for trace in windows:
            for mode in ("bytes", "objects"):
                for fraction in (0.1, 0.01):
                    capacity = trace.cache_size(fraction, mode)
                    fast = rank.run_program(trace, mode, capacity, module.gp_program["score"])
                    assert fast is not None
                    compiled_runs += len(fast["victims"]) > 0
                    assert _same(rank.run_policy(trace, mode, capacity, rendered.score), fast), (code, mode, fraction)
    assert compiled_runs == len(trees) * 8  # every run evicted: the comparisons are about victims


def test_a_module_carrying_no_real_program_runs_its_functions():
    """Only a well-formed GPProgram takes the compiled loop; anything else claiming to be one (a sandboxed
    module can say what it likes) falls back to calling `score`."""
    from policyforge.program import GPProgram, bind
    from policyforge.tasks.cache import rank

    lru = GPProgram(np.array([0]), np.array([0]), np.empty(0), ("objs.last_access",), 1)
    assert bind(lru, rank.RANK_SLOTS) is not None
    assert bind({"ops": [0]}, rank.RANK_SLOTS) is None
    assert bind(GPProgram(np.array([0]), np.array([0]), np.empty(0), ("objs.next_access",), 1),
                rank.RANK_SLOTS) is None
    forged = GPProgram(np.array([0]), np.array([0]), np.empty(0), ("objs.last_access",), 1)
    object.__setattr__(forged, "args", np.array([10**9]))  # out of range: refused before any kernel reads it
    assert bind(forged, rank.RANK_SLOTS) is None
    with pytest.raises(ValueError):
        GPProgram(np.array([2]), np.array([0]), np.empty(0), (), 1)  # `add` with an empty stack
