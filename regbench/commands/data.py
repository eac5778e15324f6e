"""``regbench data prepare SUITE`` (cache every split) and ``regbench data download NAME``."""

from __future__ import annotations

import sys


def add_parser(sub) -> None:
    d = sub.add_parser("data", help="prepare (cache) a suite's splits, or download a real dataset")
    dsub = d.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    dp = dsub.add_parser("prepare", help="materialize every split of a suite into the cache")
    dp.add_argument("suite")
    dd = dsub.add_parser("download", help="download a real dataset with its library's own downloader (needs internet)")
    dd.add_argument("name", help="cifar10 | cifar10-c | wilds:<name> | hf:<id>[:config]")
    dd.add_argument("--root", default=None, help="data folder (default $REGBENCH_DATA or ~/.cache/regbench/data)")


def run(args) -> int:
    if args.data_command == "prepare":
        from regbench.harness.prepare import prepare  # builds splits: imports torch

        prepare(args.suite)
        return 0
    from regbench.data.download import download  # imports the dataset's own library

    try:
        download(args.name, args.root)
    except ValueError as err:
        from regbench.report.render.escape import plain

        print(f"error: {plain(err)}", file=sys.stderr)
        return 2
    return 0
