"""The detect notebook end to end through papermill on a tiny toy data set (CI runs this)."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from lstmgan.detect.run import comparison_table, generalisation_tables
from lstmgan.detect.toy import write_toy_dataset

ROOT = Path(__file__).resolve().parents[1]


def test_detect_notebook_end_to_end(tmp_path):
    papermill = pytest.importorskip("papermill")
    data = write_toy_dataset(tmp_path / "deepfakes", frames=3, videos_per_split=2)
    detect = {"epochs": 2, "max_train_frames": 24, "max_eval_frames": 0, "max_test_frames": 0, "batch_size": 8, "hidden": 16,
              "out": str(tmp_path / "reports"), "models_out": str(tmp_path / "models"),
              "tables_out": str(tmp_path / "tables"), "grid_images": 4, "threads": 1, "per_model": {},
              "cross_method": True}
    out_nb = tmp_path / "04.ipynb"
    papermill.execute_notebook(
        str(ROOT / "notebooks" / "04_detectors.ipynb"), str(out_nb), kernel_name="lstmgan", cwd=str(ROOT),
        parameters={"model": "custom_cnn", "variant": "augmented", "seed": 3,
                    "generate": {"out": str(data)}, "detect": detect},
        progress_bar=False)

    stage = tmp_path / "reports" / "custom_cnn-augmented"
    metrics = json.loads((stage / "metrics.json").read_text())
    assert metrics["model"] == "custom_cnn" and metrics["variant"] == "augmented"
    assert metrics["weights"] == "scratch" and metrics["parameters"] > 100_000
    assert metrics["threads"] == 1 and metrics["device"] == "cpu"
    assert metrics["test_frames"] == 18  # 2 test videos x 3 frames x (real + 2 methods), raw
    assert set(metrics["compression"]) == {"raw", "c23", "c40"}
    for level in ("frame", "video"):
        assert set(metrics[level]) >= {"accuracy", "balanced_accuracy", "ap", "auc", "eer"}
    assert set(metrics["cross_method_auc"]) == {"all", "lstm", "none"}
    records = pd.read_csv(stage / "records.tsv", sep="\t")
    assert list(records["epoch"]) == [1, 2] and {"train_loss_eval", "val_aug_auc", "lr"} <= set(records)
    assert 1 <= metrics["best_epoch"] <= 2
    predictions = pd.read_csv(stage / "predictions.csv")
    assert len(predictions) == 54 and predictions["p_fake"].between(0, 1).all()
    for fig in ("metrics", "roc_pr", "confusion", "predictions", "generalisation_compression",
                "generalisation_method"):
        assert (stage / "figures" / f"{fig}.png").stat().st_size > 1000
    assert pd.read_csv(stage / "generalisation_method.csv", index_col=0).shape == (3, 2)
    assert (tmp_path / "models" / "custom_cnn-augmented.pt").is_file()
    table = comparison_table(tmp_path / "reports", tmp_path / "tables")
    assert len(table) == 1 and (tmp_path / "tables" / "detect_comparison.md").is_file()
    by_compression, by_method = generalisation_tables(tmp_path / "reports", tmp_path / "tables")
    assert list(by_compression.columns) == ["raw", "c23", "c40"]
    assert by_compression.loc["custom_cnn-augmented", "raw"] == metrics["frame"]["auc"]
    assert list(by_method.index) == [f"custom_cnn-augmented: {m}" for m in ("all", "lstm", "none")]
