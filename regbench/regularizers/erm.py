"""Empirical risk minimization: the baseline that adds nothing."""

from regbench.regularizers import register_regularizer
from regbench.regularizers.base import Regularizer


@register_regularizer("erm")
class ERM(Regularizer):
    """No regularization: plain cross-entropy (Vapnik 1992)."""

    kind = "none"
