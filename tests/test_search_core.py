"""The search engine's parts that need no sandbox: store, programs database, duplicate detection."""

from __future__ import annotations

import numpy as np
import pytest

from policyforge.errors import PolicyforgeError
from policyforge.search.database import DatabaseConfig, Island, Program, ProgramsDatabase
from policyforge.search.dedup import code_hash, normalised_hash
from policyforge.search.store import Store


def test_store_writes_rows_at_once_and_reads_them_back(tmp_path):
    store = Store(tmp_path / "run.sqlite")
    store.set_config({"config": {"seed": 3}})
    cid = store.insert(sample=0, proposer="gp", parents=[1, 2], code="x", status="proposed")
    # A second connection (another process after a crash) sees the row immediately.
    other = Store(tmp_path / "run.sqlite")
    assert other.get(cid).status == "proposed" and other.get(cid).parents == [1, 2]
    store.update(cid, status="ok", scores={"a": 1.5}, score=1.5)
    assert other.get(cid).scores == {"a": 1.5} and other.config() == {"config": {"seed": 3}}
    assert store.next_sample() == 1 and store.count_samples() == 1


def test_sample_numbers_are_unique(tmp_path):
    store = Store(tmp_path / "run.sqlite")
    store.insert(sample=0, proposer="gp", status="proposed")
    with pytest.raises(Exception, match="UNIQUE"):
        store.insert(sample=0, proposer="gp", status="proposed")


def test_a_corrupt_database_is_a_clear_error(tmp_path):
    path = tmp_path / "run.sqlite"
    path.write_bytes(b"not a database at all" * 100)
    with pytest.raises(PolicyforgeError, match="not a usable run database"):
        Store(path)


def test_normalised_hash_ignores_comments_docstrings_and_layout():
    a = 'def score(pod, nodes, cluster):\n    """Doc."""\n    return nodes.cpu_free  # comment\n'
    b = "def score(pod, nodes, cluster):\n\n    return (nodes.cpu_free)\n"
    c = "def score(pod, nodes, cluster):\n    return nodes.memory_free\n"
    assert code_hash(a) != code_hash(b)
    assert normalised_hash(a) == normalised_hash(b) != normalised_hash(c)
    assert normalised_hash("def (:") == code_hash("def (:")


def program(pid, score, signature=None, length=100):
    return Program(pid, score, signature or (score,), length)


def test_island_sampling_prefers_better_clusters_and_is_seeded():
    island = Island()
    for pid, score in enumerate([1.0, 2.0, 3.0, 10.0]):
        island.add(program(pid, score))
    config = DatabaseConfig(temperature=0.05)
    draws = [island.sample(np.random.default_rng(s), 1, config)[0].id for s in range(200)]
    assert draws.count(3) > 150
    assert island.sample(np.random.default_rng(5), 2, config) == island.sample(np.random.default_rng(5), 2, config)
    pair = island.sample(np.random.default_rng(1), 2, config)
    assert len({p.signature for p in pair}) == 2 and pair[0].score <= pair[1].score


def test_within_a_cluster_shorter_programs_are_preferred():
    island = Island()
    island.add(program(1, 5.0, (5.0,), length=1000))
    island.add(program(2, 5.0, (5.0,), length=100))
    picks = [island.sample(np.random.default_rng(s), 1, DatabaseConfig(length_temperature=0.2))[0].id for s in range(100)]
    assert picks.count(2) > 80


def test_reset_reseeds_the_weaker_half_from_survivors():
    db = ProgramsDatabase(DatabaseConfig(islands=4))
    for island, score in enumerate([1.0, 9.0, 3.0, 7.0]):
        db.add(program(island, score), island)
    weak = db.reset_weaker_half(np.random.default_rng(0))
    assert sorted(weak) == [0, 2]
    for i in weak:
        assert db.islands[i].best().id in (1, 3)
    assert db.best().id == 1


def test_seeded_programs_reach_every_island():
    db = ProgramsDatabase(DatabaseConfig(islands=3))
    db.seed(program(7, 1.0))
    assert all(island.best().id == 7 for island in db.islands)
