"""The report stage: tables, discussion and HTML from a small, well-formed reports tree."""
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
from lstmgan.report.report import (auc_standard_error, build_report, discuss_ablation, discuss_detectors, discuss_gan,
                            gather, notebook_stage)

ROOT = Path(__file__).resolve().parents[1]
METRIC_KEYS = set(binary_metrics([0, 1, 0, 1], [0.1, 0.9, 0.4, 0.6]))  # the detect stage's schema


# --------------------------------------------------------------------------------------------
# A fake-but-well-formed reports tree (the formats the stages write)
# --------------------------------------------------------------------------------------------
def _png(path: Path, value: float) -> None:
    import matplotlib.image

    path.parent.mkdir(parents=True, exist_ok=True)
    matplotlib.image.imsave(path, np.full((8, 8), value), vmin=0, vmax=1, cmap="gray")


def _write_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))


def _level(auc: float, acc: float, n: int, n_fake: int) -> dict:
    out = {"accuracy": acc, "balanced_accuracy": acc - 0.01, "ap": auc - 0.02, "auc": auc, "eer": 1 - auc - 0.05,
           "n": n, "n_fake": n_fake}
    assert set(out) == METRIC_KEYS
    return out


def _detector(root: Path, run: str, auc: float, auc_c40: float, weights: str = "scratch", n: int = 400) -> None:
    model, _, variant = run.partition("-")
    stage = root / "reports" / "detect" / run
    frame, video = _level(auc, auc - 0.1, n, n // 2), _level(min(auc + 0.03, 1.0), auc - 0.05, 8, 4)
    _write_json(stage / "metrics.json", {
        "model": model, "variant": variant, "weights": weights, "parameters": 1_234_567, "image_size": 64,
        "epochs": 3, "best_epoch": 2, "select_on": "val_auc", "train_frames": 512, "val_frames": 128,
        "test_frames": n, "train_time_s": 41.5, "train_images_per_s": 37.2, "eval_images_per_s": 210.0,
        "stage_time_s": 60.0, "train_compression": "raw", "frame": frame, "video": video,
        "compression": {"raw": {"frame": frame, "video": video},
                        "c23": {"frame": _level((auc + auc_c40) / 2, 0.6, n, n // 2), "video": video},
                        "c40": {"frame": _level(auc_c40, 0.55, n, n // 2), "video": video}},
        "cross_method_auc": {"all": {"lstm": auc, "none": auc}}, "best_record": {"epoch": 2}})
    for fig in ("metrics", "predictions", "roc_pr"):
        _png(stage / "figures" / f"{fig}.png", 0.5)


def _notebook(path: Path, seconds: float) -> None:
    _write_json(path, {"cells": [], "nbformat": 4, "nbformat_minor": 5, "metadata": {"papermill": {
        "duration": seconds, "start_time": "2026-01-01T10:00:00.000000",
        "end_time": "2026-01-01T10:05:00.000000", "exception": None}}})


def make_tree(root: Path, lstm_l1: float = 0.030, none_l1: float = 0.040, detectors: bool = True) -> Path:
    """Copies params.yaml/dvc.yaml into ``root`` and writes every stage's outputs with known numbers."""
    root.mkdir(parents=True, exist_ok=True)
    for name in ("params.yaml", "dvc.yaml"):
        shutil.copy(ROOT / name, root / name)
    reports = root / "reports"
    _notebook(reports / "notebooks" / "01_data.ipynb", 83.25)
    _notebook(reports / "notebooks" / "02_train_gan-lstm.ipynb", 612.5)
    _png(reports / "figures" / "data" / "contact_sheet.png", 0.2)
    for temporal, l1 in (("lstm", 0.0123), ("none", 0.0456)):
        _write_json(reports / "metrics" / f"train-{temporal}.json", {
            "temporal": temporal, "steps": 2000, "image_size": 64, "val_l1": l1, "copy_l1": 0.0300,
            "ratio": l1 / 0.0300, "wall_seconds": 600.0, "total_wall_seconds": 600.0, "frames_per_second": 53.3,
            "processes": 1, "device": "cpu", "checkpoint": f"models/gan/{temporal}/checkpoint-2000.pt"})
        _png(reports / "figures" / "train" / temporal / "losses.png", 0.4)
    gen = {"l1": lstm_l1, "psnr": 25.0, "ssim": 0.80, "akd": 1.5, "aed": 0.2, "flicker": 0.010,
           "warp_error": 0.02, "identity_aed": 0.3, "driver_aed": 0.5, "motion_error": 2.0}
    _write_json(reports / "metrics" / "generate.json", {
        "lstm": gen, "none": {**gen, "l1": none_l1, "flicker": 0.020, "psnr": 24.0},
        "copy-source": {**gen, "l1": 0.050, "flicker": 0.030},
        "evalnets": {"landmark_source": "landmark net", "identity_source": "identity net",
                     "landmark_test_mae_px": 0.8, "identity_test_verification_accuracy": 0.9},
        "trained_steps": {"lstm": 2000, "none": 2000}})
    _png(reports / "figures" / "generate" / "samples.png", 0.7)
    if detectors:
        _detector(root, "resnet18-base", 0.912, 0.701)
        _detector(root, "custom_cnn-augmented", 0.655, 0.601)
    return root


def _params(root: Path, monkeypatch):
    monkeypatch.chdir(root)
    return load_params("params.yaml")


# --------------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------------
def test_tables_and_report_contain_the_measured_numbers(tmp_path, monkeypatch):
    root = make_tree(tmp_path / "proj")
    params = _params(root, monkeypatch)
    path = build_report(params)
    assert path == Path("reports/REPORT.md")
    md = path.read_text()

    table = (root / "reports/tables/detectors.md").read_text()
    assert "| resnet18 | base | scratch | 0.812 |" in table  # accuracy = auc - 0.1
    assert "0.912" in table and "0.701" in table and "1.23" in table  # AUC, AUC c40, params (M)
    with open(root / "reports/tables/detectors.csv") as f:
        rows = {r["model"]: r for r in csv.DictReader(f)}
    assert set(rows) == {"resnet18", "custom_cnn"}
    assert float(rows["resnet18"]["frame_auc"]) == pytest.approx(0.912)
    assert float(rows["custom_cnn"]["video_auc"]) == pytest.approx(0.685)
    assert float(rows["resnet18"]["auc_c40"]) == pytest.approx(0.701)
    assert rows["resnet18"]["weights"] == "scratch" and rows["resnet18"]["parameters"] == "1234567"

    # stage times from papermill metadata, GAN and generation numbers with units
    assert "| prepare | 83.2 | 1.4 |" in md and "| train@lstm | 612.5 | 10.2 |" in md
    assert "0.0123" in md and "0.0456" in md and "0.0300" in md
    assert "| lstm | 0.0300 |" in md and "psnr: dB" in md
    # every figure with its rebuild command, the thesis map
    assert "![one frame per identity](figures/data/contact_sheet.png)" in md
    assert "`dvc repro -s detect@resnet18-base`" in md and "`dvc repro train@none`" in md
    assert "[resnet18-base/predictions.png](detect/resnet18-base/figures/predictions.png)" in md
    assert "| Comparison table of detectors (accuracy, AP, AUC) | [tables/detectors.md]" in md
    # discussion from the numbers; caveats of a synthetic run
    assert "Best detector on the test split (frame ROC-AUC): resnet18 on base data" in md
    assert "by 0.257 AUC" in md and "the ranking is supported by the data" in md
    assert "GAN `lstm` after 2000 steps: validation L1 0.0123 vs 0.0300" in md and "it reached the 0.6x goal" in md
    assert "GAN `none`" in md and "did NOT reach" in md
    assert "compression hurts detection" in md
    assert "procedural talking faces" in md
    # summary figures and the HTML with images by relative path
    assert {p.name for p in (root / "reports/report_figures").iterdir()} == {
        "detector_auc.png", "compression_auc.png", "lstm_vs_none.png", "gan_val_l1.png"}
    html = (root / "reports/REPORT.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "<table>" in html
    assert '<img src="report_figures/detector_auc.png"' in html and '<img src="figures/data/contact_sheet.png"' in html


def test_missing_stages_are_reported_not_fatal(tmp_path, monkeypatch):
    root = tmp_path / "empty"
    root.mkdir()
    for name in ("params.yaml", "dvc.yaml"):
        shutil.copy(ROOT / name, root / name)
    params = _params(root, monkeypatch)
    md = build_report(params).read_text()
    assert "not available (run `dvc repro generate`)" in md
    assert "not available (run `dvc repro train@lstm`)" in md
    assert "detect@resnet18-grayscale: not available (run `dvc repro -s detect@resnet18-grayscale`)" in md
    assert "not available (run `dvc repro prepare`)" in md
    assert (root / "reports/REPORT.html").is_file()
    assert (root / "reports/tables/detectors.csv").read_text().startswith("model,variant,weights,frame_accuracy")
    assert list((root / "reports/report_figures").iterdir()) == []


def test_unreadable_metrics_count_as_missing(tmp_path, monkeypatch):
    root = make_tree(tmp_path / "proj", detectors=False)
    (root / "reports/metrics/generate.json").write_text("{ truncated")
    params = _params(root, monkeypatch)
    md = build_report(params).read_text()
    assert "Generation metrics: not available (run `dvc repro generate`)" in md


def test_ablation_verdict_follows_the_numbers():
    base = {"l1": 0.03, "flicker": 0.01, "psnr": 25.0}
    better = discuss_ablation({"lstm": base, "none": {**base, "l1": 0.04, "flicker": 0.02}}, 0.01)
    assert better[0].startswith("On l1 the LSTM model scores 0.0300 against 0.0400") and "lower (better)" in better[0]
    assert "lower (better)" in better[1]
    worse = discuss_ablation({"lstm": {**base, "l1": 0.04, "flicker": 0.02}, "none": base}, 0.01)
    assert "higher (worse)" in worse[0] and "higher (worse)" in worse[1]
    assert "worse on 2 (l1, flicker)" in worse[2]
    tied = discuss_ablation({"lstm": base, "none": {**base, "l1": 0.030001}}, 0.01)
    assert "about equal" in tied[0]
    missing = discuss_ablation({"lstm": base}, 0.01)
    assert missing == ["The LSTM-vs-baseline comparison needs both methods in the generation metrics; "
                       "not available (run `dvc repro generate`)."]
    copy = discuss_ablation({"lstm": base, "none": base, "copy-source": {"l1": 0.02}}, 0.01)
    assert "neither trained model beats it" in copy[-1]


def test_gan_goal_follows_the_ratio():
    assert "it reached the 0.6x goal" in discuss_gan({"lstm": {"val_l1": 0.5, "copy_l1": 1.0, "ratio": 0.5}}, 0.6)[0]
    text = discuss_gan({"lstm": {"val_l1": 0.7, "copy_l1": 1.0, "ratio": 0.7}}, 0.6)[0]
    assert "did NOT reach the 0.6x goal" in text and "worse than not animating" not in text
    assert "worse than not animating" in discuss_gan({"none": {"ratio": 1.5, "val_l1": 1.5, "copy_l1": 1}}, 0.6)[0]


def _row(run: str, auc: float, c40: float = math.nan, n: int = 400) -> dict:
    model, _, variant = run.partition("-")
    return {"run": run, "model": model, "variant": variant, "weights": "scratch", "frame_auc": auc,
            "frame_accuracy": auc - 0.1, "frame_ap": auc, "frame_eer": 1 - auc, "frame_n": n, "frame_n_fake": n // 2,
            "video_auc": auc, "video_n": 8, "auc_raw": auc, "auc_c23": math.nan, "auc_c40": c40, "test_frames": n}


def test_detector_discussion_picks_the_measured_winner():
    a = discuss_detectors([_row("vgg19-base", 0.90, 0.70), _row("resnet18-base", 0.70, 0.69)], 0.01)
    assert "vgg19 on base data" in a[0] and "leads the next model, resnet18" in a[1] and "by 0.200 AUC" in a[1]
    assert "supported by the data" in a[1]
    b = discuss_detectors([_row("vgg19-base", 0.70, 0.70), _row("resnet18-base", 0.90, 0.90)], 0.01)
    assert "resnet18 on base data" in b[0] and "leads the next model, vgg19" in b[1]
    assert any("compression does not measurably hurt detection" in s for s in b)
    assert any("compression hurts detection" in s for s in a)
    close = discuss_detectors([_row("vgg19-base", 0.80, n=40), _row("resnet18-base", 0.79, n=40)], 0.01)
    assert "within sampling noise" in close[1]
    assert any("No detector is far above chance" in s
               for s in discuss_detectors([_row("vgg19-base", 0.55), _row("resnet18-base", 0.52)], 0.01))
    assert discuss_detectors([], 0.01)[0].startswith("No detector has test results yet")


def test_auc_standard_error_shrinks_with_samples():
    assert auc_standard_error(1.0, 50, 50) == pytest.approx(0.0)
    small, large = auc_standard_error(0.8, 20, 20), auc_standard_error(0.8, 2000, 2000)
    assert 0 < large < small < 0.1
    assert math.isnan(auc_standard_error(0.8, 0, 20))


def test_notebook_names_map_to_stages(tmp_path, monkeypatch):
    assert notebook_stage("01_data.ipynb") == "prepare"
    assert notebook_stage("02_train_gan-none.ipynb") == "train@none"
    assert notebook_stage("04_detectors-custom_cnn-grayscale.ipynb") == "detect@custom_cnn-grayscale"
    root = make_tree(tmp_path / "proj")
    data = gather(_params(root, monkeypatch))
    assert {t["stage"]: t["seconds"] for t in data.times} == {"prepare": 83.25, "train@lstm": 612.5}


def test_report_notebook_end_to_end(tmp_path):
    papermill = pytest.importorskip("papermill")
    root = make_tree(tmp_path / "proj")
    out_nb = root / "reports" / "notebooks" / "05_report.ipynb"
    papermill.execute_notebook(str(ROOT / "notebooks" / "05_report.ipynb"), str(out_nb), kernel_name="lstmgan",
                               cwd=str(root), parameters={"report": {"tie_tolerance": 0.02}}, progress_bar=False)
    md = (root / "reports" / "REPORT.md").read_text()
    assert "resnet18 on base data" in md and "within 2% on" in md  # the injected report section was used
    assert (root / "reports" / "REPORT.html").is_file()
    executed = json.loads(out_nb.read_text())
    shown = json.dumps([c.get("outputs", []) for c in executed["cells"]])
    assert "image/png" in shown and "0.912" in shown


def test_variant_and_method_sentences_follow_the_numbers():
    rows = [_row("vgg19-base", 0.80), _row("vgg19-augmented", 0.90), _row("resnet18-base", 0.70)]
    text = discuss_detectors(rows, 0.01)
    assert any("over the 1 model(s) that ran on every variant (vgg19): augmented 0.900, base 0.800; augmented is "
               "highest, by 0.100" in s for s in text)
    harder_lstm = {"all": {"lstm": 0.60, "none": 0.90}, "lstm": {"lstm": 0.80, "none": 0.60},
                   "none": {"lstm": 0.55, "none": 0.90}}
    text = discuss_detectors([{**_row("vgg19-base", 0.8), "cross_method_auc": harder_lstm}], 0.01)
    assert any("the `lstm` fakes are the hardest to detect (by 0.300)" in s for s in text)
    assert any("mean AUC 0.850 on the same method and 0.575 on the other" in s and "transfer poorly" in s for s in text)
    harder_none = {"all": {"lstm": 0.90, "none": 0.60}, "lstm": {"lstm": 0.8, "none": 0.8},
                   "none": {"lstm": 0.8, "none": 0.8}}
    text = discuss_detectors([{**_row("vgg19-base", 0.8), "cross_method_auc": harder_none}], 0.01)
    assert any("the `none` fakes are the hardest" in s for s in text)
    assert any("transfer across generators at this budget" in s for s in text)


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
    assert int(row["parameters"]) == metrics["parameters"] and int(row["test_frames"]) == metrics["test_frames"]
    md = Path("reports/REPORT.md").read_text()
    assert "Best detector on the test split (frame ROC-AUC): custom_cnn on base data" in md
    assert "![4-panel metrics" in md and "(detect/custom_cnn-base/figures/metrics.png)" in md
