"""Resampling methods against Python loops over resamples (`make bench BENCH=stats`).

Issue 3's target: for 100k items / 5k clusters and 1M items / 50k clusters, 10,000 resamples
each, `cluster_bootstrap` and `wild_cluster_bootstrap` at least 100x faster than a reference
that loops over resamples in Python (the evalsig 0.1 shape); the 1M case under 3 s on 2 cores
with peak traced memory under 1 GB. Times are wall-clock of the library call end to end
(per-cluster sums, draws, bounds; pairing excluded), measured side by side in one run.

References (each timed on a subset of resamples and scaled linearly to 10,000: its cost per
resample is constant):
- cluster_bootstrap, "evalsig 0.1.2": the resampling loop of evalsig 0.1.2 (PyPI),
  `evalsig/inference/cluster_bootstrap.py`, `cluster_bootstrap_ci`, copied verbatim below.
  Its one-off setup (a `np.where` per cluster: O(N G)) is timed and printed separately and
  is NOT in the ratio, which is therefore conservative.
- cluster_bootstrap, "bincount loop": a stricter reference, a Python loop over resamples
  that re-weights the items with one `np.bincount` per resample (faster than evalsig 0.1).
- wild_cluster_bootstrap, "per-draw refit": evalsig 0.1 had no wild bootstrap, so the
  reference rebuilds y* item by item and refits delta* and its CR1 SE per draw, for one
  p-value only (the library call also inverts the test for five bounds: the ratio is a lower
  bound).
Binary scores in clusters of ~20 items have a few hundred distinct (S_g, n_g) types, which
both methods exploit exactly (see their modules); the continuous-score 1M case has no two
clusters alike and times the general paths (index draws; byte-table sign projections).
Also: peak traced memory of the 1M cases and of the permutation test at 1M items.
Run: `make bench BENCH=stats` (or `python -m bench stats`).
"""

from __future__ import annotations

import resource
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np

from evalsig_core.stats import PairedSample, cluster_bootstrap, permutation, wild_cluster_bootstrap

B = 10_000


def _data(n: int, G: int, seed: int = 0) -> PairedSample:
    rng = np.random.default_rng(seed)
    codes = np.sort(rng.integers(0, G, n))
    b = (rng.random(n) < 0.6).astype(float)
    c = np.where(rng.random(n) < 0.1, 1 - b, b)
    return PairedSample(b, c, codes)


def _ref01_groups(cluster_id: np.ndarray) -> list[np.ndarray]:
    """evalsig 0.1.2 setup (cluster_bootstrap.py, cluster_bootstrap_ci), verbatim."""
    clusters, inverse = np.unique(cluster_id, return_inverse=True)
    n_clusters = clusters.size
    groups: list[np.ndarray] = [np.where(inverse == k)[0] for k in range(n_clusters)]
    return groups


def _ref01_bootstrap(d: np.ndarray, groups: list[np.ndarray], n_resamples: int) -> np.ndarray:
    """evalsig 0.1.2 resampling loop (evalsig/inference/cluster_bootstrap.py,
    cluster_bootstrap_ci), verbatim but for the setup above and the generator argument."""
    rng = np.random.default_rng(0)
    n_clusters = len(groups)
    boot_means = np.empty(n_resamples, dtype=np.float64)
    for r in range(n_resamples):
        # Pick `n_clusters` clusters with replacement.
        chosen = rng.integers(0, n_clusters, size=n_clusters)
        # Glue together the diffs from the chosen clusters and take the
        # mean. Each cluster is small so this stays fast.
        sample = np.concatenate([d[groups[k]] for k in chosen])
        boot_means[r] = sample.mean()
    return boot_means


def _ref_bincount(sample: PairedSample, reps: int) -> np.ndarray:
    """Stricter reference: per resample, draw clusters and re-weight every item (bincount)."""
    rng = np.random.default_rng(0)
    codes, d = sample.cluster_codes, sample.d
    assert codes is not None
    G = int(codes.max()) + 1
    out = np.empty(reps)
    for r in range(reps):
        w = np.bincount(rng.integers(0, G, G), minlength=G)[codes]
        out[r] = float((w * d).sum() / w.sum())  # no BLAS call: stable on a loaded machine
    return out


def _ref_wild(sample: PairedSample, reps: int) -> float:
    """Per draw: rebuild y* item by item, refit delta* and its CR1 SE (one p-value)."""
    rng = np.random.default_rng(0)
    codes, d = sample.cluster_codes, sample.d
    assert codes is not None
    G, N = int(codes.max()) + 1, len(d)
    theta = 0.0
    u = np.bincount(codes, weights=d - d.mean(), minlength=G)
    t_obs = (d.mean() - theta) / (np.sqrt(G / (G - 1) * (u * u).sum()) / N)
    hits = 0
    for _ in range(reps):
        v = rng.choice([-1.0, 1.0], size=G)[codes]
        y = theta + v * (d - theta)
        m = y.mean()
        ug = np.bincount(codes, weights=y - m, minlength=G)
        hits += (m - theta) / (np.sqrt(G / (G - 1) * (ug * ug).sum()) / N) >= t_obs
    return hits / reps


def _time(fn: Callable[[], Any]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def _peak(fn: Callable[[], Any]) -> float:
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 1e6


def _line(name: str, t_ours: float, ref: str, t_ref: float, big: bool) -> None:
    print(f"{name:24s} evalsig {t_ours:6.2f} s | {ref:26s} ~{t_ref:7.1f} s | ratio "
          f"{t_ref / t_ours:6.0f}x | target >= 100x{', < 3 s' if big else ''}", flush=True)


def _case(s: PairedSample, sub: int, groups: list[np.ndarray], what: str) -> None:
    big = s.n >= 1_000_000
    G = len(groups)
    print(f"-- {s.n:,} items / {G:,} clusters / {B:,} resamples, {what} (references timed on "
          f"{sub} resamples, scaled x{B // sub})", flush=True)

    def boot() -> object:
        return cluster_bootstrap(s, alpha=0.05, resamples=B)

    def wild() -> object:
        return wild_cluster_bootstrap(s, alpha=0.05, resamples=B, alpha_allow=0.025)

    t_ours = _time(boot)
    _line("cluster_bootstrap", t_ours, "evalsig 0.1.2 loop",
          _time(lambda: _ref01_bootstrap(s.d, groups, sub)) * (B / sub), big)
    _line("", t_ours, "bincount loop (stricter)", _time(lambda: _ref_bincount(s, sub)) * (B / sub),
          big)
    if big:
        print(f"{'':24s} peak traced memory {_peak(boot):.0f} MB (target < 1000 MB)", flush=True)
    t_ours = _time(wild)
    _line("wild_cluster_bootstrap", t_ours, "per-draw refit (no 0.1 WCR)",
          _time(lambda: _ref_wild(s, sub)) * (B / sub), big)
    if big:
        print(f"{'':24s} peak traced memory {_peak(wild):.0f} MB (target < 1000 MB)", flush=True)


def main() -> None:
    groups: list[np.ndarray] = []
    for n, G, sub in ((100_000, 5_000, 100), (1_000_000, 50_000, 10)):
        s = _data(n, G)
        assert s.cluster_codes is not None
        setup = _time(lambda s=s: groups.__setitem__(slice(None),
                                                      _ref01_groups(s.cluster_codes)))
        print(f"(evalsig 0.1.2 setup, one np.where per cluster, not in the ratios: {setup:.1f} s)")
        _case(s, sub, groups, "binary scores")
    rng = np.random.default_rng(2)
    base = _data(1_000_000, 50_000)
    cont = PairedSample(base.baseline, rng.random(1_000_000), base.cluster_codes)
    _case(cont, 10, groups, "continuous scores: no two clusters alike, the general paths")
    big = _data(1_000_000, 50_000)
    flat = PairedSample(big.baseline, big.candidate)
    print("-- permutation at 1,000,000 items (no clusters)")
    mb = _peak(lambda: permutation(flat, alpha=0.05, resamples=B))
    print(f"binary scores, {B:,} sign flips: peak traced memory {mb:.0f} MB "
          f"(an N x B sign matrix would be {1_000_000 * B * 8 / 1e9:.0f} GB)")
    flat_c = PairedSample(rng.random(1_000_000), rng.random(1_000_000))
    mb = _peak(lambda: permutation(flat_c, alpha=0.05, resamples=200))
    print(f"continuous scores (1M distinct values, chunked sign vectors), 200 flips: peak "
          f"traced memory {mb:.0f} MB")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"process max RSS {rss:.0f} MB (includes the benchmark's own data)")


if __name__ == "__main__":
    main()
