"""User data in the Markdown reports: text that cannot become markup, and code spans.

The Markdown reports are posted as GitHub PR comments and Prefect artifacts, and they quote
strings from the user's files (model names, run ids, paths, task, metric and cluster names,
item ids in findings). One such string could start a heading or a list, break a table, hide
the rest of the comment in `<!--`, inject HTML, add a link or an image, or ping a team.
Every such value goes through one of these functions (the templates' filters `md`, `code`
and `html`; the flows' artifacts call them directly), so one module decides:

- `md_text`: free text (messages, hints, item ids, reasons) inside a Markdown line.
- `code_span`: identifiers (file paths, URIs, model, run, task, metric, cluster names) as a
  code span, where GitHub renders no markup, link, autolink or mention at all.
- `html_text`: text inside a raw HTML block (the suite's `<summary>` lines), where Markdown
  is not parsed, so backslash escapes would show.

All three make the value one line first (runs of whitespace, newlines included, become one
space) and escape the remaining control and format characters (`findings.one_line`: a
right-to-left override shows as `\\u202e`). Nothing else is dropped or changed: every other
character of the value shows in the rendered comment as it is in the file.
"""

from __future__ import annotations

import re
from typing import Any

from ..findings import one_line as _one_line

__all__ = ["code_span", "html_text", "md_text"]

# Backslash-escaped wherever they stand: \ (escapes), ` (code spans), * and ~ (emphasis and
# strikethrough, which open inside words) and | (table cells).
_ALWAYS = re.compile(r"[\\`*~|]")
# `<` before anything but whitespace: HTML, a comment and an <autolink> need a letter, `/`,
# `!` or `?` next; a `<` that ends the value is escaped too, as the template's text follows
# it. "U < 0" stays as it is.
_ANGLE = re.compile(r"<(?!\s)")
# `]` that could close a link or an image: `[x](u)`, `![x](u)`, `[x][r]` and `[x][]` need a
# `]` followed by `(` or `[` (or by whatever the template puts after the value). Shortcut
# links `[r]` need a definition `[r]: u` at the start of a line, and a leading `[` is escaped
# (below), so "[-0.15, +0.03] contains 0" stays as it is.
_BRACKET = re.compile(r"\](?=[(\[]|$)")
# `_` opens or closes emphasis only beside whitespace or punctuation, never between two
# letters or digits: `passage_id` stays as it is, `_x_` is escaped.
_UNDERSCORE = re.compile(r"(?<![^\W_])_|_(?![^\W_])")
# `&` only where it starts an entity (`&lt;`, `&#x202e;`): the entity would otherwise show as
# the character it names, not as the text the file holds.
_ENTITY = re.compile(r"&(?=#?[0-9A-Za-z]+;)")
# GitHub's extended autolinks (a bare http://..., www....) start at the `:` of `://` and at
# `www.`: the escaped character does not start one (wherever it stands: a `_` or `(` before
# the scheme does not stop an autolink). CommonMark has no such extension, so this rests on
# how GitHub's parser matches them, not on a test that renders as GitHub does.
_BARE_URL = re.compile(r"(?i)(https?|ftp)(:)(?=//)|(www)(\.)")
_AT = re.compile("@+")
# At the start of the value (which may be the start of a line, and the template's text may
# follow it): ATX headings (#), quotes (>), lists (- + and "1." "1)" before a space, so
# "0.5" stays), thematic breaks and setext underlines (- =; * and _ are escaped anyway),
# link reference definitions and footnotes ([).
_LEADING = re.compile(r"^(?:([#>+=\[-])|(\d+)([.)])(?=\s|$))")


def md_text(text: Any) -> str:
    """`text` as one line of literal Markdown text, for anywhere in a line or a table cell.

    Only what can start markup is escaped, so ordinary names stay readable in the raw
    Markdown (`gpt-4o-mini`, `passage_id`, `runs/base.json`, "U < 0" are unchanged): the
    characters in `_ALWAYS`, a `<` before anything but a space, a `]` before `(` or `[`, a `_`
    not inside a word, a `&` that starts an entity, the `:` or `.` that would start a bare-URL
    autolink, and a first character that could start a block (`#`, `>`, `-`, `+`, `=`, `[`,
    or "1." / "1)" before a space).

    `@` becomes a code span (a run of them one span): GitHub turns `@user` and `@org/team`
    into mentions (and `a@b.com` into a mail link) in the rendered text, after Markdown, so a
    backslash or an entity, which Markdown removes, would not stop the ping; GitHub links
    nothing in code.
    """
    s = _ALWAYS.sub(r"\\\g<0>", _one_line(text))
    s = _ANGLE.sub(r"\\<", s)
    s = _BRACKET.sub(r"\\]", s)
    s = _UNDERSCORE.sub(r"\\_", s)
    s = _ENTITY.sub(r"\\&", s)
    s = _BARE_URL.sub(lambda m: f"{m[1]}\\{m[2]}" if m[1] else f"{m[3]}\\{m[4]}", s)
    s = _AT.sub(r"`\g<0>`", s)  # a run as one span: `@``@` would be one span holding ``
    return _LEADING.sub(lambda m: f"\\{m[1]}" if m[1] else f"{m[2]}\\{m[3]}", s)


def code_span(text: Any, *, cell: bool = False) -> str:
    """`text` as one inline code span, for identifiers: nothing in it is markup.

    The fence is one backtick longer than the longest run of backticks in the value, and the
    value is padded with a space on both sides when it starts or ends with a backtick (both
    CommonMark rules; the renderer strips the padding again). `cell=True` in a table: GFM
    splits a row at every unescaped `|`, code spans included, and turns `\\|` back into `|`.
    An empty value is a span holding one space, so the cell does not look unfilled.
    """
    s = _one_line(text)
    if cell:
        s = s.replace("|", "\\|")
    if not s:
        return "` `"
    fence = "`" * (max((len(run) for run in re.findall("`+", s)), default=0) + 1)
    pad = " " if s[0] == "`" or s[-1] == "`" else ""
    return f"{fence}{pad}{s}{pad}{fence}"


def html_text(text: Any) -> str:
    """`text` as one line inside a raw HTML block (where Markdown is not parsed): `&` and `<`
    as entities (a `>` without a `<` is text; "L > 0" stays readable), and `@` in `<code>`
    so GitHub makes no mention of it."""
    s = _one_line(text).replace("&", "&amp;").replace("<", "&lt;")
    return s.replace("@", "<code>@</code>")
