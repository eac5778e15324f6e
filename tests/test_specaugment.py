"""SpecAugment: the scaled LD policy, per-sample masks and warps, and its place in a suite."""

import dataclasses
import re

import pytest
import torch

from regbench.catalog import registries
from regbench.config import ConfigError, parse_suite
from regbench.harness.plan import plan_suite
from regbench.harness.run_one import run_one
from regbench.regularizers.specaugment import (
    LD,
    MaskDraw,
    Policy,
    SpecAugment,
    SpecAugmentLayer,
    apply_masks,
    draw_masks,
    scaled_ld,
    time_warp,
)
from regbench.seeding import torch_generator

M, T = 40, 63  # the audio models' log-mel: 40 mel bins × 63 frames (1 s at 8 kHz, hop 128)


def test_ld_policy_is_scaled_to_the_input_size():
    assert scaled_ld(80, 1229) == Policy(LD["freq_width"], 2, LD["time_width"], 2, 1.0, LD["warp"])
    assert scaled_ld(M, T) == Policy(
        freq_width=14, freq_masks=2, time_width=5, time_masks=2, max_time_fraction=1.0, warp=4
    )


def test_mask_widths_and_counts_match_the_policy_on_a_fixed_seed():
    policy = scaled_ld(M, T)
    draw = draw_masks(4096, M, T, policy, torch_generator(0))
    assert draw.freq_width.shape == draw.freq_start.shape == (4096, policy.freq_masks)
    assert draw.time_width.shape == draw.time_start.shape == (4096, policy.time_masks)
    # widths are U{0, …, F} and U{0, …, T}: every value occurs, none beyond the bound
    assert set(draw.freq_width.unique().tolist()) == set(range(policy.freq_width + 1))
    assert set(draw.time_width.unique().tolist()) == set(range(policy.time_width + 1))
    assert draw.freq_width.float().mean() == pytest.approx(policy.freq_width / 2, rel=0.05)
    assert (draw.freq_start >= 0).all() and (draw.freq_start + draw.freq_width <= M).all()
    assert (draw.time_start >= 0).all() and (draw.time_start + draw.time_width <= T).all()
    again = draw_masks(4096, M, T, policy, torch_generator(0))
    assert torch.equal(again.freq_start, draw.freq_start) and torch.equal(again.time_width, draw.time_width)


def test_p_caps_the_time_masks_at_a_share_of_the_frames():
    policy = Policy(freq_width=0, freq_masks=1, time_width=50, time_masks=2, max_time_fraction=0.05, warp=0)
    draw = draw_masks(2000, M, T, policy, torch_generator(1))
    assert int(draw.time_width.max()) == int(0.05 * T) == 3


def loop_masks(spec: torch.Tensor, draw: MaskDraw) -> torch.Tensor:
    """The same masks applied one sample and one mask at a time (the reference)."""
    out = spec.clone()
    for i in range(len(spec)):
        for s, w in zip(draw.freq_start[i].tolist(), draw.freq_width[i].tolist()):
            out[i, :, s : s + w, :] = 0.0
        for s, w in zip(draw.time_start[i].tolist(), draw.time_width[i].tolist()):
            out[i, :, :, s : s + w] = 0.0
    return out


def test_batched_masks_equal_a_per_sample_loop_and_touch_nothing_else():
    g = torch_generator(2)
    spec = torch.randn(64, 1, M, T, generator=g) + 5.0  # no natural zeros
    draw = draw_masks(64, M, T, scaled_ld(M, T), g)
    out = apply_masks(spec, draw)
    assert torch.equal(out, loop_masks(spec, draw))
    masked = out == 0
    assert torch.equal(out[~masked], spec[~masked])
    # a sample masks whole bands and whole frames: rows = union of its frequency intervals
    rows = masked.all(dim=3)[:, 0]  # (B, M)
    assert (rows.sum(1) <= draw.freq_width.sum(1)).all() and (rows.sum(1) >= draw.freq_width.max(1).values).all()


def test_time_warp_is_per_sample_keeps_the_ends_and_order():
    ramp = torch.arange(T, dtype=torch.float32).view(1, 1, 1, T).expand(32, 1, M, T).contiguous()
    warped = time_warp(ramp, 4, torch_generator(3))
    assert warped.shape == ramp.shape
    assert torch.equal(warped[..., 0], ramp[..., 0]) and torch.allclose(warped[..., -1], ramp[..., -1])
    assert (warped.diff(dim=-1) >= 0).all()  # a monotone time map keeps time's order
    # the warp point moves by |w| ≤ W frames, w drawn per sample: every |w| in 0…4 occurs
    shift = (warped - ramp)[:, 0, 0].abs().max(dim=1).values  # (B,)
    assert set(shift.round(decimals=3).tolist()) == {0.0, 1.0, 2.0, 3.0, 4.0}
    assert torch.equal(time_warp(ramp, 0), ramp)


def test_the_layer_masks_in_training_and_records_its_policy():
    layer = SpecAugmentLayer(SpecAugment().policy_for)
    spec = torch.randn(8, 1, M, T) + 5.0
    torch.manual_seed(0)
    out = layer(spec)
    assert (out == 0).any() and layer.policy == dataclasses.replace(scaled_ld(M, T), warp=0)  # no warp unless asked
    assert torch.equal(layer.eval()(spec), spec)
    assert SpecAugment(freq_width=3).policy_for(M, T).freq_width == 3


def suite(regularizers, dataset="audio_commands", model="audio_conv1d", n=100):
    return parse_suite(
        {
            "name": "audio-tiny",
            "description": "d",
            "seeds": [0],
            "train": {"epochs": 2, "batch_size": 32},
            "benchmarks": [
                {
                    "name": "commands-tiny",
                    "dataset": dataset,
                    "dataset_args": {"n": n},
                    "model": model,
                    "model_args": {"width": 16, "depth": 1},
                    "shift": "none",
                }
            ],
            "regularizers": regularizers,
        }
    )


@pytest.mark.parametrize("name", ["crop_flip", "color_jitter", "randaugment", "autoaugment", "cutmix", "modern_recipe"])
def test_image_only_regularizers_are_refused_on_audio_when_the_suite_loads(name):
    with pytest.raises(ConfigError) as err:
        plan_suite(suite([name]))
    (line,) = str(err.value).splitlines()
    assert f"'{name}' cannot run on benchmarks[0] 'commands-tiny'" in line
    assert re.search(r"(does|do) not apply to audio inputs \(dataset 'audio_commands'", line)


def test_specaugment_and_audio_ready_regularizers_train_and_record(isolated_cache):
    names = ["erm", "specaugment", "mixup", "label_smoothing", "dropout", "weight_decay", "early_stopping"]
    plan = plan_suite(suite([*names, {"label": "specaugment+mixup", "stack": ["specaugment", "mixup"]}]))
    records = {r.regularizer: r for r in map(run_one, plan.runs)}
    # collapsed (at chance after this tiny budget) still trains and records every metric
    assert all(r.status in ("ok", "collapsed") for r in records.values()), {
        k: r.error for k, r in records.items() if r.error
    }
    run_level = {(m["split"], m["metric"]): m["value"] for m in records["specaugment"].metrics}
    assert run_level[("run", "specaugment_freq_width")] == 14 and run_level[("run", "specaugment_time_width")] == 5
    assert registries()["regularizers"].get("specaugment").kind == "augmentation"


def test_bad_specaugment_parameters_are_refused_at_load():
    with pytest.raises(ConfigError, match="freq_masks"):
        plan_suite(suite([{"name": "specaugment", "freq_masks": -1}]))
    with pytest.raises(ConfigError, match="max_time_fraction"):
        plan_suite(suite([{"name": "specaugment", "max_time_fraction": 1.5}]))


def test_list_regularizers_shows_the_inputs_of_modality_bound_ones(capsys):
    from regbench.cli import main

    assert main(["list", "regularizers"]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert "classification (audio)" in rows["specaugment"] and "classification (image)" in rows["crop_flip"]
    assert "(" not in rows["mixup"].split("augmentation")[1].split()[0]  # mixup applies to every input
