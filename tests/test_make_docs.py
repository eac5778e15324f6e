"""`make docs` (docs/make_docs.py): the README's leaderboard blocks and the terminal screenshots
are what the script writes from the committed leaderboards, so a stale number fails here."""

import importlib.util
import shutil
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def make_docs():
    spec = importlib.util.spec_from_file_location("make_docs", ROOT / "docs" / "make_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def copy(tmp_path, make_docs):
    """README.md, docs/screenshots and the leaderboards its blocks name, copied to tmp_path."""
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    shutil.copytree(ROOT / "docs" / "screenshots", tmp_path / "docs" / "screenshots")
    suites = [m["suite"] for m in make_docs.BLOCK.finditer((ROOT / "README.md").read_text(encoding="utf-8"))]
    for suite in suites:
        shutil.copytree(ROOT / "leaderboard" / suite, tmp_path / "leaderboard" / suite)
    return tmp_path, suites


def test_readme_blocks_and_screenshots_match_the_committed_leaderboards(copy, make_docs):
    root, suites = copy
    assert "smoke" in suites
    expected = make_docs.generate(root)
    for path, content in expected.items():
        rel = path.relative_to(root)
        assert path.read_text(encoding="utf-8") == content, f"{rel} is stale: run `make docs`"
    assert make_docs.main(["--root", str(root), "--check"]) == 0


def test_a_changed_number_makes_the_readme_stale_and_make_docs_rewrites_it(copy, make_docs):
    root, _ = copy
    csv = root / "leaderboard" / "smoke" / "leaderboard.csv"
    frame = pd.read_csv(csv)
    first = frame.index[(frame["scope"] == "suite")][0]
    frame.loc[first, "ood_accuracy"] = 0.1234
    frame.to_csv(csv, index=False)
    assert make_docs.main(["--root", str(root), "--check"]) == 1
    assert make_docs.main(["--root", str(root)]) == 0
    readme = (root / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- make docs: leaderboard smoke -->")[1].split("<!-- /make docs -->")[0]
    assert "12.3" in block
    assert "12.3" in (root / "docs" / "screenshots" / "leaderboard-80col.txt").read_text(encoding="utf-8")
    assert "<svg" in (root / "docs" / "screenshots" / "leaderboard-80col.svg").read_text(encoding="utf-8")
    assert make_docs.main(["--root", str(root), "--check"]) == 0  # and the result is stable


def test_every_block_line_fits_80_columns(make_docs):
    text, _ = make_docs.terminal_capture(ROOT / "leaderboard" / "smoke")
    assert max(len(line) for line in text.splitlines()) <= 80
