"""Video files through PyAV: read frames, write H.264 MP4 (lossless or at a CRF) and GIFs.

Writes are atomic (a temporary file renamed when complete). Unreadable or truncated files raise
:class:`VideoError` with the file name, which callers turn into a reject or a one-line error.
"""
from __future__ import annotations

import itertools
import logging
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Iterator, Mapping

import numpy as np

from lstmgan.errors import UserError
from lstmgan.utils.io import atomic_path

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".gif", ".m4v")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")


class VideoError(UserError):
    """A video that cannot be read or written; the message names the file."""


def _even(n: int) -> int:
    return n + (n % 2)


# x264's macroblock-tree rate control reads memory it has not written on frames as small as 64 px:
# with it on, the same frames encoded twice in one process gave different files (5 of 8 encodes
# differed). Off, every encode is byte-identical; on the embedded test faces the copies come out
# 18% (CRF 23) and 3% (CRF 40) larger, 0.6 and 0.5 dB closer to the raw frames.
X264_PARAMS = "mbtree=0"


def write_video(path: str | Path, frames: np.ndarray | Iterable[np.ndarray], fps: float = 25,
                crf: int | None = None, lossless: bool = False, metadata: Mapping[str, str] | None = None,
                threads: int = 1) -> Path:
    """Write (T, H, W, 3) uint8 RGB ``frames`` as H.264 MP4.

    ``frames`` may also be an iterable of (H, W, 3) frames (streamed, e.g. while re-encoding a long
    video). ``lossless`` uses libx264rgb at CRF 0 (bit-exact RGB, like FF++'s raw); otherwise libx264
    yuv420p at ``crf`` (23 and 40 give FF++'s c23/c40). Odd sizes are padded by edge replication for
    yuv420p. ``threads=1`` and :data:`X264_PARAMS` keep files byte-identical across runs and machines.
    """
    import av

    path = Path(path)
    if isinstance(frames, np.ndarray):
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise ValueError(f"frames must be (T, H, W, 3) uint8, got {frames.shape} {frames.dtype}")
    stream_iter = iter(frames)
    first = next(stream_iter, None)
    if first is None:
        raise ValueError(f"{path}: no frames to write")
    first = np.asarray(first)
    if first.ndim != 3 or first.shape[-1] != 3 or first.dtype != np.uint8:
        raise ValueError(f"frames must be (H, W, 3) uint8, got {first.shape} {first.dtype}")
    h, w, _ = first.shape
    rate = Fraction(fps).limit_denominator(1001)
    with atomic_path(path) as tmp:
        with av.open(str(tmp), mode="w", format="mp4") as container:
            for key, value in (metadata or {}).items():
                container.metadata[key] = str(value)
            if lossless:
                stream = container.add_stream("libx264rgb", rate=rate)
                stream.pix_fmt = "rgb24"
                stream.options = {"crf": "0", "preset": "veryfast", "threads": str(threads)}
                stream.width, stream.height = w, h
                pad = (0, 0)
            else:
                stream = container.add_stream("libx264", rate=rate)
                stream.pix_fmt = "yuv420p"
                stream.options = {"crf": str(23 if crf is None else crf), "preset": "medium",
                                  "threads": str(threads), "x264-params": X264_PARAMS}
                stream.width, stream.height = _even(w), _even(h)
                pad = (_even(h) - h, _even(w) - w)
            for frame in itertools.chain([first], stream_iter):
                frame = np.asarray(frame)
                if frame.shape != (h, w, 3):
                    raise ValueError(f"{path}: frame of shape {frame.shape}, expected {(h, w, 3)}")
                if pad != (0, 0):
                    frame = np.pad(frame, ((0, pad[0]), (0, pad[1]), (0, 0)), mode="edge")
                vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame, dtype=np.uint8), format="rgb24")
                for packet in stream.encode(vf):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
    return path


def iter_frames(path: str | Path, max_frames: int = 0) -> Iterator[np.ndarray]:
    """Yield (H, W, 3) uint8 RGB frames of a video file; raise VideoError if it cannot be decoded."""
    import av

    path = Path(path)
    if not path.is_file():
        raise VideoError(f"{path}: no such file")
    count = 0
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VideoError(f"{path}: has no video stream; pass a video file")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                yield frame.to_ndarray(format="rgb24")
                count += 1
                if max_frames and count >= max_frames:
                    return
    except VideoError:
        raise
    except (av.error.FFmpegError, ValueError, OSError) as exc:  # type: ignore[attr-defined]
        if count == 0:
            raise VideoError(f"{path}: cannot decode video ({exc.__class__.__name__}: {exc}); "
                             "check the file is a complete video") from exc
        log.warning("%s: decoding stopped after %d frames (%s); keeping those", path, count, exc)
    if count == 0:
        raise VideoError(f"{path}: no frames could be decoded; check the file is a complete video")


def read_video(path: str | Path, max_frames: int = 0) -> tuple[np.ndarray, float]:
    """All frames of a video as (T, H, W, 3) uint8, and its frame rate."""
    fps = video_fps(path)
    frames = list(iter_frames(path, max_frames=max_frames))
    return np.stack(frames), fps


def video_fps(path: str | Path, default: float = 25.0) -> float:
    import av

    try:
        with av.open(str(path)) as container:
            rate = container.streams.video[0].average_rate if container.streams.video else None
            return float(rate) if rate else default
    except Exception as exc:  # noqa: BLE001 - any failure to open is reported by iter_frames
        raise VideoError(f"{path}: cannot open video ({exc.__class__.__name__}); check the file") from exc


def video_metadata(path: str | Path) -> dict[str, str]:
    """Container metadata tags (e.g. our provenance tags) of a video file."""
    import av

    with av.open(str(path)) as container:
        return dict(container.metadata)


def write_gif(path: str | Path, frames: np.ndarray, fps: float = 25) -> Path:
    """Write an animated GIF (for notebooks and the report); atomic."""
    from PIL import Image

    path = Path(path)
    images = [Image.fromarray(np.asarray(f, np.uint8)) for f in frames]
    with atomic_path(path) as tmp:
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:],
                       duration=max(1, int(round(1000 / fps))), loop=0)
    return path


def read_image(path: str | Path) -> np.ndarray:
    """An image file as (H, W, 3) uint8 RGB; VideoError naming the file if it is not a readable image."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise VideoError(f"{path}: no such file; check the path")
    try:
        with Image.open(path) as img:
            img.load()
            return np.asarray(img.convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise VideoError(f"{path}: not a readable image ({exc.__class__.__name__}); "
                         "replace or remove the file") from exc


def count_frames(path: str | Path) -> int:
    """Number of frames that decode from a video file (decodes it; VideoError if none do)."""
    return sum(1 for _ in iter_frames(path))
