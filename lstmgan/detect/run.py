"""One detect stage: train detector x variant on the exported data set, test it, write everything.

Outputs (``<detect.out>/<model>-<variant>/``, replaced as a whole when complete):

- ``metrics.json``: test metrics (frame and video level) on the training compression, per
  compression, the cross-method matrix, parameter count, weights used;
- ``metrics_time.json``: training time and images/s (apart: they differ run to run);
- ``records.tsv``: the per-epoch records (for ``dvc plots show``);
- ``predictions.csv``: every test frame's fake probability;
- ``predictions_cross.csv`` (with ``detect.cross_method``): the test frames at the training
  compression scored by each one-method detector (column ``trained_on``), for
  :func:`lstmgan.detect.compare.cross_generator_table`;
- ``generalisation_compression.csv/json``, ``generalisation_method.csv/json``;
- ``figures/``: metrics.png, roc_pr.png, confusion.png, predictions.png, generalisation_*.png.

and the best checkpoint ``<detect.models_out>/<model>-<variant>.pt``.
"""
from __future__ import annotations

import logging
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lstmgan.config import DetectParams, Params
from lstmgan.detect import figures
from lstmgan.detect.data import FrameSet, load_manifest, select
from lstmgan.detect.metrics import OneClassWarning, binary_metrics, frame_and_video_metrics
from lstmgan.detect.models import MODELS, build_detector, count_parameters
from lstmgan.detect.train import RECORD_COLUMNS, FitResult, fit, predict
from lstmgan.utils.device import cpu_threads, resolve_device
from lstmgan.detect.transforms import VARIANTS, variant_transforms
from lstmgan.errors import UserError
from lstmgan.utils.io import all_or_nothing, atomic_dir, atomic_torch_save, atomic_write_json, atomic_write_text, read_metrics, write_metrics
from lstmgan.utils.seed import seed_everything

log = logging.getLogger(__name__)


def stage_name(model: str, variant: str) -> str:
    return f"{model}-{variant}"


def _train_one(cfg: DetectParams, model_name: str, variant: str, root: Path, table, seed: int,
               methods: list[str] | None, desc: str) -> tuple[Any, FitResult, Any]:
    """Build, train and return (built detector, fit result, validation FrameSet) for one data choice."""
    seed_everything(seed)
    tf = variant_transforms(variant)
    train_rows = select(table, "train", cfg.train_compression, cfg.max_train_frames, methods)
    val_rows = select(table, "val", cfg.train_compression, cfg.max_eval_frames, methods)
    for name, rows in (("train", train_rows), ("val", val_rows)):
        if rows.empty or rows["y"].nunique() < 2:
            raise UserError(f"{root / 'manifest.csv'}: the {name} split at {cfg.train_compression} needs "
                            f"real and fake frames{' of ' + ', '.join(methods) if methods else ''}; "
                            "re-export the data set or change detect.train_compression")
    train = FrameSet.load(root, train_rows, cfg.image_size, tf.train)
    val = FrameSet.load(root, val_rows, cfg.image_size, tf.eval)
    val_aug = val.with_transform(tf.val_augmented).materialise(seed + 1)
    built = build_detector(model_name, cfg.pretrained, cfg.hidden, cfg.dropout)
    built.model.to(resolve_device(cfg.device))
    if cfg.channels_last:  # NHWC convolutions: faster on CPU and tensor cores (inputs follow the weights)
        built.model.to(memory_format=torch.channels_last)
    pretrain = None
    if cfg.face_pretrain and cfg.pretrain_steps > 0:
        from lstmgan.detect.pretrain import pretrain_identity

        pretrain = pretrain_identity(built.model, cfg.pretrain_store, cfg.image_size, cfg.pretrain_steps,
                                     cfg.pretrain_batch, cfg.pretrain_lr, cfg.pretrain_frames_per_video, seed)
        seed_everything(seed)  # detection training starts from the same RNG state as without pretraining
    train_eval = train.with_transform(tf.eval).subset(cfg.max_eval_frames)
    result = fit(built.model, train, train_eval, val, val_aug,
                 epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, weight_decay=cfg.weight_decay,
                 one_cycle=cfg.one_cycle, select_on=cfg.select_on, seed=seed, desc=desc)
    result.extra.update(n_train=len(train), n_val=len(val), pretrain=pretrain)
    return built, result, val


def weights_label(built, cfg: DetectParams) -> str:
    """What the backbone started from: ``pretrained`` (ImageNet), ``scratch``, ``face-id`` (in-domain
    identity pretraining) or ``pretrained+face-id``."""
    base = "pretrained" if built.pretrained else "scratch"
    if cfg.face_pretrain and cfg.pretrain_steps > 0:
        return "face-id" if base == "scratch" else "pretrained+face-id"
    return base


def _test_frames(model, cfg: DetectParams, variant: str, root: Path, table, compression: str,
                 methods: list[str] | None = None):
    """Frame table of the test split at ``compression`` with the model's fake probabilities."""
    rows = select(table, "test", compression, cfg.max_test_frames, methods)
    data = FrameSet.load(root, rows, cfg.image_size, variant_transforms(variant).eval)
    start = time.perf_counter()
    rows = rows.copy()
    rows["p_fake"] = predict(model, data) if len(data) else np.zeros(0)
    elapsed = time.perf_counter() - start
    return rows, data, elapsed


def _flat(metrics: dict[str, dict[str, float]]) -> dict[str, float]:
    return {f"{level}_{k}": v for level, values in metrics.items() for k, v in values.items()}


def run_detector(params: Params, model_name: str, variant: str, data_dir: str | Path | None = None,
                 out_dir: str | Path | None = None, models_dir: str | Path | None = None) -> dict[str, Any]:
    """Train and evaluate ``model_name`` on data variant ``variant``; write the stage's outputs.

    ``data_dir`` defaults to ``generate.out``; ``out_dir`` to ``<detect.out>/<model>-<variant>``;
    ``models_dir`` to ``detect.models_out``. Returns the content of ``metrics.json``.
    """

    with cpu_threads(params.detect.for_model(model_name).threads):
        return _run_detector(params, model_name, variant, data_dir, out_dir, models_dir)


def _run_detector(params: Params, model_name: str, variant: str, data_dir: str | Path | None,
                  out_dir: str | Path | None, models_dir: str | Path | None) -> dict[str, Any]:
    import pandas as pd
    import torch

    if model_name not in MODELS:
        raise UserError(f"--model {model_name!r}: choose one of {', '.join(MODELS)}")
    if variant not in VARIANTS:
        raise UserError(f"--variant {variant!r}: choose one of {', '.join(VARIANTS)}")
    cfg = params.detect.for_model(model_name)
    root = Path(data_dir or params.generate.out)
    name = stage_name(model_name, variant)
    out_dir = Path(out_dir or Path(cfg.out) / name)
    checkpoint = Path(models_dir or cfg.models_out) / f"{name}.pt"
    table = load_manifest(root)
    started = time.perf_counter()

    built, result, _ = _train_one(cfg, model_name, variant, root, table, params.seed, None, name)
    model = built.model
    fake_methods = sorted(table.loc[(table["y"] == 1) & (table["split"] == "train"), "method"].unique())

    # --- test: every compression present (the training compression first) ---
    compressions = [c for c in dict.fromkeys([cfg.train_compression, *cfg.test_compressions])
                    if c in set(table["compression"])]
    skipped = sorted(set(cfg.test_compressions) - set(compressions))
    if skipped:
        log.warning("no %s copies in %s; skipping them in the compression matrix", ", ".join(skipped), root)
    per_compression: dict[str, dict] = {}
    tests = {}
    eval_time, eval_images = 0.0, 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", OneClassWarning)
        for comp in compressions:
            frames, data, elapsed = _test_frames(model, cfg, variant, root, table, comp)
            eval_time += elapsed
            eval_images += len(data)
            tests[comp] = (frames, data)
            per_compression[comp] = frame_and_video_metrics(frames) if len(frames) else {}
        # --- cross-method: one detector per fake method, tested on each method ---
        method_rows: dict[str, dict[str, float]] = {}
        main_frames = tests[cfg.train_compression][0]
        method_rows["all"] = {m: _method_auc(main_frames, m) for m in fake_methods}
        cross_frames = []
        if cfg.cross_method and len(fake_methods) >= 2:
            for i, method in enumerate(fake_methods):
                m_built, _, _ = _train_one(cfg, model_name, variant, root, table, params.seed + 100 + i,
                                           [method], f"{name} on {method}")
                frames, _, _ = _test_frames(m_built.model, cfg, variant, root, table, cfg.train_compression)
                method_rows[method] = {m: _method_auc(frames, m) for m in fake_methods}
                cross_frames.append(frames.assign(trained_on=method, compression=cfg.train_compression))
    for w in caught:
        log.warning("%s", w.message)
    total_time = time.perf_counter() - started

    main = per_compression[cfg.train_compression]
    comp_matrix = pd.DataFrame(
        {comp: {level: per_compression[comp].get(level, {}).get("auc", float("nan")) for level in ("frame", "video")}
         for comp in compressions})
    comp_matrix.index = [f"{cfg.train_compression} ({level})" for level in comp_matrix.index]
    method_matrix = pd.DataFrame(method_rows).T
    method_matrix.index.name, method_matrix.columns.name = "trained on", "tested on"

    metrics: dict[str, Any] = {
        "model": model_name, "variant": variant,
        "weights": weights_label(built, cfg), "architecture": built.architecture,
        "pretrain": (None if result.extra.get("pretrain") is None else {
            k: v for k, v in vars(result.extra["pretrain"]).items()}),
        "lr": cfg.lr, "batch_size": cfg.batch_size,
        "parameters": count_parameters(model),
        "device": str(resolve_device(cfg.device)), "threads": torch.get_num_threads(),
        "image_size": cfg.image_size, "epochs": cfg.epochs, "best_epoch": result.best_epoch,
        "select_on": cfg.select_on,
        "train_frames": result.extra["n_train"], "val_frames": result.extra["n_val"],
        "test_frames": int(len(main_frames)),
        "train_compression": cfg.train_compression,
        "frame": main["frame"], "video": main["video"],
        **_flat({"frame": main["frame"], "video": main["video"]}),
        "compression": per_compression,
        "cross_method_auc": method_rows,
        "best_record": next(r for r in result.records if r["epoch"] == result.best_epoch),
    }
    timing = {"train_time_s": round(result.train_time_s, 3),  # metrics_time.json: not compared by dvc
              "train_images_per_s": round(result.train_images_per_s, 2),
              "eval_images_per_s": round(eval_images / eval_time, 2) if eval_time > 0 else float("nan"),
              "stage_time_s": round(total_time, 2)}

    saved = {"model": model_name, "variant": variant, "state_dict": result.best_state,
             "image_size": cfg.image_size, "hidden": cfg.hidden, "dropout": cfg.dropout,
             "weights": metrics["weights"], "best_epoch": result.best_epoch, "params": params.to_dict()}
    inside = checkpoint.resolve().is_relative_to(out_dir.resolve())
    with all_or_nothing(), atomic_dir(out_dir) as tmp:  # results and checkpoint together or neither
        atomic_torch_save(saved, tmp / checkpoint.resolve().relative_to(out_dir.resolve()) if inside else checkpoint)
        records = pd.DataFrame(result.records, columns=list(RECORD_COLUMNS))
        atomic_write_text(tmp / "records.tsv", records.to_csv(sep="\t", index=False))
        atomic_write_text(tmp / "predictions.csv", pd.concat(
            [f.assign(compression=c) for c, (f, _) in tests.items()]).drop(columns=["y"]).to_csv(index=False))
        if cross_frames:
            atomic_write_text(tmp / "predictions_cross.csv",
                              pd.concat(cross_frames).drop(columns=["y"]).to_csv(index=False))
        for stem, matrix in (("generalisation_compression", comp_matrix), ("generalisation_method", method_matrix)):
            atomic_write_text(tmp / f"{stem}.csv", matrix.to_csv())
            atomic_write_json(tmp / f"{stem}.json", {"metric": "auc", "rows": matrix.index.tolist(),
                                                     "columns": matrix.columns.tolist(),
                                                     "values": matrix.to_numpy().tolist()})
        write_metrics(tmp / "metrics.json", _json_safe(metrics), _json_safe(timing))
        fig_dir = tmp / "figures"
        fig_dir.mkdir()
        title = f"{name} ({metrics['weights']})"
        figures.metrics_plot(result.records, result.best_epoch, fig_dir / "metrics.png", title)
        frames, data = tests[cfg.train_compression]
        curves = {f"{cfg.train_compression} frames": (frames["y"].to_numpy(), frames["p_fake"].to_numpy())}
        for comp in compressions[1:]:
            f = tests[comp][0]
            curves[f"{comp} frames"] = (f["y"].to_numpy(), f["p_fake"].to_numpy())
        figures.roc_pr_plot(curves, fig_dir / "roc_pr.png", title)
        figures.confusion_plot(frames["y"].to_numpy(), frames["p_fake"].to_numpy(), fig_dir / "confusion.png",
                               f"{title}: test {cfg.train_compression}")
        pick = _grid_indices(frames["y"].to_numpy(), cfg.grid_images)
        raw_images = FrameSet.load(root, frames.iloc[pick], 64 if cfg.image_size < 64 else cfg.image_size)
        figures.prediction_grid(raw_images.images.numpy(), frames["y"].to_numpy()[pick],
                                frames["p_fake"].to_numpy()[pick], fig_dir / "predictions.png", title=title)
        figures.generalisation_heatmap(comp_matrix, fig_dir / "generalisation_compression.png",
                                       f"{name}: train {cfg.train_compression}, test each compression",
                                       ylabel=f"level scored (trained on {cfg.train_compression})")
        if method_matrix.size and any(row != "all" for row in method_matrix.index):  # cross_method on
            figures.generalisation_heatmap(method_matrix, fig_dir / "generalisation_method.png",
                                           f"{name}: train on one method's fakes, test on each")
    log.info("%s: test %s frame acc %.3f AUC %.3f EER %.3f, video AUC %.3f (%s, %.0f s)", name,
             cfg.train_compression, main["frame"]["accuracy"], main["frame"]["auc"], main["frame"]["eer"],
             main["video"]["auc"], metrics["weights"], total_time)
    return {**metrics, **timing}


def _method_auc(frames, method: str) -> float:
    """Frame AUC of reals against the fakes of one method (NaN if either is absent)."""
    rows = frames[(frames["y"] == 0) | (frames["method"] == method)]
    if rows["y"].nunique() < 2:
        return float("nan")
    return binary_metrics(rows["y"].to_numpy(), rows["p_fake"].to_numpy())["auc"]


def _grid_indices(labels: np.ndarray, n: int) -> np.ndarray:
    """Up to ``n`` test frames, half real half fake, spread evenly over the table."""
    picks = []
    for c in (0, 1):
        idx = np.flatnonzero(labels == c)
        k = min(len(idx), max(1, n // 2))
        picks.append(idx[np.linspace(0, len(idx) - 1, k).round().astype(int)] if k else idx[:0])
    return np.unique(np.concatenate(picks))


def _json_safe(obj: Any) -> Any:
    """NaN -> None (JSON has no NaN; DVC and browsers reject it)."""
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return None if not np.isfinite(obj) else float(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


TABLE_COLUMNS = ("model", "variant", "weights", "accuracy", "balanced_accuracy", "ap", "auc", "eer",
                 "video_auc", "parameters", "train_time_s", "train_images_per_s", "eval_images_per_s")


def comparison_table(reports_dir: str | Path = "reports/detect", tables_dir: str | Path | None = "reports/tables"):
    """Collect every ``<reports_dir>/*/metrics.json`` into the comparison table.

    Frame-level test metrics on the training compression, video AUC, parameters, training time,
    images/s and whether ImageNet weights were used. Written as ``detect_comparison.csv`` and
    ``detect_comparison.md`` under ``tables_dir`` (unless None). Returns the DataFrame.
    """
    import pandas as pd

    rows = []
    for path in sorted(Path(reports_dir).glob("*/metrics.json")):
        m = read_metrics(path)
        frame = m.get("frame", {})
        rows.append({
            "model": m["model"], "variant": m["variant"], "weights": m["weights"],
            "accuracy": frame.get("accuracy"), "balanced_accuracy": frame.get("balanced_accuracy"),
            "ap": frame.get("ap"), "auc": frame.get("auc"), "eer": frame.get("eer"),
            "video_auc": m.get("video", {}).get("auc"),
            "parameters": m["parameters"], "train_time_s": m["train_time_s"],
            "train_images_per_s": m["train_images_per_s"], "eval_images_per_s": m["eval_images_per_s"],
        })
    table = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
    if tables_dir is not None:
        tables_dir = Path(tables_dir)
        atomic_write_text(tables_dir / "detect_comparison.csv", table.to_csv(index=False))
        atomic_write_text(tables_dir / "detect_comparison.md", _markdown(table))
    return table


def _markdown(table) -> str:
    """A GitHub Markdown table (lstmgan.utils.tables), numbers rounded for reading."""
    from lstmgan.utils.tables import markdown_table

    headers = {"balanced_accuracy": "balanced acc.", "ap": "AP", "auc": "ROC-AUC", "eer": "EER",
               "video_auc": "video AUC", "parameters_m": "parameters (M)", "train_time_s": "train time (s)",
               "train_images_per_s": "train images/s", "eval_images_per_s": "eval images/s"}
    columns = [c if c != "parameters" else "parameters_m" for c in TABLE_COLUMNS]
    rows = [{**r, "parameters_m": r["parameters"] / 1e6,
             **{k: float(r[k]) for k in ("train_time_s", "train_images_per_s", "eval_images_per_s")}}
            for r in table.to_dict("records")]
    return markdown_table(rows, columns, headers, {"parameters_m": 2, "train_time_s": 1, "train_images_per_s": 0,
                                                   "eval_images_per_s": 0})


def generalisation_tables(reports_dir: str | Path = "reports/detect", tables_dir: str | Path | None = "reports/tables"):
    """Every stage's generalisation results side by side (frame-level ROC-AUC).

    Returns ``(compression, method)`` DataFrames: ``compression`` has one row per
    ``<model>-<variant>`` and one column per test compression; ``method`` one row per
    ``<model>-<variant>: trained on <method|all>`` and one column per tested method. Written as
    ``detect_generalisation_{compression,method}.csv`` under ``tables_dir`` (unless None); draw them
    with :func:`lstmgan.detect.figures.generalisation_heatmap`.
    """
    import json

    import pandas as pd

    comp_rows, method_rows = {}, {}
    for path in sorted(Path(reports_dir).glob("*/metrics.json")):
        m = json.loads(path.read_text())
        name = stage_name(m["model"], m["variant"])
        comp_rows[name] = {c: (levels.get("frame") or {}).get("auc") for c, levels in m.get("compression", {}).items()}
        for trained_on, row in m.get("cross_method_auc", {}).items():
            method_rows[f"{name}: {trained_on}"] = row
    compression = pd.DataFrame.from_dict(comp_rows, orient="index").astype(float)
    method = pd.DataFrame.from_dict(method_rows, orient="index").astype(float)
    compression.index.name, method.index.name = "detector", "detector: trained on"
    if tables_dir is not None:
        atomic_write_text(Path(tables_dir) / "detect_generalisation_compression.csv", compression.to_csv())
        atomic_write_text(Path(tables_dir) / "detect_generalisation_method.csv", method.to_csv())
    return compression, method
