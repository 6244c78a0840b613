"""Tests of the LSTM-GAN networks and losses (tiny widths, CPU, a few seconds each)."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from lstmgan.config import Params
from lstmgan.errors import UserError
from lstmgan.models import losses as L
from lstmgan.models.blocks import make_grid
from lstmgan.models.convlstm import ConvLSTM
from lstmgan.models.full_model import (DiscriminatorFullModel, GeneratorFullModel, build_networks,
                                       load_networks)


from conftest import tiny_gan as tiny

pytestmark = pytest.mark.usefixtures("one_thread")


def random_kp(b: int, k: int, t: int | None = None, seed: int = 0) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    lead = (b,) if t is None else (b, t)
    value = torch.rand(*lead, k, 2, generator=gen) * 1.2 - 0.6
    jac = torch.eye(2) + 0.2 * torch.randn(*lead, k, 2, 2, generator=gen)
    return {"value": value, "jacobian": jac}


def randomise_lstm_projection(generator) -> None:
    """The LSTM's output projections start at zero (lstm == none at init); give them weights."""
    with torch.no_grad():
        generator.lstm_out.weight.normal_(0, 0.5)
        generator.lstm_motion.weight.normal_(0, 0.05)


@pytest.mark.parametrize("size,temporal", [(64, "lstm"), (64, "none"), (256, "lstm")])
def test_shapes(size: int, temporal: str) -> None:
    torch.manual_seed(0)
    gan = tiny(temporal=temporal, model={"temporal_disc": True})
    nets = build_networks(gan, size)
    assert set(nets) == {"kp_detector", "generator", "discriminator", "temporal_discriminator"}
    b, t, k = (2, 3, gan.model.num_kp) if size == 64 else (1, 2, gan.model.num_kp)
    source, driving = torch.rand(b, 3, size, size), torch.rand(b, t, 3, size, size)
    losses, gen = GeneratorFullModel(nets, gan, size)(source, driving)
    h = size // 2
    assert gen["prediction"].shape == (b, t, 3, size, size)
    assert gen["deformed"].shape == (b, t, 3, size, size)
    assert gen["occlusion"].shape == (b, t, 1, h, h)
    assert gen["deformation"].shape == (b, t, h, h, 2)
    assert gen["mask"].shape == (b, t, k + 1, h, h)
    assert gen["kp_source"]["value"].shape == (b, k, 2)
    assert gen["kp_driving"]["value"].shape == (b, t, k, 2)
    assert gen["kp_driving"]["jacobian"].shape == (b, t, k, 2, 2)
    assert gen["prediction"].min() >= 0 and gen["prediction"].max() <= 1
    assert gen["kp_source"]["value"].abs().max() <= 1
    assert {"reconstruction", "equivariance_value", "equivariance_jacobian", "temporal", "gen_gan",
            "feature_matching", "temporal_gen_gan"} <= set(losses)
    assert all(v.ndim == 0 and torch.isfinite(v) for v in losses.values())
    d = DiscriminatorFullModel(nets, gan, size)(driving, gen)
    assert {"disc", "temporal_disc", "acc_real", "acc_fake"} <= set(d)
    assert d["disc"].requires_grad and not d["acc_real"].requires_grad
    assert 0 <= d["acc_real"] <= 1 and 0 <= d["acc_fake"] <= 1


@pytest.mark.parametrize("kernel", [3, 7])
def test_head_kernel_sets_every_output_convolution(kernel: int) -> None:
    """gan.model.head_kernel sizes the keypoint, motion and image heads; shapes do not change."""
    from lstmgan.config import ConfigError

    nets = build_networks(tiny(model={"head_kernel": kernel}), 64)
    gen, kp = nets["generator"], nets["kp_detector"]
    heads = [kp.heatmap, kp.jacobian, gen.dense_motion.mask, gen.dense_motion.occlusion, gen.final]
    assert [h.kernel_size for h in heads] == [(kernel, kernel)] * len(heads)
    out, _ = gen(torch.rand(1, 3, 64, 64), kp(torch.rand(1, 3, 64, 64)), random_kp(1, 5, t=2))
    assert out["prediction"].shape == (1, 2, 3, 64, 64)
    with pytest.raises(ConfigError, match="head_kernel"):
        tiny(model={"head_kernel": 4})


def test_keypoint_detector_starts_with_identity_jacobians() -> None:
    nets = build_networks(tiny(), 64)
    kp = nets["kp_detector"](torch.rand(2, 3, 64, 64))
    assert kp["heatmap"].shape == (2, 5, 32, 32)
    assert torch.allclose(kp["heatmap"].sum((2, 3)), torch.ones(2, 5), atol=1e-5)
    assert torch.allclose(kp["jacobian"], torch.eye(2).expand(2, 5, 2, 2), atol=1e-5)


def test_zero_motion_reproduces_source() -> None:
    torch.manual_seed(0)
    nets = build_networks(tiny(), 64)
    generator = nets["generator"].eval()
    source = torch.rand(2, 3, 64, 64)
    kp = random_kp(2, 5)
    driving = {name: v[:, None].expand(-1, 3, *v.shape[1:]) for name, v in kp.items()}
    with torch.no_grad():
        out, _ = generator(source, kp, driving)
    grid = make_grid(32, 32)
    assert torch.allclose(out["deformation"], grid.expand_as(out["deformation"]), atol=1e-5)
    assert torch.allclose(out["deformed"], source[:, None].expand_as(out["deformed"]), atol=1e-5)


def test_moving_one_keypoint_moves_the_flow_near_it() -> None:
    """The first-order sparse motion of a translated keypoint is that translation."""
    nets = build_networks(tiny(), 64)
    dm = nets["generator"].dense_motion
    kp_s = {"value": torch.zeros(1, 5, 2), "jacobian": torch.eye(2).expand(1, 5, 2, 2)}
    kp_d = {"value": kp_s["value"] + torch.tensor([0.2, -0.1]), "jacobian": kp_s["jacobian"]}
    sparse = dm.sparse_motions(8, 8, kp_s, kp_d)
    grid = make_grid(8, 8)
    assert torch.allclose(sparse[0, 0], grid)  # background = identity
    assert torch.allclose(sparse[0, 1:] - grid, torch.tensor([-0.2, 0.1]).expand(5, 8, 8, 2), atol=1e-6)


def test_transform_jacobian_matches_autograd_and_frame_direction() -> None:
    gen = torch.Generator().manual_seed(1)
    tr = L.RandomTransform(2, 0.1, 0.02, 5, generator=gen)
    pts = torch.rand(2, 7, 2, generator=gen) * 1.6 - 0.8
    pts.requires_grad_(True)
    warped = tr.warp_coordinates(pts)
    rows = [torch.autograd.grad(warped[..., i].sum(), pts, retain_graph=True)[0] for i in range(2)]
    auto = torch.stack(rows, dim=-2)  # (n,M,2,2): d(out_i)/d(in_j)
    pts = pts.detach()
    assert torch.allclose(tr.jacobian(pts), auto, atol=1e-4)
    # frames: a blob at p in I appears at z with T(z) = p in the transformed frame
    p = torch.tensor([[0.3, -0.2]])
    image = torch.exp(-((make_grid(65, 65) - p) ** 2).sum(-1) / 0.002)[None, None].expand(2, 1, 65, 65)
    warped = tr.transform_frame(image.contiguous())
    z = make_grid(65, 65).reshape(-1, 2)[warped.flatten(1).argmax(1)]  # (2,2)
    assert torch.allclose(tr.warp_coordinates(z[:, None])[:, 0], p.expand(2, 2), atol=2.5 / 64)


def test_equivariance_loss_is_zero_for_exact_transforms_and_not_otherwise() -> None:
    gen = torch.Generator().manual_seed(2)
    tr = L.RandomTransform(3, 0.1, 0.02, 5, generator=gen)
    kp_t = random_kp(3, 6, seed=3)
    exact = {"value": tr.warp_coordinates(kp_t["value"]),
             "jacobian": tr.jacobian(kp_t["value"]) @ kp_t["jacobian"]}
    value, jacobian = L.equivariance_losses(exact, kp_t, tr)
    assert value < 1e-6 and jacobian < 1e-5
    value, jacobian = L.equivariance_losses(kp_t, kp_t, tr)  # ignoring the transform is wrong
    assert value > 1e-2 and jacobian > 1e-2


def test_convlstm_is_causal() -> None:
    torch.manual_seed(0)
    lstm = ConvLSTM(4, 6)
    x = torch.randn(2, 5, 4, 8, 8)
    base, _ = lstm(x)
    early = x.clone(); early[:, 1] += 1.0
    late = x.clone(); late[:, 3] += 1.0
    out_early, _ = lstm(early)
    out_late, _ = lstm(late)
    assert torch.equal(out_early[:, 0], base[:, 0])
    assert all((out_early[:, t] - base[:, t]).abs().max() > 1e-4 for t in range(1, 5))
    assert torch.equal(out_late[:, :3], base[:, :3])
    assert (out_late[:, 4] - base[:, 4]).abs().max() > 1e-4


@pytest.mark.parametrize("temporal", ["lstm", "none"])
def test_generator_frame_dependence(temporal: str) -> None:
    """lstm: frame t depends on earlier driving frames, never later; none: only on frame t."""
    torch.manual_seed(0)
    generator = build_networks(tiny(temporal=temporal), 64)["generator"].eval()
    if temporal == "lstm":
        randomise_lstm_projection(generator)
    source = torch.rand(1, 3, 64, 64)
    kp_s, kp_d = random_kp(1, 5, seed=4), random_kp(1, 5, t=4, seed=5)
    changed = {n: v.clone() for n, v in kp_d.items()}
    changed["value"][:, 1] += 0.3
    with torch.no_grad():
        base = generator(source, kp_s, kp_d)[0]
        new = generator(source, kp_s, changed)[0]
    assert torch.equal(new["prediction"][:, 0], base["prediction"][:, 0])
    assert (new["prediction"][:, 1] - base["prediction"][:, 1]).abs().max() > 1e-3
    # later frames differ only through the LSTM state: in what the decoder paints and, because the
    # recurrence also refines the motion, in how the source is warped and where it is occluded
    for name in ("decoded", "deformed", "occlusion"):
        later = (new[name][:, 2:] - base[name][:, 2:]).abs().amax(dim=(0, 2, 3, 4))
        if temporal == "lstm":
            assert (later > 1e-6).all(), name
        else:
            assert (later == 0).all(), name


def test_streaming_equals_one_call() -> None:
    torch.manual_seed(0)
    generator = build_networks(tiny(), 64)["generator"].eval()
    randomise_lstm_projection(generator)
    source = torch.rand(2, 3, 64, 64)
    kp_s, kp_d = random_kp(2, 5, seed=6), random_kp(2, 5, t=5, seed=7)
    with torch.no_grad():
        whole, _ = generator(source, kp_s, kp_d)
        state, frames = None, []
        for t in range(5):
            out, state = generator(source, kp_s, {n: v[:, t:t + 1] for n, v in kp_d.items()}, state)
            frames.append(out["prediction"])
    assert torch.allclose(torch.cat(frames, dim=1), whole["prediction"], atol=1e-5)


def test_lstm_starts_as_the_none_baseline() -> None:
    """Same weights: the lstm model (zero-initialised projection) equals the none model at init."""
    torch.manual_seed(0)
    none = build_networks(tiny(temporal="none"), 64)["generator"].eval()
    lstm = build_networks(tiny(temporal="lstm"), 64)["generator"].eval()
    missing, unexpected = lstm.load_state_dict(none.state_dict(), strict=False)
    assert not unexpected and all(name.startswith("lstm") for name in missing)
    source = torch.rand(1, 3, 64, 64)
    kp_s, kp_d = random_kp(1, 5, seed=8), random_kp(1, 5, t=3, seed=9)
    with torch.no_grad():
        a = none(source, kp_s, kp_d)[0]["prediction"]
        b = lstm(source, kp_s, kp_d)[0]["prediction"]
    assert torch.allclose(a, b, atol=1e-6)


def test_overfit_fixed_batch_lowers_loss() -> None:
    torch.manual_seed(0)
    gan = tiny(loss={"gan": 0.0, "feature_matching": 0.0, "equivariance_value": 0.0,
                     "equivariance_jacobian": 0.0, "temporal": 1.0})
    nets = build_networks(gan, 32)
    model = GeneratorFullModel(nets, gan, 32)
    params = [p for name in ("kp_detector", "generator") for p in nets[name].parameters()]
    opt = torch.optim.Adam(params, 3e-3)
    # a textured square moving across a clip; the source is its first frame
    frames = torch.zeros(3, 3, 32, 32)
    texture = torch.rand(3, 8, 8, generator=torch.Generator().manual_seed(0))
    for t in range(3):
        frames[t, :, 10 + t:18 + t, 8 + 2 * t:16 + 2 * t] = texture
    driving = frames[None]
    source = driving[:, 0]
    totals = []
    for _ in range(12):
        losses, _ = model(source, driving)
        total = sum(losses.values())
        opt.zero_grad()
        total.backward()
        opt.step()
        totals.append(total.item())
    assert min(totals[-3:]) < 0.8 * totals[0]


def test_discriminator_step_learns() -> None:
    torch.manual_seed(0)
    gan = tiny()
    nets = build_networks(gan, 64)
    gen_model, disc_model = GeneratorFullModel(nets, gan, 64), DiscriminatorFullModel(nets, gan, 64)
    opt = torch.optim.Adam(nets["discriminator"].parameters(), 2e-3)
    driving = torch.rand(2, 2, 3, 64, 64)
    with torch.no_grad():
        _, generated = gen_model(driving[:, 0], driving)
    first = None
    for _ in range(15):
        out = disc_model(driving, generated)
        opt.zero_grad()
        out["disc"].backward()
        opt.step()
        first = out["disc"].item() if first is None else first
    assert out["disc"].item() < first


def test_load_networks_round_trip_and_errors(tmp_path) -> None:
    torch.manual_seed(0)
    params = Params(gan=tiny())
    nets = build_networks(params.gan, params.data.size)
    path = tmp_path / "latest.pt"
    torch.save({"step": 3, "params": params.to_dict(),
                "models": {name: net.state_dict() for name, net in nets.items()}}, path)
    loaded, loaded_params = load_networks(path)
    assert loaded_params == params
    assert set(loaded) == set(nets)
    assert not loaded["generator"].training
    for name, net in nets.items():
        for (k, a), (_, b) in zip(net.state_dict().items(), loaded[name].state_dict().items()):
            assert torch.equal(a, b), (name, k)
    bad = tmp_path / "corrupt.pt"
    bad.write_bytes(path.read_bytes()[:100])
    with pytest.raises(UserError, match="corrupt.pt"):
        load_networks(bad)
    with pytest.raises(UserError, match="missing.pt"):
        load_networks(tmp_path / "missing.pt")
    other = dataclasses.replace(params, gan=tiny(model={"block_expansion": 4}))
    torch.save({"params": other.to_dict(), "models": {n: v.state_dict() for n, v in nets.items()}}, bad)
    with pytest.raises(UserError, match="do not fit"):
        load_networks(bad)


def test_perceptual_off_without_cached_weights(tmp_path, caplog) -> None:
    previous = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path))  # an empty hub cache
    try:
        with caplog.at_level("INFO", logger="lstmgan.models.losses"):
            assert L.load_perceptual() is None
        assert "vgg19-dcbb9e9d.pth" in caplog.text and "continuing without them" in caplog.text
    finally:
        torch.hub.set_dir(previous)


def test_vox256_config_builds_fomm_scale_networks() -> None:
    from pathlib import Path

    from lstmgan.config import load_params

    root = Path(__file__).resolve().parents[1]
    params = load_params(root / "params.yaml", configs=[root / "configs/vox256.yaml"])
    assert params.data.size == 256 and params.gan.model.num_kp == 10
    nets = build_networks(params.gan, params.data.size)
    counts = {name: sum(p.numel() for p in net.parameters()) for name, net in nets.items()}
    # the reference vox-256 model: keypoint detector ~14.2 M, generator + dense motion ~45.9 M
    assert 12e6 < counts["kp_detector"] < 16e6
    assert 40e6 < counts["generator"] < 55e6
    assert "temporal_discriminator" in nets
