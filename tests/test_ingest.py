"""Real-data ingestion: every layout, rejects, splits, bad input, untouched input, atomic output."""
import csv
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data

from lstmgan.cli import main
from lstmgan.face import detection as faces
from lstmgan.data.ingest import assign_splits, detect_layout, discover_ffpp, ingest
from lstmgan.media.store import FaceStore
from lstmgan.media.video import write_gif, write_video
from lstmgan.errors import UserError

HEAD = data.astronaut()[0:256, 96:352]  # a real face photo bundled with scikit-image


def clip(t=8, width=160, height=120, face=44, seed=0, blank=0):
    """A real encoded-video-to-be: the astronaut's head moving; the first ``blank`` frames empty."""
    side = face * 256 // 86
    head = np.asarray(Image.fromarray(HEAD).resize((side, side), Image.BILINEAR))
    frames = []
    for i in range(t):
        frame = np.full((height, width, 3), 80 + 10 * seed, np.uint8)
        if i >= blank:
            x0 = (width - side) // 2 + int(round(6 * np.sin(i / 3 + seed)))
            y0 = (height - side) // 2
            xs, ys, xe, ye = max(0, x0), max(0, y0), min(width, x0 + side), min(height, y0 + side)
            frame[ys:ye, xs:xe] = head[ys - y0:ye - y0, xs - x0:xe - x0]
        frames.append(frame)
    return np.stack(frames)


def truncated(path: Path, source: Path) -> Path:
    """A video cut in half, as an interrupted download leaves it."""
    raw = source.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    return path


def tree_hash(root: Path) -> str:
    digest = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        digest.update(str(p.relative_to(root)).encode())
        if p.is_file():
            digest.update(p.read_bytes())
    return digest.hexdigest()


def rejects(out: Path) -> dict[str, str]:
    with (out / "rejects.csv").open() as fh:
        return {Path(r["path"]).name: r["reason"] for r in csv.DictReader(fh)}


@pytest.fixture(scope="module")
def fomm_src(tmp_path_factory):
    root = tmp_path_factory.mktemp("fomm")
    (root / "train").mkdir()
    (root / "test").mkdir()
    write_video(root / "train" / "id10001#abc#0001.mp4", clip(seed=0))
    write_video(root / "train" / "id10001#abc#0002.mp4", clip(seed=1))
    write_gif(root / "train" / "id10002#xyz.gif", clip(seed=2))
    frames_dir = root / "train" / "id10003#frames"
    frames_dir.mkdir()
    for i, frame in enumerate(clip(seed=3, t=6)):
        Image.fromarray(frame).save(frames_dir / f"{i:04d}.png")
    write_video(root / "test" / "id10004#t.mp4", clip(seed=4, t=10, blank=4))
    truncated(root / "test" / "id10005#cut.mp4", root / "train" / "id10001#abc#0001.mp4")
    (root / "train" / "notes.txt").write_text("not a video; ignored")
    return root


@pytest.fixture(scope="module")
def fomm_out(fomm_src, tmp_path_factory):
    before = tree_hash(fomm_src)
    out = ingest(fomm_src, tmp_path_factory.mktemp("o") / "vox", layout="auto", size=32, detector="lbp",
                 detect_every=3, seed=0)
    assert tree_hash(fomm_src) == before  # the input tree is never modified
    return out


def test_fomm_layout_videos_gifs_and_png_folders(fomm_out):
    store = FaceStore(fomm_out)
    by_id = {r.video_id: r for r in store.records}
    assert set(by_id) == {"id10001_abc_0001", "id10001_abc_0002", "id10002_xyz", "id10003_frames", "id10004_t"}
    assert by_id["id10003_frames"].frames == 6  # a folder of PNGs works
    assert by_id["id10002_xyz"].frames == 8  # a GIF works
    assert by_id["id10001_abc_0001"].identity == "id10001"  # VoxCeleb naming gives the identity
    assert by_id["id10004_t"].split == "test"
    assert {r.split for r in store.records if r.video_id != "id10004_t"} <= {"train", "val"}
    # identity-disjoint: both clips of id10001 share one split
    assert by_id["id10001_abc_0001"].split == by_id["id10001_abc_0002"].split
    assert store.all_frames.shape[1:] == (32, 32, 3)
    meta = json.loads((fomm_out / "dataset.json").read_text())
    assert meta["detector"] == "lbp" and meta["layout"] == "fomm" and meta["kind"] == "fomm"
    assert {r.detector for r in store.records} == {"lbp"}


def test_frames_without_face_are_skipped_and_counted(fomm_out):
    store = FaceStore(fomm_out)
    # 4 blank frames; with detection every 3rd frame the face is first seen at frame 6
    assert 4 <= 10 - store.record("id10004_t").frames <= 6
    meta = json.loads((fomm_out / "dataset.json").read_text())
    assert meta["frames_without_face"] == 10 - store.record("id10004_t").frames


def test_corrupt_video_is_a_reject_not_a_crash(fomm_out):
    reasons = rejects(fomm_out)
    assert set(reasons) == {"id10005#cut.mp4"}
    assert "id10005#cut.mp4" in reasons["id10005#cut.mp4"] and "decode" in reasons["id10005#cut.mp4"]


def test_boxes_are_stored_in_crop_coordinates(fomm_out):
    store = FaceStore(fomm_out)
    boxes = store.boxes("id10001_abc_0001")
    assert np.isfinite(boxes).all()
    side = boxes[:, 2] - boxes[:, 0]
    # the crop is 1.3x the face box (the face is nowhere near a border), so the box is 32 / 1.3 wide
    assert np.allclose(side, 32 / 1.3, atol=0.6)
    assert np.allclose((boxes[:, 0] + boxes[:, 2]) / 2, 16, atol=0.6)
    assert np.isnan(store.landmarks("id10001_abc_0001")).all()  # LBP gives no landmarks
    # the crop is the face: it matches the astronaut's face better than a background crop would
    assert store.frames("id10001_abc_0001").std() > 30


@pytest.fixture(scope="module")
def ffpp_src(tmp_path_factory):
    root = tmp_path_factory.mktemp("ffpp")
    orig = root / "original_sequences" / "youtube" / "c23" / "videos"
    orig.mkdir(parents=True)
    for i, name in enumerate(["000", "001", "002", "003"]):
        write_video(orig / f"{name}.mp4", clip(t=5, seed=i))
    for method in ("Deepfakes", "Face2Face"):
        fake = root / "manipulated_sequences" / method / "c23" / "videos"
        fake.mkdir(parents=True)
        for i, name in enumerate(["000_001", "001_000", "002_003"]):
            write_video(fake / f"{name}.mp4", clip(t=5, seed=i + 4))
    (root / "manipulated_sequences" / "Face2Face" / "c23" / "videos" / "003_002.mp4").write_bytes(b"\0" * 999)
    return root


def test_ffpp_layout_labels_methods_and_official_splits(ffpp_src, tmp_path):
    src = tmp_path / "ffpp"
    import shutil
    shutil.copytree(ffpp_src, src)
    (src / "splits").mkdir()
    (src / "splits" / "train.json").write_text(json.dumps([["000", "001"]]))
    (src / "splits" / "val.json").write_text(json.dumps([]))
    (src / "splits" / "test.json").write_text(json.dumps([["002", "003"]]))
    before = tree_hash(src)
    out = ingest(src, tmp_path / "out", size=32, detector="lbp")
    assert tree_hash(src) == before
    store = FaceStore(out)
    by_id = {r.video_id: r for r in store.records}
    # fake names repeat across methods: the id includes the method
    assert {"Deepfakes__000_001", "Face2Face__000_001", "original__000"} <= set(by_id)
    assert len(by_id) == 4 + 6
    assert by_id["original__000"].label == "real" and by_id["original__000"].method == "original"
    assert by_id["Face2Face__000_001"].label == "fake" and by_id["Face2Face__000_001"].method == "Face2Face"
    assert {r.split for r in store.records if r.video_id.split("__")[1][:3] in ("000", "001")} == {"train"}
    assert {r.split for r in store.records if r.video_id.split("__")[1][:3] in ("002", "003")} == {"test"}
    assert "003_002.mp4" in rejects(out)
    assert json.loads((out / "dataset.json").read_text())["layout"] == "ffpp"


def test_ffpp_without_split_files_keeps_linked_videos_together(ffpp_src):
    items = discover_ffpp(ffpp_src)
    for seed in range(5):
        splits = assign_splits(items, val_fraction=0.3, test_fraction=0.3, seed=seed)
        # 000, 001 and their fakes are one group; 002, 003 and theirs another
        assert len({splits[i.video_id] for i in items if set(i.groups) & {"yt:000", "yt:001"}}) == 1
        assert len({splits[i.video_id] for i in items if set(i.groups) & {"yt:002", "yt:003"}}) == 1
    assert assign_splits(items, 0.3, 0.3, 1) == assign_splits(items, 0.3, 0.3, 1)  # seeded


def test_folder_layout_identity_is_the_first_subfolder(tmp_path):
    src = tmp_path / "src"
    (src / "alice" / "session1").mkdir(parents=True)
    (src / "bob").mkdir()
    write_video(src / "alice" / "a.mp4", clip(seed=0, t=5))
    for i, frame in enumerate(clip(seed=1, t=4)):
        Image.fromarray(frame).save(src / "alice" / "session1" / f"f{i}.png")
    (src / "alice" / "session1" / "f9.png").write_bytes(b"this is not a png")  # an image that is not
    write_video(src / "bob" / "b.mp4", clip(seed=2, t=5))
    (src / "bob" / "README.txt").write_text("ignored")
    assert detect_layout(src) == "folder"
    out = ingest(src, tmp_path / "out", size=32, detector="lbp", val_fraction=0, test_fraction=0)
    store = FaceStore(out)
    ids = {r.video_id: r.identity for r in store.records}
    assert ids == {"alice__a": "alice", "alice__session1": "alice", "bob__b": "bob"}
    assert store.record("alice__session1").frames == 4
    assert "not a readable image" in rejects(out)["f9.png"]


# ---------------------------------------------------------------- bad input
def test_bad_input_gives_one_clear_line(tmp_path):
    with pytest.raises(UserError, match="no-such-dir: no such file"):
        ingest(tmp_path / "no-such-dir", tmp_path / "out")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="empty: no videos or images found.*fomm.*ffpp.*folder"):
        ingest(tmp_path / "empty", tmp_path / "out")
    with pytest.raises(UserError, match="unknown layout 'vox'.*fomm"):
        ingest(tmp_path / "empty", tmp_path / "out", layout="vox")
    bad = tmp_path / "bad" / "carol"
    bad.mkdir(parents=True)
    (bad / "face.png").write_text("not an image")
    with pytest.raises(UserError, match="no usable video"):
        ingest(tmp_path / "bad", tmp_path / "out", detector="lbp")
    with pytest.raises(UserError, match="inside the input"):
        ingest(tmp_path / "bad", tmp_path / "bad" / "out", detector="lbp")
    assert not (tmp_path / "out").exists() and not (tmp_path / "bad" / "out").exists()


def test_cli_exit_codes_and_help(tmp_path, capsys, fomm_src):
    with pytest.raises(SystemExit):
        main(["ingest", "--help"])
    assert "Example" in capsys.readouterr().out
    assert main(["ingest", str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 2
    err = [l for l in capsys.readouterr().err.splitlines() if l.startswith("lstmgan ingest:")]
    assert len(err) == 1 and "missing: no such file" in err[0]
    src = tmp_path / "one"
    (src / "x").mkdir(parents=True)
    write_video(src / "x" / "v.mp4", clip(t=4))
    assert main(["ingest", str(src), "--out", str(tmp_path / "o"), "--size", "32", "--detector", "lbp",
                 "--params", str(tmp_path / "none.yaml")]) == 0
    assert FaceStore(tmp_path / "o").record("x__v").frames == 4


def test_interrupted_ingest_leaves_no_complete_looking_output(fomm_src, tmp_path, monkeypatch):
    out = tmp_path / "vox"
    calls = {"n": 0}
    real_detect = faces.LBPDetector.detect

    def detect_then_interrupt(self, image, **kwargs):
        calls["n"] += 1
        if calls["n"] == 8:  # part-way through the third video
            raise KeyboardInterrupt
        return real_detect(self, image, **kwargs)

    monkeypatch.setattr(faces.LBPDetector, "detect", detect_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        ingest(fomm_src, out, size=32, detector="lbp")
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # no partial folder left either


def test_ingest_is_deterministic(fomm_src, fomm_out, tmp_path):
    again = ingest(fomm_src, tmp_path / "again", size=32, detector="lbp", detect_every=3, seed=0)
    for name in ("manifest.csv", "cache/frames.npy", "cache/boxes.npy", "raw/test/id10004_t.mp4"):
        assert (again / name).read_bytes() == (fomm_out / name).read_bytes(), name
    other = ingest(fomm_src, tmp_path / "other", size=32, detector="lbp", detect_every=3, seed=5, val_fraction=0.5)
    assert (other / "cache/frames.npy").read_bytes() == (fomm_out / "cache/frames.npy").read_bytes()
