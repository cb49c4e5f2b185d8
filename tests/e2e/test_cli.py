"""The CLI end to end: the seed workflow verbatim, and every exit code of DESIGN.md."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from evalsig_core.cli import main
from tests.conftest import EXAMPLES, write_runframe

EVALSIG = [sys.executable, "-m", "evalsig_core.cli"]


def _run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **env}
    exe = shutil.which("evalsig", path=str(Path(sys.executable).parent))
    cmd = [exe] if exe else EVALSIG
    return subprocess.run(cmd + args, cwd=cwd, capture_output=True, text=True, env=full_env,
                          check=False)


@pytest.fixture
def seed_dir(tmp_path: Path) -> Path:
    shutil.copy(EXAMPLES / "baseline.json", tmp_path / "baseline.json")
    shutil.copy(EXAMPLES / "candidate.json", tmp_path / "candidate.json")
    return tmp_path


def test_seed_workflow_runs_verbatim_and_allows(seed_dir: Path) -> None:
    doctor = subprocess.run(
        "evalsig doctor baseline.json candidate.json", shell=True, cwd=seed_dir,
        capture_output=True, text=True, env={**os.environ, "PATH": _path()}, check=False)
    assert doctor.returncode == 0, doctor.stderr
    gate = subprocess.run(
        "evalsig gate --baseline baseline.json --candidate candidate.json --metric accuracy "
        "--cluster passage_id --min-delta 0.005 --alpha 0.05 --power 0.80 --json report.json "
        "--output markdown > report.md", shell=True, cwd=seed_dir, capture_output=True,
        text=True, env={**os.environ, "PATH": _path()}, check=False)
    assert gate.returncode == 0, gate.stderr
    md = (seed_dir / "report.md").read_text()
    assert "## EVALSIG release gate ✅ ALLOW" in md
    for row in ("| verdict |", "| min_delta policy |", "| observed delta |", "| CI (95%) |",
                "| p-value |", "| detectable @ 80% power |", "| method |", "| n_pairs |"):
        assert row in md
    report = json.loads((seed_dir / "report.json").read_text())
    assert report["verdict"] == "ALLOW" and report["exit_code"] == 0
    assert report["comparison"]["n_clusters"] == 120


def _path() -> str:
    return f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"


def test_regression_exits_1(tmp_path: Path) -> None:
    r = _run(["gate", "--baseline", str(EXAMPLES / "baseline.json"), "--candidate",
              str(EXAMPLES / "regressed.json"), "--cluster", "passage_id", "--min-delta",
              "0.005"], tmp_path)
    assert r.returncode == 1, r.stderr
    assert "REJECT" in r.stdout


def test_underpowered_exits_2_with_the_items_needed(tmp_path: Path) -> None:
    ids = [f"q{i}" for i in range(40)]
    b = write_runframe(tmp_path / "b.json", ids, [i % 2 for i in range(40)])
    c = write_runframe(tmp_path / "c.json", ids, [(i // 2) % 2 for i in range(40)])
    r = _run(["gate", "--baseline", str(b), "--candidate", str(c), "--min-delta", "0.01",
              "--output", "json"], tmp_path)
    assert r.returncode == 2, r.stderr
    report = json.loads(r.stdout)
    assert report["verdict"] == "INCONCLUSIVE" and report["extra_items_needed"] > 0


@pytest.mark.parametrize(
    "args",
    [
        ["gate", "--baseline", "b.json"],  # missing flags
        ["gate", "--baseline", "b", "--candidate", "c", "--min-delta", "x"],
        ["gate", "--baseline", "b", "--candidate", "c", "--min-delta", "0.01", "--alpha", "1.5"],
        ["gate", "--baseline", "b", "--candidate", "c", "--min-delta", "nan"],
        ["gate", "--baseline", "b", "--candidate", "c", "--min-delta", "0.01", "--mode", "x"],
        ["gate", "--baseline", "b", "--candidate", "c", "--min-delta", "0.01",
         "--resamples", "5"],
        ["frobnicate"],
        [],
    ],
)
def test_usage_errors_exit_64_never_2(tmp_path: Path, args: list[str],
                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args, env={}) == 64
    err = capsys.readouterr().err
    assert err.startswith("evalsig: error:") and err.count("\n") == 1


def test_bad_data_exits_65_with_one_line(tmp_path: Path) -> None:
    b = write_runframe(tmp_path / "b.json", ["a", "b", "c"], [1, float("nan"), 0])
    c = write_runframe(tmp_path / "c.json", ["a", "b", "c"], [1, 1, 0])
    r = _run(["gate", "--baseline", str(b), "--candidate", str(c), "--min-delta", "0"], tmp_path)
    assert r.returncode == 65
    assert "E103" in r.stderr and "Traceback" not in r.stderr
    d = _run(["doctor", str(b), str(c)], tmp_path)
    assert d.returncode == 65 and "E103" in d.stdout


def test_duplicates_are_refused_not_overwritten(tmp_path: Path) -> None:
    # evalsig 0.1 let the last duplicate win silently.
    b = write_runframe(tmp_path / "b.json", ["a", "a", "b"], [1, 0, 0])
    c = write_runframe(tmp_path / "c.json", ["a", "b"], [1, 1])
    r = _run(["doctor", str(b), str(c)], tmp_path)
    assert r.returncode == 65 and "E104" in r.stdout


def test_missing_cluster_key_is_an_error_not_one_pseudo_cluster(tmp_path: Path) -> None:
    ids = [f"q{i}" for i in range(30)]
    cl: list[str | None] = [f"P{i // 3}" for i in range(30)]
    b = write_runframe(tmp_path / "b.json", ids, [i % 2 for i in range(30)], cl)
    doc = json.loads(b.read_text())
    del doc["items"][4]["metadata"]["passage_id"], doc["items"][4]["cluster_id"]
    b.write_text(json.dumps(doc))
    c = write_runframe(tmp_path / "c.json", ids, [1] * 30, cl)
    r = _run(["gate", "--baseline", str(b), "--candidate", str(c), "--cluster", "passage_id",
              "--min-delta", "0"], tmp_path)
    assert r.returncode == 65 and "E107" in r.stderr


def test_missing_file_exits_66(tmp_path: Path) -> None:
    r = _run(["gate", "--baseline", "nope.json", "--candidate", "nope2.json", "--min-delta",
              "0.01"], tmp_path)
    assert r.returncode == 66
    assert "nope.json: file not found" in r.stderr
    d = _run(["doctor", "nope.json", str(EXAMPLES / "baseline.json")], tmp_path)
    assert d.returncode == 66


def test_internal_error_exits_70_without_traceback(monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    import evalsig_core.cli._commands as commands

    def boom(*a: object, **k: object) -> None:
        raise RuntimeError("kaboom")

    monkeypatch.setattr(commands, "gate", boom)
    code = main(["gate", "--baseline", str(EXAMPLES / "baseline.json"), "--candidate",
                 str(EXAMPLES / "candidate.json"), "--min-delta", "0.005"], env={})
    assert code == 70
    err = capsys.readouterr().err
    assert "internal error: RuntimeError: kaboom" in err and "Traceback" not in err


def test_github_outputs_and_step_summary(tmp_path: Path) -> None:
    out, summary = tmp_path / "out", tmp_path / "summary"
    code = main(["gate", "--baseline", str(EXAMPLES / "baseline.json"), "--candidate",
                 str(EXAMPLES / "candidate.json"), "--cluster", "passage_id",
                 "--min-delta", "0.005", "--output", "json"],
                env={"GITHUB_OUTPUT": str(out), "GITHUB_STEP_SUMMARY": str(summary)})
    assert code == 0
    lines = dict(line.split("=", 1) for line in out.read_text().splitlines())
    assert lines["verdict"] == "ALLOW" and lines["exit_code"] == "0"
    assert {"delta", "p_value", "mde"} <= lines.keys()
    assert "EVALSIG release gate" in summary.read_text()


@pytest.mark.parametrize("broken", ["GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY"])
def test_an_unwritable_github_file_exits_74_before_stdout_shows_a_verdict(
        broken: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # stdout used to carry the ALLOW report (exit_code 0) while the step failed with 74
    env = {"GITHUB_OUTPUT": str(tmp_path / "out"), "GITHUB_STEP_SUMMARY": str(tmp_path / "s")}
    env[broken] = str(tmp_path)  # a directory: cannot be appended to
    code = main(["gate", "--baseline", str(EXAMPLES / "baseline.json"), "--candidate",
                 str(EXAMPLES / "candidate.json"), "--cluster", "passage_id",
                 "--min-delta", "0.005", "--output", "json"], env=env)
    out = capsys.readouterr()
    assert code == 74 and out.out == "", out


def test_a_report_cut_short_by_a_full_disk_is_removed(tmp_path: Path) -> None:
    # A file size limit fails the HTML write part-way (EFBIG, as a full disk gives ENOSPC):
    # neither the truncated report nor the earlier run's report it replaced may remain: the
    # path holds the refusal of that error (exit 74), whole, being smaller than the limit.
    import resource

    html = tmp_path / "report.html"
    html.write_text("<p>ALLOW from an earlier run</p>")

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))

    proc = subprocess.run(
        [*EVALSIG, "gate", "--baseline", str(EXAMPLES / "baseline.json"), "--candidate",
         str(EXAMPLES / "candidate.json"), "--cluster", "passage_id", "--min-delta", "0.005",
         "--html", str(html)], capture_output=True, text=True, preexec_fn=limit, check=False,
        env={**os.environ, "NO_COLOR": "1"})
    assert proc.returncode == 74, proc.stderr
    assert "cannot write: File too large; the partial file was removed" in proc.stderr
    assert proc.stdout == "" and proc.stderr.count("\n") == 1, proc.stderr
    text = html.read_text()
    assert "not gated: error" in text and "exit 74" in text and "E118" in text
    assert "earlier run" not in text and text.rstrip().endswith("</html>")


def test_a_report_that_cannot_be_written_exits_74(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "no-such-dir" / "report.json"
    code = main(["gate", "--baseline", str(EXAMPLES / "baseline.json"), "--candidate",
                 str(EXAMPLES / "candidate.json"), "--min-delta", "0.005", "--json",
                 str(target)], env={})
    assert code == 74
    out = capsys.readouterr()
    assert f"{target}: cannot write" in out.err
    assert "ALLOW" not in out.out  # no verdict on stdout for a pipeline to publish


@pytest.mark.parametrize("encoding", ["ascii", "cp1252"])
def test_markdown_on_stdout_is_utf8_whatever_the_console_encoding(
        seed_dir: Path, encoding: str) -> None:
    # `--output markdown > report.md` with a cp1252/ascii stdout crashed on the heading's ✅
    # with an internal error (exit 70) after the gate had decided.
    exe = shutil.which("evalsig", path=str(Path(sys.executable).parent))
    r = subprocess.run(
        [*([exe] if exe else EVALSIG),
         "gate", "--baseline", "baseline.json", "--candidate", "candidate.json",
         "--metric", "accuracy", "--cluster", "passage_id", "--min-delta", "0.005",
         "--output", "markdown"],
        cwd=seed_dir, capture_output=True, check=False,
        env={**os.environ, "PYTHONIOENCODING": encoding})
    assert r.returncode == 0, r.stderr
    assert "## EVALSIG release gate ✅ ALLOW" in r.stdout.decode("utf-8")
