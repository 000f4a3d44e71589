"""braininabox: a deep-learning library you can read end to end.

Hot loops in portable C (csrc/), an autograd Tensor in Python, and a Keras-style
Sequential API on top:

    import braininabox as bb
    model = bb.Sequential([bb.layers.Conv2D(32, kernel=3), bb.layers.ReLU(),
                           bb.layers.MaxPool(2), bb.layers.Flatten(), bb.layers.Linear(10)])
    model.compile(optimizer=bb.optimizers.Adam(), loss=bb.loss.CrossEntropy())
    model.fit(X_train, y_train, epochs=10)
"""
from . import callbacks, data, datasets, functional, layers, loss, metrics, optimizers
from ._core import get_num_threads, set_num_threads
from ._rng import seed
from .model import Sequential, load
from .quantize import quantize
from .tensor import Tensor, concat, is_grad_enabled, no_grad, stack

__version__ = "0.1.0"

__all__ = ["Tensor", "Sequential", "load", "concat", "stack", "no_grad", "is_grad_enabled",
           "seed", "set_num_threads", "get_num_threads", "quantize", "callbacks", "data", "datasets", "functional", "layers", "loss", "metrics",
           "optimizers"]
