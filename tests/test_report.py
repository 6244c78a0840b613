"""The report stage (gather / discuss / figures / render) on a tiny, well-formed fake reports tree.

The tree holds each stage's files in the formats the stages write, with known numbers, so every
verdict has a known answer: a discussion sentence must flip when its interval flips.
"""
from __future__ import annotations

import csv
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from lstmgan.config import load_params
from lstmgan.detect.metrics import binary_metrics
from lstmgan.report import build_report
from lstmgan.report import discuss as D
from lstmgan.report.gather import detect_study, gather, notebook_stage, read_lock
from lstmgan.utils.stats import Interval
from lstmgan.utils.tables import csv_text, fmt_cell, markdown_table

ROOT = Path(__file__).resolve().parents[1]
METRIC_KEYS = set(binary_metrics([0, 1, 0, 1], [0.1, 0.9, 0.4, 0.6]))  # the detect stage's schema


# --------------------------------------------------------------------------------------------
# A fake-but-well-formed reports tree (the formats the stages write)
# --------------------------------------------------------------------------------------------
def _png(path: Path, value: float, size: int = 8) -> None:
    import matplotlib.image

    path.parent.mkdir(parents=True, exist_ok=True)
    matplotlib.image.imsave(path, np.full((size, size), value), vmin=0, vmax=1, cmap="gray")


def _write_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _level(auc: float, acc: float, n: int, n_fake: int) -> dict:
    out = {"accuracy": acc, "balanced_accuracy": acc - 0.01, "ap": auc - 0.02, "auc": auc, "eer": 1 - auc - 0.05,
           "n": n, "n_fake": n_fake}
    assert set(out) == METRIC_KEYS
    return out


def _detector(root: Path, run: str, auc: float, auc_c40: float, acc: float, p_fake: list[float],
              weights: str = "scratch", n: int = 400) -> None:
    model, _, variant = run.partition("-")
    stage = root / "reports" / "detect" / run
    frame, video = _level(auc, acc, n, n // 2), _level(min(auc + 0.03, 1.0), acc, 8, 4)
    _write_json(stage / "metrics.json", {
        "model": model, "variant": variant, "weights": weights, "parameters": 1_234_567, "image_size": 32,
        "epochs": 2, "best_epoch": 2, "select_on": "val_auc", "train_frames": 256, "val_frames": 128,
        "test_frames": n, "train_time_s": 41.5, "train_images_per_s": 37.2, "eval_images_per_s": 210.0,
        "stage_time_s": 60.0, "train_compression": "raw", "frame": frame, "video": video,
        "compression": {"raw": {"frame": frame, "video": video},
                        "c23": {"frame": _level((auc + auc_c40) / 2, 0.6, n, n // 2), "video": video},
                        "c40": {"frame": _level(auc_c40, 0.55, n, n // 2), "video": video}},
        "cross_method_auc": {"all": {"lstm": auc, "none": auc}}, "best_record": {"epoch": 2}})
    lines = ["video_id,method,p_fake,compression"] + [f"v{i},lstm,{p},raw" for i, p in enumerate(p_fake)]
    _write(stage / "predictions.csv", "\n".join(lines) + "\n")
    for fig in ("metrics", "predictions", "roc_pr"):
        _png(stage / "figures" / f"{fig}.png", 0.5)


def _notebook(path: Path, seconds: float) -> None:
    _write_json(path, {"cells": [], "nbformat": 4, "nbformat_minor": 5, "metadata": {"papermill": {
        "duration": seconds, "start_time": "2026-01-01T10:00:00.000000",
        "end_time": "2026-01-01T10:05:00.000000", "exception": None}}})


def _series(path: Path, name: str, values: list[float], every: int = 25) -> None:
    _write(path, f"step\t{name}\n" + "".join(f"{(i + 1) * every}\t{v}\n" for i, v in enumerate(values)))


def _per_video(path: Path, lstm_flicker: list[float], none_flicker: list[float]) -> None:
    cols = ["method", "video_id", "identity", "frames", "l1", "psnr", "ssim", "flicker", "warp_error", "akd", "aed"]
    rows = []
    for method, flick in (("lstm", lstm_flicker), ("none", none_flicker), ("copy-source", [0.05] * len(lstm_flicker))):
        for i, f in enumerate(flick):
            rows.append({"method": method, "video_id": f"v{i}", "identity": f"id{i}", "frames": 48,
                         "l1": 0.03 + 0.001 * i, "psnr": 25.0, "ssim": 0.8, "flicker": f, "warp_error": f / 2,
                         "akd": 1.5, "aed": 0.2})
    _write(path, csv_text(rows, cols))


def make_tree(root: Path, lstm_flicker: list[float] | None = None, none_flicker: list[float] | None = None,
              detectors: bool = True, intervals: bool = False, acc_fake: list[float] | None = None) -> Path:
    """Copies params.yaml/dvc.yaml into ``root`` and writes every stage's outputs with known numbers."""
    root.mkdir(parents=True, exist_ok=True)
    for name in ("params.yaml", "dvc.yaml"):
        shutil.copy(ROOT / name, root / name)
    reports = root / "reports"
    _notebook(reports / "notebooks" / "01_data.ipynb", 83.25)
    _notebook(reports / "notebooks" / "02_train_gan-lstm.ipynb", 612.5)
    _write_json(reports / "metrics" / "evalnets.json", {
        "landmark_source": "landmark net", "identity_source": "identity net", "landmark_train_seconds": 200.0,
        "identity_train_seconds": 150.5, "landmark_test_mae_px": 0.8, "identity_test_verification_accuracy": 0.9})
    _png(reports / "figures" / "data" / "contact_sheet.png", 0.2, size=1200)  # wider than a published copy
    for temporal, l1 in (("lstm", 0.0123), ("none", 0.0456)):
        _write_json(reports / "metrics" / f"train-{temporal}.json", {
            "temporal": temporal, "steps": 600, "image_size": 64, "val_l1": l1, "copy_l1": 0.0300,
            "ratio": l1 / 0.0300, "wall_seconds": 600.0, "total_wall_seconds": 600.0, "frames_per_second": 53.3,
            "processes": 1, "device": "cpu", "checkpoint": f"models/gan/{temporal}/checkpoint-600.pt"})
        logdir = reports / "train" / temporal / "plots" / "metrics"
        for term, value in (("reconstruction", 1.5), ("gen_gan", 0.05), ("total", 2.0)):
            _series(logdir / "gen" / f"{term}.tsv", term, [value] * 3)
        _series(logdir / "disc" / "acc_fake.tsv", "acc_fake", acc_fake or [0.5] * 24)
        _series(logdir / "disc" / "acc_real.tsv", "acc_real", [0.5] * 24)
        for fig in ("losses", "keypoints", "reconstructions"):
            _png(reports / "figures" / "train" / temporal / f"{fig}.png", 0.4)
    lstm_flicker = lstm_flicker or [0.010, 0.011, 0.012, 0.010, 0.011, 0.012, 0.010, 0.011]
    none_flicker = none_flicker or [0.020, 0.021, 0.022, 0.020, 0.021, 0.022, 0.020, 0.021]
    _per_video(reports / "generate" / "per_video.csv", lstm_flicker, none_flicker)
    gen = {"l1": 0.03, "psnr": 25.0, "ssim": 0.80, "akd": 1.5, "aed": 0.2, "flicker": float(np.mean(lstm_flicker)),
           "warp_error": 0.006}
    _write_json(reports / "metrics" / "generate.json", {
        "lstm": gen, "none": {**gen, "flicker": float(np.mean(none_flicker))},
        "copy-source": {**gen, "flicker": 0.05},
        "evalnets": {"landmark_source": "landmark net", "identity_source": "identity net"},
        "trained_steps": {"lstm": 600, "none": 600}, "lstm_vs_none": {"flicker": "better"}})
    _png(reports / "figures" / "generate" / "cross_identity_grid.png", 0.7)
    if detectors:
        _detector(root, "vgg19-base", 0.62, 0.55, 0.500, [0.2] * 8)  # one class: everything real
        _detector(root, "custom_cnn-base", 0.912, 0.701, 0.80, [0.1, 0.9] * 4)
        _detector(root, "custom_cnn-augmented", 0.655, 0.601, 0.70, [0.2, 0.7] * 4)
    if intervals:
        iv = [{"stage": "vgg19-base", "model": "vgg19", "variant": "base", "level": "frame", "n_videos": 12,
               "accuracy": 0.5, "accuracy_low": 0.5, "accuracy_high": 0.5, "ap": 0.60, "ap_low": 0.50,
               "ap_high": 0.97, "auc": 0.62, "auc_low": 0.45, "auc_high": 0.80},
              {"stage": "custom_cnn-base", "model": "custom_cnn", "variant": "base", "level": "frame",
               "n_videos": 12, "accuracy": 0.80, "accuracy_low": 0.72, "accuracy_high": 0.86, "ap": 0.89,
               "ap_low": 0.8, "ap_high": 0.95, "auc": 0.912, "auc_low": 0.85, "auc_high": 0.96},
              {"stage": "custom_cnn-augmented", "model": "custom_cnn", "variant": "augmented", "level": "frame",
               "n_videos": 12, "accuracy": 0.70, "accuracy_low": 0.60, "accuracy_high": 0.78, "ap": 0.64,
               "ap_low": 0.5, "ap_high": 0.75, "auc": 0.655, "auc_low": 0.55, "auc_high": 0.75}]
        cols = list(iv[0])
        _write(reports / "tables" / "detect_intervals.csv", csv_text(iv, cols))
        pw = [{"a": "vgg19-base", "b": "custom_cnn-base", "metric": "accuracy", "level": "frame",
               "difference": -0.30, "low": -0.38, "high": -0.22, "verdict": "worse"},
              {"a": "custom_cnn-base", "b": "custom_cnn-augmented", "metric": "accuracy", "level": "frame",
               "difference": 0.10, "low": 0.04, "high": 0.16, "verdict": "better"},
              {"a": "custom_cnn-base", "b": "vgg19-base", "metric": "auc", "level": "frame",
               "difference": 0.29, "low": 0.15, "high": 0.40, "verdict": "better"},
              {"a": "custom_cnn-base", "b": "custom_cnn-augmented", "metric": "auc", "level": "frame",
               "difference": 0.26, "low": -0.01, "high": 0.40, "verdict": "not resolved"}]
        _write(reports / "tables" / "detect_pairwise.csv", csv_text(pw, list(pw[0])))
    return root


def _params(root: Path, monkeypatch):
    monkeypatch.chdir(root)
    return load_params("params.yaml")


def _data(tmp_path, monkeypatch, **kwargs):
    root = make_tree(tmp_path / "proj", **kwargs)
    return gather(_params(root, monkeypatch))


def _thesis(rows, start: str) -> dict:
    return next(r for r in rows if r["claim"].startswith(start))


# --------------------------------------------------------------------------------------------
# The shared table formatter
# --------------------------------------------------------------------------------------------
def test_markdown_table_formats_cells_one_way():
    rows = [{"a": 0.12345, "b": None, "c": float("nan"), "d": "x|y", "e": 3}]
    assert markdown_table(rows) == "| a | b | c | d | e |\n|---|---|---|---|---|\n| 0.123 | n/a | n/a | x\\|y | 3 |\n"
    assert markdown_table(rows, ["a"], {"a": "A"}, {"a": 1}) == "| A |\n|---|\n| 0.1 |\n"
    assert fmt_cell(0.0021543, 4, significant=True) == "0.002154" and fmt_cell(1e-5) == "1e-05"
    assert markdown_table([]) == "_(no rows)_\n"
    assert csv_text([{"a": float("nan"), "b": 1}], ["a", "b"]) == "a,b\n,1\n"


# --------------------------------------------------------------------------------------------
# Discussion: one rule, sentences flip with the intervals
# --------------------------------------------------------------------------------------------
def test_ablation_verdict_flips_with_the_interval(tmp_path, monkeypatch):
    data = _data(tmp_path / "a", monkeypatch)  # lstm flickers half as much on every video
    better = D.discuss_ablation(data)
    overall = next(s for s in better if s.startswith("Over all"))
    assert "flicker" in overall.split("better on ")[1].split(";")[0]
    answer = D.answers(data)[0]
    assert "Yes: the LSTM model is more temporally coherent" in answer and "flicker" in answer
    assert "paired bootstrap over test videos, one training seed" in answer
    worse_data = _data(tmp_path / "b", monkeypatch, lstm_flicker=[0.02] * 8, none_flicker=[0.01] * 8)
    overall = next(s for s in D.discuss_ablation(worse_data) if s.startswith("Over all"))
    assert "flicker" in overall.split("worse on ")[1].split(";")[0]
    assert "less temporally coherent" in D.answers(worse_data)[0]
    # differences of both signs around zero: the interval includes 0
    mixed = _data(tmp_path / "c", monkeypatch, lstm_flicker=[0.01, 0.03] * 4, none_flicker=[0.03, 0.01] * 4)
    overall = next(s for s in D.discuss_ablation(mixed) if s.startswith("Over all"))
    assert "flicker" in overall.split("not resolved on ")[1]
    assert any("lstm vs copying the source frame on flicker" in s and "flickers less than a still image" in s
               for s in better)


def test_stage_interval_wins_over_the_per_video_bootstrap(tmp_path, monkeypatch):
    data = _data(tmp_path, monkeypatch)
    data.generation["lstm_vs_none"] = {"flicker": {"difference": 0.001, "low": -0.002, "high": 0.004}}
    iv, source = D.paired_intervals(data)["flicker"]
    assert (iv.estimate, iv.low, iv.high) == (0.001, -0.002, 0.004) and source == "the generate stage's paired interval"
    assert D.decide(iv, False) == "not resolved"


def test_point_estimates_alone_are_never_resolved():
    assert D.decide(D.point(0.3), True) == "not resolved"
    assert D.decide(None, True) == "not resolved"
    assert D.value_verdict(D.point(0.95), 0.95) == "not resolved"
    assert D.value_verdict(Interval(0.9, 0.85, 0.97), 0.95) == "agrees"
    assert D.value_verdict(Interval(0.6, 0.5, 0.7), 0.95) == "ours lower"
    assert D.value_verdict(Interval(0.99, 0.98, 1.0), 0.95) == "ours higher"
    assert D.decide(Interval(0.1, 0.05, 0.15), True) == "better"
    assert D.decide(Interval(0.1, 0.05, 0.15), False) == "worse"


def test_detector_sentences_follow_the_intervals(tmp_path, monkeypatch):
    without = D.discuss_detectors(_data(tmp_path / "a", monkeypatch))
    assert without[0].startswith("1 of 3 detectors predict one class for every test frame") and "vgg19-base" in without[0]
    assert any("whether any detector is above chance is not resolved" in s for s in without)
    assert any(s.startswith("Highest frame AUC: custom_cnn-base (0.912 (no interval))") and "not resolved" in s
               for s in without)
    assert not any("supported" in s for s in without)
    with_iv = D.discuss_detectors(_data(tmp_path / "b", monkeypatch, intervals=True))
    assert any("resolved above chance (95% interval above 0.5): custom_cnn-base, custom_cnn-augmented;" in s
               and "not resolved above chance: vgg19-base" in s for s in with_iv)
    lead = next(s for s in with_iv if s.startswith("Highest frame AUC"))
    assert "0.912 [0.850, 0.960]" in lead and "resolved better than 1 of 2" in lead
    assert "not resolved against custom_cnn-augmented" in lead


def test_thesis_rows(tmp_path, monkeypatch):
    rows = D.thesis_rows(_data(tmp_path / "a", monkeypatch))
    claims = [r["claim"] for r in rows]
    assert claims[0] == "VGG19 has the highest accuracy"
    for start in ("VGG19 AP 0.95", "DenseNet accuracy 0.94", "DenseNet AP 0.99", "custom CNN accuracy 0.89",
                  "augmentation lowers DenseNet121", "augmentation lowers custom CNN",
                  "The LSTM makes the generated videos more temporally coherent",
                  "The discriminator's accuracy falls as the generator improves"):
        assert any(c.startswith(start) for c in claims), start
    # without detector intervals every detection value is a point estimate: not resolved
    assert _thesis(rows, "VGG19 AP 0.95")["verdict"] == "not resolved"
    assert _thesis(rows, "custom CNN accuracy 0.89")["ours"] == "custom_cnn-base accuracy 0.800 (no interval) (scratch)"
    assert _thesis(rows, "DenseNet accuracy 0.94")["verdict"] == "not available"
    assert _thesis(rows, "augmentation lowers custom CNN")["verdict"] == "not resolved"
    assert _thesis(rows, "The LSTM makes")["verdict"].startswith("agrees (lstm - none on flicker")  # halved on every video
    assert _thesis(rows, "The discriminator")["verdict"].startswith("not resolved: the first-quarter accuracy")  # at chance

    rows = D.thesis_rows(_data(tmp_path / "b", monkeypatch, intervals=True, lstm_flicker=[0.02] * 8,
                               none_flicker=[0.01] * 8, acc_fake=[0.9] * 6 + [0.7] * 12 + [0.55] * 6))
    assert _thesis(rows, "VGG19 has the highest accuracy")["verdict"] == "disagrees"
    assert _thesis(rows, "VGG19 AP 0.95")["verdict"] == "agrees"  # 0.95 inside [0.50, 0.97]
    assert _thesis(rows, "custom CNN accuracy 0.89")["verdict"] == "ours lower"  # [0.72, 0.86]
    aug = _thesis(rows, "augmentation lowers custom CNN")
    assert aug["verdict"] == "agrees" and "-0.100 [-0.160, -0.0400]" in aug["ours"]  # -12.5% of 0.80
    assert _thesis(rows, "The LSTM makes")["verdict"].startswith("disagrees")
    disc = _thesis(rows, "The discriminator")
    assert disc["verdict"].startswith("agrees: D accuracy on generated frames falls")
    assert "first quarter 0.900 [0.900, 0.900]" in disc["ours"]


def _write_study(root: Path, flicker: tuple[float, float, float], recorded: str = "better") -> None:
    """A study table and metrics.json (lstmgan.generate.study's format) where report.ablation_study points."""
    table = root / "studies" / "ablation" / "reports" / "tables" / "ablation.md"
    table.parent.mkdir(parents=True, exist_ok=True)
    table.write_text("| method | flicker |\n|---|---|\n| lstm | 0.002 |\n")
    diff, low, high = flicker
    _write_json(table.with_name("metrics.json"), {
        "lstm": {"flicker": {"mean": 0.002, "low": 0.0018, "high": 0.0022}},
        "comparisons": {
            "lstm vs none": {"flicker": {"diff": diff, "low": low, "high": high, "verdict": recorded},
                             "warp_error": {"diff": -0.0001, "low": -0.0002, "high": 0.00005, "verdict": recorded},
                             "psnr": {"diff": -0.5, "low": -0.6, "high": -0.3, "verdict": "worse"}},
            "lstm vs lstm-noadv": {"sharpness_dec": {"diff": 0.02, "low": 0.01, "high": 0.03, "verdict": "better"}}},
        "seeds": [0, 1, 2], "videos": 24, "steps": 300})


def test_the_multi_seed_study_decides_the_lstm_question(tmp_path, monkeypatch):
    # the one-seed per-video data says lstm flickers twice as much; the study (3 seeds) says less
    root = make_tree(tmp_path / "a", intervals=True, lstm_flicker=[0.02] * 8, none_flicker=[0.01] * 8)
    _write_study(root, (-0.0003, -0.0005, -0.0001))
    data = gather(_params(root, monkeypatch))
    row = _thesis(D.thesis_rows(data), "The LSTM makes")
    assert row["verdict"].startswith("agrees") and "flicker lstm - none -0.000300 [-0.000500, -0.000100]" in row["ours"]
    assert row["basis"].startswith("two-level bootstrap over 3 training seeds and 24 test videos")
    said = D.discuss_study(data)
    assert said[0].startswith("lstm vs none (two-level bootstrap over 3 training seeds and 24 test videos "
                              "(multi-seed study, 300 training steps per model))")
    assert "lstm better on flicker -0.000300 [-0.000500, -0.000100]" in said[0]
    assert "worse on psnr -0.500 [-0.600, -0.300]" in said[0] and "not resolved on warp_error" in said[0]
    assert "lstm better on sharpness_dec" in said[1]  # higher is better for sharpness
    # the verdict is re-derived from the interval: a recorded "better" whose interval holds 0 is not resolved
    root = make_tree(tmp_path / "b")
    _write_study(root, (0.0003, 0.0001, 0.0005), recorded="better")
    data = gather(_params(root, monkeypatch))
    assert _thesis(D.thesis_rows(data), "The LSTM makes")["verdict"].startswith("disagrees")
    assert "worse on flicker +0.000300" in D.discuss_study(data)[0]
    md = build_report(data.params).read_text()
    assert "### Multi-seed study" in md and "(../studies/ablation/reports/tables/ablation.md)" in md
    assert md.count("- lstm vs none (two-level bootstrap over 3 training seeds and 24 test videos") == 1
    assert "| lstm vs none |" not in md  # the wide table is linked, not copied


def test_one_class_detectors_are_flagged(tmp_path, monkeypatch):
    data = _data(tmp_path, monkeypatch)
    assert D.one_class_runs(data.detectors) == ["vgg19-base"]
    assert D.one_class_runs([{"run": "x", "predicted_fake": None, "frame_balanced_accuracy": 0.5}]) == ["x"]


# --------------------------------------------------------------------------------------------
# Gathering
# --------------------------------------------------------------------------------------------
def test_gather_reads_times_settings_and_lock(tmp_path, monkeypatch):
    assert notebook_stage("01_data.ipynb") == "prepare"
    assert notebook_stage("04_detectors-custom_cnn-grayscale.ipynb") == "detect@custom_cnn-grayscale"
    assert notebook_stage("02_train_gan-none.ipynb") == "train"  # one stage, both variants side by side
    root = make_tree(tmp_path / "proj")
    _write(root / "dvc.lock", "schema: '2.0'\nstages:\n  train:\n    cmd: x\n    params:\n      params.yaml:\n"
                              "        gan.train:\n          batch_size: 4\n          clip_len: 8\n          lr: 0.001\n"
                              "          lr_schedule: constant\n        seed: 0\n")
    data = gather(_params(root, monkeypatch))
    times = {t["stage"]: t["seconds"] for t in data.times}
    assert times == {"prepare": 83.25, "train": 612.5, "evalnets": 350.5}  # evalnets: its two trainings
    assert "lower bound" in next(t["source"] for t in data.times if t["stage"] == "evalnets")
    assert data.train["lstm"]["loss_terms"] == {"gen_gan": 0.05, "reconstruction": 1.5}  # no perceptual curve
    assert data.locked["train"]["gan.train"]["clip_len"] == 8
    _notebook(root / "reports" / "notebooks" / "02_train_gan-none.ipynb", 700.0)  # ran beside the lstm one
    train = next(t for t in gather(load_params("params.yaml")).times if t["stage"] == "train")
    assert train["seconds"] == 700.0  # side by side: the stage's wall time is the longer notebook, not the sum
    assert "02_train_gan-lstm.ipynb (612 s), 02_train_gan-none.ipynb (700 s)" in train["source"]
    assert read_lock(root / "absent.lock") == {}
    _write_json(root / "reports" / "metrics" / "evalnets_time.json", {"stage_seconds": 412.0})  # its own record wins
    assert next(t for t in gather(load_params("params.yaml")).times if t["stage"] == "evalnets")["seconds"] == 412.0
    vgg = next(r for r in data.detectors if r["run"] == "vgg19-base")
    assert vgg["predicted_fake"] == 0.0 and vgg["image_size"] == 32 and vgg["epochs"] == 2


def test_gan_settings_fall_back_to_params_without_a_lock_record(tmp_path, monkeypatch):
    """No dvc.lock (a notebook run by hand): the optimisation shown is params.yaml's, and it says so."""
    from lstmgan.report.render import gan_settings

    root = make_tree(tmp_path / "proj")
    table = gan_settings(gather(_params(root, monkeypatch)))
    assert "|  | lstm | none |" in table and "| steps | 600 | 600 |" in table and "| image px | 64 | 64 |" in table
    assert "params.yaml (no dvc.lock record)" in table


# --------------------------------------------------------------------------------------------
# The whole report from the fake tree
# --------------------------------------------------------------------------------------------
def test_report_renders_from_a_tiny_tree(tmp_path, monkeypatch):
    root = make_tree(tmp_path / "proj", intervals=True)
    _write(root / "dvc.lock", "schema: '2.0'\nstages:\n  train:\n    params:\n      params.yaml:\n"
                              "        gan.train:\n          batch_size: 4\n          clip_len: 8\n          lr: 0.001\n"
                              "          lr_schedule: constant\n")
    train = json.loads((root / "reports/metrics/train-lstm.json").read_text())
    _write_json(root / "reports/metrics/train-lstm.json",
                {**train, "probe": {"real": 0.81, "generated": 0.22, "blurred": {"score": 0.3}},
                 "keypoint_spread": 1.6, "image_size": 64})
    path = build_report(_params(root, monkeypatch))
    md = path.read_text()
    assert "| input | lstm |" in md and "| real | 0.810 |" in md and "| generated | 0.220 |" in md
    # the thesis table leads
    first_table = md.index("| claim | thesis | this run | verdict | how decided |")
    assert md.index("## Thesis vs reproduction") < first_table < md.index("## 1. Data")
    assert "The rule behind every verdict." in md and "supported by the data" not in md
    # settings as run: lock + log, never "perceptual 10" when no perceptual curve was logged
    assert "| batch x clip | 4 x 8 frames | 4 x 8 frames |" in md  # one train stage: one lock record for both
    assert "| lr | 0.001 (constant) | 0.001 (constant) |" in md
    assert "| loss terms that ran (last logged value) | gen_gan 0.05, reconstruction 1.5 |" in md
    assert "| optimisation settings from | dvc.lock | dvc.lock |" in md
    assert "params.yaml (no dvc.lock record)" not in md
    assert "perceptual (VGG19) loss is configured (10) but did not run" in md
    assert "| vgg19-base | scratch | 32 | 2 (2) | 256 | 400 | 41.5 |" in md
    assert "| vgg19-base | YES | 0.500 [0.500, 0.500] |" in md
    # the answers come first, within the first ten lines
    head = "\n".join(md.splitlines()[:10])
    assert "**Does recurrence make the animation more coherent?**" in head and "**Which detector wins?**" in head
    assert max(line.count("|") for line in md.splitlines()) <= 8  # no table wider than 7 columns
    # keypoint collapse is judged from the recorded spread (1.6 px < 5% of 64 px), not asserted
    assert "`lstm` keypoint spread" in md and "1.6 px on a 64 px face crop: **collapsed**" in md
    # stage times include evalnets, with how it was measured
    assert "| evalnets | 350.5 | 5.8 | training seconds of its two networks" in md
    assert "Total of the stages that ran: 1046 s (17.4 min)" in md
    # every image is in the committed folder and exists; copies are reduced
    images = [line.split("](")[1].rstrip(")") for line in md.splitlines() if line.startswith("![")]
    assert images and all(i.startswith("report_figures/") and (root / "reports" / i).is_file() for i in images)
    from PIL import Image

    with Image.open(root / "reports/report_figures/data-contact_sheet.png") as im:
        assert im.width <= 1800
    published = {p.name for p in (root / "reports/report_figures").iterdir()}
    assert {"detector_auc.png", "compression_auc.png", "lstm_vs_none.png", "gan_val_l1.png", "disc_accuracy.png",
            "train-lstm-keypoints.png", "detect-custom_cnn-base-roc_pr.png"} <= published
    assert sum(p.stat().st_size for p in (root / "reports/report_figures").iterdir()) < 600_000
    # tables and HTML
    with open(root / "reports/tables/detectors.csv") as f:
        rows = {r["model"] + "-" + r["variant"]: r for r in csv.DictReader(f)}
    assert rows["vgg19-base"]["one_class"] == "True" and float(rows["custom_cnn-base"]["frame_auc"]) == 0.912
    html = (root / "reports/REPORT.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and '<img src="report_figures/detector_auc.png"' in html


def test_missing_stages_are_reported_not_fatal(tmp_path, monkeypatch):
    root = tmp_path / "empty"
    root.mkdir()
    for name in ("params.yaml", "dvc.yaml"):
        shutil.copy(ROOT / name, root / name)
    md = build_report(_params(root, monkeypatch)).read_text()
    assert "not available in this run (run `dvc repro generate`)" in md
    assert "not available in this run (run `dvc repro -s detect@vgg19-base`)" in md
    assert "| evalnets | n/a | n/a | not available in this run (run `dvc repro evalnets`) |" in md
    assert "Multi-seed study: not available in this run" in md
    assert "Discriminator probe: not available in this run" in md
    assert list((root / "reports/report_figures").iterdir()) == []
    assert (root / "reports/tables/detectors.csv").read_text().startswith("model,variant,weights,frame_accuracy")


def test_unreadable_metrics_count_as_missing(tmp_path, monkeypatch):
    root = make_tree(tmp_path / "proj", detectors=False)
    (root / "reports/metrics/generate.json").write_text("{ truncated")
    md = build_report(_params(root, monkeypatch)).read_text()
    assert "Generation metrics: not available in this run (run `dvc repro generate`)" in md


def test_report_notebook_end_to_end(tmp_path):
    papermill = pytest.importorskip("papermill")
    root = make_tree(tmp_path / "proj")
    out_nb = root / "reports" / "notebooks" / "05_report.ipynb"
    papermill.execute_notebook(str(ROOT / "notebooks" / "05_report.ipynb"), str(out_nb), kernel_name="lstmgan",
                               cwd=str(root), parameters={"report": {"l1_target_ratio": 0.5}}, progress_bar=False)
    md = (root / "reports" / "REPORT.md").read_text()
    assert "ratio 0.410, at or below the 0.5x goal" in md  # the injected report section was used
    executed = json.loads(out_nb.read_text())
    shown = json.dumps([c.get("outputs", []) for c in executed["cells"]])
    assert "image/png" in shown and "0.912 (no interval)" in shown and "VGG19 has the highest accuracy" in shown


def test_reads_what_the_detect_stage_really_writes(tmp_path, monkeypatch):
    """A real (tiny) detect run on the toy data set, then the report: the schema of metrics.json matches."""
    from lstmgan.detect.run import run_detector
    from lstmgan.detect.toy import write_toy_dataset

    root = tmp_path / "proj"
    root.mkdir()
    for name in ("params.yaml", "dvc.yaml"):
        shutil.copy(ROOT / name, root / name)
    monkeypatch.chdir(root)
    write_toy_dataset(root / "data" / "deepfakes", frames=2, videos_per_split=2)
    params = load_params("params.yaml", sections={"detect": {
        "epochs": 1, "max_train_frames": 16, "max_eval_frames": 0, "batch_size": 8, "hidden": 8,
        "grid_images": 2, "cross_method": False, "per_model": {}}})
    metrics = run_detector(params, "custom_cnn", "base")
    build_report(params)
    with open("reports/tables/detectors.csv") as f:
        (row,) = list(csv.DictReader(f))
    assert row["model"] == "custom_cnn" and row["weights"] == metrics["weights"]
    for level in ("frame", "video"):
        for key in ("accuracy", "auc", "eer"):
            want, got = metrics[level][key], row[f"{level}_{key}"]
            assert got == "" if want is None else float(got) == pytest.approx(want)
    assert int(row["image_size"]) == metrics["image_size"] and int(row["test_frames"]) == metrics["test_frames"]
    assert row["one_class"] in ("True", "False")  # predictions.csv was read
    md = Path("reports/REPORT.md").read_text()
    assert "Highest frame AUC: custom_cnn-base" in md
    assert "(report_figures/detect-custom_cnn-base-roc_pr.png)" in md  # (one epoch here: no training curve)
    assert not math.isnan(float(row["frame_auc"]))


def test_probe_sentence_follows_the_stated_separation_rule():
    from lstmgan.config import Params
    from lstmgan.report import discuss as D
    from lstmgan.report.gather import ReportData

    probe = {"real": 0.535, "real_std": 0.04, "blurred": 0.415, "blurred_std": 0.04,  # gap 3 sd
             "wrong_pose": 0.5353, "wrong_pose_std": 0.04,                              # gap -0.0075 sd
             "generated": 0.475, "generated_std": 0.04}                                 # gap 1.5 sd
    data = ReportData(params=Params(), stages=[], times=[], train={"lstm": {"probe": probe}}, generation={},
                      per_video=[], evalnets={}, detectors=[], missing_detectors=[])
    (sentence,) = D.discuss_probe(data)
    assert "5x5-blurred real frames 0.415 (separated: +3.0 sd)" in sentence
    assert "(wrong face and pose) 0.535 (not separated: -0.0 sd)" in sentence
    assert "generated frames 0.475 (not separated: +1.5 sd)" in sentence
    data.train = {"none": {}}
    assert D.discuss_probe(data) == []


def test_revision_ignores_what_the_pipeline_writes(tmp_path, monkeypatch):
    """REPORT.md names the commit of its inputs; the run's own outputs (dvc.lock, reports/) are not
    'local changes', an edited input is (and is named)."""
    import subprocess

    from lstmgan.report.render import git_revision

    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "reports").mkdir()
    for name in ("dvc.lock", "reports/REPORT.md", "params.yaml"):
        (tmp_path / name).write_text("a\n")
    git("add", "-A")
    git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "x")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dvc.lock").write_text("b\n")
    (tmp_path / "reports" / "REPORT.md").write_text("b\n")
    assert "local changes" not in git_revision()
    (tmp_path / "params.yaml").write_text("b\n")
    assert git_revision().endswith("(with local changes: params.yaml)")


def test_model_card_and_published_notebooks(tmp_path, monkeypatch):
    """The report stage writes MODEL_CARD.md from this run's numbers and commits reduced copies of the
    executed notebooks report.published_notebooks names (a missing one is left out)."""
    import base64
    import io

    from PIL import Image

    root = make_tree(tmp_path / "proj", intervals=True)
    big = io.BytesIO()
    Image.fromarray((np.random.default_rng(0).random((300, 1600, 3)) * 255).astype(np.uint8)).save(big, "PNG")
    nb = {"cells": [{"cell_type": "code", "source": "nb.show(fig)", "metadata": {}, "execution_count": 1,
                     "outputs": [{"output_type": "display_data", "metadata": {},
                                  "data": {"image/png": base64.b64encode(big.getvalue()).decode()}}]}],
          "metadata": {"papermill": {"duration": 3.0}}, "nbformat": 4, "nbformat_minor": 5}
    _write_json(root / "reports/notebooks/01_data.ipynb", nb)
    _write_json(root / "lstmgan/weights/weights.json",
                {"trained_on": "the embedded procedural talking faces (no real person)",
                 "files": {"lstm.pt": {"what": "lstm generator", "bytes": 3_300_000}}})
    params = _params(root, monkeypatch)
    build_report(params)
    card = (root / "MODEL_CARD.md").read_text()
    assert "## Out of scope" in card and "no real person" in card and "| lstmgan/weights/lstm.pt | lstm generator | 3.30 |" in card
    assert "| L1 (intensity in [0, 1], lower is better) |" in card and "SYNTHETIC (deepfake)" in card
    published = sorted(p.name for p in (root / "reports/executed").iterdir())
    assert "01_data.ipynb" in published and "03_generate.ipynb" not in published  # 03 did not run here
    copy = json.loads((root / "reports/executed/01_data.ipynb").read_text())
    png = copy["cells"][0]["outputs"][0]["data"]["image/png"]
    with Image.open(io.BytesIO(base64.b64decode(png))) as im:
        assert im.width == 1000
    assert copy["metadata"]["papermill"]["duration"] == 3.0


def test_ranking_sentence_orders_only_resolved_pairs():
    ranking = [{"stage": "a-base", "variant": "base", "auc": 0.9, "auc_low": 0.85, "auc_high": 0.95, "rank": 1},
               {"stage": "b-base", "variant": "base", "auc": 0.7, "auc_low": 0.6, "auc_high": 0.8, "rank": 2},
               {"stage": "c-base", "variant": "base", "auc": 0.68, "auc_low": 0.55, "auc_high": 0.8, "rank": 2},
               {"stage": "a-gray", "variant": "grayscale", "auc": 0.95, "auc_low": 0.9, "auc_high": 1.0, "rank": 1}]
    pairwise = [{"a": "a-base", "b": "b-base", "metric": "auc", "level": "frame", "difference": 0.2, "low": 0.1,
                 "high": 0.3, "verdict": "better"},
                {"a": "b-base", "b": "c-base", "metric": "auc", "level": "frame", "difference": 0.02, "low": -0.1,
                 "high": 0.14, "verdict": "not resolved"},
                {"a": "a-gray", "b": "b-base", "metric": "auc", "level": "frame", "difference": 0.3, "low": -0.1,
                 "high": 0.5, "verdict": "not resolved"}]
    text = D.ranking_sentence(ranking, pairwise, "base")
    assert "1. a-base 0.900 [0.850, 0.950]; 2. b-base 0.700 [0.600, 0.800] = c-base" in text
    assert "Not resolved against each other: b-base vs c-base (+0.020 [-0.100, +0.140])" in text
    assert "a-gray" not in text


def test_detection_study_sentences_come_from_its_tables(tmp_path, monkeypatch):
    study = tmp_path / "studies" / "detect" / "tables"
    study.mkdir(parents=True)
    _write(study / "study_ranking.csv", "stage,model,variant,auc,auc_low,auc_high,rank,above,tied_with\n"
           "cnn-base-scratch,cnn,base,0.9,0.8,0.95,1,,\ncnn-base-faceid,cnn,base,0.7,0.6,0.8,2,,\n")
    _write(study / "study_pairwise.csv", "a,b,metric,level,difference,low,high,verdict\n"
           "cnn-base-faceid,cnn-base-scratch,auc,frame,-0.2,-0.3,-0.1,worse\n")
    _write(study / "study_cross_generator.csv", "stage,trained_on,tested_on,auc,sentence\n"
           "cnn-base-scratch,lstm,none,0.8,cnn transfers.\ncnn-base-scratch,lstm,lstm,0.9,\n")
    _write(study / "study_compression.csv", "model,sentence\ncnn,c23 recovers it.\n")
    data = _data(tmp_path, monkeypatch)
    data.detect_study = detect_study(study)
    lines = D.discuss_detect_study(data)
    assert lines[0].startswith("From scratch, each at its own budget: ranking")
    assert "face-id pretrained - scratch frame AUC -0.200 [-0.300, -0.100]: pretraining hurts." in lines[1]
    assert lines[2:] == ["cnn transfers.", "c23 recovers it."]
    data.detect_study_data = {"data/faces": ("aaaaaaaa.dir,dddddddd.dir", "bbbbbbbb.dir")}
    assert D.discuss_detect_study(data)[0] == (
        "The detection study was run on other data than this report's (`data/faces` aaaaaaa, ddddddd there, "
        "bbbbbbb here), so its verdicts describe the data it ran on; `make study-detect` reruns it on these.")


def test_parts_sentences_read_the_generate_metrics(tmp_path, monkeypatch):
    data = _data(tmp_path, monkeypatch)
    part = {"decoder_share": 0.01, "mouth_dec_open": 0.2, "mouth_dec_closed": 0.05, "eye_dec_blink": 0.1,
            "eye_dec_open": 0.0, "mouth_corr": 0.5, "blinks": 10, "blinks_reproduced": 3, "blink_fraction": 0.3}
    data.generation["parts"] = {"lstm": {"reconstruction": part, "cross": part,
                                         "keypoints": {"mouth_r2": -0.2, "eye_r2": 0.4}},
                                "driving-video": {"reconstruction": {"mouth_corr": 0.95, "blink_fraction": 0.9}}}
    lines = D.discuss_parts(data)
    assert lines[0].startswith("lstm, reconstruction: its decoder paints 1% of the output, 20% of the mouth")
    assert "correlation with the driver 0.50 (the driving video itself, through the same landmark network: 0.95)" in lines[0]
    assert "blinks reproduced 30% of 10 (driving video 90%)" in lines[0]
    assert "keypoints carry R^2 -0.20 of the driver's mouth opening and 0.40 of its eye aperture" in lines[0]
    assert lines[1].startswith("lstm, cross-identity: mouth-opening")


def test_part_intervals_resample_videos_and_pool_the_blinks():
    same = [{"method": "m", "mouth_corr": 0.6, "blinks": 2, "blinks_reproduced": 1} for _ in range(5)]
    ivs = D.part_intervals(same + [{"method": "other", "mouth_corr": 0.0}], "m")
    assert (ivs["mouth_corr"].estimate, ivs["mouth_corr"].low, ivs["mouth_corr"].high) == pytest.approx((0.6, 0.6, 0.6))
    assert (ivs["blink_fraction"].estimate, ivs["blink_fraction"].low) == pytest.approx((0.5, 0.5))
    # pooled, not averaged: 3 of 4 blinks in one video and 0 of 0 in another is 75%, and that video's
    # NaN correlation is left out of the mean
    rows = [{"method": "m", "mouth_corr": 0.2, "blinks": 4, "blinks_reproduced": 3},
            {"method": "m", "mouth_corr": math.nan, "blinks": 0, "blinks_reproduced": 0},
            {"method": "m", "mouth_corr": 0.4, "blinks": 0, "blinks_reproduced": 0}]
    ivs = D.part_intervals(rows, "m")
    assert ivs["mouth_corr"].estimate == pytest.approx(0.3) and ivs["mouth_corr"].n == 2
    assert ivs["blink_fraction"].estimate == pytest.approx(0.75)
    assert 0.2 <= ivs["mouth_corr"].low <= 0.3 <= ivs["mouth_corr"].high <= 0.4
    assert D.part_intervals([{"method": "m", "l1": 0.1}], "m") == {}


def test_parts_sentences_carry_intervals_from_the_per_video_rows(tmp_path, monkeypatch):
    data = _data(tmp_path, monkeypatch)
    part = {"decoder_share": 0.01, "mouth_dec_open": 0.2, "mouth_dec_closed": 0.05, "eye_dec_blink": 0.1,
            "eye_dec_open": 0.0, "mouth_corr": 0.5, "blinks": 10, "blinks_reproduced": 3, "blink_fraction": 0.3}
    data.generation["parts"] = {"lstm": {"reconstruction": {**part, "blinks": 8, "blinks_reproduced": 4,
                                                            "blink_fraction": 0.5}}}
    data.per_video = [{"method": "lstm", "video_id": f"v{i}", "mouth_corr": 0.5, "blinks": 2, "blinks_reproduced": 1}
                      for i in range(4)]
    line = D.discuss_parts(data)[0]
    assert "correlation with the driver 0.50 [0.50, 0.50]" in line and "blinks reproduced 50% [50%, 50%] of 8" in line
    data.per_video = [{"method": "lstm", "video_id": "v", "mouth_corr": 0.5, "blinks": 2, "blinks_reproduced": 2}]
    assert "[100%, 100%]" in D.discuss_parts(data)[0]  # never 1e+02%


def test_an_unused_decoder_is_a_known_defect(tmp_path, monkeypatch):
    data = _data(tmp_path, monkeypatch)
    data.generation["parts"] = {"lstm": {"reconstruction": {"decoder_share": 0.0002, "mouth_dec_open": 0.0003,
                                                            "mouth_corr": 0.05, "blinks": 37, "blinks_reproduced": 0}},
                                "none": {"reconstruction": {"decoder_share": 0.2}}}
    lines = [x for x in D.known_defects(data) if "decoder" in x]
    assert len(lines) == 1 and lines[0].startswith("`lstm` paints almost nothing with its decoder: 0.02% of the output")
    assert "blinks reproduced 0 of 37" in lines[0]


def test_degraded_driving_sentences_read_the_generate_metrics(tmp_path, monkeypatch):
    data = _data(tmp_path, monkeypatch)
    data.generation.pop("degraded", None)
    assert D.discuss_degraded(data) == []  # nothing without the metrics
    data.generation["degraded"] = {
        "means": {"lstm": {"l1": {"mean": 0.03, "low": 0.025, "high": 0.035}, "akd": {"mean": 1.5, "low": 1.2, "high": 1.8},
                           "flicker": {"mean": 0.012, "low": 0.010, "high": 0.014}}},
        "degraded_video": {"l1": 0.02, "flicker": 0.015},
        "comparisons": {"lstm vs none": {"flicker": {"diff": -0.002, "low": -0.003, "high": -0.001},
                                         "l1": {"diff": 0.001, "low": -0.001, "high": 0.003}}}}
    lines = D.discuss_degraded(data)
    assert lines[0] == ("The degraded driving video itself is L1 0.0200 and flicker 0.0150 away from the clean one "
                        "(the capture's own error).")
    assert lines[1].startswith("lstm, degraded driving: L1 0.0300 [0.0250, 0.0350] (clean ")
    assert lines[-1] == ("lstm vs none on degraded driving, paired over the test videos: better on flicker; "
                                "worse on no metric; not resolved on l1; flicker -0.00200 [-0.00300, -0.00100].")


def test_the_study_answers_cover_degraded_driving_and_the_filter(tmp_path, monkeypatch):
    data = _data(tmp_path, monkeypatch)

    def diff(d, lo, hi):
        return {"diff": d, "low": lo, "high": hi}

    data.study = {"seeds": [0, 1, 2], "videos": 24, "steps": 400,
                  "comparisons": {"lstm vs none": {"flicker": diff(0.0, -0.001, 0.001)},
                                  "kp vs none": {"flicker": diff(-0.002, -0.003, -0.001)},
                                  "lstm vs none+euro": {"flicker": diff(0.001, 0.0005, 0.002)}},
                  "degraded_comparisons": {"lstm vs none": {"flicker": diff(-0.004, -0.006, -0.002),
                                                            "kp_jitter": diff(-1.0, -2.0, -0.5)},
                                           "lstm vs none+euro": {"flicker": diff(0.0, -0.001, 0.001)}}}
    lines = D.study_answers(data)
    assert lines[0] == ("**On degraded driving** (the noisy, shaken, flickering copy; scored against the clean frames): "
                        "lstm is more coherent than none on flicker, kp_jitter.")
    assert lines[1].startswith("**Other placements and a plain filter** (two-level bootstrap over 3 training seeds")
    assert "clean driving: kp is more coherent than none on flicker" in lines[1] and "none+euro" not in lines[1]
    assert lines[2].startswith("**Does a learned recurrence beat a plain filter?**")
    assert ("clean driving: lstm is less coherent than none+euro on flicker; degraded driving: lstm vs none+euro "
            "not resolved (flicker +0.00 [-0.00100, +0.00100])") in lines[2]
    data.study = {}
    assert D.study_answers(data) == []


def test_a_decoder_that_paints_blind_is_a_known_defect(tmp_path, monkeypatch):
    data = _data(tmp_path, monkeypatch)
    data.generation["parts"] = {"lstm": {"reconstruction": {"decoder_share": 0.011, "mouth_dec_open": 0.046,
                                                            "mouth_dec_closed": 0.046, "mouth_corr": 0.03,
                                                            "blinks": 37, "blinks_reproduced": 17},
                                         "keypoints": {"mouth_r2": -0.33}},
                                "none": {"reconstruction": {"decoder_share": 0.011, "mouth_dec_open": 0.20,
                                                            "mouth_dec_closed": 0.05}}}
    lines = [x for x in D.known_defects(data) if "decoder" in x]
    assert lines == ["`lstm`'s decoder paints 1.1% of the output, but no more of the driver's open mouth (4.6%) than of "
                     "its closed mouth (4.6%): it does not paint where the driver shows what the source lacks; the driving "
                     "keypoints carry R^2 -0.33 of the mouth opening (mouth-opening correlation 0.03, blinks reproduced "
                     "17 of 37; section 3)."]


def test_the_first_table_is_the_studys_coherence_verdicts(tmp_path, monkeypatch):
    data = _data(tmp_path, monkeypatch)

    def diff(d, lo, hi):
        return {"diff": d, "low": lo, "high": hi}

    mean = {"flicker": {"mean": 0.01}, "warp_error": {"mean": 0.004}}
    data.study = {"seeds": [0, 1, 2], "videos": 24, "steps": 400, "none": mean, "none+euro": mean,
                  "degraded": {"none": {"flicker": {"mean": 0.02}}},
                  "comparisons": {"lstm vs none": {"flicker": diff(-0.001, -0.0015, -0.0005),
                                                   "warp_error": diff(0.0, -0.0002, 0.0002)},
                                  "lstm vs none+euro": {"flicker": diff(0.0, -0.0001, 0.0001)}},
                  "degraded_comparisons": {"lstm vs none": {"flicker": diff(0.002, 0.001, 0.003)}},
                  "power": {"clean": {"lstm vs none": {"flicker": {"half_width": 0.0005, "n_now": 72, "n_needed": 72},
                                                       "warp_error": {"half_width": 0.0002, "n_now": 72,
                                                                      "n_needed": 72}}}}}
    rows = D.coherence_rows(data)
    assert [(r["comparison"], r["drive"]) for r in rows] == [("lstm - none", "clean"), ("lstm - none", "degraded"),
                                                             ("lstm - none+euro", "clean")]
    assert rows[0]["flicker"] == "-0.00100 [-0.00150, -0.000500] (-10.0%)"
    assert rows[0]["tof"] == "n/a"
    assert rows[0]["verdict"] == "lstm is more coherent than none on flicker"
    assert rows[0]["resolves"] == "flicker ±5.0%, warp_error ±5.0%"
    assert rows[1]["verdict"] == "lstm is less coherent than none on flicker" and "+10.0%" in rows[1]["flicker"]
    assert rows[2]["verdict"] == "lstm vs none+euro not resolved"
    text = D.power_sentence(data)
    assert text.startswith("**What the study could resolve** (lstm - none, clean driving, 72 seeds x videos): "
                           "flicker ±0.000500 (5.0% of none's mean; a 5% difference needs 72 seeds x videos)")
    assert D.power_sentence(data, drive="degraded") == ""
    data.study = {}
    assert D.coherence_rows(data) == [] and D.power_sentence(data) == ""


def test_motion_sentence_states_how_far_the_mouth_opens():
    from lstmgan.config import Params
    from lstmgan.report import discuss as D
    from lstmgan.report.gather import ReportData

    data = ReportData(params=Params(), stages=[], times=[], train={}, generation={}, per_video=[], evalnets={},
                      detectors=[], missing_detectors=[])
    assert "not recorded" in D.motion_sentence(data)
    data.motion = {"motion": "expressive", "videos": 24, "mean_displacement_px": 3.7, "p95_displacement_px": 6.1,
                   "median_step_px": 0.6, "copy_l1": 0.043, "yaw_range_deg": 46.2,
                   "mouth_gap_max_iod": 0.41, "mouth_gap_max_px": 4.75, "mouth_gap_p90_iod": 0.34}
    text = D.motion_sentence(data)
    assert "24 videos" in text and "yaw range within a video 46.2 degrees" in text
    assert "inner-lip gap of 0.410 of the inter-ocular distance at most (4.75 px; 90th percentile 0.340)" in text
    data.motion.pop("mouth_gap_max_iod")  # an older data stage: the sentence leaves the mouth out
    assert "inner-lip" not in D.motion_sentence(data)


def _lock(path: Path, deps: dict[str, str] | None = None, outs: dict[str, str] | None = None) -> None:
    import yaml

    stage = {"cmd": "x", "deps": [{"path": p, "md5": h} for p, h in (deps or {}).items()],
             "outs": [{"path": p, "md5": h} for p, h in (outs or {}).items()]}
    _write(path, yaml.safe_dump({"schema": "2.0", "stages": {"s": stage}}))


def test_data_mismatch_compares_what_a_study_read_with_what_this_run_wrote(tmp_path):
    from lstmgan.report.gather import data_mismatch, lock_outputs, study_lock

    run, study = tmp_path / "dvc.lock", tmp_path / "study.lock"
    _lock(run, deps={"lstmgan/data": "c0de"}, outs={"data/faces": "bbbb.dir", "data/pool": "cccc.dir"})
    _lock(study, deps={"data/faces": "aaaa.dir", "data/pool": "cccc.dir", "lstmgan/data": "0ld"})
    assert data_mismatch(study, lock_outputs(run)) == {"data/faces": ("aaaa.dir", "bbbb.dir")}  # code deps are not data
    _lock(study, deps={"data/faces": "bbbb.dir"})
    assert data_mismatch(study, lock_outputs(run)) == {}
    assert data_mismatch(tmp_path / "absent.lock", lock_outputs(run)) == {} and data_mismatch(None, lock_outputs(run)) == {}
    table = tmp_path / "studies" / "x" / "reports" / "tables" / "t.md"
    _write(table, "|a|\n")
    _lock(tmp_path / "studies" / "x" / "dvc.lock")
    assert study_lock(table.relative_to(tmp_path)) is None  # relative paths: looked up from the current folder
    assert study_lock(table) == tmp_path / "studies" / "x" / "dvc.lock"


def test_a_study_run_on_other_data_says_so_wherever_its_verdicts_appear(tmp_path, monkeypatch):
    root = make_tree(tmp_path / "proj")
    _write_study(root, (-0.0003, -0.0005, -0.0001))
    _lock(root / "dvc.lock", outs={"data/faces": "0c8bf8b6c9e4.dir"})
    _lock(root / "studies" / "ablation" / "dvc.lock", deps={"data/faces": "2cf71af39729.dir"})
    data = gather(_params(root, monkeypatch))
    stale = ("run on other data than this report's (`data/faces` 2cf71af there, 0c8bf8b here), so its "
             "verdicts describe the data it ran on; `make study-ablation` reruns it on these")
    assert stale in D.study_basis(data)
    assert stale in _thesis(D.thesis_rows(data), "The LSTM makes")["basis"]
    assert stale in build_report(data.params).read_text()
    _lock(root / "studies" / "ablation" / "dvc.lock", deps={"data/faces": "0c8bf8b6c9e4.dir"})
    data = gather(_params(root, monkeypatch))
    assert "other data" not in D.study_basis(data) and "other data" not in build_report(data.params).read_text()


def test_report_groups_descriptive_metrics_apart_from_verdicts() -> None:
    up, down = Interval(0.2, 0.1, 0.3), Interval(-0.2, -0.3, -0.1)
    groups = D.by_verdict({"mouth_corr": down, "blinks_reproduced": up, "decoder_share": up,
                           "cross_eye_dec_blink": down, "flicker": up})
    assert groups["better"] == ["blinks_reproduced"] and groups["worse"] == ["mouth_corr", "flicker"]
    assert (groups["higher"], groups["lower"]) == (["decoder_share"], ["cross_eye_dec_blink"])
    assert D.described(groups) == ("; higher (descriptive, no better side) on decoder_share"
                                   "; lower (descriptive, no better side) on cross_eye_dec_blink")
    assert D.described(D.by_verdict({"flicker": up})) == ""
