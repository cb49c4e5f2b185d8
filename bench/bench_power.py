"""`bound_mde` against the bisection it replaced (`make bench BENCH=power`).

`stats.power.t_test_effect` solves P(T'(df, lambda) > crit) = power for lambda. Until
mdefast it bisected a bracket around the t + t guess: 80 halvings plus the widening checks,
about 140 noncentral-t evaluations of every element of an array, about 2 CPU ms a scalar
`bound_mde` (a gate or suite entry makes one) and 0.95 s for 10,000. Now it takes safeguarded
secant steps on the probit of the power (`_effect_root`) and drops converged elements: at
most 7 evaluations on a grid of crit -3..50, df 0.5..1e6 (tests/core/test_stats_power.py
counts them).

The reference below is that bisection, copied from power.py at commit 2d80832 (its loops
verbatim; t_test_effect's edges around it are unchanged); `bound_mde` is timed with either
root patched in, on the same inputs, alternated, the fastest of REPEATS runs each, in CPU
seconds (time.process_time: the machines here are shared and wall-clock swings with other
jobs' load). Cases: one scalar call as the gate makes it (a t bound's crit, 1.70 on 29 df),
and a 10,000-element array as the calibration study makes them (crit from a resampling
bound, df 4..200 per sample). Printed: times, the ratio old / new, and the largest relative
difference of the two answers.
Run: `make bench BENCH=power` (or `python -m bench power`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from unittest import mock

import numpy as np

from evalsig_core.stats import power as pw
from evalsig_core.stats._dist import nct_sf, t_ppf

REPEATS = 5
_BISECTIONS = 80


def _bisection_root(x: np.ndarray, v: np.ndarray, power: float) -> np.ndarray:
    """The root power.t_test_effect found at commit 2d80832 for its finite crit and df (the
    elements `_effect_root` solves now): the bracketed bisection, verbatim but for the edge
    handling around it, which t_test_effect still does."""
    # the t + t formula STATS.md states (within 1% for df >= 9) as the bracket's centre
    guess = x + np.asarray(t_ppf(power, v))
    width = 1.0 + np.abs(guess)
    lo, hi = guess - width, guess + width
    for _ in range(60):  # widen until the root is inside (df < 1 and a large crit need it)
        low = np.asarray(nct_sf(x, v, lo)) > power
        high = np.asarray(nct_sf(x, v, hi)) < power
        if not (low.any() or high.any()):
            break
        lo = np.where(low, lo - 2 * width, lo)
        hi = np.where(high, hi + 2 * width, hi)
        width = width * 2
    for _ in range(_BISECTIONS):
        mid = 0.5 * (lo + hi)
        up = np.asarray(nct_sf(x, v, mid)) < power
        lo, hi = np.where(up, mid, lo), np.where(up, hi, mid)
    out: np.ndarray = 0.5 * (lo + hi)
    return out


def _best(fn: Callable[[], Any], loops: int) -> float:
    """CPU seconds per call of fn, the fastest of REPEATS runs of `loops` calls."""
    best = np.inf
    for _ in range(REPEATS):
        t = time.process_time()
        for _ in range(loops):
            fn()
        best = min(best, (time.process_time() - t) / loops)
    return best


def _case(name: str, args: tuple[Any, ...], loops: int) -> None:
    def call() -> Any:
        return pw.bound_mde(*args)

    bisection = mock.patch.object(pw, "_effect_root", _bisection_root)
    a = np.asarray(call())  # also the warm-up: scipy.special's import and first calls
    with bisection:
        b = np.asarray(call())
    t_old = t_new = np.inf
    for _ in range(2):  # alternated, so a load that drifts falls on both
        with bisection:
            t_old = min(t_old, _best(call, loops))
        t_new = min(t_new, _best(call, loops))
    rel = float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))
    print(f"{name:34s} bisection {t_old * 1e3:9.2f} ms | secant {t_new * 1e3:8.2f} ms | "
          f"ratio {t_old / t_new:5.1f}x | max relative difference {rel:.1e}", flush=True)


def main() -> None:
    power, alpha = 0.8, 0.05
    df = 29.0
    q = float(t_ppf(1 - alpha, df))
    _case("bound_mde, scalar (t bound, 29 df)", (0.02, 0.02 - q * 0.01, 0.01, df, power), 20)
    rng = np.random.default_rng(0)
    n = 10_000
    dfs = rng.integers(4, 201, n).astype(np.float64)
    se = rng.uniform(0.005, 0.05, n)
    crit = np.asarray(t_ppf(1 - alpha, dfs)) * rng.uniform(0.8, 1.3, n)  # resampling bounds
    delta = rng.normal(0.0, 0.02, n)
    _case(f"bound_mde, {n:,} elements (df 4..200)", (delta, delta - crit * se, se, dfs, power), 1)


if __name__ == "__main__":
    main()
