"""The data variants: base, augmented (the thesis's training transforms) and grayscale.

Transforms act on one float image tensor (3, H, W) in [0, 1] and never change the label or the
shape. Random ones draw from torch's global generator, so a seeded run repeats exactly.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

VARIANTS = ("base", "augmented", "grayscale")

Transform = Callable[[torch.Tensor], torch.Tensor]


def identity(x: torch.Tensor) -> torch.Tensor:
    return x


def augmentation() -> Transform:
    """The thesis's training augmentation.

    Horizontal flip (p 0.5), affine with rotation up to 40 degrees and scale 0.9-1.1, perspective
    distortion 0.2 (p 0.5), colour jitter 0.5 (brightness, contrast, saturation), random erasing
    (p 0.5). Pixels leaving the frame are filled with black, as torchvision does.
    """
    from torchvision.transforms import v2

    return v2.Compose([
        v2.RandomHorizontalFlip(),
        v2.RandomAffine(degrees=40, scale=(0.9, 1.1)),
        v2.RandomPerspective(distortion_scale=0.2),
        v2.ColorJitter(brightness=0.5, contrast=0.5, saturation=0.5),
        v2.RandomErasing(),
    ])


def grayscale() -> Transform:
    """Luminance copied to three channels, so ImageNet backbones take it unchanged."""
    from torchvision.transforms import v2

    return v2.Grayscale(num_output_channels=3)


def _compose(*steps: Transform) -> Transform:
    def run(x: torch.Tensor) -> torch.Tensor:
        for step in steps:
            x = step(x)
        return x

    return run


@dataclass
class VariantTransforms:
    """What one variant applies: ``train`` while fitting; ``eval`` to validation, test and the
    no-dropout pass over the training frames; ``val_augmented`` for the augmented validation copy."""

    train: Transform
    eval: Transform
    val_augmented: Transform


def variant_transforms(variant: str) -> VariantTransforms:
    """The transforms of data variant ``variant`` (one of VARIANTS)."""
    if variant == "base":
        return VariantTransforms(identity, identity, augmentation())
    if variant == "augmented":
        aug = augmentation()
        return VariantTransforms(aug, identity, aug)
    if variant == "grayscale":
        gray = grayscale()
        return VariantTransforms(gray, gray, _compose(gray, augmentation()))
    raise ValueError(f"unknown variant {variant!r}; choose one of {', '.join(VARIANTS)}")
