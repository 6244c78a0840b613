"""The detectors: VGG19, DenseNet121, ResNet18 with the thesis's head, and a small custom CNN.

``vgg19`` is the thesis's plain VGG19 when its ImageNet weights are in the torch hub cache; from
scratch it is built as ``vgg19_bn`` (the same 16 convolutions, each followed by batch norm), because
a 19-layer plain network does not train from a random start at our budgets (it stays at chance).
The architecture actually built is reported as ``BuiltDetector.architecture``; ``vgg19_bn`` can also
be asked for by name.

Every detector takes RGB images in [0, 1] (N, 3, H, W) and returns two logits (real, fake). The
ImageNet normalisation is the network's first layer, so data code never has to know about it.
Backbones end in global average pooling, so any input size of at least 32 px works.

ImageNet weights come only from the torch hub cache (``<torch hub dir>/checkpoints/<file>``, the
file names torchvision downloads); nothing is ever downloaded.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import torch
from torch import nn

from lstmgan.errors import UserError
from lstmgan.utils.log import log_once
from lstmgan.utils.weights import cached_weight, hub_checkpoint_dir, missing_weights_hint

log = logging.getLogger(__name__)

MODELS = ("vgg19", "vgg19_bn", "densenet121", "resnet18", "custom_cnn")

# torchvision's ImageNet weight files (what torchvision.models.<name>(weights="DEFAULT") fetches)
WEIGHT_FILES = {
    "vgg19": "vgg19-dcbb9e9d.pth",
    "vgg19_bn": "vgg19_bn-c79401a0.pth",
    "densenet121": "densenet121-a639ec97.pth",
    "resnet18": "resnet18-f37072fd.pth",
}

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class Normalize(nn.Module):
    """(x - mean) / std per channel, as a layer (kept in the checkpoint, moved with the model)."""

    def __init__(self, mean: tuple[float, ...] = IMAGENET_MEAN, std: tuple[float, ...] = IMAGENET_STD):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


def thesis_head(in_features: int, hidden: int, dropout: float) -> nn.Sequential:
    """The thesis's classifier head: [Dropout, Linear, ReLU, BatchNorm1d,] Dropout, Linear -> 2.

    ``hidden = 0`` drops the hidden layer (Dropout then Linear to 2).
    """
    if hidden <= 0:
        return nn.Sequential(nn.Dropout(dropout), nn.Linear(in_features, 2))
    return nn.Sequential(
        nn.Dropout(dropout), nn.Linear(in_features, hidden), nn.ReLU(inplace=True),
        nn.BatchNorm1d(hidden), nn.Dropout(dropout), nn.Linear(hidden, 2),
    )


class Detector(nn.Module):
    """normalise -> backbone features -> global average pool -> head (2 logits)."""

    def __init__(self, features: nn.Module, feature_dim: int, hidden: int, dropout: float):
        super().__init__()
        self.normalize = Normalize()
        self.features = features
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = thesis_head(feature_dim, hidden, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.features(self.normalize(x))))


def custom_cnn_features() -> tuple[nn.Sequential, int]:
    """The small custom CNN: four blocks of (3x3 conv, BatchNorm, ReLU, 2x2 max-pool).

    Channels 32 -> 64 -> 128 -> 256; about 0.4 M parameters before the head. Each block halves
    the resolution, so a 64 px face ends as a 4 x 4 x 256 map that global pooling averages.
    It is a from-scratch baseline: what does a network with no ImageNet prior learn here?
    """
    layers: list[nn.Module] = []
    channels = [3, 32, 64, 128, 256]
    for c_in, c_out in zip(channels[:-1], channels[1:]):
        layers += [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
                   nn.ReLU(inplace=True), nn.MaxPool2d(2)]
    return nn.Sequential(*layers), channels[-1]


_DENSENET_OLD_KEY = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\.([12]\.[a-z_]+)$")


def _load_imagenet(module: nn.Module, name: str, path: str, prefix: str = "") -> None:
    """Load torchvision's ImageNet state dict into ``module``.

    ``prefix`` keeps only the keys under it, stripped (VGG19 loads ``features.*`` into its
    convolutional part; its 120 M-parameter classifier is never built).
    """
    state = torch.load(path, map_location="cpu", weights_only=True)
    if prefix:
        state = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    if name == "densenet121":  # the published file uses the old key names norm.1 / conv.2
        state = {(_DENSENET_OLD_KEY.sub(r"\1\2", k)): v for k, v in state.items()}
    try:
        module.load_state_dict(state)
    except RuntimeError as exc:
        raise UserError(f"{path}: not the torchvision ImageNet weights for {name} ({str(exc)[:120]}...); "
                        f"replace it with torchvision's {WEIGHT_FILES[name]}") from exc


def vgg19_features(batch_norm: bool = False) -> nn.Sequential:
    """VGG19's 16 convolutions and 5 max-pools (torchvision's layout and initialisation);
    ``batch_norm`` puts BatchNorm2d after every convolution (torchvision's ``vgg19_bn``)."""
    from torchvision.models.vgg import cfgs, make_layers

    features = make_layers(cfgs["E"], batch_norm=batch_norm)
    for m in features.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            nn.init.zeros_(m.bias)
    return features


@dataclass
class BuiltDetector:
    model: Detector
    pretrained: bool  # True when ImageNet weights were loaded
    weights_file: str | None
    architecture: str = ""  # what was built: vgg19 (plain, ImageNet) or vgg19_bn (scratch), else the name


def build_detector(name: str, pretrained: str = "auto", hidden: int = 256, dropout: float = 0.5) -> BuiltDetector:
    """Build detector ``name`` (one of MODELS).

    ``pretrained``: ``auto`` loads ImageNet weights when the file is in the torch hub cache and
    otherwise logs where to put it and trains from scratch; ``true`` requires the file (UserError
    naming the path and file otherwise); ``false`` never loads weights. The custom CNN has none.
    """
    import torchvision

    if name not in MODELS:
        raise UserError(f"params.yaml: unknown detector {name!r}; choose one of {', '.join(MODELS)}")
    if pretrained not in ("auto", "true", "false"):
        raise UserError(f"params.yaml: detect.pretrained must be auto, true or false, got {pretrained!r}")
    weights_path = None
    if name == "vgg19" and pretrained == "auto" and cached_weight(WEIGHT_FILES["vgg19"]) is None:
        log.info("vgg19: no ImageNet weights cached; building vgg19_bn (batch norm) to train from scratch")
        name_built = "vgg19_bn"
    elif name == "vgg19" and pretrained == "false":
        name_built = "vgg19_bn"
    else:
        name_built = name
    if name_built != name:
        built = build_detector(name_built, "false", hidden, dropout)
        return built
    if name in WEIGHT_FILES and pretrained != "false":
        weights_path = cached_weight(WEIGHT_FILES[name])
        if weights_path is None:
            if pretrained == "true":
                raise UserError(
                    f"detect.pretrained is true but {hub_checkpoint_dir() / WEIGHT_FILES[name]} does not "
                    f"exist; copy torchvision's ImageNet file {WEIGHT_FILES[name]} there "
                    f"(or set detect.pretrained: auto to train from scratch)")
            log_once(log, logging.INFO, missing_weights_hint(f"ImageNet {name}", WEIGHT_FILES[name]).replace(
                "continuing without them", "training from scratch"))
    elif name == "custom_cnn" and pretrained == "true":
        log.info("custom_cnn has no ImageNet weights; it always trains from scratch")

    if name == "custom_cnn":
        features, dim = custom_cnn_features()
    elif name in ("vgg19", "vgg19_bn"):
        features, dim = vgg19_features(batch_norm=name == "vgg19_bn"), 512
        if weights_path is not None:
            _load_imagenet(features, name, str(weights_path), prefix="features.")
    else:
        backbone = getattr(torchvision.models, name)(weights=None)
        if weights_path is not None:
            _load_imagenet(backbone, name, str(weights_path))
        if name == "densenet121":
            features, dim = nn.Sequential(backbone.features, nn.ReLU(inplace=True)), 1024
        else:  # resnet18: everything up to (not including) its own pooling and fc
            features = nn.Sequential(backbone.conv1, backbone.bn1, backbone.relu, backbone.maxpool,
                                     backbone.layer1, backbone.layer2, backbone.layer3, backbone.layer4)
            dim = 512
    if weights_path is not None:
        log.info("%s: ImageNet weights from %s", name, weights_path)
    model = Detector(features, dim, hidden, dropout)
    return BuiltDetector(model, weights_path is not None, str(weights_path) if weights_path else None, name)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
