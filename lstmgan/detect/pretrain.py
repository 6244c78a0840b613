"""In-domain pretraining: a detector's backbone first learns *who* is shown, then what is fake.

The thesis explains VGG19's lead by ImageNet pretraining. ImageNet weights cannot be fetched here,
so this tests the explanation in-domain: the backbone is pretrained on a face task (identity
classification over real frames of the GAN's *training* identities, ``detect.pretrain_store``'s
train split, a set disjoint from the detection pool's people) and then fine-tuned for real/fake
like any other detector. Comparing it with the same architecture from scratch says, on our data,
whether pretraining is what puts a large backbone ahead.

The identity head is a single linear layer on the detector's pooled features; it is dropped after
pretraining (the detection head starts fresh). Held-out accuracy is measured on frames of the same
people that pretraining never used (every ``frames_per_video``-th frame is used, the ones between
are held out), so the curve says whether the backbone learnt faces, not frames.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from lstmgan.errors import UserError

log = logging.getLogger(__name__)


@dataclass
class PretrainResult:
    identities: int
    frames: int
    held_out_frames: int
    steps: int
    time_s: float
    records: list[dict[str, float]] = field(default_factory=list)  # step, loss, train_acc, held_out_acc


def identity_frames(store_root: str | Path, size: int, frames_per_video: int = 8,
                    split: str = "train") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, int]:
    """Real frames of ``split``'s identities as uint8 (N, 3, size, size) and identity labels.

    Returns ``(train_x, train_y, held_x, held_y, n_identities)``: from each video ``frames_per_video``
    frames spread evenly for training and as many frames half-way between them held out.
    """
    from lstmgan.media.store import open_store

    store_root = Path(store_root)
    if not (store_root / "manifest.csv").is_file():
        raise UserError(f"{store_root}: no face store for detect.pretrain_store; run the prepare stage "
                        "(dvc repro prepare) or set detect.pretrain_steps: 0")
    store = open_store(store_root)
    records = store.split(split)
    ids = sorted({r.identity for r in records})
    if len(ids) < 2:
        raise UserError(f"{store_root}: the {split} split has {len(ids)} identities; identity pretraining needs >= 2")
    index = {name: i for i, name in enumerate(ids)}
    xs, ys, hx, hy = [], [], [], []
    for r in records:
        frames = np.asarray(store.frames(r.video_id))
        n = len(frames)
        k = max(1, min(frames_per_video, n // 2))
        pick = np.linspace(0, n - 1, 2 * k + 1).round().astype(int)
        xs.append(frames[pick[0:2 * k:2]])
        hx.append(frames[pick[1:2 * k:2]])
        ys += [index[r.identity]] * len(pick[0:2 * k:2])
        hy += [index[r.identity]] * len(pick[1:2 * k:2])

    def to_t(arrays: list[np.ndarray]) -> torch.Tensor:
        x = torch.from_numpy(np.concatenate(arrays)).permute(0, 3, 1, 2).contiguous()
        if x.shape[-1] != size:
            x = nn.functional.interpolate(x.float(), size=(size, size), mode="bilinear", antialias=True,
                                          align_corners=False).round().clamp(0, 255).to(torch.uint8)
        return x

    return to_t(xs), torch.tensor(ys), to_t(hx), torch.tensor(hy), len(ids)


def _feature_dim(model: nn.Module) -> int:
    return next(m.in_features for m in model.head.modules() if isinstance(m, nn.Linear))


@torch.no_grad()
def _accuracy(body: nn.Module, head: nn.Module, x: torch.Tensor, y: torch.Tensor, device, batch: int = 128) -> float:
    body.eval()
    correct = 0
    for i in range(0, len(x), batch):
        logits = head(body(x[i:i + batch].to(device).float() / 255.0))
        correct += int((logits.argmax(1).cpu() == y[i:i + batch]).sum())
    return correct / max(1, len(x))


def pretrain_identity(model: nn.Module, store_root: str | Path, size: int, steps: int, batch_size: int,
                      lr: float, frames_per_video: int, seed: int, log_every: int = 0,
                      held_out_max: int = 256) -> PretrainResult:
    """Pretrain ``model``'s normalise + features (a :class:`~lstmgan.detect.models.Detector`) on
    identity classification in place; the detection head is left untouched. Adam with a one-cycle
    schedule, horizontal flips; deterministic for a given seed on CPU."""
    if steps <= 0:
        raise ValueError("pretrain steps must be positive")
    train_x, train_y, held_x, held_y, n_ids = identity_frames(store_root, size, frames_per_video)
    if len(held_x) > held_out_max:  # an even subset keeps the check cheap for the large backbones
        keep = torch.from_numpy(np.linspace(0, len(held_x) - 1, held_out_max).round().astype(np.int64))
        held_x, held_y = held_x[keep], held_y[keep]
    device = next(model.parameters()).device
    body = nn.Sequential(model.normalize, model.features, model.pool)
    head = nn.Linear(_feature_dim(model), n_ids).to(device)
    params = list(body.parameters()) + list(head.parameters())
    optimizer = torch.optim.Adam(params, lr=lr, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps)
    gen = torch.Generator().manual_seed(seed)
    log_every = log_every or max(1, steps // 8)
    records: list[dict[str, float]] = []
    start = time.perf_counter()
    running, correct, seen = 0.0, 0, 0
    for step in range(1, steps + 1):
        body.train()
        idx = torch.randint(0, len(train_x), (batch_size,), generator=gen)
        x = train_x[idx].float() / 255.0
        flip = torch.rand(batch_size, generator=gen) < 0.5
        x[flip] = x[flip].flip(-1)
        x, y = x.to(device), train_y[idx].to(device)
        optimizer.zero_grad(set_to_none=True)
        logits = head(body(x))
        loss = nn.functional.cross_entropy(logits, y)
        loss.backward()
        optimizer.step()
        scheduler.step()
        running += loss.item() * len(y)
        correct += int((logits.argmax(1) == y).sum())
        seen += len(y)
        if step % log_every == 0 or step == steps:
            rec = {"step": step, "loss": running / seen, "train_acc": correct / seen,
                   "held_out_acc": _accuracy(body, head, held_x, held_y, device)}
            records.append(rec)
            log.info("identity pretraining step %d/%d: loss %.3f train acc %.3f held-out acc %.3f (%d identities)",
                     step, steps, rec["loss"], rec["train_acc"], rec["held_out_acc"], n_ids)
            running, correct, seen = 0.0, 0, 0
    return PretrainResult(n_ids, len(train_x), len(held_x), steps, time.perf_counter() - start, records)
