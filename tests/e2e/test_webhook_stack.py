"""End to end on 127.0.0.1, real processes started by the project's own script
(infra/local/stack.py, what `make up` runs): Prefect server, SeaweedFS, the served deployments
and the webhook receiver. GitHub is played by signed HTTP requests.

The pull request is gated once (fixture `gated_pr`) and promoted once after it (fixture
`promoted`), so no test depends on the order the others ran in.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest

from evalsig_flows.github_events import event_key
from evalsig_flows.webhook import sign

REPO = Path(__file__).resolve().parents[2]
STACK = REPO / "infra" / "local" / "stack.py"
EVENTS = REPO / "infra" / "local" / "events"
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("stack")
    cmd = [sys.executable, str(STACK), "--dir", str(root)]
    up = subprocess.run([*cmd[:2], "up", *cmd[2:], "--prefect-port", "0", "--s3-port", "0",
                         "--webhook-port", "0"], capture_output=True, text=True, timeout=560)
    try:
        assert up.returncode == 0, up.stderr + up.stdout
        state = json.loads((root / "stack.json").read_text())
        state["secret"] = (root / "webhook-secret").read_text().strip()
        yield state
    finally:
        pids = {name: int((root / f"{name}.pid").read_text()) for name in
                ("prefect", "s3", "serve", "webhook") if (root / f"{name}.pid").exists()}
        subprocess.run([*cmd[:2], "down", *cmd[2:]], capture_output=True, timeout=120)
        for name, pid in pids.items():  # `down` stopped exactly what `up` started
            assert not (root / f"{name}.pid").exists(), f"{name} pidfile left behind"
            assert not Path(f"/proc/{pid}").exists() or _zombie(pid), f"{name} still runs"


REDELIVERIES = 3  # answers of 503 redelivered (see deliver)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def deliver(stack: dict[str, Any], event: str, payload: dict[str, Any] | bytes, *,
            delivery: str | None = None, secret: str | None = None) -> httpx.Response:
    """POST a signed event as GitHub does. A 503 (the Prefect API did not answer within the
    receiver's budget: it happens on a loaded 2-core CI machine) is redelivered under the same
    X-GitHub-Delivery, as an operator does from GitHub's delivery log: idempotency keeps it
    one run, and the test still sees any other answer as it is."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {"X-GitHub-Event": event, "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
               "X-Hub-Signature-256": sign(secret or stack["secret"], body),
               "Content-Type": "application/json"}
    for _ in range(REDELIVERIES):
        r = httpx.post(stack["webhook"]["url"], content=body, headers=headers, timeout=30)
        if r.status_code != 503:
            return r
        time.sleep(5)
    return r


def api(stack: dict[str, Any], method: str, path: str, **kw: Any) -> Any:
    # 502/503 retried as Prefect's own client does (a local server under load answers 503
    # when its database times out; seen once in a full `make test` on a busy machine)
    for _ in range(5):
        r = httpx.request(method, stack["prefect"]["api"] + path, timeout=30, **kw)
        if r.status_code not in (502, 503):
            break
        time.sleep(2)
    r.raise_for_status()
    return r.json()


def wait_run(stack: dict[str, Any], run_id: str, timeout: float = 240) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = api(stack, "GET", f"/flow_runs/{run_id}")
        if run["state"] and run["state"]["type"] in TERMINAL:
            return dict(run)
        time.sleep(1)
    raise AssertionError(f"flow run {run_id} not finished in {timeout}s")


def runs_of(stack: dict[str, Any], deployment: str) -> list[dict[str, Any]]:
    dep = api(stack, "GET", f"/deployments/name/{deployment}")
    return list(api(stack, "POST", "/flow_runs/filter",
                    json={"deployments": {"id": {"any_": [dep["id"]]}}}))


def s3_client(stack: dict[str, Any]) -> Any:
    import boto3

    s = stack["s3"]
    return boto3.client("s3", endpoint_url=s["url"], aws_access_key_id=s["access_key"],
                        aws_secret_access_key=s["secret_key"], region_name="us-east-1")


def pr_payload(sha: str, number: int, action: str = "opened") -> dict[str, Any]:
    doc = json.loads((EVENTS / "pull_request.json").read_text())
    doc.update(action=action, number=number)
    doc["pull_request"].update(number=number, head={"ref": f"pr-{number}", "sha": sha})
    return dict(doc)


HEAD_SHA = "a1" * 20
# the entry deployments/prefect.yaml gates: one record per (suite, task, metric) of a commit
RECORD = f"ci/acme/evals/commits/{HEAD_SHA}/ci/reading-comprehension/accuracy.json"


@pytest.fixture(scope="module")
def gated_pr(stack: dict[str, Any]) -> dict[str, Any]:
    delivery = str(uuid.uuid4())
    r = deliver(stack, "pull_request", pr_payload(HEAD_SHA, 7), delivery=delivery)
    assert r.status_code == 202, r.text
    run = wait_run(stack, r.json()["flow_run_id"])
    return {"delivery": delivery, "response": r.json(), "run": run}


@pytest.fixture(scope="module")
def promoted(stack: dict[str, Any], gated_pr: dict[str, Any]) -> dict[str, Any]:
    push = json.loads((EVENTS / "push.json").read_text())
    push.update(after=HEAD_SHA)
    r = deliver(stack, "push", push)
    assert r.status_code == 202, r.text
    return wait_run(stack, r.json()["flow_run_id"])


def test_a_signed_pull_request_runs_the_ci_gate_to_completion(
        gated_pr: dict[str, Any]) -> None:
    run = gated_pr["run"]
    assert run["state"]["type"] == "COMPLETED", run["state"]["message"]
    assert run["state"]["message"].startswith("ALLOW")
    assert {k: run["parameters"][k] for k in ("repo", "pr_number", "head_sha")} == {
        "repo": "acme/evals", "pr_number": 7, "head_sha": HEAD_SHA}
    body = json.dumps(pr_payload(HEAD_SHA, 7)).encode()
    assert run["idempotency_key"] == event_key("evalsig-ci-gate/evalsig-ci-gate", body)
    assert f"github-delivery:{gated_pr['delivery']}" in run["tags"]


def test_the_gate_report_is_stored_in_seaweedfs(stack: dict[str, Any],
                                                gated_pr: dict[str, Any]) -> None:
    s3 = s3_client(stack)
    record = json.loads(s3.get_object(Bucket="evalsig",
                                      Key=RECORD)["Body"].read())
    report_key = urlparse(record["report"]).path.lstrip("/")
    report = json.loads(s3.get_object(Bucket="evalsig", Key=report_key)["Body"].read())
    assert (record["verdict"], report["verdict"]) == ("ALLOW", "ALLOW")


def test_the_gate_report_is_an_artifact_of_the_flow_run(stack: dict[str, Any],
                                                        gated_pr: dict[str, Any]) -> None:
    arts = api(stack, "POST", "/artifacts/filter", json={
        "artifacts": {"flow_run_id": {"any_": [gated_pr["run"]["id"]]}}})
    by_key = {a["key"]: a for a in arts}
    key = "ci-acme-evals-pr-7-ci-reading-comprehension-accuracy"  # suite ci, metric accuracy
    assert "ALLOW" in by_key[f"evalsig-report-{key}"]["data"]
    assert "(s3://evalsig/reports/" in by_key[f"evalsig-link-{key}"]["data"]


def test_the_same_delivery_again_starts_no_second_run(stack: dict[str, Any],
                                                      gated_pr: dict[str, Any]) -> None:
    again = deliver(stack, "pull_request", pr_payload(HEAD_SHA, 7),
                    delivery=gated_pr["delivery"])
    assert again.status_code == 202
    assert again.json()["flow_run_id"] == gated_pr["response"]["flow_run_id"]
    mine = [r for r in runs_of(stack, "evalsig-ci-gate/evalsig-ci-gate")
            if r["parameters"].get("head_sha") == HEAD_SHA]
    assert len(mine) == 1


def test_a_bad_signature_gets_401_and_starts_no_run(stack: dict[str, Any]) -> None:
    sha = "b2" * 20
    r = deliver(stack, "pull_request", pr_payload(sha, 8), secret="not the secret")
    assert r.status_code == 401
    assert not [r for r in runs_of(stack, "evalsig-ci-gate/evalsig-ci-gate")
                if r["parameters"].get("head_sha") == sha]


def test_a_26_mb_body_gets_413_before_it_is_read(stack: dict[str, Any]) -> None:
    """Like curl, announce the body (Expect: 100-continue): the receiver answers 413 at once."""
    url = urlparse(stack["webhook"]["url"])
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    conn.putrequest("POST", url.path)
    for k, v in {"Content-Type": "application/json", "Content-Length": str(26 * 1024 * 1024),
                 "X-GitHub-Event": "pull_request", "X-GitHub-Delivery": str(uuid.uuid4()),
                 "X-Hub-Signature-256": "sha256=" + "0" * 64,
                 "Expect": "100-continue"}.items():
        conn.putheader(k, v)
    conn.endheaders()  # no body sent: the answer must not need it
    resp = conn.getresponse()
    assert resp.status == 413
    conn.close()


def test_a_26_mb_body_sent_whole_also_gets_413(stack: dict[str, Any]) -> None:
    r = deliver(stack, "pull_request", b"{" + b" " * (26 * 1024 * 1024) + b"}")
    assert r.status_code == 413


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_prefect_api_down_gets_503_never_2xx(tmp_path: Path) -> None:
    """A receiver whose Prefect server is down (nothing listens on its API port)."""
    port, dead = _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "EVALSIG_"))}
    env.update(PREFECT_API_URL=f"http://127.0.0.1:{dead}/api", EVALSIG_WEBHOOK_SECRET="s",
               EVALSIG_WEBHOOK_PORT=str(port), PREFECT_HOME=str(tmp_path))
    log = open(tmp_path / "webhook.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "-m", "evalsig_flows.webhook", "serve"], env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.3)
        body = json.dumps(pr_payload("c3" * 20, 9)).encode()
        r = httpx.post(base + "/github", content=body, timeout=30, headers={
            "X-GitHub-Event": "pull_request", "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-Hub-Signature-256": sign("s", body), "Content-Type": "application/json"})
        assert r.status_code == 503, r.text
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)
        log.close()


def test_a_push_to_main_after_an_allow_promotes_the_gated_candidate(
        stack: dict[str, Any], gated_pr: dict[str, Any], promoted: dict[str, Any]) -> None:
    assert promoted["state"]["type"] == "COMPLETED", promoted["state"]["message"]
    s3 = s3_client(stack)
    pointer = json.loads(s3.get_object(
        Bucket="evalsig", Key=stack["s3"]["baseline_pointer"])["Body"].read())
    record = json.loads(s3.get_object(
        Bucket="evalsig", Key=RECORD)["Body"].read())
    assert pointer["current"]["version_sha256"] == record["candidate_sha256"]
    assert pointer["current"]["source"]["commit"] == HEAD_SHA
    assert pointer["previous"] is not None  # the seeded baseline, still referenced


def test_the_push_of_a_merge_commit_no_gate_decided_completes_not_gated(
        stack: dict[str, Any]) -> None:
    push = json.loads((EVENTS / "push.json").read_text())
    push.update(after="d4" * 20)  # a merge or squash commit: a SHA no gate ever saw
    r = deliver(stack, "push", push)
    assert r.status_code == 202, r.text
    run = wait_run(stack, r.json()["flow_run_id"])
    assert run["state"]["type"] == "COMPLETED", run["state"]["message"]
    assert run["state"]["message"].startswith("NOT GATED: no CI gate decided")
    assert run["parameters"]["trigger"] == "push"


def test_after_the_promotion_the_audit_chain_verifies(
        stack: dict[str, Any], promoted: dict[str, Any]) -> None:
    from evalsig_core.audit import AUDIT_HEAD_KEY, verify_chain
    from evalsig_flows.s3 import S3Settings, S3Store

    s = stack["s3"]
    store = S3Store("evalsig", settings=S3Settings(
        endpoint_url=s["url"], access_key_id=s["access_key"], secret_access_key=s["secret_key"],
        addressing_style="path"))
    result = verify_chain(store.get(AUDIT_HEAD_KEY), store.get)
    assert result.ok, result.problems
    assert result.n_records >= 2  # the gate and the promotion


def test_the_served_nightly_gates_the_example_suite_and_stores_one_combined_report(
        stack: dict[str, Any]) -> None:
    dep = api(stack, "GET", "/deployments/name/evalsig-nightly/evalsig-nightly")
    run = api(stack, "POST", f"/deployments/{dep['id']}/create_flow_run", json={})
    done = wait_run(stack, run["id"])
    # deployments/suite.example.toml holds a regressed candidate: the suite is REJECT
    assert done["state"]["type"] == "FAILED"
    assert done["state"]["message"].startswith("REJECT"), done["state"]["message"]
    stored = done["state"]["message"].rsplit("(report: ", 1)[1].rstrip(")")
    assert stored.startswith("s3://evalsig/reports/")
    report = json.loads(s3_client(stack).get_object(
        Bucket="evalsig", Key=urlparse(stored).path.lstrip("/"))["Body"].read())
    assert report["verdict"] == "REJECT" and len(report["entries"]) == 2


def test_a_reviewer_verifies_the_trail_with_evalsig_audit_verify(
        stack: dict[str, Any], promoted: dict[str, Any]) -> None:
    s = stack["s3"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVALSIG_")}
    env.update(EVALSIG_S3_ENDPOINT_URL=s["url"], EVALSIG_S3_ACCESS_KEY_ID=s["access_key"],
               EVALSIG_S3_SECRET_ACCESS_KEY=s["secret_key"], EVALSIG_S3_ADDRESSING_STYLE="path")
    out = subprocess.run([sys.executable, "-m", "evalsig_core.cli", "audit", "verify",
                          "--store", "s3://evalsig"], env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
