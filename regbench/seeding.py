"""Named, derived seeds (docs/architecture.md, Conventions: Seeds).

Every source of randomness gets its own seed derived from the run seed and a purpose name
("split", "init", "order", "shift", "sweep", …), as DomainBed's ``seed_hash`` does, so that
adding a new consumer never changes the draws of another. Library code never touches the
global RNGs; it builds generators from these seeds and passes them explicitly.
"""

from __future__ import annotations

import hashlib


def derive_seed(*keys: object) -> int:
    """A 31-bit seed from the md5 of the keys' reprs (stable across processes and runs)."""
    text = "/".join(repr(k) for k in keys)
    return int(hashlib.md5(text.encode()).hexdigest()[:8], 16) & 0x7FFFFFFF


def torch_generator(*keys: object, device: str = "cpu"):
    """A ``torch.Generator`` seeded with ``derive_seed(*keys)``."""
    import torch

    g = torch.Generator(device=device)
    g.manual_seed(derive_seed(*keys))
    return g


def numpy_generator(*keys: object):
    """A ``numpy.random.Generator`` seeded with ``derive_seed(*keys)``."""
    import numpy as np

    return np.random.default_rng(derive_seed(*keys))


class seeded_global_rng:
    """Context manager: run a block with torch's global RNG seeded from ``keys``, then restore it.

    Module constructors (weight init) and ``nn.Dropout`` only read torch's global RNG, so
    the training loop seeds it here — inside ``torch.random.fork_rng`` so that the caller's
    global state is left exactly as it was (library code must not disturb it).
    """

    def __init__(self, *keys: object, device=None):
        self.keys = keys
        self.device = device  # a torch.device: on CUDA, that GPU's generator is forked too

    def __enter__(self):
        import torch

        devices = []
        if self.device is not None and self.device.type == "cuda":  # only the GPU in use
            devices = [self.device.index if self.device.index is not None else torch.cuda.current_device()]
        self._fork = torch.random.fork_rng(devices=devices)
        self._fork.__enter__()
        seed = derive_seed(*self.keys)
        if devices:  # the CPU's and every GPU's generator (the one in use was forked above)
            torch.manual_seed(seed)
        else:  # the CPU's alone: torch.manual_seed would also queue a seed for each CUDA, XPU
            # and MTIA device, formatting a traceback for each (~1 ms per run), for devices
            # this block neither uses nor restores
            torch.default_generator.manual_seed(seed)
        return self

    def __exit__(self, *exc):
        return self._fork.__exit__(*exc)
