"""Model × test splits → metrics, for classification. Runs after training ends; the only reader of test data."""

from __future__ import annotations

import time
from typing import Any

import torch
from torch import nn

from regbench.data.base import Examples, Splits
from regbench.data.wilds_data import metadata_array, wilds_eval
from regbench.evaluate.collapse import collapse_reason
from regbench.evaluate import curvature, sharpness
from regbench.evaluate.records import (
    Evaluation,
    add_unique_images,
    pack_clusters,
    pack_predictions,
    predict_logits,
    run_level,
)
from regbench.metrics import classification as M
from regbench.metrics.calibration import fit_temperature
from regbench.seeding import torch_generator
from regbench.shifts.held_out import IMAGE_ID

# Worst-group accuracy is recorded only when every group has this many examples in the split
# (docs/metrics.md): with fewer, a single group's accuracy moves by ≥ 5 points per example.
MIN_GROUP_SIZE = 20


class NonFiniteEvaluation(ValueError):
    """A split's logits hold inf or NaN, so its ECE, NLL and Brier cannot exist and its accuracy
    would count arbitrary argmaxes: the run is recorded ``failed`` with the split named, never
    ``ok`` with metrics missing."""


def check_finite(name: str, logits: torch.Tensor, x: torch.Tensor) -> None:
    """Raise :class:`NonFiniteEvaluation` when ``logits`` (N, K) of split ``name`` are not all
    finite, saying whether the split's inputs ``x`` (N, …) already were. One device sync per split."""
    finite = torch.isfinite(logits).all(dim=1)
    if bool(finite.all()):  # the one read per split (asked positively: the fake-CUDA tier's reads say True)
        return
    bad = ~finite
    n_bad = int(bad.sum())
    inputs_bad = int((~torch.isfinite(x.reshape(len(x), -1)).all(dim=1)).sum()) if x.is_floating_point() else 0
    cause = (
        f"{inputs_bad} of its {len(x)} inputs hold inf or NaN values (check the dataset)"
        if inputs_bad
        else "the model's outputs overflowed on finite inputs"
    )
    raise NonFiniteEvaluation(f"split '{name}': {n_bad} of {len(x)} examples have non-finite logits; {cause}")


def split_metrics(ev: Evaluation, name: str, probs: torch.Tensor, ex: Examples, info: dict[str, Any]) -> None:
    """Accuracy, ECE, NLL, Brier of one split; with groups, the smallest group's size and, when
    every group has at least ``MIN_GROUP_SIZE`` examples, the worst-group accuracy."""
    y = ex.y.to(probs.device)
    n = len(y)
    ev.add(name, "accuracy", M.accuracy(probs, y), n, info)
    ev.add(name, "ece", M.ece(probs, y), n, info)
    ev.add(name, "nll", M.nll(probs, y), n, info)
    ev.add(name, "brier", M.brier(probs, y), n, info)
    if "group" in ex.meta:
        groups = ex.meta["group"].to(probs.device)
        # a group the split should have but lacks counts as size 0 (num_groups from the shift);
        # counted on the CPU, where the labels live anyway: a data-dependent shape on a GPU syncs
        sizes = torch.bincount(ex.meta["group"].cpu(), minlength=int(info.get("num_groups", 0)))
        sizes = sizes if "num_groups" in info else sizes[sizes > 0]
        smallest = int(sizes.min()) if len(sizes) else 0
        ev.add(name, "smallest_group", smallest, n, info)
        if smallest >= MIN_GROUP_SIZE:  # below, one group's accuracy is noise ("n/a" in the report)
            ev.add(name, "worst_group_accuracy", M.worst_group_accuracy(probs.argmax(1), y, groups), n, info)
    for key in ("tv_distance", "agreement"):
        if key in info and isinstance(info[key], (int, float)):
            ev.add(name, key, info[key], n, info)
    ev.reliability[name] = M.reliability(probs, y)


def env_metrics(ev: Evaluation, name: str, probs: torch.Tensor, ex: Examples) -> None:
    """Accuracy and NLL of each training environment of a split, as splits ``<name>/env<e>``.

    DomainBed's training-domain validation reads every training environment's held-out
    accuracy; model selection here stays on the pooled ``val`` split (report/table/model_selection.py),
    these rows show how far the environments agree. probs (N, K); ``ex.meta["env"]`` (N,),
    read on the CPU (the ids set the number of rows); nothing for fewer than 2 environments.
    """
    env = ex.meta.get("env")
    if env is None:
        return
    env = env.cpu()
    ids = torch.unique(env).tolist()
    if len(ids) < 2:
        return
    y = ex.y.to(probs.device)
    for e in ids:
        idx = torch.nonzero(env == e).flatten().to(probs.device)
        part, labels = probs[idx], y[idx]
        ev.add(f"{name}/env{e}", "accuracy", M.accuracy(part, labels), len(idx))
        ev.add(f"{name}/env{e}", "nll", M.nll(part, labels), len(idx))


def scaled_metrics(ev: Evaluation, name: str, logits: torch.Tensor, y: torch.Tensor, temperature: float) -> None:
    """``ece_ts`` and ``nll_ts`` of softmax(logits / T); rows carry the split's family/shift/severity."""
    probs = torch.softmax(logits / temperature, dim=1)
    base = next(r for r in ev.rows if r["split"] == name and r["metric"] == "accuracy")
    for metric, value in (("ece_ts", M.ece(probs, y)), ("nll_ts", M.nll(probs, y))):
        ev.rows.append({**base, "metric": metric, "value": float(value)})


def official_metrics(ev: Evaluation, name: str, pred: torch.Tensor, ex: Examples, data: Any, info: dict) -> None:
    """A WILDS dataset's own ``eval`` numbers for one split (waterbirds ``acc_wg``, …), recorded
    as WILDS reports them under ``wilds/<key>``. pred, ex.y: (N,); metadata from ``ex.meta``."""
    results = wilds_eval(data.name, data.details["root"], pred.cpu(), ex.y, metadata_array(ex, data))
    for key, value in sorted(results.items()):
        ev.add(name, f"wilds/{key}", value, len(ex), info)


def evaluate_classification(
    model: nn.Module,
    splits: Splits,
    seed: int,
    device: torch.device,
    logits: dict[str, torch.Tensor] | None = None,
    measure_curvature: bool = False,
) -> Evaluation:
    """Evaluate a trained model on train (clean), test_id and every OOD split.

    Also computes the run-level numbers: generalization gap (train acc − test_id acc),
    membership-inference AUC (loss-threshold attack: members = a seeded train subset the
    size of test_id, non-members = test_id), weight sparsity and parameter count, and the
    temperature fitted on val (test splits also get ``ece_ts``/``nll_ts`` under it), and
    whether the model collapsed (``ev.collapsed``, regbench.evaluate.collapse), and the loss
    rise at a fixed radius in the ascent direction (``sharpness_at_0.05``,
    regbench.evaluate.sharpness), measured for every run; with ``measure_curvature`` (erm's and
    the sharpness regularizers' rows, regbench.evaluate.curvature.measured_for) also the top
    eigenvalue of the training loss's Hessian (``hessian_max_eigenvalue``), the mechanism number
    of SAM and ASAM.

    ``logits``: the model's (N, K) float32 logits of splits already computed (by split name:
    "train", "val", "test_id", "ood/<split>"), as a seed-batched group computes them for all
    its seeds at once (harness/seed_groups.py); the others are computed here, each split once.
    """
    t0 = time.perf_counter()
    ev = Evaluation()
    # first, before any other number: it must leave the model as it found it (weights, BN
    # statistics, no random draws), and anything it left changed would show in every number
    # below (tests/test_sharpness.py compares them with and without it)
    ev.add("run", sharpness.METRIC, sharpness.reference_sharpness(model, splits.train.x, splits.train.y, device))
    if measure_curvature:  # the same guarantees (tests/test_curvature.py)
        ev.add("run", curvature.METRIC, curvature.reference_curvature(model, splits.train.x, splits.train.y, device))
    # every split's logits once: val's serve the temperature and val's own rows, train's and
    # test_id's the membership attack below (its members are a train subset)
    logits_of: dict[str, torch.Tensor] = {}
    given = logits or {}

    def split_logits(name: str, ex: Examples) -> torch.Tensor:
        if name not in logits_of:
            x = ex.x.to(device)
            logits_of[name] = given[name] if name in given else predict_logits(model, x)
            check_finite(name, logits_of[name], x)  # no `ok` run with ECE/NLL/Brier silently missing
        return logits_of[name]

    # post-hoc temperature fitted on the validation split alone (never a test split)
    temperature = fit_temperature(split_logits("val", splits.val), splits.val.y.to(device))
    ev.add("run", "temperature", temperature)
    family_of = {"test_id": {"family": "id"}}
    # "val" (ID validation) is evaluated with the final weights so that model selection over
    # sweeps (regbench.report.table.model_selection) reads validation numbers only, never a test split's
    for name, ex in {"train": splits.train, "val": splits.val, **splits.test_splits()}.items():
        info = family_of.get(name) or splits.split_info.get(name.removeprefix("ood/"), {})
        logits = split_logits(name, ex)
        probs = torch.softmax(logits, dim=1)
        split_metrics(ev, name, probs, ex, info)
        if name == "val":
            env_metrics(ev, name, probs, ex)
        if name not in ("train", "val"):
            add_unique_images(ev, name, splits, len(ex), info)
            ev.predictions[name] = pack_predictions(probs.argmax(1))
            ev.targets[name] = pack_predictions(ex.y)
            if IMAGE_ID in ex.meta:  # the base image of each test image: paired tests resample these
                ev.clusters[name] = pack_clusters(ex.meta[IMAGE_ID])
            scaled_metrics(ev, name, logits, ex.y.to(logits.device), temperature)
            if splits.info.details.get("source") == "wilds":
                official_metrics(ev, name, probs.argmax(1), ex, splits.info, info)
    # membership inference on clean per-example losses
    test_id = splits.test_id
    g = torch_generator(seed, "mia")
    members = torch.randperm(len(splits.train), generator=g)[: len(test_id)]
    loss = nn.functional.cross_entropy
    m_logits = split_logits("train", splits.train)[members.to(device)]
    m_loss = loss(m_logits, splits.train.y[members].to(device), reduction="none")
    n_loss = loss(split_logits("test_id", test_id), test_id.y.to(device), reduction="none")
    ev.add("run", "mia_auc", M.membership_inference_auc(m_loss.cpu(), n_loss.cpu()))
    run_level(ev, model)
    ev.collapsed = collapse_reason(ev, splits.info.num_classes)
    ev.seconds = time.perf_counter() - t0
    return ev
