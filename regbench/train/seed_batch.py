"""Seed-batched training: the S seeds of one benchmark × regularizer trained as one stacked model.

Each seed keeps its own initialization (the caller builds one model per seed), its own data
order (``torch_generator(seed, "order")``, exactly the permutation a separate run draws), its
own augmentation draws (``torch_generator(seed, "augment")``, the same stream a separate run
uses), its own dropout masks (independent per element), its own history and its own stack, so
early stopping stops and restores each seed on its own. The parameters of the S models are
stacked along a leading seed dimension and trained through one batched forward pass
(regbench.train.stacked_forward: batched matrix products for an MLP, ``functional_call``
under ``vmap`` for any other model); each seed's own module keeps *views* of its
slice, so the hooks that take a model (penalties, gradient clipping, early stopping) act on
that seed's weights and gradients alone (regbench.train.seed_hooks). The optimizers regbench
uses (Adam, AdamW, SGD with momentum) are elementwise, so one fused optimizer over the stacked
tensors is S independent optimizers. What cannot be batched — BatchNorm statistics, plugins
declaring ``batchable = False``, input gradients, environment-balanced sampling, optimizer
resets — is named by :func:`batch_blocker`. See docs/architecture.md, "Stages" (train/).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import stack_module_state

from regbench.config import TrainSpec
from regbench.data.base import TrainingData
from regbench.regularizers.base import History
from regbench.regularizers.stack import Stack
from regbench.seeding import seeded_global_rng, torch_generator
from regbench.tasks import check_supported, task_for
from regbench.train.batches import step_starts
from regbench.train.execution import autocast as autocast_for
from regbench.train.loop import (
    CPU,
    Diverged,
    TrainResult,
    best_epoch,
    make_optimizer,
    make_scheduler,
    setup_context,
)
from regbench.train.stacked_forward import stacked_forwards
from regbench.train.seed_hooks import SeedHooks, alias_seed_views, stacked_groups


def batch_blocker(model: nn.Module, data: TrainingData, stack: Stack) -> str | None:
    """Why this run cannot join a seed batch (None when it can)."""
    for m in stack.members:
        if getattr(m, "batchable", True) is False:
            return f"regularizer '{type(m).__name__}' declares batchable = False"
    if getattr(stack, "needs_input_grad", False):
        return "the stack differentiates with respect to the input"
    if getattr(stack, "needs_envs", False):
        return "the stack draws environment-balanced batches"
    if stack.has("resets_optimizer"):
        return "the stack resets the optimizer during training"
    if task_for(data.info, stack).name != "classification":
        return "only classification runs are batched"
    if any(True for _ in model.buffers()):
        return "the model keeps buffers (BatchNorm statistics are per model)"
    return None


def no_gain_on(device: torch.device, model: nn.Module, data: TrainingData, spec: TrainSpec) -> str | None:
    """Why a seed batch of this run would gain nothing on ``device`` (None when it pays).

    On a CPU core a stacked model saves only the per-step Python and kernel-launch overhead
    that S small runs each pay, so it pays for MLPs trained in mini-batches (1.5-2.2× at
    S = 3-10) and not where the arithmetic dominates: convolutions (1.02-1.07×) and a full
    batch, one step per epoch (0.9-1.0× on ColoredMNIST). Measured with
    benchmarks/bench_seed_batch.py; on a GPU, where one small model leaves the device idle,
    every batchable run is batched.
    """
    if device.type != "cpu":
        return None
    if any(isinstance(m, nn.modules.conv._ConvNd) for m in model.modules()):
        return "on CPU a stacked convolutional model is no faster than separate runs"
    if len(step_starts(len(data.train.x), spec.batch_size)) == 1:
        return "on CPU a full-batch run (one step per epoch) is no faster stacked"
    return None


@dataclass
class _StackedRun:
    """A seed batch's training machinery and data, built once before its first epoch."""

    models: list[nn.Module]  # each seed's own module, its parameters views of its slice of ``holder``
    stacks: list[Stack]
    skeleton: nn.Module  # models[0]: train/eval mode for the stacked forward
    holder: list[nn.Parameter]  # the stacked (S, …) parameters, in ``names`` order
    hooks: SeedHooks
    per_seed: Callable  # (holder, x (S, B, …)) → (S, B, K)
    shared: Callable  # (holder, x (N, …)) → (S, N, K)
    opt: torch.optim.Optimizer
    sched: Any  # LambdaLR, or None for a constant rate
    order_gs: list[torch.Generator]  # each seed's data-order stream, as its separate run draws it
    x: torch.Tensor  # (N, …) training inputs on the device
    targets: torch.Tensor  # (N,) labels or (N, K) soft targets
    soft: bool  # targets are (N, K)
    xv: torch.Tensor  # (Nv, …) validation inputs
    yv: torch.Tensor  # (Nv,) validation labels
    bounds: list[tuple[int, int]]  # each step's [start, end) in the permutation
    device: torch.device
    autocast: Any  # the run's precision, as a separate run's forward (bf16 on CUDA, a null context elsewhere)


@dataclass
class _SeedStates:
    """Each seed's own course: its history, whether it still trains, how it ended."""

    histories: list[History]
    outcome: list[Diverged | None]  # a seed's Diverged once its loss is non-finite
    active: list[bool]
    frozen: dict[int, list[torch.Tensor]] = field(
        default_factory=dict
    )  # a stopped seed's weights, put back after each step

    def stop(self, s: int, holder: list[torch.Tensor]) -> None:
        """Seed ``s`` trains no further: its weights are kept as they are now."""
        self.active[s] = False
        self.frozen[s] = [p.detach()[s].clone() for p in holder]


def train_seed_batch(
    models: list[nn.Module],
    data: TrainingData,
    stacks: list[Stack],
    spec: TrainSpec,
    seeds: list[int],
    device: torch.device = CPU,
) -> list[TrainResult | Diverged]:
    """Train ``models[s]`` with ``stacks[s]`` and ``seeds[s]`` together; one result per seed.

    All seeds share ``data`` (the same training set; a run whose options change the training
    set per seed is not batched). x (N, …) is indexed per seed into (S, B, …) batches with one
    (S, B) index tensor; logits are (S, B, K). On return each ``models[s]`` holds its seed's
    final weights (after its stack's ``finish``, e.g. early stopping's restore) in tensors of
    its own. A seed whose loss becomes non-finite gets a :class:`Diverged` in its place and
    stops; the others go on.
    """
    run = _prepare_stacked(models, data, stacks, spec, seeds, device)
    n_seeds = len(models)
    states = _SeedStates([History() for _ in seeds], [None] * n_seeds, [True] * n_seeds)
    t0, c0 = time.perf_counter(), time.process_time()
    # one stream for the batch's dropout masks, seeded from the first seed (a separate run
    # seeds its own; the masks differ but are drawn from the same distribution)
    with seeded_global_rng(seeds[0], "dropout", device=device):
        for epoch in range(1, spec.epochs + 1):
            sums = _train_stacked_epoch(run, states.frozen)
            _record_seed_epochs(run, states, epoch, *sums)
            if not any(states.active):
                break
        seconds = (time.perf_counter() - t0) / n_seeds  # the batch's time, shared evenly
        cpu = (time.process_time() - c0) / n_seeds
        return _seed_results(run, states, seconds, cpu)


def _prepare_stacked(
    models: list[nn.Module],
    data: TrainingData,
    stacks: list[Stack],
    spec: TrainSpec,
    seeds: list[int],
    device: torch.device,
) -> _StackedRun:
    """Set the stacks up, stack the seeds' parameters and build the optimizer and streams."""
    k = data.info.num_classes
    task = task_for(data.info, stacks[0])  # hard labels unless a member transforms or replaces the loss
    for stack in stacks:
        check_supported(stack, task.name)
        stack.setup(setup_context(data, spec, device, task.name))
    x, y = data.train.x.to(device), data.train.y.to(device)
    xv, yv = data.val.x.to(device), data.val.y.to(device)
    targets = task.targets(y, k)  # (N,) labels or (N, K) soft targets, as a separate run keeps them
    params, _ = stack_module_state(models)  # name → (S, …) leaf tensors
    names = list(params)
    holder = [nn.Parameter(p) for p in params.values()]
    alias_seed_views(models, names, holder)  # models[s]'s parameters are now views of slice s
    hooks = SeedHooks(models, stacks, names, holder, seeds, device, k, data.train.meta)
    per_seed, shared = stacked_forwards(models[0], names)  # x (S, B, …) → (S, B, K); x (N, …) → (S, N, K)
    n = len(x)
    starts = step_starts(n, spec.batch_size)
    # fused: one kernel per tensor for the whole update; the per-op (single-tensor) step streams
    # the stacked state through memory 6 times, which at S ≥ 5 no longer fits in L2
    groups = stacked_groups(stacks, models, names, holder)
    opt = make_optimizer(models[0], stacks[0], spec, groups=groups, fused=True)
    return _StackedRun(
        models=models,
        stacks=stacks,
        skeleton=models[0],
        holder=holder,
        hooks=hooks,
        per_seed=per_seed,
        shared=shared,
        opt=opt,
        sched=make_scheduler(opt, spec, len(starts)),
        order_gs=[torch_generator(seed, "order") for seed in seeds],
        x=x,
        targets=targets,
        soft=targets.dim() == 2,
        xv=xv,
        yv=yv,
        bounds=list(zip(starts, [*starts[1:], n])),
        device=device,
        autocast=autocast_for(device),
    )


def _train_stacked_epoch(
    run: _StackedRun, frozen: dict[int, list[torch.Tensor]]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One pass of every seed over the training set in its own order → each seed's (S,)
    summed loss, (S,) summed loss + penalty over steps, (S,) int64 examples classified right."""
    # read into locals once per epoch: the steps below then look up no attribute of run
    x, targets, soft, holder, hooks, per_seed = run.x, run.targets, run.soft, run.holder, run.hooks, run.per_seed
    opt, sched, device, n_seeds, n = run.opt, run.sched, run.device, len(run.models), len(run.x)
    autocast = run.autocast
    run.skeleton.train()
    perms = torch.stack([torch.randperm(n, generator=g) for g in run.order_gs]).to(device)  # (S, N)
    loss_sum = torch.zeros(n_seeds, device=device)
    total_sum = torch.zeros(n_seeds, device=device)
    correct = torch.zeros(n_seeds, dtype=torch.long, device=device)
    for i, end in run.bounds:
        idx = perms[:, i:end]  # (S, B)
        xb, yb = x[idx], targets[idx]  # (S, B, …), (S, B) or (S, B, K)
        if hooks.transforms:
            xb, yb = hooks.transform(xb, yb)
        with autocast:  # the forward only, as in a separate run; loss and penalties in fp32
            logits = per_seed(holder, xb)
        logits = logits.float()  # (S, B, K)
        losses = hooks.loss(logits, yb) if hooks.losses else _cross_entropy(logits, yb, soft)  # (S,)
        # each seed's own mean loss: their sum has each seed's gradient in its slice
        total = losses + hooks.penalty(logits, xb, yb, idx) if hooks.penalized else losses
        opt.zero_grad(set_to_none=True)
        total.sum().backward()
        hooks.after_backward()
        opt.step()
        if sched is not None:
            sched.step()
        if frozen:
            _restore_frozen(holder, frozen)
        loss_sum.add_(losses.detach(), alpha=end - i)
        total_sum.add_(total.detach())
        correct.add_(torch.count_nonzero(logits.argmax(-1) == (yb.argmax(-1) if soft else yb), dim=1))
    return loss_sum, total_sum, correct


def _record_seed_epochs(
    run: _StackedRun,
    states: _SeedStates,
    epoch: int,
    loss_sum: torch.Tensor,
    total_sum: torch.Tensor,
    correct: torch.Tensor,
) -> None:
    """Validate every seed, then for each active one: stop it as diverged on a non-finite
    loss, or append the epoch to its history and give its stack the end-of-epoch hooks
    (early stopping stops it there)."""
    n_seeds, n, holder = len(run.models), len(run.x), run.holder
    run.skeleton.eval()
    with torch.no_grad():  # fp32, as a separate run validates
        vlogits = run.shared(holder, run.xv).float()  # (S, Nv, K)
        vloss = F.cross_entropy(vlogits.permute(0, 2, 1), run.yv.expand(n_seeds, -1), reduction="none").mean(1)
        vacc = (vlogits.argmax(-1) == run.yv).double().mean(1)
    # the epoch's one read of the device
    train_loss, train_acc = (loss_sum / n).tolist(), (correct.double() / n).tolist()
    totals, val_loss, val_acc = total_sum.tolist(), vloss.tolist(), vacc.tolist()
    for s in range(n_seeds):
        if not states.active[s]:
            continue
        stack = run.stacks[s]
        if not (math.isfinite(totals[s]) and math.isfinite(val_loss[s])):
            bad = totals[s] if not math.isfinite(totals[s]) else val_loss[s]
            states.outcome[s] = Diverged(epoch, bad, stack.nonfinite_report())
            states.stop(s, holder)
            continue
        h = states.histories[s]
        h.train_loss.append(train_loss[s])
        h.train_accuracy.append(train_acc[s])
        h.val_loss.append(val_loss[s])
        h.val_accuracy.append(val_acc[s])
        stack.after_epoch(run.models[s], h)
        if stack.should_stop(h):
            states.stop(s, holder)


def _seed_results(run: _StackedRun, states: _SeedStates, seconds: float, cpu: float) -> list[TrainResult | Diverged]:
    """Each seed's result (its stack finished: early stopping restores there), its model
    given tensors of its own; ``seconds``/``cpu``: each seed's share of the batch's time."""
    n = len(run.x)
    results: list[TrainResult | Diverged] = []
    for s, model in enumerate(run.models):
        _own_tensors(model)  # the seed's weights leave the stacked storage
        if states.outcome[s] is not None:
            results.append(states.outcome[s])
            continue
        h = states.histories[s]
        extra = run.stacks[s].finish(model, h)
        best = best_epoch(h, extra)
        results.append(TrainResult(h, h.epoch, best, seconds, len(h.train_loss) * n, extra, train_cpu_seconds=cpu))
    return results


def _cross_entropy(logits: torch.Tensor, y: torch.Tensor, soft: bool) -> torch.Tensor:
    """Each seed's mean cross-entropy. logits (S, B, K); y (S, B) labels or (S, B, K) soft → (S,)."""
    if soft:
        return -(y * torch.log_softmax(logits, dim=-1)).sum(-1).mean(-1)
    return F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="none").view(y.shape).mean(1)


def _restore_frozen(holder: list[torch.Tensor], frozen: dict) -> None:
    """Undo the last step for stopped seeds (their slices still ride along in the stack)."""
    with torch.no_grad():
        for s, saved in frozen.items():
            for p, v in zip(holder, saved):
                p[s].copy_(v)


def _own_tensors(model: nn.Module) -> None:
    """Give ``model`` parameters of its own (copies of its slice), so it outlives the stack."""
    with torch.no_grad():
        for p in model.parameters():
            p.data = p.data.clone()
            p.grad = None
