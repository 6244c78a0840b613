"""Run the data stage from params.yaml: synthesize (data.source: synth) or ingest real data, then
write the FF++-style compressed copies (data.crf, e.g. c23/ and c40/) beside raw/.

This is what the DVC stage `prepare` does (through notebooks/01_data.ipynb, which also draws the
figures). Overrides use dotted keys as in DVC and are parsed as YAML.

Example:
  lstmgan prepare --set data.identities=6 --set data.frames=24 --set data.out=/tmp/faces
"""
from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--params", default="params.yaml", help="the params file (default: params.yaml)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a parameter, e.g. --set data.size=128 (repeatable)")
    parser.add_argument("--out", default=None, help="write here instead of data.out")


def run(args: argparse.Namespace) -> int:
    from lstmgan.config import load_params
    from lstmgan.data.prepare import prepare

    params = load_params(args.params, overrides=args.overrides)
    print(prepare(params, out=args.out))
    return 0
