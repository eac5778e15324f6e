"""Covariate shift: the clean test set corrupted at several severities, and rotation domains.

CIFAR-10-C / ImageNet-C style (Hendrycks & Dietterich 2019, https://arxiv.org/abs/1903.12261):
one OOD split per (corruption, severity), named ``"<corruption>/<severity>"``. Generated
splits use the dataset's calibrated severity table (``corruptions.corruption_scale``; CIFAR-10
keeps CIFAR-10-C's parameters) and record the scale and parameter in ``split_info``. Optional
rotation domains as in RotatedMNIST (Ghifary et al. 2015, https://arxiv.org/abs/1508.07680):
one OOD split per angle, named ``"rotate_<angle>"``. Train, val and test_id stay clean, so
nothing the trainer or model selection sees comes from a shifted distribution. test_id and
every corrupted split are the family's own shard of the held-out images (shifts/held_out.py),
so the corruptions still apply to the test set of their own benchmark.
"""

from __future__ import annotations


from regbench.data.base import Examples, Loaded, Splits
from regbench.seeding import torch_generator
from regbench.shifts import register_shift
from regbench.shifts.base import Shift, base_splits
from regbench.shifts.params.covariate import CovariateParams
from regbench.shifts.corruptions import (
    REQUIRES_RGB,
    corrupt,
    corruption_scale,
    rotate_by,
    severity_table,
)


def _plain(value):
    """A table entry as JSON-friendly floats (tuples become lists)."""
    return [float(v) for v in value] if isinstance(value, tuple) else float(value)


def _angle_name(angle: float) -> str:
    return f"rotate_{angle:g}"  # 15.0 → rotate_15, 22.5 → rotate_22.5


@register_shift("covariate")
class CovariateShift(Shift):
    """Corrupted copies of the clean test set, one OOD split per corruption × severity."""

    family = "covariate"
    Params = CovariateParams

    def apply(self, loaded: Loaded, seed: int) -> Splits:
        """train/val/test_id clean; ``ood["<corruption>/<severity>"]`` and ``ood["rotate_<angle>"]``.

        Each corrupted split draws its noise from ``torch_generator(seed, "shift", name,
        severity)`` alone, so adding a corruption never changes another's draws.
        """
        p: CovariateParams = self.params  # type: ignore[assignment]
        train, val, pool = base_splits(loaded)
        # published corruption files (CIFAR-10-C) index the whole test set: keep it whole
        published = "published corruption files" if any(k.startswith("c/") for k in loaded.parts) else None
        test, held_out = self.test_part(pool, seed, whole=published)
        channels = test.x.shape[1]
        rgb_only = [c for c in p.corruptions if c in REQUIRES_RGB and p.severities]
        if rgb_only and channels != 3:
            raise ValueError(
                f"corruption(s) {rgb_only} need 3-channel images but dataset '{loaded.info.name}' "
                f"has {channels}; remove them from the shift's corruptions"
            )
        ood: dict[str, Examples] = {}
        split_info: dict[str, dict] = {"test_id": {"family": self.family, "shift": "none", **held_out}}
        for name in p.corruptions:
            for severity in p.severities:
                key = f"{name}/{severity}"
                published = loaded.parts.get(f"c/{key}")  # e.g. CIFAR-10-C's own .npy files
                if published is not None:
                    ood[key] = published
                    source = "published"
                    scale = 1.0  # the published files carry CIFAR-10-C's own parameters
                else:
                    g = torch_generator(seed, "shift", name, severity)
                    calibrated = p.severity_table == "calibrated"
                    scale = corruption_scale(loaded.info.name, name) if calibrated else 1.0
                    ood[key] = test.replace(x=corrupt(test.x, name, severity, g, scale))
                    source = "generated"
                split_info[key] = {
                    "family": "covariate",
                    "shift": name,
                    "severity": severity,
                    "source": source,
                    "scale": scale,  # the dataset's calibration of the severity table (1 = CIFAR-10-C)
                    "parameter": _plain(severity_table(name, scale)[severity - 1]),
                    **held_out,
                }
        for angle in p.angles or []:
            key = _angle_name(angle)
            ood[key] = test.replace(x=rotate_by(test.x, angle))
            split_info[key] = {"family": "covariate", "shift": "rotate", "severity": None, "angle": angle, **held_out}
        return Splits(train, val, test, ood, loaded.info, split_info)
