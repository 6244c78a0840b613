"""The PyYAML-free reader of our params files (the GPU machine has no PyYAML)."""
from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lstmgan.utils.yaml_subset import YAMLSubsetError, safe_load

ROOT = Path(__file__).resolve().parents[1]

SAME_AS_PYYAML = [
    "3", "-2", "1.5", "2.0e-4", "1e-4", "1.0e+3", ".5", "007", "1_000", "true", "False", "yes", "null", "~", "",
    "lstm", "'a b'", '"x\\ty"', "'it''s'", ".inf", "-.inf",
    "[1, 2.5, a, 'b c', [3, 4], {k: v}]", "{a: 1, b: [x, y], c: {d: null}}", "[]", "{}",
    "a: 1\nb:\n  c: 2\n  d: [1, 2]\ne: x # comment\n",
    "a:\n- 1\n- two\nb: 3\n", "a:\n  - 1\n  - 2\n", "# only a comment\n", "k: 'has # hash'\n",
    "k: v#not a comment\n", "x: [a, b]  # c\n", "'quoted key': 1\n", "k: http://a.b/c\n", "---\nk: 1\n",
    "per_model:\n  vgg19: {image_size: 32, epochs: 2}\n  custom_cnn: {epochs: 5}\n",
]


@pytest.mark.parametrize("text", SAME_AS_PYYAML)
def test_reads_what_pyyaml_reads(text: str) -> None:
    ours, theirs = safe_load(text), yaml.safe_load(text)
    if isinstance(theirs, float) and math.isnan(theirs):
        assert math.isnan(ours)
    else:
        assert ours == theirs and type(ours) is type(theirs)


@pytest.mark.parametrize("name", ["params.yaml", *sorted(p.relative_to(ROOT).as_posix() for p in ROOT.glob("configs/*.yaml"))])
def test_project_params_files_read_identically(name: str) -> None:
    text = (ROOT / name).read_text()
    assert safe_load(text) == yaml.safe_load(text)


@pytest.mark.parametrize("text, line", [
    ("a: &x 1\n", 1), ("a: 1\nb: |\n  text\n", 2), ("a: 1\n  b: 2\n", 2), ("a: [1, 2\n", 1),
    ("- a: 1\n", 1), ("a: 1\na: 2\n", 2), ("k: a: b\n", 1), ("k: !!str 3\n", 1),
])
def test_outside_the_subset_is_an_error_naming_the_line(text: str, line: int) -> None:
    with pytest.raises(YAMLSubsetError, match=f"line {line}:"):
        safe_load(text)


def test_training_benchmark_runs_without_pyyaml_papermill_dvc_dvclive_pandas(tmp_path) -> None:
    """What the GPU machine lacks is made unimportable; the params load and one CPU step runs."""
    for name in ("yaml", "papermill", "dvc", "dvclive", "pandas", "sklearn", "seaborn", "av"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(f"raise ModuleNotFoundError({'No module named ' + name!r})\n")
    env = {"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"}
    script = ("import sys; sys.argv = ['bench', '--device', 'cpu', '--steps', '1', '--warmup', '0', "
              "'--temporal', 'lstm', '--set', 'gan.train.batch_size=2', '--set', 'gan.train.clip_len=2']; "
              "import runpy; runpy.run_path('bench/train_step.py', run_name='__main__')")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert '"samples_per_second"' in done.stdout
    check = subprocess.run([sys.executable, "-c", "import yaml"], env=env, capture_output=True, text=True)
    assert check.returncode != 0  # the blocking really happened


def test_a_malformed_set_value_is_one_config_error() -> None:
    from lstmgan.config import ConfigError, parse_override

    with pytest.raises(ConfigError, match=r"--set 'gan.train.lr=\[1,': the value is not valid YAML"):
        parse_override("gan.train.lr=[1,")
