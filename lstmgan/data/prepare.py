"""The data stage: make the face-video store from ``params.yaml``'s ``data`` section.

``data.source == "synth"`` draws the embedded procedural talking faces (:mod:`lstmgan.data.synth`);
any other value is a path to real data, cropped by :mod:`lstmgan.data.ingest`. With
``data.degrade.enabled`` every video then gets a degraded copy beside its clean frames
(:mod:`lstmgan.data.degrade`: sensor noise, camera shake, light flicker, motion blur). Then every CRF in
``data.crf`` gets an FF++-style H.264 copy ``<out>/c<crf>/<split>/<video_id>.mp4`` beside ``raw/``.

The whole store (raw, cache, compressed copies) is built under a temporary name and renamed when
complete, so an interrupted run never leaves a data set that looks whole.
"""
from __future__ import annotations

import logging
from pathlib import Path

from lstmgan.config import Params
from lstmgan.errors import UserError
from lstmgan.utils.io import atomic_dir

log = logging.getLogger(__name__)


def prepare(params: Params, out: str | Path | None = None) -> Path:
    """Build the data set described by ``params.data`` at ``out`` (default ``data.out``); return it."""
    from lstmgan.utils.progress import progress as tqdm  # off unless someone watches

    from lstmgan.data.compress import compress_store

    data = params.data
    out = Path(out or data.out)
    with atomic_dir(out) as tmp:
        if data.source == "synth":
            from lstmgan.data.synth import synthesize

            log.info("prepare: synthetic talking faces, %d identities x %d videos x %d frames at %d px",
                     data.identities, data.videos_per_identity, data.frames, data.size)
            synthesize(tmp, identities=data.identities, videos_per_identity=data.videos_per_identity,
                       frames=data.frames, size=data.size, fps=data.fps,
                       val_identities=data.val_identities, test_identities=data.test_identities,
                       seed=params.seed, progress=lambda jobs: tqdm(jobs, desc="synth", unit="video"),
                       motion=data.motion)
        else:
            from lstmgan.data.ingest import ingest_from_params

            src = Path(data.source).expanduser()
            if not src.exists():
                raise UserError(f"params data.source: {src} does not exist; set data.source to a data "
                                "set folder or to synth")
            log.info("prepare: ingesting real data from %s", src)
            ingest_from_params(src, tmp, data, seed=params.seed)
        if data.degrade.enabled:
            from lstmgan.data.degrade import degrade_store

            degrade_store(tmp, data.degrade, params.seed)
        for crf in data.crf:
            compress_store(tmp, crf)
    log.info("prepare: data set ready at %s (raw%s%s)", out, ", degraded" if data.degrade.enabled else "",
             "".join(f", c{c}" for c in data.crf))
    return out
