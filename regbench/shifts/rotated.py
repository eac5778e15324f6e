"""Rotated digits: one domain per rotation angle, the held-out angle as the OOD test.

DomainBed's ``RotatedMNIST`` (Gulrajani & Lopez-Paz 2020, https://arxiv.org/abs/2007.01434;
after Ghifary et al. 2015): domains at 0, 15, 30, 45, 60 and 75 degrees, evaluated leave one
domain out. Here one benchmark holds out ``test_domain``: every train, val and test_id
example is dealt to one of the other (training) domains after a seeded shuffle and rotated
by its angle (``meta["env"]`` = the domain's index among the training domains), and the OOD
split ``rotation_<angle>`` is the whole test part rotated by the held-out angle. Rotation is
torchvision's bilinear ``rotate`` about the centre, filling with 0 (the background).
"""

from __future__ import annotations

import dataclasses

import torch
from torchvision.transforms.v2.functional import InterpolationMode, rotate

from regbench.data.base import Examples, Loaded, Splits
from regbench.seeding import torch_generator
from regbench.shifts import register_shift
from regbench.shifts.base import Shift, base_splits
from regbench.shifts.params.rotated import RotatedParams
from regbench.shifts.colored_mnist import round_robin_envs


def rotate_by(x: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """x (N, C, H, W) with example i rotated by angles[i] degrees (N,); one call per distinct angle."""
    out = x.clone()
    for a in torch.unique(angles).tolist():
        sel = angles == a
        out[sel] = rotate(x[sel], a, interpolation=InterpolationMode.BILINEAR)
    return out


@register_shift("rotated")
class Rotated(Shift):
    """Leave-one-domain-out over rotation angles; training envs are the other domains."""

    family = "covariate"
    Params = RotatedParams

    def apply(self, loaded: Loaded, seed: int) -> Splits:
        """train/val/test_id over the training domains; ``rotation_<test_domain>`` the held-out one."""
        p: RotatedParams = self.params  # type: ignore[assignment]
        angles = torch.tensor(p.train_domains())
        out: dict[str, Examples] = {}
        train, val, pool = base_splits(loaded)
        test, held_out = self.test_part(pool, seed)
        for name, ex in zip(("train", "val", "test_id"), (train, val, test)):
            env = round_robin_envs(len(ex), len(angles), torch_generator(seed, "shift", "rotated", name))
            out[name] = Examples(rotate_by(ex.x, angles[env]), ex.y, {**ex.meta, "env": env, "angle": angles[env]})
        test_angle = torch.full((len(test),), float(p.test_domain))
        ood_name = f"rotation_{p.test_domain:g}"
        ood = Examples(rotate_by(test.x, test_angle), test.y, {**test.meta, "angle": test_angle})
        info = {
            "family": self.family,
            "shift": "rotation",
            "severity": p.test_domain,
            "train_domains": angles.tolist(),
            **held_out,
        }
        factors = tuple(dict.fromkeys([*loaded.info.factors, "env", "angle"]))
        data_info = dataclasses.replace(loaded.info, factors=factors)
        split_info = {ood_name: info, "test_id": {"family": self.family, "shift": "none", **held_out}}
        return Splits(out["train"], out["val"], out["test_id"], {ood_name: ood}, data_info, split_info)
