"""Stored label blobs → numpy (the torch-free twin of ``regbench.evaluate.classify.unpack_predictions``)."""

from __future__ import annotations

import zlib

import numpy as np


def unpack_labels(blob: bytes) -> np.ndarray:
    """zlib-compressed int16 labels (as written by ``evaluate.pack_predictions``) → (N,) int64."""
    return np.frombuffer(zlib.decompress(bytes(blob)), dtype=np.int16).astype(np.int64)
