"""Export a labelled real/fake deepfake detection data set from trained generators.

The people come from the detection pool (generate.export_source: pool, the default: procedural
people the GAN never trained on, already split identity-disjoint into train/val/test) or from the
face store's val and test identities (store, split again identity-disjoint). Each real video also
drives one fake (a face of another identity of the same split, animated by each of
generate.methods in turn): real and fake balanced.
Every video is written raw (lossless) and at each generate.export_crf (c23, c40), with PNG frames
in the thesis loader's layout <out>/<compression>/<split>/<real|fake>/frames/*.png, manifest.csv,
dataset.json and a DATASET.md card. Every PNG and MP4 is tagged synthetic/real with its generator
and the lstmgan version. Writes the data set to --out (default runs/export); the pipeline's run
(notebook 03) writes generate.out (data/deepfakes).

examples:
  lstmgan export
  lstmgan export --out /tmp/deepfakes_small --set generate.export_frame_step=8
  lstmgan export --checkpoint lstm=models/gan/lstm/latest.pt
"""
from __future__ import annotations

import argparse

from lstmgan.commands import add_params_options, params_from_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from lstmgan.commands.evaluate import add_generator_options

    add_params_options(parser, example="generate.export_frame_step=2")
    add_generator_options(parser)
    parser.add_argument("--out", default=None, metavar="DIR", help="data set folder (default: runs/export)")


def run(args: argparse.Namespace) -> int:
    from lstmgan.commands import run_folder, with_paths
    from lstmgan.commands.evaluate import parse_checkpoints
    from lstmgan.generate.export import export_dataset

    checkpoints = parse_checkpoints(args.checkpoint) or None
    from lstmgan.utils.io import check_output

    params = with_paths(params_from_args(args), "generate",
                        out=check_output(run_folder(args.out, "export"), folder=True))
    summary = export_dataset(params, device=args.device, checkpoints=checkpoints)
    for split, info in summary["splits"].items():
        print(f"{split}: {len(info['identities'])} identities, {info['real_videos']} real, "
              f"{info['fake_videos']} fake {info['fake_by_method']}")
    print(f"wrote {params.generate.out} ({summary['videos']} videos, {summary['png_rows']} PNG frames "
          f"over {', '.join(summary['compressions'])})")
    return 0
