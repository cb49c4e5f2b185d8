"""An object evalsig did not write (no sha256 metadata) at a write-once key is never taken for
ours: a baseline version or a stored candidate is accepted there only if the bytes are the
same (file:// and a real SeaweedFS).

Before: `put_version` accepted any S3 object without sha256 metadata at a version key, so a
foreign object would have become the baseline a pointer names.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from evalsig_core import StorageError
from evalsig_flows.baselines import baseline_prefix, put_version
from evalsig_flows.store import Store, open_store
from evalsig_flows.tasks import store_candidate
from tests.conftest import EXAMPLES

DATA = (EXAMPLES / "candidate.json").read_bytes()
SHA = hashlib.sha256(DATA).hexdigest()
PREFIX = baseline_prefix("demo", "qa", "accuracy")
VERSION = f"{PREFIX}/versions/{SHA}.json"


@pytest.fixture(params=["file", "s3"])
def uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return tmp_path.as_uri() if request.param == "file" else request.getfixturevalue("s3_uri")


def foreign(store: Store, key: str, data: bytes) -> None:
    """Put `data` at `key` as another tool would: no evalsig sha256 metadata."""
    from evalsig_flows.s3 import S3Store

    if isinstance(store, S3Store):
        store.client().put_object(Bucket=store.bucket, Key=f"{store.prefix}/{key}", Body=data)
        assert store.head(key).sha256 is None
    else:
        (Path(store.uri.removeprefix("file://")) / key).parent.mkdir(parents=True)
        (Path(store.uri.removeprefix("file://")) / key).write_bytes(data)


def test_a_foreign_object_at_a_version_key_is_refused(uri: str) -> None:
    store = open_store(uri)
    foreign(store, VERSION, b'{"not": "this run"}\n')
    with pytest.raises(StorageError) as info:
        put_version(store, PREFIX, DATA, "json")
    assert info.value.exit_code == 74
    assert info.value.one_line().startswith(f"{store.url(VERSION)}: the object at this "
                                            "baseline version key does not match")
    assert "move the object away" in info.value.one_line()
    assert store.get(VERSION) == b'{"not": "this run"}\n'  # left as found


def test_a_foreign_object_holding_the_same_bytes_is_the_version(uri: str) -> None:
    store = open_store(uri)
    foreign(store, VERSION, DATA)
    assert put_version(store, PREFIX, DATA, "json") == (VERSION, SHA)


def test_a_foreign_object_at_a_candidate_key_is_refused(uri: str) -> None:
    store = open_store(uri)
    key = f"candidates/demo/{SHA[:16]}/candidate.json"
    foreign(store, key, b"other")
    with pytest.raises(StorageError, match="the object at this candidate key is not the "
                                           "candidate run"):
        store_candidate.fn(str(EXAMPLES / "candidate.json"), uri, "demo")
