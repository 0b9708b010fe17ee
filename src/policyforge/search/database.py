"""The programs database: islands of programs, clustered by their per-instance score signature.

As in FunSearch, islands evolve apart (parents are drawn within one island) and are periodically culled:
the weaker half is emptied and reseeded with the best program of a surviving island. Inside an island,
programs with the same signature form a cluster; clusters are drawn by a softmax over their normalised
score whose temperature cools as the island grows, and within a cluster shorter programs are preferred.
All randomness comes from generators the caller derives from the run seed, so a replay is exact.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

import numpy as np

Signature = tuple[float, ...]


@dataclass(frozen=True)
class Program:
    id: int
    score: float
    signature: Signature
    length: int


@dataclass(frozen=True)
class DatabaseConfig:
    islands: int = 4
    parents: int = 2
    temperature: float = 0.1
    temperature_period: int = 200
    length_temperature: float = 1.0


@dataclass
class Island:
    """Programs by signature. The sorted signatures, their mean scores, the ids held and the best program
    are kept up to date on every add, so sampling and `best` cost no pass over the island."""

    clusters: dict[Signature, list[Program]] = field(default_factory=dict)
    registered: int = 0
    signatures: list[Signature] = field(default_factory=list)
    means: list[float] = field(default_factory=list)
    ids: set[int] = field(default_factory=set)
    top: Program | None = None

    def add(self, program: Program) -> None:
        if program.id in self.ids:
            return
        if program.signature not in self.clusters:
            at = bisect.bisect_left(self.signatures, program.signature)
            self.signatures.insert(at, program.signature)
            self.means.insert(at, float(np.mean(program.signature)) if program.signature else float("nan"))
            self.clusters[program.signature] = []
        self.clusters[program.signature].append(program)
        self.ids.add(program.id)
        self.registered += 1
        if self.top is None or (program.score, -program.id) > (self.top.score, -self.top.id):
            self.top = program

    def best(self) -> Program | None:
        return self.top

    def leaders(self, k: int) -> list[Program]:
        """The k best programs, best first (ties to the older): candidates for local search."""
        members = [p for cluster in self.clusters.values() for p in cluster]
        return sorted(members, key=lambda p: (-p.score, p.id))[:k]

    def sample(self, rng: np.random.Generator, k: int, config: DatabaseConfig) -> list[Program]:
        """Up to k parents from distinct clusters, weakest first (the order FunSearch prompts with)."""
        signatures = self.signatures
        if not signatures:
            return []
        scores = np.array(self.means)
        span = scores.max() - scores.min()
        normalised = (scores - scores.min()) / span if span > 0 else np.zeros_like(scores)
        period = config.temperature_period
        temperature = max(config.temperature * (1 - (self.registered % period) / period), 1e-3)
        weights = _softmax(normalised / temperature)
        picks = rng.choice(len(signatures), size=min(k, len(signatures)), replace=False, p=weights)
        parents = [self._within(self.clusters[signatures[i]], rng, config) for i in picks]
        return sorted(parents, key=lambda p: (p.score, p.id))

    @staticmethod
    def _within(members: list[Program], rng: np.random.Generator, config: DatabaseConfig) -> Program:
        lengths = np.array([p.length for p in members], float)
        span = lengths.max() - lengths.min()
        normalised = (lengths - lengths.min()) / span if span > 0 else np.zeros_like(lengths)
        return members[int(rng.choice(len(members), p=_softmax(-normalised / config.length_temperature)))]


def _softmax(x: np.ndarray) -> np.ndarray:
    z = np.exp(x - x.max())
    return z / z.sum()


class ProgramsDatabase:
    def __init__(self, config: DatabaseConfig) -> None:
        self.config = config
        self.islands = [Island() for _ in range(config.islands)]

    def seed(self, program: Program) -> None:
        """A starting program (a baseline) goes to every island."""
        for island in self.islands:
            island.add(program)

    def add(self, program: Program, island: int) -> None:
        self.islands[island % len(self.islands)].add(program)

    def sample(self, island: int, rng: np.random.Generator) -> list[Program]:
        return self.islands[island].sample(rng, self.config.parents, self.config)

    def best(self) -> Program | None:
        bests = [b for b in (i.best() for i in self.islands) if b is not None]
        return max(bests, key=lambda p: (p.score, -p.id)) if bests else None

    def reset_weaker_half(self, rng: np.random.Generator) -> list[int]:
        """Empty the weaker half of the islands and reseed each from a random survivor's best program."""
        def key(i: int) -> tuple[float, int]:
            best = self.islands[i].best()
            return (best.score if best else -np.inf, -i)

        order = sorted(range(len(self.islands)), key=key)
        weak, strong = order[: len(order) // 2], order[len(order) // 2:]
        for i in weak:
            donor = self.islands[int(rng.choice(strong))].best()
            self.islands[i] = Island()
            if donor is not None:
                self.islands[i].add(donor)
        return weak
