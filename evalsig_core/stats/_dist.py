"""The reference distributions evalsig uses, from `scipy.special` without `scipy.stats`.

Importing `scipy.stats` costs 0.6-1.5 s of every process (one `evalsig gate` on the bundled
examples needs milliseconds of arithmetic). Each function here is the `scipy.special` ufunc that
`scipy.stats` calls underneath (scipy 1.17 `_continuous_distns.py` / `_discrete_distns.py`:
`t._ppf = stdtrit`, `t._cdf = stdtr`, `t._sf = stdtr(df, -x)`, `norm._ppf = ndtri`,
`norm._cdf = ndtr`, `norm._sf = ndtr(-x)`, `nct._sf = _nct_sf`, `chi2._ppf = 2 gammaincinv(df/2,
q)`, `binom._cdf/_sf = _binom_cdf/_binom_sf` on floor(k))
wrapped in what the `rv_continuous` / `rv_discrete` methods add around it (loc 0, scale 1):
invalid shape (df <= 0 or nan; n not a non-negative integer, p outside [0, 1]) or nan argument
-> nan; ppf(0) = -inf, ppf(1) = +inf, q outside [0, 1] -> nan; cdf(+inf) = 1, sf(-inf) = 1,
else 0 off the open support; broadcasting; a numpy float64 scalar for scalar arguments, an
array otherwise. tests/core/test_stats_dist.py checks every function bit for bit against the
`scipy.stats` call it replaces, edges included. df = inf goes to `stdtr`/`stdtrit` as scipy.stats
sends it (callers that want the normal at df = inf choose the norm_* function themselves).

Callers keep one source of truth: every reference-distribution call in evalsig_core goes
through this module. `scipy.special` itself (0.3-0.4 s: its array-API layer) is imported on the
first call, not with the module: `evalsig doctor` and friends never need it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["binom_cdf", "binom_sf", "chi2_ppf", "nct_sf", "norm_cdf", "norm_pdf", "norm_ppf",
           "norm_sf", "t_cdf", "t_pdf", "t_ppf", "t_sf"]

_NORM_PDF_C = np.sqrt(2 * np.pi)  # scipy.stats' _norm_pdf_C


def _out(a: np.ndarray) -> Any:
    """scipy.stats' return convention: a float64 scalar for 0-d, else the array."""
    return a[()] if a.ndim == 0 else a


def _broadcast(v: Any, shape: tuple[Any, ...]) -> tuple[np.ndarray, np.ndarray,
                                                        list[np.ndarray]]:
    """(v, ok, shape parameters) as float64 arrays broadcast together; ok where every shape
    parameter is valid (> 0; nan is not)."""
    arr = np.asarray(v, dtype=np.float64)
    sh = [np.asarray(a, dtype=np.float64) for a in shape]
    ok = np.logical_and.reduce([a > 0 for a in sh]) if sh else np.True_
    arr, ok, *sh = np.broadcast_arrays(arr, ok, *sh)
    return arr, ok, sh


def _ppf(fn: Callable[..., np.ndarray], q: Any, *shape: Any) -> Any:
    """rv_continuous.ppf with support (-inf, inf), loc 0, scale 1."""
    q, ok, sh = _broadcast(q, shape)
    out = np.full(q.shape, np.nan)
    out[ok & (q == 0)] = -np.inf
    out[ok & (q == 1)] = np.inf
    inside = ok & (q > 0) & (q < 1)
    if inside.any():
        # `+ 0.0` is scipy's `* scale + loc`: it turns a -0.0 into 0.0
        out[inside] = fn(*[a[inside] for a in sh], q[inside]) + 0.0
    return _out(out)


def _cdf_sf(fn: Callable[..., np.ndarray], x: Any, *shape: Any, sf: bool) -> Any:
    """rv_continuous.cdf / .sf with support (-inf, inf), loc 0, scale 1."""
    x, ok, sh = _broadcast(x, shape)
    out = np.zeros(x.shape)
    out[~ok | np.isnan(x)] = np.nan
    out[ok & (x == (-np.inf if sf else np.inf))] = 1.0
    inside = ok & np.isfinite(x)
    if inside.any():
        out[inside] = fn(*[a[inside] for a in sh], x[inside])
    return _out(out)


def _pdf(fn: Callable[..., np.ndarray], x: Any, *shape: Any) -> Any:
    """rv_continuous.pdf with support [-inf, inf] (closed), loc 0, scale 1."""
    x, ok, sh = _broadcast(x, shape)
    out = np.zeros(x.shape)
    out[~ok | np.isnan(x)] = np.nan
    inside = ok & ~np.isnan(x)
    if inside.any():
        out[inside] = fn(*[a[inside] for a in sh], x[inside])
    return _out(out)


def _norm_pdf(x: np.ndarray) -> np.ndarray:
    return np.exp(-x**2 / 2.0) / _NORM_PDF_C


def _t_pdf(df: np.ndarray, x: np.ndarray) -> np.ndarray:
    """t._pdf: the normal density where df = inf, else exp(t._logpdf)."""
    from scipy import special
    with np.errstate(all="ignore"):  # like scipy's apply_where: the inf branch is discarded
        t = np.exp(np.log(special.poch(0.5 * df, 0.5)) - 0.5 * (np.log(df) + np.log(np.pi))
                   - (df + 1) / 2 * np.log1p(x * x / df))
    return np.where(df == np.inf, _norm_pdf(x), t)


def t_ppf(q: Any, df: Any) -> Any:
    """scipy.stats.t.ppf(q, df): the q quantile of Student's t."""
    from scipy import special
    return _ppf(special.stdtrit, q, df)


def t_cdf(x: Any, df: Any) -> Any:
    """scipy.stats.t.cdf(x, df): P(T <= x)."""
    from scipy import special
    return _cdf_sf(special.stdtr, x, df, sf=False)


def t_sf(x: Any, df: Any) -> Any:
    """scipy.stats.t.sf(x, df): P(T > x)."""
    from scipy import special
    return _cdf_sf(lambda d, v: special.stdtr(d, -v), x, df, sf=True)


def t_pdf(x: Any, df: Any) -> Any:
    """scipy.stats.t.pdf(x, df): the density of Student's t."""
    return _pdf(_t_pdf, x, df)


def chi2_ppf(q: Any, df: Any) -> Any:
    """scipy.stats.chi2.ppf(q, df): the q quantile of chi-square (support [0, inf))."""
    from scipy import special
    q, ok, (df,) = _broadcast(q, (df,))
    out = np.full(q.shape, np.nan)
    out[ok & (q == 0)] = 0.0
    out[ok & (q == 1)] = np.inf
    inside = ok & (q > 0) & (q < 1)
    if inside.any():
        out[inside] = 2 * special.gammaincinv(df[inside] / 2, q[inside]) + 0.0
    return _out(out)


def nct_sf(x: Any, df: Any, nc: Any) -> Any:
    """scipy.stats.nct.sf(x, df, nc): P(T > x) for the noncentral t (nct._sf: the boost ufunc
    `_nct_sf` clipped to [0, 1]; valid shapes df > 0 and nc not nan, as nct._argcheck)."""
    from scipy.special import _ufuncs
    x, df, nc = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in (x, df, nc)))
    ok = (df > 0) & (nc == nc)
    out = np.zeros(x.shape)
    out[~ok | np.isnan(x)] = np.nan
    out[ok & (x == -np.inf)] = 1.0
    inside = ok & np.isfinite(x)
    if inside.any():
        with np.errstate(over="ignore"):  # as scipy (gh-17432)
            out[inside] = np.clip(_ufuncs._nct_sf(x[inside], df[inside], nc[inside]), 0, 1)
    return _out(out)


def norm_ppf(q: Any) -> Any:
    """scipy.stats.norm.ppf(q): the q quantile of the standard normal."""
    from scipy import special
    return _ppf(special.ndtri, q)


def norm_cdf(x: Any) -> Any:
    """scipy.stats.norm.cdf(x): P(Z <= x)."""
    from scipy import special
    return _cdf_sf(special.ndtr, x, sf=False)


def norm_sf(x: Any) -> Any:
    """scipy.stats.norm.sf(x): P(Z > x)."""
    from scipy import special
    return _cdf_sf(lambda v: special.ndtr(-v), x, sf=True)


def norm_pdf(x: Any) -> Any:
    """scipy.stats.norm.pdf(x): the standard normal density."""
    return _pdf(_norm_pdf, x)


def _binom(fn: Callable[..., np.ndarray], k: Any, n: Any, p: Any, *, sf: bool) -> Any:
    """rv_discrete.cdf / .sf for binom (support 0..n, loc 0)."""
    k = np.asarray(k, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    ok = (n >= 0) & (n == np.round(n)) & (p >= 0) & (p <= 1)
    k, n, p, ok = np.broadcast_arrays(k, n, p, ok)
    out = np.zeros(k.shape)
    if sf:
        out[~ok | np.isnan(k)] = np.nan
        out[ok & (k < 0)] = 1.0
    else:
        out[k >= n] = 1.0
        out[~ok | np.isnan(k)] = np.nan
    inside = ok & (k >= 0) & (k < n) & np.isfinite(k)
    if inside.any():
        out[inside] = np.clip(fn(np.floor(k[inside]), n[inside], p[inside]), 0, 1)
    return _out(out)


def binom_cdf(k: Any, n: Any, p: Any) -> Any:
    """scipy.stats.binom.cdf(k, n, p): P(X <= k), X ~ Binomial(n, p)."""
    fn = _private_binom("_binom_cdf")
    if fn is None:
        from scipy import stats
        return stats.binom.cdf(k, n, p)
    return _binom(fn, k, n, p, sf=False)


def binom_sf(k: Any, n: Any, p: Any) -> Any:
    """scipy.stats.binom.sf(k, n, p): P(X > k), X ~ Binomial(n, p)."""
    fn = _private_binom("_binom_sf")
    if fn is None:
        from scipy import stats
        return stats.binom.sf(k, n, p)
    return _binom(fn, k, n, p, sf=True)


def _private_binom(name: str) -> Callable[..., np.ndarray] | None:
    """The boost ufunc scipy.stats.binom calls (`scipy.special._ufuncs._binom_cdf/_sf`), or None
    when a scipy release no longer has it: then scipy.stats itself answers (slower to import,
    same numbers), never an internal error. test_stats_dist fails loudly if the name goes."""
    try:
        from scipy.special import _ufuncs
    except ImportError:  # pragma: no cover - a scipy without the private module
        return None
    fn: Callable[..., np.ndarray] | None = getattr(_ufuncs, name, None)
    return fn
