"""An S3 4xx answer that a retry cannot change fails at once (exit 74, one line naming the key
and the S3 error code); only the answers botocore itself retries are retried (real SeaweedFS
behind a faulty proxy, real Prefect API).

Before: every 4xx but 403/404/409/412 was a transient storage error: boto's sends and the
flow's task retries went on for about 7 s before exit 74 (16 requests for one 400).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from evalsig_core import StorageError
from evalsig_flows.s3 import retryable
from tests.conftest import EXAMPLES
from tests.flows.conftest import S3Server
from tests.flows.faulty_proxy import Faults, faulty_proxy
from tests.flows.test_s3_faults import s3_through

REPORT = r"^PUT .*/reports/.*/report\.json"


class FirstN(Faults):
    """Fail the first `rate` requests matching `match` with the first of `kinds`."""

    def pick(self, line: str) -> str | None:
        with self._lock:
            if not re.search(self.match, line) or len(self.injected) >= self.rate:
                return None
            self.injected.append(f"{self.kinds[0]} {line}")
            return self.kinds[0]


@pytest.mark.parametrize(("code", "status", "expected"), [
    ("InvalidArgument", "400", False), ("InvalidBucketName", "400", False),
    ("MissingContentLength", "411", False), ("EntityTooLarge", "413", False),
    ("RequestTimeTooSkewed", "403", False), ("InvalidRange", "416", False),
    ("RequestTimeout", "400", True), ("SlowDown", "503", True), ("SlowDown", "400", True),
    ("Throttling", "400", True), ("", "429", True), ("BadDigest", "400", True),
    ("InternalError", "500", True), ("", "509", True), ("", "408", True),
])
def test_the_answers_botocore_retries_are_the_retryable_ones(code: str, status: str,
                                                            expected: bool) -> None:
    # botocore.retries.standard's transient/throttling codes and statuses, and
    # botocore/data/_retry.json's definitions and S3 policies (RequestTimeout, BadDigest)
    assert retryable(code, status) is expected


def _gate(uri: str) -> Any:
    from evalsig_flows.flows import gate_flow

    return gate_flow(baseline=str(EXAMPLES / "baseline.json"),
                     candidate=str(EXAMPLES / "candidate.json"), metric="accuracy",
                     cluster="passage_id", min_delta=0.005, store=uri, name="refused",
                     return_state=True)


@pytest.mark.usefixtures("prefect_api")
@pytest.mark.parametrize("kind", ["400 InvalidArgument", "400 InvalidBucketName",
                                  "411 MissingContentLength", "413 EntityTooLarge"])
def test_a_refused_request_fails_at_once_naming_the_key_and_the_code(
        s3_server: S3Server, s3_uri: str, kind: str) -> None:
    faults = FirstN(rate=100, kinds=(kind,), match=REPORT)
    with faulty_proxy(s3_server.endpoint, faults) as proxy, s3_through(proxy):
        state = _gate(s3_uri)
    assert len(faults.injected) == 1  # neither boto nor the task retried it
    assert state.is_failed()
    status, code = kind.split()
    assert state.message.startswith(f"STORAGE ERROR (exit 74): {s3_uri}/reports/")
    assert f"refused the write: HTTP {status} {code} (injected fault)" in state.message
    assert "\n" not in state.message


@pytest.mark.usefixtures("prefect_api")
def test_a_retryable_4xx_is_retried_to_success(s3_server: S3Server, s3_uri: str) -> None:
    # 4 answers exhaust boto's sends (EVALSIG_S3_MAX_ATTEMPTS=3 retries); the task retries
    faults = FirstN(rate=4, kinds=("400 RequestTimeout",), match=REPORT)
    with faulty_proxy(s3_server.endpoint, faults) as proxy, s3_through(proxy):
        state = _gate(s3_uri)
    assert len(faults.injected) == 4
    assert state.is_completed(), state.message


def test_a_refused_head_without_a_body_names_its_status_once(s3_server: S3Server,
                                                             s3_uri: str) -> None:
    from evalsig_flows.s3 import S3Store

    store = S3Store.from_uri(s3_uri, settings=s3_server.settings())  # type: ignore[arg-type]
    store.put("k.json", b"{}")
    faults = FirstN(rate=100, kinds=("400 InvalidArgument",), match=r"^HEAD .*/k\.json")
    with faulty_proxy(s3_server.endpoint, faults) as proxy:
        through = S3Store.from_uri(s3_uri, settings=s3_server.settings(  # type: ignore[arg-type]
            endpoint_url=proxy))
        with pytest.raises(StorageError) as info:
            through.head("k.json")
    assert len(faults.injected) == 1
    line = info.value.one_line()  # botocore names a bodiless 400 "400", message "Bad Request"
    assert line.startswith(f"{s3_uri}/k.json: {proxy} refused the read: HTTP 400 (Bad Request)")
    assert "400 400" not in line
    assert getattr(info.value, "permanent", False)


def test_the_retry_rule_survives_a_botocore_without_its_retry_data(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # the rule reads botocore's data/_retry.json; a botocore that moved or reshaped it made
    # every S3 error conversion an internal error (KeyError): now S3's own two codes stand in
    from botocore.loaders import Loader

    import evalsig_flows.s3 as s3

    def missing(self: Loader, name: str) -> None:
        raise KeyError(name)

    monkeypatch.setattr(Loader, "load_data", missing)
    s3._retryable_answers.cache_clear()
    try:
        assert retryable("RequestTimeout", "400") and retryable("BadDigest", "400")
        assert retryable("SlowDown", "503") and retryable("", "500")
        assert not retryable("InvalidArgument", "400") and not retryable("EntityTooLarge", "413")
    finally:
        s3._retryable_answers.cache_clear()
