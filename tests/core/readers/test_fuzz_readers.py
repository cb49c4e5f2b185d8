"""Property-based fuzzing of the readers, the doctor and the gate on hostile variants of real
harness files (`mutations.py`): every read either returns a run that keeps the `EvalRun`
invariants or raises one `InputError` line naming the file and the fix (exit 65/66/74), never
another exception; a run the doctor passes never makes the gate fail, and one it refuses
always does.

Hypothesis runs derandomized (the same examples every run) and without an example database.
The hand-written regression tests at the end pin each failure the fuzzing found.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import shutil
import struct
from pathlib import Path
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from evalsig_core import InputError, read_run
from evalsig_core.doctor import diagnose
from evalsig_core.gate import DoctorError, gate
from evalsig_core.policy import Policy
from evalsig_core.run import EvalRun
from tests.core.readers.mutations import (
    FUZZ,
    Seed,
    assert_one_line_error,
    build_seeds,
    check_read,
    mutated,
    place,
)
from tests.core.readers.zipmaker import DEFLATED, write_zip

_SEED_NAMES = ["native.json", "runframe.json", "native.jsonl", "run.csv", "run.tsv",
               "inspect.json", "zstd.eval", "deflate.eval", "samples_passage_mc",
               "samples_passage_gen", "helm/per_instance_stats.json"]
_counter = itertools.count()


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Seed]]:
    root = tmp_path_factory.mktemp("fuzz-seeds")
    return root, build_seeds(root)


def _seed(seeds: tuple[Path, dict[str, Seed]], short: str) -> tuple[Path, Seed]:
    root, by_name = seeds
    name = next(n for n in by_name if n.startswith(short))
    return root, by_name[name]


def _draw(seeds: tuple[Path, dict[str, Seed]], short: str,
          data: st.DataObject) -> tuple[Path, Seed, Path, bytes]:
    """(seed directory, seed, a fresh example directory, the mutated bytes)."""
    root, seed = _seed(seeds, short)
    where = root.parent / f"{root.name}-example-{next(_counter)}"
    scratch = where.with_suffix(".zip")
    _ops, content = data.draw(mutated(seed, (root / seed.name).read_bytes(), scratch))
    return root, seed, where, content


def _strict_json(text: str) -> Any:
    def refuse(token: str) -> Any:
        raise AssertionError(f"a report holds the non-JSON token {token}")
    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("short", _SEED_NAMES)
@settings(FUZZ, max_examples=45)
@given(data=st.data())
def test_a_mutated_file_is_read_or_refused_in_one_line(
        seeds: tuple[Path, dict[str, Seed]], short: str, data: st.DataObject) -> None:
    root, seed, where, content = _draw(seeds, short, data)
    try:
        path = place(root, seed, content, where)
        event("read" if check_read(path, **seed.kw) is not None else "refused")
        if "cluster" in seed.kw:  # the same file read without a cluster key
            check_read(path, **{k: v for k, v in seed.kw.items() if k != "cluster"})
    finally:
        shutil.rmtree(where, ignore_errors=True)
        where.with_suffix(".zip").unlink(missing_ok=True)


@pytest.mark.parametrize("short", _SEED_NAMES)
@settings(FUZZ, max_examples=12)
@given(data=st.data())
def test_doctor_and_gate_agree_on_a_mutated_candidate(
        seeds: tuple[Path, dict[str, Seed]], short: str, data: st.DataObject) -> None:
    """A candidate the doctor passes gets a verdict (and a strict-JSON report); one it
    refuses makes the gate raise `DoctorError`, never another error, never a verdict."""
    root, seed, where, content = _draw(seeds, short, data)
    try:
        run = check_read(place(root, seed, content, where), **seed.kw)
        event("read" if run is not None else "refused")
        if run is None:
            return
        base = read_run(root / seed.name, **seed.kw)
        _agree(base, run, seed.kw.get("cluster"))
        _agree(run, base, seed.kw.get("cluster"))
    finally:
        shutil.rmtree(where, ignore_errors=True)
        where.with_suffix(".zip").unlink(missing_ok=True)


def _agree(baseline: EvalRun, candidate: EvalRun, cluster: str | None) -> None:
    report = diagnose(baseline, candidate, cluster=cluster)
    _strict_json(report.model_dump_json())
    policy = Policy(min_delta=0.05, cluster=cluster, resamples=200)
    try:
        result = gate(baseline, candidate, policy)
    except DoctorError as exc:
        assert report.errors, f"the doctor passed the runs but the gate refused: {exc}"
        assert exc.code == report.errors[0].code
        event(f"doctor error {exc.code}")
        return
    assert not report.errors, f"the doctor found {report.errors[0].code} but the gate decided"
    _strict_json(result.model_dump_json())
    assert result.exit_code in (0, 1, 2)
    event(f"verdict {result.verdict}")
    assert math.isfinite(result.comparison.delta)


# Item ids and labels as files hold them: any text but the surrogate halves (refused, tested in
# test_hostile_inputs.py), NUL (refused, tested in test_nul_text.py) and surrounding whitespace
# (CSV cells are stripped); or integers.
_TEXT = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"),
                min_size=1, max_size=8).filter(lambda t: t.strip() == t)
_ROWS = st.lists(
    st.tuples(_TEXT | st.integers(-10**6, 10**25),
              st.floats(allow_nan=False, allow_infinity=False) | st.booleans()
              | st.integers(-10**6, 10**6),
              st.integers(0, 3), _TEXT | st.integers(0, 50)),
    min_size=1, max_size=8, unique_by=lambda r: (str(r[0]), r[2]))


def _write_formats(d: Path, rows: list[tuple[Any, Any, int, Any]]) -> list[Path]:
    items = [{"item_id": i, "epoch": e, "score": s, "metadata": {"k": c}} for i, s, e, c in rows]
    (d / "r.json").write_text(json.dumps({"schema": "evalsig.run/1", "metric": "m",
                                          "items": items}, ensure_ascii=False), "utf-8")
    (d / "r.jsonl").write_text("".join(json.dumps(x, ensure_ascii=False) + "\n"
                                       for x in items), "utf-8")
    for name, delimiter in (("r.csv", ","), ("r.tsv", "\t")):
        with open(d / name, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f, delimiter=delimiter)
            w.writerow(["item_id", "score", "epoch", "k"])
            w.writerows([i, str(s).lower() if isinstance(s, bool) else repr(float(s)), e, c]
                         for i, s, e, c in rows)
    return [d / n for n in ("r.json", "r.jsonl", "r.csv", "r.tsv")]


@settings(FUZZ, max_examples=60)
@given(rows=_ROWS)
def test_one_run_reads_alike_from_json_jsonl_csv_and_tsv(
        tmp_path_factory: pytest.TempPathFactory, rows: list[tuple[Any, Any, int, Any]]) -> None:
    """Never lost or changed data: the ids (as text), epochs, scores (exact) and labels of a
    run are the same whichever of the native formats holds it."""
    d = tmp_path_factory.mktemp("formats")
    runs = [read_run(p, cluster="k") for p in _write_formats(d, rows)]
    ids = [str(i) for i, *_ in rows]
    scores = [float(s) for _, s, _, _ in rows]
    for run in runs:
        assert run.item_ids.tolist() == ids and run.scores.tolist() == scores
        assert run.epochs.tolist() == [e for _, _, e, _ in rows]
        assert run.clusters is not None
        assert run.clusters.tolist() == [str(c) for *_, c in rows]
    shutil.rmtree(d)


# ---- regressions found by the fuzzing above -------------------------------------------------


@pytest.mark.parametrize("item", ['"x"', '" "', "[1]", "[]", '"item_id,score"'])
@pytest.mark.parametrize("cluster", [None, "passage_id"])
def test_a_native_json_item_that_is_not_an_object_is_named(
        tmp_path: Path, item: str, cluster: str | None) -> None:
    """An item that is a string or a list of another length than a regular item's key count
    took `.get` and was "internal error: AttributeError: 'str' object has no attribute 'get'"
    (exit 70); the fuzzer found it by replacing an item of a RunFrame by " "."""
    path = tmp_path / "run.json"
    path.write_text('{"schema": "evalsig.run/1", "items": [{"item_id": "a", "score": 1}, '
                    f"{item}]}}")
    with pytest.raises(InputError, match=r"item #2 is (str|list), not an object") as info:
        read_run(path, cluster=cluster)
    assert_one_line_error(info.value, path)


@pytest.mark.parametrize("line", ['"x"', '" "', "[1]", '"abcdef"'])
def test_a_native_jsonl_line_that_is_not_an_object_is_named(tmp_path: Path, line: str) -> None:
    path = tmp_path / "run.jsonl"
    path.write_text('{"item_id": "a", "score": 1}\n' + line + "\n")
    with pytest.raises(InputError, match=r"line 2 is (str|list), not an object") as info:
        read_run(path)
    assert_one_line_error(info.value, path)


def test_a_zip_directory_pointing_before_the_file_start_is_bad_data(tmp_path: Path) -> None:
    """A central directory whose offset (in the end record) is larger than where it lies
    makes `zipfile` shift every member's local-header offset below 0: seeking there was
    "internal error: OSError: [Errno 22] Invalid argument" (exit 70)."""
    path = write_zip(tmp_path / "log.eval", {"header.json": b'{"status": "success"}',
                                             "summaries.json": b"[]"}, method=DEFLATED)
    data = bytearray(path.read_bytes())
    eocd = data.rfind(b"PK\x05\x06")
    offset = struct.unpack_from("<L", data, eocd + 16)[0]
    struct.pack_into("<L", data, eocd + 16, offset + 1000)
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match="bad local header") as info:
        read_run(path, metric="match")
    assert_one_line_error(info.value, path)


@pytest.mark.parametrize("start", [b"[]", b'"started"', b"null", b"3"])
def test_an_interrupted_eval_whose_start_record_is_not_an_object_is_named(
        tmp_path: Path, start: bytes) -> None:
    """An archive of an interrupted run holds only `_journal/start.json`; when that is not
    an object, merging it into the header was "internal error: TypeError: 'list' object is
    not a mapping" (exit 70)."""
    path = write_zip(tmp_path / "log.eval", {"_journal/start.json": start}, method=DEFLATED)
    with pytest.raises(InputError, match=r"_journal/start\.json is not an object") as info:
        read_run(path, metric="match", allow_failed_run=True)
    assert_one_line_error(info.value, path)


_DEEP = "[" * 1020 + "]" * 1020  # orjson parses up to 1024 levels; Python recurses ~1000 deep
_NESTED: dict[str, tuple[str, dict[str, Any]]] = {
    "run.json": ('{"schema": "evalsig.run/1", "items": [{"item_id": "a", "score": %s}]}', {}),
    "samples_t_2026-01-01T00-00-00.jsonl": (
        '{"doc_id": 0, "filter": %s, "metrics": ["acc"], "acc": 1}\n'
        '{"doc_id": 1, "filter": "none", "metrics": ["acc"], "acc": 1}\n', {}),
    "log.json": ('{"version": 2, "status": "success", "eval": {"task": "t"}, "samples": '
                 '[{"id": "a", "epoch": %s, "scores": {"match": {"value": 1}}}]}',
                 {"metric": "match"}),
    "per_instance_stats.json": (
        '[{"instance_id": "a", "train_trial_index": 0, "stats": [{"name": {"name": "em", '
        '"split": "test"}, "count": %s, "sum": 1}]}]', {"metric": "em"}),
}


@pytest.mark.parametrize("name", sorted(_NESTED))
def test_a_value_nested_a_thousand_deep_is_bad_data(tmp_path: Path, name: str) -> None:
    """A value nested 1020 levels deep parses (orjson takes 1024) but str(), repr() and
    json.dumps of it exceed Python's recursion limit: the duplicate-key check, an error
    line's `shown_value` and HELM's stat check were "internal error: RecursionError"
    (exit 70) in all four formats."""
    template, kw = _NESTED[name]
    path = tmp_path / name
    path.write_text(template % _DEEP)
    with pytest.raises(InputError, match="nested too deeply") as info:
        read_run(path, **kw)
    assert_one_line_error(info.value, path)
    assert info.value.code == "E110"


@pytest.mark.parametrize(("name", "content"), [
    ("run.csv", b"\nitem_id,score\na,1\nb,0\n"),
    ("run.csv", b"\r\n\r\nitem_id,score\r\na,1\r\nb,0\r\n"),
    ("run.tsv", b"\n \t\nitem_id\tscore\na\t1\nb\t0\n"),
])
def test_a_csv_after_blank_lines_is_read_not_called_empty(tmp_path: Path, name: str,
                                                          content: bytes) -> None:
    """Detection skips leading blank lines (as the JSONL readers do), but the CSV reader took
    the first blank line for its header: "file is empty (fix: re-export the run; it has no
    rows)" of a file with rows (found by the fuzzer's line edits)."""
    path = tmp_path / name
    path.write_bytes(content)
    run = read_run(path)
    assert run.item_ids.tolist() == ["a", "b"] and run.scores.tolist() == [1.0, 0.0]
