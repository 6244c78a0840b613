"""dlib's real face models on scikit-image's astronaut photo: box, 68 iBUG landmarks, identity
embedding; ``auto`` choosing dlib; ingestion writing its landmarks; evaluation's AKD and AED on an
ingested real-face store."""
from __future__ import annotations

import logging
import math

import numpy as np
import pytest
from PIL import Image
from skimage import data

from lstmgan.face.dlib_models import dlib_unavailable

REASON = dlib_unavailable()
pytestmark = pytest.mark.skipif(REASON is not None, reason=f"dlib face models not installed: {REASON}")

PHOTO = data.astronaut()  # 512 x 512, one real frontal face in the upper middle
# Where the face is in PHOTO (x0, y0, x1, y1), by eye: brows to chin, ear to ear.
FACE_REGION = np.array([170, 70, 275, 180], float)


@pytest.fixture(scope="module")
def face():
    """dlib's box and 68 landmarks on the photo."""
    from lstmgan.face.dlib_models import DlibDetector

    detector = DlibDetector()
    boxes = detector.detect(PHOTO)
    assert boxes.shape == (1, 5), boxes  # one face; the weak false hit on the suit is filtered out
    return detector, boxes[0], detector.landmarks(PHOTO, boxes[0])


def _check_ibug_order(points: np.ndarray) -> None:
    """Landmarks in the iBUG 300-W order on an upright frontal face."""
    eyes_y = points[36:48, 1].mean()
    mouth_y = points[48:68, 1].mean()
    assert eyes_y < points[30, 1] < mouth_y  # nose tip (30) between the eyes and the mouth
    assert points[17:27, 1].mean() < eyes_y  # brows above the eyes
    assert points[36:42, 0].mean() < points[27:36, 0].mean() < points[42:48, 0].mean()  # eye, nose, eye
    assert points[0, 0] < points[8, 0] < points[16, 0]  # jaw runs from one ear over the chin to the other
    assert points[8, 1] == points[0:17, 1].max()  # chin (8) is the lowest jaw point
    assert points[48, 0] < points[51, 0] < points[54, 0]  # mouth corners around the upper lip's middle


def test_box_around_the_astronaut_face(face) -> None:
    from lstmgan.face.detection import iou

    _, box, _ = face
    assert box[4] > 0.5  # detection score
    assert iou(box, FACE_REGION) > 0.5
    assert 70 < box[2] - box[0] < 130


def test_68_landmarks_inside_the_box_in_ibug_order(face) -> None:
    _, box, points = face
    assert points.shape == (68, 2) and np.isfinite(points).all()
    w, h = box[2] - box[0], box[3] - box[1]
    margin = np.array([0.15 * w, 0.15 * h])  # jaw and chin points may sit just outside dlib's box
    assert (points >= box[:2] - margin).all() and (points <= box[2:4] + margin).all()
    _check_ibug_order(points)


def test_embedding_is_stable_and_separates_another_face(face) -> None:
    """Shifting the photo by a few pixels barely moves the embedding; an embedded drawn face is far."""
    from lstmgan.data.synth import identity_rng, motion_rng, render_video, sample_identity, sample_motion
    from lstmgan.face.dlib_models import DlibCropModels, embedding

    detector, box, _ = face
    e = embedding(PHOTO, box)
    assert e.shape == (128,)
    shifted = np.roll(PHOTO, (5, 3), axis=(0, 1))
    e_shift = embedding(shifted, detector.detect(shifted)[0])
    drawn = render_video(sample_identity(identity_rng(0, 0)), sample_motion(motion_rng(0, 0, 0), 1), 64)[0][0]
    e_drawn = DlibCropModels().embed(drawn[None])[0]
    d_shift, d_drawn = float(np.linalg.norm(e - e_shift)), float(np.linalg.norm(e - e_drawn))
    assert d_shift < 0.15  # dlib: same person below 0.6
    assert d_drawn > 0.6 and d_shift < 0.25 * d_drawn


def test_crop_models_agree_with_full_frame_landmarks(face) -> None:
    """On a 64 px crop cut by the crop rule, DlibCropModels' landmarks (crop enlarged to 256 px, box
    detected there) land where the full-resolution landmarks map to in crop pixels."""
    from lstmgan.face.detection import crop_resize, crop_square, to_crop_coords
    from lstmgan.face.dlib_models import DlibCropModels

    _, box, points = face
    crop = crop_square(box, 512, 512, 1.3)
    small = crop_resize(PHOTO, crop, 64)
    models = DlibCropModels(crop_scale=1.3)
    found = models.landmarks(small[None])[0]
    expected = to_crop_coords(points, crop, 64)
    assert models.detections == 1
    assert np.abs(found - expected).mean() < 1.0  # pixels of the 64 px crop
    _check_ibug_order(found)
    # without detection, the box the crop rule implies is this face's dlib box: about the same
    implied = DlibCropModels(crop_scale=1.3, detect=False).landmarks(small[None])[0]
    assert np.abs(implied - expected).mean() < 1.5


def test_auto_picks_dlib_when_face_alignment_weights_are_absent(tmp_path, monkeypatch, caplog) -> None:
    from lstmgan.face.detection import make_detector

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # an empty hub cache: no face-alignment weights
    with caplog.at_level(logging.INFO, logger="lstmgan.face.detection"):
        detector = make_detector("auto")
    assert detector.name == "dlib" and detector.has_landmarks
    assert "face detector: dlib" in caplog.text and "s3fd-619a316812.pth" in caplog.text
    assert make_detector("dlib").name == "dlib"


# ------------------------------------------------------------------------------------------
# Ingestion and evaluation on a tiny folder of real-face videos
# ------------------------------------------------------------------------------------------
def pan_zoom(t: int, seed: int, out: int = 224) -> np.ndarray:
    """(t, out, out, 3) frames: a window on the photo that pans and zooms in (a real face moving)."""
    frames = []
    for i in range(t):
        side = 400 - 8 * i - 10 * seed
        cx = 230 + 4 * i * (1 if seed % 2 else -1)
        cy = 150 + 2 * i
        x0 = int(np.clip(cx - side // 2, 0, 512 - side))
        y0 = int(np.clip(cy - side // 2, 0, 512 - side))
        window = Image.fromarray(PHOTO).resize((out, out), Image.BILINEAR, box=(x0, y0, x0 + side, y0 + side))
        frames.append(np.asarray(window))
    return np.stack(frames)


@pytest.fixture(scope="module")
def real_store(tmp_path_factory):
    """``lstmgan ingest`` (no detector option) on three people's pan/zoom MP4s -> a 64 px store."""
    from lstmgan.cli import main
    from lstmgan.media.store import FaceStore
    from lstmgan.media.video import write_video

    root = tmp_path_factory.mktemp("real")
    for k, person in enumerate(("ann", "bob", "cid")):
        (root / "src" / person).mkdir(parents=True)
        write_video(root / "src" / person / "talk.mp4", pan_zoom(6, k), fps=25)
    assert main(["ingest", str(root / "src"), "--out", str(root / "store"), "--size", "64",
                 "--params", str(root / "none.yaml")]) == 0  # no params file: built-in defaults (auto)
    return FaceStore(root / "store"), root


def test_ingest_picks_dlib_and_writes_landmarks(real_store) -> None:
    store, _ = real_store
    assert store.meta["detector"] == "dlib"
    assert len(store.records) == 3 and all(r.detector == "dlib" and r.frames == 6 for r in store.records)
    marks = np.asarray(store.all_landmarks)
    assert marks.shape == (18, 68, 2) and np.isfinite(marks).all()
    assert (marks > -3).all() and (marks < 67).all()  # in the 64 px crop (the chin may touch the edge)
    for frame_points in marks:
        _check_ibug_order(frame_points)


def test_evaluate_reports_akd_and_aed_on_real_data(real_store) -> None:
    """`lstmgan evaluate` on the ingested store: AKD by dlib's landmarks, AED by dlib's ResNet."""
    import json

    from test_animate import tiny_checkpoint

    from lstmgan.cli import main

    store, root = real_store
    assert len(store.split("test")) == 1
    ck = root / "gan" / "lstm" / "latest.pt"
    tiny_checkpoint(ck)
    g = "generate."
    sets = [f"data.out={root / 'store'}", f"{g}methods=[lstm]", f"{g}evalnets_out={root / 'evalnets'}",
            f"{g}cross_pairs=0", f"{g}device=cpu"]
    args = ["evaluate", "--checkpoint", f"lstm={ck}", "--out", str(root)]
    for s in sets:
        args += ["--set", s]
    assert main(args) == 0
    metrics = json.loads((root / "metrics.json").read_text())
    assert metrics["evalnets"]["landmark_source"].startswith("dlib shape_predictor_68")
    assert metrics["evalnets"]["identity_source"].startswith("dlib dlib_face_recognition_resnet")
    for method in ("lstm", "copy-source"):
        assert math.isfinite(metrics[method]["akd"]) and math.isfinite(metrics[method]["aed"])
    # copy-source repeats the first frame while the face pans and zooms: its landmarks are off
    assert metrics["copy-source"]["akd"] > 0.5
    # an untrained generator's output is no face at all: further from the real identity than the
    # copied real frame is
    assert metrics["lstm"]["aed"] > metrics["copy-source"]["aed"]


def test_readme_astronaut_command_crops_with_dlib_and_writes_an_mp4(tmp_path) -> None:
    """The README's command: the astronaut PNG animated by an embedded (drawn) driving video."""
    from test_animate import tiny_checkpoint

    from lstmgan.cli import main
    from lstmgan.data.synth import identity_rng, motion_rng, render_video, sample_identity, sample_motion
    from lstmgan.face.detection import crop_resize, crop_square, find_face_track
    from lstmgan.face.dlib_models import DlibDetector
    from lstmgan.media.video import read_video, write_video

    png, drive = tmp_path / "astronaut.png", tmp_path / "id116_v00.mp4"
    Image.fromarray(PHOTO).save(png)
    write_video(drive, render_video(sample_identity(identity_rng(0, 116)), sample_motion(motion_rng(0, 116, 0), 8), 64)[0],
                fps=25, lossless=True)
    ck = tmp_path / "lstm" / "latest.pt"
    tiny_checkpoint(ck)
    out, sbs = tmp_path / "astronaut.mp4", tmp_path / "astronaut_sbs.mp4"
    assert main(["animate", str(png), str(drive), "-o", str(out), "--side-by-side", str(sbs),
                 "--checkpoint", str(ck), "--device", "cpu"]) == 0
    assert read_video(out)[0].shape == (8, 64, 64, 3)
    source = read_video(sbs)[0][0, :, :64].astype(int)  # source | driving | generated
    # the source crop is the crop rule on dlib's face box, found as animate finds it (in the frame
    # reduced to 224 px); H.264 changes pixels a little
    box = find_face_track(iter([PHOTO]), DlibDetector()).boxes[0]
    expected = crop_resize(PHOTO, crop_square(box, 512, 512, 1.3), 64).astype(int)
    whole = np.asarray(Image.fromarray(PHOTO).resize((64, 64), Image.BILINEAR)).astype(int)
    assert np.abs(source - expected).mean() < 8 < np.abs(source - whole).mean()
