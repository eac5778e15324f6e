"""What a run is built from before its first step: the device, the optimizer, the schedule, the hooks' context.

Split from :mod:`regbench.train.loop` so that the loop's file holds the loop; the loop
re-exports these names, which callers import from there.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from regbench.config import TrainSpec
from regbench.data.base import TrainingData
from regbench.regularizers.base import SetupContext
from regbench.regularizers.stack import Stack

CPU = torch.device("cpu")


class Diverged(RuntimeError):
    """The loss became NaN or infinite; the run is recorded as ``diverged`` at ``epoch``."""

    def __init__(self, epoch: int, value: float, cause: str = ""):
        self.epoch = epoch
        super().__init__(f"loss became {value} in epoch {epoch}" + (f": {cause}" if cause else ""))


class DeviceError(RuntimeError):
    """A device was asked for that this machine does not have."""


def resolve_device(name: str) -> torch.device:
    """``auto`` → CUDA when present, else CPU; ``cuda`` without a GPU raises :class:`DeviceError`."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise DeviceError(
            f"--device {name} was asked for, but no CUDA GPU is visible to torch "
            f"{torch.__version__}; use --device cpu (or auto)"
        )
    if name not in ("cpu",) and not name.startswith("cuda"):
        raise DeviceError(f"unknown device '{name}'; expected auto, cpu or cuda[:N]")
    return torch.device(name)


def setup_context(data: TrainingData, spec: TrainSpec, device: torch.device, task: str) -> SetupContext:
    """What a stack may know before training: the data's description (never the data), the budget, the device."""
    info = data.info
    return SetupContext(
        info.num_classes, info.input_shape, info.flip_invariant, spec.epochs, info.name, device.type, task, info.details
    )


def make_optimizer(
    model: nn.Module, stack: Stack, spec: TrainSpec, groups: list[dict] | None = None, fused: bool = False
) -> torch.optim.Optimizer:
    """The optimizer of ``spec`` over the stack's parameter groups (decay 0 unless a group sets it).

    ``groups`` replaces the stack's groups of ``model`` (seed batching passes the stacked
    tensors' groups); ``fused`` asks torch for its one-kernel-per-tensor update.

    Adam becomes AdamW when a regularizer asks for decoupled weight decay, so ``weight_decay``
    is AdamW's decoupled decay and never Adam's coupled L2 (arXiv:1711.05101). With
    ``optimizer: sgd`` the groups' decay is SGD's own, which is coupled (it passes through
    momentum) — the textbook "weight decay" of SGD recipes.
    """
    groups = groups or stack.param_groups(model) or [{"params": [p for p in model.parameters() if p.requires_grad]}]
    groups = [{"weight_decay": 0.0, **g} for g in groups]
    kw = {"fused": True} if fused else {}
    if spec.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=spec.lr, momentum=spec.momentum, **kw)
    if spec.optimizer == "adamw" or stack.decoupled_weight_decay:
        return torch.optim.AdamW(groups, lr=spec.lr, **kw)
    return torch.optim.Adam(groups, lr=spec.lr, **kw)


def make_scheduler(opt: torch.optim.Optimizer, spec: TrainSpec, steps_per_epoch: int, stack: Stack | None = None):
    """Cosine decay to 0 over the whole budget (per step), or None for a constant rate.

    A member's ``lr_schedule`` (SWA's constant rate in its averaging phase) reshapes the
    run's schedule; asked once here, so stacks without one build exactly what they did.
    """
    shaped = stack is not None and stack.has("lr_schedule")
    if spec.schedule == "constant" and not shaped:
        return None
    total = max(1, spec.epochs * steps_per_epoch)

    def base(s: int) -> float:
        return 1.0 if spec.schedule == "constant" else 0.5 * (1 + math.cos(math.pi * min(s, total) / total))

    return torch.optim.lr_scheduler.LambdaLR(opt, stack.lr_schedule(base, steps_per_epoch) if shaped else base)
