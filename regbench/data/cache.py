"""On-disk cache of generated splits, keyed by the fingerprint of their spec (docs/architecture.md, Data and shifts).

Layout: ``<cache>/<fingerprint>/`` holding ``splits.pt`` (the tensors) and ``manifest.json``
(dataset info, split info, and the sha256 of ``splits.pt``). ``<cache>`` is
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

FORMAT = 4  # 2: DatasetInfo carries its task; 3: and its input modality; 4: test splits carry meta["image_id"]


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


def _pack(splits: Splits) -> dict:
    def ex(e: Examples) -> dict:
        return {"x": e.x, "y": e.y, "meta": dict(e.meta)}

    return {
        "train": ex(splits.train),
        "val": ex(splits.val),
        "test_id": ex(splits.test_id),
        "ood": {k: ex(v) for k, v in splits.ood.items()},
    }


def _unpack(tensors: dict, manifest: dict) -> Splits:
    def ex(d: dict) -> Examples:
        return Examples(d["x"], d["y"], d["meta"])

    info = manifest["info"]
    info = DatasetInfo(**{**info, "input_shape": tuple(info["input_shape"]), "factors": tuple(info["factors"])})
    return Splits(
        ex(tensors["train"]),
        ex(tensors["val"]),
        ex(tensors["test_id"]),
        {k: ex(v) for k, v in tensors["ood"].items()},
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
