"""Time detect stages (lstmgan.detect.run.run_detector) on a toy data set of realistic size.

Prints one JSON object: per model x variant the stage wall time, CPU time, training images/s, and
the machine's load average (timings on a busy machine are upper bounds).

  python bench/detect.py --models vgg19 resnet18 --variants base --data /tmp/toy_bench
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["vgg19", "densenet121", "custom_cnn", "resnet18"])
    parser.add_argument("--variants", nargs="+", default=["base"])
    parser.add_argument("--data", default="/tmp/lstmgan_bench_detect/data")
    parser.add_argument("--out", default="/tmp/lstmgan_bench_detect/out")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--set", action="append", default=[], dest="overrides")
    parser.add_argument("--frames", type=int, default=48, help="frames per toy video")
    parser.add_argument("--videos", type=int, default=12, help="toy videos per split and label/method")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch threads (0 = default); 1 makes CPU time a fair work measure on a busy machine")
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)

    from lstmgan.config import load_params
    from lstmgan.detect.run import run_detector
    from lstmgan.detect.toy import write_toy_dataset

    if not (Path(args.data) / "manifest.csv").is_file():
        write_toy_dataset(args.data, frames=args.frames, videos_per_split=args.videos)
    params = load_params(args.params, args.overrides)
    results = []
    for model in args.models:
        for variant in args.variants:
            cpu0 = resource.getrusage(resource.RUSAGE_SELF)
            start = time.perf_counter()
            m = run_detector(params, model, variant, args.data, f"{args.out}/{model}-{variant}", f"{args.out}/models")
            wall = time.perf_counter() - start
            cpu1 = resource.getrusage(resource.RUSAGE_SELF)
            results.append({"model": model, "variant": variant, "image_size": m["image_size"],
                            "wall_s": round(wall, 1),
                            "cpu_s": round(cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime, 1),
                            "train_frames": m["train_frames"], "train_time_s": m["train_time_s"],
                            "train_images_per_s": m["train_images_per_s"], "frame_auc": m["frame"]["auc"],
                            "threads": m["threads"],
                            "load_avg_1min": round(os.getloadavg()[0], 2)})
    print(json.dumps({"cpus": os.cpu_count(), "results": results}, indent=2))


if __name__ == "__main__":
    main()
