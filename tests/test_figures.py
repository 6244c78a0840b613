"""The figure modules of notebooks 01-03 (lstmgan/{data,gan,generate}/figures.py) on small inputs
with known content, the shared plotting/notebook/progress helpers, and notices said once."""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from lstmgan.utils.plotting import PALETTE

matplotlib = pytest.importorskip("matplotlib")


def _rendered(fig):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


def _legend_is_outside(fig, ax, legend) -> bool:
    """True when the legend's box does not overlap the axes' data area."""
    renderer = _rendered(fig)
    return not legend.get_window_extent(renderer).overlaps(ax.get_window_extent(renderer))


def _saved(path) -> bool:
    return path.is_file() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def store(tmp_path_factory):
    from lstmgan.media.store import FaceStore, StoreWriter

    root = tmp_path_factory.mktemp("figs") / "faces"
    rng = np.random.default_rng(0)
    with StoreWriter(root, size=32, fps=25, kind="synth", write_videos=False) as writer:
        for split, count in (("train", 2), ("val", 1), ("test", 1)):
            for i in range(count):
                for v in range(2):
                    writer.add_video(f"{split}{i}_v{v}", f"{split}{i}", split,
                                     rng.integers(0, 255, (4, 32, 32, 3), dtype=np.uint8))
    return FaceStore(root)


def test_contact_sheet_shows_one_frame_per_identity_framed_by_split(store, tmp_path):
    from lstmgan.data import figures
    from lstmgan.data.figures import SPLIT_COLOURS

    fig = figures.contact_sheet(store, path=tmp_path / "sheet.png")
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 4  # identities, not videos
    assert {ax.get_title() for ax in shown} == {"train0", "train1", "val0", "test0"}
    val = next(ax for ax in shown if ax.get_title() == "val0")
    assert matplotlib.colors.same_color(val.spines["left"].get_edgecolor(), SPLIT_COLOURS["val"])
    np.testing.assert_allclose(val.images[0].get_array(), store.frames("val0_v0")[0] / 255, atol=1e-6)
    assert _saved(tmp_path / "sheet.png")


def test_landmarks_strip_colours_each_face_part_and_keys_them_below():
    from lstmgan.data import figures

    frames = np.zeros((10, 32, 32, 3), np.uint8)
    landmarks = np.tile(np.linspace(2, 30, 68)[:, None], (10, 1, 2))
    boxes = np.tile([4.0, 4.0, 28.0, 28.0], (10, 1))
    fig = figures.landmarks_strip(frames, landmarks, boxes, title="v", count=6)
    axes = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title() for ax in axes] == [f"frame {t}" for t in (0, 1, 3, 5, 7, 9)]
    mouth = axes[0].collections[-1]  # one scatter per group, mouth last
    assert len(mouth.get_offsets()) == 20
    assert matplotlib.colors.same_color(mouth.get_facecolor()[0], figures.LANDMARK_COLOURS["mouth"])
    assert [t.get_text() for t in fig.legends[0].get_texts()][-2:] == ["mouth 48-67", "face box"]


def test_motion_plot_has_units_and_legends_beside_the_curves():
    from lstmgan.data import figures

    t = np.arange(50)
    pose = np.stack([np.radians(10) * np.sin(t / 8), np.zeros(50), np.full(50, np.radians(5))], 1)
    expression = np.stack([np.linspace(0, 1, 50), np.ones(50)], 1)
    fig = figures.motion_plot(pose, expression, 25, ["yaw", "pitch", "roll"], ["mouth_open", "eye_open"])
    left, right = fig.axes[:2]
    assert left.get_ylabel() == "angle (degrees)" and left.get_xlabel() == "time (s)"
    assert "0 = closed" in right.get_ylabel()
    np.testing.assert_allclose(left.lines[2].get_ydata(), 5.0)  # roll in degrees
    np.testing.assert_allclose(left.lines[0].get_xdata()[-1], 49 / 25)  # seconds
    assert _legend_is_outside(fig, left, left.get_legend()) and _legend_is_outside(fig, right, right.get_legend())


def test_psnr_and_the_compression_figure_on_known_differences(tmp_path):
    from lstmgan.data import figures

    raw = np.full((3, 16, 16, 3), 100, np.uint8)
    decoded = {"raw": raw, "c23": raw + 1, "c40": raw + 8}
    assert figures.psnr(raw, raw) == float("inf")
    assert figures.psnr(raw, raw + 1) == pytest.approx(10 * np.log10(255 ** 2), abs=1e-9)
    table = figures.compression_table(decoded)
    assert list(table.index) == ["raw", "c23", "c40"]
    assert table.loc["c40", "PSNR vs raw (dB)"] == pytest.approx(round(10 * np.log10(255 ** 2 / 64), 2))
    fig = figures.compression_figure(decoded, t=1, path=tmp_path / "c.png")
    maps = [ax.images[0] for ax in fig.axes if ax.images and ax.images[0].get_array().ndim == 2]
    assert [float(m.get_array().mean()) for m in maps] == [1.0, 8.0]
    assert all(m.get_clim() == (0, 32.0) for m in maps)  # one fixed scale
    assert any(ax.get_label() == "<colorbar>" for ax in fig.axes)


# --------------------------------------------------------------------------------------------
# gan
# --------------------------------------------------------------------------------------------
HISTORY = {"gen/reconstruction": [(25, 0.4), (50, 0.2)], "gen/gen_gan": [(25, 0.05), (50, 0.06)],
           "gen/total": [(25, 0.5), (50, 0.3)], "disc/disc": [(25, 0.3), (50, 0.25)],
           "disc/acc_real": [(25, 0.6), (50, 0.5)], "disc/acc_fake": [(25, 0.7), (50, 0.5)],
           "val/l1": [(50, 0.03)], "val/copy_l1": [(50, 0.05)]}


def test_loss_and_accuracy_curves_are_labelled_with_legends_outside():
    from lstmgan.gan import figures

    fig = figures.losses(HISTORY)
    for ax in fig.axes:
        assert ax.get_yscale() == "log" and ax.get_xlabel() == "training step" and "loss" in ax.get_ylabel()
        assert _legend_is_outside(fig, ax, ax.get_legend())
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["gen_gan", "reconstruction", "total (weighted sum)"]
    fig = figures.discriminator_accuracy(HISTORY)
    ax = fig.axes[0]
    assert ax.get_ylabel() == "share of patches judged right"
    assert "chance (0.5)" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_validation_l1_draws_the_quality_bar_from_the_given_ratio():
    from lstmgan.gan import figures

    fig = figures.validation_l1(HISTORY, 0.75)
    bar = next(line for line in fig.axes[0].lines if line.get_label().startswith("quality bar"))
    assert bar.get_label() == "quality bar (0.75 x copy)"
    np.testing.assert_allclose(bar.get_ydata(), [0.75 * 0.05])


def _batch(rows=2, clip=3, size=16, k=4, seed=0):
    """A batch and a generator-output dict with the shapes of lstmgan.gan.train.reconstruct."""
    import torch

    g = torch.Generator().manual_seed(seed)
    src, drv = torch.rand(rows, 3, size, size, generator=g), torch.rand(rows, clip, 3, size, size, generator=g)
    h = size // 2
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, h), indexing="ij")
    identity = torch.stack([xs, ys], -1).expand(rows, clip, h, h, 2).clone()
    identity[..., 0] += 0.1  # every pixel fetched from 0.1 to the right
    kp = torch.rand(rows, clip, k, 2, generator=g) * 2 - 1
    out = {"prediction": torch.rand(rows, clip, 3, size, size, generator=g), "deformed": drv.clone(),
           "decoded": torch.zeros(rows, clip, 3, size, size), "deformation": identity,
           "occlusion": torch.full((rows, clip, 1, h, h), 0.97), "mask": torch.rand(rows, clip, k + 1, h, h, generator=g),
           "kp_source": {"value": kp[:, 0], "jacobian": torch.eye(2).expand(rows, k, 2, 2)},
           "kp_driving": {"value": kp, "jacobian": torch.eye(2).expand(rows, clip, k, 2, 2)}}
    return src, drv, out


def test_reconstructions_show_the_error_maps_on_a_fixed_scale(tmp_path):
    from lstmgan.gan import figures

    src, drv, out = _batch()
    fig = figures.reconstructions(src, drv, out, path=tmp_path / "r.png")
    grid = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert len(grid) == 2 * 7  # 7 columns, not 1 + 4 x clip
    error = grid[3].images[0]
    expected = (out["prediction"][0, -1] - drv[0, -1]).abs().mean(0).numpy()
    np.testing.assert_allclose(error.get_array(), expected, rtol=1e-6)
    copying = (src[0] - drv[0, -1]).abs().mean(0).numpy()
    np.testing.assert_allclose(grid[4].images[0].get_array(), copying, rtol=1e-6)
    assert error.get_clim() == (0, figures.ERROR_RANGE)
    assert grid[3].texts[0].get_text() == f"{expected.mean():.3f}"
    assert _saved(tmp_path / "r.png")


def test_keypoint_spread_known_answers():
    from lstmgan.gan.figures import keypoint_spread

    assert keypoint_spread(np.array([[[-1.0, 0.0], [1.0, 0.0]]]), 65) == pytest.approx(32.0)
    assert keypoint_spread(np.zeros((3, 10, 2)), 64) == 0.0  # all on one spot: collapsed


def test_keypoints_figure_keys_every_keypoint_and_states_the_spread():
    from lstmgan.gan import figures

    src, drv, out = _batch(k=4)
    fig = figures.keypoints(src, drv, out)
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [f"keypoint {k}" for k in range(4)]
    spread = figures.keypoint_spread(np.concatenate([out["kp_source"]["value"][:, None].numpy(),
                                                     out["kp_driving"]["value"].numpy()], 1), 16)
    assert f"{spread:.1f} px in a 16 px frame" in fig._suptitle.get_text()


def test_flow_colours_and_key():
    from matplotlib.colors import rgb_to_hsv

    from lstmgan.gan.figures import displacement, flow_colour, flow_key

    ys, xs = np.meshgrid(np.linspace(-1, 1, 5), np.linspace(-1, 1, 5), indexing="ij")
    assert np.abs(displacement(np.stack([xs, ys], -1))).max() < 1e-12
    still = flow_colour(np.zeros((2, 2, 2)), 1.0)
    np.testing.assert_allclose(still, 0.0)  # no motion = black
    right = flow_colour(np.array([[[0.5, 0.0]]]), 0.5)
    np.testing.assert_allclose(right[0, 0], [0.0, 1.0, 1.0])  # full length to the right = cyan
    key = flow_key(33)
    assert np.allclose(key[16, 32], right[0, 0]) and np.allclose(key[0, 0], 1.0)  # right rim; white corner
    assert rgb_to_hsv(key[16, 24])[2] == pytest.approx(0.5, abs=0.02)  # half-way out = half bright


def test_dense_motion_has_a_fixed_occlusion_scale_and_a_motion_key():
    from lstmgan.gan import figures

    src, drv, out = _batch(k=4)
    fig = figures.dense_motion(src, drv, out, min_rim_px=0.5)
    occlusion = [ax.images[0] for ax in fig.axes if ax.images and ax.get_title() == "occlusion map"][0]
    assert occlusion.get_clim() == (0, 1)
    np.testing.assert_allclose(occlusion.get_array(), 0.97)
    bars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert len(bars) == 2
    assert [t.get_text() for t in bars[0].get_xticklabels()] == ["bg", "0", "1", "2", "3"]
    key = next(ax for ax in fig.axes if ax.get_title().startswith("flow key"))
    assert key.get_title() == "flow key\n(rim = 0.75 px)"  # 0.1 in [-1, 1] units of a 16 px frame
    flow = next(ax for ax in fig.axes if ax.get_title() == "dense flow").images[0].get_array()
    assert flow.max() == pytest.approx(1.0, abs=1e-6)  # the largest displacement at full brightness
    fig = figures.dense_motion(src, drv, out, min_rim_px=1.5)  # flows under 1.5 px look darker
    key = next(ax for ax in fig.axes if ax.get_title().startswith("flow key"))
    flow = next(ax for ax in fig.axes if ax.get_title() == "dense flow").images[0].get_array()
    assert key.get_title() == "flow key\n(rim = 1.5 px)" and flow.max() == pytest.approx(0.5, abs=1e-6)


# --------------------------------------------------------------------------------------------
# generate
# --------------------------------------------------------------------------------------------
def test_per_video_metrics_label_units_and_draw_every_video():
    from lstmgan.generate import figures

    per_video = pd.DataFrame({"method": ["lstm"] * 3 + ["copy-source"] * 3, "l1": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
                              "akd": [1.0] * 6, "flicker": [0.01] * 6, "warp_error": [0.02] * 6})
    fig = figures.per_video_metrics(per_video, ["lstm", "copy-source"], 64)
    l1, akd = fig.axes[:2]
    assert l1.get_ylabel() == "L1 (mean |error|, pixels in [0, 1])" and akd.get_ylabel() == "AKD (px at 64 px)"
    dots = [c for c in l1.collections if len(c.get_offsets())]
    np.testing.assert_allclose(dots[1].get_offsets()[:, 1], [0.4, 0.5, 0.6])
    assert matplotlib.colors.same_color(dots[0].get_facecolor()[0], PALETTE[0])


def test_keypoint_tracks_have_units_on_both_axes_and_a_legend():
    from lstmgan.generate import figures

    kp = np.zeros((20, 3, 2))
    kp[:, 1, 0] = 1.0  # keypoint 1 at the right edge
    fig = figures.keypoint_tracks(kp, "vid", 25, 33)
    x_ax = fig.axes[0]
    assert x_ax.get_xlabel() == "time (s)" and x_ax.get_ylabel().startswith("keypoint x")
    np.testing.assert_allclose(x_ax.lines[1].get_ydata(), 1.0)
    assert [ax.get_ylabel() for ax in x_ax.child_axes] == ["x (px at 33 px)"]  # the right-hand axis
    legend = fig.axes[1].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["keypoint 0", "keypoint 1", "keypoint 2"]
    assert _legend_is_outside(fig, fig.axes[1], legend)


def test_cross_identity_grid_labels_its_rows():
    from lstmgan.generate import figures

    frames = np.zeros((13, 8, 8, 3), np.uint8)
    ex = {"source": frames[0], "driving": frames, "pred": frames, "source_video": "a", "driving_video": "b"}
    fig = figures.cross_identity_grid({"lstm": [ex], "none": [ex]}, ["lstm", "none"], fps=25)
    labels = [ax.get_ylabel() for ax in fig.axes if ax.get_ylabel()]
    assert labels == ["driving B\nb", "generated\nby lstm", "generated\nby none"]
    assert [ax.get_title() for ax in fig.axes[1:5]] == [f"t = {t / 25:.2f} s (frame {t})" for t in (0, 4, 8, 12)]


def test_export_examples_read_the_provenance_of_each_png(tmp_path):
    from PIL import Image, PngImagePlugin

    from lstmgan.generate import figures

    rows = []
    for label, method in (("real", "original"), ("fake", "lstm")):
        for comp in ("raw", "c23", "c40"):
            rel = f"{comp}/test/{label}/frames/{label}_0000.png"
            (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
            info = PngImagePlugin.PngInfo()
            info.add_text("Synthetic", "true" if label == "fake" else "false")
            info.add_text("Method", method)
            Image.new("RGB", (8, 8)).save(tmp_path / rel, pnginfo=info)
            rows.append({"split": "test", "frame": 0, "label": label, "video_id": f"{label}_v", "compression": comp,
                         "path": rel})
    fig = figures.export_examples(pd.DataFrame(rows), tmp_path)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0] == "raw: Synthetic=false, original" and titles[3] == "raw: Synthetic=true, lstm"


# --------------------------------------------------------------------------------------------
# shared helpers
# --------------------------------------------------------------------------------------------
def test_show_outside_ipython_saves_and_displays_nothing(tmp_path, capsys):
    from lstmgan.utils import notebook as nb
    from lstmgan.utils.plotting import new_figure

    fig, axes = new_figure()
    axes[0, 0].plot([0, 1])
    assert nb.show(fig, tmp_path / "sub" / "f.png") is None
    assert _saved(tmp_path / "sub" / "f.png") and capsys.readouterr().out == ""


def test_progress_bars_only_when_someone_watches(monkeypatch):
    from lstmgan.utils import progress as P

    monkeypatch.delenv("LSTMGAN_PROGRESS", raising=False)
    assert not P.progress_enabled()  # pytest captures stderr: not a terminal
    assert P.progress(range(3)).disable
    monkeypatch.setenv("LSTMGAN_PROGRESS", "1")
    assert P.progress_enabled() and not P.progress(range(3), file=open("/dev/null", "w")).disable
    assert P.progress(range(3), disable=True).disable  # the caller's own reason still wins
    monkeypatch.setenv("LSTMGAN_PROGRESS", "off")
    assert not P.progress_enabled()


def test_summary_steps_known_answers():
    from lstmgan.utils.progress import summary_steps

    assert summary_steps(600) == {120, 240, 360, 480, 600}
    assert summary_steps(3) == {1, 2, 3} and summary_steps(0) == set()
    assert summary_steps(10, lines=3) == {3, 7, 10}


def test_a_missing_weight_file_is_reported_once(tmp_path, monkeypatch, caplog):
    import torch

    from lstmgan.detect.models import build_detector

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))  # an empty hub cache
    logger = logging.getLogger("lstmgan")
    extra = [] if logger.propagate else [caplog.handler]  # utils.log.setup_logging stops propagation
    for handler in extra:
        logger.addHandler(handler)
    try:
        with caplog.at_level(logging.INFO, logger="lstmgan"):
            for _ in range(3):
                build_detector("resnet18", "auto", hidden=0)
    finally:
        for handler in extra:
            logger.removeHandler(handler)
    said = [r for r in caplog.records if "weights not found" in r.getMessage() and r.levelno == logging.INFO]
    assert len(said) == 1 and str(tmp_path) in said[0].getMessage()


def test_training_sample_titles_frames_by_their_number_in_the_video():
    from lstmgan.gan import figures

    src, drv, _ = _batch(rows=1, clip=3)
    fig = figures.training_sample(src[0], drv[0], source_frame=7, start=2)
    assert [ax.get_title() for ax in fig.axes] == ["source (frame 7)", "driving, frame 2", "driving, frame 3",
                                                   "driving, frame 4"]
