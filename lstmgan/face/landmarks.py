"""Geometry of 68-point (iBUG-300W) landmarks: how open the mouth and the eyes are.

One home for the measures both the data stage (how much the benchmark's mouths open,
:mod:`lstmgan.data.stats`) and the evaluation (whether a generated face follows them,
:mod:`lstmgan.generate.parts`) read from landmarks. Each is relative to the face's own size.
"""
from __future__ import annotations

import numpy as np

EYES = (tuple(range(36, 42)), tuple(range(42, 48)))
INNER_LIP_PAIRS = ((61, 67), (62, 66), (63, 65))  # upper, lower inner-lip points facing each other
MOUTH_INNER = tuple(range(60, 68))  # the inner-lip contour
MOUTH_OPEN = 0.12  # inner-lip gap / inter-ocular distance above which the mouth counts as open
BLINK = 0.5  # eye aspect ratio below this fraction of its median (over a video, or a clip): a blink frame


def interocular(landmarks: np.ndarray) -> np.ndarray:
    """(T,) distance between the two eye centres, pixels."""
    lm = np.asarray(landmarks, np.float64)
    return np.linalg.norm(lm[:, list(EYES[0])].mean(1) - lm[:, list(EYES[1])].mean(1), axis=1)


def lip_gap(landmarks: np.ndarray) -> np.ndarray:
    """(T,) mean distance between facing inner-lip points, pixels (0 = closed)."""
    lm = np.asarray(landmarks, np.float64)
    return np.mean([np.linalg.norm(lm[:, a] - lm[:, b], axis=1) for a, b in INNER_LIP_PAIRS], axis=0)


def mouth_opening(landmarks: np.ndarray) -> np.ndarray:
    """(T,) :func:`lip_gap` over the inter-ocular distance: how open the mouth is, whatever the face's size."""
    lm = np.asarray(landmarks, np.float64)
    return lip_gap(lm) / np.maximum(interocular(lm), 1e-6)


def eye_aperture(landmarks: np.ndarray) -> np.ndarray:
    """(T,) eye aspect ratio (lid distances over the corner distance), mean of both eyes."""
    lm = np.asarray(landmarks, np.float64)
    ratios = []
    for eye in EYES:
        p = lm[:, list(eye)]
        lids = np.linalg.norm(p[:, 1] - p[:, 5], axis=1) + np.linalg.norm(p[:, 2] - p[:, 4], axis=1)
        ratios.append(lids / np.maximum(2 * np.linalg.norm(p[:, 0] - p[:, 3], axis=1), 1e-6))
    return np.mean(ratios, axis=0)
