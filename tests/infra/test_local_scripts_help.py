"""infra/local/stack.py and s3.py: every argument says in `--help` what it is, with its
default (the module docstrings listed them; the options themselves had no help)."""

from __future__ import annotations

import argparse

import pytest

from evalsig_core.cli import UsageParser
from tests.conftest import load_script


class _Built(Exception):
    def __init__(self, parser: argparse.ArgumentParser) -> None:
        self.parser = parser


def _parser(relpath: str, monkeypatch: pytest.MonkeyPatch) -> argparse.ArgumentParser:
    """The parser `main` builds, caught where it would parse (nothing is started)."""
    def caught(self: UsageParser, *a: object, **k: object) -> argparse.Namespace:
        raise _Built(self)

    monkeypatch.setattr(UsageParser, "parse_args_or_exit", caught)
    with pytest.raises(_Built) as built:
        load_script(relpath).main([])
    return built.value.parser


def _arguments(ap: argparse.ArgumentParser) -> list[tuple[str, argparse.Action]]:
    out = []
    for action in ap._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out += [(f"{name} {n}", a) for n, a in _arguments(sub)]
        elif not isinstance(action, argparse._HelpAction):
            out.append((action.option_strings[0] if action.option_strings else action.dest,
                        action))
    return out


@pytest.mark.parametrize("relpath", ["infra/local/stack.py", "infra/local/s3.py"])
def test_every_argument_has_help_and_shows_its_default(
        relpath: str, monkeypatch: pytest.MonkeyPatch) -> None:
    args = _arguments(_parser(relpath, monkeypatch))
    assert args
    for name, action in args:
        assert action.help, f"{relpath}: {name} has no help"
        if action.default is not None and action.option_strings:
            assert "%(default)s" in action.help, f"{relpath}: {name} hides its default"


def test_the_help_renders_defaults(monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    ap = _parser("infra/local/stack.py", monkeypatch)
    text = ap.format_help()
    assert "(default: 4200)" in text and "(default: 180.0)" in text
