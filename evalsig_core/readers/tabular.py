"""CSV and TSV files with a header row of named columns.

Columns: `item_id` (or `ReadOptions.id_col`, the CLI's --id-col), the score column
(`score_col`, else the metric name, else `score`), `epoch` when present (an integer from 0; else
every row is epoch 1; a named `epoch_col` must be present), the cluster column (`cluster_col`,
else the `--cluster` name) and `error` when present (a non-empty
value other than false/0/no marks an errored row: excluded and counted). Cells are text:
scores must parse as numbers (`nan`/`inf` are kept for the doctor) or true/false; anything
else is an error naming the row, as is a row with more non-empty cells than the header (an
unquoted delimiter shifts the columns). Ids are the cells' text: "1.0" and "1" are different
ids (the doctor says so when that leaves items unpaired). Line ends may be LF, CRLF or CR
(classic Mac); a CR inside a quoted cell stays in the cell.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..numfmt import counted
from ..run import EvalRun
from ._columns import Columns, build_run
from ._io import E_FIELD, E_METRIC, E_READ, ReadOptions, line_blocks

_BOOL = {"true": 1.0, "false": 0.0}


def sniff_header(first_line: bytes) -> str | None:
    """The delimiter when the first line looks like a header row, else None."""
    try:  # up to a CR: with classic Mac line ends (CR only) the "line" is the whole file
        text = first_line.strip().split(b"\r", 1)[0].decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not text or text[0] in "{[":
        return None
    if "\t" in text:
        return "\t"
    return "," if "," in text else None


def _text_lines(path: Path, hasher: Any) -> Iterator[str]:
    src = str(path)
    lineno = 0
    for block in line_blocks(path, hasher=hasher):  # the sha256 of the bytes parsed
        for line in block:
            lineno += 1
            try:
                text = line.decode("utf-8").rstrip("\r")
            except UnicodeDecodeError as exc:
                raise InputError(f"line {lineno} is not valid UTF-8 (byte {exc.start})",
                                 path=src, hint="re-save the file as UTF-8") from None
            if "\r" in text:  # CR line ends (classic Mac): one piece per CR, which the csv
                *ended, text = text.split("\r")  # module reads as a line end (as a character
                yield from (t + "\r" for t in ended)  # inside a quoted cell)
            yield text + "\n"


def read_tabular(path: Path, opts: ReadOptions, delimiter: str | None = None) -> EvalRun:
    src = str(path)
    hasher = hashlib.sha256()
    lines = _text_lines(path, hasher)
    try:
        reader = csv.reader(lines, delimiter=delimiter or ",", strict=True)
        header = next(reader, None)
        while header is not None and not "".join(header).strip():  # leading blank lines
            header = next(reader, None)  # (detection skips them; was "file is empty")
        if delimiter is None and header is not None and len(header) == 1 and "\t" in header[0]:
            raise InputError("looks tab-separated", path=src, hint="pass --format tsv")
        if not header:
            raise InputError("file is empty", path=src, hint="re-export the run; it has no rows")
        cols, pick = _columns(header, opts, src)
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) > len(header) and any(c.strip() for c in row[len(header):]):
                # an unquoted delimiter inside a cell shifts every later column: the score
                # column would silently read the neighbour's value
                raise InputError(
                    f"line {reader.line_num} has {counted(len(row), 'cell')}, the header has "
                    f"{len(header)}", path=src, code=E_FIELD,
                    hint="quote cells that contain the delimiter (or drop the extra cells)")
            _row(row, pick, cols, src, reader.line_num)
    except csv.Error as exc:
        raise InputError(f"malformed CSV near line {reader.line_num}: {exc}", path=src,
                         hint="check quoting and delimiters", code=E_READ) from None
    metric = header[pick["score"]]
    ccol = None if "cluster" not in pick else f"column {header[pick['cluster']]}"
    meta = dict(metric=metric, harness="csv", source=src, sha256=hasher.hexdigest(),
                format="tsv" if delimiter == "\t" else "csv", status="success",
                cluster_key=opts.cluster or opts.cluster_col,  # --cluster-col alone too
                cluster_source=ccol,
                config={"harness": "csv"})
    return build_run(cols, meta, src)


def _shown(names: list[str], limit: int = 12, width: int = 40) -> str:
    """The header for an error line: a JSON file forced through --format csv has one
    'column' per comma of its first line; never print all of it."""
    cut = [n if len(n) <= width else n[: width - 1] + "…" for n in names[:limit]]
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return f"{cut}{more}"


def _columns(header: list[str], opts: ReadOptions, src: str) -> tuple[Columns, dict[str, int]]:
    names = [h.strip() for h in header]
    index = {n: i for i, n in enumerate(names)}

    def unique(name: str) -> int:
        # {n: i} kept the last of two same-named columns: a header "item_id,accuracy,
        # accuracy" gated the second column (delta -0.65 instead of 0) without a word
        where = [i + 1 for i, n in enumerate(names) if n == name]
        if len(where) > 1:
            raise InputError(f"column {name!r} appears {len(where)} times in the header "
                             f"(columns {', '.join(map(str, where))})", path=src,
                             hint="rename the duplicates: evalsig never guesses which one "
                             "is meant", code=E_METRIC)
        return index[name]

    def need(name: str, flag: str) -> int:
        if name not in index:
            raise InputError(f"no column {name!r}; the header has {_shown(names)}", path=src,
                             hint=f"name the column with {flag}", code=E_METRIC)
        return unique(name)

    pick = {"id": need(opts.id_col, "--id-col (id_col=)"),
            "score": need(opts.score_col or opts.metric or "score",
                          "--score-col (score_col=) or --metric")}
    if opts.epoch_col in index or opts.epoch_col != "epoch":  # a column named must exist
        pick["epoch"] = need(opts.epoch_col, "--epoch-col (epoch_col=)")
    cluster = opts.cluster_col or opts.cluster
    if cluster is not None:
        pick["cluster"] = need(cluster, "--cluster-col (cluster_col=) or --cluster")
    if "error" in index:
        pick["error"] = unique("error")
    cols = Columns(clusters=[] if cluster is not None else None)
    return cols, pick


# An `error` cell that says "no error": pandas writes a boolean column as False/True and a
# 0/1 flag as 0 or 0.0; every such row was excluded as errored (W202: "40 errored samples").
_NOT_ERRORED = frozenset({"", "false", "0", "0.0", "no"})


def _row(row: list[str], pick: dict[str, int], cols: Columns, src: str, line: int) -> None:
    def cell(k: str) -> str:
        i = pick[k]
        if i >= len(row):
            raise InputError(f"line {line} has {counted(len(row), 'cell')}, the header has more",
                             path=src,
                             hint="every row needs a cell for each column", code=E_FIELD)
        return row[i].strip()

    item = cell("id")
    if "error" in pick and cell("error").lower() not in _NOT_ERRORED:
        cols.add_errored(item)
        return
    cols.ids.append(item)
    cols.scores.append(_number(cell("score"), src, item))
    cols.epochs.append(_epoch(cell("epoch"), src, item) if "epoch" in pick else 1)
    if cols.clusters is not None:
        cols.clusters.append(cell("cluster"))


def _number(text: str, src: str, item: str) -> Any:
    try:
        return float(text)
    except ValueError:
        pass
    if text.lower() in _BOOL:
        return _BOOL[text.lower()]
    raise InputError(f"score is {text[:40]!r}, not a number", path=src, item=item or None,
                     hint="scores must be numbers or true/false", code=E_FIELD)


def _epoch(text: str, src: str, item: str) -> int:
    try:
        return int(text)  # "-1" is refused with the item by _columns.epoch_array
    except ValueError:
        raise InputError(f"epoch is {text[:40]!r}, not an integer", path=src, item=item or None,
                         hint="epochs are integers", code=E_FIELD) from None
