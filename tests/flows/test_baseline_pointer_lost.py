"""A deleted `current.json` must not restart the baseline's history as if nothing was promoted.

Without the pointer, a promotion used to count as the first one: sequence 1, no previous entry,
and no check of the base it was gated against, so a stale promotion (a replay, a redelivery)
could move the baseline back to an older version. Versions carry no order, so the sequence
cannot be derived from them: the promotion is refused with the file and the fix.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evalsig_core import InputError
from evalsig_flows.baselines import (
    baseline_prefix,
    fetch_baseline,
    promote,
    put_version,
    read_pointer,
)
from evalsig_flows.store import LocalStore, Store, open_store
from tests.conftest import EXAMPLES

PREFIX = baseline_prefix("s", "t", "m")
KW: dict[str, Any] = {"suite": "s", "task": "t", "metric": "m", "ext": "json", "source": {}}


def _run(i: int) -> bytes:
    return json.dumps({"run_id": f"r{i}", "items": [{"item_id": "a", "score": i}]}).encode()


def _sha(i: int) -> str:
    import hashlib

    return hashlib.sha256(_run(i)).hexdigest()


def _delete_pointer(store: Store, prefix: str = PREFIX) -> None:
    key = f"{prefix}/current.json"
    if isinstance(store, LocalStore):
        (store.root / key).unlink()
    else:  # S3Store: what `aws s3 rm` does
        store.client().delete_object(Bucket=store.bucket, Key=store._key(key))  # type: ignore[attr-defined]
    assert store.head(key) is None


@pytest.fixture(params=["file", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    uri = tmp_path.as_uri() if request.param == "file" else request.getfixturevalue("s3_uri")
    return open_store(uri)


def test_a_deleted_pointer_never_lets_a_stale_promotion_move_the_baseline_back(
        store: Store) -> None:
    promote(store, data=_run(1), expected_base=None, decision_id="d1", **KW)
    promote(store, data=_run(2), expected_base=_sha(1), decision_id="d2", **KW)
    promote(store, data=_run(3), expected_base=_sha(2), decision_id="d3", **KW)
    _delete_pointer(store)
    # a replay of the promotion of run 2 (gated against run 1): refused, nothing written
    with pytest.raises(InputError) as err:
        promote(store, data=_run(2), expected_base=_sha(1), decision_id="d2", **KW)
    line = err.value.one_line()
    assert f"{store.url(PREFIX + '/current.json')}: " in line
    assert "the baseline pointer is missing but 2 other versions are stored" in line
    assert "restore current.json from the bucket's object versions" in line
    # the store cannot tell a deleted pointer from the version of a first promotion killed
    # between its version and pointer writes (its replay completes it): the line names both
    assert "either current.json was deleted" in line
    assert "a first promotion there wrote its version but not its pointer" in line
    assert store.head(PREFIX + "/current.json") is None


def test_a_gate_against_a_deleted_pointer_names_the_file_and_the_fix(store: Store) -> None:
    promote(store, data=_run(1), expected_base=None, decision_id="d1", **KW)
    _delete_pointer(store)
    with pytest.raises(InputError, match="pointer is missing but 1 other version is stored"):
        fetch_baseline(store, PREFIX)


def test_a_first_promotion_killed_before_its_pointer_write_is_completed_by_a_replay(
        store: Store) -> None:
    put_version(store, PREFIX, _run(1), "json")  # killed here: a version, no pointer
    result = promote(store, data=_run(1), expected_base=None, decision_id="d1", **KW)
    assert (result.status, result.pointer.sequence) == ("promoted", 1)


def test_a_first_promotion_still_needs_no_pointer(store: Store) -> None:
    result = promote(store, data=_run(1), expected_base=None, decision_id="d1", **KW)
    assert (result.status, result.pointer.sequence, result.pointer.previous) == (
        "promoted", 1, None)
    assert read_pointer(store, PREFIX)[0] == result.pointer


@pytest.mark.usefixtures("prefect_api")
def test_the_promotion_flow_refuses_and_audits_a_deleted_pointer(tmp_path: Path) -> None:
    from evalsig_flows.audit_log import recent_records
    from tests.flows.test_ci_and_promotion_flows import PREFIX as DEMO
    from tests.flows.test_ci_and_promotion_flows import SHA, ci, seed

    uri = tmp_path.as_uri()
    store = open_store(uri)
    seed(store)
    assert ci(uri, str(EXAMPLES / "candidate.json"), 81).is_completed()
    promote(store, suite="demo", task="qa", metric="accuracy",
            data=(EXAMPLES / "regressed.json").read_bytes(), ext="json",
            expected_base=read_pointer(store, DEMO)[0].current.version_sha256,
            decision_id="elsewhere", source={})  # the baseline moved on after the gate
    _delete_pointer(store, DEMO)
    from evalsig_flows.flows import promote_baseline_flow

    state = promote_baseline_flow(repo="acme/model", commit=SHA, store=uri, return_state=True)
    assert state.is_failed() and state.message.startswith("INPUT ERROR (exit 65): ")
    assert "current.json: the baseline pointer is missing" in state.message
    refusal = next(recent_records(store))[1]
    assert (refusal.verdict, refusal.exit_code) == ("REFUSED", 65)
    assert store.head(DEMO + "/current.json") is None


@pytest.mark.usefixtures("prefect_api")
def test_a_deleted_pointer_in_a_set_is_refused_before_any_pointer_moves(tmp_path: Path) -> None:
    from tests.flows.test_promotion_safety import ALLOW, current, gate, promote_flow, seed

    uri = (tmp_path / "store").as_uri()
    store = open_store(uri)
    for task in ("qa", "math"):
        seed(store, task=task)
        assert gate(uri, task, ALLOW).is_completed()
    before = current(store, "math")
    _delete_pointer(store, baseline_prefix("demo", "qa", "accuracy"))  # math moves first
    state = promote_flow(uri)
    assert state.is_failed() and "the baseline pointer is missing" in state.message
    assert "already promoted in this run" not in state.message
    assert current(store, "math") == before
