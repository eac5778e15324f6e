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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.error import URLError

from regbench.data.cifar import CIFAR10C_FOLDER, CIFAR10C_URL
from regbench.data.errors import DownloadError, data_root

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
    """Download ``name`` into ``root`` (default ``$REGBENCH_DATA``); returns the data root.

    Without a network the library's error (``URLError``, ``ConnectionError``, or the
    ``FileNotFoundError`` WILDS raises after a failed fetch) becomes one
    :class:`DownloadError` line naming the URL and how to place the files by hand.
    """
    kind = check_name(name)
    base = data_root(root)
    base.mkdir(parents=True, exist_ok=True)
    if kind in ("cifar10", "cifar10-c"):
        from torchvision.datasets import CIFAR10
        from torchvision.datasets.cifar import CIFAR10 as source  # its URL, even if CIFAR10 is wrapped

        with offline_as_one_line(name, source.url, f"extract it into {base} (it holds {source.base_folder}/)"):
            CIFAR10(str(base), train=True, download=True)  # one tarball holds train and test
        echo(f"cifar10: ready in {base}")
        if kind == "cifar10-c":
            echo(cifar10c_instructions(base))
    elif kind == "wilds":
        import wilds

        dataset = name.partition(":")[2]
        url, folder = wilds_source(dataset, base)
        with offline_as_one_line(name, url, f"extract the archive into {folder}", leave_no_empty=folder):
            wilds.get_dataset(dataset, root_dir=str(base), download=True)
        echo(f"{name}: ready in {base}")
    else:
        from regbench.data.hub import import_datasets, parse_hf_name, saved_dir

        spec = parse_hf_name(name)
        datasets = import_datasets(offline=False)
        target = saved_dir(base, spec["path"], spec["config"])
        url = f"https://huggingface.co/datasets/{spec['path']}"
        how = f"run `datasets.load_dataset(...).save_to_disk('{target}')` where there is internet and copy it here"
        with offline_as_one_line(name, url, how):
            datasets.load_dataset(spec["path"], spec["config"]).save_to_disk(str(target))
        echo(f"{name}: saved to {target}")
    return base


def wilds_source(dataset: str, base: Path) -> tuple[str, Path]:
    """(download URL, folder the loader reads) of WILDS dataset ``dataset``'s latest version."""
    import importlib

    from wilds.datasets.wilds_dataset import WILDSDataset

    module = importlib.import_module(f"wilds.datasets.{dataset}_dataset")
    cls = next(
        v
        for v in vars(module).values()
        if isinstance(v, type) and issubclass(v, WILDSDataset) and v is not WILDSDataset
    )
    version = max(cls._versions_dict)
    return cls._versions_dict[version]["download_url"], base / f"{dataset}_v{version}"


@contextmanager
def offline_as_one_line(name: str, url: str, manual: str, leave_no_empty: Path | None = None) -> Iterator[None]:
    """Turn a failed fetch into one :class:`DownloadError` line naming ``url`` and ``manual``.

    ``leave_no_empty``: a folder the downloader may have created; removed if it stayed empty.
    """
    try:
        yield
    except (URLError, ConnectionError, TimeoutError, FileNotFoundError) as err:
        if leave_no_empty is not None and leave_no_empty.is_dir() and not any(leave_no_empty.iterdir()):
            leave_no_empty.rmdir()
        reason = getattr(err, "reason", None) or err
        raise DownloadError(
            f"cannot download {name} from {url} ({type(err).__name__}: {reason}); is there a network? "
            f"Without one, download {url} by hand on a machine that has one and {manual}"
        ) from None
