"""lstmgan: deepfake generation with an LSTM-based GAN, and the detectors it is compared against."""
__version__ = "0.1.0"
