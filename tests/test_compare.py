"""The ablation table's intervals and verdicts on inputs with known answers."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lstmgan.generate import compare as C


def frame(rows: dict[str, dict[str, list[float]]], seeds: dict[str, list[int]] | None = None) -> pd.DataFrame:
    """{method: {metric: values per unit (x seeds, seed-major)}} -> long per-unit DataFrame."""
    out = []
    for method, metrics in rows.items():
        ss = (seeds or {}).get(method, [None])
        n = len(next(iter(metrics.values()))) // len(ss)
        for i, s in enumerate(ss):
            for u in range(n):
                row = {"method": method, "unit": f"v{u}", **{m: v[i * n + u] for m, v in metrics.items()}}
                if s is not None:
                    row["seed"] = s
                out.append(row)
    return pd.DataFrame(out)


def test_constant_difference_is_resolved_and_a_sign_flipping_one_is_not() -> None:
    df = frame({"lstm": {"l1": [0.10, 0.20, 0.30, 0.40], "psnr": [20.0, 21.0, 22.0, 23.0]},
                "none": {"l1": [0.11, 0.21, 0.31, 0.41], "psnr": [20.5, 20.5, 22.5, 22.5]}})
    l1 = C.compare(df, "lstm", "none", "l1")
    # every resample of a constant difference has the same mean: a degenerate interval
    assert (l1.diff.estimate, l1.diff.low, l1.diff.high) == pytest.approx((-0.01, -0.01, -0.01))
    assert l1.verdict == "better" and "lstm is better than none on l1" in l1.sentence
    psnr = C.compare(df, "lstm", "none", "psnr")  # differences -0.5, +0.5, -0.5, +0.5
    assert psnr.diff.estimate == pytest.approx(0.0) and psnr.diff.low < 0 < psnr.diff.high
    assert psnr.verdict == "not resolved" and "not resolved at this budget" in psnr.sentence
    # lower psnr on every video is worse (higher is better there)
    worse = C.compare(frame({"a": {"psnr": [1.0, 2.0]}, "b": {"psnr": [2.0, 3.0]}}), "a", "b", "psnr")
    assert worse.verdict == "worse"


def test_mean_interval_of_two_values_covers_both() -> None:
    """Two videos with 0 and 1: replicate means are 0, 0.5, 1 with probability 1/4, 1/2, 1/4, so
    the 95% percentile interval is [0, 1]; a constant metric has a zero-width interval."""
    df = frame({"m": {"l1": [0.0, 1.0], "ssim": [0.7, 0.7]}})
    iv = C.method_interval(df, "m", "l1")
    assert (iv.estimate, iv.low, iv.high, iv.n) == (0.5, 0.0, 1.0, 2)
    assert (C.method_interval(df, "m", "ssim").low, C.method_interval(df, "m", "ssim").high) == pytest.approx((0.7, 0.7))


def test_two_level_interval_carries_seed_spread() -> None:
    """Two seeds of one video: 0 and 1. Resampling seeds gives means 0, .5, 1 -> [0, 1], while the
    same values as two videos of one seed give the same; identical seeds give a zero width."""
    spread = frame({"m": {"l1": [0.0, 1.0]}}, seeds={"m": [0, 1]})
    iv = C.method_interval(spread, "m", "l1")
    assert (iv.estimate, iv.low, iv.high, iv.n) == (0.5, 0.0, 1.0, 2)
    same = frame({"m": {"l1": [0.3, 0.5, 0.3, 0.5]}}, seeds={"m": [0, 1]})  # seeds agree, videos differ
    iv = C.method_interval(same, "m", "l1")
    assert iv.estimate == pytest.approx(0.4) and iv.low == pytest.approx(0.3) and iv.high == pytest.approx(0.5)
    # a seed-dependent difference of a vs b: +1 on seed 0, -1 on seed 1 -> not resolved;
    # a difference of -1 on both seeds -> resolved (better, lower l1)
    df = frame({"a": {"l1": [1.0, 1.0, -1.0, -1.0]}, "b": {"l1": [0.0] * 4}}, seeds={"a": [0, 1], "b": [0, 1]})
    assert C.compare(df, "a", "b", "l1").verdict == "not resolved"
    df = frame({"a": {"l1": [-1.0] * 4}, "b": {"l1": [0.0] * 4}}, seeds={"a": [0, 1], "b": [0, 1]})
    c = C.compare(df, "a", "b", "l1")
    assert c.verdict == "better" and c.diff.n == 4


def test_single_run_baseline_pairs_with_every_seed_and_missing_units_drop() -> None:
    df = frame({"lstm": {"l1": [0.1, 0.2, 0.3, 0.1, 0.2, 0.3]}, "copy-source": {"l1": [0.5, 0.5, 0.5]}},
               seeds={"lstm": [0, 1], "copy-source": [0]})
    c = C.compare(df, "lstm", "copy-source", "l1")
    assert c.diff.estimate == pytest.approx(-0.3) and c.diff.n == 6 and c.verdict == "better"
    # video v2 of b is NaN and v3 only exists for a: both leave the pairing
    df = frame({"a": {"l1": [0.1, 0.1, 0.1, 9.0]}, "b": {"l1": [0.2, 0.2, np.nan, 0.0]}})
    df = df[~((df.method == "b") & (df.unit == "v3"))]
    c = C.compare(df, "a", "b", "l1")
    assert c.diff.estimate == pytest.approx(-0.1) and c.diff.n == 2
    # a metric only one side has is "n/a", not a verdict
    df = frame({"a": {"tof_dec": [1.0, 2.0]}, "b": {"tof_dec": [np.nan, np.nan]}})
    assert C.compare(df, "a", "b", "tof_dec").verdict == "n/a"


def test_tables_markdown_and_files(tmp_path) -> None:
    df = frame({"lstm": {"l1": [0.10, 0.20], "flicker": [0.01, 0.03]},
                "none": {"l1": [0.11, 0.21], "flicker": [0.02, 0.02]},
                "copy-source": {"l1": [0.5, 0.5], "flicker": [0.02, 0.02]}})
    pairs = C.default_pairs(["lstm", "none", "copy-source", "driving-video"])
    assert pairs == [("lstm", "none"), ("lstm", "copy-source"), ("none", "copy-source")]
    means = C.means_table(df, ["l1", "flicker"])
    comps = C.comparisons_table(df, pairs + [("lstm", "absent")], ["l1", "flicker"])
    assert len(means) == 6 and len(comps) == 6  # the absent method's pair is skipped
    row = comps[(comps.a == "lstm") & (comps.b == "none") & (comps.metric == "l1")].iloc[0]
    assert row["diff"] == pytest.approx(-0.01) and row["verdict"] == "better"
    md = C.format_markdown(means, comps, note="note here")
    assert "| lstm | 0.150 [0.100, 0.200] | 0.0200 [0.0100, 0.0300] |" in md  # three significant digits
    assert "| lstm vs none | -0.0100 [-0.0100, -0.0100] **better** | " in md  # then flicker: diffs -0.01, +0.01
    assert "[-0.0100, +0.0100] **not resolved** |" in md
    assert md.rstrip().endswith("note here")
    assert "better on l1; worse on no metric; not resolved at this budget on flicker" in C.summary_sentence(comps)
    csv, md_path, comp_csv = C.write_ablation(means, comps, tmp_path / "ablation", "n")
    wide = pd.read_csv(csv, index_col="method")
    assert list(wide.index) == ["lstm", "none", "copy-source"]
    assert list(wide.columns) == ["l1", "l1_low", "l1_high", "flicker", "flicker_low", "flicker_high"]
    assert wide.loc["copy-source", "l1_low"] == pytest.approx(0.5)
    assert len(pd.read_csv(comp_csv)) == 6 and md_path.read_text() == C.format_markdown(means, comps, "n")


def test_mouth_opening_is_better_higher_and_the_decoder_share_only_differs() -> None:
    # lstm follows the driver's mouth more closely (mouth_corr up: better) and paints more of the
    # image (decoder_share up: a description of how, not a judgement)
    df = frame({"lstm": {"mouth_corr": [0.6, 0.7, 0.8], "decoder_share": [0.2, 0.3, 0.4]},
                "none": {"mouth_corr": [0.4, 0.5, 0.6], "decoder_share": [0.0, 0.1, 0.2]}})
    comps = C.comparisons_table(df, [("lstm", "none")], ["mouth_corr", "decoder_share"])
    assert dict(zip(comps.metric, comps.verdict)) == {"mouth_corr": "better", "decoder_share": "higher"}
    assert ("better on mouth_corr; worse on no metric; higher (descriptive) on decoder_share; "
            "not resolved at this budget on no metric") in C.summary_sentence(comps)
