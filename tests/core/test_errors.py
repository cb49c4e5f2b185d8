"""The one-line form of evalsig's errors."""

from __future__ import annotations

from evalsig_core.errors import InputError


def test_the_fix_reads_as_a_doctor_finding_does_not_run_on_after_the_message() -> None:
    # Was "... and none was chosen Fix: pass --filter ...": one run-on sentence.
    err = InputError("the file has several filters ['a', 'b'] and none was chosen",
                     hint="pass --filter with one of those")
    assert err.one_line().endswith("none was chosen (fix: pass --filter with one of those)")
