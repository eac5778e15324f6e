"""Every regularizer that applies to seq2seq, on SCAN through train() and evaluate(), and the
change each one claims to make on a sequence model (issue 7 part 4)."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F

from regbench.catalog import registries
from regbench.config import TrainSpec
from regbench.data.scan import PAD, UNK, load_scan
from regbench.models import build_model
from regbench.regularizers.base import KINDS, SetupContext
from regbench.regularizers.stack import HookError, Stack
from regbench.seeding import seeded_global_rng
from regbench.shifts.ood_test import OODTest
from regbench.tasks import evaluate
from regbench.tasks.seq2seq import Seq2Seq
from regbench.train.loop import make_optimizer, train

REGULARIZERS = registries()["regularizers"]
SEQ = [n for n in REGULARIZERS.names() if "seq2seq" in Stack([REGULARIZERS.get(n)()]).tasks]
MODEL = {"width": 16, "depth": 1, "heads": 2}


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def splits():
    """addprim_jump with 96 training commands and small val / test splits (seconds per run)."""
    full = OODTest({"id_fraction": 0.25}).apply(load_scan(0, "addprim_jump", max_train=128), 0)
    head = lambda ex, n: ex.subset(torch.arange(min(n, len(ex))))
    return dataclasses.replace(full, val=head(full.val, 64), ood={k: head(v, 64) for k, v in full.ood.items()})


def stack_of(name: str, **params) -> Stack:
    return Stack([REGULARIZERS.get(name)(**params)])


def fit(splits, stack: Stack, epochs: int = 1):
    with seeded_global_rng(0, "init"):
        model = build_model("seq2seq", splits.info, **{**MODEL, **stack.model_overrides()})
    result = train(model, splits.training_data(), stack, TrainSpec(epochs=epochs, batch_size=32, lr=3e-3), 0)
    return model, result


def test_the_sequence_regularizers_are_registered():
    assert {
        "weight_tying",
        "token_dropout",
        "word_swap",
        "word_deletion",
        "pre_norm",
        "post_norm",
        "label_smoothing",
        "dropout",
        "weight_decay",
        "grad_clip",
        "erm",
    } <= set(SEQ)
    assert not {"mixup", "cutmix", "crop_flip", "randaugment", "modern_recipe", "batchnorm"} & set(SEQ)


EDITS = ("word_swap", "word_deletion")  # refuse SCAN: its target is a function of the command


@pytest.mark.parametrize("name", [n for n in SEQ if n not in EDITS])
def test_every_sequence_regularizer_trains_and_evaluates(splits, name):
    stack = stack_of(name)
    model, result = fit(splits, stack)
    assert stack.kind in KINDS and (stack.kind == "none") == (name == "erm")
    if name in ("weight_tying", "token_dropout", "word_swap", "word_deletion", "pre_norm", "post_norm"):
        assert stack.kind == "sequence"
    ev = evaluate(model, splits, 0, torch.device("cpu"))
    rows = {(r["split"], r["metric"]): r["value"] for r in ev.rows}
    assert all(math.isfinite(v) for v in rows.values())
    assert {("test_id", "accuracy"), ("ood/addprim_jump", "token_accuracy"), ("run", "mia_auc")} <= set(rows)
    assert len(result.history.val_loss) == 1 and math.isfinite(result.history.val_loss[0])


def _batch(splits):
    x, y = splits.train.x[:32], splits.train.y[:32]
    return x, y


def _setup(stack: Stack, splits, **details) -> Stack:
    stack.setup(
        SetupContext(
            splits.info.num_classes,
            splits.info.input_shape,
            False,
            1,
            "scan",
            "cpu",
            "seq2seq",
            {**splits.info.details, **details},
        )
    )
    return stack


@pytest.mark.parametrize("name", EDITS)
def test_command_edits_refuse_scan_whose_target_follows_the_command(splits, name):
    assert splits.info.details["target_is_function_of_source"]
    with pytest.raises(HookError, match="target is a function of the command"):
        fit(splits, stack_of(name))
    _setup(stack_of("token_dropout"), splits)  # UNK turns no command into another: allowed


def test_token_dropout_writes_unk_on_command_words_only(splits):
    x, y = _batch(splits)
    xo, yo = _setup(stack_of("token_dropout", p=0.5), splits).transform(x, y, torch.Generator().manual_seed(0))
    changed = xo != x
    assert changed.any() and (xo[changed] == UNK).all() and not (x[changed] == PAD).any()
    assert torch.equal(yo, y)


def test_word_swap_permutes_words_within_each_command(splits):
    x, y = _batch(splits)
    xo, yo = _setup(stack_of("word_swap", n=2), splits, target_is_function_of_source=False).transform(
        x, y, torch.Generator().manual_seed(0)
    )
    assert not torch.equal(xo, x) and torch.equal(yo, y)
    assert torch.equal(xo.sort(1).values, x.sort(1).values) and torch.equal(xo == PAD, x == PAD)


def test_word_deletion_shortens_commands_but_never_empties_them(splits):
    x, y = _batch(splits)
    xo, yo = _setup(stack_of("word_deletion", p=0.5), splits, target_is_function_of_source=False).transform(
        x, y, torch.Generator().manual_seed(0)
    )
    before, after = (x != PAD).sum(1), (xo != PAD).sum(1)
    assert (after <= before).all() and (after < before).any() and (after >= 1).all() and torch.equal(yo, y)


def test_label_smoothing_reaches_the_token_loss(splits):
    x, y = _batch(splits)
    task = Seq2Seq(PAD)
    with seeded_global_rng(0, "init"):
        model = build_model("seq2seq", splits.info, **MODEL)
    eps = 0.2
    smooth = _setup(stack_of("label_smoothing", smoothing=eps), splits)
    xs, ys = smooth.transform(x, y, torch.Generator())
    assert torch.equal(ys, y)  # token ids stay ids: the smoothing happens in the loss
    logits = task.forward(model, xs, ys)
    labels = task.labels(logits, y)
    keep = labels != PAD
    soft = F.one_hot(labels[keep], logits.shape[-1]).float() * (1 - eps) + eps / logits.shape[-1]
    manual = -(soft * torch.log_softmax(logits[keep], -1)).sum(-1).mean()
    assert torch.allclose(task.loss(logits, ys, smooth), manual, atol=1e-6)
    assert not torch.allclose(task.loss(logits, ys, stack_of("erm")), manual)
    # two smoothings compose as their target transforms would
    both = Stack([REGULARIZERS.get("label_smoothing")(0.1), REGULARIZERS.get("label_smoothing")(0.2)])
    assert both.target_smoothing() == pytest.approx(1 - 0.9 * 0.8)


def test_architecture_overrides_reach_the_model(splits):
    build = lambda name: build_model("seq2seq", splits.info, **{**MODEL, **stack_of(name).model_overrides()})
    plain, tied, post, pre, drop = (build(n) for n in ("erm", "weight_tying", "post_norm", "pre_norm", "dropout"))
    assert tied.head.weight is tied.tgt_embed.weight and plain.head.weight is not plain.tgt_embed.weight
    assert not post.encoder[0].norm_first and isinstance(post.enc_norm, torch.nn.Identity)
    assert pre.encoder[0].norm_first and plain.encoder[0].norm_first  # pre-norm is the default
    assert drop.drop.p == 0.1 and plain.drop.p == 0.0


def test_weight_tying_reports_the_parameters_it_saved(splits):
    stack = stack_of("weight_tying")
    model, result = fit(splits, stack)
    assert result.extra["tied_params_saved"] == splits.info.num_classes * MODEL["width"]
    assert model.head.weight is model.tgt_embed.weight  # still one tensor after training


def test_weight_decay_decays_the_sequence_model_with_adamw(splits):
    stack = stack_of("weight_decay", weight_decay=0.1)
    with seeded_global_rng(0, "init"):
        model = build_model("seq2seq", splits.info, **MODEL)
    opt = make_optimizer(model, stack, TrainSpec())
    assert isinstance(opt, torch.optim.AdamW)
    decayed = {id(p) for g in opt.param_groups if g["weight_decay"] == 0.1 for p in g["params"]}
    assert id(model.src_embed.weight) in decayed and id(model.head.weight) in decayed
    assert all(id(p) not in decayed for p in model.parameters() if p.dim() < 2)


def test_grad_clip_bounds_the_gradient_of_the_token_loss(splits):
    x, y = _batch(splits)
    task, stack = Seq2Seq(PAD), stack_of("grad_clip", max_norm=0.05)
    with seeded_global_rng(0, "init"):
        model = build_model("seq2seq", splits.info, **MODEL)
    task.loss(task.forward(model, x, y), y, stack).backward()
    norm = lambda: math.sqrt(sum(float((p.grad**2).sum()) for p in model.parameters()))
    assert norm() > 0.05
    stack.after_backward(model)
    assert norm() <= 0.05 + 1e-6
