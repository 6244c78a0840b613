"""What warping cannot draw: the open mouth and the closed eye, measured from landmarks.

A generator that only moves the source's pixels cannot open a mouth that is closed in the source or
close an eye that is open there; the decoder has to paint it, and the occlusion map says where it
does (``prediction = occ * warped source + (1 - occ) * decoder image``). From the landmarks
(iBUG-300W order; the embedded data's ground truth is exact) this module measures, per video:

* ``decoder_share``: mean ``1 - occ`` over the frame (how much of the output the decoder paints);
* ``mouth_dec_open`` / ``mouth_dec_closed``: mean ``1 - occ`` inside the driver's mouth region
  (:func:`regions`) on frames where its mouth is open (inner-lip gap above :data:`MOUTH_OPEN` x the
  inter-ocular distance) and closed (below :data:`MOUTH_CLOSED`); ``eye_dec_blink`` /
  ``eye_dec_open`` the same inside the eye regions on blink frames and on open-eye frames;
* ``mouth_corr``: Pearson correlation over frames of the generated mouth opening (landmarks of the
  generated frames, from the evaluation's landmark network) with the driver's ground truth;
* ``blinks`` / ``blinks_reproduced``: the driver's blinks (runs of frames whose ground-truth eye
  aspect ratio is below :data:`BLINK` x its median over the video) and how many of them the
  generated video shows: its eye aspect ratio (landmark network on the output) dips below its own
  median by at least :data:`BLINK_DEPTH` of the dip the same network reads on the real driving
  frames during that blink. Read by one network on both sides, a 64 px eyelid that the network sees
  close only partly still counts, and the driving video itself reproduces every blink it can see.

Every measure is relative to the face's own size or its own median, so it does not depend on the
crop size or on the landmark network's bias.

What the motion carries bounds what either path can draw: :func:`carried_r2` asks how much of the
driver's mouth opening and eye aperture the driving keypoints determine (cross-validated R^2 of a
linear fit over the test videos); a part the keypoints do not follow is invisible to the warp and to
the decoder alike.
"""
from __future__ import annotations

import numpy as np

from lstmgan.face.landmarks import BLINK, EYES, MOUTH_INNER, MOUTH_OPEN, eye_aperture, lip_gap, mouth_opening

MOUTH_CLOSED = 0.03  # inner-lip gap / inter-ocular distance below which the mouth counts as closed
BLINK_DEPTH = 0.5  # a generated blink dips at least this fraction of the real frames' dip
PART_METRICS = ("decoder_share", "mouth_dec_open", "mouth_dec_closed", "eye_dec_blink", "eye_dec_open",
                "mouth_corr", "blinks", "blinks_reproduced")


def polygon_mask(points: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W) bool: the pixels whose centre lies inside the polygon ``points`` ((N, 2) x, y pixels)."""
    from matplotlib.path import Path

    h, w = size
    ys, xs = np.mgrid[0:h, 0:w]
    centres = np.stack([xs.ravel() + 0.5, ys.ravel() + 0.5], 1)
    return Path(np.asarray(points, np.float64)).contains_points(centres).reshape(h, w)


def band(a: np.ndarray, b: np.ndarray, height: float) -> np.ndarray:
    """(4, 2) rectangle from corner ``a`` to corner ``b``, ``height`` across (centred on the line)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    d = b - a
    n = np.array([-d[1], d[0]]) / max(float(np.linalg.norm(d)), 1e-6) * height / 2
    return np.stack([a - n, b - n, b + n, a + n])


def regions(landmarks: np.ndarray, part: str) -> list[list[np.ndarray]]:
    """Per frame, the polygons where ``part`` ("mouth" or "eyes") shows when it is open.

    A closed mouth or eye has no area between its lips or lids, yet that is where the decoder must
    paint when the source's differs; so the region is a band between the part's corners, as high as
    the part is when open in this video (the mouth's 90th-percentile inner-lip gap, the eyes' median
    lid distance), following the face's pose frame by frame.
    """
    lm = np.asarray(landmarks, np.float64)
    if part == "mouth":
        h = max(float(np.percentile(lip_gap(lm), 90)), 1.0)
        return [[band(f[60], f[64], h)] for f in lm]
    if part == "eyes":
        out = []
        hs = [max(float(np.median(np.linalg.norm(lm[:, e[1]] - lm[:, e[5]], axis=1))), 1.0) for e in EYES]
        for f in lm:
            out.append([band(f[e[0]], f[e[3]], h) for e, h in zip(EYES, hs)])
        return out
    raise ValueError(f"part must be mouth or eyes, got {part!r}")


def part_share(occlusion: np.ndarray, landmarks: np.ndarray, part: str) -> np.ndarray:
    """(T,) mean ``1 - occlusion`` inside :func:`regions` of ``part`` in each frame (NaN where empty)."""
    occ = np.asarray(occlusion, np.float64)
    out = np.full(len(occ), np.nan)
    for t, polygons in enumerate(regions(landmarks, part)):
        mask = np.zeros(occ.shape[1:], bool)
        for poly in polygons:
            mask |= polygon_mask(poly, occ.shape[1:])
        if mask.any():
            out[t] = float(np.mean(1.0 - occ[t][mask]))
    return out


def runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of every run of True in ``flags`` (stop exclusive)."""
    f = np.r_[False, np.asarray(flags, bool), False].astype(int)
    edges = np.diff(f)
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


def _mean(values: np.ndarray) -> float:
    values = values[np.isfinite(values)]
    return float(values.mean()) if values.size else float("nan")


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation over the finite pairs; NaN when either side is constant."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or a[ok].std() == 0 or b[ok].std() == 0:
        return float("nan")
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def part_measures(occlusion: np.ndarray | None, landmarks_gt: np.ndarray, landmarks_pred: np.ndarray,
                  landmarks_real: np.ndarray | None = None) -> dict[str, float]:
    """The per-video measures of the module docstring. ``occlusion`` (T, S, S) or None (a baseline
    without a decoder: its occlusion measures are NaN); landmarks (T, 68, 2) pixels at the occlusion's
    size: ``landmarks_gt`` the driver's ground truth, ``landmarks_pred`` the landmark network on the
    generated frames, ``landmarks_real`` the same network on the real driving frames (default: the
    ground truth)."""
    gt = np.asarray(landmarks_gt, np.float64)
    pred = np.asarray(landmarks_pred, np.float64)
    nan = float("nan")
    out = dict.fromkeys(PART_METRICS, nan)
    if not np.isfinite(gt).all():  # real data without ground-truth landmarks
        return out
    opening = mouth_opening(gt)
    ear_gt = eye_aperture(gt)
    blink = ear_gt < BLINK * np.median(ear_gt)
    if occlusion is not None:
        occ = np.asarray(occlusion, np.float64)
        out["decoder_share"] = float(np.mean(1.0 - occ))
        mouth = part_share(occ, gt, "mouth")
        eyes = part_share(occ, gt, "eyes")
        out["mouth_dec_open"] = _mean(mouth[opening > MOUTH_OPEN])
        out["mouth_dec_closed"] = _mean(mouth[opening < MOUTH_CLOSED])
        out["eye_dec_blink"] = _mean(eyes[blink])
        out["eye_dec_open"] = _mean(eyes[~blink])
    out["mouth_corr"] = correlation(mouth_opening(pred), opening)
    events = runs(blink)
    ear_pred = eye_aperture(pred)
    ear_real = eye_aperture(gt if landmarks_real is None else np.asarray(landmarks_real, np.float64))
    reproduced = 0
    for a, b in events:
        dip_real = np.median(ear_real) - ear_real[a:b].min()
        dip_pred = np.median(ear_pred) - ear_pred[a:b].min()
        reproduced += int(dip_real > 0 and dip_pred >= BLINK_DEPTH * dip_real)
    out["blinks"] = float(len(events))
    out["blinks_reproduced"] = float(reproduced)
    return out


def summarize_parts(rows: list[dict[str, float]]) -> dict[str, float]:
    """Over videos: the mean of each per-video share and correlation, and the fraction of all blinks
    reproduced (``blink_fraction``, pooled over videos)."""
    out = {k: _mean(np.array([r.get(k, np.nan) for r in rows], np.float64))
           for k in PART_METRICS if k not in ("blinks", "blinks_reproduced")}
    blinks = float(np.nansum([r.get("blinks", np.nan) for r in rows]))
    reproduced = float(np.nansum([r.get("blinks_reproduced", np.nan) for r in rows]))
    out.update(blinks=blinks, blinks_reproduced=reproduced,
               blink_fraction=reproduced / blinks if blinks > 0 else float("nan"))
    return out


def carried_r2(features: list[np.ndarray], targets: list[np.ndarray], folds: int = 6, ridge: float = 1e-3) -> float:
    """How much of a part's motion the keypoints carry: cross-validated R^2 of a ridge regression.

    ``features[i]`` (T_i, F) and ``targets[i]`` (T_i,) are one video's per-frame keypoint features and
    part measure (e.g. :func:`mouth_opening`), each relative to its first frame. Videos are split into
    ``folds`` groups (video i in fold i mod folds); each fold is predicted from a fit on the others
    (standardised features, ridge ``ridge`` x frames). 1 = the keypoints determine the part's motion,
    0 = no better than its mean, below 0 = worse (nothing carried, the fit only adds noise).
    NaN with fewer than two videos or a constant target.
    """
    if len(features) < 2:
        return float("nan")
    x = np.concatenate([np.asarray(f, np.float64).reshape(len(f), -1) for f in features])
    y = np.concatenate([np.asarray(t, np.float64) for t in targets])
    group = np.concatenate([np.full(len(t), i % folds) for i, t in enumerate(targets)])
    if y.std() == 0:
        return float("nan")
    pred = np.empty_like(y)
    for k in np.unique(group):
        test, train = group == k, group != k
        mu, sd = x[train].mean(0), x[train].std(0) + 1e-8
        a = (x[train] - mu) / sd
        w = np.linalg.solve(a.T @ a + ridge * len(a) * np.eye(a.shape[1]), a.T @ (y[train] - y[train].mean()))
        pred[test] = ((x[test] - mu) / sd) @ w + y[train].mean()
    return float(1.0 - np.sum((y - pred) ** 2) / np.sum((y - y.mean()) ** 2))
