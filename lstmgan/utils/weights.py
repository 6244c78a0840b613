"""Pretrained weights, found offline in the torch hub cache or not at all.

Nothing here downloads. torchvision and face-alignment look for
``<torch hub dir>/checkpoints/<file name>`` before fetching; we look there first and, when the
file is absent, the caller says so in one sentence and goes on without it.
"""
from __future__ import annotations

from pathlib import Path


def hub_checkpoint_dir() -> Path:
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints"


def cached_weight(filename_or_url: str) -> Path | None:
    """Path of a cached weight file (given its file name or download URL), or None."""
    name = filename_or_url.rstrip("/").rsplit("/", 1)[-1].split("?")[0]
    path = hub_checkpoint_dir() / name
    return path if path.is_file() else None


def missing_weights_hint(what: str, filename_or_url: str) -> str:
    """The one-sentence message for absent weights: what is missing and what to do."""
    name = filename_or_url.rstrip("/").rsplit("/", 1)[-1]
    return (f"{what} weights not found at {hub_checkpoint_dir() / name}; "
            f"copy {name} there to use them (continuing without them).")
