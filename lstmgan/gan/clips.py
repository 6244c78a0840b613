"""Training samples for the GAN: a source frame and a driving clip of the same video.

A sample is ``(source, driving)``: ``source`` is one frame (3, S, S) and ``driving`` is ``T``
consecutive frames (T, 3, S, S) of the same video, both float in [0, 1]. Frames come from the
store's memory-mapped frame cache (``cache/frames.npy``), so no video is decoded while training.

* :class:`ClipDataset` (training): one sample per possible clip start of every video in a split.
  With ``clips`` = n > 1 (``gan.train.tbptt_clips``) a sample's driving frames are n consecutive
  clips of the video (n * T frames, starts only where they fit), which training cuts into clips
  and runs in order with the generator's recurrent state carried from one to the next.
  The source frame is drawn at random from the same video (and, with ``degraded`` > 0, whether the
  keypoint detector reads the store's degraded copy of the driving frames while the loss keeps the
  clean ones), with a generator seeded by ``(seed, epoch, index)`` only, so a sample never depends on worker processes, on the order
  in which samples are read, or on the global RNG: resuming mid-epoch reads the same samples.
* :class:`FixedClipDataset` (validation): a fixed, deterministic list of samples (the video's
  first frame as source, as in the first-order-motion reconstruction protocol, and clips at
  evenly spaced starts), identical on every run and every process.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from lstmgan.errors import UserError


def _to_tensor(frames: np.ndarray):
    """uint8 (..., S, S, 3) -> float32 tensor (..., 3, S, S) in [0, 1]."""
    import torch

    array = np.array(frames, dtype=np.uint8)  # a writable copy of the memory-mapped rows
    tensor = torch.from_numpy(array).float().div_(255.0)
    return tensor.movedim(-1, -3).contiguous()


def _float_tensor(array: np.ndarray):
    """A float32 tensor copy of ``array`` (e.g. memory-mapped landmark rows)."""
    import torch

    return torch.from_numpy(np.array(array, dtype=np.float32))


@dataclass(frozen=True)
class ClipRef:
    """Where a sample's frames are: video, source frame index, first driving frame index, and
    whether the keypoint detector sees the store's degraded copy of the driving frames."""

    video_id: str
    source: int
    start: int
    degraded: bool = False


class _StoreClips:
    """Shared part: the store, the videos of one split that are long enough for a sample's
    ``window`` = ``clips`` x ``clip_len`` driving frames."""

    def __init__(self, store, split: str, clip_len: int, clips: int = 1):
        if clip_len < 1:
            raise UserError(f"gan.train.clip_len must be >= 1, got {clip_len}")
        if clips < 1:
            raise UserError(f"gan.train.tbptt_clips must be >= 1, got {clips}")
        self.store = store
        self.split = split
        self.clip_len = clip_len
        self.clips = clips
        self.window = clip_len * clips
        records = sorted(store.split(split), key=lambda r: r.video_id)
        self.videos = [r for r in records if int(r.frames) >= self.window]
        if not self.videos:
            where = getattr(store, "root", "the data set")
            lower = "gan.train.clip_len" if clips == 1 else "gan.train.clip_len or gan.train.tbptt_clips"
            raise UserError(f"{where}: no {split!r} video has {self.window} frames or more; "
                            f"prepare a data set with a {split} split or lower {lower}")

    def __getstate__(self) -> dict:
        """Pickle (for data-loader workers) without the memory-mapped arrays: reopen by path."""
        state = dict(self.__dict__)
        state["store"] = None
        state["_store_root"] = str(self.store.root)
        return state

    def __setstate__(self, state: dict) -> None:
        from lstmgan.media.store import FaceStore

        root = state.pop("_store_root")
        self.__dict__.update(state)
        self.store = FaceStore(root)

    def _load(self, ref: ClipRef):
        frames = self.store.frames(ref.video_id)
        source = _to_tensor(frames[ref.source])
        driving = _to_tensor(frames[ref.start:ref.start + self.window])
        return source, driving

    def _load_with_kp_frames(self, ref: ClipRef):
        """(source, driving, keypoint frames): the frames the keypoint detector reads are the
        degraded copy when ``ref.degraded``, else the clean driving frames themselves."""
        source, driving = self._load(ref)
        if not ref.degraded:
            return source, driving, driving
        kp_frames = _to_tensor(self.store.degraded(ref.video_id)[ref.start:ref.start + self.window])
        return source, driving, kp_frames


class ClipDataset(_StoreClips):
    """Every clip start of every video in ``split``, with a random source frame of that video.

    Call :meth:`set_epoch` at each epoch (as with ``DistributedSampler``) so that the source
    frames differ between epochs yet stay reproducible. ``clips`` consecutive clips per sample
    (driving ``clips * clip_len`` frames); 1 gives exactly the single-clip samples.
    """

    def __init__(self, store, split: str, clip_len: int, seed: int = 0, degraded: float = 0.0,
                 clips: int = 1, landmarks: bool = False):
        super().__init__(store, split, clip_len, clips)
        if not 0.0 <= degraded <= 1.0:
            raise UserError(f"gan.train.degraded_driving must be in [0, 1], got {degraded}")
        if degraded > 0 and not getattr(store, "has_degraded", False):
            raise UserError(f"{getattr(store, 'root', 'the data set')}: gan.train.degraded_driving is {degraded} "
                            "but the store has no degraded copy; set data.degrade.enabled: true and rerun "
                            "`dvc repro prepare`, or set gan.train.degraded_driving: 0")
        self.seed = seed
        self.degraded = float(degraded)
        self.landmarks = bool(landmarks)
        self.epoch = 0
        starts = [int(r.frames) - self.window + 1 for r in self.videos]
        self._cumulative = np.cumsum([0] + starts)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return int(self._cumulative[-1])

    def ref(self, index: int) -> ClipRef:
        """The video, source frame and clip start of sample ``index`` in the current epoch."""
        if not 0 <= index < len(self):
            raise IndexError(index)
        video = int(np.searchsorted(self._cumulative, index, side="right") - 1)
        record = self.videos[video]
        start = int(index - self._cumulative[video])
        rng = np.random.default_rng([self.seed, self.epoch, index])
        source = int(rng.integers(int(record.frames)))
        # drawn after the source, and only when asked, so degraded_driving 0 reads the same samples
        degraded = bool(self.degraded > 0 and rng.random() < self.degraded)
        return ClipRef(record.video_id, source, start, degraded)

    def __getitem__(self, index: int):
        """(source, driving); (source, driving, keypoint frames) when ``degraded`` > 0; and
        (source, driving, keypoint frames, driving landmarks (T, 68, 2)) when ``landmarks``."""
        ref = self.ref(index)
        if self.landmarks:
            window = self.store.landmarks(ref.video_id)[ref.start:ref.start + self.window]
            return (*self._load_with_kp_frames(ref), _float_tensor(window))
        return self._load_with_kp_frames(ref) if self.degraded > 0 else self._load(ref)


class FixedClipDataset(_StoreClips):
    """``count`` deterministic samples: round-robin over videos and identities, evenly spaced starts.

    The source is each video's first frame and the clips are spread evenly over the rest of the
    video, so the copy-the-source baseline sees the video's whole range of motion (as in the
    first-order-motion reconstruction protocol, which drives every frame from the first one).
    """

    def __init__(self, store, split: str, clip_len: int, count: int):
        super().__init__(store, split, clip_len)
        # interleave identities (first video of each identity, then the second, ...) so that
        # any prefix of the list shows as many different people as possible
        rank_in_identity: dict[str, int] = {}
        keyed = []
        for record in self.videos:
            rank = rank_in_identity.get(record.identity, 0)
            rank_in_identity[record.identity] = rank + 1
            keyed.append(((rank, record.identity, record.video_id), record))
        self.videos = [record for _, record in sorted(keyed, key=lambda item: item[0])]
        per_video = -(-count // len(self.videos))  # ceil
        refs: list[list[ClipRef]] = []
        for record in self.videos:
            frames = int(record.frames)
            first = 1 if frames > clip_len else 0
            last = frames - clip_len
            # centres of per_video equal segments of [first, last]: the clips cover the video
            # evenly, like the reconstruction protocol's "every frame from the first one"
            starts = (first + (np.arange(per_video) + 0.5) * (last - first) / per_video).round().astype(int)
            refs.append([ClipRef(record.video_id, 0, int(s)) for s in starts])
        # round-robin so that any prefix covers as many videos as possible
        self.refs: list[ClipRef] = [group[i] for i in range(per_video) for group in refs][:count]

    def __len__(self) -> int:
        return len(self.refs)

    def __getitem__(self, index: int):
        return self._load(self.refs[index])


def fixed_batches(dataset: FixedClipDataset, batch_size: int) -> Sequence[tuple]:
    """The validation set as a list of collated ``(source, driving)`` batches (kept in memory)."""
    import torch

    batches = []
    for begin in range(0, len(dataset), batch_size):
        items = [dataset[i] for i in range(begin, min(begin + batch_size, len(dataset)))]
        batches.append((torch.stack([s for s, _ in items]), torch.stack([d for _, d in items])))
    return batches
