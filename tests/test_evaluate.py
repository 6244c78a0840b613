"""Evaluation metrics against hand-computed values and scikit-image, the protocol on a tiny store."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from lstmgan.generate import evaluate as E


def test_l1_and_psnr_by_hand() -> None:
    gt = np.zeros((2, 4, 4, 3))
    pred = gt.copy()
    pred[0] += 0.1  # frame 0 off by 0.1 everywhere, frame 1 off by 0.2 on a quarter of the pixels
    pred[1, :2, :2] += 0.2
    assert E.l1(pred, gt) == pytest.approx((0.1 + 0.2 / 4) / 2)
    # PSNR per frame: 10 log10(1 / mse); mse0 = 0.01, mse1 = 0.04 / 4 = 0.01 -> 20 dB each
    assert E.psnr(pred, gt) == pytest.approx(20.0)
    assert E.psnr(gt, gt) == 100.0  # identical frames are capped, not infinite


def test_psnr_and_ssim_match_skimage() -> None:
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    rng = np.random.default_rng(0)
    gt = rng.uniform(0, 1, (3, 32, 32, 3))
    pred = np.clip(gt + rng.normal(0, 0.05, gt.shape), 0, 1)
    ref_psnr = np.mean([peak_signal_noise_ratio(g, p, data_range=1.0) for g, p in zip(gt, pred)])
    assert E.psnr(pred, gt) == pytest.approx(ref_psnr, rel=1e-9)
    ref_ssim = np.mean([structural_similarity(p, g, channel_axis=-1, data_range=1.0) for g, p in zip(gt, pred)])
    assert E.ssim(pred, gt) == pytest.approx(ref_ssim, rel=1e-9)
    assert E.ssim(gt, gt) == pytest.approx(1.0)


def test_akd_aed_by_hand() -> None:
    a = np.zeros((2, 3, 2))
    b = a.copy()
    b[0, 0] = [3.0, -4.0]  # |3| + |4| over 12 coordinates
    assert E.akd(b, a) == pytest.approx(7 / 12)
    b[1, 2] = np.nan  # unknown landmarks are skipped
    assert E.akd(b, a) == pytest.approx(7 / 10)
    e1 = np.array([[1.0, 0.0], [0.0, 1.0]])
    e2 = np.array([[0.0, 1.0], [0.0, 1.0]])
    assert E.aed(e1, e2) == pytest.approx((2.0 + 0.0) / 2)  # mean squared distance
    assert E.aed(e1, np.array([1.0, 0.0])) == pytest.approx((0 + 2) / 2)  # one reference broadcast


def test_flicker_by_hand() -> None:
    gt = np.zeros((3, 2, 2, 3))
    gt[1] = 0.5
    gt[2] = 0.5
    pred = gt.copy()
    assert E.flicker(pred, gt) == 0.0  # the same temporal change as the real video
    pred[2] = 0.7  # an extra jump of 0.2 between frames 1 and 2 only
    assert E.flicker(pred, gt) == pytest.approx(0.2 / 2)
    still = np.broadcast_to(gt[:1], gt.shape)  # copy-the-source: misses all real change
    assert E.flicker(still, gt) == pytest.approx(0.5 / 2)


def _moving_blob(shift: int, t: int = 4, size: int = 32) -> np.ndarray:
    """A Gaussian blob moving right on a grey background (no clipping when noise is added)."""
    frames = np.zeros((t, size, size, 3))
    yy, xx = np.mgrid[:size, :size]
    for i in range(t):
        cx = 10 + shift * i
        frames[i] = 0.5 + 0.4 * (np.exp(-((xx - cx) ** 2 + (yy - 16) ** 2) / 30.0))[..., None]
    return frames


def test_warping_error_zero_for_the_real_video_and_high_for_flicker() -> None:
    gt = _moving_blob(1)
    clean = E.warping_error(gt, gt, threshold=0.05)
    assert clean < 0.005
    rng = np.random.default_rng(0)
    noisy = gt + rng.uniform(-0.1, 0.1, gt.shape)  # fresh noise each frame = flicker
    # |n_t - warp(n_t-1)| for independent U(-0.1, 0.1) noise: 0.2/3 = 0.067 without interpolation;
    # bilinear warping averages neighbouring noise, so a little less
    assert 0.04 < E.warping_error(noisy, gt, threshold=0.05) < 0.075
    # the same noise frozen in time moves with nothing: no flicker beyond the interpolation of it
    frozen = gt + rng.uniform(-0.1, 0.1, gt.shape[1:])[None]
    assert E.warping_error(frozen, gt, threshold=0.05) < E.warping_error(noisy, gt, threshold=0.05)


def test_flow_warp_shifts_an_image() -> None:
    img = np.arange(25, dtype=float).reshape(5, 5, 1)
    flow = np.zeros((2, 5, 5))
    flow[1] = 1.0  # sample one column to the right
    out = E.flow_warp(img, flow)
    np.testing.assert_allclose(out[:, :4, 0], img[:, 1:, 0])


def test_motion_error_by_hand() -> None:
    drv = np.zeros((3, 2, 2))
    drv[1:, :, 0] = 2.0  # the driver moves 2 px right from frame 1
    gen = drv + 10.0  # same motion, different place: no motion error
    assert E.motion_error(gen, drv) == 0.0
    still = np.broadcast_to(gen[:1], gen.shape)  # no motion: misses 2 px on x for 2 of 3 frames
    assert E.motion_error(still, drv) == pytest.approx(2.0 * 2 * 2 / 12)


def test_summarize_and_interval_tables() -> None:
    rows = [{"l1": 0.1, "akd": float("nan")}, {"l1": 0.3, "akd": 2.0}]
    assert E.summarize(rows, ["l1", "akd"]) == {"l1": pytest.approx(0.2), "akd": 2.0}

    def result(method, l1s, psnrs):
        recon = [{"video_id": f"v{i}", "l1": a, "psnr": b} for i, (a, b) in enumerate(zip(l1s, psnrs))]
        cross = [{"pair": 0, "motion_error": 1.0}, {"pair": 1, "motion_error": 2.0}]
        return E.MethodResult(method, recon, cross, {})

    # lstm lower l1 on every video by 0.01 (resolved: better); psnr differences flip sign (not resolved)
    lstm = result("lstm", [0.10, 0.20, 0.30, 0.40], [20.0, 21.0, 22.0, 23.0])
    none = result("none", [0.11, 0.21, 0.31, 0.41], [20.5, 20.5, 22.5, 22.5])
    copy = result("copy-source", [0.5] * 4, [10.0] * 4)
    means, comps = E.interval_tables([lstm, none, copy])
    assert list(dict.fromkeys(means["method"])) == ["lstm", "none", "copy-source"]
    v = {(r.a, r.b, r.metric): r.verdict for r in comps.itertuples()}
    assert v[("lstm", "none", "l1")] == "better" and v[("lstm", "none", "psnr")] == "not resolved"
    assert v[("lstm", "copy-source", "psnr")] == "better" and v[("none", "copy-source", "l1")] == "better"
    assert v[("lstm", "none", "motion_error")] == "not resolved"  # identical per pair: zero difference
    l1 = means[(means.method == "lstm") & (means.metric == "l1")].iloc[0]
    assert l1["mean"] == pytest.approx(0.25) and 0.1 <= l1["low"] < 0.25 < l1["high"] <= 0.4


# ------------------------------------------------------------------------------------------
# The protocol end to end on a tiny procedural store and untrained tiny checkpoints
# ------------------------------------------------------------------------------------------
def small_setup(tmp_path, identities: int = 10, frames: int = 8):
    """A synth store (val 4 + test 4 identities), tiny checkpoints for lstm and none, Params."""
    from test_animate import tiny_checkpoint

    from lstmgan.config import Params
    from lstmgan.media.store import FaceStore
    from lstmgan.data.synth import synthesize

    synthesize(tmp_path / "faces", identities=identities, videos_per_identity=2, frames=frames, size=64,
               val_identities=4, test_identities=4, write_videos=False)
    checkpoints = {}
    for m in ("lstm", "none"):
        checkpoints[m] = tmp_path / "gan" / m / "latest.pt"
        tiny_checkpoint(checkpoints[m], temporal=m)
    params = Params()
    params.data.out = str(tmp_path / "faces")
    g = params.generate
    g.evalnets_out, g.reports = str(tmp_path / "evalnets"), str(tmp_path / "reports")
    g.tables, g.metrics = str(tmp_path / "tables"), str(tmp_path / "metrics.json")
    g.out, g.figures = str(tmp_path / "deepfakes"), str(tmp_path / "figures")
    g.evalnet_steps, g.evalnet_batch, g.cross_pairs, g.eval_videos = 12, 16, 2, 3
    return FaceStore(tmp_path / "faces"), params, checkpoints


def test_evaluate_all_writes_table_metrics_and_per_video(tmp_path) -> None:
    store, params, checkpoints = small_setup(tmp_path)
    out = E.evaluate_all(params, store, "cpu", checkpoints)
    table = out["table"]
    assert list(table.index) == ["lstm", "none", "copy-source", "driving-video"]
    for m in ("l1", "psnr", "ssim", "akd", "aed", "flicker", "warp_error", "tof"):
        assert math.isfinite(table.loc["lstm", m]) and math.isfinite(table.loc["copy-source", m])
    for m in ("flicker_dec", "warp_error_dec", "tof_dec", "sharpness_dec"):  # decoder regions: generators only
        assert math.isfinite(table.loc["none", m]) and math.isnan(table.loc["copy-source", m])
    assert table.loc["copy-source", "tof"] > 0  # the real video moves, the copy does not
    # the driving video in cross-identity follows its own motion exactly
    assert table.loc["driving-video", "motion_error"] == pytest.approx(0.0, abs=1e-6)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["lstm"]["l1"] == pytest.approx(table.loc["lstm", "l1"], rel=1e-4)
    assert metrics["evalnets"]["landmark_source"] == "landmark_net"
    assert 0.0 <= metrics["evalnets"]["identity_test_verification_accuracy"] <= 1.0
    md = (tmp_path / "tables" / "ablation.md").read_text()
    assert "| lstm |" in md and "| lstm vs none |" in md and "| none vs copy-source |" in md
    assert "lstm vs none, paired 95% intervals" in md
    assert set(metrics["comparisons"]) == {"lstm vs none", "lstm vs copy-source", "none vs copy-source"}
    assert metrics["comparisons"]["lstm vs none"]["tof"]["verdict"] in ("better", "worse", "not resolved")
    lo, hi = metrics["intervals"]["lstm"]["l1"]
    assert lo <= metrics["lstm"]["l1"] <= hi
    parts = metrics["parts"]  # face parts against the synthetic ground truth (lstmgan.generate.parts)
    assert 0.0 <= parts["lstm"]["reconstruction"]["decoder_share"] <= 1.0
    assert parts["copy-source"]["reconstruction"]["decoder_share"] is None  # no decoder
    assert parts["copy-source"]["reconstruction"]["blinks_reproduced"] == 0.0  # a still image never blinks
    assert set(parts["lstm"]["keypoints"]) == {"mouth_r2", "eye_r2"} and "keypoints" not in parts["copy-source"]
    import pandas as pd

    per_video = pd.read_csv(tmp_path / "reports" / "per_video.csv")
    assert len(per_video) == 4 * 3 and set(per_video["method"]) == set(table.index)
    # copy-source has exactly zero error on each video's first frame: compare with a hand check
    vid = per_video[per_video.method == "copy-source"].iloc[0]
    frames = np.asarray(store.frames(vid["video_id"]), np.float64) / 255
    assert vid["l1"] == pytest.approx(E.l1(np.broadcast_to(frames[:1], frames.shape), frames), rel=1e-5)


def test_evalnets_report_their_own_quality(tmp_path) -> None:
    """Heatmap landmark net on only 8 train identities (unseen test faces): below the mean-layout
    error, and it resolves landmark *motion* (what AKD compares) well below the motion itself;
    identity net beats chance. (~20 s on one core; trained on one thread, so the numbers are
    reproducible; the caller's thread count is restored afterwards.)"""
    import torch

    from lstmgan.generate.evalnets import build_evalnets

    store, params, _ = small_setup(tmp_path, identities=16, frames=24)  # 8 train identities
    params.generate.evalnet_steps = 300
    params.generate.evalnet_threads = 1
    threads = torch.get_num_threads()
    nets = build_evalnets(store, params, "cpu")
    assert torch.get_num_threads() == threads
    rep = nets.report
    gt = np.concatenate([np.asarray(store.landmarks(r.video_id)) for r in store.split("test")])
    train_rows = np.concatenate([np.arange(r.offset, r.offset + r.frames) for r in store.split("train")])
    mean_layout_err = float(np.abs(gt - np.asarray(store._landmarks)[train_rows].mean(0)).mean())
    # 8 identities are too few for sub-pixel error on unseen faces (the default store's 104 reach
    # about 0.25 px); measured here with one thread: 1.33 px vs 1.88 px, motion 0.52 px vs 0.79 px
    assert rep.landmarks["test_mae_px"] < 0.8 * mean_layout_err
    assert rep.landmarks["test_motion_mae_px"] < 0.75 * rep.landmarks["test_motion_px"]
    assert rep.identity["test_verification_accuracy"] > 0.6  # unseen identities, better than chance
    # reused from disk when the fingerprint matches
    again = build_evalnets(store, params, "cpu")
    assert again.report.landmarks == rep.landmarks


def test_landmark_augmentation_moves_landmarks_with_the_pixels() -> None:
    """A blob drawn at each landmark lands where the warped landmark says (mirror included)."""
    import torch

    from lstmgan.generate.evalnets import MIRROR_ORDER, _random_affine

    size = 64
    yy, xx = torch.meshgrid(torch.arange(size).float(), torch.arange(size).float(), indexing="ij")
    pts = torch.tensor([[[20.3, 30.7], [41.0, 25.5]]]).repeat(8, 1, 1)
    img = torch.zeros(8, 1, size, size)
    for k in range(2):
        img += (k + 1) * torch.exp(-((xx - pts[0, k, 0]) ** 2 + (yy - pts[0, k, 1]) ** 2) / 8.0)
    warped, moved = _random_affine(img, pts, torch.Generator().manual_seed(0))
    for i in range(8):
        for k in range(2):
            near = (((xx - moved[i, k, 0]) ** 2 + (yy - moved[i, k, 1]) ** 2) < 36).float() * warped[i, 0]
            centroid = torch.stack([(near * xx).sum(), (near * yy).sum()]) / near.sum()
            assert torch.allclose(centroid, moved[i, k], atol=0.05)
    assert sorted(MIRROR_ORDER) == list(range(68)) and all(MIRROR_ORDER[MIRROR_ORDER[i]] == i for i in range(68))
    assert (MIRROR_ORDER[0], MIRROR_ORDER[36], MIRROR_ORDER[48], MIRROR_ORDER[30]) == (16, 45, 54, 30)


def test_soft_argmax_coordinates() -> None:
    """A one-hot heatmap cell maps to its centre in input pixels, rescaled for other frame sizes;
    an even split between two cells lands half way."""
    import torch

    from lstmgan.generate.evalnets import soft_argmax

    logits = torch.full((1, 2, 16, 16), -1e4)
    logits[0, 0, 3, 5] = 0.0  # row 3, column 5 of stride-4 cells -> x = 5 * 4 + 1.5, y = 3 * 4 + 1.5
    logits[0, 1, 7, 2] = logits[0, 1, 7, 3] = 0.0
    pts = soft_argmax(logits, 4, 64)
    assert torch.allclose(pts[0], torch.tensor([[21.5, 13.5], [11.5, 29.5]]))
    big = soft_argmax(logits, 4, 128)  # pixel centres: (p + 0.5) * 2 - 0.5
    assert torch.allclose(big[0, 0], torch.tensor([43.5, 27.5]))


def test_evalnets_cli_trains_saves_and_reuses(tmp_path, capsys) -> None:
    from pathlib import Path

    from lstmgan.cli import main
    from lstmgan.data.synth import synthesize

    synthesize(tmp_path / "faces", identities=6, videos_per_identity=2, frames=8, size=64, val_identities=1,
               test_identities=1, seed=0, write_videos=False)
    params = str(Path(__file__).resolve().parents[1] / "params.yaml")
    args = ["evalnets", "--params", params, "--set", f"data.out={tmp_path / 'faces'}",
            "--set", f"generate.evalnets_out={tmp_path / 'evalnets'}",
            "--set", f"generate.evalnet_metrics={tmp_path / 'metrics' / 'evalnets.json'}",
            "--set", "generate.evalnet_steps=6", "--set", "generate.evalnet_batch=8", "--set", "generate.device=cpu"]
    assert main(args) == 0
    metrics = json.loads((tmp_path / "metrics" / "evalnets.json").read_text())
    assert metrics["landmark_source"] == "landmark_net" and metrics["identity_source"] == "identity_net"
    assert metrics["landmark_train_steps"] == 6 and metrics["identity_train_steps"] == 6
    assert 0 < metrics["landmark_test_mae_px"] < 64 and "landmark_train_seconds" not in metrics
    assert metrics["identity_test_verification_accuracy"] is None  # one test identity: no pairs
    for name in ("landmarks.pt", "identity.pt", "evalnets.json"):
        assert (tmp_path / "evalnets" / name).is_file()
    timing = json.loads((tmp_path / "metrics" / "evalnets_time.json").read_text())
    assert timing["stage_seconds"] >= 0 and timing["landmark_train_seconds"] >= 0
    weights = (tmp_path / "evalnets" / "landmarks.pt").stat().st_mtime_ns
    assert main(args) == 0  # same data and params: loaded, not retrained
    assert (tmp_path / "evalnets" / "landmarks.pt").stat().st_mtime_ns == weights
    assert json.loads((tmp_path / "metrics" / "evalnets.json").read_text()) == metrics
    assert main([*args, "--force"]) == 0
    assert (tmp_path / "evalnets" / "landmarks.pt").stat().st_mtime_ns != weights
    capsys.readouterr()
    assert main([*args, "--set", f"data.out={tmp_path / 'nothing'}"]) == 2
    assert "no prepared data set" in capsys.readouterr().err


def test_degraded_driving_is_scored_against_the_clean_frames(tmp_path) -> None:
    from lstmgan.config import DegradeParams
    from lstmgan.data.degrade import degrade_store
    from lstmgan.media.store import FaceStore

    _, params, checkpoints = small_setup(tmp_path)
    # a copy with every effect off equals the clean video: every degraded score equals its clean one
    degrade_store(tmp_path / "faces", DegradeParams(noise=[0.0, 0.0], shake_px=0.0, flicker=0.0, blur_exposure=0.0), 0)
    out = E.evaluate_all(params, FaceStore(tmp_path / "faces"), "cpu", checkpoints)
    deg = out["metrics"]["degraded"]
    for method in ("lstm", "none", "copy-source"):
        for metric in ("l1", "akd", "flicker"):
            assert deg["means"][method][metric]["mean"] == pytest.approx(out["metrics"][method][metric], abs=2e-6)
    assert deg["degraded_video"]["l1"] == pytest.approx(0.0, abs=1e-9)
    assert set(deg["comparisons"]) == {"lstm vs none", "lstm vs copy-source", "none vs copy-source"}
    # a noisy copy: the driving video itself is now off the clean one, copying the (clean) source is not
    degrade_store(tmp_path / "faces", DegradeParams(noise=[10.0, 10.0], shake_px=0.0, flicker=0.0, blur_exposure=0.0), 0)
    out = E.evaluate_all(params, FaceStore(tmp_path / "faces"), "cpu", checkpoints)
    deg = out["metrics"]["degraded"]
    assert deg["degraded_video"]["l1"] > 0.01
    assert deg["means"]["copy-source"]["l1"]["mean"] == pytest.approx(out["metrics"]["copy-source"]["l1"], abs=2e-6)
    assert (tmp_path / "reports" / "per_video_degraded.csv").is_file()


def test_a_filtered_method_uses_its_checkpoint_and_the_best_filter_on_validation(tmp_path) -> None:
    from lstmgan.generate.filters import base_method, tune_one_euro
    from lstmgan.models.full_model import load_networks

    assert base_method("none+euro") == "none" and base_method("lstm") == "lstm"
    store, params, checkpoints = small_setup(tmp_path)
    params.generate.kp_filter.min_cutoff, params.generate.kp_filter.beta = [0.5, 8.0], [0.0]
    params.generate.kp_filter.val_videos = 2
    nets, _ = load_networks(checkpoints["none"], "cpu")
    euro, grid = tune_one_euro(nets, store, params)
    assert len(grid) == 2 and {r["driving"] for r in grid} == {"clean"}
    assert euro.min_cutoff == min(grid, key=lambda r: r["val_l1"])["min_cutoff"]
    params.generate.eval_videos, params.generate.cross_pairs = 2, 1
    out = E.evaluate_all(params, store, "cpu", {"none": checkpoints["none"], "none+euro": checkpoints["none"]})
    assert list(out["table"].index)[:2] == ["none", "none+euro"]
    chosen = out["metrics"]["kp_filters"]["none+euro"]
    assert (chosen["min_cutoff"], chosen["beta"]) == (euro.min_cutoff, euro.beta)
    # the filter smooths the keypoints, so the filtered method's keypoints jitter no more than the raw ones
    assert out["metrics"]["none+euro"]["kp_jitter"] <= out["metrics"]["none"]["kp_jitter"] + 1e-9
