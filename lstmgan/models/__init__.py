"""The LSTM-GAN motion-transfer model: keypoints, dense motion, recurrent generator, discriminators.

Public entry points live in :mod:`lstmgan.models.full_model` (``build_networks``,
``GeneratorFullModel``, ``DiscriminatorFullModel``, ``load_networks``).
"""
