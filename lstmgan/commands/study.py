"""Aggregate a multi-seed study into ablation tables with two-level intervals, verdicts and power.

Reads the study's params file (its `study:` section: variants and the methods each evaluates, seeds,
comparisons, cells, out), every cell's evaluation (<cells>/<variant>-s<seed>/per_video.csv,
per_video_degraded.csv when the store has the degraded copy, cross_identity.csv and metrics.json,
written by `lstmgan evaluate`), and writes <out>/ablation.md (a section per drive: clean, degraded),
ablation.csv, ablation_comparisons.csv (with a `drive` column and each comparison's power),
per_video.csv and metrics.json. Intervals: bootstrap over seeds and test videos together; verdicts
(better / worse / not resolved at this budget) from the intervals alone; power: each interval's
half-width and the seeds x videos a 5% difference would need. This is the last stage of
`dvc repro studies/ablation/dvc.yaml`.

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
