"""What the environment baselines share: per-environment risks and an annealed penalty weight.

The trainer hands these regularizers environment-balanced batches (``Batch.env``, (B,)
int64; regbench.train.batches), so each environment's share of a batch is its own minibatch,
as in DomainBed's one minibatch per environment (Gulrajani & Lopez-Paz 2020,
https://arxiv.org/abs/2007.01434).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from regbench.regularizers.base import Batch, Regularizer


def env_masks(env: torch.Tensor | None, ids: tuple[int, ...] = ()) -> list[torch.Tensor]:
    """One (B,) bool mask per environment of ``env`` (B,), in ascending id order.

    ``ids`` (``Batch.env_ids``: every training environment, known before training) avoid a
    ``torch.unique``, a device sync per step on a GPU; without them the ids present are used.
    Indexing with these masks syncs too (a nonzero): the fallback for a batch whose layout is
    unknown (``Batch.env_counts`` empty), e.g. one built by hand.
    """
    if env is None:
        raise ValueError("this regularizer needs Batch.env (training environments); the batch has none")
    return [env == e for e in (ids or torch.unique(env).tolist())]


def _layout(batch: Batch, n: int) -> tuple[int, ...]:
    """``batch.env_counts`` checked against a leading dimension ``n`` (() when the layout is unknown)."""
    counts = batch.env_counts
    if counts and (sum(counts) != n or (batch.env_ids and len(batch.env_ids) != len(counts))):
        raise ValueError(
            f"Batch.env_counts {counts} do not describe {n} rows of {len(batch.env_ids) or '?'} environments"
        )
    return counts


def env_parts(t: torch.Tensor, batch: Batch) -> list[torch.Tensor]:
    """``t`` (B, ...) split into one (n_e, ...) tensor per environment, in ``env_ids`` order.

    With the trainer's layout (``Batch.env_counts``) these are slices, read from counts on the
    CPU; otherwise boolean masks of ``Batch.env``.
    """
    counts = _layout(batch, len(t))
    if counts:
        return list(t.split(list(counts)))
    return [t[m] for m in env_masks(batch.env, batch.env_ids)]


def env_means(t: torch.Tensor, batch: Batch, rows: slice = slice(None)) -> torch.Tensor:
    """Mean of ``t`` (B, ...) over each environment's ``rows`` (e.g. ``slice(0, None, 2)``): → (E, ...).

    Equal counts (every balanced step but a full batch of unequal environments): one reshape
    to (E, B/E, ...), no per-environment kernels; else a mean per :func:`env_parts` slice.
    """
    counts = _layout(batch, len(t))
    if counts and len(set(counts)) == 1:
        return t.view(len(counts), counts[0], *t.shape[1:])[:, rows].mean(1)
    return torch.stack([p[rows].mean(0) for p in env_parts(t, batch)])


def per_example_risk(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Soft-target cross-entropy per example. logits, y: (B, K) → (B,)."""
    return -(y * torch.log_softmax(logits, dim=-1)).sum(dim=-1)


def env_risks(batch: Batch) -> torch.Tensor:
    """Mean risk of each environment of ``batch`` (logits, y (B, K), env (B,)) → (E,)."""
    logits, y, _ = check_batch(batch)
    return env_means(per_example_risk(logits, y), batch)


class AnnealedPenalty(Regularizer):
    """A penalty whose weight is ``before`` for the first ``anneal_iters`` steps, then ``lam``.

    What happens when the weight switches on is ``anneal_handling``:

    - ``"domainbed"`` (the default): the step at which the weight switches on also resets the
      optimizer's state (Adam's moments were fitted to the small penalty), as DomainBed
      b93c22a ``algorithms.py`` re-creates Adam at ``update_count == penalty_anneal_iters``
      (IRM l.620, VREx l.774, Fishr l.1619).
    - ``"paper"``: no reset; from then on, whenever the weight is above 1, the whole step's
      gradient is divided by it, which is dividing the whole loss (data loss, every penalty of
      the stack, this one included) by the weight, as the authors' ColoredMNIST scripts do
      (``loss /= penalty_weight`` "to keep gradients in a reasonable range":
      facebookresearch/InvariantRiskMinimization ``code/colored_mnist/main.py`` l.145-150,
      capybaralet/REx_code_release ``InvariantRiskMinimization/colored_mnist/main.py``
      l.215-230, alexrame/fishr ``coloredmnist/train_coloredmnist.py`` l.275-279). The
      division happens in ``after_backward`` (the gradient of loss/λ is the gradient over λ):
      a gradient-clipping member listed before this one clips the undivided gradient, and an
      optimizer's own ``weight_decay`` (not part of the loss) is not divided; the ``l2``
      regularizer's penalty is in the loss and is.

    Subclasses set ``lam``, ``anneal_iters`` (and ``anneal_handling``) in ``__init__`` and
    call :meth:`weight` once per step from ``penalty``.
    """

    kind = "penalty"
    needs_envs = True
    before: float = 1.0  # DomainBed: 1 for IRM and V-REx, 0 for Fishr
    anneal_handling: str = "domainbed"  # or "paper"
    lam: float
    anneal_iters: int

    def weight(self) -> float:
        """This step's penalty weight; advances the step counter (saved with checkpoints)."""
        step = getattr(self, "_step", 0)
        self._reset_now = step == self.anneal_iters
        self._step = step + 1
        current = self.lam if step >= self.anneal_iters else self.before
        # the paper's rescaling divides by the weight only when it is above 1 (main.py l.148)
        self._divisor = current if self.anneal_handling == "paper" and current > 1.0 else 1.0
        return current

    def resets_optimizer(self) -> bool:
        return self.anneal_handling == "domainbed" and getattr(self, "_reset_now", False)

    def after_backward(self, model: nn.Module) -> None:
        """``"paper"`` handling: divide every gradient by this step's weight when it is above 1."""
        divisor = getattr(self, "_divisor", 1.0)
        if divisor == 1.0:
            return
        for p in model.parameters():
            if p.grad is not None:
                p.grad.div_(divisor)


# how the optimizer and the loss meet the switch to λ (AnnealedPenalty); in signatures, so a
# suite's value is checked when it loads
AnnealHandling = Literal["domainbed", "paper"]


def check_batch(batch: Batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(logits (B, K), y (B, K), env (B,)) of a batch, with a clear error when env is missing."""
    if batch.env is None or batch.logits is None:
        raise ValueError("needs Batch.env and Batch.logits; is the benchmark's training data without meta['env']?")
    return batch.logits, batch.y, batch.env
