"""Tiny real datasets fabricated in their real on-disk formats (no network, seconds).

Each builder writes under ``root`` exactly what the library reads (torchvision's CIFAR-10
python pickles, the published CIFAR-10-C ``.npy`` layout, WILDS' ``<name>_v1.0`` folders
with ``RELEASE_v1.0.txt`` + ``metadata.csv`` + image files, a HuggingFace dataset saved with
``save_to_disk`` or as parquet files) and returns what a test needs to check the loaders.
Pixel values encode the label/metadata so tests can check that images and labels stay
aligned through the real code path.
"""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import numpy as np

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def _cifar_images(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(N, 3072) uint8 rows, CHW-flattened as in the CIFAR python batches; red = 20·label."""
    x = rng.integers(0, 256, (len(labels), 3, 32, 32), dtype=np.uint8)
    x[:, 0] = (20 * labels).astype(np.uint8)[:, None, None]
    return x.reshape(len(labels), 3072)


def make_cifar10(root: Path, per_batch: int = 20, n_test: int = 20, seed: int = 0) -> dict:
    """``<root>/cifar-10-batches-py/`` with 5 train batches, a test batch and batches.meta."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    train_labels = []
    for i in range(1, 6):
        labels = np.arange(per_batch) % 10
        train_labels.append(labels)
        batch = {
            "batch_label": f"training batch {i} of 5",
            "labels": labels.tolist(),
            "data": _cifar_images(labels, rng),
            "filenames": [f"f{i}_{j}.png" for j in range(per_batch)],
        }
        (folder / f"data_batch_{i}").write_bytes(pickle.dumps(batch, protocol=2))
    test_labels = rng.permutation(np.arange(n_test) % 10)
    test = {"batch_label": "testing batch 1 of 1", "labels": test_labels.tolist(),
            "data": _cifar_images(test_labels, rng), "filenames": [f"t{j}.png" for j in range(n_test)]}  # fmt: skip
    (folder / "test_batch").write_bytes(pickle.dumps(test, protocol=2))
    meta = {"num_cases_per_batch": per_batch, "label_names": CLASSES, "num_vis": 3072}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    md5 = {f.name: hashlib.md5(f.read_bytes()).hexdigest() for f in folder.iterdir()}  # what the loader checks
    return {
        "train_labels": np.concatenate(train_labels),
        "test_labels": test_labels,
        "test_data": test["data"],
        "md5": md5,
    }


def make_cifar10c(root: Path, test_labels: np.ndarray, corruptions=("gaussian_noise", "fog")) -> dict:
    """``<root>/CIFAR-10-C/<corruption>.npy`` (5·n, 32, 32, 3) uint8 and ``labels.npy``.

    Pixel value at severity s of corruption k is 10·k + s (so parts are distinguishable).
    """
    folder = root / "CIFAR-10-C"
    folder.mkdir(parents=True, exist_ok=True)
    n = len(test_labels)
    np.save(folder / "labels.npy", np.tile(test_labels, 5).astype(np.uint8))
    for k, c in enumerate(corruptions):
        sev = np.repeat(np.arange(1, 6), n)
        arr = np.broadcast_to((10 * k + sev).astype(np.uint8)[:, None, None, None], (5 * n, 32, 32, 3))
        np.save(folder / f"{c}.npy", np.ascontiguousarray(arr))
    return {"corruptions": list(corruptions)}


def _save_image(path: Path, rgb: tuple[int, int, int], size: tuple[int, int]) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, rgb).save(path)


def make_waterbirds(root: Path, per_cell: int = 4) -> dict:
    """``<root>/waterbirds_v1.0/`` with metadata.csv and solid-colour JPEGs of varied sizes.

    Cells: split (0 train, 1 val, 2 test) × y × place, ``per_cell`` rows each. The red channel
    is 60·y + 30·place + 10, green 100 + 40·split; the real images vary in size, so do these.
    """
    import pandas as pd

    folder = root / "waterbirds_v1.0"
    rows = []
    for split in range(3):
        for y in range(2):
            for place in range(2):
                for _ in range(per_cell):
                    i = len(rows)
                    name = f"{y:03d}.Bird_{y}/img_{i:04d}.jpg"
                    size = (10 + (i % 3) * 4, 12 + (i % 2) * 6)
                    _save_image(folder / name, (60 * y + 30 * place + 10, 100 + 40 * split, 50), size)
                    rows.append({"img_id": i, "img_filename": name, "y": y, "split": split, "place": place,
                                 "place_filename": f"/p/{i}.jpg"})  # fmt: skip
    pd.DataFrame(rows).to_csv(folder / "metadata.csv", index=False)
    (folder / "RELEASE_v1.0.txt").write_text("")
    return {"metadata": pd.DataFrame(rows)}


def make_camelyon17(root: Path, per_center: int = 8) -> dict:
    """``<root>/camelyon17_v1.0/`` with metadata.csv (index column first) and PNG patches.

    Hospitals 0–4, two slides each; hospital 1 becomes OOD val and 2 the test split
    (wilds rewrites their split); the rest alternate train (0) / id_val (1).
    Red channel = 100·tumor + 20·center.
    """
    import pandas as pd

    folder = root / "camelyon17_v1.0"
    rows = []
    for center in range(5):
        for k in range(per_center):
            patient, node, x, y = f"{center:03d}", k % 2, 32 * k, 64
            tumor = k % 2 if k < 4 else (k // 2) % 2
            name = f"patches/patient_{patient}_node_{node}/patch_patient_{patient}_node_{node}_x_{x}_y_{y}.png"
            _save_image(folder / name, (100 * tumor + 20 * center, 80, 80), (12, 12))
            rows.append({"patient": patient, "node": node, "x_coord": x, "y_coord": y, "tumor": tumor,
                         "slide": 2 * center + node, "center": center, "split": int(k >= 4)})  # fmt: skip
    df = pd.DataFrame(rows)
    df.to_csv(folder / "metadata.csv")  # with the index as first column, as published
    (folder / "RELEASE_v1.0.txt").write_text("")
    return {"metadata": df}


def make_hf(root: Path, kind: str = "save_to_disk", n_train: int = 100, n_test: int = 10) -> dict:
    """A CIFAR-like HF dataset (``img`` Image / Array3D, ``label`` ClassLabel) under ``root``.

    kind: ``save_to_disk`` (a DatasetDict folder), ``parquet`` (``train-…``/``test-…``
    parquet files, as on the hub, Image feature stored as PNG bytes) or ``array``
    (save_to_disk with an Array3D uint8 HWC column). Red channel = 20·label.
    """
    from datasets import Array3D, ClassLabel, Dataset, DatasetDict, Features, Image
    from PIL import Image as PILImage

    rng = np.random.default_rng(1)
    out = {}
    for split, n in (("train", n_train), ("test", n_test)):
        labels = np.arange(n) % 10
        imgs = rng.integers(0, 256, (n, 8, 8, 3), dtype=np.uint8)
        imgs[..., 0] = (20 * labels)[:, None, None]
        if kind == "array":
            feats = Features({"img": Array3D((8, 8, 3), "uint8"), "label": ClassLabel(names=CLASSES)})
            out[split] = Dataset.from_dict({"img": imgs, "label": labels}, features=feats)
        else:
            feats = Features({"img": Image(), "label": ClassLabel(names=CLASSES)})
            pil = [PILImage.fromarray(a) for a in imgs]
            out[split] = Dataset.from_dict({"img": pil, "label": labels}, features=feats)
        out[f"{split}_images"] = imgs
    folder = root / f"hf_{kind}"
    if kind == "parquet":
        for split in ("train", "test"):
            out[split].to_parquet(str(folder / f"{split}-00000-of-00001.parquet"))
    else:
        DatasetDict({"train": out["train"], "test": out["test"]}).save_to_disk(str(folder))
    return {"path": folder, **out}
