"""Frames <-> tensors: uint8 (..., S, S, 3) arrays and float (..., 3, S, S) tensors in [0, 1]."""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


def to_tensor(frames: np.ndarray, device: torch.device | str = "cpu") -> Tensor:
    """uint8 (..., S, S, 3) -> float32 (..., 3, S, S) in [0, 1] on ``device``.

    Copies read-only input (e.g. a memory-mapped store view), since torch wants writable memory.
    """
    array = np.ascontiguousarray(frames)
    if not array.flags.writeable:
        array = array.copy()
    t = torch.from_numpy(array).to(device)
    return t.float().div_(255.0).movedim(-1, -3).contiguous()


def to_uint8(frames: Tensor) -> np.ndarray:
    """float (..., 3, S, S) in [0, 1] -> uint8 (..., S, S, 3)."""
    return frames.detach().float().clamp(0, 1).mul(255).round().byte().movedim(-3, -1).cpu().numpy()
