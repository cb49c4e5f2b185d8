"""S3 faults through a proxy that drops or 500s requests: retried to success, or exit 74 clean."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from evalsig_core.audit import AUDIT_HEAD_KEY, verify_chain
from evalsig_flows.audit_log import recent_records
from evalsig_flows.baselines import read_pointer
from evalsig_flows.store import open_store
from tests.conftest import EXAMPLES
from tests.flows.conftest import S3Server
from tests.flows.faulty_proxy import Faults, faulty_proxy
from tests.flows.test_ci_and_promotion_flows import PREFIX, SHA, ci, seed

pytestmark = pytest.mark.usefixtures("prefect_api")


@contextmanager
def s3_through(endpoint: str) -> Iterator[None]:
    """Point the process-wide S3 settings at `endpoint` for the duration."""
    from evalsig_flows.s3 import s3_settings

    old = os.environ["EVALSIG_S3_ENDPOINT_URL"]
    os.environ["EVALSIG_S3_ENDPOINT_URL"] = endpoint
    s3_settings.cache_clear()
    try:
        yield
    finally:
        os.environ["EVALSIG_S3_ENDPOINT_URL"] = old
        s3_settings.cache_clear()


def test_flows_retry_through_dropped_and_failed_requests(s3_server: S3Server,
                                                         s3_uri: str) -> None:
    from evalsig_flows.flows import promote_baseline_flow

    seed(open_store(s3_uri))
    faults = Faults(rate=0.25, seed=7)
    with faulty_proxy(s3_server.endpoint, faults) as proxy, s3_through(proxy):
        gated = ci(s3_uri, str(EXAMPLES / "candidate.json"), 51)
        assert gated.is_completed(), gated.message
        promoted = promote_baseline_flow(repo="acme/model", commit=SHA, store=s3_uri,
                                         return_state=True)
        assert promoted.is_completed(), promoted.message
    assert len(faults.injected) >= 3  # the faults did happen
    store = open_store(s3_uri)
    pointer = read_pointer(store, PREFIX)[0]
    assert pointer is not None and pointer.current.version_sha256 == gated.result()[
        "candidate"]["sha256"]
    assert verify_chain(store.get(AUDIT_HEAD_KEY), store.get).ok
    assert [r.verdict for _, r in recent_records(store)][:2] == ["PROMOTED", "ALLOW"]


def test_a_pointer_write_that_always_fails_is_exit_74_and_changes_nothing(
        s3_server: S3Server, s3_uri: str) -> None:
    from evalsig_flows.flows import promote_baseline_flow

    seed(open_store(s3_uri))
    gated = ci(s3_uri, str(EXAMPLES / "candidate.json"), 52)
    assert gated.is_completed(), gated.message
    store = open_store(s3_uri)
    before = read_pointer(store, PREFIX)[0]
    n_before = len(list(recent_records(store)))
    faults = Faults(rate=1.0, kinds=("500",), match=r"^PUT .*/current\.json")
    with faulty_proxy(s3_server.endpoint, faults) as proxy, s3_through(proxy):
        state = promote_baseline_flow(repo="acme/model", commit=SHA, store=s3_uri,
                                      return_state=True)
    assert state.is_failed()
    assert state.message.startswith("STORAGE ERROR (exit 74): ")
    assert "\n" not in state.message
    assert faults.injected
    assert read_pointer(store, PREFIX)[0] == before
    assert verify_chain(store.get(AUDIT_HEAD_KEY), store.get).ok
    assert len(list(recent_records(store))) == n_before  # no promotion recorded


@pytest.mark.parametrize(("env", "needle"), [
    ({"EVALSIG_S3_SECRET_ACCESS_KEY": "wrong-secret"}, "access denied"),
    ({}, "bucket 'evalsig-missing-bucket' does not exist"),
])
def test_wrong_credentials_or_a_missing_bucket_fail_the_flow_with_one_clear_line(
        s3_server: S3Server, env: dict[str, str], needle: str) -> None:
    from evalsig_flows.flows import gate_flow
    from evalsig_flows.s3 import s3_settings

    uri = "s3://evalsig-missing-bucket/x" if not env else f"s3://{s3_server.bucket}/x"
    old = {k: os.environ[k] for k in env}
    os.environ.update(env)
    s3_settings.cache_clear()
    try:
        state = gate_flow(baseline=str(EXAMPLES / "baseline.json"),
                          candidate=str(EXAMPLES / "candidate.json"), min_delta=0.005,
                          store=uri, return_state=True)
    finally:
        os.environ.update(old)
        s3_settings.cache_clear()
    assert state.is_failed()
    assert state.message.startswith("STORAGE ERROR (exit 74): ") and needle in state.message
    assert "Traceback" not in state.message and "\n" not in state.message
