"""The escaping functions of the Markdown reports, one value at a time."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from evalsig_core.render import code_span, html_text, md_text
from tests.mdcheck import HOSTILE, check_tables, one_line, parse, visible

_MD = MarkdownIt("commonmark").enable("table")


def _code_content(span: str) -> str:
    """What markdown-it renders a lone code span as (it must be one code_inline)."""
    children = _MD.parseInline(span)[0].children or []
    assert [c.type for c in children] == ["code_inline"], span
    return children[0].content


@pytest.mark.parametrize("value", [
    "gpt-4o-mini", "passage_id", "runs/baseline.json", "accuracy", "reading/accuracy",
    "U = -0.0408 < 0", "the interval [-0.15, +0.03] contains 0", "L > 0", "0.5 of them",
    "exact_match", "AT&T", "a - b", "x#y",
])
def test_ordinary_values_stay_as_they_are(value: str) -> None:
    assert md_text(value) == value


@pytest.mark.parametrize(("value", "expected"), [
    ("# h", "\\# h"), ("> q", "\\> q"), ("- l", "\\- l"), ("+ l", "\\+ l"), ("===", "\\==="),
    ("1. n", "1\\. n"), ("12) n", "12\\) n"), ("[r]: u", "\\[r]: u"),
    ("<b>", "\\<b>"), ("<!--", "\\<!--"), ("x<", "x\\<"),
    ("[x](u)", "\\[x\\](u)"), ("a [x][r]", "a [x\\][r\\]"), ("a [x]", "a [x\\]"),
    ("*a*", "\\*a\\*"), ("_a_", "\\_a\\_"), ("a_b", "a_b"), ("~~s~~", "\\~\\~s\\~\\~"),
    ("a|b", "a\\|b"), ("a\\b", "a\\\\b"), ("`", "\\`"), ("&lt;", "\\&lt;"), ("&#64;", "\\&#64;"),
    ("@org/team", "`@`org/team"), ("a@b.c", "a`@`b.c"),
    ("see http://x", "see http\\://x"), ("see www.x.org", "see www\\.x.org"),
    ("(HTTPS://x)", "(HTTPS\\://x)"), ("a_ftp://x", "a_ftp\\://x"), ("mailto:x", "mailto:x"),
    ("a\n## b", "a ## b"), ("a\u202eb", "a\\\\u202eb"), ("", ""),
])
def test_what_md_escapes(value: str, expected: str) -> None:
    assert md_text(value) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("runs/a.json", "`runs/a.json`"),
    ("a`b", "``a`b``"),
    ("a``b`c", "```a``b`c```"),
    ("`lead", "`` `lead ``"),
    ("trail`", "`` trail` ``"),
    ("`", "`` ` ``"),
    ("", "` `"),
    ("a\n b", "`a b`"),
    ("a|b", "`a|b`"),
])
def test_code_span_fences(value: str, expected: str) -> None:
    assert code_span(value) == expected


def test_a_code_span_in_a_table_escapes_its_pipes_and_gfm_takes_them_back() -> None:
    span = code_span("a|b\\|c", cell=True)
    assert span == "`a\\|b\\\\|c`"
    table = f"| x | y |\n|---|---|\n| {span} | z |\n"
    parsed = parse(table)
    assert check_tables(parsed, table) == 2
    assert visible(parsed, "a|b\\|c")


@given(st.text(max_size=30))
def test_any_code_span_renders_its_one_line_value_exactly(value: str) -> None:
    want = one_line(value)
    got = _code_content(code_span(value))
    assert got == (want or " ")


@given(st.text(alphabet=st.sampled_from(list("ab `\\|[]()<>!@#*_~&;-+=.:/\n1")), max_size=40))
def test_any_md_text_renders_as_its_one_line_value_and_nothing_else(value: str) -> None:
    line = f"x {md_text(value)} y"  # in the middle of a line
    parsed = parse(line)
    assert parsed.texts == [f"x {one_line(value)} y"]
    start = parse(md_text(value) + " y")  # at the start of a line
    assert [t.type for t in start.tokens][:1] in (["paragraph_open"], [])
    if one_line(value):
        assert start.texts == [f"{one_line(value)} y"]


@pytest.mark.parametrize("value", HOSTILE)
def test_html_text_inside_a_summary(value: str) -> None:
    block = f"<details>\n<summary>{html_text(value)}</summary>\n\n</details>\n"
    parsed = parse(block)
    assert visible(parsed, value)
    assert not re.search(r"[<&]", html_text(value).replace("<code>@</code>", ""
                                                           ).replace("&lt;", ""
                                                           ).replace("&amp;", ""))
