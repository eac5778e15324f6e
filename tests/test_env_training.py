"""Training with environments: balanced batches, the load-time refusal, exact resume from checkpoints."""

from __future__ import annotations

import pytest
import torch
import yaml
from scaling_helpers import metric_rows, statuses
from torch import nn

from regbench.cli import main
from regbench.config import ConfigError, TrainSpec, parse_suite
from regbench.data.base import DatasetInfo, Examples, TrainingData
from regbench.harness.plan import plan_suite
from regbench.models import build_model
from regbench.regularizers.base import Batch, Regularizer
from regbench.regularizers.stack import Stack
from regbench.train.batches import EnvBalancedBatches, ShuffledBatches
from regbench.train.checkpoint import CRASH_ENV
from regbench.train.loop import train


def test_balanced_batches_hold_an_equal_share_of_every_environment():
    env = torch.tensor([0] * 30 + [1] * 30 + [2] * 30)
    order = EnvBalancedBatches(env, batch_size=12)
    g = torch.Generator().manual_seed(0)
    steps = order.epoch(g)
    assert len(steps) == len(order) == 8  # as many steps as shuffled batches of 12 over 90
    for idx in steps:
        assert torch.bincount(env[idx], minlength=3).tolist() == [4, 4, 4]
    # 8 steps × 4 = 32 draws per env of 30: every example once, then two from a fresh shuffle
    for e in range(3):
        drawn = torch.cat(steps)[env[torch.cat(steps)] == e]
        assert len(torch.unique(drawn[:30])) == 30
    # the order is a function of the generator's state alone (what a checkpoint saves)
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    assert all(torch.equal(a, b) for a, b in zip(order.epoch(g1), order.epoch(g2)))
    assert not all(torch.equal(a, b) for a, b in zip(order.epoch(g1), order.epoch(torch.Generator().manual_seed(6))))


def test_a_full_batch_holds_every_example_once_laid_out_by_environment():
    """The paper's full-batch protocol on environments of unequal sizes: nothing dropped, nothing mixed."""
    env = torch.tensor([1, 0, 1, 1, 0, 2, 1, 2, 1])  # sizes 2, 5, 2
    order = EnvBalancedBatches(env, batch_size=4096)
    (step,) = order.epoch(torch.Generator().manual_seed(0))
    assert order.counts == (2, 5, 2) and len(order) == 1
    assert sorted(step.tolist()) == list(range(9))  # each example exactly once
    assert env[step].tolist() == [0, 0, 1, 1, 1, 1, 1, 2, 2]  # contiguous, env 0's rows first
    # equal environments keep the equal shares (and the draws) of a balanced step
    equal = EnvBalancedBatches(torch.tensor([0, 1] * 5), batch_size=4096)
    assert equal.counts == (5, 5)
    # a minibatch is balanced: every step's counts are the equal shares
    small = EnvBalancedBatches(env, batch_size=6)
    assert small.counts == (2, 2, 2)
    for idx in small.epoch(torch.Generator().manual_seed(0)):
        assert env[idx].tolist() == [0, 0, 1, 1, 2, 2]


def test_shuffled_batches_are_todays_permutation_slices():
    order = ShuffledBatches(11, 5)  # the last batch of one is folded into the previous one
    steps = order.epoch(torch.Generator().manual_seed(1))
    perm = torch.randperm(11, generator=torch.Generator().manual_seed(1))
    assert [s.tolist() for s in steps] == [perm[:5].tolist(), perm[5:].tolist()]


def test_balanced_batches_refuse_a_single_environment():
    with pytest.raises(ValueError, match="at least 2 environments"):
        EnvBalancedBatches(torch.zeros(10, dtype=torch.int64), 4)


class EnvProbe(Regularizer):
    """Records what every step's Batch carries (a test double reading Batch.env)."""

    needs_envs = True

    def __init__(self):
        self.seen: list[tuple[list[int], bool]] = []

    def penalty(self, model: nn.Module, batch: Batch):
        counts = torch.bincount(batch.env).tolist()
        if self.needs_envs:  # the trainer's layout: contiguous rows, env 0's first, counts on the CPU
            assert list(batch.env_counts) == counts and batch.env.tolist() == sorted(batch.env.tolist())
        else:
            assert batch.env_counts == ()
        self.seen.append((counts, batch.group is not None))
        return 0.0


class EnvBlindProbe(EnvProbe):
    needs_envs = False


def test_trainer_draws_balanced_batches_for_a_stack_that_needs_environments():
    g = torch.Generator().manual_seed(0)
    env = torch.tensor([0] * 60 + [1] * 20)  # unbalanced on purpose
    ex = Examples(
        torch.rand(80, 1, 4, 4, generator=g), torch.randint(0, 2, (80,), generator=g), {"env": env, "group": env}
    )
    info = DatasetInfo("tiny", 2, (1, 4, 4))
    probe = EnvProbe()
    model = build_model("mlp", info, width=8, depth=1)
    result = train(model, TrainingData(ex, ex, info), Stack([probe]), TrainSpec(epochs=2, batch_size=16), seed=0)
    assert len(probe.seen) == 2 * 5 and all(counts == [8, 8] and has_group for counts, has_group in probe.seen)
    assert result.samples_seen == 2 * 5 * 16
    # without a needs-envs member the same data trains with today's shuffled batches
    probe2 = EnvBlindProbe()
    model2 = build_model("mlp", info, width=8, depth=1)
    train(model2, TrainingData(ex, ex, info), Stack([probe2]), TrainSpec(epochs=1, batch_size=16), seed=0)
    assert any(counts != [8, 8] for counts, _ in probe2.seen)


def suite_dict(shift: dict, regularizers: list, epochs: int = 4) -> dict:
    return {
        "name": "envs",
        "seeds": [0],
        "train": {"epochs": epochs, "batch_size": 64, "lr": 3e-3},
        "benchmarks": [
            {"name": "cm", "dataset": "digits", "model": "mlp", "model_args": {"width": 16}, "shift": shift}
        ],
        "regularizers": regularizers,
    }


def test_needs_envs_regularizer_on_a_benchmark_without_environments_stops_the_suite_at_load():
    suite = suite_dict({"kind": "none"}, ["erm", "irm", {"stack": ["mixup", "coral"], "label": "mix+coral"}])
    with pytest.raises(ConfigError) as err:
        plan_suite(parse_suite(suite), "envs.yaml")
    lines = str(err.value).splitlines()
    assert len(lines) == 2  # one per offending pair; erm is fine
    assert "'irm' cannot run on benchmarks[0] 'cm'" in lines[0] and "has 1" in lines[0]
    assert "'mix+coral'" in lines[1] and "coral needs training environments" in lines[1]
    # the same regularizers on a benchmark with two training environments load
    ok = suite_dict({"kind": "colored_mnist"}, ["erm", "irm", {"stack": ["mixup", "coral"], "label": "mix+coral"}])
    assert len(plan_suite(parse_suite(ok), "envs.yaml").runs) == 3


def test_cli_prints_the_refusal_as_one_line_per_pair(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(suite_dict({"kind": "none"}, ["vrex"])))
    assert main(["validate", str(path)]) == 1
    assert "'vrex' cannot run on benchmarks[0] 'cm'" in capsys.readouterr().err


def test_environment_batches_resume_exactly_from_an_in_run_checkpoint(tmp_path, monkeypatch):
    # group_dro carries state (its group weights); irm switches its weight on and resets Adam
    # at step 5, after the resume point (epoch 2 = 2 × 16 steps would be too late: use 40)
    regs = ["group_dro", {"stack": [{"name": "irm", "lam": 50.0, "anneal_iters": 40}], "label": "irm"}]
    path = tmp_path / "envs.yaml"
    path.write_text(yaml.safe_dump(suite_dict({"kind": "colored_mnist"}, regs)))
    base = ["run", str(path), "--workers", "1", "--no-progress", "--deterministic"]
    ref = tmp_path / "ref.sqlite"
    assert main([*base, "--store", str(ref)]) == 0
    store = tmp_path / "s.sqlite"
    args = [*base, "--store", str(store), "--checkpoint-every", "1"]
    monkeypatch.setenv(CRASH_ENV, f"2:{tmp_path / 'crashed'}:raise")
    assert main(args) == 1  # a run failed: the exit status says so
    assert sorted(statuses(store).values()) == ["failed", "ok"]  # the first run crashed after epoch 2
    assert main(args) == 0
    assert set(statuses(store).values()) == {"ok"}
    assert metric_rows(store) == metric_rows(ref)
