"""Suites: multiplicity corrections, the suite verdict, TOML suite files and `evalsig suite`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalsig_core import EvalRun, Policy, UsageError, Verdict
from evalsig_core.cli import main
from evalsig_core.stats import adjust_p_values
from evalsig_core.suite import SuiteItem, gate_suite, load_suite
from tests.conftest import discordant_runs, write_runframe


def test_holm_and_bh_equal_statsmodels_multipletests() -> None:
    mt = pytest.importorskip("statsmodels.stats.multitest")
    p = [0.01, 0.04, 0.03, 0.20, 0.002]
    for ours, theirs in (("holm", "holm"), ("bh", "fdr_bh")):
        ref = mt.multipletests(p, method=theirs)[1]
        assert adjust_p_values(p, ours) == pytest.approx(list(ref), rel=1e-12)


def test_iut_leaves_p_values_unadjusted() -> None:
    assert adjust_p_values([0.01, 0.04], "iut") == [0.01, 0.04]


def _item(name: str, improved: int, regressed: int, mode: str = "superiority") -> SuiteItem:
    runs = discordant_runs(improved, regressed)
    return SuiteItem(name=name, policy=Policy(min_delta=0.0, mode=mode), load=lambda: runs)


def test_holm_turns_two_marginal_allows_into_inconclusive() -> None:
    # 59 improved vs 41 regressed: McNemar p = P(Z > (59 - 41)/sqrt(100)) = 0.036 < 0.05,
    # ALLOW alone; Holm over two such entries gives 2 * 0.036 = 0.072 >= 0.05.
    alone = gate_suite([_item("a", 59, 41)])
    assert alone.verdict is Verdict.ALLOW
    both = gate_suite([_item("a", 59, 41), _item("b", 59, 41)])
    assert both.correction == "holm"
    assert [e.verdict for e in both.entries] == [Verdict.INCONCLUSIVE] * 2
    assert both.entries[0].p_value_adjusted == pytest.approx(
        2 * both.entries[0].report.comparison.p_value)  # type: ignore[union-attr]
    assert both.verdict is Verdict.INCONCLUSIVE and both.exit_code == 2


def test_guardrails_need_no_split_and_any_reject_rejects_the_suite() -> None:
    ok = gate_suite([_item("g1", 60, 40, "non-inferiority"), _item("g2", 60, 40,
                                                                     "non-inferiority")])
    assert ok.correction == "iut" and ok.verdict is Verdict.ALLOW
    bad = gate_suite([_item("g1", 60, 40, "non-inferiority"), _item("r", 10, 90)])
    assert bad.verdict is Verdict.REJECT and "r" in bad.reason and bad.exit_code == 1


def test_an_entry_that_cannot_be_gated_makes_the_suite_inconclusive(tmp_path: Path) -> None:
    good = _item("good", 200, 20)

    def missing() -> tuple[EvalRun, EvalRun]:
        from evalsig_core.readers import read_run

        return read_run(tmp_path / "nope.json"), read_run(tmp_path / "nope.json")

    r = gate_suite([good, SuiteItem("broken", Policy(min_delta=0.0), missing)])
    assert r.verdict is Verdict.INCONCLUSIVE
    assert r.entries[1].error is not None and r.entries[1].error_code == 66


def _suite_file(tmp_path: Path, extra: str = "") -> Path:
    n = 400
    ids = [f"q{i}" for i in range(n)]
    base = [1.0 if i % 3 else 0.0 for i in range(n)]
    cand = [1.0 if (i % 3 or i % 2) else 0.0 for i in range(n)]
    write_runframe(tmp_path / "b.json", ids, base)
    write_runframe(tmp_path / "c.json", ids, cand)
    text = f"""
[suite]
alpha = 0.05
{extra}

[[entry]]
name = "better"
baseline = "b.json"
candidate = "c.json"
metric = "accuracy"
min_delta = 0.01

[[entry]]
name = "guardrail"
baseline = "b.json"
candidate = "c.json"
metric = "accuracy"
min_delta = 0.02
mode = "non-inferiority"
"""
    path = tmp_path / "suite.toml"
    path.write_text(text)
    return path


def test_suite_cli_gates_every_entry_and_prints_json(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    path = _suite_file(tmp_path)
    code = main(["suite", str(path), "--output", "json"], {})
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["verdict"] == "ALLOW" and doc["kind"] == "suite"
    assert [e["name"] for e in doc["entries"]] == ["better", "guardrail"]


def test_suite_cli_prints_every_entry_and_writes_the_other_formats(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    html = tmp_path / "suite.html"
    assert main(["suite", str(_suite_file(tmp_path)), "--html", str(html)], {}) == 0
    out = capsys.readouterr().out
    assert "evalsig suite: ALLOW" in out and "better" in out and "guardrail" in out
    assert html.read_text().count("<svg") >= 1


def test_unknown_suite_keys_are_usage_errors(tmp_path: Path) -> None:
    path = _suite_file(tmp_path, extra='colour = "blue"')
    with pytest.raises(UsageError, match="colour"):
        load_suite(path)
    assert main(["suite", str(path)], {}) == 64
