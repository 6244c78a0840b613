"""FF++-style H.264 compression: same frames, smaller files, atomic output."""
import numpy as np
import pytest
from skimage import data
from skimage.transform import resize

from lstmgan.cli import main
from lstmgan.data.compress import compress_store, compress_tree, compress_video
from lstmgan.media.store import FaceStore, StoreWriter
from lstmgan.media.video import count_frames, read_video, write_video
from lstmgan.errors import UserError


def moving_face(t=12, size=64, seed=0):
    """A textured moving face (the astronaut photo panned), so compression has detail to lose."""
    big = (resize(data.astronaut(), (size * 2, size * 2), anti_aliasing=True) * 255).astype(np.uint8)
    off = np.random.default_rng(seed).integers(0, size // 2, 2)
    return np.stack([big[off[0] + i: off[0] + i + size, off[1] + i: off[1] + i + size] for i in range(t)])


def test_compress_video_keeps_frames_and_shrinks(tmp_path):
    raw = write_video(tmp_path / "raw.mp4", moving_face(), lossless=True)
    sizes = {}
    for crf in (23, 40):
        out = tmp_path / f"c{crf}.mp4"
        assert compress_video(raw, out, crf) == 12
        assert count_frames(out) == 12
        sizes[crf] = out.stat().st_size
    assert sizes[40] < sizes[23] < raw.stat().st_size
    frames, fps = read_video(tmp_path / "c40.mp4")
    original, _ = read_video(raw)
    err23 = np.abs(read_video(tmp_path / "c23.mp4")[0].astype(int) - original).mean()
    err40 = np.abs(frames.astype(int) - original).mean()
    assert fps == 25 and 0 < err23 < err40  # c40 loses more than c23


def test_compress_store_writes_c_folders_with_the_same_names(tmp_path):
    root = tmp_path / "faces"
    with StoreWriter(root, size=64, fps=25, kind="test") as writer:
        writer.add_video("a_v0", "a", "train", moving_face(seed=0))
        writer.add_video("b_v0", "b", "test", moving_face(t=7, seed=1))
    total = {}
    for crf in (23, 40):
        out = compress_store(root, crf)
        assert out == root / f"c{crf}"
        files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.mp4"))
        assert files == ["test/b_v0.mp4", "train/a_v0.mp4"]
        assert [count_frames(out / f) for f in files] == [7, 12]
        total[crf] = sum((out / f).stat().st_size for f in files)
    raw_total = sum(p.stat().st_size for p in (root / "raw").rglob("*.mp4"))
    assert total[40] < total[23] < raw_total
    assert not [p for p in root.iterdir() if p.name.startswith(".")]  # no temporary folder left
    FaceStore(root)  # the store itself is unchanged and readable


def test_compress_tree_skips_unreadable_and_keeps_relative_names(tmp_path, capsys):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    write_video(src / "a.mp4", moving_face(t=5), lossless=True)
    write_video(src / "sub" / "b.mp4", moving_face(t=6, seed=1), lossless=True)
    (src / "sub" / "broken.mp4").write_bytes(b"\0" * 500)
    out = compress_tree(src, tmp_path / "out", 40)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.mp4")) == ["a.mp4", "sub/b.mp4"]
    assert count_frames(out / "sub" / "b.mp4") == 6
    # a single file, through the command line
    assert main(["compress", str(src / "a.mp4"), "--out", str(tmp_path / "one"), "--crf", "23"]) == 0
    assert count_frames(tmp_path / "one" / "a.mp4") == 5


def test_compress_bad_input(tmp_path, capsys):
    with pytest.raises(UserError, match="nope: no such file"):
        compress_tree(tmp_path / "nope", tmp_path / "out", 23)
    with pytest.raises(UserError, match="CRF must be"):
        compress_tree(tmp_path, tmp_path / "out", 99)
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "x.mp4").write_bytes(b"junk")
    with pytest.raises(UserError, match="none of 1 videos"):
        compress_tree(tmp_path / "junk", tmp_path / "out", 23)
    assert not (tmp_path / "out").exists()
    assert main(["compress", str(tmp_path / "nope"), "--out", str(tmp_path / "o"), "--crf", "40"]) == 2
    # one error line (filtering out log records of earlier calls, whose handler may hold a stale stream)
    errors = [l for l in capsys.readouterr().err.splitlines() if l.startswith("lstmgan compress:")]
    assert len(errors) == 1 and "nope: no such file" in errors[0]
    with pytest.raises(SystemExit):
        main(["compress", "--help"])
    assert "Example" in capsys.readouterr().out
