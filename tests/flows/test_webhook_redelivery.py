"""Redeliveries against a real Prefect API (the session's harness): the receiver's real run
creator (`prefect_run_creator`), a real deployment, runs whose states Prefect holds.

Nobody executes these runs; each test sets the first run's final state as an orchestrator
would have, then redelivers the same `X-GitHub-Delivery`.
"""

from __future__ import annotations

import asyncio
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

pytestmark = pytest.mark.usefixtures("prefect_api")

SECRET = "s"
PUSH = (Path(__file__).resolve().parents[2] / "infra" / "local" / "events" / "push.json")


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


@pytest.fixture
def deployment() -> str:
    """A deployment of its own (flow and deployment named uniquely): `<flow>/<deployment>`."""
    from prefect.client.orchestration import get_client

    name = f"redelivery-{uuid.uuid4().hex[:8]}"

    async def make() -> None:
        async with get_client() as client:
            flow_id = await client.create_flow_from_name(name)
            await client.create_deployment(flow_id=flow_id, name=name)

    _run(make())
    return f"{name}/{name}"


def receiver(deployment: str) -> TestClient:
    settings = WebhookSettings.load({}, secret=SECRET, promote_deployment=deployment)
    return TestClient(create_app(settings, prefect_run_creator()))


def deliver(client: TestClient, delivery: str) -> Any:
    body = PUSH.read_bytes()
    return client.post("/github", content=body, headers={
        "X-GitHub-Event": "push", "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": sign(SECRET, body), "Content-Type": "application/json"})


def set_state(run_id: str, state_type: str) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.objects import StateType
    from prefect.states import State

    async def force() -> None:
        async with get_client() as client:
            await client.set_flow_run_state(run_id, State(type=StateType(state_type)),
                                            force=True)

    _run(force())


def runs_of(deployment: str) -> list[Any]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName

    async def read() -> list[Any]:
        async with get_client() as client:
            return list(await client.read_flow_runs(deployment_filter=DeploymentFilter(
                name=DeploymentFilterName(any_=[deployment.split("/")[1]]))))

    return _run(read())


@pytest.mark.parametrize("ended", ["FAILED", "CRASHED", "CANCELLED"])
def test_a_redelivery_after_a_run_that_ended_badly_starts_a_fresh_run(
        deployment: str, ended: str) -> None:
    client, delivery = receiver(deployment), str(uuid.uuid4())
    first = deliver(client, delivery)
    assert first.status_code == 202, first.text
    set_state(first.json()["flow_run_id"], ended)
    again = deliver(client, delivery)
    assert again.status_code == 202, again.text
    assert again.json()["flow_run_id"] != first.json()["flow_run_id"]
    assert again.json()["attempt"] == 2
    runs = {str(r.id): r for r in runs_of(deployment)}
    assert set(runs) == {first.json()["flow_run_id"], again.json()["flow_run_id"]}
    fresh = runs[again.json()["flow_run_id"]]
    assert fresh.idempotency_key == f"github-{delivery}-attempt-2"
    assert fresh.state.type.value == "SCHEDULED"
    assert fresh.parameters == runs[first.json()["flow_run_id"]].parameters
    # the fresh run in turn is returned to a third delivery while it is scheduled
    third = deliver(client, delivery)
    assert third.json()["flow_run_id"] == again.json()["flow_run_id"]
    assert len(runs_of(deployment)) == 2


@pytest.mark.parametrize("state", [None, "PENDING", "RUNNING", "COMPLETED"])
def test_a_redelivery_while_the_run_lives_or_after_it_completed_returns_that_run(
        deployment: str, state: str | None) -> None:
    client, delivery = receiver(deployment), str(uuid.uuid4())
    first = deliver(client, delivery)
    assert first.status_code == 202, first.text
    if state is not None:  # None: still SCHEDULED
        set_state(first.json()["flow_run_id"], state)
    again = deliver(client, delivery)
    assert again.status_code == 202, again.text
    assert again.json()["flow_run_id"] == first.json()["flow_run_id"]
    assert again.json()["attempt"] == 1
    assert len(runs_of(deployment)) == 1


def test_the_push_parameters_reach_the_run(deployment: str) -> None:
    first = deliver(receiver(deployment), str(uuid.uuid4()))
    [run] = runs_of(deployment)
    assert run.parameters == {"repo": "acme/evals", "trigger": "push",
                              "commit": json.loads(PUSH.read_text())["after"]}
    assert str(run.id) == first.json()["flow_run_id"]
