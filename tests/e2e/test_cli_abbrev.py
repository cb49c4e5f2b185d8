"""Long options are spelled out in full: an abbreviation (`--min` for `--min-delta`) is a usage
error (64), because a flag added later would make it ambiguous (64 on upgrade) or change what
it means, silently."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from evalsig_core.cli import build_parser, main
from tests.conftest import EXAMPLES

_RUNS = ["--baseline", str(EXAMPLES / "baseline.json"),
         "--candidate", str(EXAMPLES / "candidate.json")]


def _parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    out = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sp in action.choices.values():
                out += _parsers(sp)
    return out


def test_no_parser_of_the_cli_accepts_abbreviations() -> None:
    parsers = _parsers(build_parser())
    assert len(parsers) > 8  # the top level, every command and `audit verify`
    assert [p.prog for p in parsers if p.allow_abbrev] == []


@pytest.mark.parametrize(("argv", "unknown", "meant"), [
    (["gate", *_RUNS, "--min", "0.01"], "--min", "--min-delta"),  # a required flag missing
    (["gate", *_RUNS, "--min-delta", "0.01", "--res", "999"], "--res", "--resamples"),
    (["--no-config", "power", "--sd", "0.5", "--n", "100", "--pow", "0.9"], "--pow", "--power"),
    (["audit", "verify", "--sto", "file:///tmp/x"], "--sto", "--store"),
    (["--no-conf", "gate"], "--no-conf", "--no-config"),  # before gate's missing flags
])
def test_an_abbreviated_option_is_a_usage_error_naming_it(
        argv: list[str], unknown: str, meant: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)  # no project config
    assert main(argv, {}) == 64
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert re.search(rf"unrecognized option {re.escape(unknown)}\b", err), err
    assert f"did you mean {meant}" in err, err


def test_a_word_that_starts_no_option_is_named_without_a_guess(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["gate", *_RUNS, "--min-delta", "0", "--bogus"], {}) == 64
    err = capsys.readouterr().err
    assert "unrecognized option --bogus" in err and "did you mean" not in err


@pytest.mark.parametrize("line", [
    # README quickstart and DESIGN.md (the seed workflow, verbatim)
    "gate --baseline B --candidate C --metric accuracy --cluster passage_id --min-delta "
    "0.005 --alpha 0.05 --power 0.80 --json report.json --output markdown",
    "gate --baseline B --candidate C --filter f --format auto --allow-failed-run --min-delta 0 "
    "--mode non-inferiority --method auto --resamples 999 --seed 1 --markdown m --html h",
    "doctor B C --metric accuracy --cluster passage_id --output json --json d.json",
    "compare B C --metric accuracy --cluster passage_id --alpha 0.05 --method paired_t",
    "schema --kind suite",
    "power --sd 0.5 --n 1000 --delta 0.01 --icc 0.1 --cluster-size 10 --cv 0.2 --alpha 0.05 "
    "--power 0.8 --output json",
    "suite s.toml --correction bh --output json --json s.json --markdown s.md --html s.html",
    "watch --baseline B --candidate C --min-delta 0.005 --mode superiority --seed 0",
    "--no-config history --store file:///tmp/s --limit 5 --output json",
    "--config evalsig.toml audit verify --store file:///tmp/s",
])
def test_every_documented_option_still_parses(line: str) -> None:
    args = build_parser().parse_args(line.split())
    assert args.handler is not None
