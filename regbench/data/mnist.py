"""MNIST from torchvision's on-disk layout (offline: read only, never downloaded here).

LeCun et al. 1998, http://yann.lecun.com/exdb/mnist/. Layout (what
``torchvision.datasets.MNIST(root, download=True)`` leaves behind)::

    <root>/MNIST/raw/train-images-idx3-ubyte[.gz]   (60000, 28, 28) uint8, IDX format
    <root>/MNIST/raw/train-labels-idx1-ubyte[.gz]   (60000,) uint8
    <root>/MNIST/raw/t10k-images-idx3-ubyte[.gz]    (10000, 28, 28) uint8
    <root>/MNIST/raw/t10k-labels-idx1-ubyte[.gz]    (10000,) uint8

Either the extracted file or its ``.gz`` is read, with torchvision's own IDX reader.

``fallback: digits_large`` (opt-in; the default raises when MNIST is absent) loads the
procedural warped digits (regbench/data/digits_large.py) at 28×28 instead, and says so in
``details["fallback"]``, which the ColoredMNIST shifts copy into their ``split_info``. The
split cache is keyed by the spec, not by what was on disk: once MNIST arrives, clear that
benchmark's cache folder (``regbench data prepare`` prints its fingerprint) to rebuild it.
"""

from __future__ import annotations

import dataclasses
import gzip
import shutil
import tempfile
from pathlib import Path
from typing import Literal

import torch

from regbench.data import register_dataset
from regbench.data.base import DatasetInfo, Examples, Loaded
from regbench.data.errors import DatasetMissingError, data_root
from regbench.data.presence import MNIST_FILES  # the file names the file check shares
from regbench.data.splitting import stratified_parts

HOW_TO_GET = (
    "run `python -c \"import torchvision; torchvision.datasets.MNIST('ROOT', download=True)\"` "
    "on a machine with internet and copy ROOT/MNIST here (or set $REGBENCH_DATA)"
)


def find_idx_file(raw: Path, name: str) -> Path | None:
    """``raw/name`` if extracted, else ``raw/name.gz``, else None."""
    return next((p for p in (raw / name, raw / f"{name}.gz") if p.exists()), None)


def read_idx(path: Path) -> torch.Tensor:
    """An IDX file (plain or gzipped) as a uint8 tensor of its declared shape."""
    from torchvision.datasets.mnist import read_sn3_pascalvincent_tensor

    if path.suffix != ".gz":
        return read_sn3_pascalvincent_tensor(str(path), strict=True)
    with tempfile.NamedTemporaryFile(suffix=".idx") as tmp:  # torchvision's reader opens a plain file
        with gzip.open(path, "rb") as src:
            shutil.copyfileobj(src, tmp)
        tmp.flush()
        return read_sn3_pascalvincent_tensor(tmp.name, strict=True)


@register_dataset("mnist")
def load_mnist(
    seed: int,
    root: str | None = None,
    val_fraction: float = 1 / 6,
    fallback: Literal["none", "digits_large"] = "none",
) -> Loaded:
    """MNIST's 60k train images split train/val by class (``val_fraction``), and its 10k test.

    Images are (N, 1, 28, 28) float32 in [0, 1]. Raises :class:`DatasetMissingError` (one
    line: which files, where, how to get them) when the files are not on disk, unless
    ``fallback`` is ``"digits_large"``: then procedural digits at 28×28, with
    ``details["fallback"]`` saying why.
    """
    raw = data_root(root) / "MNIST" / "raw"
    found = {part: [find_idx_file(raw, f) for f in files] for part, files in MNIST_FILES.items()}
    missing = [f for part, files in MNIST_FILES.items() for f, p in zip(files, found[part]) if p is None]
    if missing and fallback == "digits_large":
        return procedural_stand_in(seed, raw, missing)
    if missing:
        raise DatasetMissingError("mnist", raw, HOW_TO_GET, problem=f"files {missing} (or .gz) not found")
    pools = {}
    for part, (images, labels) in found.items():
        x = read_idx(images).unsqueeze(1).float().div_(255.0)
        pools[part] = Examples(x, read_idx(labels).long())
    parts = stratified_parts(pools["train"], {"val": val_fraction}, seed=seed)
    parts["test"] = pools["test"]
    info = DatasetInfo(
        name="mnist",
        num_classes=10,
        input_shape=(1, 28, 28),
        flip_invariant=False,
        details={"source": "mnist", "root": str(raw), "n": len(pools["train"]) + len(pools["test"])},
    )
    return Loaded(info, parts)


def procedural_stand_in(seed: int, raw: Path, missing: list[str]) -> Loaded:
    """``digits_large`` at MNIST's 28×28 (train/val/test parts), its details naming the substitution."""
    from regbench.data.digits_large import load_digits_large

    loaded = load_digits_large(seed, size=28)
    why = f"MNIST not found at {raw} (missing {', '.join(missing)}): procedural digits_large at 28x28 instead"
    details = {**loaded.info.details, "source": "digits_large", "fallback": why}
    return Loaded(dataclasses.replace(loaded.info, name="mnist", details=details), loaded.parts)
