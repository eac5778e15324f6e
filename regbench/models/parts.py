"""The features / classifier split every built-in image classifier exposes (docs/plugins.md).

``model.features(x)`` maps inputs (B, *input_shape) to the representation the last layer
reads, (B, D); ``model.classifier`` is that last layer (a module mapping (B, D) → (B, K)),
so ``model(x) == model.classifier(model.features(x))``. Penalties on representations (CORAL,
MMD) call ``features``; Fishr differentiates the classifier's parameters only.
"""

from __future__ import annotations

import torch
from torch import nn


class SequentialClassifier(nn.Sequential):
    """An ``nn.Sequential`` whose last module is the classifier (parameter names unchanged)."""

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, *input_shape) → (B, D): every module but the last."""
        for layer in list(self)[:-1]:
            x = layer(x)
        return x

    @property
    def classifier(self) -> nn.Module:
        return self[-1]


def batch_features(model: nn.Module, batch) -> torch.Tensor:
    """(B, D) float features of ``batch.x``: the training forward's (``batch.features``) where
    the trainer tapped them, else a pass through ``model.features`` (a hand-made batch)."""
    if batch.features is not None:
        return batch.features.float()  # bf16 under autocast on CUDA; the penalty computes in fp32
    features, _ = features_and_classifier(model)
    return features(batch.x)


def features_and_classifier(model: nn.Module) -> tuple:
    """``(model.features, model.classifier)``, or a clear error naming what the model lacks."""
    if not (callable(getattr(model, "features", None)) and isinstance(getattr(model, "classifier", None), nn.Module)):
        raise TypeError(
            f"model {type(model).__name__} has no features(x) / classifier split, which this regularizer "
            "needs; every built-in image model has one (see docs/plugins.md, Models)"
        )
    return model.features, model.classifier
