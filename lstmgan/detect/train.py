"""Training one detector as in the thesis's appendix, and predicting with it.

Adam with weight decay and (optionally) a one-cycle learning-rate schedule over all steps. After
every epoch one record: train loss/accuracy as trained (dropout on, training transforms), the
same without dropout (an eval-mode pass over the training frames), validation loss/accuracy/AUC
on the base and on the augmented validation copy, and the learning rate of the epoch's last
step. The best epoch is chosen on validation only (:func:`best_epoch`); the test split never
reaches this module's training code.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from lstmgan.detect.metrics import roc_auc

log = logging.getLogger(__name__)

RECORD_COLUMNS = ("epoch", "train_loss", "train_acc", "train_loss_eval", "train_acc_eval",
                  "val_loss", "val_acc", "val_auc", "val_aug_loss", "val_aug_acc", "val_aug_auc", "lr")


def best_epoch(records: list[Mapping[str, float]], select_on: str = "val_auc") -> int:
    """Epoch number of the best record, judged on validation keys only.

    ``val_auc`` / ``val_acc``: highest wins; ``val_loss``: lowest wins; ties (and NaN AUC) fall to
    the lower ``val_loss``, then to the earlier epoch.
    """
    if not select_on.startswith("val_"):
        raise ValueError(f"the best checkpoint is chosen on validation only, not on {select_on!r}")
    if not records:
        raise ValueError("no epochs recorded")

    def key(r: Mapping[str, float]) -> tuple[float, float, int]:
        primary = float(r[select_on])
        primary = -primary if select_on != "val_loss" else primary
        if math.isnan(primary):
            primary = math.inf
        return primary, float(r["val_loss"]), int(r["epoch"])

    return int(min(records, key=key)["epoch"])


def still_rising(records: list[Mapping[str, float]], key: str = "val_auc", window: int = 2,
                 tol: float = 0.02) -> float | None:
    """How much ``key`` rose over the last ``window`` epochs (best of them minus the best before),
    when that exceeds ``tol``: the budget stopped before the validation curve's plateau. None when
    the curve has flattened (or is too short to tell)."""
    values = [float(r[key]) for r in records if math.isfinite(float(r.get(key, float("nan"))))]
    if len(values) <= window:
        return None
    gain = max(values[-window:]) - max(values[:-window])
    return gain if gain > tol else None


def _model_device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def evaluate(model: nn.Module, data: Dataset, batch_size: int = 128) -> tuple[float, np.ndarray, np.ndarray]:
    """Eval-mode pass on the model's device: (mean cross-entropy, fake probabilities, labels)."""
    model.eval()
    device = _model_device(model)
    losses, probs, labels = [], [], []
    for x, y in DataLoader(data, batch_size=batch_size, shuffle=False):
        logits = model(x.to(device))
        y = y.to(device)
        losses.append(nn.functional.cross_entropy(logits, y, reduction="sum").item())
        probs.append(torch.softmax(logits.float(), 1)[:, 1].cpu().numpy())
        labels.append(y.cpu().numpy())
    n = max(1, len(data))
    return sum(losses) / n, np.concatenate(probs) if probs else np.zeros(0), \
        np.concatenate(labels) if labels else np.zeros(0, dtype=int)


def predict(model: nn.Module, data: Dataset, batch_size: int = 128) -> np.ndarray:
    """Fake probabilities for every frame of ``data`` (eval mode)."""
    return evaluate(model, data, batch_size)[1]


def _acc(probs: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean((probs >= 0.5).astype(int) == labels)) if len(labels) else float("nan")


def _auc(probs: np.ndarray, labels: np.ndarray) -> float:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one-class validation: NaN, already explained once below
        return roc_auc(labels, probs) if len(labels) else float("nan")


@dataclass
class FitResult:
    records: list[dict[str, float]]
    best_epoch: int
    best_state: dict[str, torch.Tensor]
    train_time_s: float  # wall time of the training passes (forward + backward + step)
    train_images: int  # frames seen by those passes
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def train_images_per_s(self) -> float:
        return self.train_images / self.train_time_s if self.train_time_s > 0 else float("nan")


def fit(model: nn.Module, train: Dataset, train_eval: Dataset, val: Dataset, val_aug: Dataset, *,
        epochs: int, batch_size: int, lr: float, weight_decay: float, one_cycle: bool,
        select_on: str, seed: int, desc: str = "train") -> FitResult:
    """Train ``model`` in place and return the per-epoch records and the best (validation) state.

    ``train`` serves training frames with the variant's training transform; ``train_eval`` those
    frames (or an even subset) with the evaluation transform (the no-dropout pass); ``val`` / ``val_aug`` the
    validation frames without and with augmentation. The model trains on the device it is on and
    is left holding the best state (``best_state`` is a CPU copy).
    """
    from lstmgan.utils.progress import progress as tqdm  # off unless someone watches

    device = _model_device(model)
    if len(train) == 0 or len(val) == 0:
        raise ValueError("training and validation sets must not be empty")
    generator = torch.Generator().manual_seed(seed)
    loader = DataLoader(train, batch_size=batch_size, shuffle=True, generator=generator, drop_last=len(train) > batch_size)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    steps = max(1, epochs * len(loader))
    scheduler = (torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps)
                 if one_cycle else None)
    records: list[dict[str, float]] = []
    best_state: dict[str, torch.Tensor] | None = None
    train_time, seen = 0.0, 0
    for epoch in tqdm(range(1, epochs + 1), desc=desc, leave=False):
        model.train()
        total_loss, correct, count, step_lr = 0.0, 0, 0, optimizer.param_groups[0]["lr"]
        start = time.perf_counter()
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            optimizer.zero_grad(set_to_none=True)
            logits = model(x)
            loss = nn.functional.cross_entropy(logits, y)
            loss.backward()
            optimizer.step()
            step_lr = optimizer.param_groups[0]["lr"]
            if scheduler is not None:
                scheduler.step()
            total_loss += loss.item() * len(y)
            correct += int((logits.argmax(1) == y).sum())
            count += len(y)
        train_time += time.perf_counter() - start
        seen += count
        train_loss_eval, p_tr, y_tr = evaluate(model, train_eval)
        val_loss, p_val, y_val = evaluate(model, val)
        val_aug_loss, p_aug, y_aug = evaluate(model, val_aug)
        record = {
            "epoch": epoch,
            "train_loss": total_loss / max(1, count), "train_acc": correct / max(1, count),
            "train_loss_eval": train_loss_eval, "train_acc_eval": _acc(p_tr, y_tr),
            "val_loss": val_loss, "val_acc": _acc(p_val, y_val), "val_auc": _auc(p_val, y_val),
            "val_aug_loss": val_aug_loss, "val_aug_acc": _acc(p_aug, y_aug), "val_aug_auc": _auc(p_aug, y_aug),
            "lr": step_lr,  # the learning rate of the epoch's last step
        }
        records.append(record)
        log.info("%s epoch %d: train loss %.4f acc %.3f | val loss %.4f acc %.3f auc %.3f",
                 desc, epoch, record["train_loss"], record["train_acc"], val_loss, record["val_acc"],
                 record["val_auc"])
        if best_epoch(records, select_on) == epoch:
            best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
    assert best_state is not None
    model.load_state_dict(best_state)
    return FitResult(records, best_epoch(records, select_on), best_state, train_time, seen)
