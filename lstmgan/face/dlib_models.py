"""dlib's face models, offline: HOG face boxes, 68 iBUG landmarks and a 128-d identity embedding.

The code is ``dlib`` (the ``dlib-bin`` binary wheel on the package registry: no compiler needed);
the model files come from the ``face-recognition-models`` package (data only, installed with the
rest of requirements.txt), so nothing is ever downloaded at run time:

* ``shape_predictor_68_face_landmarks.dat``: the 68 iBUG 300-W landmarks (ensemble of regression
  trees); its training data's terms exclude commercial use (docs/data.md);
* ``dlib_face_recognition_resnet_model_v1.dat``: a ResNet giving a 128-d face descriptor on a
  150 x 150 chip aligned by the landmarks (same person: distance below about 0.6);
* boxes from ``dlib.get_frontal_face_detector()`` (HOG + linear SVM, built into dlib).

The package's own helpers (``face_recognition_models.pose_predictor_model_location()`` ...) import
``pkg_resources``, which current setuptools no longer ships, so the files are located here from
the package's folder without importing it.

Two users: :class:`DlibDetector` is a :class:`~lstmgan.face.detection.FaceDetector` for full frames
(ingestion, ``lstmgan animate``); :class:`DlibCropModels` measures landmarks and identity on faces
that are already square crops (evaluation on real data: AKD and AED).
"""
from __future__ import annotations

import importlib.util
import logging
from functools import lru_cache
from pathlib import Path

import numpy as np

from lstmgan.errors import UserError
from lstmgan.face.detection import FaceDetector

log = logging.getLogger(__name__)

LANDMARKS_68 = "shape_predictor_68_face_landmarks.dat"
EMBEDDING = "dlib_face_recognition_resnet_model_v1.dat"
INSTALL_HINT = "install them with `pip install dlib-bin==20.0.1.post1 face-recognition-models==0.3.0` (requirements.txt)"

# HOG detections scoring below this are dropped: at upsample 1 the detector also reports weak
# false faces (0.12 on scikit-image's astronaut photo, whose real face scores 1.16).
DLIB_MIN_SCORE = 0.3
DLIB_UPSAMPLE = 1  # image pyramid upsampling: finds faces down to about 40 px (80 px without)
# Evaluation on square crops: crops are enlarged to this side before dlib (its models are trained
# on faces of about 80-250 px; the store's crops are often 64 px).
CROP_UPSCALE = 256
CHIP_SIZE = 150  # the ResNet's input (aligned face chip), padding 0.25 as in dlib's examples
CHIP_PADDING = 0.25


def models_folder() -> Path | None:
    """The ``models/`` folder of the installed face-recognition-models package (None if absent)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "models"


def dlib_unavailable() -> str | None:
    """Why dlib's models cannot be used here (one line), or None when they can."""
    try:
        import dlib  # noqa: F401
    except ImportError as exc:
        return f"dlib not importable ({exc}); {INSTALL_HINT}"
    folder = models_folder()
    if folder is None:
        return f"the face-recognition-models package is not installed; {INSTALL_HINT}"
    missing = [name for name in (LANDMARKS_68, EMBEDDING) if not (folder / name).is_file()]
    if missing:
        return f"{', '.join(missing)} missing from {folder}; reinstall face-recognition-models==0.3.0"
    return None


def _require() -> Path:
    reason = dlib_unavailable()
    if reason:
        raise UserError(f"dlib face models unavailable: {reason}")
    return models_folder()  # type: ignore[return-value]


@lru_cache(maxsize=None)
def _hog():
    import dlib

    _require()
    return dlib.get_frontal_face_detector()


@lru_cache(maxsize=None)
def _predictor():
    import dlib

    return dlib.shape_predictor(str(_require() / LANDMARKS_68))


@lru_cache(maxsize=None)
def _recogniser():
    import dlib

    return dlib.face_recognition_model_v1(str(_require() / EMBEDDING))


def _rgb(image: np.ndarray) -> np.ndarray:
    """A C-contiguous uint8 RGB copy/view of ``image`` (dlib accepts nothing else)."""
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.stack([image] * 3, -1)
    if image.dtype != np.uint8:
        image = np.clip(image * (255.0 if image.max() <= 1.0 else 1.0), 0, 255).round().astype(np.uint8)
    return np.ascontiguousarray(image[..., :3])


def _rect(box: np.ndarray):
    import dlib

    x0, y0, x1, y1 = (int(round(float(v))) for v in box[:4])
    return dlib.rectangle(x0, y0, x1, y1)


def _points(shape) -> np.ndarray:
    return np.asarray([(p.x, p.y) for p in shape.parts()], np.float32)


def hog_faces(image: np.ndarray, upsample: int = DLIB_UPSAMPLE, min_score: float = DLIB_MIN_SCORE) -> np.ndarray:
    """(N, 5) rows ``x0, y0, x1, y1, score`` of dlib's HOG detector, largest first."""
    rects, scores, _ = _hog().run(_rgb(image), upsample, 0.0)
    rows = [(r.left(), r.top(), r.right(), r.bottom(), s) for r, s in zip(rects, scores) if s >= min_score]
    out = np.asarray(rows, np.float32).reshape(-1, 5)
    return out[np.argsort(-(out[:, 2] - out[:, 0]) * (out[:, 3] - out[:, 1]), kind="stable")]


def landmarks68(image: np.ndarray, box: np.ndarray) -> np.ndarray:
    """(68, 2) iBUG landmarks (x, y) in ``image`` pixels for the face in ``box`` (x0, y0, x1, y1)."""
    return _points(_predictor()(_rgb(image), _rect(box)))


def embedding(image: np.ndarray, box: np.ndarray) -> np.ndarray:
    """The 128-d identity descriptor of the face in ``box`` (aligned by its 68 landmarks)."""
    img = _rgb(image)
    shape = _predictor()(img, _rect(box))
    return np.asarray(_recogniser().compute_face_descriptor(img, shape), np.float32)


class DlibDetector(FaceDetector):
    """dlib's HOG face boxes and 68-point landmarks (CPU, about 0.1-0.4 s per 512 px frame here)."""

    name = "dlib"
    has_landmarks = True

    def __init__(self, upsample: int = DLIB_UPSAMPLE, min_score: float = DLIB_MIN_SCORE):
        _require()
        self.upsample = upsample
        self.min_score = min_score

    def detect(self, image: np.ndarray, min_size: int | None = None, max_size: int | None = None) -> np.ndarray:
        faces = hog_faces(image, self.upsample, self.min_score)
        side = np.maximum(faces[:, 2] - faces[:, 0], faces[:, 3] - faces[:, 1])
        keep = np.ones(len(faces), bool)
        if min_size:
            keep &= side >= min_size
        if max_size:
            keep &= side <= max_size
        return faces[keep]

    def landmarks(self, image: np.ndarray, box: np.ndarray) -> np.ndarray | None:
        return landmarks68(image, box)


class DlibCropModels:
    """Landmarks and identity embeddings of faces that are already square crops (the store's frames).

    Each crop is enlarged to ``upscale`` px (dlib's models are trained on faces of about 80-250 px;
    the store's crops are often 64 px). The face box is dlib's HOG detection there when it finds
    one, else the box the crop rule implies: the central square of side ``1 / crop_scale`` of the
    crop (ingestion cut each crop as ``crop_scale`` x the face box, centred). Measured on the
    embedded drawn faces (test split, 64 px crops enlarged to 256 px): HOG finds 72% of them, and
    its box gives landmarks 0.83 px from the ground truth against 3.3 px for the implied box, whose
    proportions differ from a dlib box there (docs/data.md). ``detect=False`` uses the implied box
    everywhere.
    """

    def __init__(self, crop_scale: float = 1.3, upscale: int = CROP_UPSCALE, detect: bool = True):
        _require()
        self.crop_scale = crop_scale
        self.upscale = upscale
        self.detect = detect
        self.detections = 0  # crops where the HOG detector found the face (detect=True)
        self.crops = 0

    def _prepare(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        from PIL import Image

        frame = _rgb(frame)
        size = frame.shape[0]
        scale = self.upscale / size if self.upscale else 1.0
        big = np.asarray(Image.fromarray(frame).resize((round(size * scale),) * 2, Image.BICUBIC)) \
            if scale != 1.0 else frame
        side = big.shape[0] / self.crop_scale
        lo = (big.shape[0] - side) / 2
        box = np.asarray([lo, lo, lo + side, lo + side], np.float32)
        self.crops += 1
        if self.detect:
            found = hog_faces(big, upsample=0)
            if len(found):
                box = found[0, :4]
                self.detections += 1
        return big, box, scale

    def landmarks(self, frames: np.ndarray) -> np.ndarray:
        """(N, S, S, 3) uint8 crops -> (N, 68, 2) landmarks in pixels of the S x S crop."""
        out = []
        for frame in frames:
            big, box, scale = self._prepare(frame)
            pts = landmarks68(big, box)
            out.append((pts + 0.5) / scale - 0.5)  # pixel centres at integers in both sizes
        return np.stack(out).astype(np.float32) if out else np.zeros((0, 68, 2), np.float32)

    def embed(self, frames: np.ndarray) -> np.ndarray:
        """(N, S, S, 3) uint8 crops -> (N, 128) identity descriptors (dlib's ResNet)."""
        import dlib

        chips = []
        for frame in frames:
            big, box, _ = self._prepare(frame)
            shape = _predictor()(big, _rect(box))
            chips.append(dlib.get_face_chip(big, shape, size=CHIP_SIZE, padding=CHIP_PADDING))
        if not chips:
            return np.zeros((0, 128), np.float32)
        return np.asarray(_recogniser().compute_face_descriptor(chips), np.float32)
