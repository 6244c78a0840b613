"""Outputs that cannot be written, and commands run by hand.

Every writer fails on an unwritable destination (a folder where a file is expected, a file where a
folder is, a read-only place, a full disk) with one line naming the path and the cause, exit
status 2, and leaves nothing behind: no partial file, no temporary file, an older file unchanged.
Commands run by hand the way the README shows never touch the pipeline's data/, models/, reports/.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from lstmgan.cli import main
from lstmgan.utils.io import OutputError, all_or_nothing, atomic_dir, atomic_path, atomic_write_text, check_output

ROOT = Path(__file__).resolve().parents[1]


def _listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def _mount_tmpfs(where: Path, size_kb: int, readonly: bool = False) -> None:
    where.mkdir(parents=True, exist_ok=True)
    opts = f"size={size_kb}k" + (",ro" if readonly else "")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(where)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or 'mount failed'}); needs root")


@pytest.fixture
def full_disk(tmp_path):
    """A 256 KiB tmpfs holding ``old.mp4`` (b"old") and a filler that leaves no byte free."""
    where = tmp_path / "full"
    _mount_tmpfs(where, 256)
    try:
        (where / "old.mp4").write_bytes(b"old")
        with pytest.raises(OSError), open(where / "filler", "wb") as fh:
            fh.write(b"x" * (1 << 20))
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


@pytest.fixture
def read_only(tmp_path):
    where = tmp_path / "ro"
    _mount_tmpfs(where, 64, readonly=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def _one_line_error(capsys, command: str, *names: str) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    last = err[-1]
    assert last.startswith(f"lstmgan {command}: error: "), err
    assert "Traceback" not in "\n".join(err)
    for name in names:
        assert name in last, (name, last)
    return last


# ------------------------------------------------------------------------------------------
# The shared mechanism
# ------------------------------------------------------------------------------------------
def test_a_folder_given_as_a_file_and_a_file_given_as_a_folder(tmp_path):
    (tmp_path / "folder").mkdir()
    (tmp_path / "file").write_text("keep")
    with pytest.raises(OutputError, match=r"folder: cannot write: is a folder, not a file"):
        atomic_write_text(tmp_path / "folder", "x")
    with pytest.raises(OutputError, match=r"file: cannot write: is a file, not a folder"):
        with atomic_dir(tmp_path / "file"):
            pass
    with pytest.raises(OutputError, match=r"is a file, not a folder"):
        atomic_write_text(tmp_path / "file" / "inside.txt", "x")
    assert (tmp_path / "file").read_text() == "keep"
    assert _listing(tmp_path) == ["file", "folder"]
    assert check_output(tmp_path / "new" / "a.txt") == tmp_path / "new" / "a.txt"  # writes nothing
    assert not (tmp_path / "new").exists()


def test_all_or_nothing_commits_together_or_not_at_all(tmp_path):
    (tmp_path / "a.txt").write_text("old a")
    with pytest.raises(OutputError):
        with all_or_nothing():
            atomic_write_text(tmp_path / "a.txt", "new a")
            with atomic_dir(tmp_path / "set") as tmp:
                atomic_write_text(tmp / "inside.txt", "1")  # inside an open folder: written at once
                assert (tmp / "inside.txt").read_text() == "1"
            atomic_write_text(tmp_path / "a.txt" / "nested", "fails: a.txt is a file")
    assert (tmp_path / "a.txt").read_text() == "old a" and _listing(tmp_path) == ["a.txt"]
    with all_or_nothing():
        atomic_write_text(tmp_path / "a.txt", "new a")
        assert (tmp_path / "a.txt").read_text() == "old a"  # not yet
        with atomic_path(tmp_path / "b.bin") as tmp:
            tmp.write_bytes(b"b")
    assert (tmp_path / "a.txt").read_text() == "new a" and (tmp_path / "b.bin").read_bytes() == b"b"
    assert _listing(tmp_path) == ["a.txt", "b.bin"]


def test_a_full_disk_leaves_nothing_and_keeps_the_old_file(full_disk):
    from lstmgan.media.video import write_video
    from lstmgan.utils.io import atomic_torch_save

    frames = (np.random.default_rng(0).random((16, 64, 64, 3)) * 255).astype(np.uint8)
    with pytest.raises(OutputError, match=r"old.mp4: cannot write: no space left on the device"):
        write_video(full_disk / "old.mp4", frames, fps=25)
    with pytest.raises(OutputError, match=r"c.pt: cannot write: no space left"):
        atomic_torch_save({"w": np.zeros(50_000)}, full_disk / "c.pt")
    with pytest.raises(OutputError, match=r"set: cannot write: no space left"):
        with atomic_dir(full_disk / "set") as tmp:
            (tmp / "big.bin").write_bytes(b"x" * 100_000)
    assert _listing(full_disk) == ["filler", "old.mp4"]
    assert (full_disk / "old.mp4").read_bytes() == b"old"


def test_a_read_only_place(read_only):
    with pytest.raises(OutputError, match=r"cannot write: read-only file system"):
        atomic_write_text(read_only / "m.json", "{}")
    with pytest.raises(OutputError, match=r"cannot write: read-only file system"):
        with atomic_dir(read_only / "set"):
            pass


def test_an_input_error_is_not_reported_as_an_output_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        with atomic_path(tmp_path / "out.txt"):
            (tmp_path / "missing-input.txt").read_text()
    assert _listing(tmp_path) == []


# ------------------------------------------------------------------------------------------
# Commands: animate, export, train
# ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def animate_inputs(tmp_path_factory):
    from test_animate import _face_files, tiny_checkpoint

    folder = tmp_path_factory.mktemp("animate_inputs")
    ck = folder / "lstm" / "latest.pt"
    tiny_checkpoint(ck)
    img, video = _face_files(folder)
    return img, video, ck


def test_animate_into_a_folder_is_one_line(animate_inputs, tmp_path, capsys):
    img, video, ck = animate_inputs
    (tmp_path / "some_folder").mkdir()
    code = main(["animate", str(img), str(video), "-o", f"{tmp_path / 'some_folder'}/", "--checkpoint", str(ck),
                 "--device", "cpu"])
    assert code == 2
    _one_line_error(capsys, "animate", "some_folder", "is a folder")
    assert _listing(tmp_path) == ["some_folder"]


def test_animate_on_a_full_disk_leaves_no_video_behind(animate_inputs, full_disk, capsys):
    img, video, ck = animate_inputs
    code = main(["animate", str(img), str(video), "-o", str(full_disk / "o.mp4"), "--gif", str(full_disk / "o.gif"),
                 "--checkpoint", str(ck), "--device", "cpu"])
    assert code == 2
    _one_line_error(capsys, "animate", str(full_disk), "no space left")
    assert _listing(full_disk) == ["filler", "old.mp4"]


def test_animate_video_and_gif_appear_together(animate_inputs, tmp_path, capsys):
    """The GIF's place is a folder: the command fails before animating, and writes no video."""
    img, video, ck = animate_inputs
    (tmp_path / "o.gif").mkdir()
    assert main(["animate", str(img), str(video), "-o", str(tmp_path / "o.mp4"), "--gif", str(tmp_path / "o.gif"),
                 "--checkpoint", str(ck), "--device", "cpu"]) == 2
    _one_line_error(capsys, "animate", "o.gif")
    assert _listing(tmp_path) == ["o.gif"]


def test_export_into_a_file_or_a_full_disk(project, full_disk, capsys, monkeypatch):
    monkeypatch.chdir(project)
    (full_disk.parent / "a_file").write_text("keep")
    assert main(["export", "--config", "tiny.yaml", "--out", str(full_disk.parent / "a_file")]) == 2
    _one_line_error(capsys, "export", "a_file", "is a file")
    assert (full_disk.parent / "a_file").read_text() == "keep"
    assert main(["export", "--config", "tiny.yaml", "--out", str(full_disk / "deepfakes")]) == 2
    _one_line_error(capsys, "export", "deepfakes", "no space left")
    assert _listing(full_disk) == ["filler", "old.mp4"]


def test_train_into_a_file_or_a_full_disk(project, full_disk, capsys, monkeypatch):
    monkeypatch.chdir(project)
    (full_disk.parent / "a_file").write_text("keep")
    assert main(["train", "--config", "tiny.yaml", "--out", str(full_disk.parent / "a_file"), "--no-progress"]) == 2
    _one_line_error(capsys, "train", "a_file", "is a file")
    (full_disk.parent / "metrics_folder").mkdir()
    assert main(["train", "--config", "tiny.yaml", "--out", str(full_disk.parent / "run"), "--no-progress",
                 "--metrics", str(full_disk.parent / "metrics_folder")]) == 2
    _one_line_error(capsys, "train", "metrics_folder", "is a folder")
    assert not (full_disk.parent / "run").exists()
    assert main(["train", "--config", "tiny.yaml", "--out", str(full_disk / "run"), "--no-progress"]) == 2
    _one_line_error(capsys, "train", str(full_disk), "no space left")
    leftovers = [p for p in _listing(full_disk) if p not in ("filler", "old.mp4")]
    assert not [p for p in leftovers if Path(p).name.startswith(".")], leftovers  # no temporary file


# ------------------------------------------------------------------------------------------
# Commands run by hand leave the pipeline's outputs alone
# ------------------------------------------------------------------------------------------
TINY_YAML = """\
data: {identities: 10, val_identities: 4, test_identities: 4, videos_per_identity: 2, frames: 8}
gan:
  model: {num_kp: 4, kp_block_expansion: 8, kp_max_features: 32, kp_num_blocks: 2, dm_block_expansion: 8,
          dm_max_features: 32, dm_num_blocks: 2, block_expansion: 8, max_features: 32,
          num_bottleneck_blocks: 1, lstm_hidden: 8, disc_block_expansion: 8, disc_max_features: 32,
          disc_num_blocks: 2}
  loss: {perceptual: 0.0}
  train: {steps: 2, clip_len: 3, batch_size: 2, warmup_steps: 1}
  run: {val_batches: 1, log_every: 1, val_every: 2, checkpoint_every: 2}
generate: {evalnet_steps: 12, evalnet_batch: 16, cross_pairs: 2, eval_videos: 2, export_source: store,
           export_frame_step: 4, export_crf: [40]}
detect:
  epochs: 1
  batch_size: 8
  max_eval_frames: 16
  test_compressions: [raw]
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A checkout after a (tiny) `dvc repro`: data/faces, models/gan, models/evalnets, data/deepfakes
    and published metrics in reports/, made by the pipeline's own functions and paths."""
    from test_animate import tiny_checkpoint

    from lstmgan.config import load_params
    from lstmgan.data.synth import synthesize
    from lstmgan.generate.evalnets import build_evalnets
    from lstmgan.generate.export import export_dataset
    from lstmgan.media.store import open_store
    from lstmgan.utils.io import atomic_write_json

    root = tmp_path_factory.mktemp("project")
    shutil.copy(ROOT / "params.yaml", root / "params.yaml")
    (root / "tiny.yaml").write_text(TINY_YAML)
    cwd = os.getcwd()
    os.chdir(root)
    try:
        params = load_params("params.yaml", configs=["tiny.yaml"])
        synthesize(params.data.out, identities=10, videos_per_identity=2, frames=8, size=64, val_identities=4,
                   test_identities=4, write_videos=False)
        from lstmgan.data.degrade import degrade_store

        degrade_store(params.data.out, params.data.degrade, params.seed)  # as the data stage does
        for method in ("lstm", "none"):
            tiny_checkpoint(Path(params.gan.out) / method / "latest.pt", temporal=method)
        store = open_store(params.data.out)
        build_evalnets(store, params, "cpu")
        export_dataset(params, store, "cpu")
        for name in ("train-lstm", "generate"):  # the published run's metrics (committed, not cached)
            atomic_write_json(Path("reports/metrics") / f"{name}.json", {"published": True})
        atomic_write_text(Path("reports/train/lstm/plots/metrics/gen/total.tsv"), "step\ttotal\n1\t2.0\n")
        atomic_write_text(Path("reports/tables/ablation.md"), "| published |\n")
    finally:
        os.chdir(cwd)
    return root


def _pipeline_digest(root: Path) -> dict[str, str]:
    out = {}
    for top in ("data", "models", "reports"):
        for path in sorted((root / top).rglob("*")):
            if path.is_file():
                out[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def test_the_readme_commands_leave_the_published_run_untouched(project, tmp_path, monkeypatch):
    monkeypatch.chdir(project)
    before = _pipeline_digest(project)
    assert "models/gan/lstm/latest.pt" in before and "data/deepfakes/manifest.csv" in before
    runs = [
        ["train", "--config", "tiny.yaml", "--out", str(tmp_path / "try"), "--no-progress"],  # the README's experiment
        ["train", "--config", "tiny.yaml", "--set", "gan.temporal=none", "--no-progress"],
        ["evaluate", "--config", "tiny.yaml"],
        ["export", "--config", "tiny.yaml"],
        ["detect", "--config", "tiny.yaml", "--model", "custom_cnn", "--variant", "augmented"],
        ["detect", "--config", "tiny.yaml", "--table"],
    ]
    for argv in runs:
        assert main(argv) == 0, argv
    assert _pipeline_digest(project) == before
    try_run = set(_listing(tmp_path / "try"))
    assert {"latest.pt", "metrics.json", "logs"} <= try_run
    made = set(_listing(project / "runs"))
    assert {"train/none/latest.pt", "train/none/metrics.json", "evaluate/ablation.md", "evaluate/metrics.json",
            "export/manifest.csv", "detect/custom_cnn-augmented/metrics.json",
            "detect/custom_cnn-augmented/custom_cnn-augmented.pt", "detect/tables/detect_comparison.md"} <= made
    assert not any(Path(p).name.startswith(".") and p.endswith((".tmp", ".partial")) for p in made)
