"""Motion transfer: animate one source face with the motion of a driving video.

Two ways to move the source's keypoints:

* **absolute**: the generated frame takes the driving frame's keypoints as they are. The source's
  face shape is replaced by the driver's (identity leaks when the faces differ).
* **relative** (default, as in first-order-motion): the source keeps its own pose and is moved by the
  driving video's *change* from its first (or best-matching) frame:
  ``kp_t = kp_source + (kp_driving_t - kp_driving_0) * scale`` and the jacobians by
  ``J_t = (J_driving_t J_driving_0^-1) J_source``. With ``adapt_scale`` the displacement is scaled by
  ``sqrt(area(hull(kp_source)) / area(hull(kp_driving_0)))`` so a small face in the driving video
  does not make the source move too little. Zero driving motion leaves the source pose unchanged.

``find_best_frame`` picks the driving frame whose normalised keypoints (centred, divided by the
square root of their convex-hull area) are closest to the source's; the animation then runs forwards
and backwards from it, so relative motion starts from a matching pose.

An optional ``kp_filter`` (e.g. :meth:`lstmgan.generate.filters.OneEuro.keypoints`) smooths the
driving keypoints and jacobians causally before the transfer: the non-learned temporal baseline.

The ConvLSTM state of the generator runs through the video in order; frames go through the networks
in chunks of ``batch_size`` (one call per chunk, state carried), which is equal to one call on the
whole video and to a stream of one-frame calls.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import Tensor

from lstmgan.errors import UserError
from lstmgan.utils.device import resolve_device
from lstmgan.utils.tensors import to_tensor, to_uint8

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------
# Keypoint arithmetic
# --------------------------------------------------------------------------------------------
def hull_area(points: np.ndarray | Tensor) -> float:
    """Area of the convex hull of (K, 2) points (0 for fewer than 3 non-collinear points)."""
    pts = np.asarray(points.detach().cpu() if isinstance(points, Tensor) else points, np.float64)
    pts = pts[np.isfinite(pts).all(axis=1)]
    if len(pts) < 3:
        return 0.0
    from scipy.spatial import ConvexHull, QhullError

    try:
        return float(ConvexHull(pts).volume)  # in 2-D "volume" is the area
    except QhullError:  # collinear or coincident points
        return 0.0


def movement_scale(kp_source: Tensor, kp_driving_initial: Tensor) -> float:
    """sqrt(hull area of the source keypoints / hull area of the initial driving keypoints)."""
    a_s, a_d = hull_area(kp_source), hull_area(kp_driving_initial)
    if a_s <= 0 or a_d <= 0:
        return 1.0
    return float(np.sqrt(a_s / a_d))


def transfer_keypoints(kp_source: dict[str, Tensor], kp_driving: dict[str, Tensor],
                       kp_driving_initial: dict[str, Tensor], relative: bool = True,
                       adapt_scale: bool = True) -> dict[str, Tensor]:
    """The driving keypoints to render the source with.

    ``kp_source``: {"value" (K,2), "jacobian" (K,2,2)}; ``kp_driving``: {"value" (T,K,2),
    "jacobian" (T,K,2,2)}; ``kp_driving_initial``: the reference driving frame's (K,2)/(K,2,2).
    Returns {"value" (T,K,2), "jacobian" (T,K,2,2)}.
    """
    if not relative:
        return {"value": kp_driving["value"], "jacobian": kp_driving["jacobian"]}
    scale = movement_scale(kp_source["value"], kp_driving_initial["value"]) if adapt_scale else 1.0
    value = kp_source["value"][None] + (kp_driving["value"] - kp_driving_initial["value"][None]) * scale
    change = kp_driving["jacobian"] @ torch.linalg.inv(kp_driving_initial["jacobian"])[None]
    jacobian = change @ kp_source["jacobian"][None]
    return {"value": value, "jacobian": jacobian}


def normalized_points(points: np.ndarray) -> np.ndarray:
    """(..., K, 2) points centred on their mean and divided by sqrt(hull area): pose, not size."""
    points = np.asarray(points, np.float64)
    centred = points - np.nanmean(points, axis=-2, keepdims=True)
    flat = centred.reshape(-1, *centred.shape[-2:])
    scales = np.array([np.sqrt(max(hull_area(p), 1e-12)) for p in flat]).reshape(centred.shape[:-2] + (1, 1))
    return centred / scales


def find_best_frame(source_points: np.ndarray, driving_points: np.ndarray) -> int:
    """Index of the driving frame whose normalised points are closest to the source's.

    ``source_points`` (K, 2), ``driving_points`` (T, K, 2) (landmarks or keypoints).
    """
    src = normalized_points(source_points)
    drv = normalized_points(driving_points)
    dist = np.nansum((drv - src[None]) ** 2, axis=(1, 2))
    return int(np.argmin(dist))


# --------------------------------------------------------------------------------------------
# The animator
# --------------------------------------------------------------------------------------------
@dataclass
class Animation:
    """Result of one animation: frames and the keypoint tracks behind them."""

    frames: Tensor  # (T, 3, S, S) in [0, 1]
    kp_driving: Tensor  # (T, K, 2) the driving video's own keypoints
    kp_used: Tensor  # (T, K, 2) the keypoints the source was rendered with
    kp_source: Tensor  # (K, 2)
    best_frame: int = 0
    info: dict[str, Any] = field(default_factory=dict)
    kp_rendered: Tensor | None = None  # (T, K, 2) kp_used after the generator's keypoint recurrence (temporal="kp")
    occlusion: Tensor | None = None  # (T, S, S) the generator's occlusion map at the image size
    # (1 = warped source, 0 = painted by the decoder), as blended into ``frames``


class Animator:
    """Runs a loaded keypoint detector + generator over videos.

    ``nets`` is what :func:`lstmgan.models.full_model.load_networks` returns (eval mode).
    """

    def __init__(self, nets: dict[str, torch.nn.Module], device: torch.device | str = "cpu",
                 batch_size: int = 8, relative: bool = True, adapt_scale: bool = True,
                 kp_filter: Callable[[dict[str, Tensor]], dict[str, Tensor]] | None = None):
        self.kp_filter = kp_filter  # causal filter on the driving keypoints (lstmgan.generate.filters)
        self.kp_detector = nets["kp_detector"]
        self.generator = nets["generator"]
        self.device = torch.device(device)
        self.batch_size = max(1, int(batch_size))
        self.relative = relative
        self.adapt_scale = adapt_scale

    @torch.inference_mode()
    def keypoints(self, frames: Tensor) -> dict[str, Tensor]:
        """Keypoints of (T, 3, S, S) frames, computed in chunks: {"value" (T,K,2), "jacobian" (T,K,2,2)}."""
        values, jacobians = [], []
        for i in range(0, frames.shape[0], self.batch_size):
            kp = self.kp_detector(frames[i:i + self.batch_size].to(self.device))
            values.append(kp["value"].float())
            jacobians.append(kp["jacobian"].float())
        return {"value": torch.cat(values), "jacobian": torch.cat(jacobians)}

    @torch.inference_mode()
    def render(self, source: Tensor, kp_source: dict[str, Tensor], kp_driving: dict[str, Tensor]) -> Tensor:
        """Generate (T, 3, S, S) frames in order, ``batch_size`` frames per call, state carried."""
        return self.render_with_occlusion(source, kp_source, kp_driving)[0]

    @torch.inference_mode()
    def render_with_occlusion(self, source: Tensor, kp_source: dict[str, Tensor], kp_driving: dict[str, Tensor]
                              ) -> tuple[Tensor, Tensor | None]:
        """:meth:`render` plus the occlusion map (T, S, S) upsampled to the image size exactly as the
        generator blends it (bilinear, align_corners False); None if the generator gives none."""
        return self._render(source, kp_source, kp_driving)[:2]

    def _render(self, source: Tensor, kp_source: dict[str, Tensor], kp_driving: dict[str, Tensor]
                ) -> tuple[Tensor, Tensor | None, Tensor | None]:
        """(frames, occlusion, keypoints rendered with): the last is the (T, K, 2) driving keypoints
        after the generator's own keypoint recurrence (``temporal="kp"``), None without one."""
        src = source[None].to(self.device)
        kp_s = {k: v[None].to(self.device) for k, v in kp_source.items()}
        state = None
        outputs, occlusions, refined = [], [], []
        n = kp_driving["value"].shape[0]
        for i in range(0, n, self.batch_size):
            kp_d = {k: v[None, i:i + self.batch_size].to(self.device) for k, v in kp_driving.items()}
            out, state = self.generator(src, kp_s, kp_d, state=state)
            outputs.append(out["prediction"][0].float())
            if "kp_refined" in out:  # a keypoint recurrence (temporal="kp") moved the keypoints it was given
                refined.append(out["kp_refined"]["value"][0].float().cpu())
            if out.get("occlusion") is not None:
                occ = out["occlusion"][0].float()  # (t, 1, h, w)
                occ = torch.nn.functional.interpolate(occ, size=source.shape[-2:], mode="bilinear",
                                                      align_corners=False)
                occlusions.append(occ[:, 0])
        occlusion = torch.cat(occlusions) if len(occlusions) == len(outputs) else None
        rendered = torch.cat(refined) if refined and len(refined) == len(outputs) else None
        return torch.cat(outputs), occlusion, rendered

    @torch.inference_mode()
    def animate(self, source: Tensor, driving: Tensor, find_best: bool = False,
                relative: bool | None = None, adapt_scale: bool | None = None) -> Animation:
        """Animate ``source`` (3, S, S) with ``driving`` (T, 3, S, S); both float in [0, 1]."""
        relative = self.relative if relative is None else relative
        adapt_scale = self.adapt_scale if adapt_scale is None else adapt_scale
        if driving.ndim != 4 or driving.shape[0] == 0:
            raise ValueError(f"driving must be (T, 3, S, S) with T >= 1, got {tuple(driving.shape)}")
        kp_src = self.keypoints(source[None])
        kp_src = {k: v[0] for k, v in kp_src.items()}
        kp_raw = kp_drv = self.keypoints(driving)
        if self.kp_filter is not None:
            kp_drv = self.kp_filter(kp_raw)
        best = find_best_frame(kp_src["value"].cpu().numpy(), kp_drv["value"].cpu().numpy()) if find_best else 0
        initial = {k: v[best] for k, v in kp_drv.items()}
        kp_used = transfer_keypoints(kp_src, kp_drv, initial, relative=relative, adapt_scale=adapt_scale)
        forward, occ, rendered = self._render(source, kp_src, {k: v[best:] for k, v in kp_used.items()})
        if best > 0:  # backwards from the best frame, then put in time order
            back_kp = {k: v[:best + 1].flip(0) for k, v in kp_used.items()}
            backward, occ_back, rendered_back = self._render(source, kp_src, back_kp)
            frames = torch.cat([backward[1:].flip(0), forward])
            occ = None if occ is None or occ_back is None else torch.cat([occ_back[1:].flip(0), occ])
            rendered = None if rendered is None or rendered_back is None else torch.cat([rendered_back[1:].flip(0), rendered])
        else:
            frames = forward
        return Animation(frames=frames, kp_driving=kp_raw["value"].cpu(), kp_used=kp_used["value"].cpu(),
                         kp_source=kp_src["value"].cpu(), best_frame=best, kp_rendered=rendered,
                         occlusion=None if occ is None else occ.cpu(),
                         info={"relative": relative, "adapt_scale": adapt_scale,
                               "scale": movement_scale(kp_src["value"], initial["value"]) if relative and adapt_scale else 1.0})


# --------------------------------------------------------------------------------------------
# Files in, files out
# --------------------------------------------------------------------------------------------
def _resize(frames: np.ndarray, size: int) -> np.ndarray:
    """Resize (T, H, W, 3) uint8 square frames to ``size`` (antialiased)."""
    if frames.shape[1:3] == (size, size):
        return frames
    t = torch.from_numpy(np.array(frames, dtype=np.uint8)).permute(0, 3, 1, 2).float()
    t = torch.nn.functional.interpolate(t, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return t.round().clamp(0, 255).byte().permute(0, 2, 3, 1).numpy()


def crop_faces(frames: np.ndarray, size: int, what: str, crop_scale: float = 1.3,
               detector: str = "auto") -> np.ndarray:
    """Crop the face in (T, H, W, 3) frames with the data stage's square rule, resized to ``size``.

    Uses :mod:`lstmgan.face.detection` (detector, face track, ``crop_square``). Frames already at the
    model's size are taken as face crops; a square input in which no face is found is taken as a
    crop too (with a log line), since it is most likely one already. Raises UserError naming
    ``what`` when a non-square input shows no face.
    """
    h, w = frames.shape[1:3]
    if h == w == size:
        return _resize(frames, size)
    from lstmgan.face import detection as faces

    track = faces.find_face_track(iter(frames), faces.make_detector(detector))
    found = track.found
    if not found.any():
        if h == w:
            log.info("%s: no face found; using the whole square frame as the face crop", what)
            return _resize(frames, size)
        raise UserError(f"{what}: no face found; pass an image/video showing one frontal face")
    boxes = track.boxes.copy()
    idx = np.where(found)[0]
    nearest = idx[np.abs(np.arange(len(boxes))[:, None] - idx[None]).argmin(axis=1)]
    boxes = boxes[nearest]  # frames without a face take the nearest frame's box
    return np.stack([faces.crop_resize(f, faces.crop_square(b, w, h, crop_scale), size)
                     for f, b in zip(frames, boxes)])


def resolve_checkpoint(name_or_path: str | Path, trained_root: str | Path = "models/gan") -> Path:
    """A checkpoint path as given, or for a method name (``lstm``, ``none``) the checkout's trained
    ``<trained_root>/<name>/latest.pt`` if there is one, else the published weights; logged."""
    from lstmgan.generate.publish import published_checkpoint

    text = str(name_or_path)
    if text not in ("lstm", "none"):
        return Path(text)
    trained = Path(trained_root) / text / "latest.pt"
    chosen = trained if trained.is_file() else published_checkpoint(text)
    if not chosen.is_file():
        raise UserError(f"no {text} generator: neither {trained} (train one: `dvc repro train`) nor the published "
                        f"{chosen} (this installation has none; pass --checkpoint PATH)")
    log.info("generator: %s (%s)", chosen, "trained in this checkout" if chosen == trained else "published weights")
    return chosen


def animate_files(source_path: str | Path, driving_path: str | Path, out_path: str | Path,
                  checkpoint: str | Path, device: str = "auto", relative: bool = True,
                  adapt_scale: bool = True, find_best: bool = False, batch_size: int = 8,
                  gif: str | Path | None = None, side_by_side: str | Path | None = None,
                  max_frames: int = 0) -> Animation:
    """Read a source image and a driving video, animate, write an H.264 MP4 (+ GIF, side-by-side)."""
    from lstmgan import __version__
    from lstmgan.media.video import read_image, read_video, write_gif, write_video
    from lstmgan.models.full_model import load_networks
    from lstmgan.utils.io import all_or_nothing, check_output

    for path in (out_path, gif, side_by_side):  # before the work: a folder given as a file fails now
        if path:
            check_output(path)
    dev = resolve_device(device)
    checkpoint = Path(checkpoint)
    if not checkpoint.is_file():
        raise UserError(f"{checkpoint}: no such checkpoint; train one (`lstmgan train`) or pass --checkpoint PATH")
    nets, params = load_networks(checkpoint, dev)
    size = int(params.data.size)
    crop = dict(crop_scale=params.data.crop_scale, detector=params.data.face_detector)
    source = read_image(source_path)
    driving, fps = read_video(driving_path, max_frames=max_frames)
    source = crop_faces(source[None], size, str(source_path), **crop)[0]
    driving = crop_faces(driving, size, str(driving_path), **crop)
    animator = Animator(nets, dev, batch_size=batch_size, relative=relative, adapt_scale=adapt_scale)
    result = animator.animate(to_tensor(source, dev), to_tensor(driving, dev), find_best=find_best)
    frames = to_uint8(result.frames)
    meta = provenance_tags(generator=generator_name(params.gan.temporal), version=__version__,
                           extra=f"source={Path(source_path).name}; driving={Path(driving_path).name}")
    with all_or_nothing():  # the video, its GIF and the side-by-side appear together or not at all
        write_video(out_path, frames, fps=fps, crf=18, metadata=meta)
        if gif:
            write_gif(gif, frames, fps=fps)
        if side_by_side:
            drv = driving[:len(frames)]
            src = np.broadcast_to(source, drv.shape)
            write_video(side_by_side, np.concatenate([src, drv, frames], axis=2), fps=fps, crf=18,
                        metadata=meta)
    log.info("animated %d frames -> %s (best driving frame %d, %s motion)", len(frames), out_path,
             result.best_frame, "relative" if relative else "absolute")
    return result


def provenance_tags(generator: str, version: str, synthetic: bool = True, extra: str = "") -> dict[str, str]:
    """MP4 container tags marking a file as synthetic (or real) with its generator and version."""
    what = "SYNTHETIC (deepfake)" if synthetic else "REAL (not synthetic)"
    comment = f"{what}; generator: {generator}; lstmgan {version}"
    if extra:
        comment += f"; {extra}"
    # MP4 keeps these standard keys (custom keys and "encoder" are dropped or overwritten by the muxer)
    return {"comment": comment, "title": what, "artist": f"{generator} (lstmgan {version})",
            "description": comment}


def generator_name(temporal: str) -> str:
    """Human-readable generator name for provenance tags."""
    return ("LSTM-GAN (first-order motion + ConvLSTM)" if temporal == "lstm"
            else "first-order-motion baseline (no ConvLSTM)")
