"""How much the faces of a prepared data set move: the statistics that say whether a benchmark asks
a generator for motion at all (and a temporal model for coherence).

Computed from the ground truth of the embedded data (landmarks in pixels, head pose, expression),
or from the detected landmarks of real data, per video of one split:

- ``mean_displacement_px``: mean distance of the 68 landmarks from their place in the first frame
  (what copying the first frame gets wrong, in pixels);
- ``p95_displacement_px``: the 95th percentile of the per-frame mean displacement;
- ``median_step_px``: median frame-to-frame landmark change (the motion per frame a temporal model sees);
- ``copy_l1``: L1 of repeating the first frame (intensity in [0, 1]), the copy-the-source baseline;
- ``mouth_gap_p90_iod`` / ``mouth_gap_max_iod``: the 90th percentile and the largest inner-lip gap of
  a video over the inter-ocular distance (:func:`lstmgan.face.landmarks.mouth_opening`), and
  ``mouth_gap_max_px`` in pixels: how far the mouth opens, whatever the crop size;
- ``yaw_range_deg``: mean over videos of the yaw range within a video (when the pose is known);
- ``mouth_open_max``, ``blinks_per_second``: expression extremes (when the expression is known).

When the store holds the degraded copy (:mod:`lstmgan.data.degrade`), the same split's measured
degradation is added (:func:`degradation_statistics`, keys starting with ``degrade_``): the mean
sensor-noise sd at mid grey, the mean camera-shake offset and frame-to-frame shake step (pixels),
the sd of the brightness gain over frames, the mean and 95th-percentile motion-blur length (pixels)
and the PSNR of the degraded frames against the clean ones (dB, one mean squared error over every
pixel of the split).

The data stage writes them to ``reports/metrics/data.json`` (:data:`DATA_METRICS`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from lstmgan.face.landmarks import interocular, mouth_opening

DATA_METRICS = Path("reports/metrics/data.json")


def video_motion(landmarks: np.ndarray, frames: np.ndarray) -> dict[str, float]:
    """The statistics of one video: ``landmarks`` (T, 68, 2) pixels, ``frames`` (T, S, S, 3) uint8."""
    lm = np.asarray(landmarks, dtype=np.float64)
    displacement = np.linalg.norm(lm - lm[:1], axis=-1).mean(axis=1)  # (T,) mean over landmarks
    steps = np.linalg.norm(np.diff(lm, axis=0), axis=-1).mean(axis=1) if len(lm) > 1 else np.zeros(0)
    video = np.asarray(frames, dtype=np.float32) / 255.0
    gap = mouth_opening(lm)
    return {"mean_displacement_px": float(np.nanmean(displacement)),
            "p95_displacement_px": float(np.nanpercentile(displacement, 95)),
            "median_step_px": float(np.nanmedian(steps)) if steps.size else float("nan"),
            "copy_l1": float(np.abs(video - video[:1]).mean()),
            "mouth_gap_p90_iod": float(np.nanpercentile(gap, 90)),
            "mouth_gap_max_iod": float(np.nanmax(gap)),
            "mouth_gap_max_px": float(np.nanmax(gap * interocular(lm)))}


def blinks(eye_open: np.ndarray, closed: float = 0.2) -> int:
    """How many times the eye closes (falls below ``closed``) in a video."""
    shut = np.asarray(eye_open) < closed
    return int(np.sum(shut[1:] & ~shut[:-1]) + bool(shut[:1].any()))


def motion_statistics(store, split: str = "test") -> dict[str, Any]:
    """The statistics of ``split`` (means over its videos) with the number of videos they cover."""
    records = store.split(split)
    rows = []
    for r in records:
        row = video_motion(store.landmarks(r.video_id), store.frames(r.video_id))
        if "pose" in getattr(store, "extra_names", ()):
            names = list(store.meta.get("pose_names", []))
            pose = np.asarray(store.extra("pose", r.video_id))
            if "yaw" in names:
                yaw = pose[:, names.index("yaw")]
                row["yaw_range_deg"] = float(np.degrees(yaw.max() - yaw.min()))
        if "expression" in getattr(store, "extra_names", ()):
            names = list(store.meta.get("expression_names", []))
            expr = np.asarray(store.extra("expression", r.video_id))
            if "mouth_open" in names:
                row["mouth_open_max"] = float(expr[:, names.index("mouth_open")].max())
            if "eye_open" in names:
                row["blinks_per_second"] = blinks(expr[:, names.index("eye_open")]) * store.fps / len(expr)
        rows.append(row)
    keys = list(dict.fromkeys(k for row in rows for k in row))
    motion = (store.meta.get("params", {}).get("motion", "calm") if store.meta.get("kind") == "synth"
              else "real data")
    out: dict[str, Any] = {"split": split, "videos": len(rows), "motion": motion}
    for key in keys:
        values = np.array([row[key] for row in rows if key in row], dtype=np.float64)
        out[key] = round(float(np.nanmean(values)), 6) if values.size else None
    return out


def degradation_statistics(store, split: str = "test") -> dict[str, Any]:
    """The measured degradation of ``split`` (frames pooled over its videos); {} without a degraded
    copy or without videos in ``split``."""
    records = store.split(split)
    if not getattr(store, "has_degraded", False) or not records:
        return {}
    parts: dict[str, list[np.ndarray]] = {"noise_sd": [], "shake": [], "step": [], "gain": [], "blur_px": []}
    squared, count = 0.0, 0
    for r in records:
        rec = store.degradation(r.video_id)
        parts["noise_sd"].append(rec["noise_sd"][:1])  # one value per video
        parts["shake"].append(np.linalg.norm(rec["shake"], axis=1))
        parts["step"].append(np.linalg.norm(np.diff(rec["shake"], axis=0), axis=1))
        parts["gain"].append(rec["gain"])
        parts["blur_px"].append(rec["blur_px"])
        diff = np.asarray(store.degraded(r.video_id), np.float64) - np.asarray(store.frames(r.video_id), np.float64)
        squared += float(np.square(diff).sum())
        count += diff.size
    pooled = {k: np.concatenate(v).astype(np.float64) for k, v in parts.items()}
    mse = squared / max(count, 1)
    psnr = float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)

    def r6(x: float) -> float | None:
        return round(float(x), 6) if np.isfinite(x) else None

    return {"degrade_noise_sd": r6(pooled["noise_sd"].mean()),
            "degrade_shake_px": r6(pooled["shake"].mean()),
            "degrade_shake_step_px": r6(pooled["step"].mean()) if pooled["step"].size else None,
            "degrade_gain_sd": r6(pooled["gain"].std()),
            "degrade_blur_px_mean": r6(pooled["blur_px"].mean()),
            "degrade_blur_px_p95": r6(np.percentile(pooled["blur_px"], 95)),
            "degrade_psnr_db": r6(psnr)}


def write_data_metrics(store, path: str | Path = DATA_METRICS, split: str = "test") -> dict[str, Any]:
    """Write :func:`motion_statistics` of ``split`` (and its :func:`degradation_statistics`, when the
    store has a degraded copy) to ``path`` (atomically) and return them."""
    from lstmgan.utils.io import atomic_write_json

    stats = {**motion_statistics(store, split), **degradation_statistics(store, split)}
    atomic_write_json(path, stats)
    return stats
