"""The multi-seed study's aggregation on tiny fake per-video CSVs, and its pipeline files."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lstmgan.errors import UserError
from lstmgan.generate import study as S

ROOT = Path(__file__).resolve().parents[1]


def write_study(tmp_path: Path, seeds=(0, 1, 2), videos: int = 4) -> Path:
    """Cells of two variants: 'good' has l1 = 0.1 on every video, 'bad' 0.1 + 0.01 * (seed + 1);
    copy-source (written by every cell, seed independent) has 0.5. flicker differs by seed sign."""
    cells = tmp_path / "cells"
    for variant in ("good", "bad"):
        for seed in seeds:
            rows = []
            for v in range(videos):
                l1 = 0.1 if variant == "good" else 0.1 + 0.01 * (seed + 1)
                flick = 0.02 + (0.001 if (seed + v) % 2 else -0.001) * (variant == "good")
                rows.append({"method": variant, "video_id": f"vid{v}", "l1": l1, "flicker": flick,
                             "tof_dec": 0.3})
                rows.append({"method": "copy-source", "video_id": f"vid{v}", "l1": 0.5, "flicker": 0.03,
                             "tof_dec": np.nan})
            folder = cells / S.cell_name(variant, seed)
            folder.mkdir(parents=True)
            pd.DataFrame(rows).to_csv(folder / "per_video.csv", index=False)
            pd.DataFrame([{"method": variant, "pair": p, "motion_error": 1.0 + 0.1 * (variant == "bad")}
                          for p in range(2)]).to_csv(folder / "cross_identity.csv", index=False)
    params = tmp_path / "study.yaml"
    params.write_text(f"""study:
  variants:
    - {{name: good, sets: --set gan.temporal=lstm}}
    - {{name: bad, sets: --set gan.temporal=none}}
  seeds: [{', '.join(map(str, seeds))}]
  steps: 5
  comparisons:
    - [good, bad]
    - [good, copy-source]
  n_boot: 500
  cells: {cells}
  out: {tmp_path / 'out'}
""")
    return params


def test_aggregate_tiny_study(tmp_path) -> None:
    result = S.aggregate(write_study(tmp_path))
    means, comps = result["means"], result["comparisons"]
    assert list(dict.fromkeys(means["method"])) == ["good", "bad", "copy-source"]
    bad = means[(means.method == "bad") & (means.metric == "l1")].iloc[0]
    # seed means 0.11, 0.12, 0.13: resampling seeds spans [0.11, 0.13]; n = 3 seeds x 4 videos
    assert bad["mean"] == pytest.approx(0.12) and bad["low"] >= 0.11 - 1e-12 and bad["high"] <= 0.13 + 1e-12
    assert bad["low"] < 0.12 < bad["high"] and bad["n"] == 12
    copy = means[(means.method == "copy-source") & (means.metric == "l1")].iloc[0]
    assert copy["n"] == 4  # one run, not one per cell
    v = {(r.a, r.b, r.metric): r for r in comps.itertuples()}
    assert v[("good", "bad", "l1")].verdict == "better" and v[("good", "bad", "l1")].diff == pytest.approx(-0.02)
    assert v[("good", "bad", "flicker")].verdict == "not resolved"  # +-0.001 around equal
    assert v[("good", "bad", "motion_error")].verdict == "better"
    assert v[("good", "copy-source", "l1")].verdict == "better" and v[("good", "copy-source", "l1")].n == 12
    assert v[("good", "copy-source", "tof_dec")].verdict == "n/a"  # the baseline has no decoder region
    out = tmp_path / "out"
    md = (out / "ablation.md").read_text()
    assert "bootstrap over seeds and test videos together" in md and "| good vs bad |" in md
    assert "good vs bad, paired 95% intervals: better on l1, motion_error" in md
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["comparisons"]["good vs bad"]["l1"]["verdict"] == "better"
    assert metrics["seeds"] == [0, 1, 2] and metrics["videos"] == 4 and metrics["steps"] == 5
    assert len(pd.read_csv(out / "per_video.csv")) == 2 * 3 * 4 + 4
    assert list(pd.read_csv(out / "ablation.csv", index_col="method").index) == ["good", "bad", "copy-source"]


# known per-video values of write_filter_study: (clean, degraded) l1 and kp_jitter per method
L1 = {"none": (0.12, 0.20), "none+euro": (0.11, 0.15), "lstm": (0.10, 0.14), "copy-source": (0.5, 0.5)}
JITTER = {"none": (2.0, 4.0), "none+euro": (1.2, 1.5), "lstm": (1.5, 2.0), "copy-source": (np.nan, np.nan)}


def write_filter_study(tmp_path: Path, seeds=(0, 1, 2), videos: int = 4, degraded: bool = True,
                       euro_in_cells: bool = True) -> Path:
    """Cells as `lstmgan evaluate` writes them for a none variant evaluated as none and none+euro (one
    checkpoint) and an lstm variant: per_video.csv (and per_video_degraded.csv with ``degraded``) with the
    L1 / JITTER values plus +-0.001 by video parity, the driving-video baseline, cross-identity rows, and
    the none cells' metrics.json with the One-Euro constants chosen on validation (min_cutoff = seed + 1)."""
    cells = tmp_path / "cells"
    for variant, methods in (("none", ["none", "none+euro"] if euro_in_cells else ["none"]), ("lstm", ["lstm"])):
        for seed in seeds:
            folder = cells / S.cell_name(variant, seed)
            folder.mkdir(parents=True)
            for drive, name in enumerate(("per_video.csv", "per_video_degraded.csv")):
                if drive and not degraded:
                    continue
                rows = [{"method": m, "video_id": f"vid{v}", "identity": f"id{v}", "frames": 48,
                         "l1": L1[m][drive] + (0.001 if v % 2 else -0.001), "kp_jitter": JITTER[m][drive]}
                        for m in [*methods, "copy-source"] for v in range(videos)]
                rows += [{"method": "driving-video", "video_id": f"vid{v}", "identity": f"id{v}", "frames": 48,
                          "l1": 0.0, "kp_jitter": np.nan} for v in range(videos)]
                pd.DataFrame(rows).to_csv(folder / name, index=False)
            pd.DataFrame([{"method": m, "pair": p, "motion_error": 1.0} for m in methods
                          for p in range(2)]).to_csv(folder / "cross_identity.csv", index=False)
            if variant == "none" and euro_in_cells:
                grid = [{"min_cutoff": c, "beta": 0.5, "val_l1": 0.01 * (seed + 1) + (c != seed + 1), "videos": 8,
                         "driving": "degraded"} for c in (seed + 1.0, 9.0)]
                (folder / "metrics.json").write_text(json.dumps(
                    {"kp_filters": {"none+euro": {"min_cutoff": seed + 1.0, "beta": 0.5, "grid": grid}}}))
    params = tmp_path / "study.yaml"
    params.write_text(f"""study:
  variants:
    - name: none
      sets: --set gan.temporal=none
      methods: none,none+euro
    - name: lstm
      sets: --set gan.temporal=lstm
  seeds: [{', '.join(map(str, seeds))}]
  steps: 5
  comparisons:
    - [lstm, none]
    - [none+euro, none]
    - [lstm, none+euro]
    - [none+euro, copy-source]
  n_boot: 300
  cells: {cells}
  out: {tmp_path / 'out'}
""")
    return params


def test_filtered_methods_are_collected_from_their_checkpoints_cells(tmp_path) -> None:
    """none+euro rows come from the none cells under their own name (variant none), every seed of them;
    the driving-video baseline is left out; the One-Euro constants are recorded per seed."""
    result = S.aggregate(write_filter_study(tmp_path))
    means, comps = result["means"], result["comparisons"]
    assert list(dict.fromkeys(means["method"])) == ["none", "none+euro", "lstm", "copy-source"]
    euro = means[(means.method == "none+euro") & (means.metric == "l1")].iloc[0]
    assert euro["mean"] == pytest.approx(0.11) and euro["n"] == 12
    v = {(r.a, r.b, r.metric): r for r in comps.itertuples()}
    assert v[("none+euro", "none", "l1")].diff == pytest.approx(-0.01) and v[("none+euro", "none", "l1")].verdict == "better"
    assert v[("lstm", "none+euro", "kp_jitter")].verdict == "worse"  # 1.5 against 1.2
    assert v[("none+euro", "copy-source", "kp_jitter")].verdict == "n/a"  # the baseline has no keypoints
    out = tmp_path / "out"
    per_video = pd.read_csv(out / "per_video.csv")
    assert "driving-video" not in set(per_video["method"])
    euro_rows = per_video[(per_video.method == "none+euro") & (per_video.drive == "clean")]
    assert set(euro_rows["variant"]) == {"none"} and sorted(set(euro_rows["seed"])) == [0, 1, 2] and len(euro_rows) == 12
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["methods"] == {"none": "none", "none+euro": "none", "lstm": "lstm"}
    assert metrics["kp_filters"]["none+euro"] == [
        {"seed": s, "min_cutoff": s + 1.0, "beta": 0.5, "val_l1": pytest.approx(0.01 * (s + 1)), "driving": "degraded"}
        for s in (0, 1, 2)]
    assert "## Keypoint filters chosen on validation" in (out / "ablation.md").read_text()


def test_degraded_driving_gets_its_own_tables(tmp_path) -> None:
    """With per_video_degraded.csv in every cell: a degraded section, rows and comparisons beside the clean
    ones (cross-identity stays clean only); the report's clean `comparisons` keep their format."""
    S.aggregate(write_filter_study(tmp_path))
    out = tmp_path / "out"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["drives"] == ["clean", "degraded"]
    assert metrics["comparisons"]["lstm vs none"]["l1"]["diff"] == pytest.approx(-0.02)
    assert set(metrics["comparisons"]["lstm vs none"]["l1"]) == {"diff", "low", "high", "verdict"}
    degraded = metrics["degraded_comparisons"]
    assert degraded["lstm vs none"]["l1"]["diff"] == pytest.approx(-0.06)
    assert degraded["none+euro vs none"]["kp_jitter"]["diff"] == pytest.approx(-2.5)
    assert degraded["none+euro vs none"]["kp_jitter"]["verdict"] == "better"
    assert "motion_error" in metrics["comparisons"]["lstm vs none"] and "motion_error" not in degraded["lstm vs none"]
    assert metrics["degraded"]["none+euro"]["l1"]["mean"] == pytest.approx(0.15)
    assert metrics["none"]["l1"]["mean"] == pytest.approx(0.12)  # the top-level means stay the clean ones
    md = (out / "ablation.md").read_text()
    assert md.index("## Clean driving") < md.index("## Degraded driving")
    assert "lstm vs none, paired 95% intervals: better on l1" in md.split("## Degraded driving")[1]
    comps = pd.read_csv(out / "ablation_comparisons.csv")
    assert list(comps.columns[:4]) == ["drive", "a", "b", "metric"] and set(comps["drive"]) == {"clean", "degraded"}
    wide = pd.read_csv(out / "ablation.csv")
    assert list(wide.loc[wide.drive == "degraded", "method"]) == ["none", "none+euro", "lstm", "copy-source"]
    per_video = pd.read_csv(out / "per_video.csv")
    assert per_video.groupby("drive").size().to_dict() == {"clean": 4 * 3 * 3 + 4, "degraded": 4 * 3 * 3 + 4}


def test_without_the_degraded_copy_the_study_is_clean_only(tmp_path) -> None:
    """No cell has per_video_degraded.csv: clean tables only, no error; some with, some without: an
    error naming a cell to evaluate again; a cell evaluated without its filtered method: an error."""
    params = write_filter_study(tmp_path, degraded=False)
    S.aggregate(params)
    out = tmp_path / "out"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["drives"] == ["clean"] and "degraded" not in metrics and "degraded_comparisons" not in metrics
    assert list(metrics["power"]) == ["clean"]
    assert "## Degraded driving" not in (out / "ablation.md").read_text()
    assert set(pd.read_csv(out / "ablation_comparisons.csv")["drive"]) == {"clean"}
    partial = write_filter_study(tmp_path / "partial")
    (tmp_path / "partial" / "cells" / "lstm-s1" / "per_video_degraded.csv").unlink()
    with pytest.raises(UserError, match="lstm-s1/per_video_degraded.csv: missing while other cells have it"):
        S.aggregate(partial)
    with pytest.raises(UserError, match=r"no rows of none\+euro; evaluate cell none-s0 again"):
        S.aggregate(write_filter_study(tmp_path / "no-euro", euro_in_cells=False))


def test_sample_size_has_known_answers() -> None:
    """n_needed = n_now (h / target)^2; per level from the variance components."""
    p = S.sample_size(0.01, 0.005, 3, 4)  # half-width twice the target: four times the cells
    assert (p.n_now, p.n_needed) == (12, 48)
    seed_only = S.sample_size(0.01, 0.005, 3, 4, (1.0, 0.0, 0.0))
    assert (seed_only.seeds_needed, seed_only.videos_needed) == (12, None)  # videos cannot average seeds away
    video_only = S.sample_size(0.01, 0.005, 3, 4, (0.0, 1.0, 0.0))
    assert (video_only.seeds_needed, video_only.videos_needed) == (None, 16)
    resid = S.sample_size(0.01, 0.005, 3, 4, (0.0, 0.0, 1.0))  # either level will do
    assert (resid.seeds_needed, resid.videos_needed, resid.n_needed) == (12, 16, 48)
    both = S.sample_size(0.01, 0.005, 2, 10, (1.0, 10.0, 0.0))  # var 0.5 + 1: budget 0.375 < either term
    assert (both.n_needed, both.seeds_needed, both.videos_needed) == (80, None, None)
    assert S.sample_size(0.002, 0.005, 3, 4).n_needed == 2  # already resolved: fewer would do (12 x 0.16)
    assert S.sample_size(0.01, 0.0, 3, 4).n_needed is None and S.sample_size(float("nan"), 0.1, 3, 4).n_needed is None


def test_variance_components_of_constructed_tables() -> None:
    seeds, videos = np.array([0.0, 1.0, 3.0]), np.array([0.0, 2.0, 2.0, 4.0])
    sc, vc, rc = S.variance_components(seeds[:, None] + videos[None, :])
    assert sc == pytest.approx(np.var(seeds, ddof=1)) and vc == pytest.approx(np.var(videos, ddof=1))
    assert rc == pytest.approx(0.0, abs=1e-12)
    checker = np.array([[1.0, -1.0], [-1.0, 1.0]])  # interaction only
    assert S.variance_components(checker) == pytest.approx((0.0, 0.0, 4.0))
    assert S.variance_components(np.array([[1.0, 3.0]])) == pytest.approx((0.0, 2.0, 0.0))  # one seed


def test_power_lines_of_the_tiny_study(tmp_path) -> None:
    """The recorded power is the interval's half-width and the formula on it: good vs bad differ by seed
    only (-0.01 (seed + 1) on every video), so only seeds help, and videos_needed is null."""
    S.aggregate(write_study(tmp_path))
    out = tmp_path / "out"
    metrics = json.loads((out / "metrics.json").read_text())
    comp, power = metrics["comparisons"]["good vs bad"]["l1"], metrics["power"]["clean"]["good vs bad"]["l1"]
    h = (comp["high"] - comp["low"]) / 2
    assert power["half_width"] == pytest.approx(h) and power["target"] == pytest.approx(0.05 * 0.12)
    assert power["n_now"] == 12 and power["n_needed"] == int(np.ceil(12 * (h / 0.006) ** 2 - 1e-9))
    assert power["seeds_needed"] == int(np.ceil(3 * (h / 0.006) ** 2 - 1e-9)) and power["videos_needed"] is None
    assert "0.05 x |mean of B|" in metrics["power_basis"]
    md = (out / "ablation.md").read_text()
    assert f"±{h:#.3g}; n {power['n_needed']}" in md and "Power: ±" in md
    row = pd.read_csv(out / "ablation_comparisons.csv").query("a == 'good' and b == 'bad' and metric == 'l1'").iloc[0]
    assert row["half_width"] == pytest.approx(h, rel=1e-5) and row["n_needed"] == power["n_needed"]


def test_aggregate_names_what_is_missing(tmp_path) -> None:
    params = write_study(tmp_path, seeds=(0, 1))
    text = params.read_text().replace("seeds: [0, 1]", "seeds: [0, 1, 7]")
    params.write_text(text)
    with pytest.raises(UserError, match="bad-s7|good-s7"):
        S.aggregate(params)
    params.write_text(text.replace("- [good, bad]", "- [good, nobody]"))
    with pytest.raises(UserError, match="unknown variant"):
        S.load_study(params)
    with pytest.raises(UserError, match="no such study params"):
        S.load_study(tmp_path / "absent.yaml")


STUDY_DIR = ROOT / "studies" / "ablation"


def _cell_params(study: S.Study, variant: dict):
    """The params one training cell of ``study`` trains with: root params.yaml + the variant's and the
    study's --set overrides, as the train stage's command passes them."""
    import shlex

    from lstmgan.config import load_params

    args = shlex.split(f"{variant['sets']} {study.sets} --set gan.train.steps={study.steps}")
    sets = [args[i + 1] for i, a in enumerate(args) if a == "--set"]
    return load_params(ROOT / "params.yaml", overrides=sets)


@pytest.mark.parametrize("name", ["params.yaml", "params-gpu.yaml"])
def test_the_study_asks_issue_22_at_one_training_budget(name: str) -> None:
    """none / none+euro / lstm / kp, >= 3 seeds; every trained variant sees the same frames per step and
    the same share of degraded driving, only the temporal model differs (TBPTT for the recurrent ones);
    none+euro is evaluated from none's checkpoint; the comparisons reviewers ask for are all there."""
    study = S.load_study(STUDY_DIR / name)
    assert study.names == ["none", "lstm", "kp"] and study.methods == ["none", "none+euro", "lstm", "kp"]
    assert study.variant_of["none+euro"] == "none" and len(study.seeds) >= 3 and study.steps > 0
    cells = {v["name"]: _cell_params(study, v).gan for v in study.variants}
    assert {n: g.temporal for n, g in cells.items()} == {"none": "none", "lstm": "lstm", "kp": "kp"}
    assert {g.train.batch_size * g.train.tbptt_clips * g.train.clip_len for g in cells.values()} == {32}
    assert {g.train.degraded_driving for g in cells.values()} == {0.5} and {g.train.steps for g in cells.values()} == {study.steps}
    assert cells["none"].train.tbptt_clips == 1 and cells["lstm"].train.tbptt_clips == cells["kp"].train.tbptt_clips == 2
    for a in ("lstm", "kp", "none+euro"):
        assert (a, "none") in study.comparisons
    assert {("lstm", "none+euro"), ("kp", "none+euro"), ("lstm", "kp")} <= set(study.comparisons)
    assert {(m, "copy-source") for m in study.methods} <= set(study.comparisons)


def test_the_gpu_study_is_the_cpu_design_longer() -> None:
    """params-gpu.yaml: the same variants and comparisons, more seeds and steps, CUDA, bf16."""
    cpu, gpu = S.load_study(STUDY_DIR / "params.yaml"), S.load_study(STUDY_DIR / "params-gpu.yaml")
    assert gpu.variants == cpu.variants and gpu.comparisons == cpu.comparisons
    assert len(gpu.seeds) > len(cpu.seeds) and gpu.steps > cpu.steps
    assert (cpu.device, gpu.device) == ("cpu", "cuda") and "gan.train.amp=bf16" in gpu.sets
    assert _cell_params(gpu, gpu.variants[1]).gan.train.amp == "bf16"
    assert (gpu.cells, gpu.out) == (cpu.cells, cpu.out)


def test_the_study_pipeline_files_agree() -> None:
    """pipeline.yaml: cells write where the aggregation reads; each evaluation cell scores every method of
    its variant from the one checkpoint its training wrote (none+euro from none's, not trained again)."""
    import shlex

    from lstmgan.config import parse_override

    study = S.load_study(STUDY_DIR / "params.yaml")
    dvc = (STUDY_DIR / "pipeline.yaml").read_text()
    assert f"--out {study.cells}/${{item.variant.name}}-s${{item.seed}}" in dvc
    assert S.cell_name("lstm", 0) == "lstm-s0"
    assert "--out studies/ablation/models/s${item.seed}/${item.variant.name}" in dvc  # training
    assert "--set gan.out=studies/ablation/models/s${item.seed}" in dvc  # evaluation: <gan.out>/<variant>/latest.pt
    template = '--set "generate.methods=[${item.variant.methods}]"'
    assert template in dvc and "--device ${study.device} ${study.sets}" in dvc
    none = next(v for v in study.variants if v["name"] == "none")
    arg = shlex.split(template.replace("${item.variant.methods}", ",".join(none["methods"])))[1]
    assert parse_override(arg) == ("generate.methods", ["none", "none+euro"])
    assert dvc.count("--checkpoint") == 0 and "lstmgan study --study studies/ablation/params.yaml" in dvc


@pytest.mark.parametrize("study", sorted(p.parent.name for p in (ROOT / "studies").glob("*/pipeline.yaml")))
def test_the_study_stages_depend_on_every_module_they_run(study: str) -> None:
    """The rule of tests/test_pipeline_deps.py, applied to every study's own pipeline.yaml (installed as dvc.yaml to run)."""
    import yaml

    from test_pipeline_deps import uncovered_modules

    stages = yaml.safe_load((ROOT / "studies" / study / "pipeline.yaml").read_text())["stages"]
    for name, stage in stages.items():
        assert stage.get("do", stage).get("wdir") == "../..", f"study stage {name} must run from the repository root"
        missing = uncovered_modules(name, stage)
        assert not missing, f"study stage {name!r} runs these modules but does not depend on them: {missing}"


def test_a_plain_dvc_status_speaks_of_the_main_pipeline_only() -> None:
    """Study pipelines are committed as pipeline.yaml (make study-<name> installs them as an untracked
    dvc.yaml), so a fresh clone's `dvc status` lists the main pipeline's stages and nothing else."""
    import subprocess

    tracked = subprocess.run(["git", "ls-files", "studies"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    assert not [t for t in tracked if t.endswith("/dvc.yaml")]
    studies = sorted(p.parent.name for p in (ROOT / "studies").glob("*/pipeline.yaml"))
    assert studies == ["ablation", "detect"]
    assert "cp studies/$*/pipeline.yaml studies/$*/dvc.yaml" in (ROOT / "Makefile").read_text()
    # DVC refuses to run a git-ignored dvc.yaml: the installed copy must not be ignored
    for study in studies:
        assert subprocess.run(["git", "check-ignore", "-q", f"studies/{study}/dvc.yaml"], cwd=ROOT).returncode == 1, study
    assert "studies/run_cells.py studies/$*/dvc.yaml" in (ROOT / "Makefile").read_text()


def _run_cells():
    import importlib.util

    spec = importlib.util.spec_from_file_location("run_cells", ROOT / "studies" / "run_cells.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["run_cells"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


DRY_RUN = """Stage 'prepare' didn't change, skipping
Running stage 'studies/ablation/dvc.yaml:evalnets':
> lstmgan evalnets --set a=1

Running stage 'studies/ablation/dvc.yaml:train@variant0-0':
> export OMP_NUM_THREADS=1 && lstmgan train --set seed=0

Running stage 'studies/ablation/dvc.yaml:train@variant1-0':
> export OMP_NUM_THREADS=1 && lstmgan train --set seed=0 --set gan.temporal=none

Running stage 'studies/ablation/dvc.yaml:evaluate@variant0-0':
> lstmgan evaluate --checkpoint lstm=x

Running stage 'studies/ablation/dvc.yaml:aggregate':
> lstmgan study
"""


def test_run_cells_reads_a_dry_run_and_orders_the_cells() -> None:
    """The cell runner takes each stage's own command from `dvc repro --dry`, runs the stages before the
    first cell through DVC, and starts an evaluation only after the training with its key."""
    rc = _run_cells()
    stages = rc.parse_dry_run(DRY_RUN)
    assert [s.name.rsplit(":", 1)[-1] for s in stages] == ["evalnets", "train@variant0-0", "train@variant1-0",
                                                           "evaluate@variant0-0", "aggregate"]
    assert stages[1].cmd == "export OMP_NUM_THREADS=1 && lstmgan train --set seed=0"
    before, cells, after = rc.plan(stages)
    assert [s.kind for s in before] == ["evalnets"] and [s.kind for s in after] == ["aggregate"]
    assert [(c.kind, c.key) for c in cells] == [("train", "variant0-0"), ("train", "variant1-0"),
                                                ("evaluate", "variant0-0")]
    evaluate = cells[2]
    assert rc.ready(cells[0], set(), cells) and not rc.ready(evaluate, set(), cells)
    assert not rc.ready(evaluate, {cells[1].name}, cells) and rc.ready(evaluate, {cells[0].name}, cells)
    assert rc.plan(rc.parse_dry_run("Data and pipelines are up to date.\n")) == ([], [], [])


def test_run_cells_runs_jobs_side_by_side_and_stops_on_a_failure(tmp_path) -> None:
    """Real subprocesses: every cell runs once with OMP_NUM_THREADS=1; a failing cell raises, naming its log."""
    rc = _run_cells()
    out = tmp_path / "out"
    out.mkdir()
    cells = [rc.Stage(f"p:train@k{i}", f"echo $OMP_NUM_THREADS > {out}/train{i}") for i in range(3)]
    cells += [rc.Stage(f"p:evaluate@k{i}", f"test -f {out}/train{i} && touch {out}/eval{i}") for i in range(3)]
    rc.run_cells(cells, jobs=2, logs=str(tmp_path / "logs"))
    assert sorted(p.name for p in out.iterdir()) == sorted([f"train{i}" for i in range(3)] + [f"eval{i}" for i in range(3)])
    assert {(out / f"train{i}").read_text().strip() for i in range(3)} == {"1"}
    with pytest.raises(SystemExit, match="evaluate@k9 failed"):
        rc.run_cells([rc.Stage("p:evaluate@k9", "exit 3")], jobs=2, logs=str(tmp_path / "logs"))


def test_detection_study_stages_ask_for_what_they_are_named():
    """Each stage of studies/detect/pipeline.yaml, its --set overrides applied over both params files,
    trains what its name says: scratch (with one detector per generator), face-id pretrained, or on c23;
    and every backbone's study budget is its own (not the main pipeline's token per_model entries)."""
    import shlex

    import yaml

    from lstmgan.config import load_params

    root = Path(__file__).resolve().parents[1]
    pipeline = yaml.safe_load((root / "studies/detect/pipeline.yaml").read_text())["stages"]
    expect = {"scratch": (False, True, "raw"), "faceid": (True, False, "raw"), "c23": (False, False, "c23")}
    for group, (pretrain, cross, compression) in expect.items():
        stage = pipeline[group]
        assert stage["foreach"] == ["custom_cnn", "resnet18", "densenet121", "vgg19"]
        for model in stage["foreach"]:
            args = shlex.split(stage["do"]["cmd"].replace("${item}", model))
            sets = [args[i + 1] for i, a in enumerate(args) if a == "--set"]
            params = load_params(root / "params.yaml", overrides=sets, configs=[root / "studies/detect/params.yaml"])
            cfg = params.detect.for_model(model)
            assert (cfg.face_pretrain, cfg.cross_method, cfg.train_compression) == (pretrain, cross, compression)
            assert cfg.test_compressions == ["raw", "c23", "c40"] and cfg.max_test_frames == 0
            assert args[args.index("--out") + 1] == f"studies/detect/results/{model}-base-{group}"
        outs = [next(iter(o)) if isinstance(o, dict) else o for o in stage["do"]["outs"]]
        assert ("studies/detect/results/${item}-base-scratch/predictions_cross.csv" in outs) == cross


def test_power_counts_beyond_int64_print_as_a_bound():
    from lstmgan.generate.study import _n_text

    assert _n_text(10 ** 30) == "> 10^6" and _n_text(12) == "12"
    assert _n_text(None) == "n/a" and _n_text(float("nan")) == "n/a"


def test_a_measure_of_both_tables_is_kept_apart_as_cross(tmp_path) -> None:
    params = write_study(tmp_path)
    for folder in (tmp_path / "cells").iterdir():  # the face-part measures sit in both files
        for name, value in (("per_video.csv", 0.8), ("cross_identity.csv", 0.2)):
            df = pd.read_csv(folder / name)
            df["mouth_corr"] = value
            df.to_csv(folder / name, index=False)
    means = S.aggregate(params)["means"]
    good = means[means.method == "good"].set_index("metric")["mean"]
    assert good["mouth_corr"] == pytest.approx(0.8) and good["cross_mouth_corr"] == pytest.approx(0.2)
    assert not means.duplicated(["method", "metric"]).any()
