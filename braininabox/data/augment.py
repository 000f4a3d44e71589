"""Random image augmentation for training batches: shifts (crops of a zero-padded image)
and horizontal flips, drawn per sample from a seeded generator.

    aug = bb.data.ImageAugment(shift=4, flip=True)
    model.fit(X, y, epochs=10, augment=aug, seed=0)          # or
    loader = bb.data.DataLoader(X, y, batch_size=64, shuffle=True, seed=0, augment=aug)
"""
import numbers

import numpy as np

__all__ = ["ImageAugment"]


class ImageAugment:
    """Per sample of an (N, C, H, W) batch: pad every side with `shift` zeros (fill) and crop
    back to H x W at a random offset, i.e. translate by up to `shift` pixels each way; then,
    with flip=True, mirror left-right with probability 1/2. The input is never modified."""

    def __init__(self, shift=0, flip=False, fill=0.0):
        if isinstance(shift, bool) or not isinstance(shift, numbers.Integral) or shift < 0:
            raise ValueError(f"ImageAugment: shift must be an integer >= 0, got {shift!r}")
        if not isinstance(flip, bool):
            raise ValueError(f"ImageAugment: flip must be True or False, got {flip!r}")
        if not np.isfinite(fill):
            raise ValueError(f"ImageAugment: fill must be a finite number, got {fill!r}")
        self.shift, self.flip, self.fill = int(shift), flip, float(fill)

    def __call__(self, batch, rng):
        """An augmented copy of batch (N, C, H, W), drawing from the numpy Generator rng."""
        batch = np.asarray(batch)
        if batch.ndim != 4:
            raise ValueError(f"ImageAugment expects image batches (N, C, H, W), got shape "
                             f"{batch.shape}; add a channel axis, e.g. X[:, None]"
                             if batch.ndim == 3 else
                             f"ImageAugment expects image batches (N, C, H, W), got shape "
                             f"{batch.shape}")
        n, _, h, w = batch.shape
        s = self.shift
        if s:
            padded = np.full(batch.shape[:2] + (h + 2 * s, w + 2 * s), self.fill, dtype=batch.dtype)
            padded[:, :, s:s + h, s:s + w] = batch
            offsets = rng.integers(0, 2 * s + 1, size=(n, 2))
            out = np.empty_like(batch)
            for i, (dy, dx) in enumerate(offsets):
                out[i] = padded[i, :, dy:dy + h, dx:dx + w]
        else:
            out = batch.copy()
        if self.flip:
            mirrored = rng.random(n) < 0.5
            out[mirrored] = out[mirrored][..., ::-1]
        return out

    def __repr__(self):
        return f"ImageAugment(shift={self.shift}, flip={self.flip}, fill={self.fill})"
