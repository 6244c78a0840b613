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
5. Loop ``gan.train.steps`` times: generator step (losses, backward, clip, Adam; with
   ``gan.train.tbptt_clips`` > 1 over consecutive clips of each video, see :func:`train_step`), discriminator step,
   a finiteness check of every loss term (a NaN/inf stops the run naming the step and term; the
   checkpoints on disk stay the last good ones), logging, validation and checkpoints.
6. Write the stage's metrics file and return the final metrics.

Under DDP each full model is wrapped in ``DistributedDataParallel`` (so gradients are averaged
across processes) and the networks' own ``state_dict`` is saved, so checkpoints are the same with
or without DDP. The metrics log needs dvclive (the [pipeline] extra); nothing here imports
papermill or DVC.

Homes of the parts: run state and checkpoints in :mod:`lstmgan.gan.checkpoint`, the metrics log in
:mod:`lstmgan.gan.metrics_log`, DDP set-up in :mod:`lstmgan.gan.distributed`, validation in
:mod:`lstmgan.gan.validate`.
"""
from __future__ import annotations

import contextlib
import logging
import math
import time
from pathlib import Path
from typing import Any, Callable, Mapping

import torch
import torch.distributed as dist
from torch import Tensor, nn

from lstmgan.config import GanParams, Params
from lstmgan.errors import UserError
from lstmgan.gan.checkpoint import RunState, resume as resume_run, save_checkpoint
from lstmgan.gan.distributed import host_values, setup_distributed, wrap
from lstmgan.gan.metrics_log import MetricLog, StepWindow
from lstmgan.gan.validate import discriminator_probe, validate
from lstmgan.utils.io import write_metrics
from lstmgan.utils.progress import progress as progress_bar, summary_steps
from lstmgan.utils.seed import seed_everything

log = logging.getLogger(__name__)


class TrainingDiverged(UserError):
    """A loss became NaN or infinite; the message names the step, the term and the last checkpoint."""


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


def lr_factor(gan: GanParams, schedule: str | None = None) -> Callable[[int], float]:
    """Multiplier of ``gan.train.lr`` after ``step`` optimiser steps: linear warm-up, then cosine or flat.

    ``schedule`` defaults to ``gan.train.lr_schedule`` (the discriminators pass ``disc_lr_schedule``).
    The cosine decays to 0 at ``gan.train.steps``; extending ``gan.train.steps`` on resume stretches it.
    """
    warmup, total = max(0, gan.train.warmup_steps), max(1, gan.train.steps)
    schedule = schedule or gan.train.lr_schedule

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        if schedule == "constant":
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


def reads_landmarks(gan: GanParams) -> bool:
    """Whether a loss term needs the driving frames' landmarks (the clips then carry them)."""
    loss = gan.loss
    return bool(loss.face_parts or loss.decoded_face_parts or loss.kp_landmarks or loss.occlusion_paint)


def make_optimizers(nets: Mapping[str, nn.Module], gan: GanParams):
    """Adam (betas 0.5, 0.999) for the generator side and for the discriminator(s), with schedules."""
    gen_params = [p for name in ("kp_detector", "generator") for p in nets[name].parameters()]
    disc_params = [p for name, net in nets.items() if "discriminator" in name for p in net.parameters()]
    optimizers = {"generator": torch.optim.Adam(gen_params, lr=gan.train.lr, betas=(0.5, 0.999))}
    if disc_params:
        optimizers["discriminator"] = torch.optim.Adam(disc_params, lr=gan.train.lr * gan.train.disc_lr_scale,
                                                       betas=(0.5, 0.999))
    schedules = {"generator": gan.train.lr_schedule, "discriminator": gan.train.disc_lr_schedule}
    schedulers = {name: torch.optim.lr_scheduler.LambdaLR(opt, lr_factor(gan, schedules[name]))
                  for name, opt in optimizers.items()}
    return optimizers, schedulers


def _parameters(optimizer: torch.optim.Optimizer) -> list[Tensor]:
    return [p for group in optimizer.param_groups for p in group["params"]]


def split_clips(frames: Tensor, clips: int) -> list[Tensor]:
    """(B, n*T, ...) -> n tensors (B, T, ...), in time order: the clips of a tbptt sample."""
    if frames.shape[1] % clips:
        raise ValueError(f"{frames.shape[1]} driving frames do not split into {clips} equal clips")
    return list(frames.chunk(clips, dim=1)) if clips > 1 else [frames]


def stack_clips(items: list[Any]) -> Any:
    """Per-clip outputs (tensors (B, ...), or dicts of them) -> one batch of n*B clips, clip-major
    (clip 0 of every sample, then clip 1, ...), detached: what the discriminator step reads."""
    first = items[0]
    if isinstance(first, Tensor):
        return torch.cat([item.detach() for item in items], dim=0) if len(items) > 1 else first.detach()
    if isinstance(first, dict):
        return {name: stack_clips([item[name] for item in items]) for name in first}
    return first


def _no_sync_unless(model: nn.Module, last: bool):
    """DDP's ``no_sync`` for every clip's backward but the last (one gradient all-reduce per
    step, on the summed gradient); a plain module, or the last clip, syncs as usual."""
    if last or not hasattr(model, "no_sync"):
        return contextlib.nullcontext()
    return model.no_sync()


def train_step(gen_model: nn.Module, disc_model: nn.Module, optimizers: Mapping[str, Any],
               source: Tensor, driving: Tensor, gan: GanParams, amp: torch.dtype | None,
               step: int, last_checkpoint: Path | None = None, world: int = 1,
               kp_frames: Tensor | None = None, landmarks: Tensor | None = None) -> dict[str, float]:
    """One generator update then one discriminator update; returns the loss terms as floats.

    ``kp_frames`` (B,T,3,S,S), when given, are what the keypoint detector reads for the driving
    frames (the degraded copy); every loss still compares with the clean ``driving``.
    ``landmarks`` (B,T,68,2), when given, are the driving frames' landmarks (``gan.loss.face_parts``).

    With ``gan.train.tbptt_clips`` = n, ``driving`` (and ``kp_frames``) hold n consecutive clips of
    each video, (B, n*T, ...): truncated backpropagation through time. The clips run in order, the
    generator's recurrent state carried from one to the next detached (no gradient crosses a clip
    boundary, so memory stays that of one clip); each clip's losses are computed on that clip and
    backpropagated at once, divided by n (the gradient is that of the per-clip mean, so its scale
    does not grow with n); then one optimiser step. The reported generator terms are the means
    over the clips; the discriminator step sees every clip (a batch of n*B clips). n = 1 is one
    clip from a zero state.

    Terms are named ``gen/<term>`` and ``disc/<term>``, plus the discriminator's accuracies
    ``disc/acc_real``, ``disc/acc_fake`` (and ``disc/acc_decoded``, ``disc/acc_wrong_pose`` for the
    extra fakes); under DDP they are averaged over processes. Each clip's generator losses (and the
    discriminator's) are checked before their backward pass (a non-finite loss would otherwise
    reach backward kernels that do not expect it), so a NaN/inf raises :class:`TrainingDiverged`
    with the weights of the last good step untouched.
    """
    from lstmgan.models.generator import detach_state

    autocast = (torch.autocast(source.device.type, dtype=amp) if amp is not None
                else contextlib.nullcontext())
    clips = gan.train.tbptt_clips
    driving_clips = split_clips(driving, clips)
    kp_clips = split_clips(kp_frames, clips) if kp_frames is not None else [None] * clips
    lm_clips = split_clips(landmarks, clips) if landmarks is not None else [None] * clips

    # ---- generator: the clips in order, state carried detached, gradients summed over the clips
    opt_g = optimizers["generator"]
    opt_g.zero_grad(set_to_none=True)
    values: dict[str, float] = {}
    generated_clips: list[dict[str, Any]] = []
    state = None  # the generator's recurrent state (ConvLSTM and/or keypoint GRU); None = zeros
    for index, (clip, kp_clip, lm_clip) in enumerate(zip(driving_clips, kp_clips, lm_clips)):
        with _no_sync_unless(gen_model, last=index == clips - 1):
            with autocast:
                gen_losses, generated = gen_model(source, clip, kp_clip, state, lm_clip)
            clip_values = host_values({f"gen/{k}": v for k, v in gen_losses.items()}, world)
            check_finite(clip_values, step, last_checkpoint)
            (sum(gen_losses.values()) / clips).backward()
        state = detach_state(generated.pop("state"))
        for name, value in clip_values.items():
            values[name] = values.get(name, 0.0) + value / clips
        generated_clips.append(generated)
    if gan.train.grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(_parameters(opt_g), gan.train.grad_clip)
    opt_g.step()

    # ---- discriminator: every clip's real and generated frames in one batch
    opt_d = optimizers.get("discriminator")
    if opt_d is not None:
        opt_d.zero_grad(set_to_none=True)  # drops what the generator loss left on D's weights
        with autocast:
            disc_out = disc_model(stack_clips(driving_clips), stack_clips(generated_clips))
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


def _data_order(sampler, dataset, epoch: int, skip: int, batch_size: int) -> list[int]:
    """This process's sample indices for ``epoch``, without the first ``skip`` batches."""
    sampler.set_epoch(epoch)
    dataset.set_epoch(epoch)
    return list(sampler)[skip * batch_size:]


def _due(step: int, every: int, last: int) -> bool:
    """Whether a periodic action (log, validate, checkpoint) runs at ``step``; ``every <= 0`` means at the last step only."""
    return (every > 0 and step % every == 0) or step == last


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
    train_set = ClipDataset(store, "train", gan.train.clip_len, seed=params.seed, degraded=gan.train.degraded_driving,
                            clips=gan.train.tbptt_clips, landmarks=reads_landmarks(gan))
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

    # ---- model and optimisers (identical initial weights on every process), then resume
    seed_everything(params.seed)
    nets, gen_full, disc_full = build_models(gan, image_size, device)
    optimizers, schedulers = make_optimizers(nets, gan)
    amp = autocast_dtype(gan, device)
    state = (resume_run(out_dir, nets, optimizers, schedulers, batches_per_epoch, rank, world)
             if resume else RunState())
    if not state.rng_resumed:
        seed_everything(params.seed + rank)  # different augmentations per process, reproducibly
    gen_model, disc_model = wrap(gen_full, device, world), wrap(disc_full, device, world)

    def checkpoint() -> Path:
        return save_checkpoint(out_dir, state, params, nets, optimizers, schedulers, batches_per_epoch,
                               time.perf_counter() - started, rank, world)

    # ---- logging (rank 0 only)
    metric_log = MetricLog(log_dir, resume_step=state.step if state.last_checkpoint else None) if is_main else None
    if is_main:
        log.info("training %s (temporal=%s) at %d px on %s x%d%s: %d steps, batch %d x %d frames, "
                 "%d training clips, %d val samples", type(nets["generator"]).__name__, gan.temporal,
                 image_size, device.type, world, " bf16" if amp else "", gan.train.steps, gan.train.batch_size,
                 gan.train.clip_len, len(train_set), sum(len(s) for s, _ in val_batches))
    if is_main and gan.train.tbptt_clips > 1:
        log.info("truncated backpropagation through time: each sample is %d consecutive clips of %d frames, "
                 "the recurrent state carried between them (gradient cut at each clip boundary)",
                 gan.train.tbptt_clips, gan.train.clip_len)
    window = StepWindow(gan.train.batch_size * gan.train.clip_len * gan.train.tbptt_clips * world)
    bar = None
    summary_at: set[int] = set()  # steps that log a summary line when no one watches a bar
    if is_main and progress:
        bar = progress_bar(total=gan.train.steps, initial=state.step, desc=f"train {gan.temporal}",
                           mininterval=2.0, dynamic_ncols=True)
        if bar.disable:  # nobody watches (papermill, a log file): a few summary lines instead
            bar.close()
            bar, summary_at = None, summary_steps(gan.train.steps)

    # ---- loop: one epoch's data order per pass of the outer loop
    try:
        while state.step < gan.train.steps:
            order = _data_order(sampler, train_set, state.epoch, state.batch_in_epoch, gan.train.batch_size)
            loader = DataLoader(train_set, batch_size=gan.train.batch_size, sampler=order, drop_last=True,
                                num_workers=gan.run.num_workers, pin_memory=device.type == "cuda",
                                generator=torch.Generator())  # never draws from the global RNG
            tick = time.perf_counter()
            for source, driving, *extra in loader:  # extra: [keypoint frames[, landmarks]] (ClipDataset)
                source = source.to(device, non_blocking=True)
                driving = driving.to(device, non_blocking=True)
                kp_frames, landmarks = (*[x.to(device, non_blocking=True) for x in extra], None, None)[:2]
                if gan.train.channels_last and device.type == "cuda":
                    source = source.contiguous(memory_format=torch.channels_last)
                values = train_step(gen_model, disc_model, optimizers, source, driving, gan, amp,
                                    state.step + 1, state.last_checkpoint, world, kp_frames, landmarks)
                lr = schedulers["generator"].get_last_lr()[0]
                for sched in schedulers.values():
                    sched.step()
                state.step += 1
                state.batch_in_epoch += 1
                window.add(values, time.perf_counter() - tick)
                if is_main:
                    _report(state, values, lr, window, metric_log, bar, gan, nets, val_batches, device, amp)
                    if state.step in summary_at:
                        log.info("step %d/%d: generator loss %.3f, discriminator loss %.3f, %.0f s", state.step,
                                 gan.train.steps, sum(v for n, v in values.items() if n.startswith("gen/")),
                                 values.get("disc/disc", float("nan")), time.perf_counter() - started)
                elif _due(state.step, gan.run.log_every, gan.train.steps):
                    window.reset()
                if _due(state.step, gan.run.checkpoint_every, gan.train.steps):
                    state.last_checkpoint = checkpoint()
                if state.step >= gan.train.steps:
                    break
                tick = time.perf_counter()
            if state.batch_in_epoch >= batches_per_epoch:
                state.epoch, state.batch_in_epoch = state.epoch + 1, 0
    finally:
        if bar is not None:
            bar.close()
        if metric_log is not None:
            metric_log.close()

    # ---- final metrics (a resumed run that had already finished still validates)
    result: dict[str, Any] = {}
    if is_main:
        if not state.last_val:
            state.last_val = validate(nets, val_batches, device, amp)
            state.last_probe = discriminator_probe(nets, val_batches, device, amp)
        wall = time.perf_counter() - started
        result = {"temporal": gan.temporal, "steps": state.step, "image_size": image_size,
                  "val_l1": state.last_val["l1"], "copy_l1": state.last_val["copy_l1"],
                  "ratio": state.last_val["ratio"], "keypoint_spread": state.last_val.get("kp_spread_px"),
                  "processes": world, "device": device.type,
                  # choices made by what this machine has (same dvc.lock, different models otherwise)
                  "perceptual_loss": ("ImageNet VGG19" if getattr(gen_full, "perceptual", None) is not None
                                      else "off (weight 0)" if not gan.loss.perceptual
                                      else "off (ImageNet VGG19 weights not in the torch hub cache)"),
                  "face_detector": str(store.meta.get("detector") or "none (procedural faces, exact crops)"),
                  "probe": state.last_probe, "probe_history": state.probe_history,
                  "checkpoint": str(state.last_checkpoint) if state.last_checkpoint else None}
        timing = {"wall_seconds": wall, "total_wall_seconds": state.wall_before + wall,
                  "frames_per_second": window.total_fps}
        write_metrics(metrics_path, result, timing)  # timings beside, not in, the metrics
        result.update(timing)
        log.info("done: %d steps, val L1 %.4f vs copy %.4f (ratio %.3f), %.0f s", state.step,
                 result["val_l1"], result["copy_l1"], result["ratio"], wall)
    if world > 1:
        dist.barrier()
    return result


def _report(state: RunState, values: Mapping[str, float], lr: float, window: StepWindow,
            metric_log: MetricLog, bar, gan: GanParams, nets: Mapping[str, nn.Module],
            val_batches: list, device: torch.device, amp: torch.dtype | None) -> None:
    """Rank 0 after a step: progress bar, the averaged log row and validation when due."""
    step = state.step
    if bar is not None:
        bar.update(1)
        if step % 5 == 0 or step == gan.train.steps:
            bar.set_postfix(G=f"{sum(v for n, v in values.items() if n.startswith('gen/')):.3f}",
                            D=f"{values.get('disc/disc', float('nan')):.3f}", refresh=False)
    if _due(step, gan.run.log_every, gan.train.steps):
        metric_log.log(step, window.row(lr))
    if _due(step, gan.run.val_every, gan.train.steps):
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            state.last_val = validate(nets, val_batches, device, amp)
            state.last_probe = discriminator_probe(nets, val_batches, device, amp)
        metric_log.log(step, {f"val/{k}": v for k, v in state.last_val.items()})
        metric_log.log(step, {f"probe/{k}": v for k, v in state.last_probe.items()})
        state.probe_history.append({"step": step, **state.last_probe})
        log.info("step %d: val L1 %.4f, copy-the-source L1 %.4f, ratio %.3f; D probe: real %.3f, "
                 "generated %.3f, blurred %.3f, wrong pose %.3f, accuracy %.3f",
                 step, state.last_val["l1"], state.last_val["copy_l1"], state.last_val["ratio"],
                 state.last_probe["real"], state.last_probe["generated"], state.last_probe["blurred"],
                 state.last_probe["wrong_pose"], state.last_probe["accuracy"])
