"""dvc.yaml's code dependencies cannot drift from the code.

For every stage, the modules it runs are found by walking the static import graph from the
stage's entry points (the notebook's code cells, or the CLI sub-command its ``cmd`` runs),
including imports inside functions. Every module reached must lie under one of the stage's
``deps``; otherwise a change to it would leave the stage's results marked up to date.
"""
from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "lstmgan"


def _module_file(name: str) -> Path | None:
    """lstmgan.a.b -> lstmgan/a/b.py or lstmgan/a/b/__init__.py (None if it is not a module)."""
    base = ROOT.joinpath(*name.split("."))
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    return None


def _imports(source: str) -> set[str]:
    """Every lstmgan module a piece of source imports (anywhere in it, also inside functions)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == PACKAGE)
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == PACKAGE:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names
                         if _module_file(f"{node.module}.{a.name}") is not None)
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module" and node.args
              and isinstance(node.args[0], ast.Constant) and str(node.args[0].value).startswith(PACKAGE + ".")):
            found.add(node.args[0].value)
    return found


def _closure(modules: set[str]) -> set[Path]:
    """Files of ``modules``, their parent packages and everything they import, transitively."""
    todo, seen, files = list(modules), set(), set()
    while todo:
        name = todo.pop()
        parts = name.split(".")
        for i in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__ and a/b/__init__
            prefix = ".".join(parts[:i])
            path = _module_file(prefix)
            if path is None or prefix in seen:
                continue
            seen.add(prefix)
            files.add(path)
            todo.extend(_imports(path.read_text()))
    return files


def _notebook_source(path: Path) -> str:
    cells = json.loads(path.read_text())["cells"]
    code = []
    for cell in cells:
        if cell["cell_type"] == "code":
            lines = "".join(cell["source"]).splitlines()
            code.append("\n".join(line for line in lines if not line.lstrip().startswith(("!", "%"))))
    return "\n".join(code)


def _entry_modules(cmd: str) -> set[str]:
    entries: set[str] = set()
    for nb in re.findall(r"(?<![\w/])(notebooks/\S+\.ipynb)", cmd):
        entries |= _imports(_notebook_source(ROOT / nb))
    for sub in re.findall(r"(?:^|&&|;)\s*lstmgan\s+([\w-]+)", cmd):
        entries |= {"lstmgan.cli", "lstmgan.__main__", f"lstmgan.commands.{sub.replace('-', '_')}"}
    for mod in re.findall(r"python\S*\s+-m\s+(lstmgan[\w.]*)", cmd):
        entries.add(mod)
    return entries


def _stages() -> dict[str, dict]:
    return yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def _stage_body(stage: dict) -> dict:
    return stage.get("do", stage)


def uncovered_modules(name: str, stage: dict) -> list[str]:
    """Modules a dvc.yaml stage runs that none of its ``deps`` covers (the stage's cmd must be readable)."""
    body = _stage_body(stage)
    entries = _entry_modules(body["cmd"])
    assert entries, f"stage {name}: cannot tell what code its cmd runs: {body['cmd']}"
    deps = [ROOT / str(d) for d in body.get("deps", [])]
    return sorted(str(f.relative_to(ROOT)) for f in _closure(entries)
                  if not any(f == d or d in f.parents for d in deps))


@pytest.mark.parametrize("name", sorted(_stages()))
def test_stage_deps_cover_every_module_it_runs(name):
    missing = uncovered_modules(name, _stages()[name])
    assert not missing, f"dvc.yaml stage {name!r} runs these modules but does not depend on them: {missing}"


@pytest.mark.parametrize("name", sorted(_stages()))
def test_stage_notebooks_are_deps(name):
    body = _stage_body(_stages()[name])
    notebooks = re.findall(r"(?<![\w/])(notebooks/\S+\.ipynb)", body["cmd"])
    assert set(notebooks) <= set(map(str, body.get("deps", [])))


def test_the_graph_walk_sees_function_level_imports():
    # lstmgan.generate.evaluate imports load_networks inside a function
    files = {str(p.relative_to(ROOT)) for p in _closure({"lstmgan.generate.evaluate"})}
    assert "lstmgan/models/full_model.py" in files and "lstmgan/__init__.py" in files


def test_no_stage_imports_another_stage():
    """A stage subpackage imports shared layers only, never another stage's modules."""
    stages = ["data", "gan", "generate", "detect", "report"]
    bad = []
    for stage in stages:
        for path in sorted((ROOT / PACKAGE / stage).rglob("*.py")):
            for mod in _imports(path.read_text()):
                parts = mod.split(".")
                if len(parts) > 1 and parts[1] in stages and parts[1] != stage:
                    bad.append(f"{path.relative_to(ROOT)} imports {mod}")
    assert not bad, "sideways imports between stages: " + "; ".join(bad)


def test_bytecode_does_not_change_dvc_status(tmp_path):
    """Importing the package writes __pycache__/*.pyc into dependency folders: DVC must ignore them."""
    pyc = "lstmgan/models/__pycache__/blocks.cpython-311.pyc"
    dvc = Path(sys.executable).with_name("dvc")
    if not dvc.exists():
        pytest.skip("dvc is not installed in this environment")
    result = subprocess.run([str(dvc), "check-ignore", pyc, "notebooks/.ipynb_checkpoints/x.ipynb"],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.split() == [pyc, "notebooks/.ipynb_checkpoints/x.ipynb"]
