"""Unsupervised keypoint detector: hourglass heatmaps -> soft-argmax keypoints + local jacobians.

Each of the K heatmaps is a softmax over the (downscaled) frame with a temperature; the keypoint
is its expectation in [-1, 1] (x, y as ``grid_sample``). A 2x2 jacobian per keypoint (the local
affine motion around it) is a heatmap-weighted average of a predicted jacobian field, initialised
to the identity so training starts from pure translations.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lstmgan.models.blocks import Hourglass, downscale, make_grid


class KPDetector(nn.Module):
    """frames (N,3,S,S) in [0,1] -> {"value" (N,K,2), "jacobian" (N,K,2,2), "heatmap" (N,K,h,w)}."""

    def __init__(self, num_kp: int, block_expansion: int, num_blocks: int, max_features: int,
                 scale_factor: float, temperature: float, estimate_jacobian: bool = True,
                 num_channels: int = 3, head_kernel: int = 7):
        super().__init__()
        self.num_kp = num_kp
        self.scale_factor = scale_factor
        self.temperature = temperature
        self.hourglass = Hourglass(num_channels, block_expansion, num_blocks, max_features)
        ch = self.hourglass.out_channels
        self.heatmap = nn.Conv2d(ch, num_kp, head_kernel, padding=head_kernel // 2)
        self.jacobian = None
        if estimate_jacobian:
            self.jacobian = nn.Conv2d(ch, 4 * num_kp, head_kernel, padding=head_kernel // 2)
            nn.init.zeros_(self.jacobian.weight)
            with torch.no_grad():
                self.jacobian.bias.copy_(torch.tensor([1.0, 0.0, 0.0, 1.0]).repeat(num_kp))

    def forward(self, frames: Tensor) -> dict[str, Tensor]:
        x = downscale(frames, self.scale_factor)
        features = self.hourglass(x)
        logits = self.heatmap(features)
        n, k, h, w = logits.shape
        heatmap = F.softmax(logits.float().view(n, k, -1) / self.temperature, dim=-1).view(n, k, h, w)
        grid = make_grid(h, w, frames.device, heatmap.dtype)
        value = (heatmap[..., None] * grid).sum(dim=(2, 3))
        out = {"value": value, "heatmap": heatmap}
        if self.jacobian is not None:
            field = self.jacobian(features).float().view(n, k, 4, h, w)
            jac = (field * heatmap[:, :, None]).sum(dim=(3, 4)).view(n, k, 2, 2)
        else:
            jac = torch.eye(2, device=frames.device, dtype=value.dtype).expand(n, k, 2, 2)
        out["jacobian"] = jac
        return out
