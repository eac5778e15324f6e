"""SCAN through the one harness (issue 7 parts 2–5): CLI run + leaderboard, the seq2seq task,
weight tying's recorded parameter drop, refusals at suite load, and a sanity run."""

from __future__ import annotations

import json
import math
import sqlite3

import pytest
import torch
import yaml

from regbench.catalog import registries
from regbench.cli import main
from regbench.config import TrainSpec
from regbench.data.base import Loaded
from regbench.data.scan import BOS, EOS, PAD, TGT_VOCAB, load_scan
from regbench.evaluate.records import unpack_predictions
from regbench.metrics.sequence import exact_match, teacher_forced_exact_match
from regbench.models import build_model
from regbench.regularizers.stack import Stack
from regbench.seeding import seeded_global_rng
from regbench.shifts.none import NoShift
from regbench.shifts.ood_test import OODTest
from regbench.tasks import UnsupportedRegularizer, evaluate
from regbench.tasks.seq2seq import Seq2Seq
from regbench.train.loop import train

REGULARIZERS = registries()["regularizers"]


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny transformers on a busy 2-core machine: one thread avoids OpenMP spin-waiting."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def scan_suite(regularizers, **train) -> dict:
    model = {"model": "seq2seq", "model_args": {"width": 16, "depth": 1, "heads": 2}}
    return {
        "name": "tinytext",
        "description": "a tiny compositional_text",
        "seeds": [0],
        "train": {"epochs": 1, "batch_size": 64, "lr": 3e-3, **train},
        "benchmarks": [
            {
                "name": "scan-simple",
                "dataset": "scan",
                "dataset_args": {"split": "simple", "max_train": 128},
                **model,
                "shift": "none",
            },
            {
                "name": "scan-jump",
                "dataset": "scan",
                "dataset_args": {"split": "addprim_jump", "max_train": 128},
                **model,
                "shift": {"kind": "ood_test", "id_fraction": 0.25},
            },
        ],
        "regularizers": regularizers,
    }


def write(tmp_path, suite: dict):
    path = tmp_path / f"{suite['name']}.yaml"
    path.write_text(yaml.safe_dump(suite))
    return path


def metrics(store, key: str) -> dict[tuple[str, str], float]:
    with sqlite3.connect(store) as c:
        return {(s, m): v for s, m, v in c.execute("SELECT split, metric, value FROM metrics WHERE run_key=?", (key,))}


def test_cli_run_and_leaderboard_end_to_end(tmp_path, isolated_cache, capsys):
    suite, store, out = write(tmp_path, scan_suite(["erm", "weight_tying"])), tmp_path / "s.sqlite", tmp_path / "lb"
    assert main(["run", str(suite), "--store", str(store), "--workers", "1", "--no-progress"]) == 0
    assert "4 ok, 0 failed" in capsys.readouterr().out
    with sqlite3.connect(store) as c:
        runs = c.execute("SELECT run_key, benchmark, regularizer, status, error FROM runs").fetchall()
        (blob,) = c.execute("SELECT labels FROM predictions WHERE split='ood/addprim_jump' LIMIT 1").fetchone()
    assert [r[3] for r in runs] == ["ok"] * 4, [r[4] for r in runs]
    jump = next(k for k, b, r, *_ in runs if b == "scan-jump" and r == "erm")
    m = metrics(store, jump)
    for split in ("test_id", "ood/addprim_jump", "train", "val"):
        for metric in ("accuracy", "token_accuracy", "ece", "nll", "brier"):
            assert math.isfinite(m[(split, metric)]), (split, metric)
        assert 0.0 <= m[(split, "accuracy")] <= m[(split, "token_accuracy")] + 1e-12 <= 1.0 + 1e-12
    assert 0.0 <= m[("run", "mia_auc")] <= 1.0
    assert m[("run", "generalization_gap")] == pytest.approx(m[("train", "accuracy")] - m[("test_id", "accuracy")])
    # predictions: one exact-match outcome (0/1) per OOD command; their mean is the accuracy
    pred = unpack_predictions(blob)
    assert len(pred) == 7706 and set(pred.unique().tolist()) <= {0, 1}
    with sqlite3.connect(store) as c:
        fam = c.execute("SELECT family FROM metrics WHERE split='ood/addprim_jump' LIMIT 1").fetchone()[0]
    assert fam == "compositional"
    assert main(["leaderboard", str(suite), "--store", str(store), "--out", str(out), "--no-plots"]) == 0
    board = json.loads((out / "leaderboard.json").read_text())
    text = json.dumps(board)
    assert "weight_tying" in text and "erm" in text and "scan-jump" in text
    # the same command again trains nothing and loses nothing
    capsys.readouterr()
    assert main(["run", str(suite), "--store", str(store), "--workers", "1", "--no-progress"]) == 0
    assert "0 runs to do, 4 reused" in capsys.readouterr().out
    with sqlite3.connect(store) as c:
        assert c.execute("SELECT count(*) FROM runs").fetchone()[0] == 4


def test_weight_tying_record_shows_the_parameter_drop(tmp_path, isolated_cache):
    suite, store = write(tmp_path, scan_suite(["erm", "weight_tying"])), tmp_path / "s.sqlite"
    assert (
        main(
            [
                "run",
                str(suite),
                "--store",
                str(store),
                "--workers",
                "1",
                "--no-progress",
                "--regularizers",
                "erm,weight_tying",
            ]
        )
        == 0
    )
    with sqlite3.connect(store) as c:
        keys = dict(c.execute("SELECT regularizer, run_key FROM runs WHERE benchmark='scan-simple'").fetchall())
    erm, tied = metrics(store, keys["erm"]), metrics(store, keys["weight_tying"])
    width = 16
    assert tied[("run", "tied_params_saved")] == len(TGT_VOCAB) * width
    assert erm[("run", "param_count")] - tied[("run", "param_count")] == len(TGT_VOCAB) * width
    assert ("run", "tied_params_saved") not in erm


@pytest.mark.parametrize("name", ["mixup", "crop_flip", "randaugment", "modern_recipe", "batchnorm"])
def test_image_regularizers_are_refused_when_the_suite_loads(tmp_path, name, capsys):
    suite = write(tmp_path, scan_suite(["erm", name]))
    assert main(["validate", str(suite)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2, err  # one line per benchmark, nothing trained
    culprit = (
        "randaugment, mixup_cutmix do" if name == "modern_recipe" else f"{name} does"
    )  # a recipe names its members
    assert f"'{name}' cannot run on benchmarks[0] 'scan-simple': {culprit} not apply to a seq2seq task" in err[0]


def test_out_of_range_strengths_are_refused_with_the_field_path(tmp_path, capsys):
    suite = write(tmp_path, scan_suite([{"name": "token_dropout", "p": 1.5}]))
    assert main(["validate", str(suite)]) == 1
    err = capsys.readouterr().err
    assert "regularizers[0].stack[0].params.p" in err and "less than or equal to 1" in err


def test_label_noise_is_refused_for_sequences(tmp_path, capsys):
    suite = write(tmp_path, scan_suite(["erm"], label_noise=0.2))
    assert main(["run", str(suite), "--store", str(tmp_path / "s.sqlite")]) == 1
    assert "label noise applies to classification only" in capsys.readouterr().err
    assert (
        not (tmp_path / "s.sqlite").exists()
        or sqlite3.connect(tmp_path / "s.sqlite").execute("SELECT count(*) FROM runs").fetchone()[0] == 0
    )


def test_train_refuses_an_unsupported_stack_before_training():
    loaded = load_scan(0, "simple", max_train=32)
    splits = NoShift().apply(loaded, 0)
    model = build_model("seq2seq", loaded.info, width=16, depth=1, heads=2)
    with pytest.raises(UnsupportedRegularizer, match="'mixup' cannot be used on a seq2seq task"):
        train(model, splits.training_data(), Stack([REGULARIZERS.get("mixup")()]), TrainSpec(epochs=1), 0)


def test_ood_test_shift_holds_out_id_test_from_train_and_keeps_val_in_distribution():
    loaded = load_scan(0, "addprim_jump", max_train=2000)
    splits = OODTest({"id_fraction": 0.1}).apply(loaded, 0)
    rows = lambda ex: {tuple(r) for r in ex.x.tolist()}
    assert len(splits.test_id) == 200 and len(splits.train) == 1800
    assert not rows(splits.test_id) & rows(splits.train)  # no held-out command is also trained on
    assert torch.equal(splits.ood["addprim_jump"].x, loaded.parts["test"].x)
    assert splits.val is loaded.parts["val"]
    assert splits.split_info == {"addprim_jump": {"family": "compositional", "shift": "addprim_jump"}}
    jump = 3 + list(loaded.info.details["src_vocab"][3:]).index("jump")
    assert not (splits.val.x == jump).any() and not (splits.test_id.x[:, 1:] == jump).any()
    with pytest.raises(ValueError):
        OODTest({"id_fraction": 0.6})


def test_a_tiny_harness_run_is_well_above_chance_and_exact_match_equals_greedy_decoding():
    """Sanity, not a tuned number: chance exact match is ~0 (1–6 actions over 6 action words).

    The harness's train() and evaluate() on the commands of `simple` with ≤ 6 actions (short,
    so the run is quick). On this machine: 0.80 test exact match after 6 epochs (~8 s, one thread).
    """
    loaded = load_scan(0, "simple")
    short = Loaded(loaded.info, {k: v.subset(v.meta["tgt_len"] <= 6) for k, v in loaded.parts.items()})
    splits = NoShift().apply(short, 0)
    with seeded_global_rng(0, "init"):
        model = build_model("seq2seq", loaded.info, width=32, depth=1, heads=4)
    stack = Stack([REGULARIZERS.get("erm")()])
    result = train(model, splits.training_data(), stack, TrainSpec(epochs=6, batch_size=32, lr=3e-3), 0)
    ev = evaluate(model, splits, 0, torch.device("cpu"))
    assert ev.value("test_id", "accuracy") > 0.4, ev.value("test_id", "accuracy")
    assert result.history.val_accuracy[-1] > 0.4
    assert ev.value("test_id", "token_accuracy") > ev.value("test_id", "accuracy")
    # teacher-forced exact match (what the harness reports) vs real greedy decoding
    test = splits.test_id
    model.eval()
    task = Seq2Seq(PAD)
    logits, labels = task.teacher_forced(model, test.x, test.y)
    fast = teacher_forced_exact_match(logits, labels, PAD)
    decoded = model.greedy_decode(test.x, max_len=labels.shape[1] + 2, bos=BOS, eos=EOS)
    slow = exact_match(decoded, test.y[:, 1:], EOS, PAD)
    assert (fast == slow).double().mean().item() >= 0.99 and fast.any()
    # decoding stops at EOS: everything after a row's first EOS is PAD
    after = (torch.cumsum((decoded == EOS).long(), 1) - (decoded == EOS).long()) > 0
    assert (decoded[after] == PAD).all() and after.any()
