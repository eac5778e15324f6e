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

from regbench.registry import UserError

# One intra-op thread per run: the pool's split when it runs one worker per core (its
# default), the one count every Ray/Slurm slot can give (a slot has >= 1 CPU), and the
# count whose CPU reductions are sequential, hence reproducible on any machine. It is also
# the count --deterministic pins, whatever --threads says.
DEFAULT_THREADS = 1
DETERMINISTIC_THREADS = 1


class ExecOptionsError(UserError):
    """Execution options that contradict each other or are out of range."""


def exec_options(
    checkpoint_every: int = 0,
    checkpoint_dir: str | None = None,
    deterministic: bool = False,
    compile: bool = False,
    threads: int | None = None,
) -> ExecOptions:
    """:class:`ExecOptions` with the thread count resolved (``None``: the default, or the
    deterministic pin); raises :class:`ExecOptionsError` for ``threads < 1`` or a thread
    count that ``deterministic`` contradicts."""
    if threads is not None and threads < 1:
        raise ExecOptionsError(f"--threads must be >= 1, got {threads}")
    if deterministic:
        if threads not in (None, DETERMINISTIC_THREADS):
            raise ExecOptionsError(
                f"--deterministic pins --threads to {DETERMINISTIC_THREADS} (got {threads}): "
                "another count sums in another order"
            )
        threads = DETERMINISTIC_THREADS
    return ExecOptions(checkpoint_every, checkpoint_dir, deterministic, compile, threads or DEFAULT_THREADS)


@contextlib.contextmanager
def intra_op_threads(n: int):
    """Run a block with ``torch.set_num_threads(n)``, restoring the caller's count afterwards."""
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


@dataclass(frozen=True)
class ExecOptions:
    """Execution options shipped with every run to its worker (picklable).

    checkpoint_every: save an in-run checkpoint every N epochs (0: never).
    checkpoint_dir: folder of ``<run_key>.pt`` files (absolute; shared storage on a cluster).
    deterministic: deterministic kernels, no cuDNN autotuning (bit-reproducible resumes on CPU).
    compile: ``torch.compile`` the model for training (off by default: ~15 s compile per run).
    threads: torch's intra-op thread count for the run, set by ``run_one`` whichever executor
      runs it, so a run's numbers do not depend on how an executor split the cores (a
      reduction split over 2 threads sums in another order than over 1). Recorded in ``env``.
    """

    checkpoint_every: int = 0
    checkpoint_dir: str | None = None
    deterministic: bool = False
    compile: bool = False
    threads: int = DEFAULT_THREADS

    def checkpoint_path(self, run_key: str) -> Path | None:
        if self.checkpoint_every <= 0 or not self.checkpoint_dir:
            return None
        return Path(self.checkpoint_dir) / f"{run_key}.pt"


CUBLAS_WORKSPACE = ":4096:8"  # the setting CUDA documents for deterministic cuBLAS ("Reproducibility")


def prepare_process() -> None:
    """Call first thing in a process that will run runs (the CLI, each pool/Ray/Slurm worker).

    cuBLAS reads ``CUBLAS_WORKSPACE_CONFIG`` once, at its first use in the process, so set
    per run it comes too late for every run after the first; it is set here for every
    process, deterministic or not, since a later run in the same worker may be (its cost is
    a few MB of workspace). A value the user set is kept.
    """
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)


@contextlib.contextmanager
def kernel_mode(device: torch.device, deterministic: bool):
    """Set cuDNN autotuning / deterministic algorithms for one run, restoring them afterwards.

    cuDNN's benchmark mode picks the fastest convolution algorithm per input shape — our
    shapes are fixed per run, so it pays off — but the choice can differ between runs, so
    deterministic mode turns it off and asks torch for deterministic kernels (``warn_only``:
    an op without a deterministic version warns rather than killing a long run). Under
    ``warn_only`` the flash and memory-efficient attention backwards only warn and keep
    their non-deterministic kernels on CUDA, so attention is restricted to the math backend
    there (seq2seq, ViT).
    """
    old = (
        torch.backends.cudnn.benchmark,
        torch.backends.cudnn.deterministic,
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
    )
    prepare_process()  # in time for an API caller whose first cuBLAS use is this run
    torch.backends.cudnn.benchmark = device.type == "cuda" and not deterministic
    torch.backends.cudnn.deterministic = deterministic
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        with deterministic_attention(device, deterministic):
            yield
    finally:
        torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = old[0], old[1]
        torch.use_deterministic_algorithms(old[2], warn_only=old[3])


def deterministic_attention(device: torch.device, deterministic: bool):
    """The math SDPA backend on CUDA in deterministic mode (flash and memory-efficient
    backwards accumulate with atomics); a no-op otherwise, so CPU numbers do not change."""
    if deterministic and device.type == "cuda":
        from torch.nn.attention import SDPBackend, sdpa_kernel

        return sdpa_kernel(SDPBackend.MATH)
    return contextlib.nullcontext()


def wants_channels_last(model: nn.Module, device: torch.device) -> bool:
    """True for a model with 2-D convolutions on CUDA, where NHWC lets cuDNN use tensor cores."""
    return device.type == "cuda" and any(isinstance(m, nn.Conv2d) for m in model.modules())


def precision(device: torch.device) -> str:
    """The precision a run computes its forward pass in on ``device`` (what :func:`autocast` does)."""
    return "bf16" if device.type == "cuda" else "fp32"


def autocast(device: torch.device):
    """bf16 autocast on CUDA (no loss scaling needed, unlike fp16); a no-op elsewhere."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()
