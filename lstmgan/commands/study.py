"""Aggregate a multi-seed study into one ablation table with two-level intervals and verdicts.

Reads the study's params file (its `study:` section: variants, seeds, comparisons, cells, out),
every cell's per-video evaluation (<cells>/<variant>-s<seed>/per_video.csv and
cross_identity.csv, written by `lstmgan evaluate`), and writes <out>/ablation.md, ablation.csv,
ablation_comparisons.csv, per_video.csv and metrics.json. Intervals: bootstrap over seeds and test
videos together; verdicts (better / worse / not resolved at this budget) from the intervals alone.
This is the last stage of `dvc repro studies/ablation/dvc.yaml`.

example:
  lstmgan study --study studies/ablation/params.yaml
"""
from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--study", default="studies/ablation/params.yaml", metavar="YAML",
                        help="the study's params file (default: studies/ablation/params.yaml)")


def run(args: argparse.Namespace) -> int:
    from lstmgan.generate.study import aggregate

    result = aggregate(args.study)
    print(result["note"])
    return 0
