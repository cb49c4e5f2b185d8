"""`evalsig power`, `history` and `audit verify` flags that used to crash (70) or print a
misleading answer."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from evalsig_core.cli import main
from tests.conftest import EXAMPLES, SHARED_FIXTURES


@pytest.mark.parametrize(("args", "message"), [
    # delta^2 underflowed to 0: "internal error: ZeroDivisionError" (70)
    (["--sd", "0.5", "--delta", "1e-300"], "required N is not a finite number"),
    # (z sd / delta)^2 overflowed to inf: math.ceil(inf) raised OverflowError (70)
    (["--sd", "1e300", "--delta", "1e-10"], "required N is not a finite number"),
    # a negative CV was squared into a design effect as if it were positive
    (["--sd", "0.5", "--n", "100", "--icc", "0.5", "--cluster-size", "10", "--cv", "-1"],
     "--cv must be >= 0"),
    # a mean cluster size below one item made the design effect < 1 (a smaller MDE)
    (["--sd", "0.5", "--n", "100", "--icc", "0.5", "--cluster-size", "0.5"],
     "--cluster-size must be >= 1"),
    # power below alpha printed "minimum detectable effect ...: -0.0421"
    (["--sd", "0.5", "--n", "100", "--alpha", "0.5", "--power", "0.2"],
     "must exceed --alpha"),
])
def test_power_refuses_flags_it_cannot_plan_with(args: list[str], message: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["power", *args], {}) == 64
    err = capsys.readouterr().err
    assert message in err and "internal error" not in err


def test_gate_refuses_power_at_or_below_alpha_before_reading(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gate", "--baseline", "missing-b.json", "--candidate", "missing-c.json",
                 "--min-delta", "0.01", "--power", "0.01"], {}) == 64
    assert "must exceed alpha" in capsys.readouterr().err


@pytest.mark.parametrize("command", [["history"], ["audit", "verify"]])
def test_an_empty_or_file_store_is_a_usage_error(command: list[str],
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    # `--store ""` read the working directory and said "audit chain OK: 0 records"; a file
    # was "store directory not found" (66) although it exists.
    assert main([*command, "--store", ""], {}) == 64
    assert "--store is empty" in capsys.readouterr().err
    f = __file__
    assert main([*command, "--store", f], {}) == 64
    assert "is a file, a store is a directory" in capsys.readouterr().err


@pytest.mark.parametrize("flag", [["--output", "json"], ["--output=json"]])
def test_a_flag_on_the_command_line_wins_over_a_config_value_its_command_cannot_take(
        flag: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # `output = "html"` (for gate) made `evalsig watch --output json` a usage error (64):
    # the config's value was checked against watch's choices although the flag overrode it.
    # (watch renders html now; history still prints tty or json only.)
    (tmp_path / "evalsig.toml").write_text('output = "html"\n')
    (tmp_path / "store").mkdir()
    monkeypatch.chdir(tmp_path)
    args = ["history", "--store", str(tmp_path / "store"), *flag]
    assert main(args, {}) == 0
    json.loads(capsys.readouterr().out)
    # without the flag the config's value still cannot apply to history: a usage error
    assert main(args[: -len(flag)], {}) == 64
    assert "output = 'html' is not valid for `evalsig history`" in capsys.readouterr().err


def test_a_config_output_applies_to_watch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "evalsig.toml").write_text('output = "html"\n')
    monkeypatch.chdir(tmp_path)
    assert main(["watch", "--baseline", str(EXAMPLES / "baseline.json"), "--candidate",
                 str(EXAMPLES / "candidate.json"), "--min-delta", "0"], {}) in (0, 1, 2)
    assert capsys.readouterr().out.startswith("<!DOCTYPE html>")


@pytest.mark.parametrize("command", ["gate", "doctor", "compare", "watch", "power"])
@pytest.mark.parametrize("flag", ["--cluster", "--metric", "--filter"])
def test_an_empty_metric_cluster_or_filter_is_a_usage_error(
        command: str, flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    # `--cluster ""` (an unset shell variable) gated with a cluster key named '' and
    # `--metric ""` silently read the file's own metric.
    b, c = str(EXAMPLES / "baseline.json"), str(EXAMPLES / "candidate.json")
    runs = [b, c] if command in ("doctor", "compare") else ["--baseline", b, "--candidate", c]
    extra = {"gate": ["--min-delta", "0"], "watch": ["--min-delta", "0"],
             "power": ["--n", "100"]}.get(command, [])
    assert main([command, *runs, *extra, flag, ""], {}) == 64
    assert "expected a name, got an empty string" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["gate", "doctor", "compare"])
def test_a_report_path_that_is_an_input_is_refused_before_it_is_overwritten(
        command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # `--json candidate.json` replaced the candidate run with the gate report (exit 0): the
    # run was lost and the next doctor said E101.
    b, c = tmp_path / "baseline.json", tmp_path / "candidate.json"
    b.write_bytes((EXAMPLES / "baseline.json").read_bytes())
    c.write_bytes((EXAMPLES / "candidate.json").read_bytes())
    before = c.read_bytes()
    runs = [str(b), str(c)] if command != "gate" else ["--baseline", str(b), "--candidate",
                                                        str(c), "--min-delta", "0"]
    assert main([command, *runs, "--json", str(tmp_path / "." / "candidate.json")], {}) == 64
    assert "is the candidate: the report would overwrite it" in capsys.readouterr().err
    assert c.read_bytes() == before
    out = str(tmp_path / "report.out")
    assert main([command, *runs, "--json", out, "--markdown", out], {}) == 64
    assert "both write" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["gate", "doctor", "compare", "watch"])
@pytest.mark.parametrize("path", ["", " ", "-"])
def test_an_empty_or_dash_report_path_is_a_usage_error(
        command: str, path: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # `--json ""` (an unset variable) exited with the verdict and wrote no report, without a
    # word; `--json -` wrote the report to a file named "-" in the working directory.
    monkeypatch.chdir(tmp_path)
    b, c = str(EXAMPLES / "baseline.json"), str(EXAMPLES / "candidate.json")
    runs = [b, c] if command in ("doctor", "compare") else ["--baseline", b, "--candidate", c,
                                                            "--min-delta", "0"]
    assert main([command, *runs, "--json", path], {}) == 64
    err = capsys.readouterr().err
    assert "is not a file path" in err and "--output json" in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("harness", "victim"), [
    ("helm-0.5.16", "candidate/per_instance_stats.json"),
    ("helm-0.5.16", "candidate/scenario_state.json"),
    ("lm-eval-0.4.13", "candidate/results_2026-11-29T17-05-48.800881.json")])
def test_a_report_path_that_a_run_reads_beside_it_is_refused(
        harness: str, victim: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # --candidate helm_run --json helm_run/per_instance_stats.json replaced the run's scores
    # with the gate report (exit 0): the path was compared with the directory only
    shutil.copytree(SHARED_FIXTURES / harness, tmp_path / "h")
    runs = {"helm-0.5.16": ["h/baseline", "h/candidate"],
            "lm-eval-0.4.13": ["h/baseline/samples_passage_mc_2026-11-29T17-05-40.616948.jsonl",
                               "h/candidate/samples_passage_mc_2026-11-29T17-05-48.800881.jsonl"]}
    b, c = (str(tmp_path / r) for r in runs[harness])
    target = tmp_path / "h" / victim
    before = target.read_bytes()
    metric = "exact_match" if harness.startswith("helm") else "acc"
    argv = ["gate", "--baseline", b, "--candidate", c, "--metric", metric, "--cluster",
            "passage_id", "--min-delta", "0", "--json", str(target)]
    assert main(argv, {}) == 64
    assert f"the {target.name} the candidate run reads" in capsys.readouterr().err
    assert target.read_bytes() == before
    assert main([*argv[:-1], str(target.parent / "report.json")], {}) in (0, 1, 2)  # beside


def test_a_flag_that_abbreviates_no_config_does_not_switch_the_config_off(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # The pre-parser that finds --config/--no-config took `power --n 100` for `--no-config`
    # (argparse abbreviations): the project's config was silently ignored.
    (tmp_path / "evalsig.toml").write_text("alpha = 0.01\n")
    monkeypatch.chdir(tmp_path)
    assert main(["power", "--sd", "0.5", "--n", "100", "--output", "json"], {}) == 0
    assert json.loads(capsys.readouterr().out)["alpha"] == 0.01


@pytest.mark.parametrize("command", [
    ["compare", "missing-b.json", "missing-c.json"],
    ["watch", "--baseline", "missing-b.json", "--candidate", "missing-c.json",
     "--min-delta", "0"],
])
def test_an_alpha_above_the_fixed_power_names_alpha_for_commands_without_power(
        command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    # compare and watch have no --power: "power (0.8) must exceed alpha (0.85)" named a flag
    # the user could not pass (and it is checked before the files are read: 64, not 66)
    assert main(["--no-config", *command, "--alpha", "0.85"], {}) == 64
    err = capsys.readouterr().err
    assert f"--alpha 0.85 is too large for `evalsig {command[0]}`" in err
    assert "must be below 0.8" in err and "--power" not in err and "must exceed" not in err


@pytest.mark.parametrize("flags", [
    ["--no-config", "--config", "x.toml"],
    ["--config=x.toml", "--no-config"],
])
@pytest.mark.parametrize("command", [
    ["gate", "--baseline", "b.json", "--candidate", "c.json", "--min-delta", "0"],
    ["compare", "b.json", "c.json"],
    ["doctor", "b.json", "c.json"],
    ["power", "--sd", "0.5", "--n", "100"],
    ["suite", "suite.toml"],
    ["watch", "--baseline", "b.json", "--candidate", "c.json", "--min-delta", "0"],
    ["history", "--store", "file:///tmp/s"],
])
def test_config_and_no_config_together_are_a_usage_error(
        flags: list[str], command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # `--no-config --config x.toml` silently ignored x.toml (and gated without its defaults)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.toml").write_text("min_delta = 0.5\n")
    assert main([*flags, *command], {}) == 64
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "--config" in err and "--no-config" in err and "fix:" in err
