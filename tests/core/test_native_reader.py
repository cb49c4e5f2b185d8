"""Native and evalsig 0.1 RunFrame files read into columnar runs; bad files give one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from evalsig_core import InputError, InputNotFoundError, read_run
from tests.conftest import write_runframe


def test_runframe_reads_items_epochs_scores_and_clusters_from_metadata(tmp_path: Path) -> None:
    p = write_runframe(tmp_path / "b.json", ["a", "b", "c"], [1, 0, 0.5], ["P1", "P1", "P2"])
    run = read_run(p, metric="accuracy", cluster="passage_id")
    assert run.item_ids.tolist() == ["a", "b", "c"]
    assert run.scores.tolist() == [1.0, 0.0, 0.5]
    assert run.clusters is not None and run.clusters.tolist() == ["P1", "P1", "P2"]
    assert run.meta.model == "m" and run.meta.metric == "accuracy"
    assert run.meta.config["config_hash"] == "c"
    assert len(run.meta.sha256 or "") == 64


def test_runframe_cluster_id_is_used_when_metadata_lacks_the_key(tmp_path: Path) -> None:
    doc = {"run_id": "r", "model_id": "m", "task_id": "t", "metric_name": "accuracy",
           "items": [{"item_id": 1, "score": 1, "cluster_id": "X", "epoch": 0}]}
    p = tmp_path / "r.json"
    p.write_text(json.dumps(doc))
    run = read_run(p, cluster="passage_id")
    assert run.clusters is not None and run.clusters.tolist() == ["X"]
    assert run.meta.cluster_source == "cluster_id"
    assert run.item_ids.tolist() == ["1"]  # ids compare as strings


def test_schema_v1_with_several_metrics_needs_an_explicit_choice(tmp_path: Path) -> None:
    doc = {"schema": "evalsig.run/1", "model": "m", "task": "t",
           "items": [{"item_id": "a", "scores": {"acc": 1, "f1": 0.5}}]}
    p = tmp_path / "r.json"
    p.write_text(json.dumps(doc))
    with pytest.raises(InputError, match=r"several metrics \['acc', 'f1'\]"):
        read_run(p)
    assert read_run(p, metric="f1").scores.tolist() == [0.5]
    with pytest.raises(InputError, match="metric 'bleu' not found.*'acc', 'f1'"):
        read_run(p, metric="bleu")


def test_wrong_metric_on_a_runframe_names_the_metric_it_has(tmp_path: Path) -> None:
    p = write_runframe(tmp_path / "r.json", ["a"], [1])
    with pytest.raises(InputError, match="holds only 'accuracy'.*--metric accuracy"):
        read_run(p, metric="f1")


def test_jsonl_with_header_line(tmp_path: Path) -> None:
    p = tmp_path / "r.jsonl"
    lines = [{"schema": "evalsig.run/1", "model": "m", "metric": "acc"},
             {"item_id": "a", "score": 1, "epoch": 1}, {"item_id": "a", "score": 0, "epoch": 2}]
    p.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    run = read_run(p)
    assert run.epochs.tolist() == [1, 2] and run.meta.model == "m"


def test_errored_items_are_excluded_and_counted(tmp_path: Path) -> None:
    doc = {"schema": "evalsig.run/1", "metric": "acc", "items": [
        {"item_id": "a", "score": 1}, {"item_id": "b", "score": None, "error": "timeout"}]}
    p = tmp_path / "r.json"
    p.write_text(json.dumps(doc))
    run = read_run(p)
    assert run.item_ids.tolist() == ["a"]
    assert run.meta.n_errored == 1 and run.meta.errored_items == ("b",)


def test_nan_tokens_are_kept_for_the_doctor(tmp_path: Path) -> None:
    p = write_runframe(tmp_path / "r.json", ["a", "b"], [float("nan"), 1.0])
    assert np.isnan(read_run(p).scores[0])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "file is empty"),
        (b'{"run_id": "r", "items": [{"item_id": "a", "sco', "invalid JSON"),
        (b"\xff{}", "not valid UTF-8"),  # (b"\xff\xfe" is a UTF-16 mark: refused as such)
        (b'{"hello": 1}', "not a recognised run format"),
        (b'{"metric_name": "acc", "items": [{"item_id": "a", "score": "high"}]}',
         "score 'acc' is str 'high', not a number"),
        (b'{"metric_name": "acc", "items": [{"score": 1}]}', "has no item_id"),
        (b"[" * 100000 + b"]" * 100000, "nested"),
    ],
)
def test_bad_files_give_one_line_errors_naming_the_file(tmp_path: Path, content: bytes,
                                                         message: str) -> None:
    p = tmp_path / "bad.json"
    p.write_bytes(content)
    with pytest.raises(InputError, match=message) as info:
        read_run(p)
    text = str(info.value)
    assert str(p) in text and "\n" not in text


def test_bom_and_crlf_are_accepted(tmp_path: Path) -> None:
    p = write_runframe(tmp_path / "r.json", ["a", "b"], [1, 0])
    p.write_bytes(b"\xef\xbb\xbf" + p.read_bytes().replace(b",", b",\r\n"))
    assert read_run(p).n_records == 2


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(InputNotFoundError, match="file not found"):
        read_run(tmp_path / "nope.json")
    with pytest.raises(InputError, match="is a directory"):
        read_run(tmp_path)


def test_failed_run_is_refused_unless_allowed(tmp_path: Path) -> None:
    p = write_runframe(tmp_path / "r.json", ["a"], [1], status="error")
    with pytest.raises(InputError, match="status is 'error'.*--allow-failed-run"):
        read_run(p)
    assert read_run(p, allow_failed_run=True).meta.status == "error"


@pytest.mark.parametrize("metric", [True, 1.5, {"name": "accuracy"}])
@pytest.mark.parametrize("ext", ["json", "jsonl"])
def test_a_run_metric_that_is_not_a_name_is_refused(tmp_path: Path, metric: object,
                                                   ext: str) -> None:
    # {"metric": true} without --metric was "internal error: ValidationError ... RunMeta"
    # (exit 70); with --metric accuracy it read "the file holds only True".
    header = {"schema": "evalsig.run/1", "run_id": "r", "metric": metric}
    items = [{"item_id": "a", "score": 1.0}, {"item_id": "b", "score": 0.0}]
    p = tmp_path / f"r.{ext}"
    p.write_text(json.dumps({**header, "items": items}) if ext == "json" else
                 "\n".join(json.dumps(x) for x in [header, *items]) + "\n")
    for chosen in (None, "accuracy"):
        with pytest.raises(InputError, match=r"r\.jsonl?: the run's metric is .*, not a name"):
            read_run(p, metric=chosen)


@pytest.mark.parametrize("values", [["q1", "q22", ""], ["\ud800x", "é", "😀ab"], ["", ""],
                                    ["only"], ["x" * 300, "y"]])  # a NUL: test_nul_text
def test_str_array_is_numpys_own_conversion(values: list[str]) -> None:
    from evalsig_core.numtext import str_array

    got, want = str_array(values), np.asarray(values)
    assert got.dtype == want.dtype and got.tobytes() == want.tobytes()


# Ids and labels that are not all strings leave the reader's string fast path at any line:
# the run equals the one `EvalRun.from_arrays` builds from the same values by its type scans.
@pytest.mark.parametrize(("ids", "labels"), [
    (["a", "b", "c", "d"], ["P1", "P1", "P2", "P2"]),
    (["a", "b", 3, "d"], ["P1", "P1", "P2", "P2"]),
    ([1, 2, 3, 4], ["P1", "P1", "P2", "P2"]),
    (["a", "b", "c", "d"], [1, 1, 2, 2]),
    (["a", "b", "c", "d"], ["P1", 2, 2.0, True]),  # was "P1", "2", "2.0", "True"
])
def test_mixed_id_and_label_types_read_as_from_arrays_builds_them(
        tmp_path: Path, ids: list[object], labels: list[object]) -> None:
    from evalsig_core import EvalRun

    p = tmp_path / "r.jsonl"
    p.write_text("".join(json.dumps({"item_id": i, "epoch": 1, "score": k % 2,
                                     "metadata": {"passage_id": c}}) + "\n"
                         for k, (i, c) in enumerate(zip(ids, labels, strict=True))))
    run = read_run(p, cluster="passage_id")
    ref = EvalRun.from_arrays(ids, [k % 2 for k in range(len(ids))], clusters=labels)
    for name in ("item_ids", "clusters", "cluster_present", "scores", "epochs"):
        got, want = getattr(run, name), getattr(ref, name)
        assert got.dtype == want.dtype and got.tolist() == want.tolist(), name


def test_a_null_label_after_string_labels_is_marked_missing(tmp_path: Path) -> None:
    p = tmp_path / "r.jsonl"
    p.write_text("".join(json.dumps({"item_id": f"q{k}", "score": 1, "metadata":
                                     {"passage_id": None if k == 2 else f"P{k}"}}) + "\n"
                         for k in range(4)))
    run = read_run(p, cluster="passage_id")
    assert run.clusters is not None and run.clusters.tolist() == ["P0", "P1", "", "P3"]
    assert run.cluster_present is not None
    assert run.cluster_present.tolist() == [True, True, False, True]


def test_items_with_and_without_epoch_or_extra_keys_read_alike(tmp_path: Path) -> None:
    # the reader's fast test counts an item's keys: each layout below must give the same run
    rows = [{"item_id": "a", "score": 1, "metadata": {"passage_id": "P1"}},
            {"item_id": "b", "epoch": 2, "score": 0, "metadata": {"passage_id": "P1"}},
            {"item_id": "c", "score": 1, "input": "x", "metadata": {"passage_id": "P2"}},
            {"item_id": "d", "error": "timeout", "metadata": {"passage_id": "P2"}},
            {"item_id": "e", "epoch": 1, "scores": {"accuracy": 0.5},
             "metadata": {"passage_id": "P3"}}]
    p = tmp_path / "r.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    run = read_run(p, cluster="passage_id", metric="accuracy")
    assert run.item_ids.tolist() == ["a", "b", "c", "e"]
    assert run.epochs.tolist() == [1, 2, 1, 1]
    assert run.scores.tolist() == [1.0, 0.0, 1.0, 0.5]
    assert run.clusters is not None and run.clusters.tolist() == ["P1", "P1", "P2", "P3"]
    assert run.meta.n_errored == 1 and run.meta.errored_items == ("d",)
