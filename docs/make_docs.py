"""`make docs`: regenerate the README's leaderboard blocks and the terminal screenshots under
docs/screenshots/ from the committed leaderboards, so the numbers in the docs cannot drift from
leaderboard/<suite>/leaderboard.csv and .json.

A README block is everything between ``<!-- make docs: leaderboard SUITE -->`` and
``<!-- /make docs -->``; it becomes the compact table ``regbench leaderboard SUITE`` prints in an
80-column terminal, rebuilt from leaderboard/SUITE/leaderboard.csv (the rows, every number with its
interval) and leaderboard.json (the suite, primary metric, caveats and notes) with the same
renderer (regbench.report.render.terminal), so no store is needed. For each such suite,
docs/screenshots/leaderboard-80col.txt (smoke) or leaderboard-SUITE-80col.txt holds the same
text and a .svg beside it the same terminal as a picture (rich's SVG export, reproducible bytes).

    python docs/make_docs.py            # rewrite README.md and the screenshots in place
    python docs/make_docs.py --check    # exit 1 (naming the files) when any of them would change
    python docs/make_docs.py --root DIR # another checkout (the tests run it on a copy)
"""

from __future__ import annotations

import argparse
import io
import json
import re
import sys
from pathlib import Path

import pandas as pd

BLOCK = re.compile(
    r"(<!-- make docs: leaderboard (?P<suite>[A-Za-z0-9_.-]+) -->\n)(?P<body>.*?)(<!-- /make docs -->)", re.S
)
WIDTH = 80  # the terminal the README promises the table fits


def load_board(folder: Path):
    """A ``Leaderboard`` with the rows, columns, caveats and notes of a committed leaderboard
    folder (leaderboard.csv and leaderboard.json); it has no runs table, so it renders tables,
    not plots."""
    from regbench.report.table.aggregate import Leaderboard
    from regbench.report.table.columns import COLUMNS, FAMILY_PREFIX, display_order, family_column, resolve_primary

    meta = json.loads((folder / "leaderboard.json").read_text(encoding="utf-8"))
    frame = pd.read_csv(folder / "leaderboard.csv", keep_default_na=True)
    for text in ("not_applicable", "kind", "benchmark"):  # empty text cells: None, not a truthy NaN
        if text in frame:
            frame[text] = frame[text].astype(object).where(frame[text].notna(), None)
    for flag in ("tied", "submission", "short_seeds"):
        if flag in frame:
            frame[flag] = frame[flag].map(lambda v: str(v) == "True")
    known = {c.key: c for c in COLUMNS}
    cols = []
    for key in frame.columns:
        col = known.get(key) or (family_column(key[len(FAMILY_PREFIX) :]) if key.startswith(FAMILY_PREFIX) else None)
        if col is not None and key + "_lo" in frame and frame[key].notna().any():
            cols.append(col)
    cols = display_order(cols)
    main = frame[frame["scope"] == "suite"].reset_index(drop=True)
    per_benchmark = frame[frame["scope"] == "benchmark"].reset_index(drop=True)
    return Leaderboard(
        suite=meta["suite"],
        primary=resolve_primary(meta["primary_metric"], cols),
        columns=cols,
        main=main,
        per_benchmark=per_benchmark,
        runs_table=pd.DataFrame(),
        fits=meta.get("fits", {}),
        level=float(meta["confidence_level"]),
        reps=int(meta["bootstrap_reps"]),
        notes=list(meta.get("notes", [])),
        caveats=list(meta.get("caveats", [])),
    )


def terminal_capture(folder: Path):
    """(plain text, SVG) of the compact table in an 80-column terminal."""
    from rich.console import Console

    from regbench.report.render.terminal import render_terminal

    console = Console(width=WIDTH, record=True, file=io.StringIO(), force_terminal=True, color_system="truecolor")
    render_terminal(load_board(folder), console)
    text = "\n".join(line.rstrip() for line in console.export_text(clear=False).splitlines()) + "\n"
    svg = console.export_svg(title=f"regbench leaderboard {folder.name}", clear=True)
    return text, svg


def screenshot_name(suite: str) -> str:
    return "leaderboard-80col" if suite == "smoke" else f"leaderboard-{suite}-80col"


def generate(root: Path) -> dict[Path, str]:
    """path → the text it should hold: README.md with every block filled, and each block's
    screenshots."""
    readme = root / "README.md"
    text = readme.read_text(encoding="utf-8")
    out: dict[Path, str] = {}

    def fill(match: re.Match) -> str:
        suite = match["suite"]
        table, svg = terminal_capture(root / "leaderboard" / suite)
        shots = root / "docs" / "screenshots"
        out[shots / f"{screenshot_name(suite)}.txt"] = table
        out[shots / f"{screenshot_name(suite)}.svg"] = svg
        return f"{match[1]}```\n{table}```\n{match[4]}"

    out[readme] = BLOCK.sub(fill, text)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 when a file would change")
    args = parser.parse_args(argv)
    stale = []
    for path, content in generate(args.root).items():
        if not path.exists() or path.read_text(encoding="utf-8") != content:
            stale.append(path)
            if not args.check:
                path.write_text(content, encoding="utf-8")
    for path in stale:
        print(f"{'stale' if args.check else 'wrote'}: {path.relative_to(args.root)}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
