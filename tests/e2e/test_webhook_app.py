"""The webhook receiver's contract, in-process: Starlette's TestClient and a fake run creator.

The same behaviours against real processes (uvicorn + a Prefect server) are in
test_webhook_stack.py; here each rule is pinned on its own.
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from pathlib import Path
from typing import Any

import pytest

with warnings.catch_warnings():  # starlette 1.x nudges towards httpx2; httpx is what ships
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from evalsig_core import UsageError
from evalsig_flows.github_events import RunCreationError, RunRef, event_key, route_event
from evalsig_flows.webhook import WebhookSettings, create_app, main, sign

SECRET = "It's a Secret to Everybody"
EVENTS = Path(__file__).resolve().parents[2] / "infra" / "local" / "events"


class FakeCreator:
    """Records each creation; the same idempotency key returns the same run (as Prefect does),
    in the state `end(key, state)` gave it (SCHEDULED when new)."""

    def __init__(self, error: RunCreationError | None = None) -> None:
        self.calls: list[tuple[str, dict[str, Any], str]] = []
        self.runs: dict[str, RunRef] = {}
        self.error = error

    async def __call__(self, deployment: str, parameters: dict[str, Any], key: str,
                       delivery: str) -> RunRef:
        self.calls.append((deployment, parameters, key))
        if self.error is not None:
            raise self.error
        if key in self.runs:
            return dataclasses.replace(self.runs[key], created=False)
        run = self.runs[key] = RunRef(f"run-{len(self.runs)}", "brave-owl", deployment,
                                      "SCHEDULED", "Scheduled", created=True,
                                      delivery=delivery)
        return run

    def end(self, key: str, state: str, name: str | None = None) -> None:
        self.runs[key] = dataclasses.replace(self.runs[key], state=state,
                                             state_name=name or state.capitalize())


def settings(**kw: Any) -> WebhookSettings:
    return WebhookSettings.load({}, secret=SECRET, **kw)


def client(creator: FakeCreator, **kw: Any) -> TestClient:
    return TestClient(create_app(settings(**kw), creator))


def post(c: TestClient, event: str, body: bytes, *, delivery: str = "d-1",
         signature: str | None = None, **headers: str) -> Any:
    hdrs = {"X-GitHub-Event": event, "X-GitHub-Delivery": delivery,
            "X-Hub-Signature-256": signature or sign(SECRET, body),
            "Content-Type": "application/json", **headers}
    return c.post("/github", content=body, headers=hdrs)


def sample(name: str) -> bytes:
    return (EVENTS / f"{name}.json").read_bytes()


PR_KEY = event_key("evalsig-ci-gate/evalsig-ci-gate", sample("pull_request"))
PUSH_KEY = event_key("evalsig-promote/evalsig-promote", sample("push"))


def test_signature_matches_githubs_documented_example() -> None:
    # docs.github.com "Validating webhook deliveries": secret and payload below give this digest
    assert sign(SECRET, b"Hello, World!") == (
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")


def test_pull_request_opened_creates_one_ci_gate_run_with_repo_pr_and_head_sha() -> None:
    fake = FakeCreator()
    r = post(client(fake), "pull_request", sample("pull_request"), delivery="abc")
    assert r.status_code == 202 and r.json()["status"] == "scheduled"
    assert fake.calls == [("evalsig-ci-gate/evalsig-ci-gate",
                           {"repo": "acme/evals", "pr_number": 42,
                            "head_sha": "3f786850e387550fdab836ed7e6dc881de23001b"},
                           PR_KEY)]


@pytest.mark.parametrize("action", ["synchronize", "reopened"])
def test_pull_request_synchronize_and_reopened_also_gate(action: str) -> None:
    fake = FakeCreator()
    body = json.dumps({**json.loads(sample("pull_request")), "action": action}).encode()
    assert post(client(fake), "pull_request", body).status_code == 202
    assert len(fake.calls) == 1


def test_a_pull_request_merged_into_the_default_branch_promotes_its_gated_head() -> None:
    fake = FakeCreator()
    pr = json.loads(sample("pull_request"))
    pr["pull_request"]["merged"] = True
    body = json.dumps({**pr, "action": "closed"}).encode()
    assert post(client(fake), "pull_request", body).status_code == 202
    assert fake.calls[0][:2] == ("evalsig-promote/evalsig-promote",
                                 {"repo": "acme/evals", "pr_number": 42,
                                  "commit": "3f786850e387550fdab836ed7e6dc881de23001b",
                                  "trigger": "merged-pr"})


def test_a_pull_request_merged_into_another_branch_promotes_nothing() -> None:
    pr = json.loads(sample("pull_request"))
    pr["pull_request"].update(merged=True, base={"ref": "release", "sha": "0" * 40})
    assert isinstance(route_event("pull_request", {**pr, "action": "closed"}, settings()), str)


def test_pull_request_closed_unmerged_is_ignored_with_202_and_no_run() -> None:
    fake = FakeCreator()
    body = json.dumps({**json.loads(sample("pull_request")), "action": "closed"}).encode()
    r = post(client(fake), "pull_request", body)
    assert (r.status_code, r.json()["status"], fake.calls) == (202, "ignored", [])


def test_the_body_is_the_idempotency_key_so_a_redelivery_gets_the_same_run() -> None:
    fake = FakeCreator()
    c = client(fake)
    first = post(c, "pull_request", sample("pull_request"), delivery="same")
    again = post(c, "pull_request", sample("pull_request"), delivery="same")
    assert first.json()["flow_run_id"] == again.json()["flow_run_id"]
    assert {key for _, _, key in fake.calls} == {PR_KEY}
    assert (first.json()["status"], again.json()["status"]) == ("scheduled", "existing")


def test_the_same_body_under_another_delivery_id_is_a_replay_and_gets_the_same_run() -> None:
    # the signature covers the body only: a captured delivery resent with a fresh
    # X-GitHub-Delivery started a new run each time (key github-<delivery>)
    fake = FakeCreator()
    c = client(fake)
    first = post(c, "pull_request", sample("pull_request"), delivery="first")
    replay = post(c, "pull_request", sample("pull_request"), delivery="replayed")
    assert replay.json()["flow_run_id"] == first.json()["flow_run_id"]
    assert (replay.json()["status"], replay.json()["attempt"]) == ("existing", 1)
    assert (replay.json()["delivery"], replay.json()["run_delivery"]) == ("replayed", "first")
    assert len(fake.runs) == 1
    # a key per deployment (Prefect holds keys per flow): another receiver's run is its own
    other = post(client(fake, ci_deployment="evalsig-ci-gate/other"), "pull_request",
                 sample("pull_request"), delivery="replayed")
    assert other.json()["status"] == "scheduled" and len(fake.runs) == 2


@pytest.mark.parametrize("name", ["Rejected", "Inconclusive", "DoctorErrors"])
def test_a_redelivery_of_a_run_that_failed_with_a_decision_returns_it(name: str) -> None:
    fake = FakeCreator()
    c = client(fake)
    first = post(c, "pull_request", sample("pull_request"), delivery="d")
    fake.end(PR_KEY, "FAILED", name)
    again = post(c, "pull_request", sample("pull_request"), delivery="d")
    assert again.json()["flow_run_id"] == first.json()["flow_run_id"]
    assert (again.json()["status"], again.json()["run_state_name"]) == ("existing", name)
    assert [key for _, _, key in fake.calls] == [PR_KEY, PR_KEY]


def test_a_redelivery_of_a_refused_promotion_starts_the_next_attempt() -> None:
    fake = FakeCreator()
    c = client(fake)
    post(c, "push", sample("push"), delivery="d")
    fake.end(PUSH_KEY, "FAILED", "Refused")
    again = post(c, "push", sample("push"), delivery="d")
    assert (again.status_code, again.json()["attempt"]) == (202, 2)
    assert [key for _, _, key in fake.calls] == [PUSH_KEY, PUSH_KEY, f"{PUSH_KEY}-attempt-2"]


def test_a_redelivery_after_a_failed_run_starts_the_next_attempt() -> None:
    fake = FakeCreator()
    c = client(fake)
    first = post(c, "pull_request", sample("pull_request"), delivery="d")
    fake.end(PR_KEY, "FAILED")
    again = post(c, "pull_request", sample("pull_request"), delivery="d")
    assert (again.status_code, again.json()["attempt"]) == (202, 2)
    assert again.json()["flow_run_id"] != first.json()["flow_run_id"]
    assert [key for _, _, key in fake.calls] == [PR_KEY, PR_KEY, f"{PR_KEY}-attempt-2"]


@pytest.mark.parametrize("state", ["SCHEDULED", "PENDING", "RUNNING", "PAUSED", "COMPLETED"])
def test_a_redelivery_of_a_live_or_completed_run_returns_it(state: str) -> None:
    fake = FakeCreator()
    c = client(fake)
    first = post(c, "push", sample("push"), delivery="d")
    fake.end(PUSH_KEY, state)
    again = post(c, "push", sample("push"), delivery="d")
    assert again.json()["flow_run_id"] == first.json()["flow_run_id"]
    assert {key for _, _, key in fake.calls} == {PUSH_KEY}


def test_a_failure_creating_the_next_attempt_is_5xx_never_2xx() -> None:
    fake = FakeCreator()
    c = client(fake)
    post(c, "push", sample("push"), delivery="d")
    fake.end(PUSH_KEY, "CRASHED")
    fake.error = RunCreationError("Prefect API unreachable: ConnectError", 503)
    assert post(c, "push", sample("push"), delivery="d").status_code == 503


def test_a_delivery_whose_every_attempt_failed_gets_500_not_an_endless_loop() -> None:
    from evalsig_flows.github_events import MAX_ATTEMPTS

    fake = FakeCreator()
    c = client(fake)
    post(c, "push", sample("push"), delivery="d")
    for n in range(1, MAX_ATTEMPTS + 1):
        fake.runs[f"{PUSH_KEY}-attempt-{n}" if n > 1 else PUSH_KEY] = RunRef(
            f"r{n}", "x", "d", "FAILED")
    r = post(c, "push", sample("push"), delivery="d")
    assert r.status_code == 500 and "start a run by hand" in r.json()["error"]


def test_push_to_the_default_branch_creates_a_promotion_run_for_the_pushed_commit() -> None:
    fake = FakeCreator()
    assert post(client(fake), "push", sample("push")).status_code == 202
    assert fake.calls[0][:2] == ("evalsig-promote/evalsig-promote",
                                 {"repo": "acme/evals",
                                  "commit": "3f786850e387550fdab836ed7e6dc881de23001b",
                                  "trigger": "push"})


def test_push_to_another_branch_is_ignored() -> None:
    fake = FakeCreator()
    body = json.dumps({**json.loads(sample("push")), "ref": "refs/heads/feature"}).encode()
    r = post(client(fake), "push", body)
    assert (r.status_code, r.json()["status"], fake.calls) == (202, "ignored", [])


def test_the_configured_default_branch_overrides_the_repositorys() -> None:
    s = settings(default_branch="release")
    assert isinstance(route_event("push", json.loads(sample("push")), s), str)


def test_a_push_that_deletes_the_default_branch_promotes_nothing() -> None:
    payload = {**json.loads(sample("push")), "deleted": True, "after": "0" * 40}
    assert isinstance(route_event("push", payload, settings()), str)


def test_ping_answers_200_and_creates_no_run() -> None:
    fake = FakeCreator()
    r = post(client(fake), "ping", sample("ping"))
    assert (r.status_code, fake.calls) == (200, [])


def test_an_unhandled_event_is_ignored_with_202() -> None:
    fake = FakeCreator()
    r = post(client(fake), "issues", b'{"action": "opened"}')
    assert (r.status_code, r.json()["status"], fake.calls) == (202, "ignored", [])


def test_a_bad_signature_gets_401_and_no_run() -> None:
    fake = FakeCreator()
    r = post(client(fake), "pull_request", sample("pull_request"),
             signature=sign("wrong secret", sample("pull_request")))
    assert (r.status_code, fake.calls) == (401, [])


def test_a_missing_signature_gets_401() -> None:
    fake = FakeCreator()
    r = client(fake).post("/github", content=sample("pull_request"),
                          headers={"X-GitHub-Event": "pull_request", "X-GitHub-Delivery": "x"})
    assert (r.status_code, fake.calls) == (401, [])


def test_a_signature_over_a_different_body_gets_401() -> None:
    fake = FakeCreator()
    body = sample("pull_request")
    r = post(client(fake), "pull_request", body + b" ", signature=sign(SECRET, body))
    assert r.status_code == 401


def test_a_body_over_the_limit_gets_413_from_its_content_length() -> None:
    fake = FakeCreator()
    body = b"x" * 2_000_000
    r = post(client(fake, max_body_bytes=1_000_000), "pull_request", body)
    assert (r.status_code, fake.calls) == (413, [])


def test_a_streamed_body_without_length_is_cut_off_at_the_limit() -> None:
    fake = FakeCreator()

    def chunks():  # no Content-Length: chunked transfer
        for _ in range(40):
            yield b"x" * 1024

    r = client(fake, max_body_bytes=16 * 1024).post(
        "/github", content=chunks(),
        headers={"X-GitHub-Event": "push", "X-GitHub-Delivery": "x",
                 "X-Hub-Signature-256": "sha256=0"})
    assert (r.status_code, fake.calls) == (413, [])


def test_a_missing_delivery_id_gets_400() -> None:
    fake = FakeCreator()
    body = sample("pull_request")
    r = client(fake).post("/github", content=body, headers={
        "X-GitHub-Event": "pull_request", "X-Hub-Signature-256": sign(SECRET, body)})
    assert (r.status_code, fake.calls) == (400, [])


def test_a_signed_but_malformed_payload_gets_400() -> None:
    fake = FakeCreator()
    r = post(client(fake), "pull_request", b'{"action": "opened"}')
    assert (r.status_code, fake.calls) == (400, [])


def test_a_form_encoded_delivery_is_read_from_its_payload_field() -> None:
    from urllib.parse import urlencode

    fake = FakeCreator()
    body = urlencode({"payload": sample("pull_request").decode()}).encode()
    r = post(client(fake), "pull_request", body,
             **{"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 202 and fake.calls[0][1]["pr_number"] == 42


def test_prefect_unavailable_gets_503_never_2xx() -> None:
    fake = FakeCreator(RunCreationError("Prefect API unreachable: ConnectError", 503))
    r = post(client(fake), "pull_request", sample("pull_request"))
    assert r.status_code == 503 and "unreachable" in r.json()["error"]


def test_a_missing_deployment_gets_500() -> None:
    fake = FakeCreator(RunCreationError("deployment 'x' not found", 500))
    assert post(client(fake), "push", sample("push")).status_code == 500


def test_a_run_creation_slower_than_the_timeout_gets_503() -> None:
    import asyncio

    async def slow(deployment: str, parameters: dict[str, Any], key: str,
                   delivery: str) -> RunRef:
        await asyncio.sleep(5)
        raise AssertionError("not reached")

    app = create_app(settings(create_timeout_s=0.05), slow)
    r = post(TestClient(app), "pull_request", sample("pull_request"))
    assert r.status_code == 503


def test_health_answers_200() -> None:
    assert client(FakeCreator()).get("/healthz").status_code == 200


def test_settings_refuse_a_missing_secret_with_one_line_naming_the_variable() -> None:
    with pytest.raises(UsageError, match="EVALSIG_WEBHOOK_SECRET"):
        WebhookSettings.load({})


def test_settings_refuse_an_empty_secret() -> None:
    with pytest.raises(UsageError, match="EVALSIG_WEBHOOK_SECRET"):
        WebhookSettings.load({"EVALSIG_WEBHOOK_SECRET": "  "})


def test_settings_are_read_from_the_environment_mapping() -> None:
    s = WebhookSettings.load({"EVALSIG_WEBHOOK_SECRET": "s", "EVALSIG_WEBHOOK_PORT": "9000",
                              "EVALSIG_WEBHOOK_MAX_BODY_BYTES": "10"})
    assert (s.port, s.max_body_bytes, s.secret.get_secret_value()) == (9000, 10, "s")


def test_serve_refuses_to_start_without_a_secret(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve"], env={"PREFECT_API_URL": "http://127.0.0.1:1/api"}) == 64
    assert "EVALSIG_WEBHOOK_SECRET" in capsys.readouterr().err


def test_serve_refuses_to_start_without_a_prefect_api_url(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    # With tests/flows collected first, the session's Prefect test harness has set the API
    # URL in-process: without restoring the default the receiver started and never returned.
    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        assert main(["serve"], env={"EVALSIG_WEBHOOK_SECRET": "s"}) == 64
    assert "PREFECT_API_URL" in capsys.readouterr().err
