"""Validation during training: reconstruction L1 on fixed val samples against copy-the-source, and
a probe of what the frame discriminator tells apart (real, generated, blurred, wrong-pose frames)."""
from __future__ import annotations

import contextlib
from typing import Iterable, Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lstmgan.models.full_model import wrong_pose_frames


def reconstruct(nets: Mapping[str, nn.Module], source: Tensor, driving: Tensor) -> dict[str, Tensor]:
    """Animate ``source`` (B,3,S,S) with ``driving`` (B,T,3,S,S): the generator's output dict."""
    b, t = driving.shape[:2]
    kp_source = nets["kp_detector"](source)
    kp_flat = nets["kp_detector"](driving.flatten(0, 1))
    kp_driving = {k: kp_flat[k].unflatten(0, (b, t)) for k in ("value", "jacobian")}
    out, _ = nets["generator"](source, kp_source, kp_driving)
    out["kp_source"], out["kp_driving"] = kp_source, kp_driving
    return out


@contextlib.contextmanager
def eval_mode(nets: Mapping[str, nn.Module]):
    """Every network in eval mode inside the block, each back to its own mode after it."""
    modes = {name: net.training for name, net in nets.items()}
    for net in nets.values():
        net.eval()
    try:
        yield
    finally:
        for name, net in nets.items():
            net.train(modes[name])


@torch.no_grad()
def validate(nets: Mapping[str, nn.Module], batches: Iterable[tuple[Tensor, Tensor]],
             device: torch.device, amp: torch.dtype | None) -> dict[str, float]:
    """Mean reconstruction L1 on the fixed val samples, the copy-the-source L1, their ratio, and the
    keypoints' spread ``kp_spread_px`` (:func:`keypoint_spread_px` on the driving frames)."""
    l1_sum = copy_sum = spread_sum = 0.0
    count = 0
    autocast = torch.autocast(device.type, dtype=amp) if amp is not None else contextlib.nullcontext()
    with eval_mode(nets):
        for source, driving in batches:
            source, driving = source.to(device), driving.to(device)
            with autocast:
                out = reconstruct(nets, source, driving)
            prediction = out["prediction"].float()
            l1_sum += (prediction - driving).abs().mean(dim=(1, 2, 3, 4)).sum().item()
            copy_sum += (source[:, None] - driving).abs().mean(dim=(1, 2, 3, 4)).sum().item()
            spread_sum += keypoint_spread_px(out["kp_driving"]["value"].float().flatten(0, 1),
                                             driving.shape[-1]).mean().item() * source.shape[0]
            count += source.shape[0]
    l1, copy = l1_sum / count, copy_sum / count
    return {"l1": l1, "copy_l1": copy, "ratio": l1 / copy if copy > 0 else float("nan"),
            "kp_spread_px": spread_sum / count}


def keypoint_spread_px(kp: Tensor, size: int) -> Tensor:
    """Root-mean-square distance of each frame's keypoints (N,K,2 in [-1, 1]) from their centroid, in
    pixels of a ``size`` px frame: small when the keypoints collapse onto one spot of the face."""
    centred = kp - kp.mean(dim=1, keepdim=True)
    return centred.pow(2).sum(-1).mean(-1).sqrt() * size / 2


def box_blur(frames: Tensor, size: int = 5) -> Tensor:
    """``frames`` (N,C,H,W) averaged over a ``size`` x ``size`` box (edges replicated): a visibly
    degraded but correctly posed image, the probe's stand-in for a blurry generator."""
    pad = size // 2
    return F.avg_pool2d(F.pad(frames, (pad, pad, pad, pad), mode="replicate"), size, stride=1)


def _mean_scores(discriminator: nn.Module, images: Tensor, kp: Tensor) -> tuple[Tensor, Tensor]:
    """Per image: mean patch score and fraction of patches scored real (> 0.5), averaged over scales."""
    scores = [s.float() for _, s in discriminator(images, kp)]
    mean = torch.stack([s.mean(dim=(1, 2, 3)) for s in scores]).mean(0)
    real = torch.stack([(s > 0.5).float().mean(dim=(1, 2, 3)) for s in scores]).mean(0)
    return mean, real


@torch.no_grad()
def discriminator_probe(nets: Mapping[str, nn.Module], batches: Iterable[tuple[Tensor, Tensor]],
                        device: torch.device, amp: torch.dtype | None) -> dict[str, float]:
    """What the frame discriminator tells apart on held-out clips (mean patch score, real -> 1).

    ``real``: the driving frames; ``generated``: the model's reconstruction of them; ``blurred``:
    the real frames through a 5x5 box filter; ``wrong_pose``: real frames of another clip (another
    face and pose, :func:`~lstmgan.models.full_model.wrong_pose_frames`) judged against the
    driving frame's keypoints. Every input gets the driving frame's keypoint
    heatmaps (as in training). ``accuracy``: real-vs-generated patch accuracy (mean of the
    fractions of real patches scored > 0.5 and generated patches scored < 0.5); the
    ``*_std`` entries are the spread of the per-image scores (to read a difference against).
    """
    sums: dict[str, list[Tensor]] = {}
    autocast = torch.autocast(device.type, dtype=amp) if amp is not None else contextlib.nullcontext()
    with eval_mode(nets):
        for source, driving in batches:
            source, driving = source.to(device), driving.to(device)
            with autocast:
                out = reconstruct(nets, source, driving)
                kp = out["kp_driving"]["value"].flatten(0, 1)
                frames = driving.flatten(0, 1)
                inputs = {"real": frames, "generated": out["prediction"].flatten(0, 1).float(),
                          "blurred": box_blur(frames),
                          "wrong_pose": wrong_pose_frames(driving)}
                for name, images in inputs.items():
                    mean, real_fraction = _mean_scores(nets["discriminator"], images, kp)
                    sums.setdefault(name, []).append(mean)
                    sums.setdefault(f"{name}_real_fraction", []).append(real_fraction)
    values = {name: torch.cat(parts) for name, parts in sums.items()}
    probe = {}
    for name in ("real", "generated", "blurred", "wrong_pose"):
        probe[name] = values[name].mean().item()
        probe[f"{name}_std"] = values[name].std().item()
    probe["accuracy"] = 0.5 * (values["real_real_fraction"].mean().item()
                               + 1.0 - values["generated_real_fraction"].mean().item())
    return probe
