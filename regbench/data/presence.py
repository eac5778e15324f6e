"""Which real data a benchmark needs on disk, checked by looking at files only.

``validate``, ``data status`` and the start of ``run`` ask here before any loader runs: the
check imports neither torch nor a data library, and it names every missing dataset of a suite
at once, with the real paths the loaders read (the loaders keep their own one-line errors for
a dataset they are asked to load). ``hf:`` datasets are not checked: the HuggingFace cache and
the Hub are theirs to search.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from regbench.data.errors import DATA_ROOT_ENV, DatasetMissingError, data_root, download_hint

CIFAR_FOLDER = "cifar-10-batches-py"  # torchvision's CIFAR10.base_folder
CIFAR_FILES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch", "batches.meta"]
CIFAR10C_FOLDER = "CIFAR-10-C"
MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
SPEECH_COMMANDS_FOLDER = "speech_commands"
# the release ``wilds`` downloads today: the path a missing WILDS dataset is reported at
WILDS_VERSIONS = {"waterbirds": "1.0", "camelyon17": "1.0"}


@dataclass(frozen=True)
class DataNeed:
    """One real dataset a benchmark reads: where it looks, what is missing, how to get it."""

    dataset: str  # the suite's name for it: "cifar10", "wilds:waterbirds", …
    location: Path  # the folder the loader reads
    missing: tuple[Path, ...]  # files or folders not on disk (empty: present)
    how: str  # how to get it, one sentence

    @property
    def present(self) -> bool:
        return not self.missing


def wilds_release(root: Path, name: str) -> Path | None:
    """The RELEASE file of the newest ``<name>_v<version>`` under ``root`` (None when none)."""
    found = [
        p / f"RELEASE_{p.name[len(name) + 1 :]}.txt"
        for p in sorted(root.glob(f"{name}_v*"))
        if (p / f"RELEASE_{p.name[len(name) + 1 :]}.txt").is_file()
    ]
    return found[-1] if found else None


def need_of(dataset: str, args: dict[str, Any]) -> DataNeed | None:
    """What ``dataset`` with ``dataset_args`` ``args`` needs on disk; None for offline datasets
    (digits, shapes, …), ``hf:`` ones, and loaders told to download or fall back."""
    root = args.get("root")
    base = data_root(root)
    if dataset in ("cifar10", "cifar10-c"):
        if args.get("download"):
            return None
        folder = base / CIFAR_FOLDER
        # cifar10-c without its CIFAR-10-C folder regenerates the corruptions: only CIFAR-10 is needed
        missing = tuple(folder / f for f in CIFAR_FILES if not (folder / f).is_file()) if folder.is_dir() else (folder,)
        return DataNeed("cifar10", folder, missing, download_hint("cifar10", base))
    if dataset.startswith("wilds:"):
        name = dataset.split(":", 1)[1]
        release = wilds_release(base, name)
        version = WILDS_VERSIONS.get(name, "1.0")
        expected = base / f"{name}_v{version}" / f"RELEASE_v{version}.txt"
        location = release.parent if release else expected.parent
        return DataNeed(dataset, location, () if release else (expected,), download_hint(dataset, base))
    if dataset == "mnist":
        if args.get("fallback") == "digits_large":
            return None
        raw = base / "MNIST" / "raw"
        names = [f for files in MNIST_FILES.values() for f in files]
        missing = tuple(raw / f for f in names if not ((raw / f).exists() or (raw / f"{f}.gz").exists()))
        how = "get MNIST with torchvision (`torchvision.datasets.MNIST(ROOT, download=True)`) and copy ROOT/MNIST here"
        return DataNeed("mnist", raw, missing, how)
    if dataset == "speech_commands":
        folder = Path(root).expanduser() if root is not None else base / SPEECH_COMMANDS_FOLDER
        labels = args.get("labels")
        if labels:
            missing = tuple(folder / lab for lab in labels if not any((folder / lab).glob("*.wav")))
        else:
            has_labels = folder.is_dir() and any(p.is_dir() and any(p.glob("*.wav")) for p in folder.iterdir())
            missing = () if has_labels else (folder,)
        how = f"extract speech_commands_v0.02.tar.gz into {folder}"
        return DataNeed("speech_commands", folder, missing, how)
    return None


def suite_needs(benchmarks) -> list[tuple[str, DataNeed]]:
    """(benchmark name, need) for every benchmark of a suite that reads real data.

    ``benchmarks``: the suite's :class:`~regbench.config.BenchmarkSpec` list."""
    out = []
    for b in benchmarks:
        need = need_of(b.dataset, dict(b.dataset_args))
        if need is not None:
            out.append((b.name, need))
    return out


def missing_message(needs: list[tuple[str, DataNeed]]) -> str:
    """One line naming every missing dataset (each once), its paths and how to get it."""
    parts, seen = [], set()
    for _, need in needs:
        if need.present or (need.dataset, need.location) in seen:
            continue
        seen.add((need.dataset, need.location))
        users = [b for b, n in needs if (n.dataset, n.location) == (need.dataset, need.location)]
        shown = ", ".join(str(p) for p in need.missing[:3]) + (
            f" and {len(need.missing) - 3} more" if len(need.missing) > 3 else ""
        )
        parts.append(f"'{need.dataset}' (benchmarks {', '.join(users)}): {shown} not found; to get it, {need.how}")
    return "; ".join(parts)


def check_suite_data(benchmarks) -> None:
    """Raise one :class:`DatasetMissingError` naming every missing dataset of the suite at once."""
    needs = suite_needs(benchmarks)
    message = missing_message(needs)
    if message:
        count = len({(n.dataset, n.location) for _, n in needs if not n.present})
        raise SuiteDataMissingError(f"{count} dataset(s) missing: {message} (data root: {data_hint()})")


def data_hint() -> str:
    """Where the data root is and how to move it, for the messages."""
    return f"{data_root()}; set ${DATA_ROOT_ENV} to use another folder"


class SuiteDataMissingError(DatasetMissingError):
    """Several datasets of a suite are missing; the message (one line) names each."""

    def __init__(self, message: str):  # noqa: D107 (the message is built by check_suite_data)
        self.dataset, self.searched = "", []
        Exception.__init__(self, message)
