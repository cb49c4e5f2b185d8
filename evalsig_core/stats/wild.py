"""Wild cluster restricted bootstrap-t (WCR), CI by test inversion (STATS.md).

Under H0: delta = theta, with u_g = S_g - theta n_g, a draw is y*_g = theta n_g + v_g u_g.
Writing a = sum_g v_g u_g, the bootstrap estimate is delta* = theta + a/N and its residuals are
u*_g = v_g u_g - (a/N) n_g, so the CR1 variance of the draw is
    V* = G/(G-1) [Q - 2 a b / N + a^2 M / N^2] / N^2,
with b = sum_g v_g u_g n_g, Q = sum_g v_g^2 u_g^2, M = sum_g n_g^2, and t* = (a/N) / sqrt(V*).
Every term is linear or quadratic in theta:
    a = A1 - theta A2,   b = B1 - theta B2,   Q = Q1 - 2 theta Q2 + theta^2 Q3,
with A1 = v.S, A2 = v.n, B1 = v.(S n), B2 = v.(n^2), Q1 = v^2.S^2, Q2 = v^2.(S n),
Q3 = v^2.n^2 (for Rademacher weights v^2 = 1 and the Q's are per-sample constants). These
projections are computed once, so each step of the test inversion costs O(B), not O(B G).
The draws, and their projections on the data, come from `wild_draws` (its docstring says how
the weights are chosen and drawn). `S` may carry a leading batch axis (replications of a
calibration study) that shares one set of draws.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ._base import Inference, PairedSample, bisect, summarize_distribution
from .t_methods import bell_mccaffrey_df, cr2_variance
from .wild_draws import (
    WildPlan,
    rademacher_projections,
    type_sign_projections,
    weight_chunks,
    wild_plan,
)

__all__ = ["WildBootstrap", "wild_cluster_bootstrap"]

_TIES = 1e-10  # relative tolerance for t* = t_obs
_BRACKET = 100.0  # test-inversion bracket: delta +- 100 CR1 standard errors
_FAR = 1e100  # |theta| from which _exceed works in units of |theta| (theta^2 Q3 overflowed)


@dataclass(frozen=True, eq=False)
class WildBootstrap:
    """Projections of the draws on the data: p-values and bounds at any theta in O(B).

    Arrays with a leading axis of length R (samples) and a trailing axis of length B (draws).
    """

    plan: WildPlan
    G: int
    N: float
    M: float
    delta: np.ndarray  # (R,)
    se1: np.ndarray  # (R,) CR1 standard error of the data
    A1: np.ndarray
    B1: np.ndarray
    Q1: np.ndarray
    Q2: np.ndarray
    A2: np.ndarray  # (B,)
    B2: np.ndarray
    Q3: np.ndarray

    @classmethod
    def fit(cls, S: np.ndarray, n: np.ndarray, *, resamples: int, seed: int) -> WildBootstrap:
        S = np.atleast_2d(np.asarray(S, dtype=np.float64))
        n = np.asarray(n, dtype=np.float64)
        R, G = S.shape
        plan = wild_plan(G, resamples)
        N = float(n.sum())
        data = np.concatenate([S, S * n, n[None, :], (n * n)[None, :]])
        webb = plan.weights == "webb"
        sq = np.concatenate([S * S, S * n, (n * n)[None, :]]) if webb else None
        quad: list[np.ndarray] = []
        if not webb and not plan.enumerated and R == 1:
            P = type_sign_projections(data, plan.draws, seed)
            if P is None:
                P = rademacher_projections(data, plan.draws, seed)
        else:
            lin = []
            for v in weight_chunks(G, plan, seed):
                # (draws x G) @ (G x k): this orientation keeps BLAS on its fast path
                lin.append((v @ data.T).T)
                if sq is not None:
                    quad.append(((v * v) @ sq.T).T)
            P = np.concatenate(lin, axis=1)
        delta = S.sum(axis=1) / N
        u = S - delta[:, None] * n
        se1 = np.sqrt(G / (G - 1) * np.sum(u * u, axis=1)) / N
        if sq is not None:
            Qm = np.concatenate(quad, axis=1)
            Q1, Q2, Q3 = Qm[:R], Qm[R:2 * R], Qm[2 * R]
        else:
            Q1 = np.sum(S * S, axis=1)[:, None]
            Q2 = np.sum(S * n, axis=1)[:, None]
            Q3 = np.full(1, float(np.sum(n * n)))
        return cls(plan, G, N, float(np.sum(n * n)), delta, se1,
                   A1=P[:R], B1=P[R:2 * R], A2=P[2 * R], B2=P[2 * R + 1], Q1=Q1, Q2=Q2, Q3=Q3)

    def _exceed(self, theta: np.ndarray, upper: bool) -> np.ndarray:
        """Share of draws whose t* is at least as extreme as t_obs, per sample, at theta."""
        if np.any(np.abs(theta) > _FAR):
            return self._exceed_far(theta, upper)
        # The arithmetic of the formula in the module docstring, in place (each (R, B)
        # temporary costs as much as the operation at B = 10k); same operations, same order.
        th = theta[:, None]
        a = self.A2 * th
        np.subtract(self.A1, a, out=a)
        x = self.B2 * th
        np.subtract(self.B1, x, out=x)
        Q = self.Q1 - 2.0 * th * self.Q2 + th * th * self.Q3
        N = self.N
        x *= a  # b a, then (2 a b) / N
        x *= 2.0
        x /= N
        y = a * a
        y *= self.M
        y /= N * N
        np.subtract(Q, x, out=x)
        x += y
        x *= self.G / (self.G - 1)  # var*
        # t* >= t_obs  <=>  a >= t_obs * sqrt(Q...) (both sides carry the same 1/N^2 factor)
        with np.errstate(divide="ignore", invalid="ignore"):
            t_obs = np.where(self.se1 > 0, (self.delta - theta) / self.se1, 0.0)
        np.maximum(x, 0.0, out=x)
        np.sqrt(x, out=x)
        x *= t_obs[:, None]  # rhs
        # ties (the identity draw, clusters with u_g = 0) count as extreme, up to rounding:
        # tol = _TIES (|a| + |rhs|)
        np.abs(a, out=y)
        y += np.abs(x)
        y *= _TIES
        hit = a <= np.add(x, y, out=y) if upper else a >= np.subtract(x, y, out=y)
        return np.count_nonzero(hit, axis=1) / hit.shape[1]

    def _exceed_far(self, theta: np.ndarray, upper: bool) -> np.ndarray:
        """`_exceed` for a theta beyond 1e100 (a margin of 1e200): there theta^2 Q3 and
        t_obs sqrt(var*) overflowed. a is linear and var* quadratic in theta, so both sides of
        a >= t_obs sqrt(var*) are divided by s |t_obs| with s = |theta|: the same comparison
        (and tolerance) on numbers of order one."""
        s = np.maximum(np.abs(theta), 1.0)[:, None]
        t = theta[:, None] / s
        a = self.A1 / s - self.A2 * t
        b = self.B1 / s - self.B2 * t
        Q = self.Q1 / s / s - 2.0 * t * (self.Q2 / s) + t * t * self.Q3
        N = self.N
        var = self.G / (self.G - 1) * (Q - 2.0 * a * b / N + a * a * self.M / (N * N))
        root = np.sqrt(np.maximum(var, 0.0))
        gap = self.delta - theta  # t_obs = gap / se1; 0 when se1 = 0, as in _exceed
        moved = (self.se1 > 0) & (gap != 0)
        inv = np.divide(self.se1, np.abs(gap), out=np.ones_like(gap), where=moved)[:, None]
        lhs = a * inv  # a / |t_obs| (a itself when t_obs = 0)
        rhs = np.where(moved, np.sign(gap), 0.0)[:, None] * root
        tol = _TIES * (np.abs(lhs) + np.abs(rhs))
        hit = lhs <= rhs + tol if upper else lhs >= rhs - tol
        return np.count_nonzero(hit, axis=1) / hit.shape[1]

    @property
    def p_min(self) -> float:
        """The smallest p-value reported: 1 / (B + 1) for random draws (B draws never show
        p = 0; Davison & Hinkley 1997), 0 for an enumeration."""
        return 0.0 if self.plan.enumerated else 1.0 / (self.plan.draws + 1)

    def _kept(self, theta: np.ndarray, upper: bool, alpha: float | np.ndarray) -> np.ndarray:
        """Where theta is not rejected at `alpha`: its reported p-value (at least `p_min`) is
        not below alpha. So L > theta0 exactly when p < alpha, the report's and a suite's
        rule (rejecting at p <= alpha let 500 of 10,000 draws, p = 0.05, ALLOW)."""
        return np.asarray(np.maximum(self._exceed(theta, upper), self.p_min) >= alpha)

    def p_value(self, theta: float | np.ndarray, *, upper: bool = False) -> np.ndarray:
        """One-sided p of H0: delta <= theta (or >= theta with upper=True)."""
        th = np.broadcast_to(np.asarray(theta, dtype=np.float64), self.delta.shape)
        return self._exceed(np.array(th), upper)

    def lower(self, alpha: float | np.ndarray, *, bracket: float = _BRACKET,
              iters: int = 50) -> np.ndarray:
        """Smallest theta not rejected by the one-sided level-alpha test (-inf if none).

        With one sample, `alpha` may be an array of levels: one bound per level, each equal
        bit for bit to its own call (the same element-wise arithmetic, broadcast).
        """
        lo = self.delta - bracket * self.se1
        # at a level of 1/2 or more the bound lies above delta (t_obs < 0): bracket past it
        hi = np.where(np.asarray(alpha) >= 0.5, self.delta + bracket * self.se1, self.delta)
        out = bisect(lambda th: self._kept(th, False, alpha), lo, hi, iters=iters)
        return np.where(self._kept(lo, False, alpha), -np.inf, out)

    def upper(self, alpha: float | np.ndarray, *, bracket: float = _BRACKET,
              iters: int = 50) -> np.ndarray:
        """Largest theta not rejected by the one-sided level-alpha test (+inf if none).

        `alpha` may be an array of levels, as in `lower`.
        """
        hi = self.delta + bracket * self.se1
        lo = np.where(np.asarray(alpha) >= 0.5, self.delta - bracket * self.se1, self.delta)
        out = bisect(lambda th: ~self._kept(th, True, alpha), lo, hi, iters=iters)
        return np.where(self._kept(hi, True, alpha), np.inf, out)

    def null_draws(self, theta: float) -> np.ndarray:
        """delta* = theta + a/N of the first sample under H0: delta = theta.

        Written theta (1 - A2/N) + A1/N: theta A2 overflowed for a theta of 1e308 whose draws
        are finite; a draw truly beyond the float range is inf (and the summary then empty)."""
        with np.errstate(over="ignore"):
            return theta * (1.0 - self.A2 / self.N) + self.A1[0] / self.N


def _clusters(sample: PairedSample, name: str) -> tuple[np.ndarray, np.ndarray]:
    sums = sample.sums
    if sums is None:
        raise InputError(f"{name} needs a cluster key", hint="pass --cluster KEY")
    if sums.G < 2:
        raise InputError(f"{name} needs at least 2 clusters, got {sums.G}",
                         hint="choose a finer cluster key or drop --cluster")
    return sums.S, sums.n


def wild_cluster_bootstrap(
    sample: PairedSample, *, alpha: float, theta0: float = 0.0, resamples: int = 9999,
    seed: int = 0, alpha_allow: float | None = None, **_: object,
) -> Inference:
    """Restricted wild cluster bootstrap-t; bounds by inverting the bootstrap test.

    `se`/`df` are the CR2 SE and Bell-McCaffrey df of the same data (they drive the MDE).
    """
    S, n = _clusters(sample, "wild_cluster_bootstrap")
    sums = sample.sums
    assert sums is not None
    wb = WildBootstrap.fit(S, n, resamples=resamples, seed=seed)
    delta = float(wb.delta[0])
    se = math.sqrt(cr2_variance(sums))
    df = bell_mccaffrey_df(n)
    notes = [f"wild cluster restricted bootstrap-t: {wb.plan.describe()}"]
    if float(wb.se1[0]) == 0.0:
        notes.append("all cluster residuals are 0: the bounds collapse to delta")
        lo = up = np.array([delta])
        lo2, up2 = lo, up
        low_allow = lo
        p_lo = 0.0 if delta > theta0 else 1.0
        p_hi = 0.0 if delta < theta0 else 1.0
    else:
        # one bisection per side for all levels (one sample: the levels broadcast)
        lows = wb.lower(np.array([alpha, alpha / 2, alpha if alpha_allow is None else alpha_allow]))
        ups = wb.upper(np.array([alpha, alpha / 2]))
        lo, lo2, low_allow = lows[0:1], lows[1:2], lows[2:3]
        up, up2 = ups[0:1], ups[1:2]
        # random draws never show p = 0 (`p_min`); the bounds invert the same p-values
        p_lo = max(float(wb.p_value(theta0)[0]), wb.p_min)
        p_hi = max(float(wb.p_value(theta0, upper=True)[0]), wb.p_min)
    return Inference(
        method="wild_cluster_bootstrap", delta=delta, se=se, df=df,
        lower=float(lo[0]), upper=float(up[0]), two_sided=(float(lo2[0]), float(up2[0])),
        p_value=p_lo, p_value_upper=p_hi, theta0=theta0, alpha=alpha, notes=tuple(notes),
        seed=seed, resamples=wb.plan.draws,
        alpha_allow=alpha_allow,
        lower_allow=None if alpha_allow is None else float(low_allow[0]),
        distribution=summarize_distribution(wb.null_draws(theta0)),
    )
