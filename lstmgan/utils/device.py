"""Where tensors run: the torch device and the number of CPU threads, one home for both.

Every stage asks here instead of calling ``torch.set_num_threads`` itself, so the rule is the
same everywhere: ``0`` threads means "every core this process may use", and a temporary
setting is always restored (generation runs best on one thread, network training on all).
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator

import torch

from lstmgan.errors import UserError


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask, not the machine's count)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` -> cuda when torch sees a GPU, else cpu; asking for cuda without one is a UserError."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"device {name!r}: no CUDA device here; use cpu (or auto)")
    return torch.device(name)


def set_cpu_threads(threads: int) -> None:
    """Use ``threads`` torch CPU threads for the rest of the process; 0 = every usable core."""
    torch.set_num_threads(threads if threads > 0 else usable_cores())


@contextmanager
def cpu_threads(threads: int) -> Iterator[None]:
    """Run the block with ``threads`` torch CPU threads (0 = every usable core), then restore."""
    before = torch.get_num_threads()
    set_cpu_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)
