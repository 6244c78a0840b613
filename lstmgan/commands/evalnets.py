"""Train the measuring networks behind AKD and AED once, as their own cacheable step.

On the embedded (synthetic) data set a landmark network (AKD) and an identity network (AED) are
trained on the train split's ground truth; this command trains them (or reuses them when
generate.evalnets_out already holds weights for the same data and params), saves them to
generate.evalnets_out (models/evalnets) and writes their own quality -- landmark test error in
pixels, identity verification accuracy on unseen identities, steps and seconds -- to
generate.evalnet_metrics (reports/metrics/evalnets.json). `lstmgan evaluate` and the generate
notebook then load them instead of retraining whenever the GAN changes.

examples:
  lstmgan evalnets
  lstmgan evalnets --set generate.evalnet_steps=300 --force
"""
from __future__ import annotations

import argparse

from lstmgan.commands import add_params_options, params_from_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_params_options(parser, example="generate.evalnet_steps=300")
    parser.add_argument("--device", default=None, choices=["auto", "cpu", "cuda"],
                        help="default: generate.device")
    parser.add_argument("--force", action="store_true",
                        help="retrain even when generate.evalnets_out holds matching weights")


def run(args: argparse.Namespace) -> int:
    import json
    import time

    from lstmgan.utils.device import resolve_device, set_cpu_threads
    from lstmgan.media.store import open_store
    from lstmgan.generate.evalnets import build_evalnets, evalnets_metrics, evalnets_timing
    from lstmgan.utils.io import write_metrics
    from lstmgan.utils.seed import seed_everything

    started = time.perf_counter()
    params = params_from_args(args)
    g = params.generate
    seed_everything(params.seed)
    set_cpu_threads(g.threads)
    store = open_store(params.data.out)
    nets = build_evalnets(store, params, resolve_device(args.device or g.device), reuse=not args.force)
    metrics = evalnets_metrics(nets.report)
    # the stage's wall time for the report, beside the metrics but not one of them (it differs run to
    # run, and in the weights' folder it would change what the generate stage depends on)
    write_metrics(g.evalnet_metrics, metrics,
                  {**evalnets_timing(nets.report), "stage_seconds": round(time.perf_counter() - started, 1)})
    print(json.dumps(metrics, indent=2))
    print(f"weights: {g.evalnets_out}; metrics: {g.evalnet_metrics}")
    return 0
