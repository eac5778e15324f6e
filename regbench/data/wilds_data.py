"""``wilds:<name>``: WILDS datasets through the ``wilds`` package, with its official splits.

WILDS: Koh et al. 2021, https://arxiv.org/abs/2012.07421 (Waterbirds: Sagawa et al. 2020,
https://arxiv.org/abs/1911.08731; Camelyon17-WILDS: Bandi et al. 2018).

Layout (read by ``wilds`` itself; it checks no md5 on local data)::

    <root>/<name>_v<version>/RELEASE_v<version>.txt, metadata.csv, images…

Every official split with examples becomes a part (waterbirds: train/val/test; camelyon17:
train/id_val/val/test). Neither has an official in-distribution test split, so ``id_test``
is carved, seeded and stratified by group, from the part named in ``WILDS_TABLE`` (the
record says so in ``details["carved"]``). ``meta`` holds every WILDS metadata field plus
``group``, the dataset's own evaluation grouper's id (worst-group accuracy), and ``env``,
the training environment: WILDS' own convention, the ``CombinatorialGrouper`` over the
dataset's ``groupby_fields`` that WILDS' example scripts hand to IRM, CORAL and GroupDRO
(their per-dataset defaults): Waterbirds background × label (4 environments, the
same ids as ``group``), Camelyon17 the hospital (3 in train). The package is imported only
inside functions, so ``import regbench`` does not import ``wilds``.
"""

from __future__ import annotations

import functools
import os
import sys
import types
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch

from regbench.data import register_dataset
from regbench.data.base import DatasetInfo, Examples, Loaded
from regbench.data.errors import DatasetMissingError, data_root, download_hint
from regbench.data.presence import WILDS_VERSIONS
from regbench.data.splitting import stratified_parts
from regbench.data.wilds_envs import training_envs
from regbench.seeding import torch_generator

# Per-dataset defaults, in one place.
#   image_size: side of the square images regbench trains on (WILDS' originals are 224/96);
#   crop_ratio: resize to image_size / crop_ratio, then centre-crop (WILDS' waterbirds
#               transform resizes 224/0.875 = 256 and crops 224);
#   id_test_from / id_test_fraction: where the carved in-distribution test split comes from;
#   val: the part used for model selection (the WILDS protocol's);
#   split_info: how the report describes each OOD part;
#   env_fields: WILDS' groupby_fields (the training environments' grouper; how many
#               environments the official train split holds: wilds_envs.TRAINING_ENVS).
WILDS_TABLE: dict[str, dict[str, Any]] = {
    "waterbirds": {
        "image_size": 64, "crop_ratio": 0.875, "flip_invariant": True,
        "id_test_from": "train", "id_test_fraction": 0.1, "val": "val",
        "split_info": {"test": {"family": "spurious", "shift": "group-balanced test"}},
        "env_fields": ["background", "y"],
    },
    "camelyon17": {
        "image_size": 96, "crop_ratio": 1.0, "flip_invariant": True,
        "id_test_from": "id_val", "id_test_fraction": 0.5, "val": "id_val",
        "env_fields": ["hospital"],
        "split_info": {
            "val": {"family": "domain", "shift": "hospital 1 (OOD val)"},
            "test": {"family": "domain", "shift": "hospital 2"},
        },
    },
}  # fmt: skip
# Any other WILDS image dataset: no crop, id_test carved from train.
OTHER_WILDS = {
    "image_size": 64, "crop_ratio": 1.0, "flip_invariant": False,
    "id_test_from": "train", "id_test_fraction": 0.1, "val": "val", "split_info": {},
}  # fmt: skip


def ensure_torch_scatter() -> None:
    """Install a minimal ``torch_scatter`` into ``sys.modules`` when the real one is missing.

    ``wilds.common.utils.avg_over_groups`` (used by every ``dataset.eval``) imports
    ``torch_scatter``, which wilds does not declare and which has no wheel on PyPI. It only
    calls ``scatter(src, index, dim_size=n, reduce="mean")`` on 1-D tensors; that is
    ``index_add_`` of values over ``index_add_`` of ones (docs/architecture.md, Measured here: wilds, fix B).
    """
    try:
        import torch_scatter  # noqa: F401
    except ImportError:
        shim = types.ModuleType("torch_scatter")
        shim.scatter = _scatter  # type: ignore[attr-defined]
        shim.__regbench_shim__ = True  # type: ignore[attr-defined]
        sys.modules["torch_scatter"] = shim


def _scatter(src, index, dim=-1, out=None, dim_size=None, reduce="sum"):
    """The 1-D sum/mean subset of ``torch_scatter.scatter``; empty groups give 0."""
    if src.dim() != 1 or out is not None or reduce not in ("sum", "mean"):
        raise NotImplementedError("regbench's torch_scatter shim covers 1-D sum/mean; pip install torch-scatter")
    n = int(dim_size) if dim_size is not None else int(index.max()) + 1
    total = torch.zeros(n, dtype=src.dtype, device=src.device).index_add_(0, index, src)
    if reduce == "sum":
        return total
    count = torch.zeros(n, dtype=src.dtype, device=src.device).index_add_(0, index, torch.ones_like(src))
    return total / count.clamp(min=1)


def find_version(root: Path, name: str) -> str:
    """The newest ``<name>_v<version>`` under ``root`` holding its RELEASE file."""
    found = [
        p.name[len(name) + 2 :]
        for p in root.glob(f"{name}_v*")
        if (p / f"RELEASE_{p.name[len(name) + 1 :]}.txt").is_file()
    ]
    if not found:
        version = WILDS_VERSIONS.get(name, "1.0")  # the release `regbench data download` fetches
        searched = root / f"{name}_v{version}" / f"RELEASE_v{version}.txt"
        raise DatasetMissingError(f"wilds:{name}", searched, download_hint(f"wilds:{name}", root))
    return max(found, key=lambda v: tuple(int(t) for t in v.split(".") if t.isdigit()))


def open_wilds(name: str, root: str | None = None):
    """The ``WILDSDataset`` object (metadata only; images are read on demand)."""
    base = data_root(root)
    version = find_version(base, name)  # check first: wilds would create root_dir as a side effect
    return _open_cached(name, str(base), version)


@functools.lru_cache(maxsize=8)
def _open_cached(name: str, root: str, version: str):
    import wilds

    with warnings.catch_warnings():
        # pandas 3 hands wilds read-only arrays; torch warns once, harmlessly (docs/architecture.md, Measured here: wilds).
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        return wilds.get_dataset(name, version=version, root_dir=root, download=False)


def _decode(dataset, idx: torch.Tensor, image_size: int, crop_ratio: float, workers: int) -> torch.Tensor:
    """Images at ``idx`` → (N, 3, image_size, image_size) float32 in [0, 1].

    Decoding is per file (PIL releases the GIL, so a thread pool helps); each image is
    resized as it is decoded, so full-resolution images never pile up in memory. The
    centre crop and the float conversion are one batched op each.
    """
    from PIL import Image

    side = int(round(image_size / crop_ratio))

    def one(i: int) -> np.ndarray:
        img = dataset.get_input(i)
        return np.asarray(img.convert("RGB").resize((side, side), Image.BILINEAR), dtype=np.uint8)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        arr = np.stack(list(pool.map(one, idx.tolist()))) if len(idx) else np.zeros((0, side, side, 3), np.uint8)
    top = (side - image_size) // 2
    crop = arr[:, top : top + image_size, top : top + image_size]
    return torch.from_numpy(np.ascontiguousarray(crop)).permute(0, 3, 1, 2).contiguous().float().div_(255.0)


def _split_indices(dataset, name, seed, max_per_part, id_test_from, id_test_fraction) -> dict[str, torch.Tensor]:
    """Official split → example indices, with ``id_test`` carved and optional subsampling."""
    split_array = torch.as_tensor(np.asarray(dataset.split_array))
    group = _groups(dataset)
    index: dict[str, torch.Tensor] = {}
    for split, code in dataset.split_dict.items():
        idx = torch.nonzero(split_array == code).flatten()
        if len(idx):
            index[split] = idx
    if "id_test" not in index and id_test_fraction > 0:
        if id_test_from not in index:
            raise ValueError(
                f"wilds:{name} has no split '{id_test_from}' to carve id_test from; splits: {sorted(index)}"
            )
        # Stratify by evaluation group: an Examples whose x is the index and y the group.
        src = index[id_test_from]
        pool = Examples(src, group[src])
        cut = stratified_parts(pool, {"id_test": id_test_fraction}, seed=seed)
        index[id_test_from], index["id_test"] = cut["train"].x, cut["id_test"].x
        if len(index["id_test"]) == 0 or len(index[id_test_from]) == 0:
            raise ValueError(f"wilds:{name}: '{id_test_from}' is too small to carve id_test ({id_test_fraction=})")
    if max_per_part is not None:
        for split, idx in index.items():
            if len(idx) > max_per_part:
                keep = torch.randperm(len(idx), generator=torch_generator(seed, "wilds-subsample", split))
                index[split] = torch.sort(idx[keep[:max_per_part]]).values
    return index


def _groups(dataset) -> torch.Tensor:
    """(N,) int64 id of each example's group under the dataset's own evaluation grouper."""
    grouper = getattr(dataset, "_eval_grouper", None)
    if grouper is None:
        return torch.zeros(len(dataset), dtype=torch.int64)
    return grouper.metadata_to_group(dataset.metadata_array).to(torch.int64)


def _envs(dataset, fields: list[str] | None) -> torch.Tensor | None:
    """(N,) int64 training environment of each example: the group under ``CombinatorialGrouper(fields)``."""
    if not fields:
        return None
    from wilds.common.grouper import CombinatorialGrouper

    return CombinatorialGrouper(dataset, fields).metadata_to_group(dataset.metadata_array).to(torch.int64)


def load_wilds(
    name: str,
    seed: int,
    root: str | None = None,
    image_size: int | None = None,
    max_per_part: int | None = None,
    id_test_fraction: float | None = None,
    num_workers: int | None = None,
    environments: bool = True,
) -> Loaded:
    """A WILDS image dataset as parts (official splits + carved ``id_test``).

    x: (N, 3, S, S) float32 in [0, 1], S = ``image_size`` (default from ``WILDS_TABLE``);
    y: (N,) int64; meta: each WILDS metadata field (N,) int64, ``group`` (N,) int64 and, with
    ``environments`` and a dataset in ``WILDS_TABLE``, ``env`` (N,) int64 (module docstring).
    ``max_per_part`` keeps a seeded random subset of each part (for quick runs).
    """
    table = WILDS_TABLE.get(name, OTHER_WILDS)
    image_size = image_size or table["image_size"]
    fraction = table["id_test_fraction"] if id_test_fraction is None else id_test_fraction
    dataset = open_wilds(name, root)
    index = _split_indices(dataset, name, seed, max_per_part, table["id_test_from"], fraction)
    metadata = dataset.metadata_array.to(torch.int64)
    fields = list(dataset.metadata_fields)
    group = _groups(dataset)
    env_fields = table.get("env_fields") if environments else None
    env = _envs(dataset, env_fields)
    y_all = torch.as_tensor(dataset.y_array).to(torch.int64)
    workers = num_workers or min(8, os.cpu_count() or 1)
    parts = {}
    for split, idx in index.items():
        meta = {f: metadata[idx, j] for j, f in enumerate(fields)}
        meta["group"] = group[idx]
        if env is not None:
            meta["env"] = env[idx]
        parts[split] = Examples(_decode(dataset, idx, image_size, table["crop_ratio"], workers), y_all[idx], meta)
    grouper = getattr(dataset, "_eval_grouper", None)
    details = {
        "source": "wilds",
        "version": dataset.version,
        "root": str(data_root(root)),
        "metadata_fields": fields,
        "groups": [grouper.group_str(g) for g in range(grouper.n_groups)] if grouper else [],
        "roles": {"val": table["val"], "test_id": "id_test"},
        "split_info": table["split_info"],
        "carved": {"id_test": {"from": table["id_test_from"], "fraction": fraction, "stratified_by": "group"}},
        "max_per_part": max_per_part,
        "env_fields": env_fields or [],
        "n": {k: len(v) for k, v in parts.items()},
    }
    info = DatasetInfo(
        f"wilds:{name}", int(dataset.n_classes), (3, image_size, image_size),
        flip_invariant=table["flip_invariant"], factors=(*fields, "group", *(["env"] if env is not None else [])),
        details=details,
    )  # fmt: skip
    return Loaded(info, parts)


def metadata_array(examples: Examples, info: DatasetInfo) -> torch.Tensor:
    """(N, M) int64 WILDS metadata of ``examples``, columns in the dataset's field order."""
    return torch.stack([examples.meta[f] for f in info.details["metadata_fields"]], dim=1)


def wilds_eval(
    name: str,
    root: str | None,
    y_pred: torch.Tensor,
    y_true: torch.Tensor | None = None,
    metadata: torch.Tensor | None = None,
    split: str | None = None,
) -> dict[str, float]:
    """The dataset's own ``eval`` results, as numbers (e.g. waterbirds ``acc_wg``).

    y_pred: (N,) predicted labels; y_true: (N,) labels; metadata: (N, M) WILDS metadata.
    When ``y_true``/``metadata`` are omitted they are the official ``split``'s, in order.
    """
    name = name.removeprefix("wilds:")
    dataset = open_wilds(name, root)
    if y_true is None or metadata is None:
        if split not in dataset.split_dict:
            raise ValueError(f"wilds:{name}: give y_true and metadata, or a split from {sorted(dataset.split_dict)}")
        mask = torch.as_tensor(np.asarray(dataset.split_array)) == dataset.split_dict[split]
        y_true, metadata = torch.as_tensor(dataset.y_array)[mask], dataset.metadata_array[mask]
    if not (len(y_pred) == len(y_true) == len(metadata)):
        raise ValueError(f"y_pred, y_true, metadata lengths differ: {len(y_pred)}, {len(y_true)}, {len(metadata)}")
    ensure_torch_scatter()
    results, _ = dataset.eval(
        y_pred.to(torch.int64).cpu(), y_true.to(torch.int64).cpu(), metadata.to(torch.int64).cpu()
    )
    return {k: float(v) for k, v in results.items()}


def _register(name: str) -> None:
    default_size = WILDS_TABLE[name]["image_size"]

    def loader(
        seed: int,
        root: str | None = None,
        image_size: int = default_size,
        max_per_part: int | None = None,
        id_test_fraction: float | None = None,
        num_workers: int | None = None,
        environments: bool = True,
    ) -> Loaded:
        return load_wilds(name, seed, root, image_size, max_per_part, id_test_fraction, num_workers, environments)

    loader.__name__ = f"load_wilds_{name}"
    loader.__doc__ = f"WILDS {name} (official splits + carved id_test); see regbench.data.wilds_data.load_wilds."
    register_dataset(f"wilds:{name}", training_envs=functools.partial(training_envs, name))(loader)


for _name in WILDS_TABLE:
    _register(_name)
