"""The face-video store: what the data stage writes and every later stage reads.

Layout (see docs/architecture.md)::

    <root>/dataset.json, manifest.csv, rejects.csv
    <root>/raw/<split>/<video_id>.mp4      lossless H.264, readable by first-order-motion tools
    <root>/cache/frames.npy                uint8 (N, S, S, 3), every video's frames concatenated
    <root>/cache/landmarks.npy             float32 (N, 68, 2) pixels, NaN where unknown
    <root>/cache/boxes.npy                 float32 (N, 4) face box x0, y0, x1, y1, NaN where unknown
    <root>/cache/extra.npz                 optional per-frame arrays (N, ...)
    <root>/cache/degraded.npy              uint8 (N, S, S, 3) the same frames with capture realism (sensor
                                           noise, camera shake, light flicker, motion blur); optional
    <root>/cache/degradation.npz           its per-frame record: noise_sd (N,), shake (N, 2) px (dx, dy),
                                           gain (N,), blur_px (N,) (lstmgan.data.degrade)

Training never decodes video: the frame cache is memory-mapped and sliced per sample. The clean
frames and landmarks are the ground truth; the degraded copy is what a real camera would deliver.
"""
from __future__ import annotations

import csv
import json
import logging
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np

from lstmgan import __version__
from lstmgan.errors import UserError
from lstmgan.utils.io import atomic_dir

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
NUM_LANDMARKS = 68
MANIFEST_FIELDS = ("video_id", "identity", "split", "frames", "offset", "size", "fps",
                   "label", "method", "source", "detector")


@dataclass(frozen=True)
class VideoRecord:
    """One row of ``manifest.csv``."""

    video_id: str
    identity: str
    split: str
    frames: int
    offset: int
    size: int
    fps: float
    label: str = "real"
    method: str = "original"
    source: str = ""
    detector: str = ""

    @property
    def raw_path(self) -> str:
        return f"raw/{self.split}/{self.video_id}.mp4"


def _read_manifest(path: Path) -> list[VideoRecord]:
    types = {f.name: f.type for f in fields(VideoRecord)}
    records = []
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            kwargs: dict[str, Any] = {}
            for key, value in row.items():
                if key not in types:
                    continue
                kind = types[key]
                kwargs[key] = int(value) if kind in ("int", int) else float(value) if kind in ("float", float) else value
            records.append(VideoRecord(**kwargs))
    return records


class FaceStore:
    """Read-only view of a prepared face-video data set."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        manifest = self.root / "manifest.csv"
        if not manifest.is_file():
            raise UserError(f"{self.root}: not a prepared data set (no manifest.csv); "
                            "run `lstmgan prepare` or `dvc repro prepare` first")
        self.meta: dict[str, Any] = json.loads((self.root / "dataset.json").read_text())
        self.records = _read_manifest(manifest)
        self._by_id = {r.video_id: r for r in self.records}
        cache = self.root / "cache"
        self._frames = np.load(cache / "frames.npy", mmap_mode="r")
        self._landmarks = np.load(cache / "landmarks.npy", mmap_mode="r")
        self._boxes = np.load(cache / "boxes.npy", mmap_mode="r")
        extra = cache / "extra.npz"
        self._extra = dict(np.load(extra)) if extra.is_file() else {}
        degraded, record = cache / "degraded.npy", cache / "degradation.npz"
        self._degraded = np.load(degraded, mmap_mode="r") if degraded.is_file() and record.is_file() else None
        self._degradation = dict(np.load(record)) if self._degraded is not None else {}
        if self._degraded is not None and self._degraded.shape != self._frames.shape:
            raise UserError(f"{self.root}: cache/degraded.npy has shape {self._degraded.shape}, the frames "
                            f"{self._frames.shape}; rerun `dvc repro prepare` to rebuild the store")

    @property
    def size(self) -> int:
        return int(self.meta["size"])

    @property
    def fps(self) -> float:
        return float(self.meta["fps"])

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[VideoRecord]:
        return iter(self.records)

    def record(self, video_id: str) -> VideoRecord:
        try:
            return self._by_id[video_id]
        except KeyError:
            raise UserError(f"{self.root}: no video {video_id!r} in manifest.csv") from None

    def split(self, name: str) -> list[VideoRecord]:
        return [r for r in self.records if r.split == name]

    def identities(self, split: str | None = None) -> list[str]:
        return sorted({r.identity for r in self.records if split is None or r.split == split})

    def _rows(self, video_id: str) -> slice:
        r = self.record(video_id)
        return slice(r.offset, r.offset + r.frames)

    def frames(self, video_id: str) -> np.ndarray:
        """(T, S, S, 3) uint8, a memory-mapped view (copy before writing)."""
        return self._frames[self._rows(video_id)]

    def landmarks(self, video_id: str) -> np.ndarray:
        """(T, 68, 2) float32 pixel coordinates; NaN where unknown."""
        return self._landmarks[self._rows(video_id)]

    def boxes(self, video_id: str) -> np.ndarray:
        """(T, 4) float32 face boxes (x0, y0, x1, y1); NaN where unknown."""
        return self._boxes[self._rows(video_id)]

    def extra(self, name: str, video_id: str) -> np.ndarray:
        if name not in self._extra:
            raise KeyError(f"{self.root}: no per-frame array {name!r} (have {sorted(self._extra)})")
        return self._extra[name][self._rows(video_id)]

    @property
    def extra_names(self) -> list[str]:
        return sorted(self._extra)

    @property
    def all_frames(self) -> np.ndarray:
        """(N, S, S, 3) uint8 frames of every video, by cache row (memory-mapped)."""
        return self._frames

    @property
    def all_landmarks(self) -> np.ndarray:
        """(N, 68, 2) float32 landmarks of every frame, by cache row (memory-mapped; NaN where unknown)."""
        return self._landmarks

    @property
    def has_degraded(self) -> bool:
        """Whether the store holds the degraded copy (cache/degraded.npy and cache/degradation.npz)."""
        return self._degraded is not None

    def _need_degraded(self) -> np.ndarray:
        if self._degraded is None:
            raise UserError(f"{self.root}: this store has no degraded frames (cache/degraded.npy); set "
                            "data.degrade.enabled: true in params.yaml and rerun `dvc repro prepare`")
        return self._degraded

    def degraded(self, video_id: str) -> np.ndarray:
        """(T, S, S, 3) uint8 degraded frames of one video, a memory-mapped view (the clean ones:
        :meth:`frames`)."""
        return self._need_degraded()[self._rows(video_id)]

    def degradation(self, video_id: str) -> dict[str, np.ndarray]:
        """The per-frame record of one video's degradation: ``noise_sd`` (T,) at mid grey,
        ``shake`` (T, 2) px (dx, dy), ``gain`` (T,), ``blur_px`` (T,) motion-blur length."""
        self._need_degraded()
        rows = self._rows(video_id)
        return {name: values[rows] for name, values in self._degradation.items()}

    @property
    def all_degraded(self) -> np.ndarray:
        """(N, S, S, 3) uint8 degraded frames of every video, by cache row (memory-mapped)."""
        return self._need_degraded()


class StoreWriter:
    """Builds a store in a temporary folder; ``close()`` renames it to ``root`` when complete.

    Use as a context manager: on an exception the partial folder is removed and an existing store at
    ``root`` is left as it was.

    ``write_videos`` writes ``raw/<split>/<video_id>.mp4`` (lossless H.264) for each video; turn it off
    for tests that only need the cache.
    """

    def __init__(self, root: str | Path, size: int, fps: float, kind: str,
                 meta: Mapping[str, Any] | None = None, write_videos: bool = True):
        self.root = Path(root)
        self.size = int(size)
        self.fps = float(fps)
        self.kind = kind
        self.meta = dict(meta or {})
        self.write_videos = write_videos
        self.records: list[VideoRecord] = []
        self._ids: set[str] = set()
        self.rejects: list[tuple[str, str]] = []
        self._frames: list[np.ndarray] = []
        self._landmarks: list[np.ndarray] = []
        self._boxes: list[np.ndarray] = []
        self._extra: dict[str, list[np.ndarray]] = {}
        self._n = 0
        self._ctx = atomic_dir(self.root)
        self.tmp: Path | None = None

    def __enter__(self) -> "StoreWriter":
        self.tmp = self._ctx.__enter__()
        (self.tmp / "cache").mkdir()
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None:
            self._finish()
        return bool(self._ctx.__exit__(exc_type, exc, tb))

    def add_video(self, video_id: str, identity: str, split: str, frames: np.ndarray,
                  landmarks: np.ndarray | None = None, boxes: np.ndarray | None = None,
                  extra: Mapping[str, np.ndarray] | None = None, label: str = "real",
                  method: str = "original", source: str = "", detector: str = "") -> VideoRecord:
        """Append one video: ``frames`` (T, S, S, 3) uint8; optional per-frame annotations."""
        if self.tmp is None:
            raise RuntimeError("StoreWriter must be used as a context manager")
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        if video_id in self._ids:
            raise ValueError(f"duplicate video id {video_id!r}")
        frames = np.ascontiguousarray(frames, dtype=np.uint8)
        t = frames.shape[0]
        if frames.shape[1:] != (self.size, self.size, 3) or t == 0:
            raise ValueError(f"{video_id}: frames must be (T, {self.size}, {self.size}, 3), got {frames.shape}")
        nan_lm = np.full((t, NUM_LANDMARKS, 2), np.nan, np.float32)
        self._frames.append(frames)
        self._landmarks.append(nan_lm if landmarks is None else np.asarray(landmarks, np.float32).reshape(t, NUM_LANDMARKS, 2))
        self._boxes.append(np.full((t, 4), np.nan, np.float32) if boxes is None else np.asarray(boxes, np.float32).reshape(t, 4))
        for name, arr in (extra or {}).items():
            arr = np.asarray(arr)
            if arr.shape[0] != t:
                raise ValueError(f"{video_id}: extra {name!r} has {arr.shape[0]} rows for {t} frames")
            self._extra.setdefault(name, []).append(arr)
        record = VideoRecord(video_id=video_id, identity=identity, split=split, frames=t,
                             offset=self._n, size=self.size, fps=self.fps, label=label,
                             method=method, source=source, detector=detector)
        self.records.append(record)
        self._ids.add(video_id)
        self._n += t
        if self.write_videos:
            from lstmgan.media.video import write_video

            path = self.tmp / record.raw_path
            path.parent.mkdir(parents=True, exist_ok=True)
            write_video(path, frames, fps=self.fps, lossless=True)
        return record

    def add_reject(self, path: str | Path, reason: str) -> None:
        self.rejects.append((str(path), reason))

    def _finish(self) -> None:
        assert self.tmp is not None
        if not self.records:
            raise UserError(f"{self.root}: no usable videos; nothing was written (see the log for each rejected file)")
        if self._extra and any(len(v) != len(self.records) for v in self._extra.values()):
            raise ValueError("every video must provide the same extra arrays")
        cache = self.tmp / "cache"
        np.save(cache / "frames.npy", np.concatenate(self._frames))
        np.save(cache / "landmarks.npy", np.concatenate(self._landmarks))
        np.save(cache / "boxes.npy", np.concatenate(self._boxes))
        if self._extra:
            np.savez(cache / "extra.npz", **{k: np.concatenate(v) for k, v in self._extra.items()})
        with (self.tmp / "manifest.csv").open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=MANIFEST_FIELDS)
            writer.writeheader()
            for r in self.records:
                writer.writerow(asdict(r))
        with (self.tmp / "rejects.csv").open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["path", "reason"])
            writer.writerows(self.rejects)
        splits = {s: sum(1 for r in self.records if r.split == s) for s in SPLITS}
        meta = {"kind": self.kind, "size": self.size, "fps": self.fps, "videos": len(self.records),
                "frames": self._n, "splits": splits, "rejects": len(self.rejects),
                "lstmgan_version": __version__, **self.meta}
        (self.tmp / "dataset.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        log.info("data set %s: %d videos, %d frames (%s), %d rejected", self.root, len(self.records),
                 self._n, ", ".join(f"{k} {v}" for k, v in splits.items()), len(self.rejects))


def open_store(root: str | Path) -> FaceStore:
    """Open the face-video store at ``root``, or raise a UserError saying how to make it."""
    root = Path(root)
    if not (root / "cache" / "frames.npy").is_file():
        raise UserError(f"{root}: no prepared data set (cache/frames.npy missing); "
                        f"run `lstmgan prepare` (or `dvc repro prepare`) first, or set data.out")
    return FaceStore(root)
