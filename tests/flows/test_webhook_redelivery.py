"""Redeliveries against a real Prefect API (the session's harness): the receiver's real run
creator (`prefect_run_creator`), a real deployment, runs whose states Prefect holds.

Most tests execute nothing: they set the first run's final state as an orchestrator would
have, then redeliver the same `X-GitHub-Delivery`. The CI gate tests at the end execute the
run the receiver created, for real (the CI gate flow in this process, `run_flow`), and then
redeliver.
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

from evalsig_flows.github_events import event_key
from evalsig_flows.webhook import WebhookSettings, create_app, prefect_run_creator, sign
from tests.flows.conftest import seed_baseline

pytestmark = pytest.mark.usefixtures("prefect_api")

SECRET = "s"
PUSH = (Path(__file__).resolve().parents[2] / "infra" / "local" / "events" / "push.json")


def _run(coro: Any) -> Any:
    return asyncio.run(coro)



def receiver(deployment: str) -> TestClient:
    settings = WebhookSettings.load({}, secret=SECRET, promote_deployment=deployment)
    return TestClient(create_app(settings, prefect_run_creator()))


def deliver(client: TestClient, delivery: str) -> Any:
    body = PUSH.read_bytes()
    return client.post("/github", content=body, headers={
        "X-GitHub-Event": "push", "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": sign(SECRET, body), "Content-Type": "application/json"})


def set_state(run_id: str, state_type: str, name: str | None = None) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.objects import StateType
    from prefect.states import State

    async def force() -> None:
        async with get_client() as client:
            await client.set_flow_run_state(run_id, State(type=StateType(state_type),
                                                          name=name), force=True)

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
    assert again.json()["status"] == "scheduled"  # a new run: the next attempt
    runs = {str(r.id): r for r in runs_of(deployment)}
    assert set(runs) == {first.json()["flow_run_id"], again.json()["flow_run_id"]}
    fresh = runs[again.json()["flow_run_id"]]
    assert fresh.idempotency_key == f"{event_key(deployment, PUSH.read_bytes())}-attempt-2"
    assert fresh.state.type.value == "SCHEDULED"
    assert fresh.parameters == runs[first.json()["flow_run_id"]].parameters
    # the fresh run in turn is returned to a third delivery while it is scheduled
    third = deliver(client, delivery)
    assert third.json()["flow_run_id"] == again.json()["flow_run_id"]
    assert (third.json()["status"], third.json()["attempt"]) == ("existing", 2)
    assert len(runs_of(deployment)) == 2


@pytest.mark.parametrize("state", [None, "PENDING", "RUNNING", "COMPLETED"])
def test_a_redelivery_while_the_run_lives_or_after_it_completed_returns_that_run(
        deployment: str, state: str | None) -> None:
    client, delivery = receiver(deployment), str(uuid.uuid4())
    first = deliver(client, delivery)
    assert first.status_code == 202, first.text
    assert (first.json()["status"], first.json()["run_state"]) == ("scheduled", "SCHEDULED")
    if state is not None:  # None: still SCHEDULED
        set_state(first.json()["flow_run_id"], state)
    again = deliver(client, delivery)
    assert again.status_code == 202, again.text
    assert again.json()["flow_run_id"] == first.json()["flow_run_id"]
    assert again.json()["attempt"] == 1
    # the answer says the run already existed, and where it is
    assert (again.json()["status"], again.json()["run_state"]) == ("existing",
                                                                   state or "SCHEDULED")
    assert len(runs_of(deployment)) == 1


@pytest.mark.parametrize("name", ["Rejected", "Inconclusive", "DoctorErrors"])
def test_a_redelivery_after_a_run_that_ended_with_a_decision_returns_that_run(
        deployment: str, name: str) -> None:
    client, delivery = receiver(deployment), str(uuid.uuid4())
    first = deliver(client, delivery)
    set_state(first.json()["flow_run_id"], "FAILED", name)
    again = deliver(client, delivery)
    assert again.status_code == 202, again.text
    assert again.json()["flow_run_id"] == first.json()["flow_run_id"]
    assert (again.json()["status"], again.json()["attempt"]) == ("existing", 1)
    assert (again.json()["run_state"], again.json()["run_state_name"]) == ("FAILED", name)
    assert len(runs_of(deployment)) == 1


def test_a_redelivery_after_a_refused_promotion_runs_it_again(deployment: str) -> None:
    # a refusal's cause can go away (the merge arrived while the gate was still PENDING):
    # promotion is idempotent and audited, so the redelivery runs it again
    client, delivery = receiver(deployment), str(uuid.uuid4())
    first = deliver(client, delivery)
    set_state(first.json()["flow_run_id"], "FAILED", "Refused")
    again = deliver(client, delivery)
    assert (again.status_code, again.json()["attempt"]) == (202, 2), again.text
    assert again.json()["status"] == "scheduled"
    assert again.json()["flow_run_id"] != first.json()["flow_run_id"]
    assert len(runs_of(deployment)) == 2


def test_the_push_parameters_reach_the_run(deployment: str) -> None:
    first = deliver(receiver(deployment), str(uuid.uuid4()))
    [run] = runs_of(deployment)
    assert run.parameters == {"repo": "acme/evals", "trigger": "push",
                              "commit": json.loads(PUSH.read_text())["after"]}
    assert str(run.id) == first.json()["flow_run_id"]


# -- the CI gate, executed for real ------------------------------------------------------

PULL_REQUEST = PUSH.with_name("pull_request.json")
EXAMPLES = Path(__file__).resolve().parents[2] / "deployments" / "examples"


def ci_deployment(store: str, candidate: str) -> str:
    """A deployment of the real CI gate flow (its flow name), gating `candidate` in `store`."""
    from prefect.client.orchestration import get_client

    name = f"ci-{uuid.uuid4().hex[:8]}"

    async def make() -> None:
        async with get_client() as client:
            flow_id = await client.create_flow_from_name("evalsig-ci-gate")
            await client.create_deployment(flow_id=flow_id, name=name, parameters={
                "task": "qa", "metric": "accuracy", "cluster": "passage_id",
                "min_delta": 0.005, "candidate": candidate, "suite": "demo", "store": store})

    _run(make())
    return f"evalsig-ci-gate/{name}"


def deliver_pr(client: TestClient, delivery: str) -> Any:
    body = PULL_REQUEST.read_bytes()
    return client.post("/github", content=body, headers={
        "X-GitHub-Event": "pull_request", "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": sign(SECRET, body), "Content-Type": "application/json"})


def execute(run_id: str) -> Any:
    """Run the scheduled flow run as a worker would (in this process); its final API state."""
    from prefect.client.orchestration import get_client
    from prefect.flow_engine import run_flow

    from evalsig_flows.flows import ci_gate_flow

    async def read() -> Any:
        async with get_client() as client:
            return await client.read_flow_run(uuid.UUID(run_id))

    run = _run(read())
    run_flow(ci_gate_flow, flow_run=run, parameters=run.parameters, return_type="state")
    return _run(read()).state


def gate_records(store: Any) -> list[str]:
    from evalsig_flows.audit_log import recent_records

    return [r.verdict for _, r in recent_records(store) if r.decision == "gate"]


@pytest.mark.parametrize(("candidate", "name", "rerun"), [
    ("regressed.json", "Rejected", False),   # a verdict: published, audited, stands
    ("missing.json", "Failed", True),        # decided nothing (INPUT NOT FOUND): re-run
])
def test_a_redelivered_pull_request_re_gates_only_if_its_gate_decided_nothing(
        tmp_path: Path, candidate: str, name: str, rerun: bool) -> None:
    from evalsig_flows.store import open_store

    store = open_store(tmp_path.as_uri())
    seed_baseline(store)
    dep = ci_deployment(tmp_path.as_uri(), str(EXAMPLES / candidate))
    settings = WebhookSettings.load({}, secret=SECRET, ci_deployment=dep)
    client, delivery = TestClient(create_app(settings, prefect_run_creator())), str(uuid.uuid4())
    first = deliver_pr(client, delivery)
    assert first.json()["status"] == "scheduled", first.text
    final = execute(first.json()["flow_run_id"])
    assert (final.type.value, final.name) == ("FAILED", name), final.message
    gates = gate_records(store)
    assert gates == ([] if rerun else ["REJECT"])

    again = deliver_pr(client, delivery)
    assert again.status_code == 202, again.text
    body = again.json()
    if rerun:
        assert body["flow_run_id"] != first.json()["flow_run_id"]
        assert (body["status"], body["attempt"], body["run_state"]) == ("scheduled", 2,
                                                                       "SCHEDULED")
    else:
        assert body["flow_run_id"] == first.json()["flow_run_id"]
        assert (body["status"], body["attempt"]) == ("existing", 1)
        assert (body["run_state"], body["run_state_name"]) == ("FAILED", "Rejected")
        assert len(runs_of(dep)) == 1
        assert gate_records(store) == gates  # not re-gated, nothing audited again
