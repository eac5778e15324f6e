"""Stochastic weight averaging (Izmailov et al. 2018, arXiv:1803.05407), with its BatchNorm update.

The weights at the end of each epoch of the last quarter of the budget are averaged, with the
learning rate held constant over that phase; the average, with BatchNorm statistics
recomputed on the training inputs, is the evaluated model (regbench.train.averaging). The
running average is this regularizer's state, saved by checkpoints for an exact resume.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Annotated, Any

import torch
from pydantic import Field
from torch import nn

from regbench.regularizers import register_regularizer
from regbench.regularizers.base import History, Regularizer, SetupContext


def averaged_parameters(model: nn.Module, averages: list[torch.Tensor]) -> dict[str, torch.Tensor]:
    """``model.state_dict()`` with its parameters replaced by ``averages`` (same order).

    Buffers stay the final model's (BatchNorm statistics are recomputed afterwards).
    """
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    for (name, _), avg in zip(model.named_parameters(), averages, strict=True):
        state[name] = avg.clone()
    return state


@register_regularizer("swa")
class SWA(Regularizer):
    """Equal-weight average of the end-of-epoch weights over the last ``1 − start`` of the budget.

    ``start`` 0.75: the paper starts averaging at 75% of the training budget (§4, its
    "SWA … starting at 75%" runs). ``lr``: the constant SWA learning rate of that phase, as a
    multiple of the run's base rate; 0.5 is the swa repository's α₂/α₁ for PreResNet and
    WRN on CIFAR (0.05 / 0.1). The run's schedule applies before the phase; ``lr: null``
    keeps it throughout. The paper's cyclical schedule is not offered: its constant
    schedule with one average per epoch is what torch's ``swa_utils`` recipe does.
    Classification only: the BatchNorm update feeds training images through the model.
    """

    kind = "averaging"
    update_bn = True
    batchable = False

    def __init__(
        self,
        start: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.75,
        lr: Annotated[float, Field(gt=0.0, le=1.0)] | None = 0.5,
    ):
        self.start = start
        self.lr = lr

    def setup(self, ctx: SetupContext) -> None:
        self._first_epoch = math.floor(self.start * ctx.epochs) + 1  # 1-based; ≤ epochs since start < 1
        self._averaged = 0
        self._average: list[torch.Tensor] | None = None

    def lr_schedule(self, base: Callable[[int], float], steps_per_epoch: int) -> Callable[[int], float]:
        if self.lr is None:
            return base
        first_step, rate = (self._first_epoch - 1) * steps_per_epoch, self.lr

        def shaped(step: int) -> float:
            return rate if step >= first_step else base(step)

        return shaped

    def after_epoch(self, model: nn.Module, history: History) -> None:
        if history.epoch < self._first_epoch:
            return
        params = [p.detach() for p in model.parameters()]
        self._averaged += 1
        if self._average is None:
            self._average = [p.clone() for p in params]
            return
        with torch.no_grad():  # the running mean of torch's AveragedModel: θ̄ += (θ − θ̄) / n
            for avg, p in zip(self._average, params, strict=True):
                avg.add_((p - avg) / self._averaged)

    def averaged_state(self, model: nn.Module) -> dict[str, Any] | None:
        return None if self._average is None else averaged_parameters(model, self._average)

    def finish(self, model: nn.Module, history: History) -> dict[str, float]:
        return {"swa_epochs_averaged": float(self._averaged)}
