"""One parser rule for every evalsig command line: `evalsig_core.cli.UsageParser`.

The `evalsig` CLI, `evalsig webhook`, deployments/serve.py, infra/local/{stack,s3}.py and
`python -m evalsig_flows.demo` refuse abbreviated options, name the option meant, and exit 64
(never argparse's 2, which a CI gate reads as INCONCLUSIVE).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from evalsig_core import UsageError
from evalsig_core.cli import UsageParser, build_parser

REPO = Path(__file__).resolve().parents[2]


def _script(relpath: str) -> ModuleType:
    name = "evalsig_script_" + relpath.replace("/", "_").removesuffix(".py")
    spec = importlib.util.spec_from_file_location(name, REPO / relpath)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def _demo(argv: list[str]) -> Any:
    from evalsig_flows.demo import main

    return main(argv)


def _webhook(argv: list[str]) -> Any:
    from evalsig_flows.webhook import main

    return main(argv, env={})


SCRIPTS: list[tuple[str, Callable[[list[str]], Any], list[str], str, str]] = [
    ("serve", lambda a: _script("deployments/serve.py").main(a), ["--sto", "x"], "--sto",
     "--store"),
    ("stack", lambda a: _script("infra/local/stack.py").main(a), ["status", "--prefect", "1"],
     "--prefect", "--prefect-port"),
    ("s3", lambda a: _script("infra/local/s3.py").main(a), ["start", "--po", "1"], "--po",
     "--port"),
    ("demo", _demo, ["--base", "b.json"], "--base", "--baseline"),
    ("webhook", _webhook, ["serve", "--po", "9000"], "--po", "--port"),
]


@pytest.mark.parametrize(("name", "main", "argv", "unknown", "meant"), SCRIPTS,
                         ids=[s[0] for s in SCRIPTS])
def test_every_script_refuses_an_abbreviation_with_exit_64_naming_the_option(
        name: str, main: Callable[[list[str]], Any], argv: list[str], unknown: str,
        meant: str, capsys: pytest.CaptureFixture[str]) -> None:
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    assert code == 64
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert f"unrecognized option {unknown}: did you mean {meant}?" in err, err


def test_a_bad_value_in_a_script_is_64_too(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        _script("infra/local/s3.py").main(["stop", "not-a-pid"])
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
