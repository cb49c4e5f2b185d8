"""evalsig core: read eval runs, pair them, test the difference, decide, report.

Pure library: numpy, scipy, pydantic, jinja2. It never imports prefect, boto3 or an HTTP
library and touches no network; only the command line (`evalsig_core.cli`) reads the
environment.
"""

from ._version import __version__
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
