"""AugMix (Hendrycks et al. 2020, arXiv:1912.02781): mixed augmentation chains and a Jensen–Shannon consistency loss.

An AugMix image is m·x + (1 − m)·Σ_i w_i·chain_i(x), with ``width`` chains of 1 to 3 random
ops each, w ~ Dirichlet(α, …, α) and m ~ Beta(α, α) (the paper's Algorithm 1, as torchvision
v2 ``AugMix`` implements it: its op table, magnitudes on a 10-level scale of which the first
``severity`` are drawn, bilinear interpolation). Training uses the clean image and two AugMix
views of it: the data loss is the clean logits' cross-entropy and the penalty is
λ · JS(p_clean, p_aug1, p_aug2) (§3, "Jensen–Shannon divergence consistency loss").

Within the hooks: ``transform`` leaves the batch clean and draws the two views of it (so the
trainer's forward pass gives the clean logits and its loss is the clean cross-entropy);
``penalty`` runs the model on both views at once, (2B, …), and returns the JSD term. The paper
runs the three in one forward pass, so BatchNorm's batch statistics differ slightly here
(clean batch, then the two views); everything else is its loss.

Batched: the 2B views × ``width`` chains are one (width·2B, C, H, W) tensor; each of the 3
chain steps draws an op, a magnitude and a sign per row (a row whose chain is shorter draws
"unchanged") and runs through :func:`~regbench.regularizers.augment.apply_actions`: one
torchvision op call per distinct action drawn (on a GPU, per action of the table, on the
whole batch, kept where drawn). There is no per-sample Python loop
(benchmarks/bench_augmix.py measures it against one).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Annotated, Any

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from regbench.params import NonNegative, Positive, PositiveInt
from regbench.regularizers import register_regularizer
from regbench.regularizers.augment import _ActionTable, _on_device, _op_magnitude, _randint, apply_actions, check_images
from regbench.regularizers.base import Batch, Regularizer, SetupContext
from regbench.regularizers.mix import beta, dirichlet

MAX_LEVEL = 10  # torchvision AugMix's _PARAMETER_MAX: magnitudes on a 10-level scale
MAX_CHAIN_DEPTH = 3  # chain_depth -1 draws a depth from {1, 2, 3} (the paper's Algorithm 1)


@functools.cache
def augmix_table(severity: int, all_ops: bool, h: int, w: int) -> tuple[_ActionTable, torch.Tensor]:
    """Actions of AugMix on h×w images: ids (ops, severity levels, 2 signs) into the table."""
    from torchvision.transforms import v2

    space = v2.AugMix._AUGMENTATION_SPACE if all_ops else v2.AugMix._PARTIAL_AUGMENTATION_SPACE
    table = _ActionTable()
    ids = [[table.add(n, *_op_magnitude(space, n, MAX_LEVEL, lvl, h, w)) for lvl in range(severity)] for n in space]
    return table, torch.tensor(ids)


@dataclass(frozen=True)
class AugMixDraw:
    """Every random choice of AugMix for N images, on one device.

    action: (depth, width, N) int64 action ids of chain step d of chain i for image n (−1:
    unchanged, the chain is shorter); m: (N,) weight of the original image; w: (N, width)
    chain weights (rows sum to 1).
    """

    action: torch.Tensor
    m: torch.Tensor
    w: torch.Tensor


def draw_augmix(
    g: torch.Generator, n: int, ids: torch.Tensor, width: int, chain_depth: int, alpha: float, device
) -> AugMixDraw:
    """AugMix's draws for n images from g; ids: (ops, levels, 2) from :func:`augmix_table`."""
    ops, levels, _ = ids.shape
    ids = _on_device(ids, g.device)
    rows = width * n
    if chain_depth > 0:
        depth = torch.full((rows,), chain_depth, device=g.device)
    else:
        depth = 1 + _randint(g, MAX_CHAIN_DEPTH, rows, g.device)
    steps = []
    for d in range(max(chain_depth, MAX_CHAIN_DEPTH)):
        op, lvl = _randint(g, ops, rows, g.device), _randint(g, levels, rows, g.device)
        neg = (torch.rand(rows, generator=g, device=g.device) < 0.5).long()
        steps.append(torch.where(d < depth, ids[op, lvl, neg], -1))
    action = torch.stack(steps).view(-1, width, n).to(device)
    return AugMixDraw(action, beta(g, alpha, n, device), dirichlet(g, alpha, width, n, device))


def apply_augmix(x: torch.Tensor, draw: AugMixDraw, actions: list[tuple[str, float]]) -> torch.Tensor:
    """x (N, C, H, W) float in [0, 1] → its AugMix images (N, C, H, W), all chains batched."""
    from torchvision.transforms.v2 import InterpolationMode

    depth, width, n = draw.action.shape
    chains = x.repeat(width, 1, 1, 1)  # (width·N, C, H, W): row i·N + k is chain i of image k
    for d in range(depth):
        chains = apply_actions(chains, draw.action[d].reshape(-1), actions, InterpolationMode.BILINEAR)
    chains = chains.view(width, n, *x.shape[1:])
    mixed = torch.einsum("nw,wn...->n...", draw.w.to(x.dtype), chains)
    m = draw.m.to(x.dtype).view(-1, 1, 1, 1)
    return m * x + (1.0 - m) * mixed


def jensen_shannon(*logits: torch.Tensor) -> torch.Tensor:
    """JS(p_1, …, p_k) = (1/k) Σ_j KL(p_j ‖ M), M = mean p_j, of softmax(logits_j), each (B, K) → scalar.

    As the paper's code: M is clamped to [1e-7, 1] before its log, and each KL is a mean over B.
    """
    probs = [F.softmax(z, dim=1) for z in logits]
    log_mixture = torch.clamp(sum(probs) / len(probs), 1e-7, 1.0).log()
    return sum(F.kl_div(log_mixture, p, reduction="batchmean") for p in probs) / len(probs)


@register_regularizer("augmix")
class AugMix(Regularizer):
    """AugMix views and the JSD consistency loss (Hendrycks et al., arXiv:1912.02781).

    Defaults: λ = 12 (``lam``, §4.1: "we set λ = 12"); width 3 chains, depth drawn from 1–3
    (``chain_depth`` −1), severity 3, α = 1 (§3 and Algorithm 1; torchvision v2 ``AugMix``'s
    defaults too); ``all_ops`` False: the paper leaves out the ops that overlap its test
    corruptions (contrast, colour, brightness, sharpness; §3), where torchvision's default is
    True. ``lam`` 0 leaves training unchanged, since the data loss is on the clean images (a
    no-op, which the mechanism number flags).
    """

    kind = "augmentation"
    modalities = ("image",)  # image ops: refused on audio and text when a suite loads

    def __init__(
        self,
        lam: NonNegative = 12.0,
        severity: Annotated[int, Field(ge=1, le=MAX_LEVEL)] = 3,
        width: PositiveInt = 3,
        chain_depth: Annotated[int, Field(ge=-1, le=MAX_CHAIN_DEPTH)] = -1,
        alpha: Positive = 1.0,
        all_ops: bool = False,
    ):
        self.lam = lam
        self.severity = severity
        self.width = width
        self.chain_depth = chain_depth
        self.alpha = alpha
        self.all_ops = all_ops

    def setup(self, ctx: SetupContext) -> None:
        if self.chain_depth == 0:
            raise ValueError("augmix: chain_depth must be -1 (random 1-3) or 1-3, got 0")
        if not 1 <= self.severity <= MAX_LEVEL:
            raise ValueError(f"augmix: severity must be in [1, {MAX_LEVEL}], got {self.severity}")

    def views(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        """x (B, C, H, W) → two independent AugMix views of it, (2B, C, H, W): [view 1; view 2]."""
        b, _, h, w = x.shape
        table, ids = augmix_table(self.severity, self.all_ops, h, w)
        draw = draw_augmix(g, 2 * b, ids, self.width, self.chain_depth, self.alpha, x.device)
        return apply_augmix(x.repeat(2, 1, 1, 1), draw, table.actions)

    def transform(self, x: torch.Tensor, y: torch.Tensor, g: torch.Generator):
        check_images(x, "augmix")
        # the step's views, read by ``penalty`` after the trainer's clean forward pass
        self._views = self.views(x, g) if self.lam > 0 else None
        return x, y

    def penalty(self, model: nn.Module, batch: Batch) -> torch.Tensor | float:
        views, self._views = self.__dict__.get("_views"), None
        if views is None:
            return 0.0
        aug1, aug2 = model(views).chunk(2)
        return self.lam * jensen_shannon(batch.logits, aug1, aug2)

    def state_dict(self) -> dict[str, Any]:
        return {}  # the views live for one step only
