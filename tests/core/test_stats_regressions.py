"""One test per evalsig 0.1 failure listed at the end of STATS.md, through the library API.

(The CLI side of `--alpha 1.5`, exit 2 for usage errors, duplicates and missing cluster keys is
also covered in tests/e2e/test_cli.py; the verdict-table side in tests/core/test_policy.py.)
"""

from __future__ import annotations

import json
import tracemalloc

import numpy as np
import pytest

from evalsig_core import DoctorError, EvalRun, Policy, UsageError, Verdict, compare, gate
from evalsig_core.stats import PairedSample, permutation
from evalsig_core.stats.bootstrap import bootstrap_draws


def _pair(n: int, flip: float, seed: int = 0, G: int = 50) -> tuple[EvalRun, EvalRun]:
    rng = np.random.default_rng(seed)
    ids = [f"q{i}" for i in range(n)]
    cl = [f"P{i % G}" for i in range(n)]
    b = (rng.random(n) < 0.6).astype(float)
    c = b.copy()
    c[rng.random(n) < abs(flip)] = 0.0 if flip < 0 else 1.0
    return (EvalRun.from_arrays(ids, b, clusters=cl), EvalRun.from_arrays(ids, c, clusters=cl))


def test_a_significant_regression_is_reject_under_every_auto_method() -> None:
    b, c = _pair(3000, -0.1)
    for cluster in ("passage_id", None):
        r = gate(b, c, Policy(min_delta=0.005, cluster=cluster))
        assert r.verdict is Verdict.REJECT, r.comparison.method


def test_allow_uses_the_stricter_bound_with_few_clusters_not_the_point_estimate() -> None:
    b, c = _pair(400, 0.03, G=8)
    r = gate(b, c, Policy(min_delta=0.0, cluster="passage_id"))
    comp = r.comparison
    assert comp.allow_alpha == 0.025 and comp.allow_lower is not None
    assert comp.ci.lower is not None and comp.allow_lower < comp.ci.lower
    if r.verdict is Verdict.ALLOW:
        assert comp.allow_lower > 0


def test_nan_scores_are_refused_never_significant() -> None:
    ids = [str(i) for i in range(40)]
    b = EvalRun.from_arrays(ids, [0.0] * 40)
    c = EvalRun.from_arrays(ids, [float("nan")] + [1.0] * 39)
    with pytest.raises(DoctorError) as exc:
        gate(b, c, Policy(min_delta=0.0))
    assert exc.value.code == "E103"


def test_duplicate_item_ids_are_refused_not_overwritten() -> None:
    b = EvalRun.from_arrays(["a", "a", "b"], [1.0, 0.0, 1.0])
    c = EvalRun.from_arrays(["a", "b", "c"], [1.0, 1.0, 1.0])
    with pytest.raises(DoctorError) as exc:
        gate(b, c, Policy(min_delta=0.0))
    assert exc.value.code == "E104"


def test_every_epoch_is_used_not_only_epoch_0() -> None:
    # item 1: epochs (0, 1) baseline and (1, 1) candidate: d = 0.5; items 2..: d = 0.
    ids = ["1", "1"] + [str(i) for i in range(2, 12)]
    ep = [1, 2] + [1] * 10
    b = EvalRun.from_arrays(ids, [0.0, 1.0] + [1.0] * 10, epochs=ep)
    c = EvalRun.from_arrays(ids, [1.0, 1.0] + [1.0] * 10, epochs=ep)
    comp = compare(b, c, Policy(min_delta=0.0))
    assert comp.delta == pytest.approx(0.5 / 11)


def test_missing_cluster_ids_are_an_error_not_one_pseudo_cluster() -> None:
    ids = [str(i) for i in range(20)]
    cl = [f"P{i % 5}" for i in range(19)] + [None]
    b = EvalRun.from_arrays(ids, [1.0] * 20, clusters=cl)
    c = EvalRun.from_arrays(ids, [1.0] * 20, clusters=cl)
    with pytest.raises(DoctorError) as exc:
        gate(b, c, Policy(min_delta=0.0, cluster="k"))
    assert exc.value.code == "E107"


@pytest.mark.parametrize("alpha", [1.5, 0.0, -0.1, float("nan")])
def test_alpha_outside_the_unit_interval_is_a_usage_error(alpha: float) -> None:
    with pytest.raises(UsageError):
        Policy(min_delta=0.0, alpha=alpha)


def test_usage_errors_are_exit_64_never_2() -> None:
    from evalsig_core.cli import main

    assert main(["power", "--sd", "0.4", "--n", "100", "--alpha", "1.5"], {}) == 64
    assert main(["suite"], {}) == 64


def test_reports_never_contain_bare_nan_or_infinity() -> None:
    # An exact sign-flip test on 3 items has 8 sign vectors; at alpha = 0.05 no margin can be
    # rejected, so the lower bound is -inf and the MDE infinite: the JSON carries null.
    ids = ["a", "b", "c"]
    b = EvalRun.from_arrays(ids, [0.0, 0.0, 1.0])
    c = EvalRun.from_arrays(ids, [1.0, 1.0, 1.0])
    r = gate(b, c, Policy(min_delta=0.01, method="permutation"))
    assert r.comparison.ci.lower is None

    def refuse(token: str) -> None:
        raise AssertionError(f"bare {token} in the report")

    doc = json.loads(r.to_json(), parse_constant=refuse)
    assert doc["comparison"]["mde"] is None and doc["comparison"]["ci"] == [None, None]


def test_cluster_bootstrap_works_in_chunks_not_per_resample() -> None:
    # evalsig 0.1 looped over resamples in Python. 10,000 resamples of 5,000 clusters are
    # drawn in 25 chunks of (400 x 5,000) indices: peak memory stays near one chunk.
    rng = np.random.default_rng(0)
    S, n = rng.normal(size=5000), rng.integers(1, 40, 5000).astype(float)
    tracemalloc.start()
    draws = bootstrap_draws(S, n, resamples=10000, seed=0)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert draws.shape == (10000,) and peak < 100e6


def test_permutation_memory_is_bounded_at_one_million_items() -> None:
    # evalsig 0.1 held an (N x B) sign matrix: 1M x 10k. Binary d reduces to binomials.
    rng = np.random.default_rng(1)
    N = 1_000_000
    b = (rng.random(N) < 0.6).astype(float)
    c = np.where(rng.random(N) < 0.1, 1 - b, b)
    sample = PairedSample(b, c)
    tracemalloc.start()
    r = permutation(sample, alpha=0.05, resamples=10000, seed=0)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert r.lower < r.delta < r.upper and peak < 200e6
