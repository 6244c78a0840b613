"""Train the LSTM-GAN (gan.temporal: lstm) or the first-order-motion baseline (none).

Reads the prepared data set at data.out and the gan section of params.yaml; writes checkpoints
to <gan.out>/<gan.temporal>/ (checkpoint-<step>.pt every gan.checkpoint_every steps and at the
end, plus latest.pt), dvclive metrics to reports/train/<temporal>/ and the final metrics to
reports/metrics/train-<temporal>.json. --resume continues exactly from the newest checkpoint.
Under torchrun the same command trains on every process (DDP; rank 0 logs and saves).

examples:
  lstmgan train
  lstmgan train --set gan.temporal=none --set gan.steps=500
  lstmgan train --config configs/vox256.yaml --set data.out=data/vox --resume
  torchrun --standalone --nproc_per_node=8 -m lstmgan train --config configs/vox256.yaml
"""
from __future__ import annotations

import argparse
import json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--params", default="params.yaml", help="params file (default: params.yaml)")
    parser.add_argument("--config", action="append", default=[], metavar="YAML",
                        help="extra params file merged over --params, e.g. configs/vox256.yaml "
                             "(repeatable; later files win)")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        dest="overrides", help="override one param, e.g. --set gan.steps=100 (repeatable)")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="checkpoint folder (default: <gan.out>/<gan.temporal>)")
    parser.add_argument("--log-dir", default=None, metavar="DIR",
                        help="dvclive folder (default: reports/train/<gan.temporal>)")
    parser.add_argument("--metrics", default=None, metavar="JSON",
                        help="final metrics file (default: reports/metrics/train-<gan.temporal>.json)")
    parser.add_argument("--resume", action="store_true",
                        help="continue from the newest checkpoint in the checkpoint folder")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def load_with_configs(params_path: str, configs: list[str], overrides: list[str]):
    """params.yaml, then each --config file's keys over it, then the --set overrides."""
    from pathlib import Path

    import yaml

    from lstmgan.config import ConfigError, load_params

    merged: dict[str, object] = {}
    for config in configs:
        path = Path(config)
        if not path.is_file():
            raise ConfigError(f"{config}: no such config file; see configs/ for the shipped ones")
        try:
            raw = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{config}: not valid YAML ({exc})") from exc
        if not isinstance(raw, dict):
            raise ConfigError(f"{config}: expected a mapping of sections at the top level")
        _flatten_into(raw, "", merged)
    for text in overrides:
        from lstmgan.config import parse_override

        key, value = parse_override(text)
        merged[key] = value
    return load_params(params_path, merged)


def _flatten_into(tree: dict, prefix: str, out: dict) -> None:
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            _flatten_into(value, name + ".", out)
        else:
            out[name] = value


def run(args: argparse.Namespace) -> int:
    from lstmgan.train import train

    params = load_with_configs(args.params, args.config, args.overrides)
    result = train(params, out_dir=args.out, resume=args.resume, log_dir=args.log_dir,
                   metrics_path=args.metrics, progress=not args.no_progress)
    if result:  # rank 0 only
        print(json.dumps(result, indent=2))
    return 0
