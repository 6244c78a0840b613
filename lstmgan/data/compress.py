"""FaceForensics++-style compression: re-encode videos with H.264 (libx264) at a constant rate factor.

FF++ releases every video three times: ``raw`` (lossless), ``c23`` (CRF 23, visually near-lossless)
and ``c40`` (CRF 40, strong artefacts). Detectors lose accuracy on c40, so the data stage writes the
same copies: ``<store>/c<crf>/<split>/<video_id>.mp4`` beside ``raw/``, same names, same frames.
"""
from __future__ import annotations

import logging
from pathlib import Path

from lstmgan.media.video import VIDEO_SUFFIXES, VideoError, iter_frames, video_fps, write_video
from lstmgan.errors import UserError
from lstmgan.utils.io import atomic_dir

log = logging.getLogger(__name__)


def _check_crf(crf: int) -> int:
    if isinstance(crf, bool) or not isinstance(crf, int) or not 0 <= crf <= 51:
        raise UserError(f"CRF must be an integer from 0 to 51 (FF++ uses 23 and 40), got {crf!r}")
    return crf


def compress_video(src: str | Path, dst: str | Path, crf: int) -> int:
    """Re-encode the video ``src`` as H.264 at ``crf`` into ``dst`` (atomic); return the frame count.

    Frames are streamed (a long video is never held in memory); the frame rate is kept.
    """
    _check_crf(crf)
    count = 0

    def frames():
        nonlocal count
        for frame in iter_frames(src):
            count += 1
            yield frame

    write_video(dst, frames(), fps=video_fps(src), crf=crf)
    return count


def compress_store(root: str | Path, crf: int) -> Path:
    """Write ``<root>/c<crf>/<split>/<video_id>.mp4`` for every video of the store's ``raw/``.

    The folder appears only when complete (built under a temporary name); an existing one is replaced.
    """
    from lstmgan.utils.progress import progress as tqdm  # off unless someone watches

    from lstmgan.media.store import FaceStore

    _check_crf(crf)
    root = Path(root)
    store = FaceStore(root)
    out = root / f"c{crf}"
    with atomic_dir(out) as tmp:
        for record in tqdm(store.records, desc=f"compress c{crf}", unit="video", disable=len(store) < 8):
            src = root / record.raw_path
            dst = tmp / record.split / f"{record.video_id}.mp4"
            dst.parent.mkdir(parents=True, exist_ok=True)
            n = compress_video(src, dst, crf)
            if n != record.frames:
                raise VideoError(f"{src}: decoded {n} frames, the manifest says {record.frames}; "
                                 "the store is damaged, prepare it again")
    log.info("compressed %d videos of %s at CRF %d -> %s", len(store), root, crf, out)
    return out


def compress_tree(src: str | Path, out_dir: str | Path, crf: int) -> Path:
    """Compress a video file, or every video under a folder, into ``out_dir`` (same relative names, .mp4).

    Unreadable videos are skipped with one log line each; UserError when none could be compressed.
    ``out_dir`` appears only when complete.
    """
    from lstmgan.utils.progress import progress as tqdm  # off unless someone watches

    _check_crf(crf)
    src, out_dir = Path(src), Path(out_dir)
    if not src.exists():
        raise UserError(f"{src}: no such file or folder; pass a video or a folder of videos")
    if src.is_file():
        if src.suffix.lower() not in VIDEO_SUFFIXES:
            raise UserError(f"{src}: not a video file ({', '.join(VIDEO_SUFFIXES)}); pass a video or a folder")
        videos, base = [src], src.parent
    else:
        videos = sorted(p for p in src.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES
                        and not any(part.startswith(".") for part in p.relative_to(src).parts))
        base = src
        if not videos:
            raise UserError(f"{src}: no video files ({', '.join(VIDEO_SUFFIXES)}) in this folder")
    src_r, out_r = src.resolve(), out_dir.resolve()
    if src.is_dir() and (out_r == src_r or src_r in out_r.parents or out_r in src_r.parents):
        raise UserError(f"{out_dir}: overlaps the input {src}; choose an --out outside it")
    done, failed = 0, []
    with atomic_dir(out_dir) as tmp:
        for video in tqdm(videos, desc=f"compress c{crf}", unit="video", disable=len(videos) < 4):
            dst = tmp / video.relative_to(base).with_suffix(".mp4")
            dst.parent.mkdir(parents=True, exist_ok=True)
            try:
                compress_video(video, dst, crf)
                done += 1
            except VideoError as exc:
                failed.append(video)
                log.warning("skipped %s", exc)
        if not done:
            raise UserError(f"{src}: none of {len(videos)} videos could be decoded; nothing was written")
    log.info("compressed %d videos at CRF %d into %s (%d unreadable, skipped)", done, crf, out_dir, len(failed))
    return out_dir
