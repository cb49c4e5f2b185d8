"""A run Prefect refuses to create: the receiver's 5xx answer and log line give Prefect's reason.

Before, a 409 from a real Prefect API (a deployment enforcing a parameter schema that refuses
the event's parameters) was answered "run not confirmed: Prefect API answered 409" and logged
so: nothing said what to fix. Now the error carries Prefect's `detail` as one printable line
of at most 200 characters; the status semantics are unchanged (a 4xx from Prefect: 500).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
import warnings
from typing import Any

import httpx
import pytest

with warnings.catch_warnings():  # starlette 1.x nudges towards httpx2; httpx is what ships
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from evalsig_flows.webhook import WebhookSettings, create_app, prefect_run_creator, sign
from tests.flows.test_webhook_redelivery import PUSH, runs_of

SECRET = "s"


def _schema_deployment() -> str:
    """A deployment whose enforced parameter schema wants `repo` to be an integer."""
    from prefect.client.orchestration import get_client

    name = f"reason-{uuid.uuid4().hex[:8]}"

    async def make() -> None:
        async with get_client() as client:
            flow_id = await client.create_flow_from_name(name)
            await client.create_deployment(
                flow_id=flow_id, name=name, enforce_parameter_schema=True,
                parameter_openapi_schema={"type": "object", "title": "Parameters",
                                          "properties": {"repo": {"type": "integer"}}})

    asyncio.run(make())
    return f"{name}/{name}"


@pytest.mark.usefixtures("prefect_api")
def test_a_409_from_prefect_is_answered_500_with_prefects_reason(
        caplog: pytest.LogCaptureFixture) -> None:
    deployment = _schema_deployment()
    settings = WebhookSettings.load({}, secret=SECRET, promote_deployment=deployment,
                                    create_timeout_s=30)
    body = PUSH.read_bytes()
    with caplog.at_level(logging.ERROR, logger="evalsig.webhook"):
        r = TestClient(create_app(settings, prefect_run_creator())).post(
            "/github", content=body, headers={
                "X-GitHub-Event": "push", "X-GitHub-Delivery": str(uuid.uuid4()),
                "X-Hub-Signature-256": sign(SECRET, body), "Content-Type": "application/json"})
    assert r.status_code == 500, r.text  # a 4xx from Prefect: a redelivery gets the same
    error = r.json()["error"]
    assert error.startswith("run not confirmed: Prefect API answered 409: "), error
    assert "Error creating flow run" in error and "repo" in error, error
    why = error.split("answered 409: ", 1)[1]
    assert len(why) <= 200 + len("… (9999 characters)") and why.isprintable()
    logged = [rec.getMessage() for rec in caplog.records]
    assert any("Prefect API answered 409: Error creating flow run" in m for m in logged), logged
    assert runs_of(deployment) == []


def _response(status: int, **kw: Any) -> httpx.Response:
    return httpx.Response(status, request=httpx.Request("POST", "http://api/x"), **kw)


def test_the_reason_is_one_short_printable_line_of_the_detail_or_the_body() -> None:
    from evalsig_flows.webhook import _reason

    detail = "line one\nline two\x1b[31m red \u202e" + "x" * 500
    shown = _reason(_response(409, json={"detail": detail}))
    assert shown.startswith(": line one line two\\x1b[31m red \\u202e") and shown.isprintable()
    assert shown.endswith(f"… ({len(detail)} characters)") and len(shown) < 230
    assert _reason(_response(422, json={"detail": [{"loc": ["body"], "msg": "bad"}]})) == \
        ': [{"loc": ["body"], "msg": "bad"}]'
    assert _reason(_response(502, text="<html>\n<h1>Bad gateway</h1>\n</html>")) == \
        ": <html> <h1>Bad gateway</h1> </html>"
    assert _reason(_response(500, text="")) == ""
