"""The in-memory gallery and 1:N matching as matrix operations.

All templates live in one L2-normalised float32 matrix, sorted by employee so that the best
template per employee is a single ``np.maximum.reduceat`` over the similarity row: no Python
loop over identities, whatever the gallery size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from sputnik_edge.recognition.types import Decision, MatchResult
from sputnik_edge.vision.types import FloatArray

EMBEDDING_DIM = 128


@dataclass(frozen=True, slots=True)
class Thresholds:
    match: float = 0.55
    low_confidence: float = 0.40
    min_margin: float = 0.05


def l2_normalise(x: FloatArray) -> FloatArray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return (x / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)


@dataclass(frozen=True, slots=True)
class Gallery:
    """Immutable snapshot; the recogniser swaps the whole object to update it atomically."""

    matrix: FloatArray  # (T, D) templates, grouped by employee
    starts: np.ndarray  # (E,) index of each employee's first template row
    employee_ids: tuple[str, ...]
    names: tuple[str, ...]
    version: int = 0
    owner: np.ndarray = field(default_factory=lambda: np.zeros(0, np.intp))  # (T,) employee per row

    @property
    def n_employees(self) -> int:
        return len(self.employee_ids)

    @property
    def n_templates(self) -> int:
        return int(self.matrix.shape[0])

    @classmethod
    def empty(cls, version: int = 0) -> Gallery:
        return cls(
            matrix=np.zeros((0, EMBEDDING_DIM), np.float32),
            starts=np.zeros(0, np.intp),
            employee_ids=(),
            names=(),
            version=version,
        )

    @classmethod
    def build(
        cls,
        template_owner: Sequence[str],
        embeddings: FloatArray,
        names: dict[str, str],
        version: int = 0,
        *,
        copy: bool = True,
    ) -> Gallery:
        """Build from one row per template and the owner's employee id per row.

        ``copy=False`` lets the gallery normalise ``embeddings`` in place (the caller hands over a
        float32 array it will not use again): a 100k gallery then costs one matrix, not three.
        """
        emb = np.asarray(embeddings, dtype=np.float32).reshape(-1, EMBEDDING_DIM)
        if len(template_owner) != emb.shape[0]:
            raise ValueError(f"{len(template_owner)} owners for {emb.shape[0]} templates")
        if emb.shape[0] == 0:
            return cls.empty(version)
        owners = np.asarray(template_owner, dtype=object)
        if not (owners[:-1] <= owners[1:]).all():  # group rows by employee
            order = np.argsort(owners, kind="stable")
            owners, emb = owners[order], emb[order]
        elif copy or not emb.flags.writeable:
            emb = emb.copy()
        emb /= np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
        change = np.flatnonzero(owners[1:] != owners[:-1]) + 1
        starts = np.concatenate([[0], change]).astype(np.intp)
        ids = tuple(str(o) for o in owners[starts])
        return cls(
            matrix=np.ascontiguousarray(emb),
            starts=starts,
            employee_ids=ids,
            names=tuple(names.get(i, i) for i in ids),
            version=version,
            owner=np.repeat(np.arange(len(starts)), np.diff(np.append(starts, len(owners)))),
        )

    def scores(self, queries: FloatArray) -> FloatArray:
        """(N, E) best cosine similarity of each query to each employee (enrolment conflicts)."""
        q = np.asarray(queries, dtype=np.float32).reshape(-1, EMBEDDING_DIM)
        if self.n_templates == 0:
            return np.zeros((q.shape[0], 0), np.float32)
        sims = self.matrix @ q.T
        if len(self.starts) < sims.shape[0]:  # several templates per employee: best of each
            sims = np.maximum.reduceat(sims, self.starts, axis=0)
        return sims.T

    def match(self, queries: FloatArray, thresholds: Thresholds) -> list[MatchResult]:
        """Top-1 employee, margin and decision per query. Works on template rows directly: the best
        row names the employee, the runner-up is the best row outside that employee's block, so
        no per-employee reduction over the whole gallery is needed."""
        q = np.asarray(queries, dtype=np.float32).reshape(-1, EMBEDDING_DIM)
        if self.n_templates == 0:
            return [MatchResult("unknown", None, None, 0.0, 0.0) for _ in range(q.shape[0])]
        sims = self.matrix @ q.T  # (T, N): one GEMV/GEMM over contiguous gallery rows
        ends = np.append(self.starts[1:], self.n_templates)
        results = []
        for i in range(q.shape[0]):  # loop over query faces (a handful per frame), never identities
            col = np.ascontiguousarray(sims[:, i])
            row = int(np.argmax(col))
            emp = int(self.owner[row])
            sim = float(col[row])
            if self.n_employees > 1:
                col[self.starts[emp] : ends[emp]] = -np.inf
                margin = sim - float(col.max())
            else:
                margin = 1.0
            results.append(_decision(sim, margin, self.employee_ids[emp], self.names[emp], thresholds))
        return results


def _decision(sim: float, margin: float, employee_id: str, name: str, thresholds: Thresholds) -> MatchResult:
    decision: Decision
    if sim >= thresholds.match and margin >= thresholds.min_margin:
        decision = "match"
    elif sim >= thresholds.low_confidence:
        decision = "low_confidence"
    else:
        decision = "unknown"
    if decision == "unknown":  # the nearest stranger is noise: name no one
        return MatchResult(decision, None, None, sim, margin)
    return MatchResult(decision, employee_id, name, sim, margin)
