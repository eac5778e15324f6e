"""What differs between a classification and a sequence-to-sequence task, for the one loop.

:func:`regbench.train.train` is the only training loop. A task supplies the few lines that
depend on what the model predicts: the targets the regularizers see, the model call, the
data loss, the per-example "correct" count and the validation numbers. Everything else —
batching, hooks, optimizer, schedule, early stopping, checkpoints — is shared.

- ``classification`` (default): y (N,) labels become (N, K) one-hot soft targets (STYLE.md
  §10), logits = model(x) (B, K), loss = the stack's loss (soft-target cross-entropy).
- ``seq2seq`` (``DatasetInfo.details["task"]``, SCAN): x (N, L) source ids, y (N, T) target
  ids ``BOS a_1 … a_n EOS PAD…``. Teacher forcing: logits = model(x, y[:, :-1]) (B, T', V)
  predict y[:, 1:]; loss = token cross-entropy over non-PAD tokens with the stack's
  ``target_smoothing`` ε. Each batch is trimmed to its longest sequence first (SCAN pads
  to 50 target tokens; most commands need far fewer).

Sequence accuracy is exact match, computed from one teacher-forced pass: a greedy decoder
reproduces the target exactly iff the teacher-forced argmax is right at every target
position up to EOS (by induction over positions: the causal mask makes position t see the
same prefix in both), so :func:`regbench.seq_metrics.teacher_forced_exact_match` equals
greedy exact match — up to floating-point near-ties — at 1/T the cost of decoding
(tests/test_seq_harness.py checks it against ``greedy_decode``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from regbench.data.base import DatasetInfo
from regbench.regularizers.stack import Stack
from regbench.seq_metrics import teacher_forced_exact_match


class UnsupportedRegularizer(ValueError):
    """A regularizer was paired with a task it does not apply to (e.g. mixup on SCAN)."""


def task_name(info: DatasetInfo) -> str:
    """The task of a dataset: ``details["task"]``, else ``classification``."""
    return info.details.get("task", "classification")


def unsupported_message(names: list[str], task: str, where: str = "") -> str:
    """One line: which regularizers do not apply to ``task``."""
    return (
        f"{'regularizer' if len(names) == 1 else 'regularizers'} {', '.join(repr(n) for n in names)} "
        f"cannot be used on a {task} task{where}: each regularizer declares the tasks it applies to "
        f"(`regbench list regularizers` shows them)"
    )


@torch.no_grad()
def predict_logits(model: nn.Module, x: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """Logits of ``model`` in eval mode, in chunks. x (N, …) on the model's device → (N, K) float32."""
    model.eval()
    outs = [model(x[i : i + batch_size]).float() for i in range(0, len(x), batch_size)]
    return torch.cat(outs) if outs else torch.empty(0)


class Classification:
    """y (B,) labels → (B, K) soft targets; logits (B, K)."""

    name = "classification"

    def targets(self, y: torch.Tensor, num_classes: int) -> torch.Tensor:
        return F.one_hot(y, num_classes).float()

    def forward(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return model(x).float()

    def loss(self, logits: torch.Tensor, y: torch.Tensor, stack: Stack) -> torch.Tensor:
        return stack.data_loss(logits, y)

    def correct(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Number of examples whose argmax is the target's (a 0-d tensor, no device sync)."""
        return (logits.argmax(1) == y.argmax(1)).sum()

    def validate(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
        """(val loss = cross-entropy, val accuracy) of (N, …) inputs and (N,) labels."""
        logits = predict_logits(model, x)
        return F.cross_entropy(logits, y).item(), (logits.argmax(1) == y).double().mean().item()


class HardLabelClassification(Classification):
    """Classification when no regularizer touches the targets or the loss (erm, penalties,
    dropout, norms, clipping, early stopping): y stays (B,) labels and the loss is the fused
    ``F.cross_entropy`` — the same number as soft-target cross-entropy on one-hot targets, with
    fewer small ops per step (they are ~10% of a tiny MLP's step on this CPU)."""

    def targets(self, y: torch.Tensor, num_classes: int) -> torch.Tensor:
        return y

    def loss(self, logits: torch.Tensor, y: torch.Tensor, stack: Stack) -> torch.Tensor:
        return F.cross_entropy(logits, y)

    def correct(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (logits.argmax(1) == y).sum()


class Seq2Seq:
    """Teacher-forced encoder–decoder training on padded token ids (see the module docstring)."""

    name = "seq2seq"

    def __init__(self, pad_id: int = 0):
        self.pad = pad_id

    def targets(self, y: torch.Tensor, num_classes: int) -> torch.Tensor:
        return y  # token ids as they are: (B, T) int64

    def _trim(self, ids: torch.Tensor) -> torch.Tensor:
        """Drop the all-PAD columns at the end: (B, L) → (B, L'), L' = longest row.

        Reads one number from the device per call (a sync on CUDA; these models are small).
        """
        return ids[:, : max(1, int((ids != self.pad).sum(1).max()))]

    def forward(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """(B, T'−1, V) logits of y[:, 1:T'] given x and y[:, :T'−1] (T' = longest target)."""
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


def task_for(info: DatasetInfo, stack: Stack | None = None) -> Classification | Seq2Seq:
    """The task object of a dataset (``details["task"]``; unknown names raise ValueError).

    With a ``stack`` that neither transforms batches nor replaces the loss, classification
    keeps hard labels (:class:`HardLabelClassification`).
    """
    name = task_name(info)
    if name == "classification":
        if stack is not None and not (stack.has("transform") or stack.has("loss")):
            return HardLabelClassification()
        return Classification()
    if name == "seq2seq":
        return Seq2Seq(info.details.get("pad_id", 0))
    raise ValueError(f"dataset '{info.name}' declares task {name!r}; known tasks: classification, seq2seq")


def check_supported(stack: Stack, task: str) -> None:
    """Raise :class:`UnsupportedRegularizer` (one line) if a member does not apply to ``task``."""
    bad = stack.unsupported(task)
    if bad:
        raise UnsupportedRegularizer(unsupported_message(bad, task))
