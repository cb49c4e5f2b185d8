"""Epochs beyond int64 are refused with the item, in every reader and in `from_arrays`.

Values between 2**63 and 2**64 came through numpy as uint64 and were cast to int64: the epoch
18446744073709551615 was read as -1 (and 2**63 as -2**63), so the records' epochs were
silently wrong; from 2**64 on the line said "epochs are out of range" without the item.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from evalsig_core import EvalRun, InputError, read_run
from tests.conftest import write_runframe

_HUGE = [2**63, 2**64 - 1, 2**64, 10**30]


def _check(err: InputError, path: str, value: int, item: str) -> None:
    text = str(err)
    assert err.code == "E109" and path in text and "\n" not in text
    assert f"item {item!r}" in text and f"epoch is {value}" in text and "out of range" in text
    assert "epochs are small integers" in text


# (first epoch, second epoch): all of them huge is the layout numpy read as uint64
_LAYOUTS = [(0, v) for v in _HUGE] + [(v, v) for v in _HUGE[:2]]


@pytest.mark.parametrize(("first", "second"), _LAYOUTS)
def test_native_json_refuses_an_epoch_beyond_int64(tmp_path: Path, first: int,
                                                   second: int) -> None:
    p = write_runframe(tmp_path / "r.json", ["a", "b"], [1, 0], epochs=[first, second])
    with pytest.raises(InputError) as info:
        read_run(p)
    _check(info.value, str(p), second, "b" if first == 0 else "a")


@pytest.mark.parametrize(("first", "second"), _LAYOUTS)
def test_native_jsonl_and_csv_refuse_an_epoch_beyond_int64(tmp_path: Path, first: int,
                                                           second: int) -> None:
    jl = tmp_path / "r.jsonl"
    jl.write_text("".join(json.dumps({"item_id": i, "score": 1, "epoch": e}) + "\n"
                          for i, e in (("a", first), ("b", second))))
    csv = tmp_path / "r.csv"
    csv.write_text(f"item_id,score,epoch\na,1,{first}\nb,0,{second}\n")
    for p in (jl, csv):
        with pytest.raises(InputError) as info:
            read_run(p)
        # orjson reads an integer >= 2**64 as a float: the line said 1.8446744073709552e+19
        # (rounded digits); it now names the epoch as written in the file
        _check(info.value, str(p), second, "b" if first == 0 else "a")


def test_native_jsonl_names_the_written_digits_of_an_epoch_orjson_rounds(tmp_path: Path) -> None:
    # 2**64 + 1 and 10**30 + 7 are floats for orjson (18446744073709551616.0, 1e30): the
    # message quotes the integers of the file, of the right item (its neighbour is in range)
    big = [2**64 + 1, 10**30 + 7]
    for value in big:
        jl = tmp_path / f"r{value}.jsonl"
        jl.write_text(json.dumps({"item_id": 7, "score": 1, "epoch": 3}) + "\n"
                      + json.dumps({"item_id": 8, "score": 1, "epoch": value}) + "\n")
        with pytest.raises(InputError) as info:
            read_run(jl)
        _check(info.value, str(jl), value, "8")


@pytest.mark.parametrize("epochs", [[1, 2**63], [1, 2**64 - 1], [1, 10**30], [2**63, 2**63],
                                    [2**64 - 1, 2**64 - 1],
                                    np.array([1, 2**64 - 1], dtype=np.uint64),
                                    [1.0, 2.0**63], [1.0, 1e30]])
def test_from_arrays_refuses_an_epoch_beyond_int64(epochs: object) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's "invalid value encountered in cast"
        with pytest.raises(InputError) as info:
            EvalRun.from_arrays(["a", "b"], [1.0, 0.0], epochs=epochs,  # type: ignore[arg-type]
                                source="mem")
    text = str(info.value)
    first_huge = 1 if isinstance(epochs, list) and epochs[0] == epochs[1] else 2
    assert info.value.code == "E109" and f"record #{first_huge} has epoch" in text
    assert "out of range" in text and "epochs are small integers" in text


def test_from_arrays_keeps_a_large_integer_epoch_exact() -> None:
    # int epochs went through float64: 2**62 + 1 became 2**62 (another record's epoch)
    run = EvalRun.from_arrays(["a", "a"], [1.0, 0.0], epochs=[2**62, 2**62 + 1])
    assert run.epochs.tolist() == [2**62, 2**62 + 1]
    assert EvalRun.from_arrays(["a"], [1.0], epochs=[2**63 - 1]).epochs.tolist() == [2**63 - 1]
