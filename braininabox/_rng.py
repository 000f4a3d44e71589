"""The library's random generator: weight initialization, dropout masks, shuffling.

`braininabox.seed(n)` makes a whole training run reproducible.
"""
import numpy as np

_generator = np.random.default_rng()


def seed(value):
    """Reseed the generator behind initialization, dropout and shuffling."""
    global _generator
    _generator = np.random.default_rng(value)


def generator():
    return _generator
