"""The generators' model card (``report.model_card``, MODEL_CARD.md), written by the report stage.

What the models are and are for, what they must not be used for, what they learned from, their
measured quality and detectability (read from this run's metrics, with intervals), their limits,
and how their outputs are marked. Regenerated with REPORT.md, so its numbers never go stale.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from lstmgan.report import discuss as D
from lstmgan.report.gather import ReportData, num
from lstmgan.utils.tables import markdown_table

QUALITY = (("l1", "L1 (intensity in [0, 1], lower is better)"), ("akd", "AKD (pixels, lower is better)"),
           ("aed", "AED (identity distance, lower is better)"), ("flicker", "flicker (lower is better)"))


def _weights(path: Path) -> dict[str, Any]:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}


def quality_table(data: ReportData) -> str:
    ivs = D.method_intervals(data)
    methods = [m for m in ("lstm", "none", "copy-source") if m in ivs]
    if not methods:
        return "_No generation metrics in this run (run `dvc repro generate`)._\n"
    rows = [{"metric": label, **{m: D.iv_text(ivs[m].get(k)) for m in methods}} for k, label in QUALITY]
    return markdown_table(rows, ["metric", *methods])


def detectability(data: ReportData) -> str:
    rows = [r for r in data.detectors if math.isfinite(r["frame_auc"])]
    if not rows:
        return "No detector was trained in this run, so how detectable the fakes are is not measured here."
    best = max(rows, key=lambda r: r["frame_auc"])
    auc = D.iv_text(D.detector_value(data, best["run"], "auc"))
    c40 = num(best.get("auc_c40"))
    return (f"The best detector of this run, {best['run']}, separates real from generated test frames with "
            f"ROC-AUC {auc} (95% interval over test videos)"
            + (f"; on the H.264 CRF 40 copies its AUC is {c40:.3g} (point estimate)" if math.isfinite(c40) else "")
            + ". Heavy compression hides the generators' artefacts; do not treat one detector as a guarantee.")


def render_model_card(data: ReportData, weights_json: Path) -> str:
    p = data.params
    weights = _weights(weights_json)
    files = weights.get("files") or {}
    trained_on = weights.get("trained_on") or f"data.source = {p.data.source}"
    steps = sorted({m.get("steps") for m in data.train.values() if m.get("steps") is not None})
    file_rows = [{"file": f"lstmgan/weights/{name}", "what": info.get("what", ""),
                  "MB": round(num(info.get("bytes")) / 1e6, 2)} for name, info in files.items()]
    s = ["# Model card: lstmgan generators (`lstm`, `none`)\n",
         "Written by the report stage from this run's metrics (`dvc repro report`); the numbers below are "
         "this run's, with 95% intervals where the pipeline records them. [REPORT.md](reports/REPORT.md) "
         "has every result.\n",
         "## What they are\n",
         "Face-reenactment generators of the first-order-motion family: a keypoint detector (keypoints "
         "with local affine jacobians, some of them anchored to facial landmarks during training, the rest "
         "unsupervised), a dense-motion network (occlusion-aware flow) and a "
         "generator that warps the source face. `lstm` carries a ConvLSTM state across frames (the thesis "
         "model); `none` is the frame-by-frame baseline. Given one source face image and a driving video, "
         "they produce a video of the source face moving like the driver: a deepfake.\n",
         "## Intended use\n",
         "- Research on face animation and on temporal coherence (the thesis's question).\n",
         "- Making labelled synthetic data to train and test deepfake detectors (this project's detection "
         "stage does exactly that).\n",
         "- Teaching: the notebooks step through how such fakes are made and found.\n",
         "## Out of scope: do not use them to\n",
         "- impersonate, defame, harass or deceive anyone, or make sexual or political content of real people;\n",
         "- animate a real person's face without that person's informed consent;\n",
         "- publish generated videos without saying they are synthetic, or strip the provenance tags below.\n",
         "## Training data\n",
         f"{trained_on[0].upper() + trained_on[1:]}; {p.data.identities} identities, {p.data.frames} frames per "
         f"video at {p.data.size} px. " + ("The faces are drawn by a procedural renderer with exact landmarks: "
                                            "no real person appears in the training data."
                                            if p.data.source == "synth" else
                                            "Check that data set's licence and consent terms before sharing "
                                            "models trained on it.")
         + (f" Training steps: {'/'.join(str(x) for x in steps)}." if steps else "") + "\n",
         "## Measured quality (test split, reconstruction protocol)\n",
         "The first frame of a test video is the source, the same video drives it; mean over test videos "
         "[95% bootstrap interval], `copy-source` = repeating the source frame:\n\n" + quality_table(data),
         "## Detectability\n",
         detectability(data) + "\n",
         "## Limits\n",
         f"- The default models work at {p.data.size} px and have seen only procedurally drawn faces: on real "
         "photographs expect blurred, smeared features and motion that is only roughly followed. Train on "
         "real talking heads (docs/data.md, docs/training.md) for real use.\n",
         "- What the source image does not show (teeth, a turned-away cheek, closed eyes) is painted by the "
         "decoder and is often wrong.\n",
         "- Large head turns and fast motion leave the keypoints' range; identity can leak from the driver.\n",
         "## Provenance of the outputs\n",
         "Every MP4 that `lstmgan animate` or the export writes carries container tags `title` "
         "\"SYNTHETIC (deepfake)\", `comment`/`description` naming the generator and the lstmgan version, and "
         "`artist` the generator; every exported PNG carries the same in text chunks. They are easy to strip: "
         "they label honest use, they do not prove anything.\n",
         "## Files\n",
         (markdown_table(file_rows, ["file", "what", "MB"], digits=2) if file_rows else
          "_The published weights are written by `dvc repro publish` (lstmgan/weights/)._\n"),
         "\nLicence: MIT (the code and these weights). Cite the thesis and this software (CITATION.cff).\n"]
    return "\n".join(s)
