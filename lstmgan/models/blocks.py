"""Convolutional building blocks shared by the networks: conv/down/up/residual blocks, hourglass,
coordinate grids and keypoint heatmaps.

Coordinates follow ``grid_sample`` with ``align_corners=True``: x and y in [-1, 1], -1 and 1 are the
centres of the first and last pixel, so an identity grid reproduces an image exactly.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def make_grid(h: int, w: int, device=None, dtype=None) -> Tensor:
    """(h, w, 2) grid of (x, y) pixel-centre coordinates in [-1, 1] (align_corners=True convention)."""
    y = torch.linspace(-1.0, 1.0, h, device=device, dtype=dtype)
    x = torch.linspace(-1.0, 1.0, w, device=device, dtype=dtype)
    yy, xx = torch.meshgrid(y, x, indexing="ij")
    return torch.stack([xx, yy], dim=-1)


def warp(image: Tensor, grid: Tensor) -> Tensor:
    """Sample ``image`` (N,C,H,W) at ``grid`` (N,h,w,2); the grid is resized to (H,W) if needed."""
    if grid.shape[1:3] != image.shape[2:]:
        grid = resize_flow(grid, image.shape[2], image.shape[3])
    return F.grid_sample(image, grid.to(image.dtype), mode="bilinear", padding_mode="border",
                         align_corners=True)


def resize_flow(grid: Tensor, h: int, w: int) -> Tensor:
    """Bilinearly resize a sampling grid (N,h0,w0,2) to (N,h,w,2); identity stays identity."""
    return F.interpolate(grid.permute(0, 3, 1, 2), size=(h, w), mode="bilinear",
                         align_corners=True).permute(0, 2, 3, 1)


def downscale(image: Tensor, scale: float) -> Tensor:
    """Anti-aliased bilinear downscale (no-op for scale 1)."""
    if scale == 1:
        return image
    return F.interpolate(image, scale_factor=scale, mode="bilinear", align_corners=False,
                         antialias=True, recompute_scale_factor=True)


def kp_to_gaussian(kp: Tensor, h: int, w: int, variance: float) -> Tensor:
    """Gaussian blobs (N,K,h,w) centred on keypoints ``kp`` (N,K,2)."""
    grid = make_grid(h, w, kp.device, kp.dtype)  # (h,w,2)
    diff = grid[None, None] - kp[:, :, None, None, :]
    return torch.exp(-0.5 * (diff ** 2).sum(-1) / variance)


class ConvBlock(nn.Sequential):
    """conv -> batch norm -> ReLU."""

    def __init__(self, cin: int, cout: int, kernel: int = 3):
        super().__init__(nn.Conv2d(cin, cout, kernel, padding=kernel // 2, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class DownBlock(nn.Sequential):
    """ConvBlock then 2x average pooling."""

    def __init__(self, cin: int, cout: int):
        super().__init__(ConvBlock(cin, cout), nn.AvgPool2d(2))


class UpBlock(nn.Module):
    """2x nearest upsampling then ConvBlock."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = ConvBlock(cin, cout)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(F.interpolate(x, scale_factor=2, mode="nearest"))


class ResBlock(nn.Module):
    """Pre-activation residual block (BN-ReLU-conv twice) that keeps the channel count."""

    def __init__(self, ch: int):
        super().__init__()
        self.body = nn.Sequential(nn.BatchNorm2d(ch), nn.ReLU(inplace=False), nn.Conv2d(ch, ch, 3, padding=1),
                                  nn.BatchNorm2d(ch), nn.ReLU(inplace=True), nn.Conv2d(ch, ch, 3, padding=1))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class Hourglass(nn.Module):
    """U-Net style hourglass: ``num_blocks`` down blocks, mirrored up blocks with skip connections.

    Input height/width must be divisible by ``2**num_blocks``. Output has ``out_channels`` =
    ``block_expansion + in_channels`` channels at the input resolution.
    """

    def __init__(self, in_channels: int, block_expansion: int, num_blocks: int, max_features: int):
        super().__init__()
        widths = [in_channels] + [min(max_features, block_expansion * 2 ** (i + 1)) for i in range(num_blocks)]
        self.down = nn.ModuleList(DownBlock(widths[i], widths[i + 1]) for i in range(num_blocks))
        ups = []
        for i in reversed(range(num_blocks)):
            cin = widths[i + 1] if i == num_blocks - 1 else 2 * widths[i + 1]
            cout = block_expansion if i == 0 else widths[i]
            ups.append(UpBlock(cin, cout))
        self.up = nn.ModuleList(ups)
        self.out_channels = block_expansion + in_channels

    def forward(self, x: Tensor) -> Tensor:
        skips = [x]
        for block in self.down:
            skips.append(block(skips[-1]))
        out = skips.pop()
        for block in self.up:
            out = torch.cat([block(out), skips.pop()], dim=1)
        return out
