"""Fishr (Rame et al. 2022, "Fishr: Invariant Gradient Variances for Out-of-Distribution Generalization",
https://arxiv.org/abs/2109.02934): match the variance of the classifier's per-example gradients across environments."""

from __future__ import annotations

from typing import Annotated, Literal

import torch
from pydantic import Field
from torch import nn
from torch.func import functional_call, grad, vmap

from regbench.models.parts import batch_features, features_and_classifier
from regbench.regularizers import register_regularizer
from regbench.regularizers.base import Batch
from regbench.regularizers.env_risks import (
    AnnealedPenalty,
    AnnealHandling,
    check_batch,
    env_parts,
    per_example_risk,
)


def plain_linear(classifier: nn.Module) -> bool:
    """True for an ``nn.Linear`` whose parameters are its weight (and bias) as they are (no parametrization)."""
    names = [n for n, _ in classifier.named_parameters()]
    return type(classifier) is nn.Linear and names in (["weight", "bias"], ["weight"])


def linear_per_example_grads(classifier: nn.Linear, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Closed form of :func:`per_example_grads` for a plain linear head: z (B, D), y (B, K) → (B, K·D [+ K]).

    The soft-target cross-entropy's gradient wrt the logits is δ_i = softmax(l_i) · Σ_k y_ik − y_i,
    so ∂r_i/∂W = δ_i z_iᵀ and ∂r_i/∂b = δ_i, what BackPACK computes for Fishr. Plain tensor ops:
    no autograd pass inside the step, and they run where ``torch.func`` does not (fake tensors).
    """
    logits = classifier(z)
    delta = torch.softmax(logits, dim=-1) * y.sum(-1, keepdim=True) - y  # (B, K)
    weight = (delta[:, :, None] * z[:, None, :]).flatten(1)  # (B, K·D), row-major like W's grad
    return torch.cat([weight, delta], dim=1) if classifier.bias is not None else weight


def per_example_grads(classifier: nn.Module, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Gradient of each example's risk wrt the classifier's parameters: z (B, D), y (B, K) → (B, P).

    The closed form for a plain ``nn.Linear`` (every built-in model's head), else
    ``torch.func.grad`` under ``vmap``; either stays differentiable wrt ``z`` and the
    parameters, so the penalty trains the feature extractor too (as BackPACK does in Fishr).
    """
    if plain_linear(classifier):
        return linear_per_example_grads(classifier, z, y)
    params = dict(classifier.named_parameters())

    def risk(p: dict, zi: torch.Tensor, yi: torch.Tensor) -> torch.Tensor:
        return per_example_risk(functional_call(classifier, p, (zi[None],)), yi[None])[0]

    grads = vmap(grad(risk), in_dims=(None, 0, 0), randomness="different")(params, z, y)
    return torch.cat([g.flatten(1) for g in grads.values()], dim=1)


def gradient_variance(g: torch.Tensor) -> torch.Tensor:
    """Per-coordinate (biased) variance over examples: (N, P) → (P,)."""
    return (g - g.mean(0)).pow(2).mean(0)


@register_regularizer("fishr")
class Fishr(AnnealedPenalty):
    """λ · (1/E) Σ_e mean((v_e − v̄)²), v_e the EMA of environment e's gradient variance.

    Weight ``weight_before_anneal`` (0) for ``anneal_iters`` steps, then ``lam`` (Adam reset
    then), and the variances are exponential moving averages with DomainBed's ``1 − ema``
    correction. DomainBed's defaults: λ = 1000, 1500 anneal steps, ema 0.95, the mean over
    coordinates and environments (DomainBed b93c22a ``algorithms.py`` l.1571-1696, whose
    ``l2_between_dicts`` takes ``.mean()``). Options for the authors' ColoredMNIST script
    (alexrame/fishr ``coloredmnist/train_coloredmnist.py``):

    - ``reduction: sum``: Σ_e Σ_coords (v_e − v̄)², the script's ``l2_between_grads_variance``
      (``.pow(2).sum()``, l.196-203) added over the two environments (l.258-261): with P
      head coordinates and E environments, P · E times the mean at equal λ.
    - ``ema: 0``: no moving average (the script uses each step's variance, l.168-194).
    - ``weight_before_anneal: 1``: the script's weight before the anneal (l.275,
      ``penalty_weight = ... else 1.0``); DomainBed's is 0.
    - ``anneal_handling: paper``: no Adam reset, the loss divided by λ after the switch
      (l.277-279; :class:`AnnealedPenalty`).
    """

    reads_features = True  # the trainer taps the training forward's features (Batch.features)

    def __init__(
        self,
        lam: Annotated[float, Field(ge=0)] = 1e3,
        anneal_iters: Annotated[int, Field(ge=0)] = 1500,
        ema: Annotated[float, Field(ge=0, lt=1)] = 0.95,
        reduction: Literal["mean", "sum"] = "mean",
        weight_before_anneal: Annotated[float, Field(ge=0)] = 0.0,
        anneal_handling: AnnealHandling = "domainbed",
    ):
        self.lam, self.anneal_iters, self.ema = lam, anneal_iters, ema
        self.reduction, self.anneal_handling = reduction, anneal_handling
        self.weight_before_anneal = weight_before_anneal

    @property
    def before(self) -> float:  # type: ignore[override]
        """The weight before the anneal, AnnealedPenalty's ``before``."""
        return self.weight_before_anneal

    def smoothed(self, e: int, v: torch.Tensor) -> torch.Tensor:
        """DomainBed's MovingAverage: m ← ema·m + (1 − ema)·v (m stored detached); returns m/(1 − ema)."""
        averages = self.__dict__.setdefault("_ema_var", {})
        previous = averages.get(e, torch.zeros_like(v)).to(v.device)
        current = self.ema * previous + (1 - self.ema) * v
        averages[e] = current.detach().clone()
        return current / (1 - self.ema)

    def penalty(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        _, y, env = check_batch(batch)
        _, classifier = features_and_classifier(model)
        g = per_example_grads(classifier, batch_features(model, batch), y)  # (B, P)
        ids = batch.env_ids or tuple(torch.unique(env).tolist())  # a hand-made batch: the ids present
        variances = [self.smoothed(e, gradient_variance(p)) for e, p in zip(ids, env_parts(g, batch))]
        mean = torch.stack(variances).mean(0)
        if self.reduction == "sum":
            pen = torch.stack([(v - mean).pow(2).sum() for v in variances]).sum()
        else:
            pen = torch.stack([(v - mean).pow(2).mean() for v in variances]).mean()
        return self.weight() * pen
