"""Figures of one detector run: metrics over epochs, ROC and PR curves, confusion matrix,
prediction grid, generalisation heatmaps. Each function returns a matplotlib Figure and, given
``path``, also saves it (PNG, written atomically)."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from lstmgan.utils.io import atomic_path


def _save(fig, path: str | Path | None):
    if path is not None:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=110, bbox_inches="tight")
    return fig


def _figure(nrows: int = 1, ncols: int = 1, **kwargs):
    """A figure not registered with pyplot (no GUI backend, nothing left open)."""
    from matplotlib.figure import Figure

    squeeze = kwargs.pop("squeeze", True)
    fig = Figure(**kwargs)
    return fig, fig.subplots(nrows, ncols, squeeze=squeeze)


def metrics_plot(records: Sequence[dict], best_epoch: int | None = None, path=None, title: str = ""):
    """The thesis's 4-panel plot: loss, accuracy, AUC and learning rate per epoch; None (and no file)
    for a run of one epoch, whose "curves" would be single dots."""
    import pandas as pd
    from matplotlib.ticker import MaxNLocator

    if len(records) < 2:
        return None
    r = pd.DataFrame(list(records))
    fig, axes = _figure(1, 4, figsize=(16, 3.6))
    panels = [
        ("loss", [("train_loss", "train (dropout)"), ("train_loss_eval", "train (no dropout)"),
                  ("val_loss", "val"), ("val_aug_loss", "val augmented")]),
        ("accuracy", [("train_acc", "train (dropout)"), ("train_acc_eval", "train (no dropout)"),
                      ("val_acc", "val"), ("val_aug_acc", "val augmented")]),
        ("ROC-AUC", [("val_auc", "val"), ("val_aug_auc", "val augmented")]),
        ("learning rate", [("lr", "lr (last step of the epoch)")]),
    ]
    for ax, (name, series) in zip(axes, panels):
        for col, label in series:
            ax.plot(r["epoch"], r[col], marker="o", label=label)
        if best_epoch is not None:
            ax.axvline(best_epoch, color="grey", ls="--", lw=1, label="best (val)")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(name)
        ax.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def roc_pr_plot(curves: dict[str, tuple[np.ndarray, np.ndarray]], path=None, title: str = ""):
    """ROC (left) and precision-recall (right) curves; ``curves`` maps a name to (labels, scores)."""
    from sklearn.metrics import auc as area, precision_recall_curve, roc_curve

    fig, (ax_roc, ax_pr) = _figure(1, 2, figsize=(10, 4.2))
    for name, (y, s) in curves.items():
        if len(np.unique(y)) < 2:
            continue
        fpr, tpr, _ = roc_curve(y, s)
        ax_roc.plot(fpr, tpr, label=f"{name} (AUC {area(fpr, tpr):.3f})")
        precision, recall, _ = precision_recall_curve(y, s)
        ax_pr.step(recall, precision, where="post", label=name)
    ax_roc.plot([0, 1], [0, 1], color="grey", ls=":", lw=1, label="chance")
    ax_roc.plot([0, 1], [1, 0], color="grey", ls="--", lw=0.8, label="FPR = FNR (EER line)")
    ax_roc.set(xlabel="false-positive rate (real called fake)", ylabel="true-positive rate (fakes caught)",
               title="ROC")
    ax_pr.set(xlabel="recall (fakes caught)", ylabel="precision (called fake that are fake)",
              title="precision-recall", ylim=(0, 1.02))
    ax_roc.legend(fontsize=7)
    ax_pr.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def confusion_plot(y_true: np.ndarray, scores: np.ndarray, path=None, title: str = "", threshold: float = 0.5):
    """Confusion matrix at the 0.5 threshold (rows = true label, columns = prediction)."""
    import seaborn as sns

    pred = (np.asarray(scores) >= threshold).astype(int)
    y = np.asarray(y_true).astype(int)
    matrix = np.array([[np.sum((y == t) & (pred == p)) for p in (0, 1)] for t in (0, 1)])
    fig, ax = _figure(figsize=(3.8, 3.4))
    sns.heatmap(matrix, annot=True, fmt="d", cmap="Blues", cbar=False, ax=ax,
                xticklabels=["real", "fake"], yticklabels=["real", "fake"])
    ax.set(xlabel="predicted", ylabel="true", title=title or "confusion matrix")
    return _save(fig, path)


def prediction_grid(images: np.ndarray, labels: Sequence[int], p_fake: Sequence[float], path=None,
                    columns: int = 8, title: str = ""):
    """Face crops titled with P(real) / P(fake), the prediction and the label (red when wrong)."""
    n = len(images)
    rows = max(1, int(np.ceil(n / columns)))
    fig, axes = _figure(rows, columns, figsize=(columns * 1.7, rows * 2.0), squeeze=False)
    for k, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if k >= n:
            continue
        img = images[k]
        if img.shape[0] in (1, 3):
            img = np.transpose(img, (1, 2, 0))
        ax.imshow(img)
        pred = int(p_fake[k] >= 0.5)
        name = ("real", "fake")
        ax.set_title(f"real {1 - p_fake[k]:.2f} fake {p_fake[k]:.2f}\npred {name[pred]} / true {name[labels[k]]}",
                     fontsize=6.5, color="green" if pred == labels[k] else "red")
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def generalisation_heatmap(matrix, path=None, title: str = "", metric: str = "AUC", ylabel: str = "trained on"):
    """A condition x test-condition matrix (pandas DataFrame) as an annotated heatmap; ``ylabel``
    names what the rows are."""
    import seaborn as sns

    fig, ax = _figure(figsize=(1.6 + 1.3 * matrix.shape[1], 1.2 + 0.8 * matrix.shape[0]))
    sns.heatmap(matrix.astype(float), annot=True, fmt=".3f", vmin=0.0, vmax=1.0, cmap="viridis", ax=ax,
                cbar_kws={"label": metric})
    ax.set(xlabel="tested on", ylabel=ylabel, title=title or f"generalisation ({metric})")
    return _save(fig, path)
