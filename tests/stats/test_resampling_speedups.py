"""The fast paths of the resampling methods are the plain algorithms, draw for draw.

Each shortcut is checked against an explicit reconstruction of what it claims to compute
(same generator calls, per-cluster signs or indices), or against the call it replaces.
"""

from __future__ import annotations

import numpy as np
import pytest

from evalsig_core.stats import PairedSample, wild_cluster_bootstrap
from evalsig_core.stats import bootstrap as bootstrap_mod
from evalsig_core.stats import wild_draws as draws_mod
from evalsig_core.stats.bootstrap import CHUNK_CELLS, bootstrap_draws, distinct_rows
from evalsig_core.stats.wild import WildBootstrap
from evalsig_core.stats.wild_draws import TYPES_MIN_G


def _binary_clusters(G: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(S, n) of binary paired scores in clusters of 1-12 items: under a hundred types."""
    rng = np.random.default_rng(seed)
    n = rng.integers(1, 13, G).astype(float)
    S = rng.binomial(n.astype(int), 0.15) - rng.binomial(n.astype(int), 0.1)
    return S.astype(float), n


def test_distinct_rows_equals_numpy_unique_rows() -> None:
    rng = np.random.default_rng(0)
    for X in (rng.integers(-3, 4, (5000, 2)).astype(float), rng.random((300, 4)),
              np.array([[1.0, 2.0]]), np.array([[0.0, 1.0], [-0.0, 1.0], [0.0, 0.5]])):
        types, counts = distinct_rows(X)
        ref_types, ref_counts = np.unique(X, axis=0, return_counts=True)
        assert np.array_equal(types, ref_types) and np.array_equal(counts, ref_counts)


def test_type_sign_projections_are_per_cluster_rademacher_signs() -> None:
    # Reconstruction: clusters ordered by type (distinct_rows' order); cluster j's sign is bit
    # j % 64 of word j // 64 of the draw, from the same generator call (one chunk here).
    S, n = _binary_clusters(3000, 1)
    data = np.stack([S, S * n, n, n * n])
    P = draws_mod.type_sign_projections(data, 40, seed=7)
    assert P is not None  # 3000 >= TYPES_MIN_G clusters, under 3000 / 16 types
    X = data.T[np.lexsort(data[::-1])]
    G = len(S)
    words = np.random.default_rng(7).integers(0, np.iinfo(np.uint64).max, size=((G + 63) // 64, 40),
                                              dtype=np.uint64, endpoint=True)
    j = np.arange(G)
    shift = (j % 64).astype(np.uint64)[:, None]
    bits = (words[j // 64] >> shift) & np.uint64(1)
    v = bits.astype(np.float64) * 2.0 - 1.0  # (G, draws)
    assert np.allclose(P, X.T @ v, rtol=0, atol=1e-9)


def test_type_path_is_skipped_for_continuous_scores_and_few_clusters() -> None:
    rng = np.random.default_rng(2)
    cont = rng.random((4, 4000))
    assert draws_mod.type_sign_projections(cont, 10, seed=0) is None
    S, n = _binary_clusters(TYPES_MIN_G - 1, 3)
    assert draws_mod.type_sign_projections(np.stack([S, S * n, n, n * n]), 10, seed=0) is None


def test_wcr_type_path_and_byte_table_give_the_same_law(monkeypatch: pytest.MonkeyPatch) -> None:
    # Two exact paths, two random streams: the bounds agree within Monte Carlo error
    # (sd of a 5% quantile bound over 9,999 draws is about 0.02 CR1 SE here).
    S, n = _binary_clusters(4000, 4)
    codes = np.repeat(np.arange(4000), n.astype(int))
    d = np.concatenate([np.r_[np.ones(int(s)) if s > 0 else np.full(int(-s), -1.0),
                              np.zeros(int(k - abs(s)))] for s, k in zip(S, n, strict=True)])
    sample = PairedSample(np.zeros(len(d)), d, codes)
    assert draws_mod.type_sign_projections(np.stack([S, S * n, n, n * n]), 1, seed=0) is not None
    fast = wild_cluster_bootstrap(sample, alpha=0.05, resamples=9999, seed=0)
    monkeypatch.setattr(draws_mod, "TYPES_MIN_G", 10**9)
    table = wild_cluster_bootstrap(sample, alpha=0.05, resamples=9999, seed=0)
    se1 = float(WildBootstrap.fit(S, n, resamples=99, seed=0).se1[0])
    assert fast.delta == table.delta
    for a, b in ((fast.lower, table.lower), (fast.upper, table.upper),
                 (fast.two_sided[0], table.two_sided[0])):
        assert abs(a - b) < 0.1 * se1, (a, b, se1)
    assert fast.lower != table.lower  # the streams do differ: the test compares two paths


def test_wcr_bounds_for_several_levels_equal_one_call_per_level() -> None:
    S, n = _binary_clusters(200, 5)
    S = S + np.random.default_rng(5).normal(0, 0.3, 200)
    wb = WildBootstrap.fit(S, n, resamples=999, seed=3)
    alphas = np.array([0.05, 0.025, 0.01])
    lows, ups = wb.lower(alphas), wb.upper(alphas)
    for k, a in enumerate(alphas):
        assert lows[k] == wb.lower(float(a))[0]
        assert ups[k] == wb.upper(float(a))[0]


def test_cluster_bootstrap_index_path_is_chunked_cluster_resampling() -> None:
    # Continuous S: more than MAX_DISTINCT types, so the index path; chunk k draws its
    # (rows x G) indices from default_rng([seed, k]).
    rng = np.random.default_rng(6)
    G = 3000
    S, n = rng.normal(size=G), rng.integers(1, 20, G).astype(float)
    draws = bootstrap_draws(S, n, resamples=1000, seed=4)
    rows = CHUNK_CELLS // G
    ref = []
    for k in range(-(-1000 // rows)):
        m = min(rows, 1000 - k * rows)
        idx = np.random.default_rng([4, k]).integers(0, G, size=(m, G), dtype=np.int32)
        ref.append(S[idx].sum(axis=1) / n[idx].sum(axis=1))
    assert np.allclose(draws, np.concatenate(ref), rtol=1e-12, atol=0)


def test_byte_table_projections_are_per_cluster_rademacher_signs(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Reconstruction: the sign bytes come from one generator in calls of CHUNK_CELLS // groups
    # draws; bit i of byte j (most significant first) is the sign of cluster 8 j + i. Small
    # chunk, pass and block sizes force several generator calls per pass, several passes and
    # table blocks on both threads; G is not a multiple of 8 (a padded last group).
    rng = np.random.default_rng(9)
    G, draws = 3001, 777
    S, n = rng.normal(size=G), rng.integers(1, 30, G).astype(float)
    data = np.stack([S, S * n, n, n * n])
    groups = (G + 7) // 8
    monkeypatch.setattr(draws_mod, "CHUNK_CELLS", 100 * groups)
    monkeypatch.setattr(draws_mod, "PACKED_BYTES", 300 * groups)
    monkeypatch.setattr(draws_mod, "TABLE_BLOCK", 16)
    P = draws_mod.rademacher_projections(data, draws, seed=4)
    gen = np.random.default_rng(4)
    packed = np.concatenate([gen.integers(0, 256, size=(min(100, draws - s), groups),
                                          dtype=np.uint8) for s in range(0, draws, 100)])
    v = np.unpackbits(packed, axis=1, count=G).astype(np.float64) * 2.0 - 1.0
    assert np.allclose(P, (v @ data.T).T, rtol=1e-12, atol=1e-9)


def test_multinomial_sums_are_chunked_multinomial_counts() -> None:
    # chunk k of draws comes from default_rng([seed, k]); at least two chunks (two threads)
    p = np.array([0.5, 0.3, 0.2])
    values = np.array([[1.0, 2.0], [0.0, 1.0], [-1.0, 3.0]])
    out = bootstrap_mod.multinomial_sums(40, p, values, resamples=101, seed=3)
    rows = 51  # ceil(101 / 2 threads)
    ref = np.concatenate([np.random.default_rng([3, k]).multinomial(40, p, size=m) @ values
                          for k, m in ((0, rows), (1, 101 - rows))])
    assert np.array_equal(out, ref)
