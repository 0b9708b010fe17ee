"""The GP proposer writes only valid, readable, sandbox-clean policies, deterministically, within its limits;
its operators really vary trees; trees survive the trip through code; its seed programs behave like the
baselines they express."""

from __future__ import annotations

import ast
from types import SimpleNamespace

import numpy as np
import pytest

from policyforge.contract import FieldSpec, FunctionSpec, GPTable, PolicySpec, ViewSpec
from policyforge.search.proposers.base import ParentInfo
from policyforge.search.proposers.gp import GPProposer, points, tree_size
from policyforge.tasks.k8s_gpu.cluster import ClusterState, PodRequest
from policyforge.tasks.k8s_gpu.interface import K8S_GPU_GP_TABLE, K8S_GPU_POLICY
from policyforge.tasks.k8s_gpu.policy import baseline_path, load_policy, load_policy_file
from policyforge.tasks.k8s_gpu.trace import ALL_MODELS_MASK
from policyforge.tasks.k8s_gpu.views import ClusterView, NodesView, PodView
from policyforge.tasks.k8s_gpu.workload import target_workload
from policyforge.trees.grammar import (
    Node,
    build_grammar,
    parse_sexpr,
    render,
    to_sexpr,
    tree_depth,
)
from policyforge.trees.grammar import tree_size as node_size

GP = GPProposer(K8S_GPU_POLICY, table=K8S_GPU_GP_TABLE)
PODS = [
    PodRequest(4000, 8192, 1, 500, ALL_MODELS_MASK),  # shares one GPU
    PodRequest(8000, 16384, 1, 1000, ALL_MODELS_MASK),  # one whole GPU
    PodRequest(16000, 32768, 2, 1000, ALL_MODELS_MASK),  # two whole GPUs
    PodRequest(6000, 12288, 0, 0, ALL_MODELS_MASK),  # CPU only
]


@pytest.fixture(scope="module")
def cases(tiny):
    """(pod, nodes, cluster) views of a partly filled tiny cluster: one per pod kind, one with one candidate."""
    nodes, pods = tiny
    state = ClusterState(nodes)
    for i, pod in enumerate(PODS * 3):  # some partly used GPUs and busy nodes
        node = int(state.feasible(pod)[(7 * i) % len(state.feasible(pod))])
        state.bind(node, pod, state.default_gpus(node, pod))
    cluster = ClusterView(state, target_workload(pods), np.random.default_rng(0))
    out = [(PodView.of(pod, 0), NodesView(state, state.feasible(pod)), cluster) for pod in PODS]
    out.append((PodView.of(PODS[0], 0), NodesView(state, state.feasible(PODS[0])[:1]), cluster))
    assert all(len(n) > 1 for _, n, _ in out[:-1])
    return out


def parent(code: str, id_: int = 0) -> ParentInfo:
    return ParentInfo(id=id_, code=code, score=None)


def assert_valid_module(code: str, cases, proposer: GPProposer = GP) -> None:
    """Compiles, imports only what the interface allows, no `_` names, scores every case finitely."""
    tree = ast.parse(code)
    allowed = K8S_GPU_POLICY.allowed_imports
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert all(a.name.split(".")[0] in allowed for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.module in allowed
        names = [getattr(node, attr, None) for attr in ("id", "attr", "arg", "name")]
        assert not any(isinstance(n, str) and n.startswith("_") for n in names), ast.dump(node)
    parsed = proposer.parse(code)
    assert parsed is not None
    assert node_size(parsed) <= proposer.max_size and tree_depth(parsed) <= proposer.max_depth
    module: dict = {}
    exec(compile(code, "<gp>", "exec"), module)
    for pod, nodes, cluster in cases:
        out = module["score"](pod, nodes, cluster)
        assert isinstance(out, np.ndarray) and out.shape == (len(nodes),) and out.dtype == np.float64
        assert np.isfinite(out).all()


def test_every_proposal_over_many_seeds_is_a_valid_policy(cases, tmp_path):
    rng = np.random.default_rng(0)
    baseline = baseline_path("bestfit").read_text()
    population = GP.seed_programs()
    kinds = set()
    for seed in range(300):
        chosen = [population[i] for i in rng.choice(len(population), size=int(rng.integers(0, 3)))]
        if rng.random() < 0.1:
            chosen.append(baseline)  # not a GP module: ignored
        proposal = GP.propose([parent(c, i) for i, c in enumerate(chosen)], {}, seed)
        assert proposal.proposer == "gp" and proposal.code and not proposal.error
        kinds.add(proposal.prompt.split(" of ")[0].split(" ->")[0])
        assert_valid_module(proposal.code, cases)
        if seed % 50 == 0:  # the simulator's own loader takes it too
            path = tmp_path / f"gp{seed}.py"
            path.write_text(proposal.code)
            policy = load_policy_file(path)
            pod, nodes, cluster = cases[0]
            assert np.isfinite(policy.score(pod, nodes, cluster)).all()
        population = (population + [proposal.code])[-30:]
    assert kinds == {"gp: crossover", "gp: subtree mutation", "gp: point mutation",
                     "gp: constant perturbation", "gp: fresh ramped half-and-half tree"}


def test_tight_limits_are_hard_limits(cases):
    small = GPProposer(K8S_GPU_POLICY, table=K8S_GPU_GP_TABLE, max_size=9, max_depth=4)
    population = [small.propose([], {}, s).code for s in range(5)]
    for seed in range(120):
        picks = [population[-1], population[seed % len(population)]]
        code = small.propose([parent(c, i) for i, c in enumerate(picks)], {}, seed).code
        assert_valid_module(code, cases[:1], small)
        population.append(code)


def test_same_parents_and_seed_give_the_same_code():
    parents = [parent(c, i) for i, c in enumerate(GP.seed_programs())]
    for seed in range(20):
        assert GP.propose(parents, {}, seed).code == GP.propose(parents, {}, seed).code
    assert GP.propose([], {}, 7).code == GPProposer(K8S_GPU_POLICY, table=K8S_GPU_GP_TABLE).propose([], {}, 7).code
    assert len({GP.propose(parents, {}, s).code for s in range(20)}) > 10


def only(**weights) -> GPProposer:
    zero = {"p_crossover": 0.0, "p_subtree": 0.0, "p_point": 0.0, "p_constant": 0.0}
    return GPProposer(K8S_GPU_POLICY, table=K8S_GPU_GP_TABLE, **{**zero, **weights})


def shape(node: Node) -> Node:
    """The tree with every constant zeroed: what constant perturbation must keep."""
    return Node(node.op, tuple(shape(c) for c in node.children), 0.0)


def test_each_operator_changes_the_tree_as_it_should():
    bestfit, fgd, _, packing = GP.seed_programs()[:4]
    trees = {code: GP.parse(code) for code in (bestfit, fgd, packing)}
    for seed in range(30):
        child = only(p_crossover=1.0).propose([parent(bestfit, 1), parent(packing, 2)], {}, seed)
        assert child.prompt.startswith("gp: crossover") and set(child.parents) == {1, 2}
        assert GP.parse(child.code) not in trees.values()
        for code, tree in trees.items():
            mutated = only(p_subtree=1.0).propose([parent(code, 3)], {}, seed)
            assert mutated.parents == (3,) and GP.parse(mutated.code) != tree
            pointed = GP.parse(only(p_point=1.0).propose([parent(code, 3)], {}, seed).code)
            assert pointed != tree and node_size(pointed) == node_size(tree)
            changed = [a for a, b in zip(points(pointed), points(tree), strict=True)
                       if a.node.op != b.node.op or (not a.node.children and a.node != b.node)]
            assert len(changed) == 1
        perturbed = GP.parse(only(p_constant=1.0).propose([parent(bestfit, 4)], {}, seed).code)
        assert perturbed != trees[bestfit] and shape(perturbed) == shape(trees[bestfit])


def constants(node: Node) -> list[float]:
    return [p.node.value for p in points(node) if p.node.op == "const"]


def test_tuning_moves_every_constant_of_the_first_tunable_leader():
    with_constants = [c for c in GP.seed_programs() if constants(GP.parse(c))]
    without = next(c for c in GP.seed_programs() if not constants(GP.parse(c)))
    assert with_constants and len(constants(GP.parse(with_constants[0]))) >= 1
    code = with_constants[0]
    steps, moved_all = [], 0
    for seed in range(30):
        # the best program is a baseline file (no tree) and the next a tree without constants: both skipped
        leaders = [parent(baseline_path("fgd").read_text(), 1), parent(without, 2), parent(code, 3)]
        child = GP.propose(leaders, {"tune": True}, seed)
        assert child.prompt.startswith("gp: constant tuning") and child.parents == (3,)
        tuned, tree = GP.parse(child.code), GP.parse(code)
        assert shape(tuned) == shape(tree)
        old, new = np.array(constants(tree)), np.array(constants(tuned))
        assert (old != new).any()
        moved_all += bool((old != new).all())  # all at once (a tiny step may round back to 4 digits)
        steps.append(float(np.max(np.abs(np.log(np.abs(new[old != 0]) / np.abs(old[old != 0]))))))
        assert GP.propose(leaders, {"tune": True}, seed).code == child.code
    assert moved_all > 20
    assert min(steps) < 0.05 < 0.3 < max(steps)  # near and far steps, from one stateless proposer
    # nothing to tune: the parents vary as usual
    assert "tuning" not in GP.propose([parent(without, 2)], {"tune": True}, 0).prompt


def test_non_gp_parents_count_as_absent():
    for code in (baseline_path("fgd").read_text(), "# gp-tree: (sub nodes.no_such_field 1.0)\n",
                 "# gp-tree: (sub fragmentation\n", "# gp-tree: (lt nodes.cpu_free 1.0)\n",
                 "# gp-tree: " + "(neg " * 500 + "nodes.cpu_free" + ")" * 500 + "\n"):
        proposal = GP.propose([parent(code, 9)], {}, 1)
        assert proposal.parents == () and "fresh" in proposal.prompt
        assert GP.parse(code) is None and proposal.code == GP.propose([], {}, 1).code


def test_trees_round_trip_through_rendered_code():
    rng = np.random.default_rng(1)
    trees = [GP.random_tree(rng) for _ in range(200)]
    trees.append(parse_sexpr("(div (clip nodes.cpu_free -2.5 1e-12) (neg (sub 0.0 -3.25e-07)))"))
    for tree in trees:
        code = GP.render(tree)
        assert GP.parse(code) == tree and parse_sexpr(to_sexpr(tree)) == tree
        assert tree_size(code) == node_size(tree)
    assert tree_size(baseline_path("bestfit").read_text()) is None
    assert GP.penalised(0.9, GP.seed_programs()[1]) == pytest.approx(0.9 - 0.001 * 3)


def test_rendered_code_computes_the_tree(cases):
    """Protected division, precedence and comparisons as the tree means them, checked against numpy."""
    pod, nodes, cluster = cases[0]
    tree = parse_sexpr("(sub (div nodes.cpu_free (sub nodes.sharing_pods nodes.sharing_pods)) "
                       "(where (gt nodes.pod_count 1.0) (sub 1.0 (sub pod.cpu_milli 2.0)) "
                       "(neg (mul 3.0 (add 1.0 2.0)))))")
    module: dict = {}
    exec(GP.render(tree), module)
    cpu, pods = nodes.cpu_free.astype(float), nodes.pod_count
    expect = cpu / 1.0 - np.where(pods > 1.0, 1.0 - (pod.cpu_milli - 2.0), -(3.0 * 3.0))
    np.testing.assert_array_equal(module["score"](pod, nodes, cluster), expect)


def test_seed_programs_behave_like_their_baselines(tiny, tmp_path):
    from policyforge.tasks.k8s_gpu.simulate import run_inflation

    nodes, pods = tiny
    seeds = GP.seed_programs()
    assert len(seeds) == len(K8S_GPU_GP_TABLE.seeds) == 11
    assert "features import" not in seeds[0]
    assert "from policyforge.tasks.k8s_gpu.features import fragmentation, fragmentation_after\n" in seeds[1]
    for name, code in (("bestfit", seeds[0]), ("fgd", seeds[1]), ("fgd", seeds[2])):
        path = tmp_path / f"{name}_like.py"
        path.write_text(code)
        ours = run_inflation(nodes, pods, load_policy_file(path), seed=1).summary()["alloc_at_100"]
        theirs = run_inflation(nodes, pods, load_policy(name), seed=1).summary()["alloc_at_100"]
        assert abs(ours - theirs) <= 2.0, (name, ours, theirs)


def test_another_spec_gives_another_grammar():
    spec = PolicySpec(
        task="toy", summary="", allowed_imports=("numpy",), feature_module="toy.features",
        functions=(FunctionSpec("rank", "rank(job, machines)", "K floats", ""),),
        views=(ViewSpec("job", "", (FieldSpec("size", "scalar", "float", "GB", "job size"),)),
               ViewSpec("machines", "", (FieldSpec("free", "K", "float", "GB", "free space"),
                                         FieldSpec("slots", "K x S", "int", "", "per slot"))),),
        features=(FunctionSpec("load", "load(machines)", "K floats", "recent load"),),
    )
    grammar = build_grammar(spec, GPTable(vector_view="machines", scalar_view="job"))
    assert set(grammar.terminals) == {"machines.free", "job.size", "load"}
    tree = parse_sexpr("(sub machines.free (mul job.size load))")
    code = render(grammar, tree)
    assert "def rank(job, machines):" in code and "from toy.features import load" in code
    module: dict = {}
    exec(code.replace("from toy.features import load", "load = lambda m: m.free * 0 + 2"), module)
    machines = type("Machines", (), {"free": np.array([10.0, 20.0]), "__len__": lambda self: 2})()
    out = module["rank"](SimpleNamespace(size=3.0), machines)
    np.testing.assert_array_equal(out, [4.0, 14.0])


def test_tuning_a_program_of_several_functions_moves_constants_in_each_and_stays_well_typed():
    """Pipelines evolves `(program rank ram_gb cpus)`: tuning walks every function's tree (it once asked the
    grammar for an operator named `program` and failed, a fifth of a 2,000-sample run's proposals)."""
    from policyforge.tasks.pipelines.interface import PIPELINES_RANK_GP_TABLE, PIPELINES_RANK_POLICY

    gp = GPProposer(PIPELINES_RANK_POLICY, table=PIPELINES_RANK_GP_TABLE)
    tunable = [c for c in gp.seed_programs() if len({p.path[0] for p in gp.constants(gp.parse(c))}) >= 2]
    assert tunable  # a seed with constants in at least two of its functions
    functions_moved = set()
    for seed in range(10):
        child = gp.propose([parent(tunable[0], 5)], {"tune": True}, seed)
        assert child.prompt.startswith("gp: constant tuning") and child.parents == (5,), child.prompt
        old, new = gp.parse(tunable[0]), gp.parse(child.code)
        assert new is not None and shape(new) == shape(old)
        before = {p.path: p.node.value for p in gp.constants(old)}
        after = {p.path: p.node.value for p in gp.constants(new)}
        assert before.keys() == after.keys()
        functions_moved |= {path[0] for path in before if before[path] != after[path]}
    assert len(functions_moved) >= 2  # constants of more than one function moved
