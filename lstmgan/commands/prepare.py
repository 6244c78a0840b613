"""Run the data stage from params.yaml: synthesize (data.source: synth) or ingest real data, then
write the FF++-style compressed copies (data.crf, e.g. c23/ and c40/) beside raw/.

This is what the DVC stage `prepare` does (through notebooks/01_data.ipynb, which also draws the
figures). Overrides use dotted keys as in DVC and are parsed as YAML.

Example:
  lstmgan prepare --set data.identities=6 --set data.val_identities=1 --set data.test_identities=1 \
      --set data.frames=24 --set data.out=/tmp/faces
"""
from __future__ import annotations

import argparse

from lstmgan.commands import add_params_options, params_from_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_params_options(parser, example="data.identities=8")
    parser.add_argument("--out", default=None, help="write here instead of data.out")


def run(args: argparse.Namespace) -> int:
    from lstmgan.data.prepare import prepare

    params = params_from_args(args)
    print(prepare(params, out=args.out))
    return 0
