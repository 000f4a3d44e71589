"""Loss objects for Sequential.compile: each is called as loss(outputs, targets)."""
import numpy as np

from ..nn import functional as F
from ..nn.tensor import Tensor


class Loss:
    """A loss also says how to turn model outputs into predicted classes (for metrics)."""

    def __call__(self, outputs, targets, class_weight=None):
        raise NotImplementedError

    def predicted_classes(self, outputs):
        raise ValueError(f"{type(self).__name__} is a regression loss: classification metrics "
                         f"(accuracy, precision, recall) do not apply")

    def check_targets(self, targets, outputs_shape):
        """Raise a clear error before training when targets cannot match the outputs."""

    def true_classes(self, targets, outputs):
        """The classes the metrics compare with predicted_classes(outputs): one-hot rows
        (N, ..., classes) or integer labels (N, ...), one class per position."""
        return targets.argmax(axis=-1) if targets.ndim == outputs.ndim else \
            targets.astype(np.int64)


def _check_same_values_per_sample(loss, targets, outputs_shape):
    """MSE and binary cross-entropy compare each output with one target: as many targets as
    outputs per sample (y (N,) fits outputs (N, 1))."""
    per_sample = int(np.prod(outputs_shape[1:]))
    if targets.size != len(targets) * per_sample:
        raise ValueError(f"{loss}: targets of shape {targets.shape} do not match the model's "
                         f"outputs {tuple(outputs_shape)} (one target per output is needed)")


def _check_probabilities(targets):
    """One-hot or probability rows: a negative entry would let the loss fall below zero."""
    targets = np.asarray(targets)
    if targets.size and not (np.all(np.isfinite(targets)) and targets.min() >= 0):
        raise ValueError("one-hot / probability targets must be finite and >= 0 (a negative "
                         f"target makes the loss meaningless); the smallest is {targets.min()}")


class CrossEntropy(Loss):
    """Softmax cross-entropy over the last axis, from logits.

    Targets are integer class labels (N,) or one-hot / probability rows (N, classes).
    weight: optional per-class weights (PyTorch's weighted mean).
    label_smoothing: epsilon in [0, 1]: the target is (1 - epsilon) on the true class plus
    epsilon spread evenly over all classes, as PyTorch's label_smoothing (with weights too).
    """

    def __init__(self, weight=None, label_smoothing=0.0):
        self.weight = None if weight is None else np.asarray(weight, dtype=np.float32)
        if isinstance(label_smoothing, bool) or not isinstance(
                label_smoothing, (int, float, np.integer, np.floating)) or not 0 <= label_smoothing <= 1:
            raise ValueError(f"CrossEntropy: label_smoothing must be a number in [0, 1], got "
                             f"{label_smoothing!r}")
        self.label_smoothing = float(label_smoothing)

    def __call__(self, outputs, targets, class_weight=None):
        weight = self.weight if class_weight is None else class_weight
        targets = targets.data if isinstance(targets, Tensor) else np.asarray(targets)
        _check_classes(outputs.shape)
        eps, classes = self.label_smoothing, outputs.shape[-1]
        if targets.ndim == outputs.ndim and targets.shape == outputs.shape:
            if weight is not None:
                raise ValueError("class weights need integer labels, not one-hot targets")
            _check_probabilities(targets)
            if eps:
                targets = targets * (1 - eps) + eps / classes
            rows = outputs.size // outputs.shape[-1]  # the mean over every position, as labels
            return -(F.log_softmax(outputs) * targets).sum() * (1.0 / rows)
        hard = F.cross_entropy(outputs, targets, weight)
        if not eps:
            return hard
        # The smoothed part: every class's -log p (weighted by its class weight), averaged
        # over the positions as the hard part is (by the weights of their labels).
        log_p = F.log_softmax(outputs)
        if weight is None:
            spread, total = -log_p.sum(), outputs.size // classes
        else:
            weight = np.asarray(weight, dtype=np.float32)
            labels = F._class_labels(targets, outputs.shape[:-1], classes)
            spread, total = -(log_p * weight).sum(), float(weight[labels].sum())
        return hard * (1 - eps) + spread * (eps / classes / total)

    def predicted_classes(self, outputs):
        return outputs.argmax(axis=-1)

    def check_targets(self, targets, outputs_shape):
        _check_classes(outputs_shape)
        classes = outputs_shape[-1]
        if targets.ndim == len(outputs_shape):
            if targets.shape[1:] != tuple(outputs_shape[1:]):
                hint = ("; they look like integer labels in a column: pass y.ravel()"
                        if targets.shape[-1] == 1 and targets.dtype.kind in "biu" else "")
                raise ValueError(f"one-hot targets have shape {targets.shape[1:]} per sample but "
                                 f"the model outputs {tuple(outputs_shape[1:])}{hint}")
            _check_probabilities(targets)
            return
        F._class_labels(targets, targets.shape, classes)


def _check_classes(outputs_shape):
    """A softmax over one class is always 1: the loss would be 0 and nothing would train."""
    if len(outputs_shape) < 2 or outputs_shape[-1] < 2:
        raise ValueError(f"CrossEntropy needs at least 2 classes on the last axis of the "
                         f"outputs, got outputs {tuple(outputs_shape)}; for a yes/no target "
                         f"use one output with BinaryCrossEntropy, or 2 outputs with labels (N,)")


class MSE(Loss):
    """Mean squared error."""

    def __call__(self, outputs, targets, class_weight=None):
        if class_weight is not None:
            raise ValueError("class_weight applies to classification losses, not MSE")
        targets = np.asarray(targets.data if isinstance(targets, Tensor) else targets,
                             dtype=outputs.dtype)
        return F.mse(outputs, targets.reshape(outputs.shape))

    def check_targets(self, targets, outputs_shape):
        _check_same_values_per_sample("MSE", targets, outputs_shape)


class BinaryCrossEntropy(Loss):
    """Binary cross-entropy of each output against its target in [0, 1] (one output per
    sample, or several independent yes/no labels); from_logits=True expects raw scores,
    from_logits=False probabilities (a model ending in Sigmoid)."""

    def __init__(self, from_logits=True, pos_weight=None):
        self.from_logits = from_logits
        self.pos_weight = pos_weight

    def __call__(self, outputs, targets, class_weight=None):
        targets = np.asarray(targets.data if isinstance(targets, Tensor) else targets,
                             dtype=outputs.dtype).reshape(outputs.shape)
        weight = None
        if class_weight is not None:
            weight = np.where(targets > 0.5, class_weight.get(1, 1.0), class_weight.get(0, 1.0))
        if self.from_logits:
            return F.binary_cross_entropy_with_logits(outputs, targets, weight, self.pos_weight)
        low, high = float(outputs.data.min(initial=0.5)), float(outputs.data.max(initial=0.5))
        if low < 0 or high > 1:  # (NaN passes: that is divergence, reported by fit)
            raise ValueError(f"BinaryCrossEntropy(from_logits=False) needs outputs in [0, 1], "
                             f"got {low if low < 0 else high:.4g}: add a Sigmoid layer at the "
                             f"end of the model, or use BinaryCrossEntropy(from_logits=True)")
        # Probabilities in: clip away from 0 and 1 so the logs stay finite.
        p = outputs * (1 - 2e-7) + 1e-7
        losses = -(targets * p.log() + (1 - targets) * (1 - p).log())
        return (losses * (1 if weight is None else weight)).mean()

    def predicted_classes(self, outputs):
        # every output is a yes/no prediction: metrics count each (Keras binary_accuracy)
        threshold = 0.0 if self.from_logits else 0.5
        return (outputs > threshold).astype(np.int64)

    def true_classes(self, targets, outputs):
        return (targets.reshape(outputs.shape) > 0.5).astype(np.int64)

    def check_targets(self, targets, outputs_shape):
        _check_same_values_per_sample("BinaryCrossEntropy", targets, outputs_shape)
        values = np.asarray(targets, dtype=np.float64)
        if values.size and (values.min() < 0 or values.max() > 1):
            raise ValueError("binary cross-entropy targets must be in [0, 1]")
