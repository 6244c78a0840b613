"""Occlusion-aware generator with a ConvLSTM across the frames of a clip.

Per driving frame: the dense motion network turns the keypoints into a flow and an occlusion map;
the source encoding is warped by the flow and multiplied by the occlusion; residual blocks and a
decoder produce an image. The output path starts sharp:
``prediction = occlusion * warped source + (1 - occlusion) * decoder image`` -- the decoder fills in
what the source cannot show (occluded or new content such as an open mouth). With
``decoder_motion`` the features also receive the keypoints' moves (Gaussian heatmaps of the driving
minus the source keypoints, at the bottleneck), so where the occlusion zeroes the warped source the
decoder still knows how far, say, the lips have parted.

With ``temporal="lstm"`` a ConvLSTM runs over the frames at the bottleneck. Its input is the warped
features *and the motion itself* (the flow's displacement and the occlusion logit, resized to the
bottleneck), so its memory holds the recent motion. It has two zero-initialised outputs: a residual
on the warped features (what the decoder paints) and a residual on the flow and the occlusion logit
(how the source is moved and where the decoder paints). Keypoints are detected frame by frame and
jitter; real motion is smooth: with memory, the recurrence can act as a learned temporal filter on
the motion field, which a frame-by-frame model cannot. Zero initialisation makes the lstm model
start as the first-order-motion baseline (``temporal="none"``), so training learns what memory adds.

With ``temporal="kp"`` the recurrence runs over the keypoint trajectories instead
(:class:`lstmgan.models.kp_recurrence.KPRecurrence`): a small GRU refines the driving keypoints and
jacobians before the dense motion network, also zero-initialised (``kp`` starts as ``none``). It
refines the driving keypoints only (at generation: the transferred, relative-motion ones); the
source keypoints are used as detected.

Everything except the recurrences runs batched over B*T frames. The recurrent state is one dict,
``{"lstm": (h, c)}`` and/or ``{"kp": (hidden, previous)}``, carried between calls by the caller.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lstmgan.models.blocks import ConvBlock, DownBlock, ResBlock, UpBlock, kp_to_gaussian, make_grid, warp
from lstmgan.models.convlstm import ConvLSTM
from lstmgan.models.dense_motion import DenseMotion
from lstmgan.models.kp_recurrence import KPRecurrence

TEMPORAL_VARIANTS = ("lstm", "none", "kp")  # ConvLSTM at the bottleneck | frame by frame | GRU on keypoints


def _flatten_kp(kp: dict[str, Tensor]) -> dict[str, Tensor]:
    """(B,T,K,...) keypoint tensors -> (B*T,K,...)."""
    return {name: kp[name].flatten(0, 1) for name in ("value", "jacobian")}


def _repeat_kp(kp: dict[str, Tensor], times: int) -> dict[str, Tensor]:
    """(B,K,...) source keypoints -> (B*times,K,...), batch-major like flatten(0, 1)."""
    return {name: kp[name].repeat_interleave(times, dim=0) for name in ("value", "jacobian")}


MOTION_CHANNELS = 3  # flow displacement (x, y) and occlusion logit, seen and refined by the ConvLSTM
OCCLUSION_EPS = 1e-4  # occlusion is clamped to [eps, 1 - eps] before its logit is taken


class Generator(nn.Module):
    """(source (B,3,S,S), kp_source (B,K,..), kp_driving (B,T,K,..), state) -> (out, state).

    out: "prediction" (B,T,3,S,S), "deformed" (B,T,3,S,S), "occlusion" (B,T,1,h,w),
    "deformation" (B,T,h,w,2), "mask" (B,T,K+1,h,w), "decoded" (B,T,3,S,S), and with
    ``temporal="kp"`` "kp_refined" (the driving keypoints the frames were rendered with).
    ``state`` = {"lstm": (h, c)} (lstm), {"kp": (hidden, previous)} (kp), {} (none), or None at the start.
    """

    def __init__(self, num_kp: int, block_expansion: int, max_features: int, num_down_blocks: int,
                 num_bottleneck_blocks: int, temporal: str, lstm_hidden: int, lstm_kernel: int,
                 dense_motion: dict[str, Any], num_channels: int = 3, head_kernel: int = 7,
                 kp_hidden: int = 64, kp_jacobian: bool = True, decoder_motion: bool = False,
                 kp_variance: float = 0.01):
        super().__init__()
        self.temporal = temporal
        self.dense_motion = DenseMotion(num_kp=num_kp, num_channels=num_channels, **dense_motion)
        self.first = ConvBlock(num_channels, block_expansion, kernel=head_kernel)
        widths = [min(max_features, block_expansion * 2 ** i) for i in range(num_down_blocks + 1)]
        self.down = nn.Sequential(*(DownBlock(widths[i], widths[i + 1]) for i in range(num_down_blocks)))
        bottleneck = widths[-1]
        self.lstm = None
        if temporal == "lstm":
            self.lstm = ConvLSTM(bottleneck + MOTION_CHANNELS, lstm_hidden, lstm_kernel)
            self.lstm_out = nn.Conv2d(lstm_hidden, bottleneck, 1)
            self.lstm_motion = nn.Conv2d(lstm_hidden, MOTION_CHANNELS, 3, padding=1)
            for layer in (self.lstm_out, self.lstm_motion):
                nn.init.zeros_(layer.weight)
                nn.init.zeros_(layer.bias)
        elif temporal not in TEMPORAL_VARIANTS:
            raise ValueError(f"temporal must be one of {', '.join(TEMPORAL_VARIANTS)}, got {temporal!r}")
        self.bottleneck = nn.Sequential(*(ResBlock(bottleneck) for _ in range(num_bottleneck_blocks)))
        self.up = nn.Sequential(*(UpBlock(widths[i + 1], widths[i]) for i in reversed(range(num_down_blocks))))
        self.final = nn.Conv2d(block_expansion, num_channels, head_kernel, padding=head_kernel // 2)
        # built last, so every other network draws the same initial weights as in ``none``
        self.kp_recurrence = (KPRecurrence(num_kp, kp_hidden, refine_jacobian=kp_jacobian)
                              if temporal == "kp" else None)
        # decoder_motion: the keypoints' moves (driving - source heatmaps) added to the warped
        # features, zero-initialised like the recurrences' outputs (the model starts as without it)
        self.kp_variance = kp_variance
        self.motion_in = nn.Conv2d(num_kp, bottleneck, 3, padding=1) if decoder_motion else None
        if self.motion_in is not None:
            nn.init.zeros_(self.motion_in.weight)
            nn.init.zeros_(self.motion_in.bias)

    def encode(self, source: Tensor) -> Tensor:
        """Source features at the bottleneck resolution (B,C,S/2^d,S/2^d)."""
        return self.down(self.first(source))

    def forward(self, source: Tensor, kp_source: dict[str, Tensor], kp_driving: dict[str, Tensor],
                state: dict[str, Any] | None = None) -> tuple[dict[str, Tensor], dict[str, Any]]:
        new_state: dict[str, Any] = {}
        if self.kp_recurrence is not None:
            kp_driving, new_state["kp"] = self.kp_recurrence(kp_driving, None if state is None else state.get("kp"))
        b, t = kp_driving["value"].shape[:2]
        size = source.shape[2:]
        source_bt = source.repeat_interleave(t, dim=0)
        motion = self.dense_motion(source_bt, _repeat_kp(kp_source, t), _flatten_kp(kp_driving))
        deformation, occlusion = motion["deformation"], motion["occlusion"]

        features = self.encode(source).repeat_interleave(t, dim=0)
        fh, fw = features.shape[2:]
        features = warp(features, deformation)
        occ_small = occlusion if occlusion.shape[2:] == (fh, fw) else F.interpolate(
            occlusion, size=(fh, fw), mode="bilinear", align_corners=False)
        features = features * occ_small.to(features.dtype)
        if self.motion_in is not None:
            heat = (kp_to_gaussian(_flatten_kp(kp_driving)["value"], fh, fw, self.kp_variance)
                    - kp_to_gaussian(_repeat_kp(kp_source, t)["value"], fh, fw, self.kp_variance))
            features = features + self.motion_in(heat.to(features.dtype))

        if self.lstm is not None:
            deformation, occlusion, features, new_state["lstm"] = self._recur(
                features, deformation, occlusion, b, t, None if state is None else state.get("lstm"))

        image = torch.sigmoid(self.final(self.up(self.bottleneck(features))).float())
        deformed = warp(source_bt, deformation)
        occ_full = F.interpolate(occlusion, size=size, mode="bilinear", align_corners=False)
        prediction = occ_full * deformed.float() + (1 - occ_full) * image

        def per_clip(x: Tensor) -> Tensor:
            return x.view(b, t, *x.shape[1:])

        out = {"prediction": per_clip(prediction), "deformed": per_clip(deformed),
               "occlusion": per_clip(occlusion), "deformation": per_clip(deformation),
               "mask": per_clip(motion["mask"]), "decoded": per_clip(image)}
        if self.kp_recurrence is not None:
            out["kp_refined"] = kp_driving
        return out, new_state

    def _recur(self, features: Tensor, deformation: Tensor, occlusion: Tensor, b: int, t: int,
               state: tuple[Tensor, Tensor] | None):
        """The ConvLSTM over the clip: refined (deformation, occlusion, features) and its final state.

        Input per frame: the warped features, the flow's displacement from the identity grid and the
        occlusion logit (both resized to the bottleneck). Outputs (zero-initialised, so the first
        step equals ``temporal="none"``): a feature residual and a motion residual that is resized
        back to the flow's resolution and added to the flow and to the occlusion logit.
        """
        fh, fw = features.shape[2:]
        mh, mw = deformation.shape[1:3]
        displacement = (deformation - make_grid(mh, mw, deformation.device, deformation.dtype)).permute(0, 3, 1, 2)
        logit = torch.logit(occlusion.float().clamp(OCCLUSION_EPS, 1 - OCCLUSION_EPS))
        motion = torch.cat([displacement.float(), logit], dim=1)
        motion_small = F.interpolate(motion, size=(fh, fw), mode="bilinear", align_corners=False)
        seq = torch.cat([features, motion_small.to(features.dtype)], dim=1)
        hidden, lstm_state = self.lstm(seq.view(b, t, *seq.shape[1:]), state)
        hidden = hidden.flatten(0, 1)
        features = features + self.lstm_out(hidden)
        residual = F.interpolate(self.lstm_motion(hidden).float(), size=(mh, mw), mode="bilinear",
                                 align_corners=False)
        deformation = deformation + residual[:, :2].permute(0, 2, 3, 1).to(deformation.dtype)
        occlusion = torch.sigmoid(logit + residual[:, 2:])
        return deformation, occlusion, features, lstm_state


def detach_state(state: Any) -> Any:
    """``state`` (nested dicts / tuples of tensors, or None) with every tensor detached: carried into
    the next clip as its initial state, it lets no gradient flow back across the clip boundary."""
    if isinstance(state, Tensor):
        return state.detach()
    if isinstance(state, dict):
        return {name: detach_state(value) for name, value in state.items()}
    if isinstance(state, (tuple, list)):
        return type(state)(detach_state(value) for value in state)
    return state
