"""Tests for braininabox/recurrent.py: Embedding, RNN, LSTM, GRU and clip_grad_norm.

Gradients by central finite differences in float64 (tests/gradcheck.py: the recurrent
ops keep their input's dtype); when torch is installed, forward and gradients against
torch.nn.RNN / LSTM / GRU (batch_first=True) with copied weights; state carrying for
truncated BPTT; the sequence cross-entropy; save/load; errors by message.
"""
import numpy as np
import pytest

import braininabox as bb
from braininabox.nn.layer import LAYERS
from braininabox.nn.recurrent import (GRU, LSTM, RNN, Embedding, clip_grad_norm, embedding, gru,
                                   lstm, rnn)
from braininabox.nn.tensor import Tensor
from gradcheck import assert_close, check_grad

N, T, I, H = 2, 4, 3, 5


def _rand(*shape, seed=0, scale=0.5):
    return np.random.default_rng(seed).standard_normal(shape) * scale


# ------------------------------------------------------------ gradient checks

def test_rnn_gradcheck_all_inputs():
    arrays = [_rand(N, T, I, seed=1), _rand(H, I, seed=2), _rand(H, H, seed=3),
              _rand(H, seed=4), _rand(N, H, seed=5)]
    out = check_grad(lambda x, wi, wh, b, h0: rnn(x, wi, wh, b, h0)[0], *arrays)
    assert out.shape == (N, T, H) and out.dtype == np.float64


def test_rnn_gradcheck_without_bias_or_state():
    arrays = [_rand(N, T, I, seed=1), _rand(H, I, seed=2), _rand(H, H, seed=3)]
    check_grad(lambda x, wi, wh: rnn(x, wi, wh)[0], *arrays)


def test_lstm_gradcheck_all_inputs():
    arrays = [_rand(N, T, I, seed=1), _rand(4 * H, I, seed=2), _rand(4 * H, H, seed=3),
              _rand(4 * H, seed=4), _rand(N, H, seed=5), _rand(N, H, seed=6)]
    out = check_grad(lambda x, wi, wh, b, h0, c0: lstm(x, wi, wh, b, h0, c0)[0], *arrays)
    assert out.shape == (N, T, H)


def test_gru_gradcheck_all_inputs():
    arrays = [_rand(N, T, I, seed=1), _rand(3 * H, I, seed=2), _rand(3 * H, H, seed=3),
              _rand(3 * H, seed=4), _rand(3 * H, seed=7), _rand(N, H, seed=5)]
    check_grad(lambda x, wi, wh, bi, bh, h0: gru(x, wi, wh, bi, bh, h0)[0], *arrays)


def test_embedding_gradcheck_with_repeated_indices():
    idx = np.array([[0, 2, 2], [4, 0, 2]])
    out = check_grad(lambda w: embedding(idx, w), _rand(5, 3, seed=1))
    assert out.shape == (2, 3, 3)


def test_embedding_repeated_indices_accumulate():
    w = Tensor(np.zeros((4, 2)), requires_grad=True)
    embedding(np.array([[1, 1, 1, 3]]), w).sum().backward()
    np.testing.assert_array_equal(w.grad, [[0, 0], [3, 3], [0, 0], [1, 1]])


def test_last_step_output_gradcheck():
    """return_sequences=False path (out[:, -1]) through a layer, float64 weights."""
    layer = LSTM(H, return_sequences=False, input_size=I)
    for name in ("weight_ih", "weight_hh", "bias"):
        p = getattr(layer, name)
        setattr(layer, name, Tensor(p.data, requires_grad=True, dtype=np.float64))
    out = check_grad(lambda x: layer(x), _rand(N, T, I))
    assert out.shape == (N, H)


def test_float32_layer_close_to_float64():
    layer = LSTM(H, input_size=I)
    x = _rand(N, T, I).astype(np.float32)
    out32 = layer(x).data
    out64, _ = lstm(Tensor(x, dtype=np.float64), layer.weight_ih.data.astype(np.float64),
                    layer.weight_hh.data.astype(np.float64), layer.bias.data.astype(np.float64))
    assert out32.dtype == np.float32
    assert_close(out32, out64.data, 1e-6, 1e-5, "float32 vs float64 LSTM")


# ------------------------------------------------------------ torch comparison

def _copy_to_torch(layer, tl, torch):
    with torch.no_grad():
        tl.weight_ih_l0.copy_(torch.tensor(layer.weight_ih.data))
        tl.weight_hh_l0.copy_(torch.tensor(layer.weight_hh.data))
        if isinstance(layer, GRU):
            tl.bias_ih_l0.copy_(torch.tensor(layer.bias_ih.data))
            tl.bias_hh_l0.copy_(torch.tensor(layer.bias_hh.data))
        else:  # one bias here; torch adds its two
            tl.bias_ih_l0.copy_(torch.tensor(layer.bias.data))
            tl.bias_hh_l0.zero_()


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_matches_torch_forward_and_gradients(kind):
    torch = pytest.importorskip("torch")
    bb.seed(0)
    layer = getattr(bb.layers, kind)(6, input_size=4)
    rng = np.random.default_rng(1)
    for p in layer.parameters():  # nonzero biases everywhere
        p.data[...] = rng.uniform(-0.5, 0.5, p.shape)
    tl = getattr(torch.nn, kind)(4, 6, batch_first=True)
    _copy_to_torch(layer, tl, torch)
    x = rng.standard_normal((3, 7, 4)).astype(np.float32)
    h0 = rng.standard_normal((3, 6)).astype(np.float32)
    c0 = rng.standard_normal((3, 6)).astype(np.float32)
    cot = rng.standard_normal((3, 7, 6)).astype(np.float32)

    xt, h0t, c0t = (torch.tensor(a, requires_grad=True) for a in (x, h0, c0))
    state_t = (h0t[None], c0t[None]) if kind == "LSTM" else h0t[None]
    yt, last_t = tl(xt, state_t)
    (yt * torch.tensor(cot)).sum().backward()

    xb, h0b, c0b = (Tensor(a, requires_grad=True) for a in (x, h0, c0))
    y = layer(xb, initial_state=(h0b, c0b) if kind == "LSTM" else h0b)
    y.backward(cot)

    tol = {"atol": 1e-5, "rtol": 1e-4}
    assert_close(y.data, yt.detach().numpy(), what="output", **tol)
    if kind == "LSTM":
        assert_close(layer.last_state[0].data, last_t[0][0].detach().numpy(), what="h_T", **tol)
        assert_close(layer.last_state[1].data, last_t[1][0].detach().numpy(), what="c_T", **tol)
        assert_close(c0b.grad, c0t.grad.numpy(), what="dc0", **tol)
    else:
        assert_close(layer.last_state.data, last_t[0].detach().numpy(), what="h_T", **tol)
    assert_close(xb.grad, xt.grad.numpy(), what="dx", **tol)
    assert_close(h0b.grad, h0t.grad.numpy(), what="dh0", **tol)
    assert_close(layer.weight_ih.grad, tl.weight_ih_l0.grad.numpy(), what="dW_ih", **tol)
    assert_close(layer.weight_hh.grad, tl.weight_hh_l0.grad.numpy(), what="dW_hh", **tol)
    if kind == "GRU":
        assert_close(layer.bias_ih.grad, tl.bias_ih_l0.grad.numpy(), what="db_ih", **tol)
        assert_close(layer.bias_hh.grad, tl.bias_hh_l0.grad.numpy(), what="db_hh", **tol)
    else:
        assert_close(layer.bias.grad, tl.bias_ih_l0.grad.numpy(), what="dbias", **tol)


def test_sequence_cross_entropy_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((3, 5, 7)).astype(np.float32)
    labels = rng.integers(0, 7, (3, 5))
    lt = torch.tensor(logits, requires_grad=True)
    ref = torch.nn.functional.cross_entropy(lt.reshape(-1, 7), torch.tensor(labels).reshape(-1))
    ref.backward()
    x = Tensor(logits, requires_grad=True)
    loss = bb.loss.CrossEntropy()(x, labels)
    loss.backward()
    assert_close(loss.data, ref.item(), 1e-6, 1e-5, "loss")
    assert_close(x.grad, lt.grad.numpy(), 1e-7, 1e-5, "dlogits")


# ------------------------------------------------------------ sequence loss

def test_sequence_cross_entropy_is_mean_over_all_positions():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((3, 5, 7))
    labels = rng.integers(0, 7, (3, 5))
    loss = bb.loss.CrossEntropy()(Tensor(logits), labels)
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    expected = -np.mean(np.take_along_axis(logp, labels[..., None], -1))
    assert_close(loss.data, expected, 1e-6, 1e-5, "sequence cross-entropy")
    # its gradient is (softmax - onehot) / (N * T)
    x = Tensor(logits.astype(np.float32), requires_grad=True)
    bb.loss.CrossEntropy()(x, labels).backward()
    onehot = np.eye(7)[labels]
    assert_close(x.grad, (np.exp(logp) - onehot) / 15, 1e-6, 1e-4, "sequence CE gradient")


# ------------------------------------------------------------ state carrying

@pytest.mark.parametrize("cls", [RNN, LSTM, GRU])
def test_state_carried_between_chunks_equals_one_long_sequence(cls):
    bb.seed(3)
    layer = cls(6, input_size=4)
    x = np.random.default_rng(0).standard_normal((2, 12, 4)).astype(np.float32)
    whole = layer(x).data
    final = layer.last_state
    state, parts = None, []
    for start in (0, 5, 9):
        parts.append(layer(x[:, start:start + {0: 5, 5: 4, 9: 3}[start]], initial_state=state).data)
        state = layer.last_state
    np.testing.assert_allclose(np.concatenate(parts, axis=1), whole, atol=1e-6)
    pairs = zip(state, final) if cls is LSTM else [(state, final)]
    for a, b in pairs:
        np.testing.assert_allclose(a.data, b.data, atol=1e-6)
        assert not a.requires_grad  # detached: BPTT stops at the chunk boundary


def test_return_sequences_false_is_last_step():
    bb.seed(0)
    layer = GRU(4, input_size=3)
    x = np.random.default_rng(0).standard_normal((2, 6, 3)).astype(np.float32)
    all_steps = layer(x).data
    layer.return_sequences = False
    np.testing.assert_allclose(layer(x).data, all_steps[:, -1], atol=1e-7)


def test_initial_state_gets_gradient_and_zero_state_default():
    layer = RNN(3, input_size=2)
    x = np.ones((1, 4, 2), dtype=np.float32)
    h0 = Tensor(np.zeros((1, 3)), requires_grad=True)
    out = layer(x, initial_state=h0)
    np.testing.assert_allclose(out.data, layer(x).data, atol=1e-7)
    out.sum().backward()
    assert h0.grad is not None and h0.grad.shape == (1, 3) and np.any(h0.grad != 0)


# ------------------------------------------------------------ layers, init, save/load

def test_parameter_names_shapes_and_init():
    bb.seed(0)
    rnn_l, lstm_l, gru_l = RNN(8, input_size=3), LSTM(8, input_size=3), GRU(8, input_size=3)
    assert [p.shape for p in rnn_l.parameters()] == [(8, 3), (8, 8), (8,)]
    assert [p.shape for p in lstm_l.parameters()] == [(32, 3), (32, 8), (32,)]
    assert [p.shape for p in gru_l.parameters()] == [(24, 3), (24, 8), (24,), (24,)]
    w = rnn_l.weight_hh.data.astype(np.float64)
    np.testing.assert_allclose(w @ w.T, np.eye(8), atol=1e-5)  # orthogonal recurrence
    for k in range(4):
        block = lstm_l.weight_hh.data[8 * k:8 * (k + 1)].astype(np.float64)
        np.testing.assert_allclose(block @ block.T, np.eye(8), atol=1e-5)
    np.testing.assert_array_equal(lstm_l.bias.data[8:16], 1.0)  # forget gate
    np.testing.assert_array_equal(lstm_l.bias.data[:8], 0.0)
    assert all(p.dtype == np.float32 and p.requires_grad for p in lstm_l.parameters())


def test_layers_registered_for_save_and_load():
    for name in ("Embedding", "RNN", "LSTM", "GRU"):
        assert LAYERS[name] is getattr(bb.layers, name)


def test_sequential_embedding_lstm_linear_save_load_round_trip(tmp_path):
    bb.seed(0)
    model = bb.Sequential([Embedding(11, 4), LSTM(6, return_sequences=False),
                           bb.layers.Linear(11)])
    rng = np.random.default_rng(0)
    X = rng.integers(0, 11, (40, 5))
    y = X[:, -1]  # echo the last token
    model.compile(optimizer=bb.optimizers.Adam(lr=0.05), loss="cross_entropy")
    model.fit(X, y, epochs=2, batch_size=8, verbose=0)
    path = str(tmp_path / "seq.bb")
    model.save(path)
    loaded = bb.load(path)
    assert [type(layer).__name__ for layer in loaded.layers] == ["Embedding", "LSTM", "Linear"]
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert loaded.layers[1].return_sequences is False


def test_sequential_fit_learns_a_sequence_task():
    bb.seed(1)
    model = bb.Sequential([Embedding(5, 8), GRU(16, return_sequences=False),
                           bb.layers.Linear(5)])
    X = np.random.default_rng(0).integers(0, 5, (200, 4))
    y = X[:, 0]  # remember the first token
    model.compile(optimizer=bb.optimizers.Adam(lr=0.02), loss="cross_entropy",
                  metrics=["accuracy"])
    model.fit(X, y, epochs=15, batch_size=20, verbose=0)
    assert np.mean(model.predict(X).argmax(-1) == y) > 0.9


# ------------------------------------------------------------ clipping

def test_clip_grad_norm_scales_to_max_norm_and_returns_norm():
    a, b = Tensor(np.zeros(2), requires_grad=True), Tensor(np.zeros(1), requires_grad=True)
    a.grad, b.grad = np.array([3.0, 0.0]), np.array([4.0])
    assert clip_grad_norm([a, b], 1.0) == pytest.approx(5.0)
    np.testing.assert_allclose(np.concatenate([a.grad, b.grad]), [0.6, 0, 0.8], atol=1e-6)
    assert clip_grad_norm([a, b], 10.0) == pytest.approx(1.0, abs=1e-5)  # below: untouched
    np.testing.assert_allclose(a.grad, [0.6, 0], atol=1e-6)
    c = Tensor(np.zeros(1), requires_grad=True)  # no grad: skipped
    assert clip_grad_norm([c], 1.0) == 0.0


def test_clip_grad_norm_refuses_bad_max_norm():
    with pytest.raises(ValueError, match="max_norm must be > 0"):
        clip_grad_norm([], 0)


# ------------------------------------------------------------ errors

def test_embedding_refuses_out_of_range_and_non_integers():
    layer = Embedding(10, 3)
    with pytest.raises(ValueError, match=r"in \[0, 10\).*got 10 at flat position 2"):
        layer(np.array([[1, 2, 10]]))
    with pytest.raises(ValueError, match=r"in \[0, 10\).*got -1"):
        layer(np.array([-1]))
    with pytest.raises(ValueError, match="non-integer"):
        layer(np.array([[1.5]]))
    with pytest.raises(TypeError, match="dtype <U1"):
        layer(np.array(["a"]))
    assert layer(np.array([[1.0, 2.0]], dtype=np.float32)).shape == (1, 2, 3)  # whole floats ok


def test_recurrent_input_errors():
    with pytest.raises(ValueError, match=r"\(N, T, features\).*put an Embedding first"):
        LSTM(4)(np.zeros((2, 3)))
    layer = RNN(4)
    layer(np.zeros((1, 2, 3)))
    with pytest.raises(ValueError, match="built for 3 input features, got 5"):
        layer(np.zeros((1, 2, 5)))
    with pytest.raises(ValueError, match=r"initial state must have shape \(1, 4\)"):
        layer(np.zeros((1, 2, 3)), initial_state=np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"pair \(h, c\)"):
        LSTM(4)(np.zeros((1, 2, 3)), initial_state=np.zeros((1, 4)))
    with pytest.raises(ValueError, match="hidden must be a positive integer"):
        GRU(0)
    with pytest.raises(ValueError, match="empty"):
        RNN(2)(np.zeros((1, 0, 3)))


@pytest.mark.parametrize("op, gates", [(lstm, 4), (gru, 3)])
def test_gated_weights_of_the_wrong_shape_are_refused_by_name(op, gates):
    x = np.zeros((1, 2, 3), np.float32)
    with pytest.raises(ValueError, match=rf"{op.__name__}: weight_hh must be \({gates}H, H\) and "
                                         rf"weight_ih \({gates}H, I\), got \({gates * 4}, 5\)"):
        op(x, np.zeros((gates * 4, 3), np.float32), np.zeros((gates * 4, 5), np.float32))
