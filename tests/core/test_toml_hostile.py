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


# ---- every value of a suite entry and of a config file: strings and finite numbers --------

_ENTRY = 'baseline = "b.json"\ncandidate = "c.json"\nmin_delta = 0.01\n'
_ENTRY_STRINGS = ["name", "task", "metric", "baseline", "candidate", "output", "cluster",
                  "filter", "format", "mode", "method"]
_ENTRY_NUMBERS = ["timeout", "min_delta", "alpha", "power"]
_ENTRY_WHOLE = ["resamples", "seed"]


def _suite(tmp_path: Path, entry: str, head: str = "") -> Path:
    path = tmp_path / "suite.toml"
    kept = "".join(line + "\n" for line in _ENTRY.splitlines()
                   if line.split(" = ")[0] != entry.split(" = ")[0])
    path.write_text(f"[suite]\n{head}\n[[entry]]\n{kept}{entry}\n")
    return path


@pytest.mark.parametrize("value", ["[1]", "1", "2.5", "{a = 1}", "1979-05-27", '["a", 1]'])
def test_the_suite_name_must_be_a_string(tmp_path: Path, value: str) -> None:
    """`name = [1]` became the suite "[1]" (the flows' store namespace baselines/[1]/...)."""
    path = _suite(tmp_path, "", head=f"name = {value}")
    with pytest.raises(UsageError, match=r"\[suite\]: name is an? \w+, not a string") as info:
        read_suite_spec(path)
    assert str(path) in str(info.value) and "(fix: give name a string" in str(info.value)


def _entry_error(tmp_path: Path, key: str, value: str) -> str:
    """The one-line usage error of an entry whose `key` is `value`: file, entry, key, fix."""
    path = _suite(tmp_path, f"{key} = {value}")
    with pytest.raises(UsageError) as info:
        read_suite_spec(path)
    line = str(info.value)
    assert line.startswith(f"{path} entry 1") and key in line and "\n" not in line
    assert "(fix: " in line
    return line


@pytest.mark.parametrize("value", ["1e400", "-1e400", "inf", "+inf", "nan"])
@pytest.mark.parametrize("key", _ENTRY_NUMBERS)
def test_an_entry_number_must_be_finite(tmp_path: Path, key: str, value: str) -> None:
    """`timeout = 1e400` (infinity) was accepted: a candidate command that never ends."""
    assert "finite" in _entry_error(tmp_path, key, value)


@pytest.mark.parametrize("value", ["[1]", "1", "2.5", "true", "{a = 1}", "1979-05-27"])
@pytest.mark.parametrize("key", _ENTRY_STRINGS)
def test_an_entry_string_is_never_made_of_another_value(tmp_path: Path, key: str,
                                                        value: str) -> None:
    _entry_error(tmp_path, key, value)


@pytest.mark.parametrize("value", ['"0.5"', "[0.5]"])
@pytest.mark.parametrize("key", _ENTRY_NUMBERS + _ENTRY_WHOLE)
def test_an_entry_number_is_never_made_of_a_string(tmp_path: Path, key: str,
                                                   value: str) -> None:
    """`min_delta = "0.01"` (quoted) was read as the number 0.01."""
    assert "without quotes" in _entry_error(tmp_path, key, value)


@pytest.mark.parametrize("value", ["[1]", "1", "1e400", '["a", 1]'])
def test_an_entry_command_is_strings(tmp_path: Path, value: str) -> None:
    assert "string" in _entry_error(tmp_path, "command", value).split("(fix: ")[1]


@pytest.mark.parametrize(("key", "values"), [
    *[(k, ["[1]", "1", "2.5", "{a = 1}"]) for k in ("metric", "cluster", "filter", "format",
                                                    "mode", "method", "output")],
    *[(k, ["1e400", "-1e400", "nan", '"0.1"', "[0.1]"]) for k in ("min-delta", "alpha",
                                                                  "power")],
    *[(k, ["1e400", "nan", '"300"', "[300]", "300.0"]) for k in ("resamples", "seed")],
])
def test_a_config_value_of_another_type_or_not_finite_is_refused(
        tmp_path: Path, key: str, values: list[str]) -> None:
    """The config file's values are checked as the suite's: no string made of a number or an
    array, no number made of a string (`min-delta = "0.1"` was read as 0.1), no infinite or
    NaN number."""
    path = tmp_path / "evalsig.toml"
    for value in values:
        path.write_text(f"{key} = {value}\n")
        with pytest.raises(UsageError) as info:
            load_config(path)
        assert str(info.value).startswith(f"{path}: ") and "\n" not in str(info.value)
