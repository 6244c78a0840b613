"""Discriminators: a multi-scale patch discriminator on frames and a temporal one on clips.

Both are least-squares (LSGAN) patch critics with spectral norm; each returns its intermediate
feature maps (for the feature-matching loss) and a map of patch scores (real -> 1, fake -> 0).
The frame discriminator may also see Gaussian heatmaps of the driving keypoints, so it judges an
image together with the pose it should have.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from lstmgan.models.blocks import downscale, kp_to_gaussian


def _sn(module: nn.Module, enabled: bool) -> nn.Module:
    return spectral_norm(module) if enabled else module


class PatchDiscriminator(nn.Module):
    """image (N,C,S,S) -> (features list, patch scores (N,1,h,w))."""

    def __init__(self, in_channels: int, block_expansion: int, num_blocks: int, max_features: int,
                 use_sn: bool):
        super().__init__()
        blocks = []
        cin = in_channels
        for i in range(num_blocks):
            cout = min(max_features, block_expansion * 2 ** i)
            layers = [_sn(nn.Conv2d(cin, cout, 4, stride=2, padding=1), use_sn)]
            if i > 0:
                layers.append(nn.InstanceNorm2d(cout, affine=True))
            layers.append(nn.LeakyReLU(0.2))
            blocks.append(nn.Sequential(*layers))
            cin = cout
        self.blocks = nn.ModuleList(blocks)
        self.score = _sn(nn.Conv2d(cin, 1, 3, padding=1), use_sn)

    def forward(self, x: Tensor) -> tuple[list[Tensor], Tensor]:
        features = []
        for block in self.blocks:
            x = block(x)
            features.append(x)
        return features, self.score(x)


class MultiScaleDiscriminator(nn.Module):
    """One PatchDiscriminator per scale of the image pyramid; optional keypoint heatmap input."""

    def __init__(self, scales: list[float], num_kp: int, use_kp: bool, kp_variance: float,
                 block_expansion: int, num_blocks: int, max_features: int, use_sn: bool,
                 num_channels: int = 3):
        super().__init__()
        self.scales = list(scales)
        self.use_kp = use_kp
        self.kp_variance = kp_variance
        in_ch = num_channels + (num_kp if use_kp else 0)
        self.discs = nn.ModuleList(PatchDiscriminator(in_ch, block_expansion, num_blocks, max_features, use_sn)
                                   for _ in self.scales)

    def forward(self, images: Tensor, kp: Tensor | None = None) -> list[tuple[list[Tensor], Tensor]]:
        """images (N,3,S,S); kp (N,K,2) keypoint values (detached by the caller) when use_kp."""
        outputs = []
        for scale, disc in zip(self.scales, self.discs):
            x = downscale(images, scale)
            if self.use_kp:
                heat = kp_to_gaussian(kp, x.shape[2], x.shape[3], self.kp_variance).to(x.dtype)
                x = torch.cat([x, heat], dim=1)
            outputs.append(disc(x))
        return outputs


class TemporalDiscriminator(nn.Module):
    """clip (B,T,3,S,S) -> (features list, patch scores (B,1,T,h,w)); sees frames and their differences."""

    def __init__(self, block_expansion: int, num_blocks: int, max_features: int, use_sn: bool,
                 num_channels: int = 3):
        super().__init__()
        blocks = []
        cin = 2 * num_channels
        for i in range(num_blocks):
            cout = min(max_features, block_expansion * 2 ** i)
            blocks.append(nn.Sequential(
                _sn(nn.Conv3d(cin, cout, (3, 4, 4), stride=(1, 2, 2), padding=(1, 1, 1)), use_sn),
                nn.LeakyReLU(0.2)))
            cin = cout
        self.blocks = nn.ModuleList(blocks)
        self.score = _sn(nn.Conv3d(cin, 1, (3, 3, 3), padding=1), use_sn)

    def forward(self, clip: Tensor) -> tuple[list[Tensor], Tensor]:
        diff = torch.cat([torch.zeros_like(clip[:, :1]), clip[:, 1:] - clip[:, :-1]], dim=1)
        x = torch.cat([clip, diff], dim=2).transpose(1, 2)  # (B,C,T,S,S)
        features = []
        for block in self.blocks:
            x = block(x)
            features.append(x)
        return features, self.score(x)
