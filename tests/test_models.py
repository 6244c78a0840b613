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


def randomise_recurrence(generator) -> None:
    """Weights for the zero-initialised outputs of whichever recurrence the generator has (none: no-op)."""
    if generator.lstm is not None:
        randomise_lstm_projection(generator)
    if generator.kp_recurrence is not None:
        with torch.no_grad():
            generator.kp_recurrence.out.weight.normal_(0, 0.02)


@pytest.mark.parametrize("size,temporal", [(64, "lstm"), (64, "none"), (64, "kp"), (256, "lstm")])
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


@pytest.mark.parametrize("temporal", ["lstm", "none", "kp"])
def test_generator_frame_dependence(temporal: str) -> None:
    """lstm, kp: frame t depends on earlier driving frames, never later; none: only on frame t."""
    torch.manual_seed(0)
    generator = build_networks(tiny(temporal=temporal), 64)["generator"].eval()
    randomise_recurrence(generator)
    source = torch.rand(1, 3, 64, 64)
    kp_s, kp_d = random_kp(1, 5, seed=4), random_kp(1, 5, t=4, seed=5)
    changed = {n: v.clone() for n, v in kp_d.items()}
    changed["value"][:, 1] += 0.3
    with torch.no_grad():
        base = generator(source, kp_s, kp_d)[0]
        new = generator(source, kp_s, changed)[0]
    assert torch.equal(new["prediction"][:, 0], base["prediction"][:, 0])
    assert (new["prediction"][:, 1] - base["prediction"][:, 1]).abs().max() > 1e-3
    # later frames differ only through the recurrent state: in what the decoder paints and, because
    # the recurrence also refines the motion, in how the source is warped and where it is occluded
    for name in ("decoded", "deformed", "occlusion"):
        later = (new[name][:, 2:] - base[name][:, 2:]).abs().amax(dim=(0, 2, 3, 4))
        if temporal != "none":
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


def _decoder_grad(gan, source, driving) -> dict[str, float]:
    """Gradient norm that each generator loss term sends to the decoder's last convolution."""
    nets = build_networks(gan, 32)
    losses, _ = GeneratorFullModel(nets, gan, 32)(source, driving)
    out = {}
    for name in ("reconstruction", "decoded_reconstruction"):
        if name in losses:
            weight = nets["generator"].final.weight
            (grad,) = torch.autograd.grad(losses[name], weight, retain_graph=True)
            out[name] = float(grad.norm())
    return out


def test_decoded_reconstruction_trains_the_decoder_where_the_occlusion_shuts_it_out() -> None:
    # occlusion logit 12: the output is the warped source (occlusion 1 - 6e-6), so the blended
    # reconstruction reaches the decoder only through 1 - occlusion; the decoder's own L1 reaches it whole
    torch.manual_seed(0)
    source, driving = torch.rand(2, 3, 32, 32), torch.rand(2, 2, 3, 32, 32)
    off = _decoder_grad(tiny(temporal="none", model={"occlusion_bias": 12.0},
                             loss={"gan": 0.0, "feature_matching": 0.0, "temporal": 0.0,
                                   "decoded_reconstruction": 0.0}), source, driving)
    torch.manual_seed(0)
    on = _decoder_grad(tiny(temporal="none", model={"occlusion_bias": 12.0},
                            loss={"gan": 0.0, "feature_matching": 0.0, "temporal": 0.0,
                                  "decoded_reconstruction": 10.0}), source, driving)
    assert "decoded_reconstruction" not in off
    assert off["reconstruction"] < 1e-3 * on["decoded_reconstruction"]


def test_keypoints_can_read_other_frames_than_the_loss_compares_with() -> None:
    torch.manual_seed(0)
    gan = tiny(temporal="lstm", loss={"gan": 0.0, "feature_matching": 0.0})  # no critic: its spectral norm steps
    nets = build_networks(gan, 32)
    model = GeneratorFullModel(nets, gan, 32)
    source, driving = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 3, 32, 32)
    noisy = (driving + 0.2 * torch.randn_like(driving)).clamp(0, 1)
    torch.manual_seed(1)
    plain, gen_plain = model(source, driving)
    torch.manual_seed(1)
    same, gen_same = model(source, driving, driving)
    assert all(torch.equal(plain[k], same[k]) for k in plain)
    torch.manual_seed(1)
    _, gen_noisy = model(source, driving, noisy)
    with torch.no_grad():
        expected = nets["kp_detector"](noisy.flatten(0, 1))["value"].view(2, 3, -1, 2)
    assert torch.allclose(gen_noisy["kp_driving"]["value"], expected)
    assert not torch.allclose(gen_noisy["kp_driving"]["value"], gen_plain["kp_driving"]["value"])


# --------------------------------------------------------------------------------------------
# temporal="kp": a GRU over the keypoint trajectories
# --------------------------------------------------------------------------------------------
def test_kp_recurrence_starts_as_the_none_baseline_bit_for_bit() -> None:
    """Same weights elsewhere: the kp generator (zero-initialised residual layer) gives exactly the
    none generator's output, and it is built after the other networks, so one seed gives both the
    same weights there."""
    torch.manual_seed(0)
    none = build_networks(tiny(temporal="none"), 64)["generator"].eval()
    torch.manual_seed(0)
    kp = build_networks(tiny(temporal="kp"), 64)["generator"].eval()
    assert all(torch.equal(v, kp.state_dict()[k]) for k, v in none.state_dict().items())
    missing, unexpected = kp.load_state_dict(none.state_dict(), strict=False)
    assert not unexpected and missing and all(name.startswith("kp_recurrence.") for name in missing)
    source = torch.rand(2, 3, 64, 64)
    kp_s, kp_d = random_kp(2, 5, seed=10), random_kp(2, 5, t=4, seed=11)
    with torch.no_grad():
        a, state_a = none(source, kp_s, kp_d)
        b, state_b = kp(source, kp_s, kp_d)
    assert state_a == {} and set(state_b) == {"kp"}
    for name, value in a.items():
        assert torch.equal(value, b[name]), name
    assert torch.equal(b["kp_refined"]["value"], kp_d["value"])


@pytest.mark.parametrize("chunks", [[1, 1, 1, 1, 1], [2, 3], [3, 1, 1]])
def test_kp_streaming_equals_one_call(chunks: list[int]) -> None:
    """Chunks with the state carried (as Animator.render_with_occlusion calls it) equal one call."""
    torch.manual_seed(0)
    generator = build_networks(tiny(temporal="kp"), 64)["generator"].eval()
    randomise_recurrence(generator)
    source = torch.rand(2, 3, 64, 64)
    kp_s, kp_d = random_kp(2, 5, seed=6), random_kp(2, 5, t=5, seed=7)
    with torch.inference_mode():
        whole, _ = generator(source, kp_s, kp_d)
        state, frames, refined, begin = None, [], [], 0
        for size in chunks:
            out, state = generator(source, kp_s, {n: v[:, begin:begin + size] for n, v in kp_d.items()},
                                   state=state)
            frames.append(out["prediction"])
            refined.append(out["kp_refined"]["value"])
            begin += size
    assert (whole["kp_refined"]["value"] - kp_d["value"]).abs().max() > 1e-3  # the refinement is on
    assert torch.allclose(torch.cat(refined, dim=1), whole["kp_refined"]["value"], atol=1e-6)
    assert torch.allclose(torch.cat(frames, dim=1), whole["prediction"], atol=1e-5)


def test_kp_recurrence_refines_the_driving_keypoints_not_the_source() -> None:
    """The dense motion network receives the source keypoints as given and the refined driving ones."""
    torch.manual_seed(0)
    generator = build_networks(tiny(temporal="kp"), 64)["generator"].eval()
    randomise_recurrence(generator)
    seen = {}
    hook = generator.dense_motion.register_forward_hook(
        lambda module, args, output: seen.update(source=args[1], driving=args[2]))
    kp_s, kp_d = random_kp(1, 5, seed=12), random_kp(1, 5, t=3, seed=13)
    with torch.no_grad():
        out, _ = generator(torch.rand(1, 3, 64, 64), kp_s, kp_d)
    hook.remove()
    for name in ("value", "jacobian"):
        assert torch.equal(seen["source"][name], kp_s[name].repeat_interleave(3, dim=0))
        assert torch.equal(seen["driving"][name], out["kp_refined"][name].flatten(0, 1))
        assert (out["kp_refined"][name] - kp_d[name]).abs().max() > 1e-4


def test_kp_recurrence_width_and_jacobians_follow_the_config() -> None:
    """gan.model.kp_hidden sizes the GRU; a detector without jacobians gets its values refined only."""
    nets = build_networks(tiny(temporal="kp", model={"kp_hidden": 12}), 64)
    recurrence = nets["generator"].kp_recurrence
    assert recurrence.gru.hidden_size == 12 and recurrence.out.out_features == 5 * 6
    plain = build_networks(tiny(temporal="kp", model={"estimate_jacobian": False}), 64)["generator"]
    assert plain.kp_recurrence.out.out_features == 5 * 2
    randomise_recurrence(plain)
    kp_d = {"value": torch.rand(1, 3, 5, 2), "jacobian": torch.eye(2).expand(1, 3, 5, 2, 2)}
    refined, (hidden, previous) = plain.kp_recurrence(kp_d)
    assert torch.equal(refined["jacobian"], kp_d["jacobian"]) and not torch.equal(refined["value"], kp_d["value"])
    assert hidden.shape == (1, 1, 64) and previous.shape == (1, 5 * 6)

def test_temporal_kp_is_accepted_and_other_names_are_not() -> None:
    from lstmgan.config import ConfigError
    from lstmgan.models.generator import Generator

    assert tiny(temporal="kp").temporal == "kp"
    with pytest.raises(ConfigError, match=r"gan.temporal must be one of lstm \| none \| kp"):
        tiny(temporal="gru")
    with pytest.raises(ValueError, match="temporal must be one of lstm, none, kp"):
        Generator(num_kp=5, block_expansion=8, max_features=16, num_down_blocks=2, num_bottleneck_blocks=1,
                  temporal="gru", lstm_hidden=8, lstm_kernel=3,
                  dense_motion=dict(block_expansion=8, num_blocks=2, max_features=16, scale_factor=0.5,
                                    kp_variance=0.01, occlusion_bias=4.0))


# --------------------------------------------------------------------------------------------
# The recurrent state through GeneratorFullModel (truncated backpropagation through time)
# --------------------------------------------------------------------------------------------
def _two_clips(temporal: str, loss: dict | None = None):
    torch.manual_seed(0)
    gan = tiny(temporal=temporal, loss={"gan": 0.0, "feature_matching": 0.0, **(loss or {})})
    nets = build_networks(gan, 32)
    randomise_recurrence(nets["generator"])
    gen = torch.Generator().manual_seed(3)
    source, driving = torch.rand(2, 3, 32, 32, generator=gen), torch.rand(2, 6, 3, 32, 32, generator=gen)
    return nets, GeneratorFullModel(nets, gan, 32), source, driving


@pytest.mark.parametrize("temporal", ["lstm", "kp"])
def test_full_model_state_carries_the_recurrence_into_the_next_clip(temporal: str) -> None:
    """Clip 2 started from clip 1's (detached) state equals frames 3..5 of one call on both clips,
    and differs from clip 2 started from zeros."""
    from lstmgan.models.generator import detach_state

    nets, model, source, driving = _two_clips(temporal)
    for net in nets.values():
        net.eval()  # batch norm on running statistics: a frame's output does not depend on its batch
    with torch.no_grad():
        _, whole = model(source, driving)
        _, first = model(source, driving[:, :3])
        _, carried = model(source, driving[:, 3:], None, detach_state(first["state"]))
        _, fresh = model(source, driving[:, 3:])
    assert set(first["state"]) == {temporal}
    assert torch.allclose(first["prediction"], whole["prediction"][:, :3], atol=1e-5)
    assert torch.allclose(carried["prediction"], whole["prediction"][:, 3:], atol=1e-5)
    assert (fresh["prediction"] - carried["prediction"]).abs().max() > 1e-4


@pytest.mark.parametrize("temporal", ["lstm", "kp"])
def test_no_gradient_crosses_a_detached_clip_boundary(temporal: str) -> None:
    """Clip 2's losses send no gradient to clip 1's frames once the carried state is detached; the
    undetached state would (the check can see a leak)."""
    from lstmgan.models.generator import detach_state

    _, model, source, driving = _two_clips(temporal, loss={"equivariance_value": 0.0, "equivariance_jacobian": 0.0})
    first_frames = driving[:, :3].clone().requires_grad_(True)
    _, first = model(source, first_frames)
    for state, leaks in ((detach_state(first["state"]), False), (first["state"], True)):
        losses, _ = model(source, driving[:, 3:], None, state)
        (grad,) = torch.autograd.grad(sum(losses.values()), first_frames, allow_unused=True, retain_graph=True)
        if leaks:
            assert grad is not None and grad.abs().max() > 0
        else:
            assert grad is None or not grad.any()


def test_kp_generator_streams_through_the_animator() -> None:
    """Animator.render_with_occlusion calls the generator chunk by chunk with the state carried:
    for kp, 2-frame chunks give the frames of one 7-frame call."""
    from lstmgan.generate.animate import Animator

    torch.manual_seed(0)
    nets = {name: net.eval() for name, net in build_networks(tiny(temporal="kp"), 32).items()}
    randomise_recurrence(nets["generator"])
    source, driving = torch.rand(3, 32, 32), torch.rand(7, 3, 32, 32)
    chunked = Animator(nets, batch_size=2, adapt_scale=False).animate(source, driving)
    whole = Animator(nets, batch_size=7, adapt_scale=False).animate(source, driving)
    assert torch.allclose(chunked.frames, whole.frames, atol=1e-5)
    assert torch.allclose(chunked.occlusion, whole.occlusion, atol=1e-5)


# --------------------------------------------------------------------------------------------
# face-part term: the mouth and the eyes weigh as whole frames
# --------------------------------------------------------------------------------------------
def _face_landmarks(n: int = 1) -> torch.Tensor:
    """(n, 68, 2) landmarks of a 64 px face: eyes centred at (21.5, 24) and (41.5, 24) (inter-ocular
    20 px), mouth spanning x 26-37.4, y 43-45; NaN elsewhere."""
    lm = torch.full((n, 68, 2), float("nan"))
    for i in range(36, 42):
        lm[:, i] = torch.tensor([19.0 + (i - 36), 24.0])
    for i in range(42, 48):
        lm[:, i] = torch.tensor([39.0 + (i - 42), 24.0])
    for i in range(48, 68):
        lm[:, i] = torch.tensor([26.0 + (i - 48) * 0.6, 43.0 + (i % 3)])
    return lm


def test_part_masks_are_the_parts_boxes_widened_by_a_share_of_the_interocular_distance() -> None:
    lm = _face_landmarks(2)
    lm[1, 50] = float("nan")  # one unknown mouth landmark: that frame's mouth is not valid
    masks, valid = L.part_masks(lm, 64, pad=0.15)  # margin 3 px
    assert masks.shape == (2, 3, 64, 64)
    assert valid.tolist() == [[True, True, True], [False, True, True]]
    ys, xs = torch.nonzero(masks[0, 0], as_tuple=True)  # mouth: x 26-37.4, y 43-45, +-3 px
    assert (int(xs.min()), int(xs.max()), int(ys.min()), int(ys.max())) == (23, 40, 40, 48)
    ys, xs = torch.nonzero(masks[0, 1], as_tuple=True)  # right eye: x 19-24, y 24, +-3 px
    assert (int(xs.min()), int(xs.max()), int(ys.min()), int(ys.max())) == (16, 27, 21, 27)


def test_part_l1_is_the_mean_over_valid_parts_of_the_error_inside_each_box() -> None:
    lm = _face_landmarks(2)
    lm[1] = float("nan")  # a frame without landmarks counts for nothing
    target = torch.zeros(2, 3, 64, 64)
    prediction = torch.zeros(2, 3, 64, 64)
    prediction[0, :, 44, 30] = 1.0  # one wrong pixel inside the mouth box (18 x 9 = 162 pixels)
    prediction[0, :, 5, 5] = 1.0  # and one outside every box
    prediction[1] = 1.0
    masks, _ = L.part_masks(lm[:1], 64, pad=0.15)
    mouth_pixels = int(masks[0, 0].sum())
    assert mouth_pixels == 162
    expected = (1.0 / mouth_pixels + 0.0 + 0.0) / 3  # three valid parts of frame 0
    assert float(L.part_l1(prediction, target, lm)) == pytest.approx(expected)
    assert float(L.part_l1(prediction, target, torch.full_like(lm, float("nan")))) == 0.0


def test_face_part_terms_need_landmarks_and_reach_both_images() -> None:
    torch.manual_seed(0)
    source, driving = torch.rand(1, 3, 32, 32), torch.rand(1, 2, 3, 32, 32)
    lm = (_face_landmarks(2) / 2).view(1, 2, 68, 2)  # the same face at 32 px
    gan = tiny(temporal="none", loss={"face_parts": 10.0, "decoded_face_parts": 10.0})
    model = GeneratorFullModel(build_networks(gan, 32), gan, 32)
    without, _ = model(source, driving)
    assert "face_parts" not in without and "decoded_face_parts" not in without
    with_lm, _ = model(source, driving, landmarks=lm)
    assert float(with_lm["face_parts"].detach()) > 0 and float(with_lm["decoded_face_parts"].detach()) > 0
    assert float(with_lm["decoded_face_parts"].detach()) != pytest.approx(float(with_lm["face_parts"].detach()))


def test_keypoint_landmark_l1_pulls_the_first_keypoints_to_their_landmarks() -> None:
    size = 33  # pixel 16 is the centre: normalised 0
    lm = torch.full((2, 68, 2), float("nan"))
    lm[0, 57] = torch.tensor([16.0, 24.0])  # normalised (0, 0.5)
    lm[0, 8] = torch.tensor([0.0, 32.0])  # normalised (-1, 1)
    kp = torch.zeros(2, 4, 2)
    kp[0, 1] = torch.tensor([-1.0, 0.5])  # keypoint 1 anchored to landmark 8: off by (0, 0.5)
    kp[0, 2:] = 5.0  # unanchored keypoints cost nothing
    # keypoint 0 -> landmark 57: off by 0.5 in y; frame 1 has no landmarks
    assert float(L.keypoint_landmark_l1(kp, lm, [57, 8], size)) == pytest.approx((0.5 + 0.5) / 2)
    assert float(L.keypoint_landmark_l1(kp, torch.full_like(lm, float("nan")), [57, 8], size)) == 0.0


def test_decoder_motion_starts_as_without_it_and_then_reads_the_keypoints() -> None:
    """decoder_motion adds the keypoints' moves to the warped features through a zero-initialised
    convolution built last: at the start the output is the plain model's, bit for bit; with weights
    the decoder's image changes with the driving keypoints even where the occlusion shuts the warp out."""
    torch.manual_seed(0)
    plain = build_networks(tiny(temporal="none"), 64)["generator"].eval()
    torch.manual_seed(0)
    seeing = build_networks(tiny(temporal="none", model={"decoder_motion": True}), 64)["generator"].eval()
    missing, unexpected = seeing.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected and sorted(missing) == ["motion_in.bias", "motion_in.weight"]
    source = torch.rand(1, 3, 64, 64)
    kp_s = random_kp(1, 5, seed=10)
    still = {"value": kp_s["value"][:, None], "jacobian": kp_s["jacobian"][:, None]}
    moved = random_kp(1, 5, t=1, seed=11)
    with torch.no_grad():
        a, _ = plain(source, kp_s, moved)
        b, _ = seeing(source, kp_s, moved)
        for name, value in a.items():
            assert torch.equal(value, b[name]), name
        seeing.motion_in.weight.normal_(0, 0.5)
        at_rest, _ = seeing(source, kp_s, still)
        plain_rest, _ = plain(source, kp_s, still)
        b, _ = seeing(source, kp_s, moved)
    assert torch.allclose(at_rest["decoded"], plain_rest["decoded"], atol=1e-6)  # no move, nothing added
    assert (b["decoded"] - a["decoded"]).abs().max() > 1e-3
