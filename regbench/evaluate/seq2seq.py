"""Model × test splits → metrics, for sequence-to-sequence tasks (SCAN).

The same rows as :mod:`regbench.evaluate.classify` so that the store, the leaderboard and the
statistics need no special case, with these definitions per split:

- ``accuracy``: **exact match** — the whole output sequence right, up to and including EOS
  (so the leaderboard's ID / OOD accuracy columns are exact match for SCAN). Computed from
  one teacher-forced pass, which equals greedy-decoding exact match (regbench.tasks.seq2seq);
- ``token_accuracy``, ``ece`` (15 bins), ``nll``, ``brier`` and the reliability diagram:
  over the non-PAD target tokens under teacher forcing (next-token predictions);
- stored predictions (for seed-to-seed disagreement and bias/variance): per sequence, the
  exact-match outcome 1/0 in place of a class label, since an output sequence is not one
  label. Disagreement between two runs is then disagreement in *which* commands they get
  right (a lower bound on how often their outputs differ).

Run level: membership-inference AUC on the per-sequence mean token loss (members = a seeded
train subset the size of test_id), train exact match / loss, generalization gap (train −
test_id exact match), weight sparsity and parameter count as for classification.
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from torch import nn

from regbench.data.base import Splits
from regbench.evaluate.records import Evaluation, add_unique_images, pack_predictions, run_level
from regbench.metrics import classification as M
from regbench.metrics import sequence as S
from regbench.seeding import torch_generator


def sequence_losses(logits: torch.Tensor, labels: torch.Tensor, pad: int) -> torch.Tensor:
    """(N,) mean token cross-entropy of each sequence: (N, T, V) logits, (N, T) labels."""
    ce = F.cross_entropy(logits.transpose(1, 2), labels, ignore_index=pad, reduction="none")  # (N, T), 0 at PAD
    return ce.sum(1) / (labels != pad).sum(1).clamp(min=1)


def evaluate_seq2seq(task, model: nn.Module, splits: Splits, seed: int, device: torch.device) -> Evaluation:
    """Evaluate a trained encoder–decoder on train, val, test_id and every OOD split.

    ``task`` is the :class:`regbench.tasks.seq2seq.Seq2Seq` that trained it (its pad id and
    teacher-forced pass); it calls this, so this module need not import it.
    """
    t0 = time.perf_counter()
    ev = Evaluation()
    pad = task.pad
    family_of = {"test_id": {"family": "id"}}
    for name, ex in {"train": splits.train, "val": splits.val, **splits.test_splits()}.items():
        info = family_of.get(name) or splits.split_info.get(name.removeprefix("ood/"), {})
        logits, labels = task.teacher_forced(model, ex.x.to(device), ex.y.to(device))
        # the metrics run on the CPU: PAD masks have value-dependent shapes (a GPU sync each)
        # and CUDA's weighted bincount is not reproducible; these are (N, T, V) small logits
        logits, labels = logits.cpu(), labels.cpu()
        exact = S.teacher_forced_exact_match(logits, labels, pad)
        n = len(ex)
        scored = labels != pad
        probs, tokens = torch.softmax(logits[scored], dim=-1), labels[scored]
        ev.add(name, "accuracy", exact.double().mean().item(), n, info)
        ev.add(name, "token_accuracy", S.token_accuracy(logits, labels, pad), n, info)
        ev.add(name, "ece", S.token_ece(logits, labels, pad), n, info)
        ev.add(name, "nll", S.token_nll(logits, labels, pad), n, info)
        ev.add(name, "brier", M.brier(probs, tokens), n, info)
        ev.reliability[name] = M.reliability(probs, tokens)
        if name not in ("train", "val"):
            add_unique_images(ev, name, splits, n, info)
            ev.predictions[name] = pack_predictions(exact.long())
    test_id = splits.test_id
    g = torch_generator(seed, "mia")
    members = splits.train.subset(torch.randperm(len(splits.train), generator=g)[: len(test_id)])
    losses = [
        sequence_losses(*task.teacher_forced(model, e.x.to(device), e.y.to(device)), pad).cpu()
        for e in (members, test_id)
    ]
    ev.add("run", "mia_auc", M.membership_inference_auc(*losses))
    run_level(ev, model)  # as regbench.evaluate.classify defines them for every model
    ev.seconds = time.perf_counter() - t0
    return ev
