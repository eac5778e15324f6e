"""The per-step hooks of a seed batch, each called on one seed's own slice (regbench.train.seed_batch).

A stacked model trains S seeds at once, but a hook is written for one run: it takes that
run's batch, targets, generator and model. So each hook is called once per seed with that
seed's (B, …) slice of the (S, B, …) batch, its own augmentation generator (the stream a
separate run of that seed draws from), and its own module, whose parameters are views of
the stacked tensors' slice ``s`` (:func:`alias_seed_views`):

- ``transform`` (augmentations, mixup/cutmix, label smoothing): the same draws as the seed's
  separate run, since it sees the same examples in the same order with the same generator.
- ``loss``: the seed's own loss of its (B, K) logits.
- ``penalty`` (weight penalties, logit penalties): computed on the seed's module, whose
  parameters are leaves of their own; after backward their gradients are added into slice
  ``s`` of the stacked gradient, so a penalty that runs the model (feature alignment) is
  differentiated too.
- ``after_backward`` (gradient clipping): the seed's module sees its slice of the stacked
  gradient as its ``.grad``, so ``clip_grad_norm_`` clips each seed by its own norm.

A Python loop over seeds per step is the price; stacks without these hooks skip it.
"""

from __future__ import annotations

import torch
from torch import nn

from regbench.regularizers.base import Batch
from regbench.regularizers.stack import Stack
from regbench.seeding import torch_generator


def alias_seed_views(models: list[nn.Module], names: list[str], holder: list[torch.Tensor]) -> None:
    """Make ``models[s]``'s parameter ``names[i]`` a view of ``holder[i][s]`` (same storage).

    The modules keep their Parameter objects (so optimizer groups and hooks that hold them
    still work); only their data now lives in the stacked tensors.
    """
    for s, model in enumerate(models):
        own = dict(model.named_parameters())
        for name, p in zip(names, holder):
            own[name].data = p.data[s]


def stacked_groups(
    stacks: list[Stack], models: list[nn.Module], names: list[str], holder: list[torch.Tensor]
) -> list[dict]:
    """The stacks' parameter groups, taken from one seed's module and mapped onto the stacked tensors.

    A group decides by a parameter's shape or role (e.g. weight decay on ≥ 2-D weights only),
    which the stacked tensor (one more dimension) would misreport, so each of a seed's module's
    parameters is replaced by its stacked tensor. Every seed's stack is asked, as its separate
    run's optimizer would ask it (a member may note what it grouped, e.g. ``decayed_params``).
    """
    groups = [st.param_groups(m) for st, m in zip(stacks, models)][0]
    if groups is None:
        return [{"params": list(holder)}]
    own = dict(models[0].named_parameters())
    stacked = {id(own[n]): p for n, p in zip(names, holder)}
    return [{**g, "params": [stacked[id(p)] for p in g["params"]]} for g in groups]


class SeedHooks:
    """The per-step hooks of ``stacks`` for the seed batch of ``models`` (one per seed)."""

    def __init__(
        self,
        models: list[nn.Module],
        stacks: list[Stack],
        names: list[str],
        holder: list[torch.Tensor],
        seeds: list[int],
        device: torch.device,
        num_classes: int,
        meta: dict[str, torch.Tensor] | None = None,
    ):
        self.models, self.stacks, self.names, self.holder = models, stacks, names, holder
        first = stacks[0]
        self.transforms, self.losses = first.has("transform"), first.has("loss")
        self.penalized, self.clips = first.has("penalty"), first.has("after_backward")
        self.aug_gs = [torch_generator(seed, "augment", device=str(device)) for seed in seeds]
        self.k = num_classes
        meta = meta or {}
        self.env, self.group = (meta[key].to(device) if key in meta else None for key in ("env", "group"))
        self.params = [[dict(m.named_parameters())[n] for n in names] for m in models]  # [s][i]

    def transform(self, xb: torch.Tensor, yb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """xb (S, B, …), yb (S, B, K) → the same shapes, each seed transformed with its own generator."""
        outs = [st.transform(xb[s], yb[s], g) for s, (st, g) in enumerate(zip(self.stacks, self.aug_gs))]
        return torch.stack([o[0] for o in outs]), torch.stack([o[1] for o in outs])

    def loss(self, logits: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        """Each seed's stack loss. logits (S, B, K), yb (S, B, K) → (S,)."""
        return torch.stack([st.data_loss(logits[s], yb[s]) for s, st in enumerate(self.stacks)])

    def penalty(self, logits: torch.Tensor, xb: torch.Tensor, yb: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """Each seed's penalty on its own module and batch slice → (S,). idx (S, B) example ids."""
        out = []
        for s, st in enumerate(self.stacks):
            y_s = yb[s] if yb.dim() == 3 else nn.functional.one_hot(yb[s], self.k).float()
            env = None if self.env is None else self.env[idx[s]]
            group = None if self.group is None else self.group[idx[s]]
            value = st.penalty(self.models[s], Batch(xb[s], y_s, logits[s], env, group))
            out.append(torch.as_tensor(value, dtype=logits.dtype, device=logits.device))
        return torch.stack(out)

    def after_backward(self) -> None:
        """Fold the penalties' gradients into the stacked gradient, then run gradient hooks per seed."""
        if not (self.penalized or self.clips):
            return
        with torch.no_grad():
            for s, own in enumerate(self.params):
                for p, hp in zip(own, self.holder):
                    if p.grad is not None:
                        hp.grad[s].add_(p.grad)
                        p.grad = None
        if not self.clips:
            return
        for s, (st, own) in enumerate(zip(self.stacks, self.params)):
            views = [hp.grad[s] for hp in self.holder]
            for p, v in zip(own, views):
                p.grad = v  # in-place changes (clip_grad_norm_) land in the stacked gradient
            st.after_backward(self.models[s])
            with torch.no_grad():
                for p, v in zip(own, views):
                    if p.grad is not None and p.grad is not v:  # a hook that assigned a new gradient
                        v.copy_(p.grad)
                    p.grad = None
