"""Input-gradient regularization ("double backpropagation") as a regbench plugin (public API only).

Run:  regbench compare examples/input_gradient.py:InputGradientPenalty --suite smoke --param lam=0.01
"""

from __future__ import annotations

import torch
from torch import nn

from regbench import Batch, Regularizer, register_regularizer


@register_regularizer("input_gradient")
class InputGradientPenalty(Regularizer):
    """λ · mean_i ‖∂ CE_i / ∂x_i‖² (Ross & Doshi-Velez, arXiv:1711.09404; Drucker & LeCun 1992).

    Makes the loss locally flat in the input, which Ross & Doshi-Velez found to improve
    robustness to input perturbations. ``needs_input_grad`` asks the trainer to make the
    (transformed) batch ``x`` require grad, so the penalty can differentiate with respect to
    it; ``create_graph=True`` lets the optimizer differentiate the penalty itself.
    """

    kind = "penalty"
    needs_input_grad = True

    def __init__(self, lam: float = 0.01):
        self.lam = lam

    def penalty(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        # per-example soft-target cross-entropy (B,), summed: the gradient of the sum wrt x
        # is each example's own input gradient (examples do not interact in eval-free forward)
        ce = -(batch.y * torch.log_softmax(batch.logits, dim=-1)).sum()
        (grad,) = torch.autograd.grad(ce, batch.x, create_graph=True)  # (B, C, H, W)
        return self.lam * grad.pow(2).flatten(1).sum(dim=1).mean()
