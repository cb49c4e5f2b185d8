"""The `s3://bucket/prefix` store: boto3, typed settings read once, SHA-256 end to end.

Settings come from `EVALSIG_S3_*` environment variables (or are passed in); credentials left
unset fall back to boto3's usual chain (AWS_* variables, profiles, instance/IRSA roles).
Every upload carries a SHA-256 checksum the server verifies (ChecksumAlgorithm="SHA256") and
the digest as metadata; every download is hashed and compared before it is returned.
botocore errors are converted here, at the boundary, into one-line evalsig errors:
`InputNotFoundError` (66) for a missing object, `PreconditionFailed` for a lost conditional
write, and `StorageError` (74) for everything else (credentials, bucket, network, timeouts).
A storage error is retried by the flows' I/O tasks only if it may pass: network failures and
the answers botocore itself retries (`retryable`: 5xx, throttling such as SlowDown or 429,
RequestTimeout); any other 4xx (400 InvalidArgument, 411, 413 EntityTooLarge, ...) and a
denial or a missing bucket fail at once, naming the key and the S3 error code.

Audit records under Object Lock: with `audit_lock_days` > 0 (EVALSIG_S3_AUDIT_LOCK_DAYS, the
bucket created with Object Lock, as infra/aws/evalsig-store.yaml does for AuditLockDays > 0),
every object under `audit/<dir>/...` (the records `audit/<yyyy>/<mm>/<dd>/...` and the claims
`audit/claims/...`; not the head `audit/head.json`, which moves by conditional writes) is
written with ObjectLockMode=COMPLIANCE and ObjectLockRetainUntilDate = now + that many days
+ one hour (so S3's whole-day count of the remaining retention is never one day short).
Nothing else (baselines, candidates, reports, CI records) is ever locked. The SHA-256
checksum headers every upload carries (x-amz-sdk-checksum-algorithm, x-amz-checksum-sha256)
are the integrity check S3 requires on a PutObject with Object Lock parameters.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from evalsig_core import InputNotFoundError, StorageError, UsageError

from .s3_clients import shared_client
from .store import ObjectInfo, PreconditionFailed, check_key
from .text import quoted

__all__ = ["LOCK_MARGIN", "S3Settings", "S3Store", "is_locked_audit_key", "retryable",
           "s3_settings", "split_s3_uri"]

_PRECONDITION = {"PreconditionFailed", "412", "ConditionalRequestConflict", "409"}
_NOT_FOUND = {"NoSuchKey", "404", "NotFound"}
_ANSWERED = {"403", "404", "409", "412"}  # statuses with their own meaning (see _convert)
_DENIED = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "403", "Forbidden",
           "ExpiredToken", "InvalidToken"}


class S3Settings(BaseSettings):
    """S3 client configuration, read once from `EVALSIG_S3_*` (e.g. EVALSIG_S3_ENDPOINT_URL)."""

    model_config = SettingsConfigDict(env_prefix="EVALSIG_S3_", frozen=True, extra="ignore")

    endpoint_url: str | None = None
    region: str = "us-east-1"
    access_key_id: str | None = None
    secret_access_key: SecretStr | None = None
    session_token: SecretStr | None = None
    retry_mode: Literal["standard", "adaptive"] = "standard"
    max_attempts: int = 5
    addressing_style: Literal["auto", "path", "virtual"] = "auto"
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    audit_lock_days: int = Field(default=0, ge=0, description=(
        "0 = off; else audit records are written COMPLIANCE-locked for this many days "
        "(the bucket needs Object Lock; match the template's AuditLockDays)"))


@cache
def s3_settings() -> S3Settings:
    """The process-wide settings, read from the environment on first use only."""
    return S3Settings()


_HINTS = {
    "InvalidBucketName": "fix the bucket name in the store URI (s3://bucket/prefix)",
    "KeyTooLongError": "use a shorter store prefix or shorter suite/task/metric names",
    "EntityTooLarge": "the object is larger than the endpoint accepts in one upload",
    "RequestTimeTooSkewed": "set this machine's clock right (NTP), then retry",
    "AuthorizationHeaderMalformed": "set EVALSIG_S3_REGION to the bucket's region",
}


@cache
def _retryable_answers() -> tuple[frozenset[str], frozenset[int]]:
    """The S3 error codes and HTTP statuses botocore itself retries, from botocore.

    Its standard retry mode's transient and throttling codes and statuses, plus its legacy
    mode's policies (data/_retry.json: the shared definitions and S3's own, RequestTimeout
    and BadDigest).
    """
    from botocore.loaders import Loader
    from botocore.retries import standard

    codes = {*getattr(standard.TransientRetryableChecker, "_TRANSIENT_ERROR_CODES", ()),
             *getattr(standard.ThrottledRetryableChecker, "_THROTTLED_ERROR_CODES", ())}
    statuses = {*getattr(standard.TransientRetryableChecker, "_TRANSIENT_STATUS_CODES", ()),
                *getattr(standard.ThrottlingStatusCodeChecker, "_THROTTLING_STATUS_CODES", ())}
    try:
        data = Loader().load_data("_retry")
        policies = [*data.get("definitions", {}).values(), *data.get("retry", {}).get(
            "s3", {}).get("__default__", {}).get("policies", {}).values()]
        for policy in policies:
            answer = policy.get("applies_when", {}).get("response", {})
            if "service_error_code" in answer:
                codes.add(answer["service_error_code"])
            elif "http_status_code" in answer:
                statuses.add(int(answer["http_status_code"]))
    except Exception:  # a botocore whose retry data moved: its standard mode's lists, and ours
        codes |= _S3_RETRIED
    return frozenset(codes), frozenset(statuses)


# S3's own retryable answers in botocore's data/_retry.json (the fallback if it cannot be read)
_S3_RETRIED = {"RequestTimeout", "BadDigest"}


def retryable(code: str, status: str) -> bool:
    """Whether botocore would retry this S3 answer (error code, HTTP status): throttling
    (SlowDown, 429 ...), timeouts (RequestTimeout, 408), 5xx. Any other 4xx is permanent."""
    codes, statuses = _retryable_answers()
    return (code in codes or (status.isdigit() and (int(status) in statuses
                                                    or int(status) >= 500 or status == "408")))


def _permanent(message: str, *, hint: str) -> StorageError:
    """A storage error that retrying cannot fix (credentials, bucket): tasks do not retry it."""
    err = StorageError(message, hint=hint)
    err.permanent = True  # type: ignore[attr-defined]
    return err


LOCK_MARGIN = timedelta(hours=1)
"""Added to the retention so the bucket policy's whole-day count is never one day short."""


def is_locked_audit_key(key: str) -> bool:
    """Whether a store key is an audit object written locked: `audit/<dir>/<name>...`.

    The bucket policy's `audit/*/*`: the records and the claims, never `audit/head.json`.
    """
    parts = key.split("/")
    return len(parts) >= 3 and parts[0] == "audit"


def split_s3_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/any/key` -> (bucket, "any/key"), the key taken literally.

    Not urlparse: S3 keys may hold `#` and `?`, which it would cut off as a fragment or a
    query, silently naming another object (`s3://b/run#2.json` is key `run#2.json`, as the
    AWS CLI reads it); nor is anything %-decoded.
    """
    if not uri.startswith("s3://"):
        raise UsageError(f"not an s3 URI: {quoted(uri)}")
    bucket, _, key = uri[len("s3://"):].partition("/")
    return bucket, key


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


class S3Store:
    """A bucket and key prefix as a store, on the process's shared boto3 client for its settings."""

    def __init__(self, bucket: str, prefix: str = "", *, settings: S3Settings | None = None,
                 client: Any = None) -> None:
        if not bucket:
            raise UsageError("s3 store URI needs a bucket: s3://bucket/prefix")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.settings = settings or s3_settings()
        self.uri = f"s3://{bucket}/{self.prefix}".rstrip("/")
        self._client = client
        self._lock = threading.Lock()
        self._bucket_checked = False

    @classmethod
    def from_uri(cls, uri: str, settings: S3Settings | None = None) -> S3Store:
        bucket, prefix = split_s3_uri(uri)
        return cls(bucket, prefix, settings=settings)

    # -- client -------------------------------------------------------------------------
    def client(self) -> Any:
        """The boto3 client, the bucket checked (HeadBucket) on first use.

        Without a client passed in, the process's shared one for these settings
        (`s3_clients.shared_client`): built and bucket-checked once per process, not per store.
        """
        with self._lock:
            if self._bucket_checked:
                return self._client
            if self._client is not None:  # a client of the caller's own: checked per store
                self._check_bucket(self._client)
            else:
                shared = shared_client(self.settings)
                with shared.lock:
                    if self.bucket not in shared.checked:
                        self._check_bucket(shared.client)
                        shared.checked.add(self.bucket)
                self._client = shared.client
            self._bucket_checked = True
            return self._client

    def _check_bucket(self, client: Any) -> None:
        try:
            client.head_bucket(Bucket=self.bucket)
        except Exception as exc:
            raise self._convert(exc, "open", None) from None

    def _recheck_bucket(self, key: str) -> None:
        """After a HEAD 404: a HEAD answer has no body, so a missing key and a missing bucket
        look alike, and the bucket was checked only once per client. Only then, one HeadBucket
        tells them apart: a bucket deleted since is the permanent error get/put/list give."""
        try:
            self.client().head_bucket(Bucket=self.bucket)
        except Exception as exc:
            raise self._convert(exc, "open", key) from None

    # -- keys ---------------------------------------------------------------------------
    def _key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def url(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    # -- operations ---------------------------------------------------------------------
    def get(self, key: str) -> bytes:
        try:
            resp = self.client().get_object(Bucket=self.bucket, Key=self._key(key),
                                            ChecksumMode="ENABLED")
            data: bytes = resp["Body"].read()
        except Exception as exc:
            raise self._convert(exc, "read", key) from None
        digest = hashlib.sha256(data)
        expected = resp.get("ChecksumSHA256")
        if expected and (resp.get("ChecksumType") == "COMPOSITE" or "-" in expected):
            # uploaded in parts (`<base64>-<parts>`): a digest of the parts' digests, which
            # the object's own SHA-256 can never equal; only a full-object checksum is checked
            expected = None
        meta = (resp.get("Metadata") or {}).get("sha256")
        if (expected and expected != _b64(digest.digest())) or (meta and
                                                                meta != digest.hexdigest()):
            raise StorageError(f"{self.url(key)}: checksum mismatch on download "
                               "(the object or the transfer is corrupt)",
                               hint="retry; if it persists, restore the object from a version")
        return data

    def head(self, key: str) -> ObjectInfo | None:
        try:
            resp = self.client().head_object(Bucket=self.bucket, Key=self._key(key))
        except Exception as exc:
            err = self._convert(exc, "read", key)
            if not isinstance(err, InputNotFoundError):
                raise err from None
            self._recheck_bucket(key)
            return None
        sha = (resp.get("Metadata") or {}).get("sha256")
        return ObjectInfo(key, resp["ETag"], int(resp["ContentLength"]), sha)

    def put(self, key: str, data: bytes, *, if_match: str | None = None,
            if_none_match: bool = False) -> ObjectInfo:
        digest = hashlib.sha256(data)
        kw: dict[str, Any] = {
            "Bucket": self.bucket, "Key": self._key(key), "Body": data,
            "ChecksumAlgorithm": "SHA256", "ChecksumSHA256": _b64(digest.digest()),
            "Metadata": {"sha256": digest.hexdigest()},
        }
        if if_match is not None:
            kw["IfMatch"] = if_match
        if if_none_match:
            kw["IfNoneMatch"] = "*"
        locked = self.settings.audit_lock_days > 0 and is_locked_audit_key(key)
        if locked:
            kw["ObjectLockMode"] = "COMPLIANCE"
            kw["ObjectLockRetainUntilDate"] = self.retain_until()
        conditional = if_match is not None or if_none_match
        try:
            resp = self.client().put_object(**kw)
        except Exception as exc:
            err = self._convert(exc, "write", key, conditional=conditional, locked=locked)
            raise err from None
        return ObjectInfo(key, resp["ETag"], len(data), digest.hexdigest())

    def retain_until(self, now: datetime | None = None) -> datetime:
        """The RetainUntilDate of an audit object written `now` (whole seconds, UTC)."""
        now = now or datetime.now(UTC)
        until = now + timedelta(days=self.settings.audit_lock_days) + LOCK_MARGIN
        return until.replace(microsecond=0) + timedelta(seconds=1)

    def list(self, prefix: str) -> list[str]:
        full = f"{self.prefix}/{prefix}" if self.prefix else prefix
        strip = len(self.prefix) + 1 if self.prefix else 0
        out: list[str] = []
        try:
            pages = self.client().get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=full)
            for page in pages:
                out.extend(obj["Key"][strip:] for obj in page.get("Contents", []))
        except Exception as exc:
            raise self._convert(exc, "list", prefix or None) from None
        return sorted(out)

    # -- errors -------------------------------------------------------------------------
    def _convert(self, exc: Exception, op: str, key: str | None, *,
                 conditional: bool = False, locked: bool = False) -> Exception:
        """One clear evalsig error for any botocore failure."""
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            EndpointConnectionError,
            NoCredentialsError,
        )

        where = self.url(key) if key else f"s3://{self.bucket}/{self.prefix}".rstrip("/")
        endpoint = self.settings.endpoint_url or "AWS S3"
        if isinstance(exc, ClientError):
            err = exc.response.get("Error", {})
            code = str(err.get("Code", ""))
            status = str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
            if conditional and (code in _PRECONDITION or status in _PRECONDITION
                                or code in _NOT_FOUND or status == "404"):
                return PreconditionFailed(f"{where}: changed since it was read ({code})")
            if code == "NoSuchBucket" or (op == "open" and status == "404"):
                return _permanent(f"{where}: bucket {self.bucket!r} does not exist at "
                                    f"{endpoint}", hint="create the bucket or fix the store URI")
            if code in _NOT_FOUND or status == "404":
                return InputNotFoundError("object not found", path=where)
            if locked and code in ("InvalidRequest", "InvalidBucketState"):
                return _permanent(f"{where}: {endpoint} refused an Object Lock write ({code}): "
                                  f"bucket {self.bucket!r} has no Object Lock",
                                  hint="use a bucket created with Object Lock, or set "
                                       "EVALSIG_S3_AUDIT_LOCK_DAYS=0")
            if code in _HINTS or (status.startswith("4") and status not in _ANSWERED
                                  and code not in _DENIED and not retryable(code, status)):
                msg = " ".join(str(err.get("Message") or "").split())
                named = f" {code}" if code and code != status else ""  # HEAD: no body
                return _permanent(f"{where}: {endpoint} refused the {op}: HTTP {status}"
                                  f"{named}" + (f" ({msg})" if msg else ""),
                                  hint=_HINTS.get(code, "a retry gets the same answer: fix "
                                                  "the request (store URI, key, object size)"))
            if code in _DENIED or status == "403":
                return _permanent(f"{where}: access denied by {endpoint} ({code or status}): "
                                    "wrong credentials or missing permission",
                                    hint="check EVALSIG_S3_ACCESS_KEY_ID/SECRET_ACCESS_KEY "
                                    "(or the AWS credentials) and the bucket policy")
            msg = err.get("Message") or code or status
            return StorageError(f"{where}: {op} failed at {endpoint}: {code or status} {msg}")
        if isinstance(exc, NoCredentialsError):
            return _permanent(f"{where}: no S3 credentials found",
                                hint="set EVALSIG_S3_ACCESS_KEY_ID/SECRET_ACCESS_KEY or AWS_*")
        if isinstance(exc, EndpointConnectionError):
            return StorageError(f"{where}: cannot reach S3 endpoint {endpoint} ({op})",
                                hint="check EVALSIG_S3_ENDPOINT_URL and the network")
        if isinstance(exc, BotoCoreError):
            return StorageError(f"{where}: {op} failed talking to {endpoint}: "
                                f"{type(exc).__name__}: {exc}")
        if isinstance(exc, (StorageError, InputNotFoundError, UsageError)):
            return exc
        return StorageError(f"{where}: {op} failed: {type(exc).__name__}: {exc}")
