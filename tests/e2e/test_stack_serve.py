"""deployments/serve.py builds the same three deployments as prefect.yaml (no server needed)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def serve() -> Any:
    spec = importlib.util.spec_from_file_location("evalsig_serve", REPO / "deployments" /
                                                  "serve.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_serve_reads_names_schedules_and_limits_from_prefect_yaml(serve: Any) -> None:
    specs = serve.load_specs(REPO / "deployments" / "prefect.yaml")
    deps = {d.name: d for d in serve.to_deployments(specs)}
    assert set(deps) == {"evalsig-nightly", "evalsig-ci-gate", "evalsig-promote"}
    (sched,) = deps["evalsig-nightly"].schedules
    assert (sched.schedule.cron, sched.schedule.timezone) == ("0 2 * * *", "UTC")
    assert deps["evalsig-nightly"].concurrency_limit == 1
    assert deps["evalsig-ci-gate"].schedules == []
    assert deps["evalsig-ci-gate"].entrypoint == "evalsig_flows.ci.ci_gate_flow"


def test_store_and_set_override_parameters_without_touching_the_specs(serve: Any) -> None:
    specs = serve.load_specs(REPO / "deployments" / "prefect.yaml")
    out = serve.apply_overrides(specs, "s3://local", ["evalsig-ci-gate.min_delta=0.01",
                                                      "evalsig-ci-gate.candidate=/x/c.json"])
    params = {s["name"]: s["parameters"] for s in out}
    assert {p["store"] for p in params.values()} == {"s3://local"}
    assert (params["evalsig-ci-gate"]["min_delta"], params["evalsig-ci-gate"]["candidate"]) == (
        0.01, "/x/c.json")
    assert specs[1]["parameters"]["store"] == "s3://evalsig-store"


def test_set_names_an_existing_deployment(serve: Any) -> None:
    specs = serve.load_specs(REPO / "deployments" / "prefect.yaml")
    with pytest.raises(SystemExit, match="evalsig-ci-gate"):
        serve.apply_overrides(specs, None, ["nope.min_delta=1"])
