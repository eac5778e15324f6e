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
from regbench.regularizers.base import TASKS, History, Regularizer, SetupContext


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


def run_adjusted_decay(decay: float, reference: int, updates: int) -> float:
    """torchvision's run-length adjustment of an EMA decay: 1 − min(1, (1 − decay) · reference / updates).

    torchvision's ``references/classification/train.py`` sets the per-update weight to
    α = (1 − decay) · world_size · batch_size · model_ema_steps / epochs, which is
    (1 − decay) · N / updates with N its training set's size, a constant its comment omits
    ("We consider constant = Dataset_size for a given dataset/setup and ommit it"). With
    ``reference`` = N the average spans the same fraction of any run, 1 / ((1 − decay) · N):
    the recipe's horizon, whatever the run's length.
    """
    return 1.0 - min(1.0, (1.0 - decay) * reference / max(updates, 1))


@register_regularizer("ema")
class EMA(Regularizer):
    """θ̄ ← d θ̄ + (1 − d) θ after every step, over every floating entry of the state dict.

    ``decay`` 0.9998 is timm's ``train.py --model-ema-decay`` default. A per-step decay that
    high averages over ~5000 steps, longer than a small budget here: the average would still
    be mostly the first weights, so ``warmup`` (timm's ``use_warmup`` option, off in timm)
    is on by default and the decay grows as 1 − (1 + k)^(−2/3) towards the cap. Buffers
    (BatchNorm statistics) are averaged too, timm V3's default, so no BatchNorm update is
    needed. Seed batching trains such runs one seed at a time (``batchable = False``).

    ``adjust_reference`` (off by default) rescales ``decay`` to the run's length as
    torchvision's recipe does (:func:`run_adjusted_decay`): a decay tuned for a long run
    would otherwise leave a short run's average at its first weights. The run's number of
    updates is epochs × steps per epoch; the steps are counted in the first epoch, during
    which the average copies the weights, as torchvision's does in its warm-up epochs
    (``model_ema.n_averaged.fill_(0)``). ``warmup`` then grows the decay towards the
    adjusted one.
    """

    kind = "averaging"
    tasks = TASKS  # acts on weights only
    batchable = False

    def __init__(
        self,
        decay: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.9998,
        warmup: bool = True,
        adjust_reference: Annotated[int, Field(gt=0)] | None = None,
    ):
        self.decay = decay
        self.warmup = warmup
        self.adjust_reference = adjust_reference

    def setup(self, ctx: SetupContext) -> None:
        self._updates = 0
        self._average: dict[str, torch.Tensor] | None = None
        self._epochs = ctx.epochs
        # the decay in force: the given one, or (adjusted) None until the first epoch's end
        self._decay: float | None = self.decay if self.adjust_reference is None else None

    def after_epoch(self, model: nn.Module, history: History) -> None:
        if self._decay is None:  # end of the first epoch: its steps give the run's length
            self._decay = run_adjusted_decay(self.decay, self.adjust_reference, self._updates * self._epochs)
            self._updates = 1  # the copy just made is the average's first update

    def after_step(self, model: nn.Module) -> None:
        self._updates += 1
        state = model.state_dict()
        decay = 0.0 if self._decay is None else ema_decay(self._updates, self._decay, self.warmup)
        if self._average is None or decay == 0.0:
            self._average = {k: v.detach().clone() for k, v in state.items()}
            return
        weight = 1.0 - decay
        floats = [k for k, v in state.items() if v.is_floating_point()]
        with torch.no_grad():
            torch._foreach_lerp_([self._average[k] for k in floats], [state[k] for k in floats], weight)
            for k, v in state.items():
                if not v.is_floating_point():  # step counters: the model's own
                    self._average[k].copy_(v)

    def averaged_state(self, model: nn.Module) -> dict[str, Any] | None:
        return self._average
