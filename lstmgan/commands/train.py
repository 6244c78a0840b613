"""Train the LSTM-GAN (gan.temporal: lstm) or the first-order-motion baseline (none).

Reads the prepared data set at data.out and the gan section of params.yaml; writes everything
under --out (default runs/train/<gan.temporal>/): checkpoint-<step>.pt every
gan.run.checkpoint_every steps and at the end, latest.pt, the dvclive log in logs/ and the final
metrics in metrics.json. The pipeline's own run (notebook 02, `dvc repro`) writes models/gan/ and
reports/; this command touches them only when --out, --log-dir and --metrics name them.
--resume continues exactly from the newest checkpoint in --out. Under torchrun the same command
trains on every process (DDP; rank 0 logs and saves).

examples:
  lstmgan train --out /tmp/try --set gan.train.steps=50
  lstmgan train --set gan.temporal=none --set gan.train.steps=500
  lstmgan train --config configs/vox256.yaml --set data.out=data/vox --out runs/vox256 --resume
  torchrun --standalone --nproc_per_node=8 -m lstmgan train --config configs/vox256.yaml --out runs/vox256
"""
from __future__ import annotations

import argparse

import json

from lstmgan.commands import add_params_options, params_from_args, run_folder


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_params_options(parser, example="gan.train.steps=100")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="run folder: checkpoints, logs/, metrics.json (default: runs/train/<gan.temporal>)")
    parser.add_argument("--log-dir", default=None, metavar="DIR",
                        help="dvclive folder (default: <out>/logs)")
    parser.add_argument("--metrics", default=None, metavar="JSON",
                        help="final metrics file (default: <out>/metrics.json)")
    parser.add_argument("--resume", action="store_true",
                        help="continue from the newest checkpoint in the checkpoint folder")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from lstmgan.gan.train import train

    from lstmgan.utils.io import check_output

    params = params_from_args(args)
    out = check_output(run_folder(args.out, "train", params.gan.temporal), folder=True)
    log_dir = check_output(args.log_dir or out / "logs", folder=True)
    metrics = check_output(args.metrics or out / "metrics.json")
    result = train(params, out_dir=out, resume=args.resume, log_dir=log_dir, metrics_path=metrics,
                   progress=not args.no_progress)
    if result:  # rank 0 only
        print(json.dumps(result, indent=2))
        print(f"wrote {out}")
    return 0
