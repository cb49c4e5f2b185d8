"""One S3 client per process and settings, shared by every store (every flow task opens its
own): the real SeaweedFS behind a proxy that logs each request.

Before: every `open_store` of an s3:// URI built a new boto3 Session and client (~0.1 s) and
sent its own HeadBucket on first use; a gate flow paid that in every task.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from pydantic import SecretStr

from evalsig_flows import s3_clients
from evalsig_flows.s3 import S3Settings, S3Store
from evalsig_flows.store import open_store
from tests.flows.conftest import S3Server
from tests.flows.faulty_proxy import Faults, faulty_proxy
from tests.flows.test_s3_faults import s3_through


class Log(Faults):
    """Break nothing; log every request line ("METHOD path")."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def pick(self, line: str) -> str | None:
        with self._lock:
            self.seen.append(line)
        return None


def _head_buckets(log: Log, bucket: str) -> int:
    return sum(line in (f"HEAD /{bucket}", f"HEAD /{bucket}/") for line in log.seen)


def test_stores_of_one_uri_share_one_client_and_one_bucket_check(s3_server: S3Server,
                                                                 s3_uri: str) -> None:
    open_store(s3_uri).put("k.json", b"{}")
    log = Log()
    with faulty_proxy(s3_server.endpoint, log) as proxy, s3_through(proxy):
        first, second = open_store(s3_uri), open_store(s3_uri)
        assert isinstance(first, S3Store) and isinstance(second, S3Store)
        assert first.head("k.json") is not None and second.head("k.json") is not None
        assert first.client() is second.client()
        assert first.client().meta.endpoint_url == proxy
    assert _head_buckets(log, s3_server.bucket) == 1
    assert sum(line.endswith("/k.json") for line in log.seen) == 2


def test_stores_opened_by_many_threads_at_once_share_one_client(s3_server: S3Server,
                                                                s3_uri: str) -> None:
    open_store(s3_uri).put("k.json", b"{}")  # found: a miss would check the bucket again
    log = Log()
    clients: list[Any] = []
    with faulty_proxy(s3_server.endpoint, log) as proxy, s3_through(proxy):
        start = threading.Barrier(8)

        def task() -> None:
            start.wait()
            store = open_store(s3_uri)
            assert store.head("k.json") is not None
            clients.append(store.client())  # type: ignore[attr-defined]

        threads = [threading.Thread(target=task) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(clients) == 8 and all(c is clients[0] for c in clients)
    assert _head_buckets(log, s3_server.bucket) == 1


def test_head_tells_a_bucket_deleted_since_it_was_checked_from_a_missing_key(
        s3_server: S3Server) -> None:
    """Before: the bucket is checked once per client, and a HEAD 404 has no body (no
    NoSuchBucket code), so head() of any key in a bucket deleted meanwhile said "no object"
    (a first promotion, a missing claim) while get/put/list said "no such bucket"."""
    import uuid

    from evalsig_core import StorageError

    bucket = f"evalsig-gone-{uuid.uuid4().hex[:8]}"
    admin = s3_clients.make_client(s3_server.settings())  # type: ignore[arg-type]
    admin.create_bucket(Bucket=bucket)
    admin.put_object(Bucket=bucket, Key="k.json", Body=b"{}")
    log = Log()
    with faulty_proxy(s3_server.endpoint, log) as proxy, s3_through(proxy):
        through = open_store(f"s3://{bucket}")
        assert through.head("k.json") is not None and through.head("k.json") is not None
        assert _head_buckets(log, bucket) == 1  # checked once: a found object costs nothing
        admin.delete_object(Bucket=bucket, Key="k.json")
        admin.delete_bucket(Bucket=bucket)
        with pytest.raises(StorageError) as head:
            through.head("k.json")
        assert _head_buckets(log, bucket) == 2  # one HeadBucket more, only on a 404
        with pytest.raises(StorageError) as got:
            through.get("k.json")
    gone = f"s3://{bucket}/k.json: bucket {bucket!r} does not exist at {proxy}"
    assert got.value.one_line().startswith(gone)
    assert head.value.one_line() == got.value.one_line()
    assert getattr(head.value, "permanent", False)  # no retry brings the bucket back


def test_other_settings_get_their_own_client_never_a_stale_one(s3_server: S3Server,
                                                                s3_uri: str) -> None:
    from evalsig_core import StorageError

    good = S3Store.from_uri(s3_uri, settings=s3_server.settings())  # type: ignore[arg-type]
    wrong = S3Store.from_uri(s3_uri, settings=s3_server.settings(  # type: ignore[arg-type]
        secret_access_key="not-the-secret"))
    good.put("k.json", b"{}")
    with pytest.raises(StorageError, match="access denied"):
        wrong.head("k.json")
    assert S3Store.from_uri(s3_uri, settings=s3_server.settings()).head(  # type: ignore[arg-type]
        "k.json") is not None  # the wrong secret's client was not kept for the right one
    with faulty_proxy(s3_server.endpoint, Log()) as proxy, s3_through(proxy):
        through = open_store(s3_uri)
        assert through.client().meta.endpoint_url == proxy  # type: ignore[attr-defined]
    back = open_store(s3_uri)
    assert back.client().meta.endpoint_url == s3_server.endpoint  # type: ignore[attr-defined]
    assert through.client() is not back.client()  # type: ignore[attr-defined]


def test_the_client_key_is_the_whole_client_configuration(
        monkeypatch: pytest.MonkeyPatch) -> None:
    base = S3Settings(endpoint_url="http://127.0.0.1:1", access_key_id="a",
                      secret_access_key=SecretStr("s"))
    key = s3_clients.client_key(base)
    for change in ({"secret_access_key": "t"}, {"session_token": "x"}, {"region": "eu-west-1"},
                   {"read_timeout": 1.0}, {"max_attempts": 2}, {"addressing_style": "virtual"}):
        assert s3_clients.client_key(base.model_copy(update=change)) != key, change
    # the lock setting never reaches the client: stores with and without it share one
    assert s3_clients.client_key(base.model_copy(update={"audit_lock_days": 7})) == key
    monkeypatch.setenv("AWS_PROFILE", "other")  # boto3's own fallback chain changed
    assert s3_clients.client_key(base) != key


def test_at_most_max_clients_are_kept_least_recently_used_dropped(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(s3_clients, "make_client", lambda settings: object())
    s3_clients.clear_clients()
    try:
        settings = [S3Settings(endpoint_url=f"http://127.0.0.1:{port}")
                    for port in range(1, s3_clients.MAX_CLIENTS + 2)]
        first = s3_clients.shared_client(settings[0])
        for s in settings[1:-1]:
            s3_clients.shared_client(s)
        assert s3_clients.shared_client(settings[0]) is first  # used again: now the newest
        s3_clients.shared_client(settings[-1])  # one too many: settings[1] is dropped
        assert len(s3_clients._clients) == s3_clients.MAX_CLIENTS
        assert s3_clients.shared_client(settings[0]) is first
        assert s3_clients.client_key(settings[1]) not in s3_clients._clients
    finally:
        s3_clients.clear_clients()


def test_a_forked_child_builds_its_own_client(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    monkeypatch.setattr(s3_clients, "make_client", lambda settings: object())
    settings = S3Settings(endpoint_url="http://127.0.0.1:1")
    parent = s3_clients.shared_client(settings)
    pid = os.fork()
    if pid == 0:  # the child: its client must not be the parent's (its sockets, its pool)
        os._exit(0 if s3_clients.shared_client(settings) is not parent else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert s3_clients.shared_client(settings) is parent  # the parent keeps its own
    s3_clients.clear_clients()
