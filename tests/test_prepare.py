"""The data stage end to end on a tiny configuration: raw + c23 + c40 from params."""
import numpy as np
import pytest

from lstmgan.config import params_from_dict
from lstmgan.data.prepare import prepare
from lstmgan.media.store import FaceStore
from lstmgan.media.video import read_video
from lstmgan.errors import UserError

TINY = {"identities": 3, "val_identities": 1, "test_identities": 1, "videos_per_identity": 1,
        "frames": 6, "size": 64, "crf": [23, 40]}


def test_prepare_synth_writes_raw_and_compressed_copies(tmp_path):
    params = params_from_dict({"seed": 5, "data": {**TINY, "out": str(tmp_path / "faces")}})
    root = prepare(params)
    assert root == tmp_path / "faces"
    store = FaceStore(root)
    assert len(store) == 3 and store.meta["kind"] == "synth"
    sizes = {}
    for folder in ("raw", "c23", "c40"):
        files = sorted(p.relative_to(root / folder) for p in (root / folder).rglob("*.mp4"))
        assert [str(f) for f in files] == sorted(f"{r.split}/{r.video_id}.mp4" for r in store)
        sizes[folder] = sum((root / folder / f).stat().st_size for f in files)
    record = store.records[0]
    raw, _ = read_video(root / "raw" / record.split / f"{record.video_id}.mp4")
    np.testing.assert_array_equal(raw, store.frames(record.video_id))  # raw is lossless
    for crf in (23, 40):
        frames, _ = read_video(root / f"c{crf}" / record.split / f"{record.video_id}.mp4")
        assert frames.shape == raw.shape
    err23 = np.abs(read_video(root / "c23" / record.split / f"{record.video_id}.mp4")[0].astype(int) - raw).mean()
    err40 = np.abs(read_video(root / "c40" / record.split / f"{record.video_id}.mp4")[0].astype(int) - raw).mean()
    assert err23 < err40  # stronger compression, larger error
    assert sizes["c40"] < sizes["c23"] < sizes["raw"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folder left


def test_prepare_is_deterministic(tmp_path):
    a = prepare(params_from_dict({"seed": 2, "data": {**TINY, "crf": [40]}}), out=tmp_path / "a")
    b = prepare(params_from_dict({"seed": 2, "data": {**TINY, "crf": [40]}}), out=tmp_path / "b")
    for rel in ("cache/frames.npy", "cache/landmarks.npy", "manifest.csv", "raw/train/id000_v00.mp4",
                "c40/test/id002_v00.mp4"):
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel


def test_prepare_missing_real_source_is_one_clear_error(tmp_path):
    params = params_from_dict({"data": {**TINY, "source": str(tmp_path / "nowhere")}})
    with pytest.raises(UserError, match="data.source"):
        prepare(params, out=tmp_path / "faces")
    assert not (tmp_path / "faces").exists()


def test_prepare_from_a_real_layout(tmp_path):
    """A real (folder layout) source goes through ingestion and compression to the same format."""
    from lstmgan.data.synth import synthesize

    # real encoded videos of faces: the synthetic set's raw videos, one folder per identity
    src = tmp_path / "src"
    made = synthesize(tmp_path / "made", identities=3, videos_per_identity=1, frames=8, size=128,
                      val_identities=1, test_identities=1, seed=4)
    for path in sorted((made / "raw").rglob("*.mp4")):
        dst = src / path.stem.split("_")[0] / path.name
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes(path.read_bytes())
    params = params_from_dict({"data": {**TINY, "source": str(src), "layout": "folder",
                                        "face_detector": "lbp", "crf": [40]}})
    root = prepare(params, out=tmp_path / "faces")
    store = FaceStore(root)
    assert store.meta["kind"] == "folder" and len(store) >= 1
    assert sorted(p.name for p in (root / "c40").rglob("*.mp4")) == sorted(f"{r.video_id}.mp4" for r in store)


def test_cli_prepare_with_overrides(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).parents[1]
    out = tmp_path / "faces"
    sets = [f"data.{k}={v}" for k, v in TINY.items() if k != "crf"] + ["data.crf=[40]", f"data.out={out}"]
    cmd = [sys.executable, "-m", "lstmgan", "prepare", "--params", str(repo / "params.yaml")]
    for s in sets:
        cmd += ["--set", s]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert len(FaceStore(out)) == 3 and (out / "c40").is_dir() and not (out / "c23").exists()
    bad = subprocess.run(cmd[:6] + ["--set", "data.identities=many"], capture_output=True, text=True, cwd=repo)
    assert bad.returncode == 2 and "data.identities" in bad.stderr
