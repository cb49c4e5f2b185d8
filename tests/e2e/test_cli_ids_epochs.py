"""Item ids and epochs: a boolean, a fraction or an impossible epoch is refused by name; a float
id that holds an integer pairs with that integer; ids that differ only in how a number is
written are named by the doctor."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from evalsig_core import EvalRun, InputError
from evalsig_core.cli import main
from tests.conftest import SHARED_FIXTURES, write_runframe

I285, HELM = SHARED_FIXTURES / "inspect-0.3.285", SHARED_FIXTURES / "helm-0.5.16"
_IDS = [f"q{i}" for i in range(20)]
_CLUSTERS = [f"P{i % 4}" for i in range(20)]
_B = [float(i % 3 == 0) for i in range(20)]
_C = [float(i % 2 == 0) for i in range(20)]


def _gate(b: Path, c: Path, metric: str = "accuracy") -> list[str]:
    return ["gate", "--baseline", str(b), "--candidate", str(c), "--metric", metric,
            "--min-delta", "0.01", "--output", "json"]


def _one_error(capsys: pytest.CaptureFixture[str]) -> str:
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1, err
    return err


@pytest.mark.parametrize(("epoch", "says"), [
    (True, "item 'q3': epoch is true, not an integer"),  # was read as epoch 1
    (-1, "item 'q3': epoch is -1; this format counts epochs from 0"),  # was accepted
    (2.0, "item 'q3': epoch is 2.0, not an integer"),  # evalsig writes integer epochs
])
def test_a_native_epoch_that_is_no_epoch_is_refused_by_item(
        epoch: Any, says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    epochs: list[Any] = [1] * 20
    epochs[3] = epoch
    b = write_runframe(tmp_path / "b.json", _IDS, _B, epochs=epochs)
    c = write_runframe(tmp_path / "c.json", _IDS, _C)
    assert main(_gate(b, c), {}) == 65
    err = _one_error(capsys)
    assert f"{b}: {says} (fix: epochs are integers" in err


def test_native_epochs_may_count_from_0(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    # evalsig 0.1 RunFrames write epoch 0 (tests.conftest.write_runframe does too)
    b = write_runframe(tmp_path / "b.json", _IDS * 2, _B * 2, epochs=[0] * 20 + [1] * 20)
    c = write_runframe(tmp_path / "c.json", _IDS, _C, epochs=[0] * 20)
    assert main(_gate(b, c), {}) in (0, 1, 2)
    assert json.loads(capsys.readouterr().out)["comparison"]["n_pairs"] == 20


def _inspect_json(tmp: Path, **sample: Any) -> Path:
    doc = json.loads((I285 / "baseline_e1.json").read_text())
    doc["samples"][2].update(sample)
    path = tmp / "inspect.json"
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize(("epoch", "says"), [
    (0, "epoch is 0; this format counts epochs from 1"),  # Inspect numbers epochs from 1
    (True, "epoch is true, not an integer"),
])
def test_an_inspect_epoch_below_1_or_boolean_is_refused(
        epoch: Any, says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    b = _inspect_json(tmp_path, epoch=epoch)
    assert main(_gate(b, I285 / "candidate_e1.json", "match"), {}) == 65
    assert f"{b}: item 'p01-q3': {says}" in _one_error(capsys)


@pytest.mark.parametrize("trial", [-1, True])
def test_a_helm_trial_index_that_is_no_trial_is_refused(
        trial: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # -1 became epoch 0 and true epoch 2, silently
    stats = json.loads((HELM / "baseline" / "per_instance_stats.json").read_text())
    stats[0]["train_trial_index"] = trial
    b = tmp_path / "per_instance_stats.json"
    b.write_text(json.dumps(stats))
    assert main(_gate(b, HELM / "candidate", "exact_match"), {}) == 65
    shown = "true" if trial is True else "-1"
    assert f"{b}: item 'id0': train_trial_index is {shown}, not an integer from 0" in \
        _one_error(capsys)


def test_a_negative_csv_epoch_is_refused(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    b = tmp_path / "b.csv"
    b.write_text("item_id,accuracy,epoch\nq1,1,1\nq2,0,-1\n")
    assert main(_gate(b, b), {}) == 65
    assert f"{b}: item 'q2': epoch is -1; this format counts epochs from 0" in \
        _one_error(capsys)


@pytest.mark.parametrize(("bad", "says"), [
    (True, "has item_id true, which is a boolean"),  # was the id "True"
    (1.5, "has item_id 1.5, which is a fraction"),  # "1.5" never pairs with "1.50"
    (2.0**60, "has item_id 1.152921504606847e+18, which is a float beyond 2**53"),
    ([1], "has item_id [1], which is a list"),
    (None, "has no item_id"),
    # "which is not a finite number", where from_arrays said "has no item_id" for the same
    # NaN (pandas' missing value): one wording, `numtext.is_missing` deciding for both
    (float("nan"), "has no item_id"),
])
def test_an_item_id_that_is_no_id_is_refused_by_position(
        bad: Any, says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ids: list[Any] = list(range(20))
    ids[4] = bad
    b = write_runframe(tmp_path / "b.json", ids, _B)
    c = write_runframe(tmp_path / "c.json", list(range(20)), _C)
    assert main(_gate(b, c), {}) == 65
    err = _one_error(capsys)
    assert f"{b}: record #5 {says}" in err and "(fix: " in err


def test_an_inspect_boolean_sample_id_is_refused(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    b = _inspect_json(tmp_path, id=True)
    assert main(_gate(b, I285 / "candidate_e1.json", "match"), {}) == 65
    assert f"{b}: record #3 has item_id true, which is a boolean" in _one_error(capsys)


def test_a_float_id_holding_an_integer_pairs_with_that_integer(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A writer that exports integer ids as floats (pandas with a missing value in the
    # column) wrote 1.0: it was the id "1.0", paired with nothing in a run of integer ids,
    # and the gate failed with "the runs share no item id".
    b = write_runframe(tmp_path / "b.json", list(range(20)), _B, _CLUSTERS)
    c = write_runframe(tmp_path / "c.json", [float(i) for i in range(20)], _C, _CLUSTERS)
    assert main(_gate(b, c), {}) in (0, 1, 2)
    assert json.loads(capsys.readouterr().out)["comparison"]["n_pairs"] == 20


def test_the_doctor_names_ids_that_differ_only_in_how_a_number_is_written(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # CSV cells are text: "3.0" is not the JSON integer 3, and W201 said only "10
    # baseline-only and 10 candidate-only items were dropped".
    b = write_runframe(tmp_path / "b.json", list(range(20)), _B)
    c = tmp_path / "c.csv"
    c.write_text("item_id,accuracy\n" + "".join(
        f"{i if i < 10 else f'{i}.0'},{s}\n" for i, s in enumerate(_C)))
    assert main(["doctor", str(b), str(c), "--metric", "accuracy", "--output", "json"],
                {}) == 0
    (w201,) = [f for f in json.loads(capsys.readouterr().out)["findings"]
               if f["code"] == "W201"]
    assert "10 of the baseline's ids equal a candidate id as numbers but are written " \
        "differently (e.g. '10' and '10.0')" in w201["message"]


@pytest.mark.parametrize(("kw", "says"), [
    # in a reader's words (was "record #1: item id true is a boolean"); True was the id "True"
    ({"item_ids": [True, "a"]}, "record #1 has item_id true, which is a boolean"),
    ({"item_ids": ["a", 1.5]}, "record #2 has item_id 1.5, which is a fraction (fix: item ids "
     "must be strings or integers; a float id pairs only when it holds an integer (1.0 is 1))"),
    ({"item_ids": np.array([3, -1]) < 0}, "record #1 has item_id false, which is a boolean"),
    ({"item_ids": ["a", None]}, "record #2 has no item_id"),
    ({"item_ids": ["a", float("nan")]}, "record #2 has no item_id"),
    ({"item_ids": np.array([1.0, np.nan])}, "record #2 has no item_id"),
    ({"item_ids": ["a", "b"], "epochs": [True, 1]}, "epochs are not all integers"),  # [1, 1]
    ({"item_ids": ["a", "b"], "epochs": [1, -1]}, "record #2 has epoch -1"),
])
def test_from_arrays_refuses_the_same_ids_and_epochs(kw: dict[str, Any], says: str) -> None:
    with pytest.raises(InputError, match=re.escape(says)):
        EvalRun.from_arrays(scores=[1.0, 0.0], **kw)


def test_from_arrays_writes_a_float_id_holding_an_integer_as_the_integer() -> None:
    assert EvalRun.from_arrays([1.0, 2], [1.0, 0.0]).item_ids.tolist() == ["1", "2"]
