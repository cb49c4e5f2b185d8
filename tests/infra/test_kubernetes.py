"""infra/kubernetes: the work pool's base job template and the worker manifest agree with the
CloudFormation template and with deployments/prefect.yaml."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "infra" / "kubernetes"


@pytest.fixture(scope="module")
def job_template() -> dict[str, Any]:
    return dict(json.loads((K8S / "base-job-template.json").read_text()))


@pytest.fixture(scope="module")
def manifests() -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((K8S / "worker.yaml").read_text()) if d]


def test_every_placeholder_of_the_job_template_is_a_declared_variable(
        job_template: dict[str, Any]) -> None:
    from prefect.server.schemas.actions import WorkPoolCreate

    pool = WorkPoolCreate(name="evalsig", type="kubernetes", base_job_template=job_template)
    assert pool.base_job_template == job_template


def test_prefect_rejects_a_template_using_an_undeclared_variable(
        job_template: dict[str, Any]) -> None:
    """The check above can fail."""
    from prefect.server.schemas.actions import WorkPoolCreate
    from pydantic import ValidationError

    broken = json.loads(json.dumps(job_template))
    broken["job_configuration"]["name"] = "{{ no_such_variable }}"
    with pytest.raises(ValidationError, match="no_such_variable"):
        WorkPoolCreate(name="evalsig", type="kubernetes", base_job_template=broken)


def test_flow_run_pods_use_the_service_account_the_iam_role_is_bound_to(
        job_template: dict[str, Any], manifests: list[dict[str, Any]]) -> None:
    from cfnlint.decode import cfn_yaml

    cfn = cfn_yaml.load(str(REPO / "infra" / "aws" / "evalsig-store.yaml"))
    sa = job_template["variables"]["properties"]["service_account_name"]["default"]
    assert sa == cfn["Parameters"]["FlowRunServiceAccount"]["Default"]
    assert any(m["kind"] == "ServiceAccount" and m["metadata"]["name"] == sa for m in manifests)
    ns = job_template["variables"]["properties"]["namespace"]["default"]
    assert ns == cfn["Parameters"]["WorkerNamespace"]["Default"]


def test_the_worker_polls_the_work_pool_the_deployments_use(
        manifests: list[dict[str, Any]]) -> None:
    deployments = yaml.safe_load((REPO / "deployments" / "prefect.yaml").read_text())
    pools = {d["work_pool"]["name"] for d in deployments["deployments"]}
    (worker,) = [m for m in manifests if m["kind"] == "Deployment"]
    args = worker["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--pool") + 1] in pools and len(pools) == 1
    assert args[args.index("--type") + 1] == "kubernetes"


def test_the_worker_may_only_manage_jobs_and_read_pods_in_its_namespace(
        manifests: list[dict[str, Any]]) -> None:
    kinds = {m["kind"] for m in manifests}
    assert "ClusterRole" not in kinds and "ClusterRoleBinding" not in kinds
    (role,) = [m for m in manifests if m["kind"] == "Role"]
    for rule in role["rules"]:
        assert "*" not in rule["verbs"] and "*" not in rule["resources"]
        if rule["resources"] != ["jobs"]:
            assert set(rule["verbs"]) <= {"get", "list", "watch"}
