"""Make the detection pool from params.yaml's pool section: procedural people the GAN never
trained on (numbered from pool.first_identity), split identity-disjoint into the detection
train/val/test. The generate stage's export animates it into the detection data set.

This is what the DVC stage `pool` runs.

Example:
  lstmgan pool --set pool.identities=12 --set pool.val_identities=3 --set pool.test_identities=3 --out /tmp/pool
"""
from __future__ import annotations

import argparse

from lstmgan.commands import add_params_options, params_from_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_params_options(parser, example="pool.identities=12")
    parser.add_argument("--out", default=None, help="write here instead of pool.out")


def run(args: argparse.Namespace) -> int:
    from lstmgan.data.pool import make_pool

    print(make_pool(params_from_args(args), out=args.out))
    return 0
