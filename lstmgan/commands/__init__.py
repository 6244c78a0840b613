"""One module per ``lstmgan`` sub-command: ``add_arguments(parser)`` and ``run(args) -> int``.

Commands that read ``params.yaml`` share :func:`add_params_options` / :func:`params_from_args`, so
``--params``, ``--config`` and ``--set`` mean the same everywhere.

A command run by hand writes under its ``--out`` folder, by default ``runs/<command>/...``
(:func:`run_folder`): never into the pipeline's outputs (``data/``, ``models/``, ``reports/``)
unless those paths are named. The pipeline's notebooks and stages name them.
"""
from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from lstmgan.config import Params, load_params


def add_params_options(parser: argparse.ArgumentParser, example: str = "gan.train.steps=100") -> None:
    """Add ``--params FILE``, ``--config FILE`` (repeatable) and ``--set KEY=VALUE`` (repeatable)."""
    parser.add_argument("--params", default="params.yaml", help="params file (default: params.yaml)")
    parser.add_argument("--config", action="append", default=[], metavar="YAML",
                        help="extra params file merged over --params, e.g. configs/vox256.yaml "
                             "(repeatable; later files win)")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        dest="overrides", help=f"override one param, e.g. --set {example} (repeatable)")


def params_from_args(args: argparse.Namespace, required: bool = True) -> Params:
    """The validated params the options name; with ``required=False`` a missing default
    ``params.yaml`` (running outside the project) gives the built-in defaults."""
    path: str | None = args.params
    if not required and path == "params.yaml" and not Path(path).is_file():
        path = None
    return load_params(path, overrides=getattr(args, "overrides", ()), configs=getattr(args, "config", ()))


RUNS = Path("runs")


def run_folder(out: str | None, *default: str) -> Path:
    """``--out`` when given, else ``runs/<default...>``: where a command run by hand writes."""
    return Path(out) if out else RUNS.joinpath(*default)


def with_paths(params: Params, section: str, **paths: str | Path) -> Params:
    """``params`` with output paths of one section replaced (e.g. ``generate``, ``out=...``)."""
    values = {k: str(v) for k, v in paths.items()}
    return dataclasses.replace(params, **{section: dataclasses.replace(getattr(params, section), **values)})
