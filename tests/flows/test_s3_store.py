"""The s3:// store against a real SeaweedFS: checksums, conditional writes and clear errors."""

from __future__ import annotations

import hashlib

import pytest

from evalsig_core import ExitCode, InputNotFoundError, StorageError
from evalsig_flows.s3 import S3Store
from evalsig_flows.store import PreconditionFailed, open_store
from tests.flows.conftest import S3Server


def test_put_get_list_and_conditional_writes(s3_uri: str) -> None:
    s = open_store(s3_uri)
    assert isinstance(s, S3Store)
    first = s.put("a/current.json", b"v1", if_none_match=True)
    with pytest.raises(PreconditionFailed):
        s.put("a/current.json", b"again", if_none_match=True)
    second = s.put("a/current.json", b"v2", if_match=first.etag)
    with pytest.raises(PreconditionFailed):
        s.put("a/current.json", b"v3", if_match=first.etag)  # a stale ETag loses
    assert s.get("a/current.json") == b"v2"
    head = s.head("a/current.json")
    assert head is not None and head.etag == second.etag
    assert head.sha256 == hashlib.sha256(b"v2").hexdigest()
    assert s.list("a/") == ["a/current.json"]
    assert s.head("a/missing.json") is None
    with pytest.raises(InputNotFoundError):
        s.get("a/missing.json")


def test_if_match_on_a_missing_key_is_a_lost_precondition(s3_uri: str) -> None:
    with pytest.raises(PreconditionFailed):
        open_store(s3_uri).put("never-written.json", b"x", if_match='"0123"')


def test_uploads_carry_a_sha256_checksum_the_server_keeps(s3_server: S3Server,
                                                          s3_uri: str) -> None:
    s = open_store(s3_uri)
    assert isinstance(s, S3Store)
    s.put("run.json", b'{"x": 1}')
    resp = s.client().get_object(Bucket=s.bucket, Key=s._key("run.json"), ChecksumMode="ENABLED")
    import base64

    assert resp["ChecksumSHA256"] == base64.b64encode(
        hashlib.sha256(b'{"x": 1}').digest()).decode()


def test_a_corrupt_download_is_a_storage_error(s3_uri: str) -> None:
    s = open_store(s3_uri)
    assert isinstance(s, S3Store)
    s.put("run.json", b"good")
    # Overwrite the bytes behind the store's back, keeping the old digest in the metadata.
    s.client().put_object(Bucket=s.bucket, Key=s._key("run.json"), Body=b"evil",
                          Metadata={"sha256": hashlib.sha256(b"good").hexdigest()})
    with pytest.raises(StorageError, match="checksum mismatch"):
        s.get("run.json")


def test_wrong_credentials_give_one_clear_permanent_storage_error(s3_server: S3Server) -> None:
    s = S3Store(s3_server.bucket, "x", settings=s3_server.settings(  # type: ignore[arg-type]
        secret_access_key="not-the-secret"))
    with pytest.raises(StorageError) as err:
        s.get("anything.json")
    assert err.value.exit_code is ExitCode.IO
    assert "access denied" in str(err.value) and "\n" not in str(err.value)
    assert getattr(err.value, "permanent", False)


def test_a_missing_bucket_gives_one_clear_storage_error(s3_server: S3Server) -> None:
    s = S3Store("no-such-bucket-evalsig", "x",
                settings=s3_server.settings())  # type: ignore[arg-type]
    with pytest.raises(StorageError, match="bucket 'no-such-bucket-evalsig' does not exist"):
        s.put("a.json", b"x")


def test_an_unreachable_endpoint_is_a_storage_error(s3_server: S3Server) -> None:
    s = S3Store(s3_server.bucket, "x", settings=s3_server.settings(  # type: ignore[arg-type]
        endpoint_url="http://127.0.0.1:9", max_attempts=1, connect_timeout=0.5))
    with pytest.raises(StorageError, match="cannot reach S3 endpoint"):
        s.get("a.json")
