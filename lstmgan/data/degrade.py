"""Capture realism: a degraded copy of every video of a face-video store, ground truth unchanged.

A real driving video (a webcam, a c23 stream) is not the noise-free render of the embedded data set:
the camera shakes a little, the light flickers, fast moves smear during the exposure and the sensor
adds noise. A frame-by-frame keypoint detector turns all of this into keypoint jitter, which is what
a temporal model has to remove. :func:`degrade_video` adds the four effects to one video in the order
they happen physically:

1. **optics** (the scene as it reaches the sensor): a camera-shake translation, an AR(1) process per
   axis with stationary sd ``shake_px`` (correlation :data:`SHAKE_CORRELATION` from frame to frame),
   and a motion blur along the face's direction of motion, of length ``blur_exposure`` x the face's
   speed (px/frame: the mean landmark velocity, central differences). Both are sampled as the
   sensor's pixels would: each pixel integrates a box of a piecewise-constant scene, which for a
   translation is exactly bilinear interpolation; the blur averages such translations along the
   motion path (samples at most :data:`BLUR_SPACING_PX` apart). Borders repeat the edge pixel.
2. **light**: a global gain ``1 + flicker x g_t``, with ``g_t`` an AR(1) of unit sd and correlation
   :data:`FLICKER_CORRELATION` (partly independent from frame to frame, so it flickers).
3. **sensor noise**: Gaussian, drawn fresh for every pixel, channel and frame, with a per-video sd
   drawn uniformly in ``noise``; :data:`SHOT_SHARE` of its variance grows with the signal (shot
   noise), so the sd equals the drawn value at :data:`NOISE_REFERENCE` (mid grey), less in the dark.
4. clip to [0, 255] and round to uint8.

:func:`degrade_store` writes ``cache/degraded.npy`` (uint8, the shape of ``cache/frames.npy``) and
``cache/degradation.npz`` (the per-frame record, by cache row) into a store, each video seeded from
the run seed and a stable hash of its id, so one video's degradation does not depend on the others.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import time
from pathlib import Path

import numpy as np

from lstmgan.config import DegradeParams
from lstmgan.errors import UserError

log = logging.getLogger(__name__)

SHAKE_CORRELATION = 0.8  # AR(1) coefficient of the shake per frame: ~0.2 s memory at 25 fps (a hand, a desk)
FLICKER_CORRELATION = 0.5  # AR(1) coefficient of the gain: slow drift plus frame-to-frame flicker
SHOT_SHARE = 0.5  # share of the noise variance at NOISE_REFERENCE that scales with the signal
NOISE_REFERENCE = 128.0  # grey level (0-255) at which the noise sd equals the drawn sd
BLUR_SPACING_PX = 0.5  # largest distance between the samples that integrate the blur path
RECORD_KEYS = ("noise_sd", "shake", "gain", "blur_px")  # the per-frame record of degrade_video
_STREAM_TAG = 0x6465_6772  # "degr": keeps these seeds apart from the renderer's


def video_rng(seed: int, video_id: str) -> np.random.Generator:
    """The generator of one video's degradation: from the run seed and a stable hash of its id."""
    digest = int.from_bytes(hashlib.sha256(video_id.encode("utf-8")).digest()[:8], "little")
    return np.random.default_rng(np.random.SeedSequence([int(seed), _STREAM_TAG, digest]))


def ar1(rng: np.random.Generator, shape: tuple[int, ...], rho: float) -> np.ndarray:
    """A stationary AR(1) series of unit sd along axis 0: ``x_t = rho x_{t-1} + sqrt(1 - rho^2) e_t``."""
    e = rng.standard_normal(shape)
    x = np.empty(shape)
    x[0] = e[0]
    k = np.sqrt(1.0 - rho * rho)
    for t in range(1, shape[0]):
        x[t] = rho * x[t - 1] + k * e[t]
    return x


def face_velocity(landmarks: np.ndarray | None, frames: int) -> np.ndarray:
    """(T, 2) mean landmark velocity in px/frame (central differences, one-sided at the ends);
    zero where the landmarks are unknown, for a single frame, or without landmarks."""
    if landmarks is None or frames < 2:
        return np.zeros((frames, 2))
    lm = np.asarray(landmarks, np.float64).reshape(frames, -1, 2)
    known = np.isfinite(lm).all(axis=-1)  # (T, 68)
    count = known.sum(axis=1)[:, None]
    centre = np.where(count > 0, np.where(known[..., None], lm, 0.0).sum(axis=1) / np.maximum(count, 1), np.nan)
    velocity = np.gradient(centre, axis=0)
    return np.where(np.isfinite(velocity), velocity, 0.0)


def _to_planes(frames: np.ndarray) -> np.ndarray:
    """(T, S, S, C) -> contiguous float32 (T, C, S, S): the image planes the optics work on."""
    return np.ascontiguousarray(np.moveaxis(np.asarray(frames, np.float32), -1, 1))


def _shift_planes(padded: np.ndarray, pad: int, size: int, shift: np.ndarray) -> np.ndarray:
    """Bilinear translation of edge-padded planes (T, C, S + 2 pad + 1, S + 2 pad + 1) by ``shift``
    (T, 2) = (dx, dy): the target pixel j reads the source at j - d."""
    t = len(padded)
    base = np.floor(-shift)  # (T, 2): integer part of the source offset
    frac = (-shift - base).astype(np.float32)
    base = base.astype(np.int64) + pad
    if base.min(initial=0) < 0 or base.max(initial=0) > 2 * pad:
        raise ValueError("shift larger than the padding")
    windows = np.lib.stride_tricks.sliding_window_view(padded, (size + 1, size + 1), axis=(2, 3))
    w = windows[np.arange(t), :, base[:, 1], base[:, 0]]  # (T, C, S + 1, S + 1)
    fx = frac[:, 0].reshape(t, 1, 1, 1)
    fy = frac[:, 1].reshape(t, 1, 1, 1)
    h = w[..., :-1] + fx * (w[..., 1:] - w[..., :-1])  # along x
    return h[:, :, :-1] + fy * (h[:, :, 1:] - h[:, :, :-1])  # along y


def _pad_planes(planes: np.ndarray, reach: float) -> tuple[np.ndarray, int]:
    pad = int(np.ceil(reach)) + 1
    return np.pad(planes, ((0, 0), (0, 0), (pad, pad + 1), (pad, pad + 1)), mode="edge"), pad


def shift_frames(frames: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """Translate each frame's content by ``shift[t] = (dx, dy)`` pixels; float32 (T, S, S, 3).

    Content at (x, y) moves to (x + dx, y + dy); bilinear (a box-integrating pixel on a
    pixel-constant scene; exact for integer shifts); the border repeats the edge pixel.
    """
    shift = np.asarray(shift, np.float64).reshape(len(frames), 2)
    padded, pad = _pad_planes(_to_planes(frames), np.abs(shift).max(initial=0.0))
    return np.moveaxis(_shift_planes(padded, pad, frames.shape[1], shift), 1, -1)


def optics(frames: np.ndarray, shake: np.ndarray, blur: np.ndarray) -> np.ndarray:
    """The frames as the sensor integrates them: shifted by ``shake`` (T, 2) and averaged along the
    blur path ``blur`` (T, 2) (the vector the face covers during the exposure, centred on the
    frame's time); float32 (T, S, S, 3)."""
    shake = np.asarray(shake, np.float64).reshape(len(frames), 2)
    blur = np.asarray(blur, np.float64).reshape(len(frames), 2)
    length = np.linalg.norm(blur, axis=1)
    samples = max(1, int(np.ceil(length.max(initial=0.0) / BLUR_SPACING_PX)))
    reach = (np.abs(shake) + np.abs(blur) / 2).max(initial=0.0)
    padded, pad = _pad_planes(_to_planes(frames), reach)
    size = frames.shape[1]
    out = None
    for k in range(samples):  # midpoint rule over the exposure
        s = (k + 0.5) / samples - 0.5
        plane = _shift_planes(padded, pad, size, shake + s * blur)
        out = plane if out is None else out + plane
    if samples > 1:
        out /= samples
    return np.ascontiguousarray(np.moveaxis(out, 1, -1))


def _check(params: DegradeParams) -> tuple[float, float]:
    noise = list(params.noise)
    if len(noise) != 2 or not 0 <= noise[0] <= noise[1]:
        raise UserError(f"data.degrade.noise must be [low, high] with 0 <= low <= high, got {noise}")
    for name in ("shake_px", "flicker", "blur_exposure"):
        if getattr(params, name) < 0:
            raise UserError(f"data.degrade.{name} must be >= 0, got {getattr(params, name)}")
    return float(noise[0]), float(noise[1])


def degrade_video(frames: np.ndarray, landmarks: np.ndarray | None, params: DegradeParams,
                  rng: np.random.Generator) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Degrade one video: ``frames`` (T, S, S, 3) uint8, ``landmarks`` (T, 68, 2) pixels or None
    (no motion blur then). Returns the degraded frames (T, S, S, 3) uint8 and the per-frame record
    ``noise_sd`` (T,) at mid grey, ``shake`` (T, 2) px (dx, dy), ``gain`` (T,), ``blur_px`` (T,).

    Each component draws from its own child stream of ``rng``, so turning one off leaves the others'
    draws as they were. With every component at 0 the output is the input.
    """
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 (T, S, S, 3), got {frames.dtype} {frames.shape}")
    t = len(frames)
    low, high = _check(params)
    r_noise_sd, r_shake, r_gain, r_noise = rng.spawn(4)
    noise_sd = np.full(t, r_noise_sd.uniform(low, high))
    shake = params.shake_px * ar1(r_shake, (t, 2), SHAKE_CORRELATION) if t else np.zeros((0, 2))
    gain = 1.0 + params.flicker * ar1(r_gain, (t,), FLICKER_CORRELATION) if t else np.ones(0)
    blur = params.blur_exposure * face_velocity(landmarks, t)
    record = {"noise_sd": noise_sd.astype(np.float32), "shake": shake.astype(np.float32),
              "gain": gain.astype(np.float32), "blur_px": np.linalg.norm(blur, axis=1).astype(np.float32)}
    if t == 0:
        return frames.copy(), record
    moved = params.shake_px > 0 or np.any(blur != 0)
    out = optics(frames, shake, blur) if moved else frames.astype(np.float32)
    if params.flicker > 0:
        out *= gain.astype(np.float32)[:, None, None, None]
    if high > 0:
        level = np.clip(out, 0.0, None) / NOISE_REFERENCE
        sd = float(noise_sd[0]) * np.sqrt(np.float32(1.0 - SHOT_SHARE) + np.float32(SHOT_SHARE) * level)
        out += sd * r_noise.standard_normal(out.shape, dtype=np.float32)
    return np.rint(np.clip(out, 0, 255)).astype(np.uint8), record


def degrade_store(root: str | Path, params: DegradeParams, seed: int) -> None:
    """Write ``cache/degraded.npy`` and ``cache/degradation.npz`` into the store at ``root`` (both
    appear together) and record the settings under ``degrade`` in ``dataset.json``.

    Deterministic by ``seed`` and each video's id; the clean frames and landmarks are not touched.
    """
    from lstmgan.media.store import FaceStore
    from lstmgan.utils.io import all_or_nothing, atomic_path, atomic_write_text
    from lstmgan.utils.progress import progress as tqdm

    root = Path(root)
    store = FaceStore(root)
    _check(params)
    frames = store.all_frames
    n = len(frames)
    record = {"noise_sd": np.zeros(n, np.float32), "shake": np.zeros((n, 2), np.float32),
              "gain": np.ones(n, np.float32), "blur_px": np.zeros(n, np.float32)}
    covered = np.zeros(n, bool)
    start = time.perf_counter()
    cache = root / "cache"
    with all_or_nothing():
        with atomic_path(cache / "degraded.npy") as tmp:
            out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=frames.shape)
            for r in tqdm(store.records, desc="degrade", unit="video", disable=len(store) < 8):
                rows = slice(r.offset, r.offset + r.frames)
                lm = store.landmarks(r.video_id)
                out[rows], rec = degrade_video(np.asarray(store.frames(r.video_id)),
                                               lm if np.isfinite(lm).any() else None, params,
                                               video_rng(seed, r.video_id))
                for key in RECORD_KEYS:
                    record[key][rows] = rec[key]
                covered[rows] = True
            out[~covered] = frames[~covered]  # rows of no video (none in a store written by StoreWriter)
            out.flush()
            del out
        with atomic_path(cache / "degradation.npz") as tmp:
            with tmp.open("wb") as fh:
                np.savez(fh, **record)
        meta = dict(store.meta)
        meta["degrade"] = {**dataclasses.asdict(params), "seed": int(seed)}
        atomic_write_text(root / "dataset.json", json.dumps(meta, indent=2, sort_keys=True) + "\n")
    log.info("degrade: %d videos, %d frames -> %s (noise sd %s, shake %.2f px, flicker %.3f, blur x%.2f) in %.1f s",
             len(store.records), n, cache / "degraded.npy", list(params.noise), params.shake_px,
             params.flicker, params.blur_exposure, time.perf_counter() - start)
