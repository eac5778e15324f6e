"""Speech Commands (Warden 2018, arXiv:1804.03209) read from its on-disk layout with ``wave``.

Layout (as the published ``speech_commands_v0.02.tar.gz`` extracts)::

    <root>/<label>/<speaker>_nohash_<k>.wav     mono PCM, 16 kHz, ≤ 1 s
    <root>/validation_list.txt, testing_list.txt   (optional) "<label>/<file>.wav" per line
    <root>/_background_noise_/…                    folders starting with "_" are not labels

``root`` defaults to ``$REGBENCH_DATA/speech_commands``. Clips are mono-mixed, scaled to
[-1, 1] and zero-padded or cut to ``duration`` seconds: x (N, 1, L) float32 like
``audio_commands``, so the same models and shifts' features apply. When the official lists
are present they define val and test (they split by speaker); otherwise a seeded stratified
split is made. The speaker (the file-name prefix) is kept in ``meta["speaker"]``.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import torch

from regbench.data import register_dataset
from regbench.data.base import DatasetInfo, Examples, Loaded
from regbench.data.errors import DatasetMissingError, data_root
from regbench.data.splitting import stratified_parts

FOLDER = "speech_commands"
URL = "http://download.tensorflow.org/data/speech_commands_v0.02.tar.gz"
LISTS = {"val": "validation_list.txt", "test": "testing_list.txt"}


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """(samples as float32 in [-1, 1], mono-mixed; sample rate) of an 8/16/32-bit PCM WAV file."""
    with wave.open(str(path), "rb") as f:
        width, channels, rate = f.getsampwidth(), f.getnchannels(), f.getframerate()
        raw = f.readframes(f.getnframes())
    if width == 1:  # 8-bit WAV is unsigned
        audio = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width in (2, 4):
        dtype = np.int16 if width == 2 else np.int32
        audio = np.frombuffer(raw, dtype).astype(np.float32) / float(np.iinfo(dtype).max + 1)
    else:
        raise ValueError(f"{path}: {8 * width}-bit WAV is not supported (8, 16 or 32-bit PCM)")
    return audio.reshape(-1, channels).mean(axis=1), rate


def _fit(audio: np.ndarray, length: int) -> np.ndarray:
    """Zero-pad or cut to ``length`` samples (Speech Commands clips are ≤ 1 s)."""
    out = np.zeros(length, np.float32)
    out[: min(length, len(audio))] = audio[:length]
    return out


def _list(folder: Path, name: str) -> set[str]:
    path = folder / name
    return set(path.read_text().split()) if path.is_file() else set()


@register_dataset("speech_commands", modality="audio")
def load_speech_commands(
    seed: int,
    root: str | None = None,
    labels: list[str] | None = None,
    duration: float = 1.0,
    max_per_label: int | None = None,
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
) -> Loaded:
    """Speech Commands clips: x (N, 1, L) float32 in [-1, 1], y (N,) int64 index into ``labels``.

    ``labels`` defaults to every label folder, sorted; ``max_per_label`` keeps the first
    files of each label in sorted order (the full v0.02 set is 105k clips, 6.7 GB as float32).
    """
    folder = Path(root).expanduser() if root is not None else data_root() / FOLDER
    how = f"download {URL} and extract it into {folder} so that {folder}/<label>/<file>.wav exist"
    found = (
        sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("_")) if folder.is_dir() else []
    )
    chosen = list(labels) if labels is not None else found
    missing = [lab for lab in chosen if not any((folder / lab).glob("*.wav"))]
    if not chosen or missing:
        where = [folder / lab for lab in missing] if missing else [folder / "<label>" / "<file>.wav"]
        raise DatasetMissingError("speech_commands", where, how)
    files = [(i, p) for i, lab in enumerate(chosen) for p in sorted((folder / lab).glob("*.wav"))[:max_per_label]]
    clips = [read_wav(p) for _, p in files]
    rates = sorted({rate for _, rate in clips})
    if len(rates) != 1:
        raise ValueError(f"speech_commands: clips under {folder} mix sample rates {rates}; resample them to one rate")
    length = int(round(rates[0] * duration))
    x = torch.from_numpy(np.stack([_fit(a, length) for a, _ in clips])).unsqueeze(1)
    y = torch.tensor([i for i, _ in files], dtype=torch.long)
    speakers = sorted({p.name.split("_")[0] for _, p in files})
    speaker = torch.tensor([speakers.index(p.name.split("_")[0]) for _, p in files], dtype=torch.long)
    pool = Examples(x, y, {"speaker": speaker})
    relative = [f"{p.parent.name}/{p.name}" for _, p in files]
    listed = {part: _list(folder, name) for part, name in LISTS.items()}
    if any(listed.values()):  # the official speaker-disjoint split
        in_part = {part: torch.tensor([r in names for r in relative]) for part, names in listed.items()}
        train = ~(in_part["val"] | in_part["test"])
        parts = {"train": pool.subset(train), "val": pool.subset(in_part["val"]), "test": pool.subset(in_part["test"])}
        split = "official lists"
    else:
        parts = stratified_parts(pool, {"val": val_fraction, "test": test_fraction}, seed=seed)
        split = "seeded stratified"
    info = DatasetInfo(
        name="speech_commands",
        num_classes=len(chosen),
        input_shape=(1, length),
        factors=("speaker",),
        modality="audio",
        details={
            "source": "speech_commands",
            "root": str(folder),
            "sample_rate": rates[0],
            "labels": chosen,
            "split": split,
        },
    )
    return Loaded(info, parts)
