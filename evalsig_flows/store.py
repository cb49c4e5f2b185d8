"""Artifact stores: one interface, `file://` (embedded default) and `s3://` implementations.

Keys are '/'-separated relative paths (see DESIGN.md for the layout). Writes of run files and
reports are whole-object; the baseline pointer is changed only by a conditional write.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import quote, unquote, urlparse

from evalsig_core import InputNotFoundError, StorageError, UsageError

from .text import quoted

__all__ = ["LocalStore", "ObjectInfo", "PreconditionFailed", "Store", "check_key",
           "check_run_uri", "check_store_uri", "key_segment", "may_pass", "open_store",
           "put_once", "uri_scheme"]

MAX_SEGMENT = 200  # escaped; file systems allow 255 bytes per name, S3 1024 per key


class PreconditionFailed(StorageError):
    """A conditional write lost: the object changed (or appeared) since it was read."""


def may_pass(exc: BaseException) -> bool:
    """Whether a later attempt may not meet this failure: a storage error from the network, a
    5xx or a timeout. Not a lost conditional write (the object changed: re-read, don't repeat),
    nor a permanent one (access denied, no bucket, no credentials: `permanent` is set)."""
    return (isinstance(exc, StorageError) and not isinstance(exc, PreconditionFailed)
            and not getattr(exc, "permanent", False))


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    etag: str
    size: int
    sha256: str | None = None


class Store(Protocol):
    uri: str

    def get(self, key: str) -> bytes: ...

    def put(self, key: str, data: bytes, *, if_match: str | None = None,
            if_none_match: bool = False) -> ObjectInfo: ...

    def head(self, key: str) -> ObjectInfo | None: ...

    def list(self, prefix: str) -> list[str]: ...

    def url(self, key: str) -> str: ...


def check_key(key: str) -> str:
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise UsageError(f"invalid store key {quoted(key)}")
    return key


def key_segment(kind: str, name: str) -> str:
    """A suite/task/metric name as exactly one key segment, for every key that embeds one.

    The one escaping of names in keys (CI records, baselines, candidates): `A-Za-z0-9._~-`
    kept, every other UTF-8 byte %XX (so `pass@1` -> `pass%401`, `f1/macro` -> `f1%2Fmacro`,
    `%` -> `%25`). Injective: two different names never share a segment, and a segment never
    holds a '/', so a key cannot escape its prefix. Empty, '.', '..', over-long and
    non-encodable (lone surrogate) names are a UsageError, quoting the name short (`quoted`).
    """
    if not isinstance(name, str):
        raise UsageError(f"invalid {kind} name: expected a string, got "
                         f"{type(name).__name__}")
    try:
        escaped = quote(name, safe="")
    except UnicodeEncodeError:
        raise UsageError(f"invalid {kind} name {quoted(name)}: not valid Unicode text") from None
    if name in ("", ".", "..") or len(escaped) > MAX_SEGMENT:
        raise UsageError(f"invalid {kind} name {quoted(name)}: empty, '.', '..' or longer than "
                         f"{MAX_SEGMENT} characters once %-escaped")
    return escaped


class LocalStore:
    """A directory as a store. Writes are atomic renames; conditional writes hold a lock."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()
        self.uri = self.root.as_uri()

    @classmethod
    def from_uri(cls, uri: str) -> LocalStore:
        """`file:///abs/dir`, `file://./rel/dir` or a plain directory path (`runs:2024` too:
        only `<scheme>://` is a URI, see `uri_scheme`)."""
        scheme = uri_scheme(uri)
        if scheme is None:
            return cls(uri)
        if scheme != "file":
            raise UsageError(f"not a file URI: {quoted(uri)}")
        parsed = urlparse(uri)
        path = unquote(parsed.path)
        if parsed.netloc not in ("", "localhost"):
            path = unquote(parsed.netloc + parsed.path)  # file://./relative forms
        return cls(path)

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def get(self, key: str) -> bytes:
        p = self._path(key)
        try:
            return p.read_bytes()
        except FileNotFoundError:
            raise InputNotFoundError("object not found", path=self.url(key)) from None
        except OSError as exc:
            raise StorageError(f"{self.url(key)}: cannot read: {exc.strerror}") from None

    def head(self, key: str) -> ObjectInfo | None:
        p = self._path(key)
        try:
            data = p.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StorageError(f"{self.url(key)}: cannot read: {exc.strerror}") from None
        digest = hashlib.sha256(data).hexdigest()
        return ObjectInfo(key, digest, len(data), digest)

    def put(self, key: str, data: bytes, *, if_match: str | None = None,
            if_none_match: bool = False) -> ObjectInfo:
        p = self._path(key)
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
            if if_match is None and not if_none_match:
                self._atomic_write(p, data)
            else:
                self._conditional_write(key, p, data, if_match, if_none_match)
        except OSError as exc:
            raise StorageError(f"{self.url(key)}: cannot write: {exc.strerror}") from None
        digest = hashlib.sha256(data).hexdigest()
        return ObjectInfo(key, digest, len(data), digest)

    def _conditional_write(self, key: str, p: Path, data: bytes, if_match: str | None,
                           if_none_match: bool) -> None:
        import fcntl

        lock = p.with_name(p.name + ".lock")
        with open(lock, "a+b") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                current = self.head(key)
                if if_none_match and current is not None:
                    raise PreconditionFailed(f"{self.url(key)}: already exists")
                if if_match is not None and (current is None or current.etag != if_match):
                    raise PreconditionFailed(f"{self.url(key)}: changed since it was read")
                self._atomic_write(p, data)
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    @staticmethod
    def _atomic_write(p: Path, data: bytes) -> None:
        fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, p)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def list(self, prefix: str) -> list[str]:
        base = self.root / prefix if prefix else self.root
        if not base.exists():
            return []
        start = base if base.is_dir() else base.parent
        out = []
        for path in start.rglob("*"):
            if path.is_file() and not path.name.endswith((".lock", ".tmp")):
                rel = path.relative_to(self.root).as_posix()
                if rel.startswith(prefix):
                    out.append(rel)
        return sorted(out)

    def url(self, key: str) -> str:
        return (self.root / key).as_uri()


def put_once(store: Store, key: str, data: bytes, *, what: str, hint: str) -> None:
    """Write an immutable object (If-None-Match); an object already at `key` must hold these
    very bytes (a retry, a replay or the same content written before), else StorageError.

    An object with our SHA-256 metadata is compared by it; one without (not written by
    evalsig: uploaded by hand or by another tool) is read and compared byte for byte, never
    taken for ours. `what` says what is wrong in the error, `hint` what to do.
    """
    try:
        store.put(key, data, if_none_match=True)
        return
    except PreconditionFailed:
        pass
    info = store.head(key)
    sha = hashlib.sha256(data).hexdigest()
    if info is not None and info.sha256 == sha:
        return
    if info is not None and info.sha256 is None and store.get(key) == data:
        return
    found = ("an object evalsig did not write: no sha256 metadata, other bytes"
             if info is not None and info.sha256 is None else
             "other bytes" if info is not None else "it vanished while being compared")
    raise StorageError(f"{store.url(key)}: {what} ({found})", hint=hint)


_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")


def uri_scheme(uri: str) -> str | None:
    """The scheme of a `<scheme>://...` URI, lowercased; None for a path.

    Only `<scheme>://` makes a URI: `runs:2024`, `./runs:2024`, `/tmp/a:b` (and `C:\\x`) are
    paths, never URIs of schemes `runs` or `c`.
    """
    m = _SCHEME.match(uri)
    return m.group(1).lower() if m else None


def _empty(uri: str) -> bool:
    """Blank, or `file://` naming no path (both read as the working directory)."""
    return not uri.strip() or uri.strip().lower() in ("file://", "file://localhost")


_RUN_URI_FIX = ("give the run file's (or HELM run directory's) path, file:///path/run.json "
                "or s3://bucket/key/run.json")


def check_run_uri(role: str, uri: str) -> None:
    """UsageError (64) naming `role` ("baseline", "candidate") for a run path or URI that can
    name no run file, before anything is fetched: empty (was "is a directory", 65, naming no
    path, or with a per_instance_stats.json in the working directory, that directory), of a
    scheme no store reads, or an s3:// URI whose key holds an empty, '.' or '..' segment
    (was "invalid store key", naming neither). A key may end in one '/' and may be empty: a
    HELM run directory's key prefix (`run_files.fetch`)."""
    scheme = uri_scheme(uri)
    if _empty(uri):
        raise UsageError(f"the {role} run is empty", hint=_RUN_URI_FIX)
    if scheme not in (None, "file", "s3"):
        raise UsageError(f"{role} {uri}: no store reads {scheme}:// URIs", hint=_RUN_URI_FIX)
    if scheme == "s3":
        bucket, _, key = uri[len("s3://"):].partition("/")
        if not bucket:
            raise UsageError(f"{role} {uri}: names no bucket", hint=_RUN_URI_FIX)
        key = key.removesuffix("/")
        try:
            if key:
                check_key(key)
        except UsageError:
            raise UsageError(f"{role} {uri}: names no run object (an empty, '.' or '..' "
                             "segment in its key)", hint=_RUN_URI_FIX) from None


def check_store_uri(uri: str) -> None:
    """UsageError (64) for a store URI no store can open, without opening it (no network).

    An empty URI (or `file://` alone) is refused: it opened the working directory, so a blank
    `store` parameter wrote baselines, reports and the audit trail wherever the worker ran
    (`evalsig history` already refused an empty `--store`)."""
    if _empty(uri):
        raise UsageError(f"the store URI is empty ({quoted(uri)})",
                         hint="pass file:///dir, a directory or s3://bucket/prefix")
    if uri_scheme(uri) not in (None, "file", "s3"):
        raise UsageError(f"unsupported store URI {quoted(uri)}; use file:///path or "
                         "s3://bucket/prefix")


def open_store(uri: str) -> Store:
    """`file:///path` or a plain directory path; `s3://bucket/prefix` needs the flows extra
    (`check_store_uri` says which URIs are refused)."""
    check_store_uri(uri)
    if uri_scheme(uri) == "s3":
        from .s3 import S3Store

        return S3Store.from_uri(uri)
    return LocalStore.from_uri(uri)
