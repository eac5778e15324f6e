"""A sweep's choice with its reasons: the best validation mean, or the one-standard-error rule (no torch).

Rules (``regbench run SUITE --sweep N --select RULE``):

- ``val_accuracy`` / ``val_loss``: the candidate with the best mean ID validation accuracy
  (highest) or NLL (lowest).
- ``one_se``: the one-standard-error rule (Breiman et al. 1984; Hastie et al., ESL §7.10) that
  chose the published strengths of ``suites/ood.yaml``. Among the candidates whose mean ID
  validation accuracy is at least ``best − SE``, the one whose mechanism number moves most.

  *The SE* is the binomial standard error of the best candidate's score, the unweighted mean
  over the group's benchmarks of each benchmark's mean over seeds: with cell weights
  ``w = 1 / (B · S_b)`` (B benchmarks, S_b seeds of benchmark b), each run's validation
  accuracy p and its validation size n,  ``SE = sqrt(Σ_runs w² · p(1 − p) / n)``. Every
  image is an independent Bernoulli draw; benchmarks and seeds are independent. On the OOD
  sweep (seed 0, 359 val images on the digits benchmarks and 406 on shapes) this is 0.6–0.75
  points.

  *The mechanism number* is that of the regularizer's kind (:mod:`regbench.report.mechanism`),
  always training-side and measured against erm's run at the same benchmark and seed:
  weight penalties and decay, the relative change of the weight L2 norm; augmentations,
  label smoothing and dropout, the relative change of the clean train NLL; early stopping,
  the relative change of the delivered epoch (the restored epoch against erm's last); gradient
  clipping, the share of steps clipped (erm clips none); SAM and ASAM, the relative change of
  the top Hessian eigenvalue of the training loss; weight averaging (EMA, SWA, SWAD), the
  distance ‖θ_avg − θ_final‖ / ‖θ_final‖ (erm's is 0). A candidate's number is the mean over
  its runs of the change in the mechanism's direction (``Mechanism.direction``: a shrinking
  weight norm, an earlier epoch and a lower top eigenvalue count as positive; a rising train
  NLL, more steps clipped and a larger averaged distance too), so a config that moves the
  number the wrong way (SAM at a radius that ends with more curvature than erm) does not win by
  the size of its change; the largest wins, ties go to the earlier candidate (config 0 = the
  defaults). A regularizer without a mechanism number (erm, norm layers, recipes, other
  penalties), or whose number is missing for a candidate in the band, gets the best mean.

Groups: per benchmark (default), or with ``per_suite`` one group of every benchmark — one
config for the whole suite, the published protocol. A candidate is eligible only when every
one of its runs in the group is ``ok`` with a finite score and it covers every (benchmark, seed)
that any candidate of its regularizer ran: averaging surviving runs would hide failures.

Reads only each record's ``val`` split (accuracy, NLL), ``val_n`` and the training-side
run numbers of :data:`TRAINING_SIDE` — no test split, so no test number can change a choice.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from regbench.report.mechanism import BASELINE, Mechanism, mechanism_for
from regbench.report.table.model_selection import Selection, val_score

RULES = ("val_accuracy", "val_loss", "one_se")
ALL_BENCHMARKS = "all benchmarks"  # the group name of a per-suite choice
TRAINING_SIDE = (
    "weight_norm",
    "train_loss",
    "restored_epoch",
    "epochs_run",
    "clipped_fraction",
    "averaged_distance",
    "sharpness_at_0.05",
    "hessian_max_eigenvalue",
)
# what the selection calls each mechanism rule's number (report.mechanism's labels for the
# relative ones; early stopping's is the delivered epoch here, not the share of seeds)
NUMBER_NAMES = {"share": "delivered epoch", "fraction": "steps clipped"}


@dataclass(frozen=True)
class Candidate:
    """One candidate config of a group: its validation score and mechanism number."""

    label: str
    order: int  # position in the sweep (0 = the defaults)
    eligible: bool
    score: float  # mean over benchmarks of the mean over seeds (NaN when not eligible)
    per_benchmark: dict[str, float] = field(default_factory=dict)
    mechanism: float = math.nan  # mean over runs of |change against erm|
    per_benchmark_mechanism: dict[str, float] = field(default_factory=dict)  # signed, mean over seeds
    in_band: bool | None = None  # one_se only
    run_keys: tuple[str, ...] = ()
    seeds: tuple[int, ...] = ()
    params: Any = None


@dataclass(frozen=True)
class Choice:
    """The candidate a rule chose for one (group, regularizer), the best mean, the band and why."""

    benchmark: str  # a benchmark's name, or ALL_BENCHMARKS
    regularizer: str
    rule: str
    label: str
    best_label: str  # the plain best mean (argmax), for comparison
    best_score: float
    se: float | None
    band_low: float | None
    mechanism: str | None  # the number's name, e.g. "weight L2 norm"
    mechanism_rule: str | None  # "relative" | "share" | "fraction"
    reason: str
    candidates: tuple[Candidate, ...]

    @property
    def chosen(self) -> Candidate:
        return next(c for c in self.candidates if c.label == self.label)

    def selection(self) -> Selection:
        """The choice as a :class:`Selection` (for ``selection_table``)."""
        c = self.chosen
        eligible = sum(x.eligible for x in self.candidates)
        return Selection(self.benchmark, self.regularizer, c.label, c.score, eligible, c.run_keys, c.seeds, c.params)


def mechanism_change(mech: Mechanism, rec: Mapping[str, Any], erm: Mapping[str, Any] | None) -> float:
    """The signed change of ``rec``'s mechanism number against erm's run ``erm`` (same benchmark
    and seed); NaN when a number is missing. Reads only the training-side run numbers."""
    run = (rec.get("metrics") or {}).get("run", {})
    base = ((erm or {}).get("metrics") or {}).get("run", {})
    if mech.rule == "fraction":  # erm clips nothing: its fraction is 0 when not recorded
        value, ref = run.get("clipped_fraction"), base.get("clipped_fraction", 0.0)
        return float(value) - float(ref) if value is not None else math.nan
    if mech.rule == "distance":  # erm averages nothing (distance 0): the distance is the change
        value = run.get("averaged_distance")
        return float(value) if value is not None and math.isfinite(value) else math.nan
    if mech.rule == "share":  # the epoch delivered against erm's, which delivers its last
        value, ref = run.get("restored_epoch", run.get("epochs_run")), base.get("epochs_run")
    else:
        value, ref = run.get(mech.metric), base.get(mech.metric)
    if value is None or ref is None or not math.isfinite(value) or not math.isfinite(ref) or ref == 0:
        return math.nan
    return float(value) / float(ref) - 1.0


def binomial_se(runs: Sequence[Mapping[str, Any]]) -> float:
    """The binomial SE of the mean over benchmarks of the mean over seeds of ``runs``' val accuracy."""
    seeds: dict[str, int] = {}
    for r in runs:
        seeds[r["benchmark"]] = seeds.get(r["benchmark"], 0) + 1
    var = 0.0
    for r in runs:
        n = r.get("val_n")
        if not n:
            raise ValueError(f"one_se needs the validation size of run {r['run_key']} ('val_n'); it was not recorded")
        p = val_score(r, "val_accuracy")
        w = 1.0 / (len(seeds) * seeds[r["benchmark"]])
        var += w * w * p * (1.0 - p) / n
    return math.sqrt(var)


def _mean(xs: Iterable[float]) -> float:
    xs = list(xs)
    return sum(xs) / len(xs) if xs else math.nan


def _candidate(label, order, runs, cells, criterion, mech, erm_of) -> Candidate:
    scores = [val_score(r, criterion) for r in runs]
    covered = {(r["benchmark"], r["seed"]) for r in runs}
    eligible = bool(runs) and covered == cells and all(r["status"] == "ok" for r in runs)
    eligible = eligible and not any(math.isnan(s) for s in scores)
    benches = list(dict.fromkeys(r["benchmark"] for r in runs))
    per_bench = {b: _mean(s for r, s in zip(runs, scores) if r["benchmark"] == b) for b in benches}
    changes = [mechanism_change(mech, r, erm_of(r)) for r in runs] if mech else []
    per_mech = {b: _mean(c for r, c in zip(runs, changes) if r["benchmark"] == b) for b in benches} if mech else {}
    return Candidate(
        label,
        order,
        eligible,
        _mean(per_bench.values()) if eligible else math.nan,
        per_bench,
        _mean(mech.direction * c for c in changes) if mech else math.nan,
        per_mech,
        None,
        tuple(r["run_key"] for r in runs),
        tuple(r["seed"] for r in runs),
        runs[0].get("params") if runs else None,
    )


def choose(
    records: Iterable[Mapping[str, Any]],
    candidates: Mapping[str, Sequence[str]],
    rule: str = "val_accuracy",
    per_suite: bool = False,
) -> dict[tuple[str, str], Choice]:
    """Per (benchmark — or ALL_BENCHMARKS with ``per_suite`` — , base regularizer): the chosen
    candidate with every candidate's numbers and the reason (module docstring for the rules).

    ``records``: the store's records labelled with the sweep's names (``labelled_records``),
    each with ``val_n``; ``candidates``: base display name → candidate labels in sweep order.
    """
    if rule not in RULES:
        raise ValueError(f"unknown selection rule '{rule}'; expected one of {list(RULES)}")
    records = list(records)
    by: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for r in records:
        by.setdefault((r["benchmark"], r["regularizer"]), []).append(r)
    erm = {(r["benchmark"], r["seed"]): r for r in records if r["regularizer"] == BASELINE and r["status"] == "ok"}
    benchmarks = list(dict.fromkeys(r["benchmark"] for r in records))
    groups = [(ALL_BENCHMARKS, benchmarks)] if per_suite else [(b, [b]) for b in benchmarks]
    criterion = "val_loss" if rule == "val_loss" else "val_accuracy"
    out: dict[tuple[str, str], Choice] = {}
    for group, benches in groups:
        for base, labels in candidates.items():
            runs_of = {
                label: sorted(
                    (r for b in benches for r in by.get((b, label), [])), key=lambda r: (r["benchmark"], r["seed"])
                )
                for label in labels
            }
            cells = {(r["benchmark"], r["seed"]) for runs in runs_of.values() for r in runs}
            if not cells:
                continue
            kind = next(r.get("regularizer_kind") for runs in runs_of.values() for r in runs)
            mech = mechanism_for(base, kind) if rule == "one_se" and base != BASELINE else None
            cands = [
                _candidate(
                    label, i, runs_of[label], cells, criterion, mech, lambda r: erm.get((r["benchmark"], r["seed"]))
                )
                for i, label in enumerate(labels)
            ]
            choice = _decide(group, base, rule, cands, mech, runs_of)
            if choice is not None:
                out[(group, base)] = choice
    return out


def _decide(group, base, rule, cands, mech, runs_of) -> Choice | None:
    ok = [c for c in cands if c.eligible]
    if not ok:
        return None
    sign = -1.0 if rule == "val_loss" else 1.0
    best = max(ok, key=lambda c: (sign * c.score, -c.order))  # ties go to the earlier candidate
    if rule != "one_se":
        reason = f"best mean {rule} {best.score:.4f} of {len(ok)} eligible candidates"
        return Choice(
            group, base, rule, best.label, best.label, best.score, None, None, None, None, reason, tuple(cands)
        )
    se = binomial_se(runs_of[best.label])
    low = best.score - se
    # inclusive, with a float tolerance: a candidate exactly one SE below the best is in the band
    cands = [replace(c, in_band=c.eligible and c.score >= low - 1e-12) for c in cands]
    band = [c for c in cands if c.in_band]
    name = (NUMBER_NAMES.get(mech.rule, mech.label)) if mech else None
    missing = [c.label for c in band if not math.isfinite(c.mechanism)]
    head = (
        f"best mean val accuracy {100 * best.score:.2f}% ({best.label}), SE {100 * se:.2f} points: "
        f"{len(band)} of {len(ok)} eligible candidates within one SE (>= {100 * low:.2f}%)"
    )
    if mech is None:
        pick, why = best, "no mechanism number: the best mean"
    elif missing:
        pick, why = best, f"{name} missing for {', '.join(missing)}: the best mean"
    else:
        pick = max(band, key=lambda c: (c.mechanism, -c.order))
        why = f"the largest mean change of the {name} in its direction against erm's ({100 * pick.mechanism:.1f}%)"
    return Choice(
        group,
        base,
        rule,
        pick.label,
        best.label,
        best.score,
        se,
        low,
        name,
        mech.rule if mech else None,
        f"{head}; {why}",
        tuple(cands),
    )
