"""The commands beyond the seed workflow: compare, schema, report files, config defaults,
GitHub outputs, colour and progress, and usage errors (64) for every command."""

from __future__ import annotations

import argparse
import io
import json
import re
from pathlib import Path

import pytest

from evalsig_core.cli import build_parser, main
from evalsig_core.cli._github import format_outputs
from evalsig_core.cli._parser import _subparsers, _subparsers_action
from evalsig_core.cli._tty import Progress, call_with_progress, style_for
from tests.conftest import EXAMPLES, write_runframe

B, C, R = (str(EXAMPLES / n) for n in ("baseline.json", "candidate.json", "regressed.json"))
GATE = ["gate", "--baseline", B, "--candidate", C, "--cluster", "passage_id"]


def _commands() -> list[str]:
    return list(_subparsers(build_parser()))


@pytest.mark.parametrize("command", _commands())
def test_every_command_answers_an_unknown_flag_with_64(
        command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([command, "--no-such-flag"], env={}) == 64
    # One line, prefixed by the command (a plugin such as `evalsig webhook` names itself).
    err = capsys.readouterr().err
    assert re.match(r"evalsig( [a-z-]+)?: error: ", err) and err.count("\n") == 1, err


@pytest.mark.parametrize("args", [
    ["doctor", B],
    ["compare", B],
    ["compare", B, C, "--alpha", "0"],
    ["compare", B, C, "--output", "pdf"],
    ["schema", "--kind", "nope"],
    ["gate", "--baseline", B, "--candidate", C, "--min-delta", "0.01", "--output", "pdf"],
    ["history", "--store", B, "--limit", "-1"],  # listed nothing: "no decisions recorded"
    ["power", "--sd", "0.5", "--n", "0"],  # ZeroDivisionError, exit 70
])
def test_usage_errors_exit_64(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args, env={}) == 64
    assert capsys.readouterr().err.count("\n") == 1


def test_a_missing_config_file_exits_66(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", "/nonexistent/evalsig.toml", "schema"], env={}) == 66
    err = capsys.readouterr().err
    assert "/nonexistent/evalsig.toml: config file not found" in err and err.count("\n") == 1


def test_a_config_path_that_is_a_directory_is_a_usage_error_not_missing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # `--config .` (a directory) said "config file not found" and exited 66 (no input)
    assert main(["--config", str(tmp_path), "schema"], env={}) == 64
    err = capsys.readouterr().err
    assert "is not a file" in err and "not found" not in err and err.count("\n") == 1


def test_compare_reports_without_a_verdict_and_exits_0_even_on_a_regression(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", B, R, "--cluster", "passage_id", "--output", "json"], env={}) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["kind"] == "compare" and "verdict" not in doc
    assert doc["comparison"]["delta"] < 0


def test_compare_refuses_bad_data_with_65(tmp_path: Path) -> None:
    b = write_runframe(tmp_path / "b.json", ["a", "b", "c"], [1, float("nan"), 0])
    c = write_runframe(tmp_path / "c.json", ["a", "b", "c"], [1, 1, 0])
    assert main(["compare", str(b), str(c)], env={}) == 65


def test_compare_missing_file_exits_66(tmp_path: Path) -> None:
    assert main(["compare", str(tmp_path / "nope.json"), C], env={}) == 66


@pytest.mark.parametrize("kind", ["gate", "doctor", "suite", "compare"])
def test_schema_prints_the_json_schema_of_each_report(
        kind: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "--kind", kind], env={}) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["properties"]["kind"]["default"] == kind


def test_gate_writes_every_requested_format(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    paths = {f: tmp_path / f"report.{f}" for f in ("json", "markdown", "html")}
    args = [*GATE, "--min-delta", "0.005", "--output", "html"]
    for f, p in paths.items():
        args += [f"--{f}", str(p)]
    assert main(args, env={}) == 0
    assert capsys.readouterr().out.startswith("<!DOCTYPE html>")
    assert json.loads(paths["json"].read_text())["verdict"] == "ALLOW"
    assert paths["markdown"].read_text().startswith("<!-- evalsig-report")
    assert '<g class="row"' in paths["html"].read_text()


def test_doctor_renders_html_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", B, C, "--output", "html", "--json", str(tmp_path / "d.json")],
                env={}) == 0
    assert "evalsig doctor" in capsys.readouterr().out
    assert json.loads((tmp_path / "d.json").read_text())["kind"] == "doctor"


def test_github_outputs_carry_the_report_paths_even_without_flags(tmp_path: Path) -> None:
    out = tmp_path / "out"
    env = {"GITHUB_OUTPUT": str(out), "RUNNER_TEMP": str(tmp_path)}
    assert main([*GATE, "--min-delta", "0.005"], env=env) == 0
    values = dict(line.split("=", 1) for line in out.read_text().splitlines())
    assert set(values) == {"verdict", "exit_code", "delta", "p_value", "mde", "report_json",
                           "report_md"}
    assert json.loads(Path(values["report_json"]).read_text())["verdict"] == "ALLOW"
    assert Path(values["report_md"]).parent.parent == tmp_path


@pytest.mark.parametrize("runner_temp", ["missing", "a-file"])
def test_a_runner_temp_that_is_no_directory_is_an_io_error(
        runner_temp: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # RUNNER_TEMP missing or a file: "internal error: FileNotFoundError" (exit 70), which
    # the action reads as a crash, with no verdict= line in GITHUB_OUTPUT
    (tmp_path / "a-file").write_text("")
    out = tmp_path / "out"
    env = {"GITHUB_OUTPUT": str(out), "RUNNER_TEMP": str(tmp_path / runner_temp)}
    assert main([*GATE, "--min-delta", "0.005"], env=env) == 74
    err = capsys.readouterr().err
    assert "internal error" not in err and "RUNNER_TEMP" in err and err.count("\n") == 1
    values = dict(line.split("=", 1) for line in out.read_text().splitlines())
    assert values["verdict"] == "ERROR" and values["exit_code"] == "74"


def test_github_outputs_on_an_error_say_error_not_a_verdict(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code = main(["gate", "--baseline", str(tmp_path / "x.json"), "--candidate", C,
                 "--min-delta", "0"], env={"GITHUB_OUTPUT": str(out)})
    assert code == 66
    values = dict(line.split("=", 1) for line in out.read_text().splitlines())
    assert values["verdict"] == "ERROR" and values["exit_code"] == "66"


def test_multiline_output_values_use_the_heredoc_form() -> None:
    text = format_outputs({"one": "a", "many": "x\ny"})
    lines = text.splitlines()
    assert lines[0] == "one=a"
    delim = lines[1].split("<<", 1)[1]
    assert lines[1:] == [f"many<<{delim}", "x", "y", delim]


def test_config_file_supplies_defaults_and_flags_win(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text(
        '[tool.evalsig]\ncluster = "passage_id"\nmin-delta = 0.005\nmode = "non-inferiority"\n'
        'output = "json"\n')
    assert main(["gate", "--baseline", B, "--candidate", C], env={}) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["cluster"], doc["min_delta"], doc["mode"]) == ("passage_id", 0.005,
                                                               "non-inferiority")
    assert main(["gate", "--baseline", B, "--candidate", C, "--mode", "superiority",
                 "--min-delta", "0.5"], env={}) == 1
    assert json.loads(capsys.readouterr().out)["mode"] == "superiority"


def test_evalsig_toml_wins_over_pyproject_and_no_config_ignores_both(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text("[tool.evalsig]\nmin_delta = 0.005\n")
    (tmp_path / "evalsig.toml").write_text("min_delta = 0.5\n")
    assert main(["gate", "--baseline", B, "--candidate", C, "--output", "json"], env={}) == 1
    assert main(["--no-config", "gate", "--baseline", B, "--candidate", C], env={}) == 64


@pytest.mark.parametrize("text", ["bogus = 1\n", 'alpha = "high"\n', 'output = "pdf"\n',
                                  "min_delta = \n",
                                  # out of range: the Policy's message came without the file
                                  "alpha = 2\n", "seed = -1\n", "resamples = 5\n"])
def test_a_bad_config_is_a_usage_error_naming_the_file(
        text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "evalsig.toml"
    cfg.write_text(text)
    assert main(["--config", str(cfg), "schema"], env={}) == 64
    assert str(cfg) in capsys.readouterr().err


@pytest.mark.parametrize("text", ["min-delta = true\n", "seed = false\n", "alpha = true\n"])
def test_a_boolean_config_value_is_a_usage_error_not_the_number_1(
        text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # pydantic's lax mode read `min-delta = true` as a margin of 1.0: the gate answered
    # REJECT ("delta +0.0208 < min_delta 1.0000") instead of naming the typo.
    cfg = tmp_path / "evalsig.toml"
    cfg.write_text(text)
    argv = ["--config", str(cfg), "gate", "--baseline", B, "--candidate", C]
    assert main(argv + ([] if "min-delta" in text else ["--min-delta", "0.005"]), env={}) == 64
    err = capsys.readouterr().err
    assert str(cfg) in err and "is a boolean" in err


@pytest.mark.parametrize("name", ["evalsig.toml", "suite.toml"])
def test_a_toml_file_with_a_byte_order_mark_is_read(name: str, tmp_path: Path) -> None:
    # tomllib refuses U+FEFF: "invalid TOML: Invalid statement (at line 1, column 1)", with
    # nothing visible at that place in an editor (Windows editors write the mark)
    p = tmp_path / name
    body = ("min_delta = 0.005\n" if name == "evalsig.toml" else
            f'[[entry]]\nbaseline = "{B}"\ncandidate = "{C}"\nmin_delta = 0.005\n')
    p.write_bytes(b"\xef\xbb\xbf" + body.encode())
    argv = (["--config", str(p), "gate", "--baseline", B, "--candidate", C]
            if name == "evalsig.toml" else ["suite", str(p)])
    assert main(argv, env={}) == 0


class _Tty(io.StringIO):
    encoding = "utf-8"

    def isatty(self) -> bool:
        return True


def test_colour_only_on_a_terminal_and_never_with_no_color() -> None:
    assert style_for(_Tty(), {}).color
    assert not style_for(_Tty(), {"NO_COLOR": "1"}).color
    assert not style_for(io.StringIO(), {}).color
    assert style_for(_Tty(), {"NO_COLOR": ""}).color  # no-color.org: empty means unset


def test_ascii_drawing_under_the_c_locale_whatever_python_reports() -> None:
    # LC_ALL=C: Python's UTF-8 mode gives stdout encoding utf-8, the terminal is ASCII
    assert style_for(_Tty(), {}).unicode
    assert style_for(_Tty(), {"LANG": "en_US.UTF-8"}).unicode
    for env in ({"LC_ALL": "C"}, {"LC_ALL": "POSIX"}, {"LC_CTYPE": "C"}, {"LANG": "C"}):
        assert not style_for(_Tty(), env).unicode, env
    assert style_for(_Tty(), {"LC_ALL": "C.UTF-8", "LANG": "C"}).unicode  # LC_ALL wins


def test_progress_draws_on_a_terminal_and_is_silent_otherwise() -> None:
    tty, pipe = _Tty(), io.StringIO()
    for stream in (tty, pipe):
        with Progress(stream, clock=iter(range(100)).__next__).stage("reading x") as update:
            update(5, 10)
            update(10, 10)
    assert "reading x" in tty.getvalue() and " 50%" in tty.getvalue()
    assert tty.getvalue().endswith("\r\x1b[K")
    assert pipe.getvalue() == ""


def test_progress_is_passed_only_to_functions_that_accept_it() -> None:
    seen: list[object] = []

    def with_cb(x: int, *, progress: object) -> int:
        seen.append(progress)
        return x

    def without(x: int) -> int:
        return x

    cb = Progress(io.StringIO()).stage  # any object stands in for the callback
    assert call_with_progress(with_cb, 1, progress=cb) == 1 and seen == [cb]  # type: ignore[arg-type]
    assert call_with_progress(without, 2, progress=cb) == 2  # type: ignore[arg-type]


def test_tty_output_to_a_pipe_has_no_escape_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*GATE, "--min-delta", "0.005"], env={}) == 0
    out = capsys.readouterr().out
    assert "\x1b[" not in out and "ALLOW" in out


def test_suite_reports_publish_to_github_with_the_same_helper(tmp_path: Path) -> None:
    import argparse

    from evalsig_core.cli._commands import github_publish
    from evalsig_core.render import render_suite
    from tests.core.render.cases import suite_report

    out, summary = tmp_path / "out", tmp_path / "summary"
    env = {"GITHUB_OUTPUT": str(out), "GITHUB_STEP_SUMMARY": str(summary),
           "RUNNER_TEMP": str(tmp_path)}
    github_publish(suite_report(), env, argparse.Namespace(), render_suite)
    values = dict(line.split("=", 1) for line in out.read_text().splitlines())
    assert values["verdict"] == "REJECT" and values["exit_code"] == "1"
    assert json.loads(Path(values["report_json"]).read_text())["kind"] == "suite"
    assert "## EVALSIG suite gate ❌ REJECT" in summary.read_text()


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    from evalsig_core import __version__

    with pytest.raises(SystemExit) as exc:
        main(["--version"], env={})
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"evalsig {__version__}"


def test_a_default_only_applies_to_the_command_being_run() -> None:
    from evalsig_core.cli._args import apply_defaults
    from evalsig_core.config import Defaults
    from evalsig_core.errors import UsageError

    def parser() -> argparse.ArgumentParser:
        p = build_parser()
        other = _subparsers_action(p).add_parser("other")
        other.add_argument("--output", default="table", choices=["table", "json"])
        return p

    p = parser()
    apply_defaults(p, Defaults(output="markdown"), "doctor")
    subs = _subparsers(p)
    assert subs["doctor"].get_default("output") == "markdown"
    assert subs["other"].get_default("output") == "table"
    with pytest.raises(UsageError, match="other"):
        apply_defaults(parser(), Defaults(output="markdown"), "other")
