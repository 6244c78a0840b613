"""Losses: reconstruction pyramid (L1, optional VGG19 perceptual), keypoint equivariance under a
random affine + thin-plate-spline warp, LSGAN with feature matching, temporal consistency.
"""
from __future__ import annotations

import logging

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lstmgan.face.landmarks import BLINK, EYES, INNER_LIP_PAIRS, MOUTH_INNER, MOUTH_OPEN
from lstmgan.models.blocks import downscale, make_grid
from lstmgan.models.dense_motion import inverse_2x2

log = logging.getLogger(__name__)

VGG19_WEIGHTS = "vgg19-dcbb9e9d.pth"


# --------------------------------------------------------------------------------------------
# reconstruction
# --------------------------------------------------------------------------------------------
def pyramid_l1(prediction: Tensor, target: Tensor, scales: list[float]) -> Tensor:
    """Mean over scales of the L1 distance between anti-aliased downscaled images (N,3,S,S)."""
    total = prediction.new_zeros(())
    for scale in scales:
        total = total + (downscale(prediction, scale) - downscale(target, scale)).abs().mean()
    return total / max(len(scales), 1)


# 68-point landmark indices of the parts a talking face moves most and warping renders least
FACE_PARTS = {"mouth": tuple(range(48, 68)), "right_eye": tuple(range(36, 42)), "left_eye": tuple(range(42, 48))}


def part_masks(landmarks: Tensor, size: int, pad: float) -> tuple[Tensor, Tensor]:
    """Boxes around each of :data:`FACE_PARTS` in each frame: ((N, P, S, S) bool masks, (N, P) valid).

    ``landmarks`` (N, 68, 2) are pixel (x, y), NaN where unknown; a box spans its part's landmarks
    widened by ``pad`` x the inter-ocular distance on every side (a closed mouth or eye still gets
    the band its opening would fill). A frame whose part has a NaN landmark is not valid.
    """
    lm = landmarks.float()
    eyes = [lm[:, list(FACE_PARTS[name])].mean(1) for name in ("right_eye", "left_eye")]
    margin = (pad * (eyes[0] - eyes[1]).norm(dim=-1)).nan_to_num(0.0)[:, None]  # (N, 1)
    grid = torch.arange(size, device=lm.device, dtype=lm.dtype)
    masks, valid = [], []
    for index in FACE_PARTS.values():
        pts = lm[:, list(index)]
        ok = torch.isfinite(pts).all(-1).all(-1)
        pts = pts.nan_to_num(0.0)
        lo, hi = pts.amin(1) - margin, pts.amax(1) + margin  # (N, 2)
        inside_x = (grid[None] >= lo[:, :1]) & (grid[None] <= hi[:, :1])  # (N, S)
        inside_y = (grid[None] >= lo[:, 1:]) & (grid[None] <= hi[:, 1:])
        masks.append(inside_y[:, :, None] & inside_x[:, None, :])
        valid.append(ok & masks[-1].flatten(1).any(1))
    return torch.stack(masks, 1), torch.stack(valid, 1)


def part_l1(prediction: Tensor, target: Tensor, landmarks: Tensor, pad: float = 0.15) -> Tensor:
    """Mean L1 inside the mouth and each eye (:func:`part_masks` of the target's landmarks).

    Each part counts as much as a whole frame however few pixels it covers, so the mouth (about
    2% of a 64 px face crop) and the eyelids weigh in the loss as they do in a viewer's eye; frames
    without landmarks (NaN) are left out, and with none at all the term is 0.
    """
    masks, valid = part_masks(landmarks, prediction.shape[-1], pad)
    error = (prediction - target).abs().mean(1)  # (N, S, S)
    weights = masks.float()
    per_part = (error[:, None] * weights).sum((-2, -1)) / weights.sum((-2, -1)).clamp(min=1.0)
    per_part = torch.where(valid, per_part, torch.zeros_like(per_part))
    return per_part.sum() / valid.sum().clamp(min=1)


def paint_masks(landmarks: Tensor, size: int, pad: float) -> Tensor:
    """(N, S, S) bool: where a driving frame shows what its source cannot lend by warping.

    ``landmarks`` (B, T, 68, 2) pixel (x, y) of the driving frames, NaN where unknown. Marked: the
    box of the inner lips on frames whose mouth is open (inner-lip gap above
    :data:`lstmgan.face.landmarks.MOUTH_OPEN` x the inter-ocular distance: a dark interior or teeth),
    and the box of an eye, widened by ``pad`` x the inter-ocular distance, on frames where that eye's
    aspect ratio is below :data:`~lstmgan.face.landmarks.BLINK` x its median over the clip (a
    closing lid over an eye the source shows open). ``size``: the resolution of the masks.
    """
    b, t = landmarks.shape[:2]
    lm = landmarks.float().flatten(0, 1)  # (N, 68, 2)
    eyes = [lm[:, list(eye)] for eye in EYES]
    iod = (eyes[0].mean(1) - eyes[1].mean(1)).norm(dim=-1)  # (N,)
    upper, lower = zip(*INNER_LIP_PAIRS)
    gap = (lm[:, list(upper)] - lm[:, list(lower)]).norm(dim=-1).mean(-1)
    grid = torch.arange(size, device=lm.device, dtype=lm.dtype)

    def box(points: Tensor, margin: Tensor, on: Tensor) -> Tensor:
        lo, hi = points.amin(1) - margin[:, None], points.amax(1) + margin[:, None]  # (N, 2)
        inside_x = (grid[None] >= lo[:, :1]) & (grid[None] <= hi[:, :1])
        inside_y = (grid[None] >= lo[:, 1:]) & (grid[None] <= hi[:, 1:])
        return inside_y[:, :, None] & inside_x[:, None, :] & on[:, None, None]

    ok = torch.isfinite(lm).all(-1).all(-1) & (iod > 0)
    clean = lm.nan_to_num(0.0)
    mask = box(clean[:, list(MOUTH_INNER)], torch.zeros_like(iod), ok & (gap > MOUTH_OPEN * iod.nan_to_num(1.0)))
    for eye in eyes:
        lids = (eye[:, 1] - eye[:, 5]).norm(dim=-1) + (eye[:, 2] - eye[:, 4]).norm(dim=-1)
        ear = lids / (2 * (eye[:, 0] - eye[:, 3]).norm(dim=-1)).clamp(min=1e-6)  # (N,)
        median = ear.view(b, t).nanmedian(dim=1).values.repeat_interleave(t)
        blink = ok & (ear < BLINK * median)
        mask = mask | box(eye.nan_to_num(0.0), (pad * iod).nan_to_num(0.0), blink)
    return mask


def occlusion_paint(occlusion: Tensor, landmarks: Tensor, image_size: int, pad: float = 0.15) -> Tensor:
    """Mean of -log(1 - occlusion) inside :func:`paint_masks`: asks the decoder, not the warp, to
    draw the open mouth and the closing eyelids (0 on clips where no frame has either).

    ``occlusion`` (B, T, 1, h, w) in [0, 1] (1 = warped source); ``landmarks`` (B, T, 68, 2) pixel
    coordinates at ``image_size``. The log keeps the gradient alive where the map is saturated at 1,
    where the plain occlusion's sigmoid gradient vanishes.
    """
    h = occlusion.shape[-1]
    masks = paint_masks(landmarks * (h / image_size), h, pad).float()  # (N, h, w)
    if not masks.any():
        return occlusion.new_zeros(())
    occ = occlusion.flatten(0, 1)[:, 0].float()
    return ((-torch.log1p(-occ.clamp(max=1 - 1e-6))) * masks).sum() / masks.sum()


def keypoint_landmark_l1(kp_value: Tensor, landmarks: Tensor, anchors: list[int], size: int) -> Tensor:
    """Mean L1 between the first ``len(anchors)`` keypoints and those landmarks, in [-1, 1] units.

    ``kp_value`` (N, K, 2) normalised (x, y); ``landmarks`` (N, 68, 2) pixel (x, y), NaN where
    unknown (left out; with none at all the term is 0). Keypoint k is pulled to landmark
    ``anchors[k]`` (for k below both K and the number of anchors); the other keypoints stay unsupervised.
    """
    anchors = list(anchors)[:kp_value.shape[1]]
    target = landmarks[:, anchors].float() * (2.0 / (size - 1)) - 1.0  # (N, A, 2)
    error = (kp_value[:, :len(anchors)] - target).abs().sum(-1)  # (N, A)
    valid = torch.isfinite(error)
    return torch.where(valid, error, torch.zeros_like(error)).sum() / valid.sum().clamp(min=1)


class VGG19Perceptual(nn.Module):
    """Perceptual pyramid loss on the relu1_1..relu5_1 features of an ImageNet VGG19 (frozen)."""

    LAYERS = (2, 7, 12, 21, 30)  # indices after relu1_1, relu2_1, relu3_1, relu4_1, relu5_1

    def __init__(self, weights_path):
        super().__init__()
        import torchvision

        vgg = torchvision.models.vgg19()
        vgg.load_state_dict(torch.load(weights_path, map_location="cpu", weights_only=True))
        self.features = vgg.features[: self.LAYERS[-1]].eval()
        for p in self.parameters():
            p.requires_grad_(False)
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))

    def train(self, mode: bool = True):  # always frozen, always in eval mode
        return super().train(False)

    def _feats(self, x: Tensor) -> list[Tensor]:
        x = (x - self.mean) / self.std
        out = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i + 1 in self.LAYERS:
                out.append(x)
        return out

    def forward(self, prediction: Tensor, target: Tensor, scales: list[float]) -> Tensor:
        total = prediction.new_zeros(())
        # VGG19 pools 4 times before relu5_1: skip pyramid levels smaller than 32 px
        scales = [s for s in scales if min(prediction.shape[2:]) * s >= 32] or [1.0]
        for scale in scales:
            fp = self._feats(downscale(prediction, scale))
            with torch.no_grad():
                ft = self._feats(downscale(target, scale))
            total = total + sum((a - b).abs().mean() for a, b in zip(fp, ft))
        return total / max(len(scales), 1)


def load_perceptual() -> VGG19Perceptual | None:
    """The VGG19 perceptual loss if its ImageNet weights are in the torch hub cache, else None (logged)."""
    from lstmgan.utils.weights import cached_weight, missing_weights_hint

    path = cached_weight(VGG19_WEIGHTS)
    if path is None:
        log.info("perceptual loss off: %s", missing_weights_hint("ImageNet VGG19", VGG19_WEIGHTS))
        return None
    return VGG19Perceptual(path)


# --------------------------------------------------------------------------------------------
# equivariance
# --------------------------------------------------------------------------------------------
class RandomTransform:
    """A random affine + thin-plate-spline warp T of the [-1, 1] plane, per sample.

    ``transform_frame`` builds the image I_T(z) = I(T(z)); a keypoint at p in I_T therefore sits
    at T(p) in I, and a local affine J there becomes dT(p) J.
    """

    def __init__(self, n: int, sigma_affine: float, sigma_tps: float, points_tps: int,
                 device=None, generator: torch.Generator | None = None):
        eye = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], device=device)
        noise = torch.randn(n, 2, 3, generator=generator, device="cpu").to(device)
        self.theta = eye + sigma_affine * noise  # (n,2,3)
        self.control_points = make_grid(points_tps, points_tps, device).reshape(-1, 2)  # (P,2)
        params = torch.randn(n, points_tps ** 2, generator=generator, device="cpu").to(device)
        self.control_params = sigma_tps * params  # (n,P)

    @classmethod
    def from_parameters(cls, theta: Tensor, control_points: Tensor, control_params: Tensor) -> "RandomTransform":
        """A transform with given parameters (for tests and figures)."""
        t = cls.__new__(cls)
        t.theta, t.control_points, t.control_params = theta, control_points, control_params
        return t

    def _tps_terms(self, coords: Tensor) -> tuple[Tensor, Tensor]:
        diff = coords[:, :, None, :] - self.control_points.to(coords.dtype)[None, None]  # (n,M,P,2)
        r2 = (diff ** 2).sum(-1)
        return diff, r2

    def warp_coordinates(self, coords: Tensor) -> Tensor:
        """coords (n,M,2) -> T(coords) (n,M,2)."""
        theta = self.theta.to(coords.dtype)
        out = coords @ theta[:, :, :2].transpose(1, 2) + theta[:, None, :, 2]
        _, r2 = self._tps_terms(coords)
        u = 0.5 * r2 * torch.log(r2 + 1e-9)  # r^2 log r
        shift = (u * self.control_params.to(coords.dtype)[:, None]).sum(-1, keepdim=True)
        return out + shift

    def jacobian(self, coords: Tensor) -> Tensor:
        """dT at coords (n,M,2) -> (n,M,2,2) (closed form: affine part + TPS gradient)."""
        diff, r2 = self._tps_terms(coords)
        grad_u = (torch.log(r2 + 1e-9) + 1)[..., None] * diff  # d(r^2 log r)/dp
        grad = (grad_u * self.control_params.to(coords.dtype)[:, None, :, None]).sum(2)  # (n,M,2)
        affine = self.theta[:, None, :, :2].to(coords.dtype)
        return affine + grad[:, :, None, :]  # the same TPS shift is added to x and y

    def transform_frame(self, frames: Tensor) -> Tensor:
        """frames (n,C,H,W) -> frames sampled at T(z)."""
        n, _, h, w = frames.shape
        grid = make_grid(h, w, frames.device, frames.dtype).reshape(1, -1, 2).expand(n, -1, -1)
        grid = self.warp_coordinates(grid).view(n, h, w, 2)
        return F.grid_sample(frames, grid, mode="bilinear", padding_mode="reflection", align_corners=True)


def equivariance_losses(kp: dict[str, Tensor], kp_transformed: dict[str, Tensor],
                        transform: RandomTransform) -> tuple[Tensor, Tensor]:
    """(value loss, jacobian loss): kp ~ T(kp_T) and J ~ dT(kp_T) J_T, as mean absolute errors.

    ``kp`` are the keypoints of the frames, ``kp_transformed`` those of ``transform_frame(frames)``.
    """
    value = (kp["value"] - transform.warp_coordinates(kp_transformed["value"])).abs().mean()
    jac_t = transform.jacobian(kp_transformed["value"]) @ kp_transformed["jacobian"]
    ratio = inverse_2x2(kp["jacobian"]) @ jac_t
    eye = torch.eye(2, device=ratio.device, dtype=ratio.dtype)
    jacobian = (eye - ratio).abs().mean()
    return value, jacobian


def keypoint_spread(value: Tensor, margin: float) -> Tensor:
    """Prior that keeps keypoints apart: mean over pairs of max(0, margin - squared distance)."""
    k = value.shape[1]
    d2 = ((value[:, :, None] - value[:, None]) ** 2).sum(-1)
    off_diag = ~torch.eye(k, dtype=torch.bool, device=value.device)
    return F.relu(margin - d2)[:, off_diag].mean()


# --------------------------------------------------------------------------------------------
# adversarial and temporal
# --------------------------------------------------------------------------------------------
def lsgan_generator(scores: list[Tensor]) -> Tensor:
    """LSGAN generator loss: fake patches should score 1."""
    return sum(((1 - s) ** 2).mean() for s in scores) / len(scores)


def lsgan_discriminator(real: list[Tensor], fake: list[Tensor]) -> Tensor:
    """LSGAN discriminator loss: real patches -> 1, fake -> 0."""
    return sum(((1 - r) ** 2).mean() + (f ** 2).mean() for r, f in zip(real, fake)) / len(real)


def lsgan_real(scores: list[Tensor]) -> Tensor:
    """The real half of the LSGAN discriminator loss (scores pulled to 1), averaged over scales."""
    return sum(((1 - s) ** 2).mean() for s in scores) / len(scores)


def lsgan_fake(scores: list[Tensor]) -> Tensor:
    """The fake half of the LSGAN discriminator loss (scores pulled to 0), averaged over scales."""
    return sum((s ** 2).mean() for s in scores) / len(scores)


def feature_matching(real: list[list[Tensor]], fake: list[list[Tensor]]) -> Tensor:
    """Mean L1 distance between the discriminator features of real (detached) and fake inputs."""
    terms = [(r.detach() - f).abs().mean() for rs, fs in zip(real, fake) for r, f in zip(rs, fs)]
    return sum(terms) / len(terms)


def temporal_consistency(prediction: Tensor, driving: Tensor) -> Tensor:
    """L1 between the frame-to-frame changes of prediction and driving clips (B,T,3,S,S)."""
    if prediction.shape[1] < 2:
        return prediction.new_zeros(())
    return ((prediction[:, 1:] - prediction[:, :-1]) - (driving[:, 1:] - driving[:, :-1])).abs().mean()
