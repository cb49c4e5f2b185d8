"""One suite file format for `evalsig suite` and the nightly flow (evalsig_core/suite_file.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalsig_core import InputNotFoundError, UsageError
from evalsig_core.cli import main
from evalsig_core.config import load_config
from evalsig_core.suite import load_suite
from evalsig_core.suite_file import read_suite_spec


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "suite.toml"
    p.write_text(text)
    return p


@pytest.mark.parametrize("table", ["entry", "entries"])
def test_defaults_names_and_relative_paths(tmp_path: Path, table: str) -> None:
    p = _write(tmp_path, f"""
[suite]
name = "nightly"
correction = "bh"
min_delta = 0.01
cluster = "passage_id"

[[{table}]]
task = "rc"
metric = "accuracy"
baseline = "runs/b.json"
candidate = "s3://bucket/c.json"

[[{table}]]
name = "gen"
command = "inspect eval gen.py --log-dir {{output_dir}}"
mode = "non-inferiority"
""")
    spec = read_suite_spec(p)
    assert (spec.name, spec.correction) == ("nightly", "bh")
    rc, gen = spec.entries
    assert rc.name == "rc-accuracy" and rc.cluster == "passage_id" and rc.min_delta == 0.01
    assert rc.baseline == str(tmp_path / "runs" / "b.json")
    assert rc.candidate == "s3://bucket/c.json"  # URIs are left alone
    assert gen.command == ["inspect", "eval", "gen.py", "--log-dir", "{output_dir}"]
    assert gen.policy().mode.value == "non-inferiority"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[[entry]]\nname = "a"\ncandidate = "c"\n', "min_delta"),
        ('[[entry]]\nname = "a"\nmin_delta = 0.1\n', "needs `candidate`"),
        ('[[entry]]\nname = "a"\ncandidate = "c"\nmin_delta = 0.1\nalpha = 2\n',
         "entry 1 \\('a'\\): invalid alpha"),
        ('[[entry]]\nname = "a"\ncandidate = "c"\nmin_delta = 0\ncolour = "blue"\n', "colour"),
        ('[[entry]]\nname = "a"\ncandidate = "c"\nmin_delta = 0\n'
         '[[entry]]\nname = "a"\ncandidate = "d"\nmin_delta = 0\n', "two entries are named 'a'"),
        ('[suite]\ncorrection = "bonferroni"\n[[entry]]\ncandidate = "c"\nmin_delta = 0\n',
         "correction"),
        ('[suites]\nname = "x"\n[[entry]]\ncandidate = "c"\nmin_delta = 0\n', "unknown table"),
        ('[suite]\nname = "x"\n', "no \\[\\[entry\\]\\] tables"),
        ("this is = = not toml", "not a valid TOML"),
        # pydantic's lax mode read a boolean as 1: a margin of 1.0, seed 1
        ('[[entry]]\nname = "a"\ncandidate = "c"\nmin_delta = true\n',
         "entry 1 \\('a'\\): min_delta = true is a boolean"),
        ('[suite]\nseed = false\n[[entry]]\ncandidate = "c"\nmin_delta = 0\n',
         "seed = false is a boolean"),
        # resolved beside the file, "" was the suite's directory: read as a run (65)
        ('[[entry]]\nname = "a"\ncandidate = ""\nmin_delta = 0\n',
         "entry 1 \\('a'\\): candidate is empty"),
        ('[[entry]]\nname = "a"\nbaseline = " "\ncandidate = "c"\nmin_delta = 0\n',
         "entry 1 \\('a'\\): baseline is empty"),
        # names head report sections, table rows, state messages: one line of text
        ('[[entry]]\nname = "a\\nb"\ncandidate = "c"\nmin_delta = 0\n',
         "entry 1 \\('a\\\\nb'\\): name 'a\\\\nb' is empty or holds a control"),
        ('[[entry]]\nname = ""\ncandidate = "c"\nmin_delta = 0\n', "name '' is empty"),
        ('[suite]\nname = "nightly\\t2"\n[[entry]]\ncandidate = "c"\nmin_delta = 0\n',
         "\\[suite\\]: name 'nightly\\\\t2' is empty or holds a control"),
    ],
)
def test_every_problem_is_a_usage_error_naming_the_file(tmp_path: Path, body: str,
                                                         message: str) -> None:
    p = _write(tmp_path, body)
    with pytest.raises(UsageError, match=message) as info:
        read_suite_spec(p)
    assert str(p) in str(info.value)


def test_an_empty_run_path_is_a_usage_error_of_evalsig_suite(tmp_path: Path) -> None:
    (tmp_path / "c.json").write_text("{}")
    p = _write(tmp_path, '[[entry]]\nname = "a"\nbaseline = ""\ncandidate = "c.json"\n'
                         'min_delta = 0\n')
    assert main(["suite", str(p)], {}) == 64


def test_a_missing_suite_file_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(InputNotFoundError):
        read_suite_spec(tmp_path / "nope.toml")
    assert main(["suite", str(tmp_path / "nope.toml")], {}) == 66


def test_the_cli_needs_run_files_where_the_nightly_flow_can_use_the_store(tmp_path: Path) -> None:
    p = _write(tmp_path, '[[entry]]\nname = "a"\ntask = "t"\nmetric = "m"\n'
                         'candidate = "c.json"\nmin_delta = 0\n')
    assert read_suite_spec(p).entries[0].baseline is None  # fine for the nightly flow
    with pytest.raises(UsageError, match="entry 'a' has no baseline run file"):
        load_suite(p)
    assert main(["suite", str(p)], {}) == 64


def test_a_boolean_reads_the_same_in_a_suite_file_and_a_config_file(tmp_path: Path) -> None:
    # both refuse `min_delta = true` (pydantic would read a margin of 1.0), in one wording
    suite = _write(tmp_path, '[[entry]]\nname = "a"\ncandidate = "c"\nmin_delta = true\n')
    cfg = tmp_path / "evalsig.toml"
    cfg.write_text("min_delta = true\n")
    with pytest.raises(UsageError) as in_suite:
        read_suite_spec(suite)
    with pytest.raises(UsageError) as in_config:
        load_config(cfg)
    tail = "min_delta = true is a boolean (fix: give min_delta a number or a name, as the " \
        "flag takes)"
    assert str(in_suite.value) == f"{suite} entry 1 ('a'): {tail}"
    assert str(in_config.value) == f"{cfg}: {tail}"
