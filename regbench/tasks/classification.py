"""Classification: y (N,) labels; logits = model(x) (B, K).

The regularizers see (B, K) soft targets (one-hot, then whatever mixup or label smoothing
make of them; docs/architecture.md, "Data types"). When no regularizer transforms batches or
replaces the loss, :class:`HardLabelClassification` keeps (B,) labels and the fused
``F.cross_entropy``: the same number with fewer small ops per step.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from regbench.data.base import DatasetInfo, Splits
from regbench.evaluate.classify import evaluate_classification
from regbench.evaluate.records import Evaluation, predict_logits
from regbench.regularizers.stack import Stack
from regbench.tasks import register_task


@register_task("classification")
class Classification:
    """y (B,) labels → (B, K) soft targets; logits (B, K)."""

    name = "classification"

    @classmethod
    def build(cls, info: DatasetInfo, stack: Stack | None = None) -> Classification:
        """Hard labels when ``stack`` neither transforms batches nor replaces the loss."""
        if stack is not None and not (stack.has("transform") or stack.has("loss")):
            return HardLabelClassification()
        return cls()

    def hook_targets(self, y: torch.Tensor, num_classes: int) -> torch.Tensor:
        """What the hooks see as targets: (B, K) soft targets, whatever this task keeps."""
        return y if y.dim() == 2 else F.one_hot(y, num_classes).float()

    def evaluate(
        self,
        model: nn.Module,
        splits: Splits,
        seed: int,
        device: torch.device,
        logits: dict | None = None,
        measure_curvature: bool = False,
    ) -> Evaluation:
        """Every test split's accuracy, calibration and group metrics (regbench.evaluate.classify);
        ``logits``: splits' (N, K) logits already computed, by split name; ``measure_curvature``:
        also the top Hessian eigenvalue (regbench.evaluate.curvature)."""
        return evaluate_classification(model, splits, seed, device, logits, measure_curvature)

    def targets(self, y: torch.Tensor, num_classes: int) -> torch.Tensor:
        return F.one_hot(y, num_classes).float()

    def forward(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        logits = model(x)  # bf16 under CUDA autocast; fp32 already on CPU, where .float() is one more dispatch
        return logits if logits.dtype == torch.float32 else logits.float()

    def loss(self, logits: torch.Tensor, y: torch.Tensor, stack: Stack) -> torch.Tensor:
        return stack.data_loss(logits, y)

    def correct(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Number of examples whose argmax is the target's (a 0-d tensor, no device sync).

        ``count_nonzero`` rather than ``.sum()``: a bool sum casts to int64 first (three more
        small ops in every training step)."""
        return torch.count_nonzero(logits.argmax(1) == y.argmax(1))

    def validate(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
        """(val loss = cross-entropy, val accuracy) of (N, …) inputs and (N,) labels."""
        logits = predict_logits(model, x)
        return F.cross_entropy(logits, y).item(), (logits.argmax(1) == y).double().mean().item()


class HardLabelClassification(Classification):
    """Classification when no regularizer touches the targets or the loss (erm, penalties,
    dropout, norms, clipping, early stopping): y stays (B,) labels and the loss is the fused
    ``F.cross_entropy`` — the same number as soft-target cross-entropy on one-hot targets, with
    fewer small ops per step (they are ~10% of a tiny MLP's step on this CPU)."""

    def targets(self, y: torch.Tensor, num_classes: int) -> torch.Tensor:
        return y

    def loss(self, logits: torch.Tensor, y: torch.Tensor, stack: Stack) -> torch.Tensor:
        return F.cross_entropy(logits, y)

    def correct(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.count_nonzero(logits.argmax(1) == y)
