"""Shift families (docs/architecture.md, Data and shifts). Each module registers one family into ``SHIFTS``."""

from regbench.registry import Registry
from regbench.shifts.base import Shift

SHIFTS: Registry[type[Shift]] = Registry("shift", base=Shift)


def register_shift(name: str):
    """Class decorator: ``@register_shift("covariate")``."""
    return SHIFTS.register(name)


# Explicit list of modules that register shifts (a test checks every file is here).
SHIFT_MODULES = [
    "regbench.shifts.none",
    "regbench.shifts.covariate",
    "regbench.shifts.label",
    "regbench.shifts.spurious",
    "regbench.shifts.compositional",
    "regbench.shifts.drift",
    "regbench.shifts.predefined",
    "regbench.shifts.ood_test",
    "regbench.shifts.acoustic",
    "regbench.shifts.speaker_noise",
    "regbench.shifts.colored_mnist",
    "regbench.shifts.colored_mnist_domainbed",
    "regbench.shifts.rotated",
    "regbench.shifts.shape_domains",
]
