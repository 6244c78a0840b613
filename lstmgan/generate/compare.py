"""The ablation table: every metric as mean [95% interval] per method, and paired comparisons.

Input is a long per-unit table (pandas DataFrame): one row per ``method`` x ``unit`` (a test video,
or a cross-identity pair) and, when variants were trained with several seeds, per ``seed``; one
column per metric. Every interval comes from :mod:`lstmgan.utils.stats`:

* a method's mean: bootstrap over units (one seed), or over seeds and units together (two-level);
* a comparison ``A vs B``: the paired difference ``A - B`` on the same units (seeds paired by
  position: independent runs, any pairing is as good), with the same bootstrap;
* its verdict (better / worse / not resolved at this budget) from whether the interval excludes 0,
  in the direction the metric prefers (:func:`lstmgan.utils.stats.higher_is_better`), never from a
  point estimate; a descriptive metric (how much the decoder paints) says higher / lower instead.

Units present for one method but not the other, and units where either value is NaN, are dropped
from a comparison (a paired difference needs both). The same ``boot_seed`` is used everywhere,
so the tables are reproducible to the digit.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from lstmgan.utils.stats import (Interval, bootstrap_seeds_videos, higher_is_better, paired_difference, verdict,
                                 verdict_sentence)


@dataclass(frozen=True)
class Comparison:
    """``a`` vs ``b`` on one metric: the paired difference a - b, its interval and verdict."""

    a: str
    b: str
    metric: str
    diff: Interval
    verdict: str
    sentence: str


def cell_table(df, method: str, metric: str, units: Sequence[str] | None = None,
               seeds: Sequence | None = None) -> np.ndarray:
    """(seeds, units) array of ``metric`` for ``method`` (NaN where a cell is missing).

    Without a ``seed`` column the table has one row. ``units``/``seeds`` fix the column/row order
    (so two methods line up); by default the method's own, sorted.
    """
    rows = df[df["method"] == method]
    has_seed = "seed" in rows.columns
    if units is None:
        units = sorted(rows["unit"].astype(str).unique())
    if seeds is None:
        seeds = sorted(rows["seed"].unique()) if has_seed else [None]
    out = np.full((len(seeds), len(units)), np.nan)
    col = {u: j for j, u in enumerate(units)}
    row = {s: i for i, s in enumerate(seeds)}
    for _, r in rows.iterrows():
        u, s = str(r["unit"]), (r["seed"] if has_seed else None)
        if u in col and s in row and metric in r:
            out[row[s], col[u]] = float(r[metric])
    return out


def method_interval(df, method: str, metric: str, n_boot: int = 2000, boot_seed: int = 0) -> Interval:
    """Mean of ``metric`` for ``method`` with a 95% interval (over units, and seeds when present).

    Units with NaN in any seed are dropped (the bootstrap needs a full table)."""
    table = cell_table(df, method, metric)
    if table.size == 0 or not np.isfinite(table).any():
        return Interval(float("nan"), float("nan"), float("nan"), 0.95, 0)
    return bootstrap_seeds_videos(table, n_boot=n_boot, seed=boot_seed)


def pair_tables(df, a: str, b: str, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Aligned (seeds, units) tables of ``a`` and ``b``: common units; seeds paired by position (what
    :func:`compare` bootstraps, and what a study's power estimate reads its variance components from)."""
    ra, rb = df[df["method"] == a], df[df["method"] == b]
    units = sorted(set(ra["unit"].astype(str)) & set(rb["unit"].astype(str)))
    if "seed" in df.columns:
        sa, sb = sorted(ra["seed"].unique()), sorted(rb["seed"].unique())
        if len(sa) == 1 or len(sb) == 1:  # a single-run method (copy-source) pairs with every seed
            ta, tb = cell_table(df, a, metric, units, sa), cell_table(df, b, metric, units, sb)
            n = max(len(ta), len(tb))
            ta, tb = np.repeat(ta, n // len(ta), 0), np.repeat(tb, n // len(tb), 0)
        else:
            n = min(len(sa), len(sb))
            ta, tb = cell_table(df, a, metric, units, sa[:n]), cell_table(df, b, metric, units, sb[:n])
    else:
        ta, tb = cell_table(df, a, metric, units), cell_table(df, b, metric, units)
    keep = np.isfinite(ta).all(axis=0) & np.isfinite(tb).all(axis=0)
    return ta[:, keep], tb[:, keep]


def compare(df, a: str, b: str, metric: str, n_boot: int = 2000, boot_seed: int = 0) -> Comparison:
    """Paired difference ``a - b`` of ``metric`` with its interval, verdict and sentence."""
    ta, tb = pair_tables(df, a, b, metric)
    if ta.size == 0:
        diff = Interval(float("nan"), float("nan"), float("nan"), 0.95, 0)
    else:
        diff = paired_difference(ta, tb, n_boot=n_boot, seed=boot_seed)
    hib = higher_is_better(metric)
    if not np.isfinite(diff.estimate):
        return Comparison(a, b, metric, diff, "n/a", f"{a} vs {b} on {metric}: not measured for both.")
    return Comparison(a, b, metric, diff, verdict(diff, hib), verdict_sentence(a, b, metric, diff, hib))


def means_table(df, metrics: Iterable[str], methods: Sequence[str] | None = None, n_boot: int = 2000,
                boot_seed: int = 0):
    """Long DataFrame (method, metric, mean, low, high, n) of every method's interval."""
    import pandas as pd

    methods = list(methods) if methods is not None else list(dict.fromkeys(df["method"]))
    rows = []
    for m in methods:
        for metric in metrics:
            if metric not in df.columns:
                continue
            iv = method_interval(df, m, metric, n_boot, boot_seed)
            rows.append({"method": m, "metric": metric, "mean": iv.estimate, "low": iv.low, "high": iv.high,
                         "n": iv.n})
    return pd.DataFrame(rows, columns=["method", "metric", "mean", "low", "high", "n"])


def comparisons_table(df, pairs: Iterable[tuple[str, str]], metrics: Iterable[str], n_boot: int = 2000,
                      boot_seed: int = 0):
    """Long DataFrame (a, b, metric, diff, low, high, n, verdict, sentence) for each present pair."""
    import pandas as pd

    present = set(df["method"])
    rows = []
    for a, b in pairs:
        if a not in present or b not in present:
            continue
        for metric in metrics:
            if metric not in df.columns:
                continue
            c = compare(df, a, b, metric, n_boot, boot_seed)
            rows.append({"a": a, "b": b, "metric": metric, "diff": c.diff.estimate, "low": c.diff.low,
                         "high": c.diff.high, "n": c.diff.n, "verdict": c.verdict, "sentence": c.sentence})
    return pd.DataFrame(rows, columns=["a", "b", "metric", "diff", "low", "high", "n", "verdict", "sentence"])


def default_pairs(methods: Sequence[str], baseline: str = "copy-source") -> list[tuple[str, str]]:
    """lstm vs none (when both are there), then every generator vs ``baseline``."""
    gens = [m for m in methods if m not in ("copy-source", "driving-video")]
    pairs = [("lstm", "none")] if {"lstm", "none"} <= set(gens) else []
    return pairs + [(m, baseline) for m in gens if baseline in methods]


def format_markdown(means, comps, note: str = "", level: float = 0.95, over: str = "test videos") -> str:
    """Two Markdown tables: mean [low, high] per method x metric; diff [low, high] verdict per pair."""
    from lstmgan.utils.tables import format_interval, markdown_table

    pct = int(round(level * 100))
    metrics = list(dict.fromkeys(means["metric"]))
    rows = []
    for method, group in means.groupby("method", sort=False):
        by = {r.metric: r for r in group.itertuples()}
        rows.append([method] + [format_interval(by[m].mean, by[m].low, by[m].high, 3, significant=True)
                                if m in by else "n/a" for m in metrics])
    text = (f"Mean [{pct}% interval] per method (bootstrap over {over}):\n\n"
            + markdown_table(rows, ["method", *metrics]))
    if len(comps):
        rows = []
        for (a, b), group in comps.groupby(["a", "b"], sort=False):
            by = {r.metric: r for r in group.itertuples()}
            rows.append([f"{a} vs {b}"] + [
                "n/a" if m not in by or by[m].verdict == "n/a" else
                f"{format_interval(by[m].diff, by[m].low, by[m].high, 3, significant=True, signed=True)} **{by[m].verdict}**"
                for m in metrics])
        text += (f"\nPaired difference A - B [{pct}% interval] and verdict for A (better / worse / "
                 "not resolved at this budget, from the interval alone; higher / lower on the descriptive "
                 "metrics, which have no better side):\n\n"
                 + markdown_table(rows, ["A vs B", *metrics]))
    return text + ("\n" + note + "\n" if note else "")


def summary_sentence(comps, a: str = "lstm", b: str = "none") -> str:
    """Which metrics ``a`` is better / worse / not resolved on against ``b`` (intervals decide)."""
    rows = comps[(comps["a"] == a) & (comps["b"] == b) & (comps["verdict"] != "n/a")]
    if rows.empty:
        return f"The {a} vs {b} comparison needs both methods."
    groups = {v: list(rows.loc[rows["verdict"] == v, "metric"])
              for v in ("better", "worse", "higher", "lower", "not resolved")}
    described = "".join(f"; {v} (descriptive) on {', '.join(groups[v])}" for v in ("higher", "lower") if groups[v])
    return (f"{a} vs {b}, paired 95% intervals: better on {', '.join(groups['better']) or 'no metric'}; "
            f"worse on {', '.join(groups['worse']) or 'no metric'}{described}; not resolved at this budget on "
            f"{', '.join(groups['not resolved']) or 'no metric'}.")


def wide_table(means):
    """One row per method (index ``method``, in the means' order): ``<metric>``, ``<metric>_low``,
    ``<metric>_high`` for every metric of the long means table."""
    import pandas as pd

    wide = means.pivot(index="method", columns="metric", values=["mean", "low", "high"])
    cols = {}
    for m in dict.fromkeys(means["metric"]):
        cols[m] = wide[("mean", m)]
        cols[f"{m}_low"] = wide[("low", m)]
        cols[f"{m}_high"] = wide[("high", m)]
    table = pd.DataFrame(cols).reindex(list(dict.fromkeys(means["method"])))
    table.index.name = "method"
    return table


def write_ablation(means, comps, path_stem: str | Path, note: str = "", over: str = "test videos"
                   ) -> tuple[Path, Path, Path]:
    """``<stem>.md`` (both tables and ``note``), ``<stem>.csv`` (method rows: ``<metric>``,
    ``<metric>_low``, ``<metric>_high``) and ``<stem>_comparisons.csv`` (the long comparison rows)."""
    from lstmgan.utils.io import atomic_write_text

    stem = Path(path_stem)
    table = wide_table(means)
    csv_path = atomic_write_text(stem.with_suffix(".csv"), table.to_csv(float_format="%.6g"))
    comp_path = atomic_write_text(stem.parent / f"{stem.name}_comparisons.csv",
                                  comps.to_csv(index=False, float_format="%.6g"))
    md_path = atomic_write_text(stem.with_suffix(".md"), format_markdown(means, comps, note, over=over))
    return csv_path, md_path, comp_path
