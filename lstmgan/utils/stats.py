"""Confidence intervals for comparisons, and the verdict sentence they decide.

Every comparison in the compendium is reported as an estimate with a 95% interval, and its
verdict ("better" / "worse" / "not resolved") comes from whether the interval excludes zero,
never from a point estimate. The unit that is resampled is the one that is independent:
test *videos* (frames of one video are not independent) and, when a variant was trained with
several seeds, *seeds* and videos together (a two-level bootstrap), so the interval includes
seed-to-seed spread.

All functions are deterministic for a given ``seed`` and use percentile intervals.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable, Literal, Sequence

import numpy as np

Verdict = Literal["better", "worse", "higher", "lower", "not resolved"]

# The one list of metrics where a larger value is better (generation, then detection); every other
# metric (errors, distances, flicker, EER) is better lower, except the descriptive ones below.
# ``sharpness_dec`` (gradient energy of generated / real in the decoder-filled regions) counts as
# higher-is-better because the generators blur (ratios below 1); a ratio above 1 would be noise,
# which the table's mean shows. ``mouth_corr`` (output mouth opening against the driver's) and
# ``blinks_reproduced`` / ``blink_fraction`` (driver blinks the output shows) measure how much of
# the expression is transferred.
HIGHER_IS_BETTER = frozenset({"psnr", "ssim", "driver_aed", "sharpness_dec",
                              "mouth_corr", "blinks_reproduced", "blink_fraction",
                              "accuracy", "balanced_accuracy", "ap", "auc"})

# Measurements that describe *how* an output is made, with no better side: the share of the image
# the decoder paints (overall, in the open / closed mouth, in blinking / open eyes) and the number of
# driver blinks (a property of the test videos). Their comparisons say "higher" / "lower".
DESCRIPTIVE = frozenset({"decoder_share", "mouth_dec_open", "mouth_dec_closed", "eye_dec_blink",
                         "eye_dec_open", "blinks"})

# Cross-identity animation scores the same metrics under this prefix (``cross_mouth_corr``).
CROSS_PREFIX = "cross_"


def higher_is_better(metric: str) -> bool | None:
    """The direction ``metric`` prefers: True (higher), False (lower), None (descriptive, no side)."""
    base = metric[len(CROSS_PREFIX):] if metric.startswith(CROSS_PREFIX) else metric
    if base in DESCRIPTIVE:
        return None
    return base in HIGHER_IS_BETTER


@dataclass(frozen=True)
class Interval:
    """An estimate with a two-sided percentile interval at ``level`` (e.g. 0.95)."""

    estimate: float
    low: float
    high: float
    level: float = 0.95
    n: int = 0  # independent units resampled (videos, or seeds x videos)

    def excludes(self, value: float = 0.0) -> bool:
        """True when ``value`` lies outside [low, high] (the difference is resolved)."""
        return bool(value < self.low or value > self.high)

    def as_dict(self) -> dict[str, float]:
        return asdict(self)

    def __str__(self) -> str:
        from lstmgan.utils.tables import format_interval

        return format_interval(self.estimate, self.low, self.high, digits=4, significant=True)


def percentile_interval(replicates: np.ndarray, estimate: float, level: float = 0.95, n: int = 0) -> Interval:
    """Interval from bootstrap replicates: the (1-level)/2 and (1+level)/2 percentiles."""
    reps = np.asarray(replicates, dtype=float)
    reps = reps[np.isfinite(reps)]
    if reps.size == 0:
        return Interval(float(estimate), float("nan"), float("nan"), level, n)
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(reps, [alpha, 1.0 - alpha])
    return Interval(float(estimate), float(low), float(high), level, n)


def bootstrap_mean(values: Sequence[float] | np.ndarray, n_boot: int = 2000, level: float = 0.95,
                   seed: int = 0) -> Interval:
    """Mean of ``values`` (one per independent unit, e.g. per video) with a bootstrap interval."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return Interval(float("nan"), float("nan"), float("nan"), level, 0)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.size, size=(n_boot, x.size))
    return percentile_interval(x[idx].mean(axis=1), float(x.mean()), level, int(x.size))


def bootstrap_seeds_videos(values: np.ndarray, n_boot: int = 2000, level: float = 0.95,
                           seed: int = 0) -> Interval:
    """Mean of a (seeds, videos) table with a two-level bootstrap interval.

    Each replicate resamples seeds and videos independently with replacement and averages the
    selected cells, so the interval carries both seed-to-seed and video-to-video spread. A 1-D
    input is one seed. For a paired comparison pass the per-cell differences ``a - b`` (both
    variants evaluated on the same videos, seed ``i`` of one paired with seed ``i`` of the other
    only by position: the seeds are independent runs, so any pairing is as good).
    """
    x = np.asarray(values, dtype=float)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.size == 0:
        raise ValueError(f"expected a (seeds, videos) table, got shape {x.shape}")
    keep = np.isfinite(x).all(axis=0)
    x = x[:, keep]
    if x.shape[1] == 0:
        return Interval(float("nan"), float("nan"), float("nan"), level, 0)
    n_seeds, n_videos = x.shape
    rng = np.random.default_rng(seed)
    reps = np.empty(n_boot)
    for b in range(n_boot):
        s = rng.integers(0, n_seeds, size=n_seeds) if n_seeds > 1 else np.zeros(1, dtype=int)
        v = rng.integers(0, n_videos, size=n_videos)
        reps[b] = x[np.ix_(s, v)].mean()
    return percentile_interval(reps, float(x.mean()), level, int(n_seeds * n_videos))


def paired_difference(a: np.ndarray, b: np.ndarray, n_boot: int = 2000, level: float = 0.95,
                      seed: int = 0) -> Interval:
    """Mean of ``a - b`` over the same videos (and seeds), with a two-level bootstrap interval."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired tables differ in shape: {a.shape} vs {b.shape}")
    return bootstrap_seeds_videos(a - b, n_boot=n_boot, level=level, seed=seed)


def bootstrap_statistic(statistic: Callable[[np.ndarray], float], groups: Sequence | np.ndarray,
                        n_boot: int = 1000, level: float = 0.95, seed: int = 0) -> Interval:
    """A statistic of many rows (e.g. ROC-AUC over frames) resampled by group (e.g. video).

    ``statistic(index)`` receives row indices (with repeats) and returns a number; ``groups``
    gives each row's group. Replicates draw whole groups with replacement, so rows of one group
    (frames of one video) stay together. Replicates where the statistic is undefined (NaN, e.g.
    a resample with one class only) are dropped.
    """
    groups = np.asarray(groups)
    uniq, inverse = np.unique(groups, return_inverse=True)
    members = [np.flatnonzero(inverse == g) for g in range(len(uniq))]
    rng = np.random.default_rng(seed)
    reps = np.empty(n_boot)
    for b in range(n_boot):
        pick = rng.integers(0, len(members), size=len(members))
        reps[b] = statistic(np.concatenate([members[i] for i in pick]))
    return percentile_interval(reps, float(statistic(np.arange(len(groups)))), level, len(uniq))


def verdict(diff: Interval, higher_is_better: bool | None) -> Verdict:
    """"better" / "worse" when the interval of (A - B) excludes 0, else "not resolved"; for a
    descriptive metric (``higher_is_better`` None) "higher" / "lower" instead of a judgement."""
    if not np.isfinite(diff.low) or not diff.excludes(0.0):
        return "not resolved"
    a_higher = diff.low > 0
    if higher_is_better is None:
        return "higher" if a_higher else "lower"
    return "better" if a_higher == higher_is_better else "worse"


def verdict_sentence(a: str, b: str, metric: str, diff: Interval, higher_is_better: bool | None) -> str:
    """One sentence stating the verdict and the interval it rests on."""
    v = verdict(diff, higher_is_better)
    pct = int(round(diff.level * 100))
    if v == "not resolved":
        return (f"{a} vs {b} on {metric}: not resolved at this budget "
                f"(difference {diff}, {pct}% interval includes 0).")
    if higher_is_better is None:
        return (f"{a} has {v} {metric} than {b} (descriptive, no better side; difference {diff}, "
                f"{pct}% interval excludes 0).")
    return f"{a} is {v} than {b} on {metric} (difference {diff}, {pct}% interval excludes 0)."
