"""Dense motion: K first-order sparse motions + background -> a dense flow and an occlusion map.

For keypoint k the motion from driving to source is the first-order (local affine) approximation
``z -> kp_s + J_s J_d^-1 (z - kp_d)``; the background moves with the identity. The source is
warped by each of the K+1 motions and, with the heatmap differences, fed to an hourglass that
predicts a softmax mask over the motions (the dense flow is their mask-weighted sum) and a
sigmoid occlusion map (1 = visible in the source).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from lstmgan.models.blocks import Hourglass, downscale, kp_to_gaussian, make_grid, warp


def inverse_2x2(m: Tensor) -> Tensor:
    """Closed-form inverse of a batch of 2x2 matrices (..., 2, 2); faster than torch.inverse."""
    a, b, c, d = m[..., 0, 0], m[..., 0, 1], m[..., 1, 0], m[..., 1, 1]
    det = a * d - b * c
    tiny = torch.where(det >= 0, 1e-6, -1e-6).to(det.dtype)
    det = torch.where(det.abs() < 1e-6, tiny, det)  # keep degenerate jacobians finite
    inv = torch.stack([torch.stack([d, -b], -1), torch.stack([-c, a], -1)], -2)
    return inv / det[..., None, None]


class DenseMotion(nn.Module):
    """(source (N,3,S,S), kp_source, kp_driving with "value" (N,K,2), "jacobian" (N,K,2,2))
    -> {"deformation" (N,h,w,2), "occlusion" (N,1,h,w), "mask" (N,K+1,h,w), "sparse" (N,K+1,h,w,2)}."""

    def __init__(self, num_kp: int, block_expansion: int, num_blocks: int, max_features: int,
                 scale_factor: float, kp_variance: float, occlusion_bias: float = 2.0,
                 num_channels: int = 3, head_kernel: int = 7):
        super().__init__()
        self.num_kp = num_kp
        self.scale_factor = scale_factor
        self.kp_variance = kp_variance
        in_ch = (num_kp + 1) * (num_channels + 1)
        self.hourglass = Hourglass(in_ch, block_expansion, num_blocks, max_features)
        ch = self.hourglass.out_channels
        self.mask = nn.Conv2d(ch, num_kp + 1, head_kernel, padding=head_kernel // 2)
        self.occlusion = nn.Conv2d(ch, 1, head_kernel, padding=head_kernel // 2)
        # start with the whole source visible, so the output path begins as the warped source
        nn.init.constant_(self.occlusion.bias, occlusion_bias)

    def sparse_motions(self, h: int, w: int, kp_source: dict, kp_driving: dict) -> Tensor:
        """(N,K+1,h,w,2): identity background, then the first-order motion of each keypoint."""
        n, k, _ = kp_driving["value"].shape
        grid = make_grid(h, w, kp_driving["value"].device, kp_driving["value"].dtype)
        z = grid[None, None] - kp_driving["value"][:, :, None, None, :]  # (N,K,h,w,2)
        affine = kp_source["jacobian"].float() @ inverse_2x2(kp_driving["jacobian"].float())  # (N,K,2,2)
        z = torch.einsum("nkij,nkhwj->nkhwi", affine, z)
        motions = z + kp_source["value"][:, :, None, None, :]
        background = grid[None, None].expand(n, 1, h, w, 2)
        return torch.cat([background, motions], dim=1)

    def forward(self, source: Tensor, kp_source: dict, kp_driving: dict) -> dict[str, Tensor]:
        x = downscale(source, self.scale_factor)
        n, c, h, w = x.shape
        k1 = self.num_kp + 1
        sparse = self.sparse_motions(h, w, kp_source, kp_driving)
        deformed = warp(x.repeat_interleave(k1, dim=0), sparse.reshape(n * k1, h, w, 2)).view(n, k1, c, h, w)
        heat = (kp_to_gaussian(kp_driving["value"], h, w, self.kp_variance)
                - kp_to_gaussian(kp_source["value"], h, w, self.kp_variance))
        heat = torch.cat([torch.zeros_like(heat[:, :1]), heat], dim=1)[:, :, None]  # (N,K+1,1,h,w)
        features = self.hourglass(torch.cat([heat.to(deformed.dtype), deformed], dim=2).view(n, -1, h, w))
        mask = torch.softmax(self.mask(features).float(), dim=1)
        deformation = (mask[..., None] * sparse).sum(dim=1)
        occlusion = torch.sigmoid(self.occlusion(features).float())
        return {"deformation": deformation, "occlusion": occlusion, "mask": mask, "sparse": sparse}
