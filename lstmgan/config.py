"""Typed configuration: ``params.yaml`` validated into dataclasses.

``params.yaml`` is the single source of configuration. Each top-level section maps to one
dataclass below; an unknown key, a missing section or a value of the wrong type is a
:class:`ConfigError` whose message names the file and the dotted key, e.g.
``params.yaml: gan.train.lr must be a number, got 'fast'``.

Overrides use the same dotted keys as DVC (``--set gan.train.lr=1e-4``); values are parsed as YAML,
so ``--set gan.temporal=none`` and ``--set data.crf=[23,40]`` work.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping, Sequence, Union, get_args, get_origin

import yaml

_YAML_ERRORS: tuple[type[Exception], ...] = (yaml.YAMLError,)


class ConfigError(ValueError):
    """A bad key or value in a params file; the message names the file and the key."""


# --------------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------------
@dataclass
class DegradeParams:
    """Capture realism of the store's degraded copy (lstmgan.data.degrade): what a webcam or a c23
    stream adds to a face video at 64 px. The clean frames and landmarks stay the ground truth; 0
    turns a component off."""

    enabled: bool = True  # write cache/degraded.npy and cache/degradation.npz beside the clean frames
    # sensor-noise sd range (0-255 levels) at mid grey, drawn per video; fresh noise every frame
    noise: list[float] = field(default_factory=lambda: [2.0, 6.0])
    shake_px: float = 0.4  # sd of the camera-shake translation (pixels), a smooth random process over frames
    flicker: float = 0.03  # sd of the per-frame global brightness gain around 1
    blur_exposure: float = 0.5  # blur length = this x the face's speed (px/frame): the exposure's share of a frame


@dataclass
class DataParams:
    """The data stage: where faces come from, how they are cropped, stored and compressed."""

    source: str = "synth"  # "synth" (embedded procedural faces) or a path to a real data set
    layout: Literal["auto", "fomm", "ffpp", "folder"] = "auto"  # for a real source
    out: str = "data/faces"  # the prepared data set (cached by DVC)
    size: int = 64  # square frame size in pixels
    fps: int = 25
    # embedded (synthetic) data set
    identities: int = 128
    val_identities: int = 12
    test_identities: int = 12
    videos_per_identity: int = 2
    frames: int = 48
    motion: Literal["calm", "expressive"] = "expressive"  # expressive: turns, nods, fast moves; calm: slow, small motion
    # real data ingestion
    face_detector: Literal["auto", "face_alignment", "dlib", "lbp"] = "auto"
    crop_scale: float = 1.3  # face box side = crop_scale * max(w, h), squared and clipped
    max_frames: int = 0  # per real video; 0 = all
    detect_every: int = 5  # run the face detector on every n-th frame, follow the face in between
    detect_size: int = 224  # detect on a copy of the frame reduced to this shorter side (pixels)
    smoothing: float = 2.0  # Gaussian sigma (frames) for smoothing face boxes over time; 0 = off
    val_fraction: float = 0.1  # real data: share of identities held out for val (seeded)
    test_fraction: float = 0.1  # real data without a given test split: share held out for test
    # FF++-style compressed copies (H.264 CRF), written beside raw/
    crf: list[int] = field(default_factory=lambda: [23, 40])
    # a degraded copy of every video (sensor noise, camera shake, light flicker, motion blur)
    degrade: DegradeParams = field(default_factory=DegradeParams)


@dataclass
class PoolParams:
    """The detection pool (stage ``pool``, lstmgan.data.pool): procedural identities the GAN never
    trained on, split identity-disjoint into the detection train/val/test and animated into fakes
    by the generate stage's export. Numbered from ``first_identity`` so no face is shared with the
    GAN's store (``data``, fewer identities under the same seed)."""

    out: str = "data/detect_pool"  # a second face-video store (cache + manifest, no MP4s)
    identities: int = 320  # people in the pool
    val_identities: int = 60  # detection validation identities (the rest before them: train)
    test_identities: int = 60  # detection test identities
    videos_per_identity: int = 1  # each gives one real and one fake video
    frames: int = 16  # frames per video
    first_identity: int = 1000  # identity numbers start here (the GAN's store uses 0..data.identities-1)


@dataclass
class GanModelParams:
    """Architecture of the networks (lstmgan.models); changing any of these retrains."""

    num_kp: int = 10  # unsupervised keypoints, each with a 2x2 jacobian
    # keypoint detector: hourglass on the frame downscaled by kp_scale_factor
    kp_block_expansion: int = 16
    kp_max_features: int = 128
    kp_num_blocks: int = 3
    kp_scale_factor: float = 0.5
    kp_temperature: float = 0.1  # heatmap softmax temperature
    estimate_jacobian: bool = True
    # dense motion: hourglass on the source downscaled by dm_scale_factor
    dm_block_expansion: int = 16
    dm_max_features: int = 128
    dm_num_blocks: int = 3
    dm_scale_factor: float = 0.5
    kp_variance: float = 0.01  # width of the keypoint Gaussians fed to the networks
    occlusion_bias: float = 4.0  # initial occlusion logit: start with the warped source visible
    decoder_motion: bool = False  # the decoder also sees the driving keypoints' moves (heatmap differences at the bottleneck)
    head_kernel: Literal[1, 3, 5, 7] = 7  # kernel of the output convolutions (keypoint heatmaps and jacobians, motion
    #                       mask and occlusion, the generator's image): FOMM's 7 at 256 px
    # generator: encoder -> warp -> ConvLSTM -> residual blocks -> decoder
    block_expansion: int = 16
    max_features: int = 128
    num_down_blocks: int = 2
    num_bottleneck_blocks: int = 2
    lstm_hidden: int = 32  # ConvLSTM hidden channels at the bottleneck
    lstm_kernel: int = 3
    kp_hidden: int = 64  # GRU width over the keypoint trajectories (temporal: kp)
    # discriminators (LSGAN patch critics)
    disc_scales: list[float] = field(default_factory=lambda: [1.0])
    disc_block_expansion: int = 16
    disc_num_blocks: int = 3
    disc_max_features: int = 128
    disc_use_kp: bool = True  # also feed the driving keypoint heatmaps
    disc_spectral_norm: bool = True
    temporal_disc: bool = False  # 3D-conv critic on clips (frames + differences)
    temporal_disc_block_expansion: int = 16
    temporal_disc_num_blocks: int = 3


@dataclass
class GanLossParams:
    """Loss weights (0 switches a term off) and the equivariance warp; changing any retrains."""

    pyramid_scales: list[float] = field(default_factory=lambda: [1.0, 0.5, 0.25, 0.125])
    reconstruction: float = 10.0  # L1 pyramid
    decoded_reconstruction: float = 10.0  # L1 pyramid on the decoder's own image: trains the painter the occlusion chooses
    perceptual: float = 10.0  # VGG19 pyramid, only when ImageNet VGG19 weights are cached
    face_parts: float = 0.0  # mean L1 inside the driver's mouth and eyes (boxes from its landmarks), each part as a frame
    decoded_face_parts: float = 0.0  # the same on the decoder's own image (before blending)
    face_parts_pad: float = 0.15  # the boxes' margin around their landmarks, x the inter-ocular distance
    occlusion_paint: float = 0.0  # -log(1 - occlusion) where the driver's mouth is open or an eye closes: the decoder draws them
    kp_landmarks: float = 10.0  # pulls keypoint k to landmark kp_anchors[k] on driving frames with landmarks
    # upper and lower lip, mouth corners, chin, nose tip, right and left upper eyelid (iBUG-300W indices)
    kp_anchors: list[int] = field(default_factory=lambda: [51, 57, 48, 54, 8, 30, 37, 44])
    equivariance_value: float = 10.0  # keypoints follow a random affine+TPS warp
    equivariance_jacobian: float = 10.0
    kp_spread: float = 10.0  # keeps keypoints apart (squared-distance margin below); 0 lets them collapse
    kp_spread_margin: float = 0.04
    gan: float = 0.1  # LSGAN generator term
    feature_matching: float = 1.0
    temporal: float = 20.0  # L1 of frame-to-frame changes vs the real ones (targets flicker)
    temporal_gan: float = 0.1  # with model.temporal_disc
    disc_decoded: float = 1.0  # D also judges the decoder's own image as fake (weight in D's fake half)
    gen_decoded: float = 0.0  # G's adversarial term on the decoder's own image (x gan); 0 keeps it D's clear negative
    disc_wrong_pose: float = 1.0  # D also judges real frames of another clip against these keypoints as fake
    transform_sigma_affine: float = 0.05
    transform_sigma_tps: float = 0.005
    transform_points_tps: int = 5


@dataclass
class GanTrainParams:
    """The optimisation (lstmgan.gan.train); changing any of these retrains."""

    steps: int = 400  # both variants side by side on a 2-core CPU (REPORT.md records the stage's time)
    batch_size: int = 4  # clips per step (per process under torchrun)
    clip_len: int = 8  # driving frames per clip (the ConvLSTM runs across them)
    # consecutive clips of one video per sample, the recurrent state carried from clip to clip with
    # its gradient cut (truncated backpropagation through time); 1 = independent clips from a zero state
    tbptt_clips: int = 1
    degraded_driving: float = 0.5  # share of clips whose keypoints are read from the degraded copy (loss: clean frames)
    lr: float = 4e-4  # 2x FOMM's, chosen on validation L1 at 400 steps (docs/history.md)
    lr_schedule: Literal["cosine", "constant"] = "cosine"  # after a linear warm-up
    warmup_steps: int = 50
    grad_clip: float = 1.0  # max gradient norm
    disc_lr_scale: float = 4.0  # the discriminators' learning rate = lr x this (two time-scale updates)
    disc_lr_schedule: Literal["cosine", "constant"] = "cosine"  # the discriminators' own schedule after the warm-up
    amp: Literal["auto", "bf16", "off"] = "auto"  # auto = bf16 autocast on CUDA, fp32 on CPU
    channels_last: bool = False


@dataclass
class GanRunParams:
    """Cadence and resources of a run: they change what is logged and when, never the model."""

    checkpoint_every: int = 400
    log_every: int = 25
    val_every: int = 100
    val_batches: int = 8
    num_workers: int = 0


@dataclass
class GanParams:
    """The LSTM-GAN: which variant, its networks, losses, optimisation and run cadence.

    Split so that DVC's ``train`` stage depends on ``gan.model``, ``gan.loss`` and ``gan.train``
    only: changing how often a run logs or checkpoints (``gan.run``) retrains nothing.
    """

    # lstm = the thesis model (ConvLSTM at the bottleneck); none = first-order-motion baseline;
    # kp = a GRU over the keypoint trajectories that refines the driving keypoints (targets jitter)
    temporal: Literal["lstm", "none", "kp"] = "lstm"
    model: GanModelParams = field(default_factory=GanModelParams)
    loss: GanLossParams = field(default_factory=GanLossParams)
    train: GanTrainParams = field(default_factory=GanTrainParams)
    run: GanRunParams = field(default_factory=GanRunParams)
    out: str = "models/gan"  # checkpoints go to <out>/<temporal>/


@dataclass
class KpFilterParams:
    """The non-learned temporal baseline (lstmgan.generate.filters): a method named ``<m>+euro`` in
    generate.methods is checkpoint ``<m>`` with a One-Euro filter on its driving keypoints, whose two
    constants are the pair of this grid with the lowest validation L1 (degraded driving when the store
    has it, scored against the clean frames)."""

    min_cutoff: list[float] = field(default_factory=lambda: [0.5, 1.0, 2.0, 4.0])  # Hz
    beta: list[float] = field(default_factory=lambda: [0.0, 0.5, 2.0])  # cutoff rise per unit/s of keypoint speed
    val_videos: int = 8  # validation videos scored per grid point


@dataclass
class GenerateParams:
    """Animation, evaluation (first-order-motion protocol) and the exported detection data set."""

    methods: list[str] = field(default_factory=lambda: ["lstm", "none"])  # checkpoints <gan.out>/<m>/latest.pt
    device: str = "auto"  # auto = cuda when available, else cpu
    batch_size: int = 8  # driving frames per generator call (the ConvLSTM state is carried across calls)
    threads: int = 1  # CPU torch threads for this stage (small 64 px ops: 1 beats 2 on a shared box); 0 = default
    relative: bool = True  # relative motion (driving change applied to the source pose)
    adapt_scale: bool = False  # scale relative motion by the ratio of keypoint convex-hull areas
    # --- evaluation (reconstruction: first frame = source, same video drives) ---
    eval_split: str = "test"
    eval_videos: int = 0  # 0 = every video of eval_split
    eval_max_frames: int = 0  # per video; 0 = all
    degraded: bool = True  # also drive with the store's degraded copy (data.degrade), scored against the clean frames
    kp_filter: KpFilterParams = field(default_factory=KpFilterParams)  # methods named <m>+euro
    cross_pairs: int = 8  # cross-identity animations (source identity A, driving identity B)
    warp_threshold: float = 0.05  # warping error: pixels whose ground truth the flow explains within this
    # --- evaluation networks (AKD landmarks, AED identity) trained on the store's train split ---
    evalnets_out: str = "models/evalnets"
    evalnet_steps: int = 2000  # their test errors are in reports/metrics/evalnets.json (docs/history.md: 4000)
    evalnet_batch: int = 32
    evalnet_lr: float = 3.0e-3
    evalnet_threads: int = 0  # CPU torch threads while training them; 0 = every core
    evalnet_metrics: str = "reports/metrics/evalnets.json"  # `lstmgan evalnets`: their own quality
    identity_weights: str = ""  # real data: TorchScript (N,3,S,S)[0,1] -> (N,D) face embedder; "" = dlib ResNet
    # --- reports ---
    reports: str = "reports/generate"
    figures: str = "reports/figures/generate"
    metrics: str = "reports/metrics/generate.json"
    tables: str = "reports/tables"
    # --- exported detection data set (from the detection pool, or the store's val+test identities) ---
    out: str = "data/deepfakes"
    export_source: Literal["pool", "store"] = "pool"  # pool = pool.out (people the GAN never saw)
    export_split: list[float] = field(default_factory=lambda: [0.5, 0.25, 0.25])  # identity fractions
    export_crf: list[int] = field(default_factory=lambda: [23, 40])  # c23, c40 beside raw
    export_frame_step: int = 4  # keep every n-th frame as PNG
    export_max_frames: int = 0  # per video; 0 = all


@dataclass
class DetectParams:
    """Detector comparison (lstmgan.detect): which detectors, how they are trained and evaluated.

    Sizes are the embedded default; ``per_model`` overrides any key for one detector, and gives each
    backbone the epochs and learning rate its validation curve asks for.
    """

    models: list[str] = field(default_factory=lambda: ["vgg19", "densenet121", "custom_cnn", "resnet18"])
    variants: list[str] = field(default_factory=lambda: ["base", "augmented", "grayscale"])
    pretrained: Literal["auto", "true", "false"] = "auto"  # ImageNet weights from the torch hub cache
    out: str = "reports/detect"  # per-stage folders <out>/<model>-<variant>/
    models_out: str = "models/detect"  # checkpoints <models_out>/<model>-<variant>.pt
    tables_out: str = "reports/tables"  # the comparison table (Markdown + CSV)
    train_compression: str = "raw"  # detectors train (and validate) on this copy
    test_compressions: list[str] = field(default_factory=lambda: ["raw", "c23", "c40"])
    image_size: int = 64  # frames are resized to this many pixels before the network
    hidden: int = 256  # the thesis head's hidden layer width; 0 = Dropout + Linear only
    dropout: float = 0.5
    epochs: int = 3
    batch_size: int = 32
    lr: float = 1.0e-3
    weight_decay: float = 1.0e-4
    one_cycle: bool = True  # OneCycleLR over all steps; false = constant lr
    select_on: Literal["val_auc", "val_loss", "val_acc"] = "val_auc"  # best epoch (ties: lower val_loss)
    max_train_frames: int = 0  # frames sampled evenly over videos, half real half fake; 0 = all
    max_eval_frames: int = 128  # validation frames, and training frames in the no-dropout pass; 0 = all
    max_test_frames: int = 0  # per compression; 0 = all
    cross_method: bool = False  # also train one detector per fake method and test it on every method
    grid_images: int = 16  # face crops in the prediction grid
    device: str = "auto"  # auto (a GPU when torch sees one) | cpu | cuda | cuda:1 ...
    threads: int = 0  # torch CPU threads; 0 = torch's default (all cores); 1 on a CPU shared with other jobs
    channels_last: bool = True  # NHWC weights: shorter DenseNet121, custom CNN and VGG19 stages on CPU (docs/history.md)
    # in-domain pretraining (lstmgan.detect.pretrain): identity classification on real frames of the
    # GAN's training identities before detection fine-tuning (false: ImageNet or scratch only)
    face_pretrain: bool = False
    pretrain_steps: int = 300  # identity-classification steps (per_model sizes it per backbone)
    pretrain_store: str = "data/faces"  # its train split (people the detection pool does not contain)
    pretrain_lr: float = 1.0e-3
    pretrain_batch: int = 32
    pretrain_frames_per_video: int = 8
    per_model: dict[str, Any] = field(default_factory=lambda: {
        "vgg19": {"epochs": 8, "max_train_frames": 800},
        "densenet121": {"epochs": 8, "lr": 3.0e-3},
        "resnet18": {"epochs": 8},
        "custom_cnn": {"epochs": 6, "lr": 2.0e-3}})

    def for_model(self, model: str, where: str = "params.yaml") -> "DetectParams":
        """These settings with ``per_model[model]`` applied (validated like the file itself)."""
        extra = self.per_model.get(model) or {}
        if not isinstance(extra, Mapping):
            raise ConfigError(f"{where}: detect.per_model.{model} must be a mapping of detect keys")
        merged = {**dataclasses.asdict(self), **extra, "per_model": {}}
        return _build(DetectParams, merged, "detect", where)


@dataclass
class ReportParams:
    """The regenerated report: where it goes and how its discussion judges the numbers."""

    out: str = "reports/REPORT.md"  # the HTML goes beside it (same name, .html)
    tables: str = "reports/tables"  # detectors.md / detectors.csv
    figures: str = "reports/report_figures"  # every picture of REPORT.md (small, committed)
    notebooks: str = "reports/notebooks"  # executed stage notebooks (papermill durations)
    l1_target_ratio: float = 0.6  # GAN goal: val reconstruction L1 <= this x the copy-the-source L1
    ablation_study: str = "studies/ablation/reports/tables/ablation.md"  # multi-seed study table, if run
    detect_study: str = "studies/detect/tables"  # the detection study's tables (study_*.csv), if run
    executed: str = "reports/executed"  # committed copies of executed notebooks (the web shows their outputs)
    published_notebooks: list[str] = field(default_factory=lambda: [
        "01_data", "02_train_gan-lstm", "03_generate", "04_detectors-vgg19-base"])
    model_card: str = "MODEL_CARD.md"  # the generator's model card, with its measured quality


@dataclass
class Params:
    """All of ``params.yaml``."""

    seed: int = 0
    data: DataParams = field(default_factory=DataParams)
    pool: PoolParams = field(default_factory=PoolParams)
    gan: GanParams = field(default_factory=GanParams)
    generate: GenerateParams = field(default_factory=GenerateParams)
    detect: DetectParams = field(default_factory=DetectParams)
    report: ReportParams = field(default_factory=ReportParams)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------
def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return "one of " + " | ".join(str(a) for a in get_args(tp))
    if origin in (list, Sequence):
        return f"a list of {_type_name(get_args(tp)[0])}s" if get_args(tp) else "a list"
    if origin in (dict, Mapping):
        return "a mapping"
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in get_args(tp))
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false",
            type(None): "null"}.get(tp, getattr(tp, "__name__", str(tp)))


def _coerce(value: Any, tp: Any, key: str, where: str) -> Any:
    """Return ``value`` checked against the annotation ``tp``; raise ConfigError naming ``key``."""

    def bad() -> ConfigError:
        return ConfigError(f"{where}: {key} must be {_type_name(tp)}, got {value!r}")

    origin = get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: {key} must be a mapping of settings, got {value!r}")
        return _build(tp, value, key, where)
    if origin is Literal:
        # YAML reads `none`/`true` as strings or booleans depending on spelling; compare as text
        allowed = get_args(tp)
        text = value if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else value
        if text not in allowed:
            raise bad()
        return text
    if origin in (Union, types.UnionType):
        for arg in get_args(tp):
            try:
                return _coerce(value, arg, key, where)
            except ConfigError:
                continue
        raise bad()
    if origin in (list, Sequence):
        if not isinstance(value, (list, tuple)):
            raise bad()
        (item_tp,) = get_args(tp) or (Any,)
        return [_coerce(v, item_tp, f"{key}[{i}]", where) for i, v in enumerate(value)]
    if origin in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise bad()
        return dict(value)
    if tp is Any:
        return value
    if tp is type(None):
        if value is not None:
            raise bad()
        return None
    if tp is bool:
        if not isinstance(value, bool):
            raise bad()
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad()
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad()
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise bad()
        return value
    raise TypeError(f"unsupported annotation {tp!r} for {key}")


def _build(cls: type, values: Mapping[str, Any], prefix: str, where: str) -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    for key in values:
        if key not in names:
            dotted = f"{prefix}.{key}" if prefix else str(key)
            known = ", ".join(sorted(names))
            raise ConfigError(f"{where}: unknown key {dotted!r} (known keys here: {known})")
    kwargs = {}
    for name in names:
        if name in values:
            dotted = f"{prefix}.{name}" if prefix else name
            kwargs[name] = _coerce(values[name], hints[name], dotted, where)
    return cls(**kwargs)


def parse_override(text: str) -> tuple[str, Any]:
    """``"gan.train.lr=1e-4"`` -> ``("gan.train.lr", 0.0001)``; the value is parsed as YAML."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected section.key=value, e.g. --set gan.train.steps=100")
    key, raw = text.split("=", 1)
    try:
        value = _yaml_load(raw) if raw.strip() else ""
    except _YAML_ERRORS as exc:
        raise ConfigError(f"--set {text!r}: the value is not valid YAML ({str(exc).splitlines()[0]})") from exc
    # YAML reads 1e-4 as a string (it wants 1.0e-4); accept what a person types
    if isinstance(value, str):
        try:
            value = float(value) if any(c in value for c in ".eE") else value
        except ValueError:
            pass
    return key.strip(), value


def _apply(tree: dict[str, Any], dotted: str, value: Any, where: str) -> None:
    node = tree
    parts = dotted.split(".")
    for part in parts[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"{where}: cannot set {dotted!r}: {part!r} is not a section")
        node = child
    node[parts[-1]] = value


def params_from_dict(raw: Mapping[str, Any], where: str = "params") -> Params:
    """Validate a plain mapping (e.g. parsed YAML) into :class:`Params`."""
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: expected a mapping of sections at the top level")
    return _build(Params, raw, "", where)


def _yaml_load(text: str) -> Any:
    """PyYAML's safe_load (a declared dependency; a machine without the registry brings it as a
    wheel, docs/training.md)."""
    return yaml.safe_load(text)


def _read_yaml(path: Path, hint: str) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"{path}: no such file; {hint}")
    try:
        raw = _yaml_load(path.read_text()) or {}
    except _YAML_ERRORS as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of sections at the top level")
    return raw


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> None:
    """Deep-merge ``extra`` into ``base`` (sections are merged key by key, values replaced)."""
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


def load_params(
    path: str | Path | None = "params.yaml",
    overrides: Sequence[str] | Mapping[str, Any] = (),
    sections: Mapping[str, Any] | None = None,
    configs: Sequence[str | Path] = (),
) -> Params:
    """Read ``path`` and return validated :class:`Params`.

    ``configs`` are extra params-style files merged over it key by key, in order (e.g.
    ``configs/vox256.yaml``); ``overrides`` are ``"section.key=value"`` strings (or a mapping of
    dotted keys to values) applied last; ``sections`` replaces whole top-level sections (a
    notebook's parameters cell; ``None`` values are ignored so the default cell falls back to the file). ``path=None`` starts from the built-in defaults instead of a file.
    """
    if path is None:
        where, raw = "defaults", Params().to_dict()
    else:
        where = str(path)
        raw = _read_yaml(Path(path), "run from the project root or pass --params PATH")
    for config in configs:
        _merge(raw, _read_yaml(Path(config), "see configs/ for the shipped configurations"))
        where = f"{where} + {config}"
    for name, value in (sections or {}).items():
        if value is not None:
            raw[name] = value
    items = overrides.items() if isinstance(overrides, Mapping) else map(parse_override, overrides)
    for key, value in items:
        _apply(raw, key, value, where + " (--set)")
    return params_from_dict(raw, where)
