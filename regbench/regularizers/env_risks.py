"""What the environment baselines share: per-environment risks and an annealed penalty weight.

The trainer hands these regularizers environment-balanced batches (``Batch.env``, (B,)
int64; regbench.train.batches), so each environment's share of a batch is its own minibatch,
as in DomainBed's one minibatch per environment (Gulrajani & Lopez-Paz 2020,
https://arxiv.org/abs/2007.01434).
"""

from __future__ import annotations

import torch

from regbench.regularizers.base import Batch, Regularizer


def env_masks(env: torch.Tensor | None, ids: tuple[int, ...] = ()) -> list[torch.Tensor]:
    """One (B,) bool mask per environment of ``env`` (B,), in ascending id order.

    ``ids`` (``Batch.env_ids``: every training environment, known before training) avoid a
    ``torch.unique``, a device sync per step on a GPU; without them the ids present are used.
    """
    if env is None:
        raise ValueError("this regularizer needs Batch.env (training environments); the batch has none")
    return [env == e for e in (ids or torch.unique(env).tolist())]


def per_example_risk(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Soft-target cross-entropy per example. logits, y: (B, K) → (B,)."""
    return -(y * torch.log_softmax(logits, dim=-1)).sum(dim=-1)


def env_risks(
    logits: torch.Tensor, y: torch.Tensor, env: torch.Tensor | None, ids: tuple[int, ...] = ()
) -> torch.Tensor:
    """Mean risk of each environment: logits, y (B, K), env (B,) → (E,) (``ids``: see env_masks)."""
    risk = per_example_risk(logits, y)
    return torch.stack([risk[m].mean() for m in env_masks(env, ids)])


class AnnealedPenalty(Regularizer):
    """A penalty whose weight is ``before`` for the first ``anneal_iters`` steps, then ``lam``.

    DomainBed's schedule for IRM, V-REx and Fishr: the step at which the weight switches on
    also resets the optimizer's state (Adam's moments were fitted to the small penalty).
    Subclasses set ``lam``, ``anneal_iters`` in ``__init__`` and call :meth:`weight` once
    per step from ``penalty``.
    """

    kind = "penalty"
    needs_envs = True
    before: float = 1.0  # DomainBed: 1 for IRM and V-REx, 0 for Fishr
    lam: float
    anneal_iters: int

    def weight(self) -> float:
        """This step's penalty weight; advances the step counter (saved with checkpoints)."""
        step = getattr(self, "_step", 0)
        self._reset_now = step == self.anneal_iters
        self._step = step + 1
        return self.lam if step >= self.anneal_iters else self.before

    def resets_optimizer(self) -> bool:
        return getattr(self, "_reset_now", False)


def check_batch(batch: Batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(logits (B, K), y (B, K), env (B,)) of a batch, with a clear error when env is missing."""
    if batch.env is None or batch.logits is None:
        raise ValueError("needs Batch.env and Batch.logits; is the benchmark's training data without meta['env']?")
    return batch.logits, batch.y, batch.env
