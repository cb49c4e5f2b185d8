"""Inspect `.eval` archives: the summaries fast path, its fallback, and hostile archives."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from evalsig_core import InputError, read_run
from evalsig_core.readers import _zip
from evalsig_core.readers._zip import SafeZip
from tests.conftest import SHARED_FIXTURES
from tests.core.readers.zipmaker import DEFLATED, STORED, ZSTD, write_zip

REAL = SHARED_FIXTURES / "inspect-0.3.285" / "baseline_e1.eval"


def _members(path: Path) -> dict[str, bytes]:
    with SafeZip(path) as z:
        return {name: z.read(name) for name in z.names}


def _eval(path: Path, samples: list[dict[str, Any]], *, status: str = "success",
          summaries: bool = True, method: int = ZSTD) -> Path:
    header = {"version": 2, "status": status,
              "eval": {"task": "t", "model": "m", "packages": {"inspect_ai": "0.3.285"},
                       "scorers": [{"name": "match"}], "dataset": {"name": "d"}}}
    members = {"header.json": json.dumps(header).encode()}
    for s in samples:
        full = {**s, "messages": [{"role": "user", "content": "long transcript " * 50}]}
        members[f"samples/{s['id']}_epoch_{s['epoch']}.json"] = json.dumps(full).encode()
    if summaries:
        members["summaries.json"] = json.dumps(samples).encode()
    return write_zip(path, members, method)


def _sample(sid: str, epoch: int, value: Any, passage: str = "P1", **extra: Any) -> dict[str, Any]:
    return {"id": sid, "epoch": epoch, "metadata": {"passage_id": passage},
            "scores": {"match": {"value": value}}, **extra}


def test_without_summaries_every_sample_file_is_read_to_the_same_run(tmp_path: Path) -> None:
    members = _members(REAL)
    del members["summaries.json"]
    slow = write_zip(tmp_path / "slow.eval", members, ZSTD)
    a = read_run(REAL, metric="match", cluster="passage_id")
    b = read_run(slow, metric="match", cluster="passage_id")
    order_a, order_b = np.argsort(a.item_ids), np.argsort(b.item_ids)
    assert a.item_ids[order_a].tolist() == b.item_ids[order_b].tolist()
    assert a.scores[order_a].tolist() == b.scores[order_b].tolist()
    assert b.meta.cluster_source == "metadata (samples/*.json)"


def test_summaries_that_disagree_with_the_sample_count_are_not_trusted(tmp_path: Path) -> None:
    samples = [_sample("a", 1, "C"), _sample("b", 1, "I")]
    p = _eval(tmp_path / "r.eval", samples)
    members = _members(p)
    members["summaries.json"] = json.dumps(samples[:1]).encode()  # stale: one sample missing
    run = read_run(write_zip(tmp_path / "stale.eval", members), metric="match")
    assert sorted(run.item_ids.tolist()) == ["a", "b"]


@pytest.mark.parametrize("method", [STORED, DEFLATED, ZSTD])
def test_every_zip_method_inspect_writes_is_read(tmp_path: Path, method: int) -> None:
    p = _eval(tmp_path / "r.eval", [_sample("a", 1, "C"), _sample("a", 2, "P")], method=method)
    run = read_run(p, metric="match")
    assert run.epochs.tolist() == [1, 2] and run.scores.tolist() == [1.0, 0.5]


def test_interrupted_run_without_header_reads_the_start_record(tmp_path: Path) -> None:
    members = _members(REAL)
    del members["header.json"]
    del members["summaries.json"]
    run = read_run(write_zip(tmp_path / "r.eval", members), metric="match")
    assert run.meta.status == "started" and run.n_records == 40


@pytest.mark.parametrize(("value", "expected"), [
    (True, 1.0), (False, 0.0), (3, 3.0), ("yes", 1.0), ("False", 0.0), ("0.25", 0.25),
    ("N", 0.0)])
def test_inspect_value_mapping(tmp_path: Path, value: Any, expected: float) -> None:
    p = _eval(tmp_path / "r.eval", [_sample("a", 1, value)])
    assert read_run(p, metric="match").scores.tolist() == [expected]


@pytest.mark.parametrize("value", ["maybe", None, [1, 0]])
def test_a_value_inspect_would_silently_zero_is_an_error(tmp_path: Path, value: Any) -> None:
    p = _eval(tmp_path / "r.eval", [_sample("a", 1, value)])
    with pytest.raises(InputError, match="item 'a': score 'match' is .* not a number"):
        read_run(p, metric="match")


def test_a_sample_without_the_scorer_and_without_error_is_an_error(tmp_path: Path) -> None:
    s = {"id": "a", "epoch": 1, "scores": {"other": {"value": 1}}}
    p = _eval(tmp_path / "r.eval", [_sample("b", 1, "C"), s])
    with pytest.raises(InputError, match=r"item 'a': sample has no score 'match'.*\['other'\]"):
        read_run(p, metric="match")


def test_cluster_key_missing_on_some_samples_is_marked(tmp_path: Path) -> None:
    s = _sample("b", 1, "C")
    s["metadata"] = {}
    run = read_run(_eval(tmp_path / "r.eval", [_sample("a", 1, "C"), s]), metric="match",
                   cluster="passage_id")
    assert run.cluster_present is not None and run.cluster_present.tolist() == [True, False]


def test_zip_that_is_not_an_inspect_log(tmp_path: Path) -> None:
    p = write_zip(tmp_path / "r.eval", {"hello.txt": b"hi"})
    with pytest.raises(InputError, match="not an Inspect log"):
        read_run(p)


@pytest.mark.parametrize("cut", [0.3, 0.97])
def test_truncated_archive_is_one_clear_error(tmp_path: Path, cut: float) -> None:
    data = REAL.read_bytes()
    p = tmp_path / "cut.eval"
    p.write_bytes(data[: int(len(data) * cut)])
    with pytest.raises(InputError, match="truncated or corrupt") as info:
        read_run(p, metric="match")
    assert "\n" not in str(info.value) and str(p) in str(info.value)


def test_corrupt_member_fails_its_crc(tmp_path: Path) -> None:
    p = _eval(tmp_path / "r.eval", [_sample("a", 1, "C")], method=STORED)
    data = bytearray(p.read_bytes())
    at = data.rfind(b'"value": "C"')  # in summaries.json, the last member
    data[at + 10] = ord("I")
    p.write_bytes(bytes(data))
    with pytest.raises(InputError, match="corrupt"):
        read_run(p, metric="match")


def test_zip_bomb_member_is_refused_by_its_declared_size(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_zip, "MAX_MEMBER_BYTES", 1024**2)
    members = _members(REAL)
    members["summaries.json"] = b" " * (4 * 1024**2)  # 4 MiB of spaces compress to ~100 bytes
    with pytest.raises(InputError, match="would decompress to 4194304 bytes.*zip bomb") as info:
        read_run(write_zip(tmp_path / "bomb.eval", members), metric="match")
    assert info.value.code == "E110"


@pytest.mark.parametrize("method", [DEFLATED, ZSTD])
def test_zip_bomb_lying_about_its_size_stops_at_the_declared_size(tmp_path: Path,
                                                                  method: int) -> None:
    members = _members(REAL)
    members["summaries.json"] = b"[" + b" " * (64 * 1024**2) + b"]"
    p = write_zip(tmp_path / "bomb.eval", members, method,
                  declared_size={"summaries.json": 1000})
    with pytest.raises(InputError, match="more than its declared 1000 bytes.*zip bomb"):
        read_run(p, metric="match")


def test_total_decompressed_size_is_bounded(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_zip, "MAX_TOTAL_BYTES", 20000)  # header + summaries exceed it
    with pytest.raises(InputError, match="more than 20000 bytes"):
        read_run(REAL, metric="match")


def test_members_only_checked_have_their_own_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    # The transcripts behind summaries.json are only decompressed and CRC-checked: counted
    # against the 4 GiB parse budget, a 6 GiB agent log read through its summaries was refused
    with _zip.SafeZip(REAL) as z:
        parsed = sum(z.names[n].file_size for n in ("header.json", "summaries.json"))
        everything = sum(i.file_size for i in z.names.values())
    monkeypatch.setattr(_zip, "MAX_TOTAL_BYTES", parsed + 1024)
    assert len(read_run(REAL, metric="match").item_ids) > 0  # the check exceeds it: still read
    monkeypatch.setattr(_zip, "MAX_CHECKED_BYTES", everything - parsed - 1)
    with pytest.raises(InputError, match="more than .* bytes.*zip bomb"):
        read_run(REAL, metric="match")


def test_member_count_is_bounded_before_the_directory_is_parsed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_zip, "MAX_MEMBERS", 10)
    with pytest.raises(InputError, match="45 members, over the limit of 10") as info:
        read_run(REAL, metric="match")
    assert info.value.code == "E110"


@pytest.mark.parametrize("scores", [3, float("-inf"), "match", ["match"]])
def test_a_sample_whose_scores_is_not_an_object_is_an_error(tmp_path: Path,
                                                            scores: Any) -> None:
    # `scores: 3` was "internal error: TypeError: argument of type 'int' is not iterable"
    # (exit 70), and `scores: "match"` passed the membership test and indexed a string.
    s = {"id": "a", "epoch": 1, "scores": scores}
    p = _eval(tmp_path / "r.eval", [_sample("b", 1, "C"), s])
    with pytest.raises(InputError, match=r"item 'a': sample's scores is .*, not an object"):
        read_run(p, metric="match")


@pytest.mark.parametrize("scorers", [3, 1.5, True, "match"])
def test_a_header_scorers_entry_that_is_not_a_list_is_ignored(tmp_path: Path,
                                                              scorers: Any) -> None:
    # eval.scorers = 3 in the header was "internal error: TypeError: 'int' object is not
    # iterable" (exit 70); the list only names the scorers, the samples carry the scores
    p = _eval(tmp_path / "r.eval", [_sample("a", 1, "C"), _sample("b", 1, "I")])
    members = _members(p)
    header = json.loads(members["header.json"])
    header["eval"]["scorers"] = scorers
    members["header.json"] = json.dumps(header).encode()
    run = read_run(write_zip(tmp_path / "s.eval", members), metric="match")
    assert run.scores.tolist() == [1.0, 0.0]


def test_a_sample_without_an_id_is_named_by_its_position(tmp_path: Path) -> None:
    # a sample record {} read "item 'None': sample has no score 'match'; it has []"
    p = _eval(tmp_path / "r.eval", [_sample("a", 1, "C"), {"id": None, "epoch": 1,
                                                            "scores": {}}])
    with pytest.raises(InputError, match=r"r\.eval: sample #2 has no id") as info:
        read_run(p, metric="match")
    assert "None" not in str(info.value)
