"""The verdict table of DESIGN.md, policy validation, and the evalsig 0.1 failures it fixes."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from evalsig_core import EvalRun, Policy, UsageError, Verdict, compare, gate, read_run
from evalsig_core.policy import decide
from evalsig_core.render import render_gate
from tests.core.render.cases import gate_with_lower

SUP = Policy(min_delta=0.005)
NI = Policy(min_delta=0.005, mode="non-inferiority")
ME = Policy(min_delta=0.005, mode="minimum-effect")


@pytest.mark.parametrize(
    ("policy", "delta", "lower", "upper", "mde", "verdict"),
    [
        (SUP, 0.0124, 0.0023, 0.0225, 0.011, Verdict.ALLOW),  # the seed example
        (SUP, 0.0030, 0.0010, 0.0050, 0.002, Verdict.REJECT),  # significant but below margin
        (SUP, -0.030, -0.050, -0.010, 0.02, Verdict.REJECT),  # significant regression
        (SUP, 0.002, -0.010, 0.014, 0.020, Verdict.INCONCLUSIVE),  # underpowered
        (SUP, 0.001, -0.002, 0.004, 0.004, Verdict.REJECT),  # powered, no improvement
        (NI, 0.0124, 0.0023, 0.0225, 0.011, Verdict.ALLOW),  # the seed example
        (NI, -0.002, -0.004, 0.000, 0.004, Verdict.ALLOW),
        (NI, -0.020, -0.030, -0.010, 0.01, Verdict.REJECT),
        (NI, -0.004, -0.010, 0.002, 0.01, Verdict.INCONCLUSIVE),
        (ME, 0.020, 0.010, 0.030, 0.01, Verdict.ALLOW),
        (ME, 0.001, -0.001, 0.003, 0.01, Verdict.REJECT),
        (ME, 0.006, 0.001, 0.011, 0.01, Verdict.INCONCLUSIVE),
    ],
)
def test_verdict_table(policy: Policy, delta: float, lower: float, upper: float, mde: float,
                       verdict: Verdict) -> None:
    assert decide(policy, delta=delta, lower=lower, upper=upper, mde=mde).verdict is verdict


def test_a_zero_non_inferiority_margin_reads_plus_zero_never_minus_zero() -> None:
    d = decide(Policy(min_delta=0.0, mode="non-inferiority"), delta=0.02, lower=0.01,
               upper=0.03, mde=0.01)
    assert d.reason == "L = +0.0100 > +0.0000"


@pytest.mark.parametrize(
    ("policy", "delta", "lower", "upper", "mde", "reason"),
    [
        # every reason shows the bound apart from what it was compared with: rounded to 4
        # decimals these read "L = +0.0000 > 0", "U = -0.0000 < 0", "L = -0.0500 > -0.0500",
        # "delta +0.0050 < min_delta 0.0050" and "MDE 0.0050 > min_delta 0.0050"
        (SUP, 0.0166, 2e-5, 0.033, 0.025, "L = +2e-05 > 0 and delta >= min_delta 0.0050"),
        (SUP, -0.02, -0.04, -3e-5, 0.02, "significant regression: U = -3e-05 < 0"),
        (Policy(min_delta=0.05, mode="non-inferiority"), 0.0, -0.049996, 0.05, 0.1,
         "L = -0.049996 > -0.050000"),
        (Policy(min_delta=0.05, mode="minimum-effect"), 0.0, -0.05, 0.0499996, 0.1,
         "U = +0.0499996 < +0.0500000"),
        (SUP, 0.00499996, 0.001, 0.009, 0.004,
         "significant but delta +0.00499996 < min_delta 0.00500000"),
        (SUP, 0.001, -0.002, 0.004, 0.0050004, "not significant and underpowered: "
         "MDE 0.0050004 > min_delta 0.0050000"),
    ],
)
def test_a_reason_never_rounds_a_bound_onto_its_threshold(
        policy: Policy, delta: float, lower: float, upper: float, mde: float,
        reason: str) -> None:
    assert decide(policy, delta=delta, lower=lower, upper=upper, mde=mde).reason == reason


def test_a_gate_with_a_tiny_positive_lower_bound_shows_it_in_its_reports() -> None:
    # paired t on 100 items whose L is +2e-05: the Markdown said "CI (95%) [+0.0000, +inf]"
    # and "L = +0.0000 > 0" for an ALLOW
    r = gate_with_lower(2e-5)
    md = render_gate(r, "markdown")
    lower = r.comparison.ci.lower
    assert r.verdict is Verdict.ALLOW and lower is not None and 0 < lower < 5e-5
    assert "+0.0000" not in r.reason and "[+2e-05, +inf]" in md


def test_a_negative_zero_margin_is_zero() -> None:
    # `--min-delta -0` passed the >= 0 check as -0.0: every report printed "min_delta -0.0000"
    # ("margin -0.0000" in superiority) and the JSON "min_delta": -0.0.
    p = Policy(min_delta=-0.0)
    assert math.copysign(1.0, p.min_delta) == 1.0 and '"min_delta":0.0' in p.model_dump_json()


def test_fewer_than_five_clusters_is_inconclusive_never_a_guess() -> None:
    d = decide(SUP, delta=0.5, lower=0.4, upper=0.6, mde=0.01, n_clusters=4)
    assert d.verdict is Verdict.INCONCLUSIVE and "4 clusters" in d.reason


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_delta": 0.01, "alpha": 1.5}, "alpha"),
        ({"min_delta": 0.01, "alpha": 0}, "alpha"),
        ({"min_delta": 0.01, "power": 1.0}, "power"),
        ({"min_delta": -0.01}, "min_delta"),
        ({"min_delta": math.inf}, "min_delta"),
        ({"min_delta": math.nan}, "min_delta"),
        ({"min_delta": 0.01, "resamples": 10}, "resamples"),
        # 1e8 wild bootstrap draws took 11.5 GB and a CI runner with them (bug bash)
        ({"min_delta": 0.01, "resamples": 10**8}, "resamples must be at most 10,000,000"),
        ({"min_delta": 0.01, "mode": "better"}, "mode"),
        ({"min_delta": 0.01, "method": "magic"}, "method"),
        ({"min_delta": 0.01, "seed": -1}, "seed"),  # numpy rejects it later: was exit 70
    ],
)
def test_invalid_policies_are_usage_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        Policy(**kwargs)


def _runs(delta_flip: float, n: int = 2000, seed: int = 0) -> tuple[EvalRun, EvalRun]:
    rng = np.random.default_rng(seed)
    ids = [f"q{i}" for i in range(n)]
    cl = [f"P{i // 10}" for i in range(n)]
    b = (rng.random(n) < 0.7).astype(float)
    c = b.copy()
    flip = rng.random(n) < abs(delta_flip)
    c[flip] = 0.0 if delta_flip < 0 else 1.0
    return (EvalRun.from_arrays(ids, b, clusters=cl, metric="accuracy"),
            EvalRun.from_arrays(ids, c, clusters=cl, metric="accuracy"))


def test_significant_regression_is_reject_not_inconclusive() -> None:
    # evalsig 0.1 answered INCONCLUSIVE here.
    b, c = _runs(-0.15)
    r = gate(b, c, Policy(min_delta=0.005, cluster="passage_id"))
    assert r.comparison.delta < -0.03 and r.comparison.upper_bound is not None
    assert r.comparison.upper_bound < 0
    assert r.verdict is Verdict.REJECT and r.exit_code == 1


def test_a_regression_decided_by_u_does_not_cite_the_halved_alpha_of_l() -> None:
    # 20 clusters: auto compares L at alpha/2, but this REJECT rests on U at the nominal
    # level; the reason used to end "(L at alpha 0.025: auto's stricter ALLOW bound ...)".
    b, c = _runs(-0.15, n=200)
    r = gate(b, c, Policy(min_delta=0.005, cluster="passage_id"))
    assert r.comparison.allow_alpha == 0.025 and r.verdict is Verdict.REJECT
    assert r.reason.startswith("significant regression: U = ")
    assert "alpha 0.025" not in r.reason


def test_allow_tests_the_bound_not_the_point_estimate() -> None:
    # evalsig 0.1 allowed whenever delta >= min_delta. Here delta = 0.1 >= 0.005 from one
    # flipped item out of ten, so the lower bound is below 0: never ALLOW.
    ids = [str(i) for i in range(10)]
    b = EvalRun.from_arrays(ids, [0.0] * 10)
    c = EvalRun.from_arrays(ids, [1.0] + [0.0] * 9)
    r = gate(b, c, Policy(min_delta=0.005))
    assert r.comparison.delta == pytest.approx(0.1)
    assert r.comparison.ci.lower is not None and r.comparison.ci.lower < 0
    assert r.verdict is Verdict.INCONCLUSIVE


def test_report_json_is_strict_and_a_superset_of_evalsig_01() -> None:
    b, c = _runs(0.1)
    text = gate(b, c, Policy(min_delta=0.005, cluster="passage_id")).to_json()

    def refuse(token: str) -> None:
        raise AssertionError(f"non-standard JSON token {token}")

    doc = json.loads(text, parse_constant=refuse)
    for key in ("verdict", "exit_code", "min_delta", "alpha", "power", "suggestion", "mode",
                "schema_version", "comparison"):
        assert key in doc
    for key in ("delta", "ci", "ci_level", "p_value", "significant", "n_pairs", "n_clusters",
                "method", "mde", "notes"):
        assert key in doc["comparison"]
    assert doc["comparison"]["ci"][1] is None  # one-sided: the upper end is unbounded


def test_gate_pairs_the_runs_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # Pairing sorts every item id (np.unique); the doctor reuses the gate's pairing.
    import sys

    doctor = sys.modules["evalsig_core.doctor"]
    gate_module = sys.modules["evalsig_core.gate"]  # the package's `gate` is the function

    calls = []
    real = gate_module.pair

    def counting(*a: object, **k: object) -> object:
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(gate_module, "pair", counting)
    monkeypatch.setattr(doctor, "pair", counting)
    b, c = _runs(0.1)
    gate(b, c, Policy(min_delta=0.005, cluster="passage_id"))
    assert len(calls) == 1


def test_gate_reduces_each_run_to_item_means_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # The doctor's cluster checks (W204) read the pairing; they used to reduce both runs again
    # (np.unique over every item id: seconds at 1M items).
    import sys

    pairing = sys.modules["evalsig_core.pairing"]
    calls = []
    real = pairing.item_means

    def counting(run: object) -> object:
        calls.append(1)
        return real(run)

    monkeypatch.setattr(pairing, "item_means", counting)
    b, c = _runs(0.1)
    gate(b, c, Policy(min_delta=0.005, cluster="passage_id"))
    assert len(calls) == 2


def test_runs_that_carry_clusters_are_compared_by_cluster_without_repeating_the_key(
        tmp_path: Path) -> None:
    # The policy names no cluster key, but the runs were built (or read) with one: comparing
    # them as independent items would understate the SE (10 items per cluster here).
    b, c = _runs(0.05)
    assert b.meta.cluster_key == "cluster"
    for run_policy in (Policy(min_delta=0.005), Policy(min_delta=0.005, cluster="passage_id")):
        r = gate(b, c, run_policy)
        assert r.comparison.n_clusters == 200 and r.comparison.method == "wild_cluster_bootstrap"
        assert r.cluster == (run_policy.cluster or "cluster")
    assert compare(b, c, Policy(min_delta=0.005)).n_clusters == 200
    # read from a file with a cluster key, then gated through the Python API
    rows = ["item_id,score,passage_id"]
    paths = []
    for name, run in (("b", b), ("c", c)):
        assert run.clusters is not None
        p = tmp_path / f"{name}.csv"
        p.write_text("\n".join(rows + [f"{i},{s},{k}" for i, s, k in zip(
            run.item_ids, run.scores, run.clusters, strict=True)]) + "\n")
        paths.append(read_run(p, cluster="passage_id"))
    r = gate(paths[0], paths[1], Policy(min_delta=0.005))
    assert r.comparison.n_clusters == 200 and r.cluster == "passage_id"
    # no clusters anywhere: items are independent, as before
    flat = [EvalRun.from_arrays(r_.item_ids, r_.scores) for r_ in (b, c)]
    assert gate(flat[0], flat[1], Policy(min_delta=0.005)).comparison.n_clusters is None


def test_significant_agrees_with_the_verdict_at_autos_stricter_allow_level() -> None:
    # auto decides ALLOW on 10 clusters at alpha/2 = 0.025; p = 0.031 is not significant
    # there, yet the JSON said "significant": true beside REJECT "no significant improvement"
    rng = np.random.default_rng(1)
    n = 200
    b = (rng.random(n) < 0.5).astype(float)
    c = (rng.random(n) < 0.58).astype(float)
    ids = [f"q{i}" for i in range(n)]
    cl = [f"P{i % 10}" for i in range(n)]
    r = gate(EvalRun.from_arrays(ids, b, clusters=cl), EvalRun.from_arrays(ids, c, clusters=cl),
             Policy(min_delta=0.2, cluster="cluster", resamples=999))
    assert r.comparison.allow_alpha == 0.025 and 0.025 < r.comparison.p_value < 0.05
    assert r.verdict is Verdict.REJECT and "no significant improvement" in r.reason
    assert not r.comparison.significant
    cmp = compare(EvalRun.from_arrays(ids, b, clusters=cl),
                  EvalRun.from_arrays(ids, c, clusters=cl),
                  Policy(min_delta=0.2, cluster="cluster", resamples=999))
    assert cmp.significant  # no verdict: at the nominal alpha of its interval
