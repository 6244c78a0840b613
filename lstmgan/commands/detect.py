"""Train and evaluate one deepfake detector (VGG19, DenseNet121, ResNet18 or the custom CNN) on one
data variant (base, augmented, grayscale) of the exported real/fake data set.

Reads <generate.out>/manifest.csv (or --data DIR) and the detect section of params.yaml; trains on
the train split at detect.train_compression, picks the best epoch on the validation split, tests on
every compression in detect.test_compressions (frame and video level), trains one detector per fake
method for the cross-method matrix, and writes --out (default runs/detect/<model>-<variant>/):
metrics.json, records.tsv, predictions.csv, generalisation_*.csv/json, figures/ and the checkpoint
<model>-<variant>.pt. The pipeline's runs (notebook 04) write <detect.out>/ and <detect.models_out>/.
--table and --compare only read every <detect.out>/*/metrics.json and write their tables to --tables
(default runs/detect/tables).

examples:
  lstmgan detect --model resnet18 --variant augmented
  lstmgan detect --model vgg19 --variant grayscale --set detect.epochs=5 --data data/ffpp_export
  lstmgan detect --table
  lstmgan detect --compare --tables /tmp/tables
"""
from __future__ import annotations

import argparse
from pathlib import Path

from lstmgan.commands import add_params_options, params_from_args

MODELS = ("vgg19", "vgg19_bn", "densenet121", "resnet18", "custom_cnn")
VARIANTS = ("base", "augmented", "grayscale")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", choices=MODELS, default="resnet18", help="detector (default: resnet18)")
    parser.add_argument("--variant", choices=VARIANTS, default="base", help="data variant (default: base)")
    add_params_options(parser, example="detect.epochs=5")
    parser.add_argument("--data", default=None, metavar="DIR",
                        help="exported detection data set (default: generate.out)")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="output folder (default: runs/detect/<model>-<variant>)")
    parser.add_argument("--models", default=None, metavar="DIR",
                        help="where the checkpoint <model>-<variant>.pt goes (default: the output folder)")
    parser.add_argument("--tables", default=None, metavar="DIR",
                        help="where --table / --compare write (default: runs/detect/tables)")
    parser.add_argument("--table", action="store_true",
                        help="only build the comparison table from <detect.out>/*/metrics.json")
    parser.add_argument("--compare", action="store_true",
                        help="only build the interval tables (detect_intervals/pairwise/ranking/thesis .md/.csv) "
                             "from <detect.out>/*/ metrics.json + predictions.csv into --tables")
    parser.add_argument("--prefix", default="detect", help="file name prefix of the --compare tables")


def run(args: argparse.Namespace) -> int:
    import json

    from lstmgan.commands import run_folder
    from lstmgan.detect.run import comparison_table, run_detector, stage_name

    params = params_from_args(args)
    tables_dir = Path(args.tables) if args.tables else run_folder(None, "detect", "tables")
    if args.compare:
        from lstmgan.detect.compare import compare

        tables = compare(params.detect.out, tables_dir, seed=params.seed, prefix=args.prefix,
                         train_compression=params.detect.train_compression)
        print(tables["ranking"].to_string(index=False))
        return 0
    if args.table:
        table = comparison_table(params.detect.out, tables_dir)
        print(table.to_string(index=False))
        return 0
    out = run_folder(args.out, "detect", stage_name(args.model, args.variant))
    metrics = run_detector(params, args.model, args.variant, data_dir=args.data, out_dir=out,
                           models_dir=args.models or out)
    summary = {k: metrics[k] for k in ("model", "variant", "weights", "parameters", "train_time_s",
                                       "train_images_per_s", "stage_time_s", "frame", "video")}
    print(json.dumps(summary, indent=2))
    return 0
