"""Audit objects written under S3 Object Lock (COMPLIANCE), against a real SeaweedFS.

The session's SeaweedFS gets one more bucket, created with Object Lock enabled (as the
CloudFormation template creates the store bucket when AuditLockDays > 0). SeaweedFS 4.48
stores and enforces the retention: a locked version cannot be deleted nor its retention
shortened, which the first test checks so that "locked" here means what it means on AWS.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from evalsig_core import StorageError
from evalsig_core.audit import AUDIT_HEAD_KEY
from evalsig_flows.audit_log import append_record
from evalsig_flows.s3 import LOCK_MARGIN, S3Settings, S3Store, is_locked_audit_key, s3_settings
from evalsig_flows.store import PreconditionFailed, open_store
from tests.flows.conftest import S3Server

LOCKED_BUCKET = "evalsig-tests-locked"
DAYS = 7


@pytest.fixture(scope="module")
def locked_bucket(s3_server: S3Server) -> str:
    """A bucket created with Object Lock enabled (once per module)."""
    admin = S3Store(s3_server.bucket, settings=s3_server.settings())  # type: ignore[arg-type]
    client = admin.client()
    names = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
    if LOCKED_BUCKET not in names:
        client.create_bucket(Bucket=LOCKED_BUCKET, ObjectLockEnabledForBucket=True)
    conf = client.get_object_lock_configuration(Bucket=LOCKED_BUCKET)
    assert conf["ObjectLockConfiguration"]["ObjectLockEnabled"] == "Enabled"
    return LOCKED_BUCKET


def _store(server: S3Server, bucket: str, days: int = DAYS) -> S3Store:
    return S3Store(bucket, f"t-{uuid.uuid4().hex[:8]}",
                   settings=server.settings(audit_lock_days=days))  # type: ignore[arg-type]


def _fields(decision_id: str) -> dict[str, Any]:
    return {"decision_id": decision_id, "decision": "gate", "time": datetime.now(UTC),
            "verdict": "REJECT", "exit_code": 1}


def _lock(store: S3Store, key: str) -> tuple[str | None, datetime | None]:
    resp = store.client().head_object(Bucket=store.bucket, Key=store._key(key))
    return resp.get("ObjectLockMode"), resp.get("ObjectLockRetainUntilDate")


def test_audit_records_and_claims_are_written_compliance_locked(
        s3_server: S3Server, locked_bucket: str) -> None:
    store = _store(s3_server, locked_bucket)
    before = datetime.now(UTC)
    append_record(store, _fields("d-1"), once=True)  # claim, record, head, linked marker
    after = datetime.now(UTC)
    keys = store.list("audit/")
    claims = [k for k in keys if k.startswith("audit/claims/")]
    records = [k for k in keys if k not in claims and k != AUDIT_HEAD_KEY]
    assert sorted(claims) == ["audit/claims/d-1.json", "audit/claims/d-1.linked.json"]
    assert len(records) == 1 and records[0].endswith("/d-1-1.json")
    for key in claims + records:
        mode, until = _lock(store, key)
        assert mode == "COMPLIANCE", key
        assert until is not None
        low = before + timedelta(days=DAYS) + LOCK_MARGIN - timedelta(seconds=1)
        high = after + timedelta(days=DAYS) + LOCK_MARGIN + timedelta(seconds=2)
        assert low <= until <= high, (key, until)
    retention = store.client().get_object_retention(Bucket=store.bucket,
                                                    Key=store._key(records[0]))["Retention"]
    assert retention["Mode"] == "COMPLIANCE"
    # COMPLIANCE for real: the locked version can be neither deleted nor unlocked early
    version = store.client().head_object(Bucket=store.bucket,
                                         Key=store._key(records[0]))["VersionId"]
    with pytest.raises(Exception, match="AccessDenied"):
        store.client().delete_object(Bucket=store.bucket, Key=store._key(records[0]),
                                     VersionId=version)
    with pytest.raises(Exception, match="AccessDenied"):
        store.client().put_object_retention(
            Bucket=store.bucket, Key=store._key(records[0]),
            Retention={"Mode": "COMPLIANCE", "RetainUntilDate": after + timedelta(days=1)})


def test_the_head_and_non_audit_keys_are_never_locked(s3_server: S3Server,
                                                      locked_bucket: str) -> None:
    store = _store(s3_server, locked_bucket)
    append_record(store, _fields("d-1"))
    for key in ("baselines/default/t/accuracy/current.json", "candidates/default/c.json",
                "reports/2026/11/30/d-1.json", "ci/acme%2Fevals/commits/abc/x.json",
                "audit.json", "auditx/a/b.json"):
        store.put(key, b"{}")
    for key in store.list(""):
        assert _lock(store, key)[0] == (
            "COMPLIANCE" if is_locked_audit_key(key) else None), key
    assert _lock(store, AUDIT_HEAD_KEY) == (None, None)


def test_conditional_writes_still_work_on_locked_audit_objects(s3_server: S3Server,
                                                               locked_bucket: str) -> None:
    store = _store(s3_server, locked_bucket)
    store.put("audit/claims/x.json", b"1", if_none_match=True)
    with pytest.raises(PreconditionFailed):
        store.put("audit/claims/x.json", b"2", if_none_match=True)
    assert store.get("audit/claims/x.json") == b"1"
    # the chain: record slots If-None-Match, the head If-None-Match then If-Match
    for i in range(3):
        append_record(store, _fields(f"d-{i}"))
    assert b'"sequence":3' in store.get(AUDIT_HEAD_KEY).replace(b" ", b"")


def test_locked_puts_carry_the_checksum_s3_requires_with_lock_parameters(
        s3_server: S3Server, locked_bucket: str) -> None:
    """AWS refuses a PutObject with Object Lock parameters without Content-MD5 or
    x-amz-sdk-checksum-algorithm; what the installed botocore puts on the wire, captured on
    a real call."""
    store = _store(s3_server, locked_bucket)
    sent: list[dict[str, str]] = []

    def capture(request: Any, **_: Any) -> None:
        sent.append({k.lower(): (v.decode() if isinstance(v, bytes) else v)
                     for k, v in request.headers.items()})

    events = store.client().meta.events  # the process's shared client: unhook it after
    events.register("before-send.s3.PutObject", capture)
    try:
        store.put("audit/2026/11/30/d-1-1.json", b'{"x": 1}', if_none_match=True)
        store.put("reports/2026/11/30/d-1.json", b"{}")
    finally:
        events.unregister("before-send.s3.PutObject", capture)
    locked, plain = sent
    assert locked["x-amz-object-lock-mode"] == "COMPLIANCE"
    assert "x-amz-object-lock-retain-until-date" in locked
    assert locked["x-amz-sdk-checksum-algorithm"] == "SHA256"
    assert "x-amz-checksum-sha256" in locked and locked["if-none-match"] == "*"
    assert not any(k.startswith("x-amz-object-lock") for k in plain)


def test_lock_on_a_bucket_without_object_lock_is_one_clear_permanent_error(
        s3_server: S3Server) -> None:
    store = _store(s3_server, s3_server.bucket)  # the session bucket: no Object Lock
    store.put("reports/r.json", b"{}")  # not an audit key: unaffected
    with pytest.raises(StorageError, match="has no Object Lock") as err:
        store.put("audit/2026/11/30/d-1-1.json", b"{}", if_none_match=True)
    assert "\n" not in str(err.value) and getattr(err.value, "permanent", False)
    assert "EVALSIG_S3_AUDIT_LOCK_DAYS=0" in (err.value.hint or "")


def test_with_the_setting_off_nothing_is_locked(s3_server: S3Server,
                                                locked_bucket: str) -> None:
    store = _store(s3_server, locked_bucket, days=0)
    append_record(store, _fields("d-1"), once=True)
    assert all(_lock(store, k)[0] is None for k in store.list("audit/"))


@pytest.fixture
def lock_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("EVALSIG_S3_AUDIT_LOCK_DAYS", str(DAYS))
    s3_settings.cache_clear()
    yield
    monkeypatch.undo()
    s3_settings.cache_clear()


@pytest.mark.usefixtures("lock_env")
def test_flows_take_the_lock_from_evalsig_s3_audit_lock_days(s3_server: S3Server,
                                                            locked_bucket: str) -> None:
    store = open_store(f"s3://{locked_bucket}/env-{uuid.uuid4().hex[:8]}")
    assert isinstance(store, S3Store) and store.settings.audit_lock_days == DAYS
    append_record(store, _fields("d-1"))
    [record] = [k for k in store.list("audit/") if k != AUDIT_HEAD_KEY]
    assert _lock(store, record)[0] == "COMPLIANCE"


def test_a_negative_lock_setting_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVALSIG_S3_AUDIT_LOCK_DAYS", "-1")
    with pytest.raises(ValueError, match="audit_lock_days"):
        S3Settings()
