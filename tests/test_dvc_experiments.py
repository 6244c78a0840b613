"""`dvc exp run -S key=value` works on this project's pipeline and `dvc exp show` lists the result."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


@pytest.mark.slow
def test_exp_run_with_a_changed_param_is_listed_by_exp_show(tmp_path):
    if not (BIN / "dvc").exists() or not (ROOT / ".git").exists():
        pytest.skip("needs dvc in the environment and a git checkout of the project")
    project = tmp_path / "project"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(project)], check=True)
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "PYTHONPATH": str(project),
           "MPLBACKEND": "Agg", "GIT_AUTHOR_NAME": "test", "GIT_AUTHOR_EMAIL": "test@example.org",
           "GIT_COMMITTER_NAME": "test", "GIT_COMMITTER_EMAIL": "test@example.org"}
    dvc = [str(BIN / "dvc")]
    tiny = ["data.identities=3", "data.val_identities=1", "data.test_identities=1", "data.videos_per_identity=1",
            "data.frames=4", "data.crf=[40]"]
    sets = [arg for kv in tiny for arg in ("-S", kv)]
    run = subprocess.run(dvc + ["exp", "run", "prepare", "--name", "tiny-faces", *sets], cwd=project, env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    show = subprocess.run(dvc + ["exp", "show", "--csv", "--no-pager"], cwd=project, env=env,
                          capture_output=True, text=True, timeout=120)
    assert show.returncode == 0, show.stderr
    rows = [line for line in show.stdout.splitlines() if "tiny-faces" in line]
    assert rows, show.stdout
    header = show.stdout.splitlines()[0].split(",")
    values = dict(zip(header, rows[0].split(",")))
    assert values.get("data.identities") == "3", values
    shutil.rmtree(project, ignore_errors=True)
