"""Crop the faces of real videos into a face-video data set (the format every later stage reads).

SRC is a folder in one of these layouts (detected, or named with --layout):
  fomm    SRC/{train,test}/<video>: .mp4/.gif/.mov files or folders of PNG frames
          (preprocessed VoxCeleb / TaiChi, as used by first-order-motion models)
  ffpp    the FaceForensics++ download: SRC/original_sequences/{youtube,actors}/{raw,c23,c40}/videos,
          SRC/manipulated_sequences/<Method>/..., optional SRC/splits/{train,val,test}.json
  folder  any folder of videos or images; identity = first-level sub-folder

Faces: face-alignment (SFD + 2DFAN4 landmarks) when its weights are in the torch hub cache, else
dlib (HOG boxes + 68 landmarks, installed with the requirements), else scikit-image's LBP cascade
(boxes only); the log says which. The 68 landmarks go to DIR/cache/landmarks.npy (NaN without them). Crop: the largest face, square of 1.3 x max(w, h), clipped
to the frame, smoothed over time. Unusable files are listed in DIR/rejects.csv; the command fails
only when nothing usable remains. Defaults for unset options come from params.yaml's data section.

Example:
  lstmgan ingest ~/datasets/vox --out data/vox64 --layout fomm --size 64 --detector lbp
"""
from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("src", help="the data set folder to read (never modified)")
    parser.add_argument("--out", required=True, help="the data set folder to write")
    parser.add_argument("--layout", choices=["auto", "fomm", "ffpp", "folder"], default=None,
                        help="source layout (default: data.layout, usually auto = detect)")
    parser.add_argument("--size", type=int, default=None, help="output frame size in pixels (default: data.size)")
    parser.add_argument("--detector", choices=["auto", "face_alignment", "dlib", "lbp"], default=None,
                        help="face detector (default: data.face_detector)")
    parser.add_argument("--max-frames", type=int, default=None, help="frames per video, 0 = all (default: data.max_frames)")
    parser.add_argument("--seed", type=int, default=None, help="seed of the identity split (default: params seed)")
    parser.add_argument("--params", default="params.yaml",
                        help="params file for the unset options (built-in defaults if it does not exist)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from lstmgan.config import Params, load_params
    from lstmgan.data.ingest import ingest

    params = load_params(args.params) if Path(args.params).is_file() else Params()
    data = params.data
    out = ingest(
        args.src, args.out,
        layout=args.layout or data.layout,
        size=args.size if args.size is not None else data.size,
        detector=args.detector or data.face_detector,
        crop_scale=data.crop_scale,
        max_frames=args.max_frames if args.max_frames is not None else data.max_frames,
        seed=args.seed if args.seed is not None else params.seed,
        val_fraction=data.val_fraction, test_fraction=data.test_fraction, fps=data.fps,
        detect_every=data.detect_every, detect_size=data.detect_size, smoothing=data.smoothing,
    )
    print(out)
    return 0
