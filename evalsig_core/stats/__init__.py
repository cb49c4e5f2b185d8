"""Inference methods for the paired mean difference, and power.

`METHODS` is the one registry of method names; `choose_method` implements `auto`.
"""

from __future__ import annotations

from collections.abc import Callable

from ._base import ClusterSums, Inference, PairedSample
from .power import (
    design_effect,
    extra_items_needed,
    icc_anova,
    minimum_detectable_effect,
    required_n,
)
from .t_methods import bell_mccaffrey_df, clustered_t, cr1_variance, cr2_variance, paired_t

__all__ = [
    "METHODS", "ClusterSums", "Inference", "PairedSample", "bell_mccaffrey_df", "choose_method",
    "clustered_t", "cr1_variance", "cr2_variance", "design_effect", "extra_items_needed",
    "icc_anova", "minimum_detectable_effect", "paired_t", "required_n",
]

Method = Callable[..., Inference]

METHODS: dict[str, Method] = {
    "paired_t": paired_t,
    "clustered_t": clustered_t,
}


def choose_method(sample: PairedSample) -> tuple[str, str]:
    """The `auto` choice and the reason for it."""
    if sample.sums is not None:
        return "clustered_t", f"{sample.sums.G} clusters: cluster-robust CR2 t with BM df"
    return "paired_t", "no cluster key: iid paired t"
