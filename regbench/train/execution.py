"""How a run executes, as opposed to what it computes: options that are NOT part of the run key.

Checkpoint frequency, deterministic kernels and ``torch.compile`` change where or how fast a
run goes, never which run it is, so the same run key is reused whichever of them was used
(in deterministic mode on CPU, a resumed run's metrics equal an uninterrupted run's).
The GPU-specific choices live here too (docs/architecture.md, Execution): cuDNN autotuning unless
deterministic, channels-last memory format for convolutional models on CUDA.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn


@dataclass(frozen=True)
class ExecOptions:
    """Execution options shipped with every run to its worker (picklable).

    checkpoint_every: save an in-run checkpoint every N epochs (0: never).
    checkpoint_dir: folder of ``<run_key>.pt`` files (absolute; shared storage on a cluster).
    deterministic: deterministic kernels, no cuDNN autotuning (bit-reproducible resumes on CPU).
    compile: ``torch.compile`` the model for training (off by default: ~15 s compile per run).
    """

    checkpoint_every: int = 0
    checkpoint_dir: str | None = None
    deterministic: bool = False
    compile: bool = False

    def checkpoint_path(self, run_key: str) -> Path | None:
        if self.checkpoint_every <= 0 or not self.checkpoint_dir:
            return None
        return Path(self.checkpoint_dir) / f"{run_key}.pt"


@contextlib.contextmanager
def kernel_mode(device: torch.device, deterministic: bool):
    """Set cuDNN autotuning / deterministic algorithms for one run, restoring them afterwards.

    cuDNN's benchmark mode picks the fastest convolution algorithm per input shape — our
    shapes are fixed per run, so it pays off — but the choice can differ between runs, so
    deterministic mode turns it off and asks torch for deterministic kernels (``warn_only``:
    an op without a deterministic version warns rather than killing a long run).
    """
    old = (
        torch.backends.cudnn.benchmark,
        torch.backends.cudnn.deterministic,
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
    )
    if deterministic and device.type == "cuda":
        # cuBLAS needs this before its first use to be deterministic (CUDA docs, "Reproducibility")
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.backends.cudnn.benchmark = device.type == "cuda" and not deterministic
    torch.backends.cudnn.deterministic = deterministic
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = old[0], old[1]
        torch.use_deterministic_algorithms(old[2], warn_only=old[3])


def wants_channels_last(model: nn.Module, device: torch.device) -> bool:
    """True for a model with 2-D convolutions on CUDA, where NHWC lets cuDNN use tensor cores."""
    return device.type == "cuda" and any(isinstance(m, nn.Conv2d) for m in model.modules())


def autocast(device: torch.device):
    """bf16 autocast on CUDA (no loss scaling needed, unlike fp16); a no-op elsewhere."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()
