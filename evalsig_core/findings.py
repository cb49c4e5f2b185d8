"""How the doctor's findings and its report are made: one constructor for every finding (its
severity from its code's letter, its text printable) and one for the report (ok, exit code,
findings in order). Used by the doctor's checks and by the CLI's refusal reports.
"""

from __future__ import annotations

from .errors import ExitCode, InputError
from .report import DoctorReport, Finding, RunSummary, Severity

__all__ = ["finding", "finding_from_error", "make_report", "one_line", "printable"]


def finding(code: str, message: str, hint: str = "", *, count: int | None = None,
            examples: list[str] | None = None, file: str | None = None) -> Finding:
    """A finding of `code` (E error, W warning, I information), its texts made printable."""
    sev = {"E": Severity.ERROR, "W": Severity.WARNING, "I": Severity.INFO}[code[0]]
    return Finding(code=code, severity=sev, message=printable(message), hint=printable(hint),
                   count=count, examples=[printable(e) for e in examples or []], file=file)


def printable(text: str) -> str:
    """Text with its control and format characters escaped: an item id holding a newline
    started a Markdown heading in the PR comment ("e.g. candidate only: a\n## ..."), and a
    right-to-left override reversed the rest of the line."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def one_line(text: object) -> str:
    """`text` as one printable line: runs of whitespace (newlines included) as one space,
    other control and format characters escaped (`printable`). The Markdown reports' escaping
    and the webhook's excerpts of other services' answers start from it."""
    return printable(" ".join(str(text).split()))


def finding_from_error(exc: InputError) -> Finding:
    """A read failure as a finding, so `doctor` can report both files in one go."""
    message = exc.message.removeprefix(f"{exc.path}: ") if exc.path else exc.message
    return finding(getattr(exc, "code", "E101"), message, exc.hint or "", file=exc.path)


def make_report(findings: list[Finding], b: RunSummary | None,
                c: RunSummary | None) -> DoctorReport:
    ok = not any(f.severity is Severity.ERROR for f in findings)
    order = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}
    findings = sorted(findings, key=lambda f: (order[f.severity], f.code))
    return DoctorReport(ok=ok, exit_code=int(ExitCode.OK if ok else ExitCode.DATA),
                        findings=findings, baseline=b, candidate=c)
