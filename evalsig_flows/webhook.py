"""GitHub webhook receiver for self-hosted Prefect (Prefect's own webhooks are Cloud-only).

An ASGI app (Starlette, shipped with Prefect). Contract, in the order the checks run:

- the body is bounded: a `Content-Length` above the limit gets 413 before any byte is read,
  and a streamed (chunked) body is counted and cut off at the limit with 413;
- `X-Hub-Signature-256` must be the HMAC-SHA256 of the raw body under the shared secret,
  compared in constant time (`hmac.compare_digest`); otherwise 401 and nothing else happens;
- `X-GitHub-Event` and `X-GitHub-Delivery` must be present, the delivery id a GUID-like word
  (letters, digits, `.`, `_`, `-`, at most 100, not ending in `-attempt-<n>`), else 400;
- `ping` → 200; `pull_request` (opened, synchronize, reopened) → a run of the CI gate
  deployment with repo, PR number and head SHA; a pull request merged into the default
  branch → a promotion run for its head SHA and number (`trigger="merged-pr"`); `push` to the
  default branch → a promotion run for the pushed commit (`trigger="push"`); anything else →
  202 "ignored". A merge sends both: a merge or squash commit has a new SHA that no gate
  decided, so its push run ends Completed "NOT GATED" (audited, not a refusal) while the
  merged PR's run promotes; a fast-forward push of the gated head promotes as the PR does;
- the signed body names the event, not `X-GitHub-Delivery` (GitHub's signature covers the body
  only, so anyone holding one captured delivery could resend it under fresh delivery ids): the
  flow run's idempotency key is `github-<deployment>-<sha256(body)[:32]>`
  (`github_events.event_key`). A redelivery (GitHub resends the identical body) and a replay
  of the body under any other delivery id are one event: they return the run the first
  delivery created while that run is scheduled, pending, running or completed, or ended Failed
  with a verdict (REJECT / INCONCLUSIVE / DOCTOR: the state names it, see
  `evalsig_flows.outcome.FINAL`), and never start a second one: the verdict is published and
  audited and stands. A redelivery whose run decided nothing (Failed on a storage or other
  error, Crashed or Cancelled: operators redeliver from GitHub after fixing an outage) or ended
  with a promotion refusal ("Refused": e.g. the merge arrived while the gate was still
  PENDING) starts a fresh run under the next key, `<key>-attempt-<n>`; a replay then does the
  same (it cannot be told from a redelivery, and re-running what decided nothing is what a
  redelivery asks for). Each attempt's run is found again by its key, so concurrent
  redeliveries or replays share one run per attempt. Promotion is idempotent and audits each
  decision once, so re-running one is safe. The delivery id is kept on the run it created as
  the tag `github-delivery:<id>`, for tracing;
- the answer to an event that asks for a run is 202 with `status` "scheduled" when this
  request created the run (a new event, or the next attempt), or "existing" when the run
  was already there (created by an earlier or concurrent delivery of the same body, under this
  or another `X-GitHub-Delivery`; nothing new is started; the run's `evalsig-request:<hex>`
  tag, not Prefect's 201, says which request made it), plus `flow_run_id`, `flow_run_name`,
  `deployment`, `attempt`, `run_delivery` (the delivery id that created the run: another one
  than `delivery` marks a replay or a second webhook, and is logged as a warning), and the
  run's Prefect state as `run_state` (type, e.g. "SCHEDULED", "COMPLETED", "FAILED") and
  `run_state_name` (e.g. "Scheduled", "Rejected");
- the run is created without waiting for it (`timeout=0`); if it could not be created (Prefect
  API down or slow → 503, anything else → 500) the answer is 5xx, never 2xx for a lost event;
  its `error` (and the log line) gives the status Prefect answered and Prefect's reason (its
  `detail`, one line of at most 200 characters).

Settings are typed and read once (`WebhookSettings`, prefix `EVALSIG_WEBHOOK_`); the server
refuses to start without a secret or without a Prefect API URL (an ephemeral API would lose
events). Run it with `evalsig-webhook serve`, `python -m evalsig_flows.webhook serve` or
`evalsig webhook serve`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from evalsig_core import UsageError
from evalsig_core.numfmt import counted

from .github_events import (
    RunCreationError,
    RunCreator,
    RunRef,
    route_event,
    run_for_event,
    valid_delivery,
)
from .text import excerpt

__all__ = ["DELIVERY_TAG", "GITHUB_PATH", "REQUEST_TAG", "WebhookSettings", "create_app", "main",
           "prefect_run_creator", "sign"]

GITHUB_PATH = "/github"
REQUEST_TAG = "evalsig-request:"
"""Prefix of the tag naming the receiver request that created a run (see prefect_run_creator)."""
DELIVERY_TAG = "github-delivery:"
"""Prefix of the tag naming the `X-GitHub-Delivery` whose request created a run."""
log = logging.getLogger("evalsig.webhook")


class WebhookSettings(BaseSettings):
    """Receiver configuration, read once from `EVALSIG_WEBHOOK_*` environment variables."""

    model_config = SettingsConfigDict(env_prefix="EVALSIG_WEBHOOK_", frozen=True, extra="ignore")

    secret: SecretStr = Field(description="the GitHub webhook secret (required)")
    max_body_bytes: int = Field(
        25 * 1024 * 1024, gt=0, description="larger bodies get 413; default GitHub's own cap "
        "(25 MB): a push of many commits runs to megabytes, and a 413 is never retried")
    default_branch: str | None = Field(
        None, description="branch whose pushes promote; default: the repository's own")
    ci_deployment: str = "evalsig-ci-gate/evalsig-ci-gate"
    promote_deployment: str = "evalsig-promote/evalsig-promote"
    create_timeout_s: float = Field(8.0, gt=0, description="GitHub gives up after 10 s")
    host: str = "127.0.0.1"
    port: int = Field(8787, ge=0, le=65535)

    @field_validator("secret")
    @classmethod
    def _non_empty(cls, v: SecretStr) -> SecretStr:
        if not v.get_secret_value().strip():
            raise ValueError("must not be empty")
        return v

    @field_validator("ci_deployment", "promote_deployment")
    @classmethod
    def _flow_slash_deployment(cls, v: str) -> str:
        flow, _, name = v.partition("/")
        if not flow.strip() or not name.strip() or "/" in name:
            raise ValueError(f"{v!r} is not <flow>/<deployment> (e.g. evalsig-promote/"
                             "evalsig-promote)")
        return v

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> WebhookSettings:
        """Read the settings (from `env` when given, else the process environment).

        Raises UsageError (one line naming the variable and the fix) when one is missing or bad.
        """
        try:
            if env is None:
                return cls(**overrides)
            prefix = "EVALSIG_WEBHOOK_"
            values = {k[len(prefix):].lower(): v for k, v in env.items() if k.startswith(prefix)}
            return cls.model_validate({**values, **overrides})
        except ValidationError as exc:
            err = exc.errors()[0]
            name = "EVALSIG_WEBHOOK_" + str(err["loc"][0]).upper() if err["loc"] else "settings"
            message = f"{name}: {err['msg'].lower()}"
            if name.endswith("_SECRET"):
                message += ("; the receiver refuses to start without it (set it to the secret "
                            "configured on the GitHub webhook)")
            raise UsageError(message) from None


def sign(secret: str | bytes, body: bytes) -> str:
    """The `X-Hub-Signature-256` value GitHub sends for `body`."""
    key = secret.encode() if isinstance(secret, str) else secret
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def _verified(secret: SecretStr, body: bytes, header: str | None) -> bool:
    expected = sign(secret.get_secret_value(), body).encode()
    return hmac.compare_digest(expected, (header or "").encode())


class _BodyTooLarge(Exception):
    pass


async def _read_bounded(request: Request, limit: int) -> bytes:
    """Read at most `limit` bytes; raise _BodyTooLarge as soon as the body goes past it."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise ValueError("bad Content-Length")
        if int(declared) > limit:
            raise _BodyTooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _payload(body: bytes, content_type: str) -> Any:
    if content_type.startswith("application/x-www-form-urlencoded"):
        form = parse_qs(body.decode("utf-8"), strict_parsing=True)
        if "payload" not in form:  # GitHub's form delivery puts the JSON in `payload`
            raise ValueError("the form body has no payload field (GitHub sends the event "
                             "JSON as payload=...)")
        body = form["payload"][0].encode()
    try:
        return json.loads(body)
    except RecursionError:  # a signed body of 100k '[': the parser's recursion limit
        raise ValueError("JSON nested too deep") from None


def _answer(code: int, **content: Any) -> JSONResponse:
    return JSONResponse(content, status_code=code)


def create_app(settings: WebhookSettings, create_run: RunCreator) -> Starlette:
    """The receiver as an ASGI app; `create_run` is the only way it reaches Prefect."""

    async def github(request: Request) -> JSONResponse:
        try:
            body = await _read_bounded(request, settings.max_body_bytes)
        except _BodyTooLarge:
            limit = counted(settings.max_body_bytes, "byte")
            return _answer(413, error=f"body larger than {limit}")
        except ValueError as exc:
            return _answer(400, error=str(exc))
        if not _verified(settings.secret, body, request.headers.get("x-hub-signature-256")):
            return _answer(401, error="bad or missing X-Hub-Signature-256")
        event = request.headers.get("x-github-event", "")
        delivery = request.headers.get("x-github-delivery", "")
        if not event or not delivery:
            return _answer(400, error="missing X-GitHub-Event or X-GitHub-Delivery")
        if not valid_delivery(delivery):
            return _answer(400, error="bad X-GitHub-Delivery: expected GitHub's delivery id "
                           "(a GUID: up to 100 letters, digits, '.', '_' or '-', not ending "
                           "in -attempt-<n>)")
        if event == "ping":
            return _answer(200, status="pong", delivery=delivery)
        try:
            payload = _payload(body, request.headers.get("content-type", ""))
            if not isinstance(payload, dict):
                raise ValueError("the payload is not a JSON object")
            wanted = route_event(event, payload, settings)
        except (ValueError, KeyError, UnicodeDecodeError) as exc:
            return _answer(400, error=f"bad {event} payload: {exc}")
        if isinstance(wanted, str):
            return _answer(202, status="ignored", reason=wanted, delivery=delivery)
        try:
            run, attempt = await asyncio.wait_for(
                run_for_event(create_run, wanted, body, delivery),
                timeout=settings.create_timeout_s)
        except TimeoutError:
            run_error = RunCreationError(
                f"Prefect API did not answer in {settings.create_timeout_s:g}s", 503)
        except RunCreationError as exc:
            run_error = exc
        else:
            status = "scheduled" if run.created else "existing"
            if run.delivery not in (None, delivery):
                log.warning("delivery %s resends the body of delivery %s (a replay, or a second "
                            "webhook): its run %s, nothing started", delivery, run.delivery,
                            run.id)
            log.info("delivery %s (%s) attempt %d -> %s flow run %s of %s (%s %s)", delivery,
                     event, attempt, status, run.id, run.deployment, run.state, run.state_name)
            return _answer(202, status=status,
                           delivery=delivery, flow_run_id=run.id, flow_run_name=run.name,
                           deployment=run.deployment, attempt=attempt,
                           run_delivery=run.delivery, run_state=run.state,
                           run_state_name=run.state_name)
        log.error("delivery %s (%s): no run created: %s", delivery, event, run_error)
        # "not confirmed": a request whose answer was lost may still have made the run; a
        # redelivery then finds it by its key ("existing") and never starts a second one
        return _answer(run_error.status, error=f"run not confirmed: {run_error}",
                       delivery=delivery)

    async def health(request: Request) -> JSONResponse:
        return _answer(200, status="ok")

    return Starlette(routes=[Route(GITHUB_PATH, github, methods=["POST"]),
                             Route("/healthz", health, methods=["GET"])])


def prefect_run_creator() -> RunCreator:
    """Create runs through the configured Prefect API (`run_deployment`, `timeout=0`)."""
    import httpx
    from prefect.client.orchestration import get_client
    from prefect.deployments import arun_deployment
    from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError

    async def create(deployment: str, parameters: dict[str, Any], key: str,
                     delivery: str) -> RunRef:
        # Which request made the run: Prefect's 201 cannot tell. It answers 201 to every
        # request that began before the winning insert (concurrent identical deliveries all
        # got 201), and 200 to its own client's re-send of a POST whose 201 was lost. A tag
        # unique to this request is stored only by the insert that made the run.
        mark = f"{REQUEST_TAG}{uuid.uuid4().hex}"
        try:
            async with get_client() as client:
                run = await arun_deployment(deployment, client=client, parameters=parameters,
                                            timeout=0, idempotency_key=key, as_subflow=False,
                                            tags=[mark, f"{DELIVERY_TAG}{delivery}"])
        except ObjectNotFound:
            raise RunCreationError(f"deployment {deployment!r} not found", 500) from None
        except PrefectHTTPStatusError as exc:
            code = exc.response.status_code
            raise RunCreationError(f"Prefect API answered {code}{_reason(exc.response)}",
                                   503 if code >= 500 or code == 429 else 500) from None
        except (httpx.TransportError, OSError) as exc:
            raise RunCreationError(f"Prefect API unreachable: {type(exc).__name__}",
                                   503) from None
        state, tags = run.state, run.tags or ()
        return RunRef(str(run.id), run.name, deployment,
                      state.type.value if state is not None else None,
                      state.name if state is not None else None,
                      created=mark in tags,
                      delivery=next((t.removeprefix(DELIVERY_TAG) for t in tags
                                     if t.startswith(DELIVERY_TAG)), None))

    return create


def _reason(response: Any) -> str:
    """": <why>" from a Prefect error answer (its JSON `detail`, else its body), one printable
    line of at most 200 characters; "" when it says nothing. A bare "answered 409" left the
    operator to guess (a parameter the deployment's schema refuses, a paused deployment...)."""
    try:
        body = response.json()
        detail = body.get("detail", body) if isinstance(body, dict) else body
        text = detail if isinstance(detail, str) else json.dumps(detail, ensure_ascii=False)
    except (ValueError, TypeError):  # not JSON (a proxy's HTML page): the body as text
        text = response.text
    line = excerpt(text)
    return f": {line}" if line else ""


def _prefect_api_url(env: Mapping[str, str]) -> str:
    from prefect.settings import get_current_settings

    url = env.get("PREFECT_API_URL") or get_current_settings().api.url
    if not url:
        raise UsageError("PREFECT_API_URL is not set; the receiver refuses to start against an "
                         "ephemeral Prefect API (events would be lost): point it at your server, "
                         "e.g. PREFECT_API_URL=http://127.0.0.1:4200/api")
    return str(url)


def main(argv: list[str] | None = None, env: Mapping[str, str] | None = None,
         prog: str = "evalsig webhook") -> int:
    """`serve [--host H] [--port P]`: run the receiver with uvicorn until interrupted.

    `prog`: the name usage lines and errors give the command (the `evalsig webhook` plugin,
    the `evalsig-webhook` script or `python -m evalsig_flows.webhook`)."""
    import argparse
    import os
    import sys

    from evalsig_core.cli import UsageParser  # exit 64, no abbreviations, "did you mean"

    env = os.environ if env is None else env
    ap = UsageParser(prog=prog, description=__doc__,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="serve the GitHub webhook receiver (uvicorn)")
    s.add_argument("--host", help="bind address (default EVALSIG_WEBHOOK_HOST or 127.0.0.1)")
    s.add_argument("--port", type=int, help="port (default EVALSIG_WEBHOOK_PORT or 8787)")
    s.add_argument("--log-level", default="info", help="uvicorn log level (default info)")
    try:
        args = ap.parse_args(argv)
        overrides = {k: v for k, v in (("host", args.host), ("port", args.port))
                     if v is not None}
        settings = WebhookSettings.load(env, **overrides)
        api = _prefect_api_url(env)
    except UsageError as exc:
        print(f"{prog}: error: {exc.one_line()}", file=sys.stderr)
        return int(exc.exit_code)
    import uvicorn

    print(f"{prog}: POST http://{settings.host}:{settings.port}{GITHUB_PATH} -> {api}",
          file=sys.stderr, flush=True)
    uvicorn.run(create_app(settings, prefect_run_creator()), host=settings.host,
                port=settings.port, log_level=args.log_level)
    return 0


def console_main(prog: str = "evalsig-webhook") -> None:
    import sys

    sys.exit(main(prog=prog))


if __name__ == "__main__":
    console_main("python -m evalsig_flows.webhook")
