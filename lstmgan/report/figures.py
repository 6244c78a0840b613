"""The report's pictures, all in one small folder that is committed (``report.figures``):

- cross-stage figures the report draws itself (detectors side by side with their intervals, detection
  under compression, LSTM vs baseline with intervals, GAN validation L1, discriminator accuracy);
- reduced copies of the stage figures the report shows (data, training, generation, the best
  detector), so ``REPORT.md`` renders on a code-hosting site without the DVC cache.

Conventions (thesis quality): the Okabe-Ito colour-blind-safe palette; when lines outnumber its
colours, colour encodes one factor and marker/line style the other, so no two lines look alike;
every axis labelled with its unit; chance lines where chance is defined; error bars wherever an
interval exists (and the caption says when it does not); legends outside the data.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from lstmgan.report.discuss import GENERATION_UNITS, detector_interval, method_intervals, one_class_runs
from lstmgan.report.gather import DATA_FIGURES, TRAIN_FIGURES, TRAIN_STAGE, ReportData, num, repro
from lstmgan.utils.io import atomic_dir
from lstmgan.utils.stats import higher_is_better

log = logging.getLogger(__name__)

OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
MARKERS = ("o", "s", "^", "D", "v", "P")
LINESTYLES = ("-", "--", ":", "-.")
HATCHES = ("", "//", "..", "xx")
DPI = 100
AXIS_UNITS = {"l1": "intensity in [0, 1]", "flicker": "intensity in [0, 1] per frame step",
              "warp_error": "intensity in [0, 1]", "akd": "pixels at 64 px", "aed": "squared embedding distance"}
MAX_WIDTH = 1800  # px of a published copy of a stage figure (legends and jacobians stay legible)


@dataclass(frozen=True)
class Figure:
    """A picture of the report: its file, caption, what it stands for, how to rebuild it."""

    path: Path
    caption: str
    thesis: str
    command: str
    section: str = "summary"


def _new_figure(**kwargs):
    from matplotlib.figure import Figure as MplFigure

    kwargs.setdefault("layout", "constrained")
    return MplFigure(**kwargs)


def _save(fig, path: Path) -> None:
    """PNG at :data:`DPI`, reduced to 256 colours (plots lose nothing visible, files shrink ~3x)."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    fig.savefig(buf, dpi=DPI, format="png")
    buf.seek(0)
    with Image.open(buf) as im:
        im.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def _chance(ax, y: float = 0.5, label: str = "chance (0.5)") -> None:
    ax.axhline(y, color="#555555", ls="--", lw=1.0, label=label, zorder=0)


def detector_auc(data: ReportData, path: Path) -> str | None:
    """Grouped bars: frame AUC per model (groups) and variant (colour + hatch), 95% error bars."""
    import numpy as np

    rows = [r for r in data.detectors if math.isfinite(r["frame_auc"])]
    if not rows:
        return None
    models = list(dict.fromkeys(r["model"] for r in rows))
    found = {r["variant"] for r in rows}
    all_variants = list(data.params.detect.variants) + sorted(found - set(data.params.detect.variants))
    variants = [v for v in all_variants if v in found]
    single = set(one_class_runs(rows))
    fig = _new_figure(figsize=(2.0 + 1.5 * len(models), 3.8))
    ax = fig.subplots()
    width = 0.8 / len(variants)
    with_intervals = False
    for i, v in enumerate(variants):
        x = np.arange(len(models)) + (i - (len(variants) - 1) / 2) * width
        vals, err = [], [[], []]
        for m in models:
            row = next((r for r in rows if r["model"] == m and r["variant"] == v), None)
            iv = detector_interval(data, f"{m}-{v}", "auc") if row else None
            vals.append(row["frame_auc"] if row else np.nan)
            err[0].append(vals[-1] - iv.low if iv else 0.0)
            err[1].append(iv.high - vals[-1] if iv else 0.0)
            with_intervals |= iv is not None
            if row and row["run"] in single:
                ax.text(x[len(vals) - 1], 0.03, "1 class", ha="center", va="bottom", fontsize=7, rotation=90,
                        bbox={"facecolor": "white", "edgecolor": "none", "pad": 1})
        k = all_variants.index(v)
        ax.bar(x, vals, width, yerr=err if with_intervals else None, capsize=2, label=v,
               color=OKABE_ITO[k % len(OKABE_ITO)], hatch=HATCHES[k % len(HATCHES)], edgecolor="black", lw=0.5)
    _chance(ax)
    ax.set_xticks(np.arange(len(models)), models)
    ax.set_xlabel("detector")
    ax.set_ylim(0, 1.12)
    ax.set_ylabel("test ROC-AUC, frame level (0-1)")
    ax.legend(title="data variant", fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    _save(fig, path)
    return ("frame-level test ROC-AUC of every detector x data variant"
            + (" with 95% intervals over test videos" if with_intervals else
               " (point estimates: no intervals in this run)") + "; dashed: chance; '1 class': predicts one class")


def compression_auc(data: ReportData, path: Path) -> str | None:
    """One line per run: colour = model, marker and line style = variant (12 distinct lines)."""
    rows = [r for r in data.detectors if math.isfinite(r["frame_auc"])]
    comps = [c for c in ("raw", "c23", "c40") if any(math.isfinite(r[f"auc_{c}"]) for r in rows)]
    if len(comps) < 2:
        return None
    models = list(dict.fromkeys([*data.params.detect.models, *(r["model"] for r in rows)]))
    variants = list(dict.fromkeys([*data.params.detect.variants, *(r["variant"] for r in rows)]))
    fig = _new_figure(figsize=(6.8, 3.8))
    ax = fig.subplots()
    for r in rows:
        i, j = models.index(r["model"]), variants.index(r["variant"])
        ax.plot(comps, [r[f"auc_{c}"] for c in comps], color=OKABE_ITO[i % len(OKABE_ITO)],
                marker=MARKERS[j % len(MARKERS)], ls=LINESTYLES[j % len(LINESTYLES)], lw=1.3, label=r["run"])
    _chance(ax)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("test copy (trained on raw; c23/c40 = H.264 CRF 23/40)")
    ax.set_ylabel("test ROC-AUC, frame level (0-1)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1), ncol=1)
    _save(fig, path)
    return "frame AUC per test compression, every run (colour: detector; marker and line style: data variant)"


VERDICT_COLOURS = {"better": OKABE_ITO[2], "worse": OKABE_ITO[5], "higher": OKABE_ITO[0], "lower": OKABE_ITO[4],
                   "not resolved": "#777777"}
VERDICT_LABELS = {"better": "lstm better", "worse": "lstm worse", "higher": "lstm higher (descriptive)",
                  "lower": "lstm lower (descriptive)", "not resolved": "not resolved"}
DIRECTION_LABELS = {True: "higher is better", False: "lower is better", None: "descriptive"}


def _relative(iv, base: float):
    """An interval of a - b as a percentage of b's mean (None without a usable mean)."""
    if iv is None or not (math.isfinite(base) and base):
        return None
    return tuple(100 * v / abs(base) for v in (iv.estimate, iv.low, iv.high))


def lstm_vs_none(data: ReportData, path: Path) -> str | None:
    """lstm - none per metric as % of none's mean, with 95% intervals, coloured by the verdict: one
    panel for this run (one seed, test videos), one for the multi-seed study when it is committed."""
    from matplotlib.lines import Line2D

    from lstmgan.report.discuss import decide, paired_intervals, study_intervals

    panels = []
    means = method_intervals(data).get("none", {})
    one = {m: iv for m, (iv, _) in paired_intervals(data).items() if m in means}
    if one:
        panels.append(("this run: one seed, paired over test videos",
                       {m: (_relative(iv, means[m].estimate), decide(iv, higher_is_better(m))) for m, iv in one.items()}))
    study = study_intervals(data, "lstm", "none")
    base = data.study.get("none") or {}
    if study:
        panels.append((f"multi-seed study: {len(data.study.get('seeds') or [])} seeds x {data.study.get('videos')} "
                       "test videos", {m: (_relative(iv, num((base.get(m) or {}).get("mean"))),
                                           decide(iv, higher_is_better(m))) for m, iv in study.items()}))
    panels = [(title, {m: v for m, v in rows.items() if v[0] is not None}) for title, rows in panels]
    panels = [(title, rows) for title, rows in panels if rows]
    if not panels:
        return None
    height = max(len(rows) for _, rows in panels)
    fig = _new_figure(figsize=(5.2 * len(panels), 0.42 * height + 1.6))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (title, rows) in zip(axes, panels):
        names = list(rows)
        for y, m in enumerate(names):
            (est, lo, hi), v = rows[m]
            ax.errorbar(est, y, xerr=[[est - lo], [hi - est]], fmt="o", color=VERDICT_COLOURS[v], capsize=3)
        ax.axvline(0, color="#333333", lw=0.8)
        ax.set_yticks(range(len(names)), [f"{m} ({DIRECTION_LABELS[higher_is_better(m)]})" for m in names],
                      fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel("lstm - none, % of none's mean (95% interval)", fontsize=8)
        ax.set_title(title, fontsize=9)
    handles = [Line2D([], [], color=c, marker="o", ls="", label=VERDICT_LABELS[k]) for k, c in VERDICT_COLOURS.items()]
    fig.legend(handles=handles, loc="outside lower center", ncols=3, fontsize=8)
    _save(fig, path)
    return ("paired differences lstm - none on every metric, as a percentage of the baseline's mean, with 95% "
            "intervals; colour: the verdict for lstm (an interval across 0 is not resolved; the descriptive metrics, "
            "how much of the image the decoder paints, say higher / lower)")


def gan_val_l1(data: ReportData, path: Path) -> str | None:
    import numpy as np

    if not data.train:
        return None
    names = list(data.train)
    target = data.params.report.l1_target_ratio
    fig = _new_figure(figsize=(1.8 + 1.6 * len(names), 3.4))
    ax = fig.subplots()
    x = np.arange(len(names))
    copy = [num(data.train[t].get("copy_l1")) for t in names]
    ax.bar(x - 0.2, [num(data.train[t].get("val_l1")) for t in names], 0.4, label="generator",
           color=OKABE_ITO[0], edgecolor="black", lw=0.5)
    ax.bar(x + 0.2, copy, 0.4, label="copy the source frame", color=OKABE_ITO[1], hatch="//",
           edgecolor="black", lw=0.5)
    for xi, c in zip(x, copy):
        ax.hlines(target * c, xi - 0.4, xi + 0.4, colors="#555555", linestyles="--", lw=1.0)
    ax.plot([], [], color="#555555", ls="--", label=f"goal: {target:g} x copy")
    ax.set_xticks(x, names)
    ax.set_xlabel("temporal model")
    ax.set_ylabel("validation L1 (intensity in [0, 1])")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    _save(fig, path)
    return "validation L1 of each trained GAN against copying the source frame (point estimates)"


def disc_accuracy(data: ReportData, path: Path) -> str | None:
    series = {t: m.get("disc_acc") or {} for t, m in data.train.items()}
    if not any(s.get("fake") or s.get("real") for s in series.values()):
        return None
    fig = _new_figure(figsize=(6.8, 3.4))
    ax = fig.subplots()
    for i, (t, s) in enumerate(series.items()):
        for j, kind in enumerate(("real", "fake")):
            pts = s.get(kind) or []
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], color=OKABE_ITO[i % len(OKABE_ITO)],
                        ls=LINESTYLES[j], marker=MARKERS[j], markersize=3, lw=1.2,
                        label=f"{t}: on {'real' if kind == 'real' else 'generated'} frames")
    _chance(ax)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("training step")
    ax.set_ylabel("discriminator accuracy (fraction)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    _save(fig, path)
    return "discriminator accuracy on real and generated frames during training (logged window means)"


SUMMARY = (
    ("detector_auc.png", detector_auc, "detector comparison", "detection"),
    ("compression_auc.png", compression_auc, "detector generalisation (raw -> c23/c40)", "detection"),
    ("lstm_vs_none.png", lstm_vs_none, "LSTM ablation", "generation"),
    ("gan_val_l1.png", gan_val_l1, "GAN training result", "training"),
    ("disc_accuracy.png", disc_accuracy, "thesis training figure 2 (D accuracy)", "training"),
)

def stage_figures(data: ReportData) -> list[tuple[str, Path, str, str, str]]:
    """Stage figures the report shows, copied (reduced) into the published folder:
    ``(published name, source path, caption, section, stage)``."""
    p = data.params
    out = [("data-contact_sheet.png", DATA_FIGURES / "contact_sheet.png", "one frame per identity", "data", "prepare")]
    for t in p.generate.methods:
        folder = Path(TRAIN_FIGURES.format(temporal=t))
        for name, cap in (("losses", "generator loss terms and generator vs discriminator loss"),
                          ("reconstructions", "validation reconstructions: source, driving, generated"),
                          ("keypoints", "learned keypoints on validation frames (see known defects)")):
            if name == "reconstructions" and t != (p.generate.methods[0] if p.generate.methods else t):
                continue
            out.append((f"train-{t}-{name}.png", folder / f"{name}.png", f"`{t}`: {cap}",
                        "defects" if name == "keypoints" else "training", TRAIN_STAGE))
    gen = Path(p.generate.figures)
    for name, cap in (("cross_identity_grid", "cross-identity animation: source identity, driving motion"),
                      ("per_video_metrics", "per-video test metrics")):
        out.append((f"generate-{name}.png", gen / f"{name}.png", cap, "generation", "generate"))
    rows = [r for r in data.detectors if math.isfinite(r["frame_auc"])]
    if rows:
        best = max(rows, key=lambda r: r["frame_auc"])["run"]
        for name, cap in (("metrics", "training curves"), ("roc_pr", "ROC and precision-recall curves"),
                          ("predictions", "test predictions")):
            out.append((f"detect-{best}-{name}.png", Path(p.detect.out) / best / "figures" / f"{name}.png",
                        f"{best} (highest frame AUC point estimate): {cap}", "detection", f"detect@{best}"))
    return out


def publish_copy(src: Path, dst: Path, max_width: int = MAX_WIDTH) -> None:
    """``src`` reduced to at most ``max_width`` px wide and 256 colours (a small PNG for the repository)."""
    from PIL import Image

    with Image.open(src) as im:
        im = im.convert("RGB")
        if im.width > max_width:
            im = im.resize((max_width, round(im.height * max_width / im.width)), Image.LANCZOS)
        im.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(dst, optimize=True)


def draw_figures(data: ReportData, folder: Path) -> list[Figure]:
    """Every picture of the report into ``folder`` (replaced as a whole); returns them in order."""
    made: list[Figure] = []
    with atomic_dir(folder) as tmp:
        for name, draw, thesis, section in SUMMARY:
            caption = draw(data, tmp / name)
            if caption:
                made.append(Figure(Path(folder) / name, caption, thesis, "dvc repro report", section))
        for name, src, caption, section, stage in stage_figures(data):
            if Path(src).is_file():
                publish_copy(Path(src), tmp / name)
                made.append(Figure(Path(folder) / name, caption, str(src), repro(stage), section))
    total = sum(f.path.stat().st_size for f in made if f.path.is_file())
    log.info("report figures: %d files, %.0f KB in %s", len(made), total / 1024, folder)
    return made


def figures_of(figures: Sequence[Figure], section: str) -> list[Figure]:
    return [f for f in figures if f.section == section]

