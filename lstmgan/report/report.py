"""The regenerated thesis report: ``reports/REPORT.md`` (and HTML) from this run's outputs.

Nothing in the report is typed in by hand: every number is read from a metrics file written by a
stage, every figure is a file a stage drew, and every statement in the discussion is chosen by
comparing measured numbers. Each figure and table names the command that rebuilds it. A stage that
has not run yet is reported as "not available (run `dvc repro STAGE`)", never as a crash.

Entry point: :func:`build_report` (the ``report`` stage, ``notebooks/05_report.ipynb``). The
pieces (:func:`detector_rows`, :func:`discuss_gan`, :func:`discuss_ablation`,
:func:`discuss_detectors`, ...) are public so the notebook can show them and tests can check them.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
import math
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from lstmgan import __version__
from lstmgan.config import Params
from lstmgan.utils.io import atomic_dir, atomic_write_text

log = logging.getLogger(__name__)

# Where the stages write (their own defaults; the configurable ones are read from params).
DATA_FIGURES = Path("reports/figures/data")  # notebooks/01_data.ipynb
TRAIN_FIGURES = "reports/figures/train/{temporal}"  # notebooks/02_train_gan.ipynb
TRAIN_METRICS = "reports/metrics/train-{temporal}.json"  # lstmgan.gan.train defaults
IMAGE_SUFFIXES = (".png", ".gif", ".svg", ".jpg", ".jpeg")

# Units and direction of the generation metrics (lstmgan.generate.evaluate).
GENERATION_UNITS = {
    "l1": "mean absolute error, intensity in [0, 1]",
    "psnr": "dB",
    "ssim": "unitless, 1 = identical",
    "akd": "pixels",
    "aed": "squared distance of unit identity embeddings",
    "flicker": "intensity in [0, 1] per frame step",
    "warp_error": "intensity in [0, 1]",
    "identity_aed": "squared embedding distance to the source identity",
    "driver_aed": "squared embedding distance to the driver (higher = less identity leak)",
    "motion_error": "pixels",
}
HIGHER_IS_BETTER = {"psnr", "ssim", "driver_aed"}
NEAR_CHANCE_AUC = 0.6  # below this a detector is described as "not far above chance" (AUC 0.5)

# Captions of the figures the stages are known to draw (any other image is listed by its name).
CAPTIONS = {
    "contact_sheet": "one frame per identity",
    "landmarks_strip": "68 landmarks and the face box over one video",
    "motion": "ground-truth head pose and expression over time",
    "train/motion": "dense motion: flow, motion mask, occlusion map",
    "compression": "raw vs H.264 c23/c40 copies and their differences",
    "losses": "generator loss terms and generator vs discriminator loss",
    "discriminator_accuracy": "discriminator accuracy on real and generated frames",
    "reconstructions": "validation reconstructions: source, driving, generated, warped source",
    "keypoints": "learned keypoints and jacobians",
    "validation_l1": "validation L1 against the copy-the-source baseline",
    "metrics": "4-panel metrics: loss, accuracy, AUC, learning rate per epoch",
    "roc_pr": "ROC and precision-recall curves per compression",
    "confusion": "confusion matrix on the test split",
    "predictions": "prediction grid: face crops with real/fake probabilities, prediction and label",
    "generalisation_compression": "generalisation: train raw, test raw/c23/c40 (AUC)",
    "generalisation_method": "generalisation across fake methods (AUC)",
}


@dataclass(frozen=True)
class Figure:
    """A figure of the report: its file, caption, the thesis figure it regenerates, how to rebuild it."""

    path: Path
    caption: str
    thesis: str
    command: str


@dataclass
class ReportData:
    """Everything the report reads, gathered once (missing inputs are empty, never an error)."""

    params: Params
    stages: list[str]
    times: list[dict[str, Any]]
    train: dict[str, dict[str, Any]]
    generation: dict[str, Any]
    detectors: list[dict[str, Any]]
    missing_detectors: list[str]
    figures: dict[str, list[Figure]] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# Reading what the stages wrote
# --------------------------------------------------------------------------------------------
def read_json(path: Path) -> dict[str, Any]:
    """The JSON object in ``path``, or {} when it is absent or unreadable (logged)."""
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        return {}
    except (OSError, json.JSONDecodeError) as err:
        log.warning("%s: unreadable (%s); treated as missing", path, err)
        return {}
    return data if isinstance(data, dict) else {}


def repro(stage: str) -> str:
    """The command that rebuilds one stage (``-s``: that stage only, for the 12 detect stages)."""
    return f"dvc repro -s {stage}" if stage.startswith("detect@") else f"dvc repro {stage}"


def not_available(stage: str) -> str:
    return f"not available (run `{repro(stage)}`)"


def expected_stages(params: Params) -> list[str]:
    """The pipeline's stages in order (dvc.yaml: prepare, train@*, generate, detect@*, report)."""
    return (["prepare"] + [f"train@{t}" for t in params.generate.methods] + ["generate"]
            + [f"detect@{m}-{v}" for m in params.detect.models for v in params.detect.variants] + ["report"])


def notebook_stage(name: str) -> str:
    """Stage name of an executed notebook file (``04_detectors-resnet18-base.ipynb`` -> ``detect@resnet18-base``)."""
    stem = Path(name).stem
    prefix, _, rest = stem.partition("-")
    base = {"01_data": "prepare", "02_train_gan": "train", "03_generate": "generate",
            "04_detectors": "detect", "05_report": "report"}.get(prefix, prefix)
    return f"{base}@{rest}" if rest else base


def stage_times(notebooks_dir: Path) -> list[dict[str, Any]]:
    """Wall time of each executed stage notebook, from papermill's metadata."""
    rows = []
    for path in sorted(Path(notebooks_dir).glob("*.ipynb")):
        meta = read_json(path).get("metadata", {}).get("papermill", {})
        duration = meta.get("duration")
        if duration is None:
            continue
        rows.append({"stage": notebook_stage(path.name), "notebook": path.name, "seconds": float(duration),
                     "finished": str(meta.get("end_time") or "")[:19].replace("T", " "),
                     "failed": bool(meta.get("exception"))})
    return rows


def train_results(params: Params) -> dict[str, dict[str, Any]]:
    """``{temporal: reports/metrics/train-<temporal>.json}`` for every trained variant that ran."""
    out = {}
    for temporal in params.generate.methods:
        metrics = read_json(Path(TRAIN_METRICS.format(temporal=temporal)))
        if metrics:
            out[temporal] = metrics
    return out


def _num(value: Any) -> float:
    """A float, NaN for None / non-numbers (the stages write NaN as null)."""
    if isinstance(value, bool) or value is None:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


LEVEL_METRICS = ("accuracy", "balanced_accuracy", "ap", "auc", "eer")
DETECTOR_COLUMNS = (["model", "variant", "weights"]
                    + [f"{level}_{m}" for level in ("frame", "video") for m in LEVEL_METRICS]
                    + ["auc_raw", "auc_c23", "auc_c40", "test_frames", "best_epoch", "parameters",
                       "train_time_s", "train_images_per_s", "eval_images_per_s"])


def detector_rows(params: Params) -> tuple[list[dict[str, Any]], list[str]]:
    """One row per detector x variant from ``<detect.out>/<model>-<variant>/metrics.json``.

    Rows follow the order of ``detect.models`` x ``detect.variants`` (then any other run found);
    the second value lists the expected stages that have no metrics yet.
    """
    detect_dir = Path(params.detect.out)
    expected = [f"{m}-{v}" for m in params.detect.models for v in params.detect.variants]
    found = sorted(p.parent.name for p in detect_dir.glob("*/metrics.json"))
    rows, missing = [], []
    for name in expected + [n for n in found if n not in expected]:
        m = read_json(detect_dir / name / "metrics.json")
        if not m:
            missing.append(f"detect@{name}")
            continue
        model, _, variant = name.partition("-")
        row: dict[str, Any] = {"run": name, "model": m.get("model", model), "variant": m.get("variant", variant),
                               "weights": m.get("weights", "")}
        for level in ("frame", "video"):
            values = m.get(level) or {}
            for metric in LEVEL_METRICS:
                row[f"{level}_{metric}"] = _num(values.get(metric))
            row[f"{level}_n"] = values.get("n")
            row[f"{level}_n_fake"] = values.get("n_fake")
        for comp in ("raw", "c23", "c40"):
            row[f"auc_{comp}"] = _num(((m.get("compression") or {}).get(comp) or {}).get("frame", {}).get("auc"))
        for key in ("test_frames", "best_epoch", "parameters"):
            row[key] = m.get(key)
        for key in ("train_time_s", "train_images_per_s", "eval_images_per_s"):
            row[key] = _num(m.get(key))
        row["cross_method_auc"] = m.get("cross_method_auc") or {}
        rows.append(row)
    return rows, missing


def figures_in(folder: Path) -> list[Path]:
    return sorted(p for p in Path(folder).glob("*") if p.suffix.lower() in IMAGE_SUFFIXES)


def caption(path: Path) -> str:
    """The known caption of a stage figure (keyed by ``<stage folder>/<stem>`` or ``<stem>``)."""
    stage = next((name for name in ("data", "train", "generate") if name in Path(path).parts[:-1]), "")
    return CAPTIONS.get(f"{stage}/{path.stem}", CAPTIONS.get(path.stem, path.stem.replace("_", " ")))


# --------------------------------------------------------------------------------------------
# Formatting
# --------------------------------------------------------------------------------------------
def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        if value != 0 and (abs(value) >= 1e5 or abs(value) < 10 ** -digits):
            return f"{value:.3g}"
        return f"{value:.{digits}f}"
    return str(value)


def markdown_table(rows: list[dict[str, Any]], columns: list[str] | None = None,
                   headers: dict[str, str] | None = None, digits: int | dict[str, int] = 3) -> str:
    """A GitHub-flavoured Markdown table of ``rows`` (missing cells read n/a).

    ``digits``: decimals for floats, one number for all columns or ``{column: decimals}`` (default 3).
    """
    if not rows:
        return "_(no rows)_\n"
    columns = columns or list(rows[0])
    headers = headers or {}
    lines = ["| " + " | ".join(headers.get(c, c) for c in columns) + " |",
             "|" + "|".join("---" for _ in columns) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(_fmt(row.get(c), digits if isinstance(digits, int) else digits.get(c, 3))
                                       for c in columns) + " |")
    return "\n".join(lines) + "\n"


def csv_text(rows: list[dict[str, Any]], columns: Sequence[str]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: ("" if isinstance(row.get(c), float) and math.isnan(row[c]) else row.get(c))
                         for c in columns})
    return buf.getvalue()


def git_revision() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             check=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return out.stdout.strip() + (" (with local changes)" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout)"


def relative_to_report(path: Path, report_path: Path) -> str:
    return os.path.relpath(Path(path).resolve(), Path(report_path).resolve().parent).replace("\\", "/")


def _rel_change(a: float, b: float) -> float:
    """(a - b) / |b|: how much larger a is than b, relative to b."""
    return (a - b) / abs(b) if b else math.nan


def _compare(a: float, b: float, higher_is_better: bool, tolerance: float) -> str:
    """``better`` / ``worse`` / ``equal`` for ``a`` against ``b``."""
    change = _rel_change(a, b)
    if not math.isfinite(change) or abs(change) < tolerance:
        return "equal" if math.isfinite(a) and math.isfinite(b) else "unknown"
    return "better" if (change > 0) == higher_is_better else "worse"


# --------------------------------------------------------------------------------------------
# Discussion: sentences chosen by comparing measured numbers
# --------------------------------------------------------------------------------------------
def discuss_gan(train: dict[str, dict[str, Any]], target: float) -> list[str]:
    """Did validation L1 reach ``target`` x the copy-the-source L1 (issue 3's goal) for each model?"""
    out = []
    for temporal, m in train.items():
        l1, copy, ratio = _num(m.get("val_l1")), _num(m.get("copy_l1")), _num(m.get("ratio"))
        if not math.isfinite(ratio):
            out.append(f"GAN `{temporal}`: the validation L1 ratio is not available.")
            continue
        verdict = ("reached" if ratio <= target else "did NOT reach")
        out.append(f"GAN `{temporal}` after {m.get('steps', 'n/a')} steps: validation L1 {l1:.4f} vs "
                   f"{copy:.4f} for copying the source frame, ratio {ratio:.2f}; it {verdict} the "
                   f"{target:g}x goal" + (" (the generator is still worse than not animating at all)."
                                          if ratio > 1 else "."))
    return out


def discuss_ablation(generation: dict[str, Any], tolerance: float) -> list[str]:
    """LSTM vs first-order-motion baseline on each reconstruction / temporal metric, as measured."""
    lstm, none = generation.get("lstm"), generation.get("none")
    if not (isinstance(lstm, dict) and isinstance(none, dict)):
        return ["The LSTM-vs-baseline comparison needs both methods in the generation metrics; "
                + not_available("generate") + "."]
    out, better, worse, equal = [], [], [], []
    for metric in ("l1", "flicker", "warp_error", "psnr", "ssim", "akd", "aed", "identity_aed", "motion_error"):
        a, b = _num(lstm.get(metric)), _num(none.get(metric))
        verdict = _compare(a, b, metric in HIGHER_IS_BETTER, tolerance)
        {"better": better, "worse": worse, "equal": equal}.get(verdict, []).append(metric)
        if metric in ("l1", "flicker"):
            if verdict == "unknown":
                out.append(f"{metric}: not measured for both methods.")
                continue
            word = {"better": "lower (better)", "worse": "higher (worse)", "equal": "about equal"}[verdict]
            out.append(f"On {metric} the LSTM model scores {a:.4f} against {b:.4f} for the baseline: "
                       f"{word}, {abs(_rel_change(a, b)) * 100:.1f}% difference.")
    out.append(f"Across all measured metrics the LSTM is better on {len(better)} "
               f"({', '.join(better) or 'none'}), worse on {len(worse)} ({', '.join(worse) or 'none'}) "
               f"and within {tolerance * 100:g}% on {len(equal)} ({', '.join(equal) or 'none'}).")
    copy = generation.get("copy-source")
    if isinstance(copy, dict) and math.isfinite(_num(copy.get("l1"))):
        c = _num(copy["l1"])
        beats = [name for name, m in (("lstm", lstm), ("none", none)) if _num(m.get("l1")) < c]
        out.append(f"Against copying the source frame (L1 {c:.4f}): "
                   + (f"{' and '.join(beats)} beat{'s' if len(beats) == 1 else ''} it." if beats else
                      "neither trained model beats it, so the generated motion is not yet better than no "
                      "motion; the detection data set then tests detection of this weak generator only."))
    return out


def auc_standard_error(auc: float, n_pos: int, n_neg: int) -> float:
    """Hanley & McNeil (1982) standard error of a ROC-AUC from n_pos positives and n_neg negatives."""
    if not (math.isfinite(auc) and n_pos and n_neg):
        return math.nan
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    var = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc * auc) + (n_neg - 1) * (q2 - auc * auc)) / (n_pos * n_neg)
    return math.sqrt(max(var, 0.0))


def _row_se(row: dict[str, Any]) -> float:
    n, n_fake = row.get("frame_n"), row.get("frame_n_fake")
    if not isinstance(n, int) or not isinstance(n_fake, int):
        return math.nan
    return auc_standard_error(row["frame_auc"], n_fake, n - n_fake)


def discuss_detectors(rows: list[dict[str, Any]], tolerance: float) -> list[str]:
    """Best detector and its margin, variants, compression, video vs frame level, weights."""
    rows = [r for r in rows if math.isfinite(r["frame_auc"])]
    if not rows:
        return ["No detector has test results yet; " + not_available("detect@<model>-<variant>") + "."]
    out = []
    best_per_model: dict[str, dict[str, Any]] = {}
    for r in rows:
        if r["model"] not in best_per_model or r["frame_auc"] > best_per_model[r["model"]]["frame_auc"]:
            best_per_model[r["model"]] = r
    ranked = sorted(best_per_model.values(), key=lambda r: -r["frame_auc"])
    best = ranked[0]
    out.append(f"Best detector on the test split (frame ROC-AUC): {best['model']} on {best['variant']} data "
               f"({best['weights']}), AUC {best['frame_auc']:.3f}, accuracy {best['frame_accuracy']:.3f}, "
               f"AP {best['frame_ap']:.3f}, EER {best['frame_eer']:.3f}.")
    if len(ranked) > 1:
        second = ranked[1]
        margin = best["frame_auc"] - second["frame_auc"]
        se = math.hypot(_row_se(best), _row_se(second))
        noise = (f" With {best.get('frame_n')} test frames the sampling standard error of that difference is "
                 f"about {se:.3f}: " + ("the ranking is supported by the data." if margin > 2 * se else
                                        "the difference is within sampling noise, so this run does not "
                                        "support ranking these two.")) if math.isfinite(se) else ""
        out.append(f"It leads the next model, {second['model']} ({second['variant']}, AUC "
                   f"{second['frame_auc']:.3f}), by {margin:.3f} AUC." + noise)
    if best["frame_auc"] < NEAR_CHANCE_AUC:
        out.append(f"No detector is far above chance (AUC 0.5); the best reaches {best['frame_auc']:.3f}.")
    variants = sorted({r["variant"] for r in rows})
    if len(variants) > 1:
        # compare variants within the models that ran on all of them (models differ more than variants)
        paired = [m for m in best_per_model if {r["variant"] for r in rows if r["model"] == m} == set(variants)]
        if paired:
            means = {v: sum(r["frame_auc"] for r in rows if r["variant"] == v and r["model"] in paired) / len(paired)
                     for v in variants}
            top = max(means, key=means.get)
            spread = max(means.values()) - min(means.values())
            out.append(f"Data variants, mean frame AUC over the {len(paired)} model(s) that ran on every variant "
                       f"({', '.join(paired)}): " + ", ".join(f"{v} {means[v]:.3f}" for v in variants)
                       + (f"; {top} is highest, by {spread:.3f} over the lowest." if spread >= tolerance else
                          "; the variants are about equal."))
        else:
            out.append("Data variants cannot be compared yet: no model has results on every variant.")
    comps = [c for c in ("raw", "c23", "c40") if any(math.isfinite(r[f"auc_{c}"]) for r in rows)]
    if len(comps) > 1:
        paired = [r for r in rows if all(math.isfinite(r[f"auc_{c}"]) for c in comps)]
        if paired:
            means = {c: sum(r[f"auc_{c}"] for r in paired) / len(paired) for c in comps}
            drop = means[comps[0]] - means[comps[-1]]
            trend = ("compression hurts detection" if drop > tolerance else
                     "compression does not measurably hurt detection" if abs(drop) <= tolerance else
                     "detection is, unexpectedly, better on the compressed copies")
            out.append(f"Trained on {comps[0]}, tested on each compression (mean frame AUC over {len(paired)} "
                       "runs): " + ", ".join(f"{c} {means[c]:.3f}" for c in comps)
                       + f"; {trend} ({comps[0]} -> {comps[-1]}: {-drop:+.3f}).")
    video = [r for r in rows if math.isfinite(r["video_auc"])]
    if video:
        gain = sum(r["video_auc"] - r["frame_auc"] for r in video) / len(video)
        out.append(f"Averaging frame probabilities per video changes AUC by {gain:+.3f} on average "
                   f"over {len(video)} runs ("
                   + ("video level is better" if gain > tolerance else "video level is worse" if gain < -tolerance
                      else "about equal") + f"); the video level rests on only {video[0].get('video_n')} "
                   "test videos per run.")
    out.extend(_discuss_methods(rows, tolerance))
    weights = {w: [r["frame_auc"] for r in rows if r["weights"] == w] for w in ("pretrained", "scratch")}
    if all(weights.values()):
        pre, scr = (sum(v) / len(v) for v in (weights["pretrained"], weights["scratch"]))
        out.append(f"ImageNet-initialised runs reach a mean frame AUC of {pre:.3f} ({len(weights['pretrained'])} "
                   f"runs) against {scr:.3f} from scratch ({len(weights['scratch'])} runs); the models differ too, "
                   "so this is not a controlled comparison of initialisation.")
    scratch = sorted({r["model"] for r in rows if r["weights"] == "scratch"})
    if scratch:
        out.append(f"{', '.join(scratch)} trained from scratch (no ImageNet weights in the torch hub cache): "
                   "the thesis's pretrained comparison is not reproduced for them.")
    return out


def _discuss_methods(rows: list[dict[str, Any]], tolerance: float) -> list[str]:
    """Which fakes are harder to detect, and whether a detector trained on one method's fakes transfers."""
    out = []
    all_rows = [r["cross_method_auc"].get("all") or {} for r in rows if isinstance(r.get("cross_method_auc"), dict)]
    methods = sorted({m for d in all_rows for m in d})
    if len(methods) >= 2:
        means = {}
        for m in methods:
            vals = [_num(d.get(m)) for d in all_rows if math.isfinite(_num(d.get(m)))]
            if vals:
                means[m] = sum(vals) / len(vals)
        if len(means) >= 2:
            hardest = min(means, key=means.get)
            spread = max(means.values()) - min(means.values())
            out.append("Frame AUC of reals against each method's fakes, mean over runs: "
                       + ", ".join(f"{m} {v:.3f}" for m, v in means.items())
                       + (f"; the `{hardest}` fakes are the hardest to detect (by {spread:.3f})." if spread >= tolerance
                          else "; the methods' fakes are about equally hard to detect."))
    same, other = [], []
    for r in rows:
        matrix = r.get("cross_method_auc") or {}
        for trained, tested in matrix.items():
            if trained == "all" or not isinstance(tested, dict):
                continue
            for m, v in tested.items():
                if math.isfinite(_num(v)):
                    (same if m == trained else other).append(_num(v))
    if same and other:
        s_mean, o_mean = sum(same) / len(same), sum(other) / len(other)
        verdict = ("the per-method detectors are near chance even on their own method, so transfer cannot be "
                   "judged from this run." if s_mean < NEAR_CHANCE_AUC else
                   "detectors transfer poorly across generators." if s_mean - o_mean >= tolerance else
                   "the detectors transfer across generators at this budget.")
        out.append(f"Trained on one method's fakes: mean AUC {s_mean:.3f} on the same method and {o_mean:.3f} on the "
                   "other method(s); " + verdict)
    return out


def caveats(params: Params, rows: list[dict[str, Any]], train: dict[str, dict[str, Any]] | None = None
            ) -> list[str]:
    """What the numbers do not support, from the settings of this run (and the steps it trained)."""
    d, out = params.data, []
    steps = sorted({m.get("steps") for m in (train or {}).values() if m.get("steps") is not None})
    gan_steps = "/".join(str(x) for x in steps) if steps else f"{params.gan.train.steps} (configured)"
    if d.source == "synth":
        out.append(f"The faces are the embedded procedural talking faces ({d.identities} identities, "
                   f"{d.size}x{d.size} px, {d.frames} frames per video), not FaceForensics++ or VoxCeleb: "
                   "nothing here measures performance on real faces.")
    out.append(f"Budgets are small (GAN {gan_steps} steps, detectors {params.detect.epochs} epochs, "
               f"at most {params.detect.max_train_frames or 'all'} training frames): the numbers show that the "
               "pipeline works and how the methods compare at this budget, not their converged quality.")
    out.append(f"One seed ({params.seed}); no run was repeated, so there are no confidence intervals"
               + (" beyond the AUC sampling error quoted above." if rows else "."))
    sizes = sorted({r.get("test_frames") for r in rows if isinstance(r.get("test_frames"), int)})
    if sizes:
        span = f"{sizes[0]}" if len(sizes) == 1 else f"{sizes[0]}-{sizes[-1]}"
        out.append(f"Each detector was tested on {span} frames; AUC differences of a few hundredths are within "
                   "the sampling error at that size.")
    return out


# --------------------------------------------------------------------------------------------
# Figures the report draws itself
# --------------------------------------------------------------------------------------------
def _new_figure(**kwargs):
    from matplotlib.figure import Figure as MplFigure

    return MplFigure(**kwargs)


def draw_summary_figures(data: ReportData, folder: Path) -> list[Figure]:
    """Cross-stage figures into ``folder`` (replaced as a whole): detector AUCs, lstm vs none, GAN L1."""
    import numpy as np

    made: list[tuple[str, str, str]] = []
    with atomic_dir(folder) as tmp:
        rows = [r for r in data.detectors if math.isfinite(r["frame_auc"])]
        if rows:
            models = list(dict.fromkeys(r["model"] for r in rows))
            found = {r["variant"] for r in rows}
            variants = [v for v in data.params.detect.variants if v in found] + sorted(
                found - set(data.params.detect.variants))
            fig = _new_figure(figsize=(1.8 + 1.6 * len(models), 3.6))
            ax = fig.subplots()
            width = 0.8 / len(variants)
            for i, v in enumerate(variants):
                vals = [next((r["frame_auc"] for r in rows if r["model"] == m and r["variant"] == v), np.nan)
                        for m in models]
                ax.bar(np.arange(len(models)) + (i - (len(variants) - 1) / 2) * width, vals, width, label=v)
            ax.axhline(0.5, color="grey", ls="--", lw=0.8)
            ax.set_xticks(np.arange(len(models)), models)
            ax.set_ylim(0, 1.02)
            ax.set_ylabel("test ROC-AUC (frame level)")
            ax.set_title("Detectors by data variant")
            ax.legend(fontsize=8)
            fig.savefig(tmp / "detector_auc.png", dpi=110, bbox_inches="tight")
            made.append(("detector_auc.png", "frame-level test AUC of every detector x variant", "detector comparison"))

            comps = [c for c in ("raw", "c23", "c40") if any(math.isfinite(r[f"auc_{c}"]) for r in rows)]
            if len(comps) > 1:
                fig = _new_figure(figsize=(5.5, 3.6))
                ax = fig.subplots()
                for r in rows:
                    ax.plot(comps, [r[f"auc_{c}"] for c in comps], marker="o", lw=1, label=r["run"])
                ax.set_ylabel("test ROC-AUC (frame level)")
                ax.set_xlabel("test compression (trained on raw)")
                ax.set_title("Detection under compression")
                ax.legend(fontsize=6, ncol=2)
                fig.savefig(tmp / "compression_auc.png", dpi=110, bbox_inches="tight")
                made.append(("compression_auc.png", "frame AUC per test compression, every run",
                             "detector generalisation (raw -> c23/c40)"))

        methods = [m for m in ("lstm", "none", "copy-source") if isinstance(data.generation.get(m), dict)]
        metrics = [k for k in ("l1", "flicker", "warp_error", "akd", "aed")
                   if any(math.isfinite(_num(data.generation[m].get(k))) for m in methods)]
        if {"lstm", "none"} <= set(methods) and metrics:
            fig = _new_figure(figsize=(2.6 * len(metrics), 3.4), layout="constrained")
            axes = np.atleast_1d(fig.subplots(1, len(metrics)))
            labels = [m.replace("-", "\n") for m in methods]
            for ax, k in zip(axes, metrics):
                ax.bar(labels, [_num(data.generation[m].get(k)) for m in methods],
                       color=["C0", "C1", "grey"][:len(methods)])
                ax.set_title(f"{k} (lower is better)", fontsize=9)
                ax.tick_params(axis="x", labelsize=8)
            fig.suptitle("LSTM model vs first-order-motion baseline vs copying the source")
            fig.savefig(tmp / "lstm_vs_none.png", dpi=110, bbox_inches="tight")
            made.append(("lstm_vs_none.png", "generation metrics: lstm vs none vs copy-source", "ablation"))

        if data.train:
            names = list(data.train)
            fig = _new_figure(figsize=(1.5 + 1.6 * len(names), 3.2))
            ax = fig.subplots()
            x = np.arange(len(names))
            ax.bar(x - 0.2, [_num(data.train[t].get("val_l1")) for t in names], 0.4, label="generator")
            ax.bar(x + 0.2, [_num(data.train[t].get("copy_l1")) for t in names], 0.4, label="copy the source")
            ax.set_xticks(x, names)
            ax.set_ylabel("validation L1 (intensity in [0, 1])")
            ax.set_title("GAN reconstruction after training")
            ax.legend(fontsize=8)
            fig.savefig(tmp / "gan_val_l1.png", dpi=110, bbox_inches="tight")
            made.append(("gan_val_l1.png", "validation L1 of each trained GAN vs copying the source",
                         "GAN training result"))
    return [Figure(folder / name, cap, thesis, "dvc repro report") for name, cap, thesis in made]


# --------------------------------------------------------------------------------------------
# Assembling the report
# --------------------------------------------------------------------------------------------
def gather(params: Params) -> ReportData:
    """Read every stage's outputs (paths relative to the current folder, the project root)."""
    rows, missing = detector_rows(params)
    return ReportData(params=params, stages=expected_stages(params),
                      times=stage_times(Path(params.report.notebooks)), train=train_results(params),
                      generation=read_json(Path(params.generate.metrics)), detectors=rows,
                      missing_detectors=missing)


def detectors_table(rows: list[dict[str, Any]], missing: Sequence[str] = ()) -> tuple[str, str]:
    """(Markdown, CSV) of the detector comparison: frame and video level, cost, weights."""
    headers = {"frame_accuracy": "acc.", "frame_balanced_accuracy": "bal. acc.", "frame_ap": "AP",
               "frame_auc": "AUC", "frame_eer": "EER", "video_accuracy": "video acc.",
               "video_balanced_accuracy": "video bal. acc.", "video_ap": "video AP", "video_auc": "video AUC",
               "video_eer": "video EER", "auc_c23": "AUC c23", "auc_c40": "AUC c40",
               "parameters_m": "params (M)", "train_time_s": "train time (s)",
               "train_images_per_s": "train img/s", "eval_images_per_s": "eval img/s"}
    shown = [{**r, "parameters_m": (r["parameters"] / 1e6 if isinstance(r.get("parameters"), (int, float))
                                    else None)} for r in rows]
    columns = ["model", "variant", "weights", "frame_accuracy", "frame_balanced_accuracy", "frame_ap",
               "frame_auc", "frame_eer", "video_accuracy", "video_balanced_accuracy", "video_ap", "video_auc",
               "video_eer", "auc_c23", "auc_c40", "parameters_m", "train_time_s", "train_images_per_s",
               "eval_images_per_s"]
    md = ("Test split, trained and tested on the raw copy unless a column says otherwise. Accuracy, balanced "
          "accuracy, AP (average precision), ROC-AUC are fractions in [0, 1] (higher is better); EER is the "
          "equal error rate (lower is better). Video level = mean fake-probability per video. Times in "
          "seconds on this run's machine; img/s = images per second.\n\n")
    md += markdown_table(shown, columns, headers, {"parameters_m": 2, "train_time_s": 1, "train_images_per_s": 0,
                                                   "eval_images_per_s": 0}) if shown else "_(no detector results)_\n"
    for stage in missing:
        md += f"\n- {stage}: {not_available(stage)}"
    return md + ("\n" if missing else ""), csv_text(rows, DETECTOR_COLUMNS)


def _image(fig_path: Path, text: str, report_path: Path) -> str:
    return f"![{text}]({relative_to_report(fig_path, report_path)})"


def _link(path: Path, report_path: Path, text: str | None = None) -> str:
    return f"[{text or path.name}]({relative_to_report(path, report_path)})"


def thesis_map(data: ReportData, report_path: Path) -> str:
    """Markdown table: each thesis figure/table -> the files of this run -> the rebuild command."""
    p = data.params
    detect_dir = Path(p.detect.out)
    runs = [r["run"] for r in data.detectors]

    def files(paths: Iterable[Path], stage_of) -> tuple[str, str]:
        found = [q for q in paths if q.is_file()]
        links = ", ".join(_link(q, report_path, str(q.parent.name if q.parent.name != "figures" else
                                                   q.parent.parent.name) + "/" + q.name) for q in found)
        cmds = ", ".join(dict.fromkeys(f"`{repro(stage_of(q))}`" for q in found))
        return links, cmds

    temporals = p.generate.methods
    entries = [
        ("GAN generator and discriminator loss curves",
         [Path(TRAIN_FIGURES.format(temporal=t)) / "losses.png" for t in temporals],
         lambda q: f"train@{q.parent.name}", "train@" + temporals[0] if temporals else "train"),
        ("Discriminator accuracy on real / generated frames",
         [Path(TRAIN_FIGURES.format(temporal=t)) / "discriminator_accuracy.png" for t in temporals],
         lambda q: f"train@{q.parent.name}", "train@" + temporals[0] if temporals else "train"),
        ("Generated samples",
         [Path(TRAIN_FIGURES.format(temporal=t)) / "reconstructions.png" for t in temporals]
         + figures_in(Path(p.generate.figures)),
         lambda q: "generate" if Path(p.generate.figures) in q.parents else f"train@{q.parent.name}", "generate"),
        ("Detector 4-panel plot (loss, accuracy, AUC, learning rate)",
         [detect_dir / r / "figures" / "metrics.png" for r in runs],
         lambda q: f"detect@{q.parent.parent.name}", "detect@<model>-<variant>"),
        ("Prediction grid", [detect_dir / r / "figures" / "predictions.png" for r in runs],
         lambda q: f"detect@{q.parent.parent.name}", "detect@<model>-<variant>"),
        ("Comparison table of detectors (accuracy, AP, AUC)",
         [Path(p.report.tables) / "detectors.md"], lambda q: "report", "report"),
        ("(new) LSTM vs baseline ablation table", [Path(p.generate.tables) / "ablation.md"],
         lambda q: "generate", "generate"),
        ("(new) Generalisation heatmaps (compression, method)",
         [detect_dir / r / "figures" / f"generalisation_{k}.png" for r in runs for k in ("compression", "method")],
         lambda q: f"detect@{q.parent.parent.name}", "detect@<model>-<variant>"),
    ]
    lines = ["| thesis figure / table | this run's files | rebuild with |", "|---|---|---|"]
    for title, paths, stage_of, fallback in entries:
        links, cmds = files(paths, stage_of)
        if not links:
            links, cmds = not_available(fallback), f"`{repro(fallback)}`"
        lines.append(f"| {title} | {links} | {cmds} |")
    return "\n".join(lines) + "\n"


def times_table(data: ReportData) -> str:
    """Markdown table of every expected stage's wall time (or how to run it) and their total."""
    by_stage = {t["stage"]: t for t in data.times}
    rows, total = [], 0.0
    for stage in data.stages + [s for s in by_stage if s not in data.stages]:
        t = by_stage.get(stage)
        if t is None:
            note = ("this notebook (its time is recorded when it finishes)" if stage == "report"
                    else not_available(stage))
            rows.append({"stage": stage, "wall time (s)": None, "minutes": None, "finished (UTC)": note})
            continue
        total += t["seconds"]
        rows.append({"stage": stage, "wall time (s)": t["seconds"], "minutes": t["seconds"] / 60,
                     "finished (UTC)": t["finished"] + (" (FAILED)" if t["failed"] else "")})
    text = markdown_table(rows, ["stage", "wall time (s)", "minutes", "finished (UTC)"], digits=1)
    return text + f"\nTotal of the stages that ran: {total:.0f} s ({total / 60:.1f} min).\n"


def _gallery(figs: Sequence[Path], report_path: Path, stage: str) -> str:
    if not figs:
        return f"_Figures: {not_available(stage)}._\n"
    return "\n".join(f"**{caption(f)}** (`{repro(stage)}`)\n\n{_image(f, caption(f), report_path)}\n" for f in figs)


def _params_summary(p: Params) -> str:
    d, g, gen, det = p.data, p.gan, p.generate, p.detect
    return "\n".join([
        f"- seed {p.seed}",
        f"- data: source `{d.source}`, {d.size}x{d.size} px, {d.identities} identities "
        f"({d.val_identities} val, {d.test_identities} test), {d.videos_per_identity} videos x {d.frames} "
        f"frames, {d.fps} fps, CRF {d.crf}",
        f"- gan: {g.model.num_kp} keypoints, {g.train.steps} steps, batch {g.train.batch_size} x {g.train.clip_len} frames, "
        f"lr {g.train.lr:g} ({g.train.lr_schedule}), losses: reconstruction {g.loss.reconstruction:g}, perceptual "
        f"{g.loss.perceptual:g}, GAN {g.loss.gan:g}, temporal {g.loss.temporal:g}",
        f"- generate: methods {gen.methods}, relative motion {gen.relative}, export split {gen.export_split}, "
        f"every {gen.export_frame_step}th frame",
        f"- detect: models {det.models}, variants {det.variants}, pretrained `{det.pretrained}`, "
        f"{det.epochs} epochs, batch {det.batch_size}, lr {det.lr:g}, image size {det.image_size} px, "
        f"best epoch on `{det.select_on}`",
    ]) + "\n"


def render_markdown(data: ReportData, report_path: Path, summary_figs: Sequence[Figure],
                    detectors_md: str, now: str | None = None) -> str:
    p = data.params
    now = now or dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    s: list[str] = []
    s.append("# lstmgan: the regenerated thesis report\n")
    s.append("Every number below is read from a file a pipeline stage wrote in this run; every figure is a "
             "file a stage drew; each names the command that rebuilds it. Rebuild this report with "
             "`dvc repro report`.\n")
    s.append("## How this report was produced\n")
    s.append(f"- git revision: `{git_revision()}`\n- date: {now}\n- lstmgan version: {__version__}\n"
             f"- pipeline: `dvc repro` (prepare -> train@lstm, train@none -> generate -> detect@<model>-<variant> "
             "-> report)\n\nParameters (`params.yaml`):\n\n" + _params_summary(p))
    s.append("## Stage wall times\n\nFrom the papermill metadata of the executed notebooks in "
             f"`{p.report.notebooks}/`.\n\n" + times_table(data))
    s.append("## Map from the thesis's figures to this run's files\n\n" + thesis_map(data, report_path))

    # --- data ---
    s.append("## 1. Data (`dvc repro prepare`)\n\n" + _gallery(figures_in(DATA_FIGURES), report_path, "prepare"))

    # --- GAN training ---
    s.append("## 2. GAN training (`dvc repro train@lstm`, `dvc repro train@none`)\n")
    train_rows = []
    for t in p.generate.methods:
        m = data.train.get(t)
        if m is None:
            s.append(f"- `{t}`: {not_available('train@' + t)}\n")
            continue
        train_rows.append({"model": t, "steps": m.get("steps"), "val_l1": _num(m.get("val_l1")),
                           "copy_l1": _num(m.get("copy_l1")), "ratio": _num(m.get("ratio")),
                           "wall_seconds": _num(m.get("total_wall_seconds", m.get("wall_seconds"))),
                           "frames_per_second": _num(m.get("frames_per_second")), "device": m.get("device")})
    if train_rows:
        s.append("Validation reconstruction L1 (mean absolute error, intensities in [0, 1]) of the generator and "
                 "of copying the source frame; ratio = generator / copy (goal <= "
                 f"{p.report.l1_target_ratio:g}); wall time in seconds; training throughput in frames/s.\n\n"
                 + markdown_table(train_rows, None, {"val_l1": "val L1", "copy_l1": "copy-source L1",
                                                     "wall_seconds": "wall time (s)",
                                                     "frames_per_second": "frames/s"},
                                 {"val_l1": 4, "copy_l1": 4, "ratio": 2, "wall_seconds": 0, "frames_per_second": 1}))
    for t in p.generate.methods:
        s.append(f"### `{t}`\n\n" + _gallery(figures_in(Path(TRAIN_FIGURES.format(temporal=t))), report_path,
                                              f"train@{t}"))

    # --- generation ---
    s.append("## 3. Generation, evaluation and the LSTM ablation (`dvc repro generate`)\n")
    methods = [m for m, v in data.generation.items() if isinstance(v, dict) and "l1" in v]
    if methods:
        metrics = [k for k in GENERATION_UNITS if any(k in data.generation[m] for m in methods)]
        s.append(markdown_table([{"method": m, **{k: _num(data.generation[m].get(k)) for k in metrics}}
                                 for m in methods], ["method", *metrics], digits=4))
        s.append("\nUnits: " + "; ".join(f"{k}: {GENERATION_UNITS[k]}" for k in metrics)
                 + ". Lower is better except " + ", ".join(sorted(HIGHER_IS_BETTER & set(metrics))) + ".\n")
        ev = data.generation.get("evalnets") or {}
        if ev:
            s.append(f"\nAKD is measured by {ev.get('landmark_source')}, AED by {ev.get('identity_source')} "
                     f"(landmark test error {_fmt(_num(ev.get('landmark_test_mae_px')))} px, identity "
                     f"verification accuracy {_fmt(_num(ev.get('identity_test_verification_accuracy')))}).\n")
        ablation = Path(p.generate.tables) / "ablation.md"
        if ablation.is_file():
            s.append(f"\nThe stage's own table: {_link(ablation, report_path)} (`dvc repro generate`).\n")
    else:
        s.append(f"Generation metrics: {not_available('generate')}.\n")
    s.append("\n" + _gallery(figures_in(Path(p.generate.figures)), report_path, "generate"))

    # --- detection ---
    s.append("## 4. Detectors (`dvc repro -s detect@<model>-<variant>`)\n\n"
             f"Comparison table ({_link(Path(p.report.tables) / 'detectors.md', report_path)}, "
             f"{_link(Path(p.report.tables) / 'detectors.csv', report_path)}; `dvc repro report`):\n\n"
             + detectors_md)
    if data.detectors:
        s.append("\nPer run (click to open; rebuild one with its `dvc repro -s` command):\n")
        names = ["metrics", "roc_pr", "confusion", "predictions", "generalisation_compression",
                 "generalisation_method"]
        run_rows = []
        for r in data.detectors:
            fig_dir = Path(p.detect.out) / r["run"] / "figures"
            row = {"run": r["run"], "command": f"`{repro('detect@' + r['run'])}`"}
            for n in names:
                f = fig_dir / f"{n}.png"
                row[n] = _link(f, report_path, n) if f.is_file() else "n/a"
            run_rows.append(row)
        s.append("\n" + markdown_table(run_rows, ["run", *names, "command"]))
        best = max((r for r in data.detectors if math.isfinite(r["frame_auc"])), key=lambda r: r["frame_auc"],
                   default=None)
        if best is not None:
            fig_dir = Path(p.detect.out) / best["run"] / "figures"
            s.append(f"\n### Best run: {best['run']}\n\n"
                     + _gallery([fig_dir / f"{n}.png" for n in ("metrics", "predictions", "roc_pr")
                                 if (fig_dir / f"{n}.png").is_file()], report_path, "detect@" + best["run"]))

    # --- cross-stage summaries ---
    s.append("## 5. Summary figures (`dvc repro report`)\n")
    s.append("\n".join(f"**{f.caption}** (for: {f.thesis}; `{f.command}`)\n\n{_image(f.path, f.caption, report_path)}\n"
                        for f in summary_figs)
             or "_No summary figure: the stages it needs have not run._\n")

    # --- discussion ---
    s.append("## 6. What the measured numbers support\n")
    tol = p.report.tie_tolerance
    for title, sentences in (("GAN training", discuss_gan(data.train, p.report.l1_target_ratio)
                              or [f"No GAN was trained yet; {not_available('train@lstm')}."]),
                             ("LSTM vs first-order-motion baseline", discuss_ablation(data.generation, tol)),
                             ("Detection", discuss_detectors(data.detectors, tol)),
                             ("What they do not support", caveats(p, data.detectors, data.train))):
        s.append(f"**{title}.**\n\n" + "\n".join(f"- {x}" for x in sentences) + "\n")
    return "\n".join(s)


HTML_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>lstmgan report</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; line-height: 1.45; }}
table {{ border-collapse: collapse; font-size: 0.85em; margin: 1em 0; }}
th, td {{ border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: left; }}
th {{ background: #f3f3f3; }}
img {{ max-width: 100%; }}
code {{ background: #f3f3f3; padding: 0 0.2em; }}
</style></head><body>
{body}
</body></html>
"""


def markdown_to_html(text: str) -> str:
    """The report as a standalone HTML page (mistune 3 with GitHub tables; images stay relative)."""
    import mistune

    render = mistune.create_markdown(plugins=["table"])
    return HTML_TEMPLATE.format(body=render(text))


def build_report(params: Params) -> Path:
    """Write REPORT.md and REPORT.html, the detector tables and the summary figures; return REPORT.md.

    Paths in ``params`` are relative to the current folder (the project root; ``nb.setup`` goes there).
    """
    r = params.report
    report_path = Path(r.out)
    data = gather(params)
    summary = draw_summary_figures(data, Path(r.figures))
    detectors_md, detectors_csv = detectors_table(data.detectors, data.missing_detectors)
    tables = Path(r.tables)
    atomic_write_text(tables / "detectors.md", detectors_md)
    atomic_write_text(tables / "detectors.csv", detectors_csv)
    text = render_markdown(data, report_path, summary, detectors_md)
    atomic_write_text(report_path, text)
    atomic_write_text(report_path.with_suffix(".html"), markdown_to_html(text))
    log.info("report: %s (+ .html), %d detector runs, %d stage times, %d summary figures", report_path,
             len(data.detectors), len(data.times), len(summary))
    return report_path
