"""What a GitHub event asks for, and the flow run that answers one delivery of it.

The receiver's routing, free of HTTP and of Prefect (the contract it serves is the receiver's,
`evalsig_flows.webhook`):

- `route_event` maps an event to a `RunRequest` (deployment and parameters), or to the reason
  it is ignored: `pull_request` opened, synchronize or reopened → the CI gate with repo, PR
  number and head SHA; a pull request merged into the default branch → a promotion of its head
  SHA (`trigger="merged-pr"`); a `push` to the default branch → a promotion of the pushed
  commit (`trigger="push"`). What the flows would refuse (ci_records' name checks) is refused
  here with ValueError, so a run that can only fail is never made;
- `run_for_event` finds or creates the run of one event through a `RunCreator`, under the
  idempotency key `event_key(deployment, body)`: `github-<deployment>-<sha256(body)[:32]>`,
  then `<key>-attempt-<n>` while the runs before ended without a decision (`RunRef.rerun`).
  The signed body, not the unsigned `X-GitHub-Delivery` header, names the event: a replay of a
  captured body under a fresh delivery id finds the run its first delivery made.
  `valid_delivery` admits only GitHub-like delivery ids (kept on the run as a tag, for tracing).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from evalsig_core import UsageError
from evalsig_core.numfmt import counted

from .ci_records import check_pr, check_repo, check_sha
from .outcome import decided

__all__ = ["MAX_ATTEMPTS", "PR_ACTIONS", "RERUN_STATES", "Routes", "RunCreationError",
           "RunCreator", "RunRef", "RunRequest", "event_key", "route_event", "run_for_event",
           "valid_delivery"]

PR_ACTIONS = frozenset({"opened", "synchronize", "reopened"})
RERUN_STATES = frozenset({"FAILED", "CRASHED", "CANCELLED"})
"""A delivery whose run ended in one of these Prefect state types is run again when redelivered,
unless it ended Failed with a verdict (`RunRef.decided`)."""
MAX_ATTEMPTS = 25
_DELIVERY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_ATTEMPT = re.compile(r"-attempt-[0-9]+$")
"""No GitHub delivery id (a GUID) ends in -attempt-<n>; one that does would read, in the run's
tag and the receiver's log, as another delivery's attempt n."""
_ZERO_SHA = "0" * 40


class Routes(Protocol):
    """The settings `route_event` reads (`webhook.WebhookSettings` has them)."""

    @property
    def default_branch(self) -> str | None: ...

    @property
    def ci_deployment(self) -> str: ...

    @property
    def promote_deployment(self) -> str: ...


@dataclass(frozen=True)
class RunRef:
    """The flow run created (or found again by its idempotency key) for one event.

    `state` is the run's Prefect state type (e.g. "SCHEDULED", "FAILED"), None if unknown;
    `state_name` its name (e.g. "Failed", or "Rejected" for a run that ended with a verdict:
    see `decided`); `created` is True only when this request created the run (Prefect answered
    201 Created, not 200 with the run already held under the idempotency key); `delivery` is
    the `X-GitHub-Delivery` of the request that created the run (None if unknown).
    """

    id: str
    name: str
    deployment: str
    state: str | None = None
    state_name: str | None = None
    created: bool = False
    delivery: str | None = None

    @property
    def decided(self) -> bool:
        """Ended Failed with a verdict (outcome.FINAL): never re-run."""
        return decided(self.state, self.state_name)

    @property
    def rerun(self) -> bool:
        """Ended without a verdict (error, crash, cancellation, promotion refusal): run again."""
        return self.state in RERUN_STATES and not self.decided


@dataclass(frozen=True)
class RunRequest:
    """What an event asks for: a run of `deployment` with `parameters`."""

    deployment: str
    parameters: dict[str, Any]


class RunCreationError(Exception):
    """The run could not be created; `status` is the HTTP answer (503 when retrying may help)."""

    def __init__(self, message: str, status: int = 500) -> None:
        super().__init__(message)
        self.status = status


RunCreator = Callable[[str, dict[str, Any], str, str], Awaitable[RunRef]]
"""async (deployment name, parameters, idempotency key, delivery id) -> RunRef; raises
RunCreationError.

The run already created under that key, if any, is returned (with its current state and
`created=False`); a run created by this call has `created=True` and records the delivery id."""


def event_key(deployment: str, body: bytes) -> str:
    """The idempotency key of the first run `body` asks of `deployment`.

    `github-<deployment>-<sha256(body)[:32]>`: the same signed body is the same GitHub event
    (a redelivery resends it byte for byte; its head SHA, timestamps and sender make two events'
    bodies differ), whatever `X-GitHub-Delivery` says, and that header is not signed. The
    deployment is in the key because Prefect holds keys per flow, not per deployment: two
    receivers (two webhooks on one repository) whose deployments share a flow still each
    start their own run. The digest is fixed-width hex, so no two (deployment, body, attempt)
    give one key."""
    return f"github-{deployment}-{hashlib.sha256(body).hexdigest()[:32]}"


async def run_for_event(create_run: RunCreator, wanted: RunRequest, body: bytes,
                        delivery: str) -> tuple[RunRef, int]:
    """The event's live, completed or verdict run, else a fresh one: (run, attempt number).

    Attempt n's idempotency key is `event_key(wanted.deployment, body)` for n = 1, else that
    key + `-attempt-<n>`. Each attempt's run is looked up (created if absent, tagged with
    `delivery`) in turn; one that ended Failed without a decision, Crashed or Cancelled sends us
    to the next attempt (`RunRef.rerun`), as does a promotion refusal; one that ended with a
    verdict is the answer. A redelivery and a replay of the body under another delivery id are
    the same event here, on purpose: neither can start a second run while one stands.
    """
    stem = event_key(wanted.deployment, body)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        key = stem + (f"-attempt-{attempt}" if attempt > 1 else "")
        run = await create_run(wanted.deployment, wanted.parameters, key, delivery)
        if not run.rerun:
            return run, attempt
    raise RunCreationError(f"event {stem} (delivery {delivery}) already has "
                           f"{counted(MAX_ATTEMPTS, 'run')} and every one ended Failed without "
                           "a decision, Crashed or Cancelled; start a run by hand")


def valid_delivery(delivery: str) -> bool:
    """A GitHub delivery id (GUID-like): up to 100 letters, digits, `.`, `_`, `-`, and not
    ending in `-attempt-<n>`."""
    return bool(_DELIVERY.fullmatch(delivery)) and not _ATTEMPT.search(delivery)


def _object(value: Any, name: str) -> Mapping[str, Any]:
    """A payload field that must be a JSON object (absent or null: empty)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{name} is {type(value).__name__}, not a JSON object")
    return value


def _text(value: Any, name: str) -> str | None:
    """A payload field that must be a string (absent or null: None)."""
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{name} is {type(value).__name__}, not a string")
    return value


def _checked(check: Callable[[Any], Any], value: Any, name: str) -> Any:
    """`value` through one of the flows' own name checks (ci_records): ValueError if refused."""
    try:
        return check(value)
    except UsageError as exc:
        raise ValueError(f"{name}: {exc.message}") from None


def route_event(event: str, payload: Mapping[str, Any],
                settings: Routes) -> RunRequest | str:
    """Map a GitHub event to the run it asks for, or to the reason it is ignored.

    Raises ValueError (one line naming the field) for a payload of the wrong shape.
    """
    if event not in ("pull_request", "push"):
        return f"event {event!r} is not handled"
    repository = _object(payload.get("repository"), "repository")
    repo = _text(repository.get("full_name"), "repository.full_name")
    branch = settings.default_branch or _text(repository.get("default_branch"),
                                              "repository.default_branch")
    if event == "pull_request":
        action = _text(payload.get("action"), "action")
        pr = _object(payload.get("pull_request"), "pull_request")
        merged = action == "closed" and pr.get("merged") is True
        if action not in PR_ACTIONS and not merged:
            return f"pull_request action {action!r} does not gate"
        number = payload.get("number", pr.get("number"))
        sha = _text(_object(pr.get("head"), "pull_request.head").get("sha"),
                    "pull_request.head.sha")
        if not (repo and isinstance(number, int) and sha):
            raise ValueError("pull_request payload lacks repository.full_name, number or "
                             "pull_request.head.sha")
        # what the flows would refuse is refused here: a run that can only fail is never made
        _checked(check_repo, repo, "repository.full_name")
        _checked(check_pr, number, "number")
        _checked(check_sha, sha, "pull_request.head.sha")
        if not merged:
            return RunRequest(settings.ci_deployment,
                              {"repo": repo, "pr_number": number, "head_sha": sha})
        # A merge commit or squash has a new SHA: the gated head SHA and the PR number are
        # what promotion can find the gate decision by.
        base = _text(_object(pr.get("base"), "pull_request.base").get("ref"),
                     "pull_request.base.ref")
        if not branch or base != branch:
            return f"pull request merged into {base!r}, not the default branch"
        return RunRequest(settings.promote_deployment,
                          {"repo": repo, "commit": sha, "pr_number": number,
                           "trigger": "merged-pr"})
    if event == "push":
        ref, after = _text(payload.get("ref"), "ref"), _text(payload.get("after"), "after")
        if not branch or ref != f"refs/heads/{branch}":
            return f"push to {ref!r} is not the default branch"
        if payload.get("deleted") or not after or after == _ZERO_SHA:
            return "push deletes the branch"
        if not repo:
            raise ValueError("push payload lacks repository.full_name")
        _checked(check_repo, repo, "repository.full_name")
        _checked(check_sha, after, "after")
        # Most pushed commits (merge or squash commits, direct pushes) were never gated: the
        # promotion flow records them as NOT GATED instead of refusing (see its `trigger`).
        return RunRequest(settings.promote_deployment,
                          {"repo": repo, "commit": after, "trigger": "push"})
    return f"event {event!r} is not handled"
