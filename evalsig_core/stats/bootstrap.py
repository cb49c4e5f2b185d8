"""Percentile bootstraps: `cluster_bootstrap` (evalsig 0.1's method) and `paired_bootstrap`.

Both resample from the per-cluster sums once (STATS.md): a draw of G cluster indices gives
delta* = sum S[idx] / sum n[idx]. Clusters with equal (S, n) are interchangeable, so when
there are at most `MAX_DISTINCT` such types (binary scores, small clusters) a draw is one
multinomial count per type; otherwise a sparse (draws x G) count matrix times (S, n).
Draws are made in chunks of about `CHUNK_CELLS` indices (two threads), so memory stays
bounded and no Python loop runs per resample. `paired_bootstrap` resamples items:
when d takes few distinct values (binary scores, few epochs) the N item draws reduce exactly to
one multinomial count per distinct value, O(B U) instead of O(B N).

The percentile method under-covers with few or unequal clusters (STATS.md): `auto` never picks
it below 50 clusters.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from scipy import sparse

from ..errors import InputError
from ._base import Inference, PairedSample, summarize_distribution

__all__ = [
    "bootstrap_draws", "cluster_bootstrap", "distinct_rows", "multinomial_sums",
    "paired_bootstrap", "percentile_inference",
]

CHUNK_CELLS = 2_000_000
THREADS = 2  # the machines evalsig targets (CI runners, laptops) have at least 2 cores
MAX_DISTINCT = 2048  # beyond this many distinct d values, resample items by index


def distinct_rows(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows of a 2-D float array in lexicographic order, and how often each occurs.

    What `np.unique(X, axis=0, return_counts=True)` returns, by one lexsort of the columns
    (np.unique sorts rows as structured scalars, ~10x slower at 50k rows).
    """
    order = np.lexsort(X.T[::-1])
    Xs = X[order]
    new = np.ones(len(Xs), dtype=bool)
    new[1:] = np.any(Xs[1:] != Xs[:-1], axis=1)
    starts = np.flatnonzero(new)
    return Xs[starts], np.diff(np.append(starts, len(Xs)))


def bootstrap_draws(S: np.ndarray, n: np.ndarray, *, resamples: int, seed: int) -> np.ndarray:
    """delta* for `resamples` draws of G clusters with replacement.

    `S` is (G,) or (R, G) (R samples sharing the same index draws); returns (B,) or (R, B).
    Chunk k of draws uses its own generator `default_rng([seed, k])`, so the result is the
    same bit for bit whichever thread computes which chunk. Two threads: numpy's generator
    releases the GIL (it is most of the time: one bounded int32 per cell), scipy's sparse
    product holds it, so one thread's draws overlap the other's product.
    """
    S = np.asarray(S, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    G = n.shape[0]
    rows = max(1, CHUNK_CELLS // G)
    batch = S.ndim == 2
    if not batch:
        types, counts = distinct_rows(np.stack([S, n], axis=1))
        if len(types) <= MAX_DISTINCT:
            return _type_draws(types, counts, resamples=resamples, seed=seed)
    out = np.empty((S.shape[0], resamples) if batch else resamples)
    X = np.stack([S, n], axis=1) if not batch else None

    # shared read-only by every chunk; an int32 indptr keeps scipy from copying the indices
    # to int64 (it matches the index dtype to the wider of the two)
    ones = np.ones(min(rows, resamples) * G)
    indptr = np.arange(0, min(rows, resamples) * G + 1, G, dtype=np.int32)

    def chunk(k: int) -> None:
        start = k * rows
        m = min(rows, resamples - start)
        idx = np.random.default_rng([seed, k]).integers(0, G, size=(m, G), dtype=np.int32)
        # counts of each cluster in each draw, as a sparse (draws x G) matrix (duplicates add)
        pick = sparse.csr_matrix((ones[:m * G], idx.ravel(), indptr[:m + 1]), shape=(m, G))
        if X is None:
            out[:, start:start + m] = (pick @ S.T).T / (pick @ n)
        else:
            num_den = pick @ X
            out[start:start + m] = num_den[:, 0] / num_den[:, 1]

    n_chunks = -(-resamples // rows)
    if n_chunks > 1 and not batch:
        with ThreadPoolExecutor(max_workers=THREADS) as pool:
            list(pool.map(chunk, range(n_chunks)))
    else:
        for k in range(n_chunks):
            chunk(k)
    return out


def _type_draws(types: np.ndarray, counts: np.ndarray, *, resamples: int,
                seed: int) -> np.ndarray:
    """Exact shortcut: clusters with equal (S, n) are interchangeable, so G draws with
    replacement are one multinomial count per distinct (S, n) type (binary scores and small
    clusters have a few hundred types): O(B T) instead of O(B G)."""
    sums = multinomial_sums(int(counts.sum()), counts / counts.sum(), types,
                            resamples=resamples, seed=seed)
    return sums[:, 0] / sums[:, 1]


def multinomial_sums(total: int, p: np.ndarray, values: np.ndarray, *, resamples: int,
                     seed: int) -> np.ndarray:
    """(resamples, k) sums of `values` (T, k) weighted by Multinomial(total, p) counts.

    Chunk k of draws uses its own generator `default_rng([seed, k])` and the draws are split
    into at least `THREADS` chunks, so two threads share the work (numpy's multinomial loop
    runs without the GIL: the cost is one binomial per type and draw) and the result is the
    same bit for bit whichever thread computes which chunk.
    """
    T = len(p)
    rows = max(1, min(CHUNK_CELLS // T, -(-resamples // THREADS)))
    out = np.empty((resamples, values.shape[1]))

    def chunk(k: int) -> None:
        start = k * rows
        m = min(rows, resamples - start)
        counts = np.random.default_rng([seed, k]).multinomial(total, p, size=m)
        out[start:start + m] = counts @ values

    n_chunks = -(-resamples // rows)
    if n_chunks > 1:
        with ThreadPoolExecutor(max_workers=THREADS) as pool:
            list(pool.map(chunk, range(n_chunks)))
    else:
        chunk(0)
    return out


def percentile_inference(
    method: str, draws: np.ndarray, delta: float, *, alpha: float, theta0: float,
    df: float, seed: int, alpha_allow: float | None, notes: tuple[str, ...] = (),
) -> Inference:
    """Percentile bounds and p-values (share of delta* on the null side of theta0, at least
    1 / (B + 1)).

    Each bound is the order statistic that inverts its p-value: L > theta0 exactly when
    p < alpha (and U < theta0 exactly when the upper p < alpha), as the gate's verdict and
    a suite's multiplicity correction assume. np.quantile's interpolated quantile did not:
    with 199 draws, 10 of them <= 0 (p = 0.0503) still gave L > 0, so a gate ALLOWed what the
    same entry alone in a suite demoted."""
    B = len(draws)
    x = np.sort(draws)
    # p of a theta with k draws on its null side, for every k: what the p-values below give
    p_of_k = np.maximum(np.arange(B + 1) / B, 1.0 / (B + 1))

    def lower_at(level: float) -> float:
        k = int(np.searchsorted(p_of_k, level, side="left"))  # fewest draws with p >= level
        return float(x[k - 1]) if k >= 1 else -np.inf  # k = 0: no theta is rejected

    def upper_at(level: float) -> float:
        k = int(np.searchsorted(p_of_k, level, side="left"))
        return float(x[B - k]) if k >= 1 else np.inf

    low_allow = None if alpha_allow is None else lower_at(alpha_allow)
    return Inference(
        method=method, delta=delta, se=float(np.std(draws, ddof=1)), df=df,
        lower=lower_at(alpha), upper=upper_at(alpha),
        two_sided=(lower_at(alpha / 2), upper_at(alpha / 2)),
        # never p = 0 from random draws: 1 / (B + 1) is the smallest p B draws can resolve
        p_value=max(float(np.mean(draws <= theta0)), 1.0 / (len(draws) + 1)),
        p_value_upper=max(float(np.mean(draws >= theta0)), 1.0 / (len(draws) + 1)),
        theta0=theta0, alpha=alpha, notes=notes, seed=seed, resamples=len(draws),
        alpha_allow=alpha_allow, lower_allow=low_allow,
        distribution=summarize_distribution(draws),
    )


def cluster_bootstrap(
    sample: PairedSample, *, alpha: float, theta0: float = 0.0, resamples: int = 10000,
    seed: int = 0, alpha_allow: float | None = None, **_: object,
) -> Inference:
    """Percentile bootstrap over clusters (resampled with replacement)."""
    sums = sample.sums
    if sums is None:
        raise InputError("cluster_bootstrap needs a cluster key",
                         hint="pass --cluster KEY, or use paired_bootstrap")
    if sums.G < 2:
        raise InputError(f"cluster_bootstrap needs at least 2 clusters, got {sums.G}",
                         hint="choose a finer cluster key or drop --cluster")
    draws = bootstrap_draws(sums.S, sums.n, resamples=resamples, seed=seed)
    notes = ("percentile cluster bootstrap: under-covers with few or unequal clusters",)
    return percentile_inference("cluster_bootstrap", draws, sums.delta, alpha=alpha,
                                theta0=theta0, df=float(sums.G - 1), seed=seed,
                                alpha_allow=alpha_allow, notes=notes)


def _item_draws(d: np.ndarray, *, resamples: int, seed: int) -> np.ndarray:
    values, counts = np.unique(d, return_counts=True)
    N = len(d)
    if len(values) > MAX_DISTINCT:
        return bootstrap_draws(d, np.ones(N), resamples=resamples, seed=seed)
    # N iid draws from the items = a multinomial count of each distinct value.
    sums = multinomial_sums(N, counts / N, values[:, None], resamples=resamples, seed=seed)
    return sums[:, 0] / N


def paired_bootstrap(
    sample: PairedSample, *, alpha: float, theta0: float = 0.0, resamples: int = 10000,
    seed: int = 0, alpha_allow: float | None = None, **_: object,
) -> Inference:
    """Percentile bootstrap over paired items (iid: ignores any cluster key)."""
    if sample.n < 2:
        raise InputError(f"paired_bootstrap needs at least 2 paired items, got {sample.n}",
                         hint="add items to both runs")
    draws = _item_draws(sample.d, resamples=resamples, seed=seed)
    notes: tuple[str, ...] = ("percentile bootstrap over items",)
    if sample.sums is not None:
        notes = (*notes, "items are resampled independently: the cluster key is ignored")
    return percentile_inference("paired_bootstrap", draws, sample.delta, alpha=alpha,
                                theta0=theta0, df=float(sample.n - 1), seed=seed,
                                alpha_allow=alpha_allow, notes=notes)
