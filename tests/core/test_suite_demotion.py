"""A suite entry that the multiplicity correction demotes says so in its own report, in every
output format: a reader of `.entries[].report.verdict` must never see ALLOW for an entry the
suite did not accept."""

from __future__ import annotations

import json
import re

import pytest

from evalsig_core import Policy, Verdict
from evalsig_core.render import render_suite
from evalsig_core.report import SuiteReport
from evalsig_core.suite import SuiteItem, gate_suite
from tests.conftest import discordant_runs


def _item(name: str, improved: int, regressed: int) -> SuiteItem:
    runs = discordant_runs(improved, regressed)
    return SuiteItem(name=name, policy=Policy(min_delta=0.0), load=lambda: runs)


@pytest.fixture(scope="module")
def demoted() -> SuiteReport:
    # 59 improved vs 41 regressed: McNemar p = P(Z > 18/10) = 0.036 < 0.05 (ALLOW alone); Holm
    # over two such entries: 2 * 0.036 = 0.072 >= 0.05 (tests/stats/test_suite.py)
    return gate_suite([_item("a", 59, 41), _item("b", 59, 41)])


def test_a_demoted_entry_report_states_the_verdict_that_applies(demoted: SuiteReport) -> None:
    doc = json.loads(render_suite(demoted, "json"))
    for e in doc["entries"]:
        assert e["verdict"] == "INCONCLUSIVE"
        assert e["report"]["verdict"] == "INCONCLUSIVE" and e["report"]["exit_code"] == 2
        assert e["report"]["verdict_before_correction"] == "ALLOW"
        assert "holm" in e["report"]["reason"].lower()


def test_a_demoted_entry_carries_the_extra_items_at_the_adjusted_level(
        demoted: SuiteReport) -> None:
    r = demoted.entries[0].report
    assert r is not None and r.extra_items_needed is not None and r.extra_items_needed > 0
    assert str(r.extra_items_needed) in r.suggestion


def test_an_entry_the_correction_leaves_alone_has_no_pre_correction_verdict() -> None:
    # 200 improved vs 20 regressed: p ~ 1e-35, ALLOW survives Holm over two entries
    s = gate_suite([_item("a", 200, 20), _item("b", 200, 20)])
    assert [e.report.verdict for e in s.entries] == [Verdict.ALLOW] * 2  # type: ignore[union-attr]
    assert all(e.report.verdict_before_correction is None  # type: ignore[union-attr]
               for e in s.entries)


@pytest.mark.parametrize("output", ["markdown", "tty", "html"])
def test_every_format_shows_the_entry_as_inconclusive(demoted: SuiteReport, output: str) -> None:
    text = re.sub(r"<style>.*?</style>", "", render_suite(demoted, output), flags=re.S)  # css
    assert "ALLOW before holm" in text
    # the entry's own verdict is never shown as a bare ALLOW: only as the pre-correction one
    # (or in the requirement an adjusted p-value or a bound is checked against: "ALLOW needs")
    assert len(re.findall(r"ALLOW(?! needs)", text)) == text.count("ALLOW before holm")
