"""The LSTM-GAN as training modules: networks from params, one generator step and one
discriminator step with their losses, and loading trained networks from a checkpoint.

- :func:`build_networks` -> {"kp_detector", "generator", "discriminator"[, "temporal_discriminator"]}
- :class:`GeneratorFullModel` (source, driving clip) -> (weighted losses, generated)
- :class:`DiscriminatorFullModel` (driving clip, generated) -> discriminator losses + accuracies
- :func:`load_networks` checkpoint -> (networks in eval mode, Params)
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from lstmgan.config import GanParams, Params
from lstmgan.models import losses as L
from lstmgan.models.discriminator import MultiScaleDiscriminator, TemporalDiscriminator
from lstmgan.models.generator import Generator
from lstmgan.models.keypoint_detector import KPDetector

log = logging.getLogger(__name__)


def check_image_size(gan: GanParams, image_size: int) -> None:
    """Every hourglass and the generator need the (downscaled) size divisible by 2**blocks."""
    for name, scale, blocks in (("kp", gan.kp_scale_factor, gan.kp_num_blocks),
                                ("dm", gan.dm_scale_factor, gan.dm_num_blocks),
                                ("generator", 1.0, gan.num_down_blocks)):
        side = image_size * scale
        if side != int(side) or int(side) % (2 ** blocks):
            raise ValueError(f"image size {image_size} with gan.{name} scale {scale} and {blocks} blocks: "
                             f"{side} is not divisible by {2 ** blocks}")


def build_networks(gan: GanParams, image_size: int) -> dict[str, nn.Module]:
    """All networks of the model, sized by ``gan`` for square frames of ``image_size`` pixels."""
    check_image_size(gan, image_size)
    kp_detector = KPDetector(num_kp=gan.num_kp, block_expansion=gan.kp_block_expansion,
                             num_blocks=gan.kp_num_blocks, max_features=gan.kp_max_features,
                             scale_factor=gan.kp_scale_factor, temperature=gan.kp_temperature,
                             estimate_jacobian=gan.estimate_jacobian)
    dense_motion = dict(block_expansion=gan.dm_block_expansion, num_blocks=gan.dm_num_blocks,
                        max_features=gan.dm_max_features, scale_factor=gan.dm_scale_factor,
                        kp_variance=gan.kp_variance, occlusion_bias=gan.occlusion_bias)
    generator = Generator(num_kp=gan.num_kp, block_expansion=gan.block_expansion,
                          max_features=gan.max_features, num_down_blocks=gan.num_down_blocks,
                          num_bottleneck_blocks=gan.num_bottleneck_blocks, temporal=gan.temporal,
                          lstm_hidden=gan.lstm_hidden, lstm_kernel=gan.lstm_kernel,
                          dense_motion=dense_motion)
    discriminator = MultiScaleDiscriminator(scales=gan.disc_scales, num_kp=gan.num_kp,
                                            use_kp=gan.disc_use_kp, kp_variance=gan.kp_variance,
                                            block_expansion=gan.disc_block_expansion,
                                            num_blocks=gan.disc_num_blocks,
                                            max_features=gan.disc_max_features,
                                            use_sn=gan.disc_spectral_norm)
    networks: dict[str, nn.Module] = {"kp_detector": kp_detector, "generator": generator,
                                      "discriminator": discriminator}
    if gan.temporal_disc:
        networks["temporal_discriminator"] = TemporalDiscriminator(
            block_expansion=gan.temporal_disc_block_expansion, num_blocks=gan.temporal_disc_num_blocks,
            max_features=gan.disc_max_features, use_sn=gan.disc_spectral_norm)
    return networks


def _per_clip(kp: dict[str, Tensor], b: int, t: int) -> dict[str, Tensor]:
    return {name: value.view(b, t, *value.shape[1:]) for name, value in kp.items()}


class GeneratorFullModel(nn.Module):
    """One generator step: keypoints, generation and all generator-side losses (weighted)."""

    def __init__(self, networks: dict[str, nn.Module], gan: GanParams, image_size: int):
        super().__init__()
        self.kp_detector = networks["kp_detector"]
        self.generator = networks["generator"]
        self.discriminator = networks["discriminator"]
        self.temporal_discriminator = networks.get("temporal_discriminator")
        self.gan = gan
        self.image_size = image_size
        self.perceptual = load_perceptual_if_used(gan)

    def forward(self, source: Tensor, driving: Tensor) -> tuple[dict[str, Tensor], dict[str, Any]]:
        gan = self.gan
        b, t = driving.shape[:2]
        frames = driving.flatten(0, 1)
        kp_source = self.kp_detector(source)
        kp_frames = self.kp_detector(frames)
        kp_driving = _per_clip(kp_frames, b, t)
        out, _ = self.generator(source, kp_source, kp_driving)
        prediction = out["prediction"]
        pred_frames = prediction.flatten(0, 1)
        frames32 = frames.float()

        losses: dict[str, Tensor] = {}
        if gan.loss_reconstruction:
            losses["reconstruction"] = gan.loss_reconstruction * L.pyramid_l1(pred_frames, frames32,
                                                                              gan.pyramid_scales)
        if self.perceptual is not None and gan.loss_perceptual:
            losses["perceptual"] = gan.loss_perceptual * self.perceptual(pred_frames, frames32, gan.pyramid_scales)
        if gan.loss_equivariance_value or gan.loss_equivariance_jacobian:
            transform = L.RandomTransform(frames.shape[0], gan.transform_sigma_affine, gan.transform_sigma_tps,
                                          gan.transform_points_tps, device=frames.device)
            kp_transformed = self.kp_detector(transform.transform_frame(frames))
            value, jacobian = L.equivariance_losses(kp_frames, kp_transformed, transform)
            if gan.loss_equivariance_value:
                losses["equivariance_value"] = gan.loss_equivariance_value * value
            if gan.loss_equivariance_jacobian and gan.estimate_jacobian:
                losses["equivariance_jacobian"] = gan.loss_equivariance_jacobian * jacobian
        if gan.loss_kp_spread:
            losses["kp_spread"] = gan.loss_kp_spread * L.keypoint_spread(
                torch.cat([kp_source["value"], kp_frames["value"]]), gan.kp_spread_margin)
        if gan.loss_temporal:
            losses["temporal"] = gan.loss_temporal * L.temporal_consistency(prediction, driving.float())
        if gan.loss_gan or gan.loss_feature_matching:
            kp = kp_frames["value"].detach()
            fake = self.discriminator(pred_frames, kp)
            with torch.no_grad():
                real = self.discriminator(frames32, kp)
            if gan.loss_gan:
                losses["gen_gan"] = gan.loss_gan * L.lsgan_generator([s for _, s in fake])
            if gan.loss_feature_matching:
                losses["feature_matching"] = gan.loss_feature_matching * L.feature_matching(
                    [f for f, _ in real], [f for f, _ in fake])
        if self.temporal_discriminator is not None and gan.loss_temporal_gan and t > 1:
            _, score = self.temporal_discriminator(prediction)
            losses["temporal_gen_gan"] = gan.loss_temporal_gan * L.lsgan_generator([score])

        generated = dict(out)
        generated["kp_source"] = kp_source
        generated["kp_driving"] = kp_driving
        return losses, generated


class DiscriminatorFullModel(nn.Module):
    """One discriminator step on (real driving clip, generated clip), with patch accuracies."""

    def __init__(self, networks: dict[str, nn.Module], gan: GanParams, image_size: int):
        super().__init__()
        self.discriminator = networks["discriminator"]
        self.temporal_discriminator = networks.get("temporal_discriminator")
        self.gan = gan
        self.image_size = image_size

    def forward(self, driving: Tensor, generated: dict[str, Any]) -> dict[str, Tensor]:
        frames = driving.flatten(0, 1).float()
        fake_frames = generated["prediction"].detach().flatten(0, 1)
        kp = generated["kp_driving"]["value"].detach().flatten(0, 1)
        real = [s for _, s in self.discriminator(frames, kp)]
        fake = [s for _, s in self.discriminator(fake_frames, kp)]
        out = {"disc": L.lsgan_discriminator(real, fake)}
        with torch.no_grad():
            out["acc_real"] = torch.stack([(s > 0.5).float().mean() for s in real]).mean()
            out["acc_fake"] = torch.stack([(s < 0.5).float().mean() for s in fake]).mean()
        if self.temporal_discriminator is not None and driving.shape[1] > 1:
            _, real_t = self.temporal_discriminator(driving.float())
            _, fake_t = self.temporal_discriminator(generated["prediction"].detach())
            out["temporal_disc"] = L.lsgan_discriminator([real_t], [fake_t])
        return out


def load_perceptual_if_used(gan: GanParams) -> nn.Module | None:
    """The VGG19 perceptual loss when its weight is non-zero and ImageNet weights are cached."""
    return L.load_perceptual() if gan.loss_perceptual else None


def load_networks(checkpoint: str | Path, device: str | torch.device = "cpu"
                  ) -> tuple[dict[str, nn.Module], Params]:
    """Networks (eval mode, on ``device``) and the Params they were trained with, from a checkpoint."""
    from lstmgan.config import ConfigError, params_from_dict
    from lstmgan.errors import UserError

    path = Path(checkpoint)
    if not path.is_file():
        raise UserError(f"{path}: no such checkpoint; train first (lstmgan train) or pass the right path")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
        params = params_from_dict(state["params"], where=f"{path} (params)")
        models = state["models"]
    except ConfigError as exc:
        raise UserError(f"{path}: checkpoint params do not match this code ({exc}); retrain") from exc
    except Exception as exc:  # truncated/corrupt file, not a torch file, missing keys
        raise UserError(f"{path}: not a readable lstmgan checkpoint ({type(exc).__name__}: {exc}); "
                        f"retrain or restore the file") from exc
    networks = build_networks(params.gan, params.data.size)
    for name, net in networks.items():
        if name not in models:
            raise UserError(f"{path}: checkpoint has no weights for {name!r}; retrain with this version")
        try:
            net.load_state_dict(models[name])
        except RuntimeError as exc:
            raise UserError(f"{path}: weights for {name!r} do not fit the model its params describe "
                            f"({str(exc).splitlines()[0]}); retrain") from exc
        net.to(device).eval()
    return networks, params
