"""`prefect deploy --all` of deployments/prefect.yaml against a real local Prefect server.

The server runs on a free 127.0.0.1 port with a temporary PREFECT_HOME (SQLite) and is stopped
by its PID. The `evalsig` work pool is created with infra/kubernetes/base-job-template.json,
so the server also accepts the template the Kubernetes worker will use.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
PREFECT = str(Path(sys.executable).parent / "prefect")
PREFECT_YAML = REPO / "deployments" / "prefect.yaml"
NAMES = ("evalsig-nightly", "evalsig-ci-gate", "evalsig-promote")

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    home = tmp_path_factory.mktemp("prefect-home")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(home), DO_NOT_TRACK="1", PREFECT_SERVER_ANALYTICS_ENABLED="false",
               PREFECT_API_DATABASE_CONNECTION_URL=f"sqlite+aiosqlite:///{home}/prefect.db")
    log = open(home / "server.log", "wb")  # noqa: SIM115 - closed in the finally below
    proc = subprocess.Popen([PREFECT, "server", "start", "--host", "127.0.0.1", "--port",
                             str(port)], env=env, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    api = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 240
        while True:
            assert proc.poll() is None, (home / "server.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "Prefect server did not start in 240 s"
            try:
                if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        yield {"api": api, "env": dict(env, PREFECT_API_URL=api), "home": home}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module")
def deployed(server: dict[str, Any]) -> dict[str, dict[str, Any]]:
    template = json.loads((REPO / "infra" / "kubernetes" / "base-job-template.json").read_text())
    r = httpx.post(f"{server['api']}/work_pools/", timeout=30, json={
        "name": "evalsig", "type": "kubernetes", "base_job_template": template})
    assert r.status_code == 201, r.text
    before = PREFECT_YAML.read_bytes()
    out = subprocess.run([PREFECT, "--no-prompt", "deploy", "--all", "--prefect-file",
                          "deployments/prefect.yaml"], cwd=REPO, env=server["env"],
                         capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert PREFECT_YAML.read_bytes() == before, "prefect deploy rewrote prefect.yaml"
    found = {}
    for name in NAMES:
        r = httpx.get(f"{server['api']}/deployments/name/{name}/{name}", timeout=30)
        assert r.status_code == 200, f"{name}: {r.text}"
        found[name] = r.json()
    return found


def test_prefect_deploy_all_creates_the_three_deployments_in_the_work_pool(
        deployed: dict[str, dict[str, Any]]) -> None:
    assert {d["work_pool_name"] for d in deployed.values()} == {"evalsig"}
    assert {n: d["entrypoint"] for n, d in deployed.items()} == {
        "evalsig-nightly": "evalsig_flows/nightly.py:nightly_gate_flow",
        "evalsig-ci-gate": "evalsig_flows/ci.py:ci_gate_flow",
        "evalsig-promote": "evalsig_flows/promotion.py:promote_baseline_flow"}


def test_the_nightly_runs_at_0200_utc_one_at_a_time(
        deployed: dict[str, dict[str, Any]]) -> None:
    nightly = deployed["evalsig-nightly"]
    (sched,) = nightly["schedules"]
    assert (sched["schedule"]["cron"], sched["schedule"]["timezone"], sched["active"]) == (
        "0 2 * * *", "UTC", True)
    assert nightly["global_concurrency_limit"]["limit"] == 1
    assert nightly["parameters"]["suite_file"] == "deployments/suite.example.toml"


def test_the_ci_gate_takes_repo_pr_and_sha_from_the_receiver(
        deployed: dict[str, dict[str, Any]]) -> None:
    ci = deployed["evalsig-ci-gate"]
    schema = ci["parameter_openapi_schema"]
    assert {"repo", "pr_number", "head_sha"} <= set(schema["properties"])
    assert {"task", "metric", "min_delta", "store"} <= set(ci["parameters"])
    assert not ci["schedules"]


def test_promotion_is_not_scheduled_and_takes_repo_and_commit(
        deployed: dict[str, dict[str, Any]]) -> None:
    promote = deployed["evalsig-promote"]
    assert not promote["schedules"]
    assert {"repo", "commit", "pr_number"} <= set(promote["parameter_openapi_schema"]
                                                  ["properties"])
