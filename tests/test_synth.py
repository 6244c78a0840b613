"""The embedded procedural talking faces: determinism, ground truth on the drawn features, splits."""
import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lstmgan.data import synth as S
from lstmgan.media.store import FaceStore
from lstmgan.errors import UserError

SMALL = dict(identities=3, videos_per_identity=2, frames=6, size=64, fps=25, val_identities=1,
             test_identities=1)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _plain_identity(seed=0, **changes) -> S.Identity:
    """An identity without hair, beard, moustache or glasses (nothing covers the face's features)."""
    ident = S.sample_identity(S.identity_rng(seed, 0))
    base = dict(hair_style="bald", beard=False, moustache=False, glasses=False)
    return dataclasses.replace(ident, **{**base, **changes})


def _still(t=1, mouth=0.0, smile=0.0, eye=1.0, brow=0.3, gaze=(0.0, 0.0), yaw=0.0, pitch=0.0, roll=0.0):
    pose = np.tile(np.array([0, 0, 1.0, roll, yaw, pitch], np.float32), (t, 1))
    expr = np.tile(np.array([mouth, smile, eye, brow, *gaze], np.float32), (t, 1))
    return S.Motion(pose=pose, expression=expr)


def _at(frame: np.ndarray, xy) -> np.ndarray:
    x, y = int(round(float(xy[0]))), int(round(float(xy[1])))
    return frame[y, x].astype(float)


def test_same_seed_gives_identical_files_and_another_seed_other_faces(tmp_path):
    a = S.synthesize(tmp_path / "a", seed=7, **SMALL)
    b = S.synthesize(tmp_path / "b", seed=7, **SMALL)
    c = S.synthesize(tmp_path / "c", seed=8, **SMALL)
    fa, fb, fc = _files(a), _files(b), _files(c)
    assert "raw/train/id000_v01.mp4" in fa and "cache/frames.npy" in fa
    assert fa.keys() == fb.keys()
    assert [k for k in fa if fa[k] != fb[k]] == []
    frames_a = np.load(a / "cache/frames.npy")
    frames_c = np.load(c / "cache/frames.npy")
    assert np.abs(frames_a.astype(int) - frames_c).mean() > 10  # other people, not a small shift
    assert fa["identities.json"] != fc["identities.json"]


def test_store_contents_and_identity_disjoint_splits(tmp_path):
    root = S.synthesize(tmp_path / "faces", identities=6, videos_per_identity=2, frames=5, size=64,
                        val_identities=2, test_identities=1, seed=1, write_videos=False)
    store = FaceStore(root)
    assert len(store) == 12 and store.meta["kind"] == "synth"
    ids = {s: set(store.identities(s)) for s in ("train", "val", "test")}
    assert [len(ids[s]) for s in ("train", "val", "test")] == [3, 2, 1]
    assert not (ids["train"] & ids["val"] or ids["train"] & ids["test"] or ids["val"] & ids["test"])
    assert {r.video_id for r in store} >= {"id000_v00", "id005_v01"}
    assert store.extra_names == ["expression", "pose"]
    assert store.extra("pose", "id001_v00").shape == (5, 6)
    lm = store.landmarks("id002_v01")
    assert lm.shape == (5, 68, 2) and np.isfinite(lm).all()
    boxes = store.boxes("id002_v01")
    # every landmark inside the face box, the box inside the frame
    assert (lm[..., 0] >= boxes[:, None, 0] - 0.5).all() and (lm[..., 0] <= boxes[:, None, 2] + 0.5).all()
    assert (lm[..., 1] >= boxes[:, None, 1] - 0.5).all() and (lm[..., 1] <= boxes[:, None, 3] + 0.5).all()
    assert (boxes >= 0).all() and (boxes <= 64).all()


def test_identities_look_different():
    firsts = []
    for k in range(6):
        ident = S.sample_identity(S.identity_rng(0, k))
        frames, *_ = S.render_video(ident, _still(), 64)
        firsts.append(frames[0].astype(float))
    diffs = [np.abs(firsts[i] - firsts[j]).mean() for i in range(6) for j in range(i + 1, 6)]
    assert min(diffs) > 8


@pytest.mark.parametrize("size", [64, 256])
def test_renders_any_size_with_landmarks_in_frame(size):
    ident = S.sample_identity(S.identity_rng(3, 2))
    motion = S.sample_motion(S.motion_rng(3, 2, 0), 10)
    frames, lm, boxes, extra = S.render_video(ident, motion, size)
    assert frames.shape == (10, size, size, 3) and frames.dtype == np.uint8
    assert lm.shape == (10, 68, 2) and lm.dtype == np.float32
    assert (lm > 0).all() and (lm < size - 1).all()
    assert extra["pose"].shape == (10, 6) and extra["expression"].shape == (10, 6)
    # the drawing scales with the frame: landmarks at 256 px are 4x those at 64 px (same pixel grid rule)
    if size == 256:
        _, lm64, _, _ = S.render_video(ident, motion, 64)
        np.testing.assert_allclose((lm + 0.5) / 4 - 0.5, lm64, atol=1e-3)


def test_bad_sizes_and_splits_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="size"):
        S.render_video(S.sample_identity(S.identity_rng(0, 0)), _still(), 8)
    with pytest.raises(UserError, match="val_identities"):
        S.synthesize(tmp_path / "x", identities=3, val_identities=2, test_identities=1)
    assert not (tmp_path / "x").exists()


def test_mouth_landmarks_open_with_the_mouth_and_the_pixels_follow():
    ident = _plain_identity(skin=np.array([0.9, 0.72, 0.6], np.float32), lips=np.array([0.7, 0.25, 0.3], np.float32))
    size = 256
    closed, lm_c, _, _ = S.render_video(ident, _still(mouth=0.0), size)
    opened, lm_o, _, _ = S.render_video(ident, _still(mouth=1.0), size)
    gap_closed = np.linalg.norm(lm_c[0, 66] - lm_c[0, 62])
    gap_open = np.linalg.norm(lm_o[0, 66] - lm_o[0, 62])
    assert gap_closed < 0.5 and gap_open > 8
    assert np.linalg.norm(lm_o[0, 57] - lm_o[0, 51]) > np.linalg.norm(lm_c[0, 57] - lm_c[0, 51]) + 8
    # the upper lip and the corners stay put; the jaw drops the lower lip
    assert np.linalg.norm(lm_o[0, 48] - lm_c[0, 48]) < 1
    width = np.linalg.norm(lm_o[0, 54] - lm_o[0, 48])
    assert gap_open > 0.5 * width  # fully open: the inner gap is over half the mouth's width
    lip_drop, chin_drop = lm_o[0, 57, 1] - lm_c[0, 57, 1], lm_o[0, 8, 1] - lm_c[0, 8, 1]
    assert chin_drop > 0.8 * lip_drop > 0  # the chin drops with the jaw, about as far as the lower lip
    assert abs(lm_o[0, 0, 1] - lm_c[0, 0, 1]) < 0.01  # the jaw's hinge does not move
    centre = (lm_o[0, 62] + lm_o[0, 66]) / 2
    inside_open = _at(opened[0], centre)
    inside_closed = _at(closed[0], centre)
    # the open mouth is the dark mouth cavity (0.28, 0.06, 0.07), the closed one the lips
    np.testing.assert_allclose(inside_open, np.array([0.28, 0.06, 0.07]) * 255, atol=25)
    assert np.abs(inside_open - inside_closed).sum() > 60
    # the outer lip landmarks lie on the lips: their colour is the lip colour, not the skin
    for outer, inner in ((50, 61), (52, 63), (57, 66)):
        px = _at(opened[0], (lm_o[0, outer] + lm_o[0, inner]) / 2)
        assert np.abs(px - ident.lips * 255).sum() < np.abs(px - ident.skin * 255).sum(), (outer, px)


def test_eye_landmarks_bound_the_drawn_eye_and_blinks_close_it():
    ident = _plain_identity(skin=np.array([0.8, 0.55, 0.4], np.float32))
    size = 256
    open_f, lm, boxes, _ = S.render_video(ident, _still(eye=1.0), size)
    shut_f, lm_s, _, _ = S.render_video(ident, _still(eye=0.0), size)
    for first in (36, 42):
        eye = lm[0, first:first + 6]
        x0, y0, x1, y1 = boxes[0]
        assert (eye[:, 0] > x0).all() and (eye[:, 0] < x1).all() and (eye[:, 1] > y0).all() and (eye[:, 1] < y1).all()
        # between the upper and lower lid landmarks: eye white or iris, not skin
        for up, low in ((1, 5), (2, 4)):
            px = _at(open_f[0], (eye[up] + eye[low]) / 2)
            assert np.abs(px - ident.skin * 255).sum() > 60, (first, px)
        lids_open = np.linalg.norm(eye[1] - eye[5])
        lids_shut = np.linalg.norm(lm_s[0, first + 1] - lm_s[0, first + 5])
        assert lids_open > 6 and lids_shut < 0.5
        # with the eye shut no white is left inside the eye's box
        ex0, ey0 = lm_s[0, first:first + 6].min(0).astype(int)
        ex1, ey1 = lm_s[0, first:first + 6].max(0).astype(int) + 1
        region = shut_f[0, ey0 - 2:ey1 + 3, ex0:ex1].astype(int)
        assert (region.min(-1) > 215).sum() == 0
        assert (open_f[0, int(eye[:, 1].min()):int(eye[:, 1].max()) + 1, ex0:ex1].min(-1) > 215).sum() > 5


def test_brow_and_jaw_landmarks_lie_on_their_features():
    green = np.array([0.1, 0.8, 0.2], np.float32)
    ident = _plain_identity(skin=green, brow_color=np.array([0.05, 0.05, 0.6], np.float32),
                            brow_thickness=0.2)
    size = 256
    blue = np.zeros((size, size, 3), np.float32) + np.array([0.9, 0.1, 0.9], np.float32)
    frames, lm, _, _ = S.render_video(ident, _still(), size, background=blue)
    f = frames[0].astype(float)
    for k in range(17, 27):  # brow landmarks: the brow's blue, not the face's green
        px = _at(f, lm[0, k])
        assert px[2] > px[1] + 60, (k, px)
    opened, lm_o, _, _ = S.render_video(ident, _still(mouth=1.0), size, background=blue)
    for img, pts in ((f, lm[0]), (opened[0].astype(float), lm_o[0])):  # closed, and the jaw dropped
        centre = pts[30]
        for k in (2, 3, 4, 5, 11, 12, 13, 14):  # jaw: skin just inside, background just outside
            out = np.array([np.sign(pts[k, 0] - centre[0]), 0.0])
            inside, outside = _at(img, pts[k] - 3 * out), _at(img, pts[k] + 3 * out)
            assert inside[1] > inside[0] + 40 and inside[1] > inside[2] + 40, (k, inside)
            assert outside[0] > outside[1] + 60, (k, outside)


def test_yaw_moves_the_nose_more_than_the_face_outline():
    ident = _plain_identity()
    _, front, _, _ = S.render_video(ident, _still(yaw=0.0), 128)
    _, turned, _, _ = S.render_video(ident, _still(yaw=0.4), 128)
    nose_shift = turned[0, 30, 0] - front[0, 30, 0]
    outline_mid = lambda lm: (lm[0, 0, 0] + lm[0, 16, 0]) / 2  # noqa: E731
    assert abs(nose_shift) > 4 + abs(outline_mid(turned) - outline_mid(front))
    # foreshortening: the turned face is narrower
    width = lambda lm: lm[0, 16, 0] - lm[0, 0, 0]  # noqa: E731
    assert width(turned) < width(front) * np.cos(0.4) + 0.5


def test_motion_is_smooth_and_differs_between_videos():
    ident = S.sample_identity(S.identity_rng(0, 1))
    lms = []
    for video in range(3):
        motion = S.sample_motion(S.motion_rng(0, 1, video), 48)
        _, lm, boxes, _ = S.render_video(ident, motion, 64)
        step = np.linalg.norm(np.diff(lm, axis=0), axis=-1)
        assert step.max() < 0.05 * 64  # no jumps: under 3.2 px per frame at 64 px
        assert np.abs(np.diff(boxes, axis=0)).max() < 0.05 * 64
        lms.append(lm)
        expr = motion.expression
        assert expr[:, 0].max() - expr[:, 0].min() > 0.3  # the mouth moves (speech)
    assert np.abs(lms[0] - lms[1]).mean() > 0.5 and np.abs(lms[1] - lms[2]).mean() > 0.5


def test_blinks_happen_in_long_videos():
    closed = 0
    for video in range(4):
        eye = S.sample_motion(S.motion_rng(0, 0, video), 250).expression[:, 2]
        closed += int((eye < 0.3).any())
    assert closed >= 3


def test_cli_synth(tmp_path):
    out = tmp_path / "cli"
    proc = subprocess.run([sys.executable, "-m", "lstmgan", "synth", "--out", str(out), "--identities", "3",
                           "--videos-per-identity", "1", "--frames", "4", "--val-identities", "1",
                           "--test-identities", "1", "--seed", "2", "--no-videos",
                           "--params", str(tmp_path / "none.yaml")],
                          capture_output=True, text=True, cwd=Path(__file__).parents[1])
    assert proc.returncode == 0, proc.stderr
    store = FaceStore(out)
    assert len(store) == 3 and store.size == 64 and store.meta["params"]["seed"] == 2
    helped = subprocess.run([sys.executable, "-m", "lstmgan", "synth", "--help"], capture_output=True,
                            text=True, cwd=Path(__file__).parents[1])
    assert "Example" in helped.stdout and "--videos-per-identity" in helped.stdout


# --------------------------------------------------------------------------------------------
# The expressive benchmark (data.motion: expressive) and the motion statistics
# --------------------------------------------------------------------------------------------
def test_motion_statistics_of_a_known_video():
    from lstmgan.data.stats import blinks, video_motion

    lm = np.zeros((5, 68, 2), np.float32)
    lm[:, :, 0] = np.arange(5)[:, None]  # every landmark 1 px further right each frame
    frames = np.zeros((5, 4, 4, 3), np.uint8)
    frames[1:] = 51  # 0.2 in [0, 1] from the second frame on
    row = video_motion(lm, frames)
    assert row["mean_displacement_px"] == pytest.approx(2.0)  # mean of 0, 1, 2, 3, 4
    assert row["median_step_px"] == pytest.approx(1.0)
    assert row["copy_l1"] == pytest.approx(0.2 * 4 / 5)
    assert row["mouth_gap_max_iod"] == 0 and row["mouth_gap_max_px"] == 0  # every lip on one spot: shut
    assert blinks(np.array([1.0, 0.1, 1.0, 1.0, 0.05, 0.0, 1.0])) == 2 and blinks(np.ones(4)) == 0


def test_expressive_motion_meets_the_benchmark_targets(tmp_path):
    """Test split from the ground truth: landmarks >= 2.5 px from the first frame on average, a
    median frame-to-frame change >= 0.2 px and a copy-the-source L1 >= 0.04 at 64 px; head turns of
    about 40 degrees; full mouth openings (inner-lip gap over 0.3 of the inter-ocular distance) and
    blinks; the calm default stays far below."""
    from lstmgan.data.stats import motion_statistics
    from lstmgan.media.store import open_store

    stats = {}
    for style in ("calm", "expressive"):
        out = S.synthesize(tmp_path / style, identities=12, videos_per_identity=2, frames=48, size=64,
                           val_identities=2, test_identities=8, write_videos=False, motion=style)
        stats[style] = motion_statistics(open_store(out), "test")
    e, c = stats["expressive"], stats["calm"]
    assert e["motion"] == "expressive" and c["motion"] == "calm" and e["videos"] == 16
    assert e["mean_displacement_px"] >= 2.5 and e["median_step_px"] >= 0.2 and e["copy_l1"] >= 0.04, e
    assert e["yaw_range_deg"] >= 30 and e["mouth_open_max"] >= 0.95 and e["blinks_per_second"] > 0.4, e
    assert e["mouth_gap_max_iod"] >= 0.3 and e["mouth_gap_p90_iod"] >= 0.2, e  # the mouth opens wide, often
    assert c["mean_displacement_px"] < 0.6 * e["mean_displacement_px"] and c["copy_l1"] < 0.6 * e["copy_l1"]


@pytest.mark.parametrize("video", range(6))
def test_expressive_motion_stays_drawable_with_landmarks_on_the_face(video):
    """At the new extremes the pose stays inside the renderer's range, the face inside the frame and
    smooth apart from the one fast turn, and the mouth and eye landmarks follow the expression."""
    ident = S.sample_identity(S.identity_rng(0, video))
    motion = S.sample_motion(S.motion_rng(0, video, 0), 48, style="expressive")
    yaw, pitch, roll = motion.pose[:, 4], motion.pose[:, 5], motion.pose[:, 3]
    assert np.abs(yaw).max() <= S.MAX_YAW + 1e-6 and np.abs(pitch).max() <= S.MAX_PITCH + 1e-6
    assert np.abs(roll).max() <= S.MAX_ROLL + 1e-6
    frames, lm, boxes, extra = S.render_video(ident, motion, 64)
    assert (lm > 0).all() and (lm < 63).all()
    assert np.linalg.norm(np.diff(lm, axis=0), axis=-1).max() < 0.08 * 64  # a fast turn, not a jump
    mouth_gap = lm[:, 66, 1] - lm[:, 62, 1]  # inner lips: lower minus upper
    opening = motion.expression[:, 0]
    assert np.corrcoef(mouth_gap, opening)[0, 1] > 0.9
    lid_gap = lm[:, 41, 1] - lm[:, 37, 1]  # left eye: lower minus upper lid
    assert np.corrcoef(lid_gap, motion.expression[:, 2])[0, 1] > 0.8


def test_an_unknown_motion_style_is_a_user_error():
    with pytest.raises(UserError, match="data.motion"):
        S.sample_motion(S.motion_rng(0, 0, 0), 8, style="wild")
