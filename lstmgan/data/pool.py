"""The detection pool: a second, small face-video store of people the GAN never trained on.

The detectors must learn generation artefacts, not people, so they need many identities and each
identity on both sides (real and fake). The pool draws ``pool.identities`` procedural faces
numbered from ``pool.first_identity`` (disjoint from the GAN's store), ``pool.videos_per_identity``
short videos each, already split identity-disjoint into the *detection* train / val / test (the
store's own split names). The generate stage's export animates it: every real video of the pool is
paired with a fake showing the same face with another pool identity's motion.
"""
from __future__ import annotations

import logging
from pathlib import Path

from lstmgan.config import Params
from lstmgan.errors import UserError

log = logging.getLogger(__name__)


def make_pool(params: Params, out: str | Path | None = None) -> Path:
    """Write the pool store described by ``params.pool`` (frames at ``data.size``) and return it."""
    from lstmgan.data.synth import synthesize

    pool = params.pool
    if params.data.source != "synth":
        log.info("pool: data.source is real data; the pool is still procedural (identities the GAN never saw)")
    if pool.first_identity < params.data.identities and params.data.source == "synth":
        raise UserError(f"params.yaml: pool.first_identity ({pool.first_identity}) must be >= data.identities "
                        f"({params.data.identities}) so the pool shares no face with the GAN's training store")
    out = Path(out or pool.out)
    synthesize(out, identities=pool.identities, videos_per_identity=pool.videos_per_identity,
               frames=pool.frames, size=params.data.size, fps=params.data.fps,
               val_identities=pool.val_identities, test_identities=pool.test_identities,
               seed=params.seed, write_videos=False, first_identity=pool.first_identity,
               motion=params.data.motion)
    log.info("pool: %d identities (%d val, %d test) x %d video(s) x %d frames -> %s", pool.identities,
             pool.val_identities, pool.test_identities, pool.videos_per_identity, pool.frames, out)
    return out
