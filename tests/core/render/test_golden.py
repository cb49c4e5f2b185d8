"""Golden files: every renderer's output for fixed reports, byte for byte.

Regenerate after an intended change with `make golden` (it runs this module with
EVALSIG_UPDATE_GOLDEN=1) and review the diff of tests/golden/ before committing.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from evalsig_core.render import (
    Style,
    render_compare,
    render_doctor,
    render_gate,
    render_suite,
    render_watch,
)
from tests.conftest import REPO
from tests.core.render.cases import CASES

GOLDEN = REPO / "tests" / "golden"
UPDATE = os.environ.get("EVALSIG_UPDATE_GOLDEN") == "1"
RENDER: dict[str, Any] = {"gate": render_gate, "doctor": render_doctor, "compare": render_compare,
          "suite": render_suite, "watch": render_watch}
FORMATS = {"txt": ("tty", Style()), "ascii-color.txt": ("tty", Style(color=True, unicode=False)),
           "md": ("markdown", Style()), "json": ("json", Style()), "html": ("html", Style())}


def _rounded(doc: Any) -> Any:
    """JSON compared to 10 significant digits: the last bits of a float may differ between
    numpy/scipy builds, the report's meaning does not."""
    if isinstance(doc, float):
        return float(f"{doc:.10g}")
    if isinstance(doc, dict):
        return {k: _rounded(v) for k, v in doc.items()}
    if isinstance(doc, list):
        return [_rounded(v) for v in doc]
    return doc


@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("case", list(CASES))
def test_renderer_output_matches_its_golden_file(case: str, fmt: str) -> None:
    kind, build = CASES[case]
    output, style = FORMATS[fmt]
    text = RENDER[kind](build(), output, style=style)
    path = GOLDEN / f"{case}.{fmt}"
    if UPDATE:
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} missing: run `make golden`"
    expected = path.read_text(encoding="utf-8")
    if output == "json":
        assert _rounded(json.loads(text)) == _rounded(json.loads(expected))
    else:
        assert text == expected, f"{path.name} differs: run `make golden` and review the diff"


def test_every_golden_file_belongs_to_a_case() -> None:
    expected = {f"{c}.{f}" for c in CASES for f in FORMATS}
    assert {p.name for p in GOLDEN.iterdir()} <= expected
