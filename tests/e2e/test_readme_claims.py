"""README's claims that can drift silently, checked against the code.

Its flag lists are the parsers' flags: a flag added to (or dropped from) a command without its
README line used to drift silently (`compare --allow-failed-run` was missing)."""

from __future__ import annotations

import importlib
import inspect
import json
import re
from pathlib import Path

import pytest

from evalsig_core import ComparisonResult
from evalsig_core.cli import build_parser, main
from evalsig_core.cli._parser import _subparsers
from evalsig_core.config import Defaults
from evalsig_core.suite_file import SuiteEntrySpec
from tests.conftest import REPO, write_runframe

README = (REPO / "README.md").read_text(encoding="utf-8")
_REPORT_FLAGS = {"--output", "--json", "--markdown", "--html"}


def _between(start: str, end: str) -> str:
    return README.split(start, 1)[1].split(end, 1)[0]


def _flags(text: str) -> set[str]:
    return set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", text))


def _parser_flags(command: str) -> set[str]:
    sub = _subparsers(build_parser())[command]
    return {o for a in sub._actions for o in a.option_strings if o.startswith("--")} - {"--help"}


@pytest.mark.parametrize(("command", "start", "end", "extra"), [
    ("gate", "Gate flags: ", "`.\n", set()),
    # the report flags are the "Every report command" paragraph's
    ("compare", "`compare` takes ", "; its", _REPORT_FLAGS),
], ids=["gate", "compare"])
def test_the_readme_lists_every_flag_of_the_command(command: str, start: str, end: str,
                                                    extra: set[str]) -> None:
    assert _flags(_between(start, end)) | extra == _parser_flags(command)


def test_the_readme_config_keys_are_the_config_fields() -> None:
    keys = _between("Keys are the flag names (`min-delta` or `min_delta`): `", "`.")
    assert [k.strip() for k in keys.split(",")] == [
        k.replace("_", "-") for k in Defaults.model_fields]


def test_the_readme_suite_entry_keys_are_the_suite_file_fields() -> None:
    text = _between("tables with name, ", " (paths relative")
    keys = {"name", *(k.strip() for k in text.replace("\n", " ").split(","))}
    # command, output and timeout are the nightly flow's (documented in its own sentence)
    assert keys | {"command", "output", "timeout"} == set(SuiteEntrySpec.model_fields)


@pytest.mark.parametrize("key", ["allow-failed-run", "verbose"])
def test_an_unknown_config_key_is_named_as_unknown_whatever_its_value(
        key: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # README: "an unknown key or a bad value is a usage error (64) naming the file".
    # `allow-failed-run = true` was answered "is a boolean (fix: give allow-failed-run a
    # number or a name, as the flag takes)": a fix that then failed as an unknown key.
    cfg = tmp_path / "evalsig.toml"
    cfg.write_text(f"{key} = true\n")
    assert main(["--config", str(cfg), "schema"], env={}) == 64
    err = capsys.readouterr().err
    assert f"{cfg}: unknown key {key!r}" in err and "boolean" not in err


def test_a_doctor_report_on_a_missing_file_carries_the_exit_code_66_it_exits_with(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # README "Exit codes": 66 an input file was not found. The doctor's JSON said
    # "exit_code": 65 (bad data) while the process exited 66.
    missing = str(tmp_path / "missing.json")
    b = str(REPO / "deployments" / "examples" / "baseline.json")
    assert main(["doctor", b, missing, "--output", "json"], env={}) == 66
    doc = json.loads(capsys.readouterr().out)
    assert (doc["ok"], doc["exit_code"], doc["findings"][0]["file"]) == (False, 66, missing)


def test_an_integer_score_beyond_float64_is_e115_the_code_for_scores_beyond_1e50(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # README's doctor table: E115 "scores beyond ±1e50"; a JSON score 10**400 was E109
    # ("a score ... is not a number") with the hint "rescale the scores" of E115.
    ids = [f"q{i}" for i in range(40)]
    b = write_runframe(tmp_path / "b.json", ids, [i % 2 for i in range(40)])
    c = write_runframe(tmp_path / "c.json", ids, [10**400, *(i % 3 == 0 for i in range(1, 40))])
    assert main(["doctor", str(b), str(c), "--output", "json"], env={}) == 65
    (finding,) = json.loads(capsys.readouterr().out)["findings"]
    assert (finding["code"], finding["file"]) == ("E115", str(c))


def test_a_repeated_score_key_is_e117_the_code_for_duplicate_keys(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # README's doctor table: E117 "a JSON object repeats a key evalsig reads"; the candidate's
    # {"score": 1, "score": 0} was read as 0 without a word
    ids = [f"q{i}" for i in range(40)]
    b = write_runframe(tmp_path / "b.json", ids, [i % 2 for i in range(40)])
    c = write_runframe(tmp_path / "c.json", ids, [i % 3 == 0 for i in range(40)])
    c.write_text(c.read_text().replace('"score": true', '"score": true, "score": false', 1))
    assert main(["doctor", str(b), str(c), "--output", "json"], env={}) == 65
    (finding,) = json.loads(capsys.readouterr().out)["findings"]
    assert (finding["code"], finding["file"]) == ("E117", str(c))
    assert "E117" in _between("## Doctor findings", "\n## ")


def _resolve(dotted: str) -> object:
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:i]))
        except ModuleNotFoundError:
            continue
        for name in parts[i:]:
            obj = getattr(obj, name)
        return obj
    raise ModuleNotFoundError(dotted)


@pytest.mark.parametrize("dotted", sorted(set(re.findall(
    r"`(evalsig_(?:core|flows)(?:\.\w+)+)`", README))))
def test_every_python_name_the_readme_shows_exists(dotted: str) -> None:
    assert _resolve(dotted) is not None


@pytest.mark.parametrize("field", sorted(set(re.findall(r"`comparison\.(\w+)`", README))))
def test_every_comparison_field_the_readme_names_is_in_the_gate_report(field: str) -> None:
    assert field in ComparisonResult.model_fields


def test_the_python_api_section_imports_exported_names_and_real_parameters() -> None:
    import evalsig_core

    section = _between("## Python API", "\n## ")
    (names,) = re.findall(r"^from evalsig_core import (.+)$", section, flags=re.M)
    assert {n.strip() for n in names.split(",")} <= set(evalsig_core.__all__)
    (shown,) = re.findall(r"`EvalRun\.from_arrays\(([^)]*)\)`", section)
    params = inspect.signature(evalsig_core.EvalRun.from_arrays).parameters  # **meta: RunMeta
    known = set(params) | set(evalsig_core.RunMeta.model_fields)
    assert {a.split("=")[0].strip() for a in shown.split(",")} <= known
