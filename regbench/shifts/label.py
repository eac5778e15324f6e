"""Label shift: P(y) changes, P(x|y) does not.

The test part is re-sampled, class by class, to target class priors:
Dirichlet shift (priors drawn from Dirichlet(α·1)) and tweak-one shift (one class at ρ,
the others share 1 − ρ evenly), both from Lipton, Wang & Smola 2018, "Detecting and
Correcting for Label Shift with Black Box Predictors" (https://arxiv.org/abs/1802.03916).
Small α gives priors concentrated on a few classes, large α priors close to uniform. The
achieved total-variation distance to the *training* prior is recorded for every split so
that accuracy can be plotted against the size of the shift.

Sampling is without replacement by default: a split never holds the same image twice. A
concentrated prior then limits the split's size to what the held-out test part holds of its
largest class (``feasible_size``): on digits' 225-image label-shift shard of the held-out
images (shifts/held_out.py) an α = 0.1 split may keep only a few dozen images, and says so
in ``split_info`` (``unique_images``, ``requested_size``); its binomial error enters the leaderboard's interval. Drawing with replacement
(``sampling: with_replacement``) keeps the requested size but repeats images (an α = 0.1
split of 450 held only 134 unique images), so it is opt-in.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from regbench.data.base import Examples, Loaded, Splits
from regbench.seeding import numpy_generator
from regbench.shifts import register_shift
from regbench.shifts.base import Shift, base_splits
from regbench.shifts.params.label import LabelShiftParams
from regbench.shifts.held_out import unique_images


def class_prior(y: torch.Tensor, num_classes: int) -> np.ndarray:
    """Empirical class distribution of labels y (N,): (K,) float64 summing to 1."""
    counts = torch.bincount(y, minlength=num_classes).double().numpy()
    return counts / counts.sum()


def tv_distance(p: np.ndarray, q: np.ndarray) -> float:
    """Total-variation distance ½ Σ_k |p_k − q_k| between two (K,) distributions."""
    return float(0.5 * np.abs(np.asarray(p) - np.asarray(q)).sum())


def prior_counts(prior: np.ndarray, size: int) -> np.ndarray:
    """(K,) int counts summing to ``size`` closest to ``prior · size`` (largest remainder).

    Rounding instead of a multinomial draw keeps the achieved prior within 1/size of the
    target, so the recorded TV distance measures the intended shift, not sampling noise.
    """
    exact = prior * size
    counts = np.floor(exact).astype(np.int64)
    remainder = size - counts.sum()
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[:remainder]] += 1
    return counts


def feasible_size(prior: np.ndarray, available: np.ndarray, at_most: int) -> int:
    """Largest n <= ``at_most`` whose rounded counts ``prior_counts(prior, n)`` fit ``available`` (K,).

    A class the pool lacks may still appear in the prior if its count rounds to 0.
    """
    prior, available = np.asarray(prior, dtype=np.float64), np.asarray(available, dtype=np.int64)
    held = (prior > 0) & (available > 0)
    n = int(min(at_most, available.sum(), *np.floor(available[held] / prior[held])))
    while n > 0 and np.any(prior_counts(prior, n) > available):
        n -= 1  # largest-remainder rounding can ask one more than floor(n · prior)
    return n


def resample_to_prior(
    test: Examples, prior: np.ndarray, size: int, rng: np.random.Generator, replace: bool = False
) -> Examples:
    """Draw ``size`` examples of ``test`` per class to match ``prior`` (K,).

    ``replace=False`` needs ``size <= feasible_size``: each example is drawn at most once.
    """
    counts = prior_counts(prior, size)
    chosen = []
    for c in np.nonzero(counts)[0]:
        pool = torch.nonzero(test.y == int(c)).flatten().numpy()
        if len(pool) == 0:
            raise ValueError(f"label shift needs test examples of class {c} (target prior {prior[c]:.3f}), found none")
        if not replace and counts[c] > len(pool):
            raise ValueError(
                f"class {c}: {counts[c]} examples wanted without replacement, the test part has {len(pool)}"
            )
        picked = rng.integers(len(pool), size=counts[c]) if replace else rng.permutation(len(pool))[: counts[c]]
        chosen.append(pool[picked])
    index = np.sort(np.concatenate(chosen))
    return test.subset(torch.from_numpy(index))


@register_shift("label")
class LabelShift(Shift):
    """Dirichlet and tweak-one label shift (Lipton et al. 2018, arXiv:1802.03916)."""

    family = "label"
    Params = LabelShiftParams

    def target_priors(self, num_classes: int, seed: int) -> dict[str, tuple[np.ndarray, dict[str, Any]]]:
        """Split name → (target prior (K,), description). Each split has its own named seed."""
        p: LabelShiftParams = self.params  # type: ignore[assignment]
        out: dict[str, tuple[np.ndarray, dict[str, Any]]] = {}
        for alpha in p.dirichlet_alpha:
            for draw in range(p.draws_per_alpha):
                rng = numpy_generator(seed, "shift", "label", "dirichlet", alpha, draw)
                prior = rng.dirichlet(np.full(num_classes, alpha))
                out[f"dirichlet_{alpha:g}/{draw}"] = (prior, {"shift": "dirichlet", "alpha": alpha, "draw": draw})
        if p.tweak_one:
            # One class for all ρ, so that the tweak-one splits form a monotone series.
            tweaked = int(numpy_generator(seed, "shift", "label", "tweak_one").integers(num_classes))
            for rho in p.tweak_one:
                if num_classes == 1:
                    prior = np.ones(1)
                else:
                    prior = np.full(num_classes, (1 - rho) / (num_classes - 1))
                    prior[tweaked] = rho
                out[f"tweak_one_{rho:g}"] = (prior, {"shift": "tweak_one", "rho": rho, "class": tweaked})
        return out

    def apply(self, loaded: Loaded, seed: int) -> Splits:
        """train/val as loaded; test_id = the test part; one OOD split per target prior."""
        train, val, pool = base_splits(loaded)
        test, held_out = self.test_part(pool, seed)
        k = loaded.info.num_classes
        size = self.params.size or len(test)  # type: ignore[attr-defined]
        train_prior = class_prior(train.y, k)
        ood: dict[str, Examples] = {}
        split_info: dict[str, dict[str, Any]] = {}
        test_prior = class_prior(test.y, k)
        split_info["test_id"] = {
            "family": self.family,
            "shift": "none",
            "unique_images": len(test),
            "achieved_prior": test_prior.tolist(),
            "tv_distance": tv_distance(test_prior, train_prior),
            **held_out,
        }
        available = torch.bincount(test.y, minlength=k).numpy()
        replace = self.params.sampling == "with_replacement"  # type: ignore[attr-defined]
        for name, (prior, desc) in self.target_priors(k, seed).items():
            rng = numpy_generator(seed, "shift", "label", "sample", name)
            n = size if replace else feasible_size(prior, available, size)
            if n == 0:
                c = int(np.argmax(np.where(available == 0, prior, -1.0)))  # the most-wanted missing class
                raise ValueError(
                    f"label shift needs test examples of class {c} (target prior {prior[c]:.3f}), found none"
                )
            ood[name] = resample_to_prior(test, prior, n, rng, replace)
            achieved = class_prior(ood[name].y, k)
            split_info[name] = {
                "family": self.family,
                **desc,
                "target_prior": prior.tolist(),
                "achieved_prior": achieved.tolist(),
                "train_prior": train_prior.tolist(),
                "tv_distance": tv_distance(achieved, train_prior),
                "target_tv_distance": tv_distance(prior, train_prior),
                "sampling": self.params.sampling,  # type: ignore[attr-defined]
                "requested_size": size,
                "unique_images": unique_images(ood[name]),
                **held_out,
            }
        return Splits(train, val, test, ood, loaded.info, split_info)
