"""Make ``twolevel_digits_gn.npz``: per-(seed, image) correctness of real erm runs.

The coverage test of ``regbench.report.stats.crossed`` (tests/test_twolevel.py) resamples these
outcomes as its population. Made once with (from the repository root, about 2 CPU-minutes)::

    PYTHONPATH=$PWD python tests/data/make_twolevel_fixture.py

which writes the suite YAML below to a scratch folder, runs
``regbench run <yaml> --workers 1 --no-progress --store <scratch>/gn.sqlite`` (erm, seeds 0-39,
the ood suite's digits-c budget: cnn width 16, 20 epochs, Adam lr 6e-3, batch 128, gaussian
noise severities 1-5) and reads the stored per-image predictions and targets.

Saved arrays (seeds in rows, images in columns; the OOD splits are the test_id images corrupted,
image i of every split is a warp of base image i):

- ``test_id``, ``gaussian_noise_1`` … ``gaussian_noise_5``: (n_seeds, N) uint8, 1 = correct;
- ``clusters``: (N,) int64, the base image of each column (the same for all six splits);
- ``seeds``: (n_seeds,) int64.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

import numpy as np

SEEDS = list(range(40))
SPLITS = ["test_id"] + [f"ood/gaussian_noise/{s}" for s in range(1, 6)]
OUT = Path(__file__).resolve().parent / "twolevel_digits_gn.npz"
SUITE = f"""name: twolevel-digits-gn
description: erm on digits with gaussian noise severities 1-5, many seeds (tests/data fixture)
seeds: {SEEDS}
regularizers: [erm]
train: {{epochs: 20, batch_size: 128, optimizer: adam, lr: 6.0e-3}}
benchmarks:
  - name: digits-gn
    dataset: digits
    model: cnn
    model_args: {{width: 16}}
    shift: {{kind: covariate, corruptions: [gaussian_noise], severities: [1, 2, 3, 4, 5]}}
"""


def _labels(blob: bytes) -> np.ndarray:
    return np.frombuffer(zlib.decompress(bytes(blob)), dtype=np.int16).astype(np.int64)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        suite, store = Path(tmp) / "gn.yaml", Path(tmp) / "gn.sqlite"
        suite.write_text(SUITE)
        cmd = [sys.executable, "-m", "regbench.cli", "run", str(suite), "--workers", "1", "--no-progress"]
        subprocess.run([*cmd, "--store", str(store)], check=True)
        db = sqlite3.connect(store)
        runs = db.execute("SELECT run_key, seed, fingerprint FROM runs WHERE status='ok' ORDER BY seed").fetchall()
        if len(runs) != len(SEEDS):
            raise SystemExit(f"expected {len(SEEDS)} ok runs, got {len(runs)}")
        out: dict[str, np.ndarray] = {"seeds": np.array([s for _, s, _ in runs], dtype=np.int64)}
        for split in SPLITS:
            rows = []
            for key, _, fp in runs:
                (pred,) = db.execute(
                    "SELECT labels FROM predictions WHERE run_key=? AND split=?", (key, split)
                ).fetchone()
                (true,) = db.execute(
                    "SELECT labels FROM targets WHERE fingerprint=? AND split=?", (fp, split)
                ).fetchone()
                rows.append(_labels(pred) == _labels(true))
            out[split.removeprefix("ood/").replace("/", "_")] = np.array(rows, dtype=np.uint8)
        out["clusters"] = np.arange(out["test_id"].shape[1], dtype=np.int64)
    np.savez_compressed(OUT, **out)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes):", {k: v.shape for k, v in out.items()})


if __name__ == "__main__":
    main()
