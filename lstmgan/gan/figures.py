"""Figures of the GAN training stage (notebook 02): a training sample, the loss and accuracy
curves, reconstructions with their error maps, the learnt keypoints, and the dense motion.

Each function returns a matplotlib Figure (not tracked by pyplot) and, given ``path``, saves it
as PNG (atomically). Inputs are a run's metrics history (``{"gen/total": [(step, value), ...]}``)
or tensors/arrays of one batch and the generator's output dict (:func:`lstmgan.gan.train.reconstruct`),
so nothing here trains or loads a model. Matplotlib is imported only when a figure is drawn.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from lstmgan.utils.plotting import (ERROR, PALETTE, SEQUENTIAL, colours, image_panel, legend_outside,
                                    line_styles, new_figure, save, styled)

History = Mapping[str, Sequence[tuple[int, float]]]
ERROR_RANGE = 0.2  # fixed top of the reconstruction error scale (pixel values in [0, 1]): figures compare


def _series(history: History, name: str) -> tuple[np.ndarray, np.ndarray]:
    rows = list(history.get(name, ()))
    return np.array([s for s, _ in rows]), np.array([v for _, v in rows], dtype=float)


def _integer_steps(*axes) -> None:
    from matplotlib.ticker import MaxNLocator

    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _numpy(x: Any) -> np.ndarray:
    return x.detach().float().cpu().numpy() if hasattr(x, "detach") else np.asarray(x, dtype=float)


@styled
def training_sample(source: Any, driving: Any, source_frame: int = 0, start: int = 0, title: str = "", path=None):
    """One training sample: the source frame and the driving clip (CHW tensors or HWC arrays),
    titled with their frame numbers in the video (``source_frame``; the clip starts at ``start``)."""
    clip = len(driving)
    fig, axes = new_figure(1, 1 + clip, figsize=(1.8 * (1 + clip), 2.3))
    image_panel(axes[0, 0], source, title=f"source (frame {source_frame})")
    for t in range(clip):
        image_panel(axes[0, 1 + t], driving[t], title=f"driving, frame {start + t}")
    if title:
        fig.suptitle(title)
    return save(fig, path)


@styled
def losses(history: History, path=None):
    """Left: every generator loss term (log scale) and their weighted total. Right: the generator's
    total and adversarial term against the discriminator's loss."""
    fig, axes = new_figure(1, 2, figsize=(11, 3.6))
    left, right = axes[0]
    terms = sorted(n for n in history if n.startswith("gen/") and n != "gen/total")
    for name, colour, style in zip(terms, colours(len(terms)), line_styles(len(terms))):
        left.plot(*_series(history, name), color=colour, ls=style, lw=1.2, label=name.split("/", 1)[1])
    left.plot(*_series(history, "gen/total"), color="black", lw=2, label="total (weighted sum)")
    left.set(yscale="log", xlabel="training step", ylabel="loss (weighted, log scale)",
             title="generator loss terms")
    legend_outside(left)
    right.plot(*_series(history, "gen/total"), color="black", lw=2, label="generator, total")
    if "gen/gen_gan" in history:
        right.plot(*_series(history, "gen/gen_gan"), color=PALETTE[0], label="generator, adversarial term")
    disc = [n for n in sorted(history) if n.startswith("disc/") and "acc" not in n]
    if disc:
        right.plot(*_series(history, disc[0]), color=PALETTE[3], ls="--", label="discriminator")
    right.set(yscale="log", xlabel="training step", ylabel="loss (log scale)",
              title="generator vs discriminator")
    legend_outside(right)
    _integer_steps(left, right)
    return save(fig, path)


@styled
def discriminator_accuracy(history: History, path=None):
    """The discriminator's accuracy on real and on generated frames (and on each extra fake it is
    trained on, when logged), with the 0.5 chance line."""
    fig, axes = new_figure(1, 1, figsize=(6.5, 3.4))
    ax = axes[0, 0]
    styles = {"disc/acc_real": (PALETTE[0], "-"), "disc/acc_fake": (PALETTE[3], "--"),
              "disc/acc_decoded": (PALETTE[1], "-."), "disc/acc_wrong_pose": (PALETTE[2], ":")}
    for name, label in ACCURACIES:
        steps, values = _series(history, name)
        if len(steps):
            colour, ls = styles[name]
            ax.plot(steps, values, color=colour, ls=ls, label=f"on {label}")
    ax.axhline(0.5, color="grey", lw=0.8, ls=":", label="chance (0.5)")
    ax.set(ylim=(-0.02, 1.02), xlabel="training step", ylabel="share of patches judged right",
           title="discriminator accuracy")
    legend_outside(ax)
    _integer_steps(ax)
    return save(fig, path)


@styled
def validation_l1(history: History, target_ratio: float, path=None):
    """Validation L1 of the model, of copying the source frame, and the quality bar
    ``target_ratio`` x the copy L1 (``report.l1_target_ratio``)."""
    fig, axes = new_figure(1, 1, figsize=(6.5, 3.4))
    ax = axes[0, 0]
    steps, model = _series(history, "val/l1")
    copy_steps, copy = _series(history, "val/copy_l1")
    ax.plot(steps, model, "o-", color=PALETTE[0], label="model")
    ax.plot(copy_steps, copy, "s--", color=PALETTE[7], label="copy the source frame")
    if len(copy):
        ax.plot(copy_steps, target_ratio * copy, ":", color=PALETTE[3],
                label=f"quality bar ({target_ratio:g} x copy)")
    ax.set(xlabel="training step", ylabel="L1 (mean |error|, pixels in [0, 1])",
           title="validation reconstruction error", ylim=(0, None))
    legend_outside(ax)
    _integer_steps(ax)
    return save(fig, path)


@styled
def reconstructions(source: Any, driving: Any, out: Mapping[str, Any], t: int | None = None,
                    error_range: float = ERROR_RANGE, path=None):
    """One row per validation sample at driving frame ``t`` (default: the last): source | driving |
    generated | |generated - driving| | |source - driving| (the error of copying the source) |
    source warped by the flow | the decoder's image. Error maps share one fixed colour scale and
    carry their mean in the corner."""
    src, drv, pred = _numpy(source), _numpy(driving), _numpy(out["prediction"])
    t = drv.shape[1] - 1 if t is None else t
    decoded = _numpy(out["decoded"]) if "decoded" in out else None
    deformed = _numpy(out["deformed"])
    columns = ["source", f"driving (frame {t})", "generated", "|generated - driving|",
               "|source - driving|\n(copying)", "warped source", "decoder image"]
    rows = len(src)
    fig, axes = new_figure(rows, len(columns), figsize=(1.55 * len(columns) + 0.9, 1.65 * rows + 0.5))
    shown = None
    for b in range(rows):
        gt = drv[b, t]
        errors = {3: np.abs(pred[b, t] - gt).mean(0), 4: np.abs(src[b] - gt).mean(0)}
        pictures = [src[b], gt, pred[b, t], None, None, deformed[b, t], None if decoded is None else decoded[b, t]]
        for c, picture in enumerate(pictures):
            ax = axes[b, c]
            if c in errors:
                shown = image_panel(ax, errors[c], cmap=ERROR, vmin=0, vmax=error_range)
                ax.text(0.03, 0.97, f"{errors[c].mean():.3f}", transform=ax.transAxes, va="top", ha="left",
                        color="white", fontsize=7)
            else:
                image_panel(ax, picture)
            if b == 0:
                ax.set_title(columns[c], fontsize=8)
        axes[b, 0].set_ylabel(f"sample {b}")
    fig.colorbar(shown, ax=axes[:, 3:5], location="bottom", shrink=0.9, extend="max",
                 label="mean |error| over RGB (pixels in [0, 1]); corner: image mean")
    fig.suptitle("validation identities (never trained on): reconstruction and its error")
    return save(fig, path)


def keypoint_spread(keypoints: Any, size: int) -> float:
    """Root-mean-square distance (px at ``size``) of the keypoints from their own centroid, averaged
    over frames; ``keypoints`` (..., K, 2) in [-1, 1]. Small = the keypoints are bunched together."""
    xy = (_numpy(keypoints) + 1) / 2 * (size - 1)
    centred = xy - xy.mean(axis=-2, keepdims=True)
    return float(np.sqrt((centred ** 2).sum(-1).mean(-1)).mean())


@styled
def keypoints(source: Any, driving: Any, out: Mapping[str, Any], path=None):
    """The learnt keypoints (colour = keypoint index) and their jacobians (two short lines, the
    local affine frame) on the source and each driving frame; the title states their spread."""
    from matplotlib.lines import Line2D

    src, drv = _numpy(source), _numpy(driving)
    kp_src, jac_src = _numpy(out["kp_source"]["value"]), _numpy(out["kp_source"]["jacobian"])
    kp_drv, jac_drv = _numpy(out["kp_driving"]["value"]), _numpy(out["kp_driving"]["jacobian"])
    rows, clip, k_count, size = len(src), drv.shape[1], kp_src.shape[1], src.shape[-1]
    palette = colours(k_count)
    fig, axes = new_figure(rows, 1 + clip, figsize=(1.9 * (1 + clip) + 1.2, 1.9 * rows + 0.6))
    for b in range(rows):
        frames = [(src[b], kp_src[b], jac_src[b], "source")]
        frames += [(drv[b, t], kp_drv[b, t], jac_drv[b, t], f"driving, frame {t}") for t in range(clip)]
        for ax, (frame, kp, jac, title) in zip(axes[b], frames):
            image_panel(ax, frame, title=title if b == 0 else None)
            xy = (kp + 1) / 2 * (size - 1)
            for k in range(k_count):
                for axis in range(2):
                    tip = xy[k] + jac[k, :, axis] * 0.08 * size
                    ax.plot([xy[k, 0], tip[0]], [xy[k, 1], tip[1]], color=palette[k], lw=0.9)
            ax.scatter(xy[:, 0], xy[:, 1], c=palette, s=22, edgecolors="white", linewidths=0.6, zorder=3)
            ax.set(xlim=(-0.5, size - 0.5), ylim=(size - 0.5, -0.5))
        axes[b, 0].set_ylabel(f"sample {b}")
    handles = [Line2D([], [], ls="", marker="o", markerfacecolor=c, markeredgecolor="white", markersize=7)
               for c in palette]
    fig.legend(handles, [f"keypoint {k}" for k in range(k_count)], loc="outside lower center",
               ncol=min(k_count, 10))
    spread = keypoint_spread(np.concatenate([kp_src[:, None], kp_drv], 1), size)
    fig.suptitle(f"{k_count} learnt keypoints and their jacobians\nspread (RMS distance from their centre): "
                 f"{spread:.1f} px in a {size} px frame")
    return save(fig, path)


def displacement(deformation: Any) -> np.ndarray:
    """The flow minus the identity grid (..., h, w, 2): how far, in [-1, 1] units (x, y), each
    output pixel is fetched from in the source."""
    d = _numpy(deformation)
    h, w = d.shape[-3:-1]
    ys, xs = np.meshgrid(np.linspace(-1, 1, h), np.linspace(-1, 1, w), indexing="ij")
    return d - np.stack([xs, ys], -1)


def flow_colour(disp: np.ndarray, largest: float) -> np.ndarray:
    """RGB of a displacement field: hue = direction, brightness = length / ``largest`` (black = still)."""
    from matplotlib.colors import hsv_to_rgb

    angle = (np.arctan2(disp[..., 1], disp[..., 0]) + np.pi) / (2 * np.pi)
    value = np.clip(np.hypot(disp[..., 0], disp[..., 1]) / max(largest, 1e-12), 0, 1)
    return hsv_to_rgb(np.stack([angle, np.ones_like(angle), value], -1))


def flow_key(size: int = 65) -> np.ndarray:
    """The colour key of :func:`flow_colour`: a disc whose colour at offset (x, y) from its centre
    is that of a displacement (x, y) (image y grows downwards), full brightness on the rim."""
    ys, xs = np.meshgrid(np.linspace(-1, 1, size), np.linspace(-1, 1, size), indexing="ij")
    key = flow_colour(np.stack([xs, ys], -1), 1.0)
    key[np.hypot(xs, ys) > 1] = 1.0
    return key


@styled
def dense_motion(source: Any, driving: Any, out: Mapping[str, Any], t: int | None = None, min_rim_px: float = 1.0,
                 path=None):
    """Per sample at driving frame ``t`` (default: the last): source | driving | dense flow (with its
    colour key) | which motion each pixel follows (mask argmax: background or keypoint k) | the
    occlusion map on a fixed 0-1 scale (1 = the warped source is used). Flow brightness is scaled
    to the largest displacement, but never to less than ``min_rim_px`` pixels, so sub-pixel flows
    look dark instead of saturated."""
    from matplotlib.colors import BoundaryNorm, ListedColormap

    src, drv = _numpy(source), _numpy(driving)
    t = drv.shape[1] - 1 if t is None else t
    disp = displacement(out["deformation"][:, t])
    mask = _numpy(out["mask"][:, t])
    occlusion = _numpy(out["occlusion"][:, t, 0])
    rows, motions, size = len(src), mask.shape[1], src.shape[-1]
    largest = max(float(np.hypot(disp[..., 0], disp[..., 1]).max()), 2 * min_rim_px / (size - 1), 1e-6)
    mask_cmap = ListedColormap(["#d9d9d9", *colours(motions - 1)])  # grey = background, then keypoint colours
    mask_norm = BoundaryNorm(np.arange(motions + 1) - 0.5, motions)
    fig, axes = new_figure(rows, 6, figsize=(12, 2.0 * rows + 0.8),
                           gridspec_kw={"width_ratios": [1, 1, 1, 1, 1, 0.8]})
    for b in range(rows):
        image_panel(axes[b, 0], src[b], title="source" if b == 0 else None, ylabel=f"sample {b}")
        image_panel(axes[b, 1], drv[b, t], title=f"driving (frame {t})" if b == 0 else None)
        image_panel(axes[b, 2], flow_colour(disp[b], largest), title="dense flow" if b == 0 else None)
        shown_mask = image_panel(axes[b, 3], mask[b].argmax(0), cmap=mask_cmap, norm=mask_norm,
                                 title="motion followed" if b == 0 else None)
        shown_occ = image_panel(axes[b, 4], occlusion[b], cmap=SEQUENTIAL, vmin=0, vmax=1,
                                title="occlusion map" if b == 0 else None)
        axes[b, 4].text(0.03, 0.97, f"min {occlusion[b].min():.2f}", transform=axes[b, 4].transAxes,
                        va="top", ha="left", color="white", fontsize=7)
        axes[b, 5].axis("off")
    key_ax = axes[0, 5]
    key_ax.axis("on")
    key_ax.imshow(flow_key(), extent=(-1, 1, 1, -1))
    key_ax.set_xticks([-1, 0, 1], ["left", "", "right"])
    key_ax.set_yticks([-1, 0, 1], ["up", "", "down"])
    key_ax.set_title(f"flow key\n(rim = {largest * (size - 1) / 2:.2g} px)", fontsize=8)
    cbar = fig.colorbar(shown_mask, ax=axes[:, 3], location="bottom", shrink=0.95,
                        ticks=np.arange(motions))
    cbar.ax.set_xticklabels(["bg"] + [str(k) for k in range(motions - 1)], fontsize=7)
    cbar.set_label("background or keypoint k")
    fig.colorbar(shown_occ, ax=axes[:, 4], location="bottom", shrink=0.95,
                 label="1 = warped source visible\n0 = occluded (decoder paints)")
    fig.suptitle("dense motion: where each pixel is fetched from, which keypoint's motion it follows, "
                 "and which pixels the source cannot show")
    return save(fig, path)


PROBE_INPUTS = (("real", "real frames"), ("generated", "generated frames"),
                ("blurred", "real, 5x5 box blur"), ("wrong_pose", "another clip's frame (wrong pose)"))
ACCURACIES = (("disc/acc_real", "real frames"), ("disc/acc_fake", "generated frames"),
              ("disc/acc_decoded", "decoder image"), ("disc/acc_wrong_pose", "wrong-pose frames"))


def discriminator_figure(history: History, title: str = ""):
    """The held-out probe in two panels: mean patch scores per input (real -> 1, fake -> 0, the
    per-image spread as a band) and, on its own axis, the real-vs-generated accuracy. Returns the figure."""
    import matplotlib.pyplot as plt

    fig, (probe_ax, probe_acc_ax) = plt.subplots(1, 2, figsize=(11, 3.6), constrained_layout=True)
    for name, label in PROBE_INPUTS:
        steps, values = _series(history, f"probe/{name}")
        if not len(steps):
            continue
        line, = probe_ax.plot(steps, values, "o-", ms=3, label=label)
        _, spread = _series(history, f"probe/{name}_std")
        if len(spread) == len(values):
            mean, std = np.asarray(values), np.asarray(spread)
            probe_ax.fill_between(steps, mean - std, mean + std, color=line.get_color(), alpha=0.15, lw=0)
    probe_ax.set(xlabel="step", ylabel="mean patch score (real -> 1)",
                 title="probe: held-out frames, ±1 sd over images")
    probe_ax.legend(fontsize=7)
    steps, values = _series(history, "probe/accuracy")
    if len(steps):
        probe_acc_ax.plot(steps, values, "ko-", ms=3, lw=1.2, label="real-vs-generated accuracy")
    probe_acc_ax.axhline(0.5, color="grey", lw=0.8, ls=":", label="chance (0.5)")
    probe_acc_ax.set(ylim=(-0.02, 1.02), xlabel="step", ylabel="accuracy",
                     title="probe: real vs generated, thresholded at 0.5")
    probe_acc_ax.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    return fig
