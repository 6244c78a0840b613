"""The report's sentences and verdicts, each derived with one stated rule (:data:`RULE`).

A difference is claimed only when its 95% interval excludes zero (:func:`lstmgan.utils.stats.verdict`);
a point estimate without an interval yields "not resolved". Intervals come from where they are
computed for the unit that is independent (test videos; seeds too when a study has several):

- LSTM vs baseline: the multi-seed study's two-level intervals (seeds x test videos, its
  ``metrics.json``) when the study has been run and committed; otherwise the generate stage's own paired intervals when ``generate.json`` carries them
  (``lstm_vs_none.<metric>`` with ``low``/``high``), else a paired bootstrap over the test videos of
  ``per_video.csv`` (:func:`lstmgan.utils.stats.paired_difference`, one seed);
- detectors: ``detect_intervals.csv`` (per run) and ``detect_pairwise.csv`` (paired differences)
  written by the detector comparison; without them every detector comparison is "not resolved";
- discriminator accuracy over training: the logged points of ``disc/acc_fake.tsv`` (each the mean of
  one logging window) resampled as units, stated as such.

Thesis values are compared the same way: the thesis's figure "agrees" when it lies inside our 95%
interval, "ours lower"/"ours higher" when the interval excludes it, "not resolved" without one.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np

from lstmgan.report.gather import TRAIN_STAGE, ReportData, not_available, num
from lstmgan.utils.stats import (Interval, bootstrap_mean, bootstrap_statistic, higher_is_better, paired_difference,
                                 verdict)
from lstmgan.utils.tables import format_interval

RULE = ("A difference is claimed only when its 95% interval excludes zero (`lstmgan.utils.stats.verdict`); "
        "a point estimate without an interval yields \"not resolved\". A thesis figure \"agrees\" when it lies "
        "inside our 95% interval and is \"ours lower\" / \"ours higher\" when the interval excludes it.")
NOT_RESOLVED = "not resolved"

# Units and direction of the generation metrics (lstmgan.generate.evaluate).
GENERATION_UNITS = {
    "l1": "mean absolute error, intensity in [0, 1]",
    "psnr": "dB",
    "ssim": "unitless, 1 = identical",
    "akd": "pixels",
    "aed": "squared distance of unit identity embeddings",
    "flicker": "intensity in [0, 1] per frame step",
    "warp_error": "intensity in [0, 1]",
    "tof": "optical-flow difference to the real video, pixels per frame",
    "identity_aed": "squared embedding distance to the source identity",
    "driver_aed": "squared embedding distance to the driver (higher = less identity leak)",
    "motion_error": "pixels",
}
RECON_METRICS = ("l1", "psnr", "ssim", "akd", "aed", "flicker", "warp_error", "tof")
TEMPORAL_METRICS = ("flicker", "warp_error", "tof")
STUDY_TEMPORAL_METRICS = ("flicker", "warp_error", "tof")  # the study records TecoGAN's tOF too
# the other differences the first answer names (the study's tables have every metric)
HEADLINE_METRICS = (*RECON_METRICS, "flicker_dec", "warp_error_dec", "tof_dec", "mouth_corr", "blinks_reproduced")

# The thesis's detection claims (M.Sc. thesis "Deep Fakes Generation Using LSTM based Generative
# Adversarial Networks"): (claim, thesis value shown, model, variants, metric, value).
THESIS_VALUES = (
    ("VGG19 AP 0.95", "0.95", "vgg19", ("base",), "ap", 0.95),
    ("DenseNet accuracy 0.94 (augmented and grayscale data)", "0.94", "densenet121", ("augmented", "grayscale"),
     "accuracy", 0.94),
    ("DenseNet AP 0.99 (augmented and grayscale data)", "0.99", "densenet121", ("augmented", "grayscale"), "ap", 0.99),
    ("custom CNN accuracy 0.89", "0.89", "custom_cnn", ("base",), "accuracy", 0.89),
)
THESIS_AUGMENTATION = (0.05, 0.22)  # augmentation lowers DenseNet and custom CNN accuracy by 5-22%
DECODER_UNUSED = 0.01  # a decoder painting less than 1% of the output (mean 1 - occlusion) is a known defect
DECODER_UNTARGETED = 1.5  # ... and one that paints the open mouth less than 1.5x the closed mouth paints blind
MODEL_NAMES = {"vgg19": "VGG19", "densenet121": "DenseNet121", "custom_cnn": "custom CNN", "resnet18": "ResNet18"}


# --------------------------------------------------------------------------------------------
# Intervals
# --------------------------------------------------------------------------------------------
def iv_text(iv: Interval | None, signed: bool = False) -> str:
    """``0.912 [0.850, 0.960]``, three significant digits throughout the report; the estimate alone
    with ``(no interval)`` when there is none."""
    if iv is None:
        return "n/a"
    return format_interval(iv.estimate, iv.low, iv.high, 3, significant=True, signed=signed, bare=" (no interval)")


def interval_from(d: Any) -> Interval | None:
    """An Interval from a stage's dict (``estimate``/``difference``/``diff``/``mean_diff``/``mean`` +
    ``low``/``high``)."""
    if not isinstance(d, dict):
        return None
    est = next((num(d[k]) for k in ("estimate", "difference", "diff", "mean_diff", "mean") if k in d), math.nan)
    low, high = num(d.get("low")), num(d.get("high"))
    if not (math.isfinite(est) and math.isfinite(low) and math.isfinite(high)):
        return None
    return Interval(est, low, high, num(d.get("level")) if math.isfinite(num(d.get("level"))) else 0.95,
                    int(num(d.get("n"))) if math.isfinite(num(d.get("n"))) else 0)


def point(value: float) -> Interval:
    """A point estimate without an interval (its verdict is always "not resolved")."""
    return Interval(float(value), math.nan, math.nan)


def listed(names: Sequence[str], sep: str = ", ") -> str:
    """Names joined for a verdict sentence; "no metric" when there are none ("none" is a method's name)."""
    return sep.join(names) or "no metric"


def decide(iv: Interval | None, prefers_higher: bool | None) -> str:
    """The one rule: better / worse when the 95% interval of (A - B) excludes 0, else not resolved;
    higher / lower for a descriptive metric (``prefers_higher`` None)."""
    return NOT_RESOLVED if iv is None else verdict(iv, prefers_higher)


def described(groups: dict[str, list[str]], shown: Callable[[list[str]], str] = listed) -> str:
    """The clause for the descriptive metrics that differ ("; higher on ...; lower on ..."), empty
    when none does: they say how an output is made, not whether it is better."""
    return "".join(f"; {v} (descriptive, no better side) on {shown(groups[v])}"
                   for v in ("higher", "lower") if groups.get(v))


def value_verdict(iv: Interval | None, value: float) -> str:
    """A thesis figure against our interval: agrees / ours lower / ours higher / not resolved."""
    if iv is None or not (math.isfinite(iv.low) and math.isfinite(iv.high)):
        return NOT_RESOLVED
    if iv.low <= value <= iv.high:
        return "agrees"
    return "ours higher" if iv.low > value else "ours lower"


def _negate(iv: Interval) -> Interval:
    return Interval(-iv.estimate, -iv.high, -iv.low, iv.level, iv.n)


# --------------------------------------------------------------------------------------------
# Generation: LSTM vs the first-order-motion baseline
# --------------------------------------------------------------------------------------------
def _per_video(data: ReportData, method: str) -> dict[str, dict[str, Any]]:
    return {str(r.get("video_id")): r for r in data.per_video if r.get("method") == method}


def method_intervals(data: ReportData, metrics: Sequence[str] = RECON_METRICS) -> dict[str, dict[str, Interval]]:
    """Per method and metric: the mean over test videos with a bootstrap interval (per_video.csv);
    the stage's point value without an interval when there is no per-video table."""
    out: dict[str, dict[str, Interval]] = {}
    # the driving video is the ground truth of the reconstruction protocol (zero error by definition)
    methods = [m for m, v in data.generation.items() if isinstance(v, dict) and "l1" in v and m != "driving-video"]
    for method in methods:
        rows = _per_video(data, method)
        found: dict[str, Interval] = {}
        for metric in metrics:
            values = [num(r.get(metric)) for r in rows.values()]
            if any(math.isfinite(v) for v in values):
                found[metric] = bootstrap_mean(values, seed=data.params.seed)
            elif math.isfinite(num(data.generation[method].get(metric))):
                found[metric] = point(num(data.generation[method].get(metric)))
        if found:  # the driving video has no reconstruction metrics (it is the ground truth)
            out[method] = found
    return out


def paired_intervals(data: ReportData, a: str = "lstm", b: str = "none",
                     metrics: Sequence[str] = RECON_METRICS) -> dict[str, tuple[Interval, str]]:
    """``{metric: (interval of a - b, where it comes from)}`` for the methods' paired difference."""
    out: dict[str, tuple[Interval, str]] = {}
    stage = data.generation.get(f"{a}_vs_{b}") or {}
    ra, rb = _per_video(data, a), _per_video(data, b)
    common = [v for v in ra if v in rb]
    for metric in metrics:
        iv = interval_from(stage.get(metric)) if isinstance(stage, dict) else None
        if iv is not None:
            out[metric] = (iv, "the generate stage's paired interval")
            continue
        x = np.array([num(ra[v].get(metric)) for v in common])
        y = np.array([num(rb[v].get(metric)) for v in common])
        keep = np.isfinite(x) & np.isfinite(y)
        if keep.sum() >= 2:
            out[metric] = (paired_difference(x[keep], y[keep], seed=data.params.seed),
                           f"paired bootstrap over {int(keep.sum())} test videos, one seed")
        else:
            pa, pb = (num((data.generation.get(m) or {}).get(metric)) for m in (a, b))
            if math.isfinite(pa) and math.isfinite(pb):
                out[metric] = (point(pa - pb), "point estimates only")
    return out


def by_verdict(diffs: dict[str, Interval]) -> dict[str, list[str]]:
    """Metric names grouped by the rule's verdict for A in ``A - B`` (better / worse / not resolved,
    and higher / lower for the descriptive metrics)."""
    groups: dict[str, list[str]] = {"better": [], "worse": [], "higher": [], "lower": [], NOT_RESOLVED: []}
    for metric, iv in diffs.items():
        groups[decide(iv, higher_is_better(metric))].append(metric)
    return groups


def discuss_ablation(data: ReportData) -> list[str]:
    """LSTM vs baseline (and vs copying the source) on every metric, verdict by the rule."""
    gen = data.generation
    if not (isinstance(gen.get("lstm"), dict) and isinstance(gen.get("none"), dict)):
        return ["The LSTM-vs-baseline comparison needs both methods in the generation metrics: "
                + not_available("generate") + "."]
    out = []
    diffs = paired_intervals(data)
    groups = by_verdict({m: iv for m, (iv, _) in diffs.items()})
    out.append(f"Over all {len(diffs)} metrics, by the rule: lstm better on {listed(groups['better'])}; "
               f"worse on {listed(groups['worse'])}{described(groups)}; not resolved on {listed(groups[NOT_RESOLVED])}.")
    if isinstance(gen.get("copy-source"), dict):
        for method in ("lstm", "none"):
            for metric in TEMPORAL_METRICS:
                iv, source = paired_intervals(data, method, "copy-source", (metric,)).get(metric, (None, ""))
                if iv is None:
                    continue
                v = decide(iv, False)
                said = {"flicker": {"better": "flickers less than", "worse": "flickers more than"},
                        "warp_error": {"better": "has less warping error than", "worse": "has more warping error than"},
                        "tof": {"better": "follows the real motion (tOF) better than",
                                "worse": "follows the real motion (tOF) worse than"}}[metric].get(v)
                out.append(f"{method} vs copying the source frame on {metric}: {iv_text(iv, signed=True)}; "
                           + (f"{method} {said} a still image." if said else "not resolved."))
    return out


def part_intervals(rows: list[dict[str, Any]], method: str) -> dict[str, Interval]:
    """``mouth_corr`` (mean of the per-video correlations) and ``blink_fraction`` (blinks reproduced
    over all blinks) of ``method`` with 95% intervals, resampling its rows (test videos, or
    cross-identity pairs); {} without rows carrying these columns."""
    own = [r for r in rows if r.get("method") == method and "mouth_corr" in r]
    if not own:
        return {}
    out = {"mouth_corr": bootstrap_mean([num(r.get("mouth_corr")) for r in own])}
    blinks = np.array([num(r.get("blinks")) for r in own], np.float64)
    shown = np.array([num(r.get("blinks_reproduced")) for r in own], np.float64)
    ok = np.isfinite(blinks) & np.isfinite(shown)
    if ok.any() and blinks[ok].sum() > 0:
        blinks, shown = blinks[ok], shown[ok]

        def fraction(i: np.ndarray) -> float:
            return float(shown[i].sum() / blinks[i].sum()) if blinks[i].sum() > 0 else math.nan

        out["blink_fraction"] = bootstrap_statistic(fraction, np.arange(len(blinks)), n_boot=2000)
    return out


def discuss_parts(data: ReportData) -> list[str]:
    """What the decoder paints and whether mouth and blinks follow the driver (generate metrics
    ``parts``, :mod:`lstmgan.generate.parts`); the mouth correlation and the blink fraction with 95%
    intervals over test videos (reconstruction) or pairs (cross-identity), the shares as means."""
    parts = data.generation.get("parts") or {}
    if not parts:
        return []

    def f(v: Any, pct: bool = False) -> str:
        v = num(v)
        if not math.isfinite(v):
            return "n/a"
        return f"{100 * v:.0f}%" if pct and 100 * v >= 99.5 else (f"{100 * v:.2g}%" if pct else f"{v:.2f}")

    def g(p: dict[str, Any], ivs: dict[str, Interval], key: str) -> str:
        iv, pct = ivs.get(key), key == "blink_fraction"
        if iv is None or not (math.isfinite(iv.low) and math.isfinite(iv.high)):
            return f(p.get(key), pct)
        return f"{f(p.get(key), pct)} [{f(iv.low, pct)}, {f(iv.high, pct)}]"

    out = []
    for kind, what in (("reconstruction", "reconstruction"), ("cross", "cross-identity")):
        ceiling = (parts.get("driving-video") or {}).get(kind) or {}
        for method in data.params.generate.methods:
            p = (parts.get(method) or {}).get(kind)
            if not p:
                continue
            share = (f"its decoder paints {f(p.get('decoder_share'), True)} of the output, "
                     f"{f(p.get('mouth_dec_open'), True)} of the mouth region when the driver's mouth is open "
                     f"({f(p.get('mouth_dec_closed'), True)} when closed) and {f(p.get('eye_dec_blink'), True)} of "
                     f"the eyes during blinks ({f(p.get('eye_dec_open'), True)} when open); ") if kind == "reconstruction" else ""
            carried = (parts.get(method) or {}).get("keypoints") or {}
            if kind == "reconstruction" and carried:
                share += (f"its driving keypoints carry R^2 {f(carried.get('mouth_r2'))} of the driver's mouth opening "
                          f"and {f(carried.get('eye_r2'))} of its eye aperture (cross-validated linear fit over the "
                          "test videos; 1 = determined, 0 or below = nothing); ")
            rows = data.per_video if kind == "reconstruction" else data.cross_pairs
            ivs, ivs_drive = part_intervals(rows, method), part_intervals(rows, "driving-video")
            out.append(f"{method}, {what}: {share}mouth-opening correlation with the driver {g(p, ivs, 'mouth_corr')} "
                       f"(the driving video itself, through the same landmark network: "
                       f"{g(ceiling, ivs_drive, 'mouth_corr')}); blinks reproduced {g(p, ivs, 'blink_fraction')} of "
                       f"{int(num(p.get('blinks')) or 0)} (driving video {g(ceiling, ivs_drive, 'blink_fraction')}).")
    return out


def discuss_degraded(data: ReportData) -> list[str]:
    """Reconstruction driven by the degraded copy (``data.degrade``), scored against the clean
    frames (generate metrics ``degraded``): what the capture costs each method, and lstm vs none
    there, each verdict from its paired interval over the test videos."""
    deg = data.generation.get("degraded") or {}
    means = deg.get("means") or {}
    if not means:
        return []
    clean = data.generation
    out = []
    floor = deg.get("degraded_video") or {}
    if math.isfinite(num(floor.get("l1"))):
        out.append(f"The degraded driving video itself is L1 {num(floor.get('l1')):.4f} and flicker "
                   f"{num(floor.get('flicker')):.4f} away from the clean one (the capture's own error).")
    for method in [*data.params.generate.methods, "copy-source"]:
        m = means.get(method) or {}
        ivs = {k: interval_from(m.get(k)) for k in ("l1", "akd", "flicker")}
        if not any(ivs.values()):
            continue
        out.append(f"{method}, degraded driving: L1 {iv_text(ivs['l1'])} (clean {num((clean.get(method) or {}).get('l1')):.4f}), "
                   f"AKD {iv_text(ivs['akd'])} px (clean {num((clean.get(method) or {}).get('akd')):.3g}), "
                   f"flicker {iv_text(ivs['flicker'])} (clean {num((clean.get(method) or {}).get('flicker')):.4f}).")
    comp = (deg.get("comparisons") or {}).get("lstm vs none") or {}
    diffs = comparison_intervals(comp)
    if diffs:
        groups = by_verdict(diffs)
        out.append(f"lstm vs none on degraded driving, paired over the test videos: better on {listed(groups['better'])}; "
                   f"worse on {listed(groups['worse'])}{described(groups)}; not resolved on {listed(groups[NOT_RESOLVED])}"
                   + "".join(f"; {k} {iv_text(diffs[k], signed=True)}" for k in TEMPORAL_METRICS if k in diffs) + ".")
    return out


def other_data(mismatch: dict[str, tuple[str, str]], rerun: str) -> str:
    """A clause saying that a study read other data than this run wrote (empty when it read the same)."""
    if not mismatch:
        return ""
    folders = "; ".join(f"`{path}` {', '.join(h[:7] for h in read.split(','))} there, {wrote[:7]} here"
                        for path, (read, wrote) in mismatch.items())
    return (f"run on other data than this report's ({folders}), so its verdicts describe the data it ran "
            f"on; `{rerun}` reruns it on these")


def study_basis(data: ReportData) -> str:
    """How the study's intervals were made, in words (empty when no study was read)."""
    seeds, videos, steps = data.study.get("seeds") or [], data.study.get("videos"), data.study.get("steps")
    if not seeds:
        return ""
    stale = other_data(data.ablation_data, "make study-ablation")
    return (f"two-level bootstrap over {len(seeds)} training seeds and {videos} test videos "
            f"(multi-seed study{f', {steps} training steps per model' if steps else ''}"
            f"{f'; {stale}' if stale else ''})")


def study_intervals(data: ReportData, a: str = "lstm", b: str = "none",
                    metrics: Sequence[str] | None = None, drive: str = "clean") -> dict[str, Interval]:
    """The study's paired differences ``a - b`` per metric (empty without a study or that comparison);
    ``drive="degraded"`` reads the comparisons on degraded driving (``degraded_comparisons``)."""
    key = "comparisons" if drive == "clean" else "degraded_comparisons"
    return comparison_intervals((data.study.get(key) or {}).get(f"{a} vs {b}") or {}, metrics)


def comparison_intervals(comp: dict[str, Any], metrics: Sequence[str] | None = None) -> dict[str, Interval]:
    """``{metric: Interval}`` from one comparison of a metrics JSON (``{metric: {diff, low, high}}``),
    the metrics without a full interval left out."""
    ivs = {metric: interval_from(d) for metric, d in comp.items() if metrics is None or metric in metrics}
    return {metric: iv for metric, iv in ivs.items() if iv is not None}


def discuss_study(data: ReportData) -> list[str]:
    """One sentence per comparison of the multi-seed study: where A is better, worse, not resolved.

    The verdicts are re-derived here from the recorded intervals with the one rule (:func:`decide`),
    so the report never repeats a verdict it cannot check.
    """
    basis = study_basis(data)
    if not basis:
        return []
    out = []
    for key in data.study.get("comparisons") or {}:
        a, _, b = key.partition(" vs ")
        diffs = study_intervals(data, a, b)
        if not diffs:
            continue
        groups = by_verdict(diffs)

        def shown(metrics: list[str]) -> str:
            return listed([f"{m} {iv_text(diffs[m], signed=True)}" for m in metrics], "; ")

        out.append(f"{a} vs {b} ({basis}): {a} better on {shown(groups['better'])}; "
                   f"worse on {shown(groups['worse'])}{described(groups, shown)}; not resolved on {listed(groups[NOT_RESOLVED])}.")
    return out


def motion_sentence(data: ReportData) -> str:
    """How much the test faces move (the data stage's statistics), and what that means for the
    temporal comparison: a per-frame change far below the models' static error cannot separate them."""
    m = data.motion
    if not m or m.get("mean_displacement_px") is None:
        return "How much the faces move: not recorded in this run (reports/metrics/data.json absent).\n"
    def f(key: str) -> str:
        return format_interval(num(m.get(key)), digits=3, significant=True)

    text = (f"How much the test faces move ({m.get('motion')} motion, {m.get('videos')} videos, from the ground truth): "
            f"landmarks {f('mean_displacement_px')} px from their first-frame place on average "
            f"(95th percentile {f('p95_displacement_px')} px), {f('median_step_px')} px per frame (median); copying "
            f"the first frame scores L1 {f('copy_l1')}")
    if m.get("yaw_range_deg") is not None:
        text += f"; yaw range within a video {f('yaw_range_deg')} degrees"
    if m.get("mouth_gap_max_iod") is not None:
        text += (f"; the mouth opens to an inner-lip gap of {f('mouth_gap_max_iod')} of the inter-ocular distance "
                 f"at most ({f('mouth_gap_max_px')} px; 90th percentile {f('mouth_gap_p90_iod')})")
    return text + ".\n"


def coherence_sentence(diffs: dict[str, Interval], temporal: Sequence[str], a: str, b: str,
                       numbers: bool = True) -> str:
    """``a`` against ``b`` on the temporal metrics, in words, from the intervals by the one rule
    (``numbers``: an unresolved verdict lists the differences)."""
    groups = by_verdict({m: diffs[m] for m in temporal if m in diffs})
    if groups["better"] and not groups["worse"]:
        return f"{a} is more coherent than {b} on {listed(groups['better'])}"
    if groups["worse"] and not groups["better"]:
        return f"{a} is less coherent than {b} on {listed(groups['worse'])}"
    if groups["better"]:
        return f"{a} is better than {b} on {listed(groups['better'])} and worse on {listed(groups['worse'])}"
    if not numbers:
        return f"{a} vs {b} not resolved"
    return (f"{a} vs {b} not resolved (" + ", ".join(f"{m} {iv_text(diffs[m], signed=True)}" for m in temporal
                                                    if m in diffs) + ")")


COHERENCE_PAIRS = (("lstm", "none"), ("kp", "none"), ("none+euro", "none"),  # recurrence / the filter vs frame by frame
                   ("lstm", "none+euro"), ("kp", "none+euro"),  # does a learned recurrence beat the filter?
                   ("lstm", "kp"))  # where the memory sits
COHERENCE_METRICS = (*STUDY_TEMPORAL_METRICS, "kp_jitter")  # lower is better on all four


def study_mean(data: ReportData, method: str, metric: str, drive: str = "clean") -> float:
    """The study's mean of ``metric`` for ``method`` on one drive (NaN when it was not recorded)."""
    means = data.study if drive == "clean" else data.study.get("degraded") or {}
    return num(((means.get(method) or {}).get(metric) or {}).get("mean"))


def share_text(value: float, of: float) -> str:
    """``value`` as a signed percentage of ``of`` (empty when it cannot be formed)."""
    return f"{100 * value / abs(of):+.1f}%" if math.isfinite(value) and math.isfinite(of) and of != 0 else ""


def coherence_rows(data: ReportData) -> list[dict[str, str]]:
    """The report's first table: every comparison of the multi-seed study on clean and degraded driving,
    per temporal metric the paired difference A - B with its interval and its share of B's mean, the
    verdict from the one rule, and the smallest difference the study resolves (the interval's
    half-width, as a share of B's mean); empty without a study."""
    rows = []
    for a, b in COHERENCE_PAIRS:
        for drive in ("clean", "degraded"):
            diffs = study_intervals(data, a, b, COHERENCE_METRICS, drive)
            if not diffs:
                continue
            row = {"comparison": f"{a} - {b}", "drive": drive}
            resolvable = []
            for m in COHERENCE_METRICS:
                iv, of = diffs.get(m), study_mean(data, b, m, drive)
                share = share_text(iv.estimate, of) if iv is not None else ""
                row[m] = "n/a" if iv is None else f"{iv_text(iv, signed=True)} ({share})"
                if share:
                    resolvable.append(f"{m} ±{share_text((iv.high - iv.low) / 2, of)[1:]}")
            row["verdict"] = coherence_sentence(diffs, COHERENCE_METRICS, a, b, numbers=False)
            row["resolves"] = ", ".join(resolvable) or "n/a"
            rows.append(row)
    return rows


def power_sentence(data: ReportData, a: str = "lstm", b: str = "none", drive: str = "clean") -> str:
    """What the study could have resolved for ``a - b`` (its intervals' half-widths as shares of B's mean)
    and the seeds x test videos a 5% difference would need, from its ``power`` record; empty without it."""
    power = ((data.study.get("power") or {}).get(drive) or {}).get(f"{a} vs {b}") or {}
    parts = []
    for m in COHERENCE_METRICS:
        p, of = power.get(m) or {}, study_mean(data, b, m, drive)
        hw, n_now, n = num(p.get("half_width")), p.get("n_now"), p.get("n_needed")
        if math.isfinite(hw) and share_text(hw, of) and n_now:
            parts.append(f"{m} ±{format_interval(hw, digits=3, significant=True)} ({share_text(hw, of)[1:]} of {b}'s "
                         f"mean; a 5% difference needs {'n/a' if n is None else n} seeds x videos)")
    if not parts:
        return ""
    n_now = next(iter(power.values())).get("n_now")
    return (f"**What the study could resolve** ({a} - {b}, {drive} driving, {n_now} seeds x videos): " + "; ".join(parts)
            + ". A true difference near the half-width is resolved about half the time.")


STUDY_PAIRS = COHERENCE_PAIRS[1:3]  # the other placements and the plain filter, vs frame by frame
FILTER_PAIRS = COHERENCE_PAIRS[3:5]  # does a learned recurrence beat the filter?


def study_answers(data: ReportData) -> list[str]:
    """The multi-seed study's further answers: lstm vs none on degraded driving, the keypoint
    recurrence and the filter vs frame by frame, and whether a learned recurrence beats the filter,
    on clean and degraded driving (only the comparisons the study has)."""
    if not data.study:
        return []
    temporal = COHERENCE_METRICS
    out = []
    degraded = study_intervals(data, "lstm", "none", drive="degraded")
    if degraded:
        out.append("**On degraded driving** (the noisy, shaken, flickering copy; scored against the clean frames): "
                   + coherence_sentence(degraded, temporal, "lstm", "none") + ".")
    for pairs, title in ((STUDY_PAIRS, "**Other placements and a plain filter**"),
                         (FILTER_PAIRS, "**Does a learned recurrence beat a plain filter?**")):
        parts = []
        for a, b in pairs:
            for drive in ("clean", "degraded"):
                diffs = study_intervals(data, a, b, drive=drive)
                if diffs:
                    parts.append(f"{drive} driving: {coherence_sentence(diffs, temporal, a, b)}")
        if parts:
            out.append(f"{title} ({study_basis(data)}): " + "; ".join(parts) + ".")
    return out


def answers(data: ReportData) -> list[str]:
    """The report's first lines: does recurrence help, which detector wins, what compression does;
    each sentence derived from the intervals by the one rule."""
    out = []
    study = study_intervals(data, "lstm", "none")
    diffs = study or {m: iv for m, (iv, _) in paired_intervals(data).items()}
    basis = study_basis(data) if study else "paired bootstrap over test videos, one training seed"
    if diffs:
        temporal = [m for m in (STUDY_TEMPORAL_METRICS if study else TEMPORAL_METRICS) if m in diffs]
        t_groups = by_verdict({m: diffs[m] for m in temporal})
        others = by_verdict({m: iv for m, iv in diffs.items() if m not in temporal and m in HEADLINE_METRICS})
        if t_groups["better"] and not t_groups["worse"]:
            head = f"Yes: the LSTM model is more temporally coherent than the frame-by-frame baseline on {listed(t_groups['better'])}"
        elif t_groups["worse"] and not t_groups["better"]:
            head = f"No: the LSTM model is less temporally coherent than the frame-by-frame baseline on {listed(t_groups['worse'])}"
        elif t_groups["better"]:
            head = "Mixed: the LSTM model is better on " + listed(t_groups["better"]) + " and worse on " + listed(t_groups["worse"])
        else:
            head = ("Not resolved: on the temporal metrics (" + ", ".join(f"{m} {iv_text(diffs[m], signed=True)}"
                                                                 for m in temporal)
                    + " for lstm - none) every interval contains zero")
        rest = [f"{m} {iv_text(diffs[m], signed=True)}" for m in others["better"] + others["worse"]]
        out.append(f"**Does recurrence make the animation more coherent?** {head} ({basis})."
                   + (f" Other resolved differences (lstm - none): {'; '.join(rest)}." if rest else ""))
        power = power_sentence(data) if study and not t_groups["better"] and not t_groups["worse"] else ""
        if power:
            out.append(power)
    else:
        out.append("**Does recurrence make the animation more coherent?** Not available in this run: "
                   + not_available("generate") + ".")
    out.extend(study_answers(data))
    rows = [r for r in data.detectors if math.isfinite(r["frame_auc"])]
    if rows:
        best = max(rows, key=lambda r: r["frame_auc"])
        others = [r["run"] for r in rows if r["run"] != best["run"]]
        beaten = [o for o in others if decide(pair(data, best["run"], o, "auc"), True) == "better"]
        ivs = {r["run"]: detector_interval(data, r["run"], "auc") for r in rows}
        chance = [run for run, iv in ivs.items() if iv is None or iv.low <= 0.5]
        budget = "; ".join(f"{r['run']} {r.get('epochs')} epoch{'' if r.get('epochs') == 1 else 's'} x "
                           f"{r.get('train_frames')} frames"
                           for r in rows if r["run"] in chance and r["run"].endswith("-base"))
        lead = ("leads: resolved better than every other run" if len(beaten) == len(others)
                else f"is resolved better than {len(beaten)} of {len(others)} other runs; not against "
                     + listed([o for o in others if o not in beaten]))
        ranked = ranking_sentence(data.detect_ranking, data.detect_pairwise, "base")
        out.append(f"**Which detector wins?** {best['run']}, frame ROC-AUC {iv_text(detector_value(data, best['run'], 'auc'))}, "
                   f"{lead}." + (f" {ranked}" if ranked else "")
                   + (f" At chance (interval reaches 0.5): {listed(chance)}; at this budget ({budget}) "
                      "at that budget they have not learned these fakes."
                      if chance and budget else f" At chance (interval reaches 0.5): {listed(chance)}." if chance else ""))
        comps = [c for c in ("raw", "c23", "c40") if any(math.isfinite(r[f"auc_{c}"]) for r in rows)]
        paired = [r for r in rows if all(math.isfinite(r[f"auc_{c}"]) for c in comps)]
        study_comp = [str(r["sentence"]) for r in data.detect_study.get("compression", []) if r.get("sentence")]
        if len(comps) > 1 and paired:
            means = {c: sum(r[f"auc_{c}"] for r in paired) / len(paired) for c in comps}
            out.append(f"**What does compression do?** Detectors trained on {comps[0]} lose frame ROC-AUC on compressed "
                       "copies: mean over " f"{len(paired)} runs " + ", ".join(f"{c} {format_interval(means[c], digits=3, significant=True)}"
                                                              for c in comps)
                       + (" (point estimates over runs). The detection study, with 95% intervals over test videos: "
                          + " ".join(f"{c[0].upper()}{c[1:]}" for c in study_comp) if study_comp else
                          " (point estimates; no interval, so the size of the loss is not resolved)."))
    else:
        out.append("**Which detector wins?** Not available in this run: " + not_available("detect@<model>-<variant>") + ".")
    return out


def discuss_gan(data: ReportData) -> list[str]:
    """Validation L1 against the copy-the-source goal, for each trained model (point estimates)."""
    target = data.params.report.l1_target_ratio
    out = []
    for temporal, m in data.train.items():
        l1, copy, ratio = num(m.get("val_l1")), num(m.get("copy_l1")), num(m.get("ratio"))
        if not math.isfinite(ratio):
            out.append(f"GAN `{temporal}`: the validation L1 ratio is not available.")
            continue
        side = "at or below" if ratio <= target else "above"
        out.append(f"GAN `{temporal}` after {m.get('steps', 'n/a')} steps: validation L1 {l1:.4f} against {copy:.4f} "
                   f"for copying the source frame, ratio {ratio:.3f}, {side} the {target:g}x goal (a point "
                   "estimate on the fixed validation clips; the train stage records no interval).")
    return out or [f"No GAN was trained yet; {not_available(TRAIN_STAGE)}."]


PROBE_SEPARATION_SD = 2.0  # the probe "separates" two inputs when their mean scores differ by more than this x sd


def discuss_probe(data: ReportData) -> list[str]:
    """Does the frame discriminator tell real frames from each degraded input of its probe?

    Rule (stated in the sentence): a gap between the mean scores of real frames and of an input counts as
    separated when it exceeds ``PROBE_SEPARATION_SD`` times the per-image spread (the root mean square of
    the two inputs' per-image standard deviations); otherwise "not separated".
    """
    labels = {"blurred": "5x5-blurred real frames", "wrong_pose": "real frames of another clip (wrong face and pose)",
              "generated": "its own generated frames"}
    out = []
    for temporal, m in data.train.items():
        probe = m.get("probe")
        if not isinstance(probe, dict) or not math.isfinite(num(probe.get("real"))):
            continue
        parts = []
        for key, label in labels.items():
            gap = num(probe.get("real")) - num(probe.get(key))
            sd = math.sqrt((num(probe.get("real_std")) ** 2 + num(probe.get(f"{key}_std")) ** 2) / 2)
            if not (math.isfinite(gap) and math.isfinite(sd)) or sd <= 0:
                continue
            k = gap / sd
            word = "separated" if k > PROBE_SEPARATION_SD else "not separated"
            parts.append(f"{label} {num(probe.get(key)):.3f} ({word}: {k:+.1f} sd)")
        if parts:
            out.append(f"Discriminator probe of `{temporal}` at the end of training (mean patch score, real -> 1, "
                       f"fake -> 0): real frames {num(probe.get('real')):.3f}; " + "; ".join(parts)
                       + f". Separated means real minus input exceeds {PROBE_SEPARATION_SD:g} per-image standard "
                       "deviations.")
    return out


def disc_trend(series: Sequence[tuple[int, float]], seed: int = 0) -> tuple[Interval, Interval] | None:
    """(early D accuracy on generated frames, late - early), each with a 95% interval.

    Early = the first quarter of the logged points, late = the last quarter; each logged point (the
    mean over one logging window) is one resampled unit. None with fewer than 8 points.
    """
    values = np.array([v for _, v in series], dtype=float)
    n = values.size
    if n < 8:
        return None
    q = n // 4
    pool = np.concatenate([values[:q], values[-q:]])
    late = np.r_[np.zeros(q, bool), np.ones(q, bool)]

    def diff(idx: np.ndarray) -> float:
        a, b = pool[idx][late[idx]], pool[idx][~late[idx]]
        return float(a.mean() - b.mean()) if a.size and b.size else math.nan

    return bootstrap_mean(values[:q], seed=seed), bootstrap_statistic(diff, np.arange(pool.size), seed=seed)


# --------------------------------------------------------------------------------------------
# Detectors
# --------------------------------------------------------------------------------------------
def _run_of(row: dict[str, Any]) -> str:
    return str(row.get("stage") or f"{row.get('model')}-{row.get('variant')}")


def detector_interval(data: ReportData, run: str, metric: str, level: str = "frame") -> Interval | None:
    """A run's metric with its 95% interval from detect_intervals.csv; None when absent."""
    for r in data.detect_intervals:
        if _run_of(r) == run and r.get("level", "frame") == level:
            est, low, high = num(r.get(metric)), num(r.get(f"{metric}_low")), num(r.get(f"{metric}_high"))
            if math.isfinite(est) and math.isfinite(low) and math.isfinite(high):
                return Interval(est, low, high, 0.95, int(num(r.get("n_videos"))) if math.isfinite(
                    num(r.get("n_videos"))) else 0)
    return None


def detector_value(data: ReportData, run: str, metric: str) -> Interval | None:
    """The interval when there is one, else the metrics.json point estimate, else None."""
    iv = detector_interval(data, run, metric)
    if iv is not None:
        return iv
    row = next((r for r in data.detectors if r["run"] == run), None)
    value = num(row.get(f"frame_{metric}")) if row else math.nan
    return point(value) if math.isfinite(value) else None


def pair(data: ReportData, a: str, b: str, metric: str, level: str = "frame",
         rows: Sequence[dict[str, Any]] | None = None) -> Interval | None:
    """Interval of run a - run b on ``metric`` from detect_pairwise.csv (either order), or from
    ``rows`` of another pairwise table (the detection study's); None when absent."""
    for r in data.detect_pairwise if rows is None else rows:
        if r.get("metric") != metric or r.get("level", "frame") != level:
            continue
        iv = Interval(num(r.get("difference")), num(r.get("low")), num(r.get("high")))
        if not all(math.isfinite(x) for x in (iv.estimate, iv.low, iv.high)):
            continue
        if (r.get("a"), r.get("b")) == (a, b):
            return iv
        if (r.get("a"), r.get("b")) == (b, a):
            return _negate(iv)
    return None


def one_class_runs(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Runs that predict one class for every test frame (from predictions.csv; else balanced accuracy 0.5)."""
    out = []
    for r in rows:
        frac = r.get("predicted_fake")
        if frac is not None:
            if frac in (0.0, 1.0):
                out.append(r["run"])
        elif num(r.get("frame_balanced_accuracy")) == 0.5:
            out.append(r["run"])
    return out


def ranking_sentence(ranking: Sequence[dict[str, Any]], pairwise: Sequence[dict[str, Any]],
                     variant: str | None = "base") -> str:
    """The decided ranking on frame AUC (ranks from the comparison's resolved pairs only) and the
    pairs it leaves open; ``variant`` keeps the runs of one data variant (None: every run)."""
    rows = [r for r in ranking if variant is None or r.get("variant") == variant]
    if not rows:
        return ""
    names = {r["stage"] for r in rows}
    by_rank: dict[int, list[str]] = {}
    for r in sorted(rows, key=lambda r: (int(r["rank"]), -num(r.get("auc")))):
        by_rank.setdefault(int(r["rank"]), []).append(f"{r['stage']} {format_interval(r.get('auc'), r.get('auc_low'), r.get('auc_high'))}")
    order = "; ".join(f"{k}. {' = '.join(v) if len(v) > 1 else v[0]}" for k, v in sorted(by_rank.items()))
    open_pairs = [f"{r['a']} vs {r['b']} ({format_interval(r.get('difference'), r.get('low'), r.get('high'), signed=True)})"
                  for r in pairwise if r.get("metric") == "auc" and r.get("level") == "frame"
                  and r["a"] in names and r["b"] in names and r.get("verdict") == NOT_RESOLVED]
    which = f"{variant} runs" if variant else "runs"
    return (f"Ranking of the {which} on test frame ROC-AUC, ordered only where the paired difference is resolved "
            f"(rank = 1 + the number of runs resolved better): {order}. "
            + (f"Not resolved against each other: {'; '.join(open_pairs)}." if open_pairs
               else "Every pair among them is resolved."))


def discuss_detect_study(data: ReportData) -> list[str]:
    """The detection study's answers: ranking at each backbone's own budget, pretraining,
    cross-generator transfer, training on c23; every sentence from the study's intervals."""
    study = data.detect_study
    if not study:
        return []
    stale = other_data(data.detect_study_data, "make study-detect")
    out = [f"The detection study was {stale}."] if stale else []
    scratch = [r for r in study.get("ranking", []) if str(r.get("stage", "")).endswith("-scratch")]
    text = ranking_sentence(scratch, study.get("pairwise", []), None)
    if text:
        out.append(text.replace("Ranking of the runs", "From scratch, each at its own budget: ranking"))
    pairwise = study.get("pairwise", [])
    for faceid in sorted({str(r.get(k, "")) for r in pairwise for k in ("a", "b")}):
        if not faceid.endswith("-faceid"):
            continue
        d = pair(data, faceid, faceid[: -len("faceid")] + "scratch", "auc", rows=pairwise)
        if d is None:
            continue
        says = {"better": "pretraining helps", "worse": "pretraining hurts"}.get(decide(d, True), "not resolved")
        model = faceid.split("-")[0]
        out.append(f"{MODEL_NAMES.get(model, model)}: face-id pretrained - scratch frame AUC "
                   f"{iv_text(d, signed=True)}: {says}.")
    out += [str(r["sentence"]) for r in study.get("cross_generator", []) if r.get("sentence")]
    out += [str(r["sentence"]) for r in study.get("compression", []) if r.get("sentence")]
    return out


def discuss_detectors(data: ReportData) -> list[str]:
    """Detection sentences: chance, one-class runs, the leader, compression, transfer, weights."""
    rows = [r for r in data.detectors if math.isfinite(r["frame_auc"])]
    if not rows:
        return ["No detector has test results yet; " + not_available("detect@<model>-<variant>") + "."]
    out = []
    single = one_class_runs(rows)
    if single:
        out.append(f"{len(single)} of {len(rows)} detectors predict one class for every test frame (their accuracy "
                   f"is the share of that class, 0.500 on a balanced test split): {', '.join(single)}. Their AUC "
                   "still ranks the scores, their accuracy says nothing.")
    ivs = {r["run"]: detector_interval(data, r["run"], "auc") for r in rows}
    if any(iv is not None for iv in ivs.values()):
        above = [run for run, iv in ivs.items() if iv is not None and iv.low > 0.5]
        out.append(f"Frame AUC resolved above chance (95% interval above 0.5): {', '.join(above) or 'no run'}; "
                   f"not resolved above chance: {', '.join(r for r in ivs if r not in above) or 'no run'}.")
    else:
        out.append("No detector interval is available in this run (reports/tables/detect_intervals.csv absent), "
                   "so whether any detector is above chance is not resolved.")
    best = max(rows, key=lambda r: r["frame_auc"])
    others = [r["run"] for r in rows if r["run"] != best["run"]]
    diffs = {o: pair(data, best["run"], o, "auc") for o in others}
    head = f"Highest frame AUC: {best['run']} ({iv_text(detector_value(data, best['run'], 'auc'))})"
    if others and any(d is not None for d in diffs.values()):
        beaten = [o for o, d in diffs.items() if decide(d, True) == "better"]
        open_ = [o for o in others if o not in beaten]
        out.append(f"{head}; resolved better than {len(beaten)} of {len(others)} other runs"
                   + (f"; not resolved against {', '.join(open_)}." if open_ else ", so it leads."))
    elif others:
        out.append(f"{head}; whether it leads is not resolved (no paired intervals: "
                   "reports/tables/detect_pairwise.csv absent).")
    else:
        out.append(f"{head}; the only run with results.")
    comps = [c for c in ("raw", "c23", "c40") if any(math.isfinite(r[f"auc_{c}"]) for r in rows)]
    paired = [r for r in rows if all(math.isfinite(r[f"auc_{c}"]) for c in comps)]
    if len(comps) > 1 and paired:
        means = {c: sum(r[f"auc_{c}"] for r in paired) / len(paired) for c in comps}
        out.append(f"Trained on {comps[0]}, mean frame AUC over {len(paired)} runs per test compression: "
                   + ", ".join(f"{c} {means[c]:.3f}" for c in comps)
                   + "; point estimates without intervals, so the effect of compression is not resolved.")
    same, other = [], []
    for r in rows:
        for trained, tested in (r.get("cross_method_auc") or {}).items():
            if trained == "all" or not isinstance(tested, dict):
                continue
            for m, v in tested.items():
                if math.isfinite(num(v)):
                    (same if m == trained else other).append(num(v))
    if same and other:
        out.append(f"Trained on one generator's fakes: mean AUC {sum(same) / len(same):.3f} on the same generator "
                   f"and {sum(other) / len(other):.3f} on the other; point estimates without intervals, so "
                   "transfer across generators is not resolved.")
    scratch = sorted({r["model"] for r in rows if r["weights"] == "scratch"})
    if scratch:
        out.append(f"{', '.join(scratch)} trained from scratch (no ImageNet weights in the torch hub cache): the "
                   "thesis's pretrained detectors are not reproduced for them.")
    return out


# --------------------------------------------------------------------------------------------
# The thesis against this run
# --------------------------------------------------------------------------------------------
def thesis_rows(data: ReportData) -> list[dict[str, str]]:
    """One row per thesis claim: claim, thesis value, our value, verdict (by :data:`RULE`), basis."""
    runs = {r["run"] for r in data.detectors}
    rows: list[dict[str, str]] = []
    how = {r["run"]: ", ".join(x for x in (r.get("architecture"), r.get("weights")) if x) for r in data.detectors}

    def add(claim: str, thesis: str, ours: str, v: str, basis: str) -> None:
        rows.append({"claim": claim, "thesis": thesis, "ours": ours, "verdict": v, "basis": basis})

    # Detection: VGG19 has the highest accuracy (on base data, against the other base runs)
    vgg = "vgg19-base"
    if vgg in runs:
        others = sorted(r for r in runs if r.endswith("-base") and r != vgg)
        diffs = {o: pair(data, vgg, o, "accuracy") for o in others}
        verdicts = {o: decide(d, True) for o, d in diffs.items()}
        if others and all(v == "better" for v in verdicts.values()):
            v = "agrees"
        elif any(v == "worse" for v in verdicts.values()):
            v = "disagrees"
        else:
            v = NOT_RESOLVED
        known = [f"{o} {iv_text(d, signed=True)}" for o, d in diffs.items() if d is not None]
        ours = (f"accuracy {iv_text(detector_value(data, vgg, 'accuracy'))}; vgg19 - other: "
                + ("; ".join(known) if known else "no paired intervals"))
        add("VGG19 has the highest accuracy", "highest of the detectors", ours, v,
            "paired accuracy differences against every other base run")
    else:
        add("VGG19 has the highest accuracy", "highest of the detectors", not_available("detect@vgg19-base"),
            "not available", "")
    for claim, shown, model, variants, metric, value in THESIS_VALUES:
        for variant in variants:
            run = f"{model}-{variant}"
            iv = detector_value(data, run, metric) if run in runs else None
            label = claim if len(variants) == 1 else f"{claim}: {variant}"
            if iv is None:
                add(label, shown, not_available(f"detect@{run}"), "not available", "")
            else:
                add(label, shown, f"{run} {metric} {iv_text(iv)}" + (f" ({how[run]})" if how.get(run) else ""),
                    value_verdict(iv, value),
                    "frame level, test split, 95% interval over test videos")
    low, high = THESIS_AUGMENTATION
    for model in ("densenet121", "custom_cnn"):
        base, aug = f"{model}-base", f"{model}-augmented"
        claim = f"augmentation lowers {MODEL_NAMES[model]} accuracy by {low * 100:.0f}-{high:.0%}"
        if not {base, aug} <= runs:
            add(claim, f"-{low:.0%} to -{high:.0%}", not_available(f"detect@{aug}"), "not available", "")
            continue
        d = pair(data, aug, base, "accuracy")
        b = detector_value(data, base, "accuracy")
        a = detector_value(data, aug, "accuracy")
        if d is None and a is not None and b is not None:
            d = point(a.estimate - b.estimate)
        rel = d.estimate / b.estimate if d is not None and b is not None and b.estimate else math.nan
        v = decide(d, True)
        if v == "worse":
            v = "agrees" if -high <= rel <= -low else "agrees in direction"
        elif v == "better":
            v = "disagrees"
        add(claim, f"-{low:.0%} to -{high:.0%}",
            f"augmented - base accuracy {iv_text(d, signed=True)} ({rel:+.0%} of base)" if d is not None else "n/a",
            v, "paired over the same test videos")
    # Generation: the LSTM makes the videos more temporally coherent (the multi-seed study when run)
    study = study_intervals(data, "lstm", "none", STUDY_TEMPORAL_METRICS)
    diffs = ({m: (iv, study_basis(data)) for m, iv in study.items()} if study
             else paired_intervals(data, metrics=TEMPORAL_METRICS))
    if diffs:
        verdicts = {m: decide(iv, False) for m, (iv, _) in diffs.items()}
        if any(x == "better" for x in verdicts.values()) and not any(x == "worse" for x in verdicts.values()):
            v = "agrees"
        elif any(x == "worse" for x in verdicts.values()) and not any(x == "better" for x in verdicts.values()):
            v = "disagrees"
        elif all(x == NOT_RESOLVED for x in verdicts.values()):
            v = NOT_RESOLVED
        else:
            v = "mixed"
        v += " (lstm - none on " + ", ".join(diffs) + ")"
        ours = "; ".join(f"{m} lstm - none {iv_text(iv, signed=True)}" for m, (iv, _) in diffs.items())
        add("The LSTM makes the generated videos more temporally coherent", "yes (qualitative)", ours, v,
            "; ".join(dict.fromkeys(src for _, src in diffs.values())) + "; lower is better")
    else:
        add("The LSTM makes the generated videos more temporally coherent", "yes (qualitative)",
            not_available("generate"), "not available", "")
    # Generation: the discriminator's accuracy falls as the generator improves
    series = (data.train.get("lstm") or {}).get("disc_acc", {}).get("fake", [])
    trend = disc_trend(series, data.params.seed)
    claim = "The discriminator's accuracy falls as the generator improves"
    if trend is None:
        add(claim, "yes (training figure)", not_available(TRAIN_STAGE) if not series else
            f"{len(series)} logged points (fewer than 8)", "not available" if not series else NOT_RESOLVED, "")
    else:
        early, change = trend
        above = early.low > 0.5
        change_v = decide(change, True)
        v = ("agrees: D accuracy on generated frames falls" if above and change_v == "worse" else
             "disagrees: D accuracy on generated frames rises" if above and change_v == "better" else
             f"{NOT_RESOLVED}: the first-quarter accuracy is not above chance, so there is no fall from "
             "a discriminating start to measure" if not above else
             f"{NOT_RESOLVED}: the change of D accuracy on generated frames")
        add(claim, "yes (training figure)",
            f"lstm D accuracy on generated frames: first quarter {iv_text(early)}, last - first quarter "
            f"{iv_text(change, signed=True)}" + ("" if above else "; early accuracy not resolved above chance (0.5)"),
            v, "logged points of disc/acc_fake.tsv as units (serially correlated, so the interval is optimistic)")
    return rows


# --------------------------------------------------------------------------------------------
# Known defects and limits
# --------------------------------------------------------------------------------------------
KEYPOINT_COLLAPSE_FRACTION = 0.05  # keypoints closer than this fraction of the crop to their centroid: collapsed


def known_defects(data: ReportData) -> list[str]:
    """Defects of the models that the figures show, stated with what this run measured of them."""
    out = []
    for temporal, m in data.train.items():
        spread = num(m.get("keypoint_spread"))
        if math.isfinite(spread):
            size = m.get("image_size", data.params.data.size)
            limit = f"{KEYPOINT_COLLAPSE_FRACTION:.0%} of the crop"
            verdict = (f"**collapsed** (below {limit}); their heatmaps carry little pose"
                       if spread < KEYPOINT_COLLAPSE_FRACTION * size else f"spread over the face (at least {limit})")
            out.append(f"`{temporal}` keypoint spread (train stage's `keypoint_spread`: root-mean-square distance of "
                       f"the {data.params.gan.model.num_kp} keypoints from their centroid on the val frames): "
                       f"{spread:.1f} px on a {size} px face crop: {verdict}.")
    if not any(math.isfinite(num(m.get("keypoint_spread"))) for m in data.train.values()):
        out.append("This run records no keypoint spread (no `keypoint_spread` in reports/metrics/train-<t>.json): "
                   "check the keypoints figures of the train stages for keypoints bunched on one spot.")
    parts = data.generation.get("parts") or {}
    for method in data.params.generate.methods:
        p = (parts.get(method) or {}).get("reconstruction") or {}
        share = num(p.get("decoder_share"))
        opened, closed = num(p.get("mouth_dec_open")), num(p.get("mouth_dec_closed"))
        carried = num(((parts.get(method) or {}).get("keypoints") or {}).get("mouth_r2"))
        if (math.isfinite(share) and share >= DECODER_UNUSED and math.isfinite(opened) and math.isfinite(closed)
                and opened < DECODER_UNTARGETED * closed):
            out.append(f"`{method}`'s decoder paints {100 * share:.2g}% of the output, but no more of the driver's open "
                       f"mouth ({100 * opened:.2g}%) than of its closed mouth ({100 * closed:.2g}%): it does not paint where "
                       "the driver shows what the source lacks"
                       + (f"; the driving keypoints carry R^2 {carried:.2f} of the mouth opening" if math.isfinite(carried) else "")
                       + f" (mouth-opening correlation {num(p.get('mouth_corr')):.2f}, blinks reproduced "
                       f"{int(num(p.get('blinks_reproduced')) or 0)} of {int(num(p.get('blinks')) or 0)}; section 3).")
        if math.isfinite(share) and share < DECODER_UNUSED:
            out.append(f"`{method}` paints almost nothing with its decoder: {100 * share:.2g}% of the output is the "
                       f"decoder's (mean 1 - occlusion, test reconstruction; {100 * num(p.get('mouth_dec_open')):.2g}% "
                       "in the driver's open mouth), so the output is the warped source and what the source lacks is not "
                       f"drawn: mouth-opening correlation with the driver {num(p.get('mouth_corr')):.2f}, blinks reproduced "
                       f"{int(num(p.get('blinks_reproduced')) or 0)} of {int(num(p.get('blinks')) or 0)} (section 3).")
    single = one_class_runs([r for r in data.detectors if math.isfinite(r["frame_auc"])])
    if single:
        out.append(f"One-class detectors: {', '.join(single)} (see section 4).")
    locked = (data.locked.get(TRAIN_STAGE) or {}).get("gan.loss")  # one train stage: one record for every variant
    weight = num(locked.get("perceptual")) if isinstance(locked, dict) else data.params.gan.loss.perceptual
    for temporal, m in data.train.items():
        terms = m.get("loss_terms") or {}
        if terms and "perceptual" not in terms and weight:
            out.append(f"`{temporal}`: the perceptual (VGG19) loss is configured ({weight:g}) but did not run (no "
                       "gen/perceptual curve in its training log): its ImageNet weights were not in the torch hub "
                       "cache.")
    return out


def caveats(data: ReportData) -> list[str]:
    """What this run's numbers cannot show, from its own settings."""
    p, out = data.params, []
    d = p.data
    if d.source == "synth":
        out.append(f"The faces are the embedded procedural talking faces ({d.identities} identities, {d.size}x{d.size} "
                   f"px, {d.frames} frames per video), not FaceForensics++ or VoxCeleb: nothing here measures "
                   "performance on real faces.")
    steps = sorted({m.get("steps") for m in data.train.values() if m.get("steps") is not None})
    if steps:
        out.append(f"The GANs trained {'/'.join(str(s) for s in steps)} steps and the detectors a few epochs "
                   "(section 4): the numbers say how the methods compare at this budget, not converged quality.")
    seeds = {str(r.get("seed")) for r in data.per_video if r.get("seed") is not None}
    out.append(f"Training seeds in this pipeline: {max(len(seeds), 1)} (seed {p.seed}); intervals cover test videos, "
               "not seed-to-seed spread" + (", except the multi-seed study's table." if data.ablation_study else "."))
    return out
