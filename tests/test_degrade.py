"""The degraded copy (lstmgan.data.degrade) on inputs with known answers, and its place in the store."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from lstmgan.config import DataParams, DegradeParams, params_from_dict
from lstmgan.data.degrade import (NOISE_REFERENCE, RECORD_KEYS, SHOT_SHARE, degrade_store, degrade_video,
                                  face_velocity, optics, shift_frames, video_rng)
from lstmgan.errors import UserError
from lstmgan.media.store import FaceStore, StoreWriter

OFF = DegradeParams(noise=[0.0, 0.0], shake_px=0.0, flicker=0.0, blur_exposure=0.0)


def only(**kwargs) -> DegradeParams:
    """Every component off except the ones given."""
    return dataclasses.replace(OFF, **kwargs)


def pattern(t: int = 4, size: int = 16, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (t, size, size, 3), dtype=np.uint8)


def moving_landmarks(t: int, velocity: tuple[float, float]) -> np.ndarray:
    """(T, 68, 2) landmarks spread over a face, all moving by ``velocity`` px per frame."""
    base = np.random.default_rng(3).uniform(4, 12, (68, 2))
    return (base[None] + np.arange(t)[:, None, None] * np.asarray(velocity)[None, None]).astype(np.float32)


# --------------------------------------------------------------------------------------------
# degrade_video: known answers
# --------------------------------------------------------------------------------------------
def test_the_config_nests_degrade_with_the_interface_fields():
    assert isinstance(DataParams().degrade, DegradeParams)
    assert [f.name for f in dataclasses.fields(DegradeParams)] == ["enabled", "noise", "shake_px", "flicker",
                                                                 "blur_exposure"]
    params = params_from_dict({"data": {"degrade": {"shake_px": 1, "noise": [1, 2]}}})
    assert params.data.degrade.shake_px == 1.0 and params.data.degrade.noise == [1.0, 2.0]
    from lstmgan.config import ConfigError

    with pytest.raises(ConfigError, match="data.degrade.flicker"):
        params_from_dict({"data": {"degrade": {"flicker": "lots"}}})
    with pytest.raises(ConfigError, match="unknown key 'data.degrade.jpeg'"):
        params_from_dict({"data": {"degrade": {"jpeg": 1}}})


def test_zero_params_give_the_input_exactly():
    frames = pattern(6)
    out, record = degrade_video(frames, moving_landmarks(6, (2.0, 1.0)), OFF, video_rng(0, "v"))
    np.testing.assert_array_equal(out, frames)
    assert out.dtype == np.uint8 and out is not frames
    assert set(record) == set(RECORD_KEYS)
    assert record["noise_sd"].shape == (6,) and record["shake"].shape == (6, 2)
    assert record["gain"].shape == (6,) and record["blur_px"].shape == (6,)
    np.testing.assert_array_equal(record["shake"], 0)
    np.testing.assert_array_equal(record["gain"], 1)
    np.testing.assert_array_equal(record["blur_px"], 0)


def test_noise_sd_on_a_flat_grey_frame_matches_the_parameter():
    flat = np.full((40, 32, 32, 3), int(NOISE_REFERENCE), np.uint8)
    out, record = degrade_video(flat, None, only(noise=[4.0, 4.0]), video_rng(1, "grey"))
    np.testing.assert_array_equal(record["noise_sd"], 4.0)
    residual = out.astype(np.float64) - NOISE_REFERENCE
    assert abs(residual.mean()) < 0.05
    # rounding to integers adds a variance of 1/12
    assert residual.std() == pytest.approx(np.sqrt(16 + 1 / 12), rel=0.02)
    # the shot-noise share: a darker level is less noisy, as the model says
    dark = np.full((40, 32, 32, 3), 32, np.uint8)
    out, _ = degrade_video(dark, None, only(noise=[4.0, 4.0]), video_rng(1, "dark"))
    expected = 4.0 * np.sqrt((1 - SHOT_SHARE) + SHOT_SHARE * 32 / NOISE_REFERENCE)
    assert (out.astype(np.float64) - 32).std() == pytest.approx(np.sqrt(expected ** 2 + 1 / 12), rel=0.02)


def test_the_noise_sd_is_drawn_per_video_within_the_range():
    sds = [degrade_video(pattern(2, 8), None, only(noise=[2.0, 6.0]), video_rng(0, f"v{i}"))[1]["noise_sd"]
           for i in range(40)]
    assert all(len(set(sd.tolist())) == 1 for sd in sds)  # one value per video
    values = np.array([sd[0] for sd in sds])
    assert values.min() >= 2.0 and values.max() <= 6.0 and values.std() > 0.5


@pytest.mark.parametrize("dx, dy", [(2, 0), (0, -3), (1, 2), (-2, -1)])
def test_an_integer_shift_moves_a_pattern_by_that_many_pixels(dx, dy):
    frames = pattern(1, 16)
    moved = shift_frames(frames, np.array([[dx, dy]], np.float64))
    # content at (x, y) is now at (x + dx, y + dy), exactly; inside the frame
    src = frames[0, max(0, -dy):16 - max(0, dy), max(0, -dx):16 - max(0, dx)]
    dst = moved[0, max(0, dy):16 - max(0, -dy), max(0, dx):16 - max(0, -dx)]
    np.testing.assert_array_equal(dst, src.astype(np.float32))


def test_a_half_pixel_shift_integrates_two_pixels_and_the_border_repeats_the_edge():
    frames = np.zeros((1, 8, 8, 3), np.uint8)
    frames[0, 3, 4] = 200
    moved = shift_frames(frames, np.array([[0.5, 0.0]]))
    np.testing.assert_allclose(moved[0, 3, 3:7, 0], [0, 100, 100, 0])
    edge = np.zeros((1, 4, 4, 3), np.uint8)
    edge[0, :, 0] = 90
    np.testing.assert_allclose(shift_frames(edge, np.array([[1.0, 0.0]]))[0, :, :2, 0], 90)


def test_the_shake_moves_the_clean_frames_by_the_recorded_offset():
    frames = pattern(30, 16)
    out, record = degrade_video(frames, None, only(shake_px=0.4), video_rng(2, "shaky"))
    assert np.abs(record["shake"]).max() > 0
    expected = np.rint(np.clip(shift_frames(frames, record["shake"].astype(np.float64)), 0, 255))
    np.testing.assert_array_equal(out, expected.astype(np.uint8))


def test_the_shake_is_a_smooth_process_with_the_given_sd():
    _, record = degrade_video(np.zeros((4000, 2, 2, 3), np.uint8), None, only(shake_px=0.4), video_rng(0, "long"))
    shake = record["shake"].astype(np.float64)
    assert shake.std(axis=0) == pytest.approx([0.4, 0.4], rel=0.15)
    lag1 = [np.corrcoef(shake[1:, a], shake[:-1, a])[0, 1] for a in (0, 1)]
    assert min(lag1) > 0.6  # correlated from frame to frame: a smooth shake, not white jitter


def test_the_gain_scales_the_brightness():
    flat = np.full((200, 4, 4, 3), 100, np.uint8)
    out, record = degrade_video(flat, None, only(flicker=0.05), video_rng(4, "flicker"))
    np.testing.assert_array_equal(out, np.rint(100 * record["gain"].astype(np.float32))[:, None, None, None]
                                  .repeat(4, 1).repeat(4, 2).repeat(3, 3).astype(np.uint8))
    gain = record["gain"].astype(np.float64)
    assert gain.mean() == pytest.approx(1.0, abs=0.02) and gain.std() == pytest.approx(0.05, rel=0.25)
    assert np.abs(np.diff(gain)).mean() > 0.02  # it flickers from frame to frame


def test_blur_is_zero_for_still_landmarks_and_exposure_times_speed_for_constant_motion():
    still = np.repeat(moving_landmarks(1, (0, 0)), 8, axis=0)
    frames = pattern(8, 16)
    out, record = degrade_video(frames, still, only(blur_exposure=0.5), video_rng(0, "still"))
    np.testing.assert_array_equal(record["blur_px"], 0)
    np.testing.assert_array_equal(out, frames)
    _, record = degrade_video(frames, moving_landmarks(8, (3.0, 4.0)), only(blur_exposure=0.5), video_rng(0, "moving"))
    np.testing.assert_allclose(record["blur_px"], 0.5 * 5.0, rtol=1e-6)  # speed 5 px/frame
    assert face_velocity(None, 5).shape == (5, 2) and not face_velocity(None, 5).any()
    nan = np.full((5, 68, 2), np.nan, np.float32)
    assert not face_velocity(nan, 5).any()


def test_blur_smears_along_the_motion_direction_only():
    frames = np.zeros((3, 21, 21, 3), np.uint8)
    frames[:, 10, 10] = 240  # a bright dot
    out = optics(frames, np.zeros((3, 2)), np.tile([4.0, 0.0], (3, 1)))  # 4 px to the right
    row, column = out[1, 10, :, 0], out[1, :, 10, 0]
    assert row.sum() == pytest.approx(240, rel=1e-4)  # energy kept, spread along x
    assert np.count_nonzero(row > 1) >= 4 and row.max() < 100
    np.testing.assert_allclose(np.delete(column, 10), 0, atol=1e-4)  # nothing along y
    centre = (row * np.arange(21)).sum() / row.sum()
    assert centre == pytest.approx(10.0, abs=1e-4)  # the exposure is centred on the frame time


def test_same_seed_same_degradation_and_others_do_not_matter():
    frames, lm = pattern(6), moving_landmarks(6, (1.0, 0.5))
    a = degrade_video(frames, lm, DegradeParams(), video_rng(7, "id001_v00"))
    b = degrade_video(frames, lm, DegradeParams(), video_rng(7, "id001_v00"))
    np.testing.assert_array_equal(a[0], b[0])
    c = degrade_video(frames, lm, DegradeParams(), video_rng(8, "id001_v00"))
    d = degrade_video(frames, lm, DegradeParams(), video_rng(7, "id002_v00"))
    assert not np.array_equal(a[0], c[0]) and not np.array_equal(a[0], d[0])
    # turning the shake off leaves the noise and gain draws as they were
    e = degrade_video(frames, None, dataclasses.replace(DegradeParams(), shake_px=0.0), video_rng(7, "id001_v00"))
    np.testing.assert_array_equal(e[1]["gain"], a[1]["gain"])
    np.testing.assert_array_equal(e[1]["noise_sd"], a[1]["noise_sd"])


@pytest.mark.parametrize("bad, key", [({"noise": [5.0, 1.0]}, "data.degrade.noise"),
                                      ({"noise": [1.0]}, "data.degrade.noise"),
                                      ({"shake_px": -1.0}, "data.degrade.shake_px")])
def test_bad_settings_name_the_key(bad, key):
    with pytest.raises(UserError, match=key):
        degrade_video(pattern(2, 8), None, dataclasses.replace(DegradeParams(), **bad), video_rng(0, "v"))


# --------------------------------------------------------------------------------------------
# the store
# --------------------------------------------------------------------------------------------
def tiny_store(root, videos=(("a_v0", "a", "train", 5), ("b_v0", "b", "test", 4), ("c_v0", "c", "test", 3)),
               landmarks: bool = True):
    with StoreWriter(root, size=16, fps=25, kind="test", write_videos=False) as writer:
        for k, (vid, ident, split, t) in enumerate(videos):
            writer.add_video(vid, ident, split, pattern(t, 16, seed=k),
                             landmarks=moving_landmarks(t, (0.5 * k, 1.0)) if landmarks else None)
    return root


def test_store_round_trip(tmp_path):
    root = tiny_store(tmp_path / "faces")
    clean = {r.video_id: np.array(FaceStore(root).frames(r.video_id)) for r in FaceStore(root)}
    assert not FaceStore(root).has_degraded
    degrade_store(root, DegradeParams(), seed=3)
    store = FaceStore(root)
    assert store.has_degraded and (root / "cache" / "degraded.npy").is_file()
    assert store.all_degraded.shape == store.all_frames.shape and store.all_degraded.dtype == np.uint8
    assert isinstance(store.all_degraded, np.memmap)
    for r in store:
        deg = store.degraded(r.video_id)
        assert deg.shape == (r.frames, 16, 16, 3) and deg.dtype == np.uint8
        np.testing.assert_array_equal(store.frames(r.video_id), clean[r.video_id])  # ground truth unchanged
        assert not np.array_equal(deg, clean[r.video_id])
        rec = store.degradation(r.video_id)
        assert set(rec) == set(RECORD_KEYS)
        assert rec["noise_sd"].shape == (r.frames,) and rec["shake"].shape == (r.frames, 2)
        assert rec["gain"].shape == (r.frames,) and rec["blur_px"].shape == (r.frames,)
        # the same as degrading the video alone
        alone, _ = degrade_video(clean[r.video_id], store.landmarks(r.video_id), DegradeParams(),
                                 video_rng(3, r.video_id))
        np.testing.assert_array_equal(deg, alone)
    assert store.meta["degrade"] == {**dataclasses.asdict(DegradeParams()), "seed": 3}
    assert store.meta["videos"] == 3  # the rest of dataset.json kept


def test_a_video_is_degraded_the_same_whatever_else_the_store_holds(tmp_path):
    both = tiny_store(tmp_path / "both")
    alone = tiny_store(tmp_path / "alone", videos=(("b_v0", "b", "test", 4),))
    for root in (both, alone):
        degrade_store(root, DegradeParams(), seed=1)
    # b_v0 has other frames in the two stores (seed 1 vs seed 0 of pattern): compare the record
    np.testing.assert_array_equal(FaceStore(both).degradation("b_v0")["shake"],
                                  FaceStore(alone).degradation("b_v0")["shake"])
    np.testing.assert_array_equal(FaceStore(both).degradation("b_v0")["noise_sd"],
                                  FaceStore(alone).degradation("b_v0")["noise_sd"])
    again = tiny_store(tmp_path / "again")
    degrade_store(again, DegradeParams(), seed=1)
    assert (both / "cache" / "degraded.npy").read_bytes() == (again / "cache" / "degraded.npy").read_bytes()
    assert (both / "cache" / "degradation.npz").read_bytes() == (again / "cache" / "degradation.npz").read_bytes()


def test_real_data_without_landmarks_gets_no_blur(tmp_path):
    root = tiny_store(tmp_path / "faces", landmarks=False)
    degrade_store(root, DegradeParams(blur_exposure=5.0), seed=0)
    store = FaceStore(root)
    assert all(not store.degradation(r.video_id)["blur_px"].any() for r in store)


def test_a_store_without_the_copy_says_how_to_make_it(tmp_path):
    store = FaceStore(tiny_store(tmp_path / "faces"))
    assert not store.has_degraded
    for call in (lambda: store.degraded("a_v0"), lambda: store.degradation("a_v0"), lambda: store.all_degraded):
        with pytest.raises(UserError, match=r"faces: this store has no degraded frames.*"
                                            r"data\.degrade\.enabled: true.*`dvc repro prepare`"):
            call()


def test_prepare_writes_the_copy_when_enabled_and_not_otherwise(tmp_path):
    from lstmgan.data.prepare import prepare

    tiny = {"identities": 3, "val_identities": 1, "test_identities": 1, "videos_per_identity": 1,
            "frames": 5, "size": 64, "crf": []}
    root = prepare(params_from_dict({"seed": 2, "data": tiny}), out=tmp_path / "on")
    store = FaceStore(root)
    assert store.has_degraded and store.all_degraded.shape == store.all_frames.shape
    assert store.meta["degrade"]["seed"] == 2 and store.meta["kind"] == "synth"
    assert np.isfinite(store.landmarks(store.records[0].video_id)).all()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folder left
    off = prepare(params_from_dict({"seed": 2, "data": {**tiny, "degrade": {"enabled": False}}}), out=tmp_path / "off")
    assert not FaceStore(off).has_degraded and "degrade" not in json.loads((off / "dataset.json").read_text())
    np.testing.assert_array_equal(FaceStore(off).all_frames, store.all_frames)  # the clean frames do not change

    # the measured statistics of the test split, beside the motion statistics
    from lstmgan.data.stats import degradation_statistics, motion_statistics, write_data_metrics

    stats = write_data_metrics(store, tmp_path / "data.json")
    motion = motion_statistics(store)
    assert {k: stats[k] for k in motion} == motion  # the motion keys unchanged
    deg = degradation_statistics(store)
    assert set(deg) == {"degrade_noise_sd", "degrade_shake_px", "degrade_shake_step_px", "degrade_gain_sd",
                        "degrade_blur_px_mean", "degrade_blur_px_p95", "degrade_psnr_db"}
    assert 2.0 <= deg["degrade_noise_sd"] <= 6.0 and 15 < deg["degrade_psnr_db"] < 50
    assert deg["degrade_blur_px_p95"] >= deg["degrade_blur_px_mean"] >= 0
    assert json.loads((tmp_path / "data.json").read_text()) == stats
    assert degradation_statistics(FaceStore(off)) == {}


def test_the_degradation_figure_shows_clean_over_degraded_with_a_zoom(tmp_path):
    pytest.importorskip("matplotlib")
    from lstmgan.data import figures

    frames = pattern(10, 32)
    out, record = degrade_video(frames, moving_landmarks(10, (1.0, 0.0)), DegradeParams(), video_rng(0, "v"))
    record["blur_px"][6] = 9.0  # the frame with the longest blur is among the picks and zoomed
    picks = figures.degradation_picks(record["blur_px"], 4)
    assert 6 in picks and len(picks) == 4
    fig = figures.degradation_figure(frames, out, record, title="v", count=4, path=tmp_path / "d.png")
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 10  # 4 frames x (clean, degraded) + the zoom pair
    assert shown[-1].images[0].get_array().shape[:2] == (8, 8)  # a quarter of the frame
    assert "zoom, frame 6" in [ax.get_title() for ax in shown]
    assert (tmp_path / "d.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
