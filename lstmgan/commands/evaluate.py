"""Evaluate trained checkpoints by the first-order-motion reconstruction protocol.

For every video of generate.eval_split (default test) the first frame is the source and the same
video drives it: L1, PSNR, SSIM, AKD (landmarks), AED (identity embeddings), flicker and the
frame-to-frame warping error; plus cross-identity animation (identity kept, motion followed). On the
embedded data the measuring networks for AKD/AED are trained on the train split (models/evalnets);
on real data AKD uses dlib's 68 landmarks and AED dlib's ResNet face descriptor (face-alignment's
2DFAN4 / generate.identity_weights instead when given). Writes the ablation
table (lstm vs none vs baselines) to reports/tables/ablation.{md,csv}, per-video CSVs to
reports/generate/ and metrics to reports/metrics/generate.json.

examples:
  lstmgan evaluate
  lstmgan evaluate --set generate.eval_videos=4 --set generate.methods=[lstm]
  lstmgan evaluate --checkpoint lstm=models/gan/lstm/checkpoint-1000.pt --checkpoint none=models/gan/none/latest.pt
"""
from __future__ import annotations

import argparse

from lstmgan.commands import add_params_options, params_from_args


def add_generator_options(parser: argparse.ArgumentParser) -> None:
    """``--checkpoint METHOD=PATH`` (repeatable) and ``--device``, shared with ``lstmgan export``."""
    parser.add_argument("--checkpoint", action="append", default=[], metavar="METHOD=PATH",
                        help="a generator checkpoint under a method name (default: "
                             "<gan.out>/<method>/latest.pt for each of generate.methods)")
    parser.add_argument("--device", default=None, choices=["auto", "cpu", "cuda"],
                        help="default: generate.device")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_params_options(parser, example="generate.eval_videos=4")
    add_generator_options(parser)
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="folder for tables, per-video CSVs and metrics (default: runs/evaluate)")


def parse_checkpoints(items: list[str]) -> dict:
    from pathlib import Path

    from lstmgan.errors import UserError

    out = {}
    for item in items:
        if "=" not in item:
            raise UserError(f"--checkpoint {item!r}: expected METHOD=PATH, e.g. lstm=models/gan/lstm/latest.pt")
        name, path = item.split("=", 1)
        out[name.strip()] = Path(path)
    return out


def run(args: argparse.Namespace) -> int:
    from lstmgan.commands import run_folder, with_paths
    from lstmgan.generate.evaluate import evaluate_all

    checkpoints = parse_checkpoints(args.checkpoint) or None
    out = run_folder(args.out, "evaluate")
    params = with_paths(params_from_args(args), "generate", reports=out, figures=out / "figures",
                        metrics=out / "metrics.json", tables=out)
    result = evaluate_all(params, device=args.device, checkpoints=checkpoints, evalnets_save=out / "evalnets")
    print(result["table"].to_string(float_format=lambda v: f"{v:.4g}"))
    print(result["note"])
    print(f"metrics: {params.generate.metrics}; table: {params.generate.tables}/ablation.md")
    return 0
