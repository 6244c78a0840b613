"""The GAN training loop: clips, overfitting, exact resume, NaN stop, 2-process DDP, the CLI.

Everything runs on a tiny store of moving discs (32 px) written through the real StoreWriter,
with the real networks at tiny widths, so the whole file takes well under a minute or two.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from lstmgan.config import load_params
from lstmgan.errors import UserError

ROOT = Path(__file__).resolve().parents[1]
SIZE, FRAMES, CLIP = 32, 10, 3

TINY = [
    "gan.model.num_kp=4", "gan.model.kp_block_expansion=8", "gan.model.kp_max_features=32", "gan.model.kp_num_blocks=2",
    "gan.model.dm_block_expansion=8", "gan.model.dm_max_features=32", "gan.model.dm_num_blocks=2",
    "gan.model.block_expansion=8", "gan.model.max_features=32", "gan.model.num_bottleneck_blocks=1", "gan.model.lstm_hidden=8",
    "gan.model.disc_block_expansion=8", "gan.model.disc_max_features=32", "gan.model.disc_num_blocks=2",
    f"gan.train.clip_len={CLIP}", "gan.train.batch_size=2", "gan.run.val_batches=1", "gan.run.log_every=1",
    "gan.train.warmup_steps=2", "gan.run.num_workers=0",
]


def _disc_video(rng: np.random.Generator) -> np.ndarray:
    """A coloured disc moving over a flat background: (FRAMES, SIZE, SIZE, 3) uint8."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] / SIZE
    background, colour = rng.uniform(0.1, 0.9, 3), rng.uniform(0.0, 1.0, 3)
    centre, velocity = rng.uniform(0.35, 0.65, 2), rng.uniform(-0.03, 0.03, 2)
    frames = []
    for t in range(FRAMES):
        cx, cy = centre + velocity * t
        disc = ((xx - cx) ** 2 + (yy - cy) ** 2) < 0.03
        frames.append((np.where(disc[..., None], colour, background) * 255).round().astype(np.uint8))
    return np.stack(frames)


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def store_root(tmp_path_factory) -> Path:
    from lstmgan.media.store import StoreWriter

    root = tmp_path_factory.mktemp("data") / "faces"
    rng = np.random.default_rng(0)
    with StoreWriter(root, size=SIZE, fps=25, kind="synth", write_videos=False) as writer:
        for split, identities in (("train", 3), ("val", 2), ("test", 1)):
            for i in range(identities):
                for v in range(2):
                    writer.add_video(f"{split}{i}_v{v}", f"{split}{i}", split, _disc_video(rng))
    from lstmgan.config import DegradeParams
    from lstmgan.data.degrade import degrade_store

    degrade_store(root, DegradeParams(), seed=0)  # the default trains keypoints on the degraded copy too
    return root


def _params(store_root: Path, *extra: str):
    return load_params(ROOT / "params.yaml", [f"data.out={store_root}", f"data.size={SIZE}", *TINY, *extra])


def _train(store_root: Path, out: Path, *extra: str, resume: bool = False) -> dict:
    from lstmgan.gan.train import train

    return train(_params(store_root, *extra), out_dir=out / "ck", resume=resume, log_dir=out / "logs",
                 metrics_path=out / "metrics.json", progress=False)


# --------------------------------------------------------------------------------------------
def test_clip_samples_come_from_one_video_with_the_right_shapes(store_root):
    from lstmgan.gan.clips import ClipDataset
    from lstmgan.media.store import open_store

    store = open_store(store_root)
    dataset = ClipDataset(store, "train", CLIP, seed=0)
    assert len(dataset) == 6 * (FRAMES - CLIP + 1)
    for index in (0, 7, len(dataset) - 1):
        ref = dataset.ref(index)
        source, driving = dataset[index]
        assert source.shape == (3, SIZE, SIZE) and driving.shape == (CLIP, 3, SIZE, SIZE)
        assert source.dtype == torch.float32 and 0.0 <= float(driving.min()) <= float(driving.max()) <= 1.0
        video = torch.from_numpy(np.array(store.frames(ref.video_id))).float().div(255).permute(0, 3, 1, 2)
        assert torch.equal(driving, video[ref.start:ref.start + CLIP])
        assert torch.equal(source, video[ref.source])
    # a sample depends only on (seed, epoch, index): same again, other source frames next epoch
    again = ClipDataset(store, "train", CLIP, seed=0)
    assert [again.ref(i) for i in range(40)] == [dataset.ref(i) for i in range(40)]
    dataset.set_epoch(1)
    assert [dataset.ref(i).source for i in range(40)] != [again.ref(i).source for i in range(40)]


def test_validation_samples_are_fixed_and_cover_the_val_videos(store_root):
    from lstmgan.gan.clips import FixedClipDataset, fixed_batches
    from lstmgan.media.store import open_store

    store = open_store(store_root)
    first = FixedClipDataset(store, "val", CLIP, count=6)
    second = FixedClipDataset(open_store(store_root), "val", CLIP, count=6)
    assert first.refs == second.refs and len(first) == 6
    assert {r.video_id for r in first.refs} == {r.video_id for r in store.split("val")}
    assert all(r.source == 0 and 1 <= r.start <= FRAMES - CLIP for r in first.refs)
    batches = fixed_batches(first, 4)
    assert [b[1].shape for b in batches] == [(4, CLIP, 3, SIZE, SIZE), (2, CLIP, 3, SIZE, SIZE)]
    with pytest.raises(UserError, match="no 'val' video"):
        FixedClipDataset(store, "val", FRAMES + 1, count=2)


def test_missing_store_is_a_user_error(tmp_path):
    from lstmgan.media.store import open_store

    with pytest.raises(UserError, match="lstmgan prepare"):
        open_store(tmp_path / "nothing")


def test_learning_rate_warms_up_then_decays_to_zero(store_root):
    from lstmgan.gan.train import lr_factor

    gan = _params(store_root, "gan.train.steps=100", "gan.train.warmup_steps=10").gan
    factor = lr_factor(gan)
    assert factor(0) < factor(5) < factor(9) <= 1.0
    assert factor(10) == pytest.approx(1.0) and factor(100) == pytest.approx(0.0, abs=1e-9)
    gan.train.lr_schedule = "constant"
    assert lr_factor(gan)(60) == 1.0


def test_discriminator_keeps_its_own_schedule(store_root):
    """disc_lr_schedule=constant: after the warm-up D stays at lr x disc_lr_scale while G's decays."""
    from lstmgan.gan.train import build_models, make_optimizers

    gan = _params(store_root, "gan.train.steps=20", "gan.train.warmup_steps=2", "gan.train.lr=1e-3",
                  "gan.train.disc_lr_scale=4", "gan.train.disc_lr_schedule=constant").gan
    nets, _, _ = build_models(gan, 64, torch.device("cpu"))
    optimizers, schedulers = make_optimizers(nets, gan)
    for _ in range(19):
        for name in optimizers:
            optimizers[name].step()
            schedulers[name].step()
    assert schedulers["discriminator"].get_last_lr()[0] == pytest.approx(4e-3)
    assert schedulers["generator"].get_last_lr()[0] < 1e-4


def test_a_few_steps_on_a_fixed_batch_lower_the_reconstruction_loss(store_root):
    from lstmgan.gan.clips import FixedClipDataset, fixed_batches
    from lstmgan.media.store import open_store
    from lstmgan.models.full_model import DiscriminatorFullModel, GeneratorFullModel, build_networks
    from lstmgan.gan.train import make_optimizers, train_step
    from lstmgan.utils.seed import seed_everything

    gan = _params(store_root, "gan.train.lr=2e-3", "gan.train.warmup_steps=0", "gan.train.lr_schedule=constant",
                  "gan.train.steps=30").gan
    source, driving = fixed_batches(FixedClipDataset(open_store(store_root), "val", CLIP, 4), 4)[0]
    seed_everything(0)
    nets = build_networks(gan, SIZE)
    gen, disc = GeneratorFullModel(nets, gan, SIZE), DiscriminatorFullModel(nets, gan, SIZE)
    optimizers, _ = make_optimizers(nets, gan)
    losses = [train_step(gen, disc, optimizers, source, driving, gan, None, step)["gen/reconstruction"]
              for step in range(1, 31)]
    assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:3]), losses


def test_resume_continues_exactly_like_an_uninterrupted_run(store_root, tmp_path):
    settings = ("gan.train.steps=4", "gan.run.checkpoint_every=2", "gan.run.val_every=2")
    full = _train(store_root, tmp_path / "full", *settings)
    assert sorted(p.name for p in (tmp_path / "full" / "ck").iterdir()) == [
        "checkpoint-2.pt", "checkpoint-4.pt", "latest.pt"]
    # "interrupt" after step 2: a fresh folder holding only that checkpoint, then --resume
    (tmp_path / "cut" / "ck").mkdir(parents=True)
    (tmp_path / "cut" / "ck" / "checkpoint-2.pt").write_bytes(
        (tmp_path / "full" / "ck" / "checkpoint-2.pt").read_bytes())
    resumed = _train(store_root, tmp_path / "cut", *settings, resume=True)

    a = torch.load(tmp_path / "full" / "ck" / "latest.pt", weights_only=False)
    b = torch.load(tmp_path / "cut" / "ck" / "latest.pt", weights_only=False)
    assert a["step"] == b["step"] == 4
    assert set(a["models"]) >= {"kp_detector", "generator", "discriminator"}
    for name, state in a["models"].items():
        for key, tensor in state.items():
            assert torch.equal(tensor, b["models"][name][key]), f"{name}.{key} differs after resume"
    assert a["optimizers"]["generator"]["state"][0]["step"] == b["optimizers"]["generator"]["state"][0]["step"]
    assert full["val_l1"] == resumed["val_l1"] and full["steps"] == resumed["steps"] == 4
    # what the stage records
    metrics = json.loads((tmp_path / "full" / "metrics.json").read_text())
    assert {"val_l1", "copy_l1", "ratio", "steps"} <= set(metrics)
    # timings sit beside the metrics, so that `dvc metrics diff` of a rerun shows no change
    timing = json.loads((tmp_path / "full" / "metrics_time.json").read_text())
    assert {"wall_seconds", "frames_per_second"} <= set(timing) and not set(timing) & set(metrics)
    assert metrics["ratio"] == pytest.approx(metrics["val_l1"] / metrics["copy_l1"])
    from lstmgan.gan.metrics_log import read_history

    history = read_history(tmp_path / "full" / "logs")
    assert [s for s, _ in history["gen/reconstruction"]] == [1, 2, 3, 4]
    assert {"disc/acc_real", "disc/acc_fake", "val/l1", "val/copy_l1", "val/ratio", "lr"} <= set(history)
    assert [s for s, _ in read_history(tmp_path / "cut" / "logs")["gen/reconstruction"]] == [3, 4]


def test_a_nan_loss_stops_naming_step_and_term_and_keeps_the_last_good_checkpoint(store_root, tmp_path):
    from lstmgan.gan.train import TrainingDiverged

    # an absurd learning rate makes the weights explode after the first step
    with pytest.raises(TrainingDiverged) as info:
        _train(store_root, tmp_path, "gan.train.steps=6", "gan.run.checkpoint_every=1", "gan.train.lr=1e30",
               "gan.train.warmup_steps=0", "gan.train.grad_clip=0")
    match = re.search(r"at step (\d+): loss term '(gen|disc)/\w+' is (nan|inf|-inf)", str(info.value))
    assert match, str(info.value)
    failed = int(match.group(1))
    assert failed >= 2
    latest = torch.load(tmp_path / "ck" / "latest.pt", weights_only=False)
    assert latest["step"] == failed - 1
    assert str(tmp_path / "ck" / f"checkpoint-{failed - 1}.pt") in str(info.value)
    assert not (tmp_path / "ck" / f"checkpoint-{failed}.pt").exists()
    assert isinstance(info.value, UserError)  # the CLI prints it as one line and exits 2


def test_two_process_torchrun_gloo_run_keeps_the_replicas_identical(store_root, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "LSTMGAN_LOG": "WARNING"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               "-m", "lstmgan", "train", "--params", str(ROOT / "params.yaml"), "--no-progress",
               "--out", str(tmp_path / "ck"), "--log-dir", str(tmp_path / "logs"),
               "--metrics", str(tmp_path / "metrics.json")]
    for override in [f"data.out={store_root}", f"data.size={SIZE}", *TINY, "gan.train.steps=3", "gan.run.checkpoint_every=3"]:
        command += ["--set", override]
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    checkpoint = torch.load(tmp_path / "ck" / "latest.pt", weights_only=False)
    assert checkpoint["world_size"] == 2 and checkpoint["step"] == 3
    digests = checkpoint["replica_digests"]
    assert len(digests) == 2 and digests[0] == digests[1]
    assert len(checkpoint["rng"]) == 2
    assert json.loads((tmp_path / "metrics.json").read_text())["processes"] == 2


def test_metric_log_writes_dvclive_layout_and_truncates_on_resume(tmp_path):
    """The TSV/JSON layout the notebook figures and `dvc plots` read; resuming at step 1 drops the
    rows of the steps that will be trained again."""
    from lstmgan.gan.metrics_log import MetricLog, read_history

    log = MetricLog(tmp_path / "run", resume_step=None)
    for step, values in [(1, {"gen/total": 2.5, "disc/acc_real": 0.75, "lr": 1e-4}),
                         (2, {"gen/total": 2.25, "lr": 2e-4})]:
        log.log(step, values)
    log.close()
    assert read_history(tmp_path / "run") == {"gen/total": [(1, 2.5), (2, 2.25)], "disc/acc_real": [(1, 0.75)],
                                              "lr": [(1, 1e-4), (2, 2e-4)]}
    summary = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert summary["gen"]["total"] == 2.25 and summary["disc"]["acc_real"] == 0.75 and summary["step"] == 2
    tsv = (tmp_path / "run" / "plots" / "metrics" / "gen" / "total.tsv").read_text().split()
    assert tsv[:2] == ["step", "total"]
    log = MetricLog(tmp_path / "run", resume_step=1)
    log.log(2, {"gen/total": 9.0})
    log.close()
    assert read_history(tmp_path / "run")["gen/total"] == [(1, 2.5), (2, 9.0)]


def test_a_store_of_another_size_than_data_size_is_a_user_error(store_root, tmp_path):
    with pytest.raises(UserError, match=r"frames are 32 px but data.size is 64"):
        _train(store_root, tmp_path, "data.size=64")


# --------------------------------------------------------------------------------------------
# The discriminator and its probe
# --------------------------------------------------------------------------------------------
def _disc_nets(store_root: Path, *extra: str):
    from lstmgan.models.full_model import build_networks
    from lstmgan.utils.seed import seed_everything

    gan = _params(store_root, *extra).gan
    seed_everything(0)
    return gan, build_networks(gan, SIZE)


def test_probe_of_a_constant_discriminator_gives_its_constant_and_chance_accuracy(store_root):
    """Known answer: a critic whose score layer outputs 0.75 everywhere scores every input 0.75, with
    no spread, and calls every patch real, so the real-vs-generated accuracy is exactly 0.5."""
    from lstmgan.gan.clips import FixedClipDataset, fixed_batches
    from lstmgan.gan.validate import discriminator_probe
    from lstmgan.media.store import open_store

    _, nets = _disc_nets(store_root, "gan.model.disc_spectral_norm=false")
    for disc in nets["discriminator"].discs:
        torch.nn.init.zeros_(disc.score.weight)
        torch.nn.init.constant_(disc.score.bias, 0.75)
    batches = fixed_batches(FixedClipDataset(open_store(store_root), "val", CLIP, 4), 2)
    probe = discriminator_probe(nets, batches, torch.device("cpu"), None)
    for name in ("real", "generated", "blurred", "wrong_pose"):
        assert probe[name] == pytest.approx(0.75, abs=1e-6)
        assert probe[f"{name}_std"] == pytest.approx(0.0, abs=1e-6)
    assert probe["accuracy"] == pytest.approx(0.5)
    assert all(net.training for net in nets.values())  # the probe restores training mode


def test_discriminator_alone_separates_real_from_a_degraded_generator_output(store_root):
    """The frame critic of the default configuration (its optimiser, gradient clipping, spectral
    norm, keypoint conditioning), trained alone for 300 steps against a fixed, visibly degraded
    generator output (the untrained generator's decoder image of each clip), tells held-out real
    frames from the degraded ones; before training it cannot."""
    from lstmgan.gan.clips import FixedClipDataset, fixed_batches
    from lstmgan.gan.train import make_optimizers
    from lstmgan.gan.validate import reconstruct
    from lstmgan.media.store import open_store
    from lstmgan.models.full_model import DiscriminatorFullModel

    gan, nets = _disc_nets(store_root, "gan.loss.disc_decoded=0", "gan.loss.disc_wrong_pose=0",
                           "gan.model.disc_block_expansion=16", "gan.model.disc_max_features=128",
                           "gan.model.disc_num_blocks=3")  # the default critic's widths
    store = open_store(store_root)
    disc = DiscriminatorFullModel(nets, gan, SIZE)
    optimizer = make_optimizers(nets, gan)[0]["discriminator"]

    def degraded(batches):
        with torch.no_grad():
            outs = [reconstruct(nets, source, driving) for source, driving in batches]
        return [(driving, {"prediction": out["decoded"], "kp_driving": out["kp_driving"]})
                for (_, driving), out in zip(batches, outs)]

    train_pairs = degraded(fixed_batches(FixedClipDataset(store, "train", CLIP, 12), 4))
    val_pairs = degraded(fixed_batches(FixedClipDataset(store, "val", CLIP, 8), 4))

    def measure() -> tuple[float, float]:
        """(patch accuracy, mean score on real minus mean score on degraded) on the val clips."""
        disc.eval()
        with torch.no_grad():
            outs = [disc(driving, fake) for driving, fake in val_pairs]
            scores = [(nets["discriminator"](driving.flatten(0, 1), fake["kp_driving"]["value"].flatten(0, 1))[0][1],
                       nets["discriminator"](fake["prediction"].flatten(0, 1),
                                             fake["kp_driving"]["value"].flatten(0, 1))[0][1])
                      for driving, fake in val_pairs]
        disc.train()
        accuracy = float(np.mean([0.5 * (o["acc_real"] + o["acc_fake"]) for o in outs]))
        gap = float(np.mean([(real.mean() - fake.mean()).item() for real, fake in scores]))
        return accuracy, gap

    before, gap_before = measure()
    for step in range(300):
        driving, fake = train_pairs[step % len(train_pairs)]
        optimizer.zero_grad()
        disc(driving, fake)["disc"].backward()
        torch.nn.utils.clip_grad_norm_(nets["discriminator"].parameters(), gan.train.grad_clip)
        optimizer.step()
    after, gap_after = measure()
    assert before < 0.6 and after > 0.65, (before, after)
    assert abs(gap_before) < 0.1 and gap_after > 0.3, (gap_before, gap_after)


def test_discriminator_figures_plot_the_logged_accuracies_and_probe(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from lstmgan.gan.figures import discriminator_accuracy, discriminator_figure
    from lstmgan.gan.metrics_log import MetricLog, read_history

    log = MetricLog(tmp_path, resume_step=None)
    for step in (25, 50):
        log.log(step, {"disc/acc_real": 0.5 + step / 100, "disc/acc_fake": 0.9 - step / 100})
    log.log(50, {"probe/real": 0.8, "probe/real_std": 0.1, "probe/generated": 0.3, "probe/generated_std": 0.05,
                 "probe/accuracy": 0.7})
    log.close()
    history = read_history(tmp_path)
    acc_ax, = discriminator_accuracy(history).axes
    lines = {line.get_label(): (list(line.get_xdata()), list(line.get_ydata())) for line in acc_ax.lines}
    assert lines["on real frames"] == ([25, 50], [0.75, 1.0])
    assert lines["on generated frames"] == ([25, 50], [pytest.approx(0.65), pytest.approx(0.4)])
    assert "on decoder image" not in lines  # series not logged are left out
    probe_ax, probe_acc_ax = discriminator_figure(history, "run").axes  # the probe only: no repeated panel
    probe = {line.get_label(): list(line.get_ydata()) for line in probe_ax.lines}
    assert probe["real frames"] == [0.8] and probe["generated frames"] == [0.3]
    assert "real-vs-generated accuracy" not in probe  # scores and an accuracy never share an axis
    accuracy = {line.get_label(): list(line.get_ydata()) for line in probe_acc_ax.lines}
    assert accuracy["real-vs-generated accuracy"] == [0.7]
    assert len(probe_ax.collections) == 2  # the ±1 sd bands of the two probed inputs


def test_extra_fakes_train_the_critic_on_the_decoder_image_and_the_wrong_pose(store_root):
    """With gan.loss.disc_decoded / disc_wrong_pose on, one step logs the critic's accuracy on each
    extra fake and the generator's term on its decoder image; off, the critic's loss is the plain
    LSGAN loss on (real, generated)."""
    from lstmgan.gan.clips import FixedClipDataset, fixed_batches
    from lstmgan.gan.train import make_optimizers, train_step
    from lstmgan.media.store import open_store
    from lstmgan.models import losses as L
    from lstmgan.models.full_model import DiscriminatorFullModel, GeneratorFullModel

    source, driving = fixed_batches(FixedClipDataset(open_store(store_root), "val", CLIP, 2), 2)[0]
    gan, nets = _disc_nets(store_root, "gan.loss.disc_decoded=1", "gan.loss.gen_decoded=1",
                           "gan.loss.disc_wrong_pose=0.5")
    gen, disc = GeneratorFullModel(nets, gan, SIZE), DiscriminatorFullModel(nets, gan, SIZE)
    values = train_step(gen, disc, make_optimizers(nets, gan)[0], source, driving, gan, None, 1)
    assert {"disc/acc_decoded", "disc/acc_wrong_pose", "gen/gen_gan_decoded"} <= set(values)
    assert all(np.isfinite(v) for v in values.values())
    # gen_decoded 0: the critic still learns the decoder image as fake, the generator is not pushed on it
    gan, nets = _disc_nets(store_root, "gan.loss.disc_decoded=1", "gan.train.disc_lr_scale=4")
    gen, disc = GeneratorFullModel(nets, gan, SIZE), DiscriminatorFullModel(nets, gan, SIZE)
    optimizers = make_optimizers(nets, gan)[0]
    assert optimizers["discriminator"].param_groups[0]["initial_lr"] == pytest.approx(4 * gan.train.lr)
    values = train_step(gen, disc, optimizers, source, driving, gan, None, 1)
    assert "disc/acc_decoded" in values and "gen/gen_gan_decoded" not in values

    gan, nets = _disc_nets(store_root, "gan.loss.disc_decoded=0", "gan.loss.disc_wrong_pose=0")  # no extra fakes
    assert gan.loss.disc_decoded == gan.loss.disc_wrong_pose == 0
    gen, disc = GeneratorFullModel(nets, gan, SIZE), DiscriminatorFullModel(nets, gan, SIZE)
    nets["discriminator"].eval()  # spectral norm's power iteration would move between the calls
    with torch.no_grad():
        _, generated = gen(source, driving)
        out = disc(driving, generated)
        kp = generated["kp_driving"]["value"].flatten(0, 1)
        real = [s for _, s in nets["discriminator"](driving.flatten(0, 1), kp)]
        fake = [s for _, s in nets["discriminator"](generated["prediction"].flatten(0, 1), kp)]
    assert set(out) == {"disc", "acc_real", "acc_fake"}
    assert out["disc"].item() == pytest.approx(L.lsgan_discriminator(real, fake).item(), rel=1e-6)


def test_keypoint_spread_is_the_rms_distance_from_the_centroid_in_pixels():
    from lstmgan.gan.validate import keypoint_spread_px

    kp = torch.tensor([[[-0.5, 0.0], [0.5, 0.0]],      # 0.5 from the centroid each: 16 px at 64 px
                       [[0.2, 0.2], [0.2, 0.2]]])      # collapsed onto one spot: 0 px
    assert keypoint_spread_px(kp, 64).tolist() == pytest.approx([16.0, 0.0])
    kp3 = torch.tensor([[[0.0, 0.0], [0.0, 0.0], [0.0, 0.3]]])  # centroid (0, 0.1): distances 0.1, 0.1, 0.2
    assert keypoint_spread_px(kp3, 2).item() == pytest.approx(((0.01 + 0.01 + 0.04) / 3) ** 0.5)


def test_a_cadence_of_zero_means_at_the_last_step_only():
    from lstmgan.gan.train import _due

    assert [s for s in range(1, 11) if _due(s, 4, 10)] == [4, 8, 10]
    assert [s for s in range(1, 11) if _due(s, 0, 10)] == [10]


def test_wrong_pose_frames_pair_each_frame_with_another_clip_or_the_reversed_clip():
    """Known answer: with several clips, frame (i, j) becomes frame (i - 1, j) (another video, so
    another face and pose); with one clip, the clip reversed in time."""
    from lstmgan.models.full_model import wrong_pose_frames

    clips = torch.arange(3 * 4, dtype=torch.float32).view(3, 4, 1, 1, 1).expand(3, 4, 3, 2, 2)
    out = wrong_pose_frames(clips)
    assert out.shape == (12, 3, 2, 2)
    assert out[:, 0, 0, 0].tolist() == [8, 9, 10, 11, 0, 1, 2, 3, 4, 5, 6, 7]
    assert wrong_pose_frames(clips[:1])[:, 0, 0, 0].tolist() == [3, 2, 1, 0]


def test_degraded_driving_shows_the_keypoints_the_degraded_copy_and_keeps_the_samples(store_root, tmp_path):
    import shutil

    from lstmgan.config import DegradeParams
    from lstmgan.data.degrade import degrade_store
    from lstmgan.gan.clips import ClipDataset
    from lstmgan.media.store import open_store

    plain = tmp_path / "plain"
    shutil.copytree(store_root, plain)
    for name in ("degraded.npy", "degradation.npz"):
        (plain / "cache" / name).unlink()
    with pytest.raises(UserError, match="no degraded copy"):
        ClipDataset(open_store(plain), "train", CLIP, seed=0, degraded=0.5)
    root = tmp_path / "faces"
    shutil.copytree(store_root, root)
    degrade_store(root, DegradeParams(noise=[8.0, 8.0]), seed=0)
    store = open_store(root)
    clean = ClipDataset(store, "train", CLIP, seed=0)
    mixed = ClipDataset(store, "train", CLIP, seed=0, degraded=0.5)
    refs = [mixed.ref(i) for i in range(len(mixed))]
    # the same videos, starts and source frames as without degradation; about half the clips degraded
    assert [(r.video_id, r.source, r.start) for r in refs] == [
        (r.video_id, r.source, r.start) for r in (clean.ref(i) for i in range(len(clean)))]
    assert 0.3 < np.mean([r.degraded for r in refs]) < 0.7
    for index in (next(i for i, r in enumerate(refs) if r.degraded), next(i for i, r in enumerate(refs) if not r.degraded)):
        source, driving, kp_frames = mixed[index]
        ref = refs[index]
        assert torch.equal(driving, clean[index][1])  # the loss always sees the clean frames
        wanted = store.degraded(ref.video_id) if ref.degraded else store.frames(ref.video_id)
        expected = torch.from_numpy(np.array(wanted[ref.start:ref.start + CLIP])).float().div(255).permute(0, 3, 1, 2)
        assert torch.equal(kp_frames, expected)
    # and a run trains on it
    metrics = _train(root, tmp_path / "run", "gan.train.steps=2", "gan.train.degraded_driving=0.5",
                     "gan.run.val_every=2", "gan.run.checkpoint_every=2")
    assert metrics["steps"] == 2 and np.isfinite(metrics["val_l1"])


# --------------------------------------------------------------------------------------------
# Truncated backpropagation through time: gan.train.tbptt_clips consecutive clips per sample
# --------------------------------------------------------------------------------------------
def test_tbptt_samples_are_consecutive_clips_of_one_video(store_root, tmp_path):
    """clips=2: windows of 2 x CLIP frames wherever they fit, the source drawn as for one clip, and
    the degraded keypoint frames cover the same window."""
    import shutil

    from lstmgan.config import DegradeParams
    from lstmgan.data.degrade import degrade_store
    from lstmgan.gan.clips import ClipDataset
    from lstmgan.media.store import open_store

    store = open_store(store_root)
    dataset = ClipDataset(store, "train", CLIP, seed=0, clips=2)
    assert len(dataset) == 6 * (FRAMES - 2 * CLIP + 1)
    for index in (0, 4, len(dataset) - 1):
        ref = dataset.ref(index)
        source, driving = dataset[index]
        video = torch.from_numpy(np.array(store.frames(ref.video_id))).float().div(255).permute(0, 3, 1, 2)
        assert driving.shape == (2 * CLIP, 3, SIZE, SIZE) and 0 <= ref.start <= FRAMES - 2 * CLIP
        assert torch.equal(driving, video[ref.start:ref.start + 2 * CLIP]) and torch.equal(source, video[ref.source])
    again = ClipDataset(open_store(store_root), "train", CLIP, seed=0, clips=2)
    assert [again.ref(i) for i in range(len(again))] == [dataset.ref(i) for i in range(len(dataset))]
    with pytest.raises(UserError, match="tbptt_clips"):
        ClipDataset(store, "train", CLIP, clips=4)  # 12 frames: longer than every video
    root = tmp_path / "faces"
    shutil.copytree(store_root, root)
    degrade_store(root, DegradeParams(noise=[8.0, 8.0]), seed=0)
    mixed = ClipDataset(open_store(root), "train", CLIP, seed=0, degraded=1.0, clips=2)
    ref = mixed.ref(3)
    _, driving, kp_frames = mixed[3]
    wanted = torch.from_numpy(np.array(open_store(root).degraded(ref.video_id)[ref.start:ref.start + 2 * CLIP]))
    assert driving.shape == kp_frames.shape == (2 * CLIP, 3, SIZE, SIZE)
    assert torch.equal(kp_frames, wanted.float().div(255).permute(0, 3, 1, 2))


def test_samples_carry_the_driving_landmarks_when_a_face_part_loss_needs_them(tmp_path):
    from lstmgan.gan.clips import ClipDataset
    from lstmgan.media.store import StoreWriter, open_store

    root = tmp_path / "faces"
    rng = np.random.default_rng(0)
    with StoreWriter(root, size=SIZE, fps=25, kind="synth", write_videos=False) as writer:
        for split in ("train", "val"):
            for v in range(2):
                landmarks = rng.uniform(4, SIZE - 4, (FRAMES, 68, 2)).astype(np.float32)
                writer.add_video(f"{split}_v{v}", f"{split}{v}", split, _disc_video(rng), landmarks=landmarks)
    store = open_store(root)
    plain = ClipDataset(store, "train", CLIP, seed=0)
    with_lm = ClipDataset(store, "train", CLIP, seed=0, landmarks=True)
    for index in (0, len(with_lm) - 1):
        ref = with_lm.ref(index)
        source, driving, kp_frames, landmarks = with_lm[index]
        assert torch.equal(source, plain[index][0]) and torch.equal(driving, plain[index][1])
        assert torch.equal(kp_frames, driving)  # no degraded copy asked for: the clean frames
        wanted = np.array(store.landmarks(ref.video_id)[ref.start:ref.start + CLIP], np.float32)
        assert landmarks.shape == (CLIP, 68, 2) and landmarks.dtype == torch.float32
        assert torch.equal(landmarks, torch.from_numpy(wanted))
    # and training reads them: the term is logged
    metrics = _train(root, tmp_path / "run", "gan.train.steps=1", "gan.loss.face_parts=10",
                     "gan.train.degraded_driving=0", "gan.run.val_every=1", "gan.run.log_every=1")
    assert metrics["steps"] == 1
    logged = (tmp_path / "run" / "logs" / "plots" / "metrics" / "gen" / "face_parts.tsv").read_text().split()
    assert logged[:2] == ["step", "face_parts"] and float(logged[-1]) > 0


def _step_models(store_root: Path, *extra: str):
    """(gan, networks, generator and discriminator full models, optimisers), seeded."""
    from lstmgan.gan.train import make_optimizers
    from lstmgan.models.full_model import DiscriminatorFullModel, GeneratorFullModel, build_networks
    from lstmgan.utils.seed import seed_everything

    gan = _params(store_root, *extra).gan
    seed_everything(0)
    nets = build_networks(gan, SIZE)
    return gan, nets, GeneratorFullModel(nets, gan, SIZE), DiscriminatorFullModel(nets, gan, SIZE), \
        make_optimizers(nets, gan)[0]


def _single_clip_step(gen, disc, optimizers, source, driving, gan) -> dict[str, float]:
    """The training step on one clip from a zero state, written out: generator losses, backward,
    clipping, Adam; then the discriminator on the same clip."""
    from lstmgan.gan.distributed import host_values

    opt_g, opt_d = optimizers["generator"], optimizers["discriminator"]
    gen_losses, generated = gen(source, driving)
    values = host_values({f"gen/{k}": v for k, v in gen_losses.items()})
    opt_g.zero_grad(set_to_none=True)
    sum(gen_losses.values()).backward()
    torch.nn.utils.clip_grad_norm_([p for g in opt_g.param_groups for p in g["params"]], gan.train.grad_clip)
    opt_g.step()
    opt_d.zero_grad(set_to_none=True)
    disc_out = disc(driving, generated)
    values.update(host_values({f"disc/{k}": v for k, v in disc_out.items()}))
    sum(v for k, v in disc_out.items() if not k.startswith("acc_")).backward()
    torch.nn.utils.clip_grad_norm_([p for g in opt_d.param_groups for p in g["params"]], gan.train.grad_clip)
    opt_d.step()
    return values


@pytest.mark.parametrize("temporal", ["lstm", "none"])
def test_tbptt_clips_1_is_exactly_the_single_clip_step(store_root, temporal):
    from lstmgan.gan.clips import FixedClipDataset, fixed_batches
    from lstmgan.gan.train import train_step
    from lstmgan.media.store import open_store

    source, driving = fixed_batches(FixedClipDataset(open_store(store_root), "val", CLIP, 2), 2)[0]
    runs = []
    for use_train_step in (True, False):
        gan, nets, gen, disc, optimizers = _step_models(store_root, f"gan.temporal={temporal}", "gan.train.tbptt_clips=1")
        torch.manual_seed(7)  # the equivariance warps
        values = [train_step(gen, disc, optimizers, source, driving, gan, None, step) if use_train_step
                  else _single_clip_step(gen, disc, optimizers, source, driving, gan) for step in (1, 2)]
        runs.append((values, {f"{n}.{k}": v for n, net in nets.items() for k, v in net.state_dict().items()}))
    (values_a, weights_a), (values_b, weights_b) = runs
    assert values_a == values_b
    assert weights_a.keys() == weights_b.keys()
    assert all(torch.equal(weights_a[k], weights_b[k]) for k in weights_a), [
        k for k in weights_a if not torch.equal(weights_a[k], weights_b[k])]


class _Recording(torch.nn.Module):
    """A full model that records what each call received, and hooks the state it hands on: a hook
    that fires during a later clip's backward would be a gradient crossing the clip boundary."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model
        self.calls: list[dict] = []

    def forward(self, *args, **kwargs):
        call = {"args": args, "kwargs": kwargs, "grads_into_state": 0,
                "grads_into_earlier_states": [c["grads_into_state"] for c in self.calls]}
        self.calls.append(call)
        losses, generated = self.model(*args, **kwargs)
        for tensor in _tensors(generated.get("state")):
            if tensor.requires_grad:
                tensor.register_hook(lambda grad, call=call: call.update(grads_into_state=call["grads_into_state"] + 1))
        call["state_out"] = generated.get("state")
        return losses, generated


def _tensors(state) -> list[torch.Tensor]:
    if isinstance(state, torch.Tensor):
        return [state]
    if isinstance(state, dict):
        return [t for v in state.values() for t in _tensors(v)]
    if isinstance(state, (tuple, list)):
        return [t for v in state for t in _tensors(v)]
    return []


@pytest.mark.parametrize("temporal", ["lstm", "kp"])
def test_tbptt_step_runs_the_clips_in_order_with_the_state_carried_detached(store_root, temporal):
    from lstmgan.gan.clips import ClipDataset
    from lstmgan.gan.train import train_step
    from lstmgan.media.store import open_store

    dataset = ClipDataset(open_store(store_root), "train", CLIP, seed=0, clips=2)
    source, driving = (torch.stack(x) for x in zip(dataset[0], dataset[9]))
    gan, nets, gen, disc, optimizers = _step_models(store_root, f"gan.temporal={temporal}", "gan.train.tbptt_clips=2")
    gen, disc_inputs = _Recording(gen), []
    disc.register_forward_pre_hook(lambda module, args: disc_inputs.append(args))
    values = train_step(gen, disc, optimizers, source, driving, gan, None, 1)
    assert all(np.isfinite(v) for v in values.values()) and "gen/reconstruction" in values
    first, second = gen.calls
    assert torch.equal(first["args"][1], driving[:, :CLIP]) and torch.equal(second["args"][1], driving[:, CLIP:])
    assert first["args"][3] is None  # clip 1 starts from zeros
    carried, handed_on = _tensors(second["args"][3]), _tensors(first["state_out"])
    assert len(carried) == len(handed_on) > 0
    for into, out in zip(carried, handed_on):  # the same values, cut from clip 1's graph
        assert torch.equal(into, out.detach()) and into.grad_fn is None and not into.requires_grad
    # no gradient from clip 2's losses reached anything clip 1 computed (its state included)
    assert first["grads_into_state"] == second["grads_into_earlier_states"][0]
    # the discriminator judged both clips of both samples: a batch of 2 x 2 clips, clip-major
    (real, generated), = disc_inputs
    assert real.shape == (4, CLIP, 3, SIZE, SIZE) and generated["prediction"].shape == real.shape
    assert torch.equal(real[:2], driving[:, :CLIP]) and torch.equal(real[2:], driving[:, CLIP:])
    assert not generated["prediction"].requires_grad


def test_tbptt_two_step_run_trains_end_to_end(store_root, tmp_path):
    metrics = _train(store_root, tmp_path, "gan.temporal=kp", "gan.train.tbptt_clips=2", "gan.train.steps=2",
                     "gan.run.val_every=2", "gan.run.checkpoint_every=2")
    assert metrics["steps"] == 2 and metrics["temporal"] == "kp" and np.isfinite(metrics["val_l1"])
    from lstmgan.models.full_model import load_networks

    nets, params = load_networks(tmp_path / "ck" / "latest.pt")
    assert params.gan.train.tbptt_clips == 2 and nets["generator"].kp_recurrence is not None
