"""infra/aws/evalsig-store.yaml: cfn-lint clean, and the worker policy is least privilege."""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Any

import pytest

TEMPLATE = Path(__file__).resolve().parents[2] / "infra" / "aws" / "evalsig-store.yaml"
PREFIXES = ("baselines/", "candidates/", "reports/", "audit/", "ci/")


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    from cfnlint.decode import cfn_yaml

    return dict(cfn_yaml.load(str(TEMPLATE)))


def statements(template: dict[str, Any], resource: str) -> list[dict[str, Any]]:
    """Policy statements, with each `Fn::If [cond, statement, NoValue]` taken as present."""
    doc = template["Resources"][resource]["Properties"]["PolicyDocument"]
    out = []
    for st in doc["Statement"]:
        if "Fn::If" in st:
            st = st["Fn::If"][1]
        out.append(st)
    return out


def as_list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else [v]


def resource_text(r: Any) -> str:
    if isinstance(r, dict) and "Fn::Sub" in r:
        return str(r["Fn::Sub"])
    if isinstance(r, dict) and "Fn::GetAtt" in r:
        return "GetAtt:" + ".".join(as_list(r["Fn::GetAtt"]))
    if isinstance(r, dict) and "Ref" in r:
        return "Ref:" + str(r["Ref"])
    return str(r)


def test_cfn_lint_reports_no_error_or_warning_in_any_region() -> None:
    from cfnlint.api import ManualArgs, lint
    from cfnlint.helpers import REGIONS

    matches = lint(TEMPLATE.read_text(), config=ManualArgs(regions=REGIONS))
    assert [str(m) for m in matches] == []


def test_cfn_lint_catches_a_broken_template() -> None:
    """The check above can fail: a misspelt versioning status is an error."""
    from cfnlint.api import lint

    broken = TEMPLATE.read_text().replace("Status: Enabled\n", "Status: Enabledd\n", 1)
    assert any(m.rule.id.startswith("E") for m in lint(broken))


def test_the_bucket_is_versioned_encrypted_private_and_owner_enforced(
        template: dict[str, Any]) -> None:
    props = template["Resources"]["StoreBucket"]["Properties"]
    assert props["VersioningConfiguration"]["Status"] == "Enabled"
    assert all(props["PublicAccessBlockConfiguration"][k] is True for k in (
        "BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"))
    sse = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    kms, aes = sse["ServerSideEncryptionByDefault"]["Fn::If"][1:]
    assert (kms["SSEAlgorithm"], aes["SSEAlgorithm"]) == ("aws:kms", "AES256")
    assert props["OwnershipControls"]["Rules"][0]["ObjectOwnership"] == "BucketOwnerEnforced"
    assert template["Resources"]["StoreBucket"]["DeletionPolicy"] == "Retain"


def test_lifecycle_expires_reports_and_candidates_but_never_baselines_or_audit(
        template: dict[str, Any]) -> None:
    rules = template["Resources"]["StoreBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    expiring = {r.get("Prefix", "") for r in rules if "ExpirationInDays" in r}
    assert expiring == {"reports/", "candidates/"}
    assert all(r.get("Prefix") is not None for r in rules if "ExpirationInDays" in r
               or "NoncurrentVersionExpiration" in r)


def test_object_lock_is_optional_and_forces_locked_audit_records(
        template: dict[str, Any]) -> None:
    props = template["Resources"]["StoreBucket"]["Properties"]
    assert props["ObjectLockEnabled"]["Fn::If"][0] == "UseAuditLock"
    by_sid = {s["Sid"]: s for s in statements(template, "StoreBucketPolicy")}
    for sid in ("DenyUnlockedAuditRecords", "DenyShortAuditRetention"):
        assert resource_text(by_sid[sid]["Resource"]) == "${StoreBucket.Arn}/audit/*/*"
    assert by_sid["DenyShortAuditRetention"]["Condition"]["NumericLessThan"] == {
        "s3:object-lock-remaining-retention-days": {"Ref": "AuditLockDays"}}


def test_the_store_locks_exactly_the_keys_the_policy_requires_locked(
        template: dict[str, Any]) -> None:
    """S3Store's `is_locked_audit_key` against the policy's resource pattern (S3's `*` spans
    '/'), on every kind of key the store writes; and the parameter names the setting."""
    import fnmatch
    from datetime import UTC, datetime

    from evalsig_core.audit import AUDIT_HEAD_KEY, record_key
    from evalsig_flows.s3 import is_locked_audit_key

    by_sid = {s["Sid"]: s for s in statements(template, "StoreBucketPolicy")}
    pattern = resource_text(by_sid["DenyUnlockedAuditRecords"]["Resource"]).split("}/", 1)[1]
    keys = [record_key("d-1", datetime(2026, 11, 30, tzinfo=UTC), 7), AUDIT_HEAD_KEY,
            "audit/claims/promote-abc.json", "audit/claims/promote-abc.linked.json",
            "baselines/demo/qa/accuracy/current.json", "reports/2026/11/30/d/report.json",
            "candidates/demo/x.json", "ci/acme%2Fevals/commits/abc/demo/qa/accuracy.json"]
    assert [fnmatch.fnmatchcase(k, pattern) for k in keys] == [
        is_locked_audit_key(k) for k in keys] == [True, False, True, True] + [False] * 4
    description = template["Parameters"]["AuditLockDays"]["Description"]
    assert "EVALSIG_S3_AUDIT_LOCK_DAYS" in description


def test_no_allow_statement_uses_a_wildcard_action_or_resource(template: dict[str, Any]) -> None:
    for st in statements(template, "WorkerPolicy"):
        assert st["Effect"] == "Allow"
        for action in as_list(st["Action"]):
            assert "*" not in action, st["Sid"]
        for res in as_list(st["Resource"]):
            assert resource_text(res) not in ("*", "arn:aws:s3:::*"), st["Sid"]


def test_worker_objects_are_only_under_the_store_prefixes(template: dict[str, Any]) -> None:
    for st in statements(template, "WorkerPolicy"):
        for res in map(resource_text, as_list(st["Resource"])):
            if res.startswith("${StoreBucket.Arn}/"):
                key = res.removeprefix("${StoreBucket.Arn}/")
                assert key.startswith(PREFIXES) and key != "*", (st["Sid"], key)
            else:  # the bucket itself (list) or the KMS key: nothing else
                assert res in ("GetAtt:StoreBucket.Arn", "Ref:KmsKeyArn"), (st["Sid"], res)


def _allows_list(st: dict[str, Any], context: dict[str, str]) -> bool:
    """Whether an Allow statement grants s3:ListBucket on the bucket in a request `context`,
    under IAM's rule that a condition on a key the request does not carry does not match."""
    if st["Effect"] != "Allow" or "s3:ListBucket" not in as_list(st["Action"]):
        return False
    for op, keys in (st.get("Condition") or {}).items():
        assert op == "StringLike", op  # the only operator this model evaluates
        for key, patterns in keys.items():
            value = context.get(key)
            if value is None or not any(fnmatch.fnmatchcase(value, p)
                                        for p in as_list(patterns)):
                return False
    return True


def test_the_worker_may_head_the_bucket_and_be_told_an_object_is_missing(
        template: dict[str, Any]) -> None:
    """S3Store checks its bucket with HeadBucket (s3:ListBucket, no prefix in the request),
    and S3 answers a GET/HEAD of a missing key 404 only to a caller that may list the bucket
    (else 403). Before, ListBucket was granted only for requests with an s3:prefix of the
    store's prefixes: HeadBucket was denied on AWS, so every flow run ended "access denied",
    and a first promotion's missing pointer read as a denial, not as "none yet"."""
    worker = statements(template, "WorkerPolicy")
    assert any(_allows_list(st, {}) for st in worker)  # HeadBucket, and the 404 answers
    assert any(_allows_list(st, {"s3:prefix": "baselines/demo/"}) for st in worker)


def test_the_worker_can_delete_nothing_and_configure_nothing(template: dict[str, Any]) -> None:
    actions = {a for st in statements(template, "WorkerPolicy") for a in as_list(st["Action"])}
    assert actions <= {"s3:ListBucket", "s3:GetObject", "s3:GetObjectVersion", "s3:PutObject",
                       "s3:PutObjectRetention", "kms:Decrypt", "kms:GenerateDataKey"}


def put_statements(template: dict[str, Any]) -> list[tuple[dict[str, Any], list[str]]]:
    return [(st, [resource_text(r) for r in as_list(st["Resource"])])
            for st in statements(template, "WorkerPolicy")
            if "s3:PutObject" in as_list(st["Action"])]


def test_baselines_and_the_audit_head_are_written_only_by_conditional_puts(
        template: dict[str, Any]) -> None:
    for st, keys in put_statements(template):
        if any("/baselines/" in k or k.endswith("/audit/head.json") for k in keys):
            assert st["Condition"]["Null"] in ({"s3:if-none-match": "false"},
                                               {"s3:if-match": "false"}), st["Sid"]


def test_only_the_two_pointers_may_be_replaced_and_only_if_unchanged(
        template: dict[str, Any]) -> None:
    moves = [keys for st, keys in put_statements(template)
             if st.get("Condition", {}).get("Null") == {"s3:if-match": "false"}]
    assert moves == [["${StoreBucket.Arn}/baselines/*/current.json",
                      "${StoreBucket.Arn}/audit/head.json"]]


def test_unconditional_writes_are_limited_to_candidates_reports_decisions_and_records(
        template: dict[str, Any]) -> None:
    plain = [k for st, keys in put_statements(template) if "Condition" not in st for k in keys]
    assert sorted(k.removeprefix("${StoreBucket.Arn}/") for k in plain) == [
        "audit/*/*", "candidates/*", "ci/*", "reports/*"]


def test_the_bucket_policy_denies_plain_http_and_unconditional_baseline_writes(
        template: dict[str, Any]) -> None:
    by_sid = {s["Sid"]: s for s in statements(template, "StoreBucketPolicy")}
    assert by_sid["DenyInsecureTransport"]["Condition"] == {
        "Bool": {"aws:SecureTransport": "false"}}
    versions = by_sid["DenyOverwritingBaselineVersions"]
    assert versions["Effect"] == "Deny" and versions["Condition"] == {
        "Null": {"s3:if-none-match": "true"}}
    pointers = by_sid["DenyUnconditionalPointerMoves"]
    assert pointers["Condition"] == {"Null": {"s3:if-none-match": "true",
                                              "s3:if-match": "true"}}
    assert [resource_text(r) for r in pointers["Resource"]] == [
        "${StoreBucket.Arn}/baselines/*/current.json", "${StoreBucket.Arn}/audit/head.json"]
