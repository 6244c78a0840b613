"""Every example printed by `lstmgan COMMAND --help` and in the README parses, and the data
commands' examples run as written (paths under /tmp redirected to a temporary folder)."""
from __future__ import annotations

import importlib
import re
import shlex
import shutil
from pathlib import Path

import pytest

from lstmgan.cli import COMMANDS, _module_name, build_parser, main

ROOT = Path(__file__).resolve().parents[1]


def _examples(text: str) -> list[list[str]]:
    """`lstmgan ...` command lines in ``text`` (backslash continuations joined), as argv lists."""
    joined = re.sub(r"\\\n\s*", " ", text)
    found = []
    for line in joined.splitlines():
        line = line.split("#", 1)[0].strip()
        match = re.search(r"(?:^|\s)(?:-m\s+)?lstmgan\s+([a-z].*)$", line)
        if match and (line.startswith("lstmgan ") or " -m lstmgan " in line):
            found.append(shlex.split(match.group(1)))
    return found


def _help_examples() -> list[list[str]]:
    out = []
    for name in COMMANDS:
        out += _examples(importlib.import_module(_module_name(name)).__doc__ or "")
    return out


def _readme_examples() -> list[list[str]]:
    return _examples((ROOT / "README.md").read_text())


def test_examples_are_found():
    assert {argv[0] for argv in _help_examples()} == set(COMMANDS)
    assert len(_readme_examples()) >= 5


@pytest.mark.parametrize("argv", _help_examples() + _readme_examples(), ids=lambda a: " ".join(a)[:60])
def test_every_example_parses(argv):
    build_parser().parse_args(argv)  # SystemExit (argparse error) fails the test


def test_data_examples_run_as_written(tmp_path, monkeypatch):
    """synth, prepare and compress examples, run verbatim in a project folder with /tmp redirected."""
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    monkeypatch.chdir(tmp_path)
    runs = [a for a in _help_examples() if a[0] in ("synth", "prepare")]
    runs += [a for a in _help_examples() if a[0] == "compress"]  # reads data/faces/raw: after synth
    assert len(runs) == 3
    for argv in runs:
        argv = [arg.replace("/tmp/", f"{tmp_path}/tmp/") for arg in argv]
        if argv[0] == "compress":
            assert main(["synth", "--out", "data/faces", "--identities", "3", "--val-identities", "1",
                         "--test-identities", "1", "--frames", "4", "--videos-per-identity", "1"]) == 0
        assert main(argv) == 0, f"`lstmgan {' '.join(argv)}` failed"
