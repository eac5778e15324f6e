"""The two SCAN suites (small CPU one, full-size GPU one) and the suite-level ``caveat``."""

from __future__ import annotations

import json

from conftest import tiny_suite

from regbench.cli import main
from regbench.harness.plan import load_suite

SPLITS = {"simple", "addprim_jump", "length"}


def test_full_size_suite_plans_the_whole_training_sets_and_a_bigger_model():
    full, small = load_suite("compositional_text_full"), load_suite("compositional_text")
    assert {r.benchmark.spec.dataset_args["split"] for r in full.runs} == SPLITS
    for run in full.runs:
        assert "max_train" not in run.benchmark.spec.dataset_args  # every training command
    f_args = {r.benchmark.spec.model_args["width"] for r in full.runs}
    s_args = {r.benchmark.spec.model_args["width"] for r in small.runs}
    assert min(f_args) > max(s_args)
    # same comparison, only bigger: same regularizers and benchmark names, EDA still refused
    regs = {r.regularizer.display for r in full.runs}
    assert regs == {r.regularizer.display for r in small.runs}
    assert not regs & {"word_swap", "word_deletion"}
    assert {r.benchmark.spec.name for r in full.runs} == {r.benchmark.spec.name for r in small.runs}


def test_full_size_suite_validates_from_the_cli(capsys):
    assert main(["validate", "compositional_text_full"]) == 0, capsys.readouterr().err


def test_the_small_suite_says_it_is_not_comparable_to_the_paper():
    from regbench.config import read_suite_file, suite_path

    small = read_suite_file(suite_path("compositional_text"))
    assert "not comparable" in small.caveat
    assert read_suite_file(suite_path("compositional_text_full")).caveat == ""


def test_a_suite_caveat_is_said_above_the_tables(tmp_path, write_suite, store_path, isolated_cache, capsys):
    caveat = "A <small> model: not comparable to the paper's numbers."
    suite = write_suite(tiny_suite(seeds=[0], regularizers=["erm"], caveat=caveat))
    assert main(["run", str(suite), "--store", str(store_path), "--workers", "1", "--no-progress"]) == 0
    out = tmp_path / "lb"
    assert main(["leaderboard", str(suite), "--store", str(store_path), "--out", str(out), "--no-plots"]) == 0
    readme = (out / "README.md").read_text().split("\n")
    first_table = next(i for i, line in enumerate(readme) if line.startswith("| Rank"))
    at = readme.index("**Caveat:** A &lt;small> model: not comparable to the paper's numbers.")  # escaped
    assert at < first_table
    assert readme[at + 1] == "" and readme[at + 2].startswith("**Caveat:** Only 1 seed")  # own paragraphs
    html = (out / "index.html").read_text()
    assert "A &lt;small&gt; model: not comparable" in html and "<small>" not in html
    assert html.index("not comparable") < html.index("<table")
    assert caveat in json.loads((out / "leaderboard.json").read_text())["caveats"]
    assert caveat in capsys.readouterr().out  # the terminal table says it too


def test_a_suite_without_caveat_shows_none(tmp_path, write_suite, store_path, isolated_cache):
    suite = write_suite(tiny_suite(seeds=[0, 1, 2, 3, 4], regularizers=["erm"], train={"epochs": 1}))
    assert main(["run", str(suite), "--store", str(store_path), "--workers", "1", "--no-progress"]) == 0
    out = tmp_path / "lb"
    assert main(["leaderboard", str(suite), "--store", str(store_path), "--out", str(out), "--no-plots"]) == 0
    assert "Caveat" not in (out / "README.md").read_text()
    assert "Caveat" not in (out / "index.html").read_text()


def test_a_caveat_that_is_not_text_is_a_one_line_error(write_suite, capsys):
    suite = write_suite(tiny_suite(caveat=["not", "text"]))
    assert main(["validate", str(suite)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "caveat" in err[0]
