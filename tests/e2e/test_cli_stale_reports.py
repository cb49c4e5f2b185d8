"""A command that decides nothing never leaves an earlier report at a path it was asked to
write: `--json` / `--markdown` / `--html` then hold the refusal (a doctor report with the
error and the real exit code), under the marker the command's own report would carry, so a CI
job that uploads report.json, or updates its PR comment, never publishes last week's ALLOW."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

import evalsig_core.cli._commands as commands
from tests.conftest import run_cli

_STALE_JSON = json.dumps({"schema_version": "1", "kind": "gate", "verdict": "ALLOW",
                          "exit_code": 0}, indent=2)
_STALE_HTML = ('<!DOCTYPE html>\n<meta name="generator" content="evalsig 0.2.0">\n'
               "<h1>evalsig gate ALLOW</h1>")
_STALE_MD = "<!-- evalsig-report metric=accuracy -->\n## EVALSIG release gate ✅ ALLOW\n"


_run = run_cli


@pytest.fixture
def runs(tmp_path: Path, examples: Path) -> Path:
    for name in ("baseline.json", "candidate.json"):
        shutil.copy(examples / name, tmp_path / name)
    (tmp_path / "suite.toml").write_text(
        '[suite]\nmin_delta = 0.005\nresamples = 200\n[[entry]]\nmetric = "accuracy"\n'
        'baseline = "baseline.json"\ncandidate = "candidate.json"\n')
    return tmp_path


def _argv(command: str, d: Path, candidate: str = "candidate.json") -> list[str]:
    b, c = str(d / "baseline.json"), str(d / candidate)
    return {
        "doctor": ["doctor", b, c],
        "compare": ["compare", b, c, "--resamples", "200"],
        "gate": ["gate", "--baseline", b, "--candidate", c, "--min-delta", "0.005",
                 "--resamples", "200"],
        "watch": ["watch", "--baseline", b, "--candidate", c, "--min-delta", "0.005"],
        "suite": ["suite", str(d / "suite.toml")],
    }[command]


def _paths(d: Path) -> list[str]:
    for name, text in (("r.json", _STALE_JSON), ("r.md", _STALE_MD), ("r.html", _STALE_HTML)):
        (d / name).write_text(text)
    return ["--json", str(d / "r.json"), "--markdown", str(d / "r.md"),
            "--html", str(d / "r.html")]


def _refused(d: Path, code: int, command: str = "") -> dict[str, Any]:
    report: dict[str, Any] = json.loads((d / "r.json").read_text())
    assert report["kind"] == "doctor" and report["exit_code"] == code and not report["ok"]
    for name in ("r.md", "r.html"):
        text = (d / name).read_text()
        assert text not in (_STALE_MD, _STALE_HTML) and "✅" not in text, text
        assert report["findings"][0]["code"] in text, text
        if command != "doctor":  # the refusal of a command says its exit code
            assert f"exit {code}" in text, text
    return report


# the usage errors of each command: after parsing (a value out of range) and from argparse
# itself (a value that is not a number, an unknown choice)
_USAGE = {
    "doctor": [["--format", "nope"]],
    "compare": [["--alpha", "0.9"], ["--alpha", "abc"], ["--method", "nope"]],
    "gate": [["--alpha", "2"], ["--alpha", "abc"], ["--mode", "nope"]],
    "watch": [["--alpha", "0.9"], ["--mode", "nope"], ["--min-delta", "inf"]],  # twice
    "suite": [["--correction", "nope"]],
}


@pytest.mark.parametrize(("command", "bad"), [(c, b) for c, bs in _USAGE.items() for b in bs])
def test_a_usage_error_replaces_the_earlier_reports(runs: Path, command: str,
                                                    bad: list[str]) -> None:
    """`--alpha 2` (or `--alpha abc`, `--method nope`) stopped the command before anything
    was written: the report files of the previous run stood as this run's result."""
    code, out, err = _run([*_argv(command, runs), *_paths(runs), *bad])
    assert code == 64 and out == "" and err.count("\n") == 1, err
    report = _refused(runs, 64, command)
    [finding] = report["findings"]
    assert finding["code"] == "E118" and bad[0].lstrip("-") in finding["message"]
    heading = (runs / "r.md").read_text().split("\n")[1]
    assert heading.endswith("errors" if command == "doctor" else ": error")  # not gated: error


@pytest.mark.parametrize("command", ["doctor", "compare", "gate", "watch"])
def test_a_run_not_found_replaces_the_earlier_reports(runs: Path, command: str) -> None:
    code, _out, err = _run([*_argv(command, runs, "missing.json"), *_paths(runs)])
    assert code == 66 and err.count("\n") <= 1
    report = _refused(runs, 66, command)
    assert [f["file"] for f in report["findings"]] == [str(runs / "missing.json")]


def test_a_compare_the_doctor_refuses_replaces_the_earlier_reports(runs: Path) -> None:
    """compare printed the doctor's refusal on stderr and exited 65, leaving out.json."""
    code, _, err = _run([*_argv("compare", runs, "baseline.json"), *_paths(runs)])
    assert code == 65 and "E116" in err
    assert next(f["code"] for f in _refused(runs, 65)["findings"]) == "E116"
    assert (runs / "r.md").read_text().startswith("<!-- evalsig-report kind=compare ")


def test_a_suite_file_that_cannot_be_read_replaces_the_earlier_reports(runs: Path) -> None:
    (runs / "suite.toml").write_text("[suite\n")
    code, _, _ = _run([*_argv("suite", runs), *_paths(runs)])
    assert code == 64
    _refused(runs, 64)
    assert (runs / "r.md").read_text().startswith("<!-- evalsig-report kind=suite -->\n")


def test_a_failed_write_replaces_the_report_already_written(runs: Path) -> None:
    """The JSON was written (ALLOW), then the Markdown path failed (74): report.json must
    not say ALLOW for a command that exited 74. The error is said once."""
    (runs / "r.json").write_text(_STALE_JSON)
    code, _, err = _run([*_argv("gate", runs), "--json", str(runs / "r.json"),
                         "--markdown", str(runs / "no-dir" / "r.md")])
    assert code == 74 and err.count("\n") == 1, err
    report = json.loads((runs / "r.json").read_text())
    assert report["kind"] == "doctor" and report["exit_code"] == 74
    assert report["findings"][0]["code"] == "E118"


def test_an_internal_error_replaces_the_earlier_reports(
        runs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*a: Any, **k: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(commands, "gate", boom)
    code, _, err = _run([*_argv("gate", runs), *_paths(runs)])
    assert code == 70 and "internal error" in err
    assert "RuntimeError: boom" in _refused(runs, 70)["findings"][0]["message"]


# ---- paths that are never written ---------------------------------------------------------


def test_a_report_path_that_is_an_input_is_never_written(runs: Path) -> None:
    """`--json candidate.json` is refused (64) before any work; the refusal of a later
    usage error must not write there either (it would destroy the run)."""
    before = (runs / "candidate.json").read_bytes()
    for bad in (["--alpha", "abc"], ["--alpha", "2"], []):
        code, _, _ = _run([*_argv("gate", runs), "--json", str(runs / "candidate.json"),
                           *bad])
        assert code == 64 and (runs / "candidate.json").read_bytes() == before


def test_a_suite_whose_runs_are_unknown_never_overwrites_another_file(runs: Path) -> None:
    """A suite file that cannot be read names no runs: a path holding anything but an
    earlier evalsig report (here the entry's own candidate run) is left as it was."""
    (runs / "suite.toml").write_text((runs / "suite.toml").read_text() + "oops = [\n")
    before = (runs / "candidate.json").read_bytes()
    code, _, _ = _run([*_argv("suite", runs), "--json", str(runs / "candidate.json")])
    assert code == 64 and (runs / "candidate.json").read_bytes() == before


def test_a_report_flag_without_a_path_writes_nothing(runs: Path) -> None:
    """argparse cannot read `--json` at the end of the line: no path is named (README)."""
    _paths(runs)
    code, _, _ = _run([*_argv("gate", runs), "--markdown", str(runs / "r.md"), "--json"])
    assert code == 64 and (runs / "r.md").read_text() == _STALE_MD


# ---- the refusal's marker (PR comment) ----------------------------------------------------


def _marker(path: Path) -> str:
    return path.read_text().split("\n", 1)[0]


@pytest.mark.parametrize("metric", [[], ["--metric", "accuracy"]])
@pytest.mark.parametrize("missing", ["baseline.json", "candidate.json"])
def test_the_refusal_of_an_unread_run_carries_the_verdicts_marker(
        runs: Path, metric: list[str], missing: str) -> None:
    """A gate whose run could not be read wrote a marker without the task (and without the
    metric unless --metric was given): the PR kept the earlier ALLOW comment and got a new
    error comment beside it. The task and metric now come from the run that was read."""
    assert _run([*_argv("gate", runs), *metric, "--markdown", str(runs / "ok.md")])[0] == 0
    verdict = _marker(runs / "ok.md")
    assert " task=" in verdict and " metric=accuracy" in verdict
    (runs / missing).unlink()
    code, _, _ = _run([*_argv("gate", runs), *metric, "--markdown", str(runs / "r.md")])
    assert code == 66 and _marker(runs / "r.md") == verdict


def test_a_compare_refusal_carries_the_compare_marker(runs: Path) -> None:
    assert _run([*_argv("compare", runs), "--markdown", str(runs / "ok.md")])[0] == 0
    (runs / "candidate.json").write_text("{")
    assert _run([*_argv("compare", runs), "--markdown", str(runs / "r.md")])[0] == 65
    assert _marker(runs / "r.md") == _marker(runs / "ok.md")


def test_a_watch_refusal_carries_the_watch_marker(runs: Path) -> None:
    """watch's refusal had the gate's marker and heading: it never replaced a watch comment."""
    assert _run([*_argv("watch", runs), "--markdown", str(runs / "ok.md")])[0] in (0, 1, 2)
    (runs / "candidate.json").unlink()
    assert _run([*_argv("watch", runs), "--markdown", str(runs / "r.md")])[0] == 66
    assert _marker(runs / "r.md") == _marker(runs / "ok.md") == "<!-- evalsig-report kind=watch -->"
    assert "## EVALSIG watch ❌ not decided" in (runs / "r.md").read_text()
