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


def test_the_study_pipeline_files_agree() -> None:
    """studies/ablation: >= 3 seeds, lstm / none / adversarial-off variants, comparisons of known
    variants, and the pipeline.yaml cells write where the aggregation reads."""
    study = S.load_study(ROOT / "studies" / "ablation" / "params.yaml")
    assert len(study.seeds) >= 3 and {"lstm", "none", "lstm-noadv"} <= set(study.names)
    sets = {v["name"]: v["sets"] for v in study.variants}
    assert "gan.loss.gan=0" in sets["lstm-noadv"] and "gan.loss.feature_matching=0" in sets["lstm-noadv"]
    assert ("lstm", "none") in study.comparisons and ("lstm", "lstm-noadv") in study.comparisons
    dvc = (ROOT / "studies" / "ablation" / "pipeline.yaml").read_text()
    assert f"--out {study.cells}/${{item.variant.name}}-s${{item.seed}}" in dvc
    assert S.cell_name("lstm", 0) == "lstm-s0"
    assert "lstmgan study --study studies/ablation/params.yaml" in dvc


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
