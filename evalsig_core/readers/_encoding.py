"""The encoding of a run file, judged from its first four bytes: readers read UTF-8 only.

Harnesses write UTF-8 and RFC 8259 requires it for JSON exchanged between systems. The standard
library's `json.loads` of bytes also decodes UTF-16 and UTF-32 (it guesses from the NUL bytes),
so a UTF-16 JSON document without a byte-order mark was read while the same file with one was
"not valid UTF-8" and a UTF-16 JSONL or CSV file was a parse error about its second line: every
reader now refuses UTF-16 and UTF-32, with or without a byte-order mark, in one line. The check
looks at the start of a file (or of an archive member) once, never at each line. Line ends are
judged once too: a file whose first line end is a lone CR has classic Mac line ends (`cr_only`).
"""

from __future__ import annotations

from ..errors import InputError

BOM = b"\xef\xbb\xbf"

# Byte-order marks, longest first: UTF-32-LE's starts with UTF-16-LE's.
_WIDE_BOMS = ((b"\xff\xfe\x00\x00", "UTF-32"), (b"\x00\x00\xfe\xff", "UTF-32"),
              (b"\xff\xfe", "UTF-16"), (b"\xfe\xff", "UTF-16"))
# Without a mark: which of the first four bytes are NUL ("0"). A JSON text or a CSV header
# starts with ASCII characters, which UTF-16 and UTF-32 write with NUL bytes beside them;
# UTF-8 text has no NUL there (a NUL is not JSON whitespace, and would be refused anyway).
_WIDE_NULS = {"x0x0": "UTF-16", "0x0x": "UTF-16", "x000": "UTF-32", "000x": "UTF-32"}


def wide_encoding(start: bytes) -> str | None:
    """"UTF-16" or "UTF-32" when `start` (a text's first bytes) is written in it, else None."""
    for mark, name in _WIDE_BOMS:
        if start.startswith(mark):
            return name
    return _WIDE_NULS.get("".join("0" if b == 0 else "x" for b in start[:4]))


def utf8_start(data: bytes, src: str, what: str = "file") -> bytes:
    """`data` (the first bytes of a file, or of a document: `what`) without its UTF-8
    byte-order mark. UTF-16 or UTF-32 text, and a second mark (a file that went through two
    tools that each added one), are one E101 line naming `src` and the fix."""
    wide = wide_encoding(data[:4])
    if wide is not None:
        raise InputError(f"{what} is {wide} encoded; evalsig reads UTF-8", path=src,
                         hint="re-save it as UTF-8, as harnesses write it")
    if data.startswith(BOM + BOM):
        raise InputError(f"{what} starts with two byte-order marks", path=src,
                         hint="remove one of them; re-save the file as UTF-8")
    return data.removeprefix(BOM)


def cr_only(data: bytes) -> bool:
    """Whether the first line end in `data` is a lone CR (classic Mac line ends)."""
    cr = data.find(b"\r")
    return cr >= 0 and data[cr + 1:cr + 2] != b"\n" and not 0 <= data.find(b"\n") < cr


def lf_ends(data: bytes) -> bytes:
    """Classic Mac line ends (CR) as LF; a CRLF stays one line end."""
    return data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
