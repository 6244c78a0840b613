"""Re-encode videos with H.264 (libx264) at a constant rate factor, like FaceForensics++'s c23/c40.

SRC is a video file or a folder of videos (searched recursively); each is written to DIR under
the same relative name with .mp4, with the same frames and frame rate. CRF 23 is FF++'s "c23"
(light), CRF 40 its "c40" (heavy). Unreadable videos are skipped with one log line each. DIR
appears only when complete.

Example:
  lstmgan compress data/faces/raw --out /tmp/faces_c40 --crf 40
"""
from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("src", help="a video file or a folder of videos (never modified)")
    parser.add_argument("--out", required=True, help="the folder to write")
    parser.add_argument("--crf", type=int, required=True, help="H.264 constant rate factor 0-51 (FF++: 23, 40)")


def run(args: argparse.Namespace) -> int:
    from lstmgan.data.compress import compress_tree

    print(compress_tree(args.src, args.out, args.crf))
    return 0
