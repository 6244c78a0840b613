"""Publish the trained generators as weight-only files with a sample driving video.

Reads <gan.out>/<method>/latest.pt for each of generate.methods and the face store at data.out;
writes to --out (default runs/publish): <method>.pt (keypoint detector + generator weights, params,
provenance; no discriminator or optimiser state), sample_driving.mp4 and weights.json; with --gif an
animated GIF of cross-identity animations (source | driving | each generator). The DVC stage
`publish` writes lstmgan/weights/ (which `pip install .` ships and `lstmgan animate` uses when no
trained checkpoint is given) and reports/animation.gif (shown by the README and REPORT.md).

examples:
  lstmgan publish --out /tmp/weights --gif /tmp/animation.gif
"""
from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from lstmgan.commands import add_params_options

    add_params_options(parser, example="generate.methods=[lstm]")
    parser.add_argument("--out", default=None, metavar="DIR", help="folder (default: runs/publish)")
    parser.add_argument("--gif", default=None, metavar="OUT.gif",
                        help="also write the cross-identity showcase GIF here")
    parser.add_argument("--pairs", type=int, default=4, help="rows of the showcase GIF (default 4)")


def run(args: argparse.Namespace) -> int:
    from lstmgan.commands import params_from_args, run_folder
    from lstmgan.generate.publish import publish, showcase
    from lstmgan.utils.device import set_cpu_threads

    params = params_from_args(args)
    set_cpu_threads(params.generate.threads)
    out = run_folder(args.out, "publish")
    summary = publish(params, out)
    for name, info in summary["files"].items():
        print(f"{out / name}: {info['bytes'] / 1e6:.2f} MB, {info['what']}")
    if args.gif:
        print(f"{showcase(params, args.gif, pairs=args.pairs)}: source | driving | {' | '.join(params.generate.methods)}")
    return 0
