"""The publication bundle and `regbench verify`: a fresh smoke leaderboard verifies identical,
a tampered metric is named, a missing bundle is one line, and no published file names a
machine-local path."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest

from regbench.cli import main


@pytest.fixture(scope="module")
def smoke_bundle(tmp_path_factory):
    """The smoke suite (2 seeds) run into a temporary store, its leaderboard (no plots) built with the bundle."""
    tmp = tmp_path_factory.mktemp("smoke")
    store = tmp / "smoke.sqlite"
    assert main(["run", "smoke", "--store", str(store), "--workers", "1", "--no-progress"]) == 0
    out = tmp / "leaderboard" / "smoke"
    assert main(["leaderboard", "smoke", "--store", str(store), "--out", str(out), "--no-plots", "--reps", "50"]) == 0
    return out


def test_bundle_files_and_manifest(smoke_bundle):
    for name in ("runs.jsonl.gz", "manifest.json", "config.json", "suite.yaml"):
        assert (smoke_bundle / name).is_file()
    manifest = json.loads((smoke_bundle / "manifest.json").read_text())
    assert manifest["suite_file"] == "suites/smoke.yaml" and manifest["runs"] == 12
    trained = manifest["trained_with"]
    assert trained["threads"] == 1 and trained["device"] == "cpu" and trained["precision"] == "fp32"
    assert trained["commands"] == ["regbench run smoke --store smoke.sqlite --workers 1 --no-progress"]
    config = json.loads((smoke_bundle / "config.json").read_text())
    assert config["benchmarks"][0]["model_args"]["width"] == 128
    assert {"label": "mixup", "kind": "augmentation", "stack": [{"name": "mixup", "params": {"alpha": 0.2}}]} in (
        config["regularizers"]
    )
    with gzip.open(smoke_bundle / "runs.jsonl.gz", "rt") as f:
        line = json.loads(f.readline())
    assert "train_seconds" in line["timings"] and "train_seconds" not in line["metrics"]["run"]
    readme = (smoke_bundle / "README.md").read_text()
    assert "## Settings" in readme and "mixup(alpha=0.2)" in readme and "by `regbench run smoke" in readme


def test_no_machine_local_path_in_any_published_file(smoke_bundle):
    local = [str(smoke_bundle.parent.parent), str(Path.home()), "/tmp/", "/home/", "/root/", str(Path.cwd())]
    for path in smoke_bundle.iterdir():
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        text = data.decode("utf-8", errors="replace")
        for prefix in local:
            assert prefix not in text, f"{path.name} holds the machine-local path {prefix}"


def test_verify_fresh_bundle_is_identical(smoke_bundle, capsys):
    assert main(["verify", str(smoke_bundle), "--all", "--workers", "1", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert out.count("identical  digits-noise/") == 12 and "12 identical, 0 different, 0 missing" in out


def test_verify_names_a_tampered_metric(smoke_bundle, tmp_path, capsys):
    copy = tmp_path / "smoke"
    shutil.copytree(smoke_bundle, copy)
    with gzip.open(copy / "runs.jsonl.gz", "rt") as f:
        lines = [json.loads(x) for x in f]
    target = next(r for r in lines if r["regularizer"] == "erm" and r["seed"] == 0)
    target["metrics"]["ood/gaussian_noise/3"]["accuracy"] += 0.01
    with gzip.open(copy / "runs.jsonl.gz", "wt") as f:
        f.writelines(json.dumps(r) + "\n" for r in lines)
    assert main(["verify", str(copy), "--workers", "1", "--no-progress"]) == 1
    out = capsys.readouterr().out
    assert "different  digits-noise/erm/seed0: ood/gaussian_noise/3/accuracy" in out
    assert "difference 0.01" in out and "2 identical, 1 different, 0 missing (of 3)" in out


def test_verify_without_a_bundle_is_one_line(tmp_path, capsys):
    (tmp_path / "README.md").write_text("an old leaderboard")
    assert main(["verify", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "has no publication bundle" in err and "manifest.json" in err


def test_only_published_numbers_are_compared():
    """A metric a newer regbench records (erm's top Hessian eigenvalue) is not a published
    number; a published one the rerun lacks is an infinite difference."""
    from regbench.commands.verify import largest_difference

    published = {"test_id": {"accuracy": 0.9}, "run": {"sharpness_at_0.05": 0.01}}
    newer = {"test_id": {"accuracy": 0.9}, "run": {"sharpness_at_0.05": 0.01, "hessian_max_eigenvalue": 5.0}}
    assert largest_difference(published, newer) is None
    lost = {"test_id": {"accuracy": 0.9}, "run": {}}
    assert largest_difference(published, lost) == (float("inf"), "run/sharpness_at_0.05", 0.01, "absent")
    moved = {"test_id": {"accuracy": 0.8}, "run": {"sharpness_at_0.05": 0.01}}
    assert largest_difference(published, moved)[1] == "test_id/accuracy"
