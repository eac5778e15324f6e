"""Sharpness-aware minimization: SAM (Foret et al. 2021, arXiv:2010.01412) and ASAM (Kwon et al. 2021, arXiv:2102.11600).

Each step takes the gradient g at the weights w, moves to w + e with e the steepest ascent of
radius ρ, and descends with the gradient taken there. The trainer owns both backward passes
and the optimizer's step (the contract of regularizers/base.py); these classes only perturb
the weights (``first_step``) and put them back (``second_step``), so the base optimizer, the
penalties of the same stack (added at both passes), gradient clipping (applied to the final
gradient), autocast and the schedule all stay the trainer's. Nothing is carried from one step
to the next except the sharpness tally, which is saved with the stack's state in checkpoints,
so a resumed run is exact. Seed batching trains such runs one seed at a time
(``batchable = False``: the stacked trainer has one backward per step).

BatchNorm: the second forward pass would update the running statistics a second time at the
perturbed weights; like the reference implementations (davda54/sam's
``disable_running_stats``), the momentum is set to 0 for that pass.
"""

from __future__ import annotations

from typing import Annotated

import torch
from pydantic import Field
from torch import nn

from regbench.regularizers import register_regularizer
from regbench.regularizers.base import TASKS, History, Regularizer, SetupContext

EPSILON = 1e-12  # keeps ρ / ‖g‖ finite at a zero gradient


@register_regularizer("sam")
class SAM(Regularizer):
    """Sharpness-aware minimization (Foret et al., arXiv:2010.01412): e = ρ g / ‖g‖.

    ρ = 0.05 is the paper's CIFAR value (§3.1, the value of its CIFAR-10 runs). The gradient
    norm is taken over every parameter that has a gradient, as in the paper's Eq. 2.

    Run-level number: ``sharpness``, the mean over training steps of L(w + e) − L(w) on the
    step's batch (the loss increase in the ascent direction at this run's ρ, data loss only).
    The mechanism verdict reads ``hessian_max_eigenvalue`` instead, the top eigenvalue of the
    training loss's Hessian that erm's and this row's runs record after training
    (regbench/evaluate/curvature.py), so it can be set against erm's.
    """

    kind = "sharpness"
    tasks = TASKS  # acts on weights and gradients only
    batchable = False

    def __init__(self, rho: Annotated[float, Field(gt=0.0, le=10.0)] = 0.05):
        self.rho = rho

    def setup(self, ctx: SetupContext) -> None:
        self._rise: torch.Tensor | float = 0.0  # on the device: no sync per step
        self._steps = 0
        self._saved: list[torch.Tensor] | None = None

    def _ascent(self, model: nn.Module, params: list[nn.Parameter]) -> list[torch.Tensor]:
        """e for each parameter in ``params`` (same shapes): ρ g / ‖g‖."""
        grads = [p.grad for p in params]
        norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
        scale = self.rho / (norm + EPSILON)
        return [g * scale for g in grads]

    def first_step(self, model: nn.Module, loss: torch.Tensor) -> None:
        params = [p for p in model.parameters() if p.grad is not None]
        with torch.no_grad():
            e = self._ascent(model, params)
            # the weights are restored by copy, not by subtracting e: (w + e) − e ≠ w in floats
            self._saved = [p.detach().clone() for p in params]
            torch._foreach_add_(params, e)
        self._params, self._loss_at_w = params, loss
        self._momenta = [(m, m.momentum) for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        for m, _ in self._momenta:
            m.momentum = 0.0

    def second_step(self, model: nn.Module, loss: torch.Tensor) -> None:
        with torch.no_grad():
            for p, w in zip(self._params, self._saved or [], strict=True):
                p.copy_(w)
        for m, momentum in self._momenta:
            m.momentum = momentum
        self._rise = self._rise + (loss - self._loss_at_w)
        self._steps += 1
        # per-step scratch is dropped, so checkpoints hold only the tally
        self._saved, self._params, self._loss_at_w, self._momenta = None, [], None, []

    def finish(self, model: nn.Module, history: History) -> dict[str, float]:
        return {"sharpness": float(self._rise) / max(self._steps, 1)} if self._steps else {}


@register_regularizer("asam")
class ASAM(SAM):
    """Adaptive SAM (Kwon et al., arXiv:2102.11600): e = ρ T² g / ‖T g‖, T = |w| + η.

    The normalization T makes the neighbourhood scale-invariant (Eq. 8 with the elementwise
    operator of §4). As in the paper, biases get T = 1. ρ = 0.5 is the authors' CIFAR-10 value:
    the official repository (github.com/SamsungLabs/ASAM) trains CIFAR-10 with
    ``example_cifar.py --dataset CIFAR10 --minimizer ASAM --rho 0.5`` (README.md, "Train
    Examples (CIFAR)"; 1.0 for CIFAR-100), and 0.5 is also the default of its ``asam.py`` and
    ``example_cifar.py``. (2.0, this class's earlier default, is the adaptive-mode example of
    the unofficial davda54/sam, not the authors'.) η = 0.01 is the default of the repository's
    ``asam.py`` (its ``example_cifar.py`` passes ``--eta 0.0``).
    """

    def __init__(
        self, rho: Annotated[float, Field(gt=0.0, le=10.0)] = 0.5, eta: Annotated[float, Field(ge=0.0, le=1.0)] = 0.01
    ):
        self.rho = rho
        self.eta = eta

    def _ascent(self, model: nn.Module, params: list[nn.Parameter]) -> list[torch.Tensor]:
        bias = {id(p) for name, p in model.named_parameters() if name.endswith("bias")}
        scales = [None if id(p) in bias else p.abs() + self.eta for p in params]
        tg = [g if t is None else t * g for t, g in zip(scales, (p.grad for p in params), strict=True)]
        norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(v) for v in tg]))
        scale = self.rho / (norm + EPSILON)
        return [(v if t is None else t * v) * scale for t, v in zip(scales, tg, strict=True)]
