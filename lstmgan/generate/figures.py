"""Figures of the generation stage (notebook 03): per-video metrics of each generator, a grid of
cross-identity animations, the driving keypoints over time, and the exported real/fake frames.

Each function returns a matplotlib Figure (not tracked by pyplot) and, given ``path``, saves it
as PNG (atomically). Inputs are what :func:`lstmgan.generate.evaluate.evaluate_all` and
:func:`lstmgan.generate.export.export_dataset` return or write (the per-video table, the kept
examples, the export manifest), so a figure can be rebuilt from the stage's files.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from lstmgan.utils.plotting import (PALETTE, colours, image_panel, legend_outside, line_styles, new_figure, save,
                                    styled)

# The per-video metrics drawn, their axis labels and which way is better.
METRICS = {
    "l1": ("L1 (mean |error|, pixels in [0, 1])", "lower"),
    "akd": ("AKD (px at {size} px)", "lower"),
    "flicker": ("flicker (pixels in [0, 1])", "lower"),
    "warp_error": ("warping error (pixels in [0, 1])", "lower"),
}
METHOD_COLOURS = {"lstm": PALETTE[0], "none": PALETTE[1], "copy-source": PALETTE[7], "driving-video": PALETTE[2]}


def method_colour(method: str) -> str:
    return METHOD_COLOURS.get(method, PALETTE[(3 + sum(map(ord, method))) % len(PALETTE)])


@styled
def per_video_metrics(per_video, methods: Sequence[str], size: int, metrics: Sequence[str] = tuple(METRICS),
                      path=None):
    """One panel per metric: a box per method over the test videos with every video as a dot
    (a video's dots are paired across methods: same x jitter)."""
    fig, axes = new_figure(1, len(metrics), figsize=(3.2 * len(metrics), 3.4))
    rng = np.random.default_rng(0)
    for ax, metric in zip(axes[0], metrics):
        label, better = METRICS.get(metric, (metric, ""))
        data, names = [], []
        for m in methods:
            values = per_video.loc[per_video.method == m, metric].dropna().to_numpy()
            if len(values):
                data.append(values)
                names.append(m)
        if not data:
            ax.set_visible(False)
            continue
        boxes = ax.boxplot(data, tick_labels=names, widths=0.55, patch_artist=True, showfliers=False,
                           medianprops={"color": "black"})
        for patch, m in zip(boxes["boxes"], names):
            patch.set(facecolor=method_colour(m), alpha=0.35, edgecolor=method_colour(m))
        for i, (values, m) in enumerate(zip(data, names), start=1):
            jitter = rng.uniform(-0.12, 0.12, len(values))
            ax.scatter(i + jitter, values, s=10, color=method_colour(m), zorder=3)
        ax.set(ylabel=label.format(size=size), title=f"{metric} ({better} is better)" if better else metric)
        ax.tick_params(axis="x", rotation=20)
    fig.suptitle("reconstruction protocol (first frame drives the rest of its own video), one dot per test video")
    return save(fig, path)


@styled
def cross_identity_grid(examples: Mapping[str, Sequence[Mapping[str, Any]]], methods: Sequence[str],
                        times: Sequence[int] = (0, 4, 8, 12), fps: float = 25.0, path=None):
    """Per example: the source face A (left) and B's driving frames, then one row per generator
    with its frames at the same times. ``examples[method][i]`` holds "source", "driving", "pred",
    "source_video", "driving_video" (what evaluate keeps)."""
    count = min(len(examples[m]) for m in methods) if methods else 0
    first = examples[methods[0]][0] if count else None
    times = [t for t in times if first is not None and t < len(first["driving"])]
    rows = max(1, count * (1 + len(methods)))
    fig, axes = new_figure(rows, 1 + max(1, len(times)), figsize=(1.6 * (1 + len(times)) + 0.6, 1.55 * rows + 0.4))
    for ax in axes.flat:
        image_panel(ax)
    r = 0
    for i in range(count):
        ex = examples[methods[0]][i]
        image_panel(axes[r, 0], ex["source"], title=f"source A\n{ex['source_video']}")
        for j, t in enumerate(times):
            image_panel(axes[r, j + 1], ex["driving"][t], title=f"t = {t / fps:.2f} s (frame {t})")
        axes[r, 1].set_ylabel(f"driving B\n{ex['driving_video']}", fontsize=8)
        r += 1
        for m in methods:
            axes[r, 0].set_visible(False)
            for j, t in enumerate(times):
                image_panel(axes[r, j + 1], examples[m][i]["pred"][t])
            axes[r, 1].set_ylabel(f"generated\nby {m}", fontsize=8, color=method_colour(m))
            r += 1
    fig.suptitle("cross-identity animation: A's face should follow B's head and mouth")
    return save(fig, path)


@styled
def keypoint_tracks(kp: np.ndarray, video_id: str, fps: float, size: int, path=None):
    """x and y of every keypoint the detector finds in one driving video, over time; left axis in
    the networks' [-1, 1] units, right axis in pixels of the ``size`` px frame."""
    kp = np.asarray(kp)
    count = kp.shape[1]
    t = np.arange(len(kp)) / fps
    fig, axes = new_figure(1, 2, figsize=(11, 3.4))
    to_px = (lambda v: (v + 1) / 2 * (size - 1), lambda p: p / (size - 1) * 2 - 1)
    for ax, axis, name, ends in ((axes[0, 0], 0, "x", "-1 left, 1 right"),
                                 (axes[0, 1], 1, "y", "-1 top, 1 bottom")):
        for k, colour, style in zip(range(count), colours(count), line_styles(count)):
            ax.plot(t, kp[:, k, axis], color=colour, ls=style, label=f"keypoint {k}")
        ax.set(xlabel="time (s)", ylabel=f"keypoint {name} ({ends})", title=f"keypoint {name} over time")
        second = ax.secondary_yaxis("right", functions=to_px)
        second.set_ylabel(f"{name} (px at {size} px)")
    legend_outside(axes[0, 1], bbox_to_anchor=(1.18, 1.0))
    fig.suptitle(f"keypoints detected in the driving video {video_id}")
    return save(fig, path)


@styled
def export_examples(manifest, root: str | Path, split: str = "test", path=None):
    """The first exported frame of one real and one fake test video in raw, c23 and c40, titled
    with the provenance text every exported PNG carries (``Synthetic``, ``Method``)."""
    from PIL import Image

    pick = manifest[(manifest.split == split) & (manifest.frame == manifest.frame.min())]
    videos = {label: pick[pick.label == label].video_id.iloc[0] for label in ("real", "fake")
              if (pick.label == label).any()}
    compressions = [c for c in ("raw", "c23", "c40") if (pick.compression == c).any()]
    fig, axes = new_figure(max(1, len(videos)), max(1, len(compressions)),
                           figsize=(2.2 * len(compressions) + 0.4, 2.5 * len(videos) + 0.3))
    for row, (label, vid) in enumerate(videos.items()):
        for col, comp in enumerate(compressions):
            rel = pick[(pick.video_id == vid) & (pick.compression == comp)].path.iloc[0]
            with Image.open(Path(root) / rel) as img:
                text = img.text if hasattr(img, "text") else {}
                image_panel(axes[row, col], np.asarray(img.convert("RGB")),
                            title=f"{comp}: Synthetic={text.get('Synthetic', '?')}"
                                  + (f", {text['Method']}" if text.get("Method") else ""))
        axes[row, 0].set_ylabel(f"{label}\n{vid}", fontsize=8)
    fig.suptitle(f"exported {split} frames and the provenance each PNG carries")
    return save(fig, path)
