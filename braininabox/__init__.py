"""braininabox: a deep-learning library you can read end to end.

Hot loops in portable C (csrc/), an autograd Tensor in Python, and a Keras-style
Sequential API on top:

    import braininabox as bb
    model = bb.Sequential([bb.layers.Conv2D(32, kernel=3), bb.layers.ReLU(),
                           bb.layers.MaxPool(2), bb.layers.Flatten(), bb.layers.Linear(10)])
    model.compile(optimizer=bb.optimizers.Adam(), loss=bb.loss.CrossEntropy())
    model.fit(X_train, y_train, epochs=10)

The package follows the pipeline: nn/ (tensors, ops, layers), train/ (models, losses,
optimizers, callbacks, metrics), data/ (DataLoader, data sets), deploy/ (int8
quantization, memory plan, C export, the embedded runner); audio.py is the integer
keyword-spotting front end (bb.audio.MFCC).
"""
from . import audio
from ._core import get_num_threads, set_num_threads
from ._rng import seed
from ._version import __version__
from .data import datasets
from . import data
from .deploy import embedded
from .deploy.quantize import quantize
from .nn import functional, layers
from .nn.tensor import Tensor, concat, is_grad_enabled, no_grad, stack
from .train import callbacks, loss, metrics, optimizers
from .train.model import ModelFileError, Sequential, load

__all__ = ["Tensor", "Sequential", "load", "ModelFileError", "concat", "stack", "no_grad",
           "is_grad_enabled", "seed", "set_num_threads", "get_num_threads", "quantize", "audio",
           "callbacks", "data",
           "datasets", "embedded", "functional", "layers", "loss", "metrics", "optimizers",
           "__version__"]
