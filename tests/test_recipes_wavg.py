"""SAM, ASAM, EMA, SWA and SWAD (issue 29): the regularizers that need the training loop.

Each against a hand-computed value: SAM's two-pass update on a tiny linear model (with a
penalty, which must be in the loss at both passes), the EMA, SWA and SWAD averages, SWAD's
window on a scripted validation-loss curve. Each resumes exactly from a checkpoint and runs
through a tiny suite from the CLI, alone and stacked (SAM + mixup, EMA + mixup + l2).
"""

from __future__ import annotations

import json
import sqlite3

import pytest
import torch
from scaling_helpers import metric_rows, statuses
from torch import nn

from regbench.cli import main
from regbench.config import TrainSpec
from regbench.data.base import DatasetInfo, Examples, TrainingData
from regbench.regularizers import REGULARIZERS
from regbench.regularizers.base import Batch, History, Regularizer, SetupContext, soft_cross_entropy
from regbench.regularizers.ema import EMA, ema_decay, run_adjusted_decay
from regbench.regularizers.sam import ASAM, SAM
from regbench.regularizers.stack import ConflictError, Stack
from regbench.regularizers.swa import SWA
from regbench.regularizers.swad import SWAD, loss_valley
from regbench.train.loop import make_scheduler, train
from regbench.train.seed_batch import batch_blocker

NEW = ["sam", "asam", "ema", "swa", "swad"]
CTX = SetupContext(num_classes=3, input_shape=(1, 2, 2), flip_invariant=False, epochs=4)


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py: tiny models, one thread


def tiny_data(n: int = 8) -> TrainingData:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n, 1, 2, 2, generator=g)
    y = torch.arange(n) % 3
    info = DatasetInfo("tiny", 3, (1, 2, 2))
    return TrainingData(Examples(x, y), Examples(x.clone(), y.clone()), info)


def linear_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(4, 3))


class SquaredWeights(Regularizer):
    """λ Σ w² of the model it is given; records the weights it saw at each call."""

    kind = "penalty"

    def __init__(self, lam: float = 0.1):
        self.lam = lam
        self.seen: list[torch.Tensor] = []

    def penalty(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        self.seen.append(model[1].weight.detach().clone())
        return self.lam * sum((w * w).sum() for w in model.parameters())


def objective(params: list[torch.Tensor], x: torch.Tensor, y: torch.Tensor, lam: float) -> torch.Tensor:
    w, b = params
    logits = x.flatten(1) @ w.T + b
    return soft_cross_entropy(logits, torch.eye(3)[y]) + lam * ((w * w).sum() + (b * b).sum())


@pytest.mark.parametrize("lam", [0.0, 0.1])
def test_sam_step_matches_a_hand_computed_two_pass_update(lam):
    data, model = tiny_data(), linear_model()
    w0 = [p.detach().clone() for p in model.parameters()]
    spy = SquaredWeights(lam)
    stack = Stack([SAM(rho=0.05), spy] if lam else [SAM(rho=0.05)])
    spec = TrainSpec(epochs=1, batch_size=8, lr=0.1, optimizer="sgd", momentum=0.0, schedule="constant")
    train(model, data, stack, spec, seed=0)
    # by hand: g at w, e = ρ g / ‖g‖, g' at w + e (penalty included), w ← w − lr g'
    x, y = data.train.x, data.train.y
    p = [t.clone().requires_grad_(True) for t in w0]
    g = torch.autograd.grad(objective(p, x, y, lam), p)
    norm = torch.sqrt(sum((t * t).sum() for t in g))
    pe = [(t + 0.05 * d / norm).detach().requires_grad_(True) for t, d in zip(w0, g, strict=True)]
    g2 = torch.autograd.grad(objective(pe, x, y, lam), pe)
    expected = [t - 0.1 * d for t, d in zip(w0, g2, strict=True)]
    for got, want in zip(model.parameters(), expected, strict=True):
        torch.testing.assert_close(got.detach(), want, rtol=1e-5, atol=1e-6)
    if lam:  # the penalty was evaluated at w, then at w + e
        assert len(spy.seen) == 2
        torch.testing.assert_close(spy.seen[0], w0[0])
        torch.testing.assert_close(spy.seen[1], pe[0].detach())


def test_asam_perturbation_is_scaled_by_the_weights():
    model = linear_model()
    for q in model.parameters():
        q.grad = torch.ones_like(q)
    asam = ASAM(rho=2.0, eta=0.01)
    asam.setup(CTX)
    w, b = (q.detach().clone() for q in model.parameters())
    asam.first_step(model, torch.tensor(1.0))
    t = w.abs() + 0.01  # biases keep T = 1 (the paper)
    norm = torch.sqrt((t * t).sum() + b.numel())
    torch.testing.assert_close(model[1].weight.detach(), w + 2.0 * t * t / norm)
    torch.testing.assert_close(model[1].bias.detach(), b + 2.0 / norm)
    asam.second_step(model, torch.tensor(1.5))
    assert torch.equal(model[1].weight.detach(), w) and torch.equal(model[1].bias.detach(), b)
    assert asam.finish(model, History()) == {"sharpness": pytest.approx(0.5)}


def test_sam_leaves_batchnorm_statistics_alone_at_the_perturbed_pass():
    model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4))
    for q in model.parameters():
        q.grad = torch.ones_like(q)
    sam = SAM()
    sam.setup(CTX)
    sam.first_step(model, torch.tensor(0.0))
    before = model[1].running_mean.clone()
    model.train()(torch.randn(8, 4))
    assert torch.equal(model[1].running_mean, before)
    sam.second_step(model, torch.tensor(0.0))
    assert model[1].momentum == 0.1


def set_weights(model: nn.Module, value: float) -> None:
    with torch.no_grad():
        for q in model.parameters():
            q.fill_(value)


def test_ema_average_matches_a_hand_computed_one():
    model = linear_model()
    ema = EMA(decay=0.5, warmup=True)
    ema.setup(CTX)
    expected = None
    for k, v in enumerate([1.0, 2.0, 4.0, 8.0], start=1):
        set_weights(model, v)
        ema.after_step(model)
        d = ema_decay(k, 0.5, True)
        expected = v if expected is None else d * expected + (1 - d) * v
    assert ema_decay(1, 0.5, True) == 0.0 and ema_decay(2, 0.5, True) == pytest.approx(1 - 2 ** (-2 / 3))
    assert ema_decay(50, 0.5, True) == 0.5 and ema_decay(3, 0.9998, False) == 0.9998
    state = ema.averaged_state(model)
    torch.testing.assert_close(state["1.weight"], torch.full((3, 4), expected))


def history_of(losses: list[float]) -> History:
    return History(val_loss=list(losses))


def test_swa_averages_the_last_quarter_and_holds_its_rate():
    model = linear_model()
    swa = SWA(start=0.5, lr=0.5)  # 4 epochs: epochs 3 and 4 are averaged
    swa.setup(CTX)
    for epoch, v in enumerate([1.0, 2.0, 3.0, 7.0], start=1):
        set_weights(model, v)
        swa.after_epoch(model, history_of([0.0] * epoch))
    state = swa.averaged_state(model)
    torch.testing.assert_close(state["1.weight"], torch.full((3, 4), 5.0))
    shaped = swa.lr_schedule(lambda s: 1.0 - s / 100, steps_per_epoch=10)
    assert shaped(19) == pytest.approx(0.81) and shaped(20) == 0.5 and shaped(39) == 0.5


def test_swa_reshapes_a_constant_schedule_and_plain_stacks_keep_none():
    opt = torch.optim.SGD(linear_model().parameters(), lr=1.0)
    spec = TrainSpec(epochs=4, batch_size=8, lr=1.0, schedule="constant")
    assert make_scheduler(opt, spec, 10, Stack([REGULARIZERS.get("ema")()])) is None
    swa = Stack([SWA(lr=0.25)])
    swa.setup(CTX)
    sched = make_scheduler(opt, spec, 10, swa)
    assert sched is not None and sched.lr_lambdas[0](29) == 1.0 and sched.lr_lambdas[0](30) == 0.25


def test_swad_window_on_a_scripted_validation_curve():
    curve = [1.0, 0.9, 0.8, 0.85, 0.82, 0.9, 1.5, 1.6, 1.7]
    valley = loss_valley(curve, n_converge=3, n_tolerance=2, ratio=0.3, final=False)
    # starts at 0.8 (the minimum of itself and the next two); threshold 1.3 × mean(.8, .85, .82)
    assert valley.start == 2 and valley.threshold == pytest.approx(1.3 * (0.8 + 0.85 + 0.82) / 3)
    assert valley.end == 5 and valley.dead  # 1.5 and 1.6 both exceed 1.0703: the valley is dead
    falling = [1.0, 0.9, 0.8, 0.7]
    assert loss_valley(falling, 3, 6, 0.3, final=True).start is None  # still improving: no window
    # undecided until the look-ahead is complete, decided on what exists at the end
    early = [1.0, 0.9, 0.8, 0.85, 0.82]
    assert loss_valley(early, 3, 6, 0.3, final=False).end == 1
    assert loss_valley(early, 3, 6, 0.3, final=True).end == 4


def test_swad_average_matches_a_hand_computed_one_and_stops_on_a_dead_valley():
    model = linear_model()
    swad = SWAD(n_converge=3, n_tolerance=2, tolerance_ratio=0.3)
    swad.setup(CTX)
    curve = [1.0, 0.9, 0.8, 0.85, 0.82, 0.9, 1.5, 1.6, 1.7]
    segments = []
    for epoch in range(1, len(curve) + 1):
        steps = [float(epoch), float(epoch) + 0.5]  # two steps per epoch
        for v in steps:
            set_weights(model, v)
            swad.after_step(model)
        segments.append(sum(steps) / 2)
        swad.after_epoch(model, history_of(curve[:epoch]))
        if swad.should_stop(history_of(curve[:epoch])):
            break
    assert epoch == 8  # dead once segment 7's look-ahead (1.5, 1.6) is complete
    state = swad.averaged_state(model)
    expected = sum(segments[2:6]) / 4  # epochs 3 … 6
    torch.testing.assert_close(state["1.weight"], torch.full((3, 4), expected))
    assert swad.finish(model, History()) == {"swad_start_epoch": 3.0, "swad_end_epoch": 6.0}
    assert len(swad._pending) <= 3  # bounded memory


def test_swad_without_convergence_returns_the_last_segment():
    model = linear_model()
    swad = SWAD()
    swad.setup(CTX)
    for epoch in (1, 2, 3):
        set_weights(model, float(epoch))
        swad.after_step(model)
        swad.after_epoch(model, history_of([1.0, 0.9, 0.8][:epoch]))
    torch.testing.assert_close(swad.averaged_state(model)["1.weight"], torch.full((3, 4), 3.0))
    assert swad.finish(model, History()) == {"swad_start_epoch": 0.0, "swad_end_epoch": 0.0}


def test_two_averages_or_two_perturbations_conflict_and_seed_batching_refuses_them():
    with pytest.raises(ConflictError, match="averaged_state"):
        Stack([EMA(), SWA()])
    with pytest.raises(ConflictError, match="first_step"):
        Stack([SAM(), ASAM()])
    data = tiny_data()
    for name in NEW:
        why = batch_blocker(linear_model(), data, Stack([REGULARIZERS.get(name)()]))
        assert why is not None and "batchable = False" in why


def test_averaged_weights_are_evaluated_with_batchnorm_updated():
    data = tiny_data(32)
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))
    spec = TrainSpec(epochs=4, batch_size=8, lr=0.05)
    result = train(model, data, Stack([SWA(start=0.5)]), spec, seed=0)
    extra = result.extra
    assert extra["swa_epochs_averaged"] == 2.0
    assert extra["final_val_loss"] == pytest.approx(result.history.val_loss[-1])
    assert 0 < extra["averaged_distance"] < 1
    # the model left behind is the averaged one, its statistics those of the training inputs
    model.eval()
    with torch.no_grad():
        hidden = model[1](data.train.x.flatten(1))
    torch.testing.assert_close(model[2].running_mean, hidden.mean(0), rtol=1e-4, atol=1e-5)


def _suite(tmp_path, regularizers, epochs: int = 4, model_args=None):
    import yaml

    suite = {
        "name": "wavg-tiny",
        "seeds": [0],
        "train": {"epochs": epochs, "batch_size": 64, "lr": 3e-3},
        "benchmarks": [
            {
                "name": "digits-small",
                "dataset": "digits",
                "dataset_args": {"test_fraction": 0.6},
                "model": "mlp",
                "model_args": model_args or {"width": 16, "depth": 1},
                "shift": {"kind": "covariate", "corruptions": ["gaussian_noise"], "severities": [3]},
            }
        ],
        "regularizers": regularizers,
    }
    path = tmp_path / "wavg-tiny.yaml"
    path.write_text(yaml.safe_dump(suite))
    return path


def test_each_runs_through_a_tiny_suite_from_the_cli_alone_and_stacked(tmp_path):
    regs = [
        *NEW,
        {"stack": ["sam", "mixup"], "label": "sam+mixup"},
        {"stack": ["ema", "mixup", "l2"], "label": "ema+mixup+l2"},
        {"stack": ["swad", "batchnorm"], "label": "swad+bn"},
    ]
    store = tmp_path / "s.sqlite"
    assert main(["run", str(_suite(tmp_path, regs)), "--store", str(store), "--workers", "1", "--no-progress"]) == 0
    with sqlite3.connect(store) as db:
        kinds = dict(db.execute("SELECT regularizer, regularizer_kind FROM runs"))
        run_metrics = {
            (r, m)
            for r, m in db.execute(
                "SELECT runs.regularizer, metrics.metric FROM metrics JOIN runs USING (run_key) WHERE split = 'run'"
            )
        }
    assert set(statuses(store).values()) == {"ok"}
    assert kinds["sam"] == kinds["asam"] == "sharpness" and kinds["ema"] == kinds["swad"] == "averaging"
    for reg in ("sam", "asam", "sam+mixup"):
        assert (reg, "sharpness") in run_metrics
    for reg in ("ema", "swa", "swad", "ema+mixup+l2", "swad+bn"):
        assert {(reg, "averaged_distance"), (reg, "averaged_val_loss"), (reg, "final_val_loss")} <= run_metrics


@pytest.mark.parametrize("name", NEW)
def test_each_resumes_exactly_after_a_crash(name, tmp_path, monkeypatch):
    from regbench.train.checkpoint import CRASH_ENV

    stack = {"stack": [name, "batchnorm"], "label": f"{name}+bn"} if name in ("swa", "swad") else name
    suite = _suite(tmp_path, [stack])
    base = ["run", str(suite), "--workers", "1", "--no-progress", "--deterministic"]
    ref = tmp_path / "ref.sqlite"
    assert main([*base, "--store", str(ref)]) == 0
    store, ckpt = tmp_path / "s.sqlite", ["--checkpoint-every", "1"]
    monkeypatch.setenv(CRASH_ENV, f"2:{tmp_path / 'crashed'}:raise")
    assert main([*base, "--store", str(store), *ckpt]) == 1
    assert main([*base, "--store", str(store), *ckpt]) == 0
    assert set(statuses(store).values()) == {"ok"}
    with sqlite3.connect(store) as db:
        (timings,) = db.execute("SELECT timings FROM runs").fetchone()
    assert json.loads(timings)["resumed_from_epoch"] == 2  # resumed, not retrained from scratch
    assert metric_rows(store) == metric_rows(ref)


def test_run_adjusted_decay_is_torchvisions_adjustment_with_the_dataset_size_restored():
    # torchvision's ImageNet recipe: 8 GPUs x 128, model_ema_steps 32, 600 epochs, decay 0.99998:
    # α = (1 − 0.99998) · 8 · 128 · 32 / 600 = 0.0010923; its run has 1,281,167 · 600 / (1024 · 32) updates
    updates = 1_281_167 * 600 / (1024 * 32)
    assert 1 - run_adjusted_decay(0.99998, 1_281_167, round(updates)) == pytest.approx(2e-5 * 1024 * 32 / 600, rel=1e-4)
    # 330 steps (30 epochs of 11): α = 2e-5 · 1,281,167 / 330 = 0.0776465
    assert run_adjusted_decay(0.99998, 1_281_167, 330) == pytest.approx(1 - 0.0776465, abs=1e-6)
    assert run_adjusted_decay(0.5, 100, 10) == 0.0  # α capped at 1: the average is the weights


def test_ema_with_adjust_reference_copies_the_first_epoch_then_uses_the_adjusted_decay():
    model = linear_model()
    ema = EMA(decay=0.5, warmup=False, adjust_reference=2)
    ema.setup(CTX)  # 4 epochs of 2 steps: 8 updates, α = min(1, 0.5 · 2 / 8) = 0.125
    for v in (1.0, 2.0):  # epoch 1: copies
        set_weights(model, v)
        ema.after_step(model)
    ema.after_epoch(model, history_of([0.0]))
    torch.testing.assert_close(ema.averaged_state(model)["1.weight"], torch.full((3, 4), 2.0))
    for v in (4.0, 8.0):  # 0.875 · 2 + 0.125 · 4 = 2.25, then 0.875 · 2.25 + 0.125 · 8 = 2.96875
        set_weights(model, v)
        ema.after_step(model)
    ema.after_epoch(model, history_of([0.0, 0.0]))
    torch.testing.assert_close(ema.averaged_state(model)["1.weight"], torch.full((3, 4), 2.96875))
    # without it the first epoch is averaged at once, as before
    plain = EMA(decay=0.5, warmup=False)
    plain.setup(CTX)
    for v in (1.0, 2.0):
        set_weights(model, v)
        plain.after_step(model)
    torch.testing.assert_close(plain.averaged_state(model)["1.weight"], torch.full((3, 4), 1.5))
