"""A cluster label that is a JSON object or array is refused, in every reader and in
`EvalRun.from_arrays` (one rule, `numtext.label_text`, as item ids are by `numtext.id_text`).

Such labels were compared through Python's `str()`: {"a": 1, "b": 2} and {"b": 2, "a": 1}
became two clusters (and [1, 2] the label "[1, 2]"), so the same passage could be split by key
order, and the SE computed over clusters nobody defined.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from evalsig_core import EvalRun, InputError, read_run
from tests.conftest import write_runframe

_A = {"a": 1, "b": 2}
_B = {"b": 2, "a": 1}


def _check(err: InputError, path: str | None, item: str) -> None:
    text = str(err)
    assert err.code == "E109" and "\n" not in text
    assert f"item {item!r}" in text and "cluster label" in text
    assert "use a string or number as cluster label" in text
    if path is not None:
        assert path in text


@pytest.mark.parametrize("label", [_B, [1, 2], {"p": [1]}])
def test_native_json_refuses_an_object_or_array_label(tmp_path: Path, label: Any) -> None:
    p = write_runframe(tmp_path / "r.json", ["q0", "q1"], [1, 0], [_A, label])
    with pytest.raises(InputError) as info:
        read_run(p, cluster="passage_id")
    _check(info.value, str(p), "q0")


def test_native_jsonl_refuses_an_object_label_after_string_ones(tmp_path: Path) -> None:
    rows = [{"item_id": f"q{i}", "score": 1, "metadata": {"passage_id": f"P{i}"}}
            for i in range(3)]
    rows.append({"item_id": "q3", "score": 0, "metadata": {"passage_id": _B}})
    p = tmp_path / "r.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(InputError) as info:
        read_run(p, cluster="passage_id")
    _check(info.value, str(p), "q3")


def test_lm_eval_samples_refuse_an_array_label(tmp_path: Path) -> None:
    rows = [{"doc_id": i, "doc": {"passage_id": ["P", i]}, "filter": "none",
             "metrics": ["acc"], "acc": 1.0} for i in range(2)]
    p = tmp_path / "samples_t_2024-01-01T00-00-00.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(InputError) as info:
        read_run(p, metric="acc", cluster="passage_id")
    _check(info.value, str(p), "0")


@pytest.mark.parametrize("clusters", [[_A, _B], [[1, 2], [1, 2]], np.array([_A, _B])])
def test_from_arrays_refuses_an_object_or_array_label(clusters: list[Any]) -> None:
    with pytest.raises(InputError) as info:
        EvalRun.from_arrays(["x", "y"], [1.0, 0.0], clusters=clusters, source="mem")
    _check(info.value, "mem", "x")


def test_string_and_number_labels_are_still_read(tmp_path: Path) -> None:
    p = write_runframe(tmp_path / "r.json", ["q0", "q1", "q2"], [1, 0, 1], ["P", 2.0, 2])
    run = read_run(p, cluster="passage_id")
    assert run.clusters is not None and run.clusters.tolist() == ["P", "2", "2"]
