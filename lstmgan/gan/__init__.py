"""Stage `train`: the GAN training loop over store clips (networks live in lstmgan.models)."""
