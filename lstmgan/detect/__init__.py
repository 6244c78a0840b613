"""Deepfake detectors (VGG19, DenseNet121, ResNet18, a small custom CNN) on the exported data set.

- :mod:`~lstmgan.detect.models`: ``build_detector(name, pretrained, hidden, dropout)``
- :mod:`~lstmgan.detect.transforms`: the base / augmented / grayscale variants
- :mod:`~lstmgan.detect.data`: manifest reading, frame selection, in-memory ``FrameSet``
- :mod:`~lstmgan.detect.metrics`: accuracy, balanced accuracy, AP, ROC-AUC, EER; video level
- :mod:`~lstmgan.detect.train`: ``fit`` (records per epoch, best epoch on validation), ``predict``
- :mod:`~lstmgan.detect.figures`: metrics plot, ROC/PR, confusion, prediction grid, heatmaps
- :mod:`~lstmgan.detect.run`: ``run_detector`` (one DVC stage), ``comparison_table`` and
  ``generalisation_tables`` (every stage's results side by side, for the report)
- :mod:`~lstmgan.detect.toy`: a tiny labelled data set in the export format (tests, docs)
"""
from __future__ import annotations

__all__ = ["run_detector", "comparison_table", "generalisation_tables"]


def __getattr__(name: str):
    if name in __all__:
        from lstmgan.detect import run

        return getattr(run, name)
    raise AttributeError(name)
