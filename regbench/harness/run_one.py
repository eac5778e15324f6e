"""run_one: a resolved run spec → a :class:`RunRecord` (trained, evaluated, never raising for the run's own failure)."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import resource
import traceback
from functools import lru_cache
from importlib import metadata
from typing import Any

import numpy

import torch

from regbench.catalog import registries
from regbench.data.base import Splits
from regbench.data.cache import cached_splits
from regbench.data.noise import apply_training_options as apply
from regbench.evaluate.curvature import measured_for
from regbench.harness.plan import ResolvedBenchmark, RunSpec
from regbench.models import build_model
from regbench.regularizers.build import build_stack
from regbench.seeding import seeded_global_rng
from regbench.store import RunRecord
from regbench.tasks import task_for
from regbench.train.checkpoint import Checkpointer
from regbench.train.execution import ExecOptions, intra_op_threads, kernel_mode, precision
from regbench.train.loop import DeviceError, Diverged, resolve_device, train
from regbench.version import __version__, current_command, git_commit


def fingerprint(bench: ResolvedBenchmark) -> str:
    """Hash of everything that determines a benchmark's splits (stored with every run)."""
    text = json.dumps(bench.data_key(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


_SPLITS: dict[str, Splits] = {}  # per-process memo: a worker reuses splits across seeds


def _make_splits(bench: ResolvedBenchmark) -> Splits:
    reg = registries()
    loaded = reg["datasets"].get(bench.loader)(seed=bench.spec.data_seed, **bench.dataset_args)
    shift = reg["shifts"].get(bench.spec.shift.kind)(bench.shift_params)
    return shift.build(loaded, bench.spec.data_seed)


def build_splits(bench: ResolvedBenchmark) -> Splits:
    """The benchmark's splits (memoized per process: a worker reuses them across seeds)."""
    key = fingerprint(bench)
    if key not in _SPLITS:
        if len(_SPLITS) >= 8:
            _SPLITS.pop(next(iter(_SPLITS)))
        _SPLITS[key] = cached_splits(key, lambda: _make_splits(bench))
    return _SPLITS[key]


def environment(device: torch.device) -> dict[str, Any]:
    """Provenance written into every record."""
    return {
        "regbench": __version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": str(device),
        "precision": precision(device),  # with the device type, which numbers may be compared (harness/numerics.py)
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor(),
        "threads": torch.get_num_threads(),
        "git": git_revision(),
        "git_commit": git_commit(),  # the full revision: what a publication bundle cites
        "torchvision": package_version("torchvision"),
        "numpy": numpy.__version__,
        "command": current_command(),  # relative paths only (regbench.version.published_command)
    }


def git_revision() -> str | None:
    """The short revision of regbench's checkout (``env["git"]``, as older records have it)."""
    full = git_commit()
    return full[:7] if full else None


@lru_cache(maxsize=4)
def package_version(name: str) -> str | None:
    """An installed distribution's version, without importing it (None when not installed)."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def peak_memory_mb(device: torch.device) -> float:
    """Peak GPU memory allocated on CUDA; else the process's peak resident set size."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def record(spec: RunSpec, status: str, **kw: Any) -> RunRecord:
    """The record of ``spec`` with ``status`` (ok | failed | diverged | collapsed); ``kw`` fills the rest."""
    reg_kind = kw.pop("kind", "none")
    return RunRecord(
        run_key=spec.run_key,
        suite=spec.suite,
        benchmark=spec.benchmark.spec.name,
        shift_kind=spec.benchmark.spec.shift.kind,
        regularizer=spec.regularizer.display,
        regularizer_kind=reg_kind,
        params=spec.canonical["regularizer"],
        seed=spec.seed,
        status=status,
        spec=spec.canonical,
        fingerprint=fingerprint(spec.benchmark),
        **kw,
    )


def run_one(spec: RunSpec, device: str = "cpu", options: ExecOptions | None = None) -> RunRecord:
    """Train and evaluate one run. Never raises for a run's own failure: it is recorded.

    ``options`` (checkpoints, deterministic kernels, compile) change how the run executes,
    never its run key or — on CPU in deterministic mode — its metrics. The run's intra-op
    thread count (``options.threads``) is applied here, for every executor alike, and
    recorded in ``env``.
    """
    options = options or ExecOptions()
    with intra_op_threads(options.threads):
        rec = _run_one(spec, device, options)
    release_device_memory()  # the run's tensors are gone now; cached blocks would pile up per worker
    return rec


# set once a run in this process failed with a CUDA error: the context is then broken for good
# (every later CUDA call fails), so a pool worker exits after sending the record and is replaced
_cuda_context_broken = False


def use_device(dev: torch.device) -> None:
    """Make ``dev`` this process's current CUDA device (kernels, caching allocator, the
    default stream), so ``cuda:N`` work never opens a context on ``cuda:0``; no-op off CUDA."""
    if dev.type == "cuda":
        torch.cuda.set_device(dev)


def note_failure(err: BaseException, dev: torch.device) -> None:
    """Remember a CUDA error (not an out-of-memory, from which the context recovers)."""
    global _cuda_context_broken
    oom = isinstance(err, torch.cuda.OutOfMemoryError)
    cuda_error = isinstance(err, getattr(torch, "AcceleratorError", ())) or "CUDA error" in str(err)
    if dev.type == "cuda" and cuda_error and not oom:
        _cuda_context_broken = True


def cuda_context_broken() -> bool:
    """Did a run in this process fail with a CUDA error (its CUDA context unusable since)?"""
    return _cuda_context_broken


def release_device_memory() -> None:
    """Hand the CUDA caching allocator's unused blocks back between runs (no-op without CUDA)."""
    if torch.cuda.is_initialized() and not _cuda_context_broken:
        torch.cuda.empty_cache()


def _run_one(spec: RunSpec, device: str, options: ExecOptions) -> RunRecord:
    try:
        dev = resolve_device(device)
    except DeviceError as err:  # e.g. a worker given a GPU this host does not have: its run fails, not the worker
        return record(spec, "failed", error=f"DeviceError: {err}")
    ckpt_path = options.checkpoint_path(spec.run_key)
    ckpt = Checkpointer(ckpt_path, options.checkpoint_every, spec.run_key) if ckpt_path else None
    kind = "none"
    try:
        stack = build_stack(spec.regularizer, spec.reg_params)
        kind = spec.kind or stack.kind  # the suite row's kind (harness/applicability.row_kinds)
        use_device(dev)
        splits, data, model = build_run(spec, stack, dev)
        if dev.type == "cuda":
            torch.cuda.reset_peak_memory_stats(dev)
        with kernel_mode(dev, options.deterministic):
            result = train(model, data, stack, spec.train, spec.seed, dev, checkpoint=ckpt, compile=options.compile)
            ev = task_for(splits.info).evaluate(model, splits, spec.seed, dev, measure_curvature=measured_for(kind))
    except Diverged as err:
        return record(
            spec, "diverged", error=str(err), kind=kind, env=environment(dev), timings={"diverged_epoch": err.epoch}
        )
    except KeyboardInterrupt:
        raise
    except SystemExit:
        # inside a submitit job a SystemExit is how a preempted job requeues itself: let it go
        # (a plugin's own SystemExit from a hook was already turned into a HookError)
        if os.environ.get("SUBMITIT_EXECUTOR"):
            raise
        tb = traceback.format_exc(limit=-3)
        return record(spec, "failed", error=f"SystemExit\n{tb}", kind=kind, env=environment(dev))
    except BaseException as err:  # a run's failure (even a SystemExit) is recorded, never fatal to the suite
        note_failure(err, dev)
        tb = traceback.format_exc(limit=-3)
        return record(spec, "failed", error=f"{type(err).__name__}: {err}\n{tb}", kind=kind, env=environment(dev))
    return ok_record(spec, result, ev, kind, dev)


def build_run(spec: RunSpec, stack, dev: torch.device):
    """(splits, training data, freshly initialized model on ``dev``) of ``spec`` with ``stack``."""
    splits = build_splits(spec.benchmark)
    data = apply_training_options(splits, spec)
    model_args = {**spec.benchmark.model_args, **stack.model_overrides()}
    with seeded_global_rng(spec.seed, "init"):  # per-seed initialization, batched or not
        model = build_model(spec.benchmark.spec.model, splits.info, **model_args).to(dev)
    return splits, data, model


def ok_record(spec: RunSpec, result, ev, kind: str, dev: torch.device, timings: dict | None = None) -> RunRecord:
    """The record of a trained (``result``) and evaluated (``ev``) run: ``ok``, or ``collapsed``
    with the reason as its error when the evaluation found the model collapsed (``ev.collapsed``,
    regbench.evaluate.collapse); every metric and prediction is kept either way. ``timings``
    adds provenance."""
    extra_timings = timings or {}
    timings = {
        "train_seconds": result.train_seconds,
        # process CPU time (all threads) of the training epochs: unlike wall time it barely moves
        # when other jobs share the machine, so "cost vs erm" compares work, not load
        "train_cpu_seconds": result.train_cpu_seconds,
        "eval_seconds": ev.seconds,
        "samples_per_second": result.samples_seen / max(result.train_seconds, 1e-9),
        "peak_memory_mb": peak_memory_mb(dev),
    }
    run_rows = {**timings, "best_epoch": result.best_epoch, "epochs_run": result.epochs_run, **result.extra}
    if result.resumed_from_epoch:  # provenance only: not a metric row, so metrics match an uninterrupted run
        timings["resumed_from_epoch"] = result.resumed_from_epoch
    timings.update(extra_timings)  # provenance only (e.g. the seed batch a run trained in)
    for metric, value in run_rows.items():
        ev.add("run", metric, value)
    h = result.history
    curves = {
        "train_loss": h.train_loss,
        "train_accuracy": h.train_accuracy,
        "val_loss": h.val_loss,
        "val_accuracy": h.val_accuracy,
    }
    return record(
        spec,
        "collapsed" if ev.collapsed else "ok",
        error=ev.collapsed,
        kind=kind,
        metrics=ev.rows,
        reliability=ev.reliability,
        predictions=ev.predictions,
        targets=ev.targets,
        clusters=ev.clusters,
        curves=curves,
        timings=timings,
        env=environment(dev),
    )


def apply_training_options(splits: Splits, spec: RunSpec):
    """Training-set options of the train spec (label noise, bootstrap resampling) → TrainingData."""
    return apply(splits, spec.train, spec.benchmark.spec.data_seed, spec.seed)
