"""Detection metrics at frame and video level.

Convention everywhere: label 1 = fake, 0 = real; a score is the predicted probability that the
frame is fake. Metrics that need both classes (AP, ROC-AUC, EER) are NaN with a warning when only
one class is present, so a one-class evaluation split reports what it can instead of crashing.
"""
from __future__ import annotations

import logging
import warnings
from typing import Any, Sequence

import numpy as np

log = logging.getLogger(__name__)



class OneClassWarning(UserWarning):
    """AP, ROC-AUC or EER was asked of labels that contain only one class."""


def _check(y_true: Sequence[int], scores: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true).ravel()
    if y.dtype.kind in "OUS":  # the manifest's words
        if not set(np.unique(y).tolist()) <= {"real", "fake"}:
            raise ValueError("labels must be 0/1 or the words real/fake")
        y = (y == "fake")
    y = y.astype(int)
    s = np.asarray(scores, dtype=float).ravel()
    if y.shape != s.shape:
        raise ValueError(f"labels and scores differ in length: {y.size} vs {s.size}")
    if y.size == 0:
        raise ValueError("no samples to score")
    if not np.all(np.isin(y, (0, 1))):
        raise ValueError("labels must be 0 (real) or 1 (fake)")
    if not np.all(np.isfinite(s)):
        raise ValueError("scores contain NaN or infinity; check the model's outputs")
    return y, s


def _one_class(y: np.ndarray, what: str) -> bool:
    if np.unique(y).size < 2:
        warnings.warn(f"{what} is undefined with one class only (all labels {y[0]}); reporting NaN",
                      OneClassWarning, stacklevel=3)
        return True
    return False


def accuracy(y_true: Sequence[int], scores: Sequence[float], threshold: float = 0.5) -> float:
    """Fraction of frames whose prediction (score >= threshold means fake) matches the label."""
    y, s = _check(y_true, scores)
    return float(np.mean((s >= threshold).astype(int) == y))


def balanced_accuracy(y_true: Sequence[int], scores: Sequence[float], threshold: float = 0.5) -> float:
    """Mean of the per-class recalls over the classes present (as sklearn; robust to imbalance)."""
    y, s = _check(y_true, scores)
    pred = (s >= threshold).astype(int)
    recalls = [np.mean(pred[y == c] == c) for c in np.unique(y)]
    return float(np.mean(recalls))


def average_precision(y_true: Sequence[int], scores: Sequence[float]) -> float:
    """Area under the precision-recall curve as a step sum (sklearn's average_precision_score)."""
    from sklearn.metrics import average_precision_score

    y, s = _check(y_true, scores)
    if _one_class(y, "average precision"):
        return float("nan")
    return float(average_precision_score(y, s))


def roc_auc(y_true: Sequence[int], scores: Sequence[float]) -> float:
    """Probability that a random fake scores above a random real (ties count one half)."""
    from sklearn.metrics import roc_auc_score

    y, s = _check(y_true, scores)
    if _one_class(y, "ROC-AUC"):
        return float("nan")
    return float(roc_auc_score(y, s))


def equal_error_rate(y_true: Sequence[int], scores: Sequence[float]) -> float:
    """The error rate where the false-positive rate equals the false-negative rate.

    The ROC curve (all thresholds) is walked until ``fpr - fnr`` changes sign; FPR and FNR are
    interpolated linearly between those two points and their common value is returned.
    """
    from sklearn.metrics import roc_curve

    y, s = _check(y_true, scores)
    if _one_class(y, "EER"):
        return float("nan")
    fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
    fnr = 1.0 - tpr
    diff = fpr - fnr  # starts at -1 (threshold above every score), ends at +1
    i = int(np.argmax(diff >= 0))  # first point at or past the crossing
    if diff[i] == 0 or i == 0:
        return float(fpr[i])
    t = diff[i - 1] / (diff[i - 1] - diff[i])
    return float(fpr[i - 1] + t * (fpr[i] - fpr[i - 1]))


def binary_metrics(y_true: Sequence[int], scores: Sequence[float], threshold: float = 0.5) -> dict[str, float]:
    """accuracy, balanced accuracy, AP, ROC-AUC and EER, plus the counts they came from."""
    y, s = _check(y_true, scores)
    return {
        "accuracy": accuracy(y, s, threshold),
        "balanced_accuracy": balanced_accuracy(y, s, threshold),
        "ap": average_precision(y, s),
        "auc": roc_auc(y, s),
        "eer": equal_error_rate(y, s),
        "n": int(y.size),
        "n_fake": int(y.sum()),
    }


def video_scores(frames: Any) -> Any:
    """Per-video mean fake-probability from a frame table.

    ``frames`` is a pandas DataFrame with columns ``video_id, method, label, p_fake``. Videos are
    grouped by (method, video_id): FF++-style fakes of different methods can share a name, and
    merging them would mix two videos. A group with mixed labels is an error.
    """
    import pandas as pd

    need = {"video_id", "method", "label", "p_fake"}
    missing = need - set(frames.columns)
    if missing:
        raise ValueError(f"frame table lacks columns {sorted(missing)}")
    grouped = frames.groupby(["method", "video_id"], sort=True)
    labels = grouped["label"].nunique()
    if (labels > 1).any():
        bad = labels[labels > 1].index[0]
        raise ValueError(f"video {bad[1]!r} (method {bad[0]!r}) has frames with both labels")
    out = grouped.agg(label=("label", "first"), p_fake=("p_fake", "mean"), frames=("p_fake", "size"))
    return pd.DataFrame(out).reset_index()


def frame_and_video_metrics(frames: Any, threshold: float = 0.5) -> dict[str, dict[str, float]]:
    """``{"frame": binary_metrics(...), "video": binary_metrics(...)}`` for a frame table."""
    videos = video_scores(frames)
    return {
        "frame": binary_metrics(frames["label"].to_numpy(), frames["p_fake"].to_numpy(), threshold),
        "video": binary_metrics(videos["label"].to_numpy(), videos["p_fake"].to_numpy(), threshold),
    }
