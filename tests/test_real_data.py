"""Real-data loaders on tiny fixtures in the real on-disk formats (tests/fixtures_real.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import fixtures_real as fx  # tests/ is on sys.path (pytest rootdir-less "prepend" import mode)
import numpy as np
import pytest
import torch

from regbench.data import DATASETS
from regbench.data.cifar import load_cifar10, load_cifar10_c
from regbench.data.download import check_name, download
from regbench.data.errors import DatasetMissingError
from regbench.data.hub import load_hf, parse_hf_name
from regbench.data.wilds_data import _scatter, ensure_torch_scatter, load_wilds, metadata_array, wilds_eval
from regbench.shifts.predefined import Predefined

REPO = Path(__file__).resolve().parents[1]


def red(x: torch.Tensor) -> torch.Tensor:
    """(N,) mean red channel in 0..255 units."""
    return x[:, 0].mean(dim=(1, 2)) * 255


def assert_one_line(err: Exception, *needles: str) -> None:
    text = str(err)
    assert "\n" not in text
    for needle in needles:
        assert needle in text, f"{needle!r} not in {text!r}"


# ---------------------------------------------------------------- CIFAR-10 / CIFAR-10-C


@pytest.fixture(scope="module")
def cifar_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("cifar")
    made = fx.make_cifar10(root)
    made.update(fx.make_cifar10c(root, made["test_labels"]))
    return root, made


def test_registered_names():
    for name in ["cifar10", "cifar10-c", "wilds:waterbirds", "wilds:camelyon17", "hf"]:
        assert name in DATASETS


def test_cifar10_loads_the_python_batches(cifar_root):
    root, made = cifar_root
    loaded = load_cifar10(seed=0, root=str(root), md5=made["md5"])
    parts = loaded.parts
    assert sorted(parts) == ["test", "train", "val"]
    assert (len(parts["train"]), len(parts["val"]), len(parts["test"])) == (90, 10, 20)
    assert torch.bincount(parts["val"].y, minlength=10).tolist() == [1] * 10  # stratified
    for p in parts.values():
        assert p.x.dtype == torch.float32 and p.x.shape[1:] == (3, 32, 32) and p.y.dtype == torch.int64
        assert torch.equal(red(p.x).round().long(), 20 * p.y)  # images stay aligned with labels
    assert torch.equal(parts["test"].y, torch.as_tensor(made["test_labels"]))
    # the CHW-flattened pickle rows become exactly these pixels
    expect = torch.as_tensor(made["test_data"]).reshape(-1, 3, 32, 32).float() / 255
    assert torch.equal(parts["test"].x, expect)
    assert loaded.info.flip_invariant and loaded.info.details["md5_source"] == "given"
    assert loaded.info.details["classes"][0] == "airplane"
    again = load_cifar10(seed=0, root=str(root), md5=made["md5"]).parts["val"]
    other = load_cifar10(seed=1, root=str(root), md5=made["md5"]).parts["val"]
    assert torch.equal(again.x, parts["val"].x) and not torch.equal(other.x, parts["val"].x)


def test_cifar10_md5_check_rejects_unofficial_files(cifar_root):
    root, _ = cifar_root
    with pytest.raises(DatasetMissingError) as err:
        load_cifar10(seed=0, root=str(root))
    assert_one_line(err.value, "md5", "`md5: {file: sum}`", "regbench data download cifar10")


def test_no_cifar_file_is_unpickled_before_its_md5_is_checked(tmp_path):
    """A planted batch file whose pickle would run code: refused by its md5, nothing runs."""
    import hashlib
    import pickle

    made = fx.make_cifar10(tmp_path)
    marker = tmp_path / "code-ran"

    class Planted:
        def __reduce__(self):
            return (Path.touch, (marker,))

    planted = tmp_path / "cifar-10-batches-py" / "data_batch_3"
    planted.write_bytes(pickle.dumps({"data": Planted()}))
    with pytest.raises(DatasetMissingError) as err:  # the sums given are of the real copy
        load_cifar10(seed=0, root=str(tmp_path), md5=made["md5"])
    assert_one_line(err.value, "failed the md5 check of `md5`")
    with pytest.raises(DatasetMissingError):  # nor with the official sums
        load_cifar10(seed=0, root=str(tmp_path))
    assert not marker.exists()
    partial = {k: v for k, v in made["md5"].items() if k != "test_batch"}
    with pytest.raises(ValueError, match="missing test_batch"):  # every file needs its sum
        load_cifar10(
            seed=0, root=str(tmp_path), md5={**partial, "data_batch_3": hashlib.md5(planted.read_bytes()).hexdigest()}
        )
    assert not marker.exists()


def test_cifar10_missing_names_path_and_command(tmp_path):
    with pytest.raises(DatasetMissingError) as err:
        load_cifar10(seed=0, root=str(tmp_path))
    assert_one_line(
        err.value, "'cifar10'", str(tmp_path / "cifar-10-batches-py"),
        f"regbench data download cifar10 --root {tmp_path}", "download: true",
    )  # fmt: skip


def test_root_comes_from_regbench_data(cifar_root, monkeypatch):
    root, made = cifar_root
    monkeypatch.setenv("REGBENCH_DATA", str(root))
    assert load_cifar10(seed=0, md5=made["md5"]).info.details["root"] == str(root)


def test_cifar10c_published_parts_and_predefined_shift(cifar_root):
    root, made = cifar_root
    loaded = load_cifar10_c(seed=0, root=str(root), md5=made["md5"], severities=[1, 3, 5])
    d = loaded.info.details
    assert d["cifar10c_source"] == "published" and d["cifar10c_labels_match_test"] is True
    assert d["corruptions"] == ["fog", "gaussian_noise"]  # every published file present, canonical order
    c_parts = sorted(k for k in loaded.parts if k.startswith("c/"))
    assert c_parts == [f"c/{c}/{s}" for c in ("fog", "gaussian_noise") for s in (1, 3, 5)]
    for k, c in enumerate(made["corruptions"]):
        for s in (1, 3, 5):
            part = loaded.parts[f"c/{c}/{s}"]
            assert part.x.shape == (20, 3, 32, 32) and part.x.dtype == torch.float32
            assert torch.all(part.x * 255 == 10 * k + s)  # the right rows of the stacked file
            assert torch.equal(part.y, loaded.parts["test"].y)
    splits = Predefined().apply(loaded, seed=0)
    assert sorted(splits.ood) == [k[2:] for k in c_parts] and splits.test_id is loaded.parts["test"]
    assert splits.ood["fog/3"] is loaded.parts["c/fog/3"]
    assert splits.split_info["fog/3"] == {"family": "covariate", "shift": "fog", "severity": 3, "source": "published"}


def test_cifar10c_generated_when_folder_absent(tmp_path):
    made = fx.make_cifar10(tmp_path)
    loaded = load_cifar10_c(seed=0, root=str(tmp_path), md5=made["md5"])
    assert loaded.info.details["cifar10c_source"] == "generated"
    assert sorted(loaded.parts) == ["test", "train", "val"]
    with pytest.raises(ValueError, match="no OOD parts"):
        Predefined().apply(loaded, seed=0)


def test_cifar10c_bad_requests(cifar_root):
    root, made = cifar_root
    with pytest.raises(ValueError, match="Did you mean: gaussian_noise"):
        load_cifar10_c(seed=0, root=str(root), md5=made["md5"], corruptions=["gausian_noise"])
    with pytest.raises(ValueError, match="severities must be in 1..5"):
        load_cifar10_c(seed=0, root=str(root), md5=made["md5"], severities=[0])
    with pytest.raises(DatasetMissingError) as err:
        load_cifar10_c(seed=0, root=str(root), md5=made["md5"], corruptions=["snow"])
    assert_one_line(err.value, "snow.npy", "zenodo.org/records/2535967")


def test_predefined_shift_rejects_bad_roles(cifar_root):
    root, made = cifar_root
    loaded = load_cifar10_c(seed=0, root=str(root), md5=made["md5"], severities=[2])
    with pytest.raises(ValueError, match=r"no part\(s\) \['c/snow/2'\]"):
        Predefined({"ood_parts": ["c/snow/2"]}).apply(loaded, seed=0)
    with pytest.raises(ValueError, match="one role each"):
        Predefined({"ood_parts": ["test"]}).apply(loaded, seed=0)
    with pytest.raises(Exception, match="extra"):
        Predefined({"oods": ["x"]})
    only = Predefined({"ood_parts": ["c/fog/2"]}).apply(loaded, seed=0)
    assert list(only.ood) == ["fog/2"]


# ---------------------------------------------------------------- WILDS


@pytest.fixture(scope="module")
def wilds_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("wilds")
    return root, fx.make_waterbirds(root, per_cell=10)["metadata"], fx.make_camelyon17(root)["metadata"]


def test_waterbirds_official_splits_meta_and_groups(wilds_root):
    root, md, _ = wilds_root
    loaded = load_wilds("waterbirds", seed=0, root=str(root), image_size=8)
    parts = loaded.parts
    assert sorted(parts) == ["id_test", "test", "train", "val"]
    assert {k: len(v) for k, v in parts.items()} == {"train": 36, "id_test": 4, "val": 40, "test": 40}
    assert torch.bincount(parts["id_test"].meta["group"]).tolist() == [1, 1, 1, 1]  # stratified by group
    for p in parts.values():
        assert p.x.shape[1:] == (3, 8, 8) and p.x.dtype == torch.float32
        # CombinatorialGrouper(['background', 'y']): the first field varies fastest
        assert torch.equal(p.meta["group"], p.meta["background"] + 2 * p.meta["y"])
        assert torch.equal(p.meta["y"], p.y)
        expect = 60 * p.y + 30 * p.meta["background"] + 10
        assert torch.allclose(red(p.x), expect.float(), atol=4)  # JPEG: within 4 grey levels
    assert loaded.info.details["metadata_fields"] == ["background", "y", "from_source_domain"]
    assert loaded.info.details["roles"] == {"val": "val", "test_id": "id_test"}
    assert loaded.info.input_shape == (3, 8, 8) and loaded.info.num_classes == 2
    splits = Predefined().apply(loaded, seed=0)
    assert list(splits.ood) == ["test"] and splits.split_info["test"]["family"] == "spurious"


def test_waterbirds_eval_matches_hand_worst_group(wilds_root, monkeypatch):
    root, _, _ = wilds_root
    monkeypatch.delitem(sys.modules, "torch_scatter", raising=False)
    loaded = load_wilds("waterbirds", seed=0, root=str(root), image_size=8)
    test = loaded.parts["test"]
    g = torch.Generator().manual_seed(0)
    y_pred = torch.where(torch.rand(len(test), generator=g) < 0.7, test.y, 1 - test.y)
    results = wilds_eval("wilds:waterbirds", str(root), y_pred, test.y, metadata_array(test, loaded.info))
    correct = (y_pred == test.y).float()
    group_acc = [correct[test.meta["group"] == k].mean().item() for k in range(4)]
    assert results["acc_wg"] == pytest.approx(min(group_acc), abs=1e-6)
    assert results["acc_y:landbird_background:water"] == pytest.approx(group_acc[1], abs=1e-6)
    adj = np.dot(group_acc, [3498, 184, 56, 1057]) / (3498 + 184 + 56 + 1057)
    assert results["adj_acc_avg"] == pytest.approx(adj, abs=1e-6)
    # the official split's own labels/metadata give the same numbers
    assert wilds_eval("waterbirds", str(root), y_pred, split="test") == results
    with pytest.raises(ValueError, match="lengths differ"):
        wilds_eval("waterbirds", str(root), y_pred[:-1], test.y, metadata_array(test, loaded.info))


def test_scatter_shim_matches_hand_means(monkeypatch):
    monkeypatch.delitem(sys.modules, "torch_scatter", raising=False)
    ensure_torch_scatter()
    import torch_scatter

    src, index = torch.tensor([1.0, 2.0, 3.0, 5.0]), torch.tensor([0, 0, 2, 2])
    assert torch.equal(
        torch_scatter.scatter(src=src, index=index, dim_size=4, reduce="mean"), torch.tensor([1.5, 0, 4, 0])
    )
    assert torch.equal(_scatter(src, index, reduce="sum"), torch.tensor([3.0, 0, 8]))
    with pytest.raises(NotImplementedError, match="pip install torch-scatter"):
        _scatter(src, index, reduce="max")
    real = object()
    monkeypatch.setitem(sys.modules, "torch_scatter", real)
    ensure_torch_scatter()  # an installed torch_scatter is left alone
    assert sys.modules["torch_scatter"] is real


def test_camelyon17_official_ood_splits(wilds_root):
    root, _, _ = wilds_root
    loaded = DATASETS.get("wilds:camelyon17")(seed=0, root=str(root), image_size=8)
    parts = loaded.parts
    assert sorted(parts) == ["id_test", "id_val", "test", "train", "val"]
    assert set(parts["val"].meta["hospital"].tolist()) == {1}  # wilds moves hospital 1 to OOD val
    assert set(parts["test"].meta["hospital"].tolist()) == {2}
    assert len(parts["id_val"]) == len(parts["id_test"]) == 6 and len(parts["train"]) == 12
    for p in parts.values():
        assert torch.allclose(red(p.x), (100 * p.y + 20 * p.meta["hospital"]).float(), atol=0.5)  # PNG: exact
        assert torch.equal(p.meta["group"], p.meta["slide"])
    splits = Predefined().apply(loaded, seed=0)
    assert splits.val is parts["id_val"] and splits.test_id is parts["id_test"]
    assert sorted(splits.ood) == ["test", "val"] and splits.split_info["test"]["family"] == "domain"
    res = wilds_eval("camelyon17", str(root), parts["test"].y, split="test")
    assert res["acc_avg"] == 1.0 and res["acc_wg"] == 1.0


def test_wilds_subsample_is_seeded(wilds_root):
    root, _, _ = wilds_root
    a = load_wilds("waterbirds", seed=3, root=str(root), image_size=4, max_per_part=5).parts
    b = load_wilds("waterbirds", seed=3, root=str(root), image_size=4, max_per_part=5).parts
    assert all(len(p) <= 5 for p in a.values())
    assert all(torch.equal(a[k].x, b[k].x) for k in a)


def test_wilds_missing_is_one_line_and_creates_nothing(tmp_path):
    root = tmp_path / "nothing_here"
    with pytest.raises(DatasetMissingError) as err:
        load_wilds("waterbirds", seed=0, root=str(root))
    assert_one_line(
        err.value, "'wilds:waterbirds'", str(root / "waterbirds_v1.0" / "RELEASE_v1.0.txt"),
        f"regbench data download wilds:waterbirds --root {root}",
    )  # fmt: skip
    assert not root.exists()  # wilds' own check would have created it


def test_importing_loaders_imports_no_data_library():
    code = (
        "import sys, regbench.data.cifar, regbench.data.wilds_data, regbench.data.hub, "
        "regbench.data.download, regbench.shifts.predefined; "
        "print(sorted(m for m in ('wilds', 'datasets', 'torchvision') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ---------------------------------------------------------------- HuggingFace


@pytest.mark.parametrize("kind", ["save_to_disk", "parquet", "array"])
def test_hf_local_formats(tmp_path, kind):
    made = fx.make_hf(tmp_path, kind)
    loaded = load_hf(seed=0, path=str(made["path"]), cache_dir=str(tmp_path / "cache"))
    parts = loaded.parts
    assert {k: len(v) for k, v in parts.items()} == {"train": 90, "val": 10, "test": 10}
    for p in parts.values():
        assert p.x.dtype == torch.float32 and p.x.shape[1:] == (3, 8, 8) and p.y.dtype == torch.int64
        assert torch.equal(red(p.x).round().long(), 20 * p.y)
    expect = torch.as_tensor(made["test_images"]).permute(0, 3, 1, 2).float() / 255
    assert torch.equal(parts["test"].x, expect)  # HWC uint8 → CHW float, exactly
    assert loaded.info.num_classes == 10 and loaded.info.details["classes"][:2] == ["airplane", "automobile"]
    assert loaded.info.details["hf_hub_offline"] is True


def test_hf_split_mapping_resize_and_errors(tmp_path):
    made = fx.make_hf(tmp_path, "array")
    path = str(made["path"])
    loaded = load_hf(
        seed=0, path=path, splits={"train": "train", "val": "test", "test": "test", "ood": "test"}, image_size=4
    )
    assert sorted(loaded.parts) == ["ood", "test", "train", "val"] and len(loaded.parts["val"]) == 10
    x = loaded.parts["test"].x
    assert x.shape == (10, 3, 4, 4) and 0 <= x.min() and x.max() <= 1
    assert torch.allclose(red(x), 20 * loaded.parts["test"].y.float(), atol=1e-3)  # constant red survives resize
    with pytest.raises(ValueError, match=r"no split\(s\) \['validation'\]; available: \['test', 'train'\]"):
        load_hf(seed=0, path=path, splits={"train": "train", "test": "validation"})
    with pytest.raises(ValueError, match="no column 'image'"):
        load_hf(seed=0, path=path, image_column="image")
    with pytest.raises(ValueError, match="at least 'train' and 'test'"):
        load_hf(seed=0, path=path, splits={"train": "train"})


def test_hf_missing_hub_dataset_is_one_line(tmp_path):
    with pytest.raises(DatasetMissingError) as err:
        load_hf(seed=0, path="someone/not-cached", root=str(tmp_path), cache_dir=str(tmp_path / "cache"))
    assert_one_line(
        err.value, "'hf:someone/not-cached'", str(tmp_path / "hf" / "someone__not-cached"),
        f"regbench data download hf:someone/not-cached --root {tmp_path}",
    )  # fmt: skip
    with pytest.raises(DatasetMissingError, match="check the path"):
        load_hf(seed=0, path=str(tmp_path / "nope"))


def test_parse_hf_name():
    assert parse_hf_name("hf:cifar10") == {"path": "cifar10", "config": None}
    assert parse_hf_name("hf:uoft-cs/cifar10:plain_text") == {"path": "uoft-cs/cifar10", "config": "plain_text"}
    with pytest.raises(ValueError, match="hf:<dataset>"):
        parse_hf_name("hf:")


# ---------------------------------------------------------------- download


def test_download_calls_each_library_downloader(tmp_path, monkeypatch):
    import datasets
    import torchvision.datasets
    import wilds

    calls = []
    monkeypatch.setattr(torchvision.datasets, "CIFAR10", lambda *a, **k: calls.append(("cifar", a, k)))
    monkeypatch.setattr(wilds, "get_dataset", lambda *a, **k: calls.append(("wilds", a, k)))
    made = fx.make_hf(tmp_path / "src", "save_to_disk")
    dd = datasets.DatasetDict({"train": made["train"], "test": made["test"]})
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: calls.append(("hf", a, k)) or dd)
    lines = []
    root = tmp_path / "data"
    download("cifar10-c", root, echo=lines.append)
    download("wilds:waterbirds", root, echo=lines.append)
    download("hf:someone/cifar:plain", root, echo=lines.append)
    assert calls[0] == ("cifar", (str(root),), {"train": True, "download": True})
    assert calls[1] == ("wilds", ("waterbirds",), {"root_dir": str(root), "download": True})
    assert calls[2] == ("hf", ("someone/cifar", "plain"), {})
    assert "zenodo.org/records/2535967" in lines[1] and str(root) in lines[1]
    # the hf loader then finds what download saved, offline
    loaded = load_hf(seed=0, path="someone/cifar", config="plain", root=str(root))
    assert len(loaded.parts["test"]) == 10 and loaded.info.name == "hf:someone/cifar:plain"


@pytest.mark.parametrize(
    "name, message",
    [
        ("cifar100", "Did you mean: cifar10"),
        ("wilds:waterbird", "Did you mean: wilds:waterbirds"),
        ("hf:", "cannot download"),
    ],
)
def test_download_rejects_bad_names(name, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        check_name(name)
    with pytest.raises(ValueError):
        download(name, tmp_path / "d")
    assert not (tmp_path / "d").exists()
