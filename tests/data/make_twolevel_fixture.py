"""Make ``twolevel_digits_gn.npz``: per-(seed, image) correctness of real erm runs.

The coverage test of ``regbench.report.stats.crossed`` (tests/test_twolevel.py) resamples these
outcomes as its population. Made once with (from the repository root, about 3 CPU-minutes on
one thread)::

    PYTHONPATH=$PWD OMP_NUM_THREADS=1 python tests/data/make_twolevel_fixture.py

which writes the suite YAML below to a scratch folder, runs ``regbench run <yaml> --workers 1
--threads 1 --no-progress --store <scratch>/gn.sqlite`` and reads the stored per-image outcomes
(``Store.outcomes``). The benchmark is the ood suite's digits-c (suites/ood.yaml) with one
corruption: digits_synth (988 training images, a 40,000-image test pool), cnn width 16, 20
epochs, Adam lr 6e-3, batch 128, test splits of 3,000 base images, gaussian noise severities
1-5; erm, seeds 0-39.

Saved arrays (seeds in rows, images in columns; the OOD splits are the test_id images corrupted,
column i of every split is a copy of the same base image):

- ``test_id``, ``gaussian_noise_1`` … ``gaussian_noise_5``: (n_seeds, ceil(N / 8)) uint8,
  ``np.packbits(correct, axis=1)`` of the bool (n_seeds, N) correctness (unpack with
  ``np.unpackbits(a, axis=1, count=N)``);
- ``clusters``: (N,) int32, the base image of each column (``meta["image_id"]``; the same in
  all six splits, checked here);
- ``seeds``: (n_seeds,) int64.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

SEEDS = list(range(40))
SPLITS = ["test_id"] + [f"ood/gaussian_noise/{s}" for s in range(1, 6)]
OUT = Path(__file__).resolve().parent / "twolevel_digits_gn.npz"
SUITE = f"""name: twolevel-digits-gn
description: erm on digits-c (suites/ood.yaml) with gaussian noise severities 1-5 only, many seeds (tests/data fixture)
seeds: {SEEDS}
regularizers: [erm]
train: {{epochs: 20, batch_size: 128, optimizer: adam, lr: 6.0e-3}}
benchmarks:
  - name: digits-gn
    dataset: digits_synth
    dataset_args: {{n_test: 40000}}
    model: cnn
    model_args: {{width: 16}}
    shift: {{kind: covariate, corruptions: [gaussian_noise], severities: [1, 2, 3, 4, 5], test_size: 3000}}
"""


def main() -> None:
    from regbench.store import Store

    with tempfile.TemporaryDirectory() as tmp:
        suite, store_path = Path(tmp) / "gn.yaml", Path(tmp) / "gn.sqlite"
        suite.write_text(SUITE)
        cmd = [sys.executable, "-m", "regbench.cli", "run", str(suite), "--workers", "1", "--threads", "1"]
        subprocess.run([*cmd, "--no-progress", "--store", str(store_path)], check=True)
        store = Store(store_path)
        runs = store.db.execute("SELECT run_key, seed FROM runs WHERE status='ok' ORDER BY seed").fetchall()
        if [s for _, s in runs] != SEEDS:
            raise SystemExit(f"expected ok runs for seeds {SEEDS}, got {[s for _, s in runs]}")
        outcomes = store.outcomes([k for k, _ in runs])
        clusters = outcomes[runs[0][0], "test_id"].clusters
        out: dict[str, np.ndarray] = {"seeds": np.array(SEEDS, dtype=np.int64), "clusters": clusters.astype(np.int32)}
        for split in SPLITS:
            rows = [outcomes[key, split] for key, _ in runs]
            if any(not np.array_equal(r.clusters, clusters) for r in rows):
                raise SystemExit(f"{split}: its images are not the test_id base images in the same order")
            correct = np.stack([r.correct for r in rows])  # (n_seeds, N) bool
            out[split.removeprefix("ood/").replace("/", "_")] = np.packbits(correct, axis=1)
    np.savez_compressed(OUT, **out)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes):", {k: v.shape for k, v in out.items()})


if __name__ == "__main__":
    main()
