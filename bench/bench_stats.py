"""Resampling methods against the evalsig 0.1 shape (a Python loop over resamples).

For 100k items / 5k clusters and 1M items / 50k clusters, 10,000 resamples each:
- `cluster_bootstrap` and `wild_cluster_bootstrap` (the library calls, bounds included),
- a reference that loops over resamples in Python on the item-level arrays, as evalsig 0.1
  did. The reference is timed on a subset of resamples and scaled linearly to 10,000 (its
  cost per resample is constant); the WCR reference computes one p-value only, while the
  library call also inverts the test for five bounds, so its ratio is a lower bound.
Binary scores in clusters of ~20 items have a few hundred distinct (S_g, n_g) types, which
`cluster_bootstrap` resamples as one multinomial count per type (exact); a continuous-score
1M case times the general index path too.
Also: peak traced memory of the 1M case and of the permutation test at 1M items.
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


def _ref_bootstrap(sample: PairedSample, reps: int) -> np.ndarray:
    """evalsig 0.1 shape: per resample, draw clusters and re-weight every item."""
    rng = np.random.default_rng(0)
    codes, d = sample.cluster_codes, sample.d
    assert codes is not None
    G = int(codes.max()) + 1
    out = np.empty(reps)
    for r in range(reps):
        w = np.bincount(rng.integers(0, G, G), minlength=G)[codes]
        out[r] = float(np.dot(w, d) / w.sum())
    return out


def _ref_wild(sample: PairedSample, reps: int) -> float:
    """Per draw: rebuild y* item by item, refit delta* and its CR1 SE (one p-value)."""
    rng = np.random.default_rng(0)
    codes, d = sample.cluster_codes, sample.d
    assert codes is not None
    G, N = int(codes.max()) + 1, len(d)
    theta = 0.0
    u = np.bincount(codes, weights=d - d.mean(), minlength=G)
    t_obs = (d.mean() - theta) / (np.sqrt(G / (G - 1) * np.dot(u, u)) / N)
    hits = 0
    for _ in range(reps):
        v = rng.choice([-1.0, 1.0], size=G)[codes]
        y = theta + v * (d - theta)
        m = y.mean()
        ug = np.bincount(codes, weights=y - m, minlength=G)
        hits += (m - theta) / (np.sqrt(G / (G - 1) * np.dot(ug, ug)) / N) >= t_obs
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


def main() -> None:
    for n, G, sub in ((100_000, 5_000, 200), (1_000_000, 50_000, 20)):
        s = _data(n, G)
        print(f"-- {n:,} items / {G:,} clusters / {B:,} resamples "
              f"(reference timed on {sub} resamples, scaled x{B // sub})", flush=True)
        for name, ours, ref in (
            ("cluster_bootstrap", lambda s=s: cluster_bootstrap(s, alpha=0.05, resamples=B),
             lambda s=s, k=sub: _ref_bootstrap(s, k)),
            ("wild_cluster_bootstrap",
             lambda s=s: wild_cluster_bootstrap(s, alpha=0.05, resamples=B, alpha_allow=0.025),
             lambda s=s, k=sub: _ref_wild(s, k)),
        ):
            t_ours = _time(ours)
            t_ref = _time(ref) * (B / sub)
            print(f"{name:24s} evalsig {t_ours:7.2f} s   python-loop reference ~{t_ref:8.1f} s"
                  f"   ratio {t_ref / t_ours:7.0f}x   (target >= 100x"
                  f"{', < 3 s' if n == 1_000_000 else ''})", flush=True)
            if n == 1_000_000:
                print(f"{'':24s} peak traced memory {_peak(ours):.0f} MB (target < 1000 MB)")
    rng = np.random.default_rng(2)
    base = _data(1_000_000, 50_000)
    cont = PairedSample(base.baseline, rng.random(1_000_000), base.cluster_codes)
    print("-- 1,000,000 items / 50,000 clusters with continuous scores (no two clusters alike: "
          "the index path, no multinomial-over-types shortcut)")
    t_c = _time(lambda: cluster_bootstrap(cont, alpha=0.05, resamples=B))
    print(f"cluster_bootstrap        evalsig {t_c:7.2f} s   peak traced memory "
          f"{_peak(lambda: cluster_bootstrap(cont, alpha=0.05, resamples=B)):.0f} MB")
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
