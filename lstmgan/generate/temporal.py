"""Temporal metrics beyond flicker and warping error: TecoGAN's tOF, and the decoder-filled regions.

* ``tof`` (TecoGAN, Chu et al. 2020): mean over frames t >= 1 and pixels of the Euclidean norm of
  ``flow(g_{t-1}, g_t) - flow(x_{t-1}, x_t)``, in pixels: motion of the generated video that the
  real video does not have (or misses). One fixed optical-flow method for both sequences: OpenCV's
  Farneback with TecoGAN's settings (pyramid scale 0.5, 3 levels, window 15, 3 iterations,
  poly_n 5, poly_sigma 1.2) on the grey image (uint8, BT.601 weights), as in TecoGAN's metric code.
* **Decoder-filled regions.** The generator paints ``prediction = occ * warped source + (1 - occ) *
  decoder image``; ``w = 1 - occ`` (one map per frame, from the generator's occlusion output at the
  image size) marks what the decoder, and so the ConvLSTM and the adversarial term, fill in.
  :func:`region_metrics` gives flicker, warping error and tOF weighted by ``w_t`` (the weight of the
  later frame of each pair), and :func:`sharpness_ratio`, the gradient energy of the generated over
  the real frames there (1 = as sharp as real, < 1 blurrier, > 1 noisier).

* **Keypoint jitter.** :func:`keypoint_jitter` is the high-frequency energy (mean squared second
  difference over frames) of the driving keypoint trajectories the generator was given, over the same
  energy of the ground-truth landmarks of the driving video: about 1 when the keypoints move as
  smoothly as the face, above 1 when the detector adds frame-to-frame jitter (noise, shake) of its own.

All inputs are (T, H, W, 3) float arrays in [0, 1]; weights (T, H, W) in [0, 1].
"""
from __future__ import annotations

import numpy as np

REGION_METRICS = ("flicker_dec", "warp_error_dec", "tof_dec", "sharpness_dec")
FARNEBACK = dict(pyr_scale=0.5, levels=3, winsize=15, iterations=3, poly_n=5, poly_sigma=1.2, flags=0)


def _gray_u8(frame: np.ndarray) -> np.ndarray:
    gray = np.asarray(frame, np.float64) @ np.array([0.299, 0.587, 0.114])
    return np.clip(np.round(gray * 255.0), 0, 255).astype(np.uint8)


def optical_flow(prev: np.ndarray, nxt: np.ndarray) -> np.ndarray:
    """Farneback flow (H, W, 2) = (dx, dy) in pixels from ``prev`` to ``nxt`` ((H, W, 3) in [0, 1])."""
    import cv2

    return cv2.calcOpticalFlowFarneback(_gray_u8(prev), _gray_u8(nxt), None, **FARNEBACK)


def sequence_flows(frames: np.ndarray) -> list[np.ndarray]:
    """flow(f_{t-1}, f_t) for t >= 1; computed once for a real video and reused for every method."""
    return [optical_flow(frames[t - 1], frames[t]) for t in range(1, len(frames))]


def _weighted_mean(values: np.ndarray, weight: np.ndarray | None) -> tuple[float, float]:
    """(sum of weight * values, sum of weight); weight None = every pixel counts 1."""
    if weight is None:
        return float(values.sum()), float(values.size)
    return float((values * weight).sum()), float(weight.sum())


def tof(pred: np.ndarray, gt: np.ndarray, weight: np.ndarray | None = None,
        gt_flows: list[np.ndarray] | None = None) -> float:
    """TecoGAN's tOF: mean |flow(g_{t-1}, g_t) - flow(x_{t-1}, x_t)| (per-pixel Euclidean norm, px).

    ``weight`` (T, H, W) weights pixel (t, y, x) of pair t-1 -> t by ``weight[t]``; ``gt_flows``
    reuses :func:`sequence_flows` of ``gt``. NaN for fewer than 2 frames or zero total weight.
    """
    if len(pred) < 2:
        return float("nan")
    gt_flows = sequence_flows(gt) if gt_flows is None else gt_flows
    total = count = 0.0
    for t in range(1, len(pred)):
        diff = np.linalg.norm(optical_flow(pred[t - 1], pred[t]) - gt_flows[t - 1], axis=-1)
        s, c = _weighted_mean(diff, None if weight is None else weight[t])
        total, count = total + s, count + c
    return total / count if count > 0 else float("nan")


def weighted_flicker(pred: np.ndarray, gt: np.ndarray, weight: np.ndarray) -> float:
    """Flicker (mean |(g_t - g_{t-1}) - (x_t - x_{t-1})| over channels) weighted by ``weight[t]``."""
    pred, gt = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    if len(pred) < 2:
        return float("nan")
    err = np.abs(np.diff(pred, axis=0) - np.diff(gt, axis=0)).mean(axis=-1)  # (T-1, H, W)
    w = np.asarray(weight, np.float64)[1:]
    return float((err * w).sum() / w.sum()) if w.sum() > 0 else float("nan")


def weighted_warping_error(pred: np.ndarray, flows: list[tuple[np.ndarray, np.ndarray]],
                           weight: np.ndarray) -> float:
    """Warping error under the real video's flows/masks (see ``evaluate.real_flows``), each pixel of
    pair t-1 -> t weighted by ``weight[t]`` on top of the mask of pixels the flow explains."""
    from lstmgan.generate.evaluate import flow_warp

    pred = np.asarray(pred, np.float64)
    total = count = 0.0
    for t, (flow, mask) in enumerate(flows, start=1):
        w = np.asarray(weight[t], np.float64) * mask
        if w.sum() > 0:
            err = np.abs(pred[t] - flow_warp(pred[t - 1], flow)).mean(axis=-1)
            total += float((err * w).sum())
            count += float(w.sum())
    return total / count if count > 0 else float("nan")


def gradient_energy(frames: np.ndarray, weight: np.ndarray | None = None) -> float:
    """Weighted sum over frames and pixels of |d/dx|^2 + |d/dy|^2 of the grey image (forward
    differences; the last row/column takes the weight of its pixel)."""
    gray = np.asarray(frames, np.float64) @ np.array([0.299, 0.587, 0.114])  # (T, H, W)
    gx = np.zeros_like(gray)
    gy = np.zeros_like(gray)
    gx[:, :, :-1] = np.diff(gray, axis=2)
    gy[:, :-1, :] = np.diff(gray, axis=1)
    energy = gx ** 2 + gy ** 2
    return float(energy.sum() if weight is None else (energy * weight).sum())


def sharpness_ratio(pred: np.ndarray, gt: np.ndarray, weight: np.ndarray | None = None) -> float:
    """Gradient energy of ``pred`` over that of ``gt`` in the weighted region (1 = as sharp as real)."""
    real = gradient_energy(gt, weight)
    return gradient_energy(pred, weight) / real if real > 0 else float("nan")


def decoder_weight(occlusion: np.ndarray | None, size: tuple[int, int]) -> np.ndarray | None:
    """``1 - occlusion`` as (T, H, W): occlusion (T, H, W) or (T, 1, H, W) at the image size."""
    if occlusion is None:
        return None
    occ = np.asarray(occlusion, np.float64)
    if occ.ndim == 4:
        occ = occ[:, 0]
    if occ.shape[1:] != tuple(size):
        raise ValueError(f"occlusion map {occ.shape[1:]} does not match the frames {tuple(size)}")
    return np.clip(1.0 - occ, 0.0, 1.0)


def region_metrics(pred: np.ndarray, gt: np.ndarray, weight: np.ndarray | None,
                   flows: list[tuple[np.ndarray, np.ndarray]] | None = None,
                   gt_flows: list[np.ndarray] | None = None, threshold: float = 0.05) -> dict[str, float]:
    """Flicker, warping error, tOF and sharpness over the decoder-filled regions (``weight`` = 1 - occ).

    Every value is NaN when there is no weight (baselines have no occlusion map).
    """
    if weight is None:
        return {m: float("nan") for m in REGION_METRICS}
    from lstmgan.generate.evaluate import real_flows

    pred, gt = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    flows = real_flows(gt, threshold) if flows is None else flows
    return {"flicker_dec": weighted_flicker(pred, gt, weight),
            "warp_error_dec": weighted_warping_error(pred, flows, weight),
            "tof_dec": tof(pred, gt, weight, gt_flows),
            "sharpness_dec": sharpness_ratio(pred, gt, weight)}


def trajectory_energy(points: np.ndarray) -> float:
    """Mean squared second difference of (T, N, 2) point trajectories (px^2): their high-frequency
    energy (a constant velocity has none). NaN for fewer than 3 frames."""
    p = np.asarray(points, np.float64)
    if p.shape[0] < 3:
        return float("nan")
    accel = p[2:] - 2 * p[1:-1] + p[:-2]
    return float(np.mean(np.sum(accel ** 2, axis=-1)))


def keypoint_jitter(keypoints_px: np.ndarray, landmarks_px: np.ndarray) -> float:
    """:func:`trajectory_energy` of (T, K, 2) keypoints over that of the (T, 68, 2) ground-truth
    landmarks of the same frames (both in pixels); NaN when the landmarks are unknown or still."""
    reference = trajectory_energy(landmarks_px)
    if not np.isfinite(reference) or reference <= 0:
        return float("nan")
    return trajectory_energy(keypoints_px) / reference
