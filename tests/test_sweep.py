"""Search spaces, seeded sweep draws, and model selection that reads validation numbers only."""

from __future__ import annotations

import random
import sqlite3
import textwrap

import pytest

from regbench.cli import main
from regbench.config import ConfigError, parse_suite
from regbench.harness.plan import plan_suite
from regbench.report.table.model_selection import oracle_select, select, val_score
from regbench.store import Store
from regbench.sweep import DEFAULT_SPACES, draw_configs, expand, load_spaces


def test_the_shipped_search_spaces_validate():
    spaces = load_spaces()
    assert {"l2", "mixup", "weight_decay", "dropout", "label_smoothing"} <= set(spaces.search_spaces)
    assert main(["validate", str(DEFAULT_SPACES)]) == 0


@pytest.mark.parametrize(
    "bad, message",
    [
        ("nope: {lam: {default: 1.0}}", "unknown regularizer 'nope'"),
        ("l2: {lam: {default: 1.0, log_uniform: [1.0e-6, 1.0e-2]}}", "default 1.0 is outside log_uniform"),
        ("l2: {lam: {default: 0.1, uniform: [0.2, 0.1]}}", "lower bound 0.2 must be below upper bound 0.1"),
        ("l2: {lam: {default: 0.1, uniform: [0, 1], choice: [0.1]}}", "give one distribution, not 2"),
        ("l2: {lamb: {default: 0.1}}", "search_spaces.l2.lamb: unknown field"),
        ("l2: {lam: {default: 0.1, normal: [0, 1]}}", "search_spaces.l2.lam.normal: unknown field"),
    ],
)
def test_bad_search_spaces_are_rejected_with_the_field_path(tmp_path, bad, message):
    path = tmp_path / "regularizers.yaml"
    path.write_text(f"search_spaces:\n  {bad}\n")
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("(", r"\(")):
        load_spaces(path)
    assert main(["validate", str(path)]) == 1


def test_draws_are_seeded_per_name_and_config_zero_is_the_defaults():
    spaces = load_spaces().search_spaces
    for name, space in spaces.items():  # same seed → same draws for every regularizer
        assert draw_configs(space, name, 4, 3) == draw_configs(space, name, 4, 3)
        assert draw_configs(space, name, 4, 3)[0] == {p: s.default for p, s in space.items()}
    mixup = draw_configs(spaces["mixup"], "mixup", 6, 0)
    assert len(mixup) == 6 and all(0.05 <= c["alpha"] <= 2.0 for c in mixup)
    assert mixup != draw_configs(spaces["mixup"], "mixup", 6, 1)  # the sweep seed matters
    # adding a parameter to a space never changes another parameter's draws (DomainBed #16)
    en = spaces["elastic_net"]
    only_lam = draw_configs({"lam": en["lam"]}, "elastic_net", 5, 0)
    assert [c["lam"] for c in draw_configs(en, "elastic_net", 5, 0)] == [c["lam"] for c in only_lam]
    # a discrete space smaller than N is swept as its full grid, defaults first
    assert draw_configs(spaces["autoaugment"], "autoaugment", 5) == [
        {"policy": "cifar10"},
        {"policy": "imagenet"},
        {"policy": "svhn"},
    ]


def test_expansion_labels_configs_and_keeps_the_default_run_key():
    suite = parse_suite(
        {
            "name": "s",
            "seeds": [0],
            "benchmarks": [{"name": "d", "dataset": "digits", "model": "mlp"}],
            "regularizers": ["erm", "mixup"],
        }
    )
    swept, candidates = expand(suite, load_spaces(), 3)
    assert candidates == {"erm": ["erm"], "mixup": ["mixup[sweep 0]", "mixup[sweep 1]", "mixup[sweep 2]"]}
    keys = {r.regularizer.display: r.run_key for r in plan_suite(swept).runs}
    plain = {r.regularizer.display: r.run_key for r in plan_suite(suite).runs}
    assert keys["mixup[sweep 0]"] == plain["mixup"]  # the labels are not in the run key: defaults reuse runs
    assert len(set(keys.values())) == 4


def rec(bench, label, seed, val_acc, val_nll, ood, status="ok"):
    return {
        "benchmark": bench,
        "regularizer": label,
        "seed": seed,
        "status": status,
        "run_key": f"{bench}{label}{seed}",
        "params": [],
        "curves": {},
        "metrics": {
            "val": {"accuracy": val_acc, "nll": val_nll},
            "test_id": {"accuracy": ood + 0.1},
            "ood/x": {"accuracy": ood},
        },
    }


CANDIDATES = {"mixup": ["m0", "m1", "m2"]}


def constructed():
    # validation prefers m1 (acc) / m2 (nll); test (OOD) prefers m2 — on purpose different
    return (
        [rec("b", "m0", s, 0.80, 0.50, 0.30) for s in (0, 1)]
        + [rec("b", "m1", s, 0.90, 0.45, 0.20) for s in (0, 1)]
        + [rec("b", "m2", s, 0.85, 0.40, 0.60) for s in (0, 1)]
    )


def test_permuting_test_metrics_leaves_the_selection_unchanged():
    records = constructed()
    chosen = select(records, CANDIDATES)[("b", "mixup")]
    assert chosen.label == "m1" and chosen.score == pytest.approx(0.90)
    assert oracle_select(records, CANDIDATES)[("b", "mixup")].label == "m2"  # the test numbers do differ
    rng = random.Random(0)
    for _ in range(20):
        tests = [{k: v for k, v in r["metrics"].items() if k != "val"} for r in records]
        rng.shuffle(tests)
        permuted = [{**r, "metrics": {"val": r["metrics"]["val"], **t}} for r, t in zip(records, tests)]
        assert select(permuted, CANDIDATES)[("b", "mixup")].label == "m1"
        assert select(permuted, CANDIDATES, "val_loss")[("b", "mixup")].label == "m2"


def test_a_config_that_failed_on_any_seed_is_not_eligible_and_ties_go_to_the_defaults():
    records = constructed()
    records[2] = {**records[2], "status": "diverged"}  # m1, seed 0
    assert select(records, CANDIDATES)[("b", "mixup")].label == "m2"
    tie = [rec("b", "m0", 0, 0.9, 0.5, 0.1), rec("b", "m1", 0, 0.9, 0.5, 0.9)]
    assert select(tie, {"mixup": ["m0", "m1"]})[("b", "mixup")].label == "m0"
    assert val_score({"metrics": {}, "curves": {"val_accuracy": [0.1, 0.7]}}) == 0.7  # older records
    with pytest.raises(ValueError, match="unknown selection criterion"):
        select(records, CANDIDATES, "test_accuracy")


def test_cli_sweep_trains_candidates_selects_on_validation_and_records_the_choice(tmp_path):
    suite, store, out = tmp_path / "sw.yaml", tmp_path / "s.sqlite", tmp_path / "lb"
    suite.write_text(
        textwrap.dedent("""
        name: sw
        seeds: [0, 1]
        train: {epochs: 2, batch_size: 128, lr: 0.01}  # enough to learn: a chance-level run is collapsed
        benchmarks:
          - {name: d, dataset: digits, model: mlp, model_args: {width: 16},
             shift: {kind: covariate, corruptions: [gaussian_noise], severities: [3]}}
        regularizers: [erm, label_smoothing]
    """)
    )
    args = [
        "run",
        str(suite),
        "--store",
        str(store),
        "--workers",
        "1",
        "--no-progress",
        "--sweep",
        "2",
        "--oracle",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    assert Store(store).count() == 6  # erm + 2 label_smoothing configs, × 2 seeds
    text = (out / "selection.md").read_text()
    main_table, oracle = text.split("## Oracle selection (test-domain) — NOT a valid model-selection method")
    assert "| d | label_smoothing | label_smoothing[sweep " in main_table and "val_accuracy" in main_table
    assert "| d | erm | erm |" in oracle
    db = sqlite3.connect(store)
    # the choice never replaces the suite's own rows: every candidate stays under "sw-sweep"
    assert db.execute("SELECT COUNT(*) FROM suite_runs WHERE suite='sw'").fetchone()[0] == 0
    assert db.execute("SELECT COUNT(*) FROM suite_runs WHERE suite='sw-sweep'").fetchone()[0] == 6
    created = db.execute("SELECT run_key, created_at FROM runs ORDER BY 1").fetchall()
    assert main(args) == 0  # a second sweep reuses every run
    assert db.execute("SELECT run_key, created_at FROM runs ORDER BY 1").fetchall() == created


def test_search_space_defaults_come_from_the_regularizers_own_constructors(tmp_path):
    """One source for a standard strength: the shipped file writes none, and a custom file may
    only restate the constructor's default (mixup's α lives in regularizers/mix.py alone)."""
    from regbench.config import SEARCH_SPACES

    assert "default:" not in "\n".join(
        line for line in SEARCH_SPACES.read_text().splitlines() if not line.lstrip().startswith("#")
    )
    spaces = load_spaces(SEARCH_SPACES).search_spaces
    assert spaces["mixup"]["alpha"].default == 0.2 and spaces["label_smoothing"]["smoothing"].default == 0.1
    bad = tmp_path / "spaces.yaml"
    bad.write_text("search_spaces:\n  mixup:\n    alpha: {default: 0.3, log_uniform: [0.05, 2.0]}\n")
    with pytest.raises(ConfigError, match=r"mixup\.alpha\.default: 0\.3 differs from mixup's own default 0\.2"):
        load_spaces(bad)
