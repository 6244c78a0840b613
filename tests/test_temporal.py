"""tOF and the decoder-region metrics on sequences with known answers."""
from __future__ import annotations

import numpy as np
import pytest

from lstmgan.generate import evaluate as E
from lstmgan.generate import temporal as T


def _texture(size: int = 96, seed: int = 0) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    base = gaussian_filter(np.random.default_rng(seed).uniform(0, 1, (size, size)), 2.0)
    return (base - base.min()) / (base.max() - base.min())


def _moving(shift: int, t: int = 5) -> np.ndarray:
    """A smooth texture moving ``shift`` px to the right per frame, (T, 64, 64, 3)."""
    base = _texture()
    return np.stack([np.repeat(np.roll(base, shift * i, axis=1)[16:80, 16:80, None], 3, -1) for i in range(t)])


def _interior(t: int = 5) -> np.ndarray:
    w = np.zeros((t, 64, 64))
    w[:, 12:52, 12:52] = 1.0  # away from the borders, where flow is undefined
    return w


def test_tof_zero_for_identical_sequences() -> None:
    gt = _moving(1)
    assert T.tof(gt, gt) == 0.0
    assert T.tof(gt, gt, _interior()) == 0.0
    assert np.isnan(T.tof(gt[:1], gt[:1]))  # one frame: no motion to compare


def test_tof_of_a_shifted_sequence_is_the_shift_difference() -> None:
    """The real video moves 1 px/frame: a still output misses 1 px, one moving 2 px or -1 px/frame
    has 1 px or 2 px too much; tOF (per-pixel Euclidean norm of the flow difference) measures it."""
    gt = _moving(1)
    w = _interior()
    still = np.broadcast_to(gt[:1], gt.shape)
    assert T.tof(still, gt, w) == pytest.approx(1.0, abs=0.02)
    assert T.tof(_moving(2), gt, w) == pytest.approx(1.0, abs=0.02)
    assert T.tof(_moving(-1), gt, w) == pytest.approx(2.0, abs=0.02)
    # flows of the real video can be computed once and reused
    assert T.tof(still, gt, w, T.sequence_flows(gt)) == T.tof(still, gt, w)


def test_weighted_flicker_by_hand_and_equal_to_flicker_with_unit_weight() -> None:
    gt = np.zeros((3, 2, 2, 3))
    gt[1:] = 0.5
    pred = gt.copy()
    pred[2, 0, 0] = 0.9  # an extra jump of 0.4 at one pixel between frames 1 and 2
    ones = np.ones((3, 2, 2))
    assert T.weighted_flicker(pred, gt, ones) == pytest.approx(E.flicker(pred, gt))
    w = np.zeros((3, 2, 2))
    w[2, 0, 0] = 1.0  # only the jumping pixel of frame 2 counts
    assert T.weighted_flicker(pred, gt, w) == pytest.approx(0.4)
    w[2, 0, 0], w[2, 1, 1] = 0.5, 0.5  # half on it, half on a still pixel
    assert T.weighted_flicker(pred, gt, w) == pytest.approx(0.2)
    assert np.isnan(T.weighted_flicker(pred, gt, np.zeros((3, 2, 2))))


def test_weighted_warping_error_with_unit_weight_is_the_warping_error() -> None:
    gt = _moving(1, t=4)
    rng = np.random.default_rng(0)
    noisy = np.clip(gt + rng.uniform(-0.1, 0.1, gt.shape), 0, 1)
    flows = E.real_flows(gt)
    assert T.weighted_warping_error(noisy, flows, np.ones(gt.shape[:3])) == pytest.approx(
        E.warping_error(noisy, gt, flows=flows))


def test_sharpness_ratio_known_values() -> None:
    gt = _moving(1, t=2)
    assert T.sharpness_ratio(gt, gt) == pytest.approx(1.0)
    # half the contrast: gradients halve, gradient energy quarters
    assert T.sharpness_ratio(0.5 * gt + 0.25, gt) == pytest.approx(0.25)
    w = np.zeros(gt.shape[:3])
    w[:, :, :32] = 1.0  # only the left half is "decoder-filled"; the right half is ruined elsewhere
    pred = gt.copy()
    pred[:, :, 40:] = 0.5
    assert T.sharpness_ratio(pred, gt, w) == pytest.approx(1.0)
    from scipy.ndimage import uniform_filter

    blurred = uniform_filter(gt, size=(1, 5, 5, 1))
    assert T.sharpness_ratio(blurred, gt) < 0.5


def test_decoder_weight_and_region_metrics() -> None:
    occ = np.full((3, 1, 8, 8), 0.25)
    w = T.decoder_weight(occ, (8, 8))
    assert w.shape == (3, 8, 8) and np.allclose(w, 0.75)
    assert T.decoder_weight(None, (8, 8)) is None
    with pytest.raises(ValueError):
        T.decoder_weight(occ, (16, 16))
    gt = _moving(1, t=3)
    nan_row = T.region_metrics(gt, gt, None)
    assert set(nan_row) == set(T.REGION_METRICS) and all(np.isnan(v) for v in nan_row.values())
    row = T.region_metrics(gt, gt, np.ones(gt.shape[:3]))
    assert row["flicker_dec"] == 0.0 and row["tof_dec"] == 0.0 and row["sharpness_dec"] == pytest.approx(1.0)
    assert row["warp_error_dec"] == pytest.approx(E.warping_error(gt, gt))


def test_trajectory_energy_and_keypoint_jitter_by_hand() -> None:
    from lstmgan.generate.temporal import keypoint_jitter, trajectory_energy

    t = np.arange(6, dtype=np.float64)
    steady = np.stack([3 * t, -t], -1)[:, None]  # constant velocity: no high-frequency energy
    assert trajectory_energy(steady) == 0.0
    zigzag = np.zeros((6, 1, 2))
    zigzag[::2, 0, 0] = 1.0  # x = 1, 0, 1, 0, ...: second difference +-2 every frame
    assert trajectory_energy(zigzag) == pytest.approx(4.0)
    landmarks = np.repeat(zigzag, 68, axis=1) * 0.5  # second difference +-1: energy 1
    assert keypoint_jitter(np.repeat(zigzag, 10, axis=1), landmarks) == pytest.approx(4.0)
    assert np.isnan(keypoint_jitter(zigzag, np.repeat(steady, 68, axis=1)))  # still ground truth: undefined


def test_one_euro_filter_known_answers() -> None:
    import torch

    from lstmgan.generate.filters import OneEuro, smoothing_factor

    a = smoothing_factor(1.0, 25.0)
    assert a == pytest.approx(1 / (1 + 25 / (2 * np.pi)))
    step = torch.tensor([0.0, 1, 1, 1, 1])
    # beta 0: an exponential moving average, y_t = 1 - (1 - a)^t after a unit step
    out = OneEuro(min_cutoff=1.0, beta=0.0)(step)
    assert torch.allclose(out, torch.tensor([0.0] + [1 - (1 - a) ** k for k in range(1, 5)]), atol=1e-6)
    const = torch.full((7, 3, 2, 2), 0.3)
    assert torch.allclose(OneEuro(0.5, 2.0)(const), const)  # a still signal passes unchanged
    # speed raises the cutoff: with beta > 0 the filter lags a ramp less than with beta 0
    ramp = torch.arange(20, dtype=torch.float32)
    lag0 = (ramp - OneEuro(1.0, 0.0)(ramp))[-1]
    lag1 = (ramp - OneEuro(1.0, 0.5)(ramp))[-1]
    assert 0 < lag1 < lag0
    # causal: changing a later sample leaves the earlier outputs alone
    other = ramp.clone()
    other[10:] = 0
    assert torch.equal(OneEuro(1.0, 0.5)(other)[:10], OneEuro(1.0, 0.5)(ramp)[:10])
    kp = {"value": torch.rand(5, 4, 2), "jacobian": torch.rand(5, 4, 2, 2)}
    smoothed = OneEuro(1.0, 0.0).keypoints(kp)
    assert smoothed["value"].shape == (5, 4, 2) and torch.equal(smoothed["value"][0], kp["value"][0])
