"""Spurious correlation: a colour agrees with the label in training and not at test time.

A multi-class ColoredMNIST (Arjovsky et al. 2019, "Invariant Risk Minimization",
https://arxiv.org/abs/1907.02893; the K-colour form as in Bahng et al. 2020,
https://arxiv.org/abs/1910.02806). The palette has K = num_classes colours, colour k
"agreeing" with class k. Each example gets its class's colour with probability ρ, otherwise
a uniformly random *other* colour. train, val and test_id use ρ_train (validation stays
in-distribution); the OOD split re-colours the test part with ρ_test. Groups are
class × colour (``group = y · K + colour``), for worst-group accuracy as in wilds.

Painting:
- 1-channel images (digits; grey level g in [0, 1]) become RGB. ``foreground`` paints the
  strokes: x = g · rgb. ``background`` paints the background and keeps white strokes:
  x = g + (1 − g) · rgb.
- shapes (3-channel, with the factor meta of ``regbench.data.shapes``) are re-rendered with
  ``render_shapes``: ``foreground`` replaces the shape's colour, ``background`` the
  background colour. Re-rendering keeps the anti-aliased edge exact, which replacing pixels
  through a mask would not. Other 3-channel data is refused with a clear error.
"""

from __future__ import annotations

import colorsys
import dataclasses
from typing import Any

import torch

from regbench.data.base import Examples, Loaded, Splits
from regbench.data.shapes import render_shapes
from regbench.seeding import torch_generator
from regbench.shifts import register_shift
from regbench.shifts.base import Shift, base_splits
from regbench.shifts.params.spurious import SpuriousParams

SHAPE_FACTORS = ("shape", "size", "pos_x", "pos_y")  # what re-rendering a shape needs
# Brightness (HSV value) of the palettes: bright colours for strokes and shapes, dark ones
# for backgrounds, so that the object stays visible whatever colour the nuisance takes.
FOREGROUND_VALUE, BACKGROUND_VALUE, SATURATION = 1.0, 0.45, 0.85


def palette(k: int, nuisance: str) -> torch.Tensor:
    """K colours with evenly spaced hues: (K, 3) float32 RGB in [0, 1]."""
    value = FOREGROUND_VALUE if nuisance == "foreground" else BACKGROUND_VALUE
    return torch.tensor([colorsys.hsv_to_rgb(h / k, SATURATION, value) for h in range(k)], dtype=torch.float32)


def draw_colours(y: torch.Tensor, k: int, agreement: float, g: torch.Generator) -> torch.Tensor:
    """Colour index per example (N,): y with probability ρ, else uniform over the K − 1 others."""
    agree = torch.rand(len(y), generator=g) < agreement
    offset = torch.randint(1, max(k, 2), (len(y),), generator=g)  # 1..K-1: never the class colour
    return torch.where(agree, y, (y + offset) % k)


def paint(ex: Examples, colour: torch.Tensor, rgb: torch.Tensor, nuisance: str) -> Examples:
    """Examples re-coloured with palette ``rgb`` (K, 3) at indices ``colour`` (N,); x → (N, 3, H, W)."""
    c = rgb[colour].view(-1, 3, 1, 1)
    meta = dict(ex.meta)
    if ex.x.shape[1] == 1:
        g = ex.x
        x = g * c if nuisance == "foreground" else g + (1 - g) * c
    elif ex.x.shape[1] == 3 and all(f in ex.meta for f in SHAPE_FACTORS):
        if nuisance == "foreground":
            fg, bg = rgb[colour], meta["background"]
        else:
            fg, bg = meta["colour"], rgb[colour]
            meta["shape_colour"] = meta["colour"]  # keep the shape's own colour; "colour" becomes the nuisance
            meta["background"] = colour
        x = render_shapes(meta["shape"], fg, meta["size"], meta["pos_x"], meta["pos_y"], bg, ex.x.shape[-1])
    else:
        raise ValueError(
            "spurious shift paints 1-channel images or re-renders shapes (3-channel with meta "
            f"{list(SHAPE_FACTORS)}); got x of shape {tuple(ex.x.shape)} with meta {sorted(ex.meta)}"
        )
    k = len(rgb)
    meta.update(colour=colour, nuisance=colour, group=ex.y * k + colour)
    return Examples(x, ex.y, meta)


@register_shift("spurious")
class SpuriousColour(Shift):
    """Colour agrees with the class w.p. ρ_train in train/val, ρ_test in OOD (arXiv:1907.02893)."""

    family = "spurious"
    Params = SpuriousParams

    def apply(self, loaded: Loaded, seed: int) -> Splits:
        """Colour every part; OOD split ``agreement_<ρ_test>`` is the test part at ρ_test."""
        p: SpuriousParams = self.params  # type: ignore[assignment]
        train, val, pool = base_splits(loaded)
        test, held_out = self.test_part(pool, seed)
        k = loaded.info.num_classes
        if k < 2:
            raise ValueError(f"spurious shift needs at least 2 classes, dataset '{loaded.info.name}' has {k}")
        rgb = palette(k, p.nuisance)
        plan = {
            "train": (train, p.train_agreement),
            "val": (val, p.train_agreement),
            "test_id": (test, p.train_agreement),
            f"agreement_{p.test_agreement:g}": (test, p.test_agreement),
        }
        out: dict[str, Examples] = {}
        achieved: dict[str, float] = {}
        for name, (ex, rho) in plan.items():
            colour = draw_colours(ex.y, k, rho, torch_generator(seed, "shift", "spurious", name))
            out[name] = paint(ex, colour, rgb, p.nuisance)
            achieved[name] = float((colour == ex.y).double().mean()) if len(ex) else float("nan")
        info = dataclasses.replace(
            loaded.info,
            input_shape=(3, *loaded.info.input_shape[1:]),
            factors=tuple(dict.fromkeys([*loaded.info.factors, "colour", "nuisance", "group"])),
            details={**loaded.info.details, "palette": rgb.tolist(), "nuisance": p.nuisance},
        )
        common: dict[str, Any] = {
            "family": self.family,
            "shift": f"{p.nuisance}_colour",
            "num_groups": k * k,
            "train_agreement": p.train_agreement,
            "train_agreement_achieved": achieved["train"],
            "val_agreement_achieved": achieved["val"],
            **held_out,
        }
        split_info = {
            name: {**common, "agreement": rho, "agreement_achieved": achieved[name]}
            for name, (_, rho) in plan.items()
            if name not in ("train", "val")
        }
        ood = {name: ex for name, ex in out.items() if name not in ("train", "val", "test_id")}
        return Splits(out["train"], out["val"], out["test_id"], ood, info, split_info)
