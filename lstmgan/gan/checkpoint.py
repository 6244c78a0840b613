"""Run state and checkpoints: what a run must save to continue exactly as if it had not stopped.

A checkpoint holds the networks, optimisers, schedulers, the step, every process's RNG states,
the position in the data order and the last validation. :func:`save_checkpoint` writes
``checkpoint-<step>.pt`` and ``latest.pt`` atomically (rank 0; every rank contributes its RNG
state and a digest of its weights); :func:`resume` loads the newest one into a :class:`RunState`.
"""
from __future__ import annotations

import hashlib
import logging
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from torch import nn

from lstmgan import __version__
from lstmgan.config import Params
from lstmgan.errors import UserError
from lstmgan.gan.distributed import gather
from lstmgan.utils.io import atomic_torch_save

log = logging.getLogger(__name__)

CHECKPOINT_RE = re.compile(r"checkpoint-(\d+)\.pt$")


@dataclass
class RunState:
    """Where a run is: optimiser steps done, position in the data order, time and last results."""

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0           # batches of ``epoch`` already trained
    wall_before: float = 0.0          # seconds spent by earlier (resumed) runs
    last_checkpoint: Path | None = None
    last_val: dict[str, float] = field(default_factory=dict)
    last_probe: dict[str, float] = field(default_factory=dict)       # discriminator probe
    probe_history: list[dict[str, float]] = field(default_factory=list)  # every probe (step + values)
    rng_resumed: bool = False         # the random streams continue exactly

    def data_position(self, batches_per_epoch: int) -> tuple[int, int]:
        """(epoch, batch) the next step reads: the next epoch's start when this one is used up."""
        if self.batch_in_epoch >= batches_per_epoch:
            return self.epoch + 1, 0
        return self.epoch, self.batch_in_epoch


def rng_state() -> dict[str, Any]:
    """Python, NumPy, torch (and CUDA) generator states of this process."""
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Mapping[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def parameter_digest(nets: Mapping[str, nn.Module]) -> str:
    """SHA-256 of every network parameter's bytes: equal on all DDP processes when in sync."""
    digest = hashlib.sha256()
    for name in sorted(nets):
        for pname, param in nets[name].named_parameters():
            digest.update(f"{name}.{pname}".encode())
            digest.update(param.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def find_checkpoint(out_dir: str | Path) -> Path | None:
    """``latest.pt`` if present, else the ``checkpoint-<step>.pt`` with the highest step."""
    out_dir = Path(out_dir)
    if (out_dir / "latest.pt").is_file():
        return out_dir / "latest.pt"
    found = [(int(m.group(1)), p) for p in out_dir.glob("checkpoint-*.pt")
             if (m := CHECKPOINT_RE.search(p.name))]
    return max(found)[1] if found else None


def load_checkpoint(path: Path) -> dict[str, Any]:
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # a truncated or foreign file
        raise UserError(f"{path}: not a readable checkpoint ({type(exc).__name__}: {exc}); "
                        f"delete it to resume from an earlier one, or train without --resume") from exc


def save_checkpoint(out_dir: Path, state: RunState, params: Params, nets: Mapping[str, nn.Module],
                    optimizers: Mapping[str, torch.optim.Optimizer], schedulers: Mapping[str, Any],
                    batches_per_epoch: int, wall_seconds: float, rank: int, world: int) -> Path:
    """All ranks gather their RNG states; rank 0 writes ``checkpoint-<step>.pt`` and ``latest.pt``.

    ``wall_seconds`` is this run's time so far (earlier runs' time is in ``state.wall_before``).
    """
    gathered = gather((rng_state(), parameter_digest(nets)), world)
    rngs, digests = [g[0] for g in gathered], [g[1] for g in gathered]
    path = out_dir / f"checkpoint-{state.step}.pt"
    if rank != 0:
        return path
    if len(set(digests)) > 1:
        log.error("step %d: the processes' weights differ (%s); DDP replicas are out of sync",
                  state.step, ", ".join(d[:12] for d in digests))
    epoch, batch = state.data_position(batches_per_epoch)
    ckpt = {"step": state.step, "params": params.to_dict(), "version": __version__,
            "models": {name: net.state_dict() for name, net in nets.items()},
            "optimizers": {name: opt.state_dict() for name, opt in optimizers.items()},
            "schedulers": {name: s.state_dict() for name, s in schedulers.items()},
            "rng": rngs, "data": {"epoch": epoch, "batch": batch}, "replica_digests": digests,
            "batches_per_epoch": batches_per_epoch, "world_size": world,
            "wall_seconds": state.wall_before + wall_seconds, "val": state.last_val,
            "probe_history": state.probe_history}
    atomic_torch_save(ckpt, path)
    atomic_torch_save(ckpt, out_dir / "latest.pt")
    log.info("checkpoint %s", path)
    return path


def resume(out_dir: Path, nets: Mapping[str, nn.Module], optimizers: Mapping[str, torch.optim.Optimizer],
           schedulers: Mapping[str, Any], batches_per_epoch: int, rank: int, world: int) -> RunState:
    """Load the newest checkpoint in ``out_dir`` into the networks/optimisers; its :class:`RunState`.

    A fresh state when there is none. The schedulers keep the schedules they were built with from
    the current params (``gan.train.steps`` may have been extended). The RNG states are restored
    only when the checkpoint was written by as many processes with as many batches per epoch as
    now (else the streams cannot continue).
    """
    path = find_checkpoint(out_dir)
    if path is None:
        log.info("--resume: no checkpoint in %s, starting from step 0", out_dir)
        return RunState()
    ckpt = load_checkpoint(path)
    try:
        for name, net in nets.items():
            net.load_state_dict(ckpt["models"][name])
        for name, opt in optimizers.items():
            opt.load_state_dict(ckpt["optimizers"][name])
    except (KeyError, RuntimeError, ValueError) as exc:
        raise UserError(f"{path}: does not match the current gan params "
                        f"({type(exc).__name__}: {str(exc).splitlines()[0]}); train into another "
                        f"--out or without --resume") from exc
    for name, sched in schedulers.items():
        schedule = list(sched.lr_lambdas)
        sched.load_state_dict(ckpt["schedulers"][name])
        sched.lr_lambdas = schedule
    state = RunState(step=int(ckpt["step"]), epoch=int(ckpt["data"]["epoch"]),
                     batch_in_epoch=int(ckpt["data"]["batch"]),
                     wall_before=float(ckpt.get("wall_seconds", 0.0)), last_checkpoint=path,
                     probe_history=[row for row in ckpt.get("probe_history", []) if row["step"] <= int(ckpt["step"])])
    rngs = ckpt["rng"]
    if len(rngs) == world and ckpt.get("batches_per_epoch") == batches_per_epoch:
        set_rng_state(rngs[rank])
        state.rng_resumed = True
    else:
        log.warning("%s was written by %d process(es) with %s batches per epoch; now %d and %d: "
                    "resuming the weights, not the exact random streams",
                    path, len(rngs), ckpt.get("batches_per_epoch"), world, batches_per_epoch)
    if rank == 0:
        log.info("resumed from %s at step %d", path, state.step)
    return state
