"""Read what every stage wrote, once, into a :class:`ReportData` (missing inputs are empty, never an error).

Paths are relative to the project root (the current folder of the ``report`` stage). What is read,
by stage (documented in docs/architecture.md, "What the report reads"):

- every stage's wall time: ``<report.notebooks>/*.ipynb`` papermill metadata (``duration``); the
  ``evalnets`` stage runs the CLI, not a notebook: ``reports/metrics/evalnets_time.json``
  (``stage_seconds``, written by ``lstmgan evalnets``), else the sum of ``landmark_train_seconds``
  and ``identity_train_seconds`` recorded there, said to be a lower bound. Timings live in
  ``<metrics stem>_time.json`` beside each metrics file (:func:`lstmgan.utils.io.read_metrics`
  merges them), so that ``dvc metrics diff`` compares results only;
- the settings each stage actually ran with: ``dvc.lock`` (the params DVC recorded for each stage),
  the train stage's logged loss terms (``reports/train/<t>/plots/metrics/gen/<term>.tsv``: a term
  that was switched off, e.g. the perceptual loss without VGG weights, has no file) and each detect
  stage's ``metrics.json`` (image size, epochs, frames);
- train: ``reports/metrics/train-<t>.json`` and its ``_time.json`` (incl. any ``probe`` / ``keypoint_spread`` key) and the
  discriminator accuracy curves ``reports/train/<t>/plots/metrics/disc/acc_{real,fake}.tsv``;
- generate: ``generate.metrics`` (JSON), ``<generate.reports>/per_video.csv`` (per-video metrics,
  paired intervals), ``<generate.reports>/cross_identity.csv`` (per-pair cross-identity measures),
  ``<generate.tables>/ablation.{md,csv}``; a multi-seed study's table
  ``report.ablation_study`` and the ``metrics.json`` beside it (two-level intervals) when they exist;
- detect: ``<detect.out>/<model>-<variant>/metrics.json`` (+ ``metrics_time.json``) and ``predictions.csv`` (one-class
  check), ``<report.tables>/detect_intervals.csv`` and ``detect_pairwise.csv`` (intervals and paired
  verdicts, written by the detector comparison) when they exist, and ``detect_ranking.csv``;
- the detection study: ``<report.detect_study>/study_{ranking,pairwise,intervals,cross_generator,
  compression}.csv`` when it has been run;
- each study's ``dvc.lock`` (the nearest one above its tables) beside this run's ``dvc.lock``: the
  data folders a study read are compared by hash with those this run's stages wrote, so that a study
  run on other data says so (:func:`data_mismatch`).
"""
from __future__ import annotations

import csv
import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lstmgan.config import Params
from lstmgan.utils.io import read_metrics, timing_path

log = logging.getLogger(__name__)

DATA_FIGURES = Path("reports/figures/data")  # notebooks/01_data.ipynb
DATA_METRICS = Path("reports/metrics/data.json")  # lstmgan.data.stats, written by notebooks/01_data.ipynb
TRAIN_STAGE = "train"  # dvc.yaml: one stage trains every generate.methods variant, side by side
FOREACH_STAGES = ("detect",)  # dvc.yaml stages with one notebook per item (detect@<model>-<variant>)
TRAIN_FIGURES = "reports/figures/train/{temporal}"  # notebooks/02_train_gan.ipynb
TRAIN_METRICS = "reports/metrics/train-{temporal}.json"  # lstmgan.gan.train defaults
TRAIN_LOG = "reports/train/{temporal}"  # the dvclive folder of lstmgan.gan.train
DVC_LOCK = Path("dvc.lock")
LEVEL_METRICS = ("accuracy", "balanced_accuracy", "ap", "auc", "eer")


@dataclass
class ReportData:
    """Everything the report reads, gathered once."""

    params: Params
    stages: list[str]
    times: list[dict[str, Any]]
    train: dict[str, dict[str, Any]]
    generation: dict[str, Any]
    per_video: list[dict[str, Any]]
    evalnets: dict[str, Any]
    detectors: list[dict[str, Any]]
    missing_detectors: list[str]
    detect_intervals: list[dict[str, Any]] = field(default_factory=list)
    detect_pairwise: list[dict[str, Any]] = field(default_factory=list)
    locked: dict[str, dict[str, Any]] = field(default_factory=dict)
    ablation_study: Path | None = None
    study: dict[str, Any] = field(default_factory=dict)  # the study's metrics.json (beside its table)
    motion: dict[str, Any] = field(default_factory=dict)  # how much the test faces move (data stage)
    detect_ranking: list[dict[str, Any]] = field(default_factory=list)  # <report.tables>/detect_ranking.csv
    detect_study: dict[str, Any] = field(default_factory=dict)  # {"dir", "ranking", "pairwise", "intervals", "cross_generator", "compression"}
    cross_pairs: list[dict[str, Any]] = field(default_factory=list)  # <generate.reports>/cross_identity.csv
    ablation_data: dict[str, tuple[str, str]] = field(default_factory=dict)  # data_mismatch of the multi-seed study
    detect_study_data: dict[str, tuple[str, str]] = field(default_factory=dict)  # ... of the detection study


# --------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------
def _yaml(path: Path) -> dict[str, Any]:
    """The YAML mapping in ``path``, or {} when it is absent or unreadable (logged)."""
    try:
        text = Path(path).read_text()
    except OSError:
        return {}
    import yaml

    try:
        data = yaml.safe_load(text)
    except Exception as err:  # noqa: BLE001 - any YAML error means "no record", logged
        log.warning("%s: unreadable (%s)", path, err)
        return {}
    return data if isinstance(data, dict) else {}


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


def read_csv(path: Path, delimiter: str = ",") -> list[dict[str, Any]]:
    """Rows of a CSV/TSV with numbers parsed (empty cells None); [] when absent or unreadable."""
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f, delimiter=delimiter))
    except FileNotFoundError:
        return []
    except (OSError, csv.Error, UnicodeDecodeError) as err:
        log.warning("%s: unreadable (%s); treated as missing", path, err)
        return []
    return [{k: _parse(v) for k, v in row.items() if k is not None} for row in rows]


def _parse(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    s = text.strip()
    if s == "":
        return None
    if s in ("True", "true"):
        return True
    if s in ("False", "false"):
        return False
    try:
        return int(s)
    except ValueError:
        pass
    try:
        return float(s)
    except ValueError:
        return s


def num(value: Any) -> float:
    """A float, NaN for None / non-numbers (the stages write NaN as null)."""
    if isinstance(value, bool) or value is None:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def read_series(path: Path) -> list[tuple[int, float]]:
    """A dvclive metric file (``step<TAB>value``) as [(step, value)]; [] when absent."""
    out = []
    for row in read_csv(path, delimiter="\t"):
        values = [v for k, v in row.items() if k not in ("step", "timestamp")]
        step, value = row.get("step"), num(values[0]) if values else math.nan
        if isinstance(step, int) and math.isfinite(value):
            out.append((step, value))
    return out


def read_lock(path: Path = DVC_LOCK) -> dict[str, dict[str, Any]]:
    """``{stage: {param key: value}}`` from dvc.lock (the params each stage last ran with); {} if absent."""
    stages = _yaml(path).get("stages") or {}
    out = {}
    for name, stage in stages.items():
        params = (stage or {}).get("params") or {}
        merged: dict[str, Any] = {}
        for values in params.values():
            if isinstance(values, dict):
                merged.update(values)
        out[str(name)] = merged
    return out


# --------------------------------------------------------------------------------------------
# Stages
# --------------------------------------------------------------------------------------------
def repro(stage: str) -> str:
    """The command that rebuilds one stage (``-s``: that stage only, for the 12 detect stages)."""
    return f"dvc repro -s {stage}" if stage.startswith("detect@") else f"dvc repro {stage}"


def not_available(stage: str) -> str:
    return f"not available in this run (run `{repro(stage)}`)"


def expected_stages(params: Params) -> list[str]:
    """The pipeline's stages in order (dvc.yaml)."""
    return (["prepare", "evalnets", TRAIN_STAGE, "generate"]
            + [f"detect@{m}-{v}" for m in params.detect.models for v in params.detect.variants] + ["report"])


def notebook_stage(name: str) -> str:
    """Stage name of an executed notebook file (``04_detectors-resnet18-base.ipynb`` -> ``detect@resnet18-base``;
    ``02_train_gan-lstm.ipynb`` -> ``train``: one stage runs both GAN notebooks side by side)."""
    stem = Path(name).stem
    prefix, _, rest = stem.partition("-")
    base = {"01_data": "prepare", "02_train_gan": TRAIN_STAGE, "03_generate": "generate",
            "04_detectors": "detect", "05_report": "report"}.get(prefix, prefix)
    return f"{base}@{rest}" if rest and base in FOREACH_STAGES else base


def stage_times(notebooks_dir: Path, evalnets: dict[str, Any], evalnets_time: dict[str, Any] | None = None
                ) -> list[dict[str, Any]]:
    """Wall time of every stage: papermill's ``duration`` for the notebook stages; for ``evalnets``
    (a CLI stage) the ``stage_seconds`` it records (``reports/metrics/evalnets_time.json``), else
    the training seconds of its two networks from its metrics (a lower bound, said so)."""
    by_stage: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for path in sorted(Path(notebooks_dir).glob("*.ipynb")):
        meta = read_json(path).get("metadata", {}).get("papermill", {})
        if meta.get("duration") is not None:
            by_stage.setdefault(notebook_stage(path.name), []).append((path.name, meta))
    rows: list[dict[str, Any]] = []
    for stage, runs in by_stage.items():
        seconds = [float(meta["duration"]) for _, meta in runs]
        if len(runs) == 1:
            source = f"papermill duration of {runs[0][0]}"
        else:  # one stage running its notebooks side by side (train): the longest is its wall time
            each = ", ".join(f"{name} ({s:.0f} s)" for (name, _), s in zip(runs, seconds))
            source = f"papermill durations of {each}, run side by side: the longest"
        rows.append({"stage": stage, "seconds": max(seconds), "source": source,
                     "finished": max(str(meta.get("end_time") or "")[:19].replace("T", " ") for _, meta in runs),
                     "failed": any(bool(meta.get("exception")) for _, meta in runs)})
    stage_s = num((evalnets_time or {}).get("stage_seconds"))
    parts = [num(evalnets.get(k)) for k in ("landmark_train_seconds", "identity_train_seconds")]
    if math.isfinite(stage_s):
        rows.append({"stage": "evalnets", "seconds": stage_s, "source": "evalnets_time.json written by `lstmgan "
                     "evalnets` (from its start to its metrics; Python start-up not included)",
                     "finished": "", "failed": False})
    elif any(math.isfinite(p) for p in parts):
        rows.append({"stage": "evalnets", "seconds": sum(p for p in parts if math.isfinite(p)),
                     "source": "training seconds of its two networks in evalnets.json (a lower bound: "
                               "loading data and testing not included)", "finished": "", "failed": False})
    return rows


def train_results(params: Params) -> dict[str, dict[str, Any]]:
    """``{temporal: train-<t>.json + loss_terms + disc curves}`` for every variant that ran."""
    out = {}
    for temporal in params.generate.methods:
        metrics = read_metrics(Path(TRAIN_METRICS.format(temporal=temporal)))
        if not metrics:
            continue
        logdir = Path(TRAIN_LOG.format(temporal=temporal)) / "plots" / "metrics"
        terms = {}
        for tsv in sorted((logdir / "gen").glob("*.tsv")):
            series = read_series(tsv)
            if tsv.stem != "total" and series:
                terms[tsv.stem] = series[-1][1]
        metrics = dict(metrics)
        metrics.setdefault("loss_terms", terms)  # a term switched off has no file
        metrics["disc_acc"] = {k: read_series(logdir / "disc" / f"acc_{k}.tsv") for k in ("real", "fake")}
        out[temporal] = metrics
    return out


def one_class(predictions: Path, compression: str) -> float | None:
    """Fraction of test frames predicted fake (p_fake >= 0.5) at ``compression``; None if unknown."""
    rows = [r for r in read_csv(predictions) if r.get("compression", compression) == compression]
    probs = [num(r.get("p_fake")) for r in rows]
    probs = [p for p in probs if math.isfinite(p)]
    return sum(p >= 0.5 for p in probs) / len(probs) if probs else None


def detector_rows(params: Params) -> tuple[list[dict[str, Any]], list[str]]:
    """One row per detector x variant from ``<detect.out>/<model>-<variant>/metrics.json``.

    Rows follow ``detect.models`` x ``detect.variants`` (then any other run found); the second
    value lists the expected stages that have no metrics yet.
    """
    detect_dir = Path(params.detect.out)
    expected = [f"{m}-{v}" for m in params.detect.models for v in params.detect.variants]
    found = sorted(p.parent.name for p in detect_dir.glob("*/metrics.json"))
    rows, missing = [], []
    for name in expected + [n for n in found if n not in expected]:
        m = read_metrics(detect_dir / name / "metrics.json")
        if not m:
            missing.append(f"detect@{name}")
            continue
        model, _, variant = name.partition("-")
        row: dict[str, Any] = {"run": name, "model": m.get("model", model), "variant": m.get("variant", variant),
                               "weights": m.get("weights", ""), "architecture": m.get("architecture", "")}
        for level in ("frame", "video"):
            values = m.get(level) or {}
            for metric in LEVEL_METRICS:
                row[f"{level}_{metric}"] = num(values.get(metric))
            row[f"{level}_n"] = values.get("n")
            row[f"{level}_n_fake"] = values.get("n_fake")
        for comp in ("raw", "c23", "c40"):
            row[f"auc_{comp}"] = num(((m.get("compression") or {}).get(comp) or {}).get("frame", {}).get("auc"))
        for key in ("image_size", "epochs", "best_epoch", "train_frames", "val_frames", "test_frames",
                    "parameters", "train_compression", "lr", "batch_size", "device"):
            row[key] = m.get(key)
        for key in ("train_time_s", "train_images_per_s", "eval_images_per_s", "stage_time_s"):
            row[key] = num(m.get(key))
        row["cross_method_auc"] = m.get("cross_method_auc") or {}
        row["predicted_fake"] = one_class(detect_dir / name / "predictions.csv", m.get("train_compression", "raw"))
        rows.append(row)
    return rows, missing


def study_lock(tables: Path) -> Path | None:
    """The ``dvc.lock`` of the study whose results lie at ``tables`` (a path relative to the project
    root): the nearest one in a folder above it, below the root; None when there is none."""
    for folder in Path(tables).parents:
        if folder == Path("."):
            break
        if (folder / "dvc.lock").is_file():
            return folder / "dvc.lock"
    return None


def lock_outputs(path: Path = DVC_LOCK) -> dict[str, str]:
    """``{output path: md5}`` of every stage output recorded in a ``dvc.lock``; {} if absent."""
    return {str(out["path"]): str(out["md5"])
            for stage in (_yaml(path).get("stages") or {}).values()
            for out in (stage or {}).get("outs") or [] if out.get("md5")}


def data_mismatch(study: Path | None, written: dict[str, str]) -> dict[str, tuple[str, str]]:
    """``{data path: (hash the study read, hash this run wrote)}`` for each folder a study's stages
    depended on that this run also wrote (``written``: :func:`lock_outputs`), where the two differ.
    {} when they agree or the study has no lock. A study that read more than one version of a folder:
    the hashes, comma-joined."""
    if study is None:
        return {}
    read: dict[str, set[str]] = {}
    for stage in (_yaml(study).get("stages") or {}).values():
        for dep in (stage or {}).get("deps") or []:
            path = str(dep.get("path", ""))
            if path in written and dep.get("md5"):
                read.setdefault(path, set()).add(str(dep["md5"]))
    return {path: (",".join(sorted(hashes)), written[path])
            for path, hashes in sorted(read.items()) if hashes != {written[path]}}


def evalnets_time_path(params: Params) -> Path:
    """Where ``lstmgan evalnets`` records its wall time: ``<metrics stem>_time.json`` beside its metrics."""
    return timing_path(params.generate.evalnet_metrics)


def gather(params: Params) -> ReportData:
    """Read every stage's outputs (paths relative to the current folder, the project root)."""
    rows, missing = detector_rows(params)
    evalnets = read_metrics(Path(params.generate.evalnet_metrics))
    tables = Path(params.report.tables)
    study = Path(params.report.ablation_study) if params.report.ablation_study else None
    study = study if study and study.is_file() else None
    written = lock_outputs()
    return ReportData(
        params=params, stages=expected_stages(params),
        times=stage_times(Path(params.report.notebooks), evalnets,
                          read_json(evalnets_time_path(params))),
        train=train_results(params),
        generation=read_json(Path(params.generate.metrics)),
        per_video=read_csv(Path(params.generate.reports) / "per_video.csv"), evalnets=evalnets,
        cross_pairs=read_csv(Path(params.generate.reports) / "cross_identity.csv"),
        detectors=rows, missing_detectors=missing,
        detect_intervals=read_csv(tables / "detect_intervals.csv"),
        detect_pairwise=read_csv(tables / "detect_pairwise.csv"),
        locked=read_lock(), ablation_study=study,
        study=read_json(study.with_name("metrics.json")) if study else {},
        motion=read_json(DATA_METRICS),
        detect_ranking=read_csv(tables / "detect_ranking.csv"),
        detect_study=detect_study(Path(params.report.detect_study)) if params.report.detect_study else {},
        ablation_data=data_mismatch(study_lock(study), written) if study else {},
        detect_study_data=(data_mismatch(study_lock(Path(params.report.detect_study)), written)
                           if params.report.detect_study else {}))


DETECT_STUDY_TABLES = ("ranking", "pairwise", "intervals", "cross_generator", "compression")


def detect_study(folder: Path) -> dict[str, Any]:
    """The detection study's tables (``study_<name>.csv``), or {} when it has not been run."""
    if not (folder / "study_ranking.csv").is_file():
        return {}
    return {"dir": folder, **{name: read_csv(folder / f"study_{name}.csv") for name in DETECT_STUDY_TABLES}}
