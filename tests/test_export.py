"""The exported detection data set: layout, labels, identity-disjoint splits, provenance tags."""
from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from lstmgan.errors import UserError
from lstmgan.generate.export import MANIFEST_FIELDS, plan_export, split_identities


def test_split_identities_is_disjoint_seeded_and_keeps_two_per_split() -> None:
    ids = [f"id{i:03d}" for i in range(8)]
    a = split_identities(ids, [0.5, 0.25, 0.25], seed=3)
    assert a == split_identities(ids, [0.5, 0.25, 0.25], seed=3)
    assert [len(a[s]) for s in ("train", "val", "test")] == [4, 2, 2]
    assert sorted(sum(a.values(), [])) == ids
    b = split_identities(ids[:6], [0.8, 0.1, 0.1], seed=0)  # the small splits are topped up to 2
    assert [len(b[s]) for s in ("train", "val", "test")] == [2, 2, 2]
    with pytest.raises(UserError, match="at least 6"):
        split_identities(ids[:5], [0.5, 0.25, 0.25], seed=0)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    from test_evaluate import small_setup

    from lstmgan.generate.export import export_dataset

    tmp = tmp_path_factory.mktemp("export")
    store, params, checkpoints = small_setup(tmp, frames=8)
    params.generate.export_frame_step = 3
    params.generate.export_source = "store"
    summary = export_dataset(params, store, "cpu", checkpoints)
    return Path(params.generate.out), store, summary


@pytest.fixture(scope="module")
def pool_exported(tmp_path_factory):
    """The default export: a tiny detection pool (people 1000.., none in the GAN's store)."""
    from test_evaluate import small_setup

    from lstmgan.data.pool import make_pool
    from lstmgan.generate.export import export_dataset
    from lstmgan.media.store import FaceStore

    tmp = tmp_path_factory.mktemp("pool_export")
    store, params, checkpoints = small_setup(tmp, frames=8)
    params.data.identities = 10
    p = params.pool
    p.out, p.identities, p.val_identities, p.test_identities, p.frames = str(tmp / "pool"), 10, 3, 3, 6
    make_pool(params)
    params.generate.export_frame_step = 3
    params.generate.export_crf = [40]
    summary = export_dataset(params, store, "cpu", checkpoints)
    return Path(params.generate.out), store, FaceStore(tmp / "pool"), summary


def test_pool_export_balances_real_and_fake_per_identity(pool_exported) -> None:
    root, store, pool, summary = pool_exported
    rows = [r for r in _manifest(root) if r["compression"] == "raw"]
    assert summary["export_source"] == "pool" and summary["source_store"] == str(pool.root)
    per_identity = Counter((r["source_identity"], r["label"]) for r in rows)
    people = {r["source_identity"] for r in rows}
    assert len(people) == 10 and all(i >= "id1000" for i in people)
    assert not people & set(store.identities())  # nobody the GAN's store holds
    for ident in people:  # one real and one fake video per person, 2 frames each (6 frames, step 3)
        assert per_identity[(ident, "real")] == per_identity[(ident, "fake")] == 2
    split = {}
    for r in rows:  # identity-disjoint, and the pool's own split; a fake's motion comes from another person of it
        assert split.setdefault(r["source_identity"], r["split"]) == r["split"] == pool.record(
            r["driving_video"]).split
        if r["label"] == "fake":
            method, src, drv = r["video_id"].split("__")
            assert pool.record(src).identity == r["source_identity"] != pool.record(drv).identity
    assert Counter(split.values()) == {"train": 4, "val": 3, "test": 3}
    assert {r["method"] for r in rows if r["label"] == "fake"} == {"lstm", "none"}
    assert "same face" in (root / "DATASET.md").read_text()


def test_pool_is_disjoint_from_the_gan_store_and_refuses_overlap(tmp_path) -> None:
    from lstmgan.config import Params
    from lstmgan.data.pool import make_pool

    params = Params()
    params.pool.first_identity = 5
    with pytest.raises(UserError, match="first_identity"):
        make_pool(params, tmp_path / "pool")


def _manifest(root: Path) -> list[dict[str, str]]:
    with (root / "manifest.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_layout_and_manifest(exported) -> None:
    root, store, summary = exported
    rows = _manifest(root)
    assert tuple(rows[0].keys()) == MANIFEST_FIELDS
    assert {r["compression"] for r in rows} == {"raw", "c23", "c40"}
    for r in rows:
        path = root / r["path"]
        assert path.is_file()
        assert r["path"] == f"{r['compression']}/{r['split']}/{r['label']}/frames/{r['video_id']}_{int(r['frame']):04d}.png"
        assert (root / r["compression"] / r["split"] / r["label"] / "videos" / f"{r['video_id']}.mp4").is_file()
    assert {int(r["frame"]) for r in rows} == {0, 3, 6}  # every 3rd of 8 frames
    # fakes are named <method>__<source video>__<driving video> and have both methods
    fakes = [r for r in rows if r["label"] == "fake"]
    assert {r["method"] for r in fakes} == {"lstm", "none"}
    for r in fakes:
        method, src, drv = r["video_id"].split("__")
        assert method == r["method"] and drv == r["driving_video"]
        assert store.record(src).identity == r["source_identity"] != store.record(drv).identity
    assert {r["method"] for r in rows if r["label"] == "real"} == {"original"}
    assert (root / "DATASET.md").read_text().count("synthetic") >= 1
    assert json.loads((root / "dataset.json").read_text())["videos"] == summary["videos"]


def test_balanced_identity_disjoint_and_only_unseen_identities(exported) -> None:
    root, store, _ = exported
    rows = [r for r in _manifest(root) if r["compression"] == "raw"]
    labels = Counter(r["label"] for r in rows)
    assert labels["real"] == labels["fake"]
    methods = Counter(r["method"] for r in rows if r["label"] == "fake")
    assert abs(methods["lstm"] - methods["none"]) <= 2 * 3  # at most one video per split apart
    gan_train = set(store.identities("train"))
    split_of_identity: dict[str, str] = {}
    for r in rows:
        for ident in (r["source_identity"], store.record(r["driving_video"]).identity):
            assert ident not in gan_train
            assert split_of_identity.setdefault(ident, r["split"]) == r["split"]
    assert set(split_of_identity.values()) == {"train", "val", "test"}


def test_provenance_in_png_and_mp4(exported) -> None:
    from PIL import Image

    from lstmgan.media.video import video_metadata

    root, _, _ = exported
    rows = _manifest(root)
    fake = next(r for r in rows if r["label"] == "fake" and r["compression"] == "c40")
    real = next(r for r in rows if r["label"] == "real")
    with Image.open(root / fake["path"]) as img:
        assert img.text["Synthetic"] == "true" and "lstmgan" in img.text["Software"]
        assert fake["method"] in img.text["Generator"]
    with Image.open(root / real["path"]) as img:
        assert img.text["Synthetic"] == "false"
    video = root / "c40" / fake["split"] / "fake" / "videos" / f"{fake['video_id']}.mp4"
    tags = video_metadata(video)
    assert "SYNTHETIC" in tags["title"] and "lstmgan" in tags["comment"]


def test_raw_frames_are_exact_and_c40_is_lossy(exported) -> None:
    root, store, _ = exported
    rows = _manifest(root)
    from PIL import Image

    real = next(r for r in rows if r["label"] == "real" and r["compression"] == "raw")
    raw = np.asarray(Image.open(root / real["path"]))
    np.testing.assert_array_equal(raw, np.asarray(store.frames(real["video_id"])[int(real["frame"])]))
    c40 = root / real["path"].replace("raw/", "c40/", 1)
    lossy = np.asarray(Image.open(c40)).astype(int)
    assert 0 < np.abs(lossy - raw.astype(int)).mean() < 40


def test_plan_needs_val_test_identities(tmp_path) -> None:
    from lstmgan.media.store import FaceStore
    from lstmgan.data.synth import synthesize

    synthesize(tmp_path / "f", identities=3, videos_per_identity=1, frames=2, size=64, val_identities=1,
               test_identities=1, write_videos=False)
    with pytest.raises(UserError, match="identities"):
        plan_export(FaceStore(tmp_path / "f"), ["lstm"], [0.5, 0.25, 0.25], 0)


def test_cli_errors(tmp_path, capsys) -> None:
    from lstmgan.cli import main

    assert main(["export", "--params", str(tmp_path / "missing.yaml")]) == 2
    assert "missing.yaml" in capsys.readouterr().err
    assert main(["evaluate", "--checkpoint", "no-equals-sign"]) == 2
    assert "METHOD=PATH" in capsys.readouterr().err
    from test_evaluate import small_setup

    store, params, _ = small_setup(tmp_path, identities=10, frames=2)
    params_file = tmp_path / "params.yaml"
    import yaml

    params_file.write_text(yaml.safe_dump(params.to_dict()))
    for cmd in ("evaluate", "export"):
        assert main([cmd, "--params", str(params_file), "--checkpoint", f"lstm={tmp_path / 'nope.pt'}"]) == 2
        err = capsys.readouterr().err.strip().splitlines()[-1]  # earlier lines: the fixture's logging
        assert "nope.pt" in err and err.startswith(f"lstmgan {cmd}: error:")
    assert not (tmp_path / "deepfakes").exists() and not (tmp_path / "evalnets").exists()
