"""evalsig core: read eval runs, pair them, test the difference, decide, report.

Pure library: numpy, scipy, pydantic, jinja2. It never imports prefect, boto3 or an HTTP
library and touches no network; only the command line (`evalsig_core.cli`) reads the
environment.

The public names are imported on first use (PEP 562 `__getattr__`, from `_LAZY`): importing
any module of the package (`evalsig_core.cli` for `evalsig --help`, `evalsig_core.errors`)
ran this file first and loaded every module, scipy, jinja2 and the pydantic models included.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:  # what type checkers and readers see; at run time `__getattr__` below
    from .doctor import FINDING_CODES, diagnose
    from .errors import (
        EvalsigError,
        ExitCode,
        InputError,
        InputNotFoundError,
        InputReadError,
        StorageError,
        UsageError,
    )
    from .gate import DoctorError, compare, gate
    from .pairing import Pairing, pair
    from .policy import Mode, Policy, Verdict
    from .readers import read_run
    from .report import (
        ComparisonResult,
        DoctorReport,
        Finding,
        GateReport,
        Interval,
        Severity,
        SuiteEntry,
        SuiteReport,
    )
    from .run import EvalRun, RunMeta
    from .sequential import WatchResult, confidence_sequence, watch  # statistics helper: watch
    from .stats import METHODS, minimum_detectable_effect, required_n
    from .stats.power import PowerResult, power_analysis  # statistics helper: power
    from .suite import SuiteItem, gate_suite, run_suite_file  # statistics helper: suites

# The module (relative to this package) that defines each public name; a test checks that
# these and the imports above name the same objects.
_LAZY = {
    ".doctor": ("FINDING_CODES", "diagnose"),
    ".errors": ("EvalsigError", "ExitCode", "InputError", "InputNotFoundError",
                "InputReadError", "StorageError", "UsageError"),
    ".gate": ("DoctorError", "compare", "gate"),
    ".pairing": ("Pairing", "pair"),
    ".policy": ("Mode", "Policy", "Verdict"),
    ".readers": ("read_run",),
    ".report": ("ComparisonResult", "DoctorReport", "Finding", "GateReport", "Interval",
                "Severity", "SuiteEntry", "SuiteReport"),
    ".run": ("EvalRun", "RunMeta"),
    ".sequential": ("WatchResult", "confidence_sequence", "watch"),
    ".stats": ("METHODS", "minimum_detectable_effect", "required_n"),
    ".stats.power": ("PowerResult", "power_analysis"),
    ".suite": ("SuiteItem", "gate_suite", "run_suite_file"),
}
_MODULE_OF = {name: module for module, names in _LAZY.items() for name in names}


class _Package(types.ModuleType):
    def __setattr__(self, name: str, value: Any) -> None:
        # Loading a submodule binds it on its package: `evalsig_core.gate` the module would
        # hide `gate` the function once any module imported `.gate`. The function wins, as
        # it did when this file imported it eagerly; `__getattr__` looks it up.
        if name in _MODULE_OF and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # the next lookup is a plain global
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = [
    "FINDING_CODES",
    "METHODS",
    "ComparisonResult",
    "DoctorError",
    "DoctorReport",
    "EvalRun",
    "EvalsigError",
    "ExitCode",
    "Finding",
    "GateReport",
    "InputError",
    "InputNotFoundError",
    "InputReadError",
    "Interval",
    "Mode",
    "Pairing",
    "Policy",
    "PowerResult",
    "RunMeta",
    "Severity",
    "StorageError",
    "SuiteEntry",
    "SuiteItem",
    "SuiteReport",
    "UsageError",
    "Verdict",
    "WatchResult",
    "__version__",
    "compare",
    "confidence_sequence",
    "diagnose",
    "gate",
    "gate_suite",
    "minimum_detectable_effect",
    "pair",
    "power_analysis",
    "read_run",
    "required_n",
    "run_suite_file",
    "watch",
]
