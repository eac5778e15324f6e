"""The end of a weight-averaging run (EMA, SWA, SWAD): which weights are evaluated.

A member's ``averaged_state`` hands over the averaged weights once, after the last epoch.
They are loaded into the model; where the method asks (``update_bn``: SWA and SWAD average
the parameters only, so the running BatchNorm statistics of the final weights do not fit
them) the statistics are recomputed over the training inputs, as
``torch.optim.swa_utils.update_bn`` does; then the averaged model is measured on the
validation split. The averaged model is kept: each method's own output is its averaged model
(timm evaluates its EMA, SWA and SWAD report their averages), and nothing here looks at a
test split. The final weights' validation loss (the last epoch's) and the distance between
the two are recorded as the mechanism numbers (report/mechanism.py).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.optim.swa_utils import update_bn

from regbench.regularizers.base import History


def use_averaged_weights(
    run: Any, x: torch.Tensor, xv: torch.Tensor, yv: torch.Tensor, batch_size: int, history: History
) -> dict[str, float]:
    """Load the stack's averaged weights into ``run.model``; → the run-level numbers ({} without).

    x: (N, …) training inputs (for the BatchNorm update, unaugmented); xv: (Nv, …), yv: (Nv,)
    the validation split. Numbers: ``averaged_val_loss`` and ``final_val_loss`` (the same
    split, averaged vs. final weights) and ``averaged_distance``, ‖θ_avg − θ_final‖ / ‖θ_final‖
    over the parameters.
    """
    model, stack = run.model, run.stack
    if not stack.has("averaged_state") or not history.val_loss:
        return {}
    state = stack.averaged_state(model)
    if state is None:
        return {}
    final = [p.detach().clone() for p in model.parameters()]
    model.load_state_dict(state)
    if stack.update_bn and has_batch_norm(model):
        update_bn((x[i : i + batch_size] for i in range(0, len(x), batch_size)), model)
    val_loss, _ = run.task.validate(model, xv, yv)
    return {
        "averaged_val_loss": float(val_loss),
        "final_val_loss": float(history.val_loss[-1]),
        "averaged_distance": relative_distance(list(model.parameters()), final),
    }


def has_batch_norm(model: nn.Module) -> bool:
    """Does ``model`` keep BatchNorm running statistics?"""
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats for m in model.modules())


def relative_distance(averaged: list[torch.Tensor], final: list[torch.Tensor]) -> float:
    """‖a − f‖ / ‖f‖ over lists of same-shaped tensors (the whole parameter vector)."""
    diff = sum(float((a.detach().float() - f.float()).pow(2).sum()) for a, f in zip(averaged, final, strict=True))
    norm = sum(float(f.float().pow(2).sum()) for f in final)
    return (diff / norm) ** 0.5 if norm > 0 else 0.0
