"""``regbench data prepare SUITE`` (cache every split), ``regbench data download NAME`` and
``regbench data status [SUITE]`` (which real datasets are on disk; file checks only, no torch)."""

from __future__ import annotations

import sys


def add_parser(sub) -> None:
    d = sub.add_parser("data", help="prepare (cache) a suite's splits, or download a real dataset")
    dsub = d.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    dp = dsub.add_parser("prepare", help="materialize every split of a suite into the cache")
    dp.add_argument("suite")
    dd = dsub.add_parser("download", help="download a real dataset with its library's own downloader (needs internet)")
    dd.add_argument("name", help="cifar10 | cifar10-c | wilds:<name> | hf:<id>[:config]")
    dd.add_argument(
        "--root",
        default=None,
        help="data folder (default $REGBENCH_DATA, else $REGBENCH_CACHE/data or ~/.cache/regbench/data)",
    )
    ds = dsub.add_parser("status", help="which real datasets the shipped suites (or SUITE) need are on disk")
    ds.add_argument("suite", nargs="?", default=None, help="a suite name or file (default: every shipped suite)")


def run(args) -> int:
    if args.data_command == "status":
        return status(args.suite)
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


def status(suite: str | None) -> int:
    """Print, per real dataset the suites read, whether it is on disk and where (exit 0)."""
    from regbench.config import read_suite_file, suite_files, suite_path
    from regbench.data.errors import DATA_ROOT_ENV, data_root
    from regbench.data.presence import suite_needs

    paths = [suite_path(suite)] if suite else suite_files()
    users: dict[tuple, list[str]] = {}
    needs = {}
    for path in paths:
        for _, need in suite_needs(read_suite_file(path).benchmarks):
            key = (need.dataset, need.location)
            needs[key] = need
            users.setdefault(key, [])
            if path.stem not in users[key]:
                users[key].append(path.stem)
    print(f"data root: {data_root()}")
    print(f"  (set ${DATA_ROOT_ENV} to use another folder; a suite's dataset_args.root overrides it)")
    if not needs:
        print("no real data needed: every dataset is generated offline")
    for key, need in needs.items():
        print(f"{'present' if need.present else 'missing'}  {need.dataset}  (suite {', '.join(users[key])})")
        for p in need.missing or (need.location,):
            print(f"  {p}")
        if not need.present:
            print(f"  to get it: {need.how}")
    return 0
