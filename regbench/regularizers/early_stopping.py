"""Early stopping on validation loss with the best weights restored (Prechelt 1998)."""

from __future__ import annotations

import copy

from torch import nn

from regbench.params import NonNegative, NonNegativeInt
from regbench.regularizers import register_regularizer
from regbench.regularizers.base import TASKS, History, Regularizer


@register_regularizer("early_stopping")
class EarlyStopping(Regularizer):
    """Stop when val loss has not improved by ``min_delta`` for ``patience`` epochs; restore the best.

    Uses the validation split only (never a test split), so it is a legitimate model-selection
    rule. The restored epoch and the epochs actually run are recorded.
    """

    kind = "stopping"
    tasks = TASKS  # reads the validation loss only: any task

    def __init__(self, patience: NonNegativeInt = 3, min_delta: NonNegative = 0.0):
        self.patience = patience
        self.min_delta = min_delta

    def _best(self, history: History) -> tuple[int, float]:
        best_epoch, best = 0, float("inf")
        for i, v in enumerate(history.val_loss):
            if v < best - self.min_delta:
                best_epoch, best = i, v
        return best_epoch, best

    def after_epoch(self, model: nn.Module, history: History) -> None:
        best_epoch, _ = self._best(history)
        if best_epoch == history.epoch - 1:  # this epoch is the new best: remember its weights
            self._best_state = copy.deepcopy(model.state_dict())

    def should_stop(self, history: History) -> bool:
        best_epoch, _ = self._best(history)
        return history.epoch - 1 - best_epoch >= self.patience

    def finish(self, model: nn.Module, history: History) -> dict[str, float]:
        state = getattr(self, "_best_state", None)
        if state is not None:
            model.load_state_dict(state)
        best_epoch, _ = self._best(history)
        return {"restored_epoch": float(best_epoch + 1)}

    def describe(self):
        return {"patience": self.patience, "min_delta": self.min_delta}
