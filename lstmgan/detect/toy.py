"""A tiny labelled real/fake data set in the export format (docs/architecture.md), for tests and
for trying the detect stage without running the generators.

Real frames are smooth face-like images (a skin-toned ellipse with eyes and mouth over a smooth
random background, moving slightly over a video); fakes are the same kind of frames with a visible
blending artefact (a high-frequency checker patch around the mouth, as a badly blended face swap
leaves). ``c23`` / ``c40`` copies are blurred versions, standing in for compression loss.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from lstmgan.utils.io import atomic_dir, atomic_write_text


def _face(rng: np.random.Generator, size: int, t: int, fake: bool, ident: int) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size] / size
    base = np.stack([0.3 + 0.4 * np.sin(3 * xx + ident), 0.3 + 0.3 * yy, 0.4 + 0.2 * np.cos(2 * yy + ident)], -1)
    cx, cy = 0.5 + 0.03 * np.sin(t / 3 + ident), 0.5 + 0.02 * np.cos(t / 4)
    inside = ((xx - cx) / 0.3) ** 2 + ((yy - cy) / 0.38) ** 2 < 1
    skin = np.array([0.85, 0.65, 0.55]) * (0.9 + 0.02 * (ident % 5))
    img = np.where(inside[..., None], skin, base)
    for ex in (cx - 0.11, cx + 0.11):  # eyes
        img[((xx - ex) ** 2 + (yy - cy + 0.08) ** 2) < 0.0016] = (0.1, 0.1, 0.15)
    mouth = (np.abs(xx - cx) < 0.1) & (np.abs(yy - cy - 0.15) < 0.02 + 0.01 * np.sin(t))
    img[mouth] = (0.6, 0.2, 0.2)
    if fake:  # blending artefact: a checker patch around the mouth
        patch = (np.abs(xx - cx) < 0.2) & (np.abs(yy - cy - 0.13) < 0.1)
        checker = ((np.arange(size)[:, None] // 2 + np.arange(size)[None, :] // 2) % 2)[..., None]
        img = np.where(patch[..., None], img * (0.75 + 0.5 * checker), img)
    img = img + rng.normal(0, 0.02, img.shape)
    return (np.clip(img, 0, 1) * 255).round().astype(np.uint8)


def _blur(img: np.ndarray, passes: int) -> np.ndarray:
    out = img.astype(np.float32)
    for _ in range(passes):
        out = (out + np.roll(out, 1, 0) + np.roll(out, -1, 0) + np.roll(out, 1, 1) + np.roll(out, -1, 1)) / 5
    return out.round().astype(np.uint8)


def write_toy_dataset(root: str | Path, size: int = 64, frames: int = 4, videos_per_split: int = 3,
                      methods: tuple[str, ...] = ("lstm", "none"),
                      compressions: tuple[str, ...] = ("raw", "c23", "c40"), seed: int = 0) -> Path:
    """Write the toy data set to ``root`` (replaced as a whole) and return ``root``."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    root = Path(root)
    rows = ["path,label,method,video_id,source_identity,driving_video,compression,split,frame"]
    blur = {"raw": 0, "c23": 1, "c40": 3}
    with atomic_dir(root) as tmp:
        ident = 0
        for split in ("train", "val", "test"):
            for v in range(videos_per_split):
                ident += 1
                real_id = f"id{ident:03d}_v01"
                driving = f"id{ident + 50:03d}_v02"
                videos = [("real", "original", real_id, f"id{ident:03d}", "")]
                videos += [("fake", m, f"{m}__{real_id}__{driving}", f"id{ident:03d}", driving) for m in methods]
                for label, method, vid, src, drv in videos:
                    clip = [_face(rng, size, t, label == "fake", ident) for t in range(frames)]
                    for comp in compressions:
                        folder = tmp / comp / split / label / "frames"
                        folder.mkdir(parents=True, exist_ok=True)
                        for t, img in enumerate(clip):
                            rel = f"{comp}/{split}/{label}/frames/{vid}_{t:04d}.png"
                            Image.fromarray(_blur(img, blur.get(comp, 2))).save(tmp / rel)
                            rows.append(f"{rel},{label},{method},{vid},{src},{drv},{comp},{split},{t}")
        atomic_write_text(tmp / "manifest.csv", "\n".join(rows) + "\n")
        atomic_write_text(tmp / "DATASET.md", "# Toy detection data set\n\nWritten by "
                          "lstmgan.detect.toy.write_toy_dataset for tests; not real faces.\n")
        atomic_write_text(tmp / "dataset.json", '{"kind": "toy", "size": %d}\n' % size)
    return root
