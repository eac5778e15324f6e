"""What evaluation produces, whatever the task: tidy metric rows, packed predictions, run-level numbers."""

from __future__ import annotations

import contextlib
import weakref
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from regbench.data.base import Splits

NEAR_ZERO = 1e-3  # |w| below this counts as zero for weight sparsity


# CPU evaluation batches keep every layer's output under this many bytes. glibc serves larger
# blocks with a fresh mmap and unmaps them on free (its mmap threshold tops out at 32 MiB), so a
# batch whose activations exceed it page-faults every output buffer in again, batch after batch:
# MNIST_CNN's first conv output at batch 1,024 is 205 MB, and those faults were the 15-17 s of
# system time per ColoredMNIST run (docs/architecture.md, Measured here: Evaluation batch size).
CPU_ACTIVATION_BUDGET = 8 * 2**20
DEVICE_EVAL_BATCH = 1024  # CUDA/MPS: the caching allocator reuses blocks, larger batches only help
MIN_EVAL_BATCH, MAX_EVAL_BATCH = 16, 1024
_probed: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def largest_output_bytes(model: nn.Module, sample: torch.Tensor) -> int:
    """Bytes of the largest output any leaf module of ``model`` produces for ``sample`` (1, …)."""
    largest = [sample.element_size() * sample.numel()]

    def hook(_module, _inputs, out):
        if isinstance(out, torch.Tensor):
            largest[0] = max(largest[0], out.element_size() * out.numel())

    leaves = [m for m in model.modules() if next(m.children(), None) is None]
    handles = [m.register_forward_hook(hook) for m in leaves]
    try:
        model(sample)
    finally:
        for h in handles:
            h.remove()
    return largest[0]


@torch.no_grad()
def eval_batch_size(model: nn.Module, x: torch.Tensor) -> int:
    """Evaluation batch size for ``model`` on inputs like ``x`` (N, …) on their device.

    Off the CPU: ``DEVICE_EVAL_BATCH``. On the CPU: the largest power of two in
    [``MIN_EVAL_BATCH``, ``MAX_EVAL_BATCH``] whose largest layer output stays within
    ``CPU_ACTIVATION_BUDGET`` (one probe forward of one example, remembered per model and
    input shape). Measured on this CPU at 2x28x28, 1 thread: user time is flat from 16 to
    1,024; system time per 2,048 images is 2.4 s at 512 and 1,024 for a DomainBed-style
    MNIST_CNN, 0.0 s at 64; regbench's ``cnn`` (width 64, group norm, 200 KB per image), whose
    pooling keeps more outputs alive at once, still faults at 64 (0.2 s per 1,024) and not at 32.
    """
    if x.device.type != "cpu":
        return DEVICE_EVAL_BATCH
    if len(x) == 0:
        return MAX_EVAL_BATCH
    key = (tuple(x.shape[1:]), x.dtype)
    known = _probed.setdefault(model, {})
    if key not in known:
        per_example = largest_output_bytes(model, x[:1])
        size = MAX_EVAL_BATCH
        while size > MIN_EVAL_BATCH and size * per_example > CPU_ACTIVATION_BUDGET:
            size //= 2
        known[key] = size
    return known[key]


@torch.no_grad()
def predict_logits(model: nn.Module, x: torch.Tensor, batch_size: int | None = None) -> torch.Tensor:
    """Logits of ``model`` in eval mode, in chunks. x (N, …) on the model's device → (N, K) float32.

    ``batch_size`` None: :func:`eval_batch_size` (the fastest for the model and device). The
    chunks are written into one preallocated output rather than concatenated at the end.
    On CUDA the forward runs under bf16 autocast, the precision the run trained in (its
    records say bf16); the logits come back float32, so every metric is computed in fp32.
    On the CPU (fp32) nothing changes."""
    model.eval()
    batch_size = batch_size or eval_batch_size(model, x)
    if len(x) == 0:
        return torch.empty(0)
    out: torch.Tensor | None = None
    with eval_precision(x.device):
        for i in range(0, len(x), batch_size):
            logits = model(x[i : i + batch_size])
            if out is None:
                out = torch.empty((len(x), *logits.shape[1:]), dtype=torch.float32, device=logits.device)
            out[i : i + len(logits)] = logits  # float32 whatever the autocast computed in
    return out


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
    clusters: dict[str, bytes] = field(default_factory=dict)  # per test split: image cluster ids (pack_clusters)
    seconds: float = 0.0
    # why the model collapsed (one line, regbench.evaluate.collapse), None when it did not; the
    # harness then records the run as ``collapsed``. Only a classification evaluation sets it.
    collapsed: str | None = None

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


def pack_clusters(ids: torch.Tensor) -> bytes:
    """Per-image cluster ids (N,) (``meta["image_id"]``: the base image) → zlib-compressed int32 bytes."""
    return zlib.compress(ids.to(torch.int32).cpu().numpy().tobytes(), 6)


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
