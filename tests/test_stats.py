"""Interval code on inputs with known answers, and the verdict rule."""
import numpy as np
import pytest

from lstmgan.utils.stats import (Interval, bootstrap_mean, bootstrap_seeds_videos, bootstrap_statistic,
                                 paired_difference, percentile_interval, verdict, verdict_sentence)


def test_constant_values_give_a_point_interval():
    iv = bootstrap_mean([2.5] * 30)
    assert (iv.estimate, iv.low, iv.high, iv.n) == (2.5, 2.5, 2.5, 30)


def test_mean_interval_matches_the_normal_approximation():
    x = np.random.default_rng(1).normal(10.0, 2.0, size=400)
    iv = bootstrap_mean(x, n_boot=4000, seed=3)
    half = 1.96 * x.std(ddof=1) / np.sqrt(x.size)  # ~0.196
    assert iv.estimate == pytest.approx(x.mean())
    assert iv.low == pytest.approx(x.mean() - half, abs=0.03)
    assert iv.high == pytest.approx(x.mean() + half, abs=0.03)


def test_percentile_interval_of_known_replicates():
    iv = percentile_interval(np.arange(1001), estimate=500.0, level=0.9)
    assert (iv.low, iv.high) == pytest.approx((50.0, 950.0))


def test_paired_shift_is_exact_and_resolved():
    a = np.random.default_rng(0).normal(size=(3, 20))
    iv = paired_difference(a + 1.0, a)
    assert iv.estimate == pytest.approx(1.0) and iv.low == pytest.approx(1.0) and iv.high == pytest.approx(1.0)
    assert verdict(iv, higher_is_better=True) == "better"
    assert verdict(iv, higher_is_better=False) == "worse"


def test_two_level_bootstrap_includes_seed_spread():
    rng = np.random.default_rng(5)
    videos = rng.normal(0, 0.01, size=50)
    seeds = np.array([-1.0, 0.0, 1.0])[:, None]  # seed effects dwarf video noise
    table = seeds + videos[None, :]
    one_level = bootstrap_mean(table.mean(axis=0))
    two_level = bootstrap_seeds_videos(table)
    assert one_level.high - one_level.low < 0.01
    assert two_level.high - two_level.low > 0.5  # resampling 3 seeds moves the mean by up to +-1


def test_unresolved_when_interval_straddles_zero():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=40), rng.normal(size=40)
    iv = paired_difference(a, b)
    assert iv.low < 0 < iv.high
    assert verdict(iv, True) == "not resolved"
    assert "not resolved" in verdict_sentence("lstm", "none", "L1", iv, False)


def test_nan_interval_is_not_resolved():
    assert verdict(Interval(0.1, float("nan"), float("nan")), True) == "not resolved"


def test_grouped_statistic_keeps_groups_together():
    # two groups whose rows are identical within the group: every replicate mean is one of the
    # three possible averages of two group means (0, 0.5 or 1), never anything else
    values = np.array([0.0] * 5 + [1.0] * 5)
    groups = np.array([0] * 5 + [1] * 5)
    iv = bootstrap_statistic(lambda idx: values[idx].mean(), groups, n_boot=200)
    assert iv.n == 2 and iv.estimate == 0.5
    assert iv.low in (0.0, 0.5) and iv.high in (0.5, 1.0)


def test_same_seed_same_interval():
    x = np.arange(25.0)
    assert bootstrap_mean(x, seed=7) == bootstrap_mean(x, seed=7)


def test_every_generation_metric_has_one_direction():
    from lstmgan.generate.evaluate import CROSS_METRICS, RECON_METRICS
    from lstmgan.generate.parts import PART_METRICS
    from lstmgan.utils.stats import DESCRIPTIVE, HIGHER_IS_BETTER, higher_is_better

    assert not HIGHER_IS_BETTER & DESCRIPTIVE
    assert {m for m in PART_METRICS if higher_is_better(m)} == {"mouth_corr", "blinks_reproduced"}
    assert {m for m in PART_METRICS if higher_is_better(m) is None} == DESCRIPTIVE
    assert [m for m in (*RECON_METRICS, *CROSS_METRICS) if higher_is_better(m) is None] == []
    assert higher_is_better("cross_mouth_corr") is True and higher_is_better("cross_decoder_share") is None
    assert higher_is_better("flicker") is False and higher_is_better("cross_identity") is False


def test_a_descriptive_metric_says_higher_or_lower_never_better():
    up, down = Interval(0.2, 0.1, 0.3), Interval(-0.2, -0.3, -0.1)
    assert (verdict(up, None), verdict(down, None)) == ("higher", "lower")
    assert verdict(Interval(0.0, -0.1, 0.1), None) == "not resolved"
    assert "no better side" in verdict_sentence("lstm", "none", "decoder_share", up, None)
    assert verdict_sentence("lstm", "none", "decoder_share", up, None).startswith("lstm has higher decoder_share")
