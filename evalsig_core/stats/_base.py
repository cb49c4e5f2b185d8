"""Shared inputs and outputs of every inference method.

Every method starts from a `PairedSample`: the per-item differences and, with clusters, the
per-cluster sums `S_g` and sizes `n_g` computed once by `np.bincount` (STATS.md), so its cost
after that reduction does not grow with the number of items.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

__all__ = ["ClusterSums", "Inference", "PairedSample", "bisect", "effective_clusters",
           "summarize_distribution"]


def effective_clusters(n: np.ndarray) -> float:
    """Kish's effective number of clusters N^2 / sum n_g^2 (G when sizes are equal)."""
    n = np.asarray(n, dtype=np.float64)
    return float(n.sum() ** 2 / np.sum(n * n))


@dataclass(frozen=True, eq=False)
class ClusterSums:
    """Per-cluster sums of d and sizes: S_g = sum_{i in g} d_i, n_g = |g|, and (from items)
    the sums of squares Q_g = sum_{i in g} d_i^2 that the within-cluster variance needs."""

    S: np.ndarray
    n: np.ndarray
    Q: np.ndarray | None = None

    @classmethod
    def from_items(cls, d: np.ndarray, codes: np.ndarray) -> ClusterSums:
        G = int(codes.max()) + 1 if len(codes) else 0
        S = np.bincount(codes, weights=d, minlength=G)
        n = np.bincount(codes, minlength=G).astype(np.float64)
        Q = np.bincount(codes, weights=d * d, minlength=G)
        return cls(S, n, Q)

    @property
    def G(self) -> int:
        return len(self.n)

    @property
    def N(self) -> float:
        return float(self.n.sum())

    @property
    def delta(self) -> float:
        return float(self.S.sum() / self.n.sum())

    @property
    def effective_clusters(self) -> float:
        return effective_clusters(self.n)


@dataclass(frozen=True, eq=False)
class PairedSample:
    """Paired per-item scores (epochs already averaged) and optional cluster codes."""

    baseline: np.ndarray
    candidate: np.ndarray
    cluster_codes: np.ndarray | None = None
    d: np.ndarray = field(init=False)
    sums: ClusterSums | None = field(init=False)

    def __post_init__(self) -> None:
        d = np.asarray(self.candidate, dtype=np.float64) - np.asarray(
            self.baseline, dtype=np.float64
        )
        object.__setattr__(self, "d", d)
        sums = None if self.cluster_codes is None else ClusterSums.from_items(d, self.cluster_codes)
        object.__setattr__(self, "sums", sums)

    @property
    def n(self) -> int:
        return len(self.d)

    @property
    def G(self) -> int | None:
        return None if self.sums is None else self.sums.G

    @property
    def delta(self) -> float:
        return float(self.d.mean())

    @property
    def is_binary(self) -> bool:
        b, c = self.baseline, self.candidate
        return bool(np.all((b == 0) | (b == 1)) and np.all((c == 0) | (c == 1)))


@dataclass(frozen=True)
class Inference:
    """What an inference method concludes about delta = mean(candidate - baseline).

    `lower`/`upper` are one-sided (1 - alpha) bounds; `two_sided` is the two-sided (1 - alpha)
    interval; `p_value` tests H0: delta <= theta0 against delta > theta0, and `p_value_upper`
    tests H0: delta >= theta0 against delta < theta0. Unbounded ends are +-inf here and
    become null in reports. `se` and `df` drive the MDE (df = inf means normal).
    """

    method: str
    delta: float
    se: float
    df: float
    lower: float
    upper: float
    two_sided: tuple[float, float]
    p_value: float
    p_value_upper: float
    theta0: float
    alpha: float
    notes: tuple[str, ...] = ()
    seed: int | None = None
    resamples: int | None = None
    # The lower bound used for ALLOW when `auto` asks for a stricter level than `alpha`
    # (alpha/2 for every clustered design; STATS.md). None: the decision uses `lower`.
    alpha_allow: float | None = None
    lower_allow: float | None = None
    # Quantiles 0, 1, ..., 100 % of the resampling distribution of delta* (bootstrap,
    # permutation or wild bootstrap under H0), for plots; None for analytic methods.
    distribution: tuple[float, ...] | None = None

    @property
    def decision_lower(self) -> float:
        """The lower bound the ALLOW decision compares with the margin."""
        return self.lower if self.lower_allow is None else self.lower_allow


def summarize_distribution(draws: np.ndarray) -> tuple[float, ...]:
    """Percentiles 0..100 of a resampling distribution (for the report's plot); none when a
    draw is not finite (beyond the float range, at a margin near 1e308): the percentiles of
    the finite draws alone would misplace the distribution."""
    if draws.size == 0 or not np.all(np.isfinite(draws)):
        return ()
    return tuple(float(x) for x in np.percentile(draws, np.arange(101)))


def bisect(f: Callable[[np.ndarray], np.ndarray], lo: np.ndarray, hi: np.ndarray,
           *, iters: int = 60) -> np.ndarray:
    """Vectorised bisection for a boolean predicate: f(lo) is False, f(hi) is True.

    Returns the midpoint of the final bracket of each element; 60 halvings shrink any bracket
    below 1e-17 of its width, far below the resolution of a bound.
    """
    lo = np.array(lo, dtype=np.float64, copy=True)
    hi = np.array(hi, dtype=np.float64, copy=True)
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        ok = f(mid)
        hi = np.where(ok, mid, hi)
        lo = np.where(ok, lo, mid)
    return 0.5 * (lo + hi)
