"""Validation during training: reconstruction L1 on fixed val samples against copy-the-source."""
from __future__ import annotations

import contextlib
from typing import Iterable, Mapping

import torch
from torch import Tensor, nn


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
    """Mean reconstruction L1 on the fixed val samples, the copy-the-source L1, and their ratio."""
    l1_sum = copy_sum = 0.0
    count = 0
    autocast = torch.autocast(device.type, dtype=amp) if amp is not None else contextlib.nullcontext()
    with eval_mode(nets):
        for source, driving in batches:
            source, driving = source.to(device), driving.to(device)
            with autocast:
                prediction = reconstruct(nets, source, driving)["prediction"].float()
            l1_sum += (prediction - driving).abs().mean(dim=(1, 2, 3, 4)).sum().item()
            copy_sum += (source[:, None] - driving).abs().mean(dim=(1, 2, 3, 4)).sum().item()
            count += source.shape[0]
    l1, copy = l1_sum / count, copy_sum / count
    return {"l1": l1, "copy_l1": copy, "ratio": l1 / copy if copy > 0 else float("nan")}
