"""``regbench data download NAME --root DIR``: fetch real data with each library's own downloader.

Run it on a machine with internet; the loaders then read the same ``root`` offline.

- ``cifar10``: ``torchvision.datasets.CIFAR10(root, download=True)`` (md5-checked tarball).
- ``cifar10-c``: CIFAR-10 as above, then instructions: CIFAR-10-C has no Python downloader;
  it is one tarball on Zenodo.
- ``wilds:<name>``: ``wilds.get_dataset(name, root_dir=root, download=True)``.
- ``hf:<dataset>[:config]``: ``datasets.load_dataset(...)`` then ``save_to_disk`` into
  ``<root>/hf/<dataset>[__config]``, where the ``hf`` loader looks first.
"""

from __future__ import annotations

import difflib
from pathlib import Path

from regbench.data.cifar import CIFAR10C_FOLDER, CIFAR10C_URL
from regbench.data.errors import data_root

KNOWN = ["cifar10", "cifar10-c", "wilds:<name>", "hf:<dataset>[:config]"]


def cifar10c_instructions(root: Path) -> str:
    """How to get CIFAR-10-C into ``root`` (there is no official Python downloader)."""
    return (
        f"CIFAR-10-C: download CIFAR-10-C.tar from {CIFAR10C_URL} (about 2.9 GB) and run "
        f"`tar -xf CIFAR-10-C.tar -C {root}` so that {root / CIFAR10C_FOLDER}/labels.npy exists"
    )


def check_name(name: str) -> str:
    """The dataset kind of ``name`` (cifar10 | cifar10-c | wilds | hf), or a clear ValueError."""
    if name in ("cifar10", "cifar10-c"):
        return name
    kind, _, rest = name.partition(":")
    if kind in ("wilds", "hf") and rest:
        if kind == "wilds":
            import wilds

            if rest not in wilds.supported_datasets:
                close = difflib.get_close_matches(rest, wilds.supported_datasets, n=3)
                hint = f" Did you mean: {', '.join('wilds:' + c for c in close)}?" if close else ""
                raise ValueError(
                    f"unknown WILDS dataset '{rest}'.{hint} Available: {', '.join(wilds.supported_datasets)}"
                )
        return kind
    close = difflib.get_close_matches(name, ["cifar10", "cifar10-c"], n=2)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise ValueError(f"cannot download '{name}'.{hint} Downloadable: {', '.join(KNOWN)}")


def download(name: str, root: str | Path | None = None, echo=print) -> Path:
    """Download ``name`` into ``root`` (default ``$REGBENCH_DATA``); returns the data root."""
    kind = check_name(name)
    base = data_root(root)
    base.mkdir(parents=True, exist_ok=True)
    if kind in ("cifar10", "cifar10-c"):
        from torchvision.datasets import CIFAR10

        CIFAR10(str(base), train=True, download=True)  # one tarball holds train and test
        echo(f"cifar10: ready in {base}")
        if kind == "cifar10-c":
            echo(cifar10c_instructions(base))
    elif kind == "wilds":
        import wilds

        wilds.get_dataset(name.partition(":")[2], root_dir=str(base), download=True)
        echo(f"{name}: ready in {base}")
    else:
        from regbench.data.hub import import_datasets, parse_hf_name, saved_dir

        spec = parse_hf_name(name)
        datasets = import_datasets(offline=False)
        target = saved_dir(base, spec["path"], spec["config"])
        datasets.load_dataset(spec["path"], spec["config"]).save_to_disk(str(target))
        echo(f"{name}: saved to {target}")
    return base
