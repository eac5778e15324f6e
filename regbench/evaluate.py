"""Model × test splits → metrics. Runs after training ends; the only reader of test data."""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from regbench import metrics as M
from regbench.calibration import fit_temperature
from regbench.data.base import Examples, Splits
from regbench.seeding import torch_generator
from regbench.train import predict_logits

NEAR_ZERO = 1e-3  # |w| below this counts as zero for weight sparsity


@dataclass
class Evaluation:
    """Tidy metric rows, reliability-diagram data and compact predictions of one run."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    reliability: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    predictions: dict[str, bytes] = field(default_factory=dict)
    targets: dict[str, bytes] = field(default_factory=dict)  # true labels per test split, packed alike
    seconds: float = 0.0

    def add(self, split: str, metric: str, value: float, n: int | None = None, info: dict | None = None) -> None:
        info = info or {}
        self.rows.append(
            {
                "split": split,
                "family": info.get("family"),
                "shift": info.get("shift"),
                "severity": info.get("severity"),
                "metric": metric,
                "value": float(value),
                "n": n,
            }
        )

    def value(self, split: str, metric: str) -> float:
        for r in self.rows:
            if r["split"] == split and r["metric"] == metric:
                return r["value"]
        raise KeyError((split, metric))


def pack_predictions(pred: torch.Tensor) -> bytes:
    """Predicted labels (N,) int64 → zlib-compressed int16 bytes (compact, exact)."""
    return zlib.compress(pred.to(torch.int16).cpu().numpy().tobytes(), 6)


def unpack_predictions(blob: bytes) -> torch.Tensor:
    """Inverse of :func:`pack_predictions` → (N,) int64."""
    import numpy as np

    return torch.from_numpy(np.frombuffer(zlib.decompress(blob), dtype=np.int16).astype("int64"))


def split_metrics(ev: Evaluation, name: str, probs: torch.Tensor, ex: Examples, info: dict[str, Any]) -> None:
    """Accuracy, ECE, NLL, Brier (and worst-group accuracy when groups exist) of one split."""
    y = ex.y.to(probs.device)
    n = len(y)
    ev.add(name, "accuracy", M.accuracy(probs, y), n, info)
    ev.add(name, "ece", M.ece(probs, y), n, info)
    ev.add(name, "nll", M.nll(probs, y), n, info)
    ev.add(name, "brier", M.brier(probs, y), n, info)
    if "group" in ex.meta:
        groups = ex.meta["group"].to(probs.device)
        ev.add(name, "worst_group_accuracy", M.worst_group_accuracy(probs.argmax(1), y, groups), n, info)
    for key in ("tv_distance", "agreement"):
        if key in info and isinstance(info[key], (int, float)):
            ev.add(name, key, info[key], n, info)
    ev.reliability[name] = M.reliability(probs, y)


def scaled_metrics(ev: Evaluation, name: str, logits: torch.Tensor, y: torch.Tensor, temperature: float) -> None:
    """``ece_ts`` and ``nll_ts`` of softmax(logits / T); rows carry the split's family/shift/severity."""
    probs = torch.softmax(logits / temperature, dim=1)
    base = next(r for r in ev.rows if r["split"] == name and r["metric"] == "accuracy")
    for metric, value in (("ece_ts", M.ece(probs, y)), ("nll_ts", M.nll(probs, y))):
        ev.rows.append({**base, "metric": metric, "value": float(value)})


def official_metrics(ev: Evaluation, name: str, pred: torch.Tensor, ex: Examples, data: Any, info: dict) -> None:
    """A WILDS dataset's own ``eval`` numbers for one split (waterbirds ``acc_wg``, …), recorded
    as WILDS reports them under ``wilds/<key>``. pred, ex.y: (N,); metadata from ``ex.meta``."""
    from regbench.data.wilds_data import metadata_array, wilds_eval

    results = wilds_eval(data.name, data.details["root"], pred.cpu(), ex.y, metadata_array(ex, data))
    for key, value in sorted(results.items()):
        ev.add(name, f"wilds/{key}", value, len(ex), info)


def evaluate(model: nn.Module, splits: Splits, seed: int, device: torch.device) -> Evaluation:
    """Evaluate a trained model on train (clean), test_id and every OOD split.

    Also computes the run-level numbers: generalization gap (train acc − test_id acc),
    membership-inference AUC (loss-threshold attack: members = a seeded train subset the
    size of test_id, non-members = test_id), weight sparsity and parameter count, and the
    temperature fitted on val (test splits also get ``ece_ts``/``nll_ts`` under it).
    """
    if splits.info.details.get("task") == "seq2seq":  # exact match and token metrics
        from regbench.evaluate_seq import evaluate_seq2seq

        return evaluate_seq2seq(model, splits, seed, device)
    t0 = time.perf_counter()
    ev = Evaluation()
    # post-hoc temperature fitted on the validation split alone (never a test split)
    temperature = fit_temperature(predict_logits(model, splits.val.x.to(device)), splits.val.y.to(device))
    ev.add("run", "temperature", temperature)
    family_of = {"test_id": {"family": "id"}}
    # "val" (ID validation) is evaluated with the final weights so that model selection over
    # sweeps (regbench.selection) reads validation numbers only, never a test split's
    for name, ex in {"train": splits.train, "val": splits.val, **splits.test_splits()}.items():
        info = family_of.get(name) or splits.split_info.get(name.removeprefix("ood/"), {})
        logits = predict_logits(model, ex.x.to(device))
        probs = torch.softmax(logits, dim=1)
        split_metrics(ev, name, probs, ex, info)
        if name not in ("train", "val"):
            ev.predictions[name] = pack_predictions(probs.argmax(1))
            ev.targets[name] = pack_predictions(ex.y)
            scaled_metrics(ev, name, logits, ex.y.to(logits.device), temperature)
            if splits.info.details.get("source") == "wilds":
                official_metrics(ev, name, probs.argmax(1), ex, splits.info, info)
    # membership inference on clean per-example losses
    test_id = splits.test_id
    g = torch_generator(seed, "mia")
    members = splits.train.subset(torch.randperm(len(splits.train), generator=g)[: len(test_id)])
    loss = nn.functional.cross_entropy
    m_loss = loss(predict_logits(model, members.x.to(device)), members.y.to(device), reduction="none")
    n_loss = loss(predict_logits(model, test_id.x.to(device)), test_id.y.to(device), reduction="none")
    ev.add("run", "mia_auc", M.membership_inference_auc(m_loss.cpu(), n_loss.cpu()))
    run_level(ev, model)
    ev.seconds = time.perf_counter() - t0
    return ev


def run_level(ev: Evaluation, model: nn.Module) -> None:
    """Run-level numbers every task shares: train accuracy/loss, generalization gap (train acc −
    test_id acc), weight sparsity (|w| < NEAR_ZERO among ≥ 2-D weights) and parameter count."""
    train_acc = ev.value("train", "accuracy")
    ev.add("run", "train_accuracy", train_acc)
    ev.add("run", "train_loss", ev.value("train", "nll"))
    ev.add("run", "generalization_gap", train_acc - ev.value("test_id", "accuracy"))
    weights = [p.detach() for p in model.parameters() if p.dim() >= 2]
    total = sum(w.numel() for w in weights)
    zeros = sum((w.abs() < NEAR_ZERO).sum().item() for w in weights)
    ev.add("run", "weight_sparsity", zeros / max(total, 1))
    ev.add("run", "param_count", sum(p.numel() for p in model.parameters()))
