"""Publish the trained generators as small weight-only files inside the package.

``lstmgan/weights/`` holds, for each of ``generate.methods``, ``<method>.pt``: the keypoint detector
and generator weights (no discriminator, no optimiser state), the params they were trained with and
their provenance; ``sample_driving.mp4``, the embedded test video whose face moves most; and
``weights.json``, what each file is, its size and SHA-256. ``pip install .`` ships the folder, so
``lstmgan animate`` works without training; the ``publish`` stage of ``dvc repro`` refreshes it.
"""
from __future__ import annotations

import hashlib
import io
import logging
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from lstmgan.errors import UserError

log = logging.getLogger(__name__)

WEIGHTS_FORMAT = "lstmgan-weights/1"
GENERATOR_PARTS = ("kp_detector", "generator")  # what animation needs
PUBLISHED = Path(__file__).resolve().parents[1] / "weights"  # lstmgan/weights, shipped as package data
SAMPLE_VIDEO = "sample_driving.mp4"


def published_checkpoint(method: str = "lstm", folder: Path | None = None) -> Path:
    """The published weight file of ``method`` (it may not exist in a checkout before `dvc repro`)."""
    return (folder or PUBLISHED) / f"{method}.pt"


def sample_driving_video(folder: Path | None = None) -> Path:
    """The bundled driving video; a one-line UserError when the package was built without it."""
    path = (folder or PUBLISHED) / SAMPLE_VIDEO
    if not path.is_file():
        raise UserError(f"{path}: no bundled sample driving video in this installation; "
                        "give a driving video, or run `dvc repro publish` in a checkout")
    return path


def weight_only(checkpoint: Mapping[str, Any], provenance: Mapping[str, Any]) -> dict[str, Any]:
    """A training checkpoint reduced to what animation needs, with its params and provenance."""
    models = checkpoint["models"]
    missing = [k for k in GENERATOR_PARTS if k not in models]
    if missing:
        raise UserError(f"checkpoint has no weights for {', '.join(missing)}; retrain with this version")
    return {"format": WEIGHTS_FORMAT, "step": checkpoint.get("step"), "version": checkpoint.get("version"),
            "params": checkpoint["params"], "models": {k: models[k] for k in GENERATOR_PARTS},
            "provenance": dict(provenance)}


def training_data(params) -> str:
    """What the generators learned from, in one phrase for the provenance record and the README."""
    if str(params.data.source) == "synth":
        return (f"the embedded procedural talking faces ({params.data.identities} drawn people, "
                f"{params.data.size} px, no real person)")
    return f"{params.data.source} ({params.data.layout} layout, {params.data.size} px)"


def most_moving_video(store, split: str = "test") -> str:
    """The video of ``split`` whose ground-truth landmarks move furthest from its first frame (the
    first video when no landmarks are known): a driving video that shows what the model follows."""
    records = sorted(store.split(split) or store.records, key=lambda r: r.video_id)
    if not records:
        raise UserError(f"{store.root}: no videos to choose a sample driving video from")

    def motion(video_id: str) -> float:
        lm = np.asarray(store.landmarks(video_id), dtype=float)
        shift = np.linalg.norm(lm - lm[:1], axis=-1)
        return float(np.nanmean(shift)) if np.isfinite(shift).any() else -1.0

    return max(records, key=lambda r: motion(r.video_id)).video_id


def publish(params, out: str | Path, store=None, checkpoints: Mapping[str, Path] | None = None) -> dict[str, Any]:
    """Write ``out``/<method>.pt, sample_driving.mp4 and weights.json together (or nothing)."""
    import torch

    from lstmgan import __version__
    from lstmgan.media.store import open_store
    from lstmgan.media.video import write_video
    from lstmgan.utils.io import all_or_nothing, atomic_write_bytes, atomic_write_json, check_output

    out = check_output(out, folder=True)
    store = store or open_store(params.data.out)
    checkpoints = dict(checkpoints or {m: Path(params.gan.out) / m / "latest.pt" for m in params.generate.methods})
    for method, path in checkpoints.items():
        if not Path(path).is_file():
            raise UserError(f"{path}: no trained {method} checkpoint; run `dvc repro train` first")
    video_id = most_moving_video(store)
    files: dict[str, dict[str, Any]] = {}
    with all_or_nothing():
        for method, path in checkpoints.items():
            state = torch.load(path, map_location="cpu", weights_only=False)
            provenance = {"trained_on": training_data(params), "steps": state.get("step"),
                          "from_checkpoint": str(path), "lstmgan": __version__,
                          "use": "research and deepfake-detection data only; see MODEL_CARD.md"}
            buffer = io.BytesIO()
            torch.save(weight_only(state, provenance), buffer)
            data = buffer.getvalue()
            atomic_write_bytes(out / f"{method}.pt", data)
            files[f"{method}.pt"] = {"what": f"{method} generator (keypoint detector + generator weights)",
                                     "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(), **provenance}
        write_video(out / SAMPLE_VIDEO, np.asarray(store.frames(video_id)), fps=store.fps, crf=18,
                    metadata={"comment": f"REAL (not synthetic): embedded test video {video_id}",
                              "title": "REAL (not synthetic)"})
    data = (out / SAMPLE_VIDEO).read_bytes()  # the weights and the video are in place: describe them
    files[SAMPLE_VIDEO] = {"what": f"driving video: embedded test video {video_id} (a drawn face, the one whose "
                                   "landmarks move most)", "video_id": video_id, "bytes": len(data),
                           "sha256": hashlib.sha256(data).hexdigest()}
    summary = {"format": WEIGHTS_FORMAT, "trained_on": training_data(params), "files": files}
    atomic_write_json(out / "weights.json", summary)
    log.info("published %s to %s (%.1f MB)", ", ".join(files), out,
             sum(f.get("bytes", 0) for f in files.values()) / 1e6)
    return summary


def label_strip(labels: list[str], cell: int, height: int = 14) -> np.ndarray:
    """A white (height, cell x len(labels), 3) strip with each label centred over its column."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (cell * len(labels), height), "white")
    draw = ImageDraw.Draw(image)
    for i, text in enumerate(labels):
        width = draw.textlength(text)
        draw.text((i * cell + (cell - width) / 2, 1), text, fill="black")
    return np.asarray(image)


def showcase(params, path: str | Path, store=None, checkpoints: Mapping[str, Path] | None = None,
             pairs: int = 4, device: str = "cpu") -> Path:
    """An animated GIF of cross-identity animations, one row per pair (the first ``pairs`` pairs the
    evaluation scores on generate.eval_split): source | driving | one column per generator."""
    from lstmgan.generate.animate import Animator
    from lstmgan.generate.evaluate import cross_identity_pairs
    from lstmgan.media.store import open_store
    from lstmgan.media.video import write_gif
    from lstmgan.models.full_model import load_networks
    from lstmgan.utils.tensors import to_tensor, to_uint8

    g = params.generate
    store = store or open_store(params.data.out)
    checkpoints = dict(checkpoints or {m: Path(params.gan.out) / m / "latest.pt" for m in g.methods})
    chosen = cross_identity_pairs(store, g.eval_split, pairs, params.seed)
    if not chosen:
        raise UserError(f"{store.root}: split {g.eval_split!r} needs two identities for a cross-identity showcase")
    animators = {m: Animator(load_networks(ck, device)[0], device, batch_size=g.batch_size, relative=True,
                             adapt_scale=g.adapt_scale) for m, ck in checkpoints.items()}
    rows = []
    for src, drv in chosen:
        source = np.asarray(store.frames(src.video_id)[0])
        driving = np.asarray(store.frames(drv.video_id))
        columns = [np.broadcast_to(source, driving.shape), driving]
        for animator in animators.values():
            columns.append(to_uint8(animator.animate(to_tensor(source), to_tensor(driving)).frames))
        frames = min(len(c) for c in columns)
        rows.append(np.concatenate([c[:frames] for c in columns], axis=2))
    frames = min(len(r) for r in rows)
    grid = np.concatenate([r[:frames] for r in rows], axis=1)
    header = label_strip(["source", "driving", *animators], store.size)
    grid = np.concatenate([np.broadcast_to(header, (frames, *header.shape)), grid], axis=1)
    return write_gif(path, grid, fps=store.fps)
