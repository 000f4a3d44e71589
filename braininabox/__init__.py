"""braininabox: a deep-learning library you can read end to end.

Hot loops in portable C (csrc/), an autograd Tensor in Python, and a Keras-style
Sequential API on top:

    import braininabox as bb
    model = bb.Sequential([bb.layers.Conv2D(32, kernel=3), bb.layers.ReLU(),
                           bb.layers.MaxPool(2), bb.layers.Flatten(), bb.layers.Linear(10)])
    model.compile(optimizer=bb.optimizers.Adam(), loss=bb.loss.CrossEntropy())
    model.fit(X_train, y_train, epochs=10)

Graphs (residual connections, shared layers) with the functional API, and the MLPerf
Tiny reference models ready-made:

    x = bb.Input((3, 32, 32))
    y = bb.layers.BatchNorm()(bb.layers.Conv2D(16, kernel=3, padding="same")(x))
    out = bb.layers.Linear(10)(bb.layers.GlobalAvgPool()(bb.layers.ReLU()(y)))
    model = bb.Model(inputs=x, outputs=out)         # compile / fit / save as above
    bb.models.resnet8().summary()                   # also ds_cnn, mobilenet_v1, fc_autoencoder

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
from .deploy.quantized import QuantizedModel
from . import models
from .nn import functional, layers
from .nn.symbolic import Input
from .nn.tensor import Tensor, concat, is_grad_enabled, no_grad, stack
from .train import callbacks, loss, metrics, optimizers
from .train.graph import Model
from .train.model import Sequential
from .train.model_file import ModelFileError
from .train.saving import load

__all__ = ["Tensor", "Sequential", "Model", "Input", "load", "ModelFileError", "QuantizedModel", "concat", "stack", "no_grad",
           "is_grad_enabled", "seed", "set_num_threads", "get_num_threads", "quantize", "audio",
           "callbacks", "data", "datasets", "embedded", "functional", "layers", "loss", "metrics",
           "models", "optimizers",
           "__version__"]
