"""What every figure of the package shares: a colour-blind-safe palette, a print-readable style,
figures that pyplot does not track, atomic saving, and a few drawing helpers.

The stage modules (``lstmgan/<stage>/figures.py``) build their figures with :func:`new_figure`
inside :func:`styled`, return the :class:`matplotlib.figure.Figure`, and save it when given a
path (:func:`save`); notebooks display it with :func:`lstmgan.utils.notebook.show`.
"""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Callable, Sequence, TypeVar

import numpy as np

from lstmgan.utils.io import atomic_path

F = TypeVar("F", bound=Callable[..., Any])

# seaborn's "colorblind" palette (Okabe-Ito family): distinguishable with the common colour-vision
# deficiencies, and in greyscale print by lightness for the first few.
PALETTE = ("#0173b2", "#de8f05", "#029e73", "#d55e00", "#cc78bc", "#ca9161", "#fbafe4", "#949494",
           "#ece133", "#56b4e9")
SEQUENTIAL = "viridis"  # magnitudes in [0, 1] (occlusion, probabilities)
ERROR = "magma"         # absolute errors: dark = small

# Sized for a figure printed about 16 cm wide: 8-10 pt text after scaling.
STYLE = {
    "font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "xtick.labelsize": 8, "ytick.labelsize": 8,
    "legend.fontsize": 8, "legend.frameon": False, "figure.titlesize": 11, "axes.spines.top": False,
    "axes.spines.right": False, "axes.grid": False, "image.interpolation": "nearest",
}
DPI = 150


def colours(n: int) -> list[str]:
    """``n`` colours from :data:`PALETTE` (repeated beyond 10: pair them with line styles)."""
    return [PALETTE[i % len(PALETTE)] for i in range(n)]


def line_styles(n: int) -> list[str]:
    """A line style per series so that more than 10 series stay distinguishable."""
    return [("-", "--", ":", "-.")[(i // len(PALETTE)) % 4] for i in range(n)]


def styled(function: F) -> F:
    """Decorator: build the figure under :data:`STYLE` (the caller's rcParams are left alone)."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        import matplotlib
        from matplotlib import cycler

        style = {**STYLE, "axes.prop_cycle": cycler(color=list(PALETTE))}
        with matplotlib.rc_context(style):
            return function(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def new_figure(nrows: int = 1, ncols: int = 1, squeeze: bool = False, **kwargs):
    """(figure, axes): a constrained-layout figure that pyplot does not track (no GUI, nothing left
    open); ``axes`` is a 2-D array unless ``squeeze``."""
    from matplotlib.figure import Figure

    kwargs.setdefault("layout", "constrained")
    gridspec_kw = kwargs.pop("gridspec_kw", None)
    fig = Figure(**kwargs)
    return fig, fig.subplots(nrows, ncols, squeeze=squeeze, gridspec_kw=gridspec_kw)


def save(fig, path: str | Path | None, dpi: int = DPI):
    """Save ``fig`` as PNG to ``path`` atomically (folders created) when ``path`` is given; return ``fig``."""
    if path is not None:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")
    return fig


def as_image(x: Any) -> np.ndarray:
    """An (H, W, 3) float image in [0, 1] from a CHW/HWC tensor or array (uint8 or float)."""
    if hasattr(x, "detach"):
        x = x.detach().float().cpu().numpy()
    x = np.asarray(x)
    if x.ndim == 3 and x.shape[0] in (1, 3) and x.shape[-1] not in (1, 3):
        x = np.moveaxis(x, 0, -1)
    if x.dtype == np.uint8:
        x = x.astype(np.float32) / 255
    x = np.clip(x.astype(np.float32), 0, 1)
    return np.repeat(x, 3, axis=-1) if x.ndim == 3 and x.shape[-1] == 1 else x


def image_panel(ax, image: Any = None, title: str | None = None, ylabel: str | None = None, **imshow) -> Any:
    """Show ``image`` without ticks or frame (a row label stays visible, unlike ``axis("off")``)."""
    shown = None
    if image is not None:
        picture = np.asarray(image.detach().float().cpu() if hasattr(image, "detach") else image)
        shown = ax.imshow(picture if picture.ndim == 2 else as_image(picture), **imshow)
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    if title is not None:
        ax.set_title(title)
    if ylabel is not None:
        ax.set_ylabel(ylabel)
    return shown


def legend_outside(ax, handles: Sequence | None = None, labels: Sequence[str] | None = None, **kwargs):
    """A legend to the right of ``ax``, outside the data area (it never covers a curve)."""
    kwargs.setdefault("loc", "upper left")
    kwargs.setdefault("bbox_to_anchor", (1.02, 1.0))
    kwargs.setdefault("borderaxespad", 0.0)
    if handles is None:
        return ax.legend(**kwargs)
    return ax.legend(handles, labels, **kwargs)
