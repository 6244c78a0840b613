"""Animate a source face image with the motion of a driving video (first-order-motion transfer).

--checkpoint is a trained checkpoint's path or a method name (lstm, none): a name means
models/gan/<name>/latest.pt when this checkout trained one, else the weights published with the
package (lstmgan/weights/<name>.pt, trained on the embedded procedural faces). Without a driving
video the bundled sample (an embedded test video) drives the face.

Faces are found with the checkpoint's data.face_detector (auto: face-alignment when its weights are
cached, else dlib, else the LBP cascade) and cropped from inputs of any size with the data stage's
1.3x square rule (inputs already at the model's size are taken as face crops); the output is at the
model's size. Relative motion (default) moves
the source's keypoints by the driving video's change from its first frame (or, with
--find-best-frame, from the frame whose pose best matches the source, animating forwards and
backwards from it); --absolute uses the driving keypoints as they are. The output MP4 (H.264) is
tagged as synthetic with the generator's name and version.

examples:
  lstmgan animate face.png driver.mp4 -o out.mp4
  lstmgan animate face.png -o out.mp4 --side-by-side sbs.mp4
  python -c "import skimage.data, PIL.Image; PIL.Image.fromarray(skimage.data.astronaut()).save('astronaut.png')"
  lstmgan animate astronaut.png -o astronaut.mp4 --side-by-side sbs.mp4 --checkpoint none
  lstmgan animate face.png driver.mp4 -o out.mp4 --checkpoint models/gan/none/latest.pt --absolute
  lstmgan animate face.jpg driver.mp4 -o out.mp4 --find-best-frame --gif out.gif --side-by-side sbs.mp4
"""
from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="SOURCE_IMAGE", help="image of the face to animate")
    parser.add_argument("driving", metavar="DRIVING_VIDEO", nargs="?", default=None,
                        help="video whose motion drives the face (default: the bundled sample video)")
    parser.add_argument("-o", "--output", required=True, metavar="OUT.mp4", help="output video (H.264 MP4)")
    parser.add_argument("--checkpoint", default="lstm", metavar="PATH|NAME",
                        help="a checkpoint file, or lstm / none: models/gan/<name>/latest.pt when trained here, "
                             "else the published lstmgan/weights/<name>.pt (default: lstm)")
    motion = parser.add_mutually_exclusive_group()
    motion.add_argument("--relative", dest="relative", action="store_true", default=True,
                        help="relative motion (default)")
    motion.add_argument("--absolute", dest="relative", action="store_false",
                        help="absolute motion: use the driving keypoints as they are")
    parser.add_argument("--adapt-scale", action="store_true",
                        help="scale relative motion by the ratio of the faces' keypoint hull areas")
    parser.add_argument("--find-best-frame", action="store_true",
                        help="start relative motion from the driving frame closest in pose to the source")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="default: auto")
    parser.add_argument("--batch-size", type=int, default=8, help="frames per generator call (default 8)")
    parser.add_argument("--max-frames", type=int, default=0, help="use at most N driving frames (0 = all)")
    parser.add_argument("--gif", default=None, metavar="OUT.gif", help="also write an animated GIF")
    parser.add_argument("--side-by-side", default=None, metavar="OUT.mp4",
                        help="also write source | driving | generated side by side")


def run(args: argparse.Namespace) -> int:
    from lstmgan.generate.animate import animate_files, resolve_checkpoint
    from lstmgan.generate.publish import sample_driving_video

    driving = args.driving or sample_driving_video()
    result = animate_files(args.source, driving, args.output, checkpoint=resolve_checkpoint(args.checkpoint),
                           device=args.device, relative=args.relative, adapt_scale=args.adapt_scale,
                           find_best=args.find_best_frame, batch_size=args.batch_size,
                           gif=args.gif, side_by_side=args.side_by_side, max_frames=args.max_frames)
    print(f"wrote {args.output} ({result.frames.shape[0]} frames, "
          f"{'relative' if args.relative else 'absolute'} motion, best driving frame {result.best_frame})")
    return 0
