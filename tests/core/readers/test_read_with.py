"""`read_with`: the files a run's reader reads beside the path given (the report guard's list).

A plain run file (b.json, an Inspect log, a CSV) reads nothing beside it: the list named
b.json/per_instance_stats.json and the like, paths inside a file that cannot exist.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from evalsig_core.readers import read_with
from tests.conftest import SHARED_FIXTURES

_SIDE = ["per_instance_stats.json", "scenario_state.json", "run_spec.json"]


@pytest.mark.parametrize("name", ["b.json", "run.jsonl", "log.eval", "scores.csv",
                                  "per_instance_stats"])
def test_a_plain_run_file_reads_no_side_file(tmp_path: Path, name: str) -> None:
    p = tmp_path / name
    p.write_text("{}")
    assert read_with(p) == []


def test_a_helm_run_directory_reads_its_three_files(tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(SHARED_FIXTURES / "helm-0.5.16" / "baseline", run)
    assert read_with(run) == [run / n for n in _SIDE]
    # given as its per_instance_stats.json, the reader still reads the other two beside it
    assert read_with(run / "per_instance_stats.json") == [run / n for n in _SIDE]


def test_an_lm_eval_samples_file_reads_its_results_file(tmp_path: Path) -> None:
    p = tmp_path / "samples_mc_2026-11-29T17-05-40.616948.jsonl"
    p.write_text("{}\n")
    assert read_with(p) == [tmp_path / "results_2026-11-29T17-05-40.616948.json"]
