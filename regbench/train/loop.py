"""The one training loop every run goes through (docs/architecture.md, Regularizers; airbench-style data path).

The trainer sees :class:`TrainingData` (train and val) only. Data lives on the device as
tensors; a batch is a slice of a seeded permutation (docs/architecture.md, Conventions: Data path: in-memory slicing costs
~0.3 ms/epoch where a DataLoader costs ~8 ms here). Regularizers act only through the hooks
of :class:`regbench.regularizers.base.Regularizer`; nothing here knows any regularizer by name.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from regbench.config import TrainSpec
from regbench.data.base import TrainingData
from regbench.evaluate.records import predict_logits  # noqa: F401 (public here too: the loop's inference helper)
from regbench.regularizers.base import Batch, History
from regbench.regularizers.stack import Stack
from regbench.seeding import seeded_global_rng, torch_generator
from regbench.tasks import check_supported, task_for
from regbench.train.averaging import use_averaged_weights
from regbench.train.batches import epoch_batches
from regbench.train.checkpoint import Checkpointer, history_state, rng_states, set_rng_states
from regbench.train.execution import autocast as autocast_for
from regbench.train.execution import wants_channels_last
from regbench.train.setup import (  # noqa: F401 (public here too: callers import them from the loop)
    CPU,
    DeviceError,
    Diverged,
    make_optimizer,
    make_scheduler,
    resolve_device,
    setup_context,
)


@dataclass
class TrainResult:
    history: History
    epochs_run: int
    best_epoch: int  # 1-based epoch of minimum validation loss
    train_seconds: float
    samples_seen: int
    extra: dict[str, float] = field(default_factory=dict)
    resumed_from_epoch: int = 0  # the checkpoint's epoch when this run resumed, else 0
    train_cpu_seconds: float = 0.0  # process CPU time over the same epochs as train_seconds


def _at(values: torch.Tensor | None, idx: torch.Tensor) -> torch.Tensor | None:
    """``values[idx]`` for a per-example meta tensor (N,), or None when the data has none."""
    return None if values is None else values[idx]


@dataclass
class _DeviceData:
    """One run's data on the device, moved there once; a batch is a slice of it."""

    x: torch.Tensor  # (N, …) training inputs
    targets: torch.Tensor  # (N, K) soft targets (docs/architecture.md, Conventions: Hooks); seq2seq: token ids
    env: torch.Tensor | None  # (N,) environment of each example, when the data has them
    group: torch.Tensor | None  # (N,) group of each example, when the data has them
    order: Any  # the batch sampler: ShuffledBatches or EnvBalancedBatches (regbench.train.batches)
    env_ids: tuple[int, ...]  # the balanced sampler's environments (empty when shuffled)
    env_counts: tuple[int, ...]  # its examples per environment in each step
    xv: torch.Tensor  # (Nv, …) validation inputs
    yv: torch.Tensor  # (Nv,) validation labels


@dataclass
class _Run:
    """One run's training machinery, built once before its first epoch.

    The flags say which optional per-step work the stack asks for, decided once per run: most
    stacks (erm, penalties) define neither hook, and skipping the calls keeps the per-step
    path as short as a hand-written loop's.
    """

    model: nn.Module  # the plain module: the hooks see it and its state is saved
    net: nn.Module  # what the forward pass calls: ``model``, or ``torch.compile(model)``
    stack: Stack
    task: Any  # regbench.tasks: classification, or seq2seq (teacher forcing)
    opt: torch.optim.Optimizer
    sched: Any  # LambdaLR, or None for a constant rate
    order_g: torch.Generator  # the data order's stream (on the CPU)
    aug_g: torch.Generator  # the transforms' stream, on the run's device
    autocast: Any  # bf16 autocast on CUDA, a null context elsewhere
    device: torch.device
    features_tap: list | None  # [the classifier's input in the last forward], for penalties on features
    num_classes: int
    channels_last: bool
    penalized: bool
    transforms: bool
    after_backward: bool
    resets: bool
    input_grad: bool
    two_pass: bool  # SAM: a second forward/backward at perturbed weights (Regularizer.first_step)
    after_step: bool  # running weight averages (EMA, SWA, SWAD)


@dataclass
class _Progress:
    """Where training stands before its next epoch: at the start, or as a checkpoint left it."""

    history: History = field(default_factory=History)
    first_epoch: int = 1
    samples: int = 0
    seconds_before: float = 0.0  # wall seconds of the epochs trained before a resume
    cpu_before: float = 0.0  # process CPU seconds of the same epochs


@dataclass
class _EpochSums:
    """One epoch's training totals, still on the device (read once, when recorded)."""

    loss_sum: torch.Tensor  # 0-d: the examples' summed loss
    correct: torch.Tensor  # 0-d int64: examples classified right
    n: int  # examples seen


def train(
    model: nn.Module,
    data: TrainingData,
    stack: Stack,
    spec: TrainSpec,
    seed: int,
    device: torch.device = CPU,
    on_epoch=None,
    checkpoint: Checkpointer | None = None,
    compile: bool = False,
) -> TrainResult:
    """Train ``model`` in place on ``data.train``, validating on ``data.val`` after every epoch.

    Raises :class:`Diverged` on a non-finite loss. ``on_epoch(history)`` is called after
    each epoch (progress). With ``checkpoint``, the full training state is saved every
    ``checkpoint.every`` epochs and training resumes from a saved state when one exists.
    On CUDA: bf16 autocast, channels-last for conv nets; ``compile`` wraps the forward pass
    in ``torch.compile`` (the state saved and the hooks' ``model`` stay the plain module).
    """
    task = task_for(data.info, stack)  # classification, or seq2seq (teacher forcing): regbench.tasks
    check_supported(stack, task.name)
    stack.setup(setup_context(data, spec, device, task.name))
    run, on_device = _prepare_run(model, data, stack, spec, seed, device, task, compile)
    saved = checkpoint.load(device) if checkpoint is not None else None
    progress = _resume(run, saved) if saved is not None else _Progress()
    history = progress.history
    t0, c0 = time.perf_counter(), time.process_time()
    with seeded_global_rng(seed, "dropout", device=device):
        if saved is not None:  # after the seeding, so the saved global state wins
            set_rng_states(saved["rng"], run.order_g, run.aug_g, device)
        for epoch in range(progress.first_epoch, spec.epochs + 1):
            sums = _train_epoch(run, on_device, epoch)
            progress.samples += sums.n
            if _record_epoch(run, on_device, history, epoch, sums, on_epoch):
                break
            if checkpoint is not None and checkpoint.due(epoch) and epoch < spec.epochs:
                checkpoint.save(_checkpoint_state(run, epoch, progress, t0, c0))
        averaged = use_averaged_weights(run, on_device.x, on_device.xv, on_device.yv, spec.batch_size, history)
        extra = {**averaged, **stack.finish(model, history)}
    seconds = progress.seconds_before + time.perf_counter() - t0
    cpu = progress.cpu_before + time.process_time() - c0
    best = best_epoch(history, extra)
    return TrainResult(history, history.epoch, best, seconds, progress.samples, extra, progress.first_epoch - 1, cpu)


def best_epoch(history: History, extra: dict[str, float]) -> int:
    """The 1-based epoch whose weights a run keeps: its minimum validation loss, or the epoch
    a member restored (``extra["restored_epoch"]``, early stopping)."""
    best = min(range(len(history.val_loss)), key=history.val_loss.__getitem__) + 1
    return int(extra["restored_epoch"]) if "restored_epoch" in extra else best


def _prepare_run(
    model: nn.Module,
    data: TrainingData,
    stack: Stack,
    spec: TrainSpec,
    seed: int,
    device: torch.device,
    task: Any,
    compile: bool,
) -> tuple[_Run, _DeviceData]:
    """Move the data to the device and build the model's forward, optimizer, schedule and streams."""
    k = data.info.num_classes
    # the whole dataset moves to the device once; batches are slices of it (docs/architecture.md, Conventions: Data path)
    x, y = data.train.x.to(device), data.train.y.to(device)
    xv, yv = data.val.x.to(device), data.val.y.to(device)
    channels_last = wants_channels_last(model, device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    net = torch.compile(model) if compile else model
    targets = task.targets(y, k)  # (N, K) soft targets from here on; seq2seq: token ids
    # environment-balanced steps when a member needs environments (regbench.train.batches)
    env, group = (data.train.meta.get(name) for name in ("env", "group"))
    # the sampler is built from the CPU copy: unique/nonzero on a GPU would sync
    order = epoch_batches(env, len(x), spec.batch_size, bool(getattr(stack, "needs_envs", False)))
    # the balanced sampler's environments and per-step layout, read on the CPU
    env_ids, env_counts = tuple(getattr(order, "ids", ())), tuple(getattr(order, "counts", ()))
    env, group = (t.to(device) if t is not None else None for t in (env, group))
    on_device = _DeviceData(x, targets, env, group, order, env_ids, env_counts, xv, yv)
    opt = make_optimizer(model, stack, spec)
    run = _Run(
        model=model,
        net=net,
        stack=stack,
        task=task,
        opt=opt,
        sched=make_scheduler(opt, spec, len(order), stack),
        order_g=torch_generator(seed, "order"),
        aug_g=torch_generator(seed, "augment", device=str(device)),  # on this run's cuda:N, not cuda:0
        autocast=autocast_for(device),
        device=device,
        num_classes=k,
        channels_last=channels_last,
        penalized=stack.has("penalty"),
        transforms=stack.has("transform"),
        after_backward=stack.has("after_backward"),
        resets=stack.has("resets_optimizer"),
        input_grad=bool(getattr(stack, "needs_input_grad", False)),
        two_pass=stack.has("first_step"),
        after_step=stack.has("after_step"),
        features_tap=None if compile else _tap_features(model, stack),
    )
    return run, on_device


def _tap_features(model: nn.Module, stack: Stack) -> list | None:
    """[None], filled with the (B, D) input of ``model.classifier`` at each forward, when a
    member reads features (``reads_features``): its penalty then reuses the training pass's
    features, with no second forward (nor a second BatchNorm update). None otherwise."""
    members = getattr(stack, "members", [stack])
    classifier = getattr(model, "classifier", None)
    if not any(getattr(m, "reads_features", False) for m in members) or not isinstance(classifier, nn.Module):
        return None
    tap: list = [None]
    classifier.register_forward_pre_hook(lambda module, args: tap.__setitem__(0, args[0]))
    return tap


def _resume(run: _Run, saved: dict) -> _Progress:
    """Load a checkpoint's model, optimizer, schedule and stack state; where it left training."""
    run.model.load_state_dict(saved["model"])
    run.opt.load_state_dict(saved["optimizer"])
    if run.sched is not None:
        run.sched.load_state_dict(saved["scheduler"])
    run.stack.load_state_dict(saved["stack"])
    return _Progress(
        history=History(**saved["history"]),
        first_epoch=saved["epoch"] + 1,
        samples=saved["samples"],
        seconds_before=saved["seconds"],
        cpu_before=saved.get("cpu_seconds", 0.0),
    )


def _train_epoch(run: _Run, data: _DeviceData, epoch: int) -> _EpochSums:
    """One pass over the training set, one optimizer step per batch; :class:`Diverged` when
    the epoch's loss (with penalties) is not finite."""
    # read into locals once per epoch: the steps below then look up no attribute of run or data
    model, net, stack, task, opt, sched = run.model, run.net, run.stack, run.task, run.opt, run.sched
    x, targets, order, env, group = data.x, data.targets, data.order, data.env, data.group
    env_ids, env_counts, k = data.env_ids, data.env_counts, run.num_classes
    order_g, aug_g, autocast, device = run.order_g, run.aug_g, run.autocast, run.device
    penalized, transforms, after_backward, resets = run.penalized, run.transforms, run.after_backward, run.resets
    input_grad, channels_last, two_pass, after_step = run.input_grad, run.channels_last, run.two_pass, run.after_step
    features_tap = run.features_tap
    model.train()
    # kept on the device and reduced once per epoch: a .item() per step would
    # synchronize a GPU every step, and a running sum costs an add per step
    losses: list[torch.Tensor] = []  # (B,)-mean loss of each step, detached
    totals: list[torch.Tensor] = []  # loss + penalty of each step (penalized stacks)
    corrects: list[torch.Tensor] = []  # 0-d int64 count of each step
    sizes: list[int] = []
    for idx in order.epoch(order_g, device):
        xb, yb = x[idx], targets[idx]
        if transforms:
            xb, yb = stack.transform(xb, yb, aug_g)
        if input_grad and not xb.requires_grad:  # input-gradient penalties differentiate wrt x
            xb.requires_grad_(True)
        if channels_last and xb.dim() == 4:  # after the transforms, which index pixels in NCHW order;
            xb = xb.contiguous(memory_format=torch.channels_last)  # waveforms (B, 1, L) have no NHWC
        with autocast:
            logits = task.forward(net, xb, yb)
        loss = task.loss(logits, yb, stack)
        hook_batch = None
        if penalized:  # hooks always see (B, K) soft targets, whatever the task keeps
            hook_batch = Batch(
                xb, task.hook_targets(yb, k), logits, *(_at(t, idx) for t in (env, group)), env_ids, env_counts
            )
            if features_tap is not None:
                hook_batch.features, features_tap[0] = features_tap[0], None
            total = loss + stack.penalty(model, hook_batch)
        else:
            total = loss
        opt.zero_grad(set_to_none=True)
        total.backward()
        if two_pass:
            _perturbed_pass(run, xb, yb, loss, hook_batch)
        if after_backward:
            stack.after_backward(model)
        if resets and stack.resets_optimizer():  # e.g. IRM's penalty weight switching on (DomainBed)
            opt.state.clear()
        opt.step()
        if sched is not None:
            sched.step()
        if after_step:
            stack.after_step(model)
        losses.append(loss.detach())
        if penalized:
            totals.append(total.detach())
        corrects.append(task.correct(logits, yb))
        sizes.append(len(idx))
    weights = torch.tensor(sizes, dtype=torch.float32).to(device, non_blocking=True)
    loss_sum = torch.dot(torch.stack(losses), weights)
    total_sum = torch.stack(totals).sum() if penalized else loss_sum
    if not torch.isfinite(total_sum):
        report = getattr(stack, "nonfinite_report", None)  # which plugin hook, if one
        raise Diverged(epoch, total_sum.item(), report() if report else "")
    return _EpochSums(loss_sum, torch.stack(corrects).sum(), sum(sizes))


def _perturbed_pass(
    run: _Run, xb: torch.Tensor, yb: torch.Tensor, loss: torch.Tensor, hook_batch: Batch | None
) -> None:
    """The second half of a two-pass step (SAM): perturb, recompute, backpropagate, restore.

    ``xb``, ``yb``: the step's batch after the transforms (the same examples and the same
    mixup draws at both passes); ``loss``: the first pass's data loss; ``hook_batch``: the
    penalties' batch, None when the stack has no penalty. The penalties are added again at
    the perturbed weights, so the descent gradient is that of the whole objective; autocast
    wraps the forward as at the first pass. Leaves ``.grad`` = the gradient at w + e and the
    weights back at w, for clipping and the optimizer's step.
    """
    run.stack.first_step(run.model, loss.detach())
    run.opt.zero_grad(set_to_none=True)
    with run.autocast:
        logits = run.task.forward(run.net, xb, yb)
    perturbed = run.task.loss(logits, yb, run.stack)
    total = perturbed
    if hook_batch is not None:
        total = perturbed + run.stack.penalty(run.model, dataclasses.replace(hook_batch, logits=logits))
    total.backward()
    run.stack.second_step(run.model, perturbed.detach())


def _record_epoch(run: _Run, data: _DeviceData, history: History, epoch: int, sums: _EpochSums, on_epoch) -> bool:
    """Validate, append the epoch to ``history``, give the stack its end-of-epoch hook (early
    stopping keeps its best weights there) and report progress; True when the stack stops."""
    val_loss, val_accuracy = run.task.validate(
        run.model, data.xv, data.yv
    )  # eager: compiling eval graphs costs 3-4 compiles
    if not math.isfinite(val_loss):
        raise Diverged(epoch, val_loss)
    history.train_loss.append(sums.loss_sum.item() / sums.n)
    history.train_accuracy.append(sums.correct.item() / sums.n)
    history.val_loss.append(val_loss)
    history.val_accuracy.append(val_accuracy)
    run.stack.after_epoch(run.model, history)
    if on_epoch is not None:
        on_epoch(history)
    return run.stack.should_stop(history)


def _checkpoint_state(run: _Run, epoch: int, progress: _Progress, t0: float, c0: float) -> dict:
    """The full training state after ``epoch``, for :meth:`Checkpointer.save` (``t0``/``c0``:
    when this process started training, wall and CPU clocks)."""
    return {
        "epoch": epoch,
        "model": run.model.state_dict(),
        "optimizer": run.opt.state_dict(),
        "scheduler": run.sched.state_dict() if run.sched is not None else None,
        "rng": rng_states(run.order_g, run.aug_g, run.device),
        "history": history_state(progress.history),
        "stack": run.stack.state_dict(),
        "samples": progress.samples,
        "seconds": progress.seconds_before + time.perf_counter() - t0,
        "cpu_seconds": progress.cpu_before + time.process_time() - c0,
    }
