"""Packaging: every third-party module the package imports is declared (pyproject.toml), the lock
(requirements.txt) pins exactly what is declared, and the declared core alone runs the command line
(`--help`, `animate`) while core + [pipeline] trains."""
from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# import name -> distribution, where the distribution's metadata does not say it
IMPORT_TO_DIST = {"dlib": "dlib-bin", "cv2": "opencv-python", "PIL": "pillow", "yaml": "PyYAML",
                  "skimage": "scikit-image", "sklearn": "scikit-learn", "IPython": "ipython"}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(spec: str) -> str:
    return _norm(re.split(r"[<>=!~\[; ]", spec.strip(), maxsplit=1)[0])


def _declared() -> dict[str, set[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    groups = {"core": project["dependencies"], **project["optional-dependencies"]}
    return {g: {_requirement_name(s) for s in specs if not s.startswith("lstmgan")} for g, specs in groups.items()}


def _imported() -> dict[str, str]:
    """Top-level third-party modules imported anywhere in lstmgan/ -> the first file importing it."""
    found: dict[str, str] = {}
    for path in sorted((ROOT / "lstmgan").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else []
            for name in names:
                top = name.split(".")[0]
                if top != "lstmgan" and top not in sys.stdlib_module_names:
                    found.setdefault(top, str(path.relative_to(ROOT)))
    return found


def test_every_imported_module_is_declared():
    import importlib.metadata as md

    dists = md.packages_distributions()
    declared = set().union(*_declared().values())
    missing = {}
    for module, where in _imported().items():
        dist = IMPORT_TO_DIST.get(module) or (dists.get(module) or [module])[0]
        if _norm(dist) not in declared:
            missing[module] = where
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"


def test_the_lock_pins_exactly_what_is_declared():
    lines = [line.split("#", 1)[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    pins = [line for line in lines if line]
    assert all("==" in p for p in pins), pins
    assert {_requirement_name(p) for p in pins} == set().union(*_declared().values())


# modules of the distributions outside the core: blocked to prove the core is enough
EXTRAS_MODULES = {"pipeline": ["dvc", "dvclive", "papermill", "nbformat", "ipykernel", "IPython", "mistune"],
                  "notebooks": ["jupyterlab", "ipywidgets", "jupyter_server", "notebook"],
                  "faces": ["face_alignment"], "test": ["pytest"]}

_BLOCKER = """
import sys
BLOCKED = set(sys.argv[1].split(","))
class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is not installed (blocked: not a declared dependency of this set)")
        return None
sys.meta_path.insert(0, Blocker())
from lstmgan.cli import main
raise SystemExit(main(sys.argv[2:]))
"""


def _run_with_only(groups: set[str], argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
    blocked = [m for g, mods in EXTRAS_MODULES.items() if g not in groups for m in mods]
    return subprocess.run([sys.executable, "-c", _BLOCKER, ",".join(blocked), *argv], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_the_blocked_modules_are_the_extras():
    declared = _declared()
    import importlib.metadata as md

    dists = md.packages_distributions()
    for group, modules in EXTRAS_MODULES.items():
        for module in modules:
            dist = IMPORT_TO_DIST.get(module) or (dists.get(module) or [module])[0]
            assert _norm(dist) not in declared["core"], (group, module)


def test_the_core_alone_runs_help_and_animate(tmp_path):
    from test_animate import _face_files, tiny_checkpoint

    ck = tmp_path / "lstm" / "latest.pt"
    tiny_checkpoint(ck)
    img, video = _face_files(tmp_path)
    done = _run_with_only({"core"}, ["--help"], tmp_path)
    assert done.returncode == 0 and "animate" in done.stdout, done.stderr
    done = _run_with_only({"core"}, ["animate", str(img), str(video), "-o", str(tmp_path / "out.mp4"),
                                     "--checkpoint", str(ck), "--device", "cpu"], tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "out.mp4").stat().st_size > 0


@pytest.mark.slow
def test_core_and_pipeline_train_from_params(tmp_path):
    """The training loop built from params.yaml with the core and [pipeline] only (the GPU machine's
    wheelhouse); without [pipeline] it is one line naming the extra."""
    import shutil

    from test_outputs import TINY_YAML

    from lstmgan.data.synth import synthesize

    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    (tmp_path / "tiny.yaml").write_text(TINY_YAML)
    synthesize(tmp_path / "data" / "faces", identities=6, videos_per_identity=1, frames=8, size=64,
               val_identities=2, test_identities=2, write_videos=False)
    from lstmgan.config import DegradeParams
    from lstmgan.data.degrade import degrade_store

    degrade_store(tmp_path / "data" / "faces", DegradeParams(), seed=0)  # as the data stage does
    argv = ["train", "--config", "tiny.yaml", "--no-progress", "--out", "run"]
    done = _run_with_only({"core", "pipeline"}, argv, tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "run" / "latest.pt").is_file() and (tmp_path / "run" / "logs" / "metrics.json").is_file()
    done = _run_with_only({"core"}, argv[:-1] + ["run2"], tmp_path)
    assert done.returncode == 2 and "lstmgan[pipeline]" in done.stderr.strip().splitlines()[-1]
