"""Motion transfer: relative-motion arithmetic, best-frame choice, the animator and the CLI's errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from lstmgan.generate.animate import (Animator, find_best_frame, hull_area, movement_scale, normalized_points,
                             provenance_tags, to_tensor, to_uint8, transfer_keypoints)
from lstmgan.config import Params
from lstmgan.models.full_model import build_networks

from conftest import tiny_gan


def tiny_checkpoint(path, temporal: str = "lstm", size: int = 64, seed: int = 0) -> Params:
    """A real (untrained) checkpoint in the trainer's format, with a non-zero LSTM projection."""
    params = Params()
    params.data.size = size
    params.gan = tiny_gan(temporal, model={"occlusion_bias": -1.0})
    torch.manual_seed(seed)
    nets = build_networks(params.gan, size)
    gen = nets["generator"]
    if getattr(gen, "lstm_out", None) is not None:  # zero-initialised: make the recurrence matter
        with torch.no_grad():
            for p in [*gen.lstm.parameters(), *gen.lstm_out.parameters()]:
                p.normal_(0, 0.3)
            gen.lstm_motion.weight.normal_(0, 0.05)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"step": 7, "params": params.to_dict(),
                "models": {name: net.state_dict() for name, net in nets.items()}}, path)
    return params


def kp(values, jacobians=None):
    values = torch.tensor(np.asarray(values), dtype=torch.float32)
    if jacobians is None:
        jacobians = torch.eye(2).expand(*values.shape[:-1], 2, 2).clone()
    return {"value": values, "jacobian": torch.tensor(np.asarray(jacobians), dtype=torch.float32)}


SQUARE = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]])


def test_hull_area_and_scale() -> None:
    assert hull_area(SQUARE) == pytest.approx(1.0)
    assert hull_area(SQUARE * 2) == pytest.approx(4.0)
    assert hull_area(np.array([[0, 0], [1, 1], [2, 2]])) == 0.0  # collinear: no area, no crash
    assert movement_scale(torch.tensor(SQUARE * 0.5), torch.tensor(SQUARE)) == pytest.approx(0.5)


def test_zero_driving_motion_leaves_the_source_pose() -> None:
    rng = np.random.default_rng(0)
    src = kp(rng.uniform(-0.6, 0.6, (5, 2)), np.eye(2) + rng.normal(0, 0.1, (5, 2, 2)))
    init_vals = rng.uniform(-0.6, 0.6, (5, 2))
    init_jac = np.eye(2) + rng.normal(0, 0.1, (5, 2, 2))
    drv = kp(np.repeat(init_vals[None], 3, 0), np.repeat(init_jac[None], 3, 0))
    out = transfer_keypoints(src, drv, kp(init_vals, init_jac), relative=True, adapt_scale=True)
    torch.testing.assert_close(out["value"], src["value"].expand(3, 5, 2), atol=1e-6, rtol=0)
    torch.testing.assert_close(out["jacobian"], src["jacobian"].expand(3, 5, 2, 2), atol=1e-5, rtol=0)


def test_relative_motion_arithmetic_with_scale() -> None:
    src = kp(SQUARE * 0.5)  # source face half the size of the driving face
    init = kp(SQUARE)
    shift = np.array([0.2, -0.1])
    drv = kp((SQUARE + shift)[None])
    moved = transfer_keypoints(src, drv, init, relative=True, adapt_scale=True)["value"][0].numpy()
    np.testing.assert_allclose(moved, SQUARE * 0.5 + shift * 0.5, atol=1e-6)  # displacement x sqrt(1/4)
    unscaled = transfer_keypoints(src, drv, init, relative=True, adapt_scale=False)["value"][0].numpy()
    np.testing.assert_allclose(unscaled, SQUARE * 0.5 + shift, atol=1e-6)
    absolute = transfer_keypoints(src, drv, init, relative=False)["value"][0].numpy()
    np.testing.assert_allclose(absolute, SQUARE + shift, atol=1e-6)
    # jacobian change: J_d J_d0^-1 J_s
    rot = np.array([[0.0, -1.0], [1.0, 0.0]])
    drv_rot = kp((SQUARE + shift)[None], np.broadcast_to(rot, (1, 4, 2, 2)))
    js = np.broadcast_to(np.diag([2.0, 3.0]), (4, 2, 2))
    out = transfer_keypoints(kp(SQUARE, js), drv_rot, init, relative=True)["jacobian"][0].numpy()
    np.testing.assert_allclose(out, np.broadcast_to(rot @ np.diag([2.0, 3.0]), (4, 2, 2)), atol=1e-6)


def test_find_best_frame_picks_the_matching_pose() -> None:
    rng = np.random.default_rng(1)
    source = rng.uniform(-1, 1, (10, 2))
    frames = [rng.uniform(-1, 1, (10, 2)) for _ in range(6)]
    # frame 4 is the source's pose, moved and twice as large: normalisation must see it as equal
    frames[4] = source * 2.0 + np.array([0.3, -0.2])
    assert find_best_frame(source, np.stack(frames)) == 4
    norm = normalized_points(np.stack([source, frames[4]]))
    np.testing.assert_allclose(norm[0], norm[1], atol=1e-9)


def test_tensor_round_trip() -> None:
    frames = np.random.default_rng(0).integers(0, 256, (3, 8, 8, 3), dtype=np.uint8)
    t = to_tensor(frames)
    assert t.shape == (3, 3, 8, 8) and float(t.max()) <= 1.0
    np.testing.assert_array_equal(to_uint8(t), frames)


@pytest.fixture(scope="module")
def nets(tmp_path_factory):
    from lstmgan.models.full_model import load_networks

    path = tmp_path_factory.mktemp("ck") / "lstm" / "latest.pt"
    tiny_checkpoint(path)
    return load_networks(path, "cpu")[0]


def test_chunked_animation_equals_one_frame_at_a_time(nets) -> None:
    gen = torch.Generator().manual_seed(0)
    source, driving = torch.rand(3, 64, 64, generator=gen), torch.rand(11, 3, 64, 64, generator=gen)
    a8 = Animator(nets, "cpu", batch_size=8).animate(source, driving)
    a1 = Animator(nets, "cpu", batch_size=1).animate(source, driving)
    assert a8.frames.shape == (11, 3, 64, 64)
    torch.testing.assert_close(a8.frames, a1.frames, atol=1e-4, rtol=0)
    # the ConvLSTM state is carried: restarting it at every frame gives a different video
    anim = Animator(nets, "cpu", batch_size=1)
    kp_s = {k: v[0] for k, v in anim.keypoints(source[None]).items()}
    kp_d = anim.keypoints(driving)
    restarted = torch.cat([anim.render(source, kp_s, {k: v[i:i + 1] for k, v in kp_d.items()})
                           for i in range(11)])
    carried = anim.render(source, kp_s, kp_d)
    torch.testing.assert_close(carried[:1], restarted[:1], atol=1e-5, rtol=0)
    assert float((carried[1:] - restarted[1:]).abs().max()) > 1e-3


def test_zero_motion_video_renders_the_source_pose(nets) -> None:
    gen = torch.Generator().manual_seed(1)
    source = torch.rand(3, 64, 64, generator=gen)
    still = torch.rand(1, 3, 64, 64, generator=gen).expand(5, 3, 64, 64)
    result = Animator(nets, "cpu").animate(source, still)
    torch.testing.assert_close(result.kp_used, result.kp_source.expand(5, -1, -1), atol=1e-5, rtol=0)


def test_find_best_frame_animation_keeps_time_order(nets) -> None:
    gen = torch.Generator().manual_seed(2)
    driving = torch.rand(9, 3, 64, 64, generator=gen)
    source = driving[5].clone()  # the source is exactly frame 5's face
    result = Animator(nets, "cpu").animate(source, driving, find_best=True)
    assert result.best_frame == 5
    assert result.frames.shape == (9, 3, 64, 64)
    # the keypoints used at the best frame are the source's own (zero relative motion there)
    torch.testing.assert_close(result.kp_used[5], result.kp_source, atol=1e-5, rtol=0)


def test_provenance_tags_name_synthetic() -> None:
    tags = provenance_tags("LSTM-GAN", "9.9", synthetic=True)
    assert "SYNTHETIC" in tags["title"] and "LSTM-GAN" in tags["comment"] and "9.9" in tags["comment"]
    assert "REAL" in provenance_tags("x", "1", synthetic=False)["title"]


# ------------------------------------------------------------------------------------------
# CLI
# ------------------------------------------------------------------------------------------
def _cli(*args: str) -> int:
    from lstmgan.cli import main

    return main(["animate", *args])


def _face_files(tmp_path):
    from PIL import Image

    from lstmgan.data.synth import identity_rng, motion_rng, render_video, sample_identity, sample_motion
    from lstmgan.media.video import write_video

    ident = sample_identity(identity_rng(0, 0))
    frames = render_video(ident, sample_motion(motion_rng(0, 0, 0), 10), 64)[0]
    img = tmp_path / "face.png"
    Image.fromarray(frames[0]).save(img)
    video = tmp_path / "drive.mp4"
    write_video(video, frames, fps=25, lossless=True)
    return img, video


def test_cli_animates_and_tags_the_output(tmp_path, capsys) -> None:
    from lstmgan.media.video import read_video, video_metadata

    ck = tmp_path / "lstm" / "latest.pt"
    tiny_checkpoint(ck)
    img, video = _face_files(tmp_path)
    out, gif, sbs = tmp_path / "out.mp4", tmp_path / "out.gif", tmp_path / "sbs.mp4"
    assert _cli(str(img), str(video), "-o", str(out), "--checkpoint", str(ck), "--find-best-frame",
                "--gif", str(gif), "--side-by-side", str(sbs), "--device", "cpu") == 0
    frames, _ = read_video(out)
    assert frames.shape == (10, 64, 64, 3)
    assert read_video(sbs)[0].shape == (10, 64, 192, 3)
    assert gif.stat().st_size > 0
    assert "SYNTHETIC" in video_metadata(out)["title"]
    assert "wrote" in capsys.readouterr().out


def test_cli_errors_are_one_line_and_nonzero(tmp_path, capsys) -> None:
    img, video = _face_files(tmp_path)
    ck = tmp_path / "lstm" / "latest.pt"
    assert _cli(str(img), str(video), "-o", str(tmp_path / "o.mp4"), "--checkpoint", str(tmp_path / "no.pt")) == 2
    err = capsys.readouterr().err.strip()
    assert "no.pt" in err and "\n" not in err
    tiny_checkpoint(ck)
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    assert _cli(str(img), str(bad), "-o", str(tmp_path / "o.mp4"), "--checkpoint", str(ck)) == 2
    err = capsys.readouterr().err.strip()
    assert "bad.mp4" in err and "\n" not in err
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"\x00" * 10)
    assert _cli(str(img), str(video), "-o", str(tmp_path / "o.mp4"), "--checkpoint", str(corrupt)) == 2
    assert "corrupt.pt" in capsys.readouterr().err
    # a non-square image with no face in it (flat grey): the face crop finds nothing
    from PIL import Image

    blank = tmp_path / "blank.png"
    Image.fromarray(np.full((90, 120, 3), 128, np.uint8)).save(blank)
    assert _cli(str(blank), str(video), "-o", str(tmp_path / "o.mp4"), "--checkpoint", str(ck)) == 2
    err = capsys.readouterr().err.strip()
    assert "blank.png" in err and "no face" in err
    assert not (tmp_path / "o.mp4").exists()


def test_a_large_square_photo_is_cropped_to_its_face():
    """A square photo bigger than the model's frames is a scene, not a crop: the face is cut out."""
    import numpy as np
    import skimage.data

    from lstmgan.generate.animate import crop_faces

    photo = skimage.data.astronaut()  # 512 x 512, face in the upper middle
    crop = crop_faces(photo[None], 64, "astronaut.png", detector="lbp")[0]
    whole = crop_faces(photo[None, ::8, ::8], 64, "astronaut-small.png", detector="lbp")[0]  # already 64 px
    assert crop.shape == (64, 64, 3)
    assert np.abs(crop.astype(int) - whole.astype(int)).mean() > 20  # a zoomed-in face, not the scene


def test_a_keypoint_filter_smooths_the_driving_keypoints_before_the_transfer(nets) -> None:
    from lstmgan.generate.filters import OneEuro

    gen = torch.Generator().manual_seed(2)
    source, driving = torch.rand(3, 64, 64, generator=gen), torch.rand(9, 3, 64, 64, generator=gen)
    euro = OneEuro(min_cutoff=0.5, beta=0.0)
    plain = Animator(nets, "cpu", adapt_scale=False).animate(source, driving)
    filtered = Animator(nets, "cpu", adapt_scale=False, kp_filter=euro.keypoints).animate(source, driving)
    expected = euro(plain.kp_driving)  # relative motion: kp_source + filtered track - its first frame
    torch.testing.assert_close(filtered.kp_used, plain.kp_source + expected - expected[:1], atol=1e-5, rtol=0)
    assert torch.equal(filtered.kp_driving, plain.kp_driving)  # the detector's own track is reported as is
    assert float((filtered.frames - plain.frames).abs().max()) > 1e-4
