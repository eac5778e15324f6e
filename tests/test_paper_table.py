"""leaderboard.tex: compact booktabs tables, best in bold, ties underlined, ± half-widths,
no \\resizebox; compiled with pdflatex (and rasterized with pdftoppm) where they exist."""

import re
import shutil
import subprocess

import pytest
from report_fixtures import make_frames

from regbench.report import build_leaderboard
from regbench.report.render.tex import TEX_HEADERS
from regbench.report.table.column_choice import COMPACT_KEYS, ColumnChoiceError


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("tex")
    lb = build_leaderboard(
        *make_frames(statuses={("bench00-covariate", "mixup", 1): "failed"}), out, reps=200, plots=False
    )
    return lb, out


def _rows(tex: str) -> list[list[str]]:
    first = tex.split(r"\end{table")[0]
    return [ln.removesuffix(r" \\").split(" & ") for ln in first.splitlines() if ln.endswith(r" \\")]


def test_compact_columns_booktabs_and_no_resizebox(built):
    lb, out = built
    tex = (out / "leaderboard.tex").read_text()
    assert r"\resizebox" not in tex and r"\toprule" in tex and r"\bottomrule" in tex
    header, *rows = _rows(tex)
    labels = [c.label for c in lb.columns if c.key in COMPACT_KEYS]
    assert header[:3] == ["\\#", "Tier", "Regularizer"]
    shown = [TEX_HEADERS.get(c.key, c.label) for c in lb.columns if c.key in COMPACT_KEYS]
    assert [re.sub(r" \$\\(up|down)arrow\$", "", h) for h in header[3:]] == shown
    caption = tex.split(r"\caption{")[1]
    assert all(
        f"{TEX_HEADERS[c.key]}: {c.label}" in caption or c.key == "cost_vs_erm"
        for c in lb.columns
        if c.key in TEX_HEADERS and c.key in COMPACT_KEYS
    )
    assert len(rows) == len(lb.main) and all(len(r) == 3 + len(labels) for r in rows)
    # the cell is the mean ± half the interval's width, in display units
    erm = lb.main.set_index("regularizer").loc["erm"]
    erm_row = next(r for r in rows if r[2].startswith("erm"))
    assert erm_row[1] == erm["tier"]
    i = 3 + labels.index("OOD acc")
    hw = (erm["ood_accuracy_hi"] - erm["ood_accuracy_lo"]) / 2 * 100
    assert (
        re.sub(r"\\(textbf|underline)\{([^}]*)\}", r"\2", erm_row[i])
        == f"{100 * erm['ood_accuracy']:.1f}\\,{{\\scriptsize$\\pm${hw:.1f}}}"
    )


def test_best_is_bold_and_overlapping_intervals_are_underlined(built):
    lb, out = built
    header, *rows = _rows((out / "leaderboard.tex").read_text())
    m = lb.main
    for j, col in enumerate([c for c in lb.columns if c.key in COMPACT_KEYS]):
        cells = [r[3 + j] for r in rows]
        best = m[col.key].idxmax() if col.higher_is_better else m[col.key].idxmin()
        assert cells[best].startswith(r"\textbf{"), col.key
        assert sum(c.startswith(r"\textbf{") for c in cells) == (m[col.key] == m.loc[best, col.key]).sum()
        for k, c in enumerate(cells):
            overlaps = (
                m.loc[k, col.key + "_lo"] <= m.loc[best, col.key + "_hi"]
                and m.loc[k, col.key + "_hi"] >= m.loc[best, col.key + "_lo"]
            )
            assert c.startswith(r"\underline{") == (overlaps and not c.startswith(r"\textbf{")), (col.key, k)


def test_tex_columns_choose_and_bad_names_fail(tmp_path):
    frames = make_frames(n_benchmarks=1, seeds=2)
    build_leaderboard(*frames, tmp_path, reps=50, plots=False, tex_columns=["mia_auc", "ood_accuracy"])
    header = _rows((tmp_path / "leaderboard.tex").read_text())[0]
    assert [h.split(" $")[0] for h in header[3:]] == ["MIA AUC", "OOD acc"]
    with pytest.raises(ColumnChoiceError, match="Did you mean: mia_auc"):
        build_leaderboard(*frames, tmp_path, reps=50, plots=False, tex_columns=["mia_au"])


def _has_booktabs() -> bool:
    kpse = shutil.which("kpsewhich")
    return bool(kpse) and bool(subprocess.run([kpse, "booktabs.sty"], capture_output=True, text=True).stdout.strip())


def _compile(tmp_path, tex_path, options: str) -> str:
    """pdflatex a default ``article`` (``options`` as its class options, no fontenc, no extra
    packages but booktabs) that inputs ``tex_path``; returns the log."""
    doc = tmp_path / "paper.tex"
    doc.write_text(
        f"\\documentclass[{options}]{{article}}\n\\usepackage{{booktabs}}\n"
        f"\\begin{{document}}\n\\input{{{tex_path}}}\n\\end{{document}}\n"
    )
    proc = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", doc.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout[-2000:]
    return (tmp_path / "paper.log").read_text(errors="replace")


def overfull_boxes(log: str) -> list[str]:
    """The 'Overfull \\hbox (12.3pt too wide) ...' lines of a LaTeX log."""
    return [ln for ln in log.splitlines() if re.match(r"Overfull \\[hv]box \(", ln)]


def test_overfull_boxes_are_found_in_a_log():
    log = "x\nOverfull \\hbox (135.2pt too wide) in alignment at lines 9--17\ny\nUnderfull \\hbox (badness 10000)\n"
    assert overfull_boxes(log) == ["Overfull \\hbox (135.2pt too wide) in alignment at lines 9--17"]


def test_no_text_mode_angle_brackets(built):
    _, out = built
    tex = (out / "leaderboard.tex").read_text()
    outside_math = re.sub(r"\$[^$]*\$", "", tex)
    # OT1, the default font encoding, sets < and > in text as ¡ and ¿ ("P(¿erm)")
    assert "<" not in outside_math and ">" not in outside_math
    assert "P($>$erm)" in tex


def test_rank_and_tier_cells_are_what_the_caption_describes(built):
    from regbench.report.render import display

    lb, out = built
    tex = (out / "leaderboard.tex").read_text()
    rows = _rows(tex)[1:]
    for row, rec in zip(rows, lb.main.to_dict("records")):
        assert row[0] == display.rank_text(rec).replace(display.RANGE_DASH, "--")  # '1--3', not a bare '1'
        assert row[1] == display.tier_text(rec)
    assert "rank range and tier letters" in tex.split(r"\caption{")[1]


@pytest.mark.parametrize("options", ["", "twocolumn"])
def test_compiles_in_a_default_article_without_overfull_boxes(built, tmp_path, options):
    if not shutil.which("pdflatex"):
        pytest.skip("pdflatex not installed (Debian: apt-get install texlive-latex-base)")
    if not _has_booktabs():
        pytest.skip("booktabs.sty not installed (Debian: apt-get install texlive-latex-recommended)")
    _, out = built
    log = _compile(tmp_path, out / "leaderboard.tex", options)
    assert not overfull_boxes(log), overfull_boxes(log)  # every table fits without scaling
    if shutil.which("pdftoppm"):
        subprocess.run(
            ["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", "paper.pdf", "page"], cwd=tmp_path, check=True
        )
        assert any(p.stat().st_size > 1000 for p in tmp_path.glob("page*.png"))
