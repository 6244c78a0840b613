"""Detection: metrics against sklearn, video grouping, transforms, data selection, models,
the best-checkpoint rule, determinism, the comparison table."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn import metrics as skm

from lstmgan.config import load_params
from lstmgan.detect.data import FrameSet, load_manifest, select
from lstmgan.detect.metrics import (OneClassWarning, accuracy, average_precision, balanced_accuracy,
                                    binary_metrics, equal_error_rate, roc_auc, video_scores)
from lstmgan.detect.models import MODELS, WEIGHT_FILES, build_detector
from lstmgan.detect.run import comparison_table
from lstmgan.detect.toy import write_toy_dataset
from lstmgan.detect.train import best_epoch, evaluate, fit
from lstmgan.detect.transforms import VARIANTS, variant_transforms
from lstmgan.errors import UserError


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return write_toy_dataset(tmp_path_factory.mktemp("toy") / "deepfakes", frames=4, videos_per_split=2)


# ------------------------------------------------------------------------------------ metrics
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_metrics_match_sklearn(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 200)
    s = np.clip(0.3 * y + rng.normal(0.35, 0.25, 200), 0, 1).round(2)  # rounding makes ties
    assert accuracy(y, s) == pytest.approx(skm.accuracy_score(y, s >= 0.5))
    assert balanced_accuracy(y, s) == pytest.approx(skm.balanced_accuracy_score(y, s >= 0.5))
    assert average_precision(y, s) == pytest.approx(skm.average_precision_score(y, s))
    assert roc_auc(y, s) == pytest.approx(skm.roc_auc_score(y, s))


def test_eer_hand_computed():
    # ranked: 0.9 fake, 0.8 real, 0.6 fake, 0.3 real, 0.1 real. ROC points (fpr, fnr):
    # (0,1) (0,.5) (1/3,.5) (1/3,0) ...; fpr - fnr turns positive between (1/3,.5) and (1/3,0):
    # t = (1/6)/(1/6 + 1/3) = 1/3, so FPR = FNR = 1/3 there.
    y = [1, 0, 1, 0, 0]
    s = [0.9, 0.8, 0.6, 0.3, 0.1]
    assert equal_error_rate(y, s) == pytest.approx(1 / 3)
    assert equal_error_rate([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == 0.0
    assert equal_error_rate([0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1]) == 1.0


def test_eer_is_where_fpr_meets_fnr():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 500)
    s = rng.normal(y * 1.0, 1.0)
    eer = equal_error_rate(y, s)
    fpr, tpr, _ = skm.roc_curve(y, s, drop_intermediate=False)
    fnr = 1 - tpr
    i = np.argmin(np.abs(fpr - fnr))  # nearest ROC point, as DeepfakeBench does
    assert abs(eer - (fpr[i] + fnr[i]) / 2) < 0.01
    assert 0.2 < eer < 0.45  # two unit-variance Gaussians one sigma apart: EER ~ 0.31


def test_all_tied_scores_are_chance():
    y = [0, 1, 0, 1, 1]
    s = [0.5] * 5
    assert roc_auc(y, s) == pytest.approx(0.5)
    assert equal_error_rate(y, s) == pytest.approx(0.5)
    assert average_precision(y, s) == pytest.approx(skm.average_precision_score(y, s))  # = 3/5
    assert average_precision(y, s) == pytest.approx(0.6)


def test_one_class_gives_nan_with_a_warning():
    with pytest.warns(OneClassWarning, match="one class"):
        result = binary_metrics([1, 1, 1], [0.9, 0.2, 0.7])
    assert result["accuracy"] == pytest.approx(2 / 3)
    assert result["balanced_accuracy"] == pytest.approx(2 / 3)
    assert np.isnan(result["auc"]) and np.isnan(result["ap"]) and np.isnan(result["eer"])


def test_bad_scores_are_clear_errors():
    with pytest.raises(ValueError, match="NaN"):
        roc_auc([0, 1], [0.2, float("nan")])
    with pytest.raises(ValueError, match="length"):
        accuracy([0, 1, 1], [0.2, 0.3])
    with pytest.raises(ValueError, match="no samples"):
        accuracy([], [])


def test_labels_may_be_words():
    assert roc_auc(["real", "fake", "fake"], [0.1, 0.7, 0.9]) == 1.0


def test_video_level_groups_by_method_and_video_id():
    # the same video id under two methods (as FF++ names fakes) must stay two videos
    frames = pd.DataFrame({
        "video_id": ["v1", "v1", "v1", "v1", "r1", "r1"],
        "method": ["lstm", "lstm", "none", "none", "original", "original"],
        "label": [1, 1, 1, 1, 0, 0],
        "p_fake": [0.9, 0.7, 0.2, 0.4, 0.1, 0.3],
    })
    videos = video_scores(frames).set_index(["method", "video_id"])
    assert len(videos) == 3
    assert videos.loc[("lstm", "v1"), "p_fake"] == pytest.approx(0.8)
    assert videos.loc[("none", "v1"), "p_fake"] == pytest.approx(0.3)
    assert videos.loc[("original", "r1"), "p_fake"] == pytest.approx(0.2)
    assert videos.loc[("lstm", "v1"), "frames"] == 2
    mixed = frames.assign(label=[1, 0, 1, 1, 0, 0])
    with pytest.raises(ValueError, match="both labels"):
        video_scores(mixed)


# ------------------------------------------------------------------------ data and transforms
def test_select_is_balanced_even_and_deterministic(toy):
    table = load_manifest(toy)
    rows = select(table, "train", "raw", max_frames=8)
    assert (rows["y"] == 0).sum() == 4 and (rows["y"] == 1).sum() == 4
    assert rows.equals(select(table, "train", "raw", max_frames=8))
    assert set(rows["compression"]) == {"raw"} and set(rows["split"]) == {"train"}
    assert rows.loc[rows["y"] == 1, "method"].nunique() == 2  # spread over both generators
    only_lstm = select(table, "test", "c40", methods=["lstm"])
    assert set(only_lstm["method"]) == {"original", "lstm"}


def test_manifest_missing_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="manifest.csv"):
        load_manifest(tmp_path)


@pytest.mark.parametrize("variant", VARIANTS)
def test_variant_transforms_keep_label_and_shape(toy, variant):
    table = select(load_manifest(toy), "train", "raw", max_frames=8)
    tf = variant_transforms(variant)
    base = FrameSet.load(toy, table, 64)
    torch.manual_seed(0)
    for transform in (tf.train, tf.eval, tf.val_augmented):
        data = base.with_transform(transform)
        batch = data.__getitems__(list(range(len(data))))
        for (x, y), (x0, y0) in zip(batch, (base[i] for i in range(len(base)))):
            assert x.shape == x0.shape == (3, 64, 64) and x.dtype == torch.float32
            assert int(y) == int(y0)
    x_aug = torch.stack([x for x, _ in base.with_transform(tf.val_augmented).__getitems__(list(range(8)))])
    assert not torch.allclose(x_aug, torch.stack([base[i][0] for i in range(8)]))  # it does augment
    if variant == "grayscale":
        x = base.with_transform(tf.eval)[0][0]
        assert torch.allclose(x[0], x[1]) and torch.allclose(x[1], x[2])


def test_materialised_augmentation_is_fixed(toy):
    table = select(load_manifest(toy), "val", "raw")
    data = FrameSet.load(toy, table, 32, variant_transforms("base").val_augmented)
    a, b = data.materialise(3), data.materialise(3)
    assert torch.equal(a[0][0], b[0][0]) and not torch.equal(a[0][0], data.materialise(4)[0][0])


# ------------------------------------------------------------------------------------- models
@pytest.mark.parametrize("name", MODELS)
def test_each_model_runs_at_64_px(name, one_thread):
    built = build_detector(name, "false", hidden=16, dropout=0.5)
    assert not built.pretrained
    model = built.model.eval()
    with torch.no_grad():
        out = model(torch.rand(2, 3, 64, 64))
    assert out.shape == (2, 2) and torch.isfinite(out).all()


def test_pretrained_true_without_weights_names_the_file(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    with pytest.raises(UserError, match=WEIGHT_FILES["resnet18"]) as err:
        build_detector("resnet18", "true")
    assert str(tmp_path / "checkpoints") in str(err.value)
    assert build_detector("resnet18", "auto").pretrained is False


@pytest.mark.parametrize("name", ["resnet18", "densenet121", "vgg19"])
def test_cached_imagenet_weights_are_loaded(tmp_path, monkeypatch, name):
    import re

    import torchvision

    from lstmgan.detect.models import vgg19_features

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    (tmp_path / "checkpoints").mkdir()
    torch.manual_seed(1)
    if name == "vgg19":  # the real file also holds the classifier, which the detector drops
        state = {f"features.{k}": v for k, v in vgg19_features().state_dict().items()}
        state["classifier.0.weight"] = torch.zeros(3, 3)
        key, module = "features.0.weight", lambda m: m.features[0].weight
    elif name == "densenet121":  # the published file's old key names: norm.1, conv.2
        state = torchvision.models.densenet121(weights=None).state_dict()
        state = {re.sub(r"(denselayer\d+\.(?:norm|conv))([12])\.", r"\1.\2.", k): v for k, v in state.items()}
        assert any(".norm.1." in k for k in state)
        key = "features.denseblock1.denselayer1.conv.1.weight"
        module = lambda m: m.features[0].denseblock1.denselayer1.conv1.weight
    else:
        state = torchvision.models.resnet18(weights=None).state_dict()
        key, module = "layer1.0.conv1.weight", lambda m: m.features[4][0].conv1.weight
    torch.save(state, tmp_path / "checkpoints" / WEIGHT_FILES[name])
    built = build_detector(name, "true")
    assert built.pretrained
    assert torch.equal(module(built.model), state[key])
    assert not torch.equal(module(build_detector(name, "false").model), state[key])


# ---------------------------------------------------------------------------------- training
def test_best_epoch_uses_validation_only():
    records = [
        {"epoch": 1, "val_auc": 0.70, "val_loss": 0.60, "test_auc": 0.99},
        {"epoch": 2, "val_auc": 0.90, "val_loss": 0.50, "test_auc": 0.60},
        {"epoch": 3, "val_auc": 0.90, "val_loss": 0.40, "test_auc": 0.50},
        {"epoch": 4, "val_auc": float("nan"), "val_loss": 0.10, "test_auc": 1.00},
    ]
    assert best_epoch(records, "val_auc") == 3  # tie on AUC -> lower val loss; NaN never wins
    assert best_epoch(records, "val_loss") == 4
    with pytest.raises(ValueError, match="validation only"):
        best_epoch(records, "test_auc")


def _tiny_fit(toy, seed: int, epochs: int = 2):
    table = load_manifest(toy)
    tf = variant_transforms("augmented")
    train = FrameSet.load(toy, select(table, "train", "raw", 16), 32, tf.train)
    val = FrameSet.load(toy, select(table, "val", "raw", 16), 32, tf.eval)
    torch.manual_seed(seed)
    model = build_detector("custom_cnn", "false", hidden=8).model
    result = fit(model, train, train.with_transform(tf.eval), val, val.with_transform(tf.val_augmented).materialise(1),
                 epochs=epochs, batch_size=8, lr=1e-2, weight_decay=1e-4, one_cycle=True,
                 select_on="val_loss", seed=seed)
    return model, val, result


def test_fit_keeps_the_best_validation_epoch_and_is_deterministic(toy, one_thread):
    model, val, result = _tiny_fit(toy, seed=0, epochs=3)
    assert [r["epoch"] for r in result.records] == [1, 2, 3]
    expected = min(result.records, key=lambda r: r["val_loss"])["epoch"]
    assert result.best_epoch == expected
    loss, _, _ = evaluate(model, val)  # the model holds the best epoch's weights
    assert loss == pytest.approx(result.records[expected - 1]["val_loss"], rel=1e-5)
    lrs = [r["lr"] for r in result.records]
    assert len(set(lrs)) == 3  # one-cycle: the learning rate moves
    _, _, again = _tiny_fit(toy, seed=0, epochs=3)
    assert again.records == result.records


# -------------------------------------------------------------------------- comparison table
def test_comparison_table_collects_metrics(tmp_path):
    for model, auc in (("vgg19", 0.9), ("resnet18", 0.8)):
        folder = tmp_path / "detect" / f"{model}-base"
        folder.mkdir(parents=True)
        frame = {"accuracy": 0.8, "balanced_accuracy": 0.75, "ap": 0.85, "auc": auc, "eer": 0.2}
        (folder / "metrics.json").write_text(json.dumps({
            "model": model, "variant": "base", "weights": "scratch", "frame": frame, "video": {"auc": None},
            "parameters": 1_000_000, "train_time_s": 12.5, "train_images_per_s": 80.0,
            "eval_images_per_s": 400.0}))
    table = comparison_table(tmp_path / "detect", tmp_path / "tables")
    assert list(table["model"]) == ["resnet18", "vgg19"]
    assert list(table["auc"]) == [0.8, 0.9]
    md = (tmp_path / "tables" / "detect_comparison.md").read_text()
    assert "| vgg19 | base | scratch | 0.800 | 0.750 | 0.850 | 0.900 | 0.200 | n/a | 1.00 |" in md
    assert pd.read_csv(tmp_path / "tables" / "detect_comparison.csv").shape == (2, 13)


def test_per_model_overrides_are_validated(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("detect:\n  image_size: 64\n  per_model:\n    vgg19: {image_size: 32}\n    resnet18: {epochs: x}\n")
    params = load_params(path)
    assert params.detect.for_model("vgg19").image_size == 32
    assert params.detect.for_model("custom_cnn").image_size == 64
    from lstmgan.config import ConfigError

    with pytest.raises(ConfigError, match="detect.epochs"):
        params.detect.for_model("resnet18")


# -------------------------------------------------------------------------------------- CLI
def test_cli_reports_missing_data_and_builds_the_table(tmp_path, capsys):
    from pathlib import Path

    from lstmgan.cli import main

    params = str(Path(__file__).resolve().parents[1] / "params.yaml")
    code = main(["detect", "--params", params, "--model", "custom_cnn", "--data", str(tmp_path / "nothing")])
    assert code == 2
    assert "manifest.csv" in capsys.readouterr().err
    code = main(["detect", "--params", params, "--table", "--set", f"detect.out={tmp_path / 'none'}",
                 "--tables", str(tmp_path / "tables")])
    assert code == 0 and (tmp_path / "tables" / "detect_comparison.csv").is_file()


def test_vgg19_from_scratch_is_built_with_batch_norm(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    built = build_detector("vgg19", "auto", hidden=16)
    assert built.architecture == "vgg19_bn" and not built.pretrained
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in built.model.features.modules())
    assert build_detector("vgg19", "false", hidden=16).architecture == "vgg19_bn"


def test_identity_pretraining_learns_people_and_keeps_the_detection_head(tmp_path, one_thread):
    from lstmgan.data.synth import synthesize
    from lstmgan.detect.pretrain import identity_frames, pretrain_identity

    synthesize(tmp_path / "faces", identities=6, videos_per_identity=1, frames=8, size=64, val_identities=1,
               test_identities=1, write_videos=False)
    x, y, hx, hy, n = identity_frames(tmp_path / "faces", 32, frames_per_video=2)
    assert n == 4 and x.shape == (8, 3, 32, 32) and hx.shape == (8, 3, 32, 32) and sorted(set(y.tolist())) == [0, 1, 2, 3]
    torch.manual_seed(0)
    model = build_detector("custom_cnn", "false", hidden=16).model
    head = {k: v.clone() for k, v in model.head.state_dict().items()}
    result = pretrain_identity(model, tmp_path / "faces", 32, steps=40, batch_size=8, lr=3e-3,
                               frames_per_video=2, seed=0, log_every=40)
    assert result.identities == 4 and result.records[-1]["held_out_acc"] > 0.5  # chance is 0.25
    assert all(torch.equal(head[k], v) for k, v in model.head.state_dict().items())


def test_gpu_config_validates_and_trains_at_tiny_size_on_cpu(toy, tmp_path, one_thread):
    """configs/detect_gpu224.yaml: the full protocol's keys, run on CPU with the sizes shrunk."""
    from pathlib import Path

    from lstmgan.detect.run import run_detector

    root = Path(__file__).resolve().parents[1]
    params = load_params(root / "params.yaml", configs=[root / "configs" / "detect_gpu224.yaml"])
    assert params.detect.image_size == 224 and params.detect.cross_method and params.detect.device == "cuda"
    params = load_params(root / "params.yaml", configs=[root / "configs" / "detect_gpu224.yaml"], overrides=[
        "detect.device=cpu", "detect.image_size=32", "detect.epochs=1", "detect.per_model={}",
        f"detect.out={tmp_path / 'out'}", f"detect.models_out={tmp_path / 'models'}"])
    metrics = run_detector(params, "custom_cnn", "base", data_dir=toy)
    assert metrics["image_size"] == 32 and set(metrics["cross_method_auc"]) == {"all", "lstm", "none"}


def test_still_rising_reads_the_end_of_the_validation_curve():
    from lstmgan.detect.train import still_rising

    def recs(values):
        return [{"epoch": i + 1, "val_auc": v} for i, v in enumerate(values)]

    assert still_rising(recs([0.5, 0.6, 0.7, 0.8])) == pytest.approx(0.2)  # best of last two minus best before
    assert still_rising(recs([0.5, 0.8, 0.81, 0.80])) is None  # flat within 0.02: the plateau
    assert still_rising(recs([0.5, 0.9])) is None  # too short to tell
    assert still_rising(recs([0.5, float("nan"), 0.6, 0.7, 0.9])) == pytest.approx(0.3)
