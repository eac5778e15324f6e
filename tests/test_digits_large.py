"""digits_large: seeded warped draws of sklearn's digits, cached by fingerprint, and ColoredMNIST on it."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from conftest import tiny_suite
from test_env_benchmarks import assert_paper_rates

from regbench.config import parse_suite
from regbench.data.digits import load_digits
from regbench.data.digits_large import load_digits_large
from regbench.harness import run_one as runner
from regbench.harness.plan import plan_suite
from regbench.shifts.colored_mnist import ColoredMNIST

NO_WARP = {"rotation": 0.0, "scale": 0.0, "shear": 0.0, "translate": 0.0, "elastic": 0.0, "stroke": 0.0}


def test_draws_are_seeded_and_deterministic():
    a, b, c = load_digits_large(0, per_image=2), load_digits_large(0, per_image=2), load_digits_large(1, per_image=2)
    for name in ("train", "val", "test"):
        assert torch.equal(a.parts[name].x, b.parts[name].x) and torch.equal(a.parts[name].y, b.parts[name].y)
    assert not torch.equal(a.parts["train"].x, c.parts["train"].x)
    x = a.parts["train"].x
    assert x.shape[1:] == (1, 14, 14) and a.info.input_shape == (1, 14, 14) and x.dtype == torch.float32
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0


def test_parts_are_warps_of_digits_own_split():
    """Each part holds per_image draws of exactly the base digits ``digits`` puts in that part."""
    base, big = load_digits(0), load_digits_large(0, per_image=3)
    for name, ex in base.parts.items():
        n = len(ex)
        assert len(big.parts[name]) == 3 * n
        assert torch.equal(big.parts[name].y, ex.y.repeat(3))
        assert torch.equal(big.parts[name].meta["source_index"], torch.arange(n).repeat(3))
    # with every warp size at zero a draw is the digit resized bilinearly, nothing else (inside
    # the outermost ring, where the resize repeats the edge and a warp reads zero background)
    plain = load_digits_large(0, per_image=2, **NO_WARP).parts["test"].x
    resized = F.interpolate(base.parts["test"].x, size=(14, 14), mode="bilinear", align_corners=False)
    inner = (..., slice(1, -1), slice(1, -1))
    assert torch.allclose(plain[inner], resized.repeat(2, 1, 1, 1)[inner], atol=1e-5)


def test_draws_of_one_digit_differ_but_stay_that_digit():
    x = load_digits_large(0, per_image=2).parts["train"].x
    n = len(x) // 2
    first, second = x[:n].flatten(1), x[n:].flatten(1)
    assert (first - second).abs().amax(1).min() > 0.05  # every pair of draws differs
    # a draw is nearer its own digit's other draw than a random other digit's draw
    same = F.cosine_similarity(first, second).mean()
    other = F.cosine_similarity(first, second.roll(1, 0)).mean()
    assert same > other + 0.1


def test_bad_parameters_are_one_line_errors():
    for kwargs, word in (({"per_image": 0}, "per_image"), ({"size": 2}, "size"), ({"elastic": -0.1}, "elastic")):
        with pytest.raises(ValueError, match=word) as err:
            load_digits_large(0, **kwargs)
        assert "\n" not in str(err.value)


def large_bench(**dataset_args):
    suite = tiny_suite()
    suite["benchmarks"][0].update(dataset="digits_large", dataset_args=dataset_args, shift={"kind": "colored_mnist"})
    return plan_suite(parse_suite(suite)).runs[0].benchmark


def test_splits_are_cached_under_their_fingerprint(isolated_cache):
    a, b = large_bench(per_image=2), large_bench(per_image=3)
    assert runner.fingerprint(a) != runner.fingerprint(b)
    first = runner.build_splits(a)
    assert (isolated_cache / runner.fingerprint(a) / "manifest.json").exists()
    assert not (isolated_cache / runner.fingerprint(b)).exists()
    runner._SPLITS.clear()  # the next read comes from disk
    again = runner.build_splits(a)
    assert torch.equal(first.train.x, again.train.x) and torch.equal(first.ood["test_env"].y, again.ood["test_env"].y)
    assert len(first.train) == 2 * len(load_digits(0).parts["train"])


@pytest.fixture(scope="module")
def colored_large():
    # 16 draws: 7,904 training examples per environment, 2,872 per environment in val
    return ColoredMNIST().apply(load_digits_large(0, per_image=16, size=8), seed=0)


def test_colored_mnist_on_digits_large_noise_and_agreement_per_environment(colored_large):
    # a rate's standard error is at most 0.0081 in the smallest part (val, 2,872 per env): 0.025 is 3 σ
    assert_paper_rates(colored_large, 0.025)
    # label noise is drawn per draw, not per base digit: copies of one digit disagree
    train = colored_large.train
    n = len(train) // 16
    assert 0.3 < float((train.y[:n] != train.y[n : 2 * n]).float().mean()) < 0.45  # 2 · 0.25 · 0.75 = 0.375


def test_grayscale_oracle_removes_only_the_colour():
    loaded = load_digits_large(0, per_image=2, size=8)
    colour, grey = ColoredMNIST().apply(loaded, 0), ColoredMNIST({"grayscale": True}).apply(loaded, 0)
    for a, b in ((colour.train, grey.train), (colour.ood["test_env"], grey.ood["test_env"])):
        assert torch.equal(a.y, b.y) and torch.equal(a.meta["env"], b.meta["env"])
        assert torch.equal(b.x[:, 0], b.x[:, 1]) and torch.equal(b.x[:, 0], a.x.sum(1))
    # the test environment's images are then the test_id images: colour was the only difference
    assert torch.equal(grey.ood["test_env"].x, grey.test_id.x)
