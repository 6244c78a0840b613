"""Notebook prose agrees with params.yaml: every params key a markdown cell names exists, and where
the prose gives it a value (`gan.loss.kp_spread: 10`, `detect.epochs=3`, `` `detect.epochs` (3) ``)
the value is the one params.yaml has. Keeps the teaching text from drifting when a default changes."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SECTIONS = "seed|data|pool|gan|generate|detect|report"
KEY = rf"(?:{SECTIONS})(?:\.[A-Za-z_0-9]+)+"
# a value given inside the backticks, or right after them in parentheses
WITH_VALUE = [re.compile(rf"`({KEY})\s*(?::|=)\s*([^`]+)`"), re.compile(rf"`({KEY})`\s*\(([^()\s,;]+)\)")]
NAMED = re.compile(rf"`({KEY})(?:[`:=\s])")


def _alternatives(params: dict) -> dict[str, list]:
    """Keys the pipeline sets per run (dvc.yaml passes them to the notebook): any of these values."""
    return {"gan.temporal": list(params["generate"]["methods"])}


def _params() -> dict:
    return yaml.safe_load((ROOT / "params.yaml").read_text())


def _lookup(tree: dict, dotted: str):
    node = tree
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(dotted)
        node = node[part]
    return node


def _markdown(nb: Path) -> list[str]:
    cells = json.loads(nb.read_text())["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "markdown"]


def claims(text: str) -> tuple[set[str], list[tuple[str, str]]]:
    """(keys named, [(key, value as written)]) in one markdown text."""
    named = set(NAMED.findall(text + " "))
    valued = [(k, v.strip()) for pattern in WITH_VALUE for k, v in pattern.findall(text)]
    return named | {k for k, _ in valued}, valued


def test_claims_are_found_in_the_forms_the_prose_uses():
    named, valued = claims("Set `gan.loss.kp_spread: 10` or `detect.epochs=3`; `data.size` (64) and `gan.temporal`.")
    assert named == {"gan.loss.kp_spread", "detect.epochs", "data.size", "gan.temporal"}
    assert valued == [("gan.loss.kp_spread", "10"), ("detect.epochs", "3"), ("data.size", "64")]


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_prose_names_real_keys_with_their_values(nb):
    params = _params()
    problems = []
    for text in _markdown(nb):
        named, valued = claims(text)
        for key in sorted(named):
            try:
                _lookup(params, key)
            except KeyError:
                problems.append(f"`{key}` is not a params.yaml key")
        for key, written in valued:
            try:
                actual = _lookup(params, key)
            except KeyError:
                continue
            try:
                said = yaml.safe_load(written)
            except yaml.YAMLError:
                said = written
            allowed = [actual, *_alternatives(params).get(key, [])]
            if not any(said == a or str(said) == str(a) for a in allowed):
                problems.append(f"`{key}` is {actual!r} in params.yaml, the prose says {written!r}")
    assert not problems, f"{nb.name}: " + "; ".join(problems)
