"""bb.models: the MLPerf Tiny reference models, built with the functional API.

Each builder returns an untrained bb.Model with the layer list of the reference Keras
model (mlcommons/tiny, benchmark/training/), in NCHW, and defaults to the reference
input shape and class count:

    ds_cnn()            keyword spotting, MFCCs (1, 49, 10) -> 12 classes    2,656,768 MACs
    mobilenet_v1()      visual wake words, (3, 96, 96) -> 2, alpha 0.25      7,489,664 MACs
    resnet8()           CIFAR-10, (3, 32, 32) -> 10                         12,501,632 MACs
    fc_autoencoder()    anomaly detection, 640 -> 640 (train with MSE)         264,192 MACs

Differences from the Keras originals, all deliberate: the classifiers end with logits
(no softmax; CrossEntropy applies it), the final average pooling over the whole feature
map is GlobalAvgPool (the same for square inputs; the references pool min(H, W) windows),
and BatchNorm uses braininabox's (PyTorch's) defaults, momentum 0.1 and eps 1e-5, where
Keras has momentum 0.99 (0.01 in PyTorch's convention) and eps 1e-3. Weight decay (the
references' L2 regularizers) belongs to the optimizer: bb.optimizers.AdamW.
"""
from .nn.layers import (Add, BatchNorm, Conv2D, DepthwiseConv2D, Dropout, GlobalAvgPool, Linear,
                        ReLU)
from .nn.symbolic import Input
from .train.graph import Model


def _conv_bn_relu(x, filters, kernel, stride=1):
    x = Conv2D(filters, kernel=kernel, stride=stride, padding="same")(x)
    return ReLU()(BatchNorm()(x))


def _depthwise_separable(x, filters, stride=1):
    """3x3 depthwise, BatchNorm, ReLU, then 1x1 convolution, BatchNorm, ReLU."""
    x = DepthwiseConv2D(3, stride=stride, padding="same")(x)
    x = ReLU()(BatchNorm()(x))
    return _conv_bn_relu(x, filters, 1)


def _image_shape(input_shape, builder):
    shape = tuple(input_shape)
    if len(shape) != 3:
        raise ValueError(f"{builder}: input_shape must be one sample's (C, H, W), got {input_shape!r}")
    return shape


def ds_cnn(input_shape=(1, 49, 10), classes=12, filters=64):
    """The DS-CNN keyword spotter: a 10x4 stride-2 convolution, four depthwise-separable
    blocks, global average pooling and a linear classifier (dropout 0.2 and 0.4)."""
    x = inputs = Input(_image_shape(input_shape, "ds_cnn"))
    x = Dropout(0.2)(_conv_bn_relu(x, filters, (10, 4), stride=2))
    for _ in range(4):
        x = _depthwise_separable(x, filters)
    x = GlobalAvgPool()(Dropout(0.4)(x))
    return Model(inputs, Linear(classes)(x))


# (pointwise filters at alpha 1, depthwise stride) of MobileNetV1's 13 separable blocks
_MOBILENET_BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
                     (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1))


def mobilenet_v1(alpha=0.25, input_shape=(3, 96, 96), classes=2):
    """MobileNetV1 with width multiplier alpha: a 3x3 stride-2 convolution, 13
    depthwise-separable blocks, global average pooling and a linear classifier."""
    if not alpha > 0:
        raise ValueError(f"mobilenet_v1: alpha must be > 0, got {alpha!r}")

    def width(filters):
        return max(1, int(filters * alpha))

    x = inputs = Input(_image_shape(input_shape, "mobilenet_v1"))
    x = _conv_bn_relu(x, width(32), 3, stride=2)
    for filters, stride in _MOBILENET_BLOCKS:
        x = _depthwise_separable(x, width(filters), stride)
    return Model(inputs, Linear(classes)(GlobalAvgPool()(x)))


def resnet8(input_shape=(3, 32, 32), classes=10, filters=16):
    """ResNet-8 (ResNet v1 for CIFAR-10): a 3x3 convolution and three residual stacks of
    filters, 2x and 4x filters; stacks two and three halve the size and project their
    shortcut with a 1x1 stride-2 convolution."""
    x = inputs = Input(_image_shape(input_shape, "resnet8"))
    x = _conv_bn_relu(x, filters, 3)
    for stack, width in enumerate((filters, 2 * filters, 4 * filters)):
        stride = 1 if stack == 0 else 2
        y = _conv_bn_relu(x, width, 3, stride)
        y = BatchNorm()(Conv2D(width, kernel=3, padding="same")(y))
        if stride != 1:
            x = Conv2D(width, kernel=1, stride=stride, padding="same")(x)
        x = ReLU()(Add()([x, y]))
    return Model(inputs, Linear(classes)(GlobalAvgPool()(x)))


def fc_autoencoder(input_shape=(640,), hidden=128, bottleneck=8):
    """The anomaly-detection autoencoder: four Linear(128)-BatchNorm-ReLU layers, an
    8-wide bottleneck, four more, and a Linear back to the input size (train with MSE)."""
    shape = (input_shape,) if isinstance(input_shape, int) else tuple(input_shape)
    if len(shape) != 1:
        raise ValueError(f"fc_autoencoder: input_shape must be (features,), got {input_shape!r}")
    x = inputs = Input(shape)
    for units in (hidden,) * 4 + (bottleneck,) + (hidden,) * 4:
        x = ReLU()(BatchNorm()(Linear(units)(x)))
    return Model(inputs, Linear(shape[0])(x))
