"""Evaluation by the first-order-motion protocol, temporal quality, cross-identity, the ablation.

**Reconstruction** (the protocol of first-order-motion and its successors): for every video of the
evaluation split, its first frame is the source and the same video drives it, so the ground truth
of every generated frame is known. Per video and in total:

* ``l1``: mean |generated - real| over pixels and channels, values in [0, 1];
* ``psnr``: 10 log10(1 / MSE) per frame (dB), averaged over frames;
* ``ssim``: structural similarity per frame (scikit-image, RGB, data range 1), averaged;
* ``akd``: average keypoint distance, mean |landmarks(generated) - landmarks(real)| in pixels;
* ``aed``: average euclidean distance of identity, here the mean *squared* distance between the
  unit identity embeddings of generated and real frames;
* ``flicker``: mean |(g_t - g_{t-1}) - (x_t - x_{t-1})|, temporal change that the real video
  does not have;
* ``warp_error``: frame-to-frame warping error: the optical flow of the *real* video (x_{t-1} -> x_t)
  warps g_{t-1}; the error is mean |g_t - warp(g_{t-1})| over the pixels where that flow explains the
  real video (|x_t - warp(x_{t-1})| below ``generate.warp_threshold``);
* ``tof``: TecoGAN's tOF, mean |flow(g_{t-1}, g_t) - flow(x_{t-1}, x_t)| in pixels (Farneback flow
  for both; :mod:`lstmgan.generate.temporal`);
* ``flicker_dec``, ``warp_error_dec``, ``tof_dec``: the same over the regions the decoder fills
  (weight ``1 - occlusion`` from the generator), and ``sharpness_dec``, the gradient energy of the
  generated over the real frames there (1 = as sharp as real). NaN for the baselines (no decoder).
* ``kp_jitter``: high-frequency energy of the keypoints the generator was driven with over that of
  the ground-truth landmarks (:func:`lstmgan.generate.temporal.keypoint_jitter`; NaN for the
  baselines and without ground truth).

**Cross-identity** animation (source of identity A, driving video of identity B, relative motion):
there is no ground truth, so we measure ``identity_aed`` (embeddings of the generated frames vs the
source image of A: identity kept), ``driver_aed`` (vs B's frames: how much of the driver leaks in)
and ``motion_error`` (mean |(l_g,t - l_g,0) - (l_d,t - l_d,0)| of landmark displacements in pixels:
motion followed).

**The ablation table** (:mod:`lstmgan.generate.compare`) gives every metric as mean [95% interval]
(bootstrap over test videos) and every comparison (lstm vs none, each vs copy-source) as the paired
difference with its interval; the verdict comes from the interval alone.

**Face parts** (:mod:`lstmgan.generate.parts`, ``parts`` in the metrics JSON): how much of the
output the decoder paints, inside the open mouth and the closed eye in particular, whether the
generated mouth opens with the driver's (correlation) and how many of its blinks appear; and
(``parts.<method>.keypoints``) how much of the driver's mouth opening and eye aperture its driving
keypoints carry (:func:`lstmgan.generate.parts.carried_r2`).

**Baselines** in the same table: ``copy-source`` (every output is the source frame: no motion at
all) and, for cross-identity, ``driving-video`` (the driving video itself: perfect motion, wrong
identity).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

log = logging.getLogger(__name__)

from lstmgan.generate.temporal import REGION_METRICS  # noqa: E402

RECON_METRICS = ("l1", "psnr", "ssim", "akd", "aed", "flicker", "warp_error", "tof") + REGION_METRICS + ("kp_jitter",)
CROSS_METRICS = ("identity_aed", "driver_aed", "motion_error")


# --------------------------------------------------------------------------------------------
# Metric functions: (T, H, W, 3) float arrays in [0, 1]
# --------------------------------------------------------------------------------------------
def l1(pred: np.ndarray, gt: np.ndarray) -> float:
    """Mean absolute difference over all pixels and channels (values in [0, 1])."""
    return float(np.mean(np.abs(np.asarray(pred, np.float64) - np.asarray(gt, np.float64))))


def psnr(pred: np.ndarray, gt: np.ndarray, data_range: float = 1.0, max_db: float = 100.0) -> float:
    """Per-frame PSNR in dB, averaged over frames (identical frames are capped at ``max_db``)."""
    pred, gt = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    mse = ((pred - gt) ** 2).reshape(len(pred), -1).mean(axis=1)
    with np.errstate(divide="ignore"):
        db = 10 * np.log10(data_range ** 2 / mse)
    return float(np.mean(np.minimum(db, max_db)))


def ssim(pred: np.ndarray, gt: np.ndarray, win: int = 7) -> float:
    """Per-frame SSIM averaged over frames and channels; equal to scikit-image's
    ``structural_similarity(p, g, channel_axis=-1, data_range=1)`` (7x7 uniform window, sample
    covariance, border of 3 px cropped) but vectorised over all frames at once."""
    from scipy.ndimage import uniform_filter

    x, y = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    size = (1, win, win, 1)
    n = win * win
    cov_norm = n / (n - 1)
    ux, uy = uniform_filter(x, size), uniform_filter(y, size)
    uxx, uyy, uxy = uniform_filter(x * x, size), uniform_filter(y * y, size), uniform_filter(x * y, size)
    vx, vy, vxy = cov_norm * (uxx - ux * ux), cov_norm * (uyy - uy * uy), cov_norm * (uxy - ux * uy)
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux ** 2 + uy ** 2 + c1) * (vx + vy + c2))
    pad = (win - 1) // 2
    return float(s[:, pad:-pad, pad:-pad].mean(axis=(1, 2, 3)).mean())


def akd(landmarks_pred: np.ndarray, landmarks_gt: np.ndarray) -> float:
    """Mean absolute landmark difference in pixels, (T, L, 2) each; NaN landmarks are skipped."""
    diff = np.abs(np.asarray(landmarks_pred, np.float64) - np.asarray(landmarks_gt, np.float64))
    return float(np.nanmean(diff)) if np.isfinite(diff).any() else float("nan")


def aed(emb_pred: np.ndarray, emb_gt: np.ndarray) -> float:
    """Mean squared euclidean distance between embeddings, (T, D) each (or (D,) broadcast)."""
    d = np.asarray(emb_pred, np.float64) - np.asarray(emb_gt, np.float64)
    return float(np.mean(np.sum(d ** 2, axis=-1)))


def flicker(pred: np.ndarray, gt: np.ndarray) -> float:
    """mean |(g_t - g_{t-1}) - (x_t - x_{t-1})| over t >= 1: change the real video does not have."""
    pred, gt = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    if len(pred) < 2:
        return float("nan")
    return float(np.mean(np.abs(np.diff(pred, axis=0) - np.diff(gt, axis=0))))


def _gray(frame: np.ndarray) -> np.ndarray:
    return frame @ np.array([0.299, 0.587, 0.114])


def flow_warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Sample (H, W, C) ``image`` at (row + flow[0], col + flow[1]) (bilinear, edges clamped)."""
    from scipy.ndimage import map_coordinates

    h, w = image.shape[:2]
    rows, cols = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    coords = [rows + flow[0], cols + flow[1]]
    return np.stack([map_coordinates(image[..., c], coords, order=1, mode="nearest")
                     for c in range(image.shape[-1])], axis=-1)


def real_flows(gt: np.ndarray, threshold: float = 0.05) -> list[tuple[np.ndarray, np.ndarray]]:
    """For t >= 1: the real video's flow x_t -> x_{t-1} and the mask of pixels it explains.

    Flow: scikit-image's iterative Lucas-Kanade (``optical_flow_ilk``, radius 4, 3 warps), so that
    warp(x_{t-1}) ~ x_t; pixels where |x_t - warp(x_{t-1})| >= ``threshold`` (occlusions, flow errors)
    are masked out. Computed once per video and shared by every method evaluated on it.
    """
    from skimage.registration import optical_flow_ilk

    gt = np.asarray(gt, np.float64)
    out = []
    for t in range(1, len(gt)):
        flow = optical_flow_ilk(_gray(gt[t]), _gray(gt[t - 1]), radius=4, num_warp=3)
        mask = np.abs(gt[t] - flow_warp(gt[t - 1], flow)).mean(axis=-1) < threshold
        out.append((flow, mask))
    return out


def warping_error(pred: np.ndarray, gt: np.ndarray, threshold: float = 0.05,
                  flows: list[tuple[np.ndarray, np.ndarray]] | None = None) -> float:
    """Frame-to-frame warping error: mean |g_t - warp(g_{t-1})| under the real video's flow, over
    the pixels that flow explains (see :func:`real_flows`; pass ``flows`` to reuse them)."""
    pred = np.asarray(pred, np.float64)
    flows = real_flows(gt, threshold) if flows is None else flows
    total, count = 0.0, 0
    for t, (flow, mask) in enumerate(flows, start=1):
        if mask.any():
            err = np.abs(pred[t] - flow_warp(pred[t - 1], flow)).mean(axis=-1)
            total += float(err[mask].sum())
            count += int(mask.sum())
    return total / count if count else float("nan")


def motion_error(landmarks_pred: np.ndarray, landmarks_driving: np.ndarray) -> float:
    """Mean |(l_g,t - l_g,0) - (l_d,t - l_d,0)| in pixels: does the output move like the driver?"""
    lp = np.asarray(landmarks_pred, np.float64)
    ld = np.asarray(landmarks_driving, np.float64)
    return float(np.nanmean(np.abs((lp - lp[:1]) - (ld - ld[:1]))))


# --------------------------------------------------------------------------------------------
# Protocol
# --------------------------------------------------------------------------------------------
def _float(frames_uint8: np.ndarray) -> np.ndarray:
    return np.asarray(frames_uint8, np.float32) / 255.0


class ReferenceCache:
    """What evaluation computes from the real videos once and reuses for every method:
    optical flows with masks, landmarks and identity embeddings of the ground-truth frames."""

    def __init__(self, evalnets, threshold: float):
        self.evalnets = evalnets
        self.threshold = threshold
        self._store: dict[tuple[str, str], Any] = {}

    def get(self, kind: str, key: str, frames: np.ndarray):
        from lstmgan.utils.tensors import to_tensor

        if (kind, key) not in self._store:
            if kind == "flows":
                value = real_flows(_float(frames), self.threshold)
            elif kind == "tof_flows":
                from lstmgan.generate.temporal import sequence_flows

                value = sequence_flows(_float(frames))
            elif kind == "landmarks":
                value = self.evalnets.landmarks(to_tensor(frames))
            else:
                value = self.evalnets.embed(to_tensor(frames))
            self._store[(kind, key)] = value
        return self._store[(kind, key)]


def reconstruction_metrics(pred: np.ndarray, gt: np.ndarray, evalnets, threshold: float,
                           cache: ReferenceCache | None = None, key: str = "",
                           occlusion: np.ndarray | None = None,
                           landmarks_gt: np.ndarray | None = None) -> dict[str, float]:
    """All reconstruction metrics for one video; ``pred``/``gt`` uint8 (T, S, S, 3).

    ``cache``/``key`` reuse the ground truth's flows, landmarks and embeddings across methods;
    ``occlusion`` (T, S, S), the generator's map, gives the decoder-region metrics (NaN without);
    ``landmarks_gt`` (T, 68, 2), the store's ground truth, the face-part measures
    (:mod:`lstmgan.generate.parts`).
    """
    from lstmgan.generate.temporal import decoder_weight, region_metrics, tof
    from lstmgan.utils.tensors import to_tensor

    cache = cache or ReferenceCache(evalnets, threshold)
    key = key or str(id(gt))
    p, g = _float(pred), _float(gt)
    row = {"l1": l1(p, g), "psnr": psnr(p, g), "ssim": ssim(p, g), "flicker": flicker(p, g),
           "warp_error": warping_error(p, g, threshold, flows=cache.get("flows", key, gt)),
           "tof": tof(p, g, gt_flows=cache.get("tof_flows", key, gt))}
    row.update(region_metrics(p, g, decoder_weight(occlusion, g.shape[1:3]), flows=cache.get("flows", key, gt),
                              gt_flows=cache.get("tof_flows", key, gt), threshold=threshold))
    tp = to_tensor(pred)
    lp, lg = evalnets.landmarks(tp), cache.get("landmarks", key, gt)
    row["akd"] = akd(lp, lg) if lp is not None else float("nan")
    ep, eg = evalnets.embed(tp), cache.get("embed", key, gt)
    row["aed"] = aed(ep, eg) if ep is not None else float("nan")
    if landmarks_gt is not None and lp is not None:
        from lstmgan.generate.parts import part_measures

        row.update(part_measures(occlusion, landmarks_gt, lp, lg))
    return row


def _eval_videos(store, split: str, limit: int) -> list:
    records = store.split(split)
    if not records:
        from lstmgan.errors import UserError

        raise UserError(f"{store.root}: split {split!r} has no videos; set generate.eval_split")
    return records[:limit] if limit else records


def _landmarks(store, video_id: str, frames: int) -> np.ndarray | None:
    """The store's ground-truth landmarks of a video's first ``frames`` frames (None when unknown)."""
    lm = np.asarray(store.landmarks(video_id), np.float64)[:frames]
    return lm if np.isfinite(lm).all() else None


def _cross_parts(pred: np.ndarray, evalnets, occlusion, driver_landmarks: np.ndarray | None,
                 cache: ReferenceCache, driving_key: str, driving: np.ndarray) -> dict[str, float]:
    """Face-part measures of a cross-identity animation against the driver's ground truth (the
    measures are relative to each face's size and median, so two people compare)."""
    from lstmgan.generate.parts import part_measures
    from lstmgan.utils.tensors import to_tensor

    lp = evalnets.landmarks(to_tensor(pred))
    if driver_landmarks is None or lp is None:
        return {}
    return part_measures(None if occlusion is None else np.asarray(occlusion), driver_landmarks, lp,
                         cache.get("landmarks", driving_key, driving))


def _frames(store, video_id: str, max_frames: int) -> np.ndarray:
    frames = np.asarray(store.frames(video_id))
    return frames[:max_frames] if max_frames else frames


@dataclass
class MethodResult:
    """What one method produced on the evaluation: per-video rows, and kept examples for figures."""

    method: str
    recon: list[dict[str, Any]]
    cross: list[dict[str, Any]]
    examples: dict[str, Any]
    carried: dict[str, float] = field(default_factory=dict)  # parts.carried_r2 of the driving keypoints


def evaluate_method(method: str, store, evalnets, params, animator=None,
                    cache: ReferenceCache | None = None, drive: str = "clean") -> MethodResult:
    """Reconstruction + cross-identity metrics for a checkpoint's ``animator`` or a baseline.

    ``method`` ``copy-source`` / ``driving-video`` are the baselines (``animator`` unused).
    ``drive="degraded"`` drives reconstruction with the store's degraded copy of each video (sensor
    noise, shake, flicker, blur: ``data.degrade``) from its clean first frame, and scores against the
    clean frames; cross-identity is then skipped (it has no ground truth to score the noise against).
    """
    from lstmgan.face.landmarks import eye_aperture, mouth_opening
    from lstmgan.generate.parts import carried_r2
    from lstmgan.generate.temporal import keypoint_jitter
    from lstmgan.utils.tensors import to_tensor, to_uint8

    from lstmgan.utils.progress import progress as tqdm  # off unless someone watches

    g = params.generate
    cache = cache or ReferenceCache(evalnets, g.warp_threshold)
    recon, cross = [], []
    examples: dict[str, Any] = {"recon": [], "cross": []}
    records = _eval_videos(store, g.eval_split, g.eval_videos)
    if drive not in ("clean", "degraded"):
        raise ValueError(f"drive must be 'clean' or 'degraded', got {drive!r}")
    features, mouths, eyes = [], [], []  # per video, relative to its first frame: what the keypoints carry
    for r in tqdm(records, desc=f"reconstruct [{method}, {drive}]", leave=False, mininterval=5):
        gt = _frames(store, r.video_id, g.eval_max_frames)
        drv = gt if drive == "clean" else np.asarray(store.degraded(r.video_id))[:len(gt)]
        occlusion = None
        if method == "copy-source":
            pred = np.broadcast_to(gt[:1], gt.shape).copy()
        elif method == "driving-video":
            pred = drv.copy()
        else:
            result = animator.animate(to_tensor(gt[0]), to_tensor(drv), relative=True, adapt_scale=False)
            pred = to_uint8(result.frames)
            occlusion = None if result.occlusion is None else result.occlusion.numpy()
            if len(examples["recon"]) < 4:
                examples["recon"].append({"video_id": r.video_id, "pred": pred, "gt": gt,
                                          "kp_driving": result.kp_driving.numpy(),
                                          "kp_used": result.kp_used.numpy()})
        row = {"method": method, "video_id": r.video_id, "identity": r.identity, "frames": len(gt)}
        landmarks_gt = _landmarks(store, r.video_id, len(gt))
        row.update(reconstruction_metrics(pred, gt, evalnets, g.warp_threshold, cache, r.video_id, occlusion,
                                          landmarks_gt))
        row["kp_jitter"] = float("nan")
        if method not in ("copy-source", "driving-video") and landmarks_gt is not None:
            rendered = (result.kp_used if result.kp_rendered is None else result.kp_rendered).numpy()
            # keypoints in [-1, 1] over the frame: half the frame size in pixels per unit
            row["kp_jitter"] = keypoint_jitter(rendered * gt.shape[2] / 2, landmarks_gt)
            kp = rendered.reshape(len(rendered), -1)
            mouth, eye = mouth_opening(landmarks_gt), eye_aperture(landmarks_gt)
            features.append(kp - kp[:1])
            mouths.append(mouth - mouth[0])
            eyes.append(eye - eye[0])
        recon.append(row)
    carried = {}
    if features:
        carried = {"mouth_r2": carried_r2(features, mouths), "eye_r2": carried_r2(features, eyes)}
    if drive == "degraded":
        return MethodResult(method, recon, cross, examples, carried)
    pairs = cross_identity_pairs(store, g.eval_split, g.cross_pairs, params.seed)
    for pair_index, (src, drv) in enumerate(tqdm(pairs, desc=f"cross-identity [{method}]", leave=False,
                                                 mininterval=5)):
        source = np.asarray(store.frames(src.video_id)[0])
        driving = _frames(store, drv.video_id, g.eval_max_frames)
        if method == "copy-source":
            pred = np.broadcast_to(source, driving.shape).copy()
        elif method == "driving-video":
            pred = driving.copy()
        else:
            result = animator.animate(to_tensor(source), to_tensor(driving), relative=True,
                                      adapt_scale=g.adapt_scale)
            pred = to_uint8(result.frames)
            if len(examples["cross"]) < 4:
                examples["cross"].append({"source": source, "driving": driving, "pred": pred,
                                          "source_video": src.video_id, "driving_video": drv.video_id})
        row = {"method": method, "pair": pair_index, "source_video": src.video_id, "source_identity": src.identity,
               "driving_video": drv.video_id, "driving_identity": drv.identity}
        row.update(cross_metrics(pred, source, driving, evalnets, cache, src.video_id, drv.video_id))
        row.update(_cross_parts(pred, evalnets, None if method in ("copy-source", "driving-video") else result.occlusion,
                                _landmarks(store, drv.video_id, len(driving)), cache, drv.video_id, driving))
        cross.append(row)
    return MethodResult(method, recon, cross, examples, carried)


def cross_metrics(pred: np.ndarray, source: np.ndarray, driving: np.ndarray, evalnets,
                  cache: ReferenceCache | None = None, source_key: str = "", driving_key: str = ""
                  ) -> dict[str, float]:
    """Identity kept (vs the source image), driver leak (vs the driving frames), motion followed."""
    from lstmgan.utils.tensors import to_tensor

    cache = cache or ReferenceCache(evalnets, 0.05)
    source_key = "source:" + (source_key or str(id(source)))
    driving_key = driving_key or str(id(driving))
    tp = to_tensor(pred)
    out = {"identity_aed": float("nan"), "driver_aed": float("nan"), "motion_error": float("nan")}
    ep = evalnets.embed(tp)
    if ep is not None:
        out["identity_aed"] = aed(ep, cache.get("embed", source_key, source[None])[0])
        out["driver_aed"] = aed(ep, cache.get("embed", driving_key, driving))
    lp = evalnets.landmarks(tp)
    if lp is not None:
        out["motion_error"] = motion_error(lp, cache.get("landmarks", driving_key, driving))
    return out


def cross_identity_pairs(store, split: str, n: int, seed: int) -> list[tuple[Any, Any]]:
    """``n`` seeded (source record, driving record) pairs of different identities within ``split``."""
    records = store.split(split)
    if len({r.identity for r in records}) < 2 or n <= 0:
        return []
    rng = np.random.default_rng(seed + 101)
    pairs = []
    while len(pairs) < n:
        i, j = rng.integers(len(records), size=2)
        if records[i].identity != records[j].identity:
            pairs.append((records[i], records[j]))
    return pairs


def summarize(rows: Iterable[dict[str, Any]], metrics: Iterable[str]) -> dict[str, float]:
    """Mean of each metric over rows (NaN entries skipped; NaN when none)."""
    rows = list(rows)
    out = {}
    for m in metrics:
        vals = np.array([r.get(m, np.nan) for r in rows], np.float64)
        out[m] = float(np.nanmean(vals)) if np.isfinite(vals).any() else float("nan")
    return out


def ablation_table(results: list[MethodResult]):
    """One row per method: reconstruction and cross-identity means (a pandas DataFrame)."""
    import pandas as pd

    rows = []
    for res in results:
        row = {"method": res.method, "videos": len(res.recon)}
        row.update(summarize(res.recon, RECON_METRICS))
        row.update(summarize(res.cross, CROSS_METRICS))
        rows.append(row)
    table = pd.DataFrame(rows).set_index("method")
    # the driving video is the ground truth of reconstruction: its recon scores are trivially perfect
    if "driving-video" in table.index:
        table.loc["driving-video", list(RECON_METRICS)] = np.nan
    return table


def unit_frames(results: list[MethodResult]):
    """(reconstruction, cross-identity) long DataFrames with a ``unit`` column for
    :mod:`lstmgan.generate.compare`: the video id, or ``pair<i>`` (the same seeded pairs for every
    method)."""
    import pandas as pd

    recon = pd.DataFrame([{**r, "method": res.method, "unit": str(r["video_id"])} for res in results for r in res.recon])
    cross = pd.DataFrame([{**r, "method": res.method, "unit": f"pair{r['pair']}"} for res in results for r in res.cross])
    return recon, cross


def interval_tables(results: list[MethodResult], pairs: list[tuple[str, str]] | None = None,
                    n_boot: int = 2000, boot_seed: int = 0):
    """(means, comparisons) long DataFrames: every method's mean [95% interval] per metric, and the
    paired difference with interval and verdict for each pair (default: lstm vs none, each
    generator vs copy-source). The driving video's reconstruction scores are trivially perfect
    and left out."""
    import pandas as pd

    from lstmgan.generate import compare as C

    methods = [r.method for r in results]
    pairs = C.default_pairs(methods) if pairs is None else pairs
    recon, cross = unit_frames(results)
    if len(recon):
        recon = recon[recon["method"] != "driving-video"]
    means, comps = [], []
    for df, metrics in ((recon, RECON_METRICS), (cross, CROSS_METRICS)):
        if len(df):
            means.append(C.means_table(df, metrics, [m for m in methods if m in set(df["method"])],
                                       n_boot, boot_seed))
            comps.append(C.comparisons_table(df, pairs, [m for m in metrics if m != "driver_aed"], n_boot,
                                             boot_seed))
    means = pd.concat(means, ignore_index=True) if means else C.means_table(recon, ())
    comps = pd.concat(comps, ignore_index=True) if comps else C.comparisons_table(recon, (), ())
    # one block per method / pair, in the order given
    means["order"] = means["method"].map({m: i for i, m in enumerate(methods)})
    means = means.sort_values("order", kind="stable").drop(columns="order").reset_index(drop=True)
    if len(comps):
        comps["order"] = [pairs.index((a, b)) for a, b in zip(comps["a"], comps["b"])]
        comps = comps.sort_values("order", kind="stable").drop(columns="order").reset_index(drop=True)
    return means, comps


def check_checkpoints(checkpoints: dict[str, Path]) -> None:
    """Fail early, before any training of measuring networks, when a checkpoint is missing."""
    from lstmgan.errors import UserError

    if not checkpoints:
        raise UserError("generate.methods is empty; name at least one trained generator (lstm, none)")
    for method, path in checkpoints.items():
        if not Path(path).is_file():
            raise UserError(f"{path}: no checkpoint for method {method!r}; run `dvc repro train` "
                            f"(or `lstmgan train --set gan.temporal={method}`) first, or pass --checkpoint {method}=PATH")


def evaluate_all(params, store=None, device: str | None = None, checkpoints: dict[str, Path] | None = None,
                 evalnets_save: str | Path | None = None) -> dict[str, Any]:
    """The generate stage's evaluation: evalnets, each checkpoint, baselines, tables, metrics JSON.

    Returns {"table", "results", "evalnets", "metrics"}; writes per-video CSVs to
    ``generate.reports``, the ablation table to ``generate.tables``/ablation.{md,csv} and the metrics
    JSON to ``generate.metrics``. Measuring networks are read from ``generate.evalnets_out``; ones
    that must be trained are saved to ``evalnets_save`` (default: that folder).
    """
    import pandas as pd

    from lstmgan.generate.animate import Animator
    from lstmgan.utils.device import resolve_device
    from lstmgan.media.store import open_store
    from lstmgan.generate.evalnets import build_evalnets
    from lstmgan.models.full_model import load_checkpoint
    from lstmgan.utils.io import atomic_write_json, atomic_write_text
    from lstmgan.utils.seed import seed_everything

    from lstmgan.utils.device import set_cpu_threads

    g = params.generate
    seed_everything(params.seed)
    set_cpu_threads(g.threads)
    dev = resolve_device(device or g.device)
    store = store or open_store(params.data.out)
    from lstmgan.generate.filters import base_method, tune_one_euro

    checkpoints = checkpoints or {m: Path(params.gan.out) / base_method(m) / "latest.pt" for m in g.methods}
    check_checkpoints(checkpoints)
    evalnets = build_evalnets(store, params, dev, save_to=evalnets_save)
    results = []
    trained_steps = {}
    cache = ReferenceCache(evalnets, g.warp_threshold)
    animators, filters = {}, {}
    for method, ckpt in checkpoints.items():
        nets, ck_params, step = load_checkpoint(ckpt, dev)
        trained_steps[method] = step
        kp_filter = None
        if base_method(method) != method:  # <m>+euro: the non-learned temporal baseline, tuned on val
            euro, grid = tune_one_euro(nets, store, params, dev)
            filters[method] = {"min_cutoff": euro.min_cutoff, "beta": euro.beta, "grid": grid}
            log.info("%s: One-Euro filter min_cutoff %g Hz, beta %g (validation L1 %.5f)", method, euro.min_cutoff,
                     euro.beta, min(r["val_l1"] for r in grid))
            kp_filter = euro.keypoints
        animators[method] = Animator(nets, dev, batch_size=g.batch_size, relative=True, adapt_scale=g.adapt_scale,
                                     kp_filter=kp_filter)
        results.append(evaluate_method(method, store, evalnets, params, animators[method], cache))
    for baseline in ("copy-source", "driving-video"):
        results.append(evaluate_method(baseline, store, evalnets, params, cache=cache))
    degraded = []
    if g.degraded and getattr(store, "has_degraded", False):
        degraded = [evaluate_method(m, store, evalnets, params, animators.get(m), cache, drive="degraded")
                    for m in [*animators, "copy-source", "driving-video"]]
    elif g.degraded:
        log.info("evaluation: %s has no degraded copy (data.degrade.enabled: false); clean driving only",
                 store.root)
    table = ablation_table(results)
    reports = Path(g.reports)
    recon_df = pd.DataFrame([r for res in results for r in res.recon])
    cross_df = pd.DataFrame([r for res in results for r in res.cross])
    atomic_write_text(reports / "per_video.csv", recon_df.to_csv(index=False, float_format="%.6g"))
    atomic_write_text(reports / "cross_identity.csv", cross_df.to_csv(index=False, float_format="%.6g"))
    rep = evalnets.report
    lm_err = rep.landmarks.get("test_mae_px")
    # AKD compares generated and real frames of the same face, so a constant per-face offset of the
    # landmark network cancels; what limits it is the error on landmark motion within a video.
    lm_motion_err = rep.landmarks.get("test_motion_mae_px", lm_err)
    from lstmgan.generate import compare as C

    means, comps = interval_tables(results)
    pairs = list(dict.fromkeys(zip(comps["a"], comps["b"])))
    note = " ".join(C.summary_sentence(comps, a, b) for a, b in pairs[:1 if ("lstm", "none") in pairs else None]) \
        or C.summary_sentence(comps)
    note += (f" AKD is measured by {rep.landmark_source}"
             + (f" (its own test error {lm_err:.3f} px absolute, {lm_motion_err:.3f} px on landmark motion)"
                if lm_err is not None else "")
             + f"; AED by {rep.identity_source}"
             + (f" (test verification accuracy {rep.identity['test_verification_accuracy']:.3f})"
                if "test_verification_accuracy" in rep.identity else "") + ".")
    if lm_motion_err is not None:
        unresolved = [m for m in table.index
                      if np.isfinite(table.loc[m, "akd"]) and table.loc[m, "akd"] < 2 * lm_motion_err]
        if unresolved:
            note += (f" Caution: AKD of {', '.join(unresolved)} is below twice the landmark network's error on "
                     "landmark motion, so those AKD differences are not resolved by it.")
    note += f" Training steps: {', '.join(f'{k} {v}' for k, v in trained_steps.items())}."
    lstm_vs_none = comps[(comps["a"] == "lstm") & (comps["b"] == "none")]
    if len(lstm_vs_none):
        atomic_write_text(reports / "lstm_vs_none.csv", lstm_vs_none.to_csv(index=False, float_format="%.6g"))
    C.write_ablation(means, comps, Path(g.tables) / "ablation", note)

    def clean(d: dict) -> dict:
        return {k: (None if isinstance(v, float) and not np.isfinite(v) else round(float(v), 6))
                for k, v in d.items() if k != "videos"}

    metrics = {m: clean(table.loc[m].to_dict()) for m in table.index}
    metrics["evalnets"] = {"landmark_source": rep.landmark_source, "identity_source": rep.identity_source,
                           "landmark_test_mae_px": lm_err, "landmark_test_motion_mae_px": lm_motion_err,
                           "identity_test_verification_accuracy": rep.identity.get("test_verification_accuracy")}
    metrics["trained_steps"] = trained_steps
    metrics["lstm_vs_none"] = dict(zip(lstm_vs_none["metric"], lstm_vs_none["verdict"]))
    metrics["intervals"] = {m: {r.metric: [_round(r.low), _round(r.high)] for r in rows.itertuples()}
                            for m, rows in means.groupby("method", sort=False)}
    metrics["comparisons"] = comparisons_json(comps)
    from lstmgan.generate.parts import summarize_parts

    metrics["parts"] = {res.method: {kind: {k: _round(v) for k, v in summarize_parts(rows).items()}
                                     for kind, rows in (("reconstruction", res.recon), ("cross", res.cross))}
                        for res in results}
    for res in results:
        if res.carried:
            metrics["parts"][res.method]["keypoints"] = {k: _round(v) for k, v in res.carried.items()}
    if degraded:
        metrics["degraded"] = degraded_metrics(degraded, reports)
    if filters:
        metrics["kp_filters"] = filters
    atomic_write_json(g.metrics, metrics)
    log.info("evaluation: %s", note)
    return {"table": table, "results": results, "evalnets": evalnets, "metrics": metrics, "note": note,
            "means": means, "comparisons": comps}


def degraded_metrics(results: list[MethodResult], reports: Path) -> dict[str, Any]:
    """Reconstruction driven by the degraded videos, scored against the clean ones: each method's
    means with 95% intervals, the paired comparisons (lstm vs none, each vs copy-source) and the
    face-part summary; per-video rows to ``reports/per_video_degraded.csv`` and the tables to
    ``reports/ablation_degraded.{md,csv}``."""
    import pandas as pd

    from lstmgan.utils.io import atomic_write_text

    rows = pd.DataFrame([r for res in results for r in res.recon])
    atomic_write_text(reports / "per_video_degraded.csv", rows.to_csv(index=False, float_format="%.6g"))
    # the degraded driving video itself, scored against the clean one, is the capture's own error:
    # kept in the means (unlike clean driving, where it is the ground truth), not in the comparisons
    means, comps = interval_tables([res for res in results if res.method != "driving-video"])
    from lstmgan.generate import compare as C

    floor = summarize(next((res.recon for res in results if res.method == "driving-video"), []), RECON_METRICS)
    C.write_ablation(means, comps, reports / "ablation_degraded",
                     "Driven by the degraded copy of each test video (data.degrade), scored against its clean frames. "
                     + (f"The degraded video itself, against the clean one: L1 {floor['l1']:.4f}, flicker "
                        f"{floor['flicker']:.4f}, AKD {floor['akd']:.3f} px." if np.isfinite(floor["l1"]) else ""))
    from lstmgan.generate.parts import summarize_parts

    out: dict[str, Any] = {
        "means": {m: {r.metric: {"mean": _round(r.mean), "low": _round(r.low), "high": _round(r.high)}
                      for r in rows_.itertuples()} for m, rows_ in means.groupby("method", sort=False)},
        "degraded_video": {k: _round(v) for k, v in floor.items()},
        "comparisons": comparisons_json(comps),
        "parts": {res.method: {**{k: _round(v) for k, v in summarize_parts(res.recon).items()},
                               **{f"keypoints_{k}": _round(v) for k, v in res.carried.items()}}
                  for res in results if res.method not in ("copy-source", "driving-video")},
    }
    return out


def comparisons_json(comps) -> dict[str, dict[str, dict[str, Any]]]:
    """``{"A vs B": {metric: {diff, low, high, verdict}}}`` from a comparisons table."""
    return {f"{a} vs {b}": {r.metric: {"diff": _round(r.diff), "low": _round(r.low), "high": _round(r.high),
                                       "verdict": r.verdict} for r in rows.itertuples()}
            for (a, b), rows in comps.groupby(["a", "b"], sort=False)}


def _round(v: float) -> float | None:
    return None if v is None or not np.isfinite(v) else round(float(v), 6)
