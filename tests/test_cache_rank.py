"""The RANK mechanism: policy files reproduce the compiled baselines exactly, the trusted replay accepts
their decisions and refuses illegal ones, and a broken policy fails with a clear error."""

from __future__ import annotations

import numpy as np
import pytest

from policyforge.errors import PolicyCrashed, PolicyError
from policyforge.tasks.cache.interface import CACHE_RANK_POLICY
from policyforge.tasks.cache.rank import RANK_BASELINES, judge, load_policy, reduction_vs_fifo, run_policy
from policyforge.tasks.cache.simulate import run_baseline
from policyforge.tasks.cache.trace import make_trace


@pytest.fixture(scope="module")
def zipf_trace():
    """A seeded Zipf-like stream of 20,000 requests over 2,000 objects with varied sizes."""
    rng = np.random.default_rng(7)
    obj = rng.zipf(1.2, 20000) % 2000
    size = (obj * 2654435761 % 997 + 10).astype(np.int64)
    return make_trace("zipf", np.arange(20000), obj.astype(np.uint64) + 10**15, size)


@pytest.mark.parametrize(("policy", "baseline"), [("rank-fifo", "fifo"), ("rank-lru", "lru")])
@pytest.mark.parametrize("mode", ["bytes", "objects"])
def test_rank_fifo_and_lru_match_the_compiled_baselines(zipf_trace, policy, baseline, mode):
    capacity = zipf_trace.cache_size(0.05, mode)
    decisions = run_policy(zipf_trace, mode, capacity, load_policy(policy))
    judged = judge(zipf_trace, mode, capacity, decisions)
    expected = run_baseline(zipf_trace, baseline, capacity, mode)
    assert (judged.misses, judged.miss_bytes) == (expected.misses, expected.miss_bytes)


@pytest.mark.parametrize("policy", sorted(RANK_BASELINES))
def test_every_rank_baseline_yields_legal_decisions(zipf_trace, policy):
    capacity = zipf_trace.cache_size(0.1, "bytes")
    decisions = run_policy(zipf_trace, "bytes", capacity, load_policy(policy))
    assert decisions["victims"].dtype == np.uint64
    result = judge(zipf_trace, "bytes", capacity, decisions)
    assert 0 < result.miss_ratio < 1


def test_the_judge_refuses_illegal_decisions(zipf_trace):
    capacity = zipf_trace.cache_size(0.1, "objects")
    victims = run_policy(zipf_trace, "objects", capacity, load_policy("rank-lru"))["victims"]
    with pytest.raises(PolicyError, match=r"decision \d+ \(request \d+\): object \d+ is not cached"):
        judge(zipf_trace, "objects", capacity, {"victims": np.r_[victims[1:2], victims]})
    with pytest.raises(PolicyError, match="decision 0 .*object 123 is not cached"):
        judge(zipf_trace, "objects", capacity, {"victims": np.r_[np.uint64(123), victims[1:]]})
    with pytest.raises(PolicyError, match="decisions ended"):
        judge(zipf_trace, "objects", capacity, {"victims": victims[:-1]})
    with pytest.raises(PolicyError, match="left over"):
        judge(zipf_trace, "objects", capacity, {"victims": np.r_[victims, victims[-1:]]})


def test_scores_see_exact_features_despite_speculation(zipf_trace, tmp_path):
    """A policy that records every row it scores: each hit row's insert_time and count equal a direct
    replay of the decisions (features are never taken from a wrong prediction)."""
    seen = []

    def score(objs, stats):
        seen.append((objs.last_access.copy(), objs.insert_time.copy(), objs.count.copy(), objs.hit.copy()))
        return objs.size * 0 + objs.last_access - 50 * objs.count

    capacity = zipf_trace.cache_size(0.05, "objects")
    victims = run_policy(zipf_trace, "objects", capacity, score)["victims"]
    last = {}
    for now, ins, count, hit in seen:
        for i, t, c, h in zip(now, ins, count, hit, strict=True):
            last[int(i)] = (t, c, h)  # the final scoring of request i is the one that stood
    cached, inserted, accesses = set(), {}, {}
    order = iter(zipf_trace.dense(victims))
    for i, x in enumerate(zipf_trace.ids.tolist()):
        if x in cached:
            accesses[x] += 1
            assert last[i] == (inserted[x], accesses[x], 1.0)
            continue
        while len(cached) + 1 > capacity:
            cached.remove(next(order))
        cached.add(x)
        inserted[x], accesses[x] = i, 1
        assert last[i] == (i, 1, 0.0)


@pytest.mark.parametrize(("body", "error"), [
    ("return objs.size[:1]", PolicyError),
    ("return objs.size * float('nan')", PolicyError),
    ("raise ValueError('boom')", PolicyCrashed),
    ("objs.size[0] = 1\n    return objs.size", PolicyCrashed),
])
def test_broken_policies_fail_clearly(zipf_trace, tmp_path, body, error):
    path = tmp_path / "bad.py"
    path.write_text(f"def score(objs, stats):\n    {body}\n")
    with pytest.raises(error):
        run_policy(zipf_trace, "objects", 50, load_policy(path))


def test_reduction_relative_to_fifo_follows_vulcan():
    assert reduction_vs_fifo(0.15, 0.20) == pytest.approx(0.25)
    assert reduction_vs_fifo(0.25, 0.20) == pytest.approx(-0.2)
    assert reduction_vs_fifo(0.20, 0.20) == 0


def test_the_interface_declares_what_the_mechanism_passes(zipf_trace):
    seen = {}

    def score(objs, stats):
        seen["objs"], seen["stats"] = set(dir(objs)), set(dir(stats))
        return objs.last_access

    run_policy(zipf_trace, "bytes", zipf_trace.cache_size(0.1, "bytes"), score)
    assert seen["objs"] == {f.name for f in CACHE_RANK_POLICY.view("objs").fields}
    assert seen["stats"] == {f.name for f in CACHE_RANK_POLICY.view("stats").fields}
    assert "score(objs, stats)" in CACHE_RANK_POLICY.render_markdown()


def direct_lru_with_admission(trace, mode: str, capacity: int, admit_size: float) -> tuple[int, list[int]]:
    """A per-request LRU that admits a missed object only when its size is below `admit_size`: the misses
    and the refused requests, for comparison with the mechanism's chunked run."""
    sizes = trace.sizes(mode).tolist()
    cached: dict[int, int] = {}  # object -> last access, for LRU
    used, misses, refused = 0, 0, []
    for i, x in enumerate(trace.ids.tolist()):
        if x in cached:
            cached[x] = i
            continue
        misses += 1
        s = sizes[i]
        if s > capacity:
            continue
        if not s < admit_size:
            refused.append(i)
            continue
        while used + s > capacity:
            victim = min(cached, key=cached.get)
            used -= sizes[trace.ids.tolist().index(victim)] if mode == "bytes" else 1
            del cached[victim]
        cached[x] = i
        used += s
    return misses, refused


@pytest.mark.parametrize("mode", ["bytes", "objects"])
def test_an_admission_hook_refuses_entry_exactly_as_a_direct_simulation(mode):
    """The mechanism predicts a chunk assuming every miss is inserted; a refused object requested again in
    the chunk is a misprediction, so the run must still equal a request-by-request simulation."""
    rng = np.random.default_rng(3)
    obj = rng.zipf(1.3, 4000) % 300
    size = (obj * 7919 % 97 + 3).astype(np.int64)  # a fixed size per object
    trace = make_trace("admit", np.arange(4000), obj.astype(np.uint64), size)
    capacity = trace.cache_size(0.2, mode)
    limit = 60.0 if mode == "bytes" else 2.0  # objects mode: every size is 1, so everything is admitted

    def admit(objs, stats):
        return limit - np.asarray(objs.size)

    decisions = run_policy(trace, mode, capacity, lambda objs, stats: objs.last_access, admit)
    misses, refused = direct_lru_with_admission(trace, mode, capacity, limit)
    assert decisions["rejected"].tolist() == refused
    assert judge(trace, mode, capacity, decisions).misses == misses
    if mode == "bytes":
        assert len(refused) > 100
        without = judge(trace, mode, capacity, run_policy(trace, mode, capacity, lambda o, s: o.last_access))
        assert without.misses != misses


def test_the_judge_refuses_forged_refusals(zipf_trace):
    capacity = zipf_trace.cache_size(0.1, "objects")
    decisions = run_policy(zipf_trace, "objects", capacity, load_policy("rank-lru"),
                           lambda objs, stats: objs.total_count - 2)  # admit from the second access on
    refused = decisions["rejected"]
    assert len(refused) > 0
    judge(zipf_trace, "objects", capacity, decisions)
    hits = np.flatnonzero(np.diff(np.r_[-1, zipf_trace.ids]) == 0)  # a request repeating the previous one
    for forged, reason in [(refused[::-1].copy(), "."),  # out of order: some refusal or victim is illegal
                           (np.r_[refused, refused[-1:]], "not the insertion of a missed object"),
                           (np.r_[refused, np.int64(len(zipf_trace))], "outside"),
                           (refused.astype(float), "1-D array of request indices")]:
        with pytest.raises(PolicyError, match=reason):
            judge(zipf_trace, "objects", capacity, {"victims": decisions["victims"], "rejected": forged})
    if len(hits):
        forged = np.sort(np.r_[refused, hits[:1]])
        with pytest.raises(PolicyError):
            judge(zipf_trace, "objects", capacity, {"victims": decisions["victims"], "rejected": forged})
