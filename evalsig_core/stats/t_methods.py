"""t-based methods: iid paired t and cluster-robust t (CR1 / CR2 with Bell-McCaffrey df).

Formulas from STATS.md. For a mean, with u_g = S_g - delta * n_g:
  CR1: V = G/(G-1) * sum_g u_g^2 / N^2
  CR2: V = sum_g u_g^2 / (1 - n_g/N) / N^2
  Bell-McCaffrey: w_g = 1/(N^2 (1 - n_g/N)), A_gh = n_g 1[g=h] - n_g n_h / N,
  nu = (sum_g w_g A_gg)^2 / sum_{g,h} w_g w_h A_gh^2, where the double sum expands to
  sum_g w_g^2 (n_g^2 - 2 n_g^3/N) + (sum_g w_g n_g^2)^2 / N^2  (O(G), no G x G matrix).
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import InputError
from ._base import ClusterSums, Inference, PairedSample
from ._dist import norm_cdf, norm_ppf, norm_sf, t_cdf, t_ppf, t_sf

__all__ = [
    "bell_mccaffrey_df", "clustered_t", "cr1_variance", "cr2_variance", "paired_t",
    "t_inference",
]


def cr1_variance(sums: ClusterSums) -> float:
    G, N = sums.G, sums.N
    u = sums.S - sums.delta * sums.n
    return float(G / (G - 1) * np.dot(u, u) / N**2)


def cr2_variance(sums: ClusterSums) -> float:
    N = sums.N
    u = sums.S - sums.delta * sums.n
    return float(np.sum(u * u / (1.0 - sums.n / N)) / N**2)


def bell_mccaffrey_df(n: np.ndarray) -> float:
    N = float(n.sum())
    w = 1.0 / (N**2 * (1.0 - n / N))
    num = float(np.sum(w * (n - n * n / N))) ** 2
    den = float(np.sum(w * w * (n * n - 2.0 * n**3 / N)) + np.sum(w * n * n) ** 2 / N**2)
    return num / den


def t_inference(
    method: str, delta: float, se: float, df: float, *, alpha: float, theta0: float,
    notes: tuple[str, ...] = (), alpha_allow: float | None = None,
) -> Inference:
    """Bounds and p-values from a t (or, with df = inf, normal) reference distribution;
    with `alpha_allow`, also ALLOW's one-sided lower bound at that level."""
    normal = math.isinf(df)

    def q(level: float) -> float:
        return float(norm_ppf(1 - level) if normal else t_ppf(1 - level, df))

    q1, q2 = q(alpha), q(alpha / 2)
    if se > 0:
        z = (delta - theta0) / se
        p_lo = float(norm_sf(z) if normal else t_sf(z, df))
        p_hi = float(norm_cdf(z) if normal else t_cdf(z, df))
    else:
        # Every paired difference is identical: the data carry no sampling noise at all.
        p_lo = 0.0 if delta > theta0 else 1.0
        p_hi = 0.0 if delta < theta0 else 1.0
        notes = (*notes, "all paired differences are equal: SE is 0")
    return Inference(
        method=method, delta=delta, se=se, df=df,
        lower=delta - q1 * se, upper=delta + q1 * se,
        two_sided=(delta - q2 * se, delta + q2 * se),
        p_value=p_lo, p_value_upper=p_hi, theta0=theta0, alpha=alpha, notes=notes,
        alpha_allow=alpha_allow,
        lower_allow=None if alpha_allow is None else delta - q(alpha_allow) * se,
    )


def paired_t(sample: PairedSample, *, alpha: float, theta0: float = 0.0, **_: object) -> Inference:
    """iid paired t: SE = sd(d)/sqrt(N), df = N - 1 (equals scipy.stats.ttest_rel)."""
    n = sample.n
    if n < 2:
        raise InputError(f"paired t needs at least 2 paired items, got {n}",
                         hint="add items to both runs")
    se = float(np.std(sample.d, ddof=1) / math.sqrt(n))
    return t_inference("paired_t", sample.delta, se, float(n - 1), alpha=alpha, theta0=theta0)


def clustered_t(
    sample: PairedSample, *, alpha: float, theta0: float = 0.0,
    alpha_allow: float | None = None, **_: object
) -> Inference:
    """Cluster-robust t: CR2 variance with Bell-McCaffrey degrees of freedom. Where `auto`
    decides with it (a few clusters, stats/auto.py) it asks for ALLOW's bound at `alpha_allow`."""
    sums = sample.sums
    if sums is None:
        raise InputError("clustered_t needs a cluster key", hint="pass --cluster KEY")
    if sums.G < 2:
        raise InputError(
            f"clustered_t needs at least 2 clusters, got {sums.G}",
            hint="choose a finer cluster key or drop --cluster",
        )
    se = math.sqrt(cr2_variance(sums))
    df = bell_mccaffrey_df(sums.n)
    return t_inference("clustered_t", sums.delta, se, df, alpha=alpha, theta0=theta0,
                       alpha_allow=alpha_allow)
