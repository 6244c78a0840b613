"""The multi-seed ablation study: collect every cell's per-video metrics, one table with two-level intervals.

The study pipeline (``studies/ablation/dvc.yaml``, its own ``studies/ablation/params.yaml``) trains
each *variant* (lstm, none, lstm without the adversarial terms, ...) with several *seeds*, and
evaluates every cell (variant x seed) on the test split with ``lstmgan evaluate``, which writes
``<cells>/<variant>-s<seed>/per_video.csv`` and ``cross_identity.csv``. :func:`aggregate` reads them
all and writes one table: every metric as mean [95% interval] per variant, resampling seeds and test
videos together (two-level bootstrap, :func:`lstmgan.utils.stats.bootstrap_seeds_videos`), and every
comparison of ``study.comparisons`` as the paired difference with its interval and verdict
(:mod:`lstmgan.generate.compare`). The copy-the-source baseline does not depend on the seed; it is
taken from one cell and paired with every seed.

The study's params (``study:`` section):

* ``variants``: list of {name, sets}: ``sets`` are ``--set KEY=VALUE`` overrides of params.yaml;
* ``seeds``: training seeds; ``steps``: gan.train.steps for every cell;
* ``comparisons``: [[A, B], ...] pairs of variant names (or ``copy-source``);
* ``cells``, ``out``: where cells write their evaluation, and where the table goes.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lstmgan.errors import UserError

log = logging.getLogger(__name__)

BASELINES = ("copy-source",)


@dataclass
class Study:
    """The ``study`` section of a study's params file."""

    variants: list[dict[str, str]]
    seeds: list[int]
    comparisons: list[tuple[str, str]]
    cells: str
    out: str
    steps: int = 0
    n_boot: int = 2000

    @property
    def names(self) -> list[str]:
        return [v["name"] for v in self.variants]


def load_study(path: str | Path) -> Study:
    """Read and check the ``study`` section of ``path`` (one-line UserError naming the fix)."""
    from yaml import safe_load

    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such study params file; pass --study studies/ablation/params.yaml")
    data = (safe_load(path.read_text()) or {}).get("study")
    if not isinstance(data, dict):
        raise UserError(f"{path}: no `study:` section; see studies/ablation/params.yaml")
    try:
        variants = [{"name": str(v["name"]), "sets": str(v.get("sets", ""))} for v in data["variants"]]
        seeds = [int(s) for s in data["seeds"]]
        comparisons = [(str(a), str(b)) for a, b in data.get("comparisons", [])]
        study = Study(variants, seeds, comparisons, str(data["cells"]), str(data["out"]),
                      int(data.get("steps", 0)), int(data.get("n_boot", 2000)))
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(f"{path}: study section incomplete or malformed ({exc!r}); it needs variants "
                        "[{name, sets}], seeds, cells, out") from exc
    known = set(study.names) | set(BASELINES)
    for a, b in comparisons:
        if a not in known or b not in known:
            raise UserError(f"{path}: comparison [{a}, {b}] names an unknown variant; known: {sorted(known)}")
    return study


def cell_name(variant: str, seed: int) -> str:
    """The folder of one cell: ``<variant>-s<seed>``."""
    return f"{variant}-s{seed}"


def collect(cells: str | Path, variants: list[str], seeds: list[int]):
    """(reconstruction, cross-identity) long DataFrames of every cell, with ``seed`` and ``unit``.

    The method column is the variant's name; the seed-independent baselines are kept from the
    first cell only. Raises UserError naming a missing cell.
    """
    import pandas as pd

    recon, cross = [], []
    first = True
    for variant in variants:
        for seed in seeds:
            folder = Path(cells) / cell_name(variant, seed)
            path = folder / "per_video.csv"
            if not path.is_file():
                raise UserError(f"{path}: missing; run `dvc repro studies/ablation/dvc.yaml` (cell "
                                f"{cell_name(variant, seed)} has not been evaluated)")
            for name, out, unit in (("per_video.csv", recon, "video_id"), ("cross_identity.csv", cross, "pair")):
                f = folder / name
                if not f.is_file():
                    continue
                df = pd.read_csv(f)
                if df.empty:
                    continue
                keep = df["method"].isin([variant] + (list(BASELINES) if first else []))
                df = df[keep].copy()
                df["seed"] = seed
                df["unit"] = df[unit].astype(str) if unit == "video_id" else "pair" + df[unit].astype(str)
                out.append(df)
            first = False
    recon_df = pd.concat(recon, ignore_index=True) if recon else pd.DataFrame()
    cross_df = pd.concat(cross, ignore_index=True) if cross else pd.DataFrame()
    return recon_df, cross_df


NOT_METRICS = frozenset({"method", "unit", "seed", "video_id", "identity", "frames", "pair", "source_video",
                         "source_identity", "driving_video", "driving_identity"})


def metric_columns(df) -> list[str]:
    """The metric columns of a per-video / per-pair table, in file order (numeric, not an id).

    Read from the files, so that aggregation needs neither the models nor the evaluation code."""
    import pandas as pd

    return [c for c in df.columns if c not in NOT_METRICS and pd.api.types.is_numeric_dtype(df[c])]


def study_tables(recon, cross, methods: list[str], comparisons: list[tuple[str, str]], n_boot: int = 2000,
                 boot_seed: int = 0):
    """(means, comparisons) long DataFrames with two-level intervals (see module docstring)."""
    import pandas as pd

    from lstmgan.generate import compare as C

    means, comps = [], []
    for df in (recon, cross):
        if len(df):
            present = [m for m in methods if m in set(df["method"])]
            metrics = metric_columns(df)
            means.append(C.means_table(df, metrics, present, n_boot, boot_seed))
            comps.append(C.comparisons_table(df, comparisons, [m for m in metrics if m != "driver_aed"], n_boot,
                                             boot_seed))
    if not means:
        raise UserError("the study has no per-video rows; check study.cells")
    means = pd.concat(means, ignore_index=True)
    means["order"] = means["method"].map({m: i for i, m in enumerate(methods)})
    means = means.sort_values("order", kind="stable").drop(columns="order").reset_index(drop=True)
    comps = pd.concat(comps, ignore_index=True)
    if len(comps):
        comps["order"] = [comparisons.index((a, b)) for a, b in zip(comps["a"], comps["b"])]
        comps = comps.sort_values("order", kind="stable").drop(columns="order").reset_index(drop=True)
    return means, comps


def aggregate(study_path: str | Path) -> dict[str, Any]:
    """Read every cell of the study, write ``<out>/ablation.{md,csv}``, ``ablation_comparisons.csv``,
    ``per_video.csv`` (all cells) and ``metrics.json``; return them as a dict."""
    from lstmgan.generate import compare as C
    from lstmgan.utils.io import atomic_write_json, atomic_write_text

    study = load_study(study_path)
    recon, cross = collect(study.cells, study.names, study.seeds)
    methods = study.names + [b for b in BASELINES if len(recon) and b in set(recon["method"])]
    means, comps = study_tables(recon, cross, methods, study.comparisons, study.n_boot)
    out = Path(study.out)
    lines = [C.summary_sentence(comps, a, b) for a, b in study.comparisons
             if ((comps["a"] == a) & (comps["b"] == b)).any()]
    note = (f"Variants x seeds: {len(study.names)} x {len(study.seeds)} (seeds {study.seeds}), "
            f"{study.steps or 'params.yaml'} training steps each; {recon['unit'].nunique()} test videos. "
            "Intervals: two-level bootstrap over seeds and test videos (the copy-source baseline has "
            "one run and pairs with every seed).\n\n" + "\n".join(f"- {s}" for s in lines))
    C.write_ablation(means, comps, out / "ablation", note, over="seeds and test videos together")
    atomic_write_text(out / "per_video.csv", recon.to_csv(index=False, float_format="%.6g"))

    def num(v):
        return None if v is None or not np.isfinite(v) else round(float(v), 6)

    metrics = {m: {r.metric: {"mean": num(r.mean), "low": num(r.low), "high": num(r.high)}
                   for r in rows.itertuples()} for m, rows in means.groupby("method", sort=False)}
    metrics["comparisons"] = {f"{a} vs {b}": {r.metric: {"diff": num(r.diff), "low": num(r.low),
                                                          "high": num(r.high), "verdict": r.verdict}
                                              for r in rows.itertuples()}
                              for (a, b), rows in comps.groupby(["a", "b"], sort=False)}
    metrics["seeds"], metrics["videos"] = study.seeds, int(recon["unit"].nunique())
    metrics["steps"] = study.steps or None  # None: each cell trained params.yaml's gan.train.steps
    atomic_write_json(out / "metrics.json", metrics)
    log.info("study table: %s", out / "ablation.md")
    return {"means": means, "comparisons": comps, "note": note, "metrics": metrics}
