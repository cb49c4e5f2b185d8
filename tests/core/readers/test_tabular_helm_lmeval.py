"""CSV/TSV columns, HELM choices (split, perturbations, cluster source) and lm-eval details."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from evalsig_core import InputError, read_run
from evalsig_core.readers import FORMATS
from tests.conftest import SHARED_FIXTURES

HELM = SHARED_FIXTURES / "helm-0.5.16"


def test_csv_reads_named_columns_as_strings_and_numbers(tmp_path: Path) -> None:
    p = tmp_path / "r.csv"
    p.write_text("item_id,epoch,score,passage_id\n1,1,1,P1\n1,2,0.5,P1\n02,1,true,P2\n")
    run = read_run(p, cluster="passage_id")
    assert run.item_ids.tolist() == ["1", "1", "02"]  # ids are strings: "02" stays "02"
    assert run.epochs.tolist() == [1, 2, 1] and run.scores.tolist() == [1.0, 0.5, 1.0]
    assert run.clusters is not None and run.clusters.tolist() == ["P1", "P1", "P2"]
    assert run.meta.format == "csv" and run.meta.metric == "score"


def test_tsv_with_renamed_columns_and_an_error_column(tmp_path: Path) -> None:
    p = tmp_path / "r.tsv"
    p.write_text("sample\tacc\tgroup\terror\na\t1\tG1\t\nb\t0\tG2\ttimeout\nc\t0\tG1\t\n")
    run = read_run(p, id_col="sample", score_col="acc", cluster_col="group")
    assert run.meta.format == "tsv" and run.item_ids.tolist() == ["a", "c"]
    assert run.meta.n_errored == 1 and run.meta.errored_items == ("b",)
    assert run.clusters is not None and run.clusters.tolist() == ["G1", "G1"]


def test_csv_metric_names_the_score_column(tmp_path: Path) -> None:
    p = tmp_path / "r.csv"
    p.write_text('item_id,acc,f1,note\na,1,0.5,"said ""hi"",\nthen left"\n')
    assert read_run(p, metric="f1").scores.tolist() == [0.5]
    with pytest.raises(InputError, match=r"no column 'bleu'; the header has \['item_id', 'acc'"):
        read_run(p, metric="bleu")


def test_a_json_run_forced_through_csv_names_a_short_header_not_the_whole_file(
        tmp_path: Path) -> None:
    # `--format csv` on a RunFrame: every comma of its one line made a "column", and the
    # error line printed all of them (thousands of characters for 50 items).
    p = tmp_path / "r.json"
    items = ", ".join(f'{{"item_id": "q{i}", "score": 1.0, "epoch": 0}}' for i in range(50))
    p.write_text(f'{{"run_id": "r", "metric_name": "accuracy", "items": [{items}]}}\n')
    with pytest.raises(InputError, match="no column 'item_id'") as info:
        read_run(p, format="csv")
    assert "and 140 more" in info.value.message and len(info.value.message) < 700


def test_uint64_item_ids_pair_with_their_decimal_strings(tmp_path: Path) -> None:
    # 64-bit hashes as JSON numbers >= 2**63 came out as garbage strings ("0", "1", ...),
    # so distinct items collapsed into duplicates and never paired with the string form.
    ids = [2**63 + 7 * i for i in range(5)]
    p = tmp_path / "r.json"
    p.write_text(json.dumps({"run_id": "r", "metric_name": "accuracy",
                             "items": [{"item_id": i, "score": 1.0} for i in ids]}))
    assert read_run(p).item_ids.tolist() == [str(i) for i in ids]


def test_csv_row_with_missing_cells(tmp_path: Path) -> None:
    p = tmp_path / "r.csv"
    p.write_text("item_id,note,score\na,x,1\nb\n")
    with pytest.raises(InputError, match="line 3 has 1 cell, the header has more"):
        read_run(p)


def test_formats_tuple_lists_every_reader() -> None:
    assert FORMATS == ("auto", "evalsig-json", "evalsig-jsonl", "inspect-eval", "inspect-json",
                       "lm-eval-samples", "helm", "csv", "tsv")


def test_forced_format_that_does_not_match_the_content(tmp_path: Path) -> None:
    p = tmp_path / "r.csv"
    p.write_text("item_id,score\na,1\n")
    with pytest.raises(InputError, match="not a readable zip archive"):
        read_run(p, format="inspect-eval")
    assert read_run(p, format="csv").n_records == 1


def _helm_copy(tmp_path: Path, edit: Any = None) -> Path:
    run = tmp_path / "run"
    shutil.copytree(HELM / "baseline", run)
    if edit is not None:
        path = run / "per_instance_stats.json"
        doc = json.loads(path.read_text())
        edit(doc)
        path.write_text(json.dumps(doc))
    return run


def test_helm_several_splits_need_filter(tmp_path: Path) -> None:
    def add_valid(doc: list[dict[str, Any]]) -> None:
        for inst in doc:
            st = next(s for s in inst["stats"] if s["name"]["name"] == "exact_match")
            inst["stats"].append({**st, "name": {"name": "exact_match", "split": "valid"},
                                  "sum": 1, "count": 1})
    run = _helm_copy(tmp_path, add_valid)
    with pytest.raises(InputError, match=r"several splits \['test', 'valid'\].*--filter"):
        read_run(run, metric="exact_match")
    assert read_run(run, metric="exact_match", filter="valid").scores.mean() == 1.0
    assert read_run(run, metric="exact_match", filter="test").scores.mean() == pytest.approx(
        0.475)


def test_helm_perturbed_instances_are_skipped_and_counted(tmp_path: Path) -> None:
    def perturb(doc: list[dict[str, Any]]) -> None:
        doc.append({**doc[0], "perturbation": {"name": "typos"}})
    run = read_run(_helm_copy(tmp_path, perturb), metric="exact_match")
    assert run.n_records == 40 and run.meta.config["perturbed_skipped"] == "1"


def test_helm_stat_with_count_zero_is_an_unscored_instance(tmp_path: Path) -> None:
    def zero(doc: list[dict[str, Any]]) -> None:
        st = next(s for s in doc[0]["stats"] if s["name"]["name"] == "exact_match")
        st.update(count=0, sum=0)
    run = read_run(_helm_copy(tmp_path, zero), metric="exact_match")
    assert run.n_records == 39 and run.meta.errored_items == ("id0",)


def test_helm_train_trials_are_epochs(tmp_path: Path) -> None:
    def trials(doc: list[dict[str, Any]]) -> None:
        doc.extend({**inst, "train_trial_index": 1} for inst in list(doc))
    run = read_run(_helm_copy(tmp_path, trials), metric="exact_match")
    assert sorted(set(run.epochs.tolist())) == [1, 2] and run.n_records == 80


def test_helm_cluster_needs_scenario_state(tmp_path: Path) -> None:
    run = _helm_copy(tmp_path)
    (run / "scenario_state.json").unlink()
    assert read_run(run, metric="exact_match").n_records == 40
    with pytest.raises(InputError, match="--cluster needs scenario_state.json"):
        read_run(run, metric="exact_match", cluster="passage_id")


def test_helm_cluster_labels_come_from_extra_data() -> None:
    run = read_run(HELM / "candidate", metric="exact_match", cluster="passage_id")
    assert run.clusters is not None and run.clusters[:5].tolist() == ["P01"] * 4 + ["P02"]
    assert run.meta.cluster_source == "scenario_state extra_data"


@pytest.mark.parametrize(("state", "says"), [
    ({"request_states": 3}, "request_states is 3"),
    ({"request_states": "abc"}, "request_states is 'abc'"),
    ({}, "request_states is null"), ([], "holds a JSON list")])
def test_helm_scenario_state_without_a_list_of_request_states_is_an_error(
        tmp_path: Path, state: Any, says: str) -> None:
    # {"request_states": 3} was "internal error: TypeError: 'int' object is not iterable"
    # (exit 70); a string was iterated and every label reported missing (E107)
    run = _helm_copy(tmp_path)
    (run / "scenario_state.json").write_text(json.dumps(state))
    with pytest.raises(InputError, match=f"scenario_state.json: {says}, not HELM's list"):
        read_run(run, metric="exact_match", cluster="passage_id")


def test_helm_directory_without_stats(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    with pytest.raises(InputError, match="is a directory"):
        read_run(tmp_path / "run", metric="exact_match")
    with pytest.raises(InputError, match="has no per_instance_stats.json"):
        read_run(tmp_path / "run", metric="exact_match", format="helm")


def test_a_directory_given_as_a_run_names_the_runs_it_holds(tmp_path: Path) -> None:
    # An lm-eval output directory (one samples file per task) and an Inspect log directory
    # were refused with "pass the log file itself" alone; the fix now names the candidates.
    lmeval = SHARED_FIXTURES / "lm-eval-0.4.13" / "baseline"
    with pytest.raises(InputError) as exc:
        read_run(lmeval, metric="acc")
    hint = exc.value.hint or ""
    assert "samples_passage_gen_" in hint and "samples_passage_mc_" in hint
    assert "results_" not in hint and "give one of them" in hint  # results hold no items
    logs = tmp_path / "logs"
    logs.mkdir()
    for name in ("a.eval", "b.eval", "c.eval", "d.eval", "notes.txt"):
        (logs / name).write_text("x")
    # a name that is not UTF-8 (a lone surrogate once decoded) is never offered: no UTF-8
    # report or GitHub output could hold it
    with open(os.path.join(os.fsencode(logs), b"0\xff.eval"), "wb") as f:
        f.write(b"x")
    with pytest.raises(InputError) as exc:
        read_run(logs, metric="match")
    assert (exc.value.hint or "").endswith("holds a.eval, b.eval, c.eval and 1 more; give one "
                                           "of them")
    helm = _helm_copy(tmp_path)
    (helm / "per_instance_stats.json").unlink()  # a HELM run dir: not "give run_spec.json"
    with pytest.raises(InputError) as exc:
        read_run(helm, metric="exact_match")
    assert "must contain per_instance_stats.json" in (exc.value.hint or "")


def test_lmeval_cluster_from_doc_and_missing_key(tmp_path: Path) -> None:
    (src,) = (SHARED_FIXTURES / "lm-eval-0.4.13" / "baseline").glob("samples_passage_mc_*")
    run = read_run(src, metric="acc", cluster="subject")
    assert run.clusters is not None and set(run.clusters.tolist()) >= {"arithmetic"}
    run = read_run(src, metric="acc", cluster="no_such_key")
    assert run.cluster_present is not None and not run.cluster_present.any()


def test_lmeval_samples_without_results_file_beside_it(tmp_path: Path) -> None:
    (src,) = (SHARED_FIXTURES / "lm-eval-0.4.13" / "baseline").glob("samples_passage_mc_*")
    p = tmp_path / src.name
    shutil.copy(src, p)
    run = read_run(p, metric="acc_norm")
    assert run.meta.harness_version is None and run.meta.task == "passage_mc"
    assert run.scores.mean() == pytest.approx(0.5)  # results file: acc_norm,none 0.5


def test_lmeval_results_file_that_cannot_be_read_is_recorded_not_skipped(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # An EIO on results_*.json dropped the harness version and fingerprint without a word.
    import errno
    import os

    from evalsig_core.doctor import diagnose
    from evalsig_core.readers import _io

    (src,) = (SHARED_FIXTURES / "lm-eval-0.4.13" / "baseline").glob("samples_passage_mc_*")
    (results,) = src.parent.glob("results_*.json")
    real = _io._open

    def failing(path: Any, mode: str) -> Any:
        if Path(path) == results:
            raise OSError(errno.EIO, os.strerror(errno.EIO), str(path))
        return real(path, mode)

    monkeypatch.setattr(_io, "_open", failing)
    run = read_run(src, metric="acc")
    assert run.meta.harness_version is None and "task_hash" not in run.meta.config
    ((message, fix),) = run.meta.unread_metadata
    assert message == f"{results}: exists but cannot be read: Input/output error"
    assert fix.startswith("the storage failed while reading")
    w220 = next(f for f in diagnose(run, run).findings if f.code == "W220")
    assert w220.message.startswith(f"baseline: {message};") and w220.hint == fix


@pytest.mark.parametrize(("content", "says"), [
    (b'{"lm_eval_version": "0.4', "invalid JSON at line 1"),  # truncated copy
    (b"[]", "holds a JSON list, not the object the harness writes"),
])
@pytest.mark.parametrize("harness", ["lm-eval", "helm"])
def test_a_metadata_file_that_cannot_be_parsed_is_recorded_not_skipped(
        harness: str, content: bytes, says: str, tmp_path: Path) -> None:
    # A corrupt results_*.json / run_spec.json dropped the fingerprint without a word too.
    from evalsig_core.doctor import diagnose

    if harness == "helm":
        src = _helm_copy(tmp_path)
        meta_file, metric = src / "run_spec.json", "exact_match"
    else:
        shutil.copytree(SHARED_FIXTURES / "lm-eval-0.4.13" / "baseline", tmp_path / "lm")
        (src,) = (tmp_path / "lm").glob("samples_passage_mc_*")
        (meta_file,) = src.parent.glob("results_*.json")
        metric = "acc"
    meta_file.write_bytes(content)
    run = read_run(src, metric=metric)
    assert run.n_records > 0 and "task_hash" not in run.meta.config
    ((message, fix),) = run.meta.unread_metadata
    assert message.startswith(f"{meta_file}: ") and says in message and fix
    w220 = [f for f in diagnose(run, run).findings if f.code == "W220"]  # one per role
    assert [f.message.split(":")[0] for f in w220] == ["baseline", "candidate"]
    assert w220[0].message.startswith(f"baseline: {message};") and w220[0].hint == fix


@pytest.mark.parametrize("values", [[0, 1, 9, 10, 99, 100, 12345, 7], [5], [3, -2],
                                    [2**63 - 1, 0, 10], list(range(0, 100000, 7)),
                                    [2**63, 2**64 - 1]])  # uint64 hash ids wrapped negative
def test_integer_ids_become_the_same_strings_as_str(values: list[int]) -> None:
    import numpy as np

    from evalsig_core.numtext import int_strings

    assert int_strings(np.asarray(values)).tolist() == [str(v) for v in values]


@pytest.mark.parametrize("layout", ["json", "jsonl"])
def test_integer_ids_beyond_2_64_stay_distinct(tmp_path: Path, layout: str) -> None:
    # orjson parses integers >= 2**64 as floats: 2**64 + 1 and 2**64 + 2 became the same
    # 1.8446744073709552e+19 and the doctor saw false duplicates (E104).
    ids = [2**64 + i for i in range(1, 4)]
    items = [{"item_id": i, "score": 1.0} for i in ids]
    if layout == "json":
        p = tmp_path / "r.json"
        p.write_text(json.dumps({"run_id": "r", "metric_name": "accuracy", "items": items}))
    else:
        p = tmp_path / "r.jsonl"
        p.write_text("\n".join(json.dumps(it) for it in items) + "\n")
    assert read_run(p, metric="accuracy").item_ids.tolist() == [str(i) for i in ids]


def test_lmeval_doc_ids_beyond_2_64_stay_distinct(tmp_path: Path) -> None:
    (src,) = (SHARED_FIXTURES / "lm-eval-0.4.13" / "baseline").glob("samples_passage_mc_*")
    lines = src.read_text().splitlines()
    out = []
    for k, line in enumerate(lines):
        rec = json.loads(line)
        rec["doc_id"] = 2**64 + k
        out.append(json.dumps(rec))
    p = tmp_path / src.name
    p.write_text("\n".join(out) + "\n")
    run = read_run(p, metric="acc_norm")
    assert run.item_ids.tolist()[:3] == [str(2**64 + k) for k in range(3)]
    assert len(set(run.item_ids.tolist())) == len(lines)


@pytest.mark.parametrize("stats", [-1, True, "exact_match", {"name": "exact_match"}])
def test_helm_stats_that_are_not_a_list_are_an_error(tmp_path: Path, stats: Any) -> None:
    # `stats: -1` was "internal error: TypeError: 'int' object is not iterable" (exit 70);
    # a string or an object was iterated character by character or key by key.
    def spoil(doc: list[dict[str, Any]]) -> None:
        doc[1]["stats"] = stats
    with pytest.raises(InputError, match=r"item 'id1': stats is .*, not a list"):
        read_run(_helm_copy(tmp_path, spoil), metric="exact_match")


@pytest.mark.parametrize(("section", "value", "says"), [
    ("configs", [1], "'configs' is [1]"), ("versions", "x", "'versions' is 'x'"),
    ("task_hashes", 3, "'task_hashes' is 3"), ("n-shot", [], "'n-shot' is []"),
    ("configs", {"passage_mc": [1]}, "configs['passage_mc'] is [1]"),
])
def test_a_results_section_of_another_shape_is_recorded_not_an_internal_error(
        section: str, value: Any, says: str, tmp_path: Path) -> None:
    # {"configs": [1]} in results_*.json was "internal error: AttributeError: 'list' object
    # has no attribute 'get'" (exit 70) for a file that is read for metadata only.
    shutil.copytree(SHARED_FIXTURES / "lm-eval-0.4.13" / "baseline", tmp_path / "lm")
    (src,) = (tmp_path / "lm").glob("samples_passage_mc_*")
    (meta_file,) = src.parent.glob("results_*.json")
    doc = json.loads(meta_file.read_text())
    doc[section] = value
    meta_file.write_text(json.dumps(doc))
    run = read_run(src, metric="acc")
    assert run.n_records == 40 and run.meta.config["harness_version"] == "0.4.13"
    ((message, fix),) = run.meta.unread_metadata
    assert message.startswith(f"{meta_file}: ") and says in message and fix


@pytest.mark.parametrize("name", [1.0, -1, {"a": 1}])
def test_a_helm_run_spec_name_that_is_not_a_string_is_read_as_text(tmp_path: Path,
                                                                    name: Any) -> None:
    # run_spec.json {"name": 1.0} reached RunMeta.run_id: "internal error: ValidationError"
    # (exit 70) for a file read for metadata only.
    run = _helm_copy(tmp_path)
    spec = json.loads((run / "run_spec.json").read_text())
    (run / "run_spec.json").write_text(json.dumps({**spec, "name": name}))
    assert read_run(run, metric="exact_match").meta.run_id == str(name)


def test_a_csv_error_cell_that_says_no_error_keeps_the_row(tmp_path: Path) -> None:
    # pandas writes a boolean error column as False/True: every "False" row was excluded as
    # errored (W202 "3 errored samples"), leaving only the rows whose cell was empty
    p = tmp_path / "r.csv"
    p.write_text("item_id,score,error\na,1,False\nb,0,True\nc,1,\nd,0,0\ne,1,no\n"
                 "f,0,timeout\n")
    run = read_run(p)
    assert run.item_ids.tolist() == ["a", "c", "d", "e"]
    assert run.meta.errored_items == ("b", "f")
