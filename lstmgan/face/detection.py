"""Faces in real videos: detection, the square crop, and boxes followed as smooth tracks.

Three detectors, chosen by ``data.face_detector``:

* ``face_alignment``: face-alignment's SFD detector (boxes) and 2DFAN4 (68 iBUG landmarks). Used
  only when both weight files are already in the torch hub cache (``<hub>/checkpoints/<file>``);
  nothing is ever downloaded.
* ``dlib``: dlib's HOG detector (boxes) and its 68-point shape predictor (iBUG landmarks), from the
  pinned ``dlib-bin`` and ``face-recognition-models`` packages (:mod:`lstmgan.face.dlib_models`).
* ``lbp``: scikit-image's bundled LBP frontal-face cascade. Boxes only, no weights to fetch.
* ``auto``: ``face_alignment`` when its weights are cached, else ``dlib`` when it is installed,
  else ``lbp``; one log line says which and why.

The crop rule (from the thesis): take the largest face, make a square of side
``crop_scale * max(w, h)`` centred on the face box, and clip it to the frame. *Clipped* means:
if the square is larger than the frame's shorter side it is shrunk to that side; then it is
translated by the smallest amount that puts it wholly inside the frame. The crop therefore stays
square (no distortion when resized), keeps its size, and is centred on the face except where a
frame border forces a shift.

Video: detection runs on a reduced copy of the frame (shorter side ``detect_size`` px) and only
every ``detect_every`` frames; between full-frame searches it looks only near the faces it follows
(a window twice the face's size, at 0.67-1.5x its scale). Detections are linked into tracks by box overlap; the track with the
largest faces is kept, its boxes are interpolated between detections (the video is processed
offline, so both neighbouring detections are known) and smoothed over time with a Gaussian of
``smoothing`` frames, which removes the frame-to-frame jitter of a per-frame detector.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Iterable, Literal

import numpy as np

from lstmgan.errors import UserError

log = logging.getLogger(__name__)

DetectorName = Literal["auto", "face_alignment", "dlib", "lbp"]
DETECTORS = ("auto", "face_alignment", "dlib", "lbp")

# The download URLs face-alignment uses; only their file names matter (the hub-cache file names).
SFD_URL = "https://www.adrianbulat.com/downloads/python-fan/s3fd-619a316812.pth"
FAN_URL = "https://www.adrianbulat.com/downloads/python-fan/2DFAN4-11f355bf06.pth.tar"

# LBP cascade search: smallest face in pixels of the reduced frame, pyramid step, and how many
# overlapping raw hits a detection needs (suppresses the cascade's isolated false positives).
LBP_MIN_SIZE = 32
LBP_SCALE_FACTOR = 1.2
LBP_MIN_NEIGHBOURS = 3
SFD_MIN_SIDE = 128  # smaller inputs are zero-padded to this for SFD (its feature pyramid needs it)


# --------------------------------------------------------------------------------------------
# Detectors
# --------------------------------------------------------------------------------------------
class FaceDetector:
    """Finds faces in an RGB image. ``detect`` returns (N, 5) rows ``x0, y0, x1, y1, score``."""

    name: str = ""
    has_landmarks: bool = False

    def detect(self, image: np.ndarray, min_size: int | None = None, max_size: int | None = None) -> np.ndarray:
        """Faces in ``image``; ``min_size``/``max_size`` (pixels) narrow the search where supported."""
        raise NotImplementedError

    def landmarks(self, image: np.ndarray, box: np.ndarray) -> np.ndarray | None:
        """(68, 2) landmarks (x, y) in ``image`` pixels for the face in ``box``; None if unsupported."""
        return None


class LBPDetector(FaceDetector):
    """scikit-image's LBP frontal-face cascade (bundled with scikit-image; boxes only)."""

    name = "lbp"

    def __init__(self, min_size: int = LBP_MIN_SIZE, scale_factor: float = LBP_SCALE_FACTOR,
                 min_neighbours: int = LBP_MIN_NEIGHBOURS):
        from skimage.data import lbp_frontal_face_cascade_filename
        from skimage.feature import Cascade

        self._cascade = Cascade(lbp_frontal_face_cascade_filename())
        self.min_size = min_size
        self.scale_factor = scale_factor
        self.min_neighbours = min_neighbours

    def detect(self, image: np.ndarray, min_size: int | None = None, max_size: int | None = None) -> np.ndarray:
        gray = _to_gray(image)
        h, w = gray.shape
        low = max(self.min_size, int(min_size or 0))
        high = min(h, w, int(max_size or min(h, w)))
        if high < low:
            return np.zeros((0, 5), np.float32)
        hits = self._cascade.detect_multi_scale(
            img=gray, scale_factor=self.scale_factor, step_ratio=1,
            min_size=(low, low), max_size=(high, high),
            min_neighbor_number=self.min_neighbours)
        rows = [(d["c"], d["r"], d["c"] + d["width"], d["r"] + d["height"], float(d["width"] * d["height"]))
                for d in hits]
        return np.asarray(rows, np.float32).reshape(-1, 5)


class FaceAlignmentDetector(FaceDetector):
    """face-alignment's SFD boxes and 2DFAN4 landmarks, loaded from the torch hub cache only."""

    name = "face_alignment"
    has_landmarks = True

    def __init__(self, device: str = "auto"):
        missing = missing_face_alignment_weights()
        if missing:
            raise UserError(_missing_fa_message(missing))
        import face_alignment
        import torch

        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = device

        # compile=False: torch.compile costs minutes on CPU and needs a compiler; eager is fine here.
        self._fa = face_alignment.FaceAlignment(face_alignment.LandmarksType.TWO_D, device=device,
                                                face_detector="sfd", flip_input=False, compile=False)

    def detect(self, image: np.ndarray, min_size: int | None = None, max_size: int | None = None) -> np.ndarray:
        h, w = image.shape[:2]
        if min(h, w) < SFD_MIN_SIDE:  # SFD's deepest layers need a large enough input: pad (boxes keep)
            image = np.pad(image, ((0, max(0, SFD_MIN_SIDE - h)), (0, max(0, SFD_MIN_SIDE - w)), (0, 0)))
        boxes = self._fa.face_detector.detect_from_image(np.ascontiguousarray(image[..., ::-1]))  # SFD wants BGR
        rows = [np.asarray(b[:5], np.float32) for b in boxes if len(b) >= 5]
        return np.stack(rows) if rows else np.zeros((0, 5), np.float32)

    def landmarks(self, image: np.ndarray, box: np.ndarray) -> np.ndarray | None:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = self._fa.get_landmarks_from_image(np.ascontiguousarray(image),
                                                       detected_faces=[np.asarray(box[:4], np.float64)])  # float32 breaks its crop
        if not result:
            return None
        return np.asarray(result[0][:, :2], np.float32)


def missing_face_alignment_weights() -> list[str]:
    """File names of face-alignment weights absent from the torch hub cache (empty when all there)."""
    from lstmgan.utils.weights import cached_weight

    return [url.rsplit("/", 1)[-1] for url in (SFD_URL, FAN_URL) if cached_weight(url) is None]


def _missing_fa_message(missing: list[str]) -> str:
    from lstmgan.utils.weights import hub_checkpoint_dir

    return (f"face-alignment weights missing: put {' and '.join(missing)} into {hub_checkpoint_dir()} "
            "(see docs/data.md), or use --detector dlib or lbp")


def make_detector(name: str = "auto", device: str = "auto") -> FaceDetector:
    """The detector ``name`` (auto | face_alignment | dlib | lbp).

    ``auto`` tries face-alignment (weights cached), then dlib (installed), then LBP, and logs which
    one it chose and why the better ones were passed over. ``device`` is for face-alignment's
    networks: ``auto`` = CUDA when available, else CPU.
    """
    from lstmgan.face import dlib_models

    if name == "lbp":
        return LBPDetector()
    if name == "face_alignment":
        return FaceAlignmentDetector(device)
    if name == "dlib":
        return dlib_models.DlibDetector()
    if name == "auto":
        missing = missing_face_alignment_weights()
        if not missing:
            log.info("face detector: face-alignment (SFD + 2DFAN4, weights cached)")
            return FaceAlignmentDetector(device)
        no_fa = _missing_fa_message(missing)
        no_dlib = dlib_models.dlib_unavailable()
        if no_dlib is None:
            log.info("face detector: dlib (HOG + 68 landmarks); face-alignment not used: %s", no_fa)
            return dlib_models.DlibDetector()
        log.info("face detector: LBP cascade (boxes only); face-alignment not used: %s; dlib not used: %s",
                 no_fa, no_dlib)
        return LBPDetector()
    raise UserError(f"unknown face detector {name!r}; use one of {', '.join(DETECTORS)}")


def _to_gray(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 2:
        gray = image.astype(np.float32)
    else:
        gray = image[..., :3].astype(np.float32) @ np.asarray([0.299, 0.587, 0.114], np.float32)
    return gray / 255.0 if image.dtype == np.uint8 else gray


def reduce_frame(frame: np.ndarray, detect_size: int) -> tuple[np.ndarray, float]:
    """A copy of ``frame`` whose shorter side is ``detect_size`` (never enlarged), and its scale."""
    from PIL import Image

    h, w = frame.shape[:2]
    scale = min(1.0, detect_size / min(h, w)) if detect_size > 0 else 1.0
    if scale >= 1.0:
        return frame, 1.0
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(frame).resize(size, Image.BILINEAR, reducing_gap=2.0)), scale


# --------------------------------------------------------------------------------------------
# The crop rule
# --------------------------------------------------------------------------------------------
def crop_square(box: np.ndarray, width: int, height: int, scale: float = 1.3) -> tuple[int, int, int]:
    """The square crop ``(x0, y0, side)`` for a face ``box`` (x0, y0, x1, y1) in a width x height frame.

    side = round(scale * max(w, h)), at most min(width, height); centred on the box centre, then
    translated by the least amount that keeps it inside the frame (see the module docstring).
    """
    x0, y0, x1, y1 = (float(v) for v in box[:4])
    side = int(round(scale * max(x1 - x0, y1 - y0)))
    side = max(1, min(side, width, height))
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    left = int(round(cx - side / 2))
    top = int(round(cy - side / 2))
    left = min(max(left, 0), width - side)
    top = min(max(top, 0), height - side)
    return left, top, side


def crop_resize(frame: np.ndarray, crop: tuple[int, int, int], size: int) -> np.ndarray:
    """The square ``crop`` of ``frame`` resized to size x size (antialiased), uint8 RGB."""
    from PIL import Image

    x0, y0, side = crop
    img = Image.fromarray(frame)
    return np.asarray(img.resize((size, size), Image.BILINEAR, box=(x0, y0, x0 + side, y0 + side)))


def to_crop_coords(points: np.ndarray, crop: tuple[int, int, int], size: int) -> np.ndarray:
    """Map (..., 2) frame pixel coordinates (x, y) into the size x size crop."""
    x0, y0, side = crop
    return ((np.asarray(points, np.float32) - np.asarray([x0, y0], np.float32)) * (size / side)).astype(np.float32)


# --------------------------------------------------------------------------------------------
# Tracks over time
# --------------------------------------------------------------------------------------------
def iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


@dataclass
class _Track:
    frames: list[int]
    boxes: list[np.ndarray]
    misses: int = 0

    @property
    def weight(self) -> float:
        """Sum of face areas: prefers the largest face, and among equals the one seen longest."""
        return float(sum((b[2] - b[0]) * (b[3] - b[1]) for b in self.boxes))


def link_tracks(detections: dict[int, np.ndarray], min_iou: float = 0.3, max_misses: int = 2) -> list[_Track]:
    """Link per-keyframe detections into tracks: greedy matching by overlap with each track's last box.

    A track that finds no match in more than ``max_misses`` consecutive keyframes ends.
    """
    tracks: list[_Track] = []
    active: list[_Track] = []
    for frame in sorted(detections):
        boxes = [b for b in detections[frame]]
        pairs = sorted(((iou(t.boxes[-1], b), ti, bi) for ti, t in enumerate(active) for bi, b in enumerate(boxes)),
                       reverse=True)
        used_t, used_b = set(), set()
        for score, ti, bi in pairs:
            if score < min_iou or ti in used_t or bi in used_b:
                continue
            active[ti].frames.append(frame)
            active[ti].boxes.append(np.asarray(boxes[bi][:4], np.float32))
            active[ti].misses = 0
            used_t.add(ti)
            used_b.add(bi)
        for ti, t in enumerate(active):
            if ti not in used_t:
                t.misses += 1
        for bi, b in enumerate(boxes):
            if bi not in used_b:
                track = _Track([frame], [np.asarray(b[:4], np.float32)])
                tracks.append(track)
                active.append(track)
        active = [t for t in active if t.misses <= max_misses]
    return tracks


def track_boxes(track: _Track, n_frames: int, max_step: int) -> np.ndarray:
    """(n_frames, 4) boxes of ``track``: detections, linearly interpolated between detections at most
    ``max_step`` frames apart; NaN outside the track or across longer gaps (no face there)."""
    out = np.full((n_frames, 4), np.nan, np.float32)
    frames, boxes = track.frames, track.boxes
    out[frames[0]] = boxes[0]
    for (f0, b0), (f1, b1) in zip(zip(frames, boxes), zip(frames[1:], boxes[1:])):
        if f1 - f0 <= max_step:
            w = np.linspace(0.0, 1.0, f1 - f0 + 1, dtype=np.float32)[:, None]
            out[f0:f1 + 1] = (1 - w) * b0 + w * b1
        else:
            out[f1] = b1
    return out


def smooth_boxes(boxes: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing over time of (T, 4) boxes, each run of known (non-NaN) frames on its own.

    Smoothing centre and size (not corners) keeps a box's shape; NaN rows stay NaN.
    """
    boxes = np.asarray(boxes, np.float32)
    if sigma <= 0 or len(boxes) < 2:
        return boxes.copy()
    from scipy.ndimage import gaussian_filter1d

    out = boxes.copy()
    known = ~np.isnan(boxes).any(axis=1)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], known.astype(np.int8), [0]])))
    for start, stop in zip(edges[::2], edges[1::2]):
        seg = boxes[start:stop]
        centre = (seg[:, :2] + seg[:, 2:]) / 2
        extent = seg[:, 2:] - seg[:, :2]
        params = np.concatenate([centre, extent], axis=1)
        params = gaussian_filter1d(params.astype(np.float64), sigma, axis=0, mode="nearest").astype(np.float32)
        out[start:stop, :2] = params[:, :2] - params[:, 2:] / 2
        out[start:stop, 2:] = params[:, :2] + params[:, 2:] / 2
    return out


@dataclass
class VideoFaces:
    """Result of :func:`find_face_track`: per-frame face boxes in frame pixels (NaN = no face)."""

    boxes: np.ndarray  # (T, 4)
    frame_size: tuple[int, int]  # (height, width)
    detections: int  # keyframes that were searched

    @property
    def found(self) -> np.ndarray:
        return ~np.isnan(self.boxes).any(axis=1)


def _dedupe(boxes: np.ndarray, max_iou: float = 0.5) -> np.ndarray:
    """Keep one box per face: drop boxes that overlap a larger one by more than ``max_iou``.

    Detectors may report one face twice at neighbouring scales; two boxes on one face would start
    two tracks and split the face's history between them.
    """
    if len(boxes) < 2:
        return boxes
    order = np.argsort(-(boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]), kind="stable")
    kept: list[np.ndarray] = []
    for b in boxes[order]:
        if all(iou(b, k) <= max_iou for k in kept):
            kept.append(b)
    return np.stack(kept)


def detect_near(detector: FaceDetector, image: np.ndarray, previous: np.ndarray) -> np.ndarray:
    """Search for each previous face only in a window twice its size around it, at 0.67-1.5x its size.

    This is the tracking step between full-frame searches: a face moves and grows little between
    keyframes, and a small window at few scales costs a fraction of a full search.
    """
    h, w = image.shape[:2]
    found = []
    for box in previous:
        side = float(max(box[2] - box[0], box[3] - box[1]))
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        x0, y0 = int(max(0, cx - side)), int(max(0, cy - side))
        x1, y1 = int(min(w, cx + side + 1)), int(min(h, cy + side + 1))
        if min(x1 - x0, y1 - y0) < side / 2:  # the face is mostly outside the frame: nothing to find
            continue
        hits = detector.detect(image[y0:y1, x0:x1], min_size=int(side / 1.5), max_size=int(np.ceil(side * 1.5)))
        if len(hits):
            hits = hits.copy()
            hits[:, :4] += np.asarray([x0, y0, x0, y0], np.float32)
            found.append(hits)
    return _dedupe(np.concatenate(found)) if found else np.zeros((0, 5), np.float32)


# Every n-th keyframe searches the whole frame (to find faces that entered or a lost track).
FULL_SEARCH_EVERY = 5
# Between full searches, only the largest few faces are followed (each costs one windowed search).
MAX_FOLLOWED = 3


def find_face_track(frames: Iterable[np.ndarray], detector: FaceDetector, detect_every: int = 5,
                    detect_size: int = 224, smoothing: float = 2.0, max_frames: int = 0) -> VideoFaces:
    """Follow the largest face through ``frames`` (consumed once): smooth per-frame boxes.

    Detection runs on frames reduced to ``detect_size`` (shorter side) every ``detect_every`` frames
    and on the last frame: a full-frame search every ``FULL_SEARCH_EVERY`` keyframes (and whenever no
    face is being followed), otherwise a search near the faces of the previous keyframe. Boxes
    between detections are interpolated, then smoothed over time.
    """
    detect_every = max(1, int(detect_every))
    detections: dict[int, np.ndarray] = {}
    frame_size: tuple[int, int] | None = None
    n = 0
    last: np.ndarray | None = None
    previous = np.zeros((0, 5), np.float32)  # faces at the previous keyframe, reduced-frame pixels

    def run(index: int, frame: np.ndarray) -> None:
        nonlocal previous
        small, scale = reduce_frame(frame, detect_size)
        found = np.zeros((0, 5), np.float32)
        if len(previous) and len(detections) % FULL_SEARCH_EVERY:
            found = detect_near(detector, small, previous)
        if not len(found):
            found = _dedupe(detector.detect(small))  # one box per face, or tracks would split
        previous = found[:MAX_FOLLOWED]  # the largest faces (after _dedupe, largest first)
        if len(found):
            found = found.copy()
            found[:, :4] /= scale
        detections[index] = found

    for frame in frames:
        if frame_size is None:
            frame_size = frame.shape[:2]
        elif frame.shape[:2] != frame_size:
            raise ValueError(f"frame {n} is {frame.shape[:2]}, earlier frames are {frame_size}")
        if n % detect_every == 0:
            run(n, frame)
            last = None
        else:
            last = frame
        n += 1
        if max_frames and n >= max_frames:
            break
    if last is not None:
        run(n - 1, last)
    if frame_size is None:
        raise ValueError("no frames")
    searched = len(detections)
    tracks = link_tracks({k: v for k, v in detections.items() if len(v)})
    if not tracks:
        return VideoFaces(np.full((n, 4), np.nan, np.float32), frame_size, searched)
    best = max(tracks, key=lambda t: t.weight)
    # bridge one keyframe where the detector missed the face (e.g. a blink or a turned head)
    boxes = track_boxes(best, n, max_step=2 * detect_every)
    return VideoFaces(smooth_boxes(boxes, smoothing), frame_size, searched)
