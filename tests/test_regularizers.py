"""Every registered regularizer: the contract, and the change each one claims to make (issue 2).

The contract test is parametrized over the registry, so a newly registered regularizer is
covered without editing this file. The claim tests compare against ERM with the same seed
(same init, same batch order), so each would fail if its regularizer were a no-op.
Detailed per-sample augmentation checks live in test_augment.py and are not repeated here.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from regbench.catalog import registries
from regbench.config import ConfigError, TrainSpec, parse_suite
from regbench.data.base import TrainingData
from regbench.data.digits import load_digits
from regbench.data.noise import symmetric_noise
from regbench.harness.plan import plan_suite
from regbench.harness.run_one import run_one
from regbench.models import unknown_arguments
from regbench.models.norms import ChannelRMSNorm
from regbench.regularizers import REGULARIZERS, register_regularizer
from regbench.regularizers.augment import CropFlip, RandAugment
from regbench.harness.applicability import BASELINE_KIND
from regbench.regularizers.base import KINDS, Regularizer, SetupContext, soft_cross_entropy
from regbench.regularizers.clipping import GradClip
from regbench.regularizers.label_smoothing import LabelSmoothing
from regbench.regularizers.mix import MixupCutmix
from regbench.regularizers.optim import WeightDecay
from regbench.regularizers.stack import ConflictError, Stack
from regbench.seeding import seeded_global_rng, torch_generator
from regbench.shifts.none import NoShift
from regbench.tasks import evaluate
from regbench.train.loop import make_optimizer, predict_logits, train

NAMES = registries()["regularizers"].names()
# the image/classification contract covers every regularizer that applies to classification;
# the sequence-only ones are covered by tests/test_seq_harness.py and refused here at load
CLASSIFICATION = [n for n in NAMES if "classification" in Stack([REGULARIZERS.get(n)()]).tasks]
SEQUENCE_ONLY = sorted(set(NAMES) - set(CLASSIFICATION))
# the audio-only ones (specaugment) are covered by tests/test_specaugment.py and refused on images
AUDIO_ONLY = sorted(n for n in CLASSIFICATION if "image" not in Stack([REGULARIZERS.get(n)()]).modalities)
CLASSIFICATION = [n for n in CLASSIFICATION if n not in AUDIO_ONLY]
TIMING = {
    "train_seconds",
    "train_cpu_seconds",
    "eval_seconds",
    "samples_per_second",
    "peak_memory_mb",
}  # not reproducible
CPU = torch.device("cpu")


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models on a busy 2-core machine run many times faster on one thread (no contention)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def splits():
    return NoShift().apply(load_digits(0), 0)


def total_norm(tensors) -> float:
    return math.sqrt(sum(float((t.detach() ** 2).sum()) for t in tensors))


def build_model(stack: Stack, model: str = "mlp", seed: int = 0, **model_args) -> nn.Module:
    """The model as runner.run_one builds it: benchmark args, then the stack's overrides."""
    builder = registries()["models"].get(model)
    with seeded_global_rng(seed, "init"):
        return builder((1, 8, 8), 10, **{**model_args, **stack.model_overrides()})


def fit(data: TrainingData, members: list[Regularizer], seed: int = 0, model_args=None, **spec):
    """Train an MLP on ``data`` with a stack of ``members``; → (model, TrainResult)."""
    stack = Stack(members)
    model = build_model(stack, seed=seed, **(model_args or {"width": 64, "depth": 1}))
    return model, train(model, data, stack, TrainSpec(**spec), seed)


def suite(regularizers, seeds=(0,), model="mlp", shift="none", **train_args):
    """A one-benchmark digits suite; a smaller train part (test_fraction 0.6) keeps runs quick."""
    return parse_suite(
        {
            "name": "regtest",
            "seeds": list(seeds),
            "train": {"epochs": 2, "batch_size": 64, "lr": 3e-3, **train_args},
            "benchmarks": [
                {
                    "name": "digits-small",
                    "dataset": "digits",
                    "dataset_args": {"test_fraction": 0.6},
                    "model": model,
                    "model_args": {"width": 16, "depth": 1},
                    "shift": shift,
                }
            ],
            "regularizers": regularizers,
        }
    )


# ---- the contract ---------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["mlp", "cnn"])
@pytest.mark.parametrize("name", CLASSIFICATION)
def test_every_regularizer_trains_and_records(name, model):
    # the environment baselines need training environments: colored_mnist has two
    # (asked of an instance: a recipe's needs_envs is a property over its members)
    shift = "colored_mnist" if REGULARIZERS.get(name)().needs_envs else "none"
    missing = unknown_arguments(model, REGULARIZERS.get(name)().model_overrides())
    if missing:  # e.g. stochastic depth's drop_path: mlp and cnn have no residual blocks
        (spec,) = plan_suite(suite([name], model=model, shift=shift)).runs
        rec = run_one(spec)
        assert rec.status == "failed" and f"model '{model}' has no argument {', '.join(missing)}" in rec.error
        model = "vit"  # the contract itself, on a model that has the argument
    (spec,) = plan_suite(suite([name], model=model, shift=shift)).runs
    rec = run_one(spec)
    # collapsed: a 2-epoch budget can leave a model at chance; it still trains and records everything
    assert rec.status in ("ok", "collapsed"), rec.error
    # a row's kind: the regularizer's own, or "baseline" for the row that adds nothing (erm)
    assert rec.regularizer_kind in (*KINDS, BASELINE_KIND)
    assert (rec.regularizer_kind == BASELINE_KIND) == (name == "erm"), "only the baseline may claim to do nothing"
    values = {(m["split"], m["metric"]): m["value"] for m in rec.metrics}
    assert all(math.isfinite(v) for v in values.values()), {k: v for k, v in values.items() if not math.isfinite(v)}
    assert 0.0 <= values[("test_id", "accuracy")] <= 1.0
    epochs_run = values[("run", "epochs_run")]
    assert 1 <= values[("run", "best_epoch")] <= epochs_run <= 2
    assert all(len(c) == epochs_run for c in rec.curves.values())


@pytest.mark.parametrize("name", SEQUENCE_ONLY)
def test_sequence_only_regularizers_are_refused_on_images_when_the_suite_loads(name):
    with pytest.raises(ConfigError) as err:
        plan_suite(suite([name]))
    (line,) = str(err.value).splitlines()
    assert f"'{name}' cannot run on benchmarks[0] 'digits-small'" in line
    assert "does not apply to a classification task" in line


@pytest.mark.parametrize("name", AUDIO_ONLY)
def test_audio_only_regularizers_are_refused_on_images_when_the_suite_loads(name):
    with pytest.raises(ConfigError) as err:
        plan_suite(suite([name]))
    (line,) = str(err.value).splitlines()
    assert f"'{name}' cannot run on benchmarks[0] 'digits-small'" in line
    assert "does not apply to image inputs" in line


# ---- penalties, smoothing: compared with ERM at the same seed --------------------------------

TRAINED = {"epochs": 5, "lr": 1e-2}  # long enough that ERM is confident and its weights grow


@pytest.fixture(scope="module")
def erm_model(splits):
    return fit(splits.training_data(), [REGULARIZERS.get("erm")()], **TRAINED)[0]


def sparsity(model, splits) -> float:
    return evaluate(model, splits, 0, CPU).value("run", "weight_sparsity")


@pytest.mark.parametrize("name, params", [("l1", {"lam": 1e-3}), ("elastic_net", {"lam": 2e-3, "l1_ratio": 0.5})])
def test_l1_penalties_make_weights_sparse(splits, erm_model, name, params):
    model, _ = fit(splits.training_data(), [REGULARIZERS.get(name)(**params)], **TRAINED)
    base = sparsity(erm_model, splits)
    assert sparsity(model, splits) > 5 * base + 0.05  # measured: ~0.13 vs ~0.005


def test_l2_shrinks_weights(splits, erm_model):
    model, _ = fit(splits.training_data(), [REGULARIZERS.get("l2")(lam=1e-2)], **TRAINED)

    def weights(m):
        return [p for p in m.parameters() if p.dim() >= 2]

    assert total_norm(weights(model)) < 0.8 * total_norm(weights(erm_model))  # measured: ~7.5 vs ~12.4


def test_label_smoothing_lowers_confidence(splits, erm_model):
    model, _ = fit(splits.training_data(), [LabelSmoothing(0.3)], **TRAINED)

    def confidence(m):  # mean max-probability on test_id
        return torch.softmax(predict_logits(m, splits.test_id.x), 1).max(1).values.mean()

    assert confidence(model) < confidence(erm_model) - 0.1  # measured: ~0.56 vs ~0.87


# ---- gradient clipping -------------------------------------------------------------------------


def test_grad_clip_bounds_the_total_norm_and_leaves_small_gradients_alone():
    model = build_model(Stack([]), width=32, depth=2)
    g = torch_generator(0, "grads")
    for p in model.parameters():
        p.grad = 100 * torch.randn(p.shape, generator=g)
    assert total_norm(p.grad for p in model.parameters()) > 10
    GradClip(max_norm=1.0).after_backward(model)
    assert total_norm(p.grad for p in model.parameters()) <= 1.0 + 1e-6
    for p in model.parameters():
        p.grad *= 0.1  # total norm now ≈ 0.1 < max_norm
    before = [p.grad.clone() for p in model.parameters()]
    clip = GradClip(max_norm=1.0)
    clip.after_backward(model)
    assert all(torch.equal(b, p.grad) for b, p in zip(before, model.parameters()))
    assert clip.finish(model, None) == {"clipped_fraction": 0.0}  # it had nothing to clip


class GradProbe(Regularizer):
    """Test-only: records the total gradient norm when its after_backward runs."""

    def __init__(self):
        self.norms = []

    def after_backward(self, model):
        self.norms.append(total_norm(p.grad for p in model.parameters() if p.grad is not None))


def test_grad_clip_acts_between_backward_and_step_in_training(splits):
    before, after = GradProbe(), GradProbe()
    _, result = fit(
        splits.training_data(), [before, GradClip(max_norm=1e-3), after], epochs=1, model_args={"width": 16}
    )
    assert min(before.norms) > 1e-3  # the clip had work to do on every step
    assert result.extra["clipped_fraction"] == 1.0  # and its mechanism number says so
    assert len(after.norms) == len(before.norms) and max(after.norms) <= 1e-3 + 1e-6


# ---- early stopping ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def overfitting_data(splits):
    """100 training digits with 40% wrong labels: a wide MLP fits the noise within a few epochs."""
    g = torch_generator(0, "overfit")
    tr = splits.train.subset(torch.randperm(len(splits.train), generator=g)[:100])
    return TrainingData(tr.replace(y=symmetric_noise(tr.y, 0.4, 10, g)), splits.val, splits.info)


def test_early_stopping_stops_and_restores_best_val_weights(overfitting_data):
    es = REGULARIZERS.get("early_stopping")(patience=3)
    model, res = fit(overfitting_data, [es], epochs=60, lr=1e-2, batch_size=32, model_args={"width": 256, "depth": 2})
    h = res.history
    assert res.epochs_run < 60 and res.epochs_run == len(h.val_loss)
    best = min(range(len(h.val_loss)), key=h.val_loss.__getitem__)
    assert res.best_epoch == best + 1 and res.extra["restored_epoch"] == best + 1
    assert h.val_loss[-1] > h.val_loss[best] + 1e-3  # the last epoch was worse: restoring matters
    val = overfitting_data.val
    assert abs(F.cross_entropy(predict_logits(model, val.x), val.y).item() - h.val_loss[best]) < 1e-6


def test_early_stopping_records_epochs_used_in_the_run_record():
    (spec,) = plan_suite(suite(["early_stopping"], epochs=40, lr=1e-2, label_noise=0.5)).runs
    values = {m["metric"]: m["value"] for m in run_one(spec).metrics if m["split"] == "run"}
    assert values["epochs_run"] < 40
    assert values["best_epoch"] == values["restored_epoch"] == values["epochs_run"] - 3  # patience 3


# ---- weight decay --------------------------------------------------------------------------------


@pytest.mark.parametrize("model, norm", [("mlp", "batch"), ("mlp", "layer"), ("cnn", "batch"), ("cnn", "layer")])
def test_weight_decay_is_adamw_and_spares_norms_and_biases(model, norm):
    stack = Stack([WeightDecay()])
    net = build_model(stack, model, width=16, depth=2, norm=norm)
    spec = TrainSpec(lr=0.1)
    opt = make_optimizer(net, stack, spec)
    assert type(opt) is torch.optim.AdamW
    decay_of = {id(p): grp["weight_decay"] for grp in opt.param_groups for p in grp["params"]}
    assert len(decay_of) == len(list(net.parameters()))  # every parameter in exactly one group
    norm_params = {
        id(p) for m in net.modules() if not isinstance(m, (nn.Linear, nn.Conv2d)) for p in m.parameters(recurse=False)
    }
    assert norm_params, "the model should have norm parameters"
    for name, p in net.named_parameters():
        spared = id(p) in norm_params or name.endswith("bias")
        assert decay_of[id(p)] == (0.0 if spared else 0.05), name
    # a step with zero gradients: only the decoupled decay moves anything
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    for p in net.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()
    for n, p in net.named_parameters():
        if p.dim() >= 2:
            torch.testing.assert_close(p.detach(), before[n] * (1 - 0.1 * 0.05), rtol=0, atol=1e-7)
            assert p.abs().sum() < before[n].abs().sum()
        else:
            assert torch.equal(p.detach(), before[n]), n
    assert type(make_optimizer(net, Stack([REGULARIZERS.get("erm")()]), spec)) is torch.optim.Adam


# ---- architecture overrides -------------------------------------------------------------------------


@pytest.mark.parametrize("name, p", [("dropout", 0.1), ("dropout_0.5", 0.5)])
@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_dropout_sets_p_and_is_random_only_in_training(name, p, model):
    stack = Stack([REGULARIZERS.get(name)()])
    assert stack.model_overrides() == {"dropout": p}
    net = build_model(stack, model, width=16, depth=2)
    drops = [m for m in net.modules() if isinstance(m, nn.modules.dropout._DropoutNd)]
    assert any(type(m) is nn.Dropout for m in drops) and all(m.p == p for m in drops)
    x = load_digits(0).parts["train"].x[:32]
    with torch.random.fork_rng():  # dropout masks come from the global RNG; leave it as it was
        net.train()
        assert not torch.equal(net(x), net(x))
        net.eval()
        assert torch.equal(net(x), net(x))


NORM_TYPES = {  # regularizer → (module in the MLP, module in the CNN, GroupNorm groups or None)
    "batchnorm": (nn.BatchNorm1d, nn.BatchNorm2d, None),
    "layernorm": (nn.LayerNorm, nn.GroupNorm, 1),  # on maps: GroupNorm(1, C) normalizes over (C, H, W)
    "groupnorm": (nn.GroupNorm, nn.GroupNorm, 8),
    "rmsnorm": (nn.RMSNorm, ChannelRMSNorm, None),
}


@pytest.mark.parametrize("name", sorted(NORM_TYPES))
@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_norm_regularizers_build_their_norm_layer(name, model):
    net = build_model(Stack([REGULARIZERS.get(name)()]), model, width=16, depth=2)
    want, groups = NORM_TYPES[name][model == "cnn"], NORM_TYPES[name][2]
    found = [m for m in net.modules() if type(m) is want]
    assert len(found) == 2  # one after each hidden layer
    assert want is not nn.GroupNorm or all(m.num_groups == groups for m in found)
    plain = build_model(Stack([REGULARIZERS.get("erm")()]), model, width=16, depth=2)
    assert not any(type(m) is want for m in plain.modules())


# ---- what the model sees: transforms inside the real training loop ------------------------------------


class BatchProbe(Regularizer):
    """Test-only: keeps the setup context and every (x, y) that reaches the model."""

    def setup(self, ctx):
        self.ctx, self.batches = ctx, []

    def transform(self, x, y, g):
        self.batches.append((x.clone(), y.clone()))
        return x, y


def seen_in_training(splits, members, info=None):
    """Train 1 epoch on 128 digits with ``members`` + a probe; → the probe."""
    probe = BatchProbe()
    data = TrainingData(splits.train.subset(torch.arange(128)), splits.val, info or splits.info)
    fit(data, [*members, probe], epochs=1, batch_size=64, model_args={"width": 8})
    return probe


def test_crop_flip_never_flips_digits(splits):
    # padding 0 makes the crop the identity, so any change would be a flip
    train_images = {bytes(x.numpy()) for x in splits.train.x[:128]}
    probe = seen_in_training(splits, [CropFlip(padding=0)])
    assert probe.ctx.flip_invariant is False and probe.ctx.dataset == "digits"
    assert all(bytes(x.numpy()) in train_images for xb, _ in probe.batches for x in xb)
    # control: the same run on data declared flip-invariant does mirror some digits
    flippable = dataclasses.replace(splits.info, flip_invariant=True)
    probe = seen_in_training(splits, [CropFlip(padding=0)], info=flippable)
    assert any(bytes(x.numpy()) not in train_images for xb, _ in probe.batches for x in xb)


@pytest.mark.parametrize("name", ["mixup", "cutmix", "mixup_cutmix", "modern_recipe"])
def test_mixing_regularizers_train_on_soft_targets(splits, name):
    probe = seen_in_training(splits, [REGULARIZERS.get(name)()])
    y = torch.cat([yb for _, yb in probe.batches])
    torch.testing.assert_close(y.sum(1), torch.ones(len(y)))
    assert (y >= 0).all() and (y.max(1).values < 1 - 1e-6).any()


def test_modern_recipe_is_the_standard_stack():
    recipe = REGULARIZERS.get("modern_recipe")(smoothing=0.2)
    assert isinstance(recipe, Stack) and recipe.kind == "recipe"
    assert [type(m) for m in recipe.members] == [WeightDecay, RandAugment, MixupCutmix, LabelSmoothing]
    assert recipe.members[3].smoothing == 0.2
    assert type(make_optimizer(build_model(recipe), recipe, TrainSpec())) is torch.optim.AdamW
    recipe.setup(SetupContext(10, (1, 8, 8), False, 1, "digits"))
    x = load_digits(0).parts["train"].x[:64]
    _, y = recipe.transform(x, F.one_hot(torch.arange(64) % 10, 10).float(), torch_generator(0, "t"))
    assert (y.max(1).values <= 1 - 0.2 + 0.2 / 10 + 1e-6).all()  # smoothed: no row is one-hot


# ---- stacks: conflicts are caught before training --------------------------------------------------


class LossA(Regularizer):
    def loss(self, logits, y):
        return soft_cross_entropy(logits, y)


class LossB(Regularizer):
    def loss(self, logits, y):
        return 2 * soft_cross_entropy(logits, y)


class RegisteredLoss(LossA):
    """Registered under test names by a fixture (its subclasses, so LossA keeps its own name)."""


class RegisteredLossA(RegisteredLoss):
    pass


class RegisteredLossB(RegisteredLoss):
    pass


class Groups(Regularizer):
    def param_groups(self, model):
        return [{"params": list(model.parameters())}]


@pytest.fixture
def loss_regularizers():
    register_regularizer("test_loss_a")(RegisteredLossA)
    register_regularizer("test_loss_b")(RegisteredLossB)
    yield "test_loss_a", "test_loss_b"
    REGULARIZERS.unregister("test_loss_a")
    REGULARIZERS.unregister("test_loss_b")


def test_conflicting_members_raise_at_construction():
    with pytest.raises(ConflictError, match="defines loss: LossA, LossB"):
        Stack([LossA(), LossB()])
    with pytest.raises(ConflictError, match="defines param_groups"):
        Stack([WeightDecay(), Groups()])
    with pytest.raises(ConflictError, match=r"'dropout_0.5' sets model dropout=0.5 but 'dropout' sets 0.1"):
        Stack([REGULARIZERS.get("dropout")(), REGULARIZERS.get("dropout_0.5")()])
    Stack([REGULARIZERS.get("dropout")(p=0.5), REGULARIZERS.get("dropout_0.5")()])  # same value: fine
    Stack([LossA(), WeightDecay(), LabelSmoothing()])  # different hooks: fine


def test_a_recipe_stacks_with_a_custom_loss():
    """A nested stack (modern_recipe) defines neither loss nor param groups of its own."""
    stacked = Stack([REGULARIZERS.get("modern_recipe")(), LossB()])
    logits, y = torch.randn(4, 10), F.one_hot(torch.arange(4), 10).float()
    assert torch.equal(stacked.loss(logits, y), LossB().loss(logits, y))


@pytest.mark.parametrize("stack", [["test_loss_a", "test_loss_b"], ["dropout", "dropout_0.5"]])
def test_conflicting_stack_fails_plan_with_one_line(loss_regularizers, stack):
    with pytest.raises(ConfigError) as err:
        plan_suite(suite(["erm", {"stack": stack}]))
    msg = str(err.value)
    assert "\n" not in msg and "regularizers[1]" in msg and all(f"{n}" in msg for n in stack)


# ---- determinism ------------------------------------------------------------------------------------


def test_same_seed_same_metrics_different_seed_different():
    runs = plan_suite(suite([["mixup", "dropout"]], seeds=(0, 1), model="cnn")).runs

    def metrics(spec):
        return [(m["split"], m["metric"], m["value"]) for m in run_one(spec).metrics if m["metric"] not in TIMING]

    first = metrics(runs[0])
    assert metrics(runs[0]) == first
    assert metrics(runs[1]) != first
