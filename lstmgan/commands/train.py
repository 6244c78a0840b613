"""Train the LSTM-GAN (gan.temporal: lstm) or the first-order-motion baseline (none).

Reads the prepared data set at data.out and the gan section of params.yaml; writes checkpoints
to <gan.out>/<gan.temporal>/ (checkpoint-<step>.pt every gan.run.checkpoint_every steps and at the
end, plus latest.pt), dvclive metrics to reports/train/<temporal>/ and the final metrics to
reports/metrics/train-<temporal>.json. --resume continues exactly from the newest checkpoint.
Under torchrun the same command trains on every process (DDP; rank 0 logs and saves).

examples:
  lstmgan train
  lstmgan train --set gan.temporal=none --set gan.train.steps=500
  lstmgan train --config configs/vox256.yaml --set data.out=data/vox --resume
  torchrun --standalone --nproc_per_node=8 -m lstmgan train --config configs/vox256.yaml
"""
from __future__ import annotations

import argparse

from lstmgan.commands import add_params_options, params_from_args
import json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_params_options(parser, example="gan.train.steps=100")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="checkpoint folder (default: <gan.out>/<gan.temporal>)")
    parser.add_argument("--log-dir", default=None, metavar="DIR",
                        help="dvclive folder (default: reports/train/<gan.temporal>)")
    parser.add_argument("--metrics", default=None, metavar="JSON",
                        help="final metrics file (default: reports/metrics/train-<gan.temporal>.json)")
    parser.add_argument("--resume", action="store_true",
                        help="continue from the newest checkpoint in the checkpoint folder")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from lstmgan.gan.train import train

    params = params_from_args(args)
    result = train(params, out_dir=args.out, resume=args.resume, log_dir=args.log_dir,
                   metrics_path=args.metrics, progress=not args.no_progress)
    if result:  # rank 0 only
        print(json.dumps(result, indent=2))
    return 0
