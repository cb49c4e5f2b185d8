"""One parser rule for every evalsig command line: `evalsig_core.cli.UsageParser`.

The `evalsig` CLI, `evalsig webhook`, deployments/serve.py, infra/local/{stack,s3}.py and
`python -m evalsig_flows.demo` refuse abbreviated options, name the option meant, and exit 64
(never argparse's 2, which a CI gate reads as INCONCLUSIVE).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from evalsig_core import UsageError
from evalsig_core.cli import UsageParser, build_parser
from tests.conftest import load_script

REPO = Path(__file__).resolve().parents[2]


def _demo(argv: list[str]) -> Any:
    from evalsig_flows.demo import main

    return main(argv)


def _webhook(argv: list[str]) -> Any:
    from evalsig_flows.webhook import main

    return main(argv, env={})


SCRIPTS: list[tuple[str, Callable[[list[str]], Any], list[str], str, str]] = [
    ("serve", lambda a: load_script("deployments/serve.py").main(a), ["--sto", "x"], "--sto",
     "--store"),
    ("stack", lambda a: load_script("infra/local/stack.py").main(a), ["status", "--prefect", "1"],
     "--prefect", "--prefect-port"),
    ("s3", lambda a: load_script("infra/local/s3.py").main(a), ["start", "--po", "1"], "--po",
     "--port"),
    ("demo", _demo, ["--base", "b.json"], "--base", "--baseline"),
    ("webhook", _webhook, ["serve", "--po", "9000"], "--po", "--port"),
]


def _exit_code(main: Callable[[list[str]], Any], argv: list[str]) -> Any:
    """A script's exit code, whether its main returns it or exits with it."""
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


@pytest.mark.parametrize(("name", "main", "argv", "unknown", "meant"), SCRIPTS,
                         ids=[s[0] for s in SCRIPTS])
def test_every_script_refuses_an_abbreviation_with_exit_64_naming_the_option(
        name: str, main: Callable[[list[str]], Any], argv: list[str], unknown: str,
        meant: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert _exit_code(main, argv) == 64
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert f"unrecognized option {unknown}: did you mean {meant}?" in err, err


def test_a_bad_value_in_a_script_is_64_too(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        load_script("infra/local/s3.py").main(["stop", "not-a-pid"])
    assert exc.value.code == 64
    assert "invalid int value" in capsys.readouterr().err


def test_sub_commands_inherit_the_rule() -> None:
    ap = UsageParser(prog="tool")
    sub = ap.add_subparsers(dest="cmd", required=True)
    start = sub.add_parser("start")
    start.add_argument("--port", type=int)
    assert isinstance(start, UsageParser) and not start.allow_abbrev
    with pytest.raises(UsageError, match="did you mean --port"):
        ap.parse_args(["start", "--po", "1"])
    # stray words are named in the sub-command they were given to, whatever its dest
    with pytest.raises(UsageError, match=r"unrecognized arguments: extra \(see `tool start"):
        ap.parse_args(["start", "extra"])


def test_the_evalsig_cli_is_built_from_it() -> None:
    assert isinstance(build_parser(), UsageParser)


# --- an option that holds one value is given once -------------------------------------------
# argparse let the last of two values win silently: `--alpha 0.05 ... --alpha 0.5` (a line
# appended in CI, a copied flag) gated at 0.5 while the reader of the CI file saw 0.05.

B = str(REPO / "deployments" / "examples" / "baseline.json")
C = str(REPO / "deployments" / "examples" / "candidate.json")


@pytest.mark.parametrize(("argv", "message"), [
    (["gate", "--baseline", B, "--candidate", C, "--min-delta", "0.005", "--alpha", "0.05",
      "--alpha", "0.5"], "--alpha given twice (0.05, then 0.5): give it once"),
    (["gate", "--baseline", B, "--candidate", C, "--min-delta", "0.005", "--min-delta=0"],
     "--min-delta given twice (0.005, then 0): give it once"),
    (["gate", "--baseline", B, "--candidate", C, "--candidate", B, "--min-delta", "-0.01"],
     f"--candidate given twice ({C}, then {B}): give it once"),
    (["compare", B, C, "--seed", "1", "--seed", "2", "--seed", "3"],
     "--seed given 3 times (1, 2, then 3): give it once"),
    # top level, before either config file is read (66 for the missing one, before)
    (["--config", "/nonexistent/a.toml", "--config", "/nonexistent/b.toml", "schema"],
     "--config given twice (/nonexistent/a.toml, then /nonexistent/b.toml): give it once"),
])
def test_a_one_value_option_given_twice_is_a_usage_error_naming_both_values(
        argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    from evalsig_core.cli import main

    assert main(argv, env={}) == 64
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err


def test_a_config_value_and_its_flag_are_not_a_repeat(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from evalsig_core.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "evalsig.toml").write_text('alpha = 0.2\noutput = "json"\n')
    assert main(["compare", B, C, "--alpha", "0.1"], env={}) == 0
    assert json.loads(capsys.readouterr().out)["alpha"] == 0.1


# Were the rule lost, none of these starts anything: serve has no PREFECT_API_URL, s3 and the
# demo fail making a directory under /dev/null, stack only reports its status.
REPEATS: list[tuple[str, Callable[[list[str]], Any], list[str], str]] = [
    ("serve", lambda a: load_script("deployments/serve.py").main(a),
     ["--store", "s3://a", "--store", "s3://b"], "--store given twice (s3://a, then s3://b)"),
    ("stack", lambda a: load_script("infra/local/stack.py").main(a),
     ["status", "--prefect-port", "1", "--prefect-port", "2"],
     "--prefect-port given twice (1, then 2)"),
    ("s3", lambda a: load_script("infra/local/s3.py").main(a),
     ["start", "--dir", "/dev/null/a", "--port", "1", "--port=2"],
     "--port given twice (1, then 2)"),
    ("demo", _demo, ["--workdir", "/dev/null/a", "--workdir", "/dev/null/b"],
     "--workdir given twice (/dev/null/a, then /dev/null/b)"),
    ("webhook", _webhook, ["serve", "--port", "9000", "--port", "9001"],
     "--port given twice (9000, then 9001)"),
]


@pytest.mark.parametrize(("name", "main", "argv", "message"), REPEATS,
                         ids=[s[0] for s in REPEATS])
def test_every_script_refuses_a_repeated_option_with_exit_64(
        name: str, main: Callable[[list[str]], Any], argv: list[str], message: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    assert _exit_code(main, argv) == 64
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err


def _repeat_parser() -> UsageParser:
    ap = UsageParser(prog="tool")
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("-v", "--verbose", action="count", default=0)
    ap.add_argument("-n", "--dry-run", action="store_true")
    ap.add_argument("--color", action=argparse.BooleanOptionalAction)
    ap.add_argument("--name")
    ap.add_argument("pos", nargs="?")
    return ap


def test_options_meant_to_repeat_still_repeat() -> None:
    ns = _repeat_parser().parse_args(["--set", "a=1", "--set", "b=2", "-v", "--verbose"])
    assert (ns.set, ns.verbose) == (["a=1", "b=2"], 2)


@pytest.mark.parametrize("argv", [["--dry-run", "--dry-run"], ["-n", "--dry-run"]])
def test_a_flag_repeated_is_allowed_as_it_cannot_disagree(argv: list[str]) -> None:
    assert _repeat_parser().parse_args(argv).dry_run is True


def test_a_flag_and_its_negation_are_refused() -> None:
    with pytest.raises(UsageError, match=r"--color and --no-color set the same option "
                       r"\(--color, then --no-color\): give one of them"):
        _repeat_parser().parse_args(["--color", "--no-color"])


@pytest.mark.parametrize("argv", [
    ["--name", "x", "--", "--name"],  # after --, words are values
    ["--name", "-0.5", "-1"],         # negative numbers are values, not options
    ["--name=--name"],                # a value spelled like the option
])
def test_values_that_look_like_the_option_are_not_repeats(argv: list[str]) -> None:
    _repeat_parser().parse_args(argv)
