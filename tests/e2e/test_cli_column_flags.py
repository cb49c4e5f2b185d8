"""--id-col, --score-col, --cluster-col and --epoch-col: the CSV/TSV column names of both runs.

`read_run` took the column names as keywords, but no command could pass them: a CSV whose
columns were `sample,reward,group,round` could not be gated from the command line at all. The
runs here hold the same numbers twice, once under evalsig's default column names.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from evalsig_core.cli import main
from tests.conftest import EXAMPLES, run_cli

CUSTOM = "sample,reward,group,round"
COLS = ["--id-col", "sample", "--score-col", "reward", "--cluster-col", "group",
        "--epoch-col", "round"]


def _runs(tmp_path: Path, header: str = CUSTOM) -> tuple[Path, Path]:
    rng = random.Random(3)
    paths = []
    for name, p in (("b", 0.55), ("c", 0.7)):
        rows = [f"q{i},{int(rng.random() < p)},P{i % 12},{e}" for i in range(60) for e in (1, 2)]
        path = tmp_path / f"{name}-{header.split(',')[0]}.csv"
        path.write_text(header + "\n" + "\n".join(rows) + "\n")
        paths.append(path)
    return paths[0], paths[1]


def _json(argv: list[str]) -> dict[str, Any]:
    code, out, err = run_cli([*argv, "--output", "json"])
    assert code in (0, 1, 2) and err == "", err
    report: dict[str, Any] = json.loads(out)
    return report


def _numbers(report: dict[str, Any]) -> str:
    """The report without what names the files or the columns: its numbers and verdict."""
    keep = {k: report.get(k) for k in ("verdict", "exit_code", "comparison", "bounds")}
    for role in ("baseline", "candidate"):
        summary = report.get(role) or {}
        keep[role] = {k: summary.get(k) for k in ("mean", "n_items", "n_records")}
    if "baseline" not in report:  # watch: its bounds over the looks, per cluster unit
        keep.update({k: report[k] for k in ("estimate", "lower", "upper", "unit", "n_units")})
    return json.dumps(keep, sort_keys=True)


@pytest.mark.parametrize("command", ["gate", "compare", "watch", "doctor"])
def test_custom_columns_read_as_the_default_ones(tmp_path: Path, command: str) -> None:
    b, c = _runs(tmp_path)
    sb, sc = _runs(tmp_path, "item_id,score,passage_id,epoch")
    margin = ["--min-delta", "0"] if command in ("gate", "watch") else []
    custom = _json([command, str(b), str(c), *COLS, *margin])
    default = _json([command, str(sb), str(sc), "--cluster", "passage_id", *margin])
    assert _numbers(custom) == _numbers(default)
    if command == "watch":
        assert custom["n_units"] == 12  # cluster means: the groups were read
    else:
        assert custom["baseline"]["n_records"] == 120
    codes = [[f["code"] for f in r.get("findings", [])] for r in (custom, default)]
    assert codes[0] == codes[1]


def test_cluster_col_alone_clusters_the_comparison(tmp_path: Path) -> None:
    # read_run(cluster_col=) without cluster= read the labels, and the gate ignored them
    b, c = _runs(tmp_path)
    report = _json(["gate", str(b), str(c), *COLS, "--min-delta", "0"])
    assert report["cluster"] == "group" and report["comparison"]["n_clusters"] == 12


@pytest.mark.parametrize(("flag", "column"), [
    ("--id-col", "id"), ("--score-col", "acc"), ("--cluster-col", "passage"),
    ("--epoch-col", "ep")])
def test_a_column_the_file_lacks_is_one_line_naming_file_column_and_columns(
        tmp_path: Path, flag: str, column: str) -> None:
    b, c = _runs(tmp_path)
    argv = [a for a in COLS]
    argv[argv.index(flag) + 1] = column
    code, out, err = run_cli(["gate", str(b), str(c), *argv, "--min-delta", "0"])
    assert code == 65 and out == "" and err.count("\n") == 1
    assert f"{b}: no column {column!r}; the header has ['sample', 'reward', 'group', " \
           "'round']" in err and flag in err


def test_a_column_flag_for_a_json_run_is_refused_not_ignored(tmp_path: Path) -> None:
    code, out, err = run_cli(["gate", str(EXAMPLES / "baseline.json"),
                              str(EXAMPLES / "candidate.json"), "--metric", "accuracy",
                              "--score-col", "reward", "--min-delta", "0"])
    assert code == 65 and out == "" and err.count("\n") == 1
    assert "--score-col 'reward' does not apply: evalsig-json files have no columns" in err


def test_an_empty_column_name_is_a_usage_error(tmp_path: Path) -> None:
    b, c = _runs(tmp_path)
    code, _, err = run_cli(["doctor", str(b), str(c), "--id-col", ""])
    assert code == 64 and "--id-col" in err and "expected a name" in err


@pytest.mark.parametrize("command", ["doctor", "compare", "gate", "watch"])
def test_help_lists_the_column_flags(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([command, "--help"], {})
    assert info.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    for flag in ("--id-col", "--score-col", "--cluster-col", "--epoch-col"):
        assert f"{flag} NAME CSV/TSV column of the" in out


def _suite(tmp_path: Path, b: Path, c: Path, columns: str) -> Path:
    path = tmp_path / f"suite-{b.stem}.toml"
    path.write_text(f'[suite]\nmin_delta = 0.0\n{columns}\n[[entry]]\nname = "qa"\n'
                    f'baseline = "{b}"\ncandidate = "{c}"\n')
    return path


def test_a_suite_entry_names_its_columns_and_gates_as_the_default_names(tmp_path: Path) -> None:
    # a suite could not name CSV columns at all (extra keys are refused): such runs could not
    # be gated in a suite, nor by the nightly flow that reads the same file
    b, c = _runs(tmp_path)
    sb, sc = _runs(tmp_path, "item_id,score,passage_id,epoch")
    cols = ('id_col = "sample"\nscore_col = "reward"\ncluster_col = "group"\n'
            'epoch_col = "round"\n')
    custom = _json(["suite", str(_suite(tmp_path, b, c, cols))])
    default = _json(["suite", str(_suite(tmp_path, sb, sc, 'cluster = "passage_id"'))])
    one, two = custom["entries"][0]["report"], default["entries"][0]["report"]
    assert one["comparison"]["n_clusters"] == 12 and _numbers(one) == _numbers(two)
    wrong = cols.replace('"reward"', '"acc"')
    code, out, _ = run_cli(["suite", str(_suite(tmp_path, b, c, wrong))])
    assert code == 2 and "no column 'acc'" in out  # the entry's error, in the suite table


def test_a_project_config_names_the_columns_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # the column flags had no config key: `id-col = "sample"` in evalsig.toml was refused
    b, c = _runs(tmp_path)
    sb, sc = _runs(tmp_path, "item_id,score,passage_id,epoch")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "evalsig.toml").write_text(
        'id-col = "sample"\nscore_col = "reward"\ncluster-col = "group"\nepoch-col = "round"\n')
    assert main(["gate", str(b), str(c), "--min-delta", "0", "--output", "json"], {}) == 0
    custom = json.loads(capsys.readouterr().out)
    default = _json(["gate", str(sb), str(sc), "--cluster", "passage_id", "--min-delta", "0"])
    assert _numbers(custom) == _numbers(default)
    # a flag still wins over the config: the wrong score column is named
    assert main(["gate", str(b), str(c), "--score-col", "acc", "--min-delta", "0"], {}) == 65
    assert "no column 'acc'" in capsys.readouterr().err
