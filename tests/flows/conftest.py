"""One Prefect test harness and one SeaweedFS (S3) server for the whole session."""

from __future__ import annotations

import importlib.util
import os
import re
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[None]:
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120), temporary_settings(
        {PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}
    ):
        yield


@pytest.fixture
def deployment(request: pytest.FixtureRequest) -> str:
    """A Prefect deployment of the test's own (flow and deployment named uniquely after the
    test module), for the webhook receiver's tests: `<flow>/<deployment>`."""
    import asyncio

    from prefect.client.orchestration import get_client

    request.getfixturevalue("prefect_api")
    prefix = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_webhook_")
    name = f"{prefix.replace('_', '-')}-{uuid.uuid4().hex[:8]}"

    async def make() -> None:
        async with get_client() as client:
            flow_id = await client.create_flow_from_name(name)
            await client.create_deployment(flow_id=flow_id, name=name)

    asyncio.run(make())
    return f"{name}/{name}"


# -- a real S3 server (SeaweedFS), started by the project's own script ---------------------

REPO = Path(__file__).resolve().parents[2]
BUCKET = "evalsig-tests"


def local_s3_script() -> ModuleType:
    """infra/local/s3.py, loaded by path (infra/ is not a package)."""
    spec = importlib.util.spec_from_file_location("evalsig_local_s3",
                                                  REPO / "infra" / "local" / "s3.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up while being defined
    spec.loader.exec_module(mod)
    return mod


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    pid: int
    access_key: str
    secret_key: str
    bucket: str

    def settings(self, **over: Any) -> object:
        from evalsig_flows.s3 import S3Settings

        base: dict[str, Any] = {
            "endpoint_url": self.endpoint, "access_key_id": self.access_key,
            "secret_access_key": self.secret_key, "addressing_style": "path",
            "max_attempts": 3, "connect_timeout": 2.0, "read_timeout": 10.0}
        return S3Settings(**(base | over))


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """One SeaweedFS for the session, one bucket; flows read it through EVALSIG_S3_* settings."""
    script = local_s3_script()
    srv = script.start(str(tmp_path_factory.mktemp("seaweedfs")), buckets=(BUCKET,))
    env = {"EVALSIG_S3_ENDPOINT_URL": srv.endpoint, "EVALSIG_S3_ACCESS_KEY_ID": srv.access_key,
           "EVALSIG_S3_SECRET_ACCESS_KEY": srv.secret_key, "EVALSIG_S3_ADDRESSING_STYLE": "path",
           "EVALSIG_S3_MAX_ATTEMPTS": "3"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    from evalsig_flows.s3 import s3_settings

    s3_settings.cache_clear()
    server = S3Server(srv.endpoint, srv.pid, srv.access_key, srv.secret_key, BUCKET)
    _wait_for_bucket(server)
    try:
        yield server
    finally:
        script.stop(srv.pid)
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        s3_settings.cache_clear()


def _wait_for_bucket(server: S3Server, timeout: float = 30.0) -> None:
    """weed creates the bucket just after its S3 port answers: wait for it."""
    import time

    from evalsig_core import StorageError
    from evalsig_flows.s3 import S3Store

    deadline = time.monotonic() + timeout
    while True:
        try:
            S3Store(server.bucket, "probe", settings=server.settings()).list("")  # type: ignore[arg-type]
            return
        except StorageError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.fixture
def s3_uri(s3_server: S3Server, request: pytest.FixtureRequest) -> str:
    """A fresh key prefix per test in the session's bucket."""
    slug = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:60]
    return f"s3://{s3_server.bucket}/{slug}-{uuid.uuid4().hex[:8]}"


def seed_baseline(store: Any, suite: str = "demo", task: str = "qa",
                  metric: str = "accuracy", source: dict[str, Any] | None = None) -> Any:
    """Promote the bundled example baseline as the first baseline of (suite, task, metric):
    the set-up of every test that gates against a stored baseline. Returns the promotion."""
    from evalsig_flows.baselines import promote
    from tests.conftest import EXAMPLES

    return promote(store, suite=suite, task=task, metric=metric,
                   data=(EXAMPLES / "baseline.json").read_bytes(), ext="json",
                   expected_base=None, decision_id="seed", source=source or {})


def suite_file(path: Path, name: str, *entries: dict[str, Any], min_delta: float = 0.005,
               cluster: str = "passage_id") -> str:
    """Write a suite TOML file (`evalsig_core.suite_file`) of `entries`; returns its path.
    Values are written as JSON, which TOML reads the same (strings, numbers, arrays)."""
    import json

    def table(values: dict[str, Any]) -> str:
        return "".join(f"{k} = {json.dumps(v)}\n" for k, v in values.items())

    text = "[suite]\n" + table({"name": name, "min_delta": min_delta, "cluster": cluster})
    path.write_text(text + "".join(f"[[entries]]\n{table(e)}" for e in entries))
    return str(path)
