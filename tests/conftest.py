"""Shared test fixtures."""
import pytest
import torch


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread for a module's small tensors: faster, and far faster on a loaded 2-core
    machine, where two threads mostly wait for each other. Restored afterwards."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


TINY_MODEL = dict(num_kp=5, kp_block_expansion=8, kp_max_features=16, kp_num_blocks=2, dm_block_expansion=8,
                  dm_max_features=16, dm_num_blocks=2, block_expansion=8, max_features=16,
                  num_bottleneck_blocks=1, lstm_hidden=8, disc_block_expansion=8, disc_max_features=16,
                  disc_num_blocks=2, temporal_disc_block_expansion=4, temporal_disc_num_blocks=2)


def tiny_gan(temporal: str = "lstm", model: dict | None = None, loss: dict | None = None, **sections):
    """GanParams with very small widths (and no perceptual loss), for fast tests."""
    from lstmgan.config import params_from_dict

    gan = {"temporal": temporal, "model": {**TINY_MODEL, **(model or {})},
           "loss": {"perceptual": 0.0, **(loss or {})}, **sections}
    return params_from_dict({"gan": gan}, "tests").gan
