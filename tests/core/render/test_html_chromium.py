"""The HTML report opened in headless Chromium: it renders, offline, one SVG row per entry."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from evalsig_core.render import render_gate, render_suite, render_watch
from tests.core.render.cases import gate_allow, gate_inconclusive, suite_report, watch_result

CHROMIUM = next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser",
                                                       "google-chrome")) if p), None)
# CI installs chromium (.ci/run); a developer machine without it skips these tests.
pytestmark = pytest.mark.skipif(CHROMIUM is None and os.environ.get("CI") != "true",
                                reason="chromium is not installed (apt-get install chromium)")

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--disable-dev-shm-usage"]


def _chromium(tmp: Path, page: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None, "chromium is required in CI"
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={tmp / 'profile'}", *extra, page.as_uri()],
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp)


def _dom(tmp: Path, html: str) -> str:
    page = tmp / "report.html"
    page.write_text(html, encoding="utf-8")
    p = _chromium(tmp, page, "--dump-dom")
    assert p.returncode == 0, p.stderr[-2000:]
    return p.stdout


def test_suite_page_has_one_forest_row_per_entry(tmp_path: Path) -> None:
    report = suite_report()
    dom = _dom(tmp_path, render_suite(report, "html"))
    rows = re.findall(r'<g class="row" data-label="([^"]*)"', dom)
    assert rows == [e.name for e in report.entries]
    assert 'id="verdict"' in dom and ">REJECT<" in dom


def test_gate_page_draws_one_row_and_the_distribution(tmp_path: Path) -> None:
    dom = _dom(tmp_path, render_gate(gate_allow(), "html"))
    assert len(re.findall(r'<g class="row"', dom)) == 1
    # The t reference density for analytic methods, the method's own draws for resampling ones.
    assert re.search(r'<svg id="distribution" data-source="(reference|resampling)"', dom)
    assert "<circle" in dom and "<path class=\"density\"" in dom


def test_page_renders_to_a_screenshot(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(render_gate(gate_inconclusive(), "html"), encoding="utf-8")
    shot = tmp_path / "shot.png"
    p = _chromium(tmp_path, page, f"--screenshot={shot}", "--window-size=860,1200")
    assert p.returncode == 0, p.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000


def test_html_loads_nothing_from_the_network() -> None:
    for html in (render_gate(gate_allow(), "html"), render_suite(suite_report(), "html"),
                 render_watch(watch_result(), "html")):
        assert not re.search(r"(src|href)\s*=|url\(|@import|<script|<link", html, re.I)
        # The only URL is the SVG namespace name, which browsers never fetch.
        assert set(re.findall(r"https?://[^\s\"']+", html)) == {"http://www.w3.org/2000/svg"}
