"""Hostile or odd (but signed) payloads against the receiver and a real Prefect API.

A payload the receiver cannot act on is the sender's error: 400 with one line naming the field,
never a 500 (GitHub's delivery log would show a server error and an operator would redeliver
a payload that can never work), never a traceback, and never a run created with parameters
the flows refuse (that run fails "decided nothing", and every redelivery starts another).
"""

from __future__ import annotations

import copy
import json
import uuid
import warnings
from pathlib import Path
from typing import Any

import pytest

with warnings.catch_warnings():  # starlette 1.x nudges towards httpx2; httpx is what ships
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from evalsig_flows.webhook import WebhookSettings, create_app, prefect_run_creator, sign
from tests.flows.test_webhook_redelivery import runs_of

pytestmark = pytest.mark.usefixtures("prefect_api")

SECRET = "s"
EVENTS = Path(__file__).resolve().parents[2] / "infra" / "local" / "events"
PUSH = json.loads((EVENTS / "push.json").read_text())
PR = json.loads((EVENTS / "pull_request.json").read_text())



def receiver(deployment: str) -> TestClient:
    settings = WebhookSettings.load({}, secret=SECRET, promote_deployment=deployment,
                                    ci_deployment=deployment)
    return TestClient(create_app(settings, prefect_run_creator()),
                      raise_server_exceptions=False)


def send(client: TestClient, event: str, body: bytes) -> Any:
    return client.post("/github", content=body, headers={
        "X-GitHub-Event": event, "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-Hub-Signature-256": sign(SECRET, body), "Content-Type": "application/json"})


def changed(doc: dict[str, Any], path: str, value: Any) -> bytes:
    out = copy.deepcopy(doc)
    *parents, last = path.split(".")
    node = out
    for p in parents:
        node = node[p]
    node[last] = value
    return json.dumps(out).encode()


def assert_refused(r: Any, field: str, deployment: str) -> None:
    assert r.status_code == 400, (r.status_code, r.text)
    error = r.json()["error"]
    assert field in error and "\n" not in error and "Traceback" not in error
    assert runs_of(deployment) == []


@pytest.mark.parametrize(("event", "doc", "path", "value"), [
    ("push", PUSH, "repository", "acme/evals"),
    ("push", PUSH, "repository", ["acme/evals"]),
    ("pull_request", PR, "pull_request", [1]),
    ("pull_request", PR, "pull_request.head", "3f78"),
    ("pull_request", PR, "action", ["opened"]),
])
def test_a_field_of_the_wrong_type_is_400_not_500(deployment: str, event: str,
                                                  doc: dict[str, Any], path: str,
                                                  value: Any) -> None:
    r = send(receiver(deployment), event, changed(doc, path, value))
    assert_refused(r, path.split(".")[-1], deployment)


def test_a_merged_pull_request_with_a_base_of_the_wrong_type_is_400(deployment: str) -> None:
    merged = json.loads(changed(PR, "action", "closed"))
    merged["pull_request"] |= {"merged": True, "base": ["main"]}
    r = send(receiver(deployment), "pull_request", json.dumps(merged).encode())
    assert_refused(r, "base", deployment)


def test_json_nested_too_deep_is_400_not_500(deployment: str) -> None:
    r = send(receiver(deployment), "push", b"[" * 100_000 + b"]" * 100_000)
    assert_refused(r, "nested", deployment)


@pytest.mark.parametrize(("event", "doc", "path", "value", "field"), [
    ("pull_request", PR, "pull_request.head.sha", 5, "sha"),
    ("pull_request", PR, "pull_request.head.sha", "3f78\x00../x", "sha"),
    ("pull_request", PR, "pull_request.head.sha", "not-a-sha", "sha"),
    ("pull_request", PR, "number", True, "number"),
    ("pull_request", PR, "number", -3, "number"),
    ("pull_request", PR, "repository.full_name", "../evals", "repo"),
    ("pull_request", PR, "repository.full_name", "acme/evals\u202e", "repo"),
    ("push", PUSH, "after", {"id": "3f78"}, "after"),
    ("push", PUSH, "after", PUSH["after"] + "\n", "after"),
    ("pull_request", PR, "pull_request.head.sha", PR["pull_request"]["head"]["sha"] + "\n",
     "sha"),
    ("push", PUSH, "after", "HEAD~1", "after"),
    ("push", PUSH, "repository.full_name", "acme", "repo"),
])
def test_a_value_the_flows_refuse_starts_no_run(deployment: str, event: str,
                                                doc: dict[str, Any], path: str, value: Any,
                                                field: str) -> None:
    r = send(receiver(deployment), event, changed(doc, path, value))
    assert_refused(r, field, deployment)


def test_the_sample_events_still_start_their_runs(deployment: str) -> None:
    client = receiver(deployment)
    for event, doc in (("push", PUSH), ("pull_request", PR)):
        r = send(client, event, json.dumps(doc).encode())
        assert (r.status_code, r.json()["status"]) == (202, "scheduled"), r.text
    assert len(runs_of(deployment)) == 2


def send_as(client: TestClient, delivery: str | bytes, doc: dict[str, Any]) -> Any:
    body = json.dumps(doc).encode()
    return client.post("/github", content=body, headers={
        "X-GitHub-Event": "push", "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": sign(SECRET, body), "Content-Type": "application/json"})


def test_a_delivery_id_never_names_another_deliverys_attempt(deployment: str) -> None:
    # when the key was github-<delivery>, a delivery whose own id was "D-attempt-2" took the
    # key of D's attempt 2, so D's redelivery got that other event's run back; keys are the
    # body's digest now, and such an id (no GitHub GUID has it) is still refused: in the
    # run's github-delivery tag it would read as D's attempt 2
    client, d = receiver(deployment), str(uuid.uuid4())
    other = send_as(client, f"{d}-attempt-2", json.loads(changed(PUSH, "after", "ab" * 20)))
    assert other.status_code == 400, other.text
    assert "X-GitHub-Delivery" in other.json()["error"]
    assert runs_of(deployment) == []


@pytest.mark.parametrize("delivery", [b"x" * 5000, b"a b", "d\u00e9j\u00e0".encode()])
def test_an_odd_delivery_id_is_400_and_starts_no_run(deployment: str, delivery: bytes) -> None:
    r = send_as(receiver(deployment), delivery, PUSH)
    assert r.status_code == 400, r.text
    assert runs_of(deployment) == []


def test_a_big_push_github_delivers_is_accepted_not_413(deployment: str) -> None:
    # GitHub caps payloads at 25 MB; a push of 20 commits touching thousands of files is a few
    # MB. The 1 MiB default answered 413 to it: a 4xx that GitHub never retries, so the
    # promotion of that push was lost.
    files = [f"services/component-{i:05d}/src/module/file_{i:05d}.py" for i in range(3000)]
    commits = [{"id": f"{c:040x}", "message": "big change", "added": [], "removed": [],
                "modified": files} for c in range(20)]
    body = json.dumps(PUSH | {"commits": commits}).encode()
    assert len(body) > 2 * 1024 * 1024
    r = receiver(deployment).post("/github", content=body, headers={
        "X-GitHub-Event": "push", "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-Hub-Signature-256": sign(SECRET, body), "Content-Type": "application/json"})
    assert (r.status_code, r.json().get("status")) == (202, "scheduled"), r.text


@pytest.mark.parametrize("name", ["evalsig-promote", "a/b/c", "/x", "x/"])
def test_a_deployment_name_that_is_not_flow_slash_deployment_is_refused_at_start(
        name: str) -> None:
    # before, the receiver started and answered every event with a bare 500 (a ValueError
    # from Prefect's name lookup), each one a traceback in its log
    from evalsig_core import UsageError

    with pytest.raises(UsageError, match="^EVALSIG_WEBHOOK_PROMOTE_DEPLOYMENT: .*<flow>/<dep"):
        WebhookSettings.load({"EVALSIG_WEBHOOK_SECRET": "s",
                              "EVALSIG_WEBHOOK_PROMOTE_DEPLOYMENT": name})


def test_a_form_body_without_payload_is_400_naming_the_field(deployment: str) -> None:
    body = b"other=1"
    r = receiver(deployment).post("/github", content=body, headers={
        "X-GitHub-Event": "push", "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-Hub-Signature-256": sign(SECRET, body),
        "Content-Type": "application/x-www-form-urlencoded"})
    assert_refused(r, "payload field", deployment)
