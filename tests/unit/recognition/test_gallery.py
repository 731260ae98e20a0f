"""1:N matching on the gallery matrix: decisions, margins, several templates per employee."""

from __future__ import annotations

import numpy as np
import pytest

from sputnik_edge.recognition.gallery import EMBEDDING_DIM, Gallery, Thresholds, l2_normalise

T = Thresholds(match=0.55, low_confidence=0.40, min_margin=0.05)


def unit(rng: np.random.Generator, n: int) -> np.ndarray:
    return l2_normalise(rng.standard_normal((n, EMBEDDING_DIM)).astype(np.float32))


def basis(i: int) -> np.ndarray:
    v = np.zeros(EMBEDDING_DIM, np.float32)
    v[i] = 1.0
    return v


def query_with_sims(sims: dict[int, float]) -> np.ndarray:
    """A unit vector whose cosine to basis(i) is sims[i] (rest of the norm on an unused axis)."""
    q = np.zeros(EMBEDDING_DIM, np.float32)
    for i, s in sims.items():
        q[i] = s
    rest = 1.0 - float(np.sum(q**2))
    assert rest >= 0
    q[EMBEDDING_DIM - 1] = np.sqrt(rest)
    return q[None]


def three_people() -> Gallery:
    return Gallery.build(
        ["alice", "bob", "carol"],
        np.stack([basis(0), basis(1), basis(2)]),
        {"alice": "Alice A", "bob": "Bob B", "carol": "Carol C"},
    )


@pytest.mark.parametrize(
    ("sim", "decision"),
    [
        (0.90, "match"),
        (0.55, "match"),
        (0.549, "low_confidence"),
        (0.40, "low_confidence"),
        (0.399, "unknown"),
    ],
)
def test_decision_at_thresholds(sim: float, decision: str) -> None:
    (res,) = three_people().match(query_with_sims({1: sim}), T)
    assert res.decision == decision
    assert res.similarity == pytest.approx(sim, abs=1e-5)
    if decision == "unknown":
        assert res.employee_id is None
        assert res.name is None
    else:
        assert res.employee_id == "bob"
        assert res.name == "Bob B"


def test_margin_is_gap_to_best_other_employee() -> None:
    (res,) = three_people().match(query_with_sims({0: 0.3, 1: 0.8, 2: 0.5}), T)
    assert res.employee_id == "bob"
    assert res.margin == pytest.approx(0.3, abs=1e-5)


def test_small_margin_is_not_a_match() -> None:
    (res,) = three_people().match(query_with_sims({0: 0.62, 1: 0.60}), T)
    assert res.margin == pytest.approx(0.02, abs=1e-5)
    assert res.decision == "low_confidence"
    assert res.employee_id == "alice"


def test_single_employee_margin_is_one() -> None:
    g = Gallery.build(["solo"], basis(0)[None], {"solo": "Solo"})
    (res,) = g.match(query_with_sims({0: 0.7}), T)
    assert res.decision == "match"
    assert res.margin == pytest.approx(1.0)


def test_several_templates_take_the_best_and_do_not_compete() -> None:
    # Two templates of alice nearly identical to each other must not create a zero margin.
    a2 = l2_normalise((basis(0) + 0.05 * basis(3))[None])[0]
    g = Gallery.build(
        ["alice", "bob", "alice"],
        np.stack([basis(5), basis(1), a2]),
        {"alice": "Alice", "bob": "Bob"},
    )
    assert g.n_employees == 2
    assert g.n_templates == 3
    (res,) = g.match(query_with_sims({0: 0.9, 1: 0.2}), T)
    assert res.employee_id == "alice"
    assert res.decision == "match"
    assert res.similarity == pytest.approx(0.9 * float(a2[0]), abs=1e-4)
    assert res.margin == pytest.approx(res.similarity - 0.2, abs=1e-4)


def test_empty_gallery_is_unknown() -> None:
    for g in (Gallery.empty(), Gallery.build([], np.zeros((0, EMBEDDING_DIM), np.float32), {})):
        results = g.match(unit(np.random.default_rng(0), 3), T)
        assert len(results) == 3
        assert all(r.decision == "unknown" and r.employee_id is None for r in results)


def test_no_queries_gives_no_results() -> None:
    assert three_people().match(np.zeros((0, EMBEDDING_DIM), np.float32), T) == []


def test_build_normalises_templates_and_checks_owners() -> None:
    g = Gallery.build(["a"], 7.0 * basis(0)[None], {})
    assert np.linalg.norm(g.matrix[0]) == pytest.approx(1.0)
    assert g.names == ("a",)  # falls back to the id when no name is given
    with pytest.raises(ValueError):
        Gallery.build(["a", "b"], basis(0)[None], {})


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_match_equals_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_emp = int(rng.integers(2, 40))
    owners = [f"emp{int(i):03d}" for i in rng.integers(0, n_emp, size=150)]
    templates = unit(rng, len(owners))
    # Queries near random templates (so some clear the thresholds) plus pure noise.
    near = l2_normalise(templates[rng.integers(0, len(owners), 20)] + 0.6 * unit(rng, 20) / np.sqrt(2))
    queries = np.concatenate([near, unit(rng, 10)])
    g = Gallery.build(owners, templates, {o: o.upper() for o in owners})
    results = g.match(queries, T)

    ids = sorted(set(owners))
    for q, res in zip(queries, results, strict=True):
        best: dict[str, float] = {}
        for o, t in zip(owners, templates, strict=True):
            s = float(np.dot(q.astype(np.float64), t.astype(np.float64)))
            best[o] = max(best.get(o, -2.0), s)
        ranked = sorted(ids, key=lambda i: best[i], reverse=True)
        top, second = ranked[0], ranked[1]
        margin = best[top] - best[second]
        assert res.similarity == pytest.approx(best[top], abs=1e-5)
        assert res.margin == pytest.approx(margin, abs=1e-5)
        if best[top] >= T.match and margin >= T.min_margin:
            expected = "match"
        elif best[top] >= T.low_confidence:
            expected = "low_confidence"
        else:
            expected = "unknown"
        assert res.decision == expected
        assert res.employee_id == (None if expected == "unknown" else top)
        assert res.name == (None if expected == "unknown" else top.upper())
    assert {r.decision for r in results} >= {"match", "unknown"}
