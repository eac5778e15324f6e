"""``hf:<dataset>[:config]``: image classification datasets through HuggingFace ``datasets``.

Where the data is looked for, in order:
1. ``path`` itself when it is a local folder: a ``save_to_disk`` folder (``load_from_disk``)
   or a folder of parquet / arrow / csv files (``load_dataset``, splits from file names);
2. ``<root>/hf/<path with / as __>[__<config>]``, where ``regbench data download`` saves;
3. the ``datasets`` cache (``HF_HOME``), through ``load_dataset(path, config)``.

The hub is never contacted while loading: ``HF_HUB_OFFLINE=1`` is set before ``datasets``
is imported unless the user set it (docs/architecture.md, Measured here: Hub and cache: set after the import it has no
effect, and a missing dataset then costs 24 s of retries before failing).

Tensors are materialized once, with the dtype asked for explicitly: the torch/numpy
formatters otherwise turn uint8 pixels into int64 (8× the memory).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from regbench.data import register_dataset
from regbench.data.base import DatasetInfo, Examples, Loaded
from regbench.data.errors import DatasetMissingError, data_root, download_hint
from regbench.data.splitting import stratified_parts

HF_SUBDIR = "hf"  # under the data root, where `regbench data download hf:…` saves


# The user's own choice, read when regbench.data.hub is first imported (None: not set).
_USER_OFFLINE = os.environ.get("HF_HUB_OFFLINE", os.environ.get("HF_DATASETS_OFFLINE"))


def import_datasets(offline: bool = True):
    """Import ``datasets`` with hub access off (on for downloads) unless the user chose."""
    if _USER_OFFLINE is None and offline and "datasets" not in sys.modules:
        os.environ["HF_HUB_OFFLINE"] = "1"  # read once, at import time
    import datasets
    import huggingface_hub.constants

    if _USER_OFFLINE is None:
        # Imported earlier (or switching for a download): the env var is read too late, so
        # set the flags that datasets and huggingface_hub consult at call time.
        datasets.config.HF_HUB_OFFLINE = offline
        huggingface_hub.constants.HF_HUB_OFFLINE = offline
    return datasets


def parse_hf_name(name: str) -> dict[str, str | None]:
    """``"hf:cifar10"`` → {"path": "cifar10", "config": None}; ``"hf:a/b:cfg"`` → config "cfg"."""
    if not name.startswith("hf:") or len(name) <= 3:
        raise ValueError(f"expected 'hf:<dataset>[:config]', got '{name}'")
    path, _, config = name[3:].partition(":")
    return {"path": path, "config": config or None}


def saved_dir(root: str | Path | None, path: str, config: str | None) -> Path:
    """Where ``regbench data download hf:<path>[:config]`` saves the dataset."""
    safe = path.strip("/").replace("/", "__") + (f"__{config}" if config else "")
    return data_root(root) / HF_SUBDIR / safe


def _open(path: str, config: str | None, root: str | None, cache_dir: str | None):
    """The DatasetDict for ``path`` (see the module docstring for the search order)."""
    datasets = import_datasets(offline=True)
    name = f"hf:{path}" + (f":{config}" if config else "")
    local, saved = Path(path).expanduser(), saved_dir(root, path, config)
    for folder in (local, saved):
        if (folder / "dataset_dict.json").is_file() or (folder / "state.json").is_file():
            return datasets.load_from_disk(str(folder))
    if local.exists():
        return datasets.load_dataset(str(local), config, cache_dir=cache_dir)
    if path.startswith((".", "/", "~")):
        raise DatasetMissingError(name, local, "check the path")
    try:
        return datasets.load_dataset(path, config, cache_dir=cache_dir)
    except (ConnectionError, FileNotFoundError, datasets.exceptions.DatasetNotFoundError) as err:
        cache = cache_dir or datasets.config.HF_DATASETS_CACHE
        raise DatasetMissingError(name, [saved, f"the datasets cache {cache}"], download_hint(name, root)) from err


def _leaf_dtype(feature: Any) -> str | None:
    """The scalar dtype inside an Array/List/Value feature (None for Image)."""
    while hasattr(feature, "feature"):
        feature = feature.feature
    return getattr(feature, "dtype", None)


def images_to_tensor(ds, column: str, image_size: int | None) -> torch.Tensor:
    """An image column → (N, C, H, W) float32 in [0, 1], resized to ``image_size`` if given.

    Image features decode to uint8 CHW; arrays are read with their own dtype (uint8 stays
    uint8) and taken as HWC when the last axis has 1, 3 or 4 entries, (N, H, W) as greyscale.
    Integer pixels are divided by 255; float pixels are kept as they are.
    """
    from datasets import Image

    feature = ds.features[column]
    if isinstance(feature, Image):
        raw = ds.with_format("torch", columns=[column])[:][column]  # uint8 CHW (or a list)
        chw = True
    else:
        dtype = _leaf_dtype(feature)
        np_dtype = np.dtype(dtype) if dtype not in (None, "string", "binary") else None
        raw = torch.from_numpy(np.asarray(ds.with_format("numpy", columns=[column], dtype=np_dtype)[:][column]))
        chw = False
    if isinstance(raw, list):  # images of different sizes: resize one by one to a common size
        if image_size is None:
            raise ValueError(f"images in column '{column}' differ in size; set image_size")
        return torch.cat([images_to_tensor_batch(im.unsqueeze(0), True, image_size) for im in raw])
    return images_to_tensor_batch(raw, chw, image_size)


def images_to_tensor_batch(raw: torch.Tensor, chw: bool, image_size: int | None) -> torch.Tensor:
    """(N, C, H, W) / (N, H, W, C) / (N, H, W) pixels → (N, C, H, W) float32 in [0, 1]."""
    if raw.dim() == 3:
        raw = raw.unsqueeze(1)
    elif raw.dim() != 4:
        raise ValueError(f"expected images of 2 or 3 dims per example, got shape {tuple(raw.shape[1:])}")
    elif not chw and raw.shape[-1] in (1, 3, 4) and raw.shape[1] not in (1, 3, 4):
        raw = raw.permute(0, 3, 1, 2)
    x = raw.contiguous().float()
    if not raw.is_floating_point():
        x.div_(255.0)
    if image_size is not None and tuple(x.shape[-2:]) != (image_size, image_size):
        x = F.interpolate(x, size=(image_size, image_size), mode="bilinear", antialias=True, align_corners=False)
        x.clamp_(0.0, 1.0)
    return x


@register_dataset("hf")
def load_hf(
    seed: int,
    path: str,
    config: str | None = None,
    image_column: str = "img",
    label_column: str = "label",
    splits: dict[str, str] | None = None,
    image_size: int | None = None,
    val_fraction: float = 0.1,
    flip_invariant: bool = False,
    root: str | None = None,
    cache_dir: str | None = None,
) -> Loaded:
    """A HuggingFace image classification dataset as parts train/val/test (+ any extra).

    ``splits`` maps regbench parts to the dataset's split names (default
    ``{"train": "train", "test": "test"}``); without a ``val`` entry, val is a seeded
    stratified ``val_fraction`` of train. Extra entries become extra parts (OOD splits for
    the ``predefined`` shift). Images (N, C, H, W) float32 in [0, 1]; labels (N,) int64.
    ``flip_invariant`` (may crop_flip mirror images?) is the suite's call: False by default.
    """
    splits = dict(splits or {"train": "train", "test": "test"})
    if "train" not in splits or "test" not in splits:
        raise ValueError(f"hf splits must map at least 'train' and 'test', got {splits}")
    name = f"hf:{path}" + (f":{config}" if config else "")
    dd = _open(path, config, root, cache_dir)
    if not hasattr(dd, "keys"):  # a single saved Dataset
        dd = {"train": dd}
    unknown = sorted(set(splits.values()) - set(dd.keys()))
    if unknown:
        raise ValueError(f"{name} has no split(s) {unknown}; available: {sorted(dd.keys())}")
    first = dd[splits["train"]]
    for col in (image_column, label_column):
        if col not in first.features:
            raise ValueError(f"{name} has no column '{col}'; columns: {sorted(first.features)}")
    parts: dict[str, Examples] = {}
    for part, split in splits.items():
        ds = dd[split]
        y = torch.from_numpy(np.asarray(ds.with_format("numpy", columns=[label_column])[:][label_column]))
        parts[part] = Examples(images_to_tensor(ds, image_column, image_size), y.to(torch.int64))
    if "val" not in parts:
        parts.update(stratified_parts(parts["train"], {"val": val_fraction}, seed=seed))
    label_feature = first.features[label_column]
    num_classes = getattr(label_feature, "num_classes", None) or int(max(p.y.max() for p in parts.values())) + 1
    details = {
        "source": "datasets",
        "path": path,
        "config": config,
        "splits": splits,
        "hf_hub_offline": bool(sys.modules["datasets"].config.HF_HUB_OFFLINE),
        "n": {k: len(v) for k, v in parts.items()},
    }
    if hasattr(label_feature, "names"):
        details["classes"] = list(label_feature.names)
    x = parts["train"].x
    info = DatasetInfo(name, num_classes, tuple(x.shape[1:]), flip_invariant=flip_invariant, details=details)
    return Loaded(info, parts)
