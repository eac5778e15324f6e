"""Per-image outcomes in the store, and the leaderboard and `compare` built on them.

The store keeps each test split's cluster ids beside the targets (schema 3); the accuracy
cells come from ``crossed.cell_mean`` of the stored outcomes; the tiers and rank ranges come
from the same paired tests (``pairwise.all_pairs``) and never contradict them; and a constant
one-image gap on every seed is no verdict in ``compare``.
"""

from __future__ import annotations

import sqlite3
import zlib

import numpy as np
import pytest

from regbench.report.compare import build_sections
from regbench.report.stats import crossed, pairwise
from regbench.report.table.aggregate import aggregate
from regbench.store import RunRecord, Store

N_IMAGES = 240  # per split; two images per base image (cluster)
SPLITS = {"test_id": None, "ood/noise-1": "covariate", "ood/noise-2": "covariate", "ood/flip": "geometric"}
FP = "fp-synthetic"


def _pack(a, dtype) -> bytes:
    return zlib.compress(np.asarray(a).astype(dtype).tobytes())


def _labels():
    return np.arange(N_IMAGES) % 10


def _clusters():
    return np.arange(N_IMAGES) // 2  # every base image twice in each split, the same ids in every split


def record(bench: str, reg: str, seed: int, correct: dict[str, np.ndarray], fp: str = FP) -> RunRecord:
    """An ok run whose stored predictions are right exactly where ``correct`` says (split → bool (N,))."""
    y = _labels()
    metrics, preds, targets, clusters = [], {}, {}, {}
    for split, ok in correct.items():
        family = "id" if split == "test_id" else SPLITS[split]
        pred = np.where(ok, y, (y + 1) % 10)
        preds[split], targets[split], clusters[split] = (
            _pack(pred, np.int16),
            _pack(y, np.int16),
            _pack(_clusters(), np.int32),
        )
        for metric, value in (("accuracy", ok.mean()), ("ece", 0.05)):
            metrics.append(
                {
                    "split": split,
                    "family": family,
                    "shift": None,
                    "severity": None,
                    "metric": metric,
                    "value": float(value),
                    "n": N_IMAGES,
                }
            )
    for metric, value in (("train_seconds", 1.0), ("train_cpu_seconds", 1.0), ("train_accuracy", 0.99)):
        metrics.append({"split": "run", "metric": metric, "value": value})
    return RunRecord(
        run_key=f"{bench}|{reg}|{seed}",
        suite="syn",
        benchmark=bench,
        shift_kind="covariate",
        regularizer=reg,
        regularizer_kind="none" if reg == "erm" else "augmentation",
        params={},
        seed=seed,
        status="ok",
        metrics=metrics,
        predictions=preds,
        targets=targets,
        clusters=clusters,
        fingerprint=fp,
        spec={"model": "cnn", "train": {"epochs": 1}},
    )


def _outcomes(g, p_reg: float, seeds: int, image_effect: np.ndarray) -> list[dict[str, np.ndarray]]:
    """Per seed, split → correctness: P(correct) = p_reg + a shared per-base-image effect."""
    base = image_effect[_clusters()]
    return [
        {s: g.random(N_IMAGES) < np.clip(p_reg + base + (0.0 if s == "test_id" else -0.1), 0, 1) for s in SPLITS}
        for _ in range(seeds)
    ]


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    """A store of 2 benchmarks × 6 regularizers × 3 seeds, and the leaderboard aggregated from it."""
    g = np.random.default_rng(7)
    path = tmp_path_factory.mktemp("paired") / "store.sqlite"
    store = Store(path)
    regs = {"erm": 0.7, "mixup": 0.71, "l2": 0.74, "dropout": 0.8, "cutout": 0.6, "label_smoothing": 0.705}
    entries = []
    for b in ("bench-a", "bench-b"):
        effect = g.normal(0, 0.15, N_IMAGES // 2)
        for reg, p in regs.items():
            for seed, correct in enumerate(_outcomes(g, p, 3, effect)):
                rec = record(b, reg, seed, correct, fp=f"fp-{b}")
                store.put(rec)
                entries.append((rec.run_key, b, reg, seed))
    store.add_to_suite("syn", entries)
    suite = {
        "name": "syn",
        "benchmarks": [{"name": "bench-a"}, {"name": "bench-b"}],
        "primary_metric": "ood_accuracy",
        "seeds": [0, 1, 2],
    }
    runs, metrics, _ = store.frames("syn")
    outcomes = store.outcomes(runs["run_key"])
    return aggregate(runs, metrics, suite, reps=50, outcomes=outcomes), outcomes, store


def test_cluster_ids_round_trip(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    g = np.random.default_rng(0)
    correct = {s: g.random(N_IMAGES) < 0.8 for s in SPLITS}
    store.put(record("b", "erm", 0, correct))
    got = store.outcomes(["b|erm|0"])
    assert set(got) == {("b|erm|0", s) for s in SPLITS}
    for s, ok in correct.items():
        assert got["b|erm|0", s].correct.dtype == bool and np.array_equal(got["b|erm|0", s].correct, ok)
        assert np.array_equal(got["b|erm|0", s].clusters, _clusters())
        assert got["b|erm|0", s].fingerprint == FP


def test_a_schema_2_store_opens_and_gets_cluster_ids(tmp_path):
    """An old store (targets without cluster ids) still opens: each image is its own cluster
    until a run of that data records them."""
    path = tmp_path / "old.sqlite"
    store = Store(path)
    g = np.random.default_rng(1)
    rec = record("b", "erm", 0, {s: g.random(N_IMAGES) < 0.8 for s in SPLITS})
    rec.clusters = {}
    store.put(rec)
    store.close()
    db = sqlite3.connect(path)  # make it a schema-2 store: no clusters column
    db.executescript(
        "CREATE TABLE t2 AS SELECT fingerprint, split, labels FROM targets; DROP TABLE targets; "
        "ALTER TABLE t2 RENAME TO targets; UPDATE meta SET value='2' WHERE key='schema_version'; "
        "PRAGMA user_version=2;"
    )
    db.close()
    old = Store(path, readonly=True).outcomes(["b|erm|0"])
    assert np.array_equal(old["b|erm|0", "test_id"].clusters, np.arange(N_IMAGES))
    store = Store(path)  # opened for writing: migrated to schema 3
    assert store.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == "3"
    store.put(record("b", "erm", 1, {s: g.random(N_IMAGES) < 0.8 for s in SPLITS}))
    assert np.array_equal(store.outcomes(["b|erm|0"])["b|erm|0", "ood/flip"].clusters, _clusters())


def test_multi_split_ood_cell_is_the_crossed_cell_mean(board):
    lb, outcomes, _ = board
    cell = lb.per_benchmark.set_index(["benchmark", "regularizer"]).loc[("bench-a", "l2")]
    ood = [s for s in SPLITS if s.startswith("ood/")]
    keys = [f"bench-a|l2|{s}" for s in range(3)]
    x = [np.array([outcomes[k, s].correct for k in keys], dtype=float) for s in ood]
    est = crossed.cell_mean(x, [outcomes[keys[0], s].clusters for s in ood])
    assert cell["ood_accuracy"] == pytest.approx(est.mean, abs=1e-12)
    assert (cell["ood_accuracy_lo"], cell["ood_accuracy_hi"]) == pytest.approx((est.lo, est.hi), abs=1e-12)
    # the per-family column too: the covariate splits only
    cov = [s for s in ood if SPLITS[s] == "covariate"]
    fam = crossed.cell_mean(
        [np.array([outcomes[k, s].correct for k in keys], dtype=float) for s in cov],
        [outcomes[keys[0], s].clusters for s in cov],
    )
    assert cell["ood_acc_covariate_lo"] == pytest.approx(fam.lo, abs=1e-12)


def _check_tiers(frame, separated: dict):
    rows = frame.set_index("regularizer")
    for (a, b), sep in separated.items():
        shared = set(rows.loc[a, "tier"]) & set(rows.loc[b, "tier"])
        assert sep == (not shared), (a, b)
        if not sep:  # the tests cannot separate them: overlapping rank ranges
            assert rows.loc[a, "rank"] <= rows.loc[b, "rank_hi"] and rows.loc[b, "rank"] <= rows.loc[a, "rank_hi"]


def test_tiers_never_contradict_the_paired_tests(board):
    lb, outcomes, _ = board
    ood = [s for s in SPLITS if s.startswith("ood/")]
    for bench, frame in lb.per_benchmark.groupby("benchmark"):
        regs = sorted(frame["regularizer"])
        rows = [
            [np.array([outcomes[f"{bench}|{r}|{s}", sp].correct for s in range(3)], float) for sp in ood] for r in regs
        ]
        res = pairwise.all_pairs(rows, [outcomes[f"{bench}|erm|0", sp].clusters for sp in ood])
        separated = {(regs[i], regs[j]): bool(res.separated[i, j]) for i in range(len(regs)) for j in range(i)}
        assert any(separated.values()) and not all(separated.values())  # the check has both cases
        _check_tiers(frame, separated)
        assert 0 < lb.resolution[bench]["mdd"] < 0.2 and lb.resolution[bench]["seeds"] == 3
        assert list(frame["ood_accuracy"]) == sorted(frame["ood_accuracy"], reverse=True)
    # suite level: separated exactly where the letters say, and ranges consistent with them
    main = lb.main.set_index("regularizer")
    regs = list(main.index)
    for i, a in enumerate(regs):
        for b in regs[:i]:
            shared = set(main.loc[a, "tier"]) & set(main.loc[b, "tier"])
            if shared:
                assert main.loc[a, "rank"] <= main.loc[b, "rank_hi"] and main.loc[b, "rank"] <= main.loc[a, "rank_hi"]


def test_compare_tests_a_pair_exactly_as_the_leaderboard_does(board):
    """The table's pair test and compare's verdict are one test: the same difference, interval
    and p for 'dropout vs erm', with the seed variances moderated across the same six rows."""
    lb, outcomes, store = board
    records = store.records()  # what compare reads (commands.compare: labelled_records)
    others = ["erm", "mixup", "l2", "cutout", "label_smoothing"]
    sections = build_sections(records, "dropout", others, ["bench-a", "bench-b"], [0, 1, 2], outcomes=outcomes)
    table = lb.versus_erm.set_index(["metric", "benchmark", "regularizer"])
    for sec in sections[:2]:
        verdict = sec.diffs["erm"]["ood_accuracy"]
        row = table.loc[("ood_accuracy", sec.name, "dropout")]
        assert verdict.mean == pytest.approx(row["difference"], abs=1e-12)
        assert (verdict.lo, verdict.hi) == pytest.approx((row["lo"], row["hi"]), abs=1e-12)
        assert verdict.p_value == pytest.approx(row["p"], rel=1e-9)
    prior = pairwise.all_pairs(  # the six rows of bench-a: a fitted prior, so the test above had one
        [
            [
                np.array([outcomes[f"bench-a|{r}|{s}", sp].correct for s in range(3)], float)
                for sp in SPLITS
                if sp != "test_id"
            ]
            for r in ["dropout", *others]
        ],
        [outcomes["bench-a|erm|0", sp].clusters for sp in SPLITS if sp != "test_id"],
    ).seed_prior
    assert prior.pairs == 15 and prior.df > 0


def test_a_one_image_gap_on_every_seed_is_inconclusive():
    """Two rows that differ by exactly one image on every seed: the seed differences have no
    spread (the old paired t said p = 0, "win"); paired over images it is one discordant image."""
    g = np.random.default_rng(3)
    records, outcomes = [], {}
    for seed in range(3):
        base = {s: g.random(N_IMAGES) < 0.8 for s in SPLITS}
        better = {s: v.copy() for s, v in base.items()}
        for v in better.values():
            v[np.flatnonzero(~v)[0]] = True  # one more image right on every split, every seed
        for reg, correct in (("erm", base), ("new", better)):
            rec = record("b", reg, seed, correct)
            d = {**rec.__dict__, "metrics": {}}
            for m in rec.metrics:
                d["metrics"].setdefault(m["split"], {})[m["metric"]] = m["value"]
            records.append(d)
            for s, v in correct.items():
                outcomes[rec.run_key, s] = type("O", (), {"correct": v, "clusters": _clusters(), "fingerprint": FP})
    seed_only = build_sections(records, "new", ["erm"], ["b"], [0, 1, 2])
    assert seed_only[0].verdicts["erm"] == "win"  # what the seed-level t claims from a zero-spread gap
    sections = build_sections(records, "new", ["erm"], ["b"], [0, 1, 2], outcomes=outcomes)
    assert sections[0].verdicts["erm"] == "inconclusive"
    assert sections[0].diffs["erm"]["ood_accuracy"].mean == pytest.approx(1 / N_IMAGES)
    assert sections[-1].verdicts["erm"] == "inconclusive"
