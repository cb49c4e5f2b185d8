"""A JSON object that repeats a key evalsig reads is refused (E117), never read as its last value.

orjson and json keep the last of two equal keys without a word: `{"item_id": "q2", "score": 1,
"score": 0}` read as score 0 (a hand-edited or merged file could flip the verdict). Files are
real harness logs (or small runs) with one key written twice into the text.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from evalsig_core import InputError, read_run
from evalsig_core.readers._zip import SafeZip
from tests.conftest import SHARED_FIXTURES
from tests.core.readers.zipmaker import ZSTD, write_zip

HELM = SHARED_FIXTURES / "helm-0.5.16" / "baseline"
INSPECT = SHARED_FIXTURES / "inspect-0.3.285"


def _refused(p: Path, key: str, item: str | None, **kw: Any) -> str:
    with pytest.raises(InputError) as info:
        read_run(p, **kw)
    err = info.value
    text = str(err)
    assert err.code == "E117" and err.exit_code == 65 and "\n" not in text
    assert str(p) in text and f"the key {key!r} appears twice" in text
    assert f"remove one of the two {key!r} keys" in text
    assert err.item == item
    return text


def _native(p: Path, second: str, q2: str = '"item_id": "q2", "epoch": 1, "score": 1, '
            '"metadata": {"passage_id": "P2"}') -> Path:
    """A run of two items; `second` is written after the keys `q2` of the second item."""
    p.write_text('{"schema": "evalsig.run/1", "metric": "accuracy", "items": [\n'
                 '{"item_id": "q1", "score": 1, "metadata": {"passage_id": "P1"}},\n'
                 f'{{{q2}, {second}}}]}}')
    return p


def test_a_repeated_score_in_a_native_json_item_names_the_item_and_the_record(
        tmp_path: Path) -> None:
    text = _refused(_native(tmp_path / "r.json", '"score": 0'), "score", "q2")
    assert "items[1]" in text


@pytest.mark.parametrize("second", [
    '"item_id": "q3"', '"epoch": 2', '"metadata": {"passage_id": "P9"}'])
def test_every_key_the_native_reader_reads_is_checked(tmp_path: Path, second: str) -> None:
    key = second.split('"')[1]
    item = "q3" if key == "item_id" else "q2"  # the id a reader keeps is the last one
    _refused(_native(tmp_path / "r.json", second), key, item, cluster="passage_id")


def test_a_repeated_cluster_label_inside_metadata_is_refused(tmp_path: Path) -> None:
    p = _native(tmp_path / "r.json", '"x": 1', q2='"item_id": "q2", "score": 1, "metadata": '
                '{"passage_id": "P1", "passage_id": "P7"}')
    text = _refused(p, "passage_id", "q2", cluster="passage_id")
    assert "items[1].metadata" in text


def test_a_key_spelled_with_unicode_escapes_is_the_same_key(tmp_path: Path) -> None:
    # "sc\u006fre" is "score" to every JSON parser: the byte patterns differ, the keys do not
    _refused(_native(tmp_path / "r.json", '"sc\\u006fre": 0'), "score", "q2")


def test_an_escaped_colon_in_a_string_does_not_hide_a_duplicate(tmp_path: Path) -> None:
    # "\u003a" is written back as ":": the colon counts would agree despite the duplicate
    p = _native(tmp_path / "r.json", '"note": "a\\u003ab", "score": 0')
    _refused(p, "score", "q2")


def test_repeated_keys_evalsig_does_not_read_are_ignored(tmp_path: Path) -> None:
    p = _native(tmp_path / "r.json", '"note": "a", "note": "b", "extra": {"k": 1, "k": 2}')
    run = read_run(p)
    assert run.scores.tolist() == [1.0, 1.0]


def test_colons_and_key_names_inside_strings_are_not_duplicates(tmp_path: Path) -> None:
    p = _native(tmp_path / "r.json", '"note": "score: 0, \\"score\\": 1 at 12:30"')
    assert read_run(p).scores.tolist() == [1.0, 1.0]


def test_a_repeated_run_field_in_a_jsonl_header_line_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "r.jsonl"
    p.write_text('{"schema": "evalsig.run/1", "metric": "accuracy", "metric": "f1"}\n'
                 '{"item_id": "q1", "score": 1}\n{"item_id": "q2", "score": 0}\n')
    assert "in the header line" in _refused(p, "metric", None)


def test_a_repeated_value_in_an_inspect_json_sample_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "log.json"
    doc = json.loads((INSPECT / "baseline_e1.json").read_text())
    first = doc["samples"][0]
    value = json.dumps(first["scores"]["match"]["value"])
    text = json.dumps(doc)
    needle = f'"scores": {{"match": {{"value": {value}'
    assert needle in text
    p.write_text(text.replace(needle, f'{needle}, "value": "I"', 1))
    _refused(p, "value", str(first["id"]), metric="match")


def _eval_with(tmp_path: Path, member: str, edit: Any) -> Path:
    with SafeZip(INSPECT / "baseline_e1.eval") as z:
        members = {name: z.read(name) for name in z.names}
    members[member] = edit(members[member])
    return write_zip(tmp_path / "r.eval", members, ZSTD)


def test_a_repeated_id_in_inspect_summaries_is_refused(tmp_path: Path) -> None:
    def edit(data: bytes) -> bytes:
        records = json.loads(data)
        sid = json.dumps(records[0]["id"])
        return data.replace(f'"id":{sid}'.encode(), f'"id":{sid},"id":"other"'.encode(), 1) \
            .replace(f'"id": {sid}'.encode(), f'"id": {sid}, "id": "other"'.encode(), 1)

    text = _refused(_eval_with(tmp_path, "summaries.json", edit), "id", "other",
                    metric="match")
    assert "summaries.json [0]" in text


def test_a_repeated_status_in_inspect_header_json_is_refused(tmp_path: Path) -> None:
    def edit(data: bytes) -> bytes:
        doc = json.loads(data)
        return json.dumps(doc)[:-1].encode() + b', "status": "success"}'

    _refused(_eval_with(tmp_path, "header.json", edit), "status", None, metric="match")


def _helm(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    shutil.copytree(HELM, run)
    return run


def test_a_repeated_stat_sum_in_helm_is_refused(tmp_path: Path) -> None:
    run = _helm(tmp_path)
    p = run / "per_instance_stats.json"
    doc = json.loads(p.read_text())
    first = doc[0]
    p.write_text(json.dumps(doc).replace('"sum": ', '"sum": 0, "sum": ', 1))
    _refused(run, "sum", str(first["instance_id"]), metric="exact_match")


def test_a_repeated_cluster_label_in_helm_scenario_state_is_refused(tmp_path: Path) -> None:
    run = _helm(tmp_path)
    p = run / "scenario_state.json"
    text = p.read_text()
    p.write_text(text.replace('"passage_id": ', '"passage_id": "P99", "passage_id": ', 1))
    assert p.read_text() != text
    with pytest.raises(InputError) as info:
        read_run(run, metric="exact_match", cluster="passage_id")
    assert info.value.code == "E117" and "scenario_state.json" in str(info.value)
    assert "'passage_id' appears twice" in str(info.value)


def test_real_harness_logs_have_no_duplicate_keys() -> None:
    logs: list[tuple[Path, dict[str, Any]]] = [
        (INSPECT / "baseline_e1.eval", {"metric": "match"}),
        (INSPECT / "baseline_e1.json", {"metric": "match"}),
        (HELM, {"metric": "exact_match", "cluster": "passage_id"})]
    for p, kw in logs:
        assert read_run(p, **kw).n_records > 0
