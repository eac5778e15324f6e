"""What evaluation produces, whatever the task: tidy metric rows, packed predictions, run-level numbers."""

from __future__ import annotations

import contextlib

import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from regbench.data.base import Splits

NEAR_ZERO = 1e-3  # |w| below this counts as zero for weight sparsity


@torch.no_grad()
def predict_logits(model: nn.Module, x: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """Logits of ``model`` in eval mode, in chunks. x (N, …) on the model's device → (N, K) float32.

    On CUDA the forward runs under bf16 autocast, the precision the run trained in (its
    records say bf16); the logits come back float32, so every metric is computed in fp32.
    On the CPU (fp32) nothing changes.
    """
    model.eval()
    with eval_precision(x.device):
        outs = [model(x[i : i + batch_size]).float() for i in range(0, len(x), batch_size)]
    return torch.cat(outs) if outs else torch.empty(0)


def eval_precision(device: torch.device):
    """bf16 autocast on CUDA (as training's ``regbench.train.execution.autocast``), a no-op elsewhere."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


@dataclass
class Evaluation:
    """Tidy metric rows, reliability-diagram data and compact predictions of one run."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    reliability: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    predictions: dict[str, bytes] = field(default_factory=dict)
    targets: dict[str, bytes] = field(default_factory=dict)  # true labels per test split, packed alike
    seconds: float = 0.0

    def add(self, split: str, metric: str, value: float, n: int | None = None, info: dict | None = None) -> None:
        info = info or {}
        self.rows.append(
            {
                "split": split,
                "family": info.get("family"),
                "shift": info.get("shift"),
                "severity": info.get("severity"),
                "metric": metric,
                "value": float(value),
                "n": n,
            }
        )

    def value(self, split: str, metric: str) -> float:
        for r in self.rows:
            if r["split"] == split and r["metric"] == metric:
                return r["value"]
        raise KeyError((split, metric))


def add_unique_images(ev: Evaluation, name: str, splits: Splits, n: int, info: dict) -> None:
    """Record a test split's ``unique_images`` (the shift's ``split_info``) as a metric row.

    ``name`` is the evaluator's split name ("test_id" or "ood/<split>"); a split whose shift
    did not count its images records nothing rather than a guess.
    """
    unique = splits.split_info.get(name.removeprefix("ood/"), {}).get("unique_images")
    if isinstance(unique, int):
        ev.add(name, "unique_images", unique, n, info)


def pack_predictions(pred: torch.Tensor) -> bytes:
    """Predicted labels (N,) int64 → zlib-compressed int16 bytes (compact, exact)."""
    return zlib.compress(pred.to(torch.int16).cpu().numpy().tobytes(), 6)


def unpack_predictions(blob: bytes) -> torch.Tensor:
    """Inverse of :func:`pack_predictions` → (N,) int64."""
    return torch.from_numpy(np.frombuffer(zlib.decompress(blob), dtype=np.int16).astype("int64"))


def run_level(ev: Evaluation, model: nn.Module) -> None:
    """Run-level numbers every task shares: train accuracy/loss, generalization gap (train acc −
    test_id acc), weight sparsity (|w| < NEAR_ZERO among ≥ 2-D weights), their L2 norm and the
    parameter count."""
    train_acc = ev.value("train", "accuracy")
    ev.add("run", "train_accuracy", train_acc)
    ev.add("run", "train_loss", ev.value("train", "nll"))
    ev.add("run", "generalization_gap", train_acc - ev.value("test_id", "accuracy"))
    weights = [p.detach() for p in model.parameters() if p.dim() >= 2]
    total = sum(w.numel() for w in weights)
    zeros = sum((w.abs() < NEAR_ZERO).sum().item() for w in weights)
    ev.add("run", "weight_sparsity", zeros / max(total, 1))
    # the mechanism number of weight penalties and decay: L2 norm of the ≥ 2-D (decayable) weights
    ev.add("run", "weight_norm", float(torch.sqrt(sum((w.double() ** 2).sum() for w in weights))) if weights else 0.0)
    ev.add("run", "param_count", sum(p.numel() for p in model.parameters()))
