"""Figures of the data stage (notebook 01): who is in the store, the ground-truth landmarks and
motion of one video, what the degraded copy adds to it, and what H.264 compression does to it.

Each function returns a matplotlib Figure (not tracked by pyplot) and, given ``path``, saves it
as PNG (atomically). The inputs are plain arrays and records, so each figure can be rebuilt from
a store without the notebook: ``contact_sheet(open_store("data/faces"), path=...)``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from lstmgan.utils.plotting import ERROR, PALETTE, image_panel, legend_outside, new_figure, save, styled

# iBUG-300W landmark groups and their colours (colour-blind-safe, visible on skin and hair).
LANDMARK_GROUPS = {"jaw": range(0, 17), "brows": range(17, 27), "nose": range(27, 36), "eyes": range(36, 48),
                   "mouth": range(48, 68)}
LANDMARK_COLOURS = {"jaw": PALETTE[9], "brows": PALETTE[8], "nose": PALETTE[3], "eyes": PALETTE[2],
                    "mouth": PALETTE[4]}
SPLIT_COLOURS = {"train": PALETTE[0], "val": PALETTE[1], "test": PALETTE[2]}
POSE_ANGLES = ("yaw", "pitch", "roll")
EXPRESSIONS = ("mouth_open", "eye_open", "brow_raise")


@styled
def contact_sheet(store, columns: int = 16, path=None):
    """The first frame of one video per identity, titled with the identity and coloured by split."""
    people: dict[str, object] = {}
    for record in store:
        people.setdefault(record.identity, record)
    records = list(people.values())
    columns = max(1, min(columns, len(records)))
    rows = max(1, int(np.ceil(len(records) / columns)))
    fig, axes = new_figure(rows, columns, figsize=(1.0 * columns, 1.2 * rows + 0.5))
    for ax in axes.flat[len(records):]:
        ax.axis("off")
    for ax, record in zip(axes.flat, records):
        colour = SPLIT_COLOURS.get(record.split, "black")
        image_panel(ax, store.frames(record.video_id)[0])
        ax.set_title(record.identity, fontsize=6, color=colour)
        for spine in ax.spines.values():  # a frame in the split's colour
            spine.set(visible=True, color=colour, linewidth=2.0)
    counts = {s: sum(r.split == s for r in records) for s in SPLIT_COLOURS}
    from matplotlib.patches import Patch

    fig.legend([Patch(color=c) for c in SPLIT_COLOURS.values()],
               [f"{s} ({counts[s]} identities)" for s in SPLIT_COLOURS], loc="outside lower center",
               ncol=3)
    fig.suptitle(f"One frame per identity ({len(records)} people, {store.size} x {store.size} px)")
    return save(fig, path)


@styled
def landmarks_strip(frames: np.ndarray, landmarks: np.ndarray, boxes: np.ndarray, title: str = "",
                    count: int = 6, path=None):
    """``count`` evenly spaced frames with their 68 landmarks (coloured by face part) and face box."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Rectangle

    picks = np.linspace(0, len(frames) - 1, min(count, len(frames))).astype(int)
    fig, axes = new_figure(1, len(picks), figsize=(2.1 * len(picks), 2.9))
    for ax, t in zip(axes[0], picks):
        image_panel(ax, frames[t], title=f"frame {t}")
        if np.isfinite(landmarks[t]).all():
            for name, idx in LANDMARK_GROUPS.items():
                ax.scatter(landmarks[t, list(idx), 0], landmarks[t, list(idx), 1], s=7,
                           c=LANDMARK_COLOURS[name], edgecolors="black", linewidths=0.3)
        if np.isfinite(boxes[t]).all():
            x0, y0, x1, y1 = boxes[t]
            ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, color="white", lw=1.0, ls="--"))
    handles = [Line2D([], [], ls="", marker="o", markerfacecolor=c, markeredgecolor="black", markersize=6)
               for c in LANDMARK_COLOURS.values()]
    labels = [f"{name} {idx.start}-{idx.stop - 1}" for name, idx in LANDMARK_GROUPS.items()]
    handles.append(Line2D([], [], color="grey", ls="--"))
    labels.append("face box")
    fig.legend(handles, labels, loc="outside lower center", ncol=len(labels))
    fig.suptitle(f"{title}: 68 ground-truth landmarks (iBUG-300W order) and the face box" if title
                 else "68 ground-truth landmarks (iBUG-300W order) and the face box")
    return save(fig, path)


@styled
def motion_plot(pose: np.ndarray, expression: np.ndarray, fps: float, pose_names: Sequence[str],
                expression_names: Sequence[str], title: str = "", path=None):
    """Ground-truth head pose (degrees) and expression (0..1) of one video over time (seconds)."""
    t = np.arange(len(pose)) / fps
    fig, axes = new_figure(1, 2, figsize=(10, 3.2))
    a1, a2 = axes[0]
    for i, name in enumerate(pose_names):
        if name in POSE_ANGLES:
            a1.plot(t, np.degrees(pose[:, i]), label=name)
    a1.axhline(0, color="grey", lw=0.6)
    a1.set(xlabel="time (s)", ylabel="angle (degrees)", title="head pose")
    legend_outside(a1)
    for i, name in enumerate(expression_names):
        if name in EXPRESSIONS:
            a2.plot(t, expression[:, i], label=name.replace("_", " "))
    a2.set(xlabel="time (s)", ylabel="amount (0 = closed / neutral, 1 = fully)", title="expression",
           ylim=(-0.02, 1.02))
    legend_outside(a2)
    if title:
        fig.suptitle(title)
    return save(fig, path)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio of 8-bit images (dB); inf when equal."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255 ** 2 / mse)


def compression_table(decoded: Mapping[str, np.ndarray], folders: Mapping[str, Path] | None = None):
    """One row per version: frames, PSNR vs ``raw`` over the whole clip, size of all its videos (KiB)."""
    import pandas as pd

    rows = []
    for name, clip in decoded.items():
        row = {"version": name, "frames": len(clip), "PSNR vs raw (dB)": round(psnr(clip, decoded["raw"]), 2)}
        if folders is not None and name in folders:
            row["all videos (KiB)"] = round(sum(p.stat().st_size for p in Path(folders[name]).rglob("*.mp4")) / 1024, 1)
        rows.append(row)
    return pd.DataFrame(rows).set_index("version")


@styled
def compression_figure(decoded: Mapping[str, np.ndarray], t: int, max_error: float = 32.0, path=None):
    """Frame ``t`` of each version (top) and its absolute difference from ``raw`` (bottom, grey
    levels averaged over RGB, on one fixed colour scale so the versions compare)."""
    names = list(decoded)
    raw = decoded["raw"][t].astype(np.float64)
    fig, axes = new_figure(2, len(names), figsize=(2.4 * len(names) + 0.8, 5.0))
    shown = None
    for k, name in enumerate(names):
        frame = decoded[name][t]
        label = "raw (lossless)" if name == "raw" else f"{name}: PSNR {psnr(frame, decoded['raw'][t]):.1f} dB"
        image_panel(axes[0, k], frame, title=label)
        if name == "raw":
            image_panel(axes[1, k])
            axes[1, k].text(0.5, 0.5, "reference\n(difference 0)", ha="center", va="center",
                            transform=axes[1, k].transAxes)
            continue
        err = np.abs(frame.astype(np.float64) - raw).mean(-1)
        shown = image_panel(axes[1, k], err, title=f"|{name} - raw|, mean {err.mean():.2f}",
                            cmap=ERROR, vmin=0, vmax=max_error)
    if shown is not None:
        fig.colorbar(shown, ax=axes[1, :], shrink=0.9, extend="max",
                     label="absolute difference\n(8-bit grey levels)")
    fig.suptitle(f"frame {t}: raw vs H.264 copies")
    return save(fig, path)


def degradation_picks(blur_px: np.ndarray, count: int) -> np.ndarray:
    """``count`` frame indices: evenly spaced, with the frame of the longest motion blur among them."""
    t = len(blur_px)
    count = max(1, min(count, t))
    picks = np.linspace(0, t - 1, count).astype(int)
    fastest = int(np.argmax(blur_px)) if t else 0
    if fastest not in picks:
        picks[np.argmin(np.abs(picks - fastest))] = fastest
    return np.unique(picks)


@styled
def degradation_figure(clean: np.ndarray, degraded: np.ndarray, record: Mapping[str, np.ndarray],
                       title: str = "", count: int = 4, crop: int | None = None, path=None):
    """A few frames of one video clean (top) and degraded (bottom), titled with that frame's
    camera shake, brightness gain and motion-blur length; the last column zooms into a ``crop``-pixel
    square at the centre of the frame with the longest blur (default a quarter of the frame), so
    the sensor noise and the blur are visible at print size."""
    from matplotlib.patches import Rectangle

    size = clean.shape[1]
    crop = max(2, min(crop or size // 4, size))
    blur = np.asarray(record["blur_px"], np.float64)
    picks = degradation_picks(blur, count)
    zoom_t = int(np.argmax(blur)) if len(blur) else 0
    y0 = x0 = (size - crop) // 2
    fig, axes = new_figure(2, len(picks) + 1, figsize=(2.1 * (len(picks) + 1), 4.9))
    for k, t in enumerate(picks):
        dx, dy = (float(v) for v in record["shake"][t])
        image_panel(axes[0, k], clean[t], title=f"frame {t}", ylabel="clean" if k == 0 else None)
        image_panel(axes[1, k], degraded[t], ylabel="degraded" if k == 0 else None)
        axes[1, k].set_title(f"shake ({dx:+.2f}, {dy:+.2f}) px\ngain {float(record['gain'][t]):.3f}, "
                             f"blur {float(blur[t]):.2f} px", fontsize=7)
        if t == zoom_t:
            for row in (0, 1):
                axes[row, k].add_patch(Rectangle((x0 - 0.5, y0 - 0.5), crop, crop, fill=False, color="white",
                                                 lw=0.8, ls="--"))
    window = (slice(y0, y0 + crop), slice(x0, x0 + crop))
    image_panel(axes[0, -1], clean[zoom_t][window], title=f"zoom, frame {zoom_t}")
    image_panel(axes[1, -1], degraded[zoom_t][window], title=f"{crop} x {crop} px (dashed box)")
    noise = float(np.asarray(record["noise_sd"])[0]) if len(record["noise_sd"]) else 0.0
    what = (f"clean vs degraded: sensor noise sd {noise:.1f} grey levels, camera shake, "
            "light flicker, motion blur")
    fig.suptitle(f"{title}: {what}" if title else what)
    return save(fig, path)
