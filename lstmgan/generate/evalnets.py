"""The small measuring networks behind AKD and AED on the embedded data set.

The first-order-motion protocol measures *motion* with a landmark detector (AKD: mean absolute
landmark difference between generated and real frames) and *identity* with a face-embedding
network (AED: mean squared distance of embeddings). Published numbers use face-alignment and a
re-identification network trained on real faces. The embedded procedural faces are not real faces,
so we train both measuring networks here, on the store's **train** split only (the split the GAN
trained on; evaluation runs on the test split), and report how good each one is:

* :class:`LandmarkNet` locates the 68 ground-truth landmarks (heatmaps + soft-argmax); its own mean
  absolute error on the test split is reported beside the AKD it measures (an AKD is only meaningful
  when well above it), and so is its error on landmark *motion* within a video (displacement from
  the first frame), which is what limits AKD: a constant per-face offset cancels in AKD.
* :class:`IdentityNet` embeds a face (unit vector) and is trained to classify the train identities;
  its verification accuracy (same / different identity for pairs of frames of *unseen* test
  identities, threshold chosen on the val split) is reported beside the AED.

On real data (any store that is not the embedded synthetic set) nothing is trained: AKD uses
face-alignment's 2DFAN4 when its weights are cached, else dlib's 68-point shape predictor; AED uses
the face embedder the user points to (``generate.identity_weights``, TorchScript), else dlib's
ResNet face descriptor (128-d), a real face-recognition network standing in for the protocol's
re-identification network (:mod:`lstmgan.face.dlib_models`; crops are enlarged to 256 px, the face
box is dlib's HOG detection there, else the box the crop rule implies). When neither is installed,
the metric is reported as unavailable with the reason.
"""
from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lstmgan.errors import UserError
from lstmgan.utils.device import cpu_threads
from lstmgan.utils.io import atomic_torch_save

log = logging.getLogger(__name__)

EVALNETS_VERSION = 4  # bump when the networks change: saved weights of another version are retrained
INPUT_SIZE = 64  # both networks see 64 x 64 faces; coordinates are rescaled to the frame size


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


class _Backbone(nn.Sequential):
    """Strided conv stages, (N,3,64,64) -> (N,C,4,4); about 8 MFLOP per face, so it trains in seconds."""

    def __init__(self, width: int = 16):
        w = width
        super().__init__(_conv(3, w, 2), _conv(w, 2 * w, 2), _conv(2 * w, 2 * w),
                         _conv(2 * w, 4 * w, 2), _conv(4 * w, 4 * w), _conv(4 * w, 8 * w, 2))
        self.out_channels = 8 * w


def _prepare(frames: Tensor) -> Tensor:
    """(N,3,S,S) in [0,1] -> (N,3,64,64) normalised to zero mean."""
    if frames.shape[-1] != INPUT_SIZE:
        frames = F.interpolate(frames, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear",
                               align_corners=False, antialias=True)
    return frames * 2 - 1


class LandmarkNet(nn.Module):
    """(N,3,S,S) in [0,1] -> (N,68,2) landmark positions in pixels of the S x S frame.

    Why heatmaps: a global regression head (flatten -> linear) must learn every landmark's position
    as a function of the whole image and plateaued near 1 px, above the sub-pixel motions AKD has
    to resolve. Here a small encoder-decoder keeps a 16 x 16 map (stride 4) per landmark and the
    position is its soft-argmax (the expectation of the softmax over cells, "integral regression"),
    which is differentiable, trained directly with L1 on coordinates and sub-pixel by construction.
    A skip connection from the 16 x 16 encoder stage keeps local detail; the 8 x 8 stage sees the
    whole face for context. Pixel centres are at integer coordinates (as in the data stage), so
    cell ``j`` of a stride-``s`` map is centred at ``s * j + (s - 1) / 2`` input pixels.
    """

    STRIDE = 4

    def __init__(self, num_points: int = 68, width: int = 16):
        super().__init__()
        w = width
        self.num_points = num_points
        self.enc32 = nn.Sequential(_conv(3, w, 2), _conv(w, 2 * w))  # 32 x 32
        self.enc16 = nn.Sequential(_conv(2 * w, 4 * w, 2), _conv(4 * w, 4 * w))  # 16 x 16
        self.enc8 = nn.Sequential(_conv(4 * w, 8 * w, 2), _conv(8 * w, 8 * w))  # 8 x 8
        self.up = nn.Sequential(nn.Conv2d(8 * w, 4 * w, 1, bias=False), nn.BatchNorm2d(4 * w))
        self.dec16 = nn.Sequential(_conv(4 * w, 4 * w), _conv(4 * w, 4 * w))
        self.heat = nn.Conv2d(4 * w, num_points, 1)

    def heatmaps(self, frames: Tensor) -> Tensor:
        """(N,3,S,S) -> (N,68,16,16) logits over the cells of the 64 px input."""
        x16 = self.enc16(self.enc32(_prepare(frames)))
        x8 = self.enc8(x16)
        x = F.relu(x16 + F.interpolate(self.up(x8), scale_factor=2, mode="nearest"))
        return self.heat(self.dec16(x))

    def forward(self, frames: Tensor) -> Tensor:
        return soft_argmax(self.heatmaps(frames), self.STRIDE, frames.shape[-1])


def soft_argmax(logits: Tensor, stride: int, frame_size: int) -> Tensor:
    """(N,K,h,w) heatmap logits over stride-``stride`` cells of the 64 px input -> (N,K,2) expected
    (x, y) in pixels of a ``frame_size`` frame (pixel centres at integers in both)."""
    n, k, h, w = logits.shape
    prob = logits.flatten(2).softmax(-1).view(n, k, h, w)
    x_cells = torch.arange(w, dtype=prob.dtype, device=prob.device) * stride + (stride - 1) / 2
    y_cells = torch.arange(h, dtype=prob.dtype, device=prob.device) * stride + (stride - 1) / 2
    pts = torch.stack([(prob.sum(2) * x_cells).sum(-1), (prob.sum(3) * y_cells).sum(-1)], -1)
    if frame_size != INPUT_SIZE:  # pixel centres: (p + 0.5) scales with the frame, not p
        pts = (pts + 0.5) * (frame_size / INPUT_SIZE) - 0.5
    return pts


class IdentityNet(nn.Module):
    """(N,3,S,S) in [0,1] -> (N,D) unit-length identity embeddings (+ cosine logits when trained)."""

    def __init__(self, num_identities: int, dim: int = 64, width: int = 16, scale: float = 16.0):
        super().__init__()
        self.backbone = _Backbone(width)
        self.embed = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                   nn.Linear(self.backbone.out_channels, dim))
        self.classes = nn.Parameter(torch.randn(num_identities, dim) * 0.1)
        self.scale = scale

    def forward(self, frames: Tensor) -> Tensor:
        return F.normalize(self.embed(self.backbone(_prepare(frames))), dim=-1)

    def logits(self, embeddings: Tensor) -> Tensor:
        return self.scale * embeddings @ F.normalize(self.classes, dim=-1).T


# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------
def _split_rows(store, split: str, max_per_video: int = 0) -> np.ndarray:
    """Cache row indices of every frame of ``split`` (optionally a strided subset per video)."""
    rows = []
    for r in store.split(split):
        idx = np.arange(r.offset, r.offset + r.frames)
        if max_per_video and len(idx) > max_per_video:
            idx = idx[np.linspace(0, len(idx) - 1, max_per_video).round().astype(int)]
        rows.append(idx)
    return np.concatenate(rows) if rows else np.zeros(0, int)


def _batch(store, rows: np.ndarray, device: torch.device) -> Tensor:
    frames = store.all_frames[np.sort(rows)]
    order = np.argsort(np.argsort(rows))  # mmap fancy indexing wants sorted rows; restore order
    t = torch.from_numpy(np.ascontiguousarray(frames[order])).to(device)
    return t.float().div_(255).permute(0, 3, 1, 2)


def _augment(x: Tensor, gen: torch.Generator) -> Tensor:
    """Brightness/contrast jitter (keeps geometry, so landmarks stay valid)."""
    n = x.shape[0]
    gain = 1 + 0.2 * (torch.rand(n, 1, 1, 1, generator=gen) - 0.5).to(x.device)
    bias = 0.1 * (torch.rand(n, 1, 1, 1, generator=gen) - 0.5).to(x.device)
    return (x * gain + bias).clamp(0, 1)


def _landmark_rows(store, split: str, max_per_video: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``split`` whose 68 ground-truth landmarks are all known, and those landmarks."""
    rows = _split_rows(store, split, max_per_video)
    lms = np.asarray(store.all_landmarks[rows], np.float32) if len(rows) else np.zeros((0, 68, 2), np.float32)
    ok = np.isfinite(lms).all(axis=(1, 2))
    return rows[ok], lms[ok]


def _mirror_order() -> list[int]:
    """iBUG-300W 68-point index of each landmark's mirror partner (left eye <-> right eye, ...)."""
    order = list(range(68))

    def swap(a: list[int], b: list[int]) -> None:
        for i, j in zip(a, b):
            order[i], order[j] = j, i

    swap(list(range(0, 8)), list(range(16, 8, -1)))  # jaw
    swap(list(range(17, 22)), list(range(26, 21, -1)))  # brows
    swap([31, 32], [35, 34])  # nostrils
    swap([36, 37, 38, 39, 40, 41], [45, 44, 43, 42, 47, 46])  # eyes
    swap([48, 49, 50, 55, 56], [54, 53, 52, 59, 58])  # outer lips
    swap([60, 61, 65], [64, 63, 67])  # inner lips
    return order


MIRROR_ORDER = _mirror_order()


def _random_affine(x: Tensor, pts: Tensor, gen: torch.Generator, rotate_deg: float = 12.0,
                   scale: float = 0.12, aspect: float = 0.08, shift_px: float = 4.0,
                   mirror: bool = True) -> tuple[Tensor, Tensor]:
    """Warp frames by a small random similarity (plus aspect change and, half the time, a mirror)
    and move the landmarks *exactly* with them.

    In grid_sample's normalised coordinates (align_corners=False: pixel ``p`` of an ``S`` px side is
    at ``(2p + 1) / S - 1``) output point ``o`` samples input point ``A o + t``, so a landmark at
    input ``q`` lands at ``A^-1 (q - t)``. Bilinear resampling blurs slightly; the landmarks stay
    exact. With only a few train identities, these warps (and mirrored faces, whose landmarks swap
    sides) are what make the network generalise to unseen face shapes.
    """
    n, size = x.shape[0], x.shape[-1]
    u = (torch.rand(n, 6, generator=gen) * 2 - 1).to(x.device)
    ang = torch.deg2rad(u[:, 0] * rotate_deg)
    sx = (1 + u[:, 1] * scale) * (1 + u[:, 2] * aspect)
    sy = (1 + u[:, 1] * scale) / (1 + u[:, 2] * aspect)
    flip = (u[:, 5] < 0) if mirror else torch.zeros(n, dtype=torch.bool, device=x.device)
    sx = torch.where(flip, -sx, sx)
    t = u[:, 3:5] * (2 * shift_px / size)
    a = torch.stack([torch.stack([torch.cos(ang) * sx, -torch.sin(ang) * sy], -1),
                     torch.stack([torch.sin(ang) * sx, torch.cos(ang) * sy], -1)], -2)
    grid = F.affine_grid(torch.cat([a, t[:, :, None]], -1), list(x.shape), align_corners=False)
    warped = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    q = (2 * pts + 1) / size - 1
    o = torch.linalg.solve(a, (q - t[:, None, :]).transpose(1, 2)).transpose(1, 2)
    out = ((o + 1) * size - 1) / 2
    if pts.shape[1] == len(MIRROR_ORDER):
        out = torch.where(flip[:, None, None], out[:, MIRROR_ORDER], out)
    return warped, out


def _colour_jitter(x: Tensor, gen: torch.Generator) -> Tensor:
    """Random channel order, per-image and per-channel gain/offset (keeps geometry, so landmarks stay
    valid); unseen identities have unseen skin, hair and eye colours."""
    n = x.shape[0]
    perm = torch.argsort(torch.rand(n, 3, generator=gen), dim=1).to(x.device)
    x = torch.gather(x, 1, perm[:, :, None, None].expand_as(x))
    gain = 1 + 0.4 * (torch.rand(n, 1, 1, 1, generator=gen) - 0.5) + 0.2 * (torch.rand(n, 3, 1, 1, generator=gen) - 0.5)
    bias = 0.2 * (torch.rand(n, 1, 1, 1, generator=gen) - 0.5) + 0.1 * (torch.rand(n, 3, 1, 1, generator=gen) - 0.5)
    return (x * gain.to(x.device) + bias.to(x.device)).clamp(0, 1)


def _optimise(opt: torch.optim.Optimizer, sched, loss: Tensor) -> None:
    """One optimiser step on ``loss`` and one scheduler step."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    sched.step()


def train_landmark_net(store, steps: int, batch: int, lr: float, seed: int,
                       device: torch.device | str = "cpu") -> tuple[LandmarkNet, dict[str, float]]:
    """Train on the train split's ground-truth landmarks (L1 on pixel coordinates, random similarity
    warps and colour jitter); report mean abs error (px) on val/test and the training seconds."""
    import time

    from lstmgan.utils.progress import progress as tqdm  # off unless someone watches

    device = torch.device(device)
    rows, lms = _landmark_rows(store, "train")
    if len(rows) == 0:
        raise UserError(f"{store.root}: the train split has no ground-truth landmarks to train the landmark network")
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    net = LandmarkNet().to(device)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=max(1, steps), pct_start=0.1)
    net.train()
    start = time.perf_counter()
    for _ in tqdm(range(steps), desc="landmark net", leave=False, mininterval=5):
        pick = torch.randint(len(rows), (batch,), generator=gen).numpy()
        x = _batch(store, rows[pick], device)
        x, y = _random_affine(x, torch.from_numpy(lms[pick]).to(device), gen)
        loss = F.l1_loss(net(_colour_jitter(x, gen)), y)
        _optimise(opt, sched, loss)
    seconds = time.perf_counter() - start
    net.eval()
    report: dict[str, float] = {}
    for split in ("val", "test"):
        err = landmark_error(store, net, split, device)
        if err is not None:
            report[f"{split}_mae_px"] = err
    motion = landmark_motion_error(store, net, "test", device)
    if motion is not None:
        report["test_motion_mae_px"], report["test_motion_px"] = motion
    report["train_steps"] = steps
    report["train_seconds"] = round(seconds, 1)
    return net, report


@torch.inference_mode()
def landmark_error(store, net: LandmarkNet, split: str, device: torch.device | str = "cpu",
                   max_per_video: int = 24) -> float | None:
    """Mean absolute landmark error in pixels on ``split`` (None if it has no landmarks)."""
    rows, gt = _landmark_rows(store, split, max_per_video)
    if len(rows) == 0:
        return None
    pred = predict_landmarks(net, _batch(store, rows, torch.device(device)), store.size)
    return float(np.abs(pred - gt).mean())


@torch.inference_mode()
def landmark_motion_error(store, net: LandmarkNet, split: str, device: torch.device | str = "cpu",
                          max_per_video: int = 24) -> tuple[float, float] | None:
    """(error, size) of landmark *motion* on ``split``, in pixels: mean |(p_t - p_0) - (g_t - g_0)|
    of predicted vs true displacement from each video's first frame, and the true mean |g_t - g_0|.

    AKD compares the network's landmarks on generated and real frames of the same face, so a
    constant per-face offset of the network cancels; what limits it is this motion error.
    """
    errs, sizes = [], []
    for r in store.split(split):
        idx = np.arange(r.offset, r.offset + r.frames)
        if max_per_video and len(idx) > max_per_video:
            idx = idx[np.linspace(0, len(idx) - 1, max_per_video).round().astype(int)]
        gt = np.asarray(store.all_landmarks[idx], np.float32)
        if len(idx) < 2 or not np.isfinite(gt).all():
            continue
        pred = predict_landmarks(net, _batch(store, idx, torch.device(device)), store.size)
        errs.append(np.abs((pred[1:] - pred[:1]) - (gt[1:] - gt[:1])).mean())
        sizes.append(np.abs(gt[1:] - gt[:1]).mean())
    return (float(np.mean(errs)), float(np.mean(sizes))) if errs else None


@torch.inference_mode()
def predict_landmarks(net: LandmarkNet, frames: Tensor, size: int | None = None, chunk: int = 64,
                      mirror: bool = True) -> np.ndarray:
    """(N,3,S,S) in [0,1] -> (N,68,2) pixel coordinates in the S x S frame (``size`` is S, checked).

    With ``mirror`` the prediction is averaged with the one on the mirrored frame (landmarks swapped
    back to their sides): the network learnt mirrored faces, and the average halves part of its
    error (0.72 -> 0.65 px on the embedded test split).
    """
    width = frames.shape[-1]
    if size is not None and width != size:
        raise ValueError(f"frames are {width} px, expected {size}")
    out = []
    for i in range(0, len(frames), chunk):
        x = frames[i:i + chunk]
        pts = net(x).float()
        if mirror and pts.shape[1] == len(MIRROR_ORDER):
            back = net(x.flip(-1)).float()[:, MIRROR_ORDER]
            back[..., 0] = width - 1 - back[..., 0]
            pts = (pts + back) / 2
        out.append(pts.cpu())
    return torch.cat(out).numpy()


def train_identity_net(store, steps: int, batch: int, lr: float, seed: int,
                       device: torch.device | str = "cpu") -> tuple[IdentityNet, dict[str, float]]:
    """Train to classify the train split's identities; report verification accuracy on test."""
    device = torch.device(device)
    ids = store.identities("train")
    if len(ids) < 2:
        raise UserError(f"{store.root}: the train split needs >= 2 identities to train the identity network")
    index = {name: i for i, name in enumerate(ids)}
    rows, labels = [], []
    for r in store.split("train"):
        rows.append(np.arange(r.offset, r.offset + r.frames))
        labels.append(np.full(r.frames, index[r.identity]))
    rows_a, labels_a = np.concatenate(rows), np.concatenate(labels)
    gen = torch.Generator().manual_seed(seed + 1)
    torch.manual_seed(seed + 1)
    net = IdentityNet(len(ids)).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=max(1, steps), pct_start=0.15)
    net.train()
    import time

    from lstmgan.utils.progress import progress as tqdm  # off unless someone watches

    start = time.perf_counter()
    for _ in tqdm(range(steps), desc="identity net", leave=False, mininterval=5):
        pick = torch.randint(len(rows_a), (batch,), generator=gen).numpy()
        x = _augment(_batch(store, rows_a[pick], device), gen)
        y = torch.from_numpy(labels_a[pick]).to(device)
        loss = F.cross_entropy(net.logits(net(x)), y)
        _optimise(opt, sched, loss)
    seconds = time.perf_counter() - start
    net.eval()
    report = verification_report(store, net, seed, device)
    report["train_steps"] = steps
    report["train_seconds"] = round(seconds, 1)
    report["train_identities"] = len(ids)
    return net, report


@torch.inference_mode()
def _embed_split(store, net: Callable[[Tensor], Tensor], split: str, device, per_video: int = 8
                 ) -> tuple[np.ndarray, np.ndarray]:
    rows, labels = [], []
    for r in store.split(split):
        idx = np.linspace(r.offset, r.offset + r.frames - 1, min(per_video, r.frames)).round().astype(int)
        rows.append(idx)
        labels += [r.identity] * len(idx)
    if not rows:
        return np.zeros((0, 1)), np.array([])
    x = _batch(store, np.concatenate(rows), torch.device(device))
    emb = torch.cat([net(x[i:i + 64]).float().cpu() for i in range(0, len(x), 64)]).numpy()
    return emb, np.asarray(labels)


def verification_pairs(labels: np.ndarray, n_pairs: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Balanced (i, j, same) pairs: half same identity, half different (seeded)."""
    rng = np.random.default_rng(seed)
    n = len(labels)
    i_same, j_same, i_diff, j_diff = [], [], [], []
    while len(i_same) < n_pairs // 2 or len(i_diff) < n_pairs // 2:
        i, j = rng.integers(n, size=2)
        if i == j:
            continue
        if labels[i] == labels[j] and len(i_same) < n_pairs // 2:
            i_same.append(i), j_same.append(j)
        elif labels[i] != labels[j] and len(i_diff) < n_pairs // 2:
            i_diff.append(i), j_diff.append(j)
    i_all = np.array(i_same + i_diff)
    j_all = np.array(j_same + j_diff)
    same = np.array([True] * len(i_same) + [False] * len(i_diff))
    return i_all, j_all, same


def best_threshold(dist: np.ndarray, same: np.ndarray) -> float:
    """Distance threshold (same if dist <= t) maximising accuracy on the given pairs."""
    candidates = np.unique(dist)
    acc = [((dist <= t) == same).mean() for t in candidates]
    return float(candidates[int(np.argmax(acc))])


def verification_report(store, net, seed: int, device, n_pairs: int = 2000) -> dict[str, float]:
    """Threshold on val pairs (train if val has < 2 identities), accuracy on test pairs."""
    out: dict[str, float] = {}
    calib = "val" if len(store.identities("val")) >= 2 else "train"
    emb_c, lab_c = _embed_split(store, net, calib, device)
    ic, jc, sc = verification_pairs(lab_c, n_pairs, seed)
    threshold = best_threshold(((emb_c[ic] - emb_c[jc]) ** 2).sum(1), sc)
    out["threshold_sq_dist"] = threshold
    out["threshold_from"] = calib  # type: ignore[assignment]
    if len(store.identities("test")) >= 2:
        emb_t, lab_t = _embed_split(store, net, "test", device)
        it, jt, st = verification_pairs(lab_t, n_pairs, seed + 7)
        d = ((emb_t[it] - emb_t[jt]) ** 2).sum(1)
        out["test_verification_accuracy"] = float(((d <= threshold) == st).mean())
        out["test_same_sq_dist"] = float(d[st].mean())
        out["test_diff_sq_dist"] = float(d[~st].mean())
    return out


# --------------------------------------------------------------------------------------------
# The bundle used by evaluation
# --------------------------------------------------------------------------------------------
@dataclass
class EvalNetsReport:
    landmarks: dict[str, Any]
    identity: dict[str, Any]
    landmark_source: str  # "landmark_net" | "face_alignment ..." | "dlib ..." | "unavailable: <reason>"
    identity_source: str  # "identity_net" | "torchscript:<path>" | "dlib ..." | "unavailable: <reason>"


class EvalNets:
    """Landmarks (pixels) and identity embeddings for evaluation; either may be unavailable."""

    def __init__(self, size: int, landmark_fn: Callable[[Tensor], np.ndarray] | None,
                 embed_fn: Callable[[Tensor], Tensor] | None, report: EvalNetsReport):
        self.size = size
        self._landmark_fn = landmark_fn
        self._embed_fn = embed_fn
        self.report = report

    @property
    def has_landmarks(self) -> bool:
        return self._landmark_fn is not None

    @property
    def has_identity(self) -> bool:
        return self._embed_fn is not None

    @torch.inference_mode()
    def landmarks(self, frames: Tensor) -> np.ndarray | None:
        """(N,3,S,S) in [0,1] -> (N,68,2) pixels, or None when unavailable."""
        return None if self._landmark_fn is None else self._landmark_fn(frames)

    @torch.inference_mode()
    def embed(self, frames: Tensor) -> np.ndarray | None:
        """(N,3,S,S) in [0,1] -> (N,D) embeddings, or None when unavailable."""
        if self._embed_fn is None:
            return None
        return torch.cat([self._embed_fn(frames[i:i + 64]).float().cpu() for i in range(0, len(frames), 64)]).numpy()


def _load_or_train(net: nn.Module, path: Path, saved_report: dict[str, Any] | None, device, threads: int,
                   train: Callable[[], tuple[nn.Module, dict[str, Any]]], save_path: Path
                   ) -> tuple[nn.Module, dict[str, Any], bool]:
    """The saved weights at ``path`` when their fingerprint matched (``saved_report`` given), else
    train (on ``threads`` CPU threads), save atomically to ``save_path`` and return the new network;
    either way in eval mode, with whether it was trained."""
    if saved_report and path.is_file():
        net.load_state_dict(torch.load(path, map_location=device))
        return net.eval(), saved_report, False
    with cpu_threads(threads):
        net, report = train()
    atomic_torch_save(net.state_dict(), save_path)
    return net.eval(), report, True


def build_evalnets(store, params, device: torch.device | str = "cpu", out: str | Path | None = None,
                   reuse: bool = True, save_to: str | Path | None = None) -> EvalNets:
    """Train (or load from ``out``) the measuring networks suited to ``store``'s kind of data.

    ``params`` is the full :class:`~lstmgan.config.Params`. Networks that had to be trained are
    saved to ``save_to`` (default ``out``)/landmarks.pt, identity.pt and evalnets.json (atomic) so
    a rerun reuses them; weights loaded as they were are not written again.
    """
    from lstmgan.utils.io import atomic_write_json

    g = params.generate
    device = torch.device(device)
    out = Path(out or g.evalnets_out)
    kind = store.meta.get("kind", "")
    size = store.size
    fingerprint = {"evalnets_version": EVALNETS_VERSION, "store": str(store.root), "frames": int(len(store.all_frames)), "size": size,
                   "steps": g.evalnet_steps, "batch": g.evalnet_batch, "lr": g.evalnet_lr, "seed": params.seed,
                   "threads": g.evalnet_threads}
    save = Path(save_to or out)
    trained: list[bool] = []
    meta_path = out / "evalnets.json"
    saved = json.loads(meta_path.read_text()) if reuse and meta_path.is_file() else None
    if saved and saved.get("fingerprint") != fingerprint:
        saved = None

    # --- landmarks ---
    train_rows = _split_rows(store, "train", 4)
    has_gt = len(train_rows) > 0 and bool(np.isfinite(np.asarray(store.all_landmarks[train_rows])).all(axis=(1, 2)).any())
    landmark_fn = None
    lm_report: dict[str, Any] = {}
    crop_scale = float(store.meta.get("crop_scale", params.data.crop_scale))
    if kind == "synth" and has_gt:
        net, lm_report, new = _load_or_train(
            LandmarkNet().to(device), out / "landmarks.pt", saved and saved["landmarks"], device, g.evalnet_threads,
            lambda: train_landmark_net(store, g.evalnet_steps, g.evalnet_batch, g.evalnet_lr, params.seed, device),
            save / "landmarks.pt")
        trained.append(new)
        landmark_fn = lambda x, net=net: predict_landmarks(net, x.to(device), size)  # noqa: E731
        lm_source = "landmark_net"
    else:
        landmark_fn, lm_source = _fan_landmarks(size, device)
        if landmark_fn is None:
            fan_reason = lm_source
            landmark_fn, lm_source = _dlib_landmarks(crop_scale)
            if landmark_fn is None:
                lm_source = f"{fan_reason}; {lm_source}"

    # --- identity ---
    embed_fn = None
    id_report: dict[str, Any] = {}
    if g.identity_weights:
        path = Path(g.identity_weights)
        if not path.is_file():
            raise UserError(f"generate.identity_weights: {path} does not exist; point it to a TorchScript face embedder or set it to \"\"")
        module = torch.jit.load(str(path), map_location=device).eval()
        embed_fn = lambda x, m=module: F.normalize(m(x.to(device)).float(), dim=-1)  # noqa: E731
        id_source = f"torchscript:{path}"
    elif kind == "synth":
        net_i, id_report, new = _load_or_train(
            IdentityNet(len(store.identities("train"))).to(device), out / "identity.pt",
            saved and saved["identity"], device, g.evalnet_threads,
            lambda: train_identity_net(store, g.evalnet_steps, g.evalnet_batch, g.evalnet_lr, params.seed, device),
            save / "identity.pt")
        trained.append(new)
        embed_fn = lambda x, net=net_i: net(x.to(device))  # noqa: E731
        id_source = "identity_net"
    else:
        embed_fn, id_source = _dlib_embedding(crop_scale)
        if embed_fn is None:
            id_source += " (or set generate.identity_weights to a TorchScript embedder)"
            log.info("AED %s", id_source)
    report = EvalNetsReport(landmarks=lm_report, identity=id_report, landmark_source=lm_source,
                            identity_source=id_source)
    record = {"fingerprint": fingerprint, **asdict(report)}
    unchanged = saved == json.loads(json.dumps(record, default=str))
    if any(trained) or (save == out and not unchanged):
        atomic_write_json(save / "evalnets.json", record)
    return EvalNets(size, landmark_fn, embed_fn, report)


def evalnets_metrics(report: EvalNetsReport) -> dict[str, Any]:
    """The flat metrics JSON of ``lstmgan evalnets`` (None where a network is not used; timings apart)."""
    lm, ident = report.landmarks, report.identity
    return {"landmark_source": report.landmark_source, "identity_source": report.identity_source,
            "landmark_test_mae_px": lm.get("test_mae_px"), "landmark_val_mae_px": lm.get("val_mae_px"),
            "landmark_test_motion_mae_px": lm.get("test_motion_mae_px"), "landmark_test_motion_px": lm.get("test_motion_px"),
            "landmark_train_steps": lm.get("train_steps"),
            "identity_test_verification_accuracy": ident.get("test_verification_accuracy"),
            "identity_train_steps": ident.get("train_steps")}


def evalnets_timing(report: EvalNetsReport) -> dict[str, Any]:
    """The training seconds of the two networks (run to run different: not metrics)."""
    return {"landmark_train_seconds": report.landmarks.get("train_seconds"),
            "identity_train_seconds": report.identity.get("train_seconds")}


def _fan_landmarks(size: int, device) -> tuple[Callable[[Tensor], np.ndarray] | None, str]:
    """face-alignment's 2DFAN4 on the (already cropped) faces when its weights are cached."""
    from lstmgan.utils.weights import cached_weight, missing_weights_hint

    url = "https://www.adrianbulat.com/downloads/python-fan/2DFAN4-cd938726ad.zip"
    path = cached_weight(url)
    if path is None:
        reason = missing_weights_hint("face-alignment 2DFAN4", url)
        log.info("%s", reason)
        return None, f"unavailable: {reason}"
    try:
        from face_alignment.utils import get_preds_fromhm
    except ImportError as exc:
        return None, f"unavailable: face_alignment not importable ({exc})"
    fan = torch.jit.load(str(path), map_location=device).eval()

    def landmarks(frames: Tensor) -> np.ndarray:
        out = []
        for i in range(0, len(frames), 16):
            x = F.interpolate(frames[i:i + 16].to(device), size=(256, 256), mode="bilinear", align_corners=False)
            heat = fan(x).detach().float().cpu().numpy()
            pts = get_preds_fromhm(heat)[0]  # (N, 68, 2) in heatmap pixels
            out.append(np.asarray(pts, np.float32) * (size / heat.shape[-1]))
        return np.concatenate(out)

    return landmarks, f"face_alignment 2DFAN4 ({path.name})"



def _uint8_frames(frames: Tensor) -> np.ndarray:
    """(N,3,S,S) float in [0,1] -> (N,S,S,3) uint8, the images dlib reads."""
    return frames.detach().float().clamp(0, 1).mul(255).round().byte().permute(0, 2, 3, 1).cpu().numpy()


def _dlib_landmarks(crop_scale: float) -> tuple[Callable[[Tensor], np.ndarray] | None, str]:
    """dlib's 68-point shape predictor on the (already cropped) faces, when dlib is installed."""
    from lstmgan.face.dlib_models import CROP_UPSCALE, LANDMARKS_68, DlibCropModels, dlib_unavailable

    reason = dlib_unavailable()
    if reason:
        return None, f"unavailable: {reason}"
    models = DlibCropModels(crop_scale=crop_scale)
    return (lambda x: models.landmarks(_uint8_frames(x))), f"dlib {LANDMARKS_68} (crops at {CROP_UPSCALE} px)"


def _dlib_embedding(crop_scale: float) -> tuple[Callable[[Tensor], Tensor] | None, str]:
    """dlib's ResNet face descriptor (128-d) on the (already cropped) faces, when dlib is installed.

    Its raw descriptors are used (not re-normalised): dlib's "same person" threshold is a euclidean
    distance of 0.6, i.e. a squared distance (AED) of 0.36.
    """
    from lstmgan.face.dlib_models import EMBEDDING, DlibCropModels, dlib_unavailable

    reason = dlib_unavailable()
    if reason:
        return None, f"unavailable: {reason}"
    models = DlibCropModels(crop_scale=crop_scale)
    return (lambda x: torch.from_numpy(models.embed(_uint8_frames(x)))), f"dlib {EMBEDDING}"
