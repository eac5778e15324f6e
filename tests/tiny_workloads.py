"""Tiny workloads shared by the device tests: every regularizer's stack, a 16×16 image task,
a short SCAN task and a short audio task, each a few batches of ``BATCH`` examples (fake-CUDA
tier, gpu guard)."""

from __future__ import annotations

from dataclasses import replace

import torch

from regbench.catalog import registries
from regbench.config import RegularizerConfig
from regbench.data.base import DatasetInfo, Examples, Splits
from regbench.data.scan import load_scan
from regbench.models import build_model
from regbench.params import resolve_params
from regbench.regularizers.build import build_stack, lookup
from regbench.regularizers.stack import Stack
from regbench.shifts.none import NoShift

BATCH = 8


def stack_of(name: str) -> Stack:
    cfg = RegularizerConfig.model_validate(name)
    return build_stack(cfg, tuple(resolve_params(lookup(s.name), s.params) for s in cfg.stack))


def image_splits(n_train: int) -> Splits:
    g = torch.Generator().manual_seed(0)

    def part(n: int) -> Examples:
        x, y = torch.rand(n, 3, 16, 16, generator=g), torch.randint(0, 4, (n,), generator=g)
        # two training environments, so the environment baselines (irm, vrex, …) can train here too
        return Examples(x, y, {"group": torch.arange(n) % 2, "env": torch.arange(n) % 2})

    return Splits(part(n_train), part(8), part(8), {"c/1": part(8)}, DatasetInfo("t", 4, (3, 16, 16), True))


def scan_splits(n_train: int) -> Splits:
    loaded = load_scan(0, "simple", max_train=n_train + 16)
    splits = NoShift().apply(loaded, 0)
    small = {k: Examples(v.x[:8], v.y[:8]) for k, v in {"val": splits.val, "test_id": splits.test_id}.items()}
    # the word edits refuse SCAN itself (its target is a function of the command); these tests
    # exercise where their hooks compute, so the flag that refuses them is dropped here
    details = {k: v for k, v in splits.info.details.items() if k != "target_is_function_of_source"}
    return Splits(
        Examples(splits.train.x[:n_train], splits.train.y[:n_train]),
        small["val"],
        small["test_id"],
        {"simple": small["test_id"]},
        replace(splits.info, details=details),
    )


def audio_splits(n_train: int) -> Splits:
    """Random 0.25 s waveforms at 8 kHz, (N, 1, 2000), 4 classes: enough for the log-mel models."""
    g = torch.Generator().manual_seed(0)

    def part(n: int) -> Examples:
        return Examples(torch.randn(n, 1, 2000, generator=g) * 0.1, torch.randint(0, 4, (n,), generator=g))

    info = DatasetInfo("a", 4, (1, 2000), details={"sample_rate": 8000}, modality="audio")
    return Splits(part(n_train), part(8), part(8), {"noise/1": part(8)}, info)


def model_for(splits: Splits, stack: Stack):
    if splits.info.task == "seq2seq":
        return build_model("seq2seq", splits.info, width=16, depth=1, heads=2, **stack.model_overrides())
    if splits.info.modality == "audio":
        return build_model("audio_cnn", splits.info, width=4, depth=2, n_mels=16, **stack.model_overrides())
    overrides = stack.model_overrides()
    if "drop_path" in overrides:  # stochastic depth needs residual blocks, which the cnn has not
        return registries()["models"].get("vit")((3, 16, 16), 4, patch=4, width=16, depth=2, heads=2, **overrides)
    return registries()["models"].get("cnn")((3, 16, 16), 4, **overrides)


def splits_for(stack: Stack, steps: int) -> Splits:
    if "classification" not in stack.tasks:
        return scan_splits(steps * BATCH)
    return image_splits(steps * BATCH) if "image" in stack.modalities else audio_splits(steps * BATCH)
