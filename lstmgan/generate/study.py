"""The multi-seed ablation study: every cell's per-video metrics in one table with two-level intervals,
for clean and for degraded driving, with the power of every comparison.

The study pipeline (``studies/ablation/dvc.yaml``, its own ``studies/ablation/params.yaml``) trains
each *variant* (none, lstm, kp, ...) with several *seeds* and evaluates every cell (variant x seed)
on the test split with ``lstmgan evaluate``, which writes ``<cells>/<variant>-s<seed>/per_video.csv``,
``cross_identity.csv``, ``metrics.json`` and, when the store has the degraded copy of its videos,
``per_video_degraded.csv`` (reconstruction driven by the degraded videos, scored against the clean
frames). One cell can hold several *methods* of its checkpoint: the ``none`` cell evaluates ``none``
and ``none+euro`` (the same checkpoint with a One-Euro filter on its driving keypoints, tuned on
validation), so rows are collected by the CSV's method column, each method under its own name, and
no checkpoint is trained twice.

:func:`aggregate` reads them all and writes, for each drive (clean, degraded): every metric as mean
[95% interval] per method, resampling seeds and test videos together (two-level bootstrap,
:func:`lstmgan.utils.stats.bootstrap_seeds_videos`); every comparison of ``study.comparisons`` as the
paired difference with its interval and verdict (:mod:`lstmgan.generate.compare`); and the power of
each comparison (:func:`sample_size`). The copy-the-source baseline does not depend on the seed; it
is taken from one cell and paired with every seed. Cross-identity animation has no degraded pass
(no ground truth to score the noise against), so its metrics are in the clean tables only.

The study's params (``study:`` section):

* ``variants``: list of {name, sets, methods}: ``sets`` are ``--set KEY=VALUE`` overrides of
  params.yaml for training; ``methods`` (comma-separated; default: the name) what its evaluation cell
  writes: the name itself and ``<name>+<filter>`` methods of the same checkpoint;
* ``seeds``: training seeds; ``steps``: gan.train.steps for every cell;
* ``comparisons``: [[A, B], ...] pairs of method names (or ``copy-source``);
* ``device``, ``sets``: the evaluation device and overrides that every training and evaluation cell
  gets (a GPU run sets them);
* ``cells``, ``out``: where cells write their evaluation, and where the tables go.

Power. For A vs B on one metric, the interval's half-width ``h`` is the smallest difference this study
resolves: an estimated difference larger than ``h`` has an interval that excludes 0 (a true effect of
exactly ``h`` is resolved about half the time; 80% of the time needs about 1.43 ``h``). The seeds x
videos needed to resolve a difference of 5% of B's mean assume that the half-width shrinks as
1/sqrt(seeds x videos): ``n_needed = n_now * (h / (0.05 |mean_B|))**2``. Per level, the variance
components of the difference table (seed, video, residual; two-way random effects, method of moments)
give the seeds needed at the present number of videos, and the videos needed at the present seeds
(none when that level alone cannot get there, because the other level's spread already exceeds it).
"""
from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from lstmgan.errors import UserError

log = logging.getLogger(__name__)

BASELINES = ("copy-source",)
DRIVES = {"clean": "per_video.csv", "degraded": "per_video_degraded.csv"}  # drive -> each cell's per-video file
CROSS = "cross_identity.csv"
POWER_EFFECT = 0.05  # the power lines size the study for a difference of this share of B's mean
OVER = "seeds and test videos together"
POWER_COLUMNS = ("half_width", "target", "n_now", "n_needed", "seeds_needed", "videos_needed")


@dataclass
class Study:
    """The ``study`` section of a study's params file."""

    variants: list[dict[str, Any]]  # {"name", "sets", "methods": [method names]}
    seeds: list[int]
    comparisons: list[tuple[str, str]]
    cells: str
    out: str
    steps: int = 0
    n_boot: int = 2000
    device: str = "cpu"
    sets: str = ""

    @property
    def names(self) -> list[str]:
        """The trained variants: one training and one evaluation cell per seed each."""
        return [v["name"] for v in self.variants]

    @property
    def methods(self) -> list[str]:
        """Every method the cells evaluate, in table order."""
        return [m for v in self.variants for m in v["methods"]]

    @property
    def variant_of(self) -> dict[str, str]:
        """Method -> the trained variant whose checkpoint it animates with."""
        return {m: v["name"] for v in self.variants for m in v["methods"]}


def parse_methods(name: str, raw: Any) -> list[str]:
    """A variant's evaluated methods from ``"none,none+euro"`` (or a list): its own name and
    ``<name>+<filter>`` methods of the same checkpoint; the name alone when ``raw`` is empty."""
    if raw is None or raw == "":
        return [name]
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    methods = list(dict.fromkeys(str(m).strip() for m in items if str(m).strip()))
    if name not in methods or any(m != name and not m.startswith(name + "+") for m in methods):
        raise ValueError(f"variant {name}: methods {methods} must hold {name!r} and only methods named {name}+<filter>")
    return methods


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
        variants = [{"name": str(v["name"]), "sets": str(v.get("sets", "")),
                     "methods": parse_methods(str(v["name"]), v.get("methods"))} for v in data["variants"]]
        seeds = [int(s) for s in data["seeds"]]
        comparisons = [(str(a), str(b)) for a, b in data.get("comparisons", [])]
        study = Study(variants, seeds, comparisons, str(data["cells"]), str(data["out"]),
                      int(data.get("steps", 0)), int(data.get("n_boot", 2000)), str(data.get("device", "cpu")),
                      str(data.get("sets") or ""))
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(f"{path}: study section incomplete or malformed ({exc!r}); it needs variants "
                        "[{name, sets, methods}], seeds, cells, out") from exc
    if len(set(study.methods)) != len(study.methods) or len(set(study.names)) != len(study.names):
        raise UserError(f"{path}: a variant or method name appears twice: {study.methods}")
    known = set(study.methods) | set(BASELINES)
    for a, b in comparisons:
        if a not in known or b not in known:
            raise UserError(f"{path}: comparison [{a}, {b}] names an unknown variant; known: {sorted(known)}")
    return study


def cell_name(variant: str, seed: int) -> str:
    """The folder of one cell: ``<variant>-s<seed>``."""
    return f"{variant}-s{seed}"


def collect(cells: str | Path, variants: Sequence[dict[str, Any]], seeds: Sequence[int],
            filename: str = DRIVES["clean"]) -> tuple[Any, list[str]]:
    """(rows, cells without the file): ``filename`` of every cell as one long DataFrame with
    ``variant`` (the cell's trained variant), ``seed`` and ``unit`` (video, or cross-identity pair).

    A cell keeps the rows of its variant's methods (the method column names them: the none cell gives
    none and none+euro); the seed-independent baselines come from the first cell that has the file.
    A cell whose file lacks one of its methods raises UserError (it was evaluated without it).
    """
    import pandas as pd

    frames, missing, baselines_read = [], [], False
    unit = "pair" if filename == CROSS else "video_id"
    for variant in variants:
        for seed in seeds:
            name = cell_name(variant["name"], seed)
            path = Path(cells) / name / filename
            if not path.is_file():
                missing.append(name)
                continue
            df = pd.read_csv(path)
            if df.empty:
                continue
            absent = [m for m in variant["methods"] if m not in set(df["method"])]
            if absent and filename != CROSS:
                raise UserError(f"{path}: no rows of {', '.join(absent)}; evaluate cell {name} again with "
                                f"--set generate.methods=[{','.join(variant['methods'])}]")
            keep = list(variant["methods"]) + ([] if baselines_read else list(BASELINES))
            baselines_read = True
            df = df[df["method"].isin(keep)].copy()
            df["variant"], df["seed"] = variant["name"], seed
            df["unit"] = df[unit].astype(str) if unit == "video_id" else "pair" + df[unit].astype(str)
            frames.append(df)
    rows = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return rows, missing


NOT_METRICS = frozenset({"method", "unit", "seed", "variant", "drive", "video_id", "identity", "frames", "pair",
                         "source_video", "source_identity", "driving_video", "driving_identity"})


def metric_columns(df: Any) -> list[str]:
    """The metric columns of a per-video / per-pair table, in file order (numeric, not an id).

    Read from the files, so that aggregation needs neither the models nor the evaluation code."""
    import pandas as pd

    return [c for c in df.columns if c not in NOT_METRICS and pd.api.types.is_numeric_dtype(df[c])]


# --------------------------------------------------------------------------------------------
# Power
# --------------------------------------------------------------------------------------------
def variance_components(table: np.ndarray) -> tuple[float, float, float]:
    """(seed, video, residual) variance of a (seeds, videos) table, one value per cell.

    Two-way random effects by the method of moments (the expected mean squares of a two-way layout
    without replication); a negative estimate is 0. With one seed (or one video) that level's spread
    cannot be told from the residual, which is then counted with the other level."""
    x = np.asarray(table, dtype=float)
    x = x[:, np.isfinite(x).all(axis=0)] if x.ndim == 2 else x.reshape(1, -1)
    n_seeds, n_videos = x.shape
    if x.size < 2:
        return 0.0, 0.0, 0.0
    if n_seeds < 2:
        return 0.0, float(x.var(ddof=1)), 0.0
    if n_videos < 2:
        return float(x.var(ddof=1)), 0.0, 0.0
    grand, rows, cols = x.mean(), x.mean(axis=1), x.mean(axis=0)
    ms_seed = n_videos * float(((rows - grand) ** 2).sum()) / (n_seeds - 1)
    ms_video = n_seeds * float(((cols - grand) ** 2).sum()) / (n_videos - 1)
    resid = x - rows[:, None] - cols[None, :] + grand
    ms_resid = float((resid ** 2).sum()) / ((n_seeds - 1) * (n_videos - 1))
    return max(0.0, (ms_seed - ms_resid) / n_videos), max(0.0, (ms_video - ms_resid) / n_seeds), ms_resid


def _ceil(x: float) -> int:
    """ceil, forgiving the rounding error of a quotient that is an integer on paper."""
    return max(1, math.ceil(x * (1 - 1e-9)))


@dataclass(frozen=True)
class Power:
    """How far one comparison resolves, and what it would take to resolve ``target``."""

    half_width: float  # of the 95% interval: the smallest difference this study resolves
    target: float  # the difference sized for: POWER_EFFECT x |mean of B|
    n_now: int  # seeds x videos
    n_needed: int | None  # seeds x videos for a half-width of ``target`` (both levels grown together)
    seeds_needed: int | None  # at the present videos (None: more seeds alone cannot get there)
    videos_needed: int | None  # at the present seeds (None: more videos alone cannot get there)


def sample_size(half_width: float, target: float, n_seeds: int, n_videos: int,
                components: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> Power:
    """The seeds x videos that would bring ``half_width`` down to ``target``.

    ``n_needed = n_now * (half_width / target)**2`` (the half-width shrinks as 1/sqrt(n)). Per level,
    the variance of the mean is modelled as ``seed/S + video/V + residual/(S V)`` from
    ``components`` (:func:`variance_components`), the half-width as proportional to its square root:
    ``seeds_needed`` is the smallest S with a half-width of ``target`` at the present V, and
    ``videos_needed`` the smallest V at the present S. All None without a finite half-width and a
    positive target."""
    n_now = int(n_seeds * n_videos)
    if not (np.isfinite(half_width) and np.isfinite(target) and target > 0 and n_now > 0):
        return Power(float(half_width), float(target), n_now, None, None, None)
    if half_width <= 0:
        return Power(float(half_width), float(target), n_now, 1, 1, 1)
    ratio = (half_width / target) ** 2
    n_needed = _ceil(n_now * ratio)
    seed, video, resid = (float(c) for c in components)
    var_now = seed / n_seeds + video / n_videos + resid / n_now
    seeds = videos = None
    if var_now > 0:
        budget = var_now / ratio  # the variance of the mean at which the half-width is ``target``
        rest = budget - video / n_videos  # what the seed-dependent terms may take at the present videos
        if rest > 0:
            seeds = _ceil((seed + resid / n_videos) / rest)
        rest = budget - seed / n_seeds
        if rest > 0:
            videos = _ceil((video + resid / n_seeds) / rest)
    return Power(float(half_width), float(target), n_now, n_needed, seeds, videos)


def comparison_power(df: Any, comps: Any) -> Any:
    """``comps`` with the :class:`Power` columns of every row (from the paired tables of ``df``)."""
    from lstmgan.generate import compare as C

    comps = comps.copy()
    values: dict[str, list] = {c: [] for c in POWER_COLUMNS}
    for r in comps.itertuples():
        ta, tb = C.pair_tables(df, r.a, r.b, r.metric) if r.verdict != "n/a" else (np.empty((0, 0)),) * 2
        if ta.size == 0:
            p = Power(float("nan"), float("nan"), 0, None, None, None)
        else:
            p = sample_size((r.high - r.low) / 2, POWER_EFFECT * abs(float(tb.mean())), ta.shape[0], ta.shape[1],
                            variance_components(ta - tb))
        for c in POWER_COLUMNS:
            values[c].append(getattr(p, c))
    for c in POWER_COLUMNS:
        comps[c] = values[c]
    return comps


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------
def study_tables(recon: Any, cross: Any, methods: list[str], comparisons: list[tuple[str, str]], n_boot: int = 2000,
                 boot_seed: int = 0) -> tuple[Any, Any]:
    """(means, comparisons) long DataFrames with two-level intervals and power (see module docstring)."""
    import pandas as pd

    from lstmgan.generate import compare as C

    means, comps = [], []
    seen: set[str] = set()
    for df in (recon, cross):
        if len(df):
            present = [m for m in methods if m in set(df["method"])]
            metrics = metric_columns(df)
            # a measure of both tables (the face-part measures) is another quantity cross-identity
            clash = {m: f"cross_{m}" for m in metrics if m in seen}
            df, metrics = df.rename(columns=clash), [clash.get(m, m) for m in metrics]
            seen |= set(metrics)
            means.append(C.means_table(df, metrics, present, n_boot, boot_seed))
            table = C.comparisons_table(df, comparisons, [m for m in metrics if m != "driver_aed"], n_boot, boot_seed)
            comps.append(comparison_power(df, table))
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


def _n_text(n: float | None) -> str:
    """A count of the power table (None / NaN: not defined; a million or more: one bound)."""
    if n is None or (isinstance(n, float) and not math.isfinite(n)):
        return "n/a"
    return f"{int(n)}" if n < 10 ** 6 else "> 10^6"  # Python ints of any size (n may exceed int64)


def power_markdown(comps: Any, metrics: Sequence[str], n_seeds: int, n_videos: int) -> str:
    """One row per comparison: per metric the interval's half-width (the smallest resolved difference)
    and the seeds x videos needed to resolve a 5% difference of B's mean."""
    from lstmgan.utils.tables import format_interval, markdown_table

    rows = []
    for (a, b), group in comps.groupby(["a", "b"], sort=False):
        by = {r.metric: r for r in group.itertuples()}

        def cell(m: str) -> str:
            r = by.get(m)
            if r is None or not np.isfinite(r.half_width):
                return "n/a"
            return f"±{format_interval(r.half_width, digits=3, significant=True)}; n {_n_text(r.n_needed)}"

        rows.append([f"{a} vs {b}"] + [cell(m) for m in metrics])
    pct = int(round(POWER_EFFECT * 100))
    return (f"Power: ± the half-width of each 95% interval, the smallest difference this study resolves (an "
            f"estimate beyond it excludes 0); n: seeds x videos needed to resolve a difference of {pct}% of B's "
            f"mean, assuming the half-width shrinks as 1/sqrt(seeds x videos) (this study: {n_seeds} x {n_videos} = "
            f"{n_seeds * n_videos}; ablation_comparisons.csv and metrics.json add the seeds needed at "
            f"{n_videos} videos and the videos needed at {n_seeds} seeds):\n\n"
            + markdown_table(rows, ["A vs B", *metrics]))


DRIVE_TEXT = {
    "clean": "Reconstruction driven by the clean test videos (first frame = source), and cross-identity "
             "animation.",
    "degraded": "Reconstruction driven by the degraded copy of each test video (sensor noise, camera shake, "
                "flicker, motion blur: `data.degrade`) from its clean first frame, every metric scored against "
                "the clean frames; cross-identity animation is not driven degraded.",
}


def drive_markdown(drive: str, means: Any, comps: Any, comparisons: Sequence[tuple[str, str]], n_seeds: int,
                   n_videos: int) -> str:
    """One drive's section: means, comparisons with verdicts, one summary line per comparison, power."""
    from lstmgan.generate import compare as C

    lines = [C.summary_sentence(comps, a, b) for a, b in comparisons if ((comps["a"] == a) & (comps["b"] == b)).any()]
    text = (f"## {drive.capitalize()} driving\n\n{DRIVE_TEXT[drive]}\n\n"
            + C.format_markdown(means, comps, "\n".join(f"- {s}" for s in lines), over=OVER))
    if len(comps):
        text += "\n" + power_markdown(comps, list(dict.fromkeys(means["metric"])), n_seeds, n_videos)
    return text


def kp_filters(study: Study) -> dict[str, list[dict[str, Any]]]:
    """The One-Euro constants each cell chose on validation (its metrics.json ``kp_filters``), per
    filtered method, one entry per seed; cells without the record are left out (logged)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for variant in study.variants:
        filtered = [m for m in variant["methods"] if m != variant["name"]]
        for seed in study.seeds if filtered else []:
            path = Path(study.cells) / cell_name(variant["name"], seed) / "metrics.json"
            record = (json.loads(path.read_text()).get("kp_filters") or {}) if path.is_file() else {}
            for method in filtered:
                f = record.get(method)
                if not f:
                    log.info("study: %s has no kp_filters record of %s", path, method)
                    continue
                grid = f.get("grid") or []
                chosen = [r for r in grid
                          if (r.get("min_cutoff"), r.get("beta")) == (f.get("min_cutoff"), f.get("beta"))]
                out.setdefault(method, []).append({
                    "seed": seed, "min_cutoff": f.get("min_cutoff"), "beta": f.get("beta"),
                    "val_l1": chosen[0].get("val_l1") if chosen else None,
                    "driving": chosen[0].get("driving") if chosen else None})
    return out


def filters_markdown(filters: dict[str, list[dict[str, Any]]]) -> str:
    """The chosen filter constants, one row per method and seed."""
    from lstmgan.utils.tables import markdown_table

    rows = [{"method": m, "seed": r["seed"], "min_cutoff (Hz)": r["min_cutoff"], "beta": r["beta"],
             "validation L1": r["val_l1"], "validation driving": r["driving"] or "n/a"}
            for m, entries in filters.items() for r in entries]
    return ("## Keypoint filters chosen on validation\n\nThe One-Euro constants of each filtered method, the "
            "grid point of `generate.kp_filter` with the lowest validation L1, chosen per seed by its cell:\n\n"
            + markdown_table(rows, digits=5, significant=True))


# --------------------------------------------------------------------------------------------
# The aggregation
# --------------------------------------------------------------------------------------------
def _num(v: Any) -> float | None:
    return None if v is None or not np.isfinite(v) else round(float(v), 6)


def _means_json(means: Any) -> dict[str, Any]:
    return {m: {r.metric: {"mean": _num(r.mean), "low": _num(r.low), "high": _num(r.high)} for r in rows.itertuples()}
            for m, rows in means.groupby("method", sort=False)}


def _comparisons_json(comps: Any) -> dict[str, Any]:
    return {f"{a} vs {b}": {r.metric: {"diff": _num(r.diff), "low": _num(r.low), "high": _num(r.high),
                                       "verdict": r.verdict} for r in rows.itertuples()}
            for (a, b), rows in comps.groupby(["a", "b"], sort=False)}


def _power_json(comps: Any) -> dict[str, Any]:
    def count(v: Any) -> int | None:
        return None if v is None or (isinstance(v, float) and not np.isfinite(v)) else int(v)

    return {f"{a} vs {b}": {r.metric: {"half_width": _num(r.half_width), "target": _num(r.target),
                                       "n_now": count(r.n_now), "n_needed": count(r.n_needed),
                                       "seeds_needed": count(r.seeds_needed), "videos_needed": count(r.videos_needed)}
                            for r in rows.itertuples()}
            for (a, b), rows in comps.groupby(["a", "b"], sort=False)}


POWER_BASIS = (f"half_width: of the 95% interval, the smallest difference the study resolves (an estimate beyond it "
               f"excludes 0; a true effect of that size is resolved about half the time, 80% of the time at about "
               f"1.43x). target: {POWER_EFFECT:g} x |mean of B| on the paired cells. n_needed = n_now x "
               f"(half_width / target)^2 seeds x videos, assuming the half-width shrinks as 1/sqrt(seeds x videos). "
               f"seeds_needed (at the present videos) and videos_needed (at the present seeds): from the seed, video "
               f"and residual variance components of the difference table (two-way random effects, method of "
               f"moments), the half-width taken proportional to the square root of the mean's variance; null when "
               f"that level alone cannot reach the target.")


def aggregate(study_path: str | Path) -> dict[str, Any]:
    """Read every cell of the study and write to ``study.out``: ``ablation.md`` (a section per drive),
    ``ablation.csv`` (means, a row per drive and method), ``ablation_comparisons.csv`` (a row per drive,
    comparison and metric, with power), ``per_video.csv`` (every cell's rows, with ``drive``) and
    ``metrics.json``; return them as a dict.

    The degraded drive is aggregated when every cell has ``per_video_degraded.csv`` and left out
    (logged) when none has; some with and some without raises UserError naming a cell to evaluate again.
    """
    import pandas as pd

    from lstmgan.generate import compare as C
    from lstmgan.utils.io import atomic_write_json, atomic_write_text

    study = load_study(study_path)
    n_cells = len(study.names) * len(study.seeds)
    rows: dict[str, Any] = {}
    for drive, filename in DRIVES.items():
        df, missing = collect(study.cells, study.variants, study.seeds, filename)
        if drive == "clean" and missing:
            raise UserError(f"{Path(study.cells) / missing[0] / filename}: missing; run `dvc repro "
                            f"studies/ablation/dvc.yaml` (cell {missing[0]} has not been evaluated)")
        if len(missing) == n_cells:
            log.info("study: no cell has %s (a store without the degraded copy); clean driving only", filename)
            continue
        if missing:
            raise UserError(f"{Path(study.cells) / missing[0] / filename}: missing while other cells have it; "
                            f"evaluate cell {missing[0]} again on the store with the degraded copy")
        rows[drive] = df
    cross, _ = collect(study.cells, study.variants, study.seeds, CROSS)
    methods = study.methods + [b for b in BASELINES if b in set(rows["clean"]["method"])]
    tables = {drive: study_tables(df, cross if drive == "clean" else pd.DataFrame(), methods, study.comparisons,
                                  study.n_boot) for drive, df in rows.items()}
    videos = int(rows["clean"]["unit"].nunique())
    n_seeds = len(study.seeds)
    filters = kp_filters(study)
    trained = ", ".join(f"{v['name']}" + (f" (also evaluated as {', '.join(v['methods'][1:])})"
                                           if len(v["methods"]) > 1 else "") for v in study.variants)
    note = (f"Variants x seeds: {len(study.names)} x {n_seeds} (seeds {study.seeds}; trained: {trained}), "
            f"{study.steps or 'params.yaml'} training steps each; {videos} test videos; drives: "
            f"{', '.join(tables)}. Intervals: two-level bootstrap over seeds and test videos (the copy-source "
            "baseline has one run and pairs with every seed).")
    sections = [drive_markdown(drive, means, comps, study.comparisons, n_seeds, videos)
                for drive, (means, comps) in tables.items()]
    if filters:
        sections.append(filters_markdown(filters))
    out = Path(study.out)
    atomic_write_text(out / "ablation.md", "# The multi-seed ablation study\n\n" + note + "\n\n"
                      + "\n".join(sections))
    wide = pd.concat([C.wide_table(means).reset_index().assign(drive=drive) for drive, (means, _) in tables.items()],
                     ignore_index=True)
    atomic_write_text(out / "ablation.csv", wide[["drive", *[c for c in wide.columns if c != "drive"]]]
                      .to_csv(index=False, float_format="%.6g"))
    comps_all = pd.concat([comps.assign(drive=drive) for drive, (_, comps) in tables.items()], ignore_index=True)
    comps_all = comps_all[["drive", *[c for c in comps_all.columns if c != "drive"]]]
    atomic_write_text(out / "ablation_comparisons.csv", comps_all.to_csv(index=False, float_format="%.6g"))
    per_video = pd.concat([df.assign(drive=drive) for drive, df in rows.items()], ignore_index=True)
    per_video = per_video[["drive", *[c for c in per_video.columns if c != "drive"]]]
    atomic_write_text(out / "per_video.csv", per_video.to_csv(index=False, float_format="%.6g"))

    means, comps = tables["clean"]
    metrics: dict[str, Any] = _means_json(means)
    metrics["comparisons"] = _comparisons_json(comps)  # clean driving: what REPORT.md decides from
    if "degraded" in tables:
        metrics["degraded"] = _means_json(tables["degraded"][0])
        metrics["degraded_comparisons"] = _comparisons_json(tables["degraded"][1])
    metrics["power"] = {drive: _power_json(c) for drive, (_, c) in tables.items()}
    metrics["power_basis"] = POWER_BASIS
    metrics["kp_filters"] = filters
    metrics["methods"] = study.variant_of  # method -> the trained variant it animates with
    metrics["drives"] = list(tables)
    metrics["seeds"], metrics["videos"] = study.seeds, videos
    metrics["steps"] = study.steps or None  # None: each cell trained params.yaml's gan.train.steps
    atomic_write_json(out / "metrics.json", metrics)
    log.info("study table: %s", out / "ablation.md")
    return {"means": means, "comparisons": comps, "tables": tables, "note": note, "metrics": metrics}
