"""`evalsig webhook serve` reaches the receiver through the `evalsig.commands` entry point."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from evalsig_core.cli import main


def test_evalsig_webhook_serve_without_a_secret_exits_64_with_one_line() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVALSIG_WEBHOOK_")}
    out = subprocess.run([sys.executable, "-m", "evalsig_core.cli", "webhook", "serve"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 64
    assert out.stderr.count("\n") == 1 and "EVALSIG_WEBHOOK_SECRET" in out.stderr


def test_a_bad_flag_of_the_plugin_is_a_usage_error_never_exit_2() -> None:
    assert main(["webhook", "serve", "--no-such-flag"], env={}) == 64


def test_building_the_cli_parser_does_not_import_the_plugin() -> None:
    code = ("import sys; from evalsig_core.cli._args import build_parser; build_parser();"
            "print('evalsig_flows.webhook' in sys.modules, 'starlette' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.split() == ["False", "False"]


def test_an_abbreviated_flag_of_the_plugin_is_a_usage_error(
        capsys: pytest.CaptureFixture[str]) -> None:
    # as for evalsig's own commands: `--po 9000` must not silently mean --port
    assert main(["webhook", "serve", "--po", "9000"], env={}) == 64
    assert "--po" in capsys.readouterr().err


@pytest.mark.parametrize(("argv", "prog"), [
    ([sys.executable, "-m", "evalsig_flows.webhook"], "python -m evalsig_flows.webhook"),
    ([sys.executable, "-m", "evalsig_core.cli", "webhook"], "evalsig webhook"),
])
def test_each_entry_point_names_itself_in_usage_and_errors(argv: list[str], prog: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVALSIG_WEBHOOK_")}
    out = subprocess.run([*argv, "serve", "--help"], capture_output=True, text=True,
                         env=env, timeout=120)
    assert out.returncode == 0 and out.stdout.startswith(f"usage: {prog} serve")
    err = subprocess.run([*argv, "serve"], capture_output=True, text=True, env=env,
                         timeout=120).stderr
    assert err.startswith(f"{prog}: error: ")
