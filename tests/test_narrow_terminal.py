"""`diagnose`, `compare`, `list` and `leaderboard --full` in a real 80-column pseudo-terminal:
the CLI runs as a subprocess whose stdout is a pty with its window size set to 80 columns
(TIOCSWINSZ, COLUMNS unset), so rich and the wrapping see what a reader's terminal tells them."""

from __future__ import annotations

import fcntl
import io
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest
import yaml
from conftest import tiny_suite

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"


def in_pty(*args: str, cols: int = 80, cwd: Path | None = None) -> list[str]:
    """Run ``regbench ARGS`` with stdout and stderr on a ``cols``-wide pty; its lines, exit 0 asserted."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, cols, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env.update(PYTHONPATH=str(REPO), TERM="xterm", NO_COLOR="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "regbench.cli", *args], stdout=slave, stderr=slave, env=env, cwd=cwd or REPO
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the pty
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert proc.wait() == 0, b"".join(chunks).decode(errors="replace")
    text = b"".join(chunks).decode().replace("\r\n", "\n")
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)  # bold and the like: not characters on the line
    return text.splitlines()


def fits(lines: list[str], cols: int = 80) -> None:
    too_long = [ln for ln in lines if len(ln) > cols]
    assert not too_long, too_long


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    """A tiny suite's store (run) plus a compare submission (spectral_decoupling); paths relative
    to the folder the commands run in, as a user types them."""
    root = tmp_path_factory.mktemp("narrow")
    (root / "tiny.yaml").write_text(yaml.safe_dump(tiny_suite(), sort_keys=False))
    in_pty("run", "tiny.yaml", "--store", "s.sqlite", "--workers", "1", "--no-progress", cwd=root)
    lines = in_pty(
        "compare", f"{EXAMPLES}/spectral_decoupling.py:SpectralDecoupling", "--suite", "tiny.yaml",
        "--store", "s.sqlite", "--workers", "1", "--out", "cmp", "--no-progress", cwd=root,
    )  # fmt: skip
    return root, lines


def test_compare_fits_with_whole_names_and_values(compared):
    _, lines = compared
    fits(lines)
    text = "\n".join(lines)
    assert "spectral_decoupling" in text and "label_smoothing" in text  # never "spectra…"
    assert "…" not in text
    pm = [ln for ln in lines if "±" in ln]
    assert pm and all(ln.split("±")[1][:1].isdigit() for ln in pm)  # a ± never ends a line


def test_diagnose_splits_its_columns_instead_of_cutting_cells(compared):
    root, _ = compared
    lines = in_pty("diagnose", "tiny.yaml", "--store", "s.sqlite", "--out", "diag", "--no-plots", cwd=root)
    fits(lines)
    text = "\n".join(lines)
    assert "0.…" not in text and "label_smoothing" in text
    assert "part 2 of" in text  # the 13 columns did not fit one table at 80


def test_full_at_80_columns_keeps_the_submission_mark():
    from report_fixtures import default_regularizers, make_frames
    from rich.console import Console

    from regbench.report.render.terminal import render_terminal
    from regbench.report.table.aggregate import aggregate
    from regbench.report.table.column_choice import available

    regs = [*default_regularizers(4), "confidence_penalty_long_name"]
    runs, metrics, _, suite = make_frames(regularizers=regs)
    lb = aggregate(runs, metrics, suite, reps=50)
    lb.main.loc[lb.main["regularizer"] == "confidence_penalty_long_name", "submission"] = True
    console = Console(width=80, record=True, file=io.StringIO())
    render_terminal(lb, console, available(lb))
    lines = console.export_text().splitlines()
    fits(lines)
    assert any("*" in ln and "confidence_penalty" in ln for ln in lines)


@pytest.mark.parametrize("what", ["suites", "regularizers"])
def test_list_wraps_at_word_boundaries(what):
    lines = in_pty("list", what)
    fits(lines)
    piped = subprocess.run(
        [sys.executable, "-m", "regbench.cli", "list", what],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)}, check=True,
    ).stdout  # fmt: skip
    # the same words, each whole: wrapping only moved spaces
    assert " ".join(" ".join(lines).split()) == " ".join(piped.split())
