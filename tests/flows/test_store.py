"""The file:// store: atomic writes, conditional writes, listing and key validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalsig_core import InputNotFoundError, UsageError
from evalsig_flows.store import LocalStore, PreconditionFailed, open_store


def test_put_get_list_and_conditional_writes(tmp_path: Path) -> None:
    s = open_store(tmp_path.as_uri())
    assert isinstance(s, LocalStore)
    first = s.put("a/current.json", b"v1", if_none_match=True)
    with pytest.raises(PreconditionFailed):
        s.put("a/current.json", b"again", if_none_match=True)
    second = s.put("a/current.json", b"v2", if_match=first.etag)
    with pytest.raises(PreconditionFailed):
        s.put("a/current.json", b"v3", if_match=first.etag)  # stale ETag loses
    assert s.get("a/current.json") == b"v2"
    assert s.head("a/current.json") == second
    assert s.list("a/") == ["a/current.json"]
    with pytest.raises(InputNotFoundError):
        s.get("a/missing.json")


@pytest.mark.parametrize("key", ["", "/abs", "a/../b", "a//b"])
def test_keys_cannot_escape_the_root(tmp_path: Path, key: str) -> None:
    with pytest.raises(UsageError):
        LocalStore(tmp_path).put(key, b"x")
