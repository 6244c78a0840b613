"""Published weights: weight-only files with params and provenance that animate exactly like the
training checkpoint, a sample driving video, the showcase GIF, and `lstmgan animate` without a
trained checkpoint or a driving video."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    from test_evaluate import small_setup

    from lstmgan.generate.publish import publish

    tmp = tmp_path_factory.mktemp("publish")
    store, params, checkpoints = small_setup(tmp, frames=8)
    params.gan.out = str(tmp / "gan")
    summary = publish(params, tmp / "weights", store)
    return tmp, store, params, checkpoints, summary


def test_weight_only_files_keep_params_and_provenance(published):
    tmp, store, params, checkpoints, summary = published
    folder = tmp / "weights"
    assert sorted(p.name for p in folder.iterdir()) == ["lstm.pt", "none.pt", "sample_driving.mp4", "weights.json"]
    state = torch.load(folder / "lstm.pt", weights_only=False)
    assert set(state["models"]) == {"kp_detector", "generator"}
    assert "optimizers" not in state and "rng" not in state
    assert "procedural" in state["provenance"]["trained_on"] and state["provenance"]["steps"] == 7
    record = json.loads((folder / "weights.json").read_text())
    for name, info in record["files"].items():
        data = (folder / name).read_bytes()
        assert info["bytes"] == len(data) and info["sha256"] == hashlib.sha256(data).hexdigest()
    assert (folder / "lstm.pt").stat().st_size < checkpoints["lstm"].stat().st_size


def test_published_weights_animate_like_the_checkpoint(published):
    from lstmgan.generate.animate import Animator
    from lstmgan.models.full_model import load_networks
    from lstmgan.utils.tensors import to_tensor

    tmp, store, params, checkpoints, _ = published
    frames = np.asarray(store.frames(store.split("test")[0].video_id))
    outs = []
    for path in (checkpoints["lstm"], tmp / "weights" / "lstm.pt"):
        nets, _ = load_networks(path)
        outs.append(Animator(nets).animate(to_tensor(frames[0]), to_tensor(frames)).frames)
    assert torch.equal(outs[0], outs[1])


def test_the_sample_video_is_the_test_video_that_moves_most(published):
    from lstmgan.generate.publish import most_moving_video
    from lstmgan.media.video import read_video

    tmp, store, *_ = published
    chosen = most_moving_video(store)
    assert store.record(chosen).split == "test"
    moves = {r.video_id: float(np.nanmean(np.linalg.norm(store.landmarks(r.video_id) - store.landmarks(r.video_id)[:1],
                                                          axis=-1))) for r in store.split("test")}
    assert chosen == max(moves, key=moves.get)
    video, _ = read_video(tmp / "weights" / "sample_driving.mp4")
    assert video.shape == (8, store.size, store.size, 3)


def test_showcase_gif_rows_and_columns(published):
    from PIL import Image

    from lstmgan.generate.publish import showcase

    tmp, store, params, *_ = published
    gif = showcase(params, tmp / "animation.gif", store, pairs=2)
    image = Image.open(gif)
    assert image.size == (4 * store.size, 2 * store.size + 14)  # source, driving, lstm, none; label strip
    assert image.n_frames == 8


def test_animate_falls_back_to_the_published_weights_and_sample(published, tmp_path, monkeypatch, capsys):
    from PIL import Image

    from lstmgan.cli import main
    from lstmgan.generate import publish as P
    from lstmgan.media.video import read_video

    tmp, store, *_ = published
    monkeypatch.setattr(P, "PUBLISHED", tmp / "weights")
    monkeypatch.chdir(tmp_path)  # no models/gan here: the published weights are used
    face = tmp_path / "face.png"
    Image.fromarray(np.asarray(store.frames(store.split("val")[0].video_id)[0])).save(face)
    assert main(["animate", str(face), "-o", "out.mp4", "--device", "cpu"]) == 0
    assert read_video(tmp_path / "out.mp4")[0].shape[0] == 8
    monkeypatch.setattr(P, "PUBLISHED", tmp_path / "nothing")
    assert main(["animate", str(face), "-o", "out2.mp4", "--device", "cpu"]) == 2
    assert "sample driving video" in capsys.readouterr().err.strip().splitlines()[-1]
