"""The one-standard-error selection rule: its band, its mechanism tie-break, per-suite vs per-benchmark
choice, its blindness to test numbers, and the suite rows it emits."""

from __future__ import annotations

import json
import math
import random
import textwrap

import pytest
import yaml

from regbench.cli import main
from regbench.harness.plan import load_suite
from regbench.report.render.selection_report import yaml_rows
from regbench.report.table.selection_rule import ALL_BENCHMARKS, binomial_se, choose

VAL_N = {"b1": 400, "b2": 100}


def rec(bench, label, seed, val_acc, run=None, kind="penalty", status="ok"):
    """A store record as ``labelled_records`` gives it, with test numbers that favour nobody in particular."""
    return {
        "benchmark": bench,
        "regularizer": label,
        "seed": seed,
        "status": status,
        "run_key": f"{bench}/{label}/{seed}",
        "regularizer_kind": kind,
        "params": [],
        "curves": {},
        "val_n": VAL_N[bench],
        "metrics": {
            "val": {"accuracy": val_acc, "nll": 1.0 - val_acc},
            "run": {"epochs_run": 20.0, "generalization_gap": 0.1, "mia_auc": 0.5, **(run or {})},
            "test_id": {"accuracy": 0.5},
            "ood/x": {"accuracy": 0.4},
        },
    }


# l2 candidates c0..c3 on two benchmarks, seed 0: (val accuracy, weight norm) per benchmark.
# erm's weight norm is 10 everywhere, so c0 changes it by -10 %, c1 by -50 %, c2 by -20 %, c3 by -5 %.
L2 = {
    "c0": {"b1": (0.90, 9.0), "b2": (0.80, 9.0)},
    "c1": {"b1": (0.88, 5.0), "b2": (0.79, 5.0)},
    "c2": {"b1": (0.86, 8.0), "b2": (0.78, 8.0)},
    "c3": {"b1": (0.91, 9.5), "b2": (0.81, 9.5)},
}
CANDIDATES = {"erm": ["erm"], "l2": list(L2)}


def scripted():
    records = [rec(b, "erm", 0, 0.85, {"weight_norm": 10.0}, kind="none") for b in VAL_N]
    for label, cells in L2.items():
        records += [rec(b, label, 0, acc, {"weight_norm": norm}) for b, (acc, norm) in cells.items()]
    return records


def test_one_se_per_suite_band_and_pick_by_hand():
    chosen = choose(scripted(), CANDIDATES, "one_se", per_suite=True)[(ALL_BENCHMARKS, "l2")]
    # best mean: c3, (0.91 + 0.81) / 2 = 0.86; SE of that mean, each benchmark weighted 1/2:
    se = math.sqrt(0.25 * (0.91 * 0.09 / 400 + 0.81 * 0.19 / 100))  # 0.02088
    assert chosen.best_label == "c3" and chosen.best_score == pytest.approx(0.86)
    assert chosen.se == pytest.approx(se) and chosen.band_low == pytest.approx(0.86 - se)
    # band >= 0.8391: c0 (0.85) and c3 (0.86); c1 (0.835) and c2 (0.82) are outside
    assert {c.label: c.in_band for c in chosen.candidates} == {"c0": True, "c1": False, "c2": False, "c3": True}
    # c1 moves the weight norm most (-50 %) but is outside the band: c0 (-10 %) beats c3 (-5 %)
    assert chosen.label == "c0" and chosen.mechanism == "weight L2 norm"
    assert chosen.chosen.mechanism == pytest.approx(0.10)
    assert chosen.chosen.per_benchmark_mechanism == pytest.approx({"b1": -0.10, "b2": -0.10})
    assert binomial_se([r for r in scripted() if r["regularizer"] == "c3"]) == pytest.approx(se)


def test_per_benchmark_choice_differs_from_the_per_suite_one():
    per_bench = choose(scripted(), CANDIDATES, "one_se")
    # b1: best c3 0.91, SE sqrt(.91·.09/400) = 0.0143 → band >= 0.8957: c0, c3 → c0 (-10 % vs -5 %)
    assert per_bench[("b1", "l2")].label == "c0"
    assert per_bench[("b1", "l2")].se == pytest.approx(math.sqrt(0.91 * 0.09 / 400))
    # b2: best c3 0.81, SE sqrt(.81·.19/100) = 0.0392 → band >= 0.7708: all four → c1 (-50 %)
    assert per_bench[("b2", "l2")].label == "c1"
    assert all(c.in_band for c in per_bench[("b2", "l2")].candidates)
    assert choose(scripted(), CANDIDATES, "one_se", per_suite=True)[(ALL_BENCHMARKS, "l2")].label == "c0"
    # the plain rules group the same way: the best mean over benchmarks, or per benchmark
    assert choose(scripted(), CANDIDATES, "val_accuracy", per_suite=True)[(ALL_BENCHMARKS, "l2")].label == "c3"
    assert choose(scripted(), CANDIDATES, "val_loss")[("b1", "l2")].label == "c3"
    assert ("b1", "erm") in per_bench and per_bench[("b1", "erm")].label == "erm"


def test_mechanism_ties_go_to_the_earlier_config_and_each_kind_reads_its_own_number():
    records = scripted()
    for r in records:  # c0 and c3 now change the weight norm equally: the earlier one wins
        if r["regularizer"] == "c3":
            r["metrics"]["run"]["weight_norm"] = 9.0
    assert choose(records, CANDIDATES, "one_se", per_suite=True)[(ALL_BENCHMARKS, "l2")].label == "c0"
    # early stopping: the delivered (restored) epoch against erm's last; the earliest wins
    stop = [rec(b, "erm", 0, 0.85, kind="none") for b in VAL_N]
    for label, restored in (("p3", 15.0), ("p1", 8.0), ("p9", 20.0)):
        stop += [rec(b, label, 0, 0.85, {"restored_epoch": restored}, kind="stopping") for b in VAL_N]
    es = choose(stop, {"early_stopping": ["p3", "p1", "p9"]}, "one_se", per_suite=True)
    assert es[(ALL_BENCHMARKS, "early_stopping")].label == "p1"
    assert es[(ALL_BENCHMARKS, "early_stopping")].chosen.mechanism == pytest.approx(1 - 8 / 20)
    # gradient clipping: the share of steps clipped (erm clips none)
    clip = [rec(b, "erm", 0, 0.85, kind="none") for b in VAL_N]
    for label, frac in (("m1", 0.1), ("m2", 0.7), ("m3", 0.4)):
        clip += [rec(b, label, 0, 0.85, {"clipped_fraction": frac}, kind="gradient") for b in VAL_N]
    assert choose(clip, {"grad_clip": ["m1", "m2", "m3"]}, "one_se")[("b1", "grad_clip")].label == "m2"
    # weight averaging: the distance of the average from the final weights (erm's is 0); the
    # farthest average inside the band wins (e0 is inside the band but barely averages)
    avg = [rec(b, "erm", 0, 0.85, kind="none") for b in VAL_N]
    for label, dist in (("e0", 0.001), ("e1", 0.08), ("e2", 0.03)):
        avg += [rec(b, label, 0, 0.85, {"averaged_distance": dist}, kind="averaging") for b in VAL_N]
    pick = choose(avg, {"ema": ["e0", "e1", "e2"]}, "one_se", per_suite=True)[(ALL_BENCHMARKS, "ema")]
    assert pick.label == "e1" and pick.chosen.mechanism == pytest.approx(0.08)
    # curvature counts in its direction: s1 ends with 6x erm's top Hessian eigenvalue (a large
    # change, the wrong way), s2 halves it; s2 wins. The loss rise at ρ = 0.05 is not read.
    sharp = [rec(b, "erm", 0, 0.85, {"hessian_max_eigenvalue": 10.0}, kind="none") for b in VAL_N]
    for label, value, rise in (("s0", 10.5, 0.01), ("s1", 60.0, 0.001), ("s2", 5.0, 0.05)):
        numbers = {"hessian_max_eigenvalue": value, "sharpness_at_0.05": rise}
        sharp += [rec(b, label, 0, 0.85, numbers, kind="sharpness") for b in VAL_N]
    pick = choose(sharp, {"sam": ["s0", "s1", "s2"]}, "one_se", per_suite=True)[(ALL_BENCHMARKS, "sam")]
    assert pick.label == "s2" and pick.chosen.mechanism == pytest.approx(0.5)
    # no mechanism number (a recipe): the plain best mean even inside the band
    recipe = [rec(b, "r0", 0, 0.85, kind="recipe") for b in VAL_N] + [
        rec(b, "r1", 0, 0.86, kind="recipe") for b in VAL_N
    ]
    pick = choose(recipe, {"modern_recipe": ["r0", "r1"]}, "one_se", per_suite=True)[(ALL_BENCHMARKS, "modern_recipe")]
    assert pick.label == "r1" and "no mechanism number" in pick.reason
    # a weight penalty without erm in the sweep has no number to compare: the best mean, said so
    no_erm = [r for r in scripted() if r["regularizer"] != "erm"]
    pick = choose(no_erm, {"l2": list(L2)}, "one_se", per_suite=True)[(ALL_BENCHMARKS, "l2")]
    assert pick.label == "c3" and "missing" in pick.reason


def test_a_candidate_missing_a_benchmark_or_failing_is_not_eligible_per_suite():
    records = [r for r in scripted() if not (r["regularizer"] == "c3" and r["benchmark"] == "b2")]
    pick = choose(records, CANDIDATES, "one_se", per_suite=True)[(ALL_BENCHMARKS, "l2")]
    assert pick.best_label == "c0" and not next(c for c in pick.candidates if c.label == "c3").eligible
    records = scripted()
    records[-1]["status"] = "diverged"  # c3 on b2
    assert choose(records, CANDIDATES, "one_se", per_suite=True)[(ALL_BENCHMARKS, "l2")].best_label == "c0"


def test_perturbing_every_test_metric_leaves_every_choice_unchanged():
    records = scripted()
    rules = [(rule, per_suite) for rule in ("val_accuracy", "val_loss", "one_se") for per_suite in (False, True)]
    before = {key: {k: c.label for k, c in choose(records, CANDIDATES, *key).items()} for key in rules}
    assert before[("one_se", True)][(ALL_BENCHMARKS, "l2")] != before[("val_accuracy", True)][(ALL_BENCHMARKS, "l2")]
    rng = random.Random(0)
    for _ in range(10):
        perturbed = []
        for r in records:
            metrics = {
                split: {m: rng.random() for m in values} if split not in ("val", "run") else dict(values)
                for split, values in r["metrics"].items()
            }
            # the test-derived run numbers too (gap to test_id, membership inference on test_id)
            metrics["run"].update(generalization_gap=rng.random(), mia_auc=rng.random())
            metrics[f"ood/new{rng.randrange(3)}"] = {"accuracy": rng.random()}
            perturbed.append({**r, "metrics": metrics})
        for key in rules:
            assert {k: c.label for k, c in choose(perturbed, CANDIDATES, *key).items()} == before[key]


def test_emitted_rows_load_as_the_chosen_configs(tmp_path):
    choices = choose(scripted(), CANDIDATES, "one_se", per_suite=True)
    rows = {
        "erm": "erm",
        **{label: {"stack": [{"name": "l2", "lam": 10.0**-i}], "label": "l2"} for i, label in enumerate(L2)},
    }
    block = yaml_rows(list(choices.values()), rows, {"l2": "lam ~ log_uniform[1e-05, 0.1]"})
    assert "one-SE pick lam=1.0" in block and "weight L2 norm -10.0%/-10.0% (b1/b2)" in block
    suite = tmp_path / "s.yaml"
    suite.write_text(SUITE_HEAD + block)
    loaded = load_suite(suite).suite
    assert [r.display for r in loaded.regularizers] == ["erm", "l2"]
    assert loaded.regularizers[1].stack[0].params == {"lam": 1.0}  # c0's row, under the base name


SUITE_HEAD = textwrap.dedent("""
    name: sw
    seeds: [0]
    train: {epochs: 3, batch_size: 128, lr: 0.01}  # past chance: a run at chance is collapsed, not a candidate
    benchmarks:
      - {name: d, dataset: digits, model: mlp, model_args: {width: 16},
         shift: {kind: covariate, corruptions: [gaussian_noise], severities: [3]}}
      - {name: e, dataset: digits, model: mlp, model_args: {width: 16},
         shift: {kind: covariate, corruptions: [gaussian_noise], severities: [5]}}
""").lstrip()


def test_cli_one_se_per_suite_publishes_selection_json_and_rows_that_load(tmp_path):
    suite, store, out, rows = tmp_path / "sw.yaml", tmp_path / "s.sqlite", tmp_path / "lb", tmp_path / "rows.yaml"
    suite.write_text(SUITE_HEAD + "regularizers: [erm, {stack: [{name: l2, lam: 0.003}], label: l2}]\n")
    args = ["run", str(suite), "--store", str(store), "--workers", "1", "--no-progress", "--sweep", "2"]
    args += ["--select", "one_se", "--per-suite", "--out", str(out), "--emit-yaml", str(rows)]
    assert main(args) == 0
    data = json.loads((out / "selection.json").read_text())
    assert data["rule"] == "one_se" and data["per_suite"] and data["sweep_suite"] == "sw-sweep"
    l2 = next(c for c in data["choices"] if c["regularizer"] == "l2")
    assert l2["benchmark"] == ALL_BENCHMARKS and len(l2["candidates"]) == 2
    assert l2["band_low"] == pytest.approx(l2["best_mean"] - l2["se"]) and 0 < l2["se"] < 0.1
    chosen = next(c for c in l2["candidates"] if c["label"] == l2["chosen"])
    assert chosen["in_band"] and chosen["row"] == l2["chosen_row"] and chosen["row"]["label"] == "l2"
    assert "## Candidates and reasons" in (out / "selection.md").read_text()
    # the emitted rows replace the suite's and load; the chosen strength is the one published
    suite.write_text(SUITE_HEAD + rows.read_text())
    loaded = load_suite(suite).suite
    assert [r.display for r in loaded.regularizers] == ["erm", "l2"]
    assert loaded.regularizers[1].stack[0].params == {
        k: v for k, v in l2["chosen_row"]["stack"][0].items() if k != "name"
    }
    assert yaml.safe_load(rows.read_text())["regularizers"][0] == "erm"
    assert main([*args[:-2]]) == 0  # a rerun reuses every run
    assert main([a for a in args if a != "--per-suite"]) == 2  # --emit-yaml needs one config per suite
