"""``reports/REPORT.md`` (and ``.html``) as a results chapter, from what :mod:`gather` read.

Order: the thesis-vs-reproduction table, the rule every verdict follows, then one section per
question (data; GAN training; does the LSTM help; detectors), known defects, stage times and the
limits of the run. Every picture is in the committed folder ``report.figures`` so the Markdown
renders on a code-hosting site; every table uses :mod:`lstmgan.utils.tables`.

Entry point: :func:`build_report` (the ``report`` stage, ``notebooks/05_report.ipynb``).
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import subprocess
from pathlib import Path
from typing import Sequence

from lstmgan import __version__
from lstmgan.config import Params
from lstmgan.report import discuss as D
from lstmgan.report.executed import publish_notebooks
from lstmgan.report.figures import Figure, draw_figures, figures_of
from lstmgan.report.model_card import render_model_card
from lstmgan.report.gather import TRAIN_STAGE, ReportData, evalnets_time_path, gather, not_available, num
from lstmgan.utils.io import atomic_write_text
from lstmgan.utils.stats import higher_is_better
from lstmgan.utils.tables import csv_text, format_interval, markdown_table

log = logging.getLogger(__name__)

DETECTOR_COLUMNS = (["model", "variant", "weights"]
                    + [f"{level}_{m}" for level in ("frame", "video") for m in
                       ("accuracy", "balanced_accuracy", "ap", "auc", "eer")]
                    + ["auc_raw", "auc_c23", "auc_c40", "one_class", "image_size", "epochs", "best_epoch",
                       "train_frames", "test_frames", "parameters", "train_time_s", "train_images_per_s",
                       "eval_images_per_s"])


PUBLISHED_WEIGHTS = Path("lstmgan/weights")  # the publish stage's folder (its weights.json describes the files)
ANIMATION = Path("reports/animation.gif")  # the publish stage's showcase

# what the pipeline itself rewrites: a change there is this run's result, not a local change to its inputs
PIPELINE_WRITES = ("dvc.lock", "reports/", "MODEL_CARD.md", "lstmgan/weights/")


def git_revision() -> str:
    """The commit the run's inputs come from, naming any tracked input changed since it."""
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             check=True, timeout=10)
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=10).stdout.splitlines()
        changed = [line[3:] for line in status if not line[3:].startswith(PIPELINE_WRITES)]
        shown = ", ".join(changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")
        return out.stdout.strip() + (f" (with local changes: {shown})" if changed else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout)"


def rel(path: Path, report_path: Path) -> str:
    return os.path.relpath(Path(path).resolve(), Path(report_path).resolve().parent).replace("\\", "/")


def _images(figs: Sequence[Figure], report_path: Path) -> str:
    return "\n".join(f"![{f.caption}]({rel(f.path, report_path)})\n\n*{f.caption}* (`{f.command}`)\n" for f in figs)


def _bullets(lines: Sequence[str]) -> str:
    return "\n".join(f"- {x}" for x in lines) + "\n"


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------
def thesis_table(data: ReportData) -> str:
    rows = D.thesis_rows(data)
    return markdown_table(rows, ["claim", "thesis", "ours", "verdict", "basis"],
                          {"thesis": "thesis", "ours": "this run", "basis": "how decided"})


def times_table(data: ReportData) -> str:
    """Every expected stage's wall time (or how to run it) and the total, evalnets included."""
    by_stage = {t["stage"]: t for t in data.times}
    rows, total = [], 0.0
    for stage in data.stages + [s for s in by_stage if s not in data.stages]:
        t = by_stage.get(stage)
        if t is None:
            note = ("this stage (its time is recorded when it finishes)" if stage == "report"
                    else not_available(stage))
            rows.append({"stage": stage, "seconds": None, "minutes": None, "measured from": note})
            continue
        total += t["seconds"]
        rows.append({"stage": stage, "seconds": t["seconds"], "minutes": t["seconds"] / 60,
                     "measured from": t["source"] + (" (FAILED)" if t["failed"] else "")})
    return (markdown_table(rows, ["stage", "seconds", "minutes", "measured from"], digits=1)
            + f"\nTotal of the stages that ran: {total:.0f} s ({total / 60:.1f} min); `dvc repro` adds its own "
              "hashing and start-up time on top.\n")


def gan_settings(data: ReportData) -> str:
    """What each GAN ran with: steps, image size and device from its metrics, loss terms from its log,
    optimisation from dvc.lock (else params.yaml, said so)."""
    rows = []
    locked = data.locked.get(TRAIN_STAGE) or {}  # one train stage: one record for every variant
    for t in data.params.generate.methods:
        m = data.train.get(t)
        if m is None:
            continue
        recorded = m.get("settings") if isinstance(m.get("settings"), dict) else None  # the run's own record
        train = recorded or (locked.get("gan.train") if isinstance(locked.get("gan.train"), dict) else None)
        g = data.params.gan.train
        src = ("train-<t>.json settings" if recorded else "dvc.lock" if train
               else "params.yaml (no dvc.lock record)")
        train = train or {"batch_size": g.batch_size, "clip_len": g.clip_len, "lr": g.lr,
                          "lr_schedule": g.lr_schedule}
        terms = m.get("loss_terms") or {}
        rows.append({"model": t, "steps": m.get("steps"), "image px": m.get("image_size"),
                     "device": f"{m.get('device', 'n/a')} x{m.get('processes', 1)}",
                     "batch x clip": f"{train.get('batch_size')} x {train.get('clip_len')} frames",
                     "lr": f"{num(train.get('lr')):g} ({train.get('lr_schedule')})",
                     "loss terms that ran (last logged value)": ", ".join(
                         f"{k} {v:.3g}" for k, v in terms.items()) or "not logged",
                     "perceptual loss": m.get("perceptual_loss", "not recorded"),
                     "face crops by": m.get("face_detector", "not recorded"),
                     "optimisation settings from": src})
    if not rows:
        return f"_{not_available(TRAIN_STAGE)}._\n"
    return transposed(rows, "model")


def transposed(rows: Sequence[dict[str, Any]], key: str) -> str:
    """A table with one column per row's ``key`` and one row per other field (few, long columns)."""
    fields = list(dict.fromkeys(f for r in rows for f in r if f != key))
    return markdown_table([{"": f, **{str(r[key]): r.get(f) for r in rows}} for f in fields],
                          ["", *[str(r[key]) for r in rows]])


def probe_table(data: ReportData) -> str:
    """The discriminator probe each train stage recorded (``probe`` in train-<t>.json): mean score
    (sd over images) per input, one column per model; its accuracy below."""
    columns: dict[str, dict[str, str]] = {}
    for t, m in data.train.items():
        probe = m.get("probe")
        if not isinstance(probe, dict):
            continue
        column = {}
        flat = dict(probe)
        for k, v in probe.items():  # nested records (e.g. {"blurred": {"score": ...}}) as dotted names
            if isinstance(v, dict):
                flat.pop(k)
                flat.update({f"{k}.{kk}": vv for kk, vv in v.items()})
        for k, v in flat.items():
            if k.endswith("_std") or isinstance(v, bool) or not isinstance(v, (int, float)):
                continue
            sd = flat.get(f"{k}_std")
            column[k] = format_interval(v, digits=3, significant=True) + (
                f" ({format_interval(sd, digits=2, significant=True)})" if isinstance(sd, (int, float)) else "")
        columns[t] = column
    if not columns:
        return "Discriminator probe: not available in this run (no `probe` in reports/metrics/train-<t>.json).\n"
    inputs = list(dict.fromkeys(k for c in columns.values() for k in c))
    rows = [{"input": k, **{t: c.get(k) for t, c in columns.items()}} for k in inputs]
    return ("Discriminator probe recorded by the train stage (train-<t>.json `probe`): mean patch score, real -> 1, "
            "fake -> 0 (sd over images); `accuracy` is the probe's real-vs-generated accuracy.\n\n"
            + markdown_table(rows, ["input", *columns]))


GENERATION_TABLES = (("Reconstruction and identity", ("l1", "psnr", "ssim", "akd", "aed")),
                     ("Temporal", ("flicker", "warp_error", "tof")))


def generation_table(data: ReportData) -> str:
    ivs = D.method_intervals(data)
    if not ivs:
        return f"Generation metrics: {not_available('generate')}.\n"
    out = []
    shown = []
    for title, wanted in GENERATION_TABLES:
        metrics = [k for k in wanted if any(k in v for v in ivs.values())]
        if not metrics:
            continue
        shown += metrics
        rows = [{"method": m, **{k: D.iv_text(v.get(k)) for k in metrics}} for m, v in ivs.items()]
        out.append(f"{title}:\n\n" + markdown_table(rows, ["method", *metrics]))
    return ("\n".join(out)
            + "\nMean over test videos [95% bootstrap interval over videos, one seed]. Units: "
            + "; ".join(f"{k}: {D.GENERATION_UNITS[k]}" for k in shown if k in D.GENERATION_UNITS)
            + ". " + direction_note(shown) + "\n")


def direction_note(metrics: Sequence[str]) -> str:
    """Which of ``metrics`` are better higher and which only describe (the rest are better lower)."""
    higher = [m for m in metrics if higher_is_better(m)]
    plain = [m for m in metrics if higher_is_better(m) is None]
    return ("Lower is better except " + (", ".join(higher) or "none") + " (higher is better)"
            + (f"; {', '.join(plain)} describe how the output is made and have no better side" if plain else "") + ".")


def paired_table(data: ReportData) -> str:
    diffs = D.paired_intervals(data)
    if not diffs:
        return ""
    rows = [{"metric": k, "lstm - none [95%]": D.iv_text(iv, signed=True),
             "verdict for lstm": D.decide(iv, higher_is_better(k)), "interval from": src}
            for k, (iv, src) in diffs.items()]
    return markdown_table(rows)


def detector_settings(data: ReportData) -> str:
    rows = [{"run": r["run"], "weights": r["weights"] + (f" ({r['architecture']})" if r.get("architecture") else ""),
             "image px": r.get("image_size"), "epochs (best)": f"{r.get('epochs')} ({r.get('best_epoch')})",
             "train frames": r.get("train_frames"), "test frames": r.get("test_frames"),
             "train time (s)": r.get("train_time_s")} for r in data.detectors]
    return markdown_table(rows, digits=1) if rows else ""


def detectors_table(data: ReportData) -> tuple[str, str]:
    """(Markdown, CSV) of the detector comparison: intervals where they exist, one-class flags."""
    single = set(D.one_class_runs(data.detectors))
    shown, flat = [], []
    for r in data.detectors:
        row = {"run": r["run"], "weights": r["weights"], "one class": "YES" if r["run"] in single else ""}
        for metric in ("accuracy", "ap", "auc", "eer"):
            row[metric] = D.iv_text(D.detector_value(data, r["run"], metric))
        row["video AUC"] = r["video_auc"]
        row["AUC c23"], row["AUC c40"] = r["auc_c23"], r["auc_c40"]
        shown.append(row)
        flat.append({**r, "one_class": r["run"] in single})
    md = ("Test split, frame level, trained and tested on the raw copy (c23/c40: tested on the compressed "
          "copies). Accuracy, AP, ROC-AUC in [0, 1], higher is better; EER lower is better. `[low, high]` = 95% "
          "interval over test videos from reports/tables/detect_intervals.csv; `(no interval)` = point estimate "
          "only. `one class` = the detector predicts one class for every test frame.\n\n")
    md += markdown_table(shown, ["run", "one class", "accuracy", "ap", "auc", "eer"],
                         {"ap": "AP", "auc": "ROC-AUC", "eer": "EER"}, empty="_(no detector results)_")
    if shown:
        md += ("\nVideo level (mean of a video's frame scores) and the compressed test copies, ROC-AUC point "
               "estimates:\n\n" + markdown_table(shown, ["run", "weights", "video AUC", "AUC c23", "AUC c40"]))
    for stage in data.missing_detectors:
        md += f"\n- {stage}: {not_available(stage)}"
    return md + ("\n" if data.missing_detectors else ""), csv_text(flat, DETECTOR_COLUMNS)


# --------------------------------------------------------------------------------------------
# The chapter
# --------------------------------------------------------------------------------------------
def render_markdown(data: ReportData, report_path: Path, figures: Sequence[Figure], detectors_md: str,
                    now: str | None = None) -> str:
    p = data.params
    now = now or dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    s: list[str] = []
    s.append("# Results: reproducing \"Deep Fakes Generation Using LSTM based Generative Adversarial Networks\"\n")
    s.append("\n".join(f"> {line}\n>" for line in D.answers(data)).rstrip(">\n") + "\n")
    s.append(f"Run of git revision `{git_revision()}` (lstmgan {__version__}), report written {now}. Every number is "
             "read from a file a pipeline stage wrote in this run and every picture is in "
             f"`{p.report.figures}/` (committed, so this page renders on the web). Rebuild with `dvc repro report`. "
             f"The executed notebooks behind it: [{p.report.executed}/]({rel(Path(p.report.executed), report_path)}); "
             f"the generators' model card: [{p.report.model_card}]({rel(Path(p.report.model_card), report_path)}).\n")
    coherence = D.coherence_rows(data)
    if coherence:
        s.append("## Is recurrence more coherent? (the multi-seed study)\n")
        s.append(f"Paired differences A - B, {D.study_basis(data)}; lower is better on every column: flicker, "
                 "warping error and tOF of the video, kp_jitter of the driving keypoints (high-frequency energy of "
                 "their trajectories against the ground-truth landmarks'). In brackets: the difference as a share of "
                 "B's mean. `none+euro` is the `none` model with a One-Euro filter on its driving keypoints (constants "
                 "chosen on validation). Degraded driving: the noisy, shaken, flickering copy, scored against the clean "
                 "frames. Resolves: the interval's half-width as a share of B's mean, the smallest difference this "
                 f"study can tell from zero. The study's own tables: [{data.ablation_study}]"
                 f"({rel(Path(data.ablation_study), report_path) if data.ablation_study else ''}).\n")
        s.append(markdown_table(coherence, ["comparison", "drive", *D.COHERENCE_METRICS, "verdict", "resolves"]))
    s.append("## Thesis vs reproduction\n")
    s.append(thesis_table(data))
    s.append(f"\n**The rule behind every verdict.** {D.RULE}\n")

    s.append("## 1. Data (`dvc repro prepare`)\n")
    d = p.data
    s.append(f"Source `{d.source}`: {d.identities} identities ({d.val_identities} validation, {d.test_identities} test), "
             f"{d.videos_per_identity} videos each, {d.frames} frames at {d.size}x{d.size} px, {d.fps} fps; H.264 "
             f"copies at CRF {', '.join(str(c) for c in d.crf)}.\n")
    s.append(D.motion_sentence(data))
    s.append(_images(figures_of(figures, "data"), report_path) or f"_{not_available('prepare')}._\n")

    s.append("## 2. GAN training (`dvc repro train`: both variants, side by side)\n")
    s.append("Settings each model actually ran with (steps, size and device from reports/metrics/train-<t>.json; "
             "loss terms from the training log, where a term that was off has no curve):\n\n" + gan_settings(data))
    s.append("\n" + _bullets(D.discuss_gan(data)))
    s.append(probe_table(data))
    s.append("\n" + _bullets(D.discuss_probe(data)))
    s.append(_images(figures_of(figures, "training"), report_path))

    s.append("## 3. Does the LSTM make the videos more temporally coherent? (`dvc repro generate`)\n")
    s.append(generation_table(data))
    table = paired_table(data)
    if table:
        s.append("\nPaired differences on the same test videos:\n\n" + table)
    s.append("\n" + _bullets(D.discuss_ablation(data) + D.discuss_parts(data)))
    degraded = D.discuss_degraded(data)
    if degraded:
        s.append("\n### Driving with a degraded video\n\nThe same test videos drive the models through their "
                 "degraded copy (sensor noise, camera shake, light flicker, motion blur: `data.degrade`, "
                 "docs/data.md); every score is against the clean frames.\n\n" + _bullets(degraded))
    if data.evalnets:
        e = data.evalnets
        s.append(f"AKD is measured by {e.get('landmark_source')} (test error "
                 f"{num(e.get('landmark_test_mae_px')):.3g} px), "
                 f"AED by {e.get('identity_source')} (test verification accuracy "
                 f"{num(e.get('identity_test_verification_accuracy')):.3g}).\n")
    ablation = Path(p.generate.tables) / "ablation.md"
    if ablation.is_file():
        s.append(f"\nThe generate stage's own table and note: [{ablation.name}]({rel(ablation, report_path)}).\n")
    if data.ablation_study is not None:
        s.append(f"\n### Multi-seed study\n\nEvery comparison on every metric, with its interval: "
                 f"[{data.ablation_study.name}]({rel(data.ablation_study, report_path)}) (the figure below shows "
                 "them as differences relative to B).\n")
        s.append("\n" + _bullets(D.discuss_study(data)))
    else:
        s.append(f"\nMulti-seed study: not available in this run (`{p.report.ablation_study or 'report.ablation_study'}` "
                 "absent).\n")
    if ANIMATION.is_file():
        s.append(f"![cross-identity animations: source | driving | {' | '.join(p.generate.methods)}]"
                 f"({rel(ANIMATION, report_path)})\n\n*cross-identity animations of the test split, left to right: "
                 f"source | driving | {' | '.join(p.generate.methods)}* (`dvc repro publish`)\n")
    s.append(_images(figures_of(figures, "generation"), report_path))

    s.append("## 4. Detectors (`dvc repro -s detect@<model>-<variant>`)\n")
    settings = detector_settings(data)
    if settings:
        s.append("Settings each detector actually ran with (from its metrics.json):\n\n" + settings + "\n")
    s.append(detectors_md)
    s.append("\n" + _bullets(D.discuss_detectors(data)))
    s.append(_images(figures_of(figures, "detection"), report_path))
    study = data.detect_study
    if study:
        links = ", ".join(f"[{f.name}]({rel(f, report_path)})" for f in sorted(Path(study["dir"]).glob("study_*.md")))
        s.append(f"\n### Detection study\n\nEvery backbone at the budget its validation curve asks for, scratch vs "
                 f"in-domain pretraining, one detector per generator, and training on c23 ({links}):\n\n"
                 + _bullets(D.discuss_detect_study(data)))
    else:
        s.append(f"Detection study: not available in this run (`{p.report.detect_study or 'report.detect_study'}` "
                 "has no study_ranking.csv; `make study-detect`).\n")

    s.append("## 5. Known defects\n\n" + _bullets(D.known_defects(data)))
    s.append(_images(figures_of(figures, "defects"), report_path))
    s.append("## 6. Stage times\n\nNotebook stages: papermill's recorded duration; `evalnets` runs the CLI, so its "
             f"time is what `lstmgan evalnets` records (`{evalnets_time_path(p)}`).\n\n"
             + times_table(data))
    s.append("## 7. What this run cannot show\n\n" + _bullets(D.caveats(data)))
    return "\n".join(s)


HTML_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>lstmgan results</title>
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
    """Write REPORT.md and REPORT.html, the detector tables and the report's pictures; return REPORT.md."""
    r = params.report
    report_path = Path(r.out)
    data = gather(params)
    figures = draw_figures(data, Path(r.figures))
    detectors_md, detectors_csv = detectors_table(data)
    tables = Path(r.tables)
    atomic_write_text(tables / "detectors.md", detectors_md)
    atomic_write_text(tables / "detectors.csv", detectors_csv)
    text = render_markdown(data, report_path, figures, detectors_md)
    atomic_write_text(report_path, text)
    atomic_write_text(report_path.with_suffix(".html"), markdown_to_html(text))
    atomic_write_text(r.model_card, render_model_card(data, PUBLISHED_WEIGHTS / "weights.json"))
    publish_notebooks(Path(r.notebooks), r.published_notebooks, Path(r.executed))
    log.info("report: %s (+ .html), %d detector runs, %d stage times, %d pictures", report_path,
             len(data.detectors), len(data.times), len(figures))
    return report_path

