"""One boto3 S3 client per process and client configuration, shared by every store and thread.

Every flow task opens its store (`open_store`), so a gate flow builds several `S3Store`s and a
nightly suite hundreds. Each new client costs a boto3 Session (which reloads botocore's data,
~0.1 s) and the store's first use a HeadBucket round trip; `shared_client` builds the client
once per configuration and `S3Store` checks each bucket once per client (and again after a
HEAD 404, which cannot tell a deleted bucket from a missing key: `S3Store.head`).

The key is the whole effective configuration: every `S3Settings` field that reaches the client
(endpoint, region, credentials with the secret and session token, retries, timeouts,
addressing style; not `audit_lock_days`, which only `S3Store.put` reads) and the process's
`AWS_*` environment (boto3's fallback chain and its own endpoint variables), so settings that
change between calls (tests pointing at a proxy, wrong credentials) get a client of their own,
never a stale one. At most MAX_CLIENTS are kept, least recently used dropped. boto3 clients
are thread-safe; Sessions are not, so a client is built under the lock. A forked child starts
with none (the parent's clients hold its sockets).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

if TYPE_CHECKING:
    from .s3 import S3Settings

__all__ = ["MAX_CLIENTS", "SharedClient", "clear_clients", "make_client", "shared_client"]

MAX_CLIENTS = 8
_NOT_CLIENT = frozenset({"audit_lock_days"})  # settings the client never sees


@dataclass
class SharedClient:
    """A client and the buckets HeadBucket has answered for it (under `lock`)."""

    client: Any
    lock: threading.Lock = field(default_factory=threading.Lock)
    checked: set[str] = field(default_factory=set)


_clients: OrderedDict[tuple[Any, ...], SharedClient] = OrderedDict()
_lock = threading.Lock()


def client_key(settings: S3Settings) -> tuple[Any, ...]:
    """Everything that makes one client differ from another: settings and `AWS_*` env."""
    own = tuple((name, value.get_secret_value() if isinstance(value, SecretStr) else value)
                for name, value in settings if name not in _NOT_CLIENT)
    env = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("AWS_")))
    return own + env


def make_client(settings: S3Settings) -> Any:
    """A new boto3 S3 client for these settings (its own Session)."""
    import boto3
    from botocore.config import Config

    s = settings
    cfg = Config(
        region_name=s.region, connect_timeout=s.connect_timeout,
        read_timeout=s.read_timeout,
        retries={"mode": s.retry_mode, "max_attempts": s.max_attempts},
        s3={"addressing_style": s.addressing_style},
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    kw: dict[str, Any] = {"endpoint_url": s.endpoint_url, "config": cfg}
    if s.access_key_id:
        kw["aws_access_key_id"] = s.access_key_id
        kw["aws_secret_access_key"] = (s.secret_access_key.get_secret_value()
                                       if s.secret_access_key else None)
        if s.session_token:
            kw["aws_session_token"] = s.session_token.get_secret_value()
    return boto3.session.Session().client("s3", **kw)


def shared_client(settings: S3Settings) -> SharedClient:
    """The process's client for these settings, built on first use."""
    key = client_key(settings)
    with _lock:
        shared = _clients.get(key)
        if shared is None:
            shared = _clients[key] = SharedClient(make_client(settings))
            while len(_clients) > MAX_CLIENTS:
                _clients.popitem(last=False)  # stores holding it keep using it
        else:
            _clients.move_to_end(key)
        return shared


def clear_clients() -> None:
    """Forget every shared client (tests; stores already holding one keep it)."""
    with _lock:
        _clients.clear()


def _forget_in_child() -> None:
    """A forked child builds its own clients: never the parent's pooled connections (nor a
    lock another parent thread held at the fork)."""
    global _clients, _lock
    _clients, _lock = OrderedDict(), threading.Lock()


os.register_at_fork(after_in_child=_forget_in_child)
