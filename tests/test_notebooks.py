"""Notebooks 01-04 end to end through papermill on a tiny project, the way ``make repro`` runs them
(``MPLBACKEND=Agg`` exported, no terminal): every figure cell shows a picture, and no output is a
progress bar or a repeated warning.

The convention checked: a code cell that shows a figure (``nb.show(fig)`` or
``display(Image("....png"))``) is tagged ``figure``, and after execution each ``figure`` cell holds an
``image/png`` output. One module-scoped run of the four notebooks (a 8-identity store of 12 frames,
a GAN of tiny widths trained for 4 steps, 20-step evaluation networks, a one-epoch custom CNN)
serves every test here.
"""
from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ("01_data", "02_train_gan", "03_generate", "04_detectors")
FIGURE_TAG = "figure"
SHOWS_A_FIGURE = re.compile(r"\bnb\.show\(|display\(Image\([^)]*\.png")  # a still figure (03's GIF is not one)
# tqdm's bar ("train lstm:  50%|#####     | 2/4 [00:01<00:01, 1.9it/s]"), its notebook warning, a carriage return
PROGRESS_BAR = re.compile(r"\d+%\|.*\||\|\s*\d+/\d+\s*\[|IProgress|TqdmWarning|\r")
TARGET_RATIO = 0.75  # a report.l1_target_ratio unlike the default 0.6: notebook 02 must print this one


def _tiny_params() -> dict:
    import yaml

    p = yaml.safe_load((ROOT / "params.yaml").read_text())
    p["data"].update(identities=8, val_identities=3, test_identities=3, videos_per_identity=2, frames=12)
    p["gan"]["model"].update(num_kp=5, kp_block_expansion=8, kp_max_features=16, kp_num_blocks=2,
                             dm_block_expansion=8, dm_max_features=16, dm_num_blocks=2, block_expansion=8,
                             max_features=16, num_bottleneck_blocks=1, lstm_hidden=8, disc_block_expansion=8,
                             disc_max_features=16, disc_num_blocks=2)
    p["gan"]["loss"]["perceptual"] = 0.0
    p["gan"]["train"].update(steps=4, batch_size=2, clip_len=3, warmup_steps=1)
    p["gan"]["run"].update(checkpoint_every=4, log_every=1, val_every=2, val_batches=1)
    p["generate"].update(methods=["lstm"], eval_videos=2, cross_pairs=1, evalnet_steps=20, evalnet_batch=8, export_source="store",
                         evalnet_threads=1, threads=1)
    p["detect"].update(models=["custom_cnn"], variants=["base"], epochs=1, max_train_frames=0, max_eval_frames=0,
                       max_test_frames=0, batch_size=16, hidden=16, cross_method=False, grid_images=4, threads=1,
                       per_model={})
    p["report"]["l1_target_ratio"] = TARGET_RATIO
    return p


@pytest.fixture(scope="module")
def executed(tmp_path_factory) -> dict[str, dict]:
    """A tiny project (dvc.yaml + a tiny params.yaml) in a temporary folder; notebooks 01, 02
    (temporal=lstm), 03 and 04 (custom_cnn, base) executed in it in pipeline order."""
    papermill = pytest.importorskip("papermill")
    yaml = pytest.importorskip("yaml")
    project = tmp_path_factory.mktemp("project")
    shutil.copy(ROOT / "dvc.yaml", project / "dvc.yaml")
    (project / "params.yaml").write_text(yaml.safe_dump(_tiny_params(), sort_keys=False))
    runs = [("01_data", "01_data", {}), ("02_train_gan", "02_train_gan-lstm", {"temporal": "lstm"}),
            ("03_generate", "03_generate", {}),
            ("04_detectors", "04_detectors-custom_cnn-base", {"model": "custom_cnn", "variant": "base"})]
    env = {"MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1",  # as `make repro`; one thread on a shared CPU
           "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    executed = {}
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        mp.delenv("LSTMGAN_PROGRESS", raising=False)
        for name, out, parameters in runs:
            path = project / "reports" / "notebooks" / f"{out}.ipynb"
            path.parent.mkdir(parents=True, exist_ok=True)
            papermill.execute_notebook(str(ROOT / "notebooks" / f"{name}.ipynb"), str(path), kernel_name="lstmgan",
                                       cwd=str(project), parameters=parameters, progress_bar=False,
                                       log_output=False)
            executed[name] = json.loads(path.read_text())
    executed["project"] = project  # type: ignore[assignment]
    return executed


def _code_cells(notebook: dict) -> list[tuple[int, dict]]:
    return [(i, c) for i, c in enumerate(notebook["cells"]) if c["cell_type"] == "code"]


def _text(output: dict) -> str:
    if output["output_type"] == "stream":
        return "".join(output["text"])
    if output["output_type"] in ("display_data", "execute_result"):
        return "".join(output["data"].get("text/plain", ""))
    if output["output_type"] == "error":
        return "\n".join(output["traceback"])
    return ""


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_cell_that_shows_a_figure_is_tagged(name):
    """The convention, on the committed notebooks: nothing shows a figure outside a ``figure`` cell,
    and every ``figure`` cell shows one."""
    notebook = json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text())
    tagged = 0
    for i, cell in _code_cells(notebook):
        shows = bool(SHOWS_A_FIGURE.search("".join(cell["source"])))
        is_figure = FIGURE_TAG in cell["metadata"].get("tags", [])
        assert shows == is_figure, f"{name} cell {i}: shows a figure={shows}, tagged {FIGURE_TAG!r}={is_figure}"
        assert "plt.show()" not in "".join(cell["source"]), f"{name} cell {i}: plt.show() draws nothing under Agg"
        tagged += is_figure
    assert tagged >= 4


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_figure_cell_holds_a_picture_or_says_why_not(executed, name):
    for i, cell in _code_cells(executed[name]):
        if FIGURE_TAG in cell["metadata"].get("tags", []):
            images = [o for o in cell["outputs"] if "image/png" in o.get("data", {})]
            said = "".join(_text(o) for o in cell["outputs"] if o["output_type"] == "stream")
            assert images or "no curve to draw" in said, f"{name} cell {i}: a figure cell without a picture"


# a dataclass or dict echoed as the cell's value, a pandas Styler's repr, a stray IPython object repr
ECHO = re.compile(r"^\w+Params\(|^\{'|^<pandas\.io\.formats\.style|^\{\n")


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_no_noise_in_the_executed_notebooks(executed, name):
    """No echoed reprs or result dicts, no empty or whitespace-only outputs, each table once."""
    tables = []
    for i, cell in _code_cells(executed[name]):
        for output in cell["outputs"]:
            text = _text(output)
            if output["output_type"] == "stream":
                assert text.strip(), f"{name} cell {i}: an empty stream output {text!r}"
            data = output.get("data", {})
            if "image/png" in data or "text/html" in data or "text/markdown" in data:
                if "text/html" in data:
                    tables.append("".join(data["text/html"]))
                if "text/markdown" in data:
                    tables.append("".join(data["text/markdown"]))
                continue
            assert not ECHO.search(text.strip()), f"{name} cell {i}: an echoed repr {text[:80]!r}"
    assert len(tables) == len(set(tables)), f"{name}: a table shown twice"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_no_output_is_a_progress_bar_an_error_or_a_repeated_warning(executed, name):
    warnings = []
    for i, cell in _code_cells(executed[name]):
        for output in cell["outputs"]:
            assert output["output_type"] != "error", f"{name} cell {i}: {output.get('ename')}"
            text = _text(output)
            assert not PROGRESS_BAR.search(text), f"{name} cell {i}: progress-bar output {text[:120]!r}"
            warnings += [re.sub(r"^\d\d:\d\d:\d\d ", "", line) for line in text.splitlines()
                         if "WARNING" in line or "Warning" in line or "not found" in line]
    assert len(warnings) == len(set(warnings)), f"{name}: a warning said twice: {warnings}"


def test_the_notebooks_say_what_was_run(executed):
    outputs = {name: "".join(_text(o) for _, c in _code_cells(executed[name]) for o in c["outputs"])
               for name in NOTEBOOKS}
    assert f"the bar (<= {TARGET_RATIO:g})" in outputs["02_train_gan"]  # report.l1_target_ratio, not 0.6
    assert "keypoint spread on the driving frames" in outputs["02_train_gan"]
    assert "all training frames" in outputs["04_detectors"] and "at most 0" not in outputs["04_detectors"]
    assert "detect runs in params.yaml had finished" not in outputs["04_detectors"]  # no mixed-revision table
    assert "One epoch of training: no curve to draw" in outputs["04_detectors"]  # detect.epochs=1 here
    assert "data: source=synth" in outputs["01_data"]  # the data parameters, once, compactly
    assert "detect_comparison.md" not in "".join("".join(c["source"]) for c in executed["04_detectors"]["cells"])
    # the whole data set card, not its first 600 characters
    card = (executed["project"] / "data" / "deepfakes" / "DATASET.md").read_text()
    shown = [o["data"]["text/markdown"] for _, c in _code_cells(executed["03_generate"]) for o in c["outputs"]
             if "text/markdown" in o.get("data", {})]
    assert card.strip() in ["".join(s).strip() for s in shown]


def test_the_figures_are_saved_where_the_report_reads_them(executed):
    figures = executed["project"] / "reports" / "figures"
    expected = {"data": ["contact_sheet", "landmarks_strip", "motion", "degradation", "compression"],
                "train/lstm": ["losses", "discriminator_accuracy", "discriminator_probe", "validation_l1",
                               "reconstructions", "keypoints", "motion"],
                "generate": ["per_video_metrics", "cross_identity_grid", "keypoint_tracks", "export_examples"]}
    for folder, names in expected.items():
        for name in names:
            assert (figures / folder / f"{name}.png").stat().st_size > 5000, f"{folder}/{name}.png"
