"""Property-based fuzzing of `evalsig history` and `evalsig audit verify` on a tampered
`file://` store: one record or the head edited (a field replaced by a value of another type or
an odd key, bytes flipped, truncated or emptied). Either command exits 0, 65 (broken chain or
record), 66 or 74, never 70 and never a traceback; `audit verify` never calls an edited chain
OK. Derandomized; the regression test at the end pins what the fuzzing found.
"""

from __future__ import annotations

import itertools
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from evalsig_core import InputError
from evalsig_core.audit import (
    AUDIT_HEAD_KEY,
    AuditHead,
    AuditRecord,
    encode,
    parse_head,
    record_key,
)
from evalsig_core.audit import sha256_hex as sha
from tests.conftest import run_cli
from tests.core.readers.mutations import FUZZ, VALUES, apply_bytes, byte_ops

T0 = datetime(2026, 11, 29, 17, 48, tzinfo=UTC)
_FIELDS = ["key", "sha256", "sequence", "previous_key", "previous_sha256", "time", "verdict",
           "context", "inputs", "exit_code", "decision_id", "schema_version"]
_KEYS = ["../x.json", "/etc/passwd", "audit", "audit/", ".", "", "a\x00b", "x" * 5000,
         "audit/2026/11/29/d1-1.json"]
_counter = itertools.count()


def _store(root: Path, n: int = 3) -> Path:
    """A store of `n` linked records and its head, as the flows write them."""
    prev_key = prev_sha = None
    for i in range(1, n + 1):
        rec = AuditRecord(sequence=i, decision_id=f"d{i}", decision="gate", time=T0,
                          verdict="ALLOW", exit_code=0, previous_sha256=prev_sha,
                          previous_key=prev_key, context={"suite": "s", "task": "t"})
        key = record_key(rec.decision_id, rec.time, i)
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        (root / key).write_bytes(encode(rec))
        prev_key, prev_sha = key, sha(encode(rec))
    assert prev_key is not None and prev_sha is not None
    (root / AUDIT_HEAD_KEY).write_bytes(encode(AuditHead(sequence=n, key=prev_key,
                                                         sha256=prev_sha)))
    return root


_run = run_cli


def _edit(data: bytes, field: str, value: Any) -> bytes:
    doc = json.loads(data)
    doc[field] = value
    return json.dumps(doc).encode("utf-8", "surrogatepass")


@settings(FUZZ, max_examples=80)
@given(which=st.integers(0, 3), edit=st.one_of(
    st.tuples(st.just("field"), st.sampled_from(_FIELDS), st.sampled_from(VALUES + _KEYS)),
    st.tuples(st.just("bytes"), byte_ops())))
def test_a_tampered_store_is_reported_never_an_internal_error(
        tmp_path_factory: pytest.TempPathFactory, which: int, edit: tuple[Any, ...]) -> None:
    root = _store(tmp_path_factory.mktemp(f"store{next(_counter)}"))
    files = sorted(root.rglob("*.json"))
    path = files[which % len(files)]
    before = path.read_bytes()
    after = (_edit(before, edit[1], edit[2]) if edit[0] == "field"
             else apply_bytes(before, edit[1]))
    path.write_bytes(after)
    try:
        for argv in (["history", "--store", str(root)],
                     ["history", "--store", f"file://{root}", "--output", "json"],
                     ["audit", "verify", "--store", str(root)]):
            code, out, err = _run(argv)
            event(f"{argv[0]} exit {code}")
            assert code in (0, 65, 66, 74), (argv, code, err)
            assert "Traceback" not in err and "internal error" not in err, err
            if argv[0] == "audit" and code == 0:  # an edited record never verifies
                assert after == before or _same_head(path, before, after), out
    finally:
        shutil.rmtree(root)


def _same_head(path: Path, before: bytes, after: bytes) -> bool:
    """The head is not hashed: an edit that leaves its meaning (a trailing space) verifies."""
    if path.name != Path(AUDIT_HEAD_KEY).name:
        return False
    try:
        return parse_head(before) == parse_head(after)
    except InputError:
        return False


# ---- regressions found by the fuzzing above -------------------------------------------------


@pytest.mark.parametrize("key", ["a\x00b", "audit", ""])
@pytest.mark.parametrize("command", [["history"], ["audit", "verify"]])
def test_a_head_naming_an_impossible_key_is_a_broken_chain(
        tmp_path: Path, key: str, command: list[str]) -> None:
    """A NUL in the key the head (or a record's previous_key) names was "internal error:
    ValueError: embedded null byte" (70); a key naming a directory was "cannot read: Is a
    directory" (74, an I/O failure). Both are a tampered trail: one E101 line, exit 65."""
    root = _store(tmp_path / "store")
    head = root / AUDIT_HEAD_KEY
    head.write_bytes(_edit(head.read_bytes(), "key", key))
    code, _out, err = _run([*command, "--store", str(root)])
    assert code == 65, err
    lines = err.splitlines()
    assert len(lines) == 1 and "invalid key in audit record" in err, err
