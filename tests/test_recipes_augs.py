"""Random erasing, TrivialAugment Wide, AugMix and stochastic depth (issue 29).

Each against a hand-computed or measured value: AugMix's Jensen–Shannon term, stochastic
depth's drop rate, survival scaling and eval identity; the two per-image augmentations draw
per sample and from the run's generator only. Each refuses what it cannot act on in one
line, runs through a tiny suite from the CLI, and resumes exactly from a checkpoint.
"""

from __future__ import annotations

import math
import re

import pytest
import torch
from scaling_helpers import metric_rows, statuses
from torch import nn

from regbench.cli import main
from regbench.config import ConfigError, parse_suite
from regbench.harness.plan import plan_suite
from regbench.harness.run_one import run_one
from regbench.models import build_model, unknown_arguments
from regbench.models.drop_path import DropPath, dropped_fraction, linear_decay
from regbench.models.resnet import resnet18
from regbench.models.vit import vit
from regbench.catalog import registries
from regbench.regularizers.augmix import AugMix, apply_augmix, augmix_table, draw_augmix, jensen_shannon
from regbench.regularizers.base import Batch, SetupContext
from regbench.regularizers.random_erasing import RandomErasing
from regbench.regularizers.trivialaugment import TrivialAugment
from regbench.seeding import seeded_global_rng, torch_generator
from regbench.train.checkpoint import CRASH_ENV

NEW = ["random_erasing", "trivialaugment", "augmix", "stochastic_depth"]
IMAGE_AUGS = ["random_erasing", "trivialaugment", "augmix"]
CTX = SetupContext(num_classes=10, input_shape=(3, 16, 16), flip_invariant=True, epochs=1)


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py: tiny models, one thread


def images(b: int = 32, c: int = 3, side: int = 16) -> torch.Tensor:
    # smooth, varied images: every op (equalize, autocontrast, posterize …) changes them
    base = torch.rand(b, c, side, side, generator=torch_generator("test", "recipes-augs"))
    return (0.2 + 0.6 * base).clamp(0, 1)


def targets(b: int = 32) -> torch.Tensor:
    return torch.eye(10)[torch.arange(b) % 10]


def gen(seed: int = 0) -> torch.Generator:
    return torch_generator("test", "recipes-augs", seed)


# ---- AugMix's Jensen–Shannon term against hand-computed values ---------------------------------


def test_jensen_shannon_matches_a_hand_computed_value():
    # p = (½, ½), (¾, ¼), (¼, ¾): the mixture is (½, ½), so JS = ⅓ [0 + 2 (¾ ln 1.5 + ¼ ln 0.5)]
    clean, aug1, aug2 = (
        torch.tensor([[0.0, 0.0]]),
        torch.tensor([[math.log(3), 0.0]]),
        torch.tensor([[0.0, math.log(3)]]),
    )
    hand = (2.0 / 3.0) * (0.75 * math.log(1.5) + 0.25 * math.log(0.5))
    assert jensen_shannon(clean, aug1, aug2).item() == pytest.approx(hand, rel=1e-6)
    assert hand == pytest.approx(0.0872081, rel=1e-5)
    # identical distributions: 0; the mean over a batch of two rows: their average
    assert jensen_shannon(aug1, aug1, aug1).item() == pytest.approx(0.0, abs=1e-7)
    two = jensen_shannon(torch.cat([clean, aug1]), torch.cat([aug1, aug1]), torch.cat([aug2, aug1]))
    assert two.item() == pytest.approx(hand / 2, rel=1e-6)


class FixedLogits(nn.Module):
    """A model whose logits on the two AugMix views are fixed: (¾, ¼) then (¼, ¾)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        half = x.shape[0] // 2
        one = torch.tensor([math.log(3), 0.0]).expand(half, 2)
        return torch.cat([one, one.flip(1)])


def test_augmix_penalty_is_lambda_times_the_jsd_of_clean_and_two_views():
    aug = AugMix()  # λ = 12, the paper's
    x = images(4)
    out, y = aug.transform(x, targets(4)[:, :2], gen())
    assert torch.equal(out, x)  # the trainer's forward pass sees the clean batch
    clean = torch.zeros(4, 2)  # (½, ½)
    penalty = aug.penalty(FixedLogits(), Batch(out, y, clean))
    hand = (2.0 / 3.0) * (0.75 * math.log(1.5) + 0.25 * math.log(0.5))
    assert penalty.item() == pytest.approx(12 * hand, rel=1e-6)
    assert aug.penalty(FixedLogits(), Batch(out, y, clean)) == 0.0  # the views are used once


def test_augmix_views_are_convex_mixtures_in_range_and_differ_per_sample():
    x = images(16)
    table, ids = augmix_table(3, False, 16, 16)
    draw = draw_augmix(gen(), 16, ids, 3, -1, 1.0, x.device)
    assert torch.allclose(draw.w.sum(1), torch.ones(16))
    assert ((draw.m >= 0) & (draw.m <= 1)).all()
    depth = (draw.action >= 0).sum(0)  # (width, N): each chain 1 to 3 ops deep
    assert depth.min() >= 1 and depth.max() <= 3 and len(depth.unique()) > 1
    out = apply_augmix(x, draw, table.actions)
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1 + 1e-6
    # all m = 1 gives the original; two samples' views differ from each other's mixing
    keep = type(draw)(draw.action, torch.ones(16), draw.w)
    assert torch.allclose(apply_augmix(x, keep, table.actions), x)
    assert len({tuple(a.tolist()) for a in draw.action.permute(2, 0, 1).reshape(16, -1)}) > 1


def test_augmix_default_op_table_leaves_out_the_corruption_like_ops():
    table, _ = augmix_table(3, False, 16, 16)
    names = {n for n, _ in table.actions}
    assert not names & {"Brightness", "Color", "Contrast", "Sharpness"}  # the paper's §3
    assert {"Brightness", "Contrast"} <= {n for n, _ in augmix_table(3, True, 16, 16)[0].actions}


# ---- stochastic depth: measured drop rate, survival scaling, eval identity -----------------


def test_drop_path_drops_at_its_rate_scales_survivors_and_is_the_identity_in_eval():
    layer = DropPath(0.3).train()
    x = torch.ones(2000, 4)
    with seeded_global_rng(0, "dropout"):
        outs = torch.stack([layer(x) for _ in range(50)])  # 100,000 per-sample draws
    dropped = (outs[..., 0] == 0).float().mean().item()
    assert dropped == pytest.approx(0.3, abs=4 * math.sqrt(0.3 * 0.7 / 100_000))
    assert torch.allclose(outs[outs != 0], torch.tensor(1 / 0.7))  # survivors scaled by 1 / (1 − p)
    assert outs.mean().item() == pytest.approx(1.0, abs=0.01)  # the branch's expectation is kept
    assert (outs == 0).all(-1).eq((outs == 0).any(-1)).all()  # a whole sample's branch at once
    assert dropped_fraction(layer) == pytest.approx(dropped)  # the counters agree
    assert torch.equal(layer.eval()(x), x)


def test_linear_decay_is_huang_et_al_rule():
    assert linear_decay(0.5, 4) == [0.125, 0.25, 0.375, 0.5]  # p_l = 1 − l/L · (1 − p_L)


@pytest.mark.parametrize("model", ["resnet18", "vit"])
def test_residual_models_drop_blocks_at_the_scheduled_rate_and_match_the_plain_model_in_eval(model):
    make = {
        "resnet18": lambda **a: resnet18((3, 16, 16), 10, width=8, **a),
        "vit": lambda **a: vit((3, 16, 16), 10, patch=4, depth=4, **a),
    }[model]
    with seeded_global_rng(0, "init"):
        plain = make()
    with seeded_global_rng(0, "init"):
        dropping = make(drop_path=0.4)
    layers = [m for m in dropping.modules() if isinstance(m, DropPath)]
    blocks = 8 if model == "resnet18" else 4
    assert [m.p for m in layers] == pytest.approx(linear_decay(0.4, blocks))
    x = images(64)
    plain.eval(), dropping.eval()
    assert torch.allclose(dropping(x), plain(x), atol=1e-6)  # eval: no drop, no scaling
    dropping.train()
    with seeded_global_rng(1, "dropout"), torch.no_grad():
        for _ in range(20):
            dropping(x)
    # expected: the mean of the blocks' rates (each ViT block's two branches share its rate)
    expected = sum(linear_decay(0.4, blocks)) / blocks
    n = sum(int(m.draws) for m in layers)
    assert dropped_fraction(dropping) == pytest.approx(expected, abs=4 * math.sqrt(0.25 / n) + 0.02)


def test_stochastic_depth_reports_the_dropped_fraction_and_sets_the_model_argument():
    sd = registries()["regularizers"].get("stochastic_depth")()
    assert sd.model_overrides() == {"drop_path": 0.5}  # Huang et al.'s p_L = 0.5
    net = vit((1, 8, 8), 10, drop_path=0.5).train()
    assert sd.finish(net, None) == {}  # nothing drawn yet
    with seeded_global_rng(0, "dropout"):
        net(torch.rand(256, 1, 8, 8))
    assert 0.2 < sd.finish(net, None)["dropped_block_fraction"] < 0.55


# ---- per-sample draws from the run's generator ----------------------------------------------


@pytest.mark.parametrize("name", ["random_erasing", "trivialaugment"])
def test_per_image_augmentations_draw_per_sample_and_only_from_the_generator(name):
    reg = registries()["regularizers"].get(name)()
    reg.setup(CTX)
    x, y = images(32), targets(32)
    torch.manual_seed(123)  # the global RNG must play no part
    a, ya = reg.transform(x, y, gen(0))
    torch.manual_seed(456)
    b, _ = reg.transform(x, y, gen(0))
    c, _ = reg.transform(x, y, gen(1))
    assert torch.equal(a, b) and not torch.equal(a, c)  # same seed → same output
    assert torch.equal(ya, y) and a.shape == x.shape
    changed = (a != x).flatten(1).any(1)
    assert changed.any() and not changed.all()  # some samples drew a no-op, others did not
    # two samples of one batch get different ops: copies of one image come out different
    same = x[:1].expand(32, -1, -1, -1).contiguous()
    outs = reg.transform(same, y, gen(2))[0]
    assert len({tuple(o.flatten().tolist()) for o in outs}) > 4


def test_random_erasing_boxes_follow_torchvision_ranges():
    reg = RandomErasing(p=1.0)
    reg.setup(CTX)
    x = torch.ones(500, 1, 32, 32)
    out, _ = reg.transform(x, targets(500), gen())
    area = (out == 0).flatten(1).float().mean(1)
    assert (area > 0).all()  # p = 1: every sample erased (a fitting box exists at this size)
    assert area.min() >= 0.015 and area.max() <= 0.36  # scale (0.02, 0.33), up to rounding
    box = out[:, 0] == 0
    rows, cols = box.any(2).sum(1).float(), box.any(1).sum(1).float()
    assert torch.equal(rows * cols, box.flatten(1).sum(1).float())  # each erased region is a rectangle
    ratio = rows / cols
    assert ratio.min() < 0.7 and ratio.max() > 1.4  # aspect ratios drawn over (0.3, 3.3)
    random_fill = RandomErasing(p=1.0, value="random")
    filled, _ = random_fill.transform(torch.full((8, 3, 16, 16), 2.0), targets(8), gen())
    inside = filled[filled != 2.0]
    assert inside.numel() > 0 and inside.min() >= 0 and inside.max() < 1 and inside.std() > 0.2


def test_trivialaugment_uses_torchvision_wide_op_table():
    from regbench.regularizers.trivialaugment import _trivialaugment_table

    table, ids = _trivialaugment_table(31, 16, 16)
    assert ids.shape == (14, 31, 2)
    names = {n for n, _ in table.actions}
    assert len(names) == 14 and "Identity" in names
    assert max(abs(m) for n, m in table.actions if n == "Rotate") == pytest.approx(135.0)  # wide range
    assert TrivialAugment().num_magnitude_bins == 31
    assert max(abs(m) for n, m in table.actions if n == "TranslateX") == pytest.approx(32.0)  # absolute px


def test_trivialaugment_relative_translations_keep_the_reference_images_share():
    from regbench.regularizers.trivialaugment import _trivialaugment_table, translation_scale

    def largest(table, name):
        return max(abs(m) for n, m in table.actions if n == name)

    # 32 px of a 176 px crop (torchvision's recipe) is 32 · 16 / 176 = 2.909 px of a 16 px image
    small, _ = _trivialaugment_table(31, 16, 16, 176)
    assert largest(small, "TranslateX") == pytest.approx(32 * 16 / 176) == largest(small, "TranslateY")
    tall, _ = _trivialaugment_table(31, 32, 16, 176)  # Y follows the height, X the width
    assert largest(tall, "TranslateY") == pytest.approx(32 * 32 / 176)
    assert largest(tall, "TranslateX") == pytest.approx(32 * 16 / 176)
    assert largest(small, "Rotate") == pytest.approx(135.0) and largest(small, "ShearX") == pytest.approx(0.99)
    assert translation_scale("TranslateX", 16, 16, None) == 1.0 == translation_scale("Rotate", 16, 16, 176)
    # a transform draws from the scaled table: no image moves by more than 2 whole pixels
    x = torch.zeros(256, 1, 16, 16)
    x[:, :, 6:10, 6:10] = 0.5  # below 1: Solarize turns white pixels black
    ta = TrivialAugment(translate_reference_size=176)
    ta.setup(CTX)
    out, _ = ta.transform(x, torch.zeros(256, 10), torch.Generator().manual_seed(0))
    assert out.shape == x.shape and (out.flatten(1).sum(1) > 0).all()  # the square stays in frame


# ---- refusals: one line each -----------------------------------------------------------------


def _audio_suite(name):
    return parse_suite(
        {
            "name": "audio-tiny",
            "seeds": [0],
            "train": {"epochs": 1, "batch_size": 32},
            "benchmarks": [
                {
                    "name": "commands-tiny",
                    "dataset": "audio_commands",
                    "dataset_args": {"n": 100},
                    "model": "audio_conv1d",
                    "model_args": {"width": 16, "depth": 1},
                    "shift": "none",
                }
            ],
            "regularizers": [name],
        }
    )


def _text_suite(name):
    return parse_suite(
        {
            "name": "text-tiny",
            "seeds": [0],
            "train": {"epochs": 1, "batch_size": 64},
            "benchmarks": [
                {
                    "name": "scan-simple",
                    "dataset": "scan",
                    "dataset_args": {"split": "simple", "max_train": 128},
                    "model": "seq2seq",
                    "model_args": {"width": 16, "depth": 1, "heads": 2},
                    "shift": "none",
                }
            ],
            "regularizers": [name],
        }
    )


@pytest.mark.parametrize("name", IMAGE_AUGS)
def test_image_augmentations_are_refused_on_audio_and_text_in_one_line(name):
    with pytest.raises(ConfigError) as err:
        plan_suite(_audio_suite(name))
    (line,) = str(err.value).splitlines()
    assert f"'{name}' cannot run on benchmarks[0] 'commands-tiny'" in line
    assert re.search(r"does not apply to audio inputs \(dataset 'audio_commands'", line)
    with pytest.raises(ConfigError) as err:
        plan_suite(_text_suite(name))
    (line,) = str(err.value).splitlines()
    assert f"'{name}' cannot run on benchmarks[0] 'scan-simple': {name} does not apply to a seq2seq task" in line


@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_stochastic_depth_is_refused_on_models_without_residual_blocks_in_one_line(model):
    overrides = registries()["regularizers"].get("stochastic_depth")().model_overrides()
    assert unknown_arguments(model, overrides) == ["drop_path"]
    assert unknown_arguments("resnet18", overrides) == unknown_arguments("vit", overrides) == []
    from regbench.data.base import DatasetInfo

    info = DatasetInfo(name="d", num_classes=10, input_shape=(1, 8, 8))
    with pytest.raises(ValueError) as err:
        build_model(model, info, **overrides)
    (line,) = str(err.value).splitlines()
    assert line.startswith(f"model '{model}' has no argument drop_path (models that have:")
    assert "resnet18" in line and "vit" in line and "mlp" not in line.split("have:")[1]
    # through a run: recorded as failed, before training, with that line first
    spec = plan_suite(_digits_suite(["stochastic_depth"], model=model)).runs[0]
    rec = run_one(spec)
    assert rec.status == "failed" and rec.error.splitlines()[0] == f"ValueError: {line}"


# ---- end to end through the CLI, and exact resume ------------------------------------------


def _digits_suite(regularizers, model="vit", epochs=2, seeds=(0,)):
    return parse_suite(_digits_dict(regularizers, model, epochs, seeds))


def _digits_dict(regularizers, model="vit", epochs=2, seeds=(0,)):
    args = {"width": 16, "depth": 2} if model in ("vit", "mlp", "cnn") else {"width": 8}
    return {
        "name": "recipes-tiny",
        "seeds": list(seeds),
        "train": {"epochs": epochs, "batch_size": 64, "lr": 3e-3 if epochs <= 2 else 1e-2},
        "benchmarks": [
            {
                "name": "digits-small",
                "dataset": "digits",
                "dataset_args": {"test_fraction": 0.6},
                "model": model,
                "model_args": args,
                "shift": {"kind": "covariate", "corruptions": ["gaussian_noise"], "severities": [3]},
            }
        ],
        "regularizers": regularizers,
    }


def _write(tmp_path, suite: dict):
    import yaml

    path = tmp_path / f"{suite['name']}.yaml"
    path.write_text(yaml.safe_dump(suite))
    return path


def _run_metrics(store, key):
    import sqlite3

    with sqlite3.connect(store) as db:
        return dict(
            ((s, m), v) for s, m, v in db.execute("SELECT split, metric, value FROM metrics WHERE run_key=?", (key,))
        )


def test_each_new_regularizer_runs_through_a_tiny_suite_from_the_cli(tmp_path):
    suite = _write(
        tmp_path,
        # enough steps to leave chance: a run still at chance is recorded collapsed, not ok
        _digits_dict(
            [
                "erm",
                *NEW,
                {"stack": ["crop_flip", "augmix", {"name": "stochastic_depth", "rate": 0.1}], "label": "stacked"},
            ],
            epochs=20,
        ),
    )
    store = tmp_path / "s.sqlite"
    assert main(["run", str(suite), "--store", str(store), "--workers", "1", "--no-progress"]) == 0
    import sqlite3

    with sqlite3.connect(store) as db:
        rows = db.execute("SELECT regularizer, regularizer_kind, status, run_key FROM runs").fetchall()
    kinds = {r: k for r, k, _, _ in rows}
    assert {s for _, _, s, _ in rows} == {"ok"} and len(rows) == 6
    for name in IMAGE_AUGS:
        assert kinds[name] == "augmentation"  # mechanism: train NLL against erm's
    assert kinds["stochastic_depth"] == "architecture"
    keys = {r: k for r, _, _, k in rows}
    for label, lo, hi in (("stochastic_depth", 0.25, 0.5), ("stacked", 0.05, 0.1)):
        fraction = _run_metrics(store, keys[label])[("run", "dropped_block_fraction")]
        assert lo < fraction < hi  # depth 2, linear decay: rate 0.5 drops 0.25 and 0.5 (mean 0.375); 0.1: mean 0.075


def test_augmix_and_stochastic_depth_resume_exactly_after_a_crash(tmp_path, monkeypatch):
    regs = [{"stack": ["augmix", {"name": "stochastic_depth", "rate": 0.1}], "label": "augmix+sd"}]
    suite = _write(tmp_path, _digits_dict(regs, epochs=10))  # past chance: the resumed run must reach ok
    ref = tmp_path / "ref.sqlite"
    base = ["run", str(suite), "--workers", "1", "--no-progress", "--deterministic"]
    assert main([*base, "--store", str(ref)]) == 0
    store, ckpt = tmp_path / "s.sqlite", ["--checkpoint-every", "1"]
    monkeypatch.setenv(CRASH_ENV, f"2:{tmp_path / 'crashed'}:raise")
    assert main([*base, "--store", str(store), *ckpt]) == 1
    assert set(statuses(store).values()) == {"failed"}
    assert main([*base, "--store", str(store), *ckpt]) == 0
    assert set(statuses(store).values()) == {"ok"}
    assert metric_rows(store) == metric_rows(ref)  # same metrics, dropped fraction included
