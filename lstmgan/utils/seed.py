"""One seed for Python, NumPy and torch."""
from __future__ import annotations

import random

import numpy as np


def seed_everything(seed: int) -> None:
    """Seed every RNG the project uses, so a CPU rerun reproduces the same numbers."""
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
