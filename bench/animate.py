"""Animation throughput: frames/s and peak memory of keypoints + generator (inference).

Prints one JSON object. Cases:

* ``cpu64``: 64 px, params.yaml's model, on CPU, streaming one frame at a time (batch 1, ConvLSTM
  state carried) and batched by 8. Target: >= 100 frames/s batched on the 2-core CPU.
* ``cuda256`` (when CUDA is available): 256 px, configs/vox256.yaml's model, fp32 eager streaming
  and batched by 8, then bf16 autocast and torch.compile variants, each checked equal to the fp32
  eager output within a stated tolerance (max |difference| of [0, 1] pixels). Targets on an H200:
  >= 300 frames/s streaming, >= 1,400 frames/s batched.

Weights are random (speed does not depend on them); a warm-up pass precedes timing. Imports only
torch, numpy and lstmgan's model code (no papermill / DVC), so it runs on the GPU machine.

    .venv/bin/python bench/animate.py              # both cases where possible
    .venv/bin/python bench/animate.py --frames 96 --skip-cuda
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TOLERANCE = {"fp32_compile": 1e-3, "bf16_eager": 5e-2, "bf16_compile": 5e-2}


def load_params(configs: list[str]):
    """params.yaml with each config file merged over it (PyYAML not needed)."""
    from lstmgan.config import load_params as load

    return load(str(ROOT / "params.yaml"), configs=[str(ROOT / c) for c in configs])


def build(params, device: torch.device):
    from lstmgan.models.full_model import build_networks

    torch.manual_seed(0)
    nets = build_networks(params.gan, params.data.size)
    with torch.no_grad():  # make the ConvLSTM contribute, as after training
        gen = nets["generator"]
        if getattr(gen, "lstm_out", None) is not None:
            gen.lstm_out.weight.normal_(0, 0.05)
    return {k: nets[k].to(device).eval() for k in ("kp_detector", "generator")}


def run_video(nets, source, driving, chunk: int, autocast: bool = False):
    """Keypoints of all frames, then the generator over ``chunk`` frames per call (state carried)."""
    kp_det, gen = nets["kp_detector"], nets["generator"]
    dev = driving.device
    ctx = torch.autocast(dev.type, dtype=torch.bfloat16) if autocast else torch.autocast(dev.type, enabled=False)
    with torch.inference_mode(), ctx:
        kp_s = kp_det(source[None])
        kp_s = {"value": kp_s["value"], "jacobian": kp_s["jacobian"]}
        outs, state = [], None
        for i in range(0, driving.shape[0], chunk):
            part = driving[i:i + chunk]
            kp_d = kp_det(part)
            kp_d = {"value": kp_d["value"][None], "jacobian": kp_d["jacobian"][None]}
            out, state = gen(source[None], kp_s, kp_d, state=state)
            outs.append(out["prediction"][0].float())
    return torch.cat(outs)


def timed(fn, device: torch.device, repeats: int) -> tuple[float, object]:
    fn()  # warm-up (and compile)
    if device.type == "cuda":
        torch.cuda.synchronize()
    best = float("inf")
    out = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    return best, out


def case(params, device: torch.device, frames: int, repeats: int, variants: list[str]) -> dict:
    size = params.data.size
    nets = build(params, device)
    gen = torch.Generator().manual_seed(0)
    source = torch.rand(3, size, size, generator=gen).to(device)
    driving = torch.rand(frames, 3, size, size, generator=gen).to(device)
    result: dict = {"size": size, "frames": frames, "device": str(device), "num_kp": params.gan.model.num_kp,
                    "temporal": params.gan.temporal}
    reference = None
    compiled = None
    for variant in variants:
        autocast = variant.startswith("bf16")
        use = nets
        if variant.endswith("compile"):
            if compiled is None:
                compiled = {k: torch.compile(v) for k, v in nets.items()}
            use = compiled
        entry: dict = {}
        for mode, chunk in (("streaming", 1), ("batch8", 8)):
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            try:
                seconds, out = timed(lambda: run_video(use, source, driving, chunk, autocast), device, repeats)
            except Exception as exc:  # noqa: BLE001 - report a failing variant, keep the others
                entry[mode] = {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"}
                continue
            stats = {"frames_per_s": round(frames / seconds, 1), "seconds": round(seconds, 4)}
            if device.type == "cuda":
                stats["peak_gpu_mib"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
            else:
                stats["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
                stats["rss_growth_mib"] = round((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024, 1)
            if variant == "fp32_eager" and mode == "streaming":
                reference = out
            if reference is not None and variant != "fp32_eager":
                diff = float((out - reference).abs().max())
                stats["max_abs_diff_vs_fp32_eager"] = diff
                stats["tolerance"] = TOLERANCE[variant]
                stats["equal_within_tolerance"] = diff <= TOLERANCE[variant]
            elif variant == "fp32_eager" and mode == "batch8" and reference is not None:
                stats["max_abs_diff_vs_streaming"] = float((out - reference).abs().max())
            entry[mode] = stats
        result[variant] = entry
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=64, help="driving frames per timed video")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats (best is reported)")
    parser.add_argument("--threads", type=int, default=1,
                        help="CPU torch threads (default 1: small 64 px ops lose to thread contention on a shared 2-core box; 0 = torch default)")
    parser.add_argument("--skip-cuda", action="store_true")
    parser.add_argument("--skip-cpu", action="store_true")
    parser.add_argument("--cuda-config", default="configs/vox256.yaml")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    report: dict = {"torch": torch.__version__, "python": platform.python_version(),
                    "cpu_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
                    "load_average": [round(x, 2) for x in os.getloadavg()],
                    "note": "random weights; best of --repeats after a warm-up; keypoints + generator per frame"}
    if not args.skip_cpu:
        report["cpu64"] = case(load_params([]), torch.device("cpu"), args.frames, args.repeats, ["fp32_eager"])
        report["cpu64"]["target_batch8_frames_per_s"] = 100
    if torch.cuda.is_available() and not args.skip_cuda:
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        report["gpu"] = torch.cuda.get_device_name(0)
        report["cuda256"] = case(load_params([args.cuda_config]), torch.device("cuda"), max(args.frames, 128),
                                 args.repeats, ["fp32_eager", "fp32_compile", "bf16_eager", "bf16_compile"])
        report["cuda256"]["targets_frames_per_s"] = {"streaming": 300, "batch8": 1400}
    else:
        report["cuda256"] = "skipped: no CUDA device" if not torch.cuda.is_available() else "skipped"
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
