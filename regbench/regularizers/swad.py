"""SWAD: dense weight averaging over an overfit-aware window (Cha et al. 2021, arXiv:2102.08604).

The weights after every step are averaged (densely), but only over a window of training
chosen on the validation loss, the paper's ``LossValley`` rule:

- the window starts at the first evaluation i whose loss is the minimum of the ``n_converge``
  evaluations i … i + n_converge − 1 (the loss has stopped improving); the threshold is
  (1 + ``tolerance_ratio``) × the mean loss of those evaluations;
- it ends before the first evaluation e ≥ start whose next ``n_tolerance`` losses
  (e … e + n_tolerance − 1, fewer at the end of training) all exceed the threshold: the
  valley is dead and, as in the reference, training stops there;
- if the loss never converges, the last evaluation's segment is the result (the reference's
  fallback).

Evaluations here are per epoch (each epoch's validation), not every 300 steps as in
DomainBed, so a segment is one epoch's dense average and the window is counted in epochs.
Segments are weighted equally, as the reference's ``AveragedModel`` of segment averages
does. The running sums and the undecided segments are this regularizer's state, saved by
checkpoints for an exact resume; at most max(n_converge, n_tolerance) segments are kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import torch
from pydantic import Field
from torch import nn

from regbench.params import PositiveInt
from regbench.regularizers import register_regularizer
from regbench.regularizers.base import History, Regularizer, SetupContext
from regbench.regularizers.swa import averaged_parameters


@dataclass(frozen=True)
class Valley:
    """The window the rule has decided so far (0-based evaluation indices)."""

    start: int | None  # None: not converged yet
    end: int  # last included evaluation (start − 1 when none decided yet)
    dead: bool  # an evaluation after start failed: nothing more is added
    threshold: float


def loss_valley(losses: list[float], n_converge: int, n_tolerance: int, ratio: float, final: bool) -> Valley:
    """The paper's window over the validation ``losses`` seen so far.

    ``final``: training has ended, so the last evaluations are decided on the losses that
    exist (a shorter look-ahead) instead of waiting for ``n_tolerance`` more.
    """
    start = next((i for i in range(len(losses) - n_converge + 1) if losses[i] <= min(losses[i : i + n_converge])), None)
    if start is None:
        return Valley(None, -1, False, float("inf"))
    threshold = sum(losses[start : start + n_converge]) / n_converge * (1.0 + ratio)
    end = start - 1
    for e in range(start, len(losses)):
        ahead = losses[e : e + n_tolerance]
        if len(ahead) < n_tolerance and not final:
            break  # undecided: its look-ahead is not complete
        if min(ahead) > threshold:
            return Valley(start, end, True, threshold)
        end = e
    return Valley(start, end, False, threshold)


@register_regularizer("swad")
class SWAD(Regularizer):
    """Dense averaging over the loss valley; defaults are DomainBed SWAD's ``config.yaml``:
    ``n_converge`` 3, ``n_tolerance`` 6, ``tolerance_ratio`` 0.3 (per epoch here).

    BatchNorm statistics are recomputed on the training inputs before evaluation, as the
    reference does. Run-level numbers: ``swad_start_epoch`` and ``swad_end_epoch`` (1-based;
    0 when the loss never converged). Classification only (the BatchNorm update feeds
    training images); seed batching trains such runs one seed at a time.
    """

    kind = "averaging"
    update_bn = True
    batchable = False

    def __init__(
        self,
        n_converge: PositiveInt = 3,
        n_tolerance: PositiveInt = 6,
        tolerance_ratio: Annotated[float, Field(ge=0.0, le=10.0)] = 0.3,
    ):
        self.n_converge = n_converge
        self.n_tolerance = n_tolerance
        self.tolerance_ratio = tolerance_ratio

    def setup(self, ctx: SetupContext) -> None:
        self._segment: list[torch.Tensor] | None = None  # this epoch's per-step sum
        self._segment_steps = 0
        self._losses: list[float] = []
        self._pending: dict[int, list[torch.Tensor]] = {}  # undecided epochs' averages
        self._sum: list[torch.Tensor] | None = None  # the included segments' sum
        self._included = 0
        # kept as a plain tuple: checkpoints load with weights_only, which refuses classes
        self._window: tuple = (None, -1, False, float("inf"))

    @property
    def _valley(self) -> Valley:
        return Valley(*self._window)

    def after_step(self, model: nn.Module) -> None:
        params = [p.detach() for p in model.parameters()]
        if self._segment is None:
            self._segment = [p.clone() for p in params]
        else:
            torch._foreach_add_(self._segment, params)
        self._segment_steps += 1

    def after_epoch(self, model: nn.Module, history: History) -> None:
        if self._segment is None:
            return
        if not self._valley.dead:
            epoch = len(self._losses)
            self._pending[epoch] = [s / self._segment_steps for s in self._segment]
            self._losses.append(history.val_loss[-1])
            self._decide(final=False)
        self._segment, self._segment_steps = None, 0

    def _decide(self, final: bool) -> None:
        """Add the segments the rule has included since the last call; drop those it never will."""
        valley = loss_valley(self._losses, self.n_converge, self.n_tolerance, self.tolerance_ratio, final)
        if valley.start is not None:
            for e in range(max(valley.start, self._valley.end + 1), valley.end + 1):
                segment = self._pending.pop(e)
                self._sum = [s.clone() for s in segment] if self._sum is None else self._sum
                if self._included:
                    torch._foreach_add_(self._sum, segment)
                self._included += 1
            keep = valley.end + 1 if not valley.dead else len(self._losses)
        else:  # only the last n_converge − 1 can still start the window (and the last is the fallback)
            keep = len(self._losses) - max(self.n_converge - 1, 1)
        self._pending = {e: s for e, s in self._pending.items() if e >= keep}
        self._window = (valley.start, valley.end, valley.dead, valley.threshold)

    def should_stop(self, history: History) -> bool:
        return self._valley.dead  # the reference stops training on a dead valley

    def averaged_state(self, model: nn.Module) -> dict[str, Any] | None:
        if not self._losses:
            return None
        if not self._valley.dead:
            self._decide(final=True)
        if self._sum is None:  # never converged: the last segment, as the reference returns
            return averaged_parameters(model, self._pending[max(self._pending)])
        return averaged_parameters(model, [s / self._included for s in self._sum])

    def finish(self, model: nn.Module, history: History) -> dict[str, float]:
        start = self._valley.start
        return {
            "swad_start_epoch": float(start + 1) if start is not None else 0.0,
            "swad_end_epoch": float(self._valley.end + 1) if start is not None else 0.0,
        }
