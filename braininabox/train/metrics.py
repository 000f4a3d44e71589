"""Classification metrics, accumulated batch by batch from a confusion matrix.

With one or two classes, precision and recall are those of class 1 (the positive class);
with more, they are macro averages over the classes that occur (as a label or a prediction).
"""
import numpy as np


class Metric:
    name = ""

    def __init__(self, classes):
        self.classes = max(int(classes), 2)
        self.reset()

    def reset(self):
        self.confusion = np.zeros((self.classes, self.classes), dtype=np.int64)

    def update(self, true_classes, predicted_classes):
        k = self.classes
        codes = np.asarray(true_classes, dtype=np.int64) * k + np.asarray(predicted_classes)
        self.confusion += np.bincount(codes.ravel(), minlength=k * k).reshape(k, k)

    def result(self):
        raise NotImplementedError

    def _per_class(self, axis):
        """Diagonal over row (axis=1: recall) or column (axis=0: precision) sums; 0 when empty."""
        totals = self.confusion.sum(axis=axis)
        diag = np.diag(self.confusion)
        scores = np.divide(diag, totals, out=np.zeros(self.classes), where=totals > 0)
        if self.classes == 2:
            return scores[1]
        # Macro average over the classes seen (as label or prediction), as scikit-learn does:
        # a class absent from both has no precision or recall and must not count as 0.
        seen = (self.confusion.sum(axis=0) + self.confusion.sum(axis=1)) > 0
        return scores[seen].mean() if seen.any() else 0.0


class Accuracy(Metric):
    name = "accuracy"

    def result(self):
        total = self.confusion.sum()
        return float(np.trace(self.confusion) / total) if total else 0.0


class Precision(Metric):
    name = "precision"

    def result(self):
        return float(self._per_class(axis=0))


class Recall(Metric):
    name = "recall"

    def result(self):
        return float(self._per_class(axis=1))


METRICS = {m.name: m for m in (Accuracy, Precision, Recall)}
ALIASES = {"acc": "accuracy"}


def get(name, classes):
    if not isinstance(name, str):
        raise TypeError(f"metrics are given by name, one of {sorted(METRICS)}; got "
                        f"{type(name).__name__} (metrics of your own are not supported)")
    key = ALIASES.get(name, name)
    if key not in METRICS:
        raise ValueError(f"unknown metric {name!r}; choose from {sorted(METRICS)}")
    return METRICS[key](classes)
