"""The empirical-Bernstein confidence sequence and `watch`."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from evalsig_core import EvalRun, Policy, Verdict
from evalsig_core.cli import main
from evalsig_core.sequential import confidence_sequence, watch
from tests.conftest import write_runframe


def _reference_cs(x: list[float], alpha: float) -> tuple[float, float]:
    """Waudby-Smith & Ramdas (2024) PrPl-EB, written as a plain loop from the paper."""
    mu_prev, s2_prev = 0.5, 0.25
    sum_x = sum_sq = sum_lam = sum_lx = sum_vpsi = 0.0
    lo, up = 0.0, 1.0
    for t, xt in enumerate(x, start=1):
        lam = min(math.sqrt(2 * math.log(2 / alpha) / (s2_prev * t * math.log(1 + t))), 0.5)
        v = 4 * (xt - mu_prev) ** 2
        psi = (-math.log(1 - lam) - lam) / 4
        sum_lam += lam
        sum_lx += lam * xt
        sum_vpsi += v * psi
        c = sum_lx / sum_lam
        w = (math.log(2 / alpha) + sum_vpsi) / sum_lam
        lo, up = max(lo, c - w), min(up, c + w)
        sum_x += xt
        mu = (0.5 + sum_x) / (t + 1)
        sum_sq += (xt - mu) ** 2
        mu_prev, s2_prev = mu, (0.25 + sum_sq) / (t + 1)
    return lo, up


def test_confidence_sequence_equals_the_papers_loop() -> None:
    x = np.random.default_rng(0).random(300)
    lo, up = confidence_sequence(x, 0.05)
    assert (lo[-1], up[-1]) == pytest.approx(_reference_cs(list(x), 0.05), rel=1e-12)


def test_bounds_are_nested_and_inside_the_unit_interval() -> None:
    x = np.random.default_rng(1).random(500)
    lo, up = confidence_sequence(x, 0.05)
    assert np.all(np.diff(lo) >= 0) and np.all(np.diff(up) <= 0)
    assert 0 <= lo[-1] < x.mean() < up[-1] <= 1


def _runs(n: int, p_improve: float, clusters: bool = False) -> tuple[EvalRun, EvalRun]:
    rng = np.random.default_rng(2)
    ids = [f"q{i}" for i in range(n)]
    b = (rng.random(n) < 0.5).astype(float)
    c = np.where(rng.random(n) < p_improve, 1.0, b)
    cl = [f"P{i % 40}" for i in range(n)] if clusters else None
    return (EvalRun.from_arrays(ids, b, clusters=cl), EvalRun.from_arrays(ids, c, clusters=cl))


def test_watch_allows_a_large_improvement_and_waits_on_a_small_one() -> None:
    b, c = _runs(3000, 0.3)
    assert watch(b, c, Policy(min_delta=0.01)).verdict is Verdict.ALLOW
    b, c = _runs(200, 0.02)
    r = watch(b, c, Policy(min_delta=0.01))
    assert r.verdict is Verdict.INCONCLUSIVE and "keep watching" in r.reason


def test_watch_uses_cluster_means_with_a_cluster_key_in_a_seeded_order() -> None:
    b, c = _runs(2000, 0.1, clusters=True)
    r1 = watch(b, c, Policy(min_delta=0.0, cluster="k", seed=1))
    r2 = watch(b, c, Policy(min_delta=0.0, cluster="k", seed=1))
    r3 = watch(b, c, Policy(min_delta=0.0, cluster="k", seed=2))
    assert r1.unit == "cluster means" and r1.n_units == 40
    assert r1 == r2 and r1.looks != r3.looks


def test_watch_cli_exit_code_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    n = 3000
    ids = [f"q{i}" for i in range(n)]
    write_runframe(tmp_path / "b.json", ids, [0.0] * n)
    write_runframe(tmp_path / "c.json", ids, [1.0 if i % 2 else 0.0 for i in range(n)])
    code = main(["watch", "--baseline", str(tmp_path / "b.json"), "--candidate",
                 str(tmp_path / "c.json"), "--min-delta", "0.01", "--output", "json"], {})
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["verdict"] == "ALLOW" and doc["lower"] > 0.4


def test_watch_refuses_what_the_doctor_refuses() -> None:
    # watch skipped the doctor: a duplicated (item, epoch) record was averaged in and the
    # CLI answered ALLOW (exit 0) where gate exits 65 with E104.
    from evalsig_core.gate import DoctorError

    b, c = _runs(3000, 0.3)
    dup = EvalRun.from_arrays([*c.item_ids.tolist(), "q0"], [*c.scores.tolist(), 1.0])
    with pytest.raises(DoctorError, match="more than once") as info:
        watch(b, dup, Policy(min_delta=0.01))
    assert info.value.exit_code == 65


def test_a_watch_reason_shows_the_bound_apart_from_the_margin() -> None:
    # rounded to 4 decimals these read "always-valid L = -0.0500 > -0.0500"
    from evalsig_core.sequential import _verdict

    ni = Policy(min_delta=0.05, mode="non-inferiority")
    assert _verdict(ni, -0.049996, 0.1, 0.0)[1] == "always-valid L = -0.049996 > -0.050000"
    me = Policy(min_delta=0.05, mode="minimum-effect")
    assert _verdict(me, -0.1, 0.0499996, 0.0)[1] == "always-valid U = +0.0499996 < +0.0500000"
    sup = Policy(min_delta=0.0)
    assert _verdict(sup, 2e-5, 0.1, 0.05)[1].startswith("always-valid L = +2e-05 > 0")


def test_superiority_reasons_name_what_the_bounds_must_clear() -> None:
    # The reports draw superiority's margin at min_delta ("margin +0.0100") while the reason
    # said "does not settle the margin +0.0000"; and a sequence whose L was already above 0
    # with the estimate below min_delta read as if its interval still held 0.
    b, c = _runs(200, 0.02)
    r = watch(b, c, Policy(min_delta=0.01))
    assert r.lower <= 0 <= r.upper
    assert r.reason.endswith("] contains 0: keep watching") and "margin" not in r.reason
    b, c = _runs(3000, 0.3)
    r = watch(b, c, Policy(min_delta=0.5))
    assert r.lower > 0 and r.estimate < 0.5
    assert r.verdict is Verdict.INCONCLUSIVE
    assert f"but the estimate {r.estimate:+.4f} < min_delta 0.5000: keep watching" in r.reason
