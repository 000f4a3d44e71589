"""Mini-batch iteration over in-memory numpy arrays.

    loader = DataLoader(X_train, y_train, batch_size=64, shuffle=True, seed=0)
    for epoch in range(10):
        for xb, yb in loader:      # one pass over the data = one epoch
            ...

Batches are never built by copying the whole dataset. Without shuffling each
batch is a slice of ``X`` (a view, no copy at all); with shuffling one
permutation of the sample indices is drawn per epoch and each batch is
gathered with fancy indexing, which copies only that batch.
"""

import numbers

import numpy as np

from ..nn.tensor import Tensor
from .augment import ImageAugment

__all__ = ["DataLoader"]


class DataLoader:
    """Iterate over ``X`` (and ``y``) in mini-batches along the first axis.

    Parameters
    ----------
    X : array_like, at least 1-D
        Samples; axis 0 indexes them.
    y : array_like, optional
        Targets, with as many entries along axis 0 as ``X``. When given, the
        loader yields ``(xb, yb)`` pairs; otherwise it yields ``xb`` alone.
    batch_size : int
        Samples per batch. The last batch may be smaller (see ``drop_last``).
    shuffle : bool
        Visit the samples in a new random order every epoch.
    seed : int or None
        Seed of the generator that draws the permutations. The generator is
        created once, so a given seed reproduces the whole sequence of epochs
        while successive epochs still get different orders.
    drop_last : bool
        Skip the final batch when it has fewer than ``batch_size`` samples.
    augment : ImageAugment or None
        Applied to every batch of ``X`` (which it copies, never modifies):
        random shifts and flips of images, drawn from a generator of their
        own seeded from ``seed`` (so the shuffling order is the same with or
        without augmentation). Off (None) by default.
    """

    def __init__(self, X, y=None, batch_size=32, shuffle=False, seed=None,
                 drop_last=False, augment=None):
        X = np.asarray(X)
        if X.ndim < 1:
            raise ValueError("X must be at least 1-D (axis 0 indexes the "
                             "samples), got a 0-D array")
        if y is not None:
            y = np.asarray(y)
            if y.ndim < 1:
                raise ValueError("y must be at least 1-D, got a 0-D array")
            if len(y) != len(X):
                raise ValueError(f"X has {len(X)} samples but y has "
                                 f"{len(y)}")
        if (isinstance(batch_size, bool)
                or not isinstance(batch_size, numbers.Integral)
                or batch_size <= 0):
            raise ValueError("batch_size must be a positive integer, got "
                             f"{batch_size!r}")
        if len(X) == 0:
            raise ValueError("cannot iterate over an empty dataset "
                             "(X has 0 samples)")
        self.X = X
        self.y = y
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self._rng = np.random.default_rng(seed)
        if augment is not None and not isinstance(augment, ImageAugment):
            raise TypeError("augment must be an ImageAugment (e.g. ImageAugment(shift=4, "
                            f"flip=True)) or None, got {type(augment).__name__}")
        if augment is not None and X.ndim != 4:
            raise ValueError(f"augment needs images X (N, C, H, W), got shape {X.shape}")
        self.augment = augment
        self._augment_rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])

    @property
    def num_samples(self):
        """Number of samples in the dataset (length of axis 0 of ``X``)."""
        return len(self.X)

    def __len__(self):
        """Number of batches one epoch yields."""
        n, b = self.num_samples, self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def __iter__(self):
        """Yield one epoch of batches; each call starts a new epoch."""
        order = self._rng.permutation(self.num_samples) if self.shuffle else None
        for i in range(len(self)):
            start = i * self.batch_size
            if order is None:
                index = slice(start, start + self.batch_size)   # a view
            else:
                index = order[start:start + self.batch_size]    # a copy
            xb = self.X[index]
            if self.augment is not None:
                xb = self.augment(xb, self._augment_rng)
            if self.y is None:
                yield xb
            else:
                yield xb, self.y[index]

    def __repr__(self):
        return (f"DataLoader(num_samples={self.num_samples}, "
                f"batch_size={self.batch_size}, shuffle={self.shuffle}, "
                f"drop_last={self.drop_last}, with_y={self.y is not None}"
                + (f", augment={self.augment!r})" if self.augment is not None else ")"))


def as_features(X, what):
    """X as a finite float32 array with at least one sample; `what` names the caller in errors."""
    X = X.data if isinstance(X, Tensor) else X
    if X is None:
        raise ValueError(f"{what}: X is None")
    if np.iscomplexobj(X):
        raise TypeError(f"{what}: X is complex; the models take real features (split real and "
                        f"imaginary parts into two features, or take the magnitude)")
    try:
        X = np.asarray(X, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{what}: X must be numeric, got {type(X).__name__} ({exc})") from None
    if X.ndim < 1 or len(X) == 0:
        raise ValueError(f"{what}: X is empty (shape {X.shape})")
    bad = ~np.isfinite(X)
    if bad.any():
        sample = int(np.argwhere(bad)[0][0])
        raise ValueError(f"{what}: X contains NaN or infinity (first at sample {sample}); "
                         f"clean or impute the data first")
    return X
