"""The ``lstmgan`` command line (also ``python -m lstmgan``).

Each sub-command lives in ``lstmgan/commands/<name>.py`` and defines ``add_arguments(parser)``
and ``run(args) -> int``; its module docstring is the ``--help`` text and carries an example.
Heavy imports (torch, PyAV) happen inside ``run`` so ``--help`` stays fast.
"""
from __future__ import annotations

import argparse
import errno
import importlib
import logging
import sys
from typing import Sequence

from lstmgan import __version__
from lstmgan.config import ConfigError
from lstmgan.errors import UserError
from lstmgan.utils.io import write_error
from lstmgan.utils.log import setup_logging

# errors that can only come from writing, whichever library wrote: one line, exit 2
DISK_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG}

# name -> one-line summary; the module lstmgan.commands.<name with - as _> implements it
COMMANDS: dict[str, str] = {
    "synth": "generate the embedded procedural talking-face data set",
    "ingest": "crop faces from real videos (VoxCeleb/FOMM, FaceForensics++, any folder) into a data set",
    "compress": "re-encode videos with H.264 at a CRF (FF++ c23/c40 style)",
    "prepare": "run the data stage from params.yaml (synth or ingest, then compress)",
    "pool": "make the detection pool: procedural people the GAN never saw (params.yaml pool)",
    "train": "train the LSTM-GAN (or the first-order-motion baseline) from params.yaml",
    "animate": "animate a source face image with the motion of a driving video",
    "evalnets": "train the landmark (AKD) and identity (AED) measuring networks once, cached",
    "evaluate": "evaluate checkpoints by the first-order-motion reconstruction protocol",
    "study": "aggregate a multi-seed study (studies/ablation) into one table with intervals",
    "export": "export a labelled real/fake detection data set from trained generators",
    "detect": "train and evaluate one deepfake detector on an exported data set",
    "publish": "write the trained generators as weight-only files with a sample driving video",
}


def _module_name(command: str) -> str:
    return "lstmgan.commands." + command.replace("-", "_")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lstmgan",
        description="Deepfake generation with an LSTM-based GAN, and deepfake detection.",
        epilog="Run `lstmgan COMMAND --help` for a command's options and an example.",
    )
    parser.add_argument("--version", action="version", version=f"lstmgan {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, summary in COMMANDS.items():
        try:
            module = importlib.import_module(_module_name(name))
        except ModuleNotFoundError as exc:
            if exc.name != _module_name(name):
                raise
            continue  # a command whose module is not installed in this build
        p = sub.add_parser(
            name, help=summary, description=module.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    setup_logging(logging.DEBUG if args.verbose else None)
    try:
        return int(args._run(args) or 0)
    except (UserError, ConfigError, FileNotFoundError) as exc:
        print(f"lstmgan {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a write outside lstmgan.utils.io's writers (a library's own files)
        if exc.errno not in DISK_ERRORS or not exc.filename:
            raise
        print(f"lstmgan {args.command}: error: {write_error(exc.filename, exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"lstmgan {args.command}: interrupted; completed outputs are kept, partial ones removed",
              file=sys.stderr)
        return 130
