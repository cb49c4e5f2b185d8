"""Render reports from the pydantic models with jinja2 templates (one per format)."""

from __future__ import annotations

from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from ..report import DoctorReport, GateReport

__all__ = ["OUTPUTS", "render_doctor", "render_gate"]

OUTPUTS = ("tty", "markdown", "json")
EMOJI = {"ALLOW": "✅", "REJECT": "❌", "INCONCLUSIVE": "⚠️"}


def signed(x: float | None, digits: int = 4, *, none: str = "n/a") -> str:
    return none if x is None else f"{x:+.{digits}f}"


def num(x: float | None, digits: int = 4) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def pval(p: float | None) -> str:
    if p is None:
        return "n/a"
    return "< 0.0001" if p < 1e-4 else f"{p:.4f}"


def interval(iv: Any) -> str:
    lo, hi = iv
    return f"[{signed(lo, none='-inf')}, {signed(hi, none='+inf')}]"


def pct(x: float) -> str:
    return f"{100 * x:g}%"


@cache
def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("evalsig_core", "render/templates"),
        undefined=StrictUndefined, keep_trailing_newline=True,
        trim_blocks=True, lstrip_blocks=True, autoescape=False,
    )
    env.filters.update(signed=signed, num=num, pval=pval, interval=interval, pct=pct)
    env.globals.update(EMOJI=EMOJI)
    return env


def render_gate(report: GateReport, output: str) -> str:
    if output == "json":
        return report.to_json() + "\n"
    return _env().get_template(f"gate.{_ext(output)}.j2").render(r=report, c=report.comparison)


def render_doctor(report: DoctorReport, output: str) -> str:
    if output == "json":
        return report.model_dump_json(indent=2) + "\n"
    return _env().get_template(f"doctor.{_ext(output)}.j2").render(r=report)


def _ext(output: str) -> str:
    return {"markdown": "md", "tty": "txt"}[output]
