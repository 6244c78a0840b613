"""Training figures built from a run's metrics history (:func:`lstmgan.gan.metrics_log.read_history`).

Matplotlib is imported inside the functions (training code must import without it).
"""
from __future__ import annotations

from typing import Mapping, Sequence

History = Mapping[str, Sequence[tuple[int, float]]]

PROBE_INPUTS = (("real", "real frames"), ("generated", "generated frames"),
                ("blurred", "real, 5x5 box blur"), ("wrong_pose", "source frame, wrong pose"))
ACCURACIES = (("disc/acc_real", "real frames"), ("disc/acc_fake", "generated frames"),
              ("disc/acc_decoded", "decoder image"), ("disc/acc_wrong_pose", "wrong-pose frames"))


def _series(history: History, name: str) -> tuple[list[int], list[float]]:
    rows = list(history.get(name, ()))
    return [s for s, _ in rows], [v for _, v in rows]


def discriminator_figure(history: History, title: str = ""):
    """Two panels: the discriminator's training accuracies (fraction of patches judged right, per
    kind of input) and the held-out probe (mean patch score, real -> 1, fake -> 0, with the
    per-image spread as a band, and the real-vs-generated accuracy). Returns the figure."""
    import matplotlib.pyplot as plt
    import numpy as np

    fig, (acc_ax, probe_ax) = plt.subplots(1, 2, figsize=(11, 3.6), constrained_layout=True)
    for name, label in ACCURACIES:
        steps, values = _series(history, name)
        if steps:
            acc_ax.plot(steps, values, lw=1.2, label=label)
    acc_ax.axhline(0.5, color="grey", lw=0.8, ls="--")
    acc_ax.set(ylim=(-0.02, 1.02), xlabel="step", ylabel="fraction of patches judged right",
               title="discriminator accuracy (training batches)")
    acc_ax.legend(fontsize=7)
    for name, label in PROBE_INPUTS:
        steps, values = _series(history, f"probe/{name}")
        if not steps:
            continue
        line, = probe_ax.plot(steps, values, "o-", ms=3, label=label)
        _, spread = _series(history, f"probe/{name}_std")
        if len(spread) == len(values):
            mean, std = np.asarray(values), np.asarray(spread)
            probe_ax.fill_between(steps, mean - std, mean + std, color=line.get_color(), alpha=0.15, lw=0)
    steps, values = _series(history, "probe/accuracy")
    if steps:
        probe_ax.plot(steps, values, "k--", lw=1.2, label="real-vs-generated accuracy")
    probe_ax.axhline(0.5, color="grey", lw=0.8, ls=":")
    probe_ax.set(xlabel="step", ylabel="mean patch score (real -> 1)",
                 title="discriminator probe (held-out frames, ±1 sd)")
    probe_ax.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    return fig
