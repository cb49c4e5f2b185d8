"""Why `auto` over-covers with Pareto cluster sizes: the exchangeable floor's trade-off.

With Pareto-sized clusters one cluster may hold a third of the items, and `auto` puts the
exchangeable-cluster floor (stats/exchangeable.py: the random-effects SE wherever it exceeds
the cluster-robust one) and the skewness correction under the wild bootstrap's bounds. On the
calibration grid's Pareto cells that over-covers the symmetric law (two-sided coverage
0.97-0.997) while it holds the skewed law (a few clusters with large regressions) within the
false-ALLOW bar. This study runs, on the same samples as `calibration.run_cell`'s null
replications (true delta 0), four ways to build the bounds:
- `auto`: the shipped rule (floor and skewness correction outside the bootstrap);
- `WCR`: the wild cluster restricted bootstrap alone;
- `inside`: the wild bootstrap-t studentized by the floored SE, max(CR1, RE) where RE exceeds
  CR1 by `FLOOR_MARGIN`, in the data and in every draw (the floor moved inside the bootstrap,
  so its law is resampled instead of added on top);
- `side`: the floor and skewness correction only on the side the estimated skewness
  threatens (lower bounds where gamma < 0, upper where gamma > 0), WCR elsewhere.
Coverage is the two-sided 95% interval's; false ALLOW is ALLOW's bound (one-sided, alpha/2 =
0.025) above 0. `inside` is evaluated by its test at the truth (covered exactly when both
one-sided p-values exceed 0.025; ALLOW exactly when the upper one is at most 0.025), which is
what inverting that test gives. `python -m tests.stats.floor_tradeoff` writes
tests/stats/floor_tradeoff.md (about 10 minutes on 2 cores at R = 1000).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from evalsig_core.stats.auto import MIN_WILD_CLUSTERS
from evalsig_core.stats.exchangeable import FLOOR_MARGIN, adjust_bounds, exchangeable_variance

from . import calibration as cal

VARIANTS = ("auto", "WCR", "inside", "side")
_WEBB = np.array([-math.sqrt(1.5), -1.0, -math.sqrt(0.5), math.sqrt(0.5), 1.0, math.sqrt(1.5)])
_LEVEL = cal.ALPHA / 2  # the two-sided interval's tails and ALLOW's bound (alpha/2)


@dataclass(frozen=True)
class Rates:
    coverage: float
    false_allow: float


def pareto_cells() -> list[cal.Cell]:
    """The grid's Pareto cells where `auto` decides with the wild bootstrap."""
    return [c for c in cal.full_grid()
            if c.G is not None and not c.balanced and c.G >= MIN_WILD_CLUSTERS]


def _floored_t_p(S: np.ndarray, Q: np.ndarray, n: np.ndarray, v: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """P(t* >= t) and P(t* <= t) at theta0 = 0 of the wild bootstrap-t whose SE is the floored
    one in the data and in each draw. S, Q: (r, G); v: (B, G) weights. With theta0 = 0 a draw
    is d*_i = v_g d_i, so S*_g = v_g S_g and Q*_g = v_g^2 Q_g."""
    def t_stat(S: np.ndarray, Q: np.ndarray) -> np.ndarray:
        N, G = n.sum(), n.shape[0]
        delta = S.sum(axis=-1) / N
        u = S - delta[..., None] * n
        se1 = np.sqrt(G / (G - 1) * np.sum(u * u, axis=-1)) / N
        se_re = np.sqrt(exchangeable_variance(S, Q, n))
        se = np.where(se_re > FLOOR_MARGIN * se1, se_re, se1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(np.where(se > 0, delta / se, 0.0))

    t = t_stat(S, Q)[:, None]
    tb = t_stat(S[:, None, :] * v, Q[:, None, :] * (v * v))
    tie = 1e-10 * np.abs(t)
    return np.mean(tb >= t - tie, axis=1), np.mean(tb <= t + tie, axis=1)


def run(cell: cal.Cell, *, R: int, B: int, seed: int = 0) -> dict[str, Rates]:
    d, codes, n = cal.simulate(cell, 0.0, R, seed)
    choice, decides = cal.auto_choice(cell, d, codes)
    assert choice.method == "wild_cluster_bootstrap" and decides, cell.label
    S, Q = cal._cluster_sums(d, n)
    delta, se = cal._cr2(S, n)
    df = cal.bell_mccaffrey_df(n)
    w = cal.evaluate(d, codes, n, cell, choice.method, _LEVEL, B)
    adj = adjust_bounds(S, Q, n, delta=delta, se=se, df=df, lower=w.lo2, upper=w.hi2,
                        lo2=w.lo2, hi2=w.hi2, lower_allow=w.decision, alpha=cal.ALPHA,
                        alpha_allow=_LEVEL)

    def rates(lo2: np.ndarray, hi2: np.ndarray, allow: np.ndarray) -> Rates:
        return Rates(float(np.mean((lo2 <= 0) & (hi2 >= 0))), float(np.mean(allow > 0)))

    G = len(n)
    rng = np.random.default_rng(seed)
    v = _WEBB[rng.integers(0, 6, (B, G))] if G < 12 else rng.choice([-1.0, 1.0], (B, G))
    rows = max(1, 2_000_000 // (B * G))
    parts = [_floored_t_p(S[i:i + rows], Q[i:i + rows], n, v) for i in range(0, R, rows)]
    p_up = np.concatenate([p[0] for p in parts])
    p_lo = np.concatenate([p[1] for p in parts])
    g = adj.gamma
    return {
        "auto": rates(adj.lo2, adj.hi2, adj.lower_allow),
        "WCR": rates(w.lo2, w.hi2, w.decision),
        "inside": Rates(float(np.mean((p_up > _LEVEL) & (p_lo > _LEVEL))),
                        float(np.mean(p_up <= _LEVEL))),
        "side": rates(np.where(g < 0, adj.lo2, w.lo2), np.where(g > 0, adj.hi2, w.hi2),
                      np.where(g < 0, adj.lower_allow, w.decision)),
    }


def _run_one(args: tuple[cal.Cell, int, int]) -> dict[str, Rates]:
    cell, R, B = args
    return run(cell, R=R, B=B)


def summary(results: list[tuple[cal.Cell, dict[str, Rates]]], R: int) -> list[str]:
    bars = cal.bands(R)
    lo, hi = bars["coverage"]
    fa = bars["false_allow"][1]
    out = [f"| variant | law | cells | coverage within [{lo:.3f}, {hi:.3f}] | under | over | "
           f"false ALLOW > {fa:.3f} | worst false ALLOW |", "|---|---|---|---|---|---|---|---|"]
    for name in VARIANTS:
        for law in ("sym", "skew"):
            rs = [r[name] for c, r in results if c.law == law]
            if not rs:
                continue
            cov = [x.coverage for x in rs]
            fas = [x.false_allow for x in rs]
            out.append(f"| {name} | {law} | {len(rs)} | {sum(lo <= c <= hi for c in cov)} | "
                       f"{sum(c < lo for c in cov)} | {sum(c > hi for c in cov)} | "
                       f"{sum(f > fa for f in fas)} | {max(fas):.4f} |")
    return out


def table(results: list[tuple[cal.Cell, dict[str, Rates]]], R: int, B: int) -> str:
    lines = ["# The exchangeable floor's trade-off on the Pareto cells "
             "(generated by `python -m tests.stats.floor_tradeoff`; do not edit)", "",
             f"R = {R} null replications per cell (true delta 0), B = {B} wild bootstrap "
             "draws, the calibration grid's samples and seeds. Coverage: the two-sided 95% "
             "interval; false ALLOW: ALLOW's bound at one-sided 0.025 above 0. Variants and "
             "method: tests/stats/floor_tradeoff.py.", "", *summary(results, R), "",
             "| cell | " + " | ".join(f"{v} coverage / false ALLOW" for v in VARIANTS) + " |",
             "|---|" + "---|" * len(VARIANTS)]
    for cell, r in results:
        lines.append(f"| {cell.label} | " + " | ".join(
            f"{r[v].coverage:.4f} / {r[v].false_allow:.4f}" for v in VARIANTS) + " |")
    return "\n".join(lines) + "\n"


def study_main(argv: list[str] | None, doc: str | None, output: Path,
               cells: Callable[[], list[cal.Cell]], worker: Callable[[Any], Any],
               render: Callable[[list[tuple[cal.Cell, Any]], int, int], str]) -> int:
    """A grid study's command line (this one's and power_curve's): `worker((cell, R, B))` for
    each of `cells()` in `--jobs` processes, `render(results, R, B)` written to `--output`."""
    import argparse
    import os
    from multiprocessing import Pool

    ap = argparse.ArgumentParser(description=doc)
    ap.add_argument("--replications", type=int, default=1000)
    ap.add_argument("--resamples", type=int, default=399)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--output", default=str(output))
    args = ap.parse_args(argv)
    todo = cells()
    with Pool(max(1, args.jobs)) as pool:
        done = pool.map(worker, [(c, args.replications, args.resamples) for c in todo])
    Path(args.output).write_text(render(list(zip(todo, done, strict=True)),
                                        args.replications, args.resamples), encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


def main(argv: list[str] | None = None) -> int:
    return study_main(argv, __doc__, Path(__file__).with_name("floor_tradeoff.md"),
                      pareto_cells, _run_one, table)


if __name__ == "__main__":
    raise SystemExit(main())
