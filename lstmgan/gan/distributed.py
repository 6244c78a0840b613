"""DDP set-up for training: join the process group under ``torchrun``, wrap models, average values.

Single-process runs (no ``WORLD_SIZE`` > 1 in the environment) never touch ``torch.distributed``
beyond asking whether it is initialised. gloo on CPU, NCCL on GPU.
"""
from __future__ import annotations

import os
from typing import Any, Mapping

import torch
import torch.distributed as dist
from torch import Tensor, nn


def setup_distributed() -> tuple[int, int, torch.device]:
    """(rank, world size, device): joins the process group when launched by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend=backend)
    rank = dist.get_rank() if dist.is_initialized() else 0
    world = dist.get_world_size() if dist.is_initialized() else 1
    if torch.cuda.is_available():
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    else:
        device = torch.device("cpu")
    return rank, world, device


def wrap(module: nn.Module, device: torch.device, world: int) -> nn.Module:
    """``module`` itself in a single process, else in DistributedDataParallel (averages gradients)."""
    if world == 1:
        return module
    from torch.nn.parallel import DistributedDataParallel

    # find_unused_parameters: the generator's full model holds the discriminator, whose weights
    # get no gradient while the adversarial loss is off (e.g. before its start step)
    return DistributedDataParallel(module, device_ids=[device.index] if device.type == "cuda" else None,
                                   find_unused_parameters=True)


def host_values(terms: Mapping[str, Tensor], world: int = 1) -> dict[str, float]:
    """Scalar loss tensors -> floats, averaged over processes (one host sync, one all-reduce)."""
    names = sorted(terms)
    values = torch.stack([torch.as_tensor(terms[n]).detach().float().reshape(()) for n in names])
    if world > 1:
        dist.all_reduce(values)
        values /= world
    return dict(zip(names, values.tolist()))


def gather(obj: Any, world: int) -> list[Any]:
    """``[obj]`` in a single process, else every process's ``obj`` in rank order."""
    if world == 1:
        return [obj]
    gathered: list[Any] = [None] * world
    dist.all_gather_object(gathered, obj)
    return gathered
