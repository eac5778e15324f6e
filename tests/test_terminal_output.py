"""What a reader sees in a terminal: the compact leaderboard, the progress bar, compare's report,
`run`'s next step and `leaderboard`'s file count (rich Consoles of fixed width, real CLI runs)."""

import io
import json
import re
import sqlite3

import pytest
import yaml
from conftest import tiny_suite
from report_fixtures import default_regularizers, make_frames
from rich.console import Console

from regbench.cli import main
from regbench.report.render.terminal import format_text, render_terminal
from regbench.report.table.aggregate import aggregate
from regbench.report.table.column_choice import ColumnChoiceError, available, choose_columns, compact_columns

LONG = "logit_penalty_with_a_very_long_name"


@pytest.fixture(scope="module")
def board():
    regs = default_regularizers(8) + [LONG]
    runs, metrics, rel, suite = make_frames(regularizers=regs, statuses={("bench00-covariate", "mixup", 1): "failed"})
    return aggregate(runs, metrics, suite, reps=100)


def _render(lb, width, columns=None) -> list[str]:
    console = Console(width=width, record=True, file=io.StringIO())
    render_terminal(lb, console, columns)
    return console.export_text().splitlines()


def _row_lines(lines, lb):
    """The table lines that start with a rank range ("1–3" or "2"), one per regularizer and table part."""
    return [ln for ln in lines if ln.split() and ln.split()[0].split("–")[0].isdigit()]


@pytest.mark.parametrize("width", [80, 100])
def test_compact_table_fits_without_wrapping(board, width):
    lines = _render(board, width)
    assert max(len(ln) for ln in lines) <= width
    rows = _row_lines(lines, board)
    assert len(rows) == len(board.main)  # one line per regularizer: nothing wrapped
    header = next(ln for ln in lines if "Regularizer" in ln)
    for col in compact_columns(board):
        assert col.label in header
    assert "Gen. gap" not in header and "MIA AUC" not in header  # compact: not every column
    # ranked by the primary metric, best first
    assert rows[0].split()[2] == board.main["regularizer"].iloc[0]  # after the rank range and the tier


def test_80_columns_use_half_widths_and_cut_names_with_an_ellipsis(board):
    rows = _row_lines(_render(board, 80), board)
    assert all("±" in r and "[" not in r for r in rows)
    long_row = next(r for r in rows if "logit_penalty" in r)
    assert LONG not in long_row and "…" in long_row
    # ±h is half the interval: check one cell against the frame
    erm = board.main.set_index("regularizer").loc["erm"]
    hw = (erm["ood_accuracy_hi"] - erm["ood_accuracy_lo"]) / 2 * 100
    erm_row = next(r for r in rows if r.split()[2] == "erm")
    assert f"{100 * erm['ood_accuracy']:.1f} ±{hw:.1f}" in erm_row


def test_wide_terminal_shows_full_intervals(board):
    rows = _row_lines(_render(board, 200), board)
    assert all("[" in r for r in rows) and any(LONG in r for r in rows)


def test_full_at_80_columns_splits_instead_of_wrapping(board):
    cols = available(board)
    lines = _render(board, 80, cols)
    assert max(len(ln) for ln in lines) <= 80
    text = "\n".join(lines)
    for col in cols:
        assert col.label in text, col.label
    parts = sum("Regularizer" in ln for ln in lines)
    assert parts >= 2 and len(_row_lines(lines, board)) == parts * len(board.main)


def test_chosen_columns_and_bad_names(board):
    cols = choose_columns(board, ["ece_ood", "ID acc"])
    assert [c.key for c in cols] == ["ece_ood", "id_accuracy"]
    with pytest.raises(ColumnChoiceError, match="Did you mean: ood_accuracy"):
        choose_columns(board, ["ood_acuracy"])


def test_markdown_and_csv_for_pipes(board):
    cols = choose_columns(board, ["ood_accuracy"])
    md = format_text(board, cols, "markdown").splitlines()
    assert md[0] == "| Rank | Tier | Regularizer | OOD acc |" and len(md) == 2 + len(board.main)
    csv = format_text(board, cols, "csv").splitlines()
    assert csv[0] == "rank,rank_hi,tier,regularizer,ood_accuracy,ood_accuracy_lo,ood_accuracy_hi"
    first = csv[1].split(",")
    top = board.main.iloc[0]
    assert first[:4] == [str(int(top["rank"])), str(int(top["rank_hi"])), top["tier"], top["regularizer"]]
    assert first[0] == "1" and float(first[4]) == pytest.approx(top["ood_accuracy"], abs=1e-6)


@pytest.mark.parametrize("width", [80, 100])
def test_progress_bar_keeps_counter_eta_and_counts(width):
    from regbench.harness.progress import RunProgress

    console = Console(width=width, file=io.StringIO(), force_terminal=True, color_system=None)
    progress = RunProgress(252, console=console)
    with progress:
        progress.started("digits-c/weight_decay+mixup/seed2")
        progress.started("colored-digits/logit_penalty_with_a_long_name/seed0")
        progress.finished("x", "ok")
        progress.finished("y", "failed")
        console.print(progress.progress.make_tasks_table(progress.progress.tasks))
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", console.file.getvalue())  # cursor control codes
    lines = [ln for ln in plain.splitlines() if "2/252" in ln]
    line = lines[-1]
    assert len(line) <= width
    assert "2/252" in line and "1 ok" in line and "1 failed" in line and ":" in line.split("2/252")[1]
    assert "…" in line  # the names gave way, not the counter


def test_compare_report_is_rendered_in_a_terminal_and_raw_in_a_pipe():
    from regbench.commands.compare import show_report

    text = "# ls vs the baselines\n\n**Verdict:** inconclusive\n"
    tty = Console(width=80, file=io.StringIO(), force_terminal=True, color_system=None)
    show_report(text, tty)
    shown = tty.file.getvalue()
    assert "Verdict: inconclusive" in shown and "**" not in shown and "# ls" not in shown
    pipe = Console(width=80, file=io.StringIO(), force_terminal=False)
    show_report(text, pipe)
    assert pipe.file.getvalue() == text


def test_compare_tables_use_half_widths_in_a_narrow_terminal():
    from regbench.commands.compare import show_report

    text = "| opponent | Δ OOD acc |\n|---|---|\n| erm | +0.56 [-3.68, +4.79] |\n\nVerdict: 95% CI [-3.90, +4.57]\n"
    tty = Console(width=80, file=io.StringIO(), force_terminal=True, color_system=None)
    show_report(text, tty)
    shown = tty.file.getvalue()
    assert "+0.56 ±4.24" in shown and "[-3.68" not in shown
    assert "CI [-3.90, +4.57]" in shown  # sentences keep their bounds


@pytest.fixture(scope="module")
def tiny_store(tmp_path_factory):
    """A real store of a tiny suite (2 regularizers × 2 seeds × 2 epochs), run through the CLI."""
    root = tmp_path_factory.mktemp("tiny")
    suite = root / "tiny.yaml"
    suite.write_text(yaml.safe_dump(tiny_suite(), sort_keys=False))
    store = root / "store.sqlite"
    out = io.StringIO()
    import contextlib

    with contextlib.redirect_stdout(out):
        assert main(["run", str(suite), "--store", str(store), "--workers", "1", "--no-progress"]) == 0
    return suite, store, out.getvalue()


def test_run_records_cpu_time_and_says_what_to_do_next(tiny_store):
    suite, store, printed = tiny_store
    assert f"next: regbench leaderboard {suite} --store {store}" in printed
    assert "leaderboard/tiny/" in printed
    rows = sqlite3.connect(store).execute("SELECT timings FROM runs").fetchall()
    for (timings,) in rows:
        t = json.loads(timings)
        assert t["train_cpu_seconds"] > 0 and t["samples_per_second"] > 0 and t["train_seconds"] > 0


def test_leaderboard_counts_the_files_it_wrote(tiny_store, tmp_path, capsys):
    suite, store, _ = tiny_store
    out = tmp_path / "lb"
    assert main(["leaderboard", str(suite), "--store", str(store), "--out", str(out), "--reps", "50"]) == 0
    printed = capsys.readouterr().out
    lines = printed.splitlines()
    at = next(i for i, ln in enumerate(lines) if ln.startswith("wrote "))
    on_disk = [p for p in out.iterdir() if p.is_file()]
    assert lines[at] == f"wrote {len(on_disk)} files to {out}/"
    line = lines[at + 1]
    for suffix in {p.suffix for p in on_disk}:  # "(8 .png, 5 .csv, …)" adds up to what is on disk
        assert f"{sum(p.suffix == suffix for p in on_disk)} {suffix}" in line, suffix
    assert "Cost vs erm" in printed and "label_smoothing" in printed


def test_leaderboard_format_csv_keeps_stdout_clean(tiny_store, tmp_path, capsys):
    suite, store, _ = tiny_store
    args = ["leaderboard", str(suite), "--store", str(store), "--out", str(tmp_path), "--reps", "50", "--no-plots"]
    assert main([*args, "--format", "csv", "--columns", "ood_accuracy,cost_vs_erm"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[0].startswith("rank,rank_hi,tier,regularizer,ood_accuracy,") and len(lines) == 3
    assert "wrote" in captured.err and "wrote" not in captured.out


def test_leaderboard_unknown_column_is_one_line(tiny_store, tmp_path, capsys):
    suite, store, _ = tiny_store
    code = main(["leaderboard", str(suite), "--store", str(store), "--out", str(tmp_path), "--columns", "ood_acuracy"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and "Did you mean: ood_accuracy" in err[0]
    assert not (tmp_path / "README.md").exists()  # stopped before any work
