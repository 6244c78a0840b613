"""Stages `evalnets` and `generate`: animation, evaluation (and its measuring networks), export."""
