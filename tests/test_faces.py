"""Face detection, the 1.3x square crop rule, and boxes followed and smoothed over time."""
import numpy as np
import pytest
from PIL import Image
from skimage import data

from lstmgan.face import detection as faces
from lstmgan.face.detection import (LBPDetector, crop_resize, crop_square, find_face_track, link_tracks,
                                make_detector, smooth_boxes, to_crop_coords, track_boxes)
from lstmgan.errors import UserError

# data.astronaut() is a real face photo shipped with scikit-image. In HEAD (astronaut()[0:256, 96:352])
# the face is about 86 px wide, in the box FACE_IN_HEAD (x0, y0, x1, y1).
HEAD = data.astronaut()[0:256, 96:352]
FACE_IN_HEAD = np.array([78, 68, 170, 160], float)


def face_frame(width=320, height=240, face=60, dx=0, dy=0, background=90):
    """A frame with the astronaut's head pasted so its face is about ``face`` px wide."""
    side = face * 256 // 86
    head = np.asarray(Image.fromarray(HEAD).resize((side, side), Image.BILINEAR))
    frame = np.full((height, width, 3), background, np.uint8)
    x0, y0 = (width - side) // 2 + dx, (height - side) // 2 + dy
    xs, ys, xe, ye = max(0, x0), max(0, y0), min(width, x0 + side), min(height, y0 + side)
    frame[ys:ye, xs:xe] = head[ys - y0:ye - y0, xs - x0:xe - x0]
    return frame


# ---------------------------------------------------------------- crop geometry
def test_crop_is_square_scaled_and_centred():
    box = np.array([100, 80, 140, 130])  # w 40, h 50 -> side 1.3 * 50 = 65
    x0, y0, side = crop_square(box, 320, 240, 1.3)
    assert side == 65
    assert abs((x0 + side / 2) - 120) <= 0.5 and abs((y0 + side / 2) - 105) <= 0.5


@pytest.mark.parametrize("box, expect", [
    ((0, 0, 40, 40), (0, 0, 52)),            # top-left corner: shifted right/down, same side
    ((290, 210, 320, 240), (281, 201, 39)),  # bottom-right corner: shifted left/up
    ((-20, 100, 30, 150), (0, 92, 65)),      # box partly outside the frame
    ((0, 0, 300, 300), (30, 0, 240)),        # larger than the frame: shrunk to the shorter side, centred
])
def test_crop_is_clipped_into_the_frame(box, expect):
    x0, y0, side = crop_square(np.array(box, float), 320, 240, 1.3)
    assert (x0, y0, side) == expect
    assert 0 <= x0 and 0 <= y0 and x0 + side <= 320 and y0 + side <= 240


def test_crop_resize_and_coordinates_agree():
    frame = np.zeros((240, 320, 3), np.uint8)
    frame[100:140, 150:190] = 255  # a white square
    crop = (130, 80, 80)
    out = crop_resize(frame, crop, 40)
    assert out.shape == (40, 40, 3)
    # the white square maps to (150-130, 100-80)*0.5 = (10, 10) .. (30, 30) in the crop
    x0, y0, x1, y1 = to_crop_coords(np.array([[150, 100], [190, 140]]), crop, 40).reshape(4)
    assert (x0, y0, x1, y1) == (10, 10, 30, 30)
    assert out[12:28, 12:28].min() == 255 and out[:8].max() == 0


# ---------------------------------------------------------------- detection
def test_lbp_finds_the_astronaut_face():
    boxes = LBPDetector().detect(face_frame(face=70))
    assert len(boxes) == 1
    x0, y0, x1, y1 = boxes[0, :4]
    side = 70 * 256 // 86  # where face_frame pasted the head, and at what scale
    expected = FACE_IN_HEAD * side / 256 + np.array([(320 - side) // 2, (240 - side) // 2] * 2)
    assert faces.iou(boxes[0], expected) > 0.5
    assert 60 < x1 - x0 < 110


def test_lbp_finds_nothing_in_a_blank_frame():
    assert len(LBPDetector().detect(np.full((240, 320, 3), 90, np.uint8))) == 0


def test_face_alignment_without_weights_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(UserError, match="s3fd-619a316812.pth.*2DFAN4-11f355bf06.pth.tar.*checkpoints"):
        make_detector("face_alignment")
    from lstmgan.face.dlib_models import dlib_unavailable

    # auto passes over face-alignment: to dlib when it is installed (it is in requirements.txt), else LBP
    assert make_detector("auto").name == ("dlib" if dlib_unavailable() is None else "lbp")
    with pytest.raises(UserError, match="unknown face detector"):
        make_detector("haar")


@pytest.mark.slow
def test_face_alignment_loads_from_the_hub_cache_offline(tmp_path, monkeypatch):
    """Random weights saved under face-alignment's file names exercise the real loading path."""
    import torch
    from face_alignment.detection.sfd.net_s3fd import s3fd
    from face_alignment.models import FAN

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    ckpt = tmp_path / "hub" / "checkpoints"
    ckpt.mkdir(parents=True)
    torch.manual_seed(0)
    torch.save(s3fd().state_dict(), ckpt / "s3fd-619a316812.pth")
    torch.save(FAN(4).state_dict(), ckpt / "2DFAN4-11f355bf06.pth.tar")
    assert faces.missing_face_alignment_weights() == []
    detector = make_detector("auto")
    assert detector.name == "face_alignment" and detector.has_landmarks
    image = face_frame(160, 128, face=50)
    boxes = detector.detect(image)
    assert boxes.ndim == 2 and boxes.shape[1] == 5
    marks = detector.landmarks(image, np.array([50, 30, 110, 90, 1.0], np.float32))
    assert marks.shape == (68, 2) and np.isfinite(marks).all()
    # and through ingest: the manifest names the detector, landmarks land in the store
    from lstmgan.data.ingest import ingest
    from lstmgan.media.store import FaceStore
    from lstmgan.media.video import write_video

    (tmp_path / "src" / "me").mkdir(parents=True)
    write_video(tmp_path / "src" / "me" / "v.mp4", np.stack([image] * 2), lossless=True)
    store = FaceStore(ingest(tmp_path / "src", tmp_path / "out", size=32, detector="auto",
                             val_fraction=0, test_fraction=0))
    assert store.meta["detector"] == "face_alignment" and store.records[0].detector == "face_alignment"
    stored = store.landmarks("me__v")
    assert stored.shape == (2, 68, 2) and np.isfinite(stored).all()


# ---------------------------------------------------------------- tracks and smoothing
def test_smoothing_reduces_jitter_and_keeps_the_path():
    rng = np.random.default_rng(0)
    t = np.arange(60)
    true = np.stack([100 + t, 50 + 0 * t, 160 + t, 110 + 0 * t], 1).astype(np.float32)
    noisy = true + rng.normal(0, 3, true.shape).astype(np.float32)
    smooth = smooth_boxes(noisy, sigma=2.0)
    jitter = lambda b: np.abs(np.diff(np.diff(b, axis=0), axis=0)).mean()  # noqa: E731
    assert jitter(smooth) < jitter(noisy) / 4
    assert np.abs(smooth - true)[5:-5].mean() < np.abs(noisy - true)[5:-5].mean() / 2


def test_smoothing_keeps_gaps():
    boxes = np.tile(np.array([[0, 0, 10, 10]], np.float32), (10, 1))
    boxes[4:6] = np.nan
    out = smooth_boxes(boxes, 2.0)
    assert np.isnan(out[4:6]).all() and np.allclose(out[:4], boxes[:4]) and np.allclose(out[6:], boxes[6:])


def test_tracks_follow_faces_and_the_largest_wins():
    small = lambda x: np.array([[x, 0, x + 20, 20, 1]], np.float32)  # noqa: E731
    big = lambda x: np.array([[x, 100, x + 60, 160, 1]], np.float32)  # noqa: E731
    dets = {f: np.concatenate([small(f), big(200 + f)]) for f in (0, 5, 10)}
    tracks = link_tracks(dets)
    assert len(tracks) == 2
    best = max(tracks, key=lambda t: t.weight)
    boxes = track_boxes(best, 11, max_step=5)
    assert np.allclose(boxes[:, 0], 200 + np.arange(11))  # interpolated between detections
    assert np.allclose(boxes[:, 1], 100)


def test_duplicate_boxes_on_one_face_do_not_split_its_track():
    face = lambda x: np.array([[x, 50, x + 60, 110, 1]], np.float32)  # noqa: E731
    dets = {f: faces._dedupe(np.concatenate([face(f), face(f + 3) * [1, 1, 0.95, 0.95, 1]]) if f == 10 else face(f))
            for f in range(0, 30, 5)}
    assert all(len(v) == 1 for v in dets.values())
    tracks = link_tracks(dets)
    assert len(tracks) == 1 and tracks[0].frames == list(range(0, 30, 5))


def test_video_track_follows_the_moving_face_and_skips_blank_frames():
    shifts = [int(round(30 * np.sin(i / 6))) for i in range(30)]
    frames = [face_frame(dx=s) for s in shifts]
    blank = np.full_like(frames[0], 90)
    frames = [blank] * 12 + frames  # no face in the first 12 frames
    result = find_face_track(iter(frames), LBPDetector(), detect_every=4, detect_size=224, smoothing=1.5)
    found = result.found
    assert not found[:12].any() and found[-26:].all()
    centre_x = (result.boxes[found, 0] + result.boxes[found, 2]) / 2
    truth = np.array([0] * 12 + shifts, float)[found] + 160
    offset = np.mean(centre_x - truth)
    assert np.abs(centre_x - truth - offset).max() < 6  # follows the motion within a few pixels
    assert result.detections == len(range(0, 42, 4)) + 1
