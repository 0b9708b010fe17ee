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
from policyforge.trees.grammar import build_grammar, render, tree_size
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
