"""A candidate that is the baseline file itself (or a byte copy of it) is refused (E116)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from evalsig_core.cli import main
from tests.conftest import write_runframe

N = 4000
_IDS = [f"q{i}" for i in range(N)]
_CLUSTERS = [f"P{i % 400}" for i in range(N)]
_SCORES = [float(i % 3 != 0) for i in range(N)]


def _noninferiority(b: Path, c: Path) -> list[str]:
    return ["gate", "--baseline", str(b), "--candidate", str(c), "--metric", "accuracy",
            "--cluster", "passage_id", "--mode", "non-inferiority", "--min-delta", "0.01"]


@pytest.mark.parametrize("copy", [False, True])
def test_a_copy_of_the_baseline_never_ships(
        copy: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Every paired difference of a run with itself is 0, so the interval has width ~0 and a
    # non-inferiority gate with a 0.01 margin answered ALLOW (exit 0) with only warning W215:
    # a CI job whose candidate path fell back to the baseline shipped a model nobody ran.
    b = write_runframe(tmp_path / "base.json", _IDS, _SCORES, _CLUSTERS)
    c = tmp_path / "cand.json"
    if copy:
        shutil.copyfile(b, c)
    code = main(_noninferiority(b, c if copy else b), {})
    err = capsys.readouterr().err
    assert code == 65
    assert "E116" in err and "W215" not in err
    assert ("cand.json is a byte-identical copy of" in err) if copy else ("the same path" in err)


def test_the_same_scores_in_a_different_file_are_still_gated(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A real re-run that reproduced every score (deterministic decoding) is not a copy: its
    # file differs (here, the run id: the file stem), so it is gated, with W214 to say
    # that nothing moved.
    b = write_runframe(tmp_path / "base.json", _IDS, _SCORES, _CLUSTERS)
    c = write_runframe(tmp_path / "cand.json", _IDS, _SCORES, _CLUSTERS)
    assert main(_noninferiority(b, c), {}) == 0
    captured = capsys.readouterr()
    assert "W214" in captured.out + captured.err and "E116" not in captured.out + captured.err


def test_a_refused_gate_writes_the_doctor_report_under_its_own_marker(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Before, a gate the doctor refused wrote nothing: `--output markdown > report.md` gave an
    # empty PR comment, and report.json / report.md of an earlier ALLOW stayed as they were.
    b = write_runframe(tmp_path / "base.json", _IDS[:200], _SCORES[:200], _CLUSTERS[:200])
    c = write_runframe(tmp_path / "cand.json", _IDS[:200], [1.0] * 200, _CLUSTERS[:200])
    js, md, html = (tmp_path / f"report.{x}" for x in ("json", "md", "html"))
    args = ["--json", str(js), "--markdown", str(md), "--html", str(html)]
    assert main([*_noninferiority(b, c), *args, "--output", "markdown"], {}) == 0
    allowed = capsys.readouterr().out
    assert main([*_noninferiority(b, b), *args, "--output", "markdown"], {}) == 65
    out = capsys.readouterr().out
    assert out.splitlines()[0] == allowed.splitlines()[0] == md.read_text().splitlines()[0]
    assert "not gated: doctor errors" in out and "E116" in out and "ALLOW" not in out
    doc = json.loads(js.read_text())
    assert doc["kind"] == "doctor" and doc["exit_code"] == 65
    assert "not gated" in html.read_text() and "E116" in html.read_text()
    # tty: the doctor report is on stderr already; stdout stays empty
    assert main([*_noninferiority(b, b)], {}) == 65
    assert capsys.readouterr().out == ""


def test_a_refused_gate_reports_to_the_github_job_summary(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    b = write_runframe(tmp_path / "base.json", _IDS[:200], _SCORES[:200], _CLUSTERS[:200])
    summary, outputs = tmp_path / "summary.md", tmp_path / "out"
    env = {"GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(outputs)}
    assert main(_noninferiority(b, b), env) == 65
    assert "E116" in summary.read_text() and "verdict=ERROR" in outputs.read_text()
