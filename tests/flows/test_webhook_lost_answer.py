"""Prefect's answer to the receiver's create_flow_run lost on the wire (a real API behind a
proxy that forwards the request, then drops the connection before the 201 reaches us).

Prefect's client retries the POST; the idempotency key makes the retry return the run the
first POST created (200, not 201). That run was created by this very delivery: the answer must
say "scheduled", not "existing" (which means an earlier or concurrent delivery made it).
"""

from __future__ import annotations

import re
import threading
import uuid
import warnings
from typing import Any

import pytest

with warnings.catch_warnings():  # starlette 1.x nudges towards httpx2; httpx is what ships
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from evalsig_flows.webhook import WebhookSettings, create_app, prefect_run_creator, sign
from tests.flows.faulty_proxy import Faults, faulty_proxy
from tests.flows.test_webhook_redelivery import PUSH, runs_of

pytestmark = pytest.mark.usefixtures("prefect_api")

SECRET = "s"


class DropFirstAnswer(Faults):
    """Forward every request; drop the answer to the first one matching `match`."""

    def pick(self, line: str) -> str | None:
        if re.search(self.match, line) and not self.injected:
            self.injected.append(f"drop-after {line}")
            return "drop-after"
        return None



def deliver(deployment: str, delivery: str) -> Any:
    settings = WebhookSettings.load({}, secret=SECRET, promote_deployment=deployment,
                                    create_timeout_s=30)
    body = PUSH.read_bytes()
    return TestClient(create_app(settings, prefect_run_creator())).post(
        "/github", content=body, headers={
            "X-GitHub-Event": "push", "X-GitHub-Delivery": delivery,
            "X-Hub-Signature-256": sign(SECRET, body), "Content-Type": "application/json"})


def test_a_run_whose_201_was_lost_is_reported_scheduled_by_the_delivery_that_made_it(
        deployment: str) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    api = str(PREFECT_API_URL.value())
    faults = DropFirstAnswer(match=r"^POST .*/create_flow_run$")
    delivery = str(uuid.uuid4())
    with faulty_proxy(api.removesuffix("/api"), faults) as proxy, \
            temporary_settings({PREFECT_API_URL: proxy + "/api"}):
        first = deliver(deployment, delivery)
    assert faults.injected, "the proxy never saw the create request"
    assert first.status_code == 202, first.text
    assert (first.json()["status"], first.json()["attempt"]) == ("scheduled", 1), first.text
    assert len(runs_of(deployment)) == 1
    # a redelivery of the same event (the answer reached GitHub this time) finds it
    again = deliver(deployment, delivery)
    assert again.json()["flow_run_id"] == first.json()["flow_run_id"]
    assert again.json()["status"] == "existing"


def test_of_concurrent_identical_deliveries_exactly_one_says_scheduled(deployment: str) -> None:
    # Prefect answers 201 to every request that began before the winning insert (its test is
    # "created >= the time this request started"), so all of them said "scheduled"
    settings = WebhookSettings.load({}, secret=SECRET, promote_deployment=deployment,
                                    create_timeout_s=30)
    app, body, delivery = create_app(settings, prefect_run_creator()), PUSH.read_bytes(), \
        str(uuid.uuid4())
    start, answers = threading.Barrier(4), []

    def post() -> None:
        client = TestClient(app)
        start.wait()
        answers.append(client.post("/github", content=body, headers={
            "X-GitHub-Event": "push", "X-GitHub-Delivery": delivery,
            "X-Hub-Signature-256": sign(SECRET, body),
            "Content-Type": "application/json"}).json())

    threads = [threading.Thread(target=post) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({a["flow_run_id"] for a in answers}) == 1 and len(runs_of(deployment)) == 1
    assert sorted(a["status"] for a in answers) == ["existing"] * 3 + ["scheduled"]
