"""The GAN training loop: :func:`train` (its body, ``_train``, reads top to bottom).

What one run does:

1. Join the process group when started by ``torchrun`` (gloo on CPU, NCCL on GPU); otherwise run
   as a single process. Only rank 0 logs, validates and writes files.
2. Read clips from the prepared store (``params.data.out``): train split for training, a fixed
   list of val samples for validation (see :mod:`lstmgan.gan.clips`).
3. Build the networks (:func:`lstmgan.models.full_model.build_networks`), one Adam for the
   generator side (keypoint detector + generator) and one for the discriminator(s), each with a
   warm-up + cosine (or constant) learning-rate schedule.
4. Optionally resume from the newest checkpoint in the output folder: networks, optimisers,
   schedulers, step, RNG states and the position in the data order, so that an interrupted run
   continues exactly as if it had not stopped.
5. Loop ``gan.train.steps`` times: generator step (losses, backward, clip, Adam), discriminator step,
   a finiteness check of every loss term (a NaN/inf stops the run naming the step and term; the
   checkpoints on disk stay the last good ones), logging, validation and checkpoints.
6. Write the stage's metrics file and return the final metrics.

Under DDP each full model is wrapped in ``DistributedDataParallel`` (so gradients are averaged
across processes) and the networks' own ``state_dict`` is saved, so checkpoints are the same with
or without DDP. Nothing here imports dvclive, papermill or DVC at module level: the GPU machine
has none of them (without dvclive the metrics go to the same TSV/JSON layout dvclive writes).
"""
from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import random
import re
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn

from lstmgan import __version__
from lstmgan.config import GanParams, Params
from lstmgan.errors import UserError
from lstmgan.utils.io import atomic_torch_save, atomic_write_json
from lstmgan.utils.progress import progress as progress_bar, summary_steps
from lstmgan.utils.seed import seed_everything

log = logging.getLogger(__name__)

CHECKPOINT_RE = re.compile(r"checkpoint-(\d+)\.pt$")


class TrainingDiverged(UserError):
    """A loss became NaN or infinite; the message names the step, the term and the last checkpoint."""


# --------------------------------------------------------------------------------------------
# Small pieces the loop (and bench/train_step.py) use
# --------------------------------------------------------------------------------------------
def default_paths(params: Params) -> dict[str, Path]:
    """Where a run of ``params`` writes: checkpoints, the dvclive folder, the metrics file."""
    temporal = params.gan.temporal
    return {"out_dir": Path(params.gan.out) / temporal,
            "log_dir": Path("reports/train") / temporal,
            "metrics_path": Path("reports/metrics") / f"train-{temporal}.json"}


def autocast_dtype(gan: GanParams, device: torch.device) -> torch.dtype | None:
    """bfloat16 when ``gan.train.amp`` asks for it (``auto``: on CUDA only), else None (fp32)."""
    if gan.train.amp == "bf16" or (gan.train.amp == "auto" and device.type == "cuda"):
        return torch.bfloat16
    return None


def lr_factor(gan: GanParams) -> Callable[[int], float]:
    """Multiplier of ``gan.train.lr`` after ``step`` optimiser steps: linear warm-up, then cosine or flat.

    The cosine decays to 0 at ``gan.train.steps``; extending ``gan.train.steps`` on resume stretches it.
    """
    warmup, total = max(0, gan.train.warmup_steps), max(1, gan.train.steps)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        if gan.train.lr_schedule == "constant":
            return 1.0
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor


def build_models(gan: GanParams, image_size: int, device: torch.device):
    """The networks on ``device`` (channels-last on CUDA when asked) and the two full models that
    compute the generator's and the discriminator's losses."""
    from lstmgan.models.full_model import DiscriminatorFullModel, GeneratorFullModel, build_networks

    nets = build_networks(gan, image_size)
    for net in nets.values():
        net.to(device)
        if gan.train.channels_last and device.type == "cuda":
            net.to(memory_format=torch.channels_last)
    gen_full = GeneratorFullModel(nets, gan, image_size).to(device)
    disc_full = DiscriminatorFullModel(nets, gan, image_size).to(device)
    return nets, gen_full, disc_full


def make_optimizers(nets: Mapping[str, nn.Module], gan: GanParams):
    """Adam (betas 0.5, 0.999) for the generator side and for the discriminator(s), with schedules."""
    gen_params = [p for name in ("kp_detector", "generator") for p in nets[name].parameters()]
    disc_params = [p for name, net in nets.items() if "discriminator" in name for p in net.parameters()]
    optimizers = {"generator": torch.optim.Adam(gen_params, lr=gan.train.lr, betas=(0.5, 0.999))}
    if disc_params:
        optimizers["discriminator"] = torch.optim.Adam(disc_params, lr=gan.train.lr, betas=(0.5, 0.999))
    schedulers = {name: torch.optim.lr_scheduler.LambdaLR(opt, lr_factor(gan))
                  for name, opt in optimizers.items()}
    return optimizers, schedulers


def _parameters(optimizer: torch.optim.Optimizer) -> list[Tensor]:
    return [p for group in optimizer.param_groups for p in group["params"]]


def host_values(terms: Mapping[str, Tensor], world: int = 1) -> dict[str, float]:
    """Scalar loss tensors -> floats, averaged over processes (one host sync, one all-reduce)."""
    names = sorted(terms)
    values = torch.stack([torch.as_tensor(terms[n]).detach().float().reshape(()) for n in names])
    if world > 1:
        dist.all_reduce(values)
        values /= world
    return dict(zip(names, values.tolist()))


def train_step(gen_model: nn.Module, disc_model: nn.Module, optimizers: Mapping[str, Any],
               source: Tensor, driving: Tensor, gan: GanParams, amp: torch.dtype | None,
               step: int, last_checkpoint: Path | None = None, world: int = 1) -> dict[str, float]:
    """One generator update then one discriminator update; returns the loss terms as floats.

    Terms are named ``gen/<term>`` and ``disc/<term>``, plus the discriminator's accuracies
    ``disc/acc_real`` and ``disc/acc_fake``; under DDP they are averaged over processes. Each
    side's losses are checked before its backward pass (a non-finite loss would otherwise reach
    backward kernels that do not expect it), so a NaN/inf raises :class:`TrainingDiverged`
    with the weights of the last good step untouched.
    """
    autocast = (torch.autocast(source.device.type, dtype=amp) if amp is not None
                else contextlib.nullcontext())
    opt_g = optimizers["generator"]
    with autocast:
        gen_losses, generated = gen_model(source, driving)
    values = host_values({f"gen/{k}": v for k, v in gen_losses.items()}, world)
    check_finite(values, step, last_checkpoint)
    opt_g.zero_grad(set_to_none=True)
    sum(gen_losses.values()).backward()
    if gan.train.grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(_parameters(opt_g), gan.train.grad_clip)
    opt_g.step()

    opt_d = optimizers.get("discriminator")
    if opt_d is not None:
        opt_d.zero_grad(set_to_none=True)  # drops what the generator loss left on D's weights
        with autocast:
            disc_out = disc_model(driving, generated)
        disc_values = host_values({f"disc/{k}": v for k, v in disc_out.items()}, world)
        check_finite({k: v for k, v in disc_values.items() if "/acc_" not in k}, step, last_checkpoint)
        total = sum(v for k, v in disc_out.items() if not k.startswith("acc_"))
        if isinstance(total, Tensor) and total.requires_grad:
            total.backward()
            if gan.train.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(_parameters(opt_d), gan.train.grad_clip)
            opt_d.step()
        values.update(disc_values)
    return values


def check_finite(values: Mapping[str, float], step: int, last_checkpoint: Path | None) -> None:
    """Raise :class:`TrainingDiverged` naming the step and the first non-finite loss term."""
    for name, value in values.items():
        if not math.isfinite(value):
            kept = (f"the last good checkpoint is {last_checkpoint}" if last_checkpoint
                    else "no checkpoint had been written yet")
            raise TrainingDiverged(
                f"training diverged at step {step}: loss term {name!r} is {value}; {kept}. "
                f"Lower gan.train.lr or raise gan.train.warmup_steps / tighten gan.train.grad_clip, then --resume")


def reconstruct(nets: Mapping[str, nn.Module], source: Tensor, driving: Tensor) -> dict[str, Tensor]:
    """Animate ``source`` (B,3,S,S) with ``driving`` (B,T,3,S,S): the generator's output dict."""
    b, t = driving.shape[:2]
    kp_source = nets["kp_detector"](source)
    kp_flat = nets["kp_detector"](driving.flatten(0, 1))
    kp_driving = {k: kp_flat[k].unflatten(0, (b, t)) for k in ("value", "jacobian")}
    out, _ = nets["generator"](source, kp_source, kp_driving)
    out["kp_source"], out["kp_driving"] = kp_source, kp_driving
    return out


@torch.no_grad()
def validate(nets: Mapping[str, nn.Module], batches: Iterable[tuple[Tensor, Tensor]],
             device: torch.device, amp: torch.dtype | None) -> dict[str, float]:
    """Mean reconstruction L1 on the fixed val samples, the copy-the-source L1, and their ratio."""
    modes = {name: net.training for name, net in nets.items()}
    for net in nets.values():
        net.eval()
    l1_sum = copy_sum = 0.0
    count = 0
    autocast = torch.autocast(device.type, dtype=amp) if amp is not None else contextlib.nullcontext()
    try:
        for source, driving in batches:
            source, driving = source.to(device), driving.to(device)
            with autocast:
                prediction = reconstruct(nets, source, driving)["prediction"].float()
            l1_sum += (prediction - driving).abs().mean(dim=(1, 2, 3, 4)).sum().item()
            copy_sum += (source[:, None] - driving).abs().mean(dim=(1, 2, 3, 4)).sum().item()
            count += source.shape[0]
    finally:
        for name, net in nets.items():
            net.train(modes[name])
    l1, copy = l1_sum / count, copy_sum / count
    return {"l1": l1, "copy_l1": copy, "ratio": l1 / copy if copy > 0 else float("nan")}


# --------------------------------------------------------------------------------------------
# Checkpoints and RNG
# --------------------------------------------------------------------------------------------
def rng_state() -> dict[str, Any]:
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
    import hashlib

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


# --------------------------------------------------------------------------------------------
# Metrics log: dvclive when installed, else the same TSV/JSON layout written by hand
# --------------------------------------------------------------------------------------------
class MetricLog:
    """``<dir>/plots/metrics/<name>.tsv`` (step, value) and ``<dir>/metrics.json`` (latest values).

    dvclive writes this layout; without dvclive (the GPU machine) we write it ourselves, so
    ``dvc plots`` and the notebook read either. On resume, rows after the resumed step are
    dropped first (they came from steps that are about to be trained again).
    """

    def __init__(self, log_dir: str | Path, resume_step: int | None):
        self.dir = Path(log_dir)
        self.plots = self.dir / "plots" / "metrics"
        if resume_step is not None:
            self._truncate(resume_step)
        self.latest: dict[str, float] = {}
        try:
            from dvclive import Live
        except ImportError:
            self.live = None
            log.info("dvclive is not installed: writing metrics as TSV/JSON to %s", self.dir)
            if resume_step is None and self.dir.exists():
                import shutil

                shutil.rmtree(self.dir)
            self.plots.mkdir(parents=True, exist_ok=True)
        else:
            self.live = Live(str(self.dir), resume=resume_step is not None, dvcyaml=False,
                             save_dvc_exp=False, report=None)
            if resume_step is not None:
                self.latest = _flatten(json.loads((self.dir / "metrics.json").read_text())) \
                    if (self.dir / "metrics.json").is_file() else {}

    def _truncate(self, step: int) -> None:
        for tsv in self.plots.rglob("*.tsv"):
            lines = tsv.read_text().splitlines()
            kept = lines[:1] + [line for line in lines[1:] if int(float(line.split("\t")[0])) <= step]
            tsv.write_text("\n".join(kept) + "\n")

    def log(self, step: int, values: Mapping[str, float]) -> None:
        self.latest.update(values)
        if self.live is not None:
            self.live.step = step
            for name, value in values.items():
                self.live.log_metric(name, float(value))
            self.live.make_summary()
            return
        for name, value in values.items():
            path = self.plots / f"{name}.tsv"
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(f"step\t{name.rsplit('/', 1)[-1]}\n")
            with path.open("a") as fh:
                fh.write(f"{step}\t{float(value)!r}\n")
        atomic_write_json(self.dir / "metrics.json", {**_nest(self.latest), "step": step})

    def close(self) -> None:
        if self.live is not None:
            self.live.end()


def _nest(flat: Mapping[str, float]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for name, value in flat.items():
        node = tree
        *parents, leaf = name.split("/")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return tree


def _flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    flat: dict[str, float] = {}
    for key, value in tree.items():
        if key == "step" and not prefix:
            continue
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, name + "/"))
        else:
            flat[name] = value
    return flat


def read_history(log_dir: str | Path) -> dict[str, list[tuple[int, float]]]:
    """All logged series of a run: ``{"gen/total": [(step, value), ...], ...}`` (for figures)."""
    plots = Path(log_dir) / "plots" / "metrics"
    history: dict[str, list[tuple[int, float]]] = {}
    for tsv in sorted(plots.rglob("*.tsv")):
        name = tsv.relative_to(plots).with_suffix("").as_posix()
        rows = [line.split("\t") for line in tsv.read_text().splitlines()[1:] if line.strip()]
        history[name] = [(int(float(r[0])), float(r[-1])) for r in rows]
    return history


# --------------------------------------------------------------------------------------------
# Distributed set-up
# --------------------------------------------------------------------------------------------
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


def _wrap(module: nn.Module, device: torch.device, world: int) -> nn.Module:
    if world == 1:
        return module
    from torch.nn.parallel import DistributedDataParallel

    # find_unused_parameters: the generator's full model holds the discriminator, whose weights
    # get no gradient while the adversarial loss is off (e.g. before its start step)
    return DistributedDataParallel(module, device_ids=[device.index] if device.type == "cuda" else None,
                                   find_unused_parameters=True)


def _data_order(sampler, dataset, epoch: int, skip: int, batch_size: int) -> list[int]:
    """This process's sample indices for ``epoch``, without the first ``skip`` batches."""
    sampler.set_epoch(epoch)
    dataset.set_epoch(epoch)
    return list(sampler)[skip * batch_size:]


# --------------------------------------------------------------------------------------------
# The loop
# --------------------------------------------------------------------------------------------
def train(params: Params, out_dir: str | Path | None = None, resume: bool = False,
          log_dir: str | Path | None = None, metrics_path: str | Path | None = None,
          progress: bool = True) -> dict[str, Any]:
    """Train the GAN of ``params.gan`` on the store at ``params.data.out``; return final metrics.

    ``out_dir`` (default ``<gan.out>/<gan.temporal>``) receives ``checkpoint-<step>.pt`` and
    ``latest.pt``; ``log_dir`` (default ``reports/train/<temporal>``) the dvclive metrics;
    ``metrics_path`` (default ``reports/metrics/train-<temporal>.json``) the final metrics.
    ``resume`` continues from the newest checkpoint in ``out_dir`` (a fresh start when none).
    """
    defaults = default_paths(params)
    out_dir = Path(out_dir or defaults["out_dir"])
    log_dir = Path(log_dir or defaults["log_dir"])
    metrics_path = Path(metrics_path or defaults["metrics_path"])
    owns_group = not dist.is_initialized()
    rank, world, device = setup_distributed()
    owns_group = owns_group and dist.is_initialized()
    try:
        return _train(params, out_dir, resume, log_dir, metrics_path, progress, rank, world, device)
    finally:
        if owns_group:
            dist.destroy_process_group()


def _train(params: Params, out_dir: Path, resume: bool, log_dir: Path, metrics_path: Path,
           progress: bool, rank: int, world: int, device: torch.device) -> dict[str, Any]:
    """The body of :func:`train` once the process group (if any) is up."""
    from torch.utils.data import DataLoader, DistributedSampler

    from lstmgan.gan.clips import ClipDataset, FixedClipDataset, fixed_batches
    from lstmgan.media.store import open_store

    gan = params.gan
    is_main = rank == 0
    started = time.perf_counter()

    # ---- data
    store = open_store(params.data.out)
    image_size = store.size
    if image_size != params.data.size:
        raise UserError(f"{store.root}: frames are {image_size} px but data.size is {params.data.size}; "
                        f"set data.size={image_size} (checkpoints record it to rebuild the networks)")
    train_set = ClipDataset(store, "train", gan.train.clip_len, seed=params.seed)
    if len(train_set) < gan.train.batch_size * world:
        raise UserError(f"{store.root}: {len(train_set)} training clips, fewer than one batch "
                        f"({gan.train.batch_size} x {world} processes); lower gan.train.batch_size")
    sampler = DistributedSampler(train_set, num_replicas=world, rank=rank, shuffle=True,
                                 seed=params.seed, drop_last=True)
    batches_per_epoch = len(sampler) // gan.train.batch_size
    val_batches = []
    if is_main:
        val_set = FixedClipDataset(store, "val", gan.train.clip_len, gan.run.val_batches * gan.train.batch_size)
        val_batches = fixed_batches(val_set, gan.train.batch_size)

    # ---- model and optimisers (identical initial weights on every process)
    seed_everything(params.seed)
    nets, gen_full, disc_full = build_models(gan, image_size, device)
    optimizers, schedulers = make_optimizers(nets, gan)
    amp = autocast_dtype(gan, device)

    # ---- resume
    step, epoch, batch_in_epoch, wall_before = 0, 0, 0, 0.0
    last_checkpoint: Path | None = None
    rng_resumed = False
    if resume:
        last_checkpoint = find_checkpoint(out_dir)
        if last_checkpoint is None:
            log.info("--resume: no checkpoint in %s, starting from step 0", out_dir)
        else:
            ckpt = load_checkpoint(last_checkpoint)
            try:
                for name, net in nets.items():
                    net.load_state_dict(ckpt["models"][name])
                for name, opt in optimizers.items():
                    opt.load_state_dict(ckpt["optimizers"][name])
            except (KeyError, RuntimeError, ValueError) as exc:
                raise UserError(f"{last_checkpoint}: does not match the current gan params "
                                f"({type(exc).__name__}: {str(exc).splitlines()[0]}); train into another "
                                f"--out or without --resume") from exc
            step = int(ckpt["step"])
            for name, sched in schedulers.items():
                sched.load_state_dict(ckpt["schedulers"][name])
                sched.lr_lambdas = [lr_factor(gan)]  # gan.train.steps may have been extended
            epoch, batch_in_epoch = int(ckpt["data"]["epoch"]), int(ckpt["data"]["batch"])
            wall_before = float(ckpt.get("wall_seconds", 0.0))
            rngs = ckpt["rng"]
            if len(rngs) == world and ckpt.get("batches_per_epoch") == batches_per_epoch:
                set_rng_state(rngs[rank])
                rng_resumed = True
            else:
                log.warning("%s was written by %d process(es) with %s batches per epoch; now %d "
                            "and %d: resuming the weights, not the exact random streams",
                            last_checkpoint, len(rngs), ckpt.get("batches_per_epoch"), world,
                            batches_per_epoch)
            if is_main:
                log.info("resumed from %s at step %d", last_checkpoint, step)
    if not rng_resumed:
        seed_everything(params.seed + rank)  # different augmentations per process, reproducibly
    gen_model, disc_model = _wrap(gen_full, device, world), _wrap(disc_full, device, world)

    # ---- logging (rank 0 only)
    metric_log = MetricLog(log_dir, resume_step=step if resume and last_checkpoint else None) if is_main else None
    if is_main:
        log.info("training %s (temporal=%s) at %d px on %s x%d%s: %d steps, batch %d x %d frames, "
                 "%d training clips, %d val samples", type(nets["generator"]).__name__, gan.temporal,
                 image_size, device.type, world, " bf16" if amp else "", gan.train.steps, gan.train.batch_size,
                 gan.train.clip_len, len(train_set), sum(len(s) for s, _ in val_batches))

    def save(step: int) -> Path:
        """All ranks gather their RNG states; rank 0 writes checkpoint-<step>.pt and latest.pt."""
        rngs, digests = [rng_state()], [parameter_digest(nets)]
        if world > 1:
            gathered: list[Any] = [None] * world
            dist.all_gather_object(gathered, (rngs[0], digests[0]))
            rngs, digests = [g[0] for g in gathered], [g[1] for g in gathered]
            if is_main and len(set(digests)) > 1:
                log.error("step %d: the processes' weights differ (%s); DDP replicas are out of sync",
                          step, ", ".join(d[:12] for d in digests))
        path = out_dir / f"checkpoint-{step}.pt"
        if is_main:
            e, b = (epoch + 1, 0) if batch_in_epoch >= batches_per_epoch else (epoch, batch_in_epoch)
            state = {"step": step, "params": params.to_dict(), "version": __version__,
                     "models": {name: net.state_dict() for name, net in nets.items()},
                     "optimizers": {name: opt.state_dict() for name, opt in optimizers.items()},
                     "schedulers": {name: s.state_dict() for name, s in schedulers.items()},
                     "rng": rngs, "data": {"epoch": e, "batch": b}, "replica_digests": digests,
                     "batches_per_epoch": batches_per_epoch, "world_size": world,
                     "wall_seconds": wall_before + time.perf_counter() - started,
                     "val": last_val}
            atomic_torch_save(state, path)
            atomic_torch_save(state, out_dir / "latest.pt")
            log.info("checkpoint %s", path)
        return path

    # ---- loop
    last_val: dict[str, float] = {}
    window: dict[str, float] = {}
    window_steps, window_seconds = 0, 0.0
    train_seconds, frames_trained = 0.0, 0
    frames_per_step = gan.train.batch_size * gan.train.clip_len * world
    bar = None
    summary_at: set[int] = set()  # steps that log a summary line when no one watches a bar
    if is_main and progress:
        bar = progress_bar(total=gan.train.steps, initial=step, desc=f"train {gan.temporal}", mininterval=2.0,
                           dynamic_ncols=True)
        if bar.disable:
            bar.close()
            bar, summary_at = None, summary_steps(gan.train.steps)
    try:
        while step < gan.train.steps:
            order = _data_order(sampler, train_set, epoch, batch_in_epoch, gan.train.batch_size)
            loader = DataLoader(train_set, batch_size=gan.train.batch_size, sampler=order, drop_last=True,
                                num_workers=gan.run.num_workers, pin_memory=device.type == "cuda",
                                generator=torch.Generator())  # never draws from the global RNG
            tick = time.perf_counter()  # step time includes reading the batch, not validation
            for source, driving in loader:
                source = source.to(device, non_blocking=True)
                driving = driving.to(device, non_blocking=True)
                if gan.train.channels_last and device.type == "cuda":
                    source = source.contiguous(memory_format=torch.channels_last)
                values = train_step(gen_model, disc_model, optimizers, source, driving, gan, amp,
                                     step + 1, last_checkpoint, world)
                lr = schedulers["generator"].get_last_lr()[0]
                for sched in schedulers.values():
                    sched.step()
                step += 1
                batch_in_epoch += 1
                seconds = time.perf_counter() - tick
                train_seconds += seconds
                window_seconds += seconds
                frames_trained += frames_per_step
                for name, value in values.items():
                    window[name] = window.get(name, 0.0) + value
                window_steps += 1

                if is_main:
                    if bar is not None:
                        bar.update(1)
                        if step % 5 == 0 or step == gan.train.steps:
                            bar.set_postfix(G=f"{sum(v for n, v in values.items() if n.startswith('gen/')):.3f}",
                                            D=f"{values.get('disc/disc', float('nan')):.3f}", refresh=False)
                    if step in summary_at:
                        log.info("step %d/%d: generator loss %.3f, discriminator loss %.3f, %.0f s",
                                 step, gan.train.steps, sum(v for n, v in values.items() if n.startswith("gen/")),
                                 values.get("disc/disc", float("nan")), time.perf_counter() - started)
                    if step % gan.run.log_every == 0 or step == gan.train.steps:
                        row = {n: v / window_steps for n, v in window.items()}
                        row["gen/total"] = sum(v for n, v in row.items() if n.startswith("gen/"))
                        row["lr"] = lr
                        row["frames_per_second"] = window_steps * frames_per_step / max(window_seconds, 1e-9)
                        metric_log.log(step, row)
                    if step % gan.run.val_every == 0 or step == gan.train.steps:
                        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
                            last_val = validate(nets, val_batches, device, amp)
                        metric_log.log(step, {f"val/{k}": v for k, v in last_val.items()})
                        log.info("step %d: val L1 %.4f, copy-the-source L1 %.4f, ratio %.3f",
                                 step, last_val["l1"], last_val["copy_l1"], last_val["ratio"])
                if step % gan.run.log_every == 0 or step == gan.train.steps:
                    window, window_steps, window_seconds = {}, 0, 0.0
                if step % gan.run.checkpoint_every == 0 or step == gan.train.steps:
                    last_checkpoint = save(step)
                if step >= gan.train.steps:
                    break
                tick = time.perf_counter()
            else:
                epoch, batch_in_epoch = epoch + 1, 0
                continue
            if batch_in_epoch >= batches_per_epoch:
                epoch, batch_in_epoch = epoch + 1, 0
    finally:
        if bar is not None:
            bar.close()
        if metric_log is not None:
            metric_log.close()

    # ---- final metrics (a resumed run that had already finished still validates)
    result: dict[str, Any] = {}
    if is_main:
        if not last_val:
            last_val = validate(nets, val_batches, device, amp)
        wall = time.perf_counter() - started
        result = {"temporal": gan.temporal, "steps": step, "image_size": image_size,
                  "val_l1": last_val["l1"], "copy_l1": last_val["copy_l1"], "ratio": last_val["ratio"],
                  "wall_seconds": wall, "total_wall_seconds": wall_before + wall,
                  "frames_per_second": frames_trained / train_seconds if train_seconds else None,
                  "processes": world, "device": device.type,
                  "checkpoint": str(last_checkpoint) if last_checkpoint else None}
        atomic_write_json(metrics_path, result)
        log.info("done: %d steps, val L1 %.4f vs copy %.4f (ratio %.3f), %.0f s", step,
                 result["val_l1"], result["copy_l1"], result["ratio"], wall)
    if world > 1:
        dist.barrier()
    return result
