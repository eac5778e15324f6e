"""``regbench list WHAT``: the registered regularizers, models, datasets, shifts, or the shipped suites."""

from __future__ import annotations

import shutil
import sys
import textwrap

from regbench.config import read_suite_file, suite_files


def add_parser(sub) -> None:
    ls = sub.add_parser("list", help="list registered regularizers, models, datasets, shifts or suites")
    ls.add_argument("what", choices=["regularizers", "models", "datasets", "shifts", "suites"])


def run(args) -> int:
    if args.what == "suites":
        for path in suite_files():
            try:
                desc = read_suite_file(path).description.strip().splitlines()[0]
            except Exception as err:  # show a broken suite rather than hide it
                desc = f"(invalid: {err})"
            show(f"{path.stem:<24} {desc}")
        return 0
    from regbench.catalog.entries import catalog  # no torch unless the registries are already imported

    described = catalog(args.what)
    for name, entry in sorted(described[args.what].items()):
        if args.what == "regularizers":  # kind and the tasks it applies to
            applies = "+".join(entry["tasks"])
            # its inputs when not all, e.g. crop_flip "(image)", specaugment "(audio)"
            if set(entry["modalities"]) != set(described["modalities"]):
                applies += f" ({'+'.join(entry['modalities'])})"
            show(f"{name:<24} {entry['kind']:<12} {applies:<23} {entry['description']}")
            continue
        show(f"{name:<24} {entry['description']}")
    return 0


def show(line: str, indent: int = 25) -> None:
    """Print one entry: in a terminal wrapped at word boundaries to its width, continuation lines
    under the description (the terminal would cut words); piped, one line per entry (grep)."""
    if not sys.stdout.isatty():
        print(line)
        return
    width = shutil.get_terminal_size().columns
    print(textwrap.fill(line, width, subsequent_indent=" " * indent, break_long_words=False, break_on_hyphens=False))
