"""evalsig_core.stats._dist equals the scipy.stats call it replaces, bit for bit, edges included;
and a gate on the bundled examples never imports scipy.stats."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats as sps

from evalsig_core.stats import _dist

ROOT = Path(__file__).resolve().parents[2]
TINY = 5e-324  # the smallest subnormal
Q = [0.0, TINY, 1e-300, 1e-10, 0.025, 0.05, 0.5, 0.8, 0.975, 1 - 1e-10, 1 - 2**-53, 1.0,
     -0.5, 1.5, -np.inf, np.inf, np.nan, -0.0]
X = [-np.inf, -1e308, -40.0, -8.0, -1.0, -TINY, -0.0, 0.0, TINY, 1e-8, 0.7, 1.96, 8.0, 40.0,
     1e308, np.inf, np.nan]
DF = [1.0, 2.0, 4.5, 30.0, 1e6, np.inf, 0.0, -3.0, np.nan]


def same(a: Any, b: Any) -> bool:
    """Identical float64 results: type (scalar vs array), shape, values, nan positions and the
    sign of every zero and infinity."""
    a_arr, b_arr = np.asarray(a), np.asarray(b)
    return (type(a) is type(b) and a_arr.dtype == b_arr.dtype == np.float64
            and a_arr.shape == b_arr.shape and np.array_equal(a_arr, b_arr, equal_nan=True)
            and np.array_equal(np.signbit(a_arr), np.signbit(b_arr)))


# x = +-1e308 squared overflows (to a density of 0) in scipy.stats' pdf as in ours
@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.parametrize(("mine", "ref", "grid"), [
    (_dist.t_ppf, sps.t.ppf, Q), (_dist.t_cdf, sps.t.cdf, X), (_dist.t_sf, sps.t.sf, X),
    (_dist.t_pdf, sps.t.pdf, X)], ids=["t_ppf", "t_cdf", "t_sf", "t_pdf"])
def test_t_functions_equal_scipy_stats_bit_for_bit(mine: Any, ref: Any, grid: list) -> None:
    x, df = np.meshgrid(np.array(grid), np.array(DF))
    assert same(mine(x, df), ref(x, df))  # 2-d arrays, both broadcast alike
    assert same(mine(np.array(grid), 4.5), ref(np.array(grid), 4.5))  # array, scalar df
    assert same(mine(0.3, np.array(DF)), ref(0.3, np.array(DF)))  # scalar, array df
    for v in grid:  # scalars (np.float64 back), and the same with one-element arrays
        for d in DF:
            assert same(mine(v, d), ref(v, d)), (v, d)
            assert same(mine(np.array([v]), d), ref(np.array([v]), d)), (v, d)


def test_chi2_ppf_equals_scipy_stats_bit_for_bit() -> None:
    x, df = np.meshgrid(np.array(Q), np.array(DF))
    assert same(_dist.chi2_ppf(x, df), sps.chi2.ppf(x, df))
    for v in Q:
        for d in DF:
            assert same(_dist.chi2_ppf(v, d), sps.chi2.ppf(v, d)), (v, d)


NC = [-np.inf, -30.0, -1.0, 0.0, 2.5, 40.0, np.inf, np.nan]


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_nct_sf_equals_scipy_stats_bit_for_bit() -> None:
    x, df, nc = np.meshgrid(np.array(X), np.array(DF), np.array(NC), indexing="ij")
    assert same(_dist.nct_sf(x, df, nc), sps.nct.sf(x, df, nc))
    for v in X:
        for d in DF:
            for c in NC:
                assert same(_dist.nct_sf(v, d, c), sps.nct.sf(v, d, c)), (v, d, c)


# x = +-1e308 squared overflows (to a density of 0) in scipy.stats' pdf as in ours
@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.parametrize(("mine", "ref", "grid"), [
    (_dist.norm_ppf, sps.norm.ppf, Q), (_dist.norm_cdf, sps.norm.cdf, X),
    (_dist.norm_sf, sps.norm.sf, X), (_dist.norm_pdf, sps.norm.pdf, X)],
    ids=["norm_ppf", "norm_cdf", "norm_sf", "norm_pdf"])
def test_norm_functions_equal_scipy_stats_bit_for_bit(mine: Any, ref: Any, grid: list) -> None:
    assert same(mine(np.array(grid)), ref(np.array(grid)))
    assert same(mine(np.array(grid).reshape(-1, 1)), ref(np.array(grid).reshape(-1, 1)))
    for v in grid:
        assert same(mine(v), ref(v)), v


def test_ppf_and_sf_equal_scipy_stats_on_a_dense_grid() -> None:
    q = np.linspace(0, 1, 100_001)
    x = np.linspace(-40, 40, 100_001)
    assert same(_dist.norm_ppf(q), sps.norm.ppf(q))
    assert same(_dist.norm_sf(x), sps.norm.sf(x))
    assert same(_dist.t_ppf(q, 7.0), sps.t.ppf(q, 7.0))
    assert same(_dist.t_sf(x, 7.0), sps.t.sf(x, 7.0))


K = [-np.inf, -2, -1, 0, 1, 2.5, 3, 9, 10, 11, np.inf, np.nan]
N = [0, 1, 3, 10, 10.5, -1, np.nan, 1000]
P = [0.0, 0.5, 0.3, 1.0, -0.1, 1.1, np.nan]


@pytest.mark.parametrize(("mine", "ref"), [(_dist.binom_cdf, sps.binom.cdf),
                                           (_dist.binom_sf, sps.binom.sf)],
                         ids=["binom_cdf", "binom_sf"])
def test_binom_functions_equal_scipy_stats_bit_for_bit(mine: Any, ref: Any) -> None:
    k, n, p = np.meshgrid(np.array(K, float), np.array(N, float), np.array(P), indexing="ij")
    assert same(mine(k, n, p), ref(k, n, p))
    for kk in K:
        for nn in N:
            assert same(mine(kk, nn, 0.5), ref(kk, nn, 0.5)), (kk, nn)
    # what mcnemar passes: Python ints b - 1 / b and b + c, p = 0.5, on every (b, c) to 60
    b, c = np.meshgrid(np.arange(61), np.arange(61))
    assert same(mine(b - 1, b + c, 0.5), ref(b - 1, b + c, 0.5))
    assert same(mine(b, b + c, 0.5), ref(b, b + c, 0.5))
    assert same(mine(3, 7, 0.5), ref(3, 7, 0.5))


def test_the_private_binom_ufuncs_still_exist() -> None:
    # binom_cdf/_sf call scipy.special._ufuncs._binom_cdf/_sf, which scipy.stats.binom calls;
    # a scipy without them falls back to scipy.stats (same numbers): this says so in CI
    assert _dist._private_binom("_binom_cdf") is not None
    assert _dist._private_binom("_binom_sf") is not None


def test_binom_falls_back_to_scipy_stats_without_the_private_ufuncs(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_dist, "_private_binom", lambda name: None)
    b, c = np.meshgrid(np.arange(21), np.arange(21))
    assert same(_dist.binom_cdf(b - 1, b + c, 0.5), sps.binom.cdf(b - 1, b + c, 0.5))
    assert same(_dist.binom_sf(b, b + c, 0.5), sps.binom.sf(b, b + c, 0.5))


GATE = """
import json, sys
from evalsig_core.cli import main
ex = "deployments/examples/"
rc = main(["--no-config", "gate", "--baseline", ex + "baseline.json", "--candidate",
           ex + "candidate.json", "--metric", "accuracy", "--cluster", "passage_id",
           "--min-delta", "0.005", "--power", "0.80", "--json", sys.argv[1],
           "--output", "markdown", "--html", sys.argv[2]], {})
print(json.dumps({"rc": rc, "stats": sorted(m for m in sys.modules
                                            if m.startswith("scipy.stats"))}))
"""


def test_a_gate_on_the_bundled_examples_never_imports_scipy_stats(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-c", GATE, str(tmp_path / "r.json"), str(tmp_path / "r.html")],
        capture_output=True, text=True, check=True, cwd=ROOT)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["rc"] == 0  # ALLOW, as README shows
    assert (tmp_path / "r.html").stat().st_size > 0  # the HTML report drew its density panel
    assert got["stats"] == []
