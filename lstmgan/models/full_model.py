"""The LSTM-GAN as training modules: networks from params, one generator step and one
discriminator step with their losses, and loading trained networks from a checkpoint.

- :func:`build_networks` -> {"kp_detector", "generator", "discriminator"[, "temporal_discriminator"]}
- :class:`GeneratorFullModel` (source, driving clip[, recurrent state]) -> (weighted losses, generated)
- :class:`DiscriminatorFullModel` (driving clip, generated) -> discriminator losses + accuracies
- :func:`load_networks` checkpoint -> (networks in eval mode, Params)
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, NamedTuple

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
    for name, scale, blocks in (("kp", gan.model.kp_scale_factor, gan.model.kp_num_blocks),
                                ("dm", gan.model.dm_scale_factor, gan.model.dm_num_blocks),
                                ("generator", 1.0, gan.model.num_down_blocks)):
        side = image_size * scale
        if side != int(side) or int(side) % (2 ** blocks):
            raise ValueError(f"image size {image_size} with gan.{name} scale {scale} and {blocks} blocks: "
                             f"{side} is not divisible by {2 ** blocks}")


def build_networks(gan: GanParams, image_size: int) -> dict[str, nn.Module]:
    """All networks of the model, sized by ``gan`` for square frames of ``image_size`` pixels."""
    check_image_size(gan, image_size)
    kp_detector = KPDetector(num_kp=gan.model.num_kp, block_expansion=gan.model.kp_block_expansion,
                             num_blocks=gan.model.kp_num_blocks, max_features=gan.model.kp_max_features,
                             scale_factor=gan.model.kp_scale_factor, temperature=gan.model.kp_temperature,
                             estimate_jacobian=gan.model.estimate_jacobian, head_kernel=gan.model.head_kernel)
    dense_motion = dict(block_expansion=gan.model.dm_block_expansion, num_blocks=gan.model.dm_num_blocks,
                        max_features=gan.model.dm_max_features, scale_factor=gan.model.dm_scale_factor,
                        kp_variance=gan.model.kp_variance, occlusion_bias=gan.model.occlusion_bias,
                        head_kernel=gan.model.head_kernel)
    generator = Generator(num_kp=gan.model.num_kp, block_expansion=gan.model.block_expansion,
                          max_features=gan.model.max_features, num_down_blocks=gan.model.num_down_blocks,
                          num_bottleneck_blocks=gan.model.num_bottleneck_blocks, temporal=gan.temporal,
                          lstm_hidden=gan.model.lstm_hidden, lstm_kernel=gan.model.lstm_kernel,
                          dense_motion=dense_motion, head_kernel=gan.model.head_kernel,
                          kp_hidden=gan.model.kp_hidden, kp_jacobian=gan.model.estimate_jacobian,
                          decoder_motion=gan.model.decoder_motion, kp_variance=gan.model.kp_variance)
    discriminator = MultiScaleDiscriminator(scales=gan.model.disc_scales, num_kp=gan.model.num_kp,
                                            use_kp=gan.model.disc_use_kp, kp_variance=gan.model.kp_variance,
                                            block_expansion=gan.model.disc_block_expansion,
                                            num_blocks=gan.model.disc_num_blocks,
                                            max_features=gan.model.disc_max_features,
                                            use_sn=gan.model.disc_spectral_norm)
    networks: dict[str, nn.Module] = {"kp_detector": kp_detector, "generator": generator,
                                      "discriminator": discriminator}
    if gan.model.temporal_disc:
        networks["temporal_discriminator"] = TemporalDiscriminator(
            block_expansion=gan.model.temporal_disc_block_expansion, num_blocks=gan.model.temporal_disc_num_blocks,
            max_features=gan.model.disc_max_features, use_sn=gan.model.disc_spectral_norm)
    return networks


def wrong_pose_frames(clips: Tensor) -> Tensor:
    """Real frames in a pose that disagrees with each frame's keypoints: (B,T,C,H,W) -> (B*T,C,H,W).

    Frame ``(i, j)`` is replaced by frame ``j`` of the previous clip in the batch (another video, so
    another face and pose), the mismatched-condition negative of conditional GANs: real texture, so
    only a critic that reads the keypoint heatmaps can reject it. With one clip, the clip reversed
    in time (the same video in its other poses).
    """
    other = clips.roll(1, dims=0) if clips.shape[0] > 1 else clips.flip(1)
    return other.flatten(0, 1)


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

    def forward(self, source: Tensor, driving: Tensor, kp_input: Tensor | None = None,
                state: dict[str, Any] | None = None, landmarks: Tensor | None = None
                ) -> tuple[dict[str, Tensor], dict[str, Any]]:
        """``kp_input`` (B,T,3,S,S): the frames the keypoint detector reads for ``driving`` (a
        degraded copy; default the clean frames); every loss compares with the clean ``driving``.
        ``landmarks`` (B,T,68,2): the driving frames' pixel landmarks (NaN where unknown), which
        place the ``face_parts``, ``occlusion_paint`` and ``kp_landmarks`` terms; without them those
        terms are left out.

        ``state``: the generator's recurrent state at the clip's first frame (None: zeros), e.g. the
        previous clip's, detached, when training carries it across consecutive clips; the state
        after the clip's last frame is returned in ``generated["state"]`` (not detached)."""
        gan = self.gan
        b, t = driving.shape[:2]
        frames = driving.flatten(0, 1)
        kp_frames_in = frames if kp_input is None else kp_input.flatten(0, 1)
        kp_source = self.kp_detector(source)
        kp_frames = self.kp_detector(kp_frames_in)
        kp_driving = _per_clip(kp_frames, b, t)
        out, new_state = self.generator(source, kp_source, kp_driving, state)
        prediction = out["prediction"]
        pred_frames = prediction.flatten(0, 1)
        frames32 = frames.float()

        losses: dict[str, Tensor] = {}
        if gan.loss.reconstruction:
            losses["reconstruction"] = gan.loss.reconstruction * L.pyramid_l1(pred_frames, frames32,
                                                                              gan.loss.pyramid_scales)
        if gan.loss.decoded_reconstruction:
            losses["decoded_reconstruction"] = gan.loss.decoded_reconstruction * L.pyramid_l1(
                out["decoded"].flatten(0, 1).float(), frames32, gan.loss.pyramid_scales)
        if landmarks is not None:
            for name, weight, image in (("face_parts", gan.loss.face_parts, pred_frames),
                                        ("decoded_face_parts", gan.loss.decoded_face_parts, out["decoded"].flatten(0, 1))):
                if weight:
                    losses[name] = weight * L.part_l1(image.float(), frames32, landmarks.flatten(0, 1),
                                                      gan.loss.face_parts_pad)
        if landmarks is not None and gan.loss.occlusion_paint:
            losses["occlusion_paint"] = gan.loss.occlusion_paint * L.occlusion_paint(
                out["occlusion"], landmarks, self.image_size, gan.loss.face_parts_pad)
        if landmarks is not None and gan.loss.kp_landmarks:
            losses["kp_landmarks"] = gan.loss.kp_landmarks * L.keypoint_landmark_l1(
                kp_frames["value"], landmarks.flatten(0, 1), gan.loss.kp_anchors, self.image_size)
        if self.perceptual is not None and gan.loss.perceptual:
            losses["perceptual"] = gan.loss.perceptual * self.perceptual(pred_frames, frames32, gan.loss.pyramid_scales)
        if gan.loss.equivariance_value or gan.loss.equivariance_jacobian:
            transform = L.RandomTransform(frames.shape[0], gan.loss.transform_sigma_affine, gan.loss.transform_sigma_tps,
                                          gan.loss.transform_points_tps, device=frames.device)
            kp_transformed = self.kp_detector(transform.transform_frame(kp_frames_in))
            value, jacobian = L.equivariance_losses(kp_frames, kp_transformed, transform)
            if gan.loss.equivariance_value:
                losses["equivariance_value"] = gan.loss.equivariance_value * value
            if gan.loss.equivariance_jacobian and gan.model.estimate_jacobian:
                losses["equivariance_jacobian"] = gan.loss.equivariance_jacobian * jacobian
        if gan.loss.kp_spread:
            losses["kp_spread"] = gan.loss.kp_spread * L.keypoint_spread(
                torch.cat([kp_source["value"], kp_frames["value"]]), gan.loss.kp_spread_margin)
        if gan.loss.temporal:
            losses["temporal"] = gan.loss.temporal * L.temporal_consistency(prediction, driving.float())
        if gan.loss.gan or gan.loss.feature_matching:
            kp = kp_frames["value"].detach()
            fake = self.discriminator(pred_frames, kp)
            with torch.no_grad():
                real = self.discriminator(frames32, kp)
            if gan.loss.gan:
                losses["gen_gan"] = gan.loss.gan * L.lsgan_generator([s for _, s in fake])
            if gan.loss.gan and gan.loss.gen_decoded:
                decoded = self.discriminator(out["decoded"].flatten(0, 1), kp)
                losses["gen_gan_decoded"] = gan.loss.gan * gan.loss.gen_decoded * L.lsgan_generator(
                    [s for _, s in decoded])
            if gan.loss.feature_matching:
                losses["feature_matching"] = gan.loss.feature_matching * L.feature_matching(
                    [f for f, _ in real], [f for f, _ in fake])
        if self.temporal_discriminator is not None and gan.loss.temporal_gan and t > 1:
            _, score = self.temporal_discriminator(prediction)
            losses["temporal_gen_gan"] = gan.loss.temporal_gan * L.lsgan_generator([score])

        generated = dict(out)
        generated["kp_source"] = kp_source
        generated["kp_driving"] = kp_driving
        generated["state"] = new_state
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
        fakes = {"fake": (1.0, fake_frames)}
        # extra fakes: the decoder's own image (what the generator synthesises, before blending
        # with the warped source) and a real frame in the wrong pose (another clip's frame judged
        # against these keypoints: wrong_pose_frames); the fake half of the loss is their weighted mean, so
        # real and fake keep equal weight (a blind critic still settles at 0.5, not below)
        loss = self.gan.loss
        if loss.disc_decoded and "decoded" in generated:
            fakes["decoded"] = (loss.disc_decoded, generated["decoded"].detach().flatten(0, 1).float())
        if loss.disc_wrong_pose:
            fakes["wrong_pose"] = (loss.disc_wrong_pose, wrong_pose_frames(driving.float()))
        scores = {name: [s for _, s in self.discriminator(images, kp)] for name, (_, images) in fakes.items()}
        total_weight = sum(weight for weight, _ in fakes.values())
        fake_term = sum(weight * L.lsgan_fake(scores[name]) for name, (weight, _) in fakes.items()) / total_weight
        out = {"disc": L.lsgan_real(real) + fake_term}
        with torch.no_grad():
            out["acc_real"] = torch.stack([(s > 0.5).float().mean() for s in real]).mean()
            for name, fake in scores.items():
                out[f"acc_{name}"] = torch.stack([(s < 0.5).float().mean() for s in fake]).mean()
        if self.temporal_discriminator is not None and driving.shape[1] > 1:
            _, real_t = self.temporal_discriminator(driving.float())
            _, fake_t = self.temporal_discriminator(generated["prediction"].detach())
            out["temporal_disc"] = L.lsgan_discriminator([real_t], [fake_t])
        return out


def load_perceptual_if_used(gan: GanParams) -> nn.Module | None:
    """The VGG19 perceptual loss when its weight is non-zero and ImageNet weights are cached."""
    return L.load_perceptual() if gan.loss.perceptual else None


class LoadedCheckpoint(NamedTuple):
    """What a checkpoint holds for animation: networks (eval mode), their Params, the step reached."""

    networks: dict[str, nn.Module]
    params: Params
    step: int


def load_networks(checkpoint: str | Path, device: str | torch.device = "cpu"
                  ) -> tuple[dict[str, nn.Module], Params]:
    """Networks (eval mode, on ``device``) and the Params they were trained with, from a checkpoint."""
    loaded = load_checkpoint(checkpoint, device)
    return loaded.networks, loaded.params


def load_checkpoint(checkpoint: str | Path, device: str | torch.device = "cpu") -> LoadedCheckpoint:
    """:func:`load_networks` plus the training step, reading the file once."""
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
    if "discriminator" not in models:  # a published weight-only file: the generator side only
        networks.pop("discriminator")
    for name, net in networks.items():
        if name not in models:
            raise UserError(f"{path}: checkpoint has no weights for {name!r}; retrain with this version")
        try:
            net.load_state_dict(models[name])
        except RuntimeError as exc:
            raise UserError(f"{path}: weights for {name!r} do not fit the model its params describe "
                            f"({str(exc).splitlines()[0]}); retrain") from exc
        net.to(device).eval()
    return LoadedCheckpoint(networks, params, int(state.get("step", -1)))
