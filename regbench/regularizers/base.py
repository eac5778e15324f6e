"""The regularizer contract: one small object with optional hooks; the trainer owns the loop.

A regularizer changes one or more of: the model's construction, the optimizer's parameter
groups, the batch, the targets, the loss, the gradient, the stopping rule. Every hook has a
no-op default, and a config is a *stack* of regularizers applied in a fixed order
(:class:`regbench.regularizers.stack.Stack`). Regularizers never call ``optimizer.step()``
or ``backward()`` — that is what makes two of them stackable (docs/architecture.md, Conventions: Hooks, the anti-example
being DomainBed algorithms that each own their update).

Hook order in one training step (``B`` = batch size, ``K`` = classes)::

    x (B, C, H, W), y (B,) int64 ─► y = one_hot(y) (B, K) float
    for r in stack: x, y = r.transform(x, y, g)         # augmentation, mixup, label smoothing
    logits = model(x)                                    # (B, K)
    loss = stack.loss(logits, y)  (default: soft-target cross-entropy, mean over B)
         + Σ r.penalty(model, batch)                     # L1/L2, logit penalties, …
    loss.backward()
    [two-pass stacks only: r.first_step(model, loss)   # SAM: w → w + e, from the gradient at w
     recompute logits and loss + Σ penalty at w + e; loss.backward()
     r.second_step(model, loss)]                       # w + e → w, keeping the gradient at w + e
    for r in stack: r.after_backward(model)            # clipping: the final gradient
    optimizer.step(); scheduler.step()
    for r in stack: r.after_step(model)                # running weight averages
    once per epoch: r.after_epoch(model, history); stop if any r.should_stop(history)
    at the end:     averaged_state → evaluated weights    # EMA, SWA, SWAD (train/averaging.py)
                    r.finish(model, history)              # e.g. restore best weights

``__init__`` only stores parameters (scikit-learn's rule): the typed signature is the
parameter schema, validated before any training starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Callable
from typing import Any, ClassVar

import torch
from torch import nn

from regbench.data.base import MODALITIES

KINDS = (
    "none",
    "penalty",
    "optimizer",
    "architecture",
    "augmentation",
    "loss",
    "gradient",
    "stopping",
    "recipe",
    "sequence",
    "sharpness",  # SAM, ASAM: a second forward/backward at perturbed weights
    "averaging",  # EMA, SWA, SWAD: the evaluated model is a running average of the weights
)
# What a model predicts (``DatasetInfo.task``; regbench.tasks implements each):
# "classification": y (B,) labels → (B, K) soft targets; "seq2seq": y (B, T) token ids.
TASKS = ("classification", "seq2seq")


@dataclass
class SetupContext:
    """What a regularizer may know before training: the data's description, never the data."""

    num_classes: int
    input_shape: tuple[int, ...]
    flip_invariant: bool
    epochs: int
    dataset: str = ""
    device: str = "cpu"
    task: str = "classification"  # one of TASKS
    details: dict[str, Any] = field(default_factory=dict)  # DatasetInfo.details (e.g. pad_id, unk_id)


@dataclass
class Batch:
    """One training batch as the hooks see it.

    x: (B, C, H, W) inputs after transforms; y: (B, K) soft targets after transforms;
    logits: (B, K) model outputs (set before ``penalty`` is called);
    env: (B,) int64 training environment of each example, None when the benchmark has none
    (with ``needs_envs`` the batch holds an equal share of every environment);
    group: (B,) int64 group (e.g. label × colour) where the benchmark defines groups, else None.
    """

    x: torch.Tensor
    y: torch.Tensor
    logits: torch.Tensor | None = None
    env: torch.Tensor | None = None
    group: torch.Tensor | None = None
    # the training environments' ids, known before training (the trainer's balanced sampler):
    # splitting a batch by them needs no torch.unique, which would sync a GPU every step
    env_ids: tuple[int, ...] = ()
    # the layout of an environment-balanced batch: rows are contiguous by environment, the
    # first env_counts[0] of env_ids[0], and so on; () when unknown. With it a penalty splits
    # the batch by reshape or slices (regularizers/env_risks.py), with no boolean mask: x[env == e]
    # is a nonzero, whose data-dependent shape syncs a GPU every step
    env_counts: tuple[int, ...] = ()
    # (B, D) the classifier's input in the training forward (``model.features(x)``), with its
    # graph, where the trainer could tap it (None otherwise): a penalty on features reads
    # them here instead of a second pass, which would update BatchNorm statistics twice
    features: torch.Tensor | None = None


@dataclass
class History:
    """Learning curves so far, one entry per finished epoch."""

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)

    @property
    def epoch(self) -> int:
        return len(self.val_loss)


class Regularizer:
    """Base class of every regularizer. Override only the hooks you need.

    Class attributes: ``kind`` (one of ``KINDS``, shown in the leaderboard) and
    ``decoupled_weight_decay`` (True asks the trainer for AdamW instead of Adam) and
    ``needs_input_grad`` (True makes the trainer call ``x.requires_grad_(True)`` on the
    transformed batch, so ``penalty`` can differentiate with respect to ``batch.x``) and
    ``needs_envs`` (True: the penalty reads ``Batch.env``, so the trainer draws
    environment-balanced batches, and a suite pairing it with a benchmark of fewer than two
    training environments fails when it loads) and
    ``tasks`` (the tasks of ``TASKS`` it applies to; a suite pairing it with a dataset of
    another task fails when it loads). The default is classification only, because hooks
    written for images and (B, K) soft targets would silently misbehave on token ids.

    On a ``seq2seq`` task the hooks see x (B, L) int64 source ids and y (B, T) int64 target
    ids (BOS … EOS then PAD) instead of images and soft targets; ``transform`` must return
    ids, and ``loss`` gets logits (B, T', V) and the (B, T') next-token ids they predict.

    ``modalities`` (of ``regbench.data.base.MODALITIES``) are the inputs it applies to; the
    default is all of them. A regularizer that reads x as pixels (crops, colour, CutMix's
    boxes) declares ``("image",)`` and a suite pairing it with audio fails when it loads.
    """

    kind: ClassVar[str] = "none"
    tasks: ClassVar[tuple[str, ...]] = ("classification",)
    modalities: ClassVar[tuple[str, ...]] = MODALITIES
    decoupled_weight_decay: ClassVar[bool] = False
    needs_input_grad: ClassVar[bool] = False
    needs_envs: ClassVar[bool] = False
    registered_name: ClassVar[str] = ""
    update_bn: ClassVar[bool] = False  # recompute BatchNorm statistics for ``averaged_state``

    def setup(self, ctx: SetupContext) -> None:
        """Called once before training with the dataset's description."""

    def model_overrides(self) -> dict[str, Any]:
        """Model constructor arguments this regularizer sets, e.g. ``{"dropout": 0.1}``."""
        return {}

    def param_groups(self, model: nn.Module) -> list[dict[str, Any]] | None:
        """Optimizer parameter groups (e.g. decay only ≥ 2-D weights), or None for default."""
        return None

    def transform(self, x: torch.Tensor, y: torch.Tensor, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Training-batch transform. x: (B, C, H, W); y: (B, K) soft targets; same shapes out.

        All randomness must come from ``g`` (seeded per run), drawn per sample.
        """
        return x, y

    def loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor | None:
        """Replace the data loss. logits: (B, K); y: (B, K) soft targets → scalar, or None."""
        return None

    def target_smoothing(self) -> float:
        """Label-smoothing ε to apply inside the loss when targets stay class ids (seq2seq).

        Token targets are not turned into (B, T, V) soft targets, so a target transform
        cannot smooth them; the sequence loss passes this ε to ``F.cross_entropy``
        (identical to smoothing one-hot targets: y ← (1 − ε) y + ε / V). Default 0.
        """
        return 0.0

    def penalty(self, model: nn.Module, batch: Batch) -> torch.Tensor | float:
        """A term added to the loss (scalar tensor), e.g. λΣw². Default 0."""
        return 0.0

    def after_backward(self, model: nn.Module) -> None:
        """Called after ``loss.backward()`` and before ``optimizer.step()`` (clipping)."""

    def first_step(self, model: nn.Module, loss: torch.Tensor) -> None:
        """Two-pass update, first half (SAM): perturb the weights in place, w → w + e.

        Called after the first ``backward`` with the gradient at w in ``.grad`` and ``loss``
        the detached 0-d data loss at w. Defining it makes the trainer run the forward pass,
        the loss and every member's penalty a second time at w + e and backpropagate that,
        then call :meth:`second_step`. The trainer keeps backward and the optimizer's step;
        the hook only moves the weights and must put them back in ``second_step``. Stacks
        that define neither half pay nothing: the trainer decides once per run.
        """

    def second_step(self, model: nn.Module, loss: torch.Tensor) -> None:
        """Two-pass update, second half: restore w + e → w, keeping ``.grad`` (the gradient at
        w + e). ``loss``: the detached 0-d data loss at w + e. Clipping and the step follow."""

    def after_step(self, model: nn.Module) -> None:
        """Called after every ``optimizer.step()`` (and the schedule's): running weight averages."""

    def lr_schedule(self, base: Callable[[int], float], steps_per_epoch: int) -> Callable[[int], float]:
        """The learning-rate multiplier of step s (0-based), given the run's own ``base`` (cosine
        or constant); SWA holds a constant rate in its averaging phase. Default: ``base``."""
        return base

    def averaged_state(self, model: nn.Module) -> dict[str, torch.Tensor] | None:
        """Weights to evaluate instead of the final ones (a ``model.state_dict()``), or None.

        Asked once after the last epoch, before :meth:`finish`. The trainer loads them, updates
        the BatchNorm statistics on the training inputs when ``update_bn`` is True, measures
        both on the validation split and records the numbers (regbench.train.averaging).
        """
        return None

    def resets_optimizer(self) -> bool:
        """True clears the optimizer's state (Adam's moments) before this step's update.

        Asked once per step after ``after_backward``. DomainBed resets Adam when IRM's
        penalty weight jumps, because the old moments do not fit the new gradient scale.
        """
        return False

    def after_epoch(self, model: nn.Module, history: History) -> None:
        """Called after each epoch's validation (e.g. remember the best weights)."""

    def should_stop(self, history: History) -> bool:
        """True ends training after this epoch (early stopping)."""
        return False

    def finish(self, model: nn.Module, history: History) -> dict[str, float]:
        """Called once when training ends; may change the model and return run-level numbers."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        """State gathered during training, saved with in-run checkpoints.

        Default: every private attribute (``self._best_state`` …), since ``__init__`` only
        stores the public parameters and anything set later is state. ``setup`` runs again
        on resume before :meth:`load_state_dict`.
        """
        return {k: v for k, v in vars(self).items() if k.startswith("_")}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned (on resuming from a checkpoint)."""
        vars(self).update(state)

    def describe(self) -> dict[str, Any]:
        """The parameters this instance was built with (for records)."""
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}


def soft_cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cross-entropy with soft targets. logits, y: (B, K) → scalar mean over B."""
    return -(y * torch.log_softmax(logits, dim=-1)).sum(dim=-1).mean()
