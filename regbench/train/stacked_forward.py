"""The forward pass of S stacked copies of one model: a direct batched path for MLPs, vmap for the rest.

``vmap(functional_call(...))`` reaches any model, but each call swaps every parameter into the
module and dispatches each op through the batching layer: on a 2-core CPU that cost 10-25 % of
an MLP's step beside the batched matrix products themselves (benchmarks/bench_seed_batch.py).
A plain stack of Linear layers and elementwise modules — regbench's ``mlp`` — is computed here
directly, one ``baddbmm`` per layer over (S, B, in) activations and (S, out, in) weights.
Anything else (convolutions, norms, attention) goes through vmap.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, vmap

# modules that act elementwise (or not at all) on every activation: the seed dimension is
# just one more batch dimension to them; Dropout draws an independent mask per element, so
# each seed gets its own masks
ELEMENTWISE = (nn.ReLU, nn.GELU, nn.SiLU, nn.Tanh, nn.Sigmoid, nn.Identity, nn.Dropout)

Forward = Callable[[list[torch.Tensor], torch.Tensor], torch.Tensor]


def stacked_forwards(model: nn.Module, names: list[str]) -> tuple[Forward, Forward]:
    """(per_seed, shared) forward functions of S stacked copies of ``model``.

    ``per_seed(params, x)``: params[i] is the (S, …) stack of parameter ``names[i]``; x (S, B, …)
    → logits (S, B, K). ``shared(params, x)``: one x (N, …) for every seed → (S, N, K).
    """
    layers = _mlp_layers(model, names)
    if layers is not None:
        return (lambda p, x: _mlp(layers, p, x, True)), (lambda p, x: _mlp(layers, p, x, False))

    def forward(p: list[torch.Tensor], xb: torch.Tensor) -> torch.Tensor:
        return functional_call(model, dict(zip(names, p)), (xb,))

    return (
        vmap(forward, in_dims=(0, 0), randomness="different"),
        vmap(forward, in_dims=(0, None), randomness="different"),
    )


def _mlp_layers(model: nn.Module, names: list[str]) -> list | None:
    """The model as a list of steps, or None when it is not Flatten → (Linear | elementwise)*."""
    if type(model).forward is not nn.Sequential.forward:  # a subclass that overrides forward is not a plain chain
        return None
    index = {n: i for i, n in enumerate(names)}
    steps: list = []
    for i, (name, m) in enumerate(model.named_children()):
        if isinstance(m, nn.Flatten) and i == 0 and m.start_dim == 1 and m.end_dim == -1:
            steps.append("flatten")
        elif type(m) is nn.Linear:
            steps.append((index[f"{name}.weight"], index.get(f"{name}.bias")))
        elif type(m) in ELEMENTWISE:
            steps.append(m)
        else:
            return None
    return steps


def _mlp(steps: list, p: list[torch.Tensor], x: torch.Tensor, per_seed: bool) -> torch.Tensor:
    s = p[0].shape[0]
    h = x
    for step in steps:
        if step == "flatten":
            h = h.flatten(2) if per_seed else h.flatten(1)
        elif isinstance(step, tuple):
            w, b = p[step[0]], (p[step[1]] if step[1] is not None else None)
            if h.dim() == 2:  # shared input (N, in): every seed multiplies the same rows
                h = h.expand(s, *h.shape)
            wt = w.transpose(1, 2)  # (S, in, out)
            h = torch.bmm(h, wt) if b is None else torch.baddbmm(b.unsqueeze(1), h, wt)
        elif isinstance(step, nn.Dropout):
            h = F.dropout(h, step.p, step.training, step.inplace)
        else:
            h = step(h)
    return h


@torch.no_grad()
def stacked_eval_logits(models: list[nn.Module], x: torch.Tensor) -> torch.Tensor | None:
    """Logits of every model in ``models`` (S copies of one architecture, trained) on the same
    x (N, …) in one stacked pass → (S, N, K) float32, or None when the models are not the
    direct MLP path (:func:`stacked_forwards`): through vmap, convolutions and norms need not
    give the same bits as each model alone, and evaluation must.

    The chunks are those :func:`regbench.evaluate.records.predict_logits` gives each model
    alone: a matrix product's bits can depend on its row count, never on the rows beside it.
    """
    from regbench.evaluate.records import eval_batch_size

    names = [name for name, _ in models[0].named_parameters()]
    for m in models:
        m.eval()
    layers = _mlp_layers(models[0], names)
    if layers is None:
        return None
    params = [torch.stack([dict(m.named_parameters())[n].detach() for m in models]) for n in names]
    batch_size = eval_batch_size(models[0], x)
    chunks = [_mlp(layers, params, x[i : i + batch_size], False).float() for i in range(0, len(x), batch_size)]
    return torch.cat(chunks, dim=1) if chunks else None
