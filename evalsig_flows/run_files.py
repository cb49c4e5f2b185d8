"""Run files made local for a flow, which gates, stores and promotes one run file.

A path (or `file://` URI) passes through; an object store URI is fetched into a temporary
directory: a run file, or a HELM run directory's key prefix (with or without a trailing '/')
holding its per_instance_stats.json. A HELM run directory, local or fetched, is then packed
into its HELM run archive (`evalsig_core.readers.pack_helm_run`, `<run>.helm.tar`,
deterministic: one run directory, one SHA-256), and that archive is what is read, stored under
candidates/ and promoted into baselines/.../versions/<sha256>.helm.tar. So is the directory of
a per_instance_stats.json given as the run: the reader reads the run files beside it, and what
is stored is what was read. Temporary copies live in `evalsig-*` temporary directories that
`discard_copy` removes.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import tempfile
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlparse

from evalsig_core import InputError, InputNotFoundError
from evalsig_core.readers import HELM_ARCHIVE_SUFFIX, os_error, pack_helm_run
from evalsig_core.readers.helm import PER_INSTANCE, RUN_FILES

from .store import Store, open_store, uri_scheme

__all__ = ["CHECK_RUN", "discard_copy", "fetch", "local_path", "one_file", "renamed",
           "run_file_error", "run_hints", "split_object_uri"]

CHECK_RUN = ("check the path or URI: names are case-sensitive, and the run must be written "
             "before the gate starts")


def split_object_uri(uri: str) -> tuple[str, str]:
    """s3://bucket/a/b/file.json -> (s3://bucket, a/b/file.json): the key taken literally
    (`#` and `?` are part of an S3 key, see `s3.split_s3_uri`)."""
    if uri.startswith("s3://"):
        from .s3 import split_s3_uri

        bucket, key = split_s3_uri(uri)
        return f"s3://{bucket}", key
    parsed = urlparse(uri)
    return f"{parsed.scheme}://{parsed.netloc}", parsed.path.lstrip("/")


def local_path(uri: str) -> str | None:
    """The local path a run URI names (None for an object store URI), read as
    `LocalStore.from_uri` reads a store's: `file://./rel` is relative, as in the default store
    `file://./.evalsig-store`."""
    scheme = uri_scheme(uri)
    if scheme is None:
        return uri  # a path; `run-10:00.json` is no URI of scheme `run-10`
    parsed = urlparse(uri)
    if scheme == "file":
        if parsed.netloc not in ("", "localhost"):  # file://./relative forms
            return unquote(parsed.netloc + parsed.path)
        return unquote(parsed.path)
    return None


def run_hints(role: str) -> dict[str, str]:
    """The core's `os_error` wording and fixes for a run file a flow cannot read: missing 66,
    a directory that is no HELM run directory 65 (the core's fix: the run files it holds),
    anything else 74 with the OS reason."""
    return dict(what=f"the {role} run cannot be read", subject=f"{role} run",
                missing_hint=CHECK_RUN)


def run_file_error(role: str, path: str, exc: OSError) -> InputError:
    return os_error(path, exc, **run_hints(role))


def fetch(uri: str) -> str:
    """A run's local path: `uri`'s own, or a temporary copy of the object it names; of a HELM
    run directory's key prefix (or its per_instance_stats.json), a temporary copy of the run
    files there."""
    local = local_path(uri)
    if local is not None:
        return local
    store_uri, key = split_object_uri(uri)
    store = open_store(store_uri)
    prefix = PurePosixPath(key.rstrip("/"))
    if prefix.name == PER_INSTANCE:  # read with the files beside it, as the reader reads it
        prefix = prefix.parent
    elif not key.endswith("/"):  # a run file, else (none there) perhaps a prefix
        try:
            data = store.get(key)
        except InputNotFoundError:
            data = None
        if data is not None:
            dest = Path(tempfile.mkdtemp(prefix="evalsig-")) / PurePosixPath(key).name
            dest.write_bytes(data)
            return str(dest)
    run_dir = _fetch_helm_prefix(store, "" if str(prefix) == "." else str(prefix))
    if run_dir is None:  # the URI the user (or the webhook's config) gave
        raise InputNotFoundError("object not found", hint=CHECK_RUN,
                                 path=uri if key.endswith("/") else store.url(key))
    return run_dir


def _local_name(name: str) -> str:
    """A store or directory name as a local file name (a HELM run's ':', ',' and '=' kept)."""
    return re.sub(r"[^\w.:,=+@-]+", "-", name)[:200].lstrip(".") or "run"


def _fetch_helm_prefix(store: Store, prefix: str) -> str | None:
    """The HELM run files under `prefix/`, fetched into a temporary directory of the prefix's
    name; None (nothing fetched) when there is no `prefix/per_instance_stats.json`."""
    run_dir: Path | None = None
    for name in RUN_FILES:  # per_instance_stats.json first: the others are optional
        try:
            data = store.get(f"{prefix}/{name}" if prefix else name)
        except InputNotFoundError:
            data = None
        if data is None and name == PER_INSTANCE:
            return None
        if data is None:
            continue
        if run_dir is None:
            run_dir = Path(tempfile.mkdtemp(prefix="evalsig-")) / _local_name(
                PurePosixPath(prefix).name)
            run_dir.mkdir()
        (run_dir / name).write_bytes(data)
    return str(run_dir)


def one_file(path: str, uri: str, role: str) -> str:
    """`path` itself, or for a HELM run directory (or its per_instance_stats.json, read with
    the files beside it) its archive in a fresh temporary directory (a copy of the directory
    fetched from a store is removed). Any other directory is the core's one line (65) naming
    the run files it holds."""
    run_dir = Path(path)
    if run_dir.name == PER_INSTANCE and run_dir.is_file():
        run_dir = run_dir.parent
    elif not run_dir.is_dir():
        return path
    elif not (run_dir / PER_INSTANCE).is_file():
        raise run_file_error(role, path, IsADirectoryError(errno.EISDIR, "Is a directory"))
    dest = Path(tempfile.mkdtemp(prefix="evalsig-")) / (
        _local_name(run_dir.resolve().name) + HELM_ARCHIVE_SUFFIX)
    try:
        with dest.open("wb") as out:
            pack_helm_run(run_dir, out)
    except BaseException:
        discard_copy(str(dest))
        raise
    discard_copy(path, uri)  # the directory fetched from a store: the archive replaces it
    return str(dest)


def discard_copy(path: str | None, uri: str | None = None) -> None:
    """Remove the temporary directory holding `path` if evalsig made it: a run fetched from a
    store (`uri` names the original) or a candidate command's output (`uri` None). A path the
    user named (`uri` is that path) and anything outside the temp directory are left alone.
    Where `path` lies is read from its spelling, never through symbolic links: a command's
    output that is a link to another file (`latest.json -> ...`) named the link's target, so
    the output directory was left behind, or another gate's directory removed.
    """
    if not path or (uri is not None and local_path(uri) == path):
        return
    where = Path(os.path.abspath(path))
    for tmp in dict.fromkeys((Path(tempfile.gettempdir()), Path(tempfile.gettempdir()).resolve())):
        try:
            rel = where.relative_to(tmp)
        except ValueError:
            continue
        if len(rel.parts) > 1 and rel.parts[0].startswith("evalsig-"):
            shutil.rmtree(tmp / rel.parts[0], ignore_errors=True)
        return


def renamed(exc: InputError, local: str, uri: str) -> InputError:
    """The same error, naming `uri` wherever it named the local copy `local`; a member of the
    archive packed from a HELM run directory (`<tmp>/run.helm.tar(scenario_state.json)`) as
    the directory's file (`<uri>/scenario_state.json`, also when `uri` names its
    per_instance_stats.json)."""
    import copy

    run_dir = uri.rstrip("/").removesuffix(f"/{PER_INSTANCE}")

    def rename(text: str) -> str:
        if local.endswith(HELM_ARCHIVE_SUFFIX) and not uri.endswith(HELM_ARCHIVE_SUFFIX):
            text = re.sub(re.escape(local) + r"\(([\w.]+)\)",
                          lambda m: f"{run_dir}/{m.group(1)}", text)
        return text.replace(local, uri)

    new = copy.copy(exc)
    new.path = rename(exc.path) if exc.path else exc.path
    new.message = rename(exc.message)
    new.hint = rename(exc.hint) if exc.hint else exc.hint
    new.args = (new.one_line(),)
    return new
