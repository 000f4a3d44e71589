"""Tests for braininabox.data.DataLoader."""

import numpy as np
import pytest

import braininabox.data as data
from braininabox.data import DataLoader


def dataset(n=10):
    X = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    y = np.arange(n) * 10
    return X, y


def test_batches_in_order_with_partial_last():
    X, y = dataset(10)
    loader = DataLoader(X, y, batch_size=4)
    batches = list(loader)
    assert len(loader) == 3 == len(batches)
    assert [len(xb) for xb, _ in batches] == [4, 4, 2]
    for i, (xb, yb) in enumerate(batches):
        np.testing.assert_array_equal(xb, X[4 * i:4 * i + 4])
        np.testing.assert_array_equal(yb, y[4 * i:4 * i + 4])
    assert loader.num_samples == 10


def test_unshuffled_batches_are_views():
    X, y = dataset(10)
    xb, yb = next(iter(DataLoader(X, y, batch_size=4)))
    assert np.shares_memory(xb, X) and np.shares_memory(yb, y)


def test_exact_multiple():
    X, y = dataset(8)
    loader = DataLoader(X, y, batch_size=4)
    assert len(loader) == 2 and [len(b[0]) for b in loader] == [4, 4]


def test_drop_last():
    X, y = dataset(10)
    loader = DataLoader(X, y, batch_size=4, drop_last=True)
    assert len(loader) == 2
    assert [len(xb) for xb, _ in loader] == [4, 4]
    small = DataLoader(X, y, batch_size=16, drop_last=True)
    assert len(small) == 0 and list(small) == []
    assert len(DataLoader(X, y, batch_size=16)) == 1


def test_batch_bigger_than_dataset():
    X, y = dataset(3)
    (xb, yb), = list(DataLoader(X, y, batch_size=100))
    np.testing.assert_array_equal(xb, X)


def test_shuffle_covers_every_index_once_per_epoch():
    X, y = dataset(23)
    loader = DataLoader(X, y, batch_size=5, shuffle=True, seed=0)
    for _ in range(3):
        seen = np.concatenate([yb for _, yb in loader]) // 10
        assert sorted(seen) == list(range(23))
        assert len(seen) == 23


def test_shuffle_keeps_x_and_y_aligned():
    X, y = dataset(17)
    for xb, yb in DataLoader(X, y, batch_size=4, shuffle=True, seed=1):
        np.testing.assert_array_equal(xb[:, 0] / 3 * 10, yb)


def test_shuffle_with_drop_last():
    X, y = dataset(10)
    loader = DataLoader(X, y, batch_size=4, shuffle=True, seed=0, drop_last=True)
    seen = np.concatenate([yb for _, yb in loader]) // 10
    assert len(seen) == 8 and len(set(seen)) == 8


def epochs(loader, n):
    return [np.concatenate([yb for _, yb in loader]) for _ in range(n)]


def test_seed_reproducible():
    X, y = dataset(50)
    a = epochs(DataLoader(X, y, batch_size=8, shuffle=True, seed=42), 3)
    b = epochs(DataLoader(X, y, batch_size=8, shuffle=True, seed=42), 3)
    for ea, eb in zip(a, b):
        np.testing.assert_array_equal(ea, eb)
    c = epochs(DataLoader(X, y, batch_size=8, shuffle=True, seed=43), 1)
    assert not np.array_equal(a[0], c[0])


def test_epochs_get_different_permutations():
    X, y = dataset(50)
    e1, e2, e3 = epochs(DataLoader(X, y, batch_size=8, shuffle=True, seed=0), 3)
    assert not np.array_equal(e1, e2) and not np.array_equal(e2, e3)
    assert not np.array_equal(e1, y)   # actually shuffled


def test_no_shuffle_same_every_epoch():
    X, y = dataset(10)
    e1, e2 = epochs(DataLoader(X, y, batch_size=3), 2)
    np.testing.assert_array_equal(e1, y)
    np.testing.assert_array_equal(e2, y)


def test_x_only_yields_arrays():
    X, _ = dataset(7)
    batches = list(DataLoader(X, batch_size=3))
    assert all(isinstance(b, np.ndarray) for b in batches)
    np.testing.assert_array_equal(np.concatenate(batches), X)
    shuffled = np.concatenate(list(DataLoader(X, batch_size=3, shuffle=True, seed=0)))
    assert sorted(shuffled[:, 0]) == sorted(X[:, 0])


def test_accepts_lists_and_nd_arrays():
    X = np.zeros((6, 1, 28, 28), dtype=np.float32)
    xb, yb = next(iter(DataLoader(X, [0, 1, 2, 3, 4, 5], batch_size=4)))
    assert xb.shape == (4, 1, 28, 28) and yb.tolist() == [0, 1, 2, 3]
    assert [b.tolist() for b in DataLoader([1, 2, 3], batch_size=2)] == [[1, 2], [3]]


def test_length_mismatch_message():
    with pytest.raises(ValueError, match="X has 100 samples but y has 99"):
        DataLoader(np.zeros((100, 2)), np.zeros(99))


@pytest.mark.parametrize("bad", [0, -1, 2.5, "8", None, True])
def test_bad_batch_size(bad):
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        DataLoader(np.zeros(10), batch_size=bad)


def test_numpy_int_batch_size_ok():
    assert len(DataLoader(np.zeros(10), batch_size=np.int64(5))) == 2


def test_scalar_x_rejected():
    with pytest.raises(ValueError, match="X must be at least 1-D"):
        DataLoader(np.float32(3.0))


def test_scalar_y_rejected():
    with pytest.raises(ValueError, match="y must be at least 1-D"):
        DataLoader(np.zeros(3), 1)


def test_empty_dataset_rejected():
    with pytest.raises(ValueError, match="empty dataset"):
        DataLoader(np.zeros((0, 3)), np.zeros(0))


def test_repr_and_module_exports():
    assert "batch_size=4" in repr(DataLoader(np.zeros(5), batch_size=4))
    assert data.__all__ == ["DataLoader", "ImageAugment"]
