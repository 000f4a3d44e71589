"""QuantizedModel.save and bb.load: an int8 model in the float models' file format.

A saved and loaded model must be the same model: byte-equal predict_int8 and the same
export_c header, for a Sequential, a graph model and a model whose first op is the audio
front end. Damaged files (every truncation, a flipped bit at every byte) and crafted
ones (a valid checksum over a header that lies) are refused with bb.ModelFileError
naming the file, never loaded as something else.
"""
import json
import zipfile

import numpy as np
import pytest

import braininabox as bb
from braininabox.deploy.quantized import QuantizedModel
from braininabox.train import model_file

L = bb.layers


def sequential():
    bb.seed(0)
    model = bb.Sequential([L.Conv2D(4, kernel=3, padding="same"), L.ReLU(), L.MaxPool(2),
                           L.Flatten(), L.Linear(8), L.ReLU(), L.Linear(3), L.Softmax()])
    model.build((1, 6, 6))
    X = np.random.default_rng(1).normal(size=(16, 1, 6, 6)).astype(np.float32)
    return bb.quantize(model, X), X


def graph():
    bb.seed(0)
    model = bb.models.resnet8(input_shape=(3, 8, 8), filters=4)
    X = np.random.default_rng(2).normal(size=(16, 3, 8, 8)).astype(np.float32)
    return bb.quantize(model, X), X


def with_frontend():
    bb.seed(0)
    mfcc = bb.audio.MFCC(8000, float_scale=1 / 64)
    model = bb.models.ds_cnn(input_shape=(1, 49, 10), filters=8)
    rng = np.random.default_rng(3)
    pcm = (rng.standard_normal((6, 8000)) * rng.uniform(30, 3000, (6, 1))).astype(np.int16)
    return bb.quantize(model, list(pcm), frontend=mfcc), pcm


def more_layers():
    """Conv1D, its pools, LeakyReLU and SeparableConv2D's ops (and a concatenation)."""
    bb.seed(0)
    x = bb.Input((3, 12, 12))
    sep = L.SeparableConv2D(6, 3, stride=2, padding="same", depth_multiplier=2)(x)
    left = L.LeakyReLU(0.1)(L.Conv2D(4, kernel=3, padding="same")(sep))
    joined = L.Concatenate()([left, L.ReLU()(sep)])
    model = bb.Model(x, L.Linear(3)(L.GlobalAvgPool()(joined)))
    X = np.random.default_rng(4).normal(size=(16, 3, 12, 12)).astype(np.float32)
    one = bb.Sequential([L.Conv1D(5, 4, padding="same"), L.LeakyReLU(0.2), L.MaxPool1D(2),
                         L.AvgPool1D(2, 1), L.Flatten(), L.Linear(3)]).build((3, 31))
    X1 = np.random.default_rng(5).normal(size=(16, 3, 31)).astype(np.float32)
    return (bb.quantize(model, X), X), (bb.quantize(one, X1), X1)


MODELS = {"sequential": sequential, "graph": graph, "frontend": with_frontend,
          "separable_leaky_concat": lambda: more_layers()[0], "conv1d": lambda: more_layers()[1]}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_round_trip_is_the_same_model(name, tmp_path):
    q, X = MODELS[name]()
    path = tmp_path / f"{name}.bb"
    assert q.save(path) == path
    loaded = bb.load(path)
    assert isinstance(loaded, QuantizedModel)
    np.testing.assert_array_equal(loaded.predict_int8(X), q.predict_int8(X))
    assert (loaded.input_shape, loaded.input_q, loaded.output_shape, loaded.reads) == \
        (q.input_shape, q.input_q, q.output_shape, q.reads)
    assert loaded.summary(print_fn=lambda _: None) == q.summary(print_fn=lambda _: None)
    q.export_c(tmp_path / "saved.h", name="net")
    loaded.export_c(tmp_path / "loaded.h", name="net")
    assert (tmp_path / "loaded.h").read_bytes() == (tmp_path / "saved.h").read_bytes()


def test_front_end_round_trips(tmp_path):
    q, pcm = with_frontend()
    q.save(tmp_path / "kws.bb")
    loaded = bb.load(tmp_path / "kws.bb")
    assert isinstance(loaded.frontend, bb.audio.MFCC)
    assert (loaded.frontend.sample_rate, loaded.frontend.float_scale) == (8000, q.frontend.float_scale)
    assert loaded.input_dtype == np.int16
    np.testing.assert_array_equal(loaded.frontend.batch(pcm), q.frontend.batch(pcm))


@pytest.fixture(scope="module")
def small_file(tmp_path_factory):
    """The bytes of a small saved int8 model (a few KB: every byte is fuzzed)."""
    bb.seed(0)
    model = bb.Sequential([L.Linear(6), L.ReLU(), L.Linear(3)])
    model.build((5,))
    X = np.random.default_rng(0).normal(size=(8, 5)).astype(np.float32)
    path = tmp_path_factory.mktemp("q") / "small.bb"
    bb.quantize(model, X).save(path)
    return path.read_bytes(), X


def refused(path, pattern=None):
    with pytest.raises(bb.ModelFileError, match=pattern) as info:
        bb.load(path)
    assert str(path) in str(info.value)
    return info.value


def test_every_truncation_is_refused(small_file, tmp_path):
    raw, _ = small_file
    bad = tmp_path / "cut.bb"
    for n in range(len(raw)):
        bad.unlink(missing_ok=True)
        bad.write_bytes(raw[:n])
        refused(bad)


def test_every_bit_flip_is_refused(small_file, tmp_path):
    raw, _ = small_file
    bad = tmp_path / "flip.bb"
    for i in range(len(raw)):
        flipped = bytearray(raw)
        flipped[i] ^= 1 << (i % 8)
        bad.unlink(missing_ok=True)
        bad.write_bytes(bytes(flipped))
        refused(bad)


def parts(raw):
    """(header dict, {member: array}) of a model file's bytes."""
    import io
    with zipfile.ZipFile(io.BytesIO(raw)) as z:
        arrays = {n[:-4]: np.load(z.open(n)) for n in z.namelist()}
    return json.loads(str(arrays.pop("__header__")[()])), arrays


def crafted(tmp_path, raw, change):
    """A file with a valid checksum whose header or arrays `change` edited."""
    head, arrays = parts(raw)
    change(head, arrays)
    path = tmp_path / "crafted.bb"
    path.write_bytes(model_file.encode(head, arrays))
    return path


def test_unchanged_crafted_file_loads(small_file, tmp_path):
    """The crafting itself breaks nothing: the refusals below are the changes'."""
    raw, X = small_file
    (tmp_path / "original.bb").write_bytes(raw)
    path = crafted(tmp_path, raw, lambda h, a: None)
    np.testing.assert_array_equal(bb.load(path).predict_int8(X),
                                  bb.load(tmp_path / "original.bb").predict_int8(X))


def _set(d, key, value):
    d[key] = value


@pytest.mark.parametrize("change, pattern", [
    (lambda h, a: _set(h, "version", 9), r"int8 model format version 9, this braininabox reads version 1"),
    (lambda h, a: _set(h["ops"][0], "kind", "fft"), r"op 0 is not a \{kind, fields, arrays\} object of a known kind"),
    (lambda h, a: _set(h["ops"][0]["fields"], "evil", 1), r"op 0 \(linear\) has fields .*evil"),
    (lambda h, a: _set(a, "op_0_weights", a["op_0_weights"].astype(np.int32)),
     r"op 0 .*weights has dtype int32, expected int8"),
    (lambda h, a: _set(a, "op_0_weights", a["op_0_weights"].astype(np.float32)),
     r"op 0 .*weights has dtype float32, expected int8"),
    (lambda h, a: _set(a, "op_0_weights", a["op_0_weights"].astype(np.uint64)),
     r"op_0_weights has dtype uint64 \(int8 model arrays are"),
    (lambda h, a: a.pop("op_1_bias"), r"op 1 has no array op_1_bias"),
    (lambda h, a: _set(a, "op_7_spare", np.zeros(3, np.int8)), r"arrays no op uses: \['op_7_spare'\]"),
    (lambda h, a: _set(a, "param_0", np.zeros(3, np.float32)), r"unexpected members"),
    (lambda h, a: _set(h["ops"][0]["fields"], "in_shape", [1 << 30]), r"declares more than 16777216 values"),
    (lambda h, a: _set(h["ops"][0]["fields"], "out_shape", [0]), r"op 0 out_shape \[0\] is not a shape"),
    (lambda h, a: _set(a, "op_0_weights", a["op_0_weights"][:, :3]),
     r"the int8 runtime refuses the model at op 0"),
    (lambda h, a: _set(h, "reads", [[-1], [5]]), r"an op reads the model input \(-1\) or earlier ops only"),
    (lambda h, a: _set(h, "frontend", {"sample_rate": 8000, "float_scale": 0.5}),
     r"its front end does not match its first op"),
    (lambda h, a: _set(h["ops"][0]["fields"], "in_q", [0.1, {"__numpy__": "object", "value": 1}]),
     r"an op field holds an unknown object"),
    (lambda h, a: _set(h, "ops", []), r"the header has no list of 1 to 4096 ops"),
])
def test_crafted_files_are_refused(small_file, tmp_path, change, pattern):
    raw, _ = small_file
    refused(crafted(tmp_path, raw, change), pattern)


def test_a_float_model_file_may_not_hold_op_arrays(tmp_path):
    bb.seed(0)
    model = bb.Sequential([L.Linear(2)])
    model.build((3,))
    model.save(tmp_path / "f.bb")
    head, arrays = parts((tmp_path / "f.bb").read_bytes())
    arrays["op_0_weights"] = np.zeros(3, np.int8)
    path = tmp_path / "f2.bb"
    path.write_bytes(model_file.encode(head, arrays))
    refused(path, r"unexpected members")


def test_unsavable_field_is_a_clear_error(tmp_path):
    q, _ = sequential()
    q.ops[0].name = object()
    with pytest.raises(TypeError, match=r"QuantizedModel.save: op 0 .* field name holds a object"):
        q.save(tmp_path / "x.bb")
    assert not (tmp_path / "x.bb").exists()


def test_a_streamed_model_round_trips_with_its_band_chains(tmp_path):
    """A band_chain op holds its stages (ops) as a field: they are stored one level deep."""
    bb.seed(0)
    model = bb.models.ds_cnn(input_shape=(1, 25, 10), filters=8)
    X = np.random.default_rng(0).normal(size=(16, 1, 25, 10)).astype(np.float32)
    q = bb.quantize(model, X, stream=True)
    assert any(op.kind == "band_chain" for op in q.ops)
    q.save(tmp_path / "s.bb")
    again = bb.load(tmp_path / "s.bb")
    assert [op.kind for op in again.ops] == [op.kind for op in q.ops]
    np.testing.assert_array_equal(again.predict_int8(X), q.predict_int8(X))
    assert again.c_model().checksum == q.c_model().checksum
