"""Normalization layers as regularizers: each sets the model's ``norm`` argument."""

from __future__ import annotations

from typing import Any

from regbench.regularizers import register_regularizer
from regbench.regularizers.base import Regularizer


class _Norm(Regularizer):
    kind = "architecture"
    norm: str = "none"

    def model_overrides(self) -> dict[str, Any]:
        return {"norm": self.norm}


@register_regularizer("batchnorm")
class BatchNorm(_Norm):
    """Batch normalization after each hidden layer (Ioffe & Szegedy, arXiv:1502.03167)."""

    norm = "batch"


@register_regularizer("layernorm")
class LayerNorm(_Norm):
    """Layer normalization after each hidden layer (Ba et al., arXiv:1607.06450)."""

    norm = "layer"


@register_regularizer("groupnorm")
class GroupNorm(_Norm):
    """Group normalization after each hidden layer (Wu & He, arXiv:1803.08494)."""

    norm = "group"


@register_regularizer("rmsnorm")
class RMSNorm(_Norm):
    """RMS normalization, LayerNorm without centring (Zhang & Sennrich, arXiv:1910.07467)."""

    norm = "rms"
