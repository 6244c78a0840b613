"""Reading the exported detection data set (see docs/architecture.md) into memory.

Layout: ``<root>/manifest.csv`` with columns ``path,label,method,video_id,source_identity,
driving_video,compression,split,frame``; ``path`` is relative to ``<root>`` and points at a PNG.
A selection is a DataFrame of manifest rows; :class:`FrameSet` loads the selected PNGs once,
resized to the detector's input size, as uint8, and serves float tensors with a transform.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from lstmgan.errors import UserError

log = logging.getLogger(__name__)

COLUMNS = ("path", "label", "method", "video_id", "source_identity", "driving_video",
           "compression", "split", "frame")
LABELS = {"real": 0, "fake": 1}


def load_manifest(root: str | Path):
    """The manifest as a DataFrame with an added integer column ``y`` (1 = fake)."""
    import pandas as pd

    root = Path(root)
    path = root / "manifest.csv"
    if not path.is_file():
        raise UserError(f"{path}: no such file; run the generate stage first or pass --data DIR "
                        "(a folder made by `lstmgan export`)")
    table = pd.read_csv(path, dtype={"video_id": str, "method": str, "split": str,
                                     "compression": str, "label": str, "path": str},
                        keep_default_na=False)
    missing = [c for c in ("path", "label", "method", "video_id", "compression", "split", "frame")
               if c not in table.columns]
    if missing:
        raise UserError(f"{path}: missing columns {', '.join(missing)}; expected {','.join(COLUMNS)}")
    bad = sorted(set(table["label"]) - set(LABELS))
    if bad:
        raise UserError(f"{path}: label must be real or fake, found {bad[0]!r}")
    table["y"] = table["label"].map(LABELS).astype(int)
    return table


def select(table, split: str, compression: str, max_frames: int = 0,
           methods: Sequence[str] | None = None):
    """Rows of one split and compression, optionally only reals plus fakes of ``methods``.

    With ``max_frames > 0`` at most half of it is taken from each label (all of a label when it
    has fewer), spread evenly over that label's videos and frames: deterministic, no RNG.
    """
    import pandas as pd

    rows = table[(table["split"] == split) & (table["compression"] == compression)]
    if methods is not None:
        rows = rows[(rows["y"] == 0) | rows["method"].isin(list(methods))]
    rows = rows.sort_values(["y", "method", "video_id", "frame"], kind="stable")
    if max_frames > 0:
        parts = []
        for _, group in rows.groupby("y", sort=True):
            quota = max(1, max_frames // 2)
            if len(group) > quota:
                idx = np.unique(np.linspace(0, len(group) - 1, quota).round().astype(int))
                group = group.iloc[idx]
            parts.append(group)
        rows = pd.concat(parts) if parts else rows
    return rows.reset_index(drop=True)


def read_images(root: str | Path, paths: Sequence[str], size: int) -> torch.Tensor:
    """PNG files -> uint8 tensor (N, 3, size, size), resized with antialiasing when needed."""
    from PIL import Image
    from lstmgan.utils.progress import progress as tqdm  # off unless someone watches

    root = Path(root)
    out = torch.empty((len(paths), 3, size, size), dtype=torch.uint8)
    for i, rel in enumerate(tqdm(paths, desc="reading frames", leave=False, disable=len(paths) < 2000)):
        file = root / rel
        try:
            with Image.open(file) as img:
                arr = np.array(img.convert("RGB"))
        except (OSError, ValueError) as exc:
            raise UserError(f"{file}: cannot read this frame ({exc}); re-run the generate stage") from exc
        img_t = torch.from_numpy(arr).permute(2, 0, 1)
        if img_t.shape[1:] != (size, size):
            img_t = torch.nn.functional.interpolate(
                img_t[None].float(), size=(size, size), mode="bilinear", antialias=True,
                align_corners=False)[0].round().clamp(0, 255).to(torch.uint8)
        out[i] = img_t
    return out


class FrameSet(Dataset):
    """Selected frames in memory: ``images`` uint8 (N, 3, S, S), ``labels`` (N,), ``table``."""

    def __init__(self, table, images: torch.Tensor, transform=None):
        self.table = table.reset_index(drop=True)
        self.images = images
        self.labels = torch.tensor(np.array(self.table["y"], dtype=np.int64))
        self.transform = transform

    @classmethod
    def load(cls, root: str | Path, table, size: int, transform=None) -> "FrameSet":
        return cls(table, read_images(root, list(table["path"]), size), transform)

    def subset(self, max_frames: int) -> "FrameSet":
        """At most ``max_frames`` of these frames (0 = all), spread evenly, sharing memory."""
        if max_frames <= 0 or len(self) <= max_frames:
            return self
        idx = np.unique(np.linspace(0, len(self) - 1, max_frames).round().astype(int))
        return FrameSet(self.table.iloc[idx], self.images[torch.as_tensor(idx)], self.transform)

    def with_transform(self, transform) -> "FrameSet":
        """The same frames (shared memory) served through another transform."""
        return FrameSet(self.table, self.images, transform)

    def materialise(self, seed: int) -> "FrameSet":
        """A fixed copy with the (random) transform applied once under ``seed``; identical every
        epoch and every run, without touching the global RNG."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            items = self.__getitems__(list(range(len(self))))
            frozen = torch.stack([x for x, _ in items]) if items else self.images.float()
        out = FrameSet(self.table, self.images, None)
        out.frozen = frozen
        return out

    def __len__(self) -> int:
        return len(self.table)

    def __getitems__(self, indices: list[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """A batch of items (the DataLoader's batched fetch), transformed on one thread: the
        small per-image ops of torchvision's geometric transforms run ~100x slower when they
        start a thread pool per call on a busy CPU."""
        if self.transform is None or getattr(self, "frozen", None) is not None:
            return [self[i] for i in indices]
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return [self[i] for i in indices]
        finally:
            torch.set_num_threads(threads)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        frozen = getattr(self, "frozen", None)
        if frozen is not None:
            return frozen[i], self.labels[i]
        x = self.images[i].float() / 255.0
        if self.transform is not None:
            x = self.transform(x)
        return x, self.labels[i]
