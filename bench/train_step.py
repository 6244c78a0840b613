"""Benchmark one GAN training step (generator + discriminator update); prints JSON.

Measures the same step the training loop runs (``lstmgan.gan.train.train_step``: forward, every loss,
backward, gradient clipping and Adam for both sides) on random frames of the configured size, so
no data set is needed. Reports seconds per step, samples/s counted as generated frames per second
(batch x clip length / seconds per step) and peak memory (CUDA: max allocated; CPU: peak RSS).

Defaults: on CUDA, configs/vox256.yaml over params.yaml at 256 px with bf16 autocast (gan.train.amp
auto); on CPU, params.yaml as is (64 px, fp32). Both ``temporal`` variants unless --temporal.

    python bench/train_step.py                                # auto device
    python bench/train_step.py --device cpu --steps 10
    python bench/train_step.py --config configs/vox256.yaml --batch 8 --temporal none
    python bench/train_step.py --set gan.train.channels_last=true    # any params override

Needs the package's core dependencies only (no DVC, dvclive or papermill); on a machine without
the package registry, bring them as a wheelhouse (docs/training.md).
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _peak_memory_mb(device) -> float:
    import torch

    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def bench(params, device, steps: int, warmup: int) -> dict:
    import torch

    from lstmgan.gan.train import autocast_dtype, build_models, make_optimizers, train_step

    gan = params.gan
    size = params.data.size
    torch.manual_seed(params.seed)
    nets, gen, disc = build_models(gan, size, device)
    optimizers, _ = make_optimizers(nets, gan)
    amp = autocast_dtype(gan, device)
    source = torch.rand(gan.train.batch_size, 3, size, size, device=device)
    driving = torch.rand(gan.train.batch_size, gan.train.clip_len, 3, size, size, device=device)
    if gan.train.channels_last and device.type == "cuda":
        source = source.contiguous(memory_format=torch.channels_last)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    for step in range(warmup):
        train_step(gen, disc, optimizers, source, driving, gan, amp, step + 1)
    sync()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    for step in range(steps):
        train_step(gen, disc, optimizers, source, driving, gan, amp, warmup + step + 1)
    sync()
    seconds = (time.perf_counter() - start) / steps
    frames = gan.train.batch_size * gan.train.clip_len
    return {
        "temporal": gan.temporal, "image_size": size, "batch_size": gan.train.batch_size,
        "clip_len": gan.train.clip_len, "num_kp": gan.model.num_kp,
        "amp": str(amp).replace("torch.", "") if amp else "fp32", "channels_last": gan.train.channels_last,
        "seconds_per_step": round(seconds, 5),
        "samples_per_second": round(frames / seconds, 2),  # generated frames per second
        "peak_memory_mb": round(_peak_memory_mb(device), 1),
        "parameters_millions": {name: round(sum(p.numel() for p in net.parameters()) / 1e6, 3)
                                for name, net in nets.items()},
        "steps_timed": steps, "warmup_steps": warmup,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", default=str(ROOT / "params.yaml"))
    parser.add_argument("--config", default="auto",
                        help="extra params file over --params; auto = configs/vox256.yaml on CUDA, none on CPU")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--temporal", default="both", choices=["both", "lstm", "none"])
    parser.add_argument("--batch", type=int, default=None, help="override gan.train.batch_size")
    parser.add_argument("--steps", type=int, default=None, help="timed steps (default 20 CUDA, 5 CPU)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed steps first (default 5 CUDA, 2 CPU)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--set", action="append", default=[], dest="overrides", metavar="SECTION.KEY=VALUE")
    args = parser.parse_args()

    import logging

    import torch

    from lstmgan.config import load_params

    logging.basicConfig(level=logging.WARNING)
    if args.threads:
        torch.set_num_threads(args.threads)
    cuda = torch.cuda.is_available() and args.device != "cpu"
    if args.device == "cuda" and not torch.cuda.is_available():
        print(json.dumps({"error": "CUDA requested but not available"}))
        return 2
    device = torch.device("cuda" if cuda else "cpu")
    config = args.config
    if config == "auto":
        config = str(ROOT / "configs" / "vox256.yaml") if cuda else ""
    configs = [config] if config else []
    steps = args.steps or (20 if cuda else 5)
    warmup = args.warmup if args.warmup is not None else (5 if cuda else 2)
    if cuda:
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True

    results = []
    for temporal in (["lstm", "none"] if args.temporal == "both" else [args.temporal]):
        overrides = [*args.overrides, f"gan.temporal={temporal}"]
        if args.batch:
            overrides.append(f"gan.train.batch_size={args.batch}")
        params = load_params(args.params, overrides, configs=configs)
        if cuda:
            torch.cuda.empty_cache()
        results.append(bench(params, device, steps, warmup))
    report = {
        "benchmark": "train_step", "device": torch.cuda.get_device_name(device) if cuda else platform.processor() or "cpu",
        "cpu_threads": torch.get_num_threads(), "torch": torch.__version__,
        "config": Path(config).name if config else "params.yaml", "results": results,
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
