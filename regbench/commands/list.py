"""``regbench list WHAT``: the registered regularizers, models, datasets, shifts, or the shipped suites."""

from __future__ import annotations

import shutil
import sys
import textwrap

from regbench.config import read_suite_file, suite_files
from regbench.registry import describe


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
    from regbench.catalog import registries  # imports every registering module (and torch)
    from regbench.data.base import MODALITIES

    for name, obj in registries()[args.what].items():
        if args.what == "regularizers":  # kind, the tasks it applies to, and its inputs when not all
            inst = obj if isinstance(obj.tasks, tuple) and isinstance(obj.kind, str) else obj()  # recipes: properties
            applies = "+".join(inst.tasks)
            if set(inst.modalities) != set(MODALITIES):  # e.g. crop_flip "(image)", specaugment "(audio)"
                applies += f" ({'+'.join(inst.modalities)})"
            show(f"{name:<24} {inst.kind:<12} {applies:<23} {describe(obj)}")
            continue
        show(f"{name:<24} {describe(obj)}")
    return 0


def show(line: str, indent: int = 25) -> None:
    """Print one entry: in a terminal wrapped at word boundaries to its width, continuation lines
    under the description (the terminal would cut words); piped, one line per entry (grep)."""
    if not sys.stdout.isatty():
        print(line)
        return
    width = shutil.get_terminal_size().columns
    print(textwrap.fill(line, width, subsequent_indent=" " * indent, break_long_words=False, break_on_hyphens=False))
