"""Seed-batched training: the S seeds of one benchmark × regularizer trained as one stacked model.

Each seed keeps its own initialization (the caller builds one model per seed), its own data
order (``torch_generator(seed, "order")``, exactly the permutation a separate run draws), its
own dropout masks (``vmap(randomness="different")``), its own history and its own stack, so
early stopping stops and restores each seed on its own. The parameters of the S models are
stacked along a leading seed dimension and trained through ``torch.func.functional_call`` under
``vmap``; the optimizers regbench uses (Adam, AdamW, SGD with momentum) are elementwise, so
one optimizer over the stacked tensors is S independent optimizers. Only stacks that act per
run — no batch transform, loss, penalty, gradient hook or parameter groups — and models
without buffers (BatchNorm statistics) can be batched; :func:`batch_blocker` says why not.
See docs/architecture.md, "Stages" (train/).
"""

from __future__ import annotations

import math
import time

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from regbench.config import TrainSpec
from regbench.data.base import TrainingData
from regbench.regularizers.base import History
from regbench.regularizers.stack import Stack
from regbench.seeding import seeded_global_rng, torch_generator
from regbench.tasks import task_for
from regbench.train.loop import CPU, Diverged, TrainResult, make_optimizer, make_scheduler, setup_context

PER_STEP_HOOKS = ("transform", "loss", "penalty", "after_backward")


def batch_blocker(model: nn.Module, data: TrainingData, stack: Stack) -> str | None:
    """Why this run cannot join a seed batch (None when it can)."""
    for m in stack.members:
        if getattr(m, "batchable", True) is False:
            return f"regularizer '{type(m).__name__}' declares batchable = False"
    hooks = [h for h in PER_STEP_HOOKS if stack.has(h)]
    if hooks:
        return f"the stack defines per-step hooks ({', '.join(hooks)})"
    if stack.param_groups(model) is not None:
        return "the stack defines parameter groups"
    if getattr(stack, "needs_input_grad", False):
        return "the stack differentiates with respect to the input"
    if task_for(data.info, stack).name != "classification":
        return "only classification runs are batched"
    if any(True for _ in model.buffers()):
        return "the model keeps buffers (BatchNorm statistics are per model)"
    return None


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
    set per seed is not batched). x (N, …) is indexed per seed into (S, B, …) batches; logits
    are (S, B, K). On return each ``models[s]`` holds its seed's final weights (after its
    stack's ``finish``, e.g. early stopping's restore). A seed whose loss becomes non-finite
    gets a :class:`Diverged` in its place and stops; the others go on.
    """
    n_seeds = len(models)
    for stack in stacks:
        stack.setup(setup_context(data, spec, device, "classification"))
    x, y = data.train.x.to(device), data.train.y.to(device)
    xv, yv = data.val.x.to(device), data.val.y.to(device)
    params, _ = stack_module_state(models)  # name → (S, …) leaf tensors
    holder = nn.ParameterList([nn.Parameter(p) for p in params.values()])
    names = list(params)
    skeleton = models[0]

    def forward(p: list[torch.Tensor], xb: torch.Tensor) -> torch.Tensor:
        return functional_call(skeleton, dict(zip(names, p)), (xb,))

    per_seed = vmap(forward, in_dims=(0, 0), randomness="different")  # (S, B, …) → (S, B, K)
    shared = vmap(forward, in_dims=(0, None), randomness="different")  # (N, …) → (S, N, K)
    n, bs = len(x), spec.batch_size
    starts = [i for i in range(0, n, bs) if not (i > 0 and n - i == 1)]
    opt = make_optimizer(holder, stacks[0], spec)
    sched = make_scheduler(opt, spec, len(starts))
    order_gs = [torch_generator(seed, "order") for seed in seeds]
    histories = [History() for _ in seeds]
    outcome: list[Diverged | None] = [None] * n_seeds
    active = torch.ones(n_seeds, dtype=torch.bool)
    frozen: list[list[torch.Tensor] | None] = [None] * n_seeds  # a stopped seed's weights
    samples, t0, c0 = 0, time.perf_counter(), time.process_time()
    # one stream for the batch's dropout masks, seeded from the first seed (a separate run
    # seeds its own; the masks differ but are drawn from the same distribution)
    with seeded_global_rng(seeds[0], "dropout", device=device):
        for epoch in range(1, spec.epochs + 1):
            skeleton.train()
            perms = torch.stack([torch.randperm(n, generator=g) for g in order_gs]).to(device)  # (S, N)
            loss_sum = torch.zeros(n_seeds, device=device)
            correct = torch.zeros(n_seeds, dtype=torch.long, device=device)
            for j, i in enumerate(starts):
                end = starts[j + 1] if j + 1 < len(starts) else n
                idx = perms[:, i:end]  # (S, B)
                logits = per_seed(list(holder), x[idx]).float()  # (S, B, K)
                yb = y[idx]
                losses = F.cross_entropy(logits.flatten(0, 1), yb.flatten(), reduction="none").view(idx.shape)
                losses = losses.mean(1)  # (S,) each seed's own mean loss; their sum has each seed's gradient
                opt.zero_grad(set_to_none=True)
                losses.sum().backward()
                opt.step()
                if sched is not None:
                    sched.step()
                _restore_frozen(holder, frozen)
                loss_sum.add_(losses.detach(), alpha=end - i)
                correct.add_((logits.argmax(-1) == yb).sum(1))
                samples += (end - i) * int(active.sum())
            skeleton.eval()
            with torch.no_grad():
                vlogits = shared(list(holder), xv).float()  # (S, Nv, K)
                vloss = F.cross_entropy(vlogits.permute(0, 2, 1), yv.expand(n_seeds, -1), reduction="none").mean(1)
                vacc = (vlogits.argmax(-1) == yv).double().mean(1)
            train_loss, train_acc = (loss_sum / n).tolist(), (correct.double() / n).tolist()
            for s in range(n_seeds):
                if not active[s]:
                    continue
                if not (math.isfinite(train_loss[s]) and math.isfinite(float(vloss[s]))):
                    outcome[s] = Diverged(epoch, train_loss[s] if not math.isfinite(train_loss[s]) else float(vloss[s]))
                    _stop(s, holder, active, frozen)
                    continue
                h = histories[s]
                h.train_loss.append(train_loss[s])
                h.train_accuracy.append(train_acc[s])
                h.val_loss.append(float(vloss[s]))
                h.val_accuracy.append(float(vacc[s]))
                _load_seed(models[s], names, holder, s)
                stacks[s].after_epoch(models[s], h)
                if stacks[s].should_stop(h):
                    _stop(s, holder, active, frozen)
            if not active.any():
                break
        seconds = (time.perf_counter() - t0) / n_seeds  # the batch's time, shared evenly
        cpu = (time.process_time() - c0) / n_seeds
        results: list[TrainResult | Diverged] = []
        for s in range(n_seeds):
            if outcome[s] is not None:
                results.append(outcome[s])
                continue
            _load_seed(models[s], names, holder, s)
            h = histories[s]
            extra = stacks[s].finish(models[s], h)
            best = min(range(len(h.val_loss)), key=h.val_loss.__getitem__) + 1
            if "restored_epoch" in extra:
                best = int(extra["restored_epoch"])
            results.append(TrainResult(h, h.epoch, best, seconds, len(h.train_loss) * n, extra, train_cpu_seconds=cpu))
    return results


def _stop(s: int, holder: nn.ParameterList, active: torch.Tensor, frozen: list) -> None:
    """Seed ``s`` trains no further: its weights are kept as they are now."""
    active[s] = False
    frozen[s] = [p.detach()[s].clone() for p in holder]


def _restore_frozen(holder: nn.ParameterList, frozen: list) -> None:
    """Undo the last step for stopped seeds (their slices still ride along in the stack)."""
    with torch.no_grad():
        for s, saved in enumerate(frozen):
            if saved is not None:
                for p, v in zip(holder, saved):
                    p[s].copy_(v)


def _load_seed(model: nn.Module, names: list[str], holder: nn.ParameterList, s: int) -> None:
    """Copy seed ``s``'s slice of the stacked parameters into its own module."""
    with torch.no_grad():
        own = dict(model.named_parameters())
        for name, p in zip(names, holder):
            own[name].copy_(p[s])
