"""Shared inputs and outputs of every inference method.

Every method starts from a `PairedSample`: the per-item differences and, with clusters, the
per-cluster sums `S_g` and sizes `n_g` computed once by `np.bincount` (STATS.md), so its cost
after that reduction does not grow with the number of items.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["ClusterSums", "Inference", "PairedSample"]


@dataclass(frozen=True, eq=False)
class ClusterSums:
    """Per-cluster sums of d and sizes: S_g = sum_{i in g} d_i, n_g = |g|."""

    S: np.ndarray
    n: np.ndarray

    @classmethod
    def from_items(cls, d: np.ndarray, codes: np.ndarray) -> ClusterSums:
        G = int(codes.max()) + 1 if len(codes) else 0
        S = np.bincount(codes, weights=d, minlength=G)
        n = np.bincount(codes, minlength=G).astype(np.float64)
        return cls(S, n)

    @property
    def G(self) -> int:
        return len(self.n)

    @property
    def N(self) -> float:
        return float(self.n.sum())

    @property
    def delta(self) -> float:
        return float(self.S.sum() / self.n.sum())


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
