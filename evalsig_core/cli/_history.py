"""`evalsig history` and `evalsig audit verify`: read the audit trail of a store.

`file://` stores (and plain directories) are read here. Other schemes are plugins found at run
time in the `evalsig.stores` entry-point group (the flows extra declares `s3`), so the core
never imports boto3 or evalsig_flows: without the extra, `s3://` is a clear usage error.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Mapping
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from ..audit import AUDIT_HEAD_KEY, parse_head, verify_chain, walk_chain
from ..errors import ExitCode, InputError, InputNotFoundError, StorageError, UsageError
from ..numfmt import counted

__all__ = ["open_reader", "register"]

Getter = Callable[[str], bytes]


def _bad_key(key: str, where: str) -> InputError:
    """A key no audit record can have (the trail was edited): 65, naming the store."""
    return InputError(f"invalid key in audit record: {ascii(key)[:80]}", path=where,
                      hint="the trail was edited; restore it from the store's object versions")


def _invalid(key: str) -> bool:
    parts = key.split("/")
    return not key or "\x00" in key or any(p in ("", ".", "..") for p in parts)


def _file_getter(root: Path) -> Getter:
    def get(key: str) -> bytes:
        path = root / key
        # a NUL was "ValueError: embedded null byte" (70); a directory "cannot read" (74)
        if _invalid(key) or path.is_dir():
            raise _bad_key(key, str(root))
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise InputNotFoundError("object not found", path=str(path)) from None
        except OSError as exc:
            raise StorageError(f"{path}: cannot read: {exc.strerror}") from None
    return get


class _Reader:
    """What history and audit verify need of a store: `get(key)` and `list(prefix)`."""

    def __init__(self, get: Getter, lister: Callable[[str], list[str]]) -> None:
        self.get = get
        self.list = lister


def _file_lister(root: Path) -> Callable[[str], list[str]]:
    def lister(prefix: str) -> list[str]:
        base = root / prefix
        if not base.is_dir():
            return []
        return sorted(p.relative_to(root).as_posix() for p in base.rglob("*") if p.is_file())
    return lister


def open_reader(uri: str) -> _Reader:
    """`get(key) -> bytes` and `list(prefix)` for a store URI: file:// here, other schemes via
    plugins."""
    if not uri.strip():  # Path("") is the working directory: "OK: 0 records" for a typo
        raise UsageError("--store is empty", hint="pass file:///dir, a directory or s3://...")
    parsed = urlparse(uri)
    # only <scheme>:// makes a URI: `runs:2024` and `/tmp/a:b` are directories
    scheme = parsed.scheme if re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", uri) else ""
    if scheme in ("", "file"):
        path = unquote(parsed.netloc + parsed.path) if scheme == "file" else uri
        root = Path(path)
        if root.exists() and not root.is_dir():
            raise UsageError(f"{root}: is a file, a store is a directory",
                             hint="pass the store's root directory (file:///dir)")
        if not root.is_dir():
            raise InputNotFoundError("store directory not found", path=str(root))
        return _Reader(_file_getter(root), _file_lister(root))
    found = [ep for ep in entry_points(group="evalsig.stores") if ep.name == scheme]
    if not found:
        raise UsageError(f"no store plugin for {scheme}:// URIs ({uri})",
                         hint="install the flows extra: pip install 'evalsig[flows]'")
    try:
        store_cls: Any = found[0].load()
    except ImportError as exc:
        raise UsageError(f"the {scheme}:// store plugin cannot load ({exc.name} is "
                         "missing)", hint="install the flows extra: pip install "
                         "'evalsig[flows]'") from None
    store = store_cls.from_uri(uri)

    def get(key: str) -> bytes:
        # checked here as for a directory: the plugin's own check was a usage error (64),
        # a NUL went to the server (74: "refused the read")
        if _invalid(key):
            raise _bad_key(key, uri)
        data: bytes = store.get(key)
        return data
    return _Reader(get, store.list)


def _head(get: Getter) -> bytes | None:
    try:
        return get(AUDIT_HEAD_KEY)
    except InputNotFoundError:
        return None


def _headless(reader: _Reader, store: str, *, summary: bool = True) -> int | None:
    """Exit 65 when audit/head.json is missing but audit records exist (deleted head: the
    trail is not empty, it is broken); None when the store has a head or no record at all.
    `summary`: also say so on stdout (not under `--output json`, whose stdout is JSON)."""
    orphans = [k for k in reader.list("audit/") if k.endswith(".json")]
    if not orphans:
        return None
    print(f"evalsig: audit chain broken: {AUDIT_HEAD_KEY} is missing but "
          f"{counted(len(orphans), 'audit record exists', 'audit records exist')} "
          f"(e.g. {orphans[-1]})", file=sys.stderr)
    if summary:
        print(f"audit chain BROKEN: no head ({store})")
    return int(ExitCode.DATA)


def cmd_history(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    reader = open_reader(args.store)
    get = reader.get
    head = _head(get)
    if head is None and (code := _headless(reader, args.store,
                                           summary=args.output != "json")) is not None:
        return code
    rows: list[dict[str, Any]] = []
    if head is not None:
        for n, (key, rec) in enumerate(walk_chain(parse_head(head), get)):
            if args.limit and n >= args.limit:
                break
            rows.append({"key": key, **rec.model_dump(mode="json")})
    if args.output == "json":
        from ._commands import _write_stdout  # here: _commands imports this module

        _write_stdout(json.dumps(rows, indent=2) + "\n")
        return int(ExitCode.OK)
    if not rows:
        print(f"no decisions recorded in {args.store}")
    for r in rows:
        ctx = r["context"]
        where = "/".join(str(ctx[k]) for k in ("suite", "task") if ctx.get(k))
        if ctx.get("repo"):
            where += f" {ctx['repo']}@{str(ctx.get('commit') or '')[:12]}"
        print(f"{r['sequence']:>5}  {r['time'][:19]}Z  {r['decision']:<9} "
              f"{r['verdict']:<12} {r['decision_id']}  {where.strip()}")
    return int(ExitCode.OK)


def cmd_audit_verify(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    reader = open_reader(args.store)
    head_bytes = _head(reader.get)
    # No head is an empty trail only if there is no record either: deleting head.json must
    # not turn a whole audit trail into "OK: 0 records".
    if head_bytes is None and (code := _headless(reader, args.store)) is not None:
        return code
    result = verify_chain(head_bytes, reader.get)
    if result.ok:
        head = f", head {result.head.sha256[:12]}" if result.head else ""
        print(f"audit chain OK: {counted(result.n_records, 'record')}{head} ({args.store})")
        return int(ExitCode.OK)
    for problem in result.problems:
        print(f"evalsig: audit chain broken: {problem}", file=sys.stderr)
    print(f"audit chain BROKEN after {counted(result.n_records, 'verified record')} ({args.store})")
    return int(ExitCode.DATA)


def _limit(text: str) -> int:
    """--limit: a count >= 0 (a negative one listed nothing and said the store was empty)."""
    try:
        n = int(text)
    except ValueError:
        n = -1
    if n < 0:
        raise argparse.ArgumentTypeError(f"--limit must be an integer >= 0, got {text!r}")
    return n


def register(sub: Any) -> None:
    """Add `history` and `audit verify` to the evalsig sub-command parser."""
    h = sub.add_parser("history", help="list the decisions recorded in a store (newest first)")
    h.add_argument("--store", required=True, help="store URI: file:///dir or s3://bucket/prefix")
    h.add_argument("--limit", type=_limit, default=20,
                   help="at most N decisions (default 20; 0: all)")
    h.add_argument("--output", default="tty", choices=("tty", "json"),
                   help="stdout format (default tty)")
    h.set_defaults(handler=cmd_history)

    a = sub.add_parser("audit", help="check the audit trail of a store")
    asub = a.add_subparsers(dest="audit_command", required=True, parser_class=type(a))
    v = asub.add_parser("verify", help="verify the SHA-256 hash chain (exit 0 ok, 65 broken)")
    v.add_argument("--store", required=True, help="store URI: file:///dir or s3://bucket/prefix")
    v.set_defaults(handler=cmd_audit_verify)
