"""The exported deepfake detection data set: real videos and cross-identity reenactments.

``generate.export_source: pool`` (the default) builds it from the **detection pool**
(``pool.out``, made by the pool stage): hundreds of procedural people the GAN never trained on,
already split identity-disjoint into the detection train / val / test. Every pool video is exported
as a real video and again as a fake of the **same face** (its first frame) moved by another pool
identity's video of the same split, by one of the methods (``lstm``, ``none``) in turn: real and
fake are balanced per identity, so a detector cannot separate them by who is shown.

``generate.export_source: store`` keeps the older set: the face store's **val and test identities
only** (the GAN never trained on them), split again identity-disjoint and seeded into train / val /
test; within a split every real video also drives one fake: the face of another identity of the
same split, animated by one of the methods in turn. Every video is written raw (lossless), and re-encoded with H.264 at each
``generate.export_crf`` (c23, c40 as in FaceForensics++); PNG frames (every
``generate.export_frame_step``-th) are extracted from each version, in the thesis loader's layout::

    <out>/DATASET.md, dataset.json, manifest.csv
    <out>/<compression>/<split>/<label>/frames/<video_id>_<frame:04d>.png
    <out>/<compression>/<split>/<label>/videos/<video_id>.mp4

``manifest.csv``: ``path,label,method,video_id,source_identity,driving_video,compression,split,frame``
(one row per PNG; ``path`` relative to the data set root). Every PNG carries text chunks and every
MP4 container tags saying whether it is synthetic, which generator made it and the lstmgan version.
"""
from __future__ import annotations

import csv
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from lstmgan.errors import UserError

log = logging.getLogger(__name__)

MANIFEST_FIELDS = ("path", "label", "method", "video_id", "source_identity", "driving_video",
                   "compression", "split", "frame")
DET_SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class ExportItem:
    """One video of the exported set (before compression)."""

    video_id: str
    label: str  # real | fake
    method: str  # original | lstm | none
    split: str  # detection split
    source_identity: str  # whose face is shown
    source_video: str  # the store video the source frame comes from (real: itself)
    driving_video: str  # the store video whose motion is shown (real: itself)


def split_identities(identities: Sequence[str], fractions: Sequence[float], seed: int,
                     min_per_split: int = 2) -> dict[str, list[str]]:
    """Seeded identity-disjoint split into train/val/test by ``fractions``.

    Each split with a non-zero fraction gets at least ``min_per_split`` identities (a fake needs a
    second identity of the same split to take its motion from).
    """
    if len(fractions) != 3 or any(f < 0 for f in fractions) or sum(fractions) <= 0:
        raise UserError(f"generate.export_split must be three non-negative fractions, got {list(fractions)}")
    ids = sorted(identities)
    rng = np.random.default_rng(seed)
    ids = [ids[i] for i in rng.permutation(len(ids))]
    frac = np.asarray(fractions, np.float64) / np.sum(fractions)
    want = frac * len(ids)
    counts = np.floor(want).astype(int)
    for i in np.argsort(-(want - counts))[: len(ids) - counts.sum()]:
        counts[i] += 1
    needed = [(min_per_split if f > 0 else 0) for f in frac]
    if len(ids) < sum(needed):
        raise UserError(f"the store's val+test splits have {len(ids)} identities; the export needs at least "
                        f"{sum(needed)} ({min_per_split} per detection split): raise data.val_identities/"
                        f"data.test_identities or set a zero fraction in generate.export_split")
    for i in range(3):
        while counts[i] < needed[i]:
            donor = int(np.argmax(counts - np.asarray(needed)))
            counts[donor] -= 1
            counts[i] += 1
    out, start = {}, 0
    for name, c in zip(DET_SPLITS, counts):
        out[name] = sorted(ids[start:start + c])
        start += c
    return out


def plan_export(store, methods: Sequence[str], fractions: Sequence[float], seed: int) -> list[ExportItem]:
    """Which real videos and which (source, driving, method) fakes go into which split."""
    records = [r for r in store.records if r.split in ("val", "test")]
    if not records:
        raise UserError(f"{store.root}: no val/test videos to export; the store needs val and test identities")
    if not methods:
        raise UserError("generate.methods is empty; name at least one trained generator (lstm, none)")
    by_identity: dict[str, list] = {}
    for r in records:
        by_identity.setdefault(r.identity, []).append(r)
    splits = split_identities(list(by_identity), fractions, seed)
    rng = np.random.default_rng(seed + 1)
    items: list[ExportItem] = []
    for split, ids in splits.items():
        k = 0
        for identity in ids:
            for r in by_identity[identity]:
                items.append(ExportItem(r.video_id, "real", "original", split, identity, r.video_id, r.video_id))
                others = [i for i in ids if i != identity]
                src_identity = others[int(rng.integers(len(others)))]
                src = by_identity[src_identity][int(rng.integers(len(by_identity[src_identity])))]
                method = methods[k % len(methods)]
                k += 1
                items.append(ExportItem(f"{method}__{src.video_id}__{r.video_id}", "fake", method, split,
                                        src_identity, src.video_id, r.video_id))
    return items


def plan_pool_export(store, methods: Sequence[str], seed: int) -> list[ExportItem]:
    """The pool export: each pool video real, plus a fake of the same face with another's motion.

    The pool store's own splits are the detection splits. The fake of video ``v`` of identity
    ``i`` animates ``v``'s first frame with a video of another identity of the same split (seeded
    choice); methods alternate over the identities (and videos), so each method makes half the fakes.
    """
    if not methods:
        raise UserError("generate.methods is empty; name at least one trained generator (lstm, none)")
    rng = np.random.default_rng(seed + 2)
    items: list[ExportItem] = []
    for split in DET_SPLITS:
        by_identity: dict[str, list] = {}
        for r in store.records:
            if r.split == split:
                by_identity.setdefault(r.identity, []).append(r)
        ids = sorted(by_identity)
        if len(ids) < 2:
            raise UserError(f"{store.root}: the detection pool's {split} split has {len(ids)} identities; it needs "
                            f"at least 2 (a fake takes its motion from another person): raise pool.identities "
                            f"or pool.{split}_identities")
        for n, identity in enumerate(ids):
            others = [i for i in ids if i != identity]
            for j, r in enumerate(sorted(by_identity[identity], key=lambda rec: rec.video_id)):
                items.append(ExportItem(r.video_id, "real", "original", split, identity, r.video_id, r.video_id))
                drv_identity = others[int(rng.integers(len(others)))]
                drv = by_identity[drv_identity][int(rng.integers(len(by_identity[drv_identity])))]
                method = methods[(n + j) % len(methods)]
                items.append(ExportItem(f"{method}__{r.video_id}__{drv.video_id}", "fake", method, split,
                                        identity, r.video_id, drv.video_id))
    return items


def png_provenance(item: ExportItem, generator: str, version: str, compression: str, frame: int):
    """PNG text chunks (PIL ``PngInfo``) naming the file synthetic or real, its generator and version."""
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    synthetic = item.label == "fake"
    info.add_text("Synthetic", "true" if synthetic else "false")
    info.add_text("Label", item.label)
    info.add_text("Generator", generator if synthetic else "none (real video)")
    info.add_text("Method", item.method)
    info.add_text("Software", f"lstmgan {version}")
    info.add_text("Source", f"video={item.video_id}; frame={frame}; compression={compression}; "
                            f"source_identity={item.source_identity}; driving_video={item.driving_video}")
    info.add_text("Description", ("SYNTHETIC (deepfake) image made by " + generator) if synthetic
                  else "REAL (not synthetic) frame, exported for deepfake-detection research")
    return info


def write_pngs(folder: Path, video_id: str, frames: np.ndarray, step: int, item: ExportItem,
               generator: str, version: str, compression: str) -> list[tuple[str, int]]:
    """Every ``step``-th frame as ``<video_id>_<frame:04d>.png`` with provenance; returns (name, frame)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for t in range(0, len(frames), step):
        name = f"{video_id}_{t:04d}.png"
        Image.fromarray(frames[t]).save(folder / name, format="PNG",
                                        pnginfo=png_provenance(item, generator, version, compression, t))
        written.append((name, t))
    return written


def export_dataset(params, store=None, device: str | None = None,
                   checkpoints: dict[str, Path] | None = None, pool_store=None) -> dict[str, Any]:
    """Build ``generate.out`` (atomically: the folder appears complete or not at all).

    ``store`` is the GAN's face store (``data.out``), used with ``generate.export_source: store``;
    ``pool_store`` the detection pool (``pool.out``), used with ``export_source: pool``. Either is
    opened from params when not given.
    """
    from lstmgan.utils.progress import progress as tqdm  # off unless someone watches

    from lstmgan import __version__
    from lstmgan.generate.animate import Animator, generator_name, provenance_tags
    from lstmgan.utils.device import resolve_device
    from lstmgan.utils.tensors import to_tensor, to_uint8
    from lstmgan.media.store import open_store
    from lstmgan.media.video import read_video, write_video
    from lstmgan.models.full_model import load_checkpoint
    from lstmgan.utils.io import atomic_dir


    g = params.generate
    if g.export_frame_step < 1:
        raise UserError(f"generate.export_frame_step must be >= 1, got {g.export_frame_step}")
    if g.export_source not in ("pool", "store"):
        raise UserError(f"params.yaml: generate.export_source must be pool or store, got {g.export_source!r}")
    from lstmgan.utils.device import set_cpu_threads

    set_cpu_threads(g.threads)
    dev = resolve_device(device or g.device)
    checkpoints = checkpoints or {m: Path(params.gan.out) / m / "latest.pt" for m in g.methods}
    from lstmgan.generate.evaluate import check_checkpoints

    check_checkpoints(checkpoints)
    if g.export_source == "pool":
        pool_path = Path(params.pool.out)
        if pool_store is None and not (pool_path / "manifest.csv").is_file():
            raise UserError(f"{pool_path}: no detection pool; run `lstmgan pool` (dvc stage pool) or set "
                            "generate.export_source: store")
        store = pool_store or open_store(pool_path)
    else:
        store = store or open_store(params.data.out)
    items = (plan_pool_export(store, list(checkpoints), params.seed) if g.export_source == "pool"
             else plan_export(store, list(checkpoints), g.export_split, params.seed))
    animators, generators, steps = {}, {}, {}
    for method, ckpt in checkpoints.items():
        nets, ck_params, step = load_checkpoint(ckpt, dev)
        animators[method] = Animator(nets, dev, batch_size=g.batch_size, relative=g.relative,
                                     adapt_scale=g.adapt_scale)
        generators[method] = f"{generator_name(ck_params.gan.temporal)} [{method}]"
        steps[method] = step
    compressions = [("raw", None)] + [(f"c{crf}", int(crf)) for crf in g.export_crf]
    rows: list[dict[str, Any]] = []
    out = Path(g.out)
    with atomic_dir(out) as tmp:
        for item in tqdm(items, desc="export", mininterval=5):
            driving = np.asarray(store.frames(item.driving_video))
            if g.export_max_frames:
                driving = driving[:g.export_max_frames]
            if item.label == "real":
                frames, generator = driving, "none (real video)"
            else:
                source = np.asarray(store.frames(item.source_video)[0])
                result = animators[item.method].animate(to_tensor(source, dev), to_tensor(driving, dev))
                frames, generator = to_uint8(result.frames), generators[item.method]
            tags = provenance_tags(generator, __version__, synthetic=item.label == "fake",
                                   extra=f"method={item.method}; source_identity={item.source_identity}; "
                                         f"driving_video={item.driving_video}")
            for comp, crf in compressions:
                base = tmp / comp / item.split / item.label
                video = base / "videos" / f"{item.video_id}.mp4"
                video.parent.mkdir(parents=True, exist_ok=True)
                if crf is None:
                    write_video(video, frames, fps=store.fps, lossless=True, metadata=tags)
                    version_frames = frames
                else:
                    write_video(video, frames, fps=store.fps, crf=crf, metadata=tags)
                    version_frames = read_video(video)[0][:, :frames.shape[1], :frames.shape[2]]
                for name, t in write_pngs(base / "frames", item.video_id, version_frames, g.export_frame_step,
                                          item, generator, __version__, comp):
                    rows.append({"path": f"{comp}/{item.split}/{item.label}/frames/{name}", "label": item.label,
                                 "method": item.method, "video_id": item.video_id,
                                 "source_identity": item.source_identity, "driving_video": item.driving_video,
                                 "compression": comp, "split": item.split, "frame": t})
        with (tmp / "manifest.csv").open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=MANIFEST_FIELDS)
            writer.writeheader()
            writer.writerows(rows)
        summary = _summary(items, rows, store, params, compressions, generators, steps, checkpoints)
        (tmp / "dataset.json").write_text(json.dumps(summary, indent=2) + "\n")
        (tmp / "DATASET.md").write_text(dataset_card(summary))
    log.info("exported %d videos (%d PNG rows) to %s", len(items), len(rows), out)
    return summary


def _summary(items, rows, store, params, compressions, generators, steps, checkpoints) -> dict[str, Any]:
    from lstmgan import __version__

    splits: dict[str, Any] = {}
    for s in DET_SPLITS:
        its = [i for i in items if i.split == s]
        splits[s] = {"identities": sorted({i.source_identity for i in its if i.label == "real"}),
                     "real_videos": sum(i.label == "real" for i in its),
                     "fake_videos": sum(i.label == "fake" for i in its),
                     "fake_by_method": {m: sum(i.method == m for i in its) for m in generators}}
    return {
        "name": "lstmgan deepfakes", "lstmgan_version": __version__, "synthetic_fakes": True,
        "source_store": str(store.root), "source_kind": store.meta.get("kind", ""),
        "export_source": params.generate.export_source,
        "source_splits_used": (list(DET_SPLITS) if params.generate.export_source == "pool" else ["val", "test"]),
        "size": store.size, "fps": store.fps,
        "compressions": [c for c, _ in compressions], "crf": {c: crf for c, crf in compressions},
        "frame_step": params.generate.export_frame_step, "seed": params.seed,
        "methods": {m: {"generator": generators[m], "checkpoint": str(checkpoints[m]), "step": steps[m]}
                    for m in generators},
        "videos": len(items), "png_rows": len(rows), "splits": splits,
        "items": [asdict(i) for i in items],
    }


def dataset_card(summary: dict[str, Any]) -> str:
    """DATASET.md: what the data set is, how it was made, its intended use, and the synthetic marking."""
    lines = [
        "# lstmgan deepfakes: a labelled real/fake face-video data set",
        "",
        "## What it is",
        f"Face videos at {summary['size']} x {summary['size']} px, {summary['fps']:g} fps: **real** videos and "
        "**fake** (synthetic) reenactments of them, each fake made by one of these generators:",
        "",
    ]
    for m, info in summary["methods"].items():
        lines.append(f"- `{m}`: {info['generator']}, checkpoint `{info['checkpoint']}` (step {info['step']})")
    if summary.get("export_source") == "pool":
        source_line = (f"Source data: the detection pool `{summary['source_store']}` (kind `{summary['source_kind']}`): "
                       "people the generators never saw in training, split identity-disjoint by the pool stage. Every "
                       "pool video is here as a real video and as a fake of the same face moved by another person of "
                       "the same split, so real and fake are balanced per identity.")
    else:
        source_line = (f"Source data: `{summary['source_store']}` (kind `{summary['source_kind']}`), its val and test "
                       "identities only, so no face here was seen by the generators in training.")
    lines += [
        "",
        source_line,
        "",
        "| split | identities | real videos | fake videos |",
        "|---|---|---|---|",
    ]
    for s, info in summary["splits"].items():
        lines.append(f"| {s} | {len(info['identities'])} | {info['real_videos']} | {info['fake_videos']} |")
    lines += [
        "",
        "## How it was made",
        "- The identities are split identity-disjoint and seeded into train / val / test "
        f"(seed {summary['seed']}): no identity appears in two splits.",
        ("- Every real video also has one fake: its own first frame (the same person) animated with the motion "
         "of another identity's video of the same split (relative keypoint motion), by each method in turn, so "
         "real and fake are balanced per identity." if summary.get("export_source") == "pool" else
         "- Every real video also drives one fake: the first frame of a video of another identity of the same "
         "split is animated with the real video's motion (relative keypoint motion), by each method in turn, so "
         "real and fake are balanced."),
        "- Every video exists as `raw` (lossless H.264) and re-encoded with H.264 at "
        + ", ".join(f"CRF {crf} (`{c}`)" for c, crf in summary["crf"].items() if crf is not None)
        + " (FaceForensics++ style); PNG frames (every "
        f"{summary['frame_step']}th frame) are decoded from each version.",
        "",
        "Layout: `<compression>/<split>/<real|fake>/frames/<video_id>_<frame>.png` and "
        "`<compression>/<split>/<real|fake>/videos/<video_id>.mp4`; `manifest.csv` lists every PNG with "
        "`path,label,method,video_id,source_identity,driving_video,compression,split,frame`. Fake video ids are "
        "`<method>__<source video>__<driving video>`.",
        "",
        "## Intended use",
        "Training and testing deepfake detectors (frame or video level, per compression level, per method), "
        "and studying how detectors generalise across generators and compression. Not for impersonating "
        "anyone or for passing fakes off as real.",
        "",
        "## Every fake is marked as synthetic",
        "- each PNG carries text chunks `Synthetic` (true/false), `Label`, `Generator`, `Method`, `Software` "
        "(lstmgan version) and `Description`;",
        "- each MP4 carries container tags `title` (SYNTHETIC (deepfake) / REAL (not synthetic)), `artist` "
        "(the generator) and `comment`/`description` with the generator, method and lstmgan version;",
        "- `label` and `method` in `manifest.csv`.",
        "",
        f"Made by lstmgan {summary['lstmgan_version']}.",
        "",
    ]
    return "\n".join(lines)


def read_manifest(root: str | Path) -> list[dict[str, str]]:
    """Rows of an exported data set's ``manifest.csv``."""
    path = Path(root) / "manifest.csv"
    if not path.is_file():
        raise UserError(f"{root}: not an exported data set (no manifest.csv); run `lstmgan export` first")
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))
