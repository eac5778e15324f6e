"""Shapes' nuisance factor as domains: training environments from the background (or colour).

DomainBed's leave-one-domain-out protocol (Gulrajani & Lopez-Paz 2020,
https://arxiv.org/abs/2007.01434), on the procedural shapes of ``regbench.data.shapes``,
whose recorded factors let an example be re-rendered with another value of one of them.
A domain is one value of the nuisance ``factor`` (a background or a foreground colour from
the dataset's palettes); the label (the shape) never depends on it. Every train, val and
test_id example is dealt to one of the training domains after a seeded shuffle (sizes
differ by at most one, as ``rotated`` deals its angles) and re-rendered in it
(``meta["env"]`` = the domain's index among the training domains, ``meta[factor]`` its
palette index); the OOD split ``<factor>_<name>`` is the whole test part re-rendered in the
held-out ``test_domain``. Re-rendering keeps the anti-aliased edge exact, and shape, size
and position stay as drawn.
"""

from __future__ import annotations

import dataclasses

import torch

from regbench.data.base import Examples, Loaded, Splits
from regbench.data.shapes import FACTORS, render_shapes
from regbench.seeding import torch_generator
from regbench.shifts import register_shift
from regbench.shifts.base import Shift, base_splits
from regbench.shifts.params.shape_domains import PALETTES, ShapeDomainsParams
from regbench.shifts.colored_mnist import round_robin_envs


def rerender(ex: Examples, factor: str, value: torch.Tensor, extra: dict[str, torch.Tensor]) -> Examples:
    """``ex`` re-drawn with ``meta[factor]`` = ``value`` (N,) palette indices; ``extra`` joins the meta."""
    meta = {**ex.meta, factor: value, **extra}
    x = render_shapes(*(meta[f] for f in FACTORS), image_size=ex.x.shape[-1])
    return Examples(x, ex.y, meta)


@register_shift("shape_domains")
class ShapeDomains(Shift):
    """Leave-one-domain-out over a nuisance factor of shapes; the other values are the training envs."""

    family = "covariate"  # as rotated: the inputs' nuisance moves, the labelling rule does not
    Params = ShapeDomainsParams

    def apply(self, loaded: Loaded, seed: int) -> Splits:
        """train/val/test_id dealt over the training domains; ``<factor>_<test_domain>`` the held-out one."""
        p: ShapeDomainsParams = self.params  # type: ignore[assignment]
        missing = [f for f in FACTORS if f not in loaded.info.factors]
        if missing:
            raise ValueError(
                f"shape_domains re-renders shapes from their factors; dataset '{loaded.info.name}' lacks {missing}"
            )
        palette = PALETTES[p.factor]
        values = torch.tensor([palette.index(d) for d in p.train_domains()])
        out: dict[str, Examples] = {}
        for name, ex in zip(("train", "val", "test_id"), base_splits(loaded)):
            env = round_robin_envs(len(ex), len(values), torch_generator(seed, "shift", "shape_domains", name))
            out[name] = rerender(ex, p.factor, values[env], {"env": env})
        test = base_splits(loaded)[2]
        held = torch.full((len(test),), palette.index(p.held_out()), dtype=torch.int64)
        ood_name = f"{p.factor}_{p.held_out()}"
        ood = rerender(test, p.factor, held, {})
        info = {
            "family": self.family,
            "shift": p.factor,
            "test_domain": p.held_out(),
            "train_domains": p.train_domains(),
        }
        data_info = dataclasses.replace(loaded.info, factors=tuple(dict.fromkeys([*loaded.info.factors, "env"])))
        return Splits(out["train"], out["val"], out["test_id"], {ood_name: ood}, data_info, {ood_name: info})
