"""Inference methods for the paired mean difference, and power.

`METHODS` is the one registry of method names; `choose_method` implements `auto`. Every method
is `fn(sample, *, alpha, theta0, resamples, seed, alpha_allow=None) -> Inference`.
"""

from __future__ import annotations

from collections.abc import Callable

from ._base import ClusterSums, Inference, PairedSample, effective_clusters
from .auto import Choice, choose_method
from .bootstrap import cluster_bootstrap, paired_bootstrap
from .mcnemar import mcnemar
from .multiplicity import adjust_p_values
from .permutation import permutation
from .power import (
    design_effect,
    extra_items_needed,
    icc_anova,
    minimum_detectable_effect,
    required_n,
)
from .t_methods import bell_mccaffrey_df, clustered_t, cr1_variance, cr2_variance, paired_t
from .wild import wild_cluster_bootstrap

__all__ = [
    "METHODS", "Choice", "ClusterSums", "Inference", "PairedSample", "adjust_p_values",
    "bell_mccaffrey_df", "choose_method", "cluster_bootstrap", "clustered_t", "cr1_variance",
    "cr2_variance", "design_effect", "effective_clusters", "extra_items_needed", "icc_anova",
    "mcnemar", "minimum_detectable_effect", "paired_bootstrap", "paired_t", "permutation",
    "required_n", "wild_cluster_bootstrap",
]

Method = Callable[..., Inference]

METHODS: dict[str, Method] = {
    "paired_t": paired_t,
    "clustered_t": clustered_t,
    "wild_cluster_bootstrap": wild_cluster_bootstrap,
    "cluster_bootstrap": cluster_bootstrap,
    "paired_bootstrap": paired_bootstrap,
    "permutation": permutation,
    "mcnemar": mcnemar,
}
