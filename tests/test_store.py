"""The face-video store: what the data stage writes is what training reads."""
import numpy as np
import pytest

from lstmgan.media.store import FaceStore, StoreWriter
from lstmgan.media.video import read_video
from lstmgan.errors import UserError


def _frames(t, size=16, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (t, size, size, 3), dtype=np.uint8)


def test_round_trip(tmp_path):
    root = tmp_path / "faces"
    lm = np.random.default_rng(1).random((5, 68, 2)).astype(np.float32)
    with StoreWriter(root, size=16, fps=25, kind="test") as writer:
        writer.add_video("a_v0", "a", "train", _frames(5), landmarks=lm, extra={"pose": np.zeros((5, 6))})
        writer.add_video("b_v0", "b", "test", _frames(3, seed=2), extra={"pose": np.ones((3, 6))})
        writer.add_reject("broken.mp4", "cannot decode")
    store = FaceStore(root)
    assert [r.video_id for r in store.split("train")] == ["a_v0"]
    assert store.record("b_v0").offset == 5
    np.testing.assert_array_equal(store.frames("b_v0"), _frames(3, seed=2))
    np.testing.assert_array_equal(store.landmarks("a_v0"), lm)
    assert np.isnan(store.landmarks("b_v0")).all()
    assert store.extra("pose", "b_v0").sum() == 18
    # the raw video is lossless: first-order-motion tools read exactly the cached frames
    frames, fps = read_video(root / store.record("a_v0").raw_path)
    np.testing.assert_array_equal(frames, _frames(5))
    assert fps == 25
    assert "broken.mp4" in (root / "rejects.csv").read_text()
    assert store.meta["splits"] == {"train": 1, "val": 0, "test": 1}


def test_interrupted_write_leaves_nothing(tmp_path):
    root = tmp_path / "faces"
    with pytest.raises(RuntimeError):
        with StoreWriter(root, size=16, fps=25, kind="test", write_videos=False) as writer:
            writer.add_video("a", "a", "train", _frames(2))
            raise RuntimeError("killed")
    assert not root.exists() and list(tmp_path.iterdir()) == []


def test_empty_store_is_an_error(tmp_path):
    with pytest.raises(UserError, match="no usable videos"):
        with StoreWriter(tmp_path / "x", size=16, fps=25, kind="test"):
            pass


def test_bad_frames_and_duplicates(tmp_path):
    with StoreWriter(tmp_path / "x", size=16, fps=25, kind="test", write_videos=False) as writer:
        with pytest.raises(ValueError, match="must be"):
            writer.add_video("a", "a", "train", _frames(2, size=8))
        writer.add_video("a", "a", "train", _frames(2))
        with pytest.raises(ValueError, match="duplicate"):
            writer.add_video("a", "a", "train", _frames(2))


def test_not_a_store(tmp_path):
    with pytest.raises(UserError, match="not a prepared data set"):
        FaceStore(tmp_path)
