"""Causal filters on keypoint trajectories: the non-learned baseline a learned recurrence must beat.

A frame-by-frame keypoint detector jitters on a noisy driving video; the cheapest remedy is to
smooth its trajectories. The One-Euro filter (Casiez, Roussel and Vogel, CHI 2012) is the standard
causal choice for tracked points: an exponential smoother whose cutoff frequency rises with the
signal's speed, so slow motion is smoothed hard (jitter removed) and fast motion passes with little
lag::

    alpha(f)  = 1 / (1 + fps / (2 pi f))             smoothing factor of cutoff f (Hz)
    dx_t      = ema(fps * (x_t - y_{t-1}), alpha(d_cutoff))
    y_t       = ema(x_t, alpha(min_cutoff + beta * |dx_t|))

With ``beta = 0`` it is a plain exponential moving average with factor ``alpha(min_cutoff)``. It
runs over the first axis (time) of any array, element-wise, so one call filters every keypoint's
position and every jacobian entry.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor


def smoothing_factor(cutoff: float | Tensor, fps: float) -> float | Tensor:
    """The exponential smoother's weight of the new sample for a cutoff frequency in Hz (a number,
    or a tensor of cutoffs element by element); 0 for a cutoff of 0 (the sample is ignored)."""
    if isinstance(cutoff, Tensor):
        return cutoff / (cutoff + fps / (2.0 * math.pi))
    return 0.0 if cutoff <= 0 else 1.0 / (1.0 + fps / (2.0 * math.pi * cutoff))


@dataclass(frozen=True)
class OneEuro:
    """One-Euro filter constants: ``min_cutoff`` (Hz, lower = smoother at rest), ``beta`` (how fast
    the cutoff rises with speed, s/unit), ``d_cutoff`` (Hz, for the speed estimate), ``fps``."""

    min_cutoff: float = 1.0
    beta: float = 0.0
    d_cutoff: float = 1.0
    fps: float = 25.0

    def __call__(self, x: Tensor) -> Tensor:
        """Filter ``x`` (T, ...) causally along time; the first sample passes unchanged."""
        if x.shape[0] == 0:
            return x.clone()
        x = x.float()
        out = torch.empty_like(x)
        out[0] = x[0]
        speed = torch.zeros_like(x[0])
        a_d = smoothing_factor(self.d_cutoff, self.fps)
        for t in range(1, x.shape[0]):
            raw_speed = (x[t] - out[t - 1]) * self.fps
            speed = speed + a_d * (raw_speed - speed)
            alpha = smoothing_factor(self.min_cutoff + self.beta * speed.abs(), self.fps)
            out[t] = out[t - 1] + alpha * (x[t] - out[t - 1])
        return out

    def keypoints(self, kp: dict[str, Tensor]) -> dict[str, Tensor]:
        """{"value" (T,K,2), "jacobian" (T,K,2,2)} filtered entry by entry."""
        return {name: self(value) for name, value in kp.items()}


FILTER_SUFFIX = "+euro"  # generate.methods: "<checkpoint method>+euro" = that checkpoint with a tuned OneEuro


def base_method(method: str) -> str:
    """The checkpoint a method name animates with: ``none+euro`` -> ``none``."""
    return method[:-len(FILTER_SUFFIX)] if method.endswith(FILTER_SUFFIX) else method


def tune_one_euro(nets: dict, store, params, device: torch.device | str = "cpu") -> tuple[OneEuro, list[dict]]:
    """The grid point of ``generate.kp_filter`` with the lowest mean L1 on validation videos.

    Each of the first ``val_videos`` videos of the val split is animated from its clean first frame,
    driven by its degraded copy when the store has one (the jitter a filter is for), and scored
    against its clean frames. Returns the chosen filter and one row per grid point (for the record).
    """
    import numpy as np

    from lstmgan.errors import UserError
    from lstmgan.generate.animate import Animator
    from lstmgan.utils.tensors import to_tensor

    g = params.generate
    grid = [(c, b) for c in g.kp_filter.min_cutoff for b in g.kp_filter.beta]
    if not grid:
        raise UserError("generate.kp_filter.min_cutoff and .beta must each list at least one value")
    records = store.split("val")[:max(1, g.kp_filter.val_videos)]
    if not records:
        raise UserError(f"{store.root}: no val videos to choose the keypoint filter on; give the store a val split")
    degraded = bool(getattr(store, "has_degraded", False))
    videos = []
    for r in records:
        clean = np.asarray(store.frames(r.video_id))
        drive = np.asarray(store.degraded(r.video_id)) if degraded else clean
        videos.append((to_tensor(clean[0]), to_tensor(drive), clean.astype(np.float32) / 255.0))
    rows = []
    for min_cutoff, beta in grid:
        euro = OneEuro(min_cutoff=min_cutoff, beta=beta, fps=float(params.data.fps))
        animator = Animator(nets, device, batch_size=g.batch_size, relative=True, adapt_scale=g.adapt_scale,
                            kp_filter=euro.keypoints)
        errors = []
        for source, drive, clean in videos:
            frames = animator.animate(source, drive).frames.permute(0, 2, 3, 1).cpu().numpy()
            errors.append(float(np.abs(frames - clean).mean()))
        rows.append({"min_cutoff": min_cutoff, "beta": beta, "val_l1": float(np.mean(errors)),
                     "videos": len(videos), "driving": "degraded" if degraded else "clean"})
    best = min(rows, key=lambda row: row["val_l1"])
    return OneEuro(min_cutoff=best["min_cutoff"], beta=best["beta"], fps=float(params.data.fps)), rows
