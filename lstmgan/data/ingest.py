"""Real face videos -> the face-video store (the same format as the embedded synthetic set).

Layouts (``layout="auto"`` picks the first that fits, in this order):

* ``ffpp``: the FaceForensics++ download layout,
  ``original_sequences/{youtube,actors}/{raw,c23,c40}/videos/*.mp4`` and
  ``manipulated_sequences/<Method>/{raw,c23,c40}/videos/*.mp4``. Originals are ``real``, the rest
  ``fake`` with their method. The best quality present is used (raw, else c23, else c40). Fake names
  repeat across methods (``000_003.mp4``), so video ids include the method
  (``Deepfakes__000_003``). Splits come from the official ``splits/{train,val,test}.json`` (lists of
  id pairs) when present, else a seeded split in which every video that shares an id (a fake and
  both of its source videos) stays in one split.
* ``fomm``: ``<root>/{train,test}/<video>`` as used by first-order-motion models (preprocessed
  VoxCeleb, TaiChi): a video is an .mp4/.gif/.mov file, a folder of frames (PNG or JPEG), or a
  PNG strip of square frames side by side. ``test/`` stays test; a seeded ``val_fraction`` of the
  training identities becomes val. VoxCeleb names (``id10001#clip#...``) give the identity.
* ``folder``: any folder of videos or images; the identity is the first-level sub-folder, each video
  file is a video and the images of one folder are the frames of one video (in name order).

Each video: faces are found and followed (:mod:`lstmgan.face.detection`), each frame with a face is
cropped by the 1.3x square rule and resized to ``size``; frames without a face are skipped and
counted. Files that cannot be used go to ``rejects.csv`` with the reason and one log line each; the
run fails only when nothing usable remains. The input tree is only read, and the store is written to
a temporary folder renamed when complete.
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from lstmgan.face.detection import (FaceDetector, crop_resize, crop_square, find_face_track, make_detector,
                                to_crop_coords)
from lstmgan.media.store import NUM_LANDMARKS, StoreWriter
from lstmgan.media.video import IMAGE_SUFFIXES, VIDEO_SUFFIXES, VideoError, iter_frames, read_image
from lstmgan.errors import UserError

log = logging.getLogger(__name__)

LAYOUTS = ("fomm", "ffpp", "folder")
LAYOUT_HELP = ("fomm (<root>/train|test/<video file or folder of frames>), "
               "ffpp (<root>/original_sequences/youtube/raw|c23|c40/videos/*.mp4 and "
               "<root>/manipulated_sequences/<Method>/...), "
               "folder (<root>/<identity>/<videos or images>)")
FFPP_METHODS = ("Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures", "DeepFakeDetection", "FaceShifter")
FFPP_QUALITIES = ("raw", "c23", "c40")


@dataclass
class SourceVideo:
    """One input video found in the source tree."""

    path: Path  # a video file, a folder of frames, or a PNG strip
    video_id: str
    identity: str
    groups: tuple[str, ...]  # keys that must share a split (identities, FF++ ids)
    split: str | None = None  # fixed by the layout, else assigned by a seeded identity split
    label: str = "real"
    method: str = "original"


@dataclass
class IngestReport:
    """What happened, for the log, ``dataset.json`` and the tests."""

    videos: int = 0
    frames: int = 0
    frames_without_face: int = 0
    rejects: list[tuple[str, str]] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# Layouts
# --------------------------------------------------------------------------------------------
def _is_video(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES


def _is_image(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES


def _visible(path: Path) -> list[Path]:
    """Entries of a folder in name order, without hidden files (``.DS_Store``, partial outputs)."""
    return sorted(p for p in path.iterdir() if not p.name.startswith("."))


def _has_media(root: Path) -> bool:
    return any(not p.name.startswith(".") and (_is_video(p) or _is_image(p)) for p in root.rglob("*"))


def detect_layout(src: str | Path) -> str:
    """The layout of ``src`` (ffpp, fomm or folder); UserError listing the layouts when none fits."""
    src = Path(src)
    if (src / "original_sequences").is_dir() or (src / "manipulated_sequences").is_dir():
        return "ffpp"
    if ((src / "train").is_dir() or (src / "test").is_dir()) and _has_media(src):
        return "fomm"
    if _has_media(src):
        return "folder"
    raise UserError(f"{src}: no videos or images found in any known layout; expected one of: {LAYOUT_HELP}")


_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def _safe_id(text: str) -> str:
    return _SAFE.sub("_", text).strip("_") or "video"


def _media_items(folder: Path) -> Iterator[Path]:
    """Videos of a fomm split folder: video files, frame folders and PNG strips."""
    for entry in _visible(folder):
        if entry.is_dir() or _is_video(entry) or _is_image(entry):
            yield entry
        else:
            log.debug("skipping %s (not a video, image or folder of frames)", entry)


def _voxceleb_identity(name: str) -> str:
    """``id10001#7w0IBEWc9Qw#000993#001143`` -> ``id10001``; other names are their own identity."""
    return name.split("#", 1)[0] if "#" in name else name


def discover_fomm(src: Path) -> list[SourceVideo]:
    items = []
    for split in ("train", "test"):
        folder = src / split
        if not folder.is_dir():
            continue
        for entry in _media_items(folder):
            stem = entry.name if entry.is_dir() else entry.stem
            identity = _voxceleb_identity(stem)
            items.append(SourceVideo(entry, _safe_id(stem), _safe_id(identity), (f"id:{identity}",),
                                     split="test" if split == "test" else None))
    return items


def _ffpp_videos(base: Path) -> tuple[str, list[Path]]:
    """The best quality folder under ``base`` (raw > c23 > c40) and its videos."""
    for quality in FFPP_QUALITIES:
        folder = base / quality / "videos"
        if folder.is_dir():
            videos = [p for p in _visible(folder) if _is_video(p)]
            if videos:
                return quality, videos
    return "", []


def _load_ffpp_splits(src: Path) -> dict[str, str]:
    """Official FF++ splits: youtube id -> split, from ``splits/{train,val,test}.json`` if present."""
    by_id: dict[str, str] = {}
    for split in ("train", "val", "test"):
        path = src / "splits" / f"{split}.json"
        if not path.is_file():
            continue
        try:
            pairs = json.loads(path.read_text())
            for pair in pairs:
                for vid in pair:
                    by_id[str(vid)] = split
        except (ValueError, TypeError) as exc:
            raise UserError(f"{path}: not an FF++ split file (a JSON list of id pairs) ({exc}); "
                            "fix or remove it") from exc
    return by_id


def discover_ffpp(src: Path) -> list[SourceVideo]:
    official = _load_ffpp_splits(src)
    if official:
        log.info("FF++: using the official splits in %s", src / "splits")
    items: list[SourceVideo] = []
    sources: list[tuple[Path, str, str, str]] = []  # base folder, label, method, id namespace
    for kind, ns in (("youtube", "yt"), ("actors", "actor")):
        sources.append((src / "original_sequences" / kind, "real", "original", ns))
    manipulated = src / "manipulated_sequences"
    if manipulated.is_dir():
        for method_dir in _visible(manipulated):
            if not method_dir.is_dir():
                continue
            if method_dir.name not in FFPP_METHODS:
                log.warning("FF++: unknown method folder %s (known: %s); ingesting it as a fake method",
                            method_dir, ", ".join(FFPP_METHODS))
            ns = "actor" if method_dir.name == "DeepFakeDetection" else "yt"
            sources.append((method_dir, "fake", method_dir.name, ns))
    for base, label, method, ns in sources:
        quality, videos = _ffpp_videos(base)
        if not videos:
            continue
        log.info("FF++: %s: %d videos (%s)", base.relative_to(src), len(videos), quality)
        for path in videos:
            ids = path.stem.split("__", 1)[0].split("_")  # 000_003 -> [000, 003]; 01__scene -> [01]
            prefix = "actors" if (label == "real" and ns == "actor") else method
            video_id = f"{prefix}__{_safe_id(path.stem)}"
            identity = f"actor{ids[0]}" if ns == "actor" else ids[0]
            split = next((official[i] for i in ids if ns == "yt" and i in official), None)
            items.append(SourceVideo(path, video_id, identity, tuple(f"{ns}:{i}" for i in ids), split,
                                     label=label, method=method))
    return items


def discover_folder(src: Path) -> list[SourceVideo]:
    items = []
    for folder in [src, *sorted(p for p in src.rglob("*") if p.is_dir())]:
        rel_parts = folder.relative_to(src).parts
        if any(part.startswith(".") for part in rel_parts):
            continue
        entries = _visible(folder)
        images = [p for p in entries if _is_image(p)]
        videos = [p for p in entries if _is_video(p)]
        for path in videos:
            rel = path.relative_to(src)
            identity = rel.parts[0] if len(rel.parts) > 1 else path.stem
            items.append(SourceVideo(path, _safe_id("__".join(rel.with_suffix("").parts)), _safe_id(identity),
                                     (f"id:{identity}",)))
        if images:
            identity = rel_parts[0] if rel_parts else src.name
            video_id = _safe_id("__".join(rel_parts) if rel_parts else src.name)
            items.append(SourceVideo(folder, video_id, _safe_id(identity), (f"id:{identity}",)))
    return items


DISCOVER = {"fomm": discover_fomm, "ffpp": discover_ffpp, "folder": discover_folder}


# --------------------------------------------------------------------------------------------
# Splits
# --------------------------------------------------------------------------------------------
def _components(items: Sequence[SourceVideo]) -> dict[str, str]:
    """Union-find over group keys: videos sharing any key end up in one component."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for item in items:
        first = find(item.groups[0])
        for key in item.groups[1:]:
            root = find(key)
            if root != first:
                parent[max(root, first)] = min(root, first)
                first = min(root, first)
    return {key: find(key) for key in parent}


def assign_splits(items: Sequence[SourceVideo], val_fraction: float, test_fraction: float,
                  seed: int) -> dict[str, str]:
    """video_id -> split. Identity-disjoint: linked videos share a split; fixed splits are kept.

    Of the components without a fixed split, a seeded ``test_fraction`` becomes test and
    ``val_fraction`` val (at least one each when the fraction is > 0 and three or more remain).
    """
    comp = _components(items)
    fixed: dict[str, str] = {}
    for item in items:
        if item.split:
            fixed.setdefault(comp[item.groups[0]], item.split)
    free = sorted({comp[i.groups[0]] for i in items} - set(fixed))
    order = np.random.default_rng(seed).permutation(len(free))
    free = [free[i] for i in order]

    def count(fraction: float, remaining: int) -> int:
        n = int(round(fraction * len(free)))
        return max(n, 1) if fraction > 0 and remaining >= 3 else n

    n_test = count(test_fraction, len(free))
    n_val = count(val_fraction, len(free) - n_test)
    n_test = min(n_test, max(0, len(free) - 1))
    n_val = min(n_val, max(0, len(free) - n_test - 1))
    chosen = {c: "test" for c in free[:n_test]}
    chosen.update({c: "val" for c in free[n_test:n_test + n_val]})
    chosen.update({c: "train" for c in free[n_test + n_val:]})
    chosen.update(fixed)
    return {item.video_id: chosen[comp[item.groups[0]]] for item in items}


# --------------------------------------------------------------------------------------------
# Reading one source video
# --------------------------------------------------------------------------------------------
class _FrameSource:
    """Frames of a video file, a folder of frames or a PNG strip; readable twice (two passes).

    Unreadable images inside a frame folder are skipped and remembered as rejects.
    """

    def __init__(self, path: Path, max_frames: int):
        self.path = path
        self.max_frames = max_frames
        self.bad: list[tuple[str, str]] = []
        self._bad_paths: set[Path] = set()

    def __iter__(self) -> Iterator[np.ndarray]:
        if self.path.is_dir():
            yield from self._folder()
        elif _is_image(self.path):
            yield from self._strip()
        else:
            yield from iter_frames(self.path, self.max_frames)

    def _folder(self) -> Iterator[np.ndarray]:
        images = [p for p in _visible(self.path) if _is_image(p) and p not in self._bad_paths]
        if not images:
            raise VideoError(f"{self.path}: folder has no images (.png/.jpg); put the frames there or remove it")
        count = 0
        for image in images:
            try:
                frame = read_image(image)
            except VideoError as exc:
                self._bad_paths.add(image)
                self.bad.append((str(image), str(exc)))
                log.warning("rejected %s", exc)
                continue
            yield frame
            count += 1
            if self.max_frames and count >= self.max_frames:
                return
        if count == 0:
            raise VideoError(f"{self.path}: none of its {len(images)} images could be read")

    def _strip(self) -> Iterator[np.ndarray]:
        image = read_image(self.path)
        h, w = image.shape[:2]
        n = w // h if w > h and w % h == 0 else 1
        step = w // n
        for i in range(n if not self.max_frames else min(n, self.max_frames)):
            yield np.ascontiguousarray(image[:, i * step:(i + 1) * step])


def _crop_video(source: _FrameSource, detector: FaceDetector, size: int, crop_scale: float,
                detect_every: int, detect_size: int, smoothing: float, max_frames: int):
    """Two passes over the frames: find the face track, then crop. Returns (frames, boxes, landmarks, n)."""
    faces = find_face_track(source, detector, detect_every=detect_every, detect_size=detect_size,
                            smoothing=smoothing, max_frames=max_frames)
    n = len(faces.boxes)
    found = faces.found
    if not found.any():
        return None, None, None, n
    height, width = faces.frame_size
    crops, boxes, marks = [], [], []
    for index, frame in enumerate(source):
        if index >= n:
            break
        if not found[index]:
            continue
        box = faces.boxes[index]
        crop = crop_square(box, width, height, crop_scale)
        crops.append(crop_resize(frame, crop, size))
        boxes.append(to_crop_coords(box.reshape(2, 2), crop, size).reshape(4))
        if detector.has_landmarks:
            points = detector.landmarks(frame, box)
            marks.append(to_crop_coords(points, crop, size) if points is not None
                         else np.full((NUM_LANDMARKS, 2), np.nan, np.float32))
    if not crops:
        return None, None, None, n
    landmarks = np.stack(marks) if detector.has_landmarks else None
    return np.stack(crops), np.stack(boxes), landmarks, n


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------
def _check_paths(src: Path, out: Path) -> None:
    if not src.exists():
        raise UserError(f"{src}: no such file or folder; pass the folder that holds the videos")
    if not src.is_dir():
        raise UserError(f"{src}: not a folder; ingest takes a data set folder ({LAYOUT_HELP})")
    src_r, out_r = src.resolve(), out.resolve()
    if out_r == src_r or src_r in out_r.parents:
        raise UserError(f"{out}: the output is inside the input folder {src}; choose an --out outside it "
                        "(the input tree is never modified)")
    if out_r in src_r.parents:
        raise UserError(f"{out}: the output folder contains the input {src}; writing it would replace "
                        "the input; choose another --out")


def ingest(src: str | Path, out: str | Path, layout: str = "auto", size: int = 64, detector: str = "auto",
           crop_scale: float = 1.3, max_frames: int = 0, seed: int = 0, val_fraction: float = 0.1,
           test_fraction: float = 0.1, fps: float = 25, detect_every: int = 5, detect_size: int = 224,
           smoothing: float = 2.0, device: str = "auto", write_videos: bool = True) -> Path:
    """Crop the faces of the real videos under ``src`` into a face-video store at ``out``.

    Returns ``out``. Raises UserError (one line) for a missing/empty source, an unknown layout, a
    missing face-alignment model when ``detector="face_alignment"``, or when no video is usable.
    """
    from lstmgan.utils.progress import progress as tqdm  # off unless someone watches

    src, out = Path(src), Path(out)
    _check_paths(src, out)
    if layout == "auto":
        layout = detect_layout(src)
    elif layout not in LAYOUTS:
        raise UserError(f"unknown layout {layout!r}; use auto or one of: {LAYOUT_HELP}")
    items = DISCOVER[layout](src)
    if not items:
        raise UserError(f"{src}: no videos found for layout {layout!r}; expected {LAYOUT_HELP}")
    seen: set[str] = set()
    for item in items:  # ids must be unique file names; disambiguate rare sanitising collisions
        base, k = item.video_id, 1
        while item.video_id in seen:
            k += 1
            item.video_id = f"{base}_{k}"
        seen.add(item.video_id)
    if any(item.split == "test" for item in items):
        test_fraction = 0.0  # the layout gives a test split (fomm test/, FF++ splits): carve only val
    # splits are drawn over all discovered videos, so they do not depend on which files decode
    splits = assign_splits(items, val_fraction, test_fraction, seed)
    face_detector = make_detector(detector, device=device)
    log.info("ingest %s: layout %s, %d videos, face detector %s", src, layout, len(items), face_detector.name)
    report = IngestReport()
    meta = {"source": str(src), "layout": layout, "detector": face_detector.name, "crop_scale": crop_scale,
            "detect_every": detect_every, "detect_size": detect_size, "smoothing": smoothing,
            "max_frames": max_frames, "seed": seed}
    with StoreWriter(out, size=size, fps=fps, kind=layout, meta=meta, write_videos=write_videos) as writer:
        for item in tqdm(items, desc="ingest", unit="video", disable=len(items) < 4):
            source = _FrameSource(item.path, max_frames)
            try:
                frames, boxes, landmarks, n = _crop_video(source, face_detector, size, crop_scale,
                                                          detect_every, detect_size, smoothing, max_frames)
            except (VideoError, ValueError, OSError) as exc:
                reason = str(exc) if str(item.path) in str(exc) else f"{item.path}: {exc}"
                writer.add_reject(item.path, reason)
                report.rejects.append((str(item.path), reason))
                log.warning("rejected %s", reason)
                continue
            finally:
                for bad in source.bad:
                    if bad not in report.rejects:
                        writer.add_reject(*bad)
                        report.rejects.append(bad)
                source.bad.clear()
            if frames is None:
                reason = f"{item.path}: no face found in {n} frames"
                writer.add_reject(item.path, reason)
                report.rejects.append((str(item.path), reason))
                log.warning("rejected %s", reason)
                report.frames_without_face += n
                continue
            skipped = n - len(frames)
            report.frames_without_face += skipped
            if skipped:
                log.info("%s: %d of %d frames without a face, skipped", item.path, skipped, n)
            writer.add_video(item.video_id, item.identity, splits[item.video_id], frames, landmarks=landmarks,
                             boxes=boxes, label=item.label, method=item.method, source=str(item.path),
                             detector=face_detector.name)
            report.videos += 1
            report.frames += len(frames)
        writer.meta["frames_without_face"] = report.frames_without_face
        if not writer.records:
            raise UserError(f"{src}: no usable video ({len(report.rejects)} rejected, see the log lines above); "
                            "nothing was written")
    log.info("ingest %s -> %s: %d videos, %d frames, %d frames without a face skipped, %d rejected",
             src, out, report.videos, report.frames, report.frames_without_face, len(report.rejects))
    return out


def ingest_from_params(src: str | Path, out: str | Path, data, seed: int = 0) -> Path:
    """:func:`ingest` configured by a :class:`lstmgan.config.DataParams` (used by the data stage)."""
    return ingest(src, out, layout=data.layout, size=data.size, detector=data.face_detector,
                  crop_scale=data.crop_scale, max_frames=data.max_frames, seed=seed,
                  val_fraction=data.val_fraction, test_fraction=data.test_fraction, fps=data.fps,
                  detect_every=data.detect_every, detect_size=data.detect_size, smoothing=data.smoothing)
