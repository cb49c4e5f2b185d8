"""The shared item index (evalsig_core/item_index.py) changes no result: every array, pairing,
doctor report and gate report equals the one the earlier np.unique / np.intersect1d code made
(tests/core/reference_index.py), on adversarial ids and on the shared harness fixtures."""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from evalsig_core import read_run
from evalsig_core.doctor import diagnose, summarize
from evalsig_core.gate import DoctorError, gate
from evalsig_core.item_index import index_ids, item_index, match_sorted
from evalsig_core.pairing import Pairing, item_means, pair
from evalsig_core.policy import Policy
from evalsig_core.render import render_doctor, render_gate
from evalsig_core.run import EvalRun
from tests.conftest import EXAMPLES
from tests.core.readers.test_harness_fixtures import ROWS
from tests.core.reference_index import before_index, np_index, np_match, old_item_means

NFD_E = unicodedata.normalize("NFD", "é")
# ids that sort, compare and widen differently: case, NFC vs NFD, trailing and leading spaces,
# prefixes, numbers written two ways, non-BMP characters, right-to-left text, very long ids
TRICKY = ["a", "A", "a ", " a", "ab", "é", NFD_E, "ß", "ss", "1", "1.0", "01", "10", "9",
          "😀", "😀a", "\u05d0\u05d1", "x" * 40, "q1", "q10", "q2", "İ", "i̇", "\u200b"]


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and bool(np.array_equal(a, b))


def _arrays() -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    pool = np.array(TRICKY)
    return [
        np.array([], dtype="<U1"),
        np.array(["only"]),
        np.array(sorted(set(TRICKY))),  # sorted and distinct: the one-pass path
        np.array(sorted(set(TRICKY)))[::-1],
        np.array(["b", "a", "b", "a", "a"]),  # duplicates, first occurrences out of order
        pool[rng.integers(0, len(pool), 300)],
        np.array([f"q{i}" for i in rng.integers(0, 50, 200)]),
        np.array(["a", "a", "b"]),  # sorted with a duplicate: not the one-pass path
        np.array(TRICKY, dtype=object),
    ]


@pytest.mark.parametrize("ids", _arrays(), ids=lambda a: f"{a.dtype}-{len(a)}")
def test_index_ids_equals_np_unique(ids: np.ndarray) -> None:
    """Sorted ids, first positions, inverse and counts: the values and dtypes of np.unique."""
    new, ref = index_ids(ids), np_index(ids)
    for field in ("ids", "first", "inverse", "counts"):
        assert _same(getattr(new, field), getattr(ref, field)), field


def _sides() -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(11)
    pool = np.unique(np.array(TRICKY + [f"item-{i}" for i in range(60)]))
    out = [(pool, pool), (pool[:0], pool), (pool, pool[:0]), (pool[:10], pool[10:]),
           (np.array(["a", "b"]), np.array(["a", "b", "c" * 30]))]  # widths differ
    for _ in range(6):
        out.append((np.unique(rng.choice(pool, 40)), np.unique(rng.choice(pool, 50))))
    return out


@pytest.mark.parametrize(("left", "right"), _sides())
def test_match_sorted_equals_intersect1d_and_setdiff1d(left: np.ndarray,
                                                       right: np.ndarray) -> None:
    """Shared ids (in intersect1d's dtype), their positions and the one-sided ids."""
    new, ref = match_sorted(left, right), np_match(left, right)
    for field in ("ids", "left", "right", "left_only", "right_only"):
        assert _same(getattr(new, field), getattr(ref, field)), field


def test_item_index_is_computed_once_per_run() -> None:
    """The pairing, the doctor and the summaries share one sort of a run's ids."""
    run = EvalRun.from_arrays(["b", "a"], [1.0, 0.0])
    assert item_index(run) is item_index(run)
    assert item_index(run) is not item_index(run.with_meta(model="m"))


def _run(rng: np.random.Generator, n: int, *, clusters: bool, role: str,
         multi: bool = True) -> EvalRun:
    """Tricky ids, uneven epochs, duplicated (item, epoch) records, tied scores, labels that
    conflict within an item or differ from the other run's, missing items."""
    pool = TRICKY + [f"t{i}" for i in range(n)]
    items = rng.choice(pool, n, replace=False)
    reps = rng.choice([1, 1, 1, 2, 3] if multi else [1], n)
    ids = np.repeat(items, reps)
    epochs = np.concatenate([np.arange(1, r + 1) for r in reps])
    dup = rng.random(len(ids)) < (0.02 if multi else 0.0)
    epochs[dup] = 1
    scores = rng.choice([0.0, -0.0, 0.5, 1.0], len(ids))  # ties and a signed zero, no NaN
    labels = None
    if clusters:
        labels = np.array([f"P{abs(hash(i)) % 7}" for i in ids], dtype=object)
        flip = rng.random(len(ids)) < (0.03 if role == "baseline" else 0.1)
        labels[flip] = "P-other"
    return EvalRun.from_arrays(ids, scores, epochs=epochs, clusters=labels, model=role,
                               source=f"{role}.jsonl")


def test_one_record_per_item_means_equal_the_per_item_sums() -> None:
    """The one-epoch shortcut of item_means gives the sums' arrays bit for bit (-0.0 included:
    a sum starts at +0.0)."""
    run = EvalRun.from_arrays(["b", "a", "c"], [-0.0, 1.0, 0.25], clusters=["x", "y", "x"])
    new, ref = item_means(run), old_item_means(run)
    for field in ("ids", "means", "n_epochs", "within_var", "clusters", "cluster_present"):
        x, y = getattr(new, field), getattr(ref, field)
        assert _same(x, y) and x.tobytes() == y.tobytes(), field
    assert new.n_cluster_conflicts == ref.n_cluster_conflicts == 0


def _pairing_fields(p: Pairing) -> dict[str, object]:
    return {k: v for k, v in vars(p).items()}


def _assert_same_pairing(a: Pairing, b: Pairing) -> None:
    fa, fb = _pairing_fields(a), _pairing_fields(b)
    assert fa.keys() == fb.keys()
    for k in fa:
        x, y = fa[k], fb[k]
        if isinstance(x, np.ndarray) and isinstance(y, np.ndarray):
            assert _same(x, y), k
        else:
            assert x == y, k


def _reports(b: EvalRun, c: EvalRun, cluster: str | None) -> list[str]:
    out = [render_doctor(diagnose(b, c, cluster=cluster), "json"),
           summarize(b).model_dump_json()]
    try:
        out.append(render_gate(gate(b, c, Policy(min_delta=0.01, cluster=cluster, method=(
            "paired_t" if cluster is None else "clustered_t"))), "json"))
    except DoctorError as exc:
        out.append(render_doctor(exc.report, "json"))
    return out


def _fresh(run: EvalRun) -> EvalRun:
    return run.with_meta()  # a new run object: nothing cached for it yet


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("clusters", [False, True])
@pytest.mark.parametrize("multi", [True, False], ids=["epochs-and-duplicates", "one-record"])
def test_reports_equal_the_earlier_code_on_adversarial_runs(seed: int, clusters: bool,
                                                            multi: bool) -> None:
    """Duplicate ids, missing items, unicode ids, ties, -0.0 and label conflicts: the pairing
    and the doctor and gate reports (JSON text) are those of the np.unique code."""
    rng = np.random.default_rng(seed)
    b = _run(rng, 60, clusters=clusters, role="baseline", multi=multi)
    c = _run(rng, 55, clusters=clusters, role="candidate", multi=multi)
    cluster = "cluster" if clusters else None
    with before_index():
        ref_pair = pair(_fresh(b), _fresh(c), cluster=clusters)
        ref = _reports(_fresh(b), _fresh(c), cluster)
    _assert_same_pairing(pair(b, c, cluster=clusters), ref_pair)
    assert _reports(b, c, cluster) == ref


# every harness fixture pair of tests/core/readers/test_harness_fixtures.py, with and without
# its cluster key, and the deployments' example runs
FIXTURES = [(r[0], r[1], r[2], r[3]) for r in ROWS] + [
    ("examples", EXAMPLES / "baseline.json", EXAMPLES / "candidate.json", {}),
    ("examples-regressed", EXAMPLES / "baseline.json", EXAMPLES / "regressed.json", {}),
]


@pytest.mark.parametrize("cluster", [None, "passage_id"])
@pytest.mark.parametrize(("base", "cand", "kw"), [f[1:] for f in FIXTURES],
                         ids=[f[0] for f in FIXTURES])
def test_reports_equal_the_earlier_code_on_fixtures(base: Path, cand: Path, kw: dict[str, Any],
                                                    cluster: str | None) -> None:
    """The real harness logs: byte-identical doctor and gate reports."""
    b, c = read_run(base, cluster=cluster, **kw), read_run(cand, cluster=cluster, **kw)
    with before_index():
        ref = _reports(_fresh(b), _fresh(c), cluster)
    assert _reports(b, c, cluster) == ref
