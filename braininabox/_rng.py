"""The library's random generator: weight initialization, dropout masks, shuffling.

`braininabox.seed(n)` makes a whole training run reproducible.
"""
import numpy as np

_generator = np.random.default_rng()


def seed(value):
    """Reseed the generator behind initialization, dropout and shuffling."""
    global _generator
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer))
                              or value < 0):
        raise TypeError(f"seed must be an integer >= 0 (or None), got {value!r}")
    _generator = np.random.default_rng(value)


def generator():
    return _generator
