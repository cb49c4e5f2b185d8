"""A `--format` that does not fit the file says what the file looks like and how to read it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalsig_core.cli import main
from tests.conftest import SHARED_FIXTURES, write_runframe

I285, LM, HELM = (SHARED_FIXTURES / "inspect-0.3.285", SHARED_FIXTURES / "lm-eval-0.4.13",
                  SHARED_FIXTURES / "helm-0.5.16")
_IDS = [f"q{i}" for i in range(10)]


def _doctor(path: Path, fmt: str, metric: str) -> list[str]:
    return ["doctor", str(path), str(path), "--metric", metric, "--format", fmt,
            "--output", "json"]


def _native(tmp: Path) -> Path:
    return write_runframe(tmp / "run.json", _IDS, [1.0] * 10)


@pytest.mark.parametrize(("make", "fmt", "metric", "looks", "use"), [
    # "invalid JSON at line 1: Expecting property name enclosed in double quotes"
    (lambda t: I285 / "baseline_e1.json", "lm-eval-samples", "match", "an Inspect .json log",
     "inspect-json"),
    # "no column 'item_id'; the header has ['{\"run_id\": \"run\"', '\"model_id\": \"m\"', ...]"
    (_native, "csv", "accuracy", "an evalsig JSON run", "evalsig-json"),
    # "not a HELM per_instance_stats.json (fix: expected a list of {instance_id, ...})"
    (lambda t: I285 / "candidate_e1.json", "helm", "exact_match", "an Inspect .json log",
     "inspect-json"),
    # "line 1 is not valid UTF-8 (byte 11) (fix: re-save the file as UTF-8)"
    (lambda t: I285 / "baseline_e1.eval", "evalsig-jsonl", "match", "an Inspect .eval log",
     "inspect-eval"),
    # "is a directory, a run file was expected"
    (lambda t: HELM / "baseline", "csv", "exact_match", "a HELM run directory", "helm"),
    # a one-line JSON document read as JSONL was its header line and no items: a run of 0
    # items, reported by the doctor as "E105 baseline has no scored items"
    (_native, "evalsig-jsonl", "accuracy", "an evalsig JSON run", "evalsig-json"),
])
def test_a_forced_format_that_does_not_fit_names_what_the_file_looks_like(
        make: object, fmt: str, metric: str, looks: str, use: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    assert main(_doctor(path, fmt, metric), {}) == 65
    report = json.loads(capsys.readouterr().out)
    errors = [f for f in report["findings"] if f["severity"] == "error"]
    (message,) = {f["message"] for f in errors}
    hints = {f["hint"] for f in errors}
    assert {f["file"] for f in errors} == {str(path)}
    what = "directory" if path.is_dir() else "file"  # a HELM run directory is no "file"
    assert message.startswith(f"--format {fmt} does not fit this {what} (")
    assert message.endswith(f"; it looks like {looks}")
    assert hints == {f"drop --format (auto-detection reads it as {use}), or use --format {use}"}


def test_a_forced_format_on_a_file_nothing_reads_says_detection_finds_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (results,) = (LM / "baseline").glob("results_*.json")
    assert main(["gate", "--baseline", str(results), "--candidate", str(results), "--metric",
                 "acc", "--min-delta", "0", "--format", "lm-eval-samples"], {}) == 65
    err = capsys.readouterr().err
    assert "--format lm-eval-samples does not fit this file (" in err
    assert "auto-detection finds no supported format either (this is an lm-eval results " \
        "file" in err and "pass a samples file" in err and err.count("\n") == 1


@pytest.mark.parametrize(("fmt", "why"), [
    ("helm", "directory has no per_instance_stats.json"),
    ("csv", "is a directory, a run file was expected"),
])
def test_a_forced_format_on_a_directory_nothing_reads_says_directory(
        fmt: str, why: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # "--format helm does not fit this file (directory has no per_instance_stats.json)"; with
    # --format csv the reason was repeated: "... either (is a directory, a run file was
    # expected)" after the same words.
    assert main(["gate", "--baseline", str(tmp_path), "--candidate", str(tmp_path), "--metric",
                 "exact_match", "--min-delta", "0", "--format", fmt], {}) == 65
    err = capsys.readouterr().err
    assert f"{tmp_path}: --format {fmt} does not fit this directory ({why}); " in err
    assert err.count("is a directory, a run file was expected") == 1
    assert "per_instance_stats.json" in err and err.count("\n") == 1


def test_a_forced_format_that_fits_keeps_the_content_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "run.csv"
    path.write_text("item_id,accuracy\nq1,1\n")
    assert main(["gate", "--baseline", str(path), "--candidate", str(path), "--metric",
                 "reward", "--min-delta", "0", "--format", "csv"], {}) == 65
    err = capsys.readouterr().err
    assert "no column 'reward'" in err and "--format" not in err.replace("(score_col)", "")
