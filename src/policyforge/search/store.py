"""One SQLite database per run directory: every candidate is a row, written as soon as it exists.

Durability is the point: rows are committed one by one in WAL mode with synchronous=FULL, so a kill -9
loses at most the evaluation in flight, never a finished one. A candidate's `sample` number is assigned when
it is proposed and is unique, so a resumed run can neither lose nor double-count a sample.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from policyforge.errors import PolicyforgeError

SCHEMA = """
CREATE TABLE IF NOT EXISTS run (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS candidates (
    id INTEGER PRIMARY KEY,
    sample INTEGER UNIQUE,            -- NULL for baselines; 0, 1, 2, ... for proposed samples
    created REAL NOT NULL,
    proposer TEXT NOT NULL,
    name TEXT,                        -- baseline name, if any
    island INTEGER,
    parents TEXT NOT NULL DEFAULT '[]',
    code TEXT,
    code_hash TEXT,
    norm_hash TEXT,
    prompt TEXT,
    raw_reply TEXT,
    status TEXT NOT NULL,             -- proposed, ok, rejected, timeout, crashed, invalid_output, duplicate,
                                      -- proposal_error, screened_out
    reason TEXT NOT NULL DEFAULT '',
    stage TEXT NOT NULL DEFAULT '',   -- how far the evaluation cascade went: screen, train
    score REAL,                       -- mean train score (the search's fitness)
    scores TEXT NOT NULL DEFAULT '{}',
    metrics TEXT NOT NULL DEFAULT '{}',
    feedback TEXT NOT NULL DEFAULT '',
    output TEXT NOT NULL DEFAULT '',
    tokens_in INTEGER NOT NULL DEFAULT 0,
    tokens_out INTEGER NOT NULL DEFAULT 0,
    cost_usd REAL NOT NULL DEFAULT 0,
    propose_seconds REAL NOT NULL DEFAULT 0,
    eval_seconds REAL NOT NULL DEFAULT 0,
    validation_score REAL,
    validation_scores TEXT,
    test_score REAL,
    test_scores TEXT,
    screen_scores TEXT                -- scores on the screen's instances (the task's proxies), if screened
);
CREATE INDEX IF NOT EXISTS candidates_hash ON candidates (code_hash);
CREATE INDEX IF NOT EXISTS candidates_norm ON candidates (norm_hash);
CREATE INDEX IF NOT EXISTS candidates_sample ON candidates (sample);
"""

JSON_COLUMNS = ("parents", "scores", "metrics", "validation_scores", "test_scores", "screen_scores")
ADDED_COLUMNS = {"screen_scores": "TEXT"}
"""Columns newer than the first schema: added to an older run's database when it is opened (resume)."""


@dataclass
class Candidate:
    """A row of the candidates table, JSON columns decoded."""

    id: int
    sample: int | None
    proposer: str
    name: str | None
    island: int | None
    parents: list[int]
    code: str | None
    status: str
    reason: str
    stage: str
    score: float | None
    scores: dict[str, float]
    metrics: dict[str, Any]
    feedback: str
    tokens_in: int
    tokens_out: int
    cost_usd: float
    eval_seconds: float
    propose_seconds: float
    validation_score: float | None
    validation_scores: dict[str, float] | None
    test_score: float | None
    test_scores: dict[str, float] | None
    created: float
    prompt: str | None = None
    raw_reply: str | None = None
    output: str = ""
    code_hash: str | None = None
    norm_hash: str | None = None
    screen_scores: dict[str, float] | None = None


class Store:
    """The run's database. Not shared between processes; the loop is its only writer."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.executescript(SCHEMA)
            present = {row[1] for row in self.db.execute("PRAGMA table_info(candidates)")}
            for column, kind in ADDED_COLUMNS.items():
                if column not in present:
                    self.db.execute(f"ALTER TABLE candidates ADD COLUMN {column} {kind}")
        except sqlite3.DatabaseError as exc:
            raise PolicyforgeError(f"{self.path}: not a usable run database ({exc})") from None
        self.db.row_factory = sqlite3.Row
        self.lock = threading.RLock()
        """One connection serves the loop's proposal threads: a statement and what it reads back (an insert's
        row id) must not interleave with another thread's, as sqlite3 releases the GIL while stepping."""

    def close(self) -> None:
        self.db.close()

    # --- run configuration -------------------------------------------------------------------------
    def set_config(self, config: dict[str, Any]) -> None:
        with self.lock, self.db:
            for key, value in config.items():
                self.db.execute("INSERT OR REPLACE INTO run (key, value) VALUES (?, ?)", (key, json.dumps(value)))

    def config(self) -> dict[str, Any]:
        with self.lock:
            return {row["key"]: json.loads(row["value"]) for row in self.db.execute("SELECT key, value FROM run")}

    # --- candidates --------------------------------------------------------------------------------
    def insert(self, **fields: Any) -> int:
        with self.lock:
            fields.setdefault("created", time.time())
            for key in JSON_COLUMNS:
                if key in fields and fields[key] is not None and not isinstance(fields[key], str):
                    fields[key] = json.dumps(fields[key])
            columns = ", ".join(fields)
            marks = ", ".join("?" for _ in fields)
            cursor = self.db.execute(f"INSERT INTO candidates ({columns}) VALUES ({marks})", tuple(fields.values()))
            return int(cursor.lastrowid)

    def update(self, candidate_id: int, **fields: Any) -> None:
        with self.lock:
            for key in JSON_COLUMNS:
                if key in fields and fields[key] is not None and not isinstance(fields[key], str):
                    fields[key] = json.dumps(fields[key])
            assignments = ", ".join(f"{key} = ?" for key in fields)
            self.db.execute(f"UPDATE candidates SET {assignments} WHERE id = ?", (*fields.values(), candidate_id))

    def get(self, candidate_id: int) -> Candidate:
        with self.lock:
            row = self.db.execute("SELECT * FROM candidates WHERE id = ?", (candidate_id,)).fetchone()
            if row is None:
                raise KeyError(candidate_id)
            return _candidate(row)

    def all(self, where: str = "1", params: tuple = (), order: str = "id") -> list[Candidate]:
        with self.lock:
            rows = self.db.execute(f"SELECT * FROM candidates WHERE {where} ORDER BY {order}", params).fetchall()
            return [_candidate(row) for row in rows]

    def next_sample(self) -> int:
        with self.lock:
            row = self.db.execute("SELECT MAX(sample) FROM candidates").fetchone()
            return 0 if row[0] is None else int(row[0]) + 1

    def count_samples(self) -> int:
        with self.lock:
            return int(self.db.execute("SELECT COUNT(*) FROM candidates WHERE sample IS NOT NULL").fetchone()[0])

    def find_hash(self, code_hash: str, norm_hash: str) -> int | None:
        with self.lock:
            row = self.db.execute(
                "SELECT id FROM candidates WHERE (code_hash = ? OR norm_hash = ?) AND status NOT IN ('proposed') "
                "ORDER BY id LIMIT 1", (code_hash, norm_hash)).fetchone()
            return None if row is None else int(row[0])

    def sample_outcomes(self) -> tuple[int, int]:
        """(samples evaluated, of which valid), counted by SQLite without reading the rows into Python."""
        with self.lock:
            row = self.db.execute(
                "SELECT COUNT(*), COALESCE(SUM(status IN ('ok', 'screened_out')), 0) FROM candidates "
                "WHERE sample IS NOT NULL AND status != 'proposed'").fetchone()
            return int(row[0]), int(row[1])

    def total_cost(self) -> float:
        with self.lock:
            return float(self.db.execute("SELECT COALESCE(SUM(cost_usd), 0) FROM candidates").fetchone()[0])


def _candidate(row: sqlite3.Row) -> Candidate:
    data = dict(row)
    for key in JSON_COLUMNS:
        if data.get(key) is not None:
            data[key] = json.loads(data[key])
    return Candidate(**data)
