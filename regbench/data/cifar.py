"""CIFAR-10 through torchvision, and CIFAR-10-C from the published ``.npy`` files.

CIFAR-10: Krizhevsky 2009, https://www.cs.toronto.edu/~kriz/cifar.html.
CIFAR-10-C: Hendrycks & Dietterich 2019, https://arxiv.org/abs/1903.12261; the files are at
https://zenodo.org/records/2535967 (``CIFAR-10-C.tar``). Layout used here::

    <root>/cifar-10-batches-py/{data_batch_1..5,test_batch,batches.meta}   (torchvision)
    <root>/CIFAR-10-C/<corruption>.npy   (5·n, 32, 32, 3) uint8, severities 1..5 stacked
    <root>/CIFAR-10-C/labels.npy         (5·n,) uint8, the test labels repeated 5 times

Memory: images are stored once as float32 (the :class:`Examples` contract), converted from
uint8 in one batched op: 50k train+val images take 614 MB, the 10k test images 123 MB, and
every CIFAR-10-C (corruption, severity) part 123 MB — all 19×5 would be 11.7 GB, so choose
``corruptions``/``severities`` to load only what a suite evaluates. The ``.npy`` files are
memory-mapped, so only the selected severities are read from disk.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import numpy as np
import torch

from regbench.data import register_dataset
from regbench.data.base import DatasetInfo, Examples, Loaded
from regbench.data.errors import DatasetMissingError, data_root, download_hint
from regbench.data.presence import CIFAR10C_FOLDER, CIFAR_FILES, CIFAR_FOLDER  # the file names the file check shares
from regbench.data.splitting import stratified_parts
from regbench.registry import UserError

CIFAR10C_URL = "https://zenodo.org/records/2535967"
# The 19 corruptions published in CIFAR-10-C (15 benchmark + 4 extra "validation" ones).
CIFAR10C_CORRUPTIONS = (
    "brightness", "contrast", "defocus_blur", "elastic_transform", "fog", "frost",
    "gaussian_blur", "gaussian_noise", "glass_blur", "impulse_noise", "jpeg_compression",
    "motion_blur", "pixelate", "saturate", "shot_noise", "snow", "spatter",
    "speckle_noise", "zoom_blur",
)  # fmt: skip
SEVERITIES = (1, 2, 3, 4, 5)


def uint8_hwc_to_examples(images: np.ndarray, labels: np.ndarray | list[int], scale: bool = True) -> Examples:
    """(N, H, W, C) uint8 + (N,) labels → Examples with x (N, C, H, W) float32 in [0, 1].

    ``scale=False`` keeps x uint8 (still CHW), for splitting before :func:`to_float`.
    """
    # Memory-mapped .npy slices are read-only; torch wants a writable array: read them in.
    images = np.ascontiguousarray(images) if images.flags.writeable else np.array(images)
    # Permute and copy while still uint8 (4× less memory traffic), then scale once.
    x = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()
    examples = Examples(x, torch.from_numpy(np.array(labels, dtype=np.int64)))
    return to_float(examples) if scale else examples


def to_float(examples: Examples) -> Examples:
    """uint8 images → float32 in [0, 1] (one batched op)."""
    return examples.replace(x=examples.x.float().div_(255.0))


class CifarMd5Error(UserError, ValueError):
    """``md5`` does not name a sum for every CIFAR-10 file."""


def _cifar10_class(md5: dict[str, str] | None):
    """torchvision's CIFAR10, or a subclass that checks each file against the sums in ``md5``.

    The batch files are pickles, and unpickling runs code, so no file is read before its md5
    is checked: against the official sums (torchvision's), or, for a local copy that is not
    byte-identical (re-pickled, fabricated in the same format as the tests do), against the
    sums its owner gives in ``md5`` (file name → hex md5, every file of :data:`CIFAR_FILES`).
    """
    from torchvision.datasets import CIFAR10

    if md5 is None:
        return CIFAR10
    missing = [f for f in CIFAR_FILES if not isinstance(md5.get(f), str)]
    if missing:
        raise CifarMd5Error(
            f"cifar10: `md5` must give the md5 sum of every file, missing {', '.join(missing)} "
            "(no file is unpickled unchecked)"
        )

    class LocalCIFAR10(CIFAR10):
        # torchvision checks each file with check_integrity(path, md5) before unpickling it
        train_list = [[name, md5[name]] for name, _ in CIFAR10.train_list]
        test_list = [[name, md5[name]] for name, _ in CIFAR10.test_list]
        meta = {**CIFAR10.meta, "md5": md5[CIFAR10.meta["filename"]]}

    return LocalCIFAR10


def _load_official(root: Path, download: bool, md5: dict[str, str] | None) -> tuple[Examples, Examples, list[str]]:
    """(official train, official test, class names); x still uint8 (N, 3, 32, 32)."""
    folder = root / CIFAR_FOLDER
    if not download and not all((folder / f).is_file() for f in CIFAR_FILES):
        hint = download_hint("cifar10", root) + " (or set `download: true` in the suite)"
        raise DatasetMissingError("cifar10", folder, hint)
    cls = _cifar10_class(md5)
    try:
        train = cls(str(root), train=True, download=download)
        test = cls(str(root), train=False, download=download)
    except RuntimeError as err:  # torchvision: "Dataset not found or corrupted"
        if md5 is not None:
            hint, problem = "check the sums given in `md5` against your copy", "failed the md5 check of `md5`"
        else:
            hint = download_hint("cifar10", root) + "; or give your trusted copy's sums as `md5: {file: sum}`"
            problem = "failed torchvision's md5 check"
        raise DatasetMissingError("cifar10", folder, hint, problem=problem) from err
    return (
        uint8_hwc_to_examples(train.data, train.targets, scale=False),
        uint8_hwc_to_examples(test.data, test.targets, scale=False),
        list(train.classes),
    )


def _cifar10_parts(seed, root, download, val_fraction, md5) -> tuple[dict[str, Examples], dict]:
    base = data_root(root)
    train_pool, test, classes = _load_official(base, download, md5)
    # Split while uint8: indexing moves 4× fewer bytes, and the float pool never exists.
    parts = stratified_parts(train_pool, {"val": val_fraction}, seed=seed)
    parts["test"] = test
    parts = {k: to_float(v) for k, v in parts.items()}
    details = {
        "source": "torchvision.datasets.CIFAR10",
        "root": str(base),
        "md5_source": "given" if md5 is not None else "torchvision",  # every file is md5-checked
        "classes": classes,
        "n": {k: len(v) for k, v in parts.items()},
    }
    return parts, details


@register_dataset("cifar10")
def load_cifar10(
    seed: int,
    root: str | None = None,
    download: bool = False,
    val_fraction: float = 0.1,
    md5: dict[str, str] | None = None,
) -> Loaded:
    """CIFAR-10: parts train/val (seeded stratified split of the official train set) / test.

    Images are (N, 3, 32, 32) float32 in [0, 1]; labels (N,) int64. ``root`` defaults to
    ``$REGBENCH_DATA`` then ``~/.cache/regbench/data``; nothing is downloaded unless
    ``download`` is true. Every file is md5-checked before it is unpickled: against the
    official sums, or against ``md5`` (file name → sum) for a copy that is not the official one.
    """
    parts, details = _cifar10_parts(seed, root, download, val_fraction, md5)
    info = DatasetInfo("cifar10", 10, (3, 32, 32), flip_invariant=True, details=details)
    return Loaded(info, parts)


def _check_names(corruptions, severities) -> None:
    for c in corruptions:
        if c not in CIFAR10C_CORRUPTIONS:
            close = difflib.get_close_matches(c, CIFAR10C_CORRUPTIONS, n=3)
            hint = f" Did you mean: {', '.join(close)}?" if close else ""
            raise ValueError(f"unknown CIFAR-10-C corruption '{c}'.{hint} Available: {', '.join(CIFAR10C_CORRUPTIONS)}")
    bad = [s for s in severities if s not in SEVERITIES]
    if bad:
        raise ValueError(f"CIFAR-10-C severities must be in 1..5, got {bad}")


def load_cifar10c_parts(
    folder: Path, corruptions: list[str] | None, severities: list[int]
) -> tuple[dict[str, Examples], list[str]]:
    """Parts ``"c/<corruption>/<severity>"`` read from the published ``.npy`` files.

    Each ``<corruption>.npy`` is (5·n, 32, 32, 3) uint8 with severity s in rows
    [(s-1)·n, s·n); ``labels.npy`` is (5·n,). Files are memory-mapped: only the rows of the
    chosen severities are read.
    """
    if corruptions is None:
        corruptions = [c for c in CIFAR10C_CORRUPTIONS if (folder / f"{c}.npy").is_file()]
    wanted = [folder / "labels.npy", *(folder / f"{c}.npy" for c in corruptions)]
    absent = [p for p in wanted if not p.is_file()]
    if absent or not corruptions:
        how = f"download CIFAR-10-C.tar from {CIFAR10C_URL} and extract it into {folder.parent}"
        raise DatasetMissingError("cifar10-c", absent or [folder / "<corruption>.npy"], how)
    labels = np.load(folder / "labels.npy", mmap_mode="r")
    n = len(labels) // len(SEVERITIES)
    parts: dict[str, Examples] = {}
    for c in corruptions:
        images = np.load(folder / f"{c}.npy", mmap_mode="r")
        if images.shape != (len(labels), 32, 32, 3) or images.dtype != np.uint8:
            raise ValueError(
                f"{folder / c}.npy has shape {images.shape} {images.dtype}; "
                f"expected ({len(labels)}, 32, 32, 3) uint8 like labels.npy"
            )
        for s in severities:
            rows = slice((s - 1) * n, s * n)
            parts[f"c/{c}/{s}"] = uint8_hwc_to_examples(images[rows], labels[rows])
    return parts, list(corruptions)


@register_dataset("cifar10-c")
def load_cifar10_c(
    seed: int,
    root: str | None = None,
    download: bool = False,
    val_fraction: float = 0.1,
    md5: dict[str, str] | None = None,
    corruptions: list[str] | None = None,
    severities: list[int] | None = None,
) -> Loaded:
    """CIFAR-10 train/val/test plus CIFAR-10-C parts ``"c/<corruption>/<severity>"``.

    When ``<root>/CIFAR-10-C`` exists the published corrupted test sets are loaded
    (``corruptions`` defaults to every published file present there) and
    ``details["cifar10c_source"]`` is ``"published"``. When the folder is absent it is
    ``"generated"``: no ``c/`` parts are returned and the covariate shift generates the
    corruptions with regbench's own ops. ``severities`` defaults to 1..5. Images are
    (N, 3, 32, 32) float32 in [0, 1].
    """
    severities = list(SEVERITIES if severities is None else severities)
    _check_names(corruptions or [], severities)
    parts, details = _cifar10_parts(seed, root, download, val_fraction, md5)
    folder = data_root(root) / CIFAR10C_FOLDER
    details["cifar10c_root"] = str(folder)
    if folder.is_dir():
        c_parts, found = load_cifar10c_parts(folder, corruptions, severities)
        test_y = parts["test"].y
        details.update(
            cifar10c_source="published",
            corruptions=found,
            severities=severities,
            # The published sets corrupt the test set in order; a mismatch means another copy.
            cifar10c_labels_match_test=all(
                len(p.y) == len(test_y) and bool(torch.equal(p.y, test_y)) for p in c_parts.values()
            ),
        )
        parts.update(c_parts)
    else:
        details.update(cifar10c_source="generated", corruptions=list(corruptions or []), severities=severities)
    info = DatasetInfo("cifar10-c", 10, (3, 32, 32), flip_invariant=True, details=details)
    return Loaded(info, parts)
