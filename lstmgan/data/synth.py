"""Procedural talking faces: the embedded default data set, with exact 68-point ground truth.

Why synthetic: the project must run end to end with no internet and no GPU, and a procedural set
gives what real data sets cannot: the *true* landmarks, head pose and expression of every frame.

How a frame is made
-------------------
Every feature (face outline, eyes, brows, nose, mouth, ears, hair, glasses, beard) is a small 2-D
implicit shape ``f(u, v) <= 0`` defined in its own *local* coordinates ``(u, v)``. A feature sits on
the head at a 3-D point with two 3-D axis vectors; the head pose (yaw, pitch, roll, scale,
translation; orthographic camera) maps those to a 2-D affine map ``pixel = c + A @ (u, v)``. To draw,
every pixel near the feature is mapped back to ``(u, v)`` with ``A^-1`` and the signed distance to
the shape's edge (in pixels) gives the pixel's coverage ``clip(0.5 - d, 0, 1)``: anti-aliasing
without supersampling. Features with depth (nose tip, eyes, mouth) move sideways under yaw and the
face outline narrows by ``cos(yaw)``: that is how a turned head shows on a flat drawing.

The 68 landmarks (iBUG-300W order) are points *of the same curves* (the eye landmarks lie on the lid
curves that bound the drawn eye, the mouth landmarks on the drawn lips), pushed through the same
affine maps, so they are exactly on the drawn features.

Everything is vectorised over a chunk of frames ``(T, h, w)`` and restricted to each feature's
bounding box, so one core renders thousands of 64 px frames per second.
"""
from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from lstmgan.config import DataParams
from lstmgan.errors import UserError

log = logging.getLogger(__name__)

HAIR_STYLES = ("short", "long", "bob", "fringe", "curly", "bald")
POSE_NAMES = ("tx", "ty", "scale", "roll", "yaw", "pitch")
EXPRESSION_NAMES = ("mouth_open", "smile", "eye_open", "brow_raise", "gaze_x", "gaze_y")
MIN_SIZE, MAX_SIZE = 32, 1024
_CHUNK_PIXELS = 16 * 256 * 256  # frames x pixels rendered at once: amortises Python overhead, bounds memory

# colour anchors (RGB 0..1) that identities interpolate between
_SKIN = np.array([[0.98, 0.84, 0.74], [0.93, 0.74, 0.60], [0.80, 0.58, 0.42],
                  [0.62, 0.42, 0.28], [0.42, 0.27, 0.17], [0.30, 0.19, 0.12]], np.float32)
_HAIR = np.array([[0.08, 0.06, 0.05], [0.22, 0.14, 0.08], [0.42, 0.27, 0.14], [0.80, 0.66, 0.38],
                  [0.62, 0.26, 0.10], [0.70, 0.70, 0.70], [0.25, 0.30, 0.70], [0.80, 0.35, 0.60]],
                 np.float32)
_HAIR_P = np.array([0.28, 0.24, 0.16, 0.12, 0.08, 0.06, 0.03, 0.03])
_EYES = np.array([[0.35, 0.20, 0.10], [0.20, 0.12, 0.06], [0.30, 0.50, 0.75], [0.30, 0.55, 0.35],
                  [0.50, 0.45, 0.25], [0.50, 0.55, 0.60]], np.float32)


# ------------------------------------------------------------------------------------------------
# Parameters
# ------------------------------------------------------------------------------------------------
@dataclass
class Identity:
    """Appearance of one synthetic person (all lengths in face units: half the cheek width ~ 1)."""

    name: str
    face_width: float  # cheek half-width
    face_top: float  # forehead height above the eye line
    face_bottom: float  # chin depth below the eye line
    jaw_square: float  # superellipse exponent of the jaw: 2 = round, 3.5 = square
    skin: np.ndarray
    lips: np.ndarray
    hair: np.ndarray
    hair_style: str
    hairline: float  # height of the hairline above the eyes (positive = higher forehead)
    hair_volume: float
    hair_part: float  # -1..1, where the hairline tilts
    eye_color: np.ndarray
    eye_spacing: float  # half distance between eye centres
    eye_size: float  # eye half-width
    eye_height: float  # lid opening relative to width
    eye_tilt: float  # canthal tilt (outer corners up when positive)
    brow_height: float
    brow_arch: float
    brow_thickness: float
    brow_color: np.ndarray
    nose_length: float
    nose_width: float
    nose_depth: float
    mouth_y: float
    mouth_width: float
    lip_upper: float
    lip_lower: float
    ear_size: float
    glasses: bool
    glasses_color: np.ndarray
    glasses_size: float
    beard: bool
    moustache: bool
    clothes: np.ndarray
    light: float  # -1..1 side the light comes from
    background: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """JSON-friendly description (for the manifest of identities)."""
        out = {}
        for key, value in asdict(self).items():
            if key == "background":
                continue
            out[key] = np.round(value, 3).tolist() if isinstance(value, np.ndarray) else (
                round(value, 4) if isinstance(value, float) else value)
        return out


@dataclass
class Motion:
    """Per-frame head pose and expression of one video.

    ``pose`` (T, 6): tx, ty (offset of the face centre from the frame centre, in frame sizes),
    scale (relative to the identity's default), roll, yaw, pitch (radians).
    ``expression`` (T, 6): mouth_open 0..1, smile -1..1, eye_open 0..1 (0 = closed, blinks),
    brow_raise 0..1, gaze_x, gaze_y -1..1.
    """

    pose: np.ndarray
    expression: np.ndarray

    def __len__(self) -> int:
        return int(self.pose.shape[0])


def _mix(anchors: np.ndarray, x: float) -> np.ndarray:
    """Linear interpolation along a list of colour anchors, x in [0, 1]."""
    pos = x * (len(anchors) - 1)
    i = min(int(pos), len(anchors) - 2)
    f = pos - i
    return ((1 - f) * anchors[i] + f * anchors[i + 1]).astype(np.float32)


def _hsv(h: float, s: float, v: float) -> np.ndarray:
    import colorsys

    return np.array(colorsys.hsv_to_rgb(h % 1.0, s, v), np.float32)


def sample_identity(rng: np.random.Generator, name: str = "id000") -> Identity:
    """Draw one identity's appearance from ``rng``."""
    u = rng.uniform
    skin = _mix(_SKIN, float(u(0, 1))) * np.float32(u(0.96, 1.04))
    hair = _HAIR[rng.choice(len(_HAIR), p=_HAIR_P)] * np.float32(u(0.85, 1.15))
    style = str(rng.choice(HAIR_STYLES, p=[0.26, 0.2, 0.16, 0.14, 0.12, 0.12]))
    lum = float(skin.mean())
    lips = np.clip(0.55 * skin + (0.35 + 0.3 * lum) * np.array([0.75, 0.22, 0.25]) * u(0.8, 1.1), 0, 1)
    male_like = u(0, 1) < 0.5
    beard = bool(male_like and u(0, 1) < 0.45)
    bg_kind = int(rng.integers(0, 3))
    background = {
        "c0": _hsv(u(0, 1), u(0.1, 0.6), u(0.35, 0.95)),
        "c1": _hsv(u(0, 1), u(0.1, 0.6), u(0.25, 0.9)),
        "angle": float(u(0, 2 * np.pi)),
        "kind": bg_kind,  # 0 = blotches, 1 = stripes, 2 = soft squares
        "freq": float(u(2, 7)),
        "seed": int(rng.integers(0, 2**31 - 1)),
        "texture": float(u(0.04, 0.14)),
    }
    return Identity(
        name=name,
        face_width=float(u(0.84, 1.04)),
        face_top=float(u(1.05, 1.3)),
        face_bottom=float(u(1.0, 1.25)),
        jaw_square=float(u(2.0, 3.6)),
        skin=np.clip(skin, 0, 1).astype(np.float32),
        lips=lips.astype(np.float32),
        hair=np.clip(hair, 0, 1).astype(np.float32),
        hair_style=style,
        hairline=float(u(0.45, 0.8)),
        hair_volume=float(u(0.06, 0.22)),
        hair_part=float(u(-1, 1)),
        eye_color=_EYES[rng.integers(len(_EYES))] * np.float32(u(0.85, 1.15)),
        eye_spacing=float(u(0.34, 0.42)),
        eye_size=float(u(0.14, 0.19)),
        eye_height=float(u(0.42, 0.62)),
        eye_tilt=float(u(-0.06, 0.1)),
        brow_height=float(u(0.2, 0.3)),
        brow_arch=float(u(0.05, 0.3)),
        brow_thickness=float(u(0.1, 0.22)),
        brow_color=np.clip(hair * 0.8 if style != "bald" else skin * 0.35, 0, 1).astype(np.float32),
        nose_length=float(u(0.4, 0.55)),
        nose_width=float(u(0.11, 0.17)),
        nose_depth=float(u(0.35, 0.7)),
        mouth_y=float(u(0.68, 0.8)),
        mouth_width=float(u(0.24, 0.34)),
        lip_upper=float(u(0.12, 0.24)),
        lip_lower=float(u(0.16, 0.32)),
        ear_size=float(u(0.18, 0.26)),
        glasses=bool(u(0, 1) < 0.25),
        glasses_color=_hsv(u(0, 1), u(0, 0.7), u(0.05, 0.5)),
        glasses_size=float(u(1.25, 1.55)),
        beard=beard,
        moustache=bool(male_like and (beard or u(0, 1) < 0.15)),
        clothes=_hsv(u(0, 1), u(0.2, 0.8), u(0.2, 0.85)),
        light=float(u(-1, 1)),
        background=background,
    )


def _smooth(rng: np.random.Generator, t: np.ndarray, fmin: float, fmax: float, k: int = 3) -> np.ndarray:
    """A smooth zero-mean signal, roughly in [-1, 1]: a sum of ``k`` slow sinusoids."""
    freqs = rng.uniform(fmin, fmax, k)
    phases = rng.uniform(0, 2 * np.pi, k)
    amps = rng.uniform(0.3, 1.0, k)
    amps /= amps.sum()
    return (amps[:, None] * np.sin(2 * np.pi * freqs[:, None] * t[None] + phases[:, None])).sum(0)


MOTION_STYLES = ("calm", "expressive")
# the renderer draws the head plausibly (features on their landmarks) within these angles (radians)
MAX_YAW, MAX_PITCH, MAX_ROLL = 0.68, 0.34, 0.29


def _blinks(rng: np.random.Generator, t: np.ndarray, first: float, gaps: tuple[float, float]) -> np.ndarray:
    """Eye opening over ``t`` (1 = open): Gaussian closures of 45-70 ms, the first within ``first``
    seconds, then one every ``gaps`` seconds (uniform)."""
    eye = np.ones_like(t)
    tb = rng.uniform(0.1, first)
    width = rng.uniform(0.045, 0.07)  # seconds
    while tb < t[-1] + 0.5:
        eye = np.minimum(eye, 1 - np.exp(-0.5 * ((t - tb) / width) ** 2))
        tb += rng.uniform(*gaps)
    return eye


def sample_motion(rng: np.random.Generator, frames: int, fps: float = 25.0, style: str = "calm") -> Motion:
    """Draw one video's smooth head motion and speech-like expression from ``rng``.

    ``calm``: slow, small head motion (a talking head that barely moves). ``expressive``: head turns
    up to about 40 degrees of yaw within a video, nods and roll, the head moving and zooming in the
    crop, one fast turn in 0.3-0.5 s, speech-rate mouth opening up to fully open, full blinks and
    brow raises: motion a 64 px model can see (docs/data.md).
    """
    if style == "expressive":
        return _expressive_motion(rng, frames, fps)
    if style != "calm":
        raise UserError(f"data.motion must be one of {', '.join(MOTION_STYLES)}, got {style!r}")
    t = np.arange(frames, dtype=np.float64) / fps
    yaw = rng.uniform(-0.25, 0.25) + 0.3 * _smooth(rng, t, 0.08, 0.5)
    pitch = rng.uniform(-0.1, 0.1) + 0.15 * _smooth(rng, t, 0.1, 0.6)
    roll = rng.uniform(-0.08, 0.08) + 0.1 * _smooth(rng, t, 0.08, 0.5)
    tx = rng.uniform(-0.04, 0.04) + 0.04 * _smooth(rng, t, 0.05, 0.4)
    ty = rng.uniform(-0.03, 0.03) + 0.03 * _smooth(rng, t, 0.05, 0.4)
    scale = rng.uniform(0.93, 1.07) * (1 + 0.04 * _smooth(rng, t, 0.05, 0.3))
    # speech: syllables at 3-5 Hz, loudness varying, phrases separated by pauses
    rate = rng.uniform(3.0, 5.0)
    syll = 0.5 * (1 - np.cos(2 * np.pi * rate * t + rng.uniform(0, 2 * np.pi)))
    loud = 0.65 + 0.35 * _smooth(rng, t, 0.7, 1.6, 2)
    phrase = _smooth(rng, t, 0.15, 0.35, 2) + rng.uniform(0.0, 0.6)
    gate = 1 / (1 + np.exp(-8 * phrase))
    mouth = np.clip(syll * loud * gate, 0, 1)
    smile = np.clip(rng.uniform(-0.1, 0.5) + 0.35 * _smooth(rng, t, 0.05, 0.3), -1, 1)
    eye = _blinks(rng, t, first=2.5, gaps=(1.5, 4.5)) * rng.uniform(0.85, 1.0)  # brief closures every 1.5-4.5 s
    brow = np.clip(0.3 + 0.4 * _smooth(rng, t, 0.1, 0.6) + 0.25 * gate * (loud - 0.65), 0, 1)
    gaze_x = 0.6 * _smooth(rng, t, 0.05, 0.4) - 0.8 * (yaw - yaw.mean())
    gaze_y = 0.5 * _smooth(rng, t, 0.05, 0.4)
    pose = np.stack([tx, ty, scale, roll, yaw, pitch], 1).astype(np.float32)
    expression = np.stack([mouth, smile, eye, brow, np.clip(gaze_x, -1, 1), np.clip(gaze_y, -1, 1)],
                          1).astype(np.float32)
    return Motion(pose=pose, expression=expression)


def _fast_turn(rng: np.random.Generator, t: np.ndarray) -> np.ndarray:
    """A step of 0.3-0.6 rad (either sign) completed within 0.3-0.5 s at a random time (smoothstep)."""
    duration = rng.uniform(0.3, 0.5)
    start = rng.uniform(0.1, max(0.1, t[-1] - duration - 0.1))
    x = np.clip((t - start) / duration, 0, 1)
    return rng.choice([-1.0, 1.0]) * rng.uniform(0.3, 0.6) * x * x * (3 - 2 * x)


def _expressive_motion(rng: np.random.Generator, frames: int, fps: float) -> Motion:
    t = np.arange(frames, dtype=np.float64) / fps
    turn = _fast_turn(rng, t)
    yaw = np.clip(rng.uniform(-0.2, 0.2) - turn.mean() + turn + 0.4 * _smooth(rng, t, 0.3, 1.0), -MAX_YAW, MAX_YAW)
    pitch = np.clip(rng.uniform(-0.08, 0.08) + 0.24 * _smooth(rng, t, 0.4, 1.4), -MAX_PITCH, MAX_PITCH)
    roll = np.clip(rng.uniform(-0.08, 0.08) + 0.2 * _smooth(rng, t, 0.3, 1.0), -MAX_ROLL, MAX_ROLL)
    tx = rng.uniform(-0.04, 0.04) + 0.07 * _smooth(rng, t, 0.3, 1.0)
    ty = rng.uniform(-0.03, 0.03) + 0.05 * _smooth(rng, t, 0.3, 1.0)
    scale = rng.uniform(0.94, 1.06) * (1 + 0.08 * _smooth(rng, t, 0.3, 0.9))
    # speech: syllables at 3-5 Hz opening the mouth fully when loud, short pauses between phrases
    rate = rng.uniform(3.0, 5.0)
    syll = 0.5 * (1 - np.cos(2 * np.pi * rate * t + rng.uniform(0, 2 * np.pi)))
    loud = np.clip(0.85 + 0.25 * _smooth(rng, t, 0.7, 1.6, 2), 0, 1)
    gate = 1 / (1 + np.exp(-8 * (_smooth(rng, t, 0.3, 0.7, 2) + rng.uniform(0.3, 0.8))))
    mouth = np.clip(1.1 * syll * loud * gate, 0, 1)
    smile = np.clip(rng.uniform(-0.1, 0.5) + 0.45 * _smooth(rng, t, 0.2, 0.8), -1, 1)
    eye = _blinks(rng, t, first=1.0, gaps=(0.7, 2.0))  # full blinks (the eye closes completely) every 0.7-2 s
    brow = np.clip(0.3 + 0.6 * _smooth(rng, t, 0.4, 1.2) + 0.3 * gate * (loud - 0.85), 0, 1)
    gaze_x = 0.6 * _smooth(rng, t, 0.3, 1.0) - 0.8 * (yaw - yaw.mean())
    gaze_y = 0.5 * _smooth(rng, t, 0.3, 1.0)
    pose = np.stack([tx, ty, scale, roll, yaw, pitch], 1).astype(np.float32)
    expression = np.stack([mouth, smile, eye, brow, np.clip(gaze_x, -1, 1), np.clip(gaze_y, -1, 1)],
                          1).astype(np.float32)
    return Motion(pose=pose, expression=expression)


# ------------------------------------------------------------------------------------------------
# Geometry: the head's projection and each feature's local frame
# ------------------------------------------------------------------------------------------------
# A fully open mouth: the inner-lip gap is 0.6 of the mouth's width (an "ah" or a laugh; speech opens
# it by a fraction of that), and the chin drops with the lower lip, as the jaw does, so the opening is
# a motion of the lower face and not of a few lip pixels.
MOUTH_LIFT = 0.15  # mouth half-widths the upper lip's inner edge rises when the mouth opens fully
MOUTH_DROP = 1.05  # mouth half-widths the lower lip's inner edge falls
JAW_DROP = 0.3  # face units the chin drops when the mouth opens fully (about the lower lip's drop)
_FACE_SCALE = 0.25  # pixels per face unit, as a fraction of the frame size
_FACE_CENTRE_Y = 0.46  # eye line, as a fraction of the frame height


def _projection(pose: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(T, 2, 3) projection matrices and (T, 2) pixel positions of the face origin."""
    tx, ty, scale, roll, yaw, pitch = (pose[:, i].astype(np.float64) for i in range(6))
    cy, sy, cp, sp, cr, sr = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch), np.cos(roll), np.sin(roll)
    zero = np.zeros_like(yaw)
    # orthographic rows of Rx(pitch) @ Ry(yaw); x right, y down, z towards the camera
    rows = np.stack([np.stack([cy, zero, sy], -1), np.stack([sp * sy, cp, -sp * cy], -1)], 1)
    rot = np.stack([np.stack([cr, -sr], -1), np.stack([sr, cr], -1)], 1)
    s = (scale * _FACE_SCALE * size)[:, None, None]
    m = s * np.einsum("tij,tjk->tik", rot, rows)
    origin = np.stack([(0.5 + tx) * size - 0.5, (_FACE_CENTRE_Y + ty) * size - 0.5], -1)
    return m, origin


@dataclass
class _Frame:
    """A feature's local frame for T frames: pixel = c + A @ (u, v)."""

    c: np.ndarray  # (T, 2)
    a: np.ndarray  # (T, 2, 2)

    def points(self, uv: np.ndarray) -> np.ndarray:
        """(K, 2) or (T, K, 2) local points -> (T, K, 2) pixels."""
        if uv.ndim == 2:
            return self.c[:, None] + np.einsum("tij,kj->tki", self.a, uv)
        return self.c[:, None] + np.einsum("tij,tkj->tki", self.a, uv)

    @property
    def px(self) -> np.ndarray:
        """(T,) pixels per local unit (geometric mean of the two axes)."""
        return np.sqrt(np.abs(np.linalg.det(self.a)))


def _frame(m: np.ndarray, origin: np.ndarray, centre: Sequence[float] | np.ndarray,
           ex: Sequence[float], ey: Sequence[float]) -> _Frame:
    centre = np.asarray(centre, np.float64)
    c = origin + (np.einsum("tij,tj->ti", m, centre) if centre.ndim == 2 else m @ centre)
    axes = np.stack([np.asarray(ex, np.float64), np.asarray(ey, np.float64)], 1)  # (3, 2)
    return _Frame(c=c, a=m @ axes)


class _Canvas:
    """A chunk of frames being painted, float32 (T, S, S, 3) in 0..1."""

    def __init__(self, background: np.ndarray, t: int):
        self.size = background.shape[0]
        self.img = np.repeat(background[None], t, 0)
        self.t = t
        coords = np.arange(self.size, dtype=np.float32)
        self.coords = coords

    def local(self, fr: _Frame, box: tuple[float, float, float, float]):
        """Local (u, v) of the pixels in the union window of the feature's ``box`` over the chunk.

        Returns (u, v, px, window) with u, v (T, h, w) float32, px (T, 1, 1) pixels per unit, window
        (y0, y1, x0, x1); None when the feature is outside the frame.
        """
        u0, u1, v0, v1 = box
        corners = np.array([[u0, v0], [u1, v0], [u0, v1], [u1, v1]], np.float64)
        pts = fr.points(corners)
        x0 = max(int(np.floor(pts[..., 0].min())) - 1, 0)
        x1 = min(int(np.ceil(pts[..., 0].max())) + 2, self.size)
        y0 = max(int(np.floor(pts[..., 1].min())) - 1, 0)
        y1 = min(int(np.ceil(pts[..., 1].max())) + 2, self.size)
        if x1 <= x0 or y1 <= y0:
            return None
        inv = np.linalg.inv(fr.a).astype(np.float32)
        dx = (self.coords[None, None, x0:x1] - fr.c[:, 0, None, None].astype(np.float32))
        dy = (self.coords[None, y0:y1, None] - fr.c[:, 1, None, None].astype(np.float32))
        u = inv[:, 0, 0, None, None] * dx + inv[:, 0, 1, None, None] * dy
        v = inv[:, 1, 0, None, None] * dx + inv[:, 1, 1, None, None] * dy
        px = fr.px.astype(np.float32)[:, None, None]
        return u, v, px, (y0, y1, x0, x1)

    def paint(self, window, alpha: np.ndarray, color: np.ndarray) -> None:
        """Blend ``color`` ((3,) or (T, h, w, 3)) into the window with coverage ``alpha``.

        In place, without frame-sized temporaries; a per-pixel ``color`` array is used as scratch space.
        """
        y0, y1, x0, x1 = window
        region = self.img[:, y0:y1, x0:x1]
        if color.ndim == 1:  # region = color + (1 - alpha) * (region - color)
            region -= color
            region *= (1 - alpha)[..., None]
            region += color
        else:
            color = np.subtract(color, region, out=color if color.dtype == np.float32 else None)
            color *= alpha[..., None]
            region += color

    def shade(self, window, alpha: np.ndarray, factor: float) -> None:
        """Multiply the window by ``factor`` where covered (shadows, highlights)."""
        y0, y1, x0, x1 = window
        region = self.img[:, y0:y1, x0:x1]
        region *= (1 + (factor - 1) * alpha)[..., None]


def _cover(d_local: np.ndarray, px: np.ndarray, soft: float = 1.0) -> np.ndarray:
    """Coverage of a pixel from the signed distance to an edge (local units; negative inside)."""
    return np.clip(0.5 - d_local * (px / soft), 0, 1)


def _thick(half: float, px: np.ndarray, min_px: float = 0.45) -> np.ndarray:
    """Half-thickness of a line in local units, at least ``min_px`` pixels (thin lines stay visible)."""
    return np.maximum(half, min_px / px)


def _superellipse(u: np.ndarray, v: np.ndarray, a: float, b: float, n: float = 2.0) -> np.ndarray:
    """Approximate signed distance (local units) to the superellipse |u/a|^n + |v/b|^n = 1."""
    r = (np.abs(u) / a) ** n + (np.abs(v) / b) ** n
    return (r ** (1.0 / n) - 1) * min(a, b)


# ------------------------------------------------------------------------------------------------
# Landmark geometry (local coordinates of each feature); the drawing uses the same curves
# ------------------------------------------------------------------------------------------------
_EYE_U = np.array([-1.0, -1 / 3, 1 / 3, 1.0, 1 / 3, -1 / 3])  # corner, upper, upper, corner, lower, lower
_BROW_U = np.linspace(-0.9, 0.9, 5)  # ends just inside the drawn brow
_MOUTH_OUTER_U = np.array([-1.0, -0.6, -0.28, 0.0, 0.28, 0.6, 1.0, 0.6, 0.28, 0.0, -0.28, -0.6])
_MOUTH_INNER_U = np.array([-0.88, -0.45, 0.0, 0.45, 0.88, 0.45, 0.0, -0.45])
_INNER_END = 0.88


def _eye_lids(ident: Identity, u: np.ndarray, open_: np.ndarray, side: float):
    """Upper and lower lid curves v(u) of an eye (local units = eye half-width)."""
    bulge = np.clip(1 - u * u, 0, None)
    skew = 1 + 0.15 * side * u  # upper lid peaks nearer the inner corner
    tilt = -ident.eye_tilt * side * u
    upper = tilt - open_ * ident.eye_height * 1.05 * bulge * skew
    lower = tilt + open_ * ident.eye_height * 0.55 * bulge + 0.02 * bulge
    return upper, lower


def _brow_curve(ident: Identity, u: np.ndarray, side: float) -> np.ndarray:
    """Centre line v(u) of a brow (local units = brow half-length); inner end lower."""
    return -ident.brow_arch * (1 - u * u) + 0.08 * side * u


def _mouth_curves(ident: Identity, u: np.ndarray, open_: np.ndarray, smile: np.ndarray):
    """(outer upper, inner upper, inner lower, outer lower) lip curves v(u), local = mouth half-width."""
    curl = -0.22 * smile * u * u
    bulge = np.clip(1 - u * u, 0, None)
    inner = np.clip(1 - (u / _INNER_END) ** 2, 0, None)
    bow = 1 - 0.35 * np.exp(-((u / 0.22) ** 2))
    inner_upper = curl - open_ * MOUTH_LIFT * inner
    inner_lower = curl + open_ * MOUTH_DROP * inner
    outer_upper = inner_upper - ident.lip_upper * np.sqrt(bulge) * bow - 0.02 * bulge
    outer_lower = inner_lower + ident.lip_lower * np.sqrt(bulge)
    return outer_upper, inner_upper, inner_lower, outer_lower


def _jaw_points(ident: Identity, chin: np.ndarray) -> np.ndarray:
    """(T, 17, 2) face-plane points of the jaw contour, image left to image right.

    ``chin`` (T,) is the chin depth of each frame (the jaw drops when the mouth opens).
    """
    w, ht, n = ident.face_width, ident.face_top, ident.jaw_square
    t = np.pi * (1 - np.arange(17) / 16)
    x = w * np.sign(np.cos(t)) * np.abs(np.cos(t)) ** (2 / n)
    y = np.abs(np.sin(t)) ** (2 / 2.2)
    lift = 0.12  # the first and last jaw points sit a little above the cheek line (near the ears)
    for i in (0, 16):
        x[i] = np.sign(x[i]) * w * math.sqrt(1 - (lift / ht) ** 2)
    xs = np.broadcast_to(x, (len(chin), 17))
    ys = chin[:, None] * y[None]
    ys[:, [0, 16]] = -lift
    return np.stack([xs, ys], -1)


def _face_d(ident: Identity, u: np.ndarray, v: np.ndarray, hb: np.ndarray) -> np.ndarray:
    """Signed distance to the face outline: ellipse above the cheek line, superellipse jaw below.

    ``hb`` is the chin depth, (T, 1, 1) per frame.
    """
    w, ht, n = ident.face_width, ident.face_top, ident.jaw_square
    au = np.abs(u) / w
    lower = v > 0
    # jaw: |u/w|^n + |v/hb|^2.2 = 1 (the jaw landmarks use the same exponents)
    r_low = au ** n + (np.abs(v) / hb) ** 2.2
    r_up = au * au + (v / ht) ** 2
    r = np.where(lower, r_low, r_up)
    return (np.sqrt(r) - 1) * w


class _Layout:
    """All feature frames of one identity for a chunk of poses/expressions."""

    def __init__(self, ident: Identity, pose: np.ndarray, expr: np.ndarray, size: int):
        self.ident = ident
        self.size = size
        m, o = _projection(pose, size)
        self.m, self.o = m, o
        i = ident
        self.face = _frame(m, o, [0, 0, 0], [1, 0, 0], [0, 1, 0])
        brow_lift = -0.12 * expr[:, 3:4].astype(np.float64)
        self.eyes, self.brows = [], []
        for side in (-1.0, 1.0):  # image left, image right
            cx = side * i.eye_spacing
            self.eyes.append(_frame(m, o, [cx, 0, 0.18], [i.eye_size, 0, 0], [0, i.eye_size, 0]))
            centres = np.concatenate([np.full_like(brow_lift, cx + side * 0.03),
                                      -i.brow_height + brow_lift, np.full_like(brow_lift, 0.2)], 1)
            self.brows.append(_frame(m, o, centres, [i.eye_size * 1.45, 0, 0], [0, i.eye_size * 1.45, 0]))
        # nose: v runs from the bridge (0) to the base (1) and forward in depth
        self.nose = _frame(m, o, [0, -0.02, 0.2], [i.nose_width, 0, 0],
                           [0, i.nose_length, i.nose_depth * 0.6])
        self.mouth = _frame(m, o, [0, i.mouth_y, 0.22], [i.mouth_width, 0, 0], [0, i.mouth_width, 0])
        self.ears = [_frame(m, o, [s * i.face_width * 0.98, 0.12, -0.35], [i.ear_size * 0.55, 0, 0],
                            [0, i.ear_size, 0]) for s in (-1.0, 1.0)]
        self.neck = _frame(m, o, [0, 1.1, -0.4], [1, 0, 0], [0, 1, 0])
        self.expr = expr.astype(np.float32)
        self.chin = i.face_bottom + JAW_DROP * expr[:, 0].astype(np.float64)  # the jaw follows the mouth

    def landmarks(self) -> np.ndarray:
        """(T, 68, 2) float32 pixel landmarks in iBUG-300W order."""
        i, e = self.ident, self.expr.astype(np.float64)
        t = e.shape[0]
        out = np.zeros((t, 68, 2))
        out[:, 0:17] = self.face.points(_jaw_points(i, self.chin))
        for k, side in enumerate((-1.0, 1.0)):
            u = _BROW_U
            v = _brow_curve(i, u, side)
            out[:, 17 + 5 * k:22 + 5 * k] = self.brows[k].points(np.stack([u, v], 1))
        nose_u = np.array([0, 0, 0, 0, -1.0, -0.5, 0, 0.5, 1.0])
        nose_v = np.array([0.1, 0.38, 0.62, 0.86, *_nose_base(nose_u[4:])])
        out[:, 27:36] = self.nose.points(np.stack([nose_u, nose_v], 1))
        for k, side in enumerate((-1.0, 1.0)):
            uu = np.broadcast_to(_EYE_U, (t, 6))
            upper, lower = _eye_lids(i, uu, e[:, 2:3], side)
            v = np.where(np.arange(6) < 4, upper, lower)
            v[:, 0], v[:, 3] = upper[:, 0], upper[:, 3]
            out[:, 36 + 6 * k:42 + 6 * k] = self.eyes[k].points(np.stack([uu, v], -1))
        uo = np.broadcast_to(_MOUTH_OUTER_U, (t, 12))
        ou, _, _, ol = _mouth_curves(i, uo, e[:, 0:1], e[:, 1:2])
        vo = np.where(np.arange(12) <= 6, ou, ol)
        ui = np.broadcast_to(_MOUTH_INNER_U, (t, 8))
        _, iu, il, _ = _mouth_curves(i, ui, e[:, 0:1], e[:, 1:2])
        vi = np.where(np.arange(8) <= 4, iu, il)
        out[:, 48:60] = self.mouth.points(np.stack([uo, vo], -1))
        out[:, 60:68] = self.mouth.points(np.stack([ui, vi], -1))
        return out.astype(np.float32)

    def face_box(self) -> np.ndarray:
        """(T, 4) box x0, y0, x1, y1 of the drawn face (skin outline, forehead included)."""
        i = self.ident
        a = np.linspace(0, 2 * np.pi, 48, endpoint=False)
        n = i.jaw_square
        lower = np.sin(a) > 0
        x = i.face_width * np.sign(np.cos(a)) * np.abs(np.cos(a)) ** np.where(lower, 2 / n, 1.0)
        y = np.where(lower[None], self.chin[:, None] * np.abs(np.sin(a)) ** (2 / 2.2), i.face_top * np.sin(a))
        pts = self.face.points(np.stack([np.broadcast_to(x, y.shape), y], -1))
        return np.concatenate([pts.min(1), pts.max(1)], 1).astype(np.float32)


def _nose_base(u: np.ndarray) -> np.ndarray:
    """v(u) of the nose's base (nostril wings higher than the middle)."""
    return 1.0 - 0.16 * u * u


# ------------------------------------------------------------------------------------------------
# Drawing
# ------------------------------------------------------------------------------------------------
def render_background(ident: Identity, size: int) -> np.ndarray:
    """(S, S, 3) float32 static background: a two-colour gradient with a soft texture."""
    bg = ident.background
    rng = np.random.default_rng(bg["seed"])
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    ang = bg["angle"]
    g = (np.cos(ang) * (x - 0.5) + np.sin(ang) * (y - 0.5)) * 0.9 + 0.5
    g = np.clip(g, 0, 1)[..., None]
    img = (1 - g) * bg["c0"] + g * bg["c1"]
    f = bg["freq"]
    if bg["kind"] == 0:  # blotches: a few random low-frequency waves
        tex = np.zeros_like(x)
        for _ in range(4):
            k = rng.normal(0, f, 2)
            tex += np.sin(2 * np.pi * (k[0] * x + k[1] * y) + rng.uniform(0, 2 * np.pi))
        tex /= 2
    elif bg["kind"] == 1:  # stripes
        tex = np.sign(np.sin(2 * np.pi * f * (x * 0.8 + y * 0.3))) * 0.6
        tex = tex * (0.7 + 0.3 * np.sin(2 * np.pi * 1.3 * y))
    else:  # soft squares (tiles)
        tex = np.sin(2 * np.pi * f * x) * np.sin(2 * np.pi * f * y)
        tex = np.tanh(3 * tex) * 0.7
    grain = rng.normal(0, 0.3, (size, size)).astype(np.float32)
    img = img * (1 + bg["texture"] * tex[..., None]) + 0.015 * grain[..., None]
    return np.clip(img, 0, 1).astype(np.float32)


def _draw(cv: _Canvas, lay: _Layout) -> None:
    """Paint every feature of one identity onto a chunk of frames, back to front."""
    i, e = lay.ident, lay.expr
    hair = i.hair
    yaw = np.asarray(np.arctan2(lay.m[:, 0, 2], lay.m[:, 0, 0]), np.float32)[:, None, None]

    def hair_color(u, v, px):
        # strands/curls; faded out where their period would be under ~4 pixels (no moire at 64 px)
        freq = 26.0 if i.hair_style == "curly" else 40.0
        amp = 0.13 * np.clip((2 * np.pi / freq * px - 3.0) / 4.0, 0, 1)
        if i.hair_style == "curly":
            tex = np.sin(freq * u) * np.sin(freq * v)
        else:
            tex = np.sin(freq * (u + 0.15 * np.sin(3 * v)))
        return hair[None, None, None] * (0.9 + amp * tex)[..., None]

    # back hair (behind the head and neck)
    back = {"long": (0.45, 1.32, 1.65, 4.0), "bob": (0.05, 1.3, 1.2, 3.0), "curly": (-0.35, 1.55, 1.55, 2.0)}
    if i.hair_style in back:
        cyy, rx, ry, n = back[i.hair_style]
        rx *= i.face_width + i.hair_volume * 0.5
        g = cv.local(lay.face, (-rx, rx, cyy - ry, cyy + ry))
        if g:
            u, v, px, win = g
            d = _superellipse(u, v - cyy, rx, ry, n)
            if i.hair_style == "curly":
                d = d + 0.05 * np.sin(11 * u) * np.sin(11 * v)
            cv.paint(win, _cover(d, px), hair_color(u, v, px) * 0.8)

    # neck and torso
    g = cv.local(lay.neck, (-0.5, 0.5, -0.8, 2.6))
    if g:
        u, v, px, win = g
        d = np.maximum(np.abs(u) - 0.42 * i.face_width - 0.03 * v, -v - 1.5)
        cv.paint(win, _cover(d, px), i.skin * 0.78)
    s = cv.size
    torso = _Frame(c=np.stack([lay.o[:, 0] * 0.6 + 0.2 * s, np.full(len(lay.o), 1.2 * s)], 1),
                   a=np.broadcast_to(np.eye(2) * 0.62 * s, (len(lay.o), 2, 2)).copy())
    g = cv.local(torso, (-1.05, 1.05, -0.6, 0.6))
    if g:
        u, v, px, win = g
        d = _superellipse(u, v, 1.0, 0.5, 2.4)
        shade = (0.9 + 0.1 * np.clip(-v * 2, 0, 1))[..., None]
        cv.paint(win, _cover(d, px), i.clothes * shade)
        collar = np.maximum(_superellipse(u - (lay.o[:, 0, None, None] - torso.c[:, 0, None, None]) / (0.62 * s),
                                          v + 0.5, 0.2, 0.12), d)
        cv.paint(win, _cover(collar, px), i.skin * 0.72)

    # ears
    for ear in lay.ears:
        g = cv.local(ear, (-1.1, 1.1, -1.1, 1.1))
        if g:
            u, v, px, win = g
            d = _superellipse(u, v, 1.0, 1.0)
            cv.paint(win, _cover(d, px), i.skin * 0.9)
            cv.shade(win, _cover(_superellipse(u, v, 0.5, 0.6), px, 3.0), 0.85)

    # face: skin with a round 3-D shading and side light
    w, ht = i.face_width, i.face_top
    hb = lay.chin.astype(np.float32)[:, None, None]
    g = cv.local(lay.face, (-w, w, -ht, float(lay.chin.max())))
    if g is None:
        return
    u, v, px, win = g
    dface = _face_d(i, u, v, hb)
    r2 = (u / w) ** 2 + (v / np.where(v > 0, hb, ht)) ** 2
    light = 1 - 0.16 * r2 + 0.1 * i.light * u / w - 0.08 * np.sin(yaw) * u / w
    face_a = _cover(dface, px)
    cv.paint(win, face_a, i.skin * light[..., None])

    # beard (inside the face, below the cheeks)
    if i.beard:
        top = 0.45 + 0.2 * (1 - (u / w) ** 2)
        d = np.maximum(dface, top - v)
        cv.paint(win, _cover(d, px, 1.5) * 0.9, hair_color(u, v, px) * 0.85)

    # hair on the head (cap above the hairline)
    if i.hair_style != "bald":
        vol = i.hair_volume
        rx, ry, cyy = w + vol, ht + vol, -0.05
        g = cv.local(lay.face, (-rx, rx, cyy - ry, 0.3))
        if g:
            u, v, px, win = g
            au = np.clip(np.abs(u) / w, 0, 1)
            hl = i.hairline * (0.7 if i.hair_style == "fringe" else 1.0)
            line = -hl + (hl - 0.05) * au ** 3 + 0.08 * i.hair_part * u
            if i.hair_style == "fringe":
                line = line + 0.025 * np.sin(30 * u)
            d = np.maximum(_superellipse(u, v - cyy, rx, ry), v - line)
            if i.hair_style == "curly":
                d = d + 0.04 * np.sin(13 * u) * np.sin(13 * v)
            cv.paint(win, _cover(d, px), hair_color(u, v, px))

    # brows
    brow_col = i.brow_color
    for k, side in enumerate((-1.0, 1.0)):
        g = cv.local(lay.brows[k], (-1.15, 1.15, -0.6, 0.4))
        if g:
            u, v, px, win = g
            thick = i.brow_thickness * (1.0 - 0.45 * np.clip(side * -u, 0, 1)) * 0.5  # thinner tail
            d = np.maximum(np.abs(v - _brow_curve(i, u, side)) - thick, np.abs(u) - 1.0)
            cv.paint(win, _cover(d, px) * 0.92, brow_col)

    # eyes: socket shadow, white, iris, pupil, glint, lash line
    open_ = e[:, 2, None, None]
    gx, gy = e[:, 4, None, None], e[:, 5, None, None]
    for k, side in enumerate((-1.0, 1.0)):
        g = cv.local(lay.eyes[k], (-1.3, 1.3, -1.1, 0.9))
        if not g:
            continue
        u, v, px, win = g
        cv.shade(win, _cover(_superellipse(u, v + 0.15, 1.25, 0.8), px, 4.0), 0.9)
        upper, lower = _eye_lids(i, u, open_, side)
        d_eye = np.maximum(np.maximum(upper - v, v - lower), np.abs(u) - 1.0)
        eye_a = _cover(d_eye, px)
        cv.paint(win, eye_a, np.array([0.93, 0.92, 0.9], np.float32))
        iris_r = 0.48
        du, dv = u - 0.42 * gx, v - 0.12 * gy + 0.05
        d_iris = np.sqrt(du * du + dv * dv)
        cv.paint(win, np.minimum(_cover(d_iris - iris_r, px), eye_a), i.eye_color)
        cv.paint(win, np.minimum(_cover(d_iris - 0.22, px), eye_a), np.array([0.04, 0.03, 0.03], np.float32))
        d_glint = np.sqrt((du + 0.15) ** 2 + (dv + 0.15) ** 2) - 0.09
        cv.paint(win, np.minimum(_cover(d_glint, px), eye_a) * 0.8, np.array([1, 1, 1], np.float32))
        lash = np.maximum(np.abs(v - upper) - _thick(0.07, px), np.abs(u) - 1.05)
        cv.paint(win, _cover(lash, px) * 0.85, i.brow_color * 0.5)

    # glasses: a ring around each eye and a bridge
    if i.glasses:
        rr = i.glasses_size
        for k in range(2):
            g = cv.local(lay.eyes[k], (-rr - 0.3, rr + 0.3, -rr, rr))
            if g:
                u, v, px, win = g
                ring = np.abs(_superellipse(u, v * 1.25, rr, rr, 3.0)) - _thick(0.09, px)
                cv.paint(win, _cover(ring, px), i.glasses_color)
        g = cv.local(lay.face, (-0.3, 0.3, -0.25, 0.1))
        if g:
            u, v, px, win = g
            half = i.eye_spacing - i.glasses_size * i.eye_size * 0.95
            d = np.maximum(np.abs(v + 0.06 + 0.04 * (1 - (u / max(half, 1e-3)) ** 2)) - _thick(0.016, px), np.abs(u) - half)
            cv.paint(win, _cover(d, px), i.glasses_color)

    # nose: shaded body, bridge highlight, base line and nostrils
    g = cv.local(lay.nose, (-1.4, 1.4, -0.05, 1.25))
    if g:
        u, v, px, win = g
        width = 0.45 + 0.75 * np.clip(v, 0, 1) ** 2
        body = np.maximum(np.maximum(np.abs(u) - width, v - _nose_base(np.clip(u, -1, 1)) - 0.05), 0.12 - v)
        side_dark = np.clip(-np.sin(yaw) * np.sign(u) * 2 + 0.3, 0.2, 1.0)
        cv.shade(win, _cover(body, px, 2.5) * side_dark, 0.86)
        ridge = np.maximum(np.abs(u) - 0.16, np.maximum(0.08 - v, v - 0.9))
        cv.shade(win, _cover(ridge, px, 1.5), 1.08)
        base = np.maximum(np.abs(v - _nose_base(u)) - _thick(0.04, px), np.abs(u) - 1.0)
        cv.shade(win, _cover(base, px), 0.72)
        for s_ in (-1.0, 1.0):
            dn = _superellipse(u - s_ * 0.5, v - 0.93, 0.28, 0.1)
            cv.shade(win, _cover(dn, px), 0.45)

    # mouth: moustache, lips, opening with teeth, lip seam
    g = cv.local(lay.mouth, (-1.3, 1.3, -0.75, 1.1 + MOUTH_DROP))
    if g:
        u, v, px, win = g
        mo, sm = e[:, 0, None, None], e[:, 1, None, None]
        ou, iu, il, ol = _mouth_curves(i, u, mo, sm)
        if i.moustache:
            d = np.maximum(np.maximum(v - ou + 0.02, ou - 0.32 - v), np.abs(u) - 1.15)
            cv.paint(win, _cover(d, px, 1.5) * 0.9, hair_color(u, v, px) * 0.8)
        d_lips = np.maximum(np.maximum(ou - v, v - ol), np.abs(u) - 1.0)
        lip_light = (1 + 0.12 * np.clip(v - iu, -1, 1))[..., None]
        cv.paint(win, _cover(d_lips, px), i.lips * lip_light)
        d_in = np.maximum(np.maximum(iu - v, v - il), np.abs(u) - _INNER_END)
        in_a = _cover(d_in, px)
        cv.paint(win, in_a, np.array([0.28, 0.06, 0.07], np.float32))
        teeth = np.maximum(d_in, np.minimum(v - iu - 0.09, il - 0.07 - v))  # upper row; lower row when wide open
        cv.paint(win, _cover(teeth, px), np.array([0.92, 0.9, 0.84], np.float32))
        seam = np.maximum(np.abs(v - 0.5 * (iu + il)) - _thick(0.02, px), np.abs(u) - _INNER_END)
        cv.shade(win, _cover(seam, px) * 0.8, 0.55)


def render_video(identity: Identity, motion: Motion, size: int = 64,
                 background: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Render one video.

    Returns ``frames`` (T, S, S, 3) uint8, ``landmarks`` (T, 68, 2) float32 pixel (x, y) with pixel
    centres at integers, ``boxes`` (T, 4) float32 face boxes, and ``extra`` {"pose": (T, 6),
    "expression": (T, 6)} float32.
    """
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise UserError(f"size {size}: frames must be between {MIN_SIZE} and {MAX_SIZE} pixels; "
                        "pass e.g. --size 64")
    t = len(motion)
    bg = render_background(identity, size) if background is None else background
    chunk = max(1, _CHUNK_PIXELS // (size * size))
    frames = np.empty((t, size, size, 3), np.uint8)
    landmarks = np.empty((t, 68, 2), np.float32)
    boxes = np.empty((t, 4), np.float32)
    for start in range(0, t, chunk):
        sl = slice(start, min(start + chunk, t))
        lay = _Layout(identity, motion.pose[sl], motion.expression[sl], size)
        cv = _Canvas(bg, sl.stop - sl.start)
        _draw(cv, lay)
        np.clip(cv.img * 255 + 0.5, 0, 255, out=cv.img)
        frames[sl] = cv.img.astype(np.uint8)
        landmarks[sl] = lay.landmarks()
        boxes[sl] = lay.face_box()
    extra = {"pose": motion.pose.astype(np.float32), "expression": motion.expression.astype(np.float32)}
    return frames, landmarks, boxes, extra


# ------------------------------------------------------------------------------------------------
# The data set
# ------------------------------------------------------------------------------------------------
def identity_rng(seed: int, index: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), 1, int(index)])


def motion_rng(seed: int, identity: int, video: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), 2, int(identity), int(video)])


def split_of(index: int, identities: int, val_identities: int, test_identities: int) -> str:
    """Identity-disjoint split: the last ``test`` identities are test, the ``val`` before them val."""
    if index >= identities - test_identities:
        return "test"
    if index >= identities - test_identities - val_identities:
        return "val"
    return "train"


def synthesize(out: str | Path, identities: int = DataParams.identities,
               videos_per_identity: int = DataParams.videos_per_identity, frames: int = DataParams.frames,
               size: int = DataParams.size, fps: float = DataParams.fps,
               val_identities: int = DataParams.val_identities, test_identities: int = DataParams.test_identities,
               seed: int = 0, write_videos: bool = True,
               progress: Callable[[Any], Any] | None = None, first_identity: int = 0,
               motion: str = DataParams.motion) -> Path:
    """Write the procedural talking-face data set to ``out`` (the store format) and return ``out``.

    Deterministic: the same arguments give byte-identical files on a given machine and library
    versions (another CPU's vectorised sin/pow may round a pixel differently). Video ids are
    ``id003_v01``; identity ``k`` goes to test if it is among the last ``test_identities``, to val if
    among the ``val_identities`` before them, else to train. ``identities.json`` records every
    identity's appearance parameters. ``first_identity`` numbers the people from there (their
    appearance comes from ``identity_rng(seed, k)``): a store made with ``first_identity=1000``
    shares no face with one of fewer than 1000 identities under the same seed. ``motion`` is the
    style of :func:`sample_motion` (recorded in ``dataset.json`` unless it is ``calm``).
    """
    if identities < 1 or videos_per_identity < 1 or frames < 1:
        raise UserError("synth: identities, videos per identity and frames must all be at least 1")
    if val_identities < 0 or test_identities < 0 or val_identities + test_identities >= identities:
        raise UserError(f"synth: {val_identities} val + {test_identities} test identities leave no "
                        f"training identity out of {identities}; lower data.val_identities / "
                        "data.test_identities or raise data.identities")
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise UserError(f"synth: size {size} must be between {MIN_SIZE} and {MAX_SIZE} pixels; pass e.g. --size 64")
    from lstmgan.media.store import StoreWriter
    from lstmgan.utils.io import atomic_write_json

    out = Path(out)
    meta = {"params": {"identities": identities, "videos_per_identity": videos_per_identity,
                       "frames": frames, "size": size, "fps": fps, "val_identities": val_identities,
                       "test_identities": test_identities, "seed": seed, "first_identity": first_identity,
                       **({"motion": motion} if motion != "calm" else {})},
            "detector": "ground truth (synthetic)", "pose_names": list(POSE_NAMES),
            "expression_names": list(EXPRESSION_NAMES)}
    if first_identity < 0:
        raise UserError(f"synth: first_identity must be >= 0, got {first_identity}")
    jobs = [(k, j) for k in range(first_identity, first_identity + identities) for j in range(videos_per_identity)]
    bar = progress(jobs) if progress else jobs
    people: list[dict[str, Any]] = []
    with StoreWriter(out, size=size, fps=fps, kind="synth", meta=meta, write_videos=write_videos) as writer:
        ident, bg = None, None
        for k, j in bar:
            if j == 0 or ident is None:
                ident = sample_identity(identity_rng(seed, k), name=f"id{k:03d}")
                bg = render_background(ident, size)
                people.append({"split": split_of(k - first_identity, identities, val_identities, test_identities),
                               **ident.summary()})
            moves = sample_motion(motion_rng(seed, k, j), frames, fps, motion)
            vid, lms, boxes, extra = render_video(ident, moves, size, background=bg)
            writer.add_video(f"{ident.name}_v{j:02d}", ident.name,
                             split_of(k - first_identity, identities, val_identities, test_identities), vid,
                             landmarks=lms, boxes=boxes, extra=extra, label="real", method="synth",
                             detector="synthetic")
        assert writer.tmp is not None
        atomic_write_json(writer.tmp / "identities.json", people)
    log.info("synth: %d identities x %d videos x %d frames at %d px -> %s", identities,
             videos_per_identity, frames, size, out)
    return out
