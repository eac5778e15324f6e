"""On-disk cache of generated splits, keyed by the fingerprint of their spec (docs/architecture.md, Data and shifts).

Layout: ``<cache>/<fingerprint>/`` holding ``splits.pt`` (the tensors) and ``manifest.json``
(dataset info, split info, and the sha256 of ``splits.pt``). ``splits.pt`` keeps every image
once, in pools of unique images (uint8 where that gives the float32 values back bit for bit);
each split is an index into its pool, its labels and its meta. ``<cache>`` is
``$REGBENCH_CACHE`` when set, else ``~/.cache/regbench`` (XDG_CACHE_HOME respected).

- A changed spec has a new fingerprint, hence a new folder: stale data is never reused.
- A corrupted or truncated file fails its checksum and is rebuilt, not silently used.
- Two processes preparing the same split at once each write a private temporary folder and
  publish it with one atomic ``rename``; the loser discards its copy. Readers only ever see
  complete folders.

We chose torch's own format over HuggingFace Arrow here: for a few MB of float tensors the
Arrow round trip (Array3D features) costs seconds (docs/architecture.md, Measured here: Hub and cache) and buys nothing a
checksum does not; the HF path is used where data really comes from the Hub (data/hub.py).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import torch

from regbench.data.base import DatasetInfo, Examples, Splits
from regbench.registry import UserError

FORMAT = 5  # 2: DatasetInfo carries its task; 3: and its input modality; 4: test splits carry meta["image_id"];
# 5: images in shared pools of unique images (uint8 where exact), each split an index into one


def cache_dir() -> Path:
    """The cache root: ``$REGBENCH_CACHE``, else ``$XDG_CACHE_HOME/regbench`` or ``~/.cache/regbench``."""
    if os.environ.get("REGBENCH_CACHE"):
        return Path(os.environ["REGBENCH_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "regbench"


class CacheCorrupt(RuntimeError):
    """A cached entry failed its integrity check."""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def split_fingerprint(ex: Examples) -> str:
    """Content hash of one split's inputs and labels (printed by ``regbench data prepare``)."""
    h = hashlib.sha256()
    for t in (ex.x, ex.y):
        h.update(str((tuple(t.shape), str(t.dtype))).encode())
        h.update(t.contiguous().cpu().numpy().tobytes())
    return h.hexdigest()[:16]


# Images whose float32 values are exactly k/255 (every uint8-sourced dataset: MNIST, CIFAR,
# digits) are stored as the uint8 k and turned back into float32 on load by this one expression;
# save checks bit for bit that it gives back the very tensor, and stores float32 otherwise.
UINT8_SCALED = "uint8/255"


def _from_uint8(codes: torch.Tensor) -> torch.Tensor:
    """uint8 codes k → float32 k / 255 (the encoding :data:`UINT8_SCALED`)."""
    return codes.float().div_(255.0)


def _encode(x: torch.Tensor) -> tuple[torch.Tensor, str | None]:
    """``(uint8 codes, UINT8_SCALED)`` when ``_from_uint8`` of them is ``x`` bit for bit, else ``(x, None)``."""
    if x.dtype != torch.float32 or x.numel() == 0:
        return x, None
    x = x.contiguous()
    scaled = (x * 255.0).round_()
    if not bool(((scaled >= 0) & (scaled <= 255)).all()):  # also False for NaN
        return x, None
    codes = scaled.to(torch.uint8)
    if torch.equal(_from_uint8(codes).view(torch.int32), x.view(torch.int32)):  # bits, so -0.0 and NaN stay
        return codes, UINT8_SCALED
    return x, None


def _row_keys(rows: torch.Tensor) -> list[bytes]:
    """A 16-byte digest of each row of ``rows`` (N, …): the deduplication key of one image."""
    flat = rows.reshape(len(rows), -1).contiguous().view(torch.uint8).numpy()
    return [hashlib.blake2b(row.tobytes(), digest_size=16).digest() for row in flat]


def _pack(splits: Splits) -> dict:
    """The tensors to save: each split's images as indices into a pool of unique images per
    (encoding, dtype, image shape), pools uint8 where exact (:func:`_encode`). A split that
    shares images with another (a subset, a resample, the same test images under two names)
    costs its index only. The pools are checked to rebuild every split bit for bit."""
    named = {"train": splits.train, "val": splits.val, "test_id": splits.test_id}
    named.update({f"ood/{k}": v for k, v in splits.ood.items()})
    encoded = {name: _encode(e.x) for name, e in named.items()}
    pools: dict[str, dict] = {}
    where: dict[str, tuple[str, list[int]]] = {}
    for name, (x, encoding) in encoded.items():
        kind = str((encoding, str(x.dtype), tuple(x.shape[1:])))
        pool = pools.setdefault(kind, {"encoding": encoding, "rows": [], "seen": {}})
        index = []
        for i, key in enumerate(_row_keys(x)):
            if key not in pool["seen"]:
                pool["seen"][key] = len(pool["rows"])
                pool["rows"].append((name, i))
            index.append(pool["seen"][key])
        where[name] = (kind, index)
    # a pool's rows were first seen split by split, in order: each split's new rows form one run
    out: dict = {"pools": {}, "splits": {}}
    for n, pool in enumerate(pools.values()):
        by_split: dict[str, list[int]] = {}
        for name, i in pool["rows"]:
            by_split.setdefault(name, []).append(i)
        x = torch.cat([encoded[name][0][torch.tensor(rows, dtype=torch.long)] for name, rows in by_split.items()])
        pool["name"] = f"pool{n}"
        out["pools"][pool["name"]] = {"x": x, "encoding": pool["encoding"]}
    for name, e in named.items():
        kind, index = where[name]
        out["splits"][name] = {
            "pool": pools[kind]["name"],
            "index": torch.tensor(index, dtype=torch.int32),
            "y": e.y,
            "meta": dict(e.meta),
        }
    for name, e in named.items():  # the pools must give back every split exactly, or nothing is saved
        if not torch.equal(_images(out, name).view(torch.uint8), e.x.contiguous().view(torch.uint8)):
            raise AssertionError(f"cache packing would change split {name!r}")
    return out


def _images(tensors: dict, name: str) -> torch.Tensor:
    """Split ``name``'s images (N, …) from its pool: gathered by index, decoded when uint8-scaled."""
    split = tensors["splits"][name]
    pool = tensors["pools"][split["pool"]]
    rows = pool["x"][split["index"].long()]
    return _from_uint8(rows) if pool["encoding"] == UINT8_SCALED else rows


def _unpack(tensors: dict, manifest: dict) -> Splits:
    def ex(name: str) -> Examples:
        d = tensors["splits"][name]
        return Examples(_images(tensors, name), d["y"], d["meta"])

    info = manifest["info"]
    info = DatasetInfo(**{**info, "input_shape": tuple(info["input_shape"]), "factors": tuple(info["factors"])})
    ood = [name.removeprefix("ood/") for name in tensors["splits"] if name.startswith("ood/")]
    return Splits(
        ex("train"),
        ex("val"),
        ex("test_id"),
        {k: ex(f"ood/{k}") for k in ood},
        info,
        manifest["split_info"],
    )


def load(fingerprint: str, root: Path | None = None) -> Splits | None:
    """The cached splits for ``fingerprint``, None when absent; raises :class:`CacheCorrupt`."""
    folder = (root or cache_dir()) / fingerprint
    manifest_path = folder / "manifest.json"
    if not manifest_path.exists():
        return None
    try:
        manifest = json.loads(manifest_path.read_text())
        data = folder / "splits.pt"
        if manifest.get("format") != FORMAT or _sha256(data) != manifest["sha256"]:
            raise CacheCorrupt(f"{folder}: checksum or format mismatch")
        tensors = torch.load(data, weights_only=True)
        return _unpack(tensors, manifest)
    except CacheCorrupt:
        raise
    except Exception as err:  # unreadable JSON, truncated file, missing keys
        raise CacheCorrupt(f"{folder}: {type(err).__name__}: {err}") from None


class CacheUnwritable(UserError, OSError):
    """The cache folder cannot be written (read-only, no permission, disk full): one line."""


def _unwritable(root: Path, err: OSError) -> CacheUnwritable:
    what = "disk full" if err.errno in (errno.ENOSPC, errno.EDQUOT) else "cannot write there"
    return CacheUnwritable(
        f"data cache {root}: {what} ({err.strerror or err}); set REGBENCH_CACHE to a writable folder "
        "(or REGBENCH_CACHE=off to build the data in memory each time)"
    )


def save(fingerprint: str, splits: Splits, root: Path | None = None) -> Path:
    """Write ``splits`` under ``fingerprint`` atomically; returns the folder. A cache folder that
    cannot be written is a one-line :class:`CacheUnwritable` (its temporary folder removed)."""
    root = root or cache_dir()
    final = root / fingerprint
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{fingerprint}.", dir=root))
    except OSError as err:
        raise _unwritable(root, err) from None
    try:
        torch.save(_pack(splits), tmp / "splits.pt")
        manifest = {
            "format": FORMAT,
            "sha256": _sha256(tmp / "splits.pt"),
            "info": asdict(splits.info),
            "split_info": splits.split_info,
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, sort_keys=True, default=str))
        try:
            os.rename(tmp, final)  # atomic publish; fails if another process published first
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
    except OSError as err:
        shutil.rmtree(tmp, ignore_errors=True)
        raise _unwritable(root, err) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def cached_splits(fingerprint: str, build: Callable[[], Splits], root: Path | None = None) -> Splits:
    """Return the splits for ``fingerprint`` from the cache, building (and caching) them when absent
    or corrupted. Set ``REGBENCH_CACHE=off`` to bypass the disk cache."""
    if os.environ.get("REGBENCH_CACHE") == "off":
        return build()
    root = root or cache_dir()
    try:
        hit = load(fingerprint, root)
        if hit is not None:
            return hit
    except CacheCorrupt as err:
        warnings.warn(f"rebuilding corrupted cache entry: {err}", stacklevel=2)
        shutil.rmtree(root / fingerprint, ignore_errors=True)
    splits = build()
    save(fingerprint, splits, root)
    return splits
