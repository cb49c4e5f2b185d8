"""Replays against a real Prefect API (the session's harness) and the receiver's real run
creator: one captured, signed body resent under fresh `X-GitHub-Delivery` ids.

GitHub's signature covers the body only, so the delivery id of a replay is whatever the
sender wants. Keyed on the delivery id, each replay started another CI gate run (each one runs
the candidate's eval command); keyed on the body, a replay finds the run its first delivery
made, exactly as a GitHub redelivery does.
"""

from __future__ import annotations

import asyncio
import json
import uuid
import warnings
from typing import Any

import httpx
import pytest

with warnings.catch_warnings():  # starlette 1.x nudges towards httpx2; httpx is what ships
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from evalsig_flows.webhook import WebhookSettings, create_app, prefect_run_creator, sign
from tests.flows.test_webhook_redelivery import PULL_REQUEST, runs_of, set_state

pytestmark = pytest.mark.usefixtures("prefect_api")

SECRET = "s"


def receiver(deployment: str) -> TestClient:
    settings = WebhookSettings.load({}, secret=SECRET, ci_deployment=deployment)
    return TestClient(create_app(settings, prefect_run_creator()))


def headers(body: bytes, delivery: str) -> dict[str, str]:
    return {"X-GitHub-Event": "pull_request", "X-GitHub-Delivery": delivery,
            "X-Hub-Signature-256": sign(SECRET, body), "Content-Type": "application/json"}


def send(client: TestClient, body: bytes, delivery: str | None = None) -> Any:
    return client.post("/github", content=body,
                       headers=headers(body, delivery or str(uuid.uuid4())))


def synchronize(head_sha: str) -> bytes:
    doc = json.loads(PULL_REQUEST.read_text())
    doc["action"] = "synchronize"
    doc["pull_request"]["head"]["sha"] = head_sha
    return json.dumps(doc).encode()


def test_a_replayed_body_under_a_fresh_delivery_id_starts_no_second_run(
        deployment: str) -> None:
    client, body = receiver(deployment), PULL_REQUEST.read_bytes()
    first, replay = send(client, body, "first"), send(client, body, "replayed")
    assert first.status_code == replay.status_code == 202, replay.text
    assert first.json()["status"] == "scheduled"
    assert (replay.json()["status"], replay.json()["attempt"]) == ("existing", 1)
    assert replay.json()["flow_run_id"] == first.json()["flow_run_id"]
    # the answer and the run both name the delivery that made the run
    assert (replay.json()["delivery"], replay.json()["run_delivery"]) == ("replayed", "first")
    [run] = runs_of(deployment)
    assert "github-delivery:first" in run.tags and "github-delivery:replayed" not in run.tags


def test_two_different_events_start_two_runs(deployment: str) -> None:
    client = receiver(deployment)
    answers = [send(client, synchronize(sha)) for sha in ("a1" * 20, "b2" * 20)]
    assert [a.json()["status"] for a in answers] == ["scheduled", "scheduled"]
    runs = runs_of(deployment)
    assert sorted(r.parameters["head_sha"] for r in runs) == ["a1" * 20, "b2" * 20]


@pytest.mark.parametrize(("ended", "name", "rerun"), [
    ("FAILED", None, True), ("CRASHED", None, True), ("FAILED", "Rejected", False)])
def test_a_replay_after_the_run_ended_is_answered_as_a_redelivery(
        deployment: str, ended: str, name: str | None, rerun: bool) -> None:
    # a replay cannot be told from a redelivery: after a run that decided nothing it starts
    # the next attempt (once: a further replay finds that attempt); a verdict stands
    client, body = receiver(deployment), PULL_REQUEST.read_bytes()
    first = send(client, body)
    set_state(first.json()["flow_run_id"], ended, name)
    replays = [send(client, body).json() for _ in range(2)]
    if rerun:
        assert [(r["status"], r["attempt"]) for r in replays] == [("scheduled", 2),
                                                                  ("existing", 2)]
        assert replays[0]["flow_run_id"] == replays[1]["flow_run_id"]
        assert replays[0]["flow_run_id"] != first.json()["flow_run_id"]
    else:
        assert {(r["status"], r["attempt"], r["flow_run_id"]) for r in replays} == {
            ("existing", 1, first.json()["flow_run_id"])}
    assert len(runs_of(deployment)) == (2 if rerun else 1)


def test_concurrent_replays_create_exactly_one_run(deployment: str) -> None:
    settings = WebhookSettings.load({}, secret=SECRET, ci_deployment=deployment,
                                    create_timeout_s=60)
    app, body = create_app(settings, prefect_run_creator()), PULL_REQUEST.read_bytes()

    async def replay_all() -> list[Any]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://receiver") as client:
            return list(await asyncio.gather(*(
                client.post("/github", content=body, headers=headers(body, f"d-{n}"))
                for n in range(5))))

    answers = [r.json() for r in asyncio.run(replay_all())]
    assert len(runs_of(deployment)) == 1, answers
    assert len({a["flow_run_id"] for a in answers}) == 1
    assert sorted(a["status"] for a in answers) == ["existing"] * 4 + ["scheduled"]
    [made] = [a for a in answers if a["status"] == "scheduled"]
    assert {a["run_delivery"] for a in answers} == {made["delivery"]}
