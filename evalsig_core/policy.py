"""Gate policy and the verdict table of DESIGN.md.

`Policy` validates once at construction (invalid values raise `UsageError`, exit 64) and is
frozen afterwards. `decide` is the only place that turns bounds into a verdict.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from .errors import ExitCode, UsageError
from .numfmt import counted, digits_apart, fixed

__all__ = ["MAX_RESAMPLES", "MIN_CLUSTERS", "Decision", "Mode", "Policy", "Verdict", "decide",
           "meets_margin", "null_boundary"]

# With fewer clusters than this no cluster-robust method can be trusted: INCONCLUSIVE.
MIN_CLUSTERS = 5
# The most resamples a policy takes: every draw keeps a few float64 numbers per bound (the wild
# bootstrap ~56 bytes), so 1e7 stays under 1 GB on a CI runner; a level beyond 1/(1e7 + 1)
# wants a t method, not more draws.
MAX_RESAMPLES = 10_000_000


class Verdict(StrEnum):
    ALLOW = "ALLOW"
    REJECT = "REJECT"
    INCONCLUSIVE = "INCONCLUSIVE"

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode[self.value]


class Mode(StrEnum):
    SUPERIORITY = "superiority"
    NON_INFERIORITY = "non-inferiority"
    MINIMUM_EFFECT = "minimum-effect"


class Policy(BaseModel):
    """What a gate decides with. `min_delta` is the margin (>= 0), `alpha` one-sided, `power`
    in (alpha, 1) (at or below alpha the detectable effect would be <= 0)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_delta: float
    alpha: float = 0.05
    power: float = 0.80
    mode: Mode = Mode.SUPERIORITY
    method: str = "auto"
    resamples: int = 10000
    seed: int = 0
    metric: str | None = None
    cluster: str | None = None

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"]) or "policy"
            msg = str(err["msg"]).removeprefix("Value error, ")
            got = f" (got {err.get('input')!r})" if err["loc"] else ""  # not the whole policy
            raise UsageError(f"invalid {field}: {msg}{got}") from None

    @field_validator("min_delta")
    @classmethod
    def _margin(cls, v: float) -> float:
        if not math.isfinite(v) or v < 0:
            raise ValueError("min_delta must be a finite number >= 0")
        return v + 0.0  # -0.0 (`--min-delta -0`) is 0: reports printed "min_delta -0.0000"

    @field_validator("alpha", "power")
    @classmethod
    def _unit(cls, v: float) -> float:
        if not 0 < v < 1:
            raise ValueError("must be strictly between 0 and 1")
        return v

    @field_validator("resamples")
    @classmethod
    def _resamples(cls, v: int) -> int:
        if v < 99:
            raise ValueError("resamples must be at least 99")
        if v > MAX_RESAMPLES:
            raise ValueError(f"resamples must be at most {MAX_RESAMPLES:,} (every draw "
                             "takes memory: 100,000,000 wild bootstrap draws took 11.5 GB)")
        return v

    @field_validator("seed")
    @classmethod
    def _seed(cls, v: int) -> int:
        if v < 0:
            raise ValueError("seed must be a non-negative integer")
        return v

    @field_validator("method")
    @classmethod
    def _method(cls, v: str) -> str:
        from .stats import METHODS

        if v != "auto" and v not in METHODS:
            raise ValueError(f"unknown method; choose auto or one of {', '.join(METHODS)}")
        return v

    @model_validator(mode="after")
    def _power_above_alpha(self) -> Policy:
        # MDE = (t_{1-alpha} + t_power) SE is <= 0 when power <= alpha: the report would say
        # "detectable -0.09" and an underpowered run would be REJECTed as "could detect".
        if self.power <= self.alpha:
            raise ValueError(f"power ({self.power:g}) must exceed alpha ({self.alpha:g}); "
                             "the usual choice is 0.80")
        return self

    @property
    def theta0(self) -> float:
        """The null boundary the mode tests against (delta <= theta0)."""
        return null_boundary(self.mode, self.min_delta)


def null_boundary(mode: Mode, min_delta: float) -> float:
    """theta0 of a mode: 0 (superiority), -min_delta (non-inferiority), +min_delta."""
    return {
        Mode.SUPERIORITY: 0.0,
        Mode.NON_INFERIORITY: -min_delta,
        Mode.MINIMUM_EFFECT: min_delta,
    }[mode]


# Relative tolerance of "delta >= min_delta": a delta that equals the margin exactly (15 of 300
# items gained, over 3 epochs) comes out of the mean as 0.049999999999999996 one time in ten.
_MARGIN_RTOL = 1e-9


def meets_margin(delta: float, min_delta: float) -> bool:
    """delta >= min_delta, counting a delta within floating-point rounding of it as equal."""
    return delta >= min_delta - _MARGIN_RTOL * max(1.0, abs(min_delta))


class Decision(BaseModel):
    model_config = ConfigDict(frozen=True)

    verdict: Verdict
    reason: str
    # False when the verdict rests on U (or the cluster count) alone, not on L or the MDE.
    uses_lower: bool = True


def decide(
    policy: Policy, *, delta: float, lower: float, upper: float, mde: float,
    n_clusters: int | None = None, effective_clusters: float | None = None,
) -> Decision:
    """Apply the verdict table (DESIGN.md) to one-sided (1 - alpha) bounds L and U.

    An `mde` of NaN (undefined: alpha >= 0.5) never supports a power-based REJECT."""
    m = policy.min_delta
    if n_clusters is not None and n_clusters < MIN_CLUSTERS:
        return Decision(
            verdict=Verdict.INCONCLUSIVE,
            reason=f"only {counted(n_clusters, 'cluster')}: no cluster-robust interval can be "
            f"trusted with fewer than {MIN_CLUSTERS}",
            uses_lower=False,
        )
    if effective_clusters is not None and effective_clusters < MIN_CLUSTERS:
        return Decision(
            verdict=Verdict.INCONCLUSIVE,
            reason=f"cluster sizes are so unequal that the effective number of clusters "
            f"(N^2 / sum n_g^2) is {effective_clusters:.1f}: no cluster-robust interval can be "
            f"trusted with fewer than {MIN_CLUSTERS}",
            uses_lower=False,
        )
    if policy.mode is Mode.SUPERIORITY:
        if lower > 0 and meets_margin(delta, m):
            return Decision(verdict=Verdict.ALLOW,
                            reason=f"L = {fixed(lower, True)} > 0 and delta >= min_delta "
                            f"{fixed(m)}")  # fixed: a tiny L reads +2e-05, never +0.0000
        if upper < 0:
            return Decision(verdict=Verdict.REJECT,
                            reason=f"significant regression: U = {fixed(upper, True)} < 0",
                            uses_lower=False)
        if lower <= 0 <= upper and math.isnan(mde):
            return Decision(
                verdict=Verdict.INCONCLUSIVE,
                reason="not significant, and at this alpha no detectable effect is defined to "
                "judge the run's power by",
            )
        if lower <= 0 <= upper and mde > m:
            d = digits_apart(mde, m)
            return Decision(
                verdict=Verdict.INCONCLUSIVE,
                reason=f"not significant and underpowered: MDE {fixed(mde, False, d)} > "
                f"min_delta {fixed(m, False, d)}",
            )
        if lower > 0:
            d = digits_apart(delta, m)
            return Decision(verdict=Verdict.REJECT,
                            reason=f"significant but delta {fixed(delta, True, d)} < min_delta "
                            f"{fixed(m, False, d)}")
        return Decision(
            verdict=Verdict.REJECT,
            reason=f"no significant improvement although the run could detect {fixed(mde)} "
            f"<= min_delta {fixed(m)}",
        )
    margin = policy.theta0 + 0.0  # + 0.0: a zero margin reads +0.0000, never -0.0000
    if lower > margin:
        d = digits_apart(lower, margin)
        return Decision(verdict=Verdict.ALLOW,
                        reason=f"L = {fixed(lower, True, d)} > {fixed(margin, True, d)}")
    if upper < margin:
        d = digits_apart(upper, margin)
        return Decision(verdict=Verdict.REJECT,
                        reason=f"U = {fixed(upper, True, d)} < {fixed(margin, True, d)}",
                        uses_lower=False)
    # decimals that tell each bound from the margin: "[-0.1500, ...] contains the margin
    # -0.1500" when L was -0.15000000002 and the margin -0.1499999
    d = max(digits_apart(lower, margin), digits_apart(upper, margin))
    return Decision(
        verdict=Verdict.INCONCLUSIVE,
        reason=f"the interval [{fixed(lower, True, d)}, {fixed(upper, True, d)}] contains the "
        f"margin {fixed(margin, True, d)}",
    )
