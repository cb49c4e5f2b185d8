"""The HELM run archive (`<run>.helm.tar`): a HELM run directory as one deterministic file.

A flow stores and promotes a HELM run as this archive, so `evalsig doctor/gate` read a stored
baseline directly; it reads as its directory does (the same items, scores, clusters and
metadata, the same verdict), and the same directory always packs to the same bytes. An archive
evalsig would never write (another name, a path, a link, a name twice, a huge or truncated
member, a corrupt header, no per_instance_stats.json) is one line naming the archive and the
fix, exit 65; nothing is ever extracted.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import tarfile
from pathlib import Path
from typing import Any

import pytest

from evalsig_core import InputError, read_run
from evalsig_core.readers import pack_helm_run
from tests.conftest import SHARED_FIXTURES, run_cli

HELM = SHARED_FIXTURES / "helm-0.5.16"
FILES = ("per_instance_stats.json", "scenario_state.json", "run_spec.json")


def packed(run_dir: Path) -> bytes:
    out = io.BytesIO()
    pack_helm_run(run_dir, out)
    return out.getvalue()


@pytest.fixture(scope="module")
def archives(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("helm-archives")
    out = {}
    for role in ("baseline", "candidate"):
        out[role] = root / f"{role}.helm.tar"
        out[role].write_bytes(packed(HELM / role))
    return out


def test_the_same_run_directory_always_packs_to_the_same_bytes(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    shutil.copytree(HELM / "baseline", a)
    shutil.copytree(HELM / "baseline", b)
    for i, p in enumerate(sorted(b.iterdir())):  # other times, modes, and a stats.json more
        os.utime(p, (1_700_000_000 + i, 1_700_000_000 + i))
        p.chmod(0o600)
    data = packed(a)
    assert packed(b) == data
    # reference: pack_helm_run(shared/fixtures/harness-logs/helm-0.5.16/baseline), which pins
    # the archive's format: a change would give every stored HELM baseline a new version key
    assert hashlib.sha256(data).hexdigest() == (
        "e584936a4151409f904f735b4f5338296654640a52f67e52c946fcba3bee8e7e")
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:  # a plain ustar any tar unpacks
        members = tar.getmembers()
        assert [m.name for m in members] == list(FILES)  # not stats.json: no item scores
        assert {(m.mode, m.mtime, m.uid, m.gid, m.uname, m.gname) for m in members} == {
            (0o644, 0, 0, 0, "", "")}
        for m in members:
            f = tar.extractfile(m)
            assert f is not None and f.read() == (HELM / "baseline" / m.name).read_bytes()


def test_a_directory_without_its_optional_files_packs_only_what_it_has(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(HELM / "baseline" / "per_instance_stats.json", run)
    with tarfile.open(fileobj=io.BytesIO(packed(run))) as tar:
        assert tar.getnames() == ["per_instance_stats.json"]
    with pytest.raises(InputError, match="directory has no per_instance_stats.json"):
        packed(tmp_path)


def test_an_archive_reads_as_its_directory(archives: dict[str, Path]) -> None:
    d = read_run(HELM / "baseline", metric="exact_match", cluster="passage_id")
    a = read_run(archives["baseline"], metric="exact_match", cluster="passage_id")
    assert a.item_ids.tolist() == d.item_ids.tolist() and a.scores.tolist() == d.scores.tolist()
    assert a.epochs.tolist() == d.epochs.tolist() and a.clusters is not None
    assert d.clusters is not None and a.clusters.tolist() == d.clusters.tolist()
    assert (a.meta.model, a.meta.task, a.meta.config, a.meta.run_id, a.meta.format) == (
        d.meta.model, d.meta.task, d.meta.config, d.meta.run_id, d.meta.format)
    # the run's file is the archive: its SHA-256 is the store's version key
    assert a.meta.source == str(archives["baseline"])
    assert a.meta.sha256 == hashlib.sha256(archives["baseline"].read_bytes()).hexdigest()
    forced = read_run(archives["baseline"], metric="exact_match", format="helm")
    assert forced.scores.tolist() == d.scores.tolist()


def test_the_cli_gives_the_same_verdict_and_numbers_on_archives(
        archives: dict[str, Path], tmp_path: Path) -> None:
    reports: list[dict[str, Any]] = []
    for b, c in ((HELM / "baseline", HELM / "candidate"),
                 (archives["baseline"], archives["candidate"])):
        out = tmp_path / f"{len(reports)}.json"
        code, _, err = run_cli(["gate", "--baseline", str(b), "--candidate", str(c),
                                "--metric", "exact_match", "--cluster", "passage_id",
                                "--min-delta", "0.005", "--json", str(out),
                                "--output", "markdown"])
        assert code == 0, err
        reports.append(json.loads(out.read_text()))
    assert reports[1]["verdict"] == reports[0]["verdict"] == "ALLOW"
    assert reports[1]["comparison"] == reports[0]["comparison"]
    assert reports[1]["comparison"]["delta"] == pytest.approx(0.25)
    code, _, err = run_cli(["doctor", str(archives["baseline"]), str(archives["candidate"]),
                            "--metric", "exact_match", "--cluster", "passage_id"])
    assert code == 0, err


def test_an_error_inside_an_archive_names_the_member(archives: dict[str, Path]) -> None:
    with pytest.raises(InputError) as info:
        read_run(archives["baseline"], metric="f1")
    assert str(info.value).startswith(f"{archives['baseline']}(per_instance_stats.json): stat "
                                      "'f1' not found")


def test_cluster_keys_need_the_scenario_state_in_the_archive(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(HELM / "baseline" / "per_instance_stats.json", run)
    arc = tmp_path / "run.helm.tar"
    arc.write_bytes(packed(run))
    assert read_run(arc, metric="exact_match").n_records == 40
    with pytest.raises(InputError) as info:
        read_run(arc, metric="exact_match", cluster="passage_id")
    assert str(info.value) == (
        f"{arc}(scenario_state.json): --cluster needs scenario_state.json next to the stats "
        "(fix: pack the whole HELM run directory again, with its scenario_state.json)")


# -- archives evalsig never writes -----------------------------------------------------------

STATS = (HELM / "baseline" / "per_instance_stats.json").read_bytes()
SPEC = (HELM / "baseline" / "run_spec.json").read_bytes()


def tar(*members: tuple[str, bytes, bytes], size: int | None = None) -> bytes:
    """A ustar archive of (name, data, tar type); `size` overrides the first header's."""
    out = io.BytesIO()
    for i, (name, data, kind) in enumerate(members):
        info = tarfile.TarInfo(name)
        info.type, info.size = kind, len(data) if kind == tarfile.REGTYPE else 0
        if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE):
            info.linkname = "/etc/passwd"
        if i == 0 and size is not None:
            info.size = size
        out.write(info.tobuf(tarfile.USTAR_FORMAT, "utf-8", "strict"))
        if kind == tarfile.REGTYPE and size is None:
            out.write(data + bytes(-len(data) % 512))
    return out.getvalue() + bytes(1024)


def pax() -> bytes:
    """A pax archive (a `././@PaxHeader` extension member before the file)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as t:
        info = tarfile.TarInfo("per_instance_stats.json")
        info.size, info.pax_headers = len(STATS), {"comment": "x"}
        t.addfile(info, io.BytesIO(STATS))
    return out.getvalue()


def negative() -> bytes:
    """A header whose size is -1 in base-256 (GNU), its checksum made right."""
    head = bytearray(tar(("per_instance_stats.json", b"", REG))[:512])
    head[124:136] = b"\xff" * 12
    head[148:156] = b" " * 8
    head[148:156] = b"%06o\0 " % sum(head)
    return bytes(head) + STATS + bytes(-len(STATS) % 512 + 1024)


REG = tarfile.REGTYPE
GOOD = tar(("per_instance_stats.json", STATS, REG))
CORRUPT = bytearray(GOOD)
CORRUPT[150] ^= 0x07  # the header's checksum
BAD = [
    ("traversal", tar(("../per_instance_stats.json", STATS, REG)),
     "member '../per_instance_stats.json' is not a file of a HELM run archive"),
    ("absolute", tar(("/etc/cron.d/x", b"x", REG)),
     "member '/etc/cron.d/x' is not a file of a HELM run archive"),
    ("subdirectory", tar(("run/per_instance_stats.json", STATS, REG)),
     "member 'run/per_instance_stats.json' is not a file"),
    ("other-file", tar(("per_instance_stats.json", STATS, REG), ("stats.json", b"[]", REG)),
     "member 'stats.json' is not a file of a HELM run archive (it holds only "
     "per_instance_stats.json, scenario_state.json, run_spec.json)"),
    ("symlink", tar(("per_instance_stats.json", b"", tarfile.SYMTYPE)),
     "member 'per_instance_stats.json' is a symbolic link, not a regular file"),
    ("hard-link", tar(("run_spec.json", b"", tarfile.LNKTYPE)),
     "member 'run_spec.json' is a hard link, not a regular file"),
    ("directory", tar(("run_spec.json", b"", tarfile.DIRTYPE)),
     "member 'run_spec.json' is a directory, not a regular file"),
    ("duplicate", tar(("per_instance_stats.json", STATS, REG),
                      ("per_instance_stats.json", b"[]", REG)),
     "member 'per_instance_stats.json' appears twice"),
    ("huge", tar(("per_instance_stats.json", b"", REG), size=2 * 1024**3),
     "member 'per_instance_stats.json' is 2147483648 bytes, over the 1073741824 byte limit"),
    ("no-stats", tar(("run_spec.json", SPEC, REG)),
     "the archive has no per_instance_stats.json (it holds run_spec.json)"),
    ("truncated", GOOD[:5000], "member 'per_instance_stats.json' is truncated"),
    ("corrupt-header", bytes(CORRUPT), "member #1 has a corrupt tar header (bad checksum)"),
    ("negative-size", negative(), "member 'per_instance_stats.json' has a negative size (-1)"),
    ("empty-member", tar(("per_instance_stats.json", b"", REG)),
     "(per_instance_stats.json): file is empty"),
    ("pax-header", pax(), "member '././@PaxHeader' is not a file of a HELM run archive"),
    ("gzip", gzip.compress(GOOD, mtime=0), "the file is gzip-compressed"),
    # a member past the end block: tar -x and a lenient reader never see it
    ("appended", GOOD + tar(("per_instance_stats.json", b"[]", REG)),
     "data after the end of the archive"),
]


@pytest.mark.parametrize(("data", "message"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_an_archive_evalsig_never_writes_is_one_line_exit_65(data: bytes, message: str,
                                                            tmp_path: Path) -> None:
    arc = tmp_path / "run.helm.tar"
    arc.write_bytes(data)
    with pytest.raises(InputError) as info:
        read_run(arc, metric="exact_match")
    err = info.value
    assert err.exit_code == 65 and message in err.message, err.message
    assert str(err).startswith(str(arc)) and err.hint and "\n" not in str(err)
    assert not (tmp_path / "etc").exists() and sorted(os.listdir(tmp_path)) == ["run.helm.tar"]


def test_the_cli_refuses_a_bad_archive_with_exit_65_and_one_line(tmp_path: Path) -> None:
    arc = tmp_path / "run.helm.tar"
    arc.write_bytes(BAD[0][1])
    code, out, err = run_cli(["gate", "--baseline", str(arc), "--candidate",
                              str(HELM / "candidate"), "--metric", "exact_match",
                              "--min-delta", "0"])
    assert code == 65 and not out
    assert err == (f"evalsig: error: {arc}: member '../per_instance_stats.json' is not a file "
                   "of a HELM run archive (it holds only per_instance_stats.json, "
                   "scenario_state.json, run_spec.json) (fix: give the HELM run directory "
                   "itself; a flow packs it into a valid archive)\n")
    code, out, _ = run_cli(["doctor", str(arc), str(HELM / "candidate"), "--metric",
                            "exact_match"])
    assert code == 65 and "error E101: " in out
