"""Every format shows the bound the verdict used next to the CI, with its level and the test,
where it differs from the CI's own lower end (auto's alpha/2 bound on clustered data): a
non-inferiority entry with CI [-0.1333, +inf] against a margin of -0.14 is INCONCLUSIVE, and
the reader must see why without reading the reason."""

from __future__ import annotations

import json
import re

import pytest

from evalsig_core import Policy, Verdict, gate
from evalsig_core.numfmt import digits_apart, fixed
from evalsig_core.render import render_gate, render_suite
from evalsig_core.report import GateReport, SuiteEntry
from evalsig_core.suite import suite_report
from tests.core.render.cases import _small_runs

FORMATS = ["tty", "markdown", "html"]


def _gate(margin: float, **kw: object) -> GateReport:
    b, c = _small_runs()
    return gate(b, c, Policy(min_delta=margin, mode="non-inferiority", cluster="cluster",
                             metric="accuracy", **kw))


@pytest.fixture(scope="module")
def hidden() -> GateReport:
    """CI [-0.1333, +inf] clears -0.14; ALLOW's bound at 97.5% (-0.1500) does not."""
    r = _gate(0.14)
    c = r.comparison
    assert r.verdict is Verdict.INCONCLUSIVE and c.allow_alpha == 0.025
    assert c.ci.lower is not None and c.allow_lower is not None
    assert c.ci.lower > c.theta0 >= c.allow_lower
    return r


def _text(render: str) -> str:
    return re.sub(r"<style>.*?</style>", "", render, flags=re.S).replace("&gt;", ">")


@pytest.mark.parametrize("output", FORMATS)
def test_the_gate_shows_the_decision_bound_its_level_and_the_test(hidden: GateReport,
                                                                   output: str) -> None:
    text = _text(render_gate(hidden, output))
    assert "decision bound" in text
    assert "L = -0.1500 at one-sided 97.5% (ALLOW needs L > -0.1400)" in text


@pytest.mark.parametrize("output", FORMATS)
def test_the_suite_table_shows_it_next_to_the_ci(hidden: GateReport, output: str) -> None:
    text = _text(render_suite(suite_report([SuiteEntry(name="guard", report=hidden)]), output))
    row = next(line for line in text.splitlines() if "[-0.1333, +inf]" in line)
    assert "decision bound L = -0.1500 at one-sided 97.5% (ALLOW needs L > -0.1400)" in row


def test_json_carries_the_decision_bound_and_its_level(hidden: GateReport) -> None:
    c = json.loads(render_gate(hidden, "json"))["comparison"]
    assert c["allow_alpha"] == 0.025 and c["allow_lower"] == pytest.approx(-0.15, abs=1e-4)
    assert c["allow_lower"] <= c["theta0"] < c["ci"][0]


def test_a_bound_never_rounds_onto_its_threshold(hidden: GateReport) -> None:
    # a margin 1e-7 inside the bound: at 4 decimals both read -0.1500
    lower = hidden.comparison.allow_lower
    assert lower is not None
    r = _gate(-lower - 1e-7)
    assert r.verdict is Verdict.INCONCLUSIVE
    d = digits_apart(lower, r.comparison.theta0)
    assert d > 4
    want = f"L = {fixed(lower, True, d)} at one-sided 97.5% (ALLOW needs L > " \
           f"{fixed(r.comparison.theta0, True, d)})"
    assert fixed(lower, True, d) != fixed(r.comparison.theta0, True, d)
    for output in FORMATS:
        assert want in _text(render_gate(r, output))


@pytest.mark.parametrize("output", FORMATS)
def test_no_decision_bound_when_allow_compares_the_ci_itself(output: str) -> None:
    r = _gate(0.14, method="clustered_t")  # not auto: ALLOW compares the CI's lower end
    assert r.comparison.allow_alpha is None
    assert "decision bound" not in _text(render_gate(r, output))


def test_the_inconclusive_reason_tells_the_bound_from_the_margin(hidden: GateReport) -> None:
    # the reason read "the interval [-0.1500, +0.0347] contains the margin -0.1500"
    lower = hidden.comparison.allow_lower
    assert lower is not None
    r = _gate(-lower - 1e-7)
    assert "the interval [-0.1500000, +0.0347287] contains the margin -0.1499999" in r.reason
