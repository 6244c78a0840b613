"""The detector comparison decided by intervals: per-stage metrics with 95% bootstrap intervals over
test videos, paired differences between detectors on the same videos, a ranking that only orders
what is resolved, and the thesis's claims side by side with ours.

Every interval comes from :func:`lstmgan.utils.stats.bootstrap_statistic` resampling **test
videos** (frames of one video stay together; at video level each video is one row), percentile
95%. A difference between two detectors is *resolved* when the paired interval (both detectors'
scores on the same resampled videos) excludes 0 (:func:`lstmgan.utils.stats.verdict`).

Tables (Markdown + CSV, stable column names; see docs/detection.md), under ``tables_dir``:

- ``detect_intervals``: one row per stage x level (frame, video): ``model, variant, weights,
  architecture, level, n_videos, n_rows`` and ``<metric>, <metric>_low, <metric>_high`` for
  ``accuracy, ap, auc, eer``, plus ``auc_above_chance`` (the interval's low end > 0.5) and
  ``val_auc`` (the selected epoch's validation AUC);
- ``detect_pairwise``: one row per pair of stages x metric x level: ``a, b, metric, level,
  difference, low, high, verdict`` (better / worse / not resolved, said of ``a``);
- ``detect_ranking``: ``stage, model, variant, auc, auc_low, auc_high, rank, above, tied_with``:
  rank = 1 + the number of stages resolved better on frame AUC (ties share a rank);
- ``detect_thesis``: ``claim, thesis, ours, verdict, why``, one row per claim of the thesis.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from lstmgan.utils.io import atomic_write_text, read_metrics
from lstmgan.utils.stats import Interval, bootstrap_statistic, higher_is_better, verdict
from lstmgan.utils.tables import format_interval, markdown_table

log = logging.getLogger(__name__)

METRICS = ("accuracy", "ap", "auc", "eer")
LEVELS = ("frame", "video")


# ------------------------------------------------------------------------------------------------
# Fast metrics (the same definitions as lstmgan.detect.metrics, in numpy, for thousands of resamples)
# ------------------------------------------------------------------------------------------------
def fast_accuracy(y: np.ndarray, s: np.ndarray) -> float:
    return float(np.mean((s >= 0.5).astype(int) == y)) if y.size else float("nan")


def _ranks(s: np.ndarray) -> np.ndarray:
    """Average ranks (1-based; ties share the mean rank)."""
    order = np.argsort(s, kind="mergesort")
    sorted_s = s[order]
    ranks = np.empty(len(s))
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_s)) + 1]
    ends = np.r_[starts[1:], len(s)]
    for a, b in zip(starts, ends):
        ranks[order[a:b]] = (a + b + 1) / 2.0
    return ranks


def fast_auc(y: np.ndarray, s: np.ndarray) -> float:
    """ROC-AUC by the Mann-Whitney statistic (ties count one half); NaN with one class."""
    n1 = int(y.sum())
    n0 = y.size - n1
    if n0 == 0 or n1 == 0:
        return float("nan")
    r = _ranks(s)
    return float((r[y == 1].sum() - n1 * (n1 + 1) / 2.0) / (n0 * n1))


def _roc(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct thresholds (descending) with cumulative true and false positives."""
    order = np.argsort(-s, kind="mergesort")
    s_sorted, y_sorted = s[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(s_sorted)), y.size - 1]
    tps = np.cumsum(y_sorted)[last]
    fps = (last + 1) - tps
    return tps.astype(float), fps.astype(float), s_sorted[last]


def fast_ap(y: np.ndarray, s: np.ndarray) -> float:
    """Average precision as sklearn's step sum: sum over thresholds of (R_n - R_{n-1}) P_n."""
    n1 = int(y.sum())
    if n1 == 0 or n1 == y.size:
        return float("nan")
    tps, fps, _ = _roc(y, s)
    precision = tps / (tps + fps)
    recall = tps / n1
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def fast_eer(y: np.ndarray, s: np.ndarray) -> float:
    """Equal error rate, interpolated where FPR - FNR changes sign (as metrics.equal_error_rate)."""
    n1 = int(y.sum())
    n0 = y.size - n1
    if n0 == 0 or n1 == 0:
        return float("nan")
    tps, fps, _ = _roc(y, s)
    tpr = np.r_[0.0, tps / n1]
    fpr = np.r_[0.0, fps / n0]
    diff = fpr - (1.0 - tpr)
    i = int(np.argmax(diff >= 0))
    if diff[i] == 0 or i == 0:
        return float(fpr[i])
    t = diff[i - 1] / (diff[i - 1] - diff[i])
    return float(fpr[i - 1] + t * (fpr[i] - fpr[i - 1]))


METRIC_FUNCTIONS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "accuracy": fast_accuracy, "ap": fast_ap, "auc": fast_auc, "eer": fast_eer}


# ------------------------------------------------------------------------------------------------
# Intervals
# ------------------------------------------------------------------------------------------------
@dataclass
class Scored:
    """Test scores of one stage at one level: labels, scores and each row's video (the resampled unit)."""

    y: np.ndarray
    s: np.ndarray
    videos: np.ndarray
    keys: np.ndarray  # row identity for pairing (frame path or video key)


def level_scores(frames, level: str) -> Scored:
    """``frames``: a predictions table (``label, p_fake, method, video_id`` [, ``path``]).

    ``frame``: one row per frame; ``video``: one row per video (mean fake probability)."""
    labels = frames["label"].astype(str).to_numpy()
    y_frames = ((labels == "fake") | (labels == "1")).astype(int)
    video_key = (frames["method"].astype(str) + "/" + frames["video_id"].astype(str)).to_numpy()
    if level == "frame":
        keys = frames["path"].astype(str).to_numpy() if "path" in frames else \
            np.char.add(video_key.astype(str), "#" + frames["frame"].astype(str).to_numpy())
        return Scored(y_frames, frames["p_fake"].to_numpy(float), video_key, keys)
    if level != "video":
        raise ValueError(f"level must be frame or video, got {level!r}")
    uniq, inv = np.unique(video_key, return_inverse=True)
    s = np.bincount(inv, weights=frames["p_fake"].to_numpy(float)) / np.bincount(inv)
    y = np.zeros(len(uniq), dtype=int)
    y[inv] = y_frames
    return Scored(y, s, uniq, uniq)


def metric_interval(scored: Scored, metric: str, n_boot: int = 1000, seed: int = 0) -> Interval:
    """``metric`` with its 95% interval, resampling videos."""
    fn = METRIC_FUNCTIONS[metric]
    return bootstrap_statistic(lambda idx: fn(scored.y[idx], scored.s[idx]), scored.videos, n_boot=n_boot,
                               seed=seed)


def paired_interval(a: Scored, b: Scored, metric: str, n_boot: int = 1000, seed: int = 0) -> Interval:
    """metric(a) - metric(b) on the rows both scored, resampling videos (the same for both)."""
    common, ia, ib = np.intersect1d(a.keys, b.keys, return_indices=True)
    if common.size == 0:
        return Interval(float("nan"), float("nan"), float("nan"))
    ya, sa, sb, groups = a.y[ia], a.s[ia], b.s[ib], a.videos[ia]
    fn = METRIC_FUNCTIONS[metric]
    return bootstrap_statistic(lambda idx: fn(ya[idx], sa[idx]) - fn(ya[idx], sb[idx]), groups,
                               n_boot=n_boot, seed=seed)


# ------------------------------------------------------------------------------------------------
# Ranking
# ------------------------------------------------------------------------------------------------
def rank_resolved(names: Sequence[str], better: Callable[[str, str], bool]) -> dict[str, dict[str, Any]]:
    """Rank by resolved pairwise wins only.

    ``better(a, b)`` says whether ``a`` is resolved better than ``b``. rank(a) = 1 + the number of
    stages resolved better than ``a``; ``above`` lists the stages ``a`` is resolved better than,
    ``tied_with`` those it is not resolved against (either way). Unresolved pairs never get an order.
    """
    out = {}
    for a in names:
        beaten_by = [b for b in names if b != a and better(b, a)]
        above = [b for b in names if b != a and better(a, b)]
        tied = [b for b in names if b != a and b not in beaten_by and b not in above]
        out[a] = {"rank": 1 + len(beaten_by), "above": above, "tied_with": tied}
    return out


# ------------------------------------------------------------------------------------------------
# Reading the stages and writing the tables
# ------------------------------------------------------------------------------------------------
def read_predictions(run_dir: str | Path, compression: str):
    """A run's ``predictions.csv``, the test frames at ``compression`` only."""
    import pandas as pd

    frames = pd.read_csv(Path(run_dir) / "predictions.csv", keep_default_na=False,
                         dtype={"video_id": str, "method": str, "label": str, "path": str})
    if "compression" in frames:
        frames = frames[frames["compression"] == compression]
    return frames.reset_index(drop=True)


def load_stages(reports_dir: str | Path) -> dict[str, dict[str, Any]]:
    """``{stage: {"metrics": metrics.json, "frames": test predictions at the training compression}}``."""
    stages = {}
    for path in sorted(Path(reports_dir).glob("*/metrics.json")):
        metrics = read_metrics(path)
        if not (path.parent / "predictions.csv").is_file():
            log.warning("%s: no predictions.csv; skipped", path.parent)
            continue
        frames = read_predictions(path.parent, metrics.get("train_compression", "raw"))
        stages[path.parent.name] = {"metrics": metrics, "frames": frames}
    return stages


def _fmt(iv: Interval | None, digits: int = 3) -> str:
    return "n/a" if iv is None else format_interval(iv.estimate, iv.low, iv.high, digits)


def interval_table(stages: dict[str, dict[str, Any]], n_boot: int = 1000, seed: int = 0):
    """The ``detect_intervals`` DataFrame and the Interval objects ``{(stage, level, metric): Interval}``."""
    import pandas as pd

    rows, intervals = [], {}
    for name, st in stages.items():
        m = st["metrics"]
        for level in LEVELS:
            scored = level_scores(st["frames"], level)
            row = {"stage": name, "model": m["model"], "variant": m["variant"], "weights": m.get("weights", ""),
                   "architecture": m.get("architecture", m["model"]), "level": level,
                   "n_videos": int(np.unique(scored.videos).size), "n_rows": int(scored.y.size)}
            for metric in METRICS:
                iv = metric_interval(scored, metric, n_boot, seed)
                intervals[(name, level, metric)] = iv
                row.update({metric: iv.estimate, f"{metric}_low": iv.low, f"{metric}_high": iv.high})
            row["auc_above_chance"] = bool(np.isfinite(row["auc_low"]) and row["auc_low"] > 0.5)
            best = m.get("best_record") or {}
            row["val_auc"] = best.get("val_auc")
            row["train_acc"] = best.get("train_acc_eval")  # the selected epoch, no dropout: does val follow it?
            row["val_acc"] = best.get("val_acc")
            row["image_size"], row["epochs"], row["best_epoch"] = m.get("image_size"), m.get("epochs"), m.get("best_epoch")
            row["train_time_s"], row["stage_time_s"] = m.get("train_time_s"), m.get("stage_time_s")
            rows.append(row)
    return pd.DataFrame(rows), intervals


def pairwise_table(stages: dict[str, dict[str, Any]], metrics: Sequence[str] = ("auc", "accuracy"),
                   levels: Sequence[str] = LEVELS, n_boot: int = 1000, seed: int = 0):
    """Paired differences (a - b) for every pair of stages, metric and level, with the verdict."""
    import pandas as pd

    names = list(stages)
    scored = {(n, lv): level_scores(stages[n]["frames"], lv) for n in names for lv in levels}
    rows = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            for metric in metrics:
                for lv in levels:
                    iv = paired_interval(scored[(a, lv)], scored[(b, lv)], metric, n_boot, seed)
                    rows.append({"a": a, "b": b, "metric": metric, "level": lv, "difference": iv.estimate,
                                 "low": iv.low, "high": iv.high, "verdict": verdict(iv, higher_is_better(metric))})
    return pd.DataFrame(rows, columns=["a", "b", "metric", "level", "difference", "low", "high", "verdict"])


def ranking_table(intervals_df, pairwise_df, metric: str = "auc", level: str = "frame"):
    """Stages ranked on ``metric`` at ``level`` by resolved paired differences only."""
    import pandas as pd

    sub = pairwise_df[(pairwise_df["metric"] == metric) & (pairwise_df["level"] == level)]
    wins = set()
    for r in sub.itertuples(index=False):
        if r.verdict == "better":
            wins.add((r.a, r.b))
        elif r.verdict == "worse":
            wins.add((r.b, r.a))
    est = intervals_df[intervals_df["level"] == level].set_index("stage")
    names = list(est.index)
    ranks = rank_resolved(names, lambda x, y: (x, y) in wins)
    rows = [{"stage": n, "model": est.loc[n, "model"], "variant": est.loc[n, "variant"],
             metric: est.loc[n, metric], f"{metric}_low": est.loc[n, f"{metric}_low"],
             f"{metric}_high": est.loc[n, f"{metric}_high"], "rank": ranks[n]["rank"],
             "above": " ".join(ranks[n]["above"]), "tied_with": " ".join(ranks[n]["tied_with"])} for n in names]
    out = pd.DataFrame(rows)
    return out.sort_values(["rank", metric], ascending=[True, False], kind="stable").reset_index(drop=True)


# ------------------------------------------------------------------------------------------------
# The thesis, claim by claim
# ------------------------------------------------------------------------------------------------
THESIS_MODELS = {"vgg19": "VGG19", "densenet121": "DenseNet121", "custom_cnn": "custom CNN", "resnet18": "ResNet18"}


def _value_verdict(iv: Interval | None, value: float) -> str:
    """agree when the thesis's value lies in our interval; else ours is higher / lower."""
    if iv is None or not np.isfinite(iv.low):
        return "not measured"
    if iv.low <= value <= iv.high:
        return "agree"
    return "ours higher" if iv.low > value else "ours lower"


def _paired(pairwise: Any, a: str, b: str) -> tuple[float, float, float] | None:
    """(a - b, low, high) from a pairwise table that holds the pair in either order; None if absent."""
    r = pairwise[((pairwise.a == a) & (pairwise.b == b)) | ((pairwise.a == b) & (pairwise.b == a))]
    if r.empty:
        return None
    r = r.iloc[0]
    sign = 1.0 if r.a == a else -1.0
    lo, hi = sorted((sign * r.low, sign * r.high))
    return sign * r.difference, lo, hi



def thesis_table(intervals: dict, pairwise_df, stages: dict[str, dict[str, Any]], n_boot: int = 1000, seed: int = 0):
    """One row per claim of the thesis's detection chapter: its figure, ours (frame level, test,
    95% interval), the verdict and why (from the intervals and what differs in our set-up)."""
    import pandas as pd

    def stage(model: str, variant: str) -> str | None:
        name = f"{model}-{variant}"
        return name if name in stages else None

    def iv(model: str, variant: str, metric: str) -> Interval | None:
        s = stage(model, variant)
        return intervals.get((s, "frame", metric)) if s else None

    def arch(model: str) -> str:
        archs = {st["metrics"].get("architecture", model) for st in stages.values() if st["metrics"]["model"] == model}
        weights = {st["metrics"].get("weights", "") for st in stages.values() if st["metrics"]["model"] == model}
        return f"{'/'.join(sorted(archs)) or model}, {'/'.join(sorted(weights))}"

    size = next((st["metrics"].get("image_size") for st in stages.values()), None)
    setting = f"ours: {size} px procedural faces, fakes by our 64 px generators"
    rows = []
    # 1. VGG19 has the highest accuracy (on base data)
    vgg = stage("vgg19", "base")
    if vgg:
        sub = pairwise_df[(pairwise_df["metric"] == "accuracy") & (pairwise_df["level"] == "frame")]
        res = []
        for other in [s for s in stages if s.endswith("-base") and s != vgg]:
            r = sub[((sub.a == vgg) & (sub.b == other)) | ((sub.a == other) & (sub.b == vgg))]
            if r.empty:
                continue
            r = r.iloc[0]
            v = r.verdict if r.a == vgg else {"better": "worse", "worse": "better"}.get(r.verdict, r.verdict)
            res.append((other, v))
        beats = [o for o, v in res if v == "better"]
        loses = [o for o, v in res if v == "worse"]
        v = ("agree" if len(beats) == len(res) and res else "disagree" if loses else "not resolved")
        rows.append({"claim": "VGG19 has the highest accuracy", "thesis": "highest of the detectors",
                     "ours": f"vgg19-base accuracy {_fmt(iv('vgg19', 'base', 'accuracy'))}; resolved better than "
                             f"{', '.join(beats) or 'none'}; resolved worse than {', '.join(loses) or 'none'}",
                     "verdict": v,
                     "why": f"{arch('vgg19')}; {setting}; a claim of order needs every paired interval to exclude 0"})
    # 2. VGG19 AP 0.95
    for claim, model, variants, metric, value in (
            ("VGG19 AP 0.95", "vgg19", ("base",), "ap", 0.95),
            ("DenseNet accuracy 0.94 (augmented, grayscale)", "densenet121", ("augmented", "grayscale"), "accuracy", 0.94),
            ("DenseNet AP 0.99 (augmented, grayscale)", "densenet121", ("augmented", "grayscale"), "ap", 0.99),
            ("custom CNN accuracy 0.89", "custom_cnn", ("base",), "accuracy", 0.89)):
        for variant in variants:
            interval = iv(model, variant, metric)
            if interval is None:
                continue
            rows.append({"claim": claim, "thesis": f"{value:.2f}",
                         "ours": f"{model}-{variant} {metric} {_fmt(interval)}",
                         "verdict": _value_verdict(interval, value),
                         "why": f"{arch(model)}; {setting}; agree = the thesis's figure lies in our 95% interval"})
    # 3. augmentation lowers DenseNet and the custom CNN by 5-22%
    sub = pairwise_df[(pairwise_df["metric"] == "accuracy") & (pairwise_df["level"] == "frame")]
    for model in ("densenet121", "custom_cnn"):
        base, aug = stage(model, "base"), stage(model, "augmented")
        if not (base and aug):
            continue
        found = _paired(sub, aug, base)
        if found is None:
            continue
        d, lo, hi = found
        base_acc = intervals[(base, "frame", "accuracy")].estimate
        rel = [100 * x / base_acc for x in (d, lo, hi)] if base_acc else [float("nan")] * 3
        if hi < 0:
            v = "agree" if -22 <= rel[0] <= -5 or (rel[1] <= -5 and rel[2] >= -22) else "agree in direction"
        elif lo > 0:
            v = "disagree (augmentation raises it)"
        else:
            v = "not resolved"
        rows.append({"claim": f"augmentation lowers {THESIS_MODELS[model]} accuracy by 5-22%", "thesis": "-5% to -22%",
                     "ours": f"augmented - base: {format_interval(d, lo, hi, signed=True)} "
                             f"({format_interval(*rel, digits=1, signed=True)} %)",
                     "verdict": v,
                     "why": f"paired over the same test videos; {setting}; augmentation (rotation 40 deg, perspective, "
                            "colour jitter, erasing) also hides the generators' blur and colour artefacts"})
    # 4. pretraining is what puts a large backbone ahead (ImageNet in the thesis; face-id pretraining here)
    sub = pairwise_df[(pairwise_df["metric"] == "auc") & (pairwise_df["level"] == "frame")]
    for name in stages:
        if not name.endswith("-faceid"):
            continue
        scratch = name[: -len("-faceid")] + "-scratch"
        found = _paired(sub, name, scratch)
        if found is None:
            continue
        d, lo, hi = found
        v = "pretraining helps" if lo > 0 else "pretraining hurts" if hi < 0 else "not resolved"
        model = stages[name]["metrics"]["model"]
        rows.append({"claim": f"pretraining puts {THESIS_MODELS.get(model, model)} ahead", "thesis": "ImageNet pretraining explains VGG19's lead",
                     "ours": f"face-id - scratch frame AUC {format_interval(d, lo, hi, signed=True)} "
                             f"(scratch {_fmt(intervals.get((scratch, 'frame', 'auc')))}, face-id {_fmt(intervals.get((name, 'frame', 'auc')))})",
                     "verdict": v,
                     "why": f"{arch(model)}; in-domain identity pretraining on the GAN's 104 training people (ImageNet "
                            "weights are not available here), then the same detection fine-tuning; paired over test videos"})
    return pd.DataFrame(rows, columns=["claim", "thesis", "ours", "verdict", "why"])


# ------------------------------------------------------------------------------------------------
# Transfer: across generators, and from compressed training data
# ------------------------------------------------------------------------------------------------
def _method_scores(frames, method: str) -> Scored:
    """Frame scores of the reals and the fakes of one generator (``method``)."""
    rows = frames[(frames["label"].astype(str) == "real") | (frames["method"].astype(str) == method)]
    return level_scores(rows.reset_index(drop=True), "frame")


def cross_generator_table(reports_dir: str | Path, n_boot: int = 1000, seed: int = 0):
    """Does a detector trained on one generator's fakes find the other's?

    Reads every ``<stage>/predictions_cross.csv`` (written with ``detect.cross_method``): the test
    frames scored by one detector per training generator. One row per stage x trained-on x tested-on:
    frame AUC of the reals against the tested generator's fakes with its interval, and for a
    cross-generator row the *transfer gap*, AUC of the detector trained on the tested generator minus
    this one's, paired on the same frames (positive = transfer loses AUC). Columns ``stage, trained_on,
    tested_on, auc, auc_low, auc_high, above_chance, gap, gap_low, gap_high, gap_verdict, sentence``
    (the verdict sentence of a cross-generator row, derived from its intervals).
    """
    import pandas as pd

    rows = []
    for path in sorted(Path(reports_dir).glob("*/predictions_cross.csv")):
        cross = pd.read_csv(path, keep_default_na=False,
                            dtype={"video_id": str, "method": str, "label": str, "path": str, "trained_on": str})
        trained = sorted(cross["trained_on"].unique())
        tested = sorted(m for m in cross["method"].unique() if m in trained)
        scored = {(a, t): _method_scores(cross[cross["trained_on"] == a], t) for a in trained for t in tested}
        for a in trained:
            for t in tested:
                iv = metric_interval(scored[(a, t)], "auc", n_boot, seed)
                row = {"stage": path.parent.name, "trained_on": a, "tested_on": t, "auc": iv.estimate,
                       "auc_low": iv.low, "auc_high": iv.high,
                       "above_chance": bool(np.isfinite(iv.low) and iv.low > 0.5),
                       "gap": float("nan"), "gap_low": float("nan"), "gap_high": float("nan"), "gap_verdict": ""}
                if a != t:
                    gap = paired_interval(scored[(t, t)], scored[(a, t)], "auc", n_boot, seed)
                    row.update(gap=gap.estimate, gap_low=gap.low, gap_high=gap.high,
                               gap_verdict=verdict(gap, False))  # "better" = a smaller gap = no loss
                rows.append(row)
    df = pd.DataFrame(rows, columns=["stage", "trained_on", "tested_on", "auc", "auc_low", "auc_high",
                                     "above_chance", "gap", "gap_low", "gap_high", "gap_verdict"])
    cross = df["trained_on"] != df["tested_on"]
    df["sentence"] = ""
    df.loc[cross, "sentence"] = cross_generator_sentences(df)
    return df


def cross_generator_sentences(df) -> list[str]:
    """One verdict sentence per cross-generator row, derived from its intervals."""
    out = []
    for r in df[df["trained_on"] != df["tested_on"]].itertuples(index=False):
        own = df[(df["stage"] == r.stage) & (df["trained_on"] == r.tested_on) & (df["tested_on"] == r.tested_on)]
        finds = "finds them" if r.above_chance else "does not find them (its interval reaches 0.5)"
        gap = Interval(r.gap, r.gap_low, r.gap_high)
        if not np.isfinite(gap.low):
            cost = "the transfer gap is not measured"
        elif gap.low > 0:
            cost = f"transfer costs {format_interval(gap.estimate, gap.low, gap.high, signed=True)} AUC (resolved)"
        elif gap.high < 0:
            cost = f"it scores higher than the in-domain detector by {format_interval(-gap.estimate, -gap.high, -gap.low, signed=True)} (resolved)"
        else:
            cost = f"the transfer gap {format_interval(gap.estimate, gap.low, gap.high, signed=True)} is not resolved"
        own_text = (f" against {format_interval(own.iloc[0]['auc'], own.iloc[0]['auc_low'], own.iloc[0]['auc_high'])} "
                    f"for the detector trained on {r.tested_on}" if len(own) else "")
        out.append(f"{r.stage} trained on {r.trained_on} fakes, tested on {r.tested_on} fakes: AUC "
                   f"{format_interval(r.auc, r.auc_low, r.auc_high)}{own_text}; it {finds}, and {cost}.")
    return out


def _by_frame(frames):
    """The same frame at every compression gets one key (method/video#frame), for pairing across copies."""
    return frames.assign(path=frames["method"].astype(str) + "/" + frames["video_id"].astype(str) + "#"
                         + frames["frame"].astype(str))


def compression_training_table(reports_dir: str | Path, n_boot: int = 1000, seed: int = 0,
                               baseline: str = "raw", hard: str = "c40"):
    """How much does training on a compressed copy recover the loss on a harder one?

    Pairs every stage trained on ``baseline`` with the stage of the same model, variant and weights
    trained on another compression (e.g. c23). For each pair: ``loss`` = AUC of the baseline-trained
    detector on ``baseline`` minus on ``hard`` (the same frames, paired across copies), ``recovery`` =
    AUC on ``hard`` of the compressed-trained detector minus the baseline-trained one (paired on the
    same frames), and ``recovered`` = recovery / loss (a point estimate), with the verdict
    ``sentence``. Frame level, test split.
    """
    import pandas as pd

    runs: dict[tuple, dict[str, Path]] = {}
    for path in sorted(Path(reports_dir).glob("*/metrics.json")):
        m = read_metrics(path)
        if (path.parent / "predictions.csv").is_file():
            key = (m["model"], m["variant"], m.get("weights", ""))
            runs.setdefault(key, {})[m.get("train_compression", "raw")] = path.parent
    rows = []
    for (model, variant, weights), by_comp in sorted(runs.items()):
        if baseline not in by_comp:
            continue
        base_dir = by_comp[baseline]
        base_src = level_scores(_by_frame(read_predictions(base_dir, baseline)), "frame")
        base_hard = read_predictions(base_dir, hard)
        if base_hard.empty:
            continue
        for train_comp, run_dir in sorted(by_comp.items()):
            if train_comp == baseline:
                continue
            comp_hard = read_predictions(run_dir, hard)
            if comp_hard.empty:
                continue
            loss = paired_interval(base_src, level_scores(_by_frame(base_hard), "frame"), "auc", n_boot, seed)
            recovery = paired_interval(level_scores(comp_hard, "frame"), level_scores(base_hard, "frame"),
                                       "auc", n_boot, seed)
            hard_base = metric_interval(level_scores(base_hard, "frame"), "auc", n_boot, seed)
            hard_comp = metric_interval(level_scores(comp_hard, "frame"), "auc", n_boot, seed)
            rows.append({"model": model, "variant": variant, "weights": weights, "baseline": baseline,
                         "trained_on": train_comp, "tested_on": hard, "baseline_run": base_dir.name,
                         "run": run_dir.name,
                         "auc_baseline": hard_base.estimate, "auc_baseline_low": hard_base.low,
                         "auc_baseline_high": hard_base.high,
                         "auc_trained": hard_comp.estimate, "auc_trained_low": hard_comp.low,
                         "auc_trained_high": hard_comp.high,
                         "loss": loss.estimate, "loss_low": loss.low, "loss_high": loss.high,
                         "recovery": recovery.estimate, "recovery_low": recovery.low, "recovery_high": recovery.high,
                         "recovery_verdict": verdict(recovery, True),
                         "recovered": recovery.estimate / loss.estimate if loss.estimate > 0 else float("nan")})
    df = pd.DataFrame(rows, columns=["model", "variant", "weights", "baseline", "trained_on", "tested_on",
                                     "baseline_run", "run", "auc_baseline", "auc_baseline_low",
                                     "auc_baseline_high", "auc_trained", "auc_trained_low", "auc_trained_high",
                                     "loss", "loss_low", "loss_high", "recovery", "recovery_low",
                                     "recovery_high", "recovery_verdict", "recovered"])
    df["sentence"] = compression_sentences(df)
    return df


def compression_sentences(df) -> list[str]:
    """One verdict sentence per compressed-training pair, derived from its intervals."""
    out = []
    for r in df.itertuples(index=False):
        loss = Interval(r.loss, r.loss_low, r.loss_high)
        rec = Interval(r.recovery, r.recovery_low, r.recovery_high)
        lost = (f"trained on {r.baseline}, {r.model} loses {format_interval(loss.estimate, loss.low, loss.high, signed=True)} "
                f"AUC from {r.baseline} to {r.tested_on}" + (" (resolved)" if loss.low > 0 else " (not resolved)"))
        if rec.low > 0:
            got = (f"training on {r.trained_on} recovers {format_interval(rec.estimate, rec.low, rec.high, signed=True)} "
                   f"of it on {r.tested_on} (resolved"
                   + (f"; {100 * r.recovered:.0f}% of the loss" if np.isfinite(r.recovered) else "") + ")")
        elif rec.high < 0:
            got = (f"training on {r.trained_on} scores lower on {r.tested_on} by "
                   f"{format_interval(-rec.estimate, -rec.high, -rec.low, signed=True)} (resolved)")
        else:
            got = (f"training on {r.trained_on} changes the {r.tested_on} AUC by "
                   f"{format_interval(rec.estimate, rec.low, rec.high, signed=True)} (not resolved)")
        out.append(f"{lost}; {got}: {r.tested_on} AUC {format_interval(r.auc_baseline, r.auc_baseline_low, r.auc_baseline_high)} "
                   f"-> {format_interval(r.auc_trained, r.auc_trained_low, r.auc_trained_high)}.")
    return out


def cross_generator_markdown(df) -> str:
    rows = [[r.stage, r.trained_on, r.tested_on, _fmt(Interval(r.auc, r.auc_low, r.auc_high)),
             "yes" if r.above_chance else "no",
             "-" if not np.isfinite(r.gap) else _fmt(Interval(r.gap, r.gap_low, r.gap_high))]
            for r in df.itertuples(index=False)]
    return ("Detectors trained on one generator's fakes, tested on each generator's fakes (against the same real "
            "test frames). Gap = AUC of the detector trained on the tested generator minus this one's, paired on "
            "the same frames (positive: transfer loses AUC); 95% intervals over test videos.\n\n"
            + markdown_table(rows, ["stage", "trained on", "tested on", "ROC-AUC [95%]", "above chance",
                                    "gap [95%]"])
            + "\n" + "".join(f"- {s}\n" for s in df["sentence"] if s))


def compression_markdown(df) -> str:
    rows = [[r.model, r.trained_on, r.tested_on,
             _fmt(Interval(r.auc_baseline, r.auc_baseline_low, r.auc_baseline_high)),
             _fmt(Interval(r.auc_trained, r.auc_trained_low, r.auc_trained_high)),
             _fmt(Interval(r.loss, r.loss_low, r.loss_high)), _fmt(Interval(r.recovery, r.recovery_low, r.recovery_high)),
             "n/a" if not np.isfinite(r.recovered) else f"{100 * r.recovered:.0f}%"]
            for r in df.itertuples(index=False)]
    base = df["baseline"].iloc[0] if len(df) else "raw"
    return (f"Trained on {base} vs trained on a compressed copy, frame ROC-AUC on the harder copy. Loss = AUC on {base} "
            f"minus on the harder copy for the {base}-trained detector (the same frames); recovery = the "
            f"compressed-trained detector's AUC there minus the {base}-trained one's (paired); 95% intervals over "
            "test videos.\n\n"
            + markdown_table(rows, ["model", "trained on", "tested on", f"AUC, {base}-trained", "AUC, this training",
                                    "loss [95%]", "recovery [95%]", "share recovered"])
            + "\n" + "".join(f"- {s}\n" for s in df["sentence"]))


def compare(reports_dir: str | Path = "reports/detect", tables_dir: str | Path | None = "reports/tables",
            n_boot: int = 1000, seed: int = 0, prefix: str = "detect", train_compression: str = "raw") -> dict[str, Any]:
    """Build and write every table from ``reports_dir``; returns the DataFrames.

    The intervals, pairwise, ranking and thesis tables compare the stages trained on
    ``train_compression``; stages trained on another copy enter the compression table, and stages
    run with ``detect.cross_method`` the cross-generator table (each written only when it has rows).
    """
    stages = {n: st for n, st in load_stages(reports_dir).items()
              if st["metrics"].get("train_compression", "raw") == train_compression}
    if not stages:
        from lstmgan.errors import UserError

        raise UserError(f"{reports_dir}: no <stage>/metrics.json with predictions.csv trained on {train_compression}; "
                        "run the detect stages first")
    cross_df = cross_generator_table(reports_dir, n_boot, seed)
    compression_df = compression_training_table(reports_dir, n_boot, seed, baseline=train_compression)
    intervals_df, intervals = interval_table(stages, n_boot, seed)
    pairwise_df = pairwise_table(stages, n_boot=n_boot, seed=seed)
    ranking_df = ranking_table(intervals_df, pairwise_df)
    thesis_df = thesis_table(intervals, pairwise_df, stages, n_boot, seed)
    if tables_dir is not None:
        out = Path(tables_dir)
        learning_curves(reports_dir, out / f"{prefix}_learning_curves.png",
                        "learning curves per detector (the selected epoch is chosen on validation AUC)")
        for stem, df, md in ((f"{prefix}_intervals", intervals_df, intervals_markdown(intervals_df)),
                             (f"{prefix}_pairwise", pairwise_df, pairwise_markdown(pairwise_df)),
                             (f"{prefix}_ranking", ranking_df, ranking_markdown(ranking_df)),
                             (f"{prefix}_thesis", thesis_df, markdown_table(thesis_df.values.tolist(), list(thesis_df.columns)))):
            atomic_write_text(out / f"{stem}.csv", df.to_csv(index=False))
            atomic_write_text(out / f"{stem}.md", md)
        for stem, df, render in ((f"{prefix}_cross_generator", cross_df, cross_generator_markdown),
                                 (f"{prefix}_compression", compression_df, compression_markdown)):
            if len(df):
                atomic_write_text(out / f"{stem}.csv", df.to_csv(index=False))
                atomic_write_text(out / f"{stem}.md", render(df))
    return {"intervals": intervals_df, "pairwise": pairwise_df, "ranking": ranking_df, "thesis": thesis_df,
            "cross_generator": cross_df, "compression": compression_df}


def _cell(r, metric: str) -> str:
    return _fmt(Interval(r[metric], r[f"{metric}_low"], r[f"{metric}_high"]))


def intervals_markdown(df) -> str:
    header = ["stage", "weights (architecture)", "level", "videos", "accuracy", "AP", "ROC-AUC", "EER",
              "AUC > 0.5 resolved", "train acc / val acc / val AUC", "size px", "epochs (best)", "train s"]
    rows = []
    for _, r in df.iterrows():
        rows.append([r["stage"], f"{r['weights']} ({r['architecture']})", r["level"], r["n_videos"],
                     _cell(r, "accuracy"), _cell(r, "ap"), _cell(r, "auc"), _cell(r, "eer"),
                     "yes" if r["auc_above_chance"] else "no",
                     " / ".join("n/a" if v is None or not np.isfinite(v) else f"{v:.3f}"
                                for v in (r["train_acc"], r["val_acc"], r["val_auc"])),
                     r["image_size"], f"{r['epochs']} ({r['best_epoch']})", f"{(r['train_time_s'] or 0):.0f}"])
    return ("Test split, 95% bootstrap intervals over test videos (percentile, 1000 resamples).\n\n"
            + markdown_table(rows, header))


def pairwise_markdown(df) -> str:
    rows = [[r.a, r.b, r.metric, r.level, _fmt(Interval(r.difference, r.low, r.high)), r.verdict]
            for r in df.itertuples(index=False)]
    return ("Paired differences a - b on the same test videos (95% bootstrap interval); the verdict is "
            "said of a and is resolved only when the interval excludes 0.\n\n"
            + markdown_table(rows, ["a", "b", "metric", "level", "a - b [95%]", "verdict"]))


def ranking_markdown(df) -> str:
    rows = [[r["rank"], r["stage"], _cell(r, "auc"), r["above"] or "-", r["tied_with"] or "-"] for _, r in df.iterrows()]
    return ("Ranking on test frame ROC-AUC by resolved paired differences only: rank = 1 + the number of "
            "stages resolved better; stages not resolved against each other share ranks.\n\n"
            + markdown_table(rows, ["rank", "stage", "ROC-AUC [95%]", "resolved better than", "not resolved against"]))


def learning_curves(reports_dir: str | Path, path: str | Path | None = None, title: str = ""):
    """Every stage's per-epoch records side by side: training accuracy (no-dropout pass) against
    validation accuracy, and validation AUC (one panel per model, one line per variant). A plateau
    is where both curves flatten; validation following training is the sign of learning artefacts
    rather than people."""
    import pandas as pd
    from matplotlib.figure import Figure

    from lstmgan.utils.io import atomic_path

    runs = {}
    for rec in sorted(Path(reports_dir).glob("*/records.tsv")):
        metrics_file = rec.parent / "metrics.json"
        model = json.loads(metrics_file.read_text())["model"] if metrics_file.is_file() else rec.parent.name
        runs.setdefault(model, []).append((rec.parent.name, pd.read_csv(rec, sep="\t")))
    fig = Figure(figsize=(4.2 * max(1, len(runs)), 6.4))
    axes = fig.subplots(2, max(1, len(runs)), squeeze=False)
    for k, (model, items) in enumerate(runs.items()):
        for name, r in items:
            line = axes[0, k].plot(r["epoch"], r["train_acc_eval"], ls="--", marker=".")[0]
            axes[0, k].plot(r["epoch"], r["val_acc"], color=line.get_color(), marker="o", label=name)
            axes[1, k].plot(r["epoch"], r["val_auc"], color=line.get_color(), marker="o", label=name)
        axes[0, k].set(title=f"{model}: accuracy (dashed train, solid val)", xlabel="epoch", ylim=(0.3, 1.02))
        axes[1, k].set(title=f"{model}: validation ROC-AUC", xlabel="epoch", ylim=(0.3, 1.02))
        for ax in axes[:, k]:
            ax.axhline(0.5, color="grey", lw=0.8, ls=":")
            ax.legend(fontsize=6)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    if path is not None:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=100)
    return fig


def run_flags(run_dir: str | Path, n_boot: int = 1000, seed: int = 0) -> list[str]:
    """What a reader must know beside one run's figures: a detector that predicts one class for every
    test frame, or whose frame AUC interval (over test videos) reaches chance. Empty when neither."""
    run_dir = Path(run_dir)
    metrics = read_metrics(run_dir / "metrics.json")
    comp = metrics.get("train_compression", "raw")
    frames = read_predictions(run_dir, comp)
    out = []
    predicted = (frames["p_fake"].to_numpy(float) >= 0.5)
    if predicted.size and (predicted.all() or not predicted.any()):
        which = "fake" if predicted.all() else "real"
        out.append(f"This detector predicts one class ({which}) for every {comp} test frame: its accuracy is the "
                   "share of that class, and its confusion matrix and prediction grid show that one class; only "
                   "its scores' ranking (AUC) says anything.")
    records_file = run_dir / "records.tsv"
    if records_file.is_file():
        import pandas as pd

        from lstmgan.detect.train import still_rising

        records = pd.read_csv(records_file, sep="\t").to_dict("records")
        gain = still_rising(records)
        if gain is not None:
            out.append(f"Its validation AUC was still rising at the last epoch (+{gain:.3f} over the last two "
                       f"epochs of {len(records)}): the budget stops before the plateau, so more epochs would "
                       "likely score higher.")
    iv = metric_interval(level_scores(frames, "frame"), "auc", n_boot, seed)
    if np.isfinite(iv.low) and iv.low <= 0.5:
        out.append(f"Its frame ROC-AUC {format_interval(iv.estimate, iv.low, iv.high, 3, significant=True)} "
                   "(95% interval over test videos) reaches chance (0.5): at this budget it has not learned to "
                   "tell these fakes from real frames, so read its curves and examples as a failure to learn.")
    return out
