"""Vulcan's sampled-at-eviction mode and the RANK clock: GDSF is expressible, the sample comes from keyed
randomness the policy never sees, the trusted judge redraws every sample and refuses a victim outside it,
and a sandboxed `priority` policy goes through the real engine path."""

from __future__ import annotations

import numpy as np
import pytest
from cache_data import CACHE_DATA
from test_cache_task import SMALL, sandboxed

from policyforge.contract import Instance, PolicyError, keyed
from policyforge.search.proposers.gp import GPProposer
from policyforge.tasks.cache import mechanism, rank, sampled
from policyforge.tasks.cache.interface import CACHE_GP_TABLE, CACHE_SAMPLED_GP_TABLE, CACHE_SAMPLED_POLICY
from policyforge.tasks.cache.task import TWITTER, CacheTask, load_window
from policyforge.toolkit.policy_files import import_policy_file
from policyforge.trees.grammar import build_grammar, parse_sexpr
from policyforge.trees.interpreter import compile_tree

SAMPLED_LRU = "import numpy as np\n\n\ndef priority(objs, stats):\n    return np.asarray(objs.last_access, dtype=float)\n"


@pytest.fixture(scope="module")
def window():
    if not (CACHE_DATA / TWITTER).exists():
        pytest.skip("cache traces not fetched (policyforge data fetch cache)")
    return load_window(str(CACHE_DATA.resolve()), TWITTER, 0, 20_000)


def test_rank_gdsf_through_the_clock_equals_the_compiled_gdsf(window):
    """stats.clock is the last victim's score, so `clock + count * 1e6 / size` is GDSF. The RANK mechanism
    inserts after evicting (libCacheSim's GDSF inserts first, so an object can be its own victim), which is
    the only difference left: the miss counts agree within a few in a thousand."""
    from policyforge.tasks.cache.simulate import run_baseline

    gdsf = rank.load_policy("rank-gdsf")
    for mode in ("bytes", "objects"):
        for fraction in (0.1, 0.01):
            capacity = window.cache_size(fraction, mode)
            ours = rank.judge(window, mode, capacity, rank.run_policy(window, mode, capacity, gdsf))
            reference = run_baseline(window, "gdsf", capacity, mode)
            assert abs(ours.misses - reference.misses) <= 0.003 * reference.misses, (mode, fraction)
            lru = rank.judge(window, mode, capacity, rank.run_policy(window, mode, capacity, rank.load_policy("rank-lru")))
            assert ours.misses != lru.misses


def test_compiled_sampled_runs_evict_as_the_rendered_module(window):
    """The sampled mode's compiled loop (the same stack machine as RANK's) and the rendered module called per
    eviction choose the same victims, and the trusted judge accepts them."""
    gp = GPProposer(CACHE_SAMPLED_POLICY, table=CACHE_SAMPLED_GP_TABLE)
    grammar = build_grammar(CACHE_SAMPLED_POLICY, CACHE_SAMPLED_GP_TABLE)
    short = load_window(str(CACHE_DATA.resolve()), TWITTER, 1_000_000, 1_005_000)
    trees = [gp.parse(code) for code in gp.seed_programs()]
    trees += [gp.random_tree(np.random.default_rng([5, k])) for k in range(6)]
    for tree in trees:
        code = gp.render(tree)
        rendered: dict = {}
        exec(compile(code, "rendered", "exec"), rendered)  # noqa: S102 - the engine's own rendering
        program = compile_tree(grammar, tree, None).gp_program["priority"]
        for mode in ("bytes", "objects"):
            for fraction in (0.1, 0.01):
                capacity = short.cache_size(fraction, mode)
                fast = sampled.run_program(short, mode, capacity, program, 99)
                slow = sampled.run_policy(short, mode, capacity, rendered["priority"], 99)
                assert len(fast["victims"]) > 0 and np.array_equal(fast["victims"], slow["victims"]), code
                sampled.judge(short, mode, capacity, fast["victims"], 99)


def test_the_judge_redraws_each_sample_and_refuses_what_it_did_not_draw(window):
    capacity = window.cache_size(0.1, "objects")
    victims = sampled.run_policy(window, "objects", capacity, lambda objs, stats: objs.last_access, 5)["victims"]
    honest = sampled.judge(window, "objects", capacity, victims, 5)
    lru = rank.judge(window, "objects", capacity, {"victims": rank.run_policy(
        window, "objects", capacity, lambda objs, stats: objs.last_access)["victims"]})
    assert honest.misses != lru.misses  # a sample of 64 is not the whole cache
    with pytest.raises(PolicyError, match="not in the sample"):
        sampled.judge(window, "objects", capacity, victims, 6)  # another seed draws other samples
    # RANK LRU's victims are legal evictions, but not the sampled mechanism's
    with pytest.raises(PolicyError, match="not in the sample"):
        sampled.judge(window, "objects", capacity, rank.run_policy(
            window, "objects", capacity, lambda objs, stats: objs.last_access)["victims"], 5)
    with pytest.raises(PolicyError, match="ended"):
        sampled.judge(window, "objects", capacity, victims[:-1], 5)
    with pytest.raises(PolicyError, match="left over"):
        sampled.judge(window, "objects", capacity, np.concatenate([victims, victims[:1]]), 5)


def test_the_sample_comes_from_the_instances_secret_key():
    """Two secrets, two sample streams: the seed is keyed (contract.instance_rng), never a public number a
    policy could recompute."""
    instance = Instance("twitter@0/objects/10%", "train", {"trace": TWITTER, "start": 0, "end": 20_000,
                                                          "mode": "objects", "fraction": 0.1})
    one, two = keyed([instance], "secret-1")[0], keyed([instance], "secret-2")[0]
    assert mechanism.sample_seed(one) == mechanism.sample_seed(keyed([instance], "secret-1")[0])
    assert mechanism.sample_seed(one) != mechanism.sample_seed(two)


def test_gdsf_seeds_score_as_their_policy_files_and_sampled_gdsf_is_close():
    """The RANK GDSF seed (in the grammar now that the clock is a terminal) scores exactly as its policy
    file; the sampled GDSF seed through the task (trusted run, keyed sample) lands near it."""
    if not (CACHE_DATA / TWITTER).exists():
        pytest.skip("cache traces not fetched (policyforge data fetch cache)")
    task = CacheTask(**{**SMALL, "modes": ["bytes"]}, data_dir=str(CACHE_DATA), gp_mode="sampled")
    instance = task.screen_instances()[0]
    assert task.search_hints().gp_spec is CACHE_SAMPLED_POLICY and GPProposer.for_task(task).seed_programs()
    rank_grammar = build_grammar(task.spec, CACHE_GP_TABLE)
    seeded = compile_tree(rank_grammar, parse_sexpr(CACHE_GP_TABLE.seeds["gdsf-rank"]), None)
    baseline, _ = import_policy_file(task.baselines()["gdsf-rank"], "cache_gdsf_rank")
    gdsf = task.score(instance, task.run(baseline, instance)).score
    assert task.score(instance, task.run(seeded, instance)).score == gdsf
    assert gdsf > task.score(instance, task.run(import_policy_file(task.baselines()["lru"], "l")[0], instance)).score
    grammar = build_grammar(task.search_hints().gp_spec, task.search_hints().gp_table)
    sampled_gdsf = compile_tree(grammar, parse_sexpr(task.search_hints().gp_table.seeds["gdsf"]), None)
    decisions = task.run(sampled_gdsf, instance)
    assert decisions["sampled"] == 1
    assert abs(task.score(instance, decisions).score - gdsf) < 2.0


def test_a_sandboxed_priority_policy_runs_the_sampled_mode_and_is_judged():
    """An LLM's or user's `priority` policy takes the sampled mechanism in the sandbox; forging the
    `sampled` mark away only hands its victims to the RANK judge, which any legal sequence passes."""
    if not (CACHE_DATA / TWITTER).exists():
        pytest.skip("cache traces not fetched (policyforge data fetch cache)")
    task = CacheTask(**SMALL, data_dir=str(CACHE_DATA))
    task.data_paths()
    result = sandboxed(task, SAMPLED_LRU)
    assert result.status == "ok", result.reason
    instance = task.screen_instances()[0]
    ns: dict = {}
    exec(compile(SAMPLED_LRU, "sampled_lru", "exec"), ns)  # noqa: S102 - trusted test code
    import types

    module = types.ModuleType("sampled_lru")
    module.__dict__.update(ns)
    in_process = task.score(instance, task.run(module, instance)).score
    assert result.scores[instance.id] == pytest.approx(in_process, abs=1e-12)


def test_conformance_with_gp_evolving_the_sampled_mode():
    """`tasks check` as evolve would run it with gp_mode=sampled: every baseline, and every sampled seed in
    the trusted pool (compiled), judged."""
    from policyforge.search.conformance import check_task

    if not (CACHE_DATA / TWITTER).exists():
        pytest.skip("cache traces not fetched (policyforge data fetch cache)")
    assert check_task("cache", **SMALL, data_dir=str(CACHE_DATA), gp_mode="sampled") == []
