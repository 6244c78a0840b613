"""How many steps does the frame critic need to reject a real frame in the wrong pose, trained ALONE?

The main pipeline's probe asks the critic to separate real frames from real frames of another clip
judged against this clip's keypoints (``wrong_pose_frames``) by more than 2 per-image standard
deviations, after 400 steps of a game in which it also learns real vs generated and vs the decoder's
image. This measures the best case: a freshly built critic of the configured architecture and
optimiser (Adam at ``gan.train.lr x disc_lr_scale``, betas 0.5/0.999, gradient clipping) trained on
nothing but that task, with LSGAN, on keypoints from a trained checkpoint's (frozen) keypoint
detector. Every ``--every`` steps, on held-out validation clips: mean score real / wrong pose, the
pooled per-image sd, the separation (difference / sd, the probe's measure) and patch accuracy.
Prints one JSON line per measurement. Needs ``dvc repro train`` (the checkpoint) first.

    python studies/critic_pose.py --checkpoint models/gan/lstm/latest.pt --steps 800 \\
        --set gan.model.disc_spectral_norm=false
"""
from __future__ import annotations

import argparse
import json
import time

import torch


def main(argv: list[str] | None = None) -> None:
    from lstmgan.config import load_params
    from lstmgan.gan.clips import FixedClipDataset, fixed_batches
    from lstmgan.media.store import open_store
    from lstmgan.models.full_model import build_networks, load_checkpoint, wrong_pose_frames
    from lstmgan.utils.seed import seed_everything

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", default="models/gan/lstm/latest.pt")
    parser.add_argument("--steps", type=int, default=800)
    parser.add_argument("--every", type=int, default=100)
    parser.add_argument("--train-clips", type=int, default=256)
    parser.add_argument("--val-clips", type=int, default=64)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="params.yaml override for the critic (e.g. gan.model.kp_variance=0.04)")
    args = parser.parse_args(argv)

    params = load_params("params.yaml", args.set)
    gan, clip_len, size = params.gan, params.gan.train.clip_len, params.data.size
    seed_everything(params.seed)
    kp_detector = load_checkpoint(args.checkpoint).networks["kp_detector"].eval()
    critic = build_networks(gan, size)["discriminator"].train()
    optimizer = torch.optim.Adam(critic.parameters(), lr=gan.train.lr * gan.train.disc_lr_scale, betas=(0.5, 0.999))
    store = open_store(params.data.out)

    @torch.no_grad()
    def pairs(split: str, count: int) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """(real frames, wrong-pose frames, the real frames' keypoints) per batch of 4 clips."""
        out = []
        for _, driving in fixed_batches(FixedClipDataset(store, split, clip_len, count), 4):
            out.append((driving.flatten(0, 1), wrong_pose_frames(driving),
                        kp_detector(driving.flatten(0, 1))["value"]))
        return out

    train, val = pairs("train", args.train_clips), pairs("val", args.val_clips)

    def scores(images: torch.Tensor, kp: torch.Tensor) -> list[torch.Tensor]:
        return [s for _, s in critic(images, kp)]

    @torch.no_grad()
    def measure() -> dict[str, float]:
        critic.eval()
        real, wrong, accuracy = [], [], []
        for frames, other, kp in val:
            r, w = scores(frames, kp)[0], scores(other, kp)[0]
            real.append(r.mean(dim=(1, 2, 3)))
            wrong.append(w.mean(dim=(1, 2, 3)))
            accuracy.append(0.5 * ((r > 0.5).float().mean() + (w < 0.5).float().mean()))
        critic.train()
        r, w = torch.cat(real), torch.cat(wrong)
        sd = ((r.var() + w.var()) / 2).sqrt()
        return {"real": round(r.mean().item(), 3), "wrong_pose": round(w.mean().item(), 3), "sd": round(sd.item(), 3),
                "separation_sd": round(((r.mean() - w.mean()) / sd).item(), 2),
                "patch_accuracy": round(torch.stack(accuracy).mean().item(), 3)}

    start = time.time()
    for step in range(args.steps + 1):
        if step % args.every == 0:
            print(json.dumps({"step": step, **measure(), "seconds": round(time.time() - start),
                              "set": args.set}), flush=True)
        if step == args.steps:
            break
        frames, other, kp = train[step % len(train)]
        optimizer.zero_grad()
        loss = sum(((s - 1) ** 2).mean() for s in scores(frames, kp)) + sum((s ** 2).mean() for s in scores(other, kp))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(critic.parameters(), gan.train.grad_clip)
        optimizer.step()


if __name__ == "__main__":
    main()
