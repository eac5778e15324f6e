"""Sequence to sequence (SCAN): x (N, L) source ids, y (N, T) target ids ``BOS a_1 … a_n EOS PAD…``.

Teacher forcing: logits = model(x, y[:, :-1]) (B, T', V) predict y[:, 1:]; loss = token
cross-entropy over non-PAD tokens with the stack's ``target_smoothing`` ε. Each batch is
trimmed to its longest sequence first (SCAN pads to 50 target tokens; most commands need far
fewer).

Sequence accuracy is exact match, computed from one teacher-forced pass: a greedy decoder
reproduces the target exactly iff the teacher-forced argmax is right at every target
position up to EOS (by induction over positions: the causal mask makes position t see the
same prefix in both), so :func:`regbench.metrics.sequence.teacher_forced_exact_match` equals
greedy exact match — up to floating-point near-ties — at 1/T the cost of decoding
(tests/test_seq_harness.py checks it against ``greedy_decode``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from regbench.data.base import DatasetInfo, Splits
from regbench.evaluate.records import Evaluation
from regbench.evaluate.seq2seq import evaluate_seq2seq
from regbench.metrics.sequence import teacher_forced_exact_match
from regbench.regularizers.stack import Stack
from regbench.tasks import register_task


@register_task("seq2seq")
class Seq2Seq:
    """Teacher-forced encoder–decoder training on padded token ids (see the module docstring)."""

    name = "seq2seq"

    def __init__(self, pad_id: int = 0):
        self.pad = pad_id

    @classmethod
    def build(cls, info: DatasetInfo, stack: Stack | None = None) -> Seq2Seq:
        return cls(info.details.get("pad_id", 0))

    def hook_targets(self, y: torch.Tensor, num_classes: int) -> torch.Tensor:
        """What the hooks see as targets: the (B, T) token ids."""
        return y

    def evaluate(
        self, model: nn.Module, splits: Splits, seed: int, device: torch.device, measure_curvature: bool = False
    ) -> Evaluation:
        """Exact match, token metrics and calibration of every test split (regbench.evaluate.seq2seq).

        ``measure_curvature`` is accepted and ignored: the top Hessian eigenvalue is a
        classification number (SAM's mechanism), so a seq2seq SAM row gets no verdict."""
        return evaluate_seq2seq(self, model, splits, seed, device)

    def targets(self, y: torch.Tensor, num_classes: int) -> torch.Tensor:
        return y  # token ids as they are: (B, T) int64

    def _trim(self, ids: torch.Tensor) -> torch.Tensor:
        """Drop the all-PAD columns at the end: (B, L) → (B, L'), L' = longest row.

        Reads one number from the device per call (a sync on CUDA; these models are small).
        """
        return ids[:, : max(1, int((ids != self.pad).sum(1).max()))]

    def forward(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """(B, T'−1, V) logits of y[:, 1:T'] given x and y[:, :T'−1] (T' = longest target).

        Off the CPU the batch keeps its trailing all-PAD columns (T' = the padded length):
        trimming reads the longest row back to the host, a GPU sync every step, and the
        extra positions are PAD, masked in attention and never scored.
        """
        if x.device.type != "cpu":
            return model(x, y[:, :-1]).float()
        return model(self._trim(x), self._trim(y)[:, :-1]).float()

    def labels(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The (B, T') next-token ids that (B, T', V) ``logits`` predict."""
        return y[:, 1 : 1 + logits.shape[1]]

    def loss(self, logits: torch.Tensor, y: torch.Tensor, stack: Stack) -> torch.Tensor:
        """Mean cross-entropy over non-PAD tokens, smoothed by the stack's ``target_smoothing``.

        A member's own ``loss`` hook, if any, replaces it (given (B, T', V) logits and
        (B, T') ids).
        """
        labels = self.labels(logits, y)
        own = stack.loss(logits, labels)
        if own is not None:
            return own
        return F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]),
            labels.reshape(-1),
            ignore_index=self.pad,
            label_smoothing=stack.target_smoothing(),
        )

    def correct(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Number of sequences predicted right at every token (teacher-forced exact match)."""
        return teacher_forced_exact_match(logits, self.labels(logits, y), self.pad).sum()

    @torch.no_grad()
    def teacher_forced(
        self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1024
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Eval-mode logits (N, T', V) float32 and their labels (N, T') over a whole set.

        Chunks are trimmed to their own longest sequence and padded back to the set's
        longest T' with zero logits (those positions are PAD in the labels, never scored).
        """
        model.eval()
        y = self._trim(y)
        chunks = [
            self.forward(model, x[i : i + batch_size], y[i : i + batch_size]) for i in range(0, len(x), batch_size)
        ]
        t = y.shape[1] - 1
        logits = torch.cat([F.pad(c, (0, 0, 0, t - c.shape[1])) for c in chunks]) if chunks else torch.empty(0, t, 0)
        return logits, y[:, 1:]

    def validate(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
        """(token-level cross-entropy, exact match) on the validation set.

        Val loss is the unsmoothed token NLL (what early stopping and model selection read,
        comparable across regularizers); val accuracy is exact match (teacher-forced, which
        equals greedy exact match — see the module docstring).
        """
        logits, labels = self.teacher_forced(model, x, y)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=self.pad)
        return loss.item(), teacher_forced_exact_match(logits, labels, self.pad).double().mean().item()
