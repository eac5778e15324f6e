"""The on-disk split cache: keyed by spec fingerprint, corruption detected, safe under concurrency."""

from __future__ import annotations

import subprocess
import sys

import torch
from conftest import tiny_suite

from regbench.cli import main
from regbench.config import parse_suite
from regbench.data import cache
from regbench.harness import run_one as runner
from regbench.harness.plan import plan_suite


def bench_of(**shift):
    suite = tiny_suite()
    if shift:
        suite["benchmarks"][0]["shift"] = shift
    return plan_suite(parse_suite(suite)).runs[0].benchmark


def test_prepare_builds_then_reuses(isolated_cache, write_suite, capsys):
    path = write_suite(tiny_suite())
    assert main(["data", "prepare", str(path)]) == 0
    first = capsys.readouterr().out
    assert "built" in first and "test_id" in first and "ood/gaussian_noise/5" in first
    runner._SPLITS.clear()
    assert main(["data", "prepare", str(path)]) == 0
    second = capsys.readouterr().out
    assert "cached" in second
    # same sizes, balances and content fingerprints both times
    assert [line for line in first.splitlines() if line.startswith("  ")] == [
        line for line in second.splitlines() if line.startswith("  ")
    ]


def test_changed_spec_gets_a_new_fingerprint(isolated_cache):
    a = runner.fingerprint(bench_of(kind="covariate", corruptions=["gaussian_noise"], severities=[2]))
    b = runner.fingerprint(bench_of(kind="covariate", corruptions=["gaussian_noise"], severities=[3]))
    assert a != b
    runner.build_splits(bench_of(kind="covariate", corruptions=["gaussian_noise"], severities=[2]))
    assert (isolated_cache / a / "manifest.json").exists() and not (isolated_cache / b).exists()


def test_corrupted_entry_is_detected_and_rebuilt(isolated_cache):
    bench = bench_of()
    key = runner.fingerprint(bench)
    clean = runner.build_splits(bench)
    data = isolated_cache / key / "splits.pt"
    blob = bytearray(data.read_bytes())
    blob[len(blob) // 2] ^= 0xFF  # flip one byte in the middle of the tensors
    data.write_bytes(bytes(blob))
    runner._SPLITS.clear()
    import pytest

    with pytest.raises(cache.CacheCorrupt):
        cache.load(key, isolated_cache)
    with pytest.warns(UserWarning, match="rebuilding corrupted cache entry"):
        rebuilt = runner.build_splits(bench)
    assert torch.equal(rebuilt.ood["gaussian_noise/5"].x, clean.ood["gaussian_noise/5"].x)
    assert cache.load(key, isolated_cache) is not None  # the rebuilt entry verifies


def test_two_processes_preparing_at_once_leave_one_valid_entry(isolated_cache, write_suite):
    path = write_suite(tiny_suite())
    cmd = [sys.executable, "-m", "regbench.cli", "data", "prepare", str(path)]
    env = {**__import__("os").environ, "REGBENCH_CACHE": str(isolated_cache)}
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    entries = [p for p in isolated_cache.iterdir()]
    assert len(entries) == 1, entries  # no temporary folders left behind
    assert cache.load(entries[0].name, isolated_cache) is not None


def lean_splits(shared_test: bool = True):
    """Splits of uint8-valued images (k / 255), a float-only OOD split, and (``shared_test``) an
    OOD split holding test_id's images again, plus a subset of train."""
    from regbench.data.base import DatasetInfo, Examples, Splits

    g = torch.Generator().manual_seed(0)

    def images(n):
        return torch.randint(0, 256, (n, 2, 28, 28), generator=g, dtype=torch.uint8).float().div_(255.0)

    def ex(x):
        return Examples(x, torch.arange(len(x)) % 10, {"image_id": torch.arange(len(x))})

    train, val, test = images(300), images(100), images(200)
    noisy = test + 0.01 * torch.randn(test.shape, generator=g)  # not k / 255: stays float32
    ood = {"noisy": ex(noisy), "train_subset": ex(train[::3])}
    if shared_test:
        ood["again"] = ex(test.clone())
    info = DatasetInfo(name="fake", num_classes=10, input_shape=(2, 28, 28))
    return Splits(ex(train), ex(val), ex(test), ood, info, {})


def test_round_trip_keeps_dtype_and_every_bit(tmp_path):
    splits = lean_splits()
    folder = cache.save("fp", splits, tmp_path)
    back = cache.load("fp", tmp_path)
    stored = torch.load(folder / "splits.pt", weights_only=True)
    assert {p["encoding"] for p in stored["pools"].values()} == {cache.UINT8_SCALED, None}
    for name in ("train", "val", "test_id"):
        a, b = getattr(splits, name), getattr(back, name)
        assert b.x.dtype == torch.float32 and torch.equal(a.x.view(torch.int32), b.x.view(torch.int32))
        assert torch.equal(a.y, b.y) and torch.equal(a.meta["image_id"], b.meta["image_id"])
    assert list(back.ood) == list(splits.ood)
    for name, e in splits.ood.items():
        assert torch.equal(e.x.view(torch.int32), back.ood[name].x.view(torch.int32))


def test_negative_zero_is_not_stored_as_uint8():
    x = torch.zeros(4, 3)
    x[1, 2] = -0.0
    assert cache._encode(x)[1] is None  # -0.0 would come back +0.0
    assert cache._encode(torch.zeros(4, 3))[1] == cache.UINT8_SCALED


def test_shared_images_are_stored_once(tmp_path):
    """test_id again under another name, and a train subset, cost their indices only; the pixels
    of uint8-valued images take one byte each."""
    with_shared = cache.save("a", lean_splits(shared_test=True), tmp_path) / "splits.pt"
    without = cache.save("b", lean_splits(shared_test=False), tmp_path) / "splits.pt"
    index_bytes = 200 * 4 + 200 * 8 * 2  # the extra split's int32 index, its labels and image ids
    assert with_shared.stat().st_size - without.stat().st_size < index_bytes + 4096
    pixels = 2 * 28 * 28
    unique_uint8 = (300 + 100 + 200) * pixels  # train, val, test_id: the train subset adds nothing
    stored = torch.load(without, weights_only=True)
    sizes = sorted(p["x"].numel() * p["x"].element_size() for p in stored["pools"].values())
    assert sizes == sorted([unique_uint8, 200 * pixels * 4])
