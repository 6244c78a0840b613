"""Generate the embedded data set: procedurally drawn talking faces with exact ground truth.

Each identity (face shape, skin, hair style and colour, eyes, brows, nose, mouth, glasses, beard,
background) is drawn from a seeded random generator; each video gives it a smooth head motion,
speech-like mouth movement, blinks, brow raises and gaze. Every frame comes with its 68 landmarks
(iBUG-300W order), face box, head pose and expression. The output is the face-video store that every
later stage reads (raw/<split>/<video>.mp4, manifest.csv, cache/*.npy). Splits are by identity.
The same seed and options give byte-identical files. Unset options come from params.yaml's data
section (or the built-in defaults when there is no params.yaml).

Example:
  lstmgan synth --out /tmp/faces --identities 6 --val-identities 1 --test-identities 1 --frames 32 --seed 1
"""
from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="the data set folder to write (replaced when complete)")
    parser.add_argument("--identities", type=int, default=None, help="number of people (default: data.identities)")
    parser.add_argument("--videos-per-identity", type=int, default=None,
                        help="videos per person (default: data.videos_per_identity)")
    parser.add_argument("--frames", type=int, default=None, help="frames per video (default: data.frames)")
    parser.add_argument("--size", type=int, default=None, help="square frame size in pixels, 64-256 (default: data.size)")
    parser.add_argument("--fps", type=int, default=None, help="frame rate (default: data.fps)")
    parser.add_argument("--val-identities", type=int, default=None,
                        help="identities held out for validation (default: data.val_identities)")
    parser.add_argument("--test-identities", type=int, default=None,
                        help="identities held out for testing (default: data.test_identities)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: params seed)")
    parser.add_argument("--no-videos", action="store_true",
                        help="write only the frame cache and manifest, not raw/*.mp4 (faster)")
    parser.add_argument("--params", default="params.yaml",
                        help="params file for the unset options (built-in defaults if it does not exist)")
    parser.add_argument("--motion", choices=["calm", "expressive"], default=None,
                        help="head and face motion style (default: data.motion)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from lstmgan.utils.progress import progress as tqdm  # off unless someone watches

    from lstmgan.config import Params, load_params
    from lstmgan.data.synth import synthesize

    params = load_params(args.params) if Path(args.params).is_file() else Params()
    data = params.data

    def pick(value, default):
        return default if value is None else value

    out = synthesize(
        args.out,
        identities=pick(args.identities, data.identities),
        videos_per_identity=pick(args.videos_per_identity, data.videos_per_identity),
        frames=pick(args.frames, data.frames),
        size=pick(args.size, data.size),
        fps=pick(args.fps, data.fps),
        val_identities=pick(args.val_identities, data.val_identities),
        test_identities=pick(args.test_identities, data.test_identities),
        seed=pick(args.seed, params.seed),
        write_videos=not args.no_videos,
        progress=lambda jobs: tqdm(jobs, desc="synth", unit="video"),
        motion=pick(args.motion, data.motion),
    )
    print(out)
    return 0
