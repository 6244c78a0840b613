"""The interval-decided detector comparison: fast metrics, video bootstrap, pairing, ranking, tables."""
import json

import numpy as np
import pandas as pd
import pytest

from lstmgan.detect import metrics as M
from lstmgan.detect.compare import (Scored, compare, fast_ap, fast_auc, fast_eer, level_scores, metric_interval,
                                    paired_interval, rank_resolved)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fast_metrics_equal_the_reference_definitions(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 200)
    s = np.round(rng.random(200) * 0.6 + 0.4 * y, 2)  # ties included
    assert fast_auc(y, s) == pytest.approx(M.roc_auc(y, s), abs=1e-12)
    assert fast_ap(y, s) == pytest.approx(M.average_precision(y, s), abs=1e-12)
    assert fast_eer(y, s) == pytest.approx(M.equal_error_rate(y, s), abs=1e-12)


def _frames(videos, frames_per_video=10):
    """videos: list of (label, p_fake) -> a predictions table with every frame scored p_fake."""
    rows = []
    for v, (label, p) in enumerate(videos):
        for t in range(frames_per_video):
            rows.append({"path": f"{v}_{t}.png", "label": label, "method": "m" if label == "fake" else "original",
                         "video_id": f"v{v}", "frame": t, "p_fake": p})
    return pd.DataFrame(rows)


def test_interval_resamples_videos_not_frames():
    """One video right, one wrong (10 frames each): resampling the 2 videos gives accuracy 0, 0.5 or 1
    with probabilities 1/4, 1/2, 1/4, so the 95% interval is [0, 1]; a frame bootstrap would be ~[0.3, 0.7]."""
    scored = level_scores(_frames([("fake", 0.9), ("fake", 0.1)]), "frame")
    iv = metric_interval(scored, "accuracy", n_boot=1000, seed=0)
    assert (iv.estimate, iv.low, iv.high, iv.n) == (0.5, 0.0, 1.0, 2)


def test_perfect_separation_has_a_degenerate_interval_at_one():
    scored = level_scores(_frames([("real", 0.1), ("real", 0.2), ("fake", 0.8), ("fake", 0.7)], 3), "video")
    assert scored.y.tolist() == [0, 0, 1, 1] or sorted(scored.y.tolist()) == [0, 0, 1, 1]
    iv = metric_interval(scored, "auc", n_boot=500)
    assert (iv.estimate, iv.low, iv.high) == (1.0, 1.0, 1.0)
    eer = metric_interval(scored, "eer", n_boot=500)
    assert (eer.estimate, eer.low, eer.high) == (0.0, 0.0, 0.0)


def test_paired_difference_of_identical_detectors_is_zero_and_unresolved():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 40)
    s = rng.random(40)
    a = Scored(y, s, np.arange(40) // 2, np.arange(40))
    iv = paired_interval(a, a, "auc", n_boot=300)
    assert (iv.estimate, iv.low, iv.high) == (0.0, 0.0, 0.0)
    from lstmgan.utils.stats import verdict
    assert verdict(iv, True) == "not resolved"


def test_paired_difference_resolves_a_clear_winner_and_pairs_on_common_rows():
    rng = np.random.default_rng(1)
    y = np.repeat([0, 1], 50)
    good = Scored(y, y * 0.8 + rng.random(100) * 0.2, np.arange(100), np.arange(100))
    noise = Scored(y[::-1][::-1], rng.random(100), np.arange(100), np.arange(100))
    iv = paired_interval(good, noise, "auc", n_boot=500)
    assert iv.low > 0.2 and iv.estimate == pytest.approx(1.0 - fast_auc(y, noise.s))
    # only rows both scored are compared: b scored half of them
    half = Scored(noise.y[:50:1], noise.s[:50], np.arange(50), np.arange(50))
    assert paired_interval(good, half, "accuracy", n_boot=10).n == 50


def test_rank_resolved_orders_only_resolved_pairs():
    wins = {("a", "b"), ("a", "d"), ("c", "d")}
    ranks = rank_resolved(["a", "b", "c", "d"], lambda x, y: (x, y) in wins)
    assert {k: v["rank"] for k, v in ranks.items()} == {"a": 1, "b": 2, "c": 1, "d": 3}
    assert ranks["a"]["above"] == ["b", "d"] and ranks["a"]["tied_with"] == ["c"]
    assert ranks["c"]["tied_with"] == ["a", "b"]


def test_compare_writes_every_table_with_stable_columns(tmp_path):
    rng = np.random.default_rng(0)
    videos = [("real", 0.0)] * 10 + [("fake", 0.0)] * 10
    for model, sep in (("vgg19", 0.6), ("custom_cnn", 0.0)):
        for variant in ("base", "augmented"):
            frames = _frames(videos, 4)
            frames["p_fake"] = np.clip(rng.random(len(frames)) * (1 - sep) + sep * (frames["label"] == "fake"), 0, 1)
            frames["compression"] = "raw"
            d = tmp_path / "detect" / f"{model}-{variant}"
            d.mkdir(parents=True)
            frames.to_csv(d / "predictions.csv", index=False)
            (d / "metrics.json").write_text(json.dumps({
                "model": model, "variant": variant, "weights": "scratch", "architecture": model,
                "train_compression": "raw", "image_size": 64, "epochs": 3, "best_epoch": 2,
                "best_record": {"val_auc": 0.7}, "train_time_s": 1.0, "stage_time_s": 2.0}))
    out = compare(tmp_path / "detect", tmp_path / "tables", n_boot=200)
    for stem in ("intervals", "pairwise", "ranking", "thesis"):
        assert (tmp_path / "tables" / f"detect_{stem}.csv").is_file()
        assert (tmp_path / "tables" / f"detect_{stem}.md").is_file()
    iv = out["intervals"]
    assert {"stage", "level", "accuracy", "accuracy_low", "auc_high", "eer", "auc_above_chance"} <= set(iv.columns)
    assert len(iv) == 8
    top = iv[(iv.stage == "vgg19-base") & (iv.level == "frame")].iloc[0]
    assert top.auc_above_chance and top.auc_low > 0.9
    rank = out["ranking"].set_index("stage")["rank"]
    assert rank["vgg19-base"] == 1 and rank["custom_cnn-base"] > 1
    assert list(out["thesis"].columns) == ["claim", "thesis", "ours", "verdict", "why"]
    claims = dict(zip(out["thesis"]["claim"], out["thesis"]["verdict"]))
    assert claims["VGG19 has the highest accuracy"] == "agree"


def _cross_stage(root, name, scores):
    """A stage folder holding predictions_cross.csv: ``scores[(trained_on, method)]`` = (p real, p fake)
    for 6 real videos and 6 fakes of each method (lstm, none), 3 frames each."""
    rows = []
    for trained in ("lstm", "none"):
        for v in range(6):
            for t in range(3):
                rows.append({"path": f"real/{v}_{t}.png", "label": "real", "method": "original",
                             "video_id": f"r{v}", "frame": t, "trained_on": trained,
                             "p_fake": scores[(trained, "real")][v % 2]})
        for method in ("lstm", "none"):
            for v in range(6):
                for t in range(3):
                    rows.append({"path": f"{method}/{v}_{t}.png", "label": "fake", "method": method,
                                 "video_id": f"{method}{v}", "frame": t, "trained_on": trained,
                                 "p_fake": scores[(trained, method)][v % 2]})
    d = root / name
    d.mkdir(parents=True)
    pd.DataFrame(rows).to_csv(d / "predictions_cross.csv", index=False)


def test_cross_generator_table_known_answers(tmp_path):
    """Each detector separates its own generator's fakes perfectly (AUC 1); trained on lstm it scores
    none's fakes below every real (AUC 0: gap exactly 1, resolved); trained on none it ties lstm's fakes
    with the reals (AUC 0.5, not above chance)."""
    from lstmgan.detect.compare import cross_generator_sentences, cross_generator_table

    scores = {("lstm", "real"): (0.4, 0.5), ("lstm", "lstm"): (0.8, 0.9), ("lstm", "none"): (0.1, 0.2),
              ("none", "real"): (0.45, 0.45), ("none", "none"): (0.7, 0.7), ("none", "lstm"): (0.45, 0.45)}
    _cross_stage(tmp_path, "cnn-base", scores)
    df = cross_generator_table(tmp_path, n_boot=200).set_index(["trained_on", "tested_on"])
    assert df.loc[("lstm", "lstm"), "auc"] == 1.0 and df.loc[("lstm", "lstm"), "auc_low"] == 1.0
    assert df.loc[("none", "none"), "auc"] == 1.0
    assert df.loc[("lstm", "none"), "auc"] == 0.0
    assert (df.loc[("lstm", "none"), "gap"], df.loc[("lstm", "none"), "gap_low"]) == (1.0, 1.0)
    assert not df.loc[("lstm", "none"), "above_chance"]
    assert df.loc[("none", "lstm"), "auc"] == 0.5 and df.loc[("none", "lstm"), "gap"] == 0.5
    assert np.isnan(df.loc[("lstm", "lstm"), "gap"])
    text = cross_generator_sentences(df.reset_index())
    assert len(text) == 2 and "does not find them" in text[0] and "resolved" in text[0]


def _comp_stage(root, name, train_comp, auc_by_comp):
    """A stage trained on ``train_comp``: at each compression, reals scored 0.5 and fakes scored
    ``1.0`` (separated, AUC 1) or ``0.5`` (tied, AUC 0.5)."""
    rows = []
    for comp, separated in auc_by_comp.items():
        for v in range(8):
            for label in ("real", "fake"):
                for t in range(2):
                    rows.append({"path": f"{comp}/{label}/{v}_{t}.png", "label": label,
                                 "method": "lstm" if label == "fake" else "original", "video_id": f"{label}{v}",
                                 "frame": t, "compression": comp,
                                 "p_fake": (1.0 if separated else 0.5) if label == "fake" else 0.5})
    d = root / name
    d.mkdir(parents=True)
    pd.DataFrame(rows).to_csv(d / "predictions.csv", index=False)
    (d / "metrics.json").write_text(json.dumps({"model": "cnn", "variant": "base", "weights": "scratch",
                                                "train_compression": train_comp}))


def test_compression_training_table_known_answers(tmp_path):
    """Raw-trained: AUC 1 on raw, 0.5 on c40 (loss 0.5); c23-trained: AUC 1 on c40 (recovery 0.5, all of it)."""
    from lstmgan.detect.compare import compression_sentences, compression_training_table

    _comp_stage(tmp_path, "cnn-base-scratch", "raw", {"raw": True, "c40": False})
    _comp_stage(tmp_path, "cnn-base-c23", "c23", {"c23": True, "c40": True})
    df = compression_training_table(tmp_path, n_boot=200)
    assert len(df) == 1
    r = df.iloc[0]
    assert (r.trained_on, r.tested_on, r.run, r.baseline_run) == ("c23", "c40", "cnn-base-c23", "cnn-base-scratch")
    assert (r.loss, r.loss_low, r.loss_high) == (0.5, 0.5, 0.5)
    assert (r.recovery, r.recovery_low) == (0.5, 0.5) and r.recovered == 1.0
    assert r.recovery_verdict == "better"
    assert "recovers +0.500" in compression_sentences(df)[0]


def test_compare_keeps_compressed_training_out_of_the_ranking(tmp_path):
    _comp_stage(tmp_path / "detect", "cnn-base-scratch", "raw", {"raw": True, "c40": False})
    _comp_stage(tmp_path / "detect", "cnn-base-c23", "c23", {"c23": True, "c40": True})
    out = compare(tmp_path / "detect", tmp_path / "tables", n_boot=50, prefix="study")
    assert list(out["ranking"]["stage"]) == ["cnn-base-scratch"]
    assert (tmp_path / "tables" / "study_compression.md").is_file()
    assert not (tmp_path / "tables" / "study_cross_generator.md").exists()  # no cross-method stage
