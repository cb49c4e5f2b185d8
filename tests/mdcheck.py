"""Checks that Markdown built from hostile user data holds no markup the data put there.

Shared by the renderer tests and the flows' artifact tests. The Markdown is parsed as
GitHub would (CommonMark and GFM tables) with markdown-it-py; GitHub's own additions that
markdown-it does not have (mentions, bare-URL autolinks) are checked on the text tokens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from markdown_it import MarkdownIt
from markdown_it.token import Token

from evalsig_core.findings import printable

# Every kind of user field, and the values each is tried with: each could end a line, start a
# heading, quote or list, hide the comment, inject HTML, add a link or image, ping a team,
# break a code span or a table row, or reverse the text that follows.
HOSTILE = (
    "x\n## pwned",
    "# pwned",
    "> quoted",
    "- listed",
    "1. numbered",
    "---",
    "===",
    "<!-- hidden",
    "<img src=x onerror=alert(1)>",
    "<details><summary>open</summary>",
    "</details>",
    "[click](http://evil)",
    "![i](http://evil/x.png)",
    "<http://evil>",
    "[ref]: http://evil",
    "@org/team",
    "cc @someone",
    "a`b``c",
    "`",
    "``` fence",
    "a|b|c",
    "a\\|b",
    "\\",
    "rtl\u202eevil",
    "&lt;img src=x&gt;",
    "*strong* _em_ ~~gone~~",
    "q\r\nq\tq",
)

# The tags and the comment our own templates write (the <details> blocks and the marker).
OUR_TAGS = {"details", "summary", "code"}


def one_line(value: str) -> str:
    """What a value must read as once rendered: one line, control characters escaped."""
    return printable(" ".join(value.split()))


@dataclass
class Parsed:
    tokens: list[Token]
    texts: list[str] = field(default_factory=list)  # visible text of each inline / HTML block
    plain: list[str] = field(default_factory=list)  # text outside code, for GitHub's additions


class _Html(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.comments: list[str] = []
        self.text: list[str] = []
        self.plain: list[str] = []
        self._code = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        assert not attrs, f"attributes in {tag}: {attrs}"
        self._code += tag == "code"

    def handle_endtag(self, tag: str) -> None:
        self.tags.append(tag)
        self._code -= tag == "code"

    def handle_comment(self, data: str) -> None:
        self.comments.append(data)

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if not self._code:
            self.plain.append(data)


def parse(markdown: str) -> Parsed:
    """Parse, and assert what no data may add: raw HTML other than our <details> blocks and
    the marker comment, links, images, autolinks. Returns the visible text."""
    tokens = MarkdownIt("commonmark").enable("table").parse(markdown)
    out = Parsed(tokens)
    for i, tok in enumerate(tokens):
        if tok.type == "html_block":
            h = _Html()
            h.feed(tok.content)
            h.close()
            assert set(h.tags) <= OUR_TAGS, f"HTML from data: {tok.content!r}"
            if i == 0 and tok.content.startswith("<!-- evalsig-report"):  # the marker line
                assert len(h.comments) == 1, f"marker comment broken: {tok.content!r}"
                assert tok.content.count("\n") == 1, f"marker comment broken: {tok.content!r}"
            else:
                assert not h.comments, f"comment from data: {tok.content!r}"
            out.texts.append("".join(h.text))  # entities converted by the parser
            out.plain.append("".join(h.plain))
        elif tok.type == "inline":
            children = tok.children or []
            kinds = {c.type for c in children}
            assert "html_inline" not in kinds, f"inline HTML from data: {tok.content!r}"
            assert not kinds & {"link_open", "image"}, f"link or image from data: {tok.content!r}"
            out.texts.append("".join(c.content for c in children
                                     if c.type in ("text", "code_inline", "text_special")))
            out.plain.append("".join(c.content for c in children if c.type == "text"))
    for text in out.plain:  # GitHub links @user, @org/team and a@b.c outside code
        assert not re.search(r"@[A-Za-z0-9]", text), f"a mention outside code: {text!r}"
    return out


def headings(parsed: Parsed) -> list[str]:
    toks = parsed.tokens
    return [toks[i + 1].content for i, t in enumerate(toks) if t.type == "heading_open"]


def check_tables(parsed: Parsed, markdown: str) -> int:
    """Every row of every table splits, as GFM splits it (at each `|` not escaped by a
    backslash, code spans included), into as many cells as its header: markdown-it drops a
    row's extra cells, so its tokens alone would not show a broken row. Returns the rows."""
    lines = markdown.splitlines()
    rows, width = 0, 0
    for tok in parsed.tokens:
        if tok.type == "table_open":
            width = 0
        elif tok.type == "tr_open" and tok.map is not None:
            line = lines[tok.map[0]].strip()
            cells = len(re.split(r"(?<!\\)\|", line.removeprefix("|").removesuffix("|")))
            width = width or cells
            assert cells == width, f"{cells} cells in a table of {width}: {line!r}"
            rows += 1
    return rows


def visible(parsed: Parsed, value: str) -> bool:
    """Whether the value is shown in full, in one text run (a cell, a line, a summary)."""
    want = one_line(value)
    return any(want in text for text in parsed.texts)
