"""An exponential moving average of the weights (timm's ``ModelEmaV3``; Polyak & Juditsky 1992).

The average is updated after every optimizer step and is the evaluated model at the end
(regbench.train.averaging). It lives in this regularizer's state, which checkpoints save,
so a resumed run continues the same average.
"""

from __future__ import annotations

from typing import Annotated, Any

import torch
from pydantic import Field
from torch import nn

from regbench.regularizers import register_regularizer
from regbench.regularizers.base import TASKS, Regularizer, SetupContext


def ema_decay(update: int, decay: float, warmup: bool, power: float = 2 / 3) -> float:
    """The decay of the ``update``-th update (1-based), as timm's ``ModelEmaV3.get_decay``.

    The first update copies the weights (decay 0). With ``warmup`` the decay is
    1 − (1 + k)^(−power) for the k-th update after it, capped at ``decay`` (timm's
    ``warmup_gamma`` = 1, ``warmup_power`` = 2/3).
    """
    k = update - 1
    if k <= 0:
        return 0.0
    return min(1.0 - (1.0 + k) ** -power, decay) if warmup else decay


@register_regularizer("ema")
class EMA(Regularizer):
    """θ̄ ← d θ̄ + (1 − d) θ after every step, over every floating entry of the state dict.

    ``decay`` 0.9998 is timm's ``train.py --model-ema-decay`` default. A per-step decay that
    high averages over ~5000 steps, longer than a small budget here: the average would still
    be mostly the first weights, so ``warmup`` (timm's ``use_warmup`` option, off in timm)
    is on by default and the decay grows as 1 − (1 + k)^(−2/3) towards the cap. Buffers
    (BatchNorm statistics) are averaged too, timm V3's default, so no BatchNorm update is
    needed. Seed batching trains such runs one seed at a time (``batchable = False``).
    """

    kind = "averaging"
    tasks = TASKS  # acts on weights only
    batchable = False

    def __init__(self, decay: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.9998, warmup: bool = True):
        self.decay = decay
        self.warmup = warmup

    def setup(self, ctx: SetupContext) -> None:
        self._updates = 0
        self._average: dict[str, torch.Tensor] | None = None

    def after_step(self, model: nn.Module) -> None:
        self._updates += 1
        state = model.state_dict()
        if self._average is None or ema_decay(self._updates, self.decay, self.warmup) == 0.0:
            self._average = {k: v.detach().clone() for k, v in state.items()}
            return
        weight = 1.0 - ema_decay(self._updates, self.decay, self.warmup)
        floats = [k for k, v in state.items() if v.is_floating_point()]
        with torch.no_grad():
            torch._foreach_lerp_([self._average[k] for k in floats], [state[k] for k in floats], weight)
            for k, v in state.items():
                if not v.is_floating_point():  # step counters: the model's own
                    self._average[k].copy_(v)

    def averaged_state(self, model: nn.Module) -> dict[str, Any] | None:
        return self._average
