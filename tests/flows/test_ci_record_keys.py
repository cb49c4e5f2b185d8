"""Where CI gate records are stored, and how promotion reads them back (no flow run needed).

The tasks' functions (`.fn`) run directly against file:// and SeaweedFS (S3).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from evalsig_core import InputError, UsageError
from evalsig_flows.baselines import PromotionRefused
from evalsig_flows.ci_records import GateRecord, read_records, record_gate, record_keys
from evalsig_flows.store import open_store

SHA = "0123456789abcdef0123456789abcdef01234567"


def rec(**over: Any) -> GateRecord:
    base: dict[str, Any] = {"decision_id": None, "verdict": "PENDING", "repo": "acme/model",
                            "pr_number": 3, "commit": SHA, "suite": "demo", "task": "qa",
                            "metric": "accuracy", "time": datetime(2026, 1, 2, tzinfo=UTC)}
    return GateRecord(**(base | over))


def read(uri: str, commit: str | None = SHA, pr: int | None = None,
         narrow: tuple[str | None, str | None, str | None] = (None, None, None),
         ) -> list[GateRecord]:
    return read_records.fn(uri, "acme/model", commit, pr, narrow)


@pytest.fixture(params=["file", "s3"])
def uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return tmp_path.as_uri() if request.param == "file" else request.getfixturevalue("s3_uri")


def test_a_record_is_keyed_by_commit_and_pr_and_its_entry() -> None:
    assert record_keys(rec()) == [f"ci/acme/model/commits/{SHA}/demo/qa/accuracy.json",
                                  "ci/acme/model/prs/3/demo/qa/accuracy.json"]
    assert record_keys(rec(pr_number=None)) == [
        f"ci/acme/model/commits/{SHA}/demo/qa/accuracy.json"]


def test_names_outside_the_safe_set_are_escaped_into_one_segment() -> None:
    key = record_keys(rec(task="qa/v2", metric="pass@1", pr_number=None))[0]
    assert key == f"ci/acme/model/commits/{SHA}/demo/qa%2Fv2/pass%401.json"


@pytest.mark.parametrize("over", [{"task": ".."}, {"suite": "."}, {"metric": ""},
                                  {"task": "x" * 201}, {"repo": "../model"},
                                  {"repo": "acme/.."}, {"commit": "NOTHEX"},
                                  {"pr_number": 0}])
def test_unsafe_names_are_refused(over: dict[str, Any]) -> None:
    with pytest.raises(UsageError):
        record_keys(rec(**over))


def test_escaped_names_round_trip_through_the_store(uri: str) -> None:
    for task in ("qa", "qa/v2", "pass@1 ü"):
        record_gate.fn(uri, rec(task=task))
    assert sorted(r.task for r in read(uri)) == sorted(["qa", "qa/v2", "pass@1 ü"])
    assert [r.task for r in read(uri, commit=None, pr=3, narrow=(None, "qa/v2", None))] == [
        "qa/v2"]


def test_a_later_gate_of_the_same_entry_replaces_only_that_entry(uri: str) -> None:
    record_gate.fn(uri, rec(task="qa"))
    record_gate.fn(uri, rec(task="math"))
    record_gate.fn(uri, rec(task="qa", verdict="REJECT"))
    assert {r.task: r.verdict for r in read(uri)} == {"qa": "REJECT", "math": "PENDING"}


def test_a_record_stored_under_another_entrys_key_is_refused(tmp_path: Path) -> None:
    """E.g. 'QA' and 'qa' sharing one file on a case-insensitive file system."""
    uri = tmp_path.as_uri()
    record_gate.fn(uri, rec())
    key = record_keys(rec())[0]
    open_store(uri).put(key, (rec(task="QA").model_dump_json() + "\n").encode())
    with pytest.raises(InputError, match="not the CI gate record of the entry its key names"):
        read(uri)


def test_a_corrupt_record_is_one_clear_input_error(tmp_path: Path) -> None:
    uri = tmp_path.as_uri()
    open_store(uri).put(record_keys(rec())[0], b"{not json")
    with pytest.raises(InputError, match=r"accuracy\.json: not a CI gate record"):
        read(uri)


def test_with_a_commit_and_a_pr_the_pr_counts_only_if_last_gated_on_that_commit(
        tmp_path: Path) -> None:
    uri = tmp_path.as_uri()
    record_gate.fn(uri, rec(commit="feedbeef"))  # PR 3 was gated on another commit
    with pytest.raises(PromotionRefused, match="last gated on different commits"):
        read(uri, commit=SHA, pr=3)
    assert [r.commit for r in read(uri, commit="feedbeef", pr=3)] == ["feedbeef"]


def test_nothing_recorded_is_a_refusal_naming_commit_and_pr(tmp_path: Path) -> None:
    with pytest.raises(PromotionRefused, match=f"no CI gate decision for acme/model commit "
                                               f"{SHA} PR #3"):
        read(tmp_path.as_uri(), pr=3)


def test_artifact_keys_of_different_entries_never_collide() -> None:
    # "pass@1" and "pass-1" (or "QA" and "qa") slugged to one key, so two entries of one PR
    # shared (and overwrote) one "latest" Prefect artifact.
    import re

    from evalsig_flows.tasks import artifact_key

    names = ["pass@1", "pass-1", "pass 1", "QA", "qa", "f1/macro", "f1-macro", "ü", "u",
             "exact_match,strict-match", "x" * 150, "x" * 151]
    keys = [artifact_key("evalsig-report", "ci-acme-pr-1-demo", n) for n in names]
    assert len(set(keys)) == len(keys)
    assert all(re.fullmatch(r"[a-z0-9-]{1,100}", k) for k in keys)
    # a name that already is a key stays readable
    assert artifact_key("evalsig-report", "ci-acme-model-pr-7-demo-qa-accuracy") == (
        "evalsig-report-ci-acme-model-pr-7-demo-qa-accuracy")
