"""Trained, quantized models on the embedded runtime: host build and QEMU boards give the
bytes of q.predict_int8 exactly, and the board's measured RAM stays within 128 KB."""
import shutil

import numpy as np
import pytest

import braininabox as bb
from braininabox.deploy import embedded
from braininabox.deploy.export import RamBudgetError

L = bb.layers
BOARDS = ["mps2-an385", "mps2-an386"]
needs_board = pytest.mark.skipif(
    shutil.which("arm-none-eabi-gcc") is None or shutil.which("qemu-system-arm") is None,
    reason="arm-none-eabi-gcc / qemu-system-arm not installed (make system installs them)")


def _trained(layers, input_shape, classes, steps=30, seed=0):
    """A model trained briefly on synthetic data, so weights and ranges are not trivial."""
    bb.seed(seed)
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(256,) + input_shape).astype(np.float32)
    y = (X.reshape(len(X), -1)[:, :classes].argmax(axis=1)).astype(np.int64)
    model = bb.Sequential(layers)
    model.compile(optimizer=bb.optimizers.Adam(lr=0.01), loss=bb.loss.CrossEntropy())
    model.fit(X, y, epochs=max(1, steps * 32 // len(X)), batch_size=32, verbose=0)
    return model, X


MODELS = {
    "conv-stride2-pad1-avgpool": (lambda: [L.Conv2D(4, kernel=3, stride=2, padding=1), L.ReLU(),
                                           L.AvgPool(2), L.Flatten(), L.Linear(5)], (2, 12, 12)),
    "conv-pad2-nonsquare-maxpool-overlap": (lambda: [L.Conv2D(3, kernel=(3, 5), padding=2), L.ReLU(),
                                                     L.MaxPool(3, stride=2), L.Flatten(),
                                                     L.Linear(4)], (1, 9, 11)),
    "standalone-relu-softmax": (lambda: [L.Conv2D(4, kernel=3), L.MaxPool(2), L.ReLU(), L.Flatten(),
                                         L.Linear(8), L.ReLU(), L.Dropout(0.2), L.Linear(3),
                                         L.Softmax()], (1, 10, 10)),
    # Two fused conv2d_pool ops on odd sizes: the 3x3 fast path with 1 and 5 input channels,
    # padded borders on the slow path, a conv row and column no pooling window covers.
    "two-conv-pad1-maxpool-odd": (lambda: [L.Conv2D(5, kernel=3, padding=1), L.ReLU(), L.MaxPool(2),
                                           L.Conv2D(6, kernel=3), L.ReLU(), L.MaxPool(2),
                                           L.Flatten(), L.Linear(4)], (1, 15, 13)),
    "mlp": (lambda: [L.Flatten(), L.Linear(16), L.ReLU(), L.Linear(16), L.ReLU(), L.Linear(6)],
            (1, 6, 6)),
}


@pytest.mark.parametrize("fuse", [True, False])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_host_build_matches_predict_int8(name, fuse):
    layers, shape = MODELS[name]
    model, X = _trained(layers(), shape, classes=3)
    q = bb.quantize(model, X[:128], fuse=fuse)
    result = embedded.run(q, X[:6], target="host")
    np.testing.assert_array_equal(result.outputs_int8, q.predict_int8(X[:6]))
    other = bb.quantize(model, X[:128], fuse=not fuse)  # fused and unfused: the same bytes
    np.testing.assert_array_equal(result.outputs_int8, other.predict_int8(X[:6]))


@needs_board
@pytest.mark.parametrize("target", BOARDS)
@pytest.mark.parametrize("name", sorted(MODELS))
def test_boards_match_predict_int8(name, target):
    layers, shape = MODELS[name]
    model, X = _trained(layers(), shape, classes=3)
    q = bb.quantize(model, X[:128])
    result = embedded.run(q, X[:4], target=target)
    np.testing.assert_array_equal(result.outputs_int8, q.predict_int8(X[:4]))
    np.testing.assert_array_equal(result.outputs_int8,
                                  bb.quantize(model, X[:128], fuse=False).predict_int8(X[:4]))
    assert 0 < result.ram_bytes <= 128 * 1024


@pytest.fixture(scope="module")
def mnist_cnn(mnist):
    (X, y), (Xt, yt) = mnist
    bb.seed(0)
    model = bb.Sequential([L.Conv2D(32, kernel=3), L.ReLU(), L.MaxPool(2), L.Flatten(), L.Linear(10)])
    model.compile(optimizer=bb.optimizers.Adam(), loss=bb.loss.CrossEntropy())
    model.fit(X[:3000], y[:3000], epochs=1, batch_size=64, verbose=0, seed=0)
    q = bb.quantize(model, X[:300])
    return q, Xt[:8], yt[:8]


@needs_board
@pytest.mark.parametrize("target", ["host"] + BOARDS)
def test_trained_mnist_cnn_on_each_target(mnist_cnn, target):
    q, X, y = mnist_cnn
    result = embedded.run(q, X, target=target)
    np.testing.assert_array_equal(result.outputs_int8, q.predict_int8(X))
    assert (result.outputs_int8.argmax(axis=1) == y).mean() >= 0.75
    if target != "host":
        plan = q.memory_plan()
        # Measured, not estimated: static data (incl. the arena) plus the painted stack's peak.
        assert plan.arena_bytes < result.ram_bytes <= 128 * 1024
        assert result.stack_bytes > 0 and result.ticks > 0
        assert result.flash_bytes > plan.flash_bytes  # the weights live in flash


@needs_board
def test_model_over_128k_fails_to_link_with_the_overflow_named(tmp_path):
    # A 64-channel 3x3 conv on 48x48: 64*46*46 = 135,424 bytes of activations.
    bb.seed(0)
    model = bb.Sequential([L.Conv2D(64, kernel=3), L.ReLU(), L.MaxPool(2), L.Flatten(), L.Linear(2)])
    model.build((1, 48, 48))
    X = np.random.default_rng(0).normal(size=(16, 1, 48, 48)).astype(np.float32)
    q = bb.quantize(model, X, fuse=False)  # fused, the conv output never exists and it fits
    assert bb.quantize(model, X).memory_plan().arena_bytes < 48 * 48 + 64 * 23 * 23 + 4
    with pytest.raises(RamBudgetError, match="ram_budget of 131,072 bytes"):
        q.export_c(tmp_path / "big.h", ram_budget=128 * 1024)
    with pytest.raises(embedded.RamOverflowError, match="overflow"):
        embedded.run(q, X[:1], target="mps2-an385")
