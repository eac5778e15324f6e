"""scikit-learn's 1,797 real 8×8 handwritten digits, shipped inside scikit-learn (offline)."""

from __future__ import annotations

import torch

from regbench.data import register_dataset
from regbench.data.base import DatasetInfo, Examples, Loaded
from regbench.data.splitting import stratified_parts


@register_dataset("digits")
def load_digits(seed: int, val_fraction: float = 0.2, test_fraction: float = 0.25) -> Loaded:
    """Real 8×8 handwritten digits (sklearn), 10 classes, split train/val/test by class.

    Images are (N, 1, 8, 8) float32 in [0, 1] (the raw 0..16 grey levels divided by 16).
    Digits are not flip-invariant (a mirrored 2 is not a 2), so ``flip_invariant`` is False.
    """
    from sklearn.datasets import load_digits as sk_load_digits

    raw = sk_load_digits()
    x = torch.tensor(raw.images, dtype=torch.float32).unsqueeze(1) / 16.0
    y = torch.tensor(raw.target, dtype=torch.int64)
    pool = Examples(x, y)
    parts = stratified_parts(pool, {"val": val_fraction, "test": test_fraction}, seed=seed)
    info = DatasetInfo(
        name="digits",
        num_classes=10,
        input_shape=(1, 8, 8),
        flip_invariant=False,
        details={"source": "sklearn.datasets.load_digits", "n": len(pool)},
    )
    return Loaded(info, parts)
