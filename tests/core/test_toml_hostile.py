"""Hostile suite and config TOML files: one usage line (exit 64) naming the file, never an
internal error. Found by fuzzing the CLI's inputs (tests/e2e/test_cli_fuzz.py)."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from evalsig_core import UsageError
from evalsig_core.config import find_config, load_config
from evalsig_core.errors import InputReadError
from evalsig_core.suite_file import read_suite_spec

_DEEP = "a = " + "[" * 2000 + "]" * 2000 + "\n"  # tomllib recurses once per level


@pytest.mark.parametrize("entries", ["entry = [1]", 'entry = ["runs/b.json"]',
                                     "entries = [[]]", 'entry = [{min_delta = 0.1}, "x"]'])
def test_a_suite_entry_that_is_not_a_table_is_named(tmp_path: Path, entries: str) -> None:
    """`entry = [1]` was "internal error: TypeError: 'int' object is not a mapping" (70)."""
    path = tmp_path / "suite.toml"
    path.write_text(entries + "\n")
    with pytest.raises(UsageError, match=r"entry \d is (a|an) \w+, not a table") as info:
        read_suite_spec(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize(("name", "read"), [("suite.toml", read_suite_spec),
                                           ("evalsig.toml", load_config)])
def test_a_toml_file_nested_thousands_deep_is_a_usage_error(
        tmp_path: Path, name: str, read: Callable[[Path], object]) -> None:
    """tomllib's RecursionError was an internal error (70), in a suite and a config file."""
    path = tmp_path / name
    path.write_text(_DEEP)
    with pytest.raises(UsageError, match="nested too deeply") as info:
        read(path)
    assert str(path) in str(info.value)


def test_an_unreadable_suite_file_is_an_io_error(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A suite file that exists but cannot be read (CI runs as root: the fault is injected)
    was an internal error (70); it is the 74 of any input the system cannot hand over."""
    path = tmp_path / "suite.toml"
    path.write_text("[[entry]]\n")

    def deny(self: Path, *args: object, **kw: object) -> str:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))

    monkeypatch.setattr(Path, "read_text", deny)
    with pytest.raises(InputReadError, match="Permission denied") as info:
        read_suite_spec(path)
    assert str(path) in str(info.value) and int(info.value.exit_code) == 74


@pytest.mark.parametrize("tool", ["tool = 3", 'tool = "evalsig"', "tool = [1]"])
def test_a_pyproject_whose_tool_is_not_a_table_holds_no_config(tmp_path: Path,
                                                               tool: str) -> None:
    """Any pyproject.toml above the working directory is looked at: `tool = 3` there made
    every evalsig command "internal error: AttributeError" (70)."""
    (tmp_path / "pyproject.toml").write_text(tool + "\n")
    assert find_config(tmp_path) is None
