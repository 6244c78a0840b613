"""dlib's face models: speed on scikit-image's astronaut photo, and landmark accuracy on the embedded
test split (drawn 64 px faces with ground-truth landmarks); docs/data.md describes the models.

Prints one JSON object. Landmark errors are mean |dlib - ground truth| in pixels of the 64 px crop,
one value per test video, with 95% bootstrap intervals over videos (lstmgan.utils.stats). Needs the
embedded store (`lstmgan synth --out data/faces --no-videos` or `dvc repro prepare`):

    .venv/bin/python bench/dlib_faces.py --store data/faces
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _best(fn, repeats: int = 5) -> float:
    """Best wall time of ``repeats`` calls after one warm-up (the least disturbed on a shared machine)."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def speed() -> dict[str, float]:
    import skimage.data

    from lstmgan.face.detection import reduce_frame
    from lstmgan.face.dlib_models import embedding, hog_faces, landmarks68

    photo = skimage.data.astronaut()
    small, _ = reduce_frame(photo, 224)
    box = hog_faces(photo)[0]
    return {"hog_s_512px_upsample1": _best(lambda: hog_faces(photo, 1)),
            "hog_s_512px_upsample0": _best(lambda: hog_faces(photo, 0)),
            "hog_s_224px_upsample1": _best(lambda: hog_faces(small, 1)),
            "landmarks68_s": _best(lambda: landmarks68(photo, box), 20),
            "embedding_s": _best(lambda: embedding(photo, box), 3)}


def accuracy(store_path: str) -> dict[str, object]:
    from lstmgan.face.dlib_models import DlibCropModels
    from lstmgan.media.store import open_store
    from lstmgan.utils.stats import bootstrap_mean

    store = open_store(store_path)
    videos = store.split("test")
    out: dict[str, object] = {"videos": len(videos), "frames": int(sum(r.frames for r in videos))}
    modes = {"as_is_implied_box": dict(upscale=0, detect=False),
             "256px_implied_box": dict(upscale=256, detect=False),
             "256px_hog_else_implied_box": dict(upscale=256, detect=True)}  # what evaluation uses
    for name, kwargs in modes.items():
        models = DlibCropModels(**kwargs)
        errors, errors_detected, rates, order = [], [], [], []
        for r in videos:
            gt = np.asarray(store.landmarks(r.video_id))
            found, marks = [], []
            for frame in np.asarray(store.frames(r.video_id)):
                before = models.detections
                marks.append(models.landmarks(frame[None])[0])
                found.append(models.detections > before)
            marks, found = np.stack(marks), np.asarray(found)
            err = np.abs(marks - gt).mean(axis=(1, 2))
            errors.append(err.mean())
            rates.append(found.mean())
            if found.any():
                errors_detected.append(err[found].mean())
            eyes, mouth = marks[:, 36:48, 1].mean(1), marks[:, 48:68, 1].mean(1)
            order.append(((eyes < marks[:, 30, 1]) & (marks[:, 30, 1] < mouth)).mean())
        row = {"mae_px": bootstrap_mean(errors).as_dict(), "nose_between_eyes_and_mouth": float(np.mean(order))}
        if kwargs["detect"]:
            row["hog_detection_rate"] = bootstrap_mean(rates).as_dict()
            row["mae_px_on_detected_frames"] = bootstrap_mean(errors_detected).as_dict()
        out[name] = row
    # identity: the first frame of each test video; two videos per drawn identity
    emb = DlibCropModels().embed(np.stack([np.asarray(store.frames(r.video_id)[0]) for r in videos]))
    ids = np.asarray([r.identity for r in videos])
    dist = np.linalg.norm(emb[:, None] - emb[None], axis=-1)
    same = (ids[:, None] == ids[None]) & ~np.eye(len(ids), dtype=bool)
    diff = ids[:, None] != ids[None]
    out["embedding"] = {"same_identity_mean_distance": float(dist[same].mean()),
                        "different_identity_mean_distance": float(dist[diff].mean()),
                        "different_pairs_below_0.6": float((dist[diff] < 0.6).mean())}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", default="data/faces", help="the embedded store (default data/faces)")
    args = parser.parse_args()
    from lstmgan.face.dlib_models import dlib_unavailable

    reason = dlib_unavailable()
    if reason:
        print(json.dumps({"skipped": reason}))
        return
    result: dict[str, object] = {"speed": speed()}
    if Path(args.store, "cache", "frames.npy").is_file():
        result["embedded_test_split"] = accuracy(args.store)
    else:
        result["embedded_test_split"] = f"skipped: no store at {args.store}"
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
