"""CORAL and MMD: align the features of the training environments (DomainBed's ``AbstractMMD``).

CORAL: Sun & Saenko 2016, "Deep CORAL", https://arxiv.org/abs/1607.01719 (means and
covariances). MMD: Li et al. 2018, "Domain Generalization with Adversarial Feature Learning",
https://openaccess.thecvf.com/content_cvpr_2018/papers/Li_Domain_Generalization_With_CVPR_2018_paper.pdf
(a mixture of Gaussian kernels). Both read ``model.features(x)`` (regbench.models.parts) and
add γ × the mean of the pairwise distances over environment pairs.
"""

from __future__ import annotations

import itertools
from typing import Annotated

import torch
from pydantic import Field
from torch import nn

from regbench.models.parts import batch_features
from regbench.regularizers import register_regularizer
from regbench.regularizers.base import Batch, Regularizer
from regbench.regularizers.env_risks import check_batch, env_parts

KERNEL_GAMMAS = (0.001, 0.01, 0.1, 1.0, 10.0, 100.0, 1000.0)  # DomainBed's mixture


def covariance(a: torch.Tensor) -> torch.Tensor:
    """Unbiased covariance of features a (N, D) → (D, D), as ``torch.cov(a.T)``.

    Written out because ``torch.cov`` compares tensors on the host (an ``aten.equal``),
    a device sync per step on a GPU.
    """
    centred = a - a.mean(0)
    return centred.T @ centred / (len(a) - 1)


def coral_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """mean((μ_a − μ_b)²) + mean((C_a − C_b)²) of features a (N, D), b (M, D) → scalar."""
    mean_diff = (a.mean(0) - b.mean(0)).pow(2).mean()
    cov_diff = (covariance(a) - covariance(b)).pow(2).mean()
    return mean_diff + cov_diff


def gaussian_kernel(a: torch.Tensor, b: torch.Tensor, gammas=KERNEL_GAMMAS) -> torch.Tensor:
    """Σ_γ exp(−γ ‖a_i − b_j‖²): a (N, D), b (M, D) → (N, M).

    Squared distances by expansion, clamped at 1e-30: torch.cdist's gradient is NaN at
    distance 0, which every a_i against itself is.
    """
    d2 = (a.pow(2).sum(1, keepdim=True) + b.pow(2).sum(1) - 2 * a @ b.T).clamp_min(1e-30)
    return sum(torch.exp(-g * d2) for g in gammas)


def mmd_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Biased MMD² under :func:`gaussian_kernel`: mean K(a,a) + mean K(b,b) − 2 mean K(a,b)."""
    return gaussian_kernel(a, a).mean() + gaussian_kernel(b, b).mean() - 2 * gaussian_kernel(a, b).mean()


class FeatureAlignment(Regularizer):
    """γ · mean over environment pairs (i < j) of ``distance(features_i, features_j)``."""

    kind = "penalty"
    needs_envs = True
    reads_features = True  # the trainer taps the training forward's features (Batch.features)
    gamma: float

    def distance(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:  # pragma: no cover - interface
        raise NotImplementedError

    def penalty(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        check_batch(batch)
        z = batch_features(model, batch)  # (B, D)
        parts = env_parts(z, batch)  # one (n_e, D) per environment
        pairs = list(itertools.combinations(parts, 2))
        return self.gamma * torch.stack([self.distance(a, b) for a, b in pairs]).mean()


@register_regularizer("coral")
class CORAL(FeatureAlignment):
    """Deep CORAL across environments: γ · mean pairwise (mean + covariance) distance. DomainBed: γ = 1."""

    def __init__(self, gamma: Annotated[float, Field(ge=0)] = 1.0):
        self.gamma = gamma

    def distance(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return coral_distance(a, b)


@register_regularizer("mmd")
class MMD(FeatureAlignment):
    """Gaussian-kernel MMD across environments: γ · mean pairwise MMD². DomainBed: γ = 1."""

    def __init__(self, gamma: Annotated[float, Field(ge=0)] = 1.0):
        self.gamma = gamma

    def distance(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return mmd_distance(a, b)
