"""Post-hoc temperature scaling (Guo et al. 2017, arXiv:1706.04599), fitted on validation only.

One scalar T > 0 divides the logits; it is chosen to minimize the validation NLL. T is
optimized as log T (so it stays positive) with LBFGS. The evaluator fits it on the val
split — never on a test split — and reports test metrics of softmax(logits / T) under
separate names (``ece_ts``, ``nll_ts``), so the uncalibrated columns stay as they were.
"""

from __future__ import annotations

import torch
from torch import nn

MAX_LOG_T = 5.0  # T in [e^-5, e^5]: beyond that the val set is degenerate (all right or all wrong)


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor, max_iter: int = 100) -> float:
    """The temperature minimizing mean NLL of ``logits / T``. logits (N, K), labels (N,) → T.

    Returns 1.0 for an empty set. Deterministic: LBFGS from log T = 0 in float64.
    """
    if len(labels) == 0:
        return 1.0
    z = logits.detach().double().cpu()
    y = labels.detach().cpu()
    log_t = torch.zeros((), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.5, max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = nn.functional.cross_entropy(z / log_t.clamp(-MAX_LOG_T, MAX_LOG_T).exp(), y)
        loss.backward()
        return loss

    opt.step(closure)
    return float(log_t.detach().clamp(-MAX_LOG_T, MAX_LOG_T).exp())
