"""Empirical risk minimization: the baseline that adds nothing."""

from regbench.regularizers import register_regularizer
from regbench.regularizers.base import TASKS, Regularizer


@register_regularizer("erm")
class ERM(Regularizer):
    """No regularization: plain cross-entropy (Vapnik 1992)."""

    kind = "none"
    tasks = TASKS  # acts on weights, gradients or the loss only: any task
