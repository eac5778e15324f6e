"""Model selection over sweep configs from run records alone (no torch; DomainBed-style).

The main selection reads ID *validation* numbers only — ``val`` accuracy or loss of the
final weights, averaged over seeds — so the test splits never influence which config is
reported (docs/architecture.md, Pipeline). The oracle (test-domain) selection by OOD test accuracy exists only
to show how much an unfair choice would gain; callers print it in a separate, labelled
table and never mix it into the ranking, as DomainBed keeps its selection methods apart.

Records are the dicts of :meth:`regbench.store.Store.records`: ``benchmark``,
``regularizer`` (the config's label), ``seed``, ``status``, ``run_key``, ``params``,
``metrics`` (split → metric → value) and ``curves``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

CRITERIA = ("val_accuracy", "val_loss")


def run_numbers(rec: Mapping[str, Any]) -> dict[str, float]:
    """ID/OOD accuracy and ECE of one record; OOD = unweighted mean over its ``ood/*`` splits."""
    m = rec.get("metrics") or {}
    ood = [v for k, v in m.items() if k.startswith("ood/")]

    def mean(metric: str) -> float:
        xs = [s[metric] for s in ood if metric in s]
        return sum(xs) / len(xs) if xs else math.nan

    tid = m.get("test_id", {})
    return {
        "id_accuracy": tid.get("accuracy", math.nan),
        "ood_accuracy": mean("accuracy"),
        "ece_id": tid.get("ece", math.nan),
        "ece_ood": mean("ece"),
        "worst_group_accuracy": mean("worst_group_accuracy"),
    }


def val_score(rec: Mapping[str, Any], criterion: str = "val_accuracy") -> float:
    """The record's validation number: the ``val`` split's accuracy/NLL of the final weights.

    Records written before the ``val`` split was evaluated fall back to the last epoch of
    the learning curve (the same number unless a regularizer restored earlier weights).
    """
    if criterion not in CRITERIA:
        raise ValueError(f"unknown selection criterion '{criterion}'; expected one of {list(CRITERIA)}")
    val = (rec.get("metrics") or {}).get("val", {})
    key = "accuracy" if criterion == "val_accuracy" else "nll"
    if key in val:
        return float(val[key])
    curve = (rec.get("curves") or {}).get(criterion) or []
    return float(curve[-1]) if curve else math.nan


@dataclass(frozen=True)
class Selection:
    """The config chosen for one (benchmark, regularizer): its label, score and runs."""

    benchmark: str
    regularizer: str  # the base config's display name, e.g. "mixup"
    label: str  # the chosen candidate, e.g. "mixup[sweep 3]"
    score: float  # mean over seeds of the selection criterion
    candidates: int  # how many candidates had every seed finished
    run_keys: tuple[str, ...]
    seeds: tuple[int, ...] = ()
    params: Any = None


def _pick(
    records: Sequence[Mapping[str, Any]],
    candidates: Mapping[str, Sequence[str]],
    score_of,
    higher: bool,
) -> dict[tuple[str, str], Selection]:
    by: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for r in records:
        by.setdefault((r["benchmark"], r["regularizer"]), []).append(r)
    benchmarks = list(dict.fromkeys(r["benchmark"] for r in records))
    out: dict[tuple[str, str], Selection] = {}
    for bench in benchmarks:
        for base, labels in candidates.items():
            best = None
            eligible = 0
            for order, label in enumerate(labels):  # ties go to the earlier candidate (defaults first)
                runs = sorted(by.get((bench, label), []), key=lambda r: r["seed"])
                scores = [score_of(r) for r in runs]
                # a config that failed or diverged on any seed is not eligible: averaging its
                # surviving seeds would hide the failures
                if not runs or any(r["status"] != "ok" for r in runs) or any(math.isnan(s) for s in scores):
                    continue
                eligible += 1
                score = sum(scores) / len(scores)
                key = (score if higher else -score, -order)
                if best is None or key > best[0]:
                    best = (key, label, score, runs)
            if best is not None:
                _, label, score, runs = best
                out[(bench, base)] = Selection(
                    bench,
                    base,
                    label,
                    score,
                    eligible,
                    tuple(r["run_key"] for r in runs),
                    tuple(r["seed"] for r in runs),
                    runs[0].get("params"),
                )
    return out


def select(
    records: Iterable[Mapping[str, Any]],
    candidates: Mapping[str, Sequence[str]],
    criterion: str = "val_accuracy",
) -> dict[tuple[str, str], Selection]:
    """Per (benchmark, base regularizer): the candidate with the best mean validation score.

    ``candidates`` maps each base config's name to its candidate labels in sweep order.
    Reads only :func:`val_score` — the test metrics of a record cannot change the result.
    """
    if criterion not in CRITERIA:
        raise ValueError(f"unknown selection criterion '{criterion}'; expected one of {list(CRITERIA)}")
    return _pick(list(records), candidates, lambda r: val_score(r, criterion), criterion == "val_accuracy")


def oracle_select(
    records: Iterable[Mapping[str, Any]],
    candidates: Mapping[str, Sequence[str]],
) -> dict[tuple[str, str], Selection]:
    """Test-domain ("oracle") selection by mean OOD *test* accuracy. Not a valid method: for
    a separate, labelled table only, to show how much peeking at the test splits would gain."""
    return _pick(list(records), candidates, lambda r: run_numbers(r)["ood_accuracy"], True)
