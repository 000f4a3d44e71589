"""The audio front end as the first op of an int8 model (bb.quantize(..., frontend=...)):
PCM in on the host runtime and on the QEMU boards, byte for byte.

The network here is small and untrained (seeded weights): what is checked is the
plumbing, not accuracy. The features of the front-end op must be exactly those of
bb.audio.MFCC (the same C function), they must reach the network unchanged (the
network's input quantization is the front end's), and the board must give the host's
bytes for the features and for the outputs."""
import shutil

import numpy as np
import pytest

import braininabox as bb
from braininabox.deploy.quantize import quantize_stages
from braininabox.deploy.quantized import QuantizedModel

BOARDS = ["mps2-an385", "mps2-an386"]
HAVE_BOARD = shutil.which("arm-none-eabi-gcc") is not None and shutil.which("qemu-system-arm") is not None
needs_board = pytest.mark.skipif(
    not HAVE_BOARD, reason="arm-none-eabi-gcc or qemu-system-arm not on PATH (run `make system`)")
needs_host = pytest.mark.skipif(shutil.which("gcc") is None or shutil.which("make") is None,
                                reason="gcc or make not on PATH")


def recordings(rate=8000):
    """Five 1 s int16 recordings: silence, a quiet and a loud two-tone, noise, a click train."""
    t = np.arange(rate) / rate
    rng = np.random.default_rng(3)
    tone = np.sin(2 * np.pi * 440 * t) + 0.5 * np.sin(2 * np.pi * 1870 * t)
    clicks = np.zeros(rate)
    clicks[::997] = 30000
    rows = [np.zeros(rate), 40 * tone * np.hanning(rate), 15000 * tone,
            rng.standard_normal(rate) * 3000, clicks]
    return np.stack([np.clip(np.rint(r), -32768, 32767) for r in rows]).astype(np.int16)


def network(seed=0):
    bb.seed(seed)
    return bb.Sequential([
        bb.layers.Conv2D(4, kernel=3, padding="same"), bb.layers.ReLU(), bb.layers.MaxPool(2),
        bb.layers.Flatten(), bb.layers.Linear(10)])


@pytest.fixture(scope="module")
def pipeline():
    mfcc = bb.audio.MFCC(float_scale=1 / 64)
    pcm = recordings()
    model = network()
    model.predict(mfcc.to_float(mfcc.batch(pcm)))  # builds it for (1, 49, 10)
    return mfcc, pcm, model, bb.quantize(model, list(pcm), frontend=mfcc)


def test_front_end_alone_gives_the_mfcc_bytes():
    for rate in (8000, 16000):
        mfcc = bb.audio.MFCC(sample_rate=rate)
        pcm = recordings(rate)
        fe = mfcc.int8_model()
        assert fe.input_shape == (rate,) and fe.input_size == 2 * rate
        assert [op.kind for op in fe.ops] == ["mfcc"] and fe.output_q == (0.5, -64)
        assert fe.ops[0].scratch_bytes() == bb._core.lib.bb_mfcc_s8_scratch_size(rate) > 0
        np.testing.assert_array_equal(fe.predict_int8(pcm), mfcc.batch(pcm).reshape(len(pcm), -1))


def test_network_reads_the_features_unchanged(pipeline):
    mfcc, pcm, model, q = pipeline
    assert [op.kind for op in q.ops] == ["mfcc", "conv2d_pool", "linear"]
    assert q.input_shape == (8000,) and q.input_dtype == np.int16 and q.input_size == 16000
    assert q.ops[0].out_q == q.ops[1].in_q == (np.float32(1 / 64), -64)
    # The same network ops run on MFCC.batch's bytes: identical outputs.
    features = mfcc.batch(pcm).reshape(len(pcm), -1)
    network_only = QuantizedModel(q.ops[1:], (1, 49, 10), q.ops[1].in_q, q.output_shape)
    out = q.predict_int8(pcm)
    np.testing.assert_array_equal(out, network_only.run_int8(features))
    # and the int8 model tracks the float one on the float features it was built from
    want = model.predict(mfcc.to_float(mfcc.batch(pcm)))
    assert np.abs(q.predict(pcm) - want).max() < 4 * q.output_q[0]


@pytest.fixture(scope="module")
def ds_cnn_pipeline():
    """A narrow DS-CNN (a graph model: depthwise, pointwise, BatchNorm folded, global
    average pooling) behind the front end."""
    mfcc = bb.audio.MFCC(float_scale=1 / 64)
    pcm = recordings()
    bb.seed(1)
    model = bb.models.ds_cnn(input_shape=(1, 49, 10), classes=10, filters=8)
    model.predict(mfcc.to_float(mfcc.batch(pcm)))
    return mfcc, pcm, model, bb.quantize(model, pcm, frontend=mfcc)


def test_graph_network_reads_the_features_unchanged(ds_cnn_pipeline):
    mfcc, pcm, model, q = ds_cnn_pipeline
    kinds = [op.kind for op in q.ops]
    assert kinds[0] == "mfcc" and "depthwise_conv2d" in kinds and kinds[-2:] == ["global_avg_pool", "linear"]
    assert q.reads[0] == [-1] and q.reads[1] == [0]  # the network reads the front end
    assert q.ops[1].in_q == q.ops[0].out_q == (np.float32(1 / 64), -64)
    # the network alone, given the front end's input quantization, on MFCC.batch's bytes
    network_only = quantize_stages(model, mfcc.to_float(mfcc.batch(pcm)), input_q=q.ops[0].out_q)
    np.testing.assert_array_equal(q.predict_int8(pcm),
                                  network_only.run_int8(mfcc.batch(pcm).reshape(len(pcm), -1)))


def test_quantized_without_front_end_calibrates_the_input_instead(pipeline):
    mfcc, pcm, model, q = pipeline
    plain = bb.quantize(model, mfcc.to_float(mfcc.batch(pcm)))
    assert plain.frontend is None and plain.input_q != q.ops[1].in_q


def test_memory_plan_places_the_pcm_and_the_scratch(pipeline):
    q = pipeline[3]
    plan = q.memory_plan()
    assert plan.buffers[0].size == 16000 and plan.scratch_bytes == 2048
    assert plan.op_scratch[0] is not None and plan.op_scratch[0] % 4 == 0
    assert plan.op_io[0][0] % 2 == 0
    assert plan.arena_bytes < 16000 + 2048 + 490 + 1024


@pytest.mark.parametrize("bad, error, message", [
    (lambda pcm: pcm.astype(np.float32) / 32768, TypeError,
     r"its input is int16 PCM \(its first op is the MFCC front end at 8000 Hz\), got dtype float32"),
    (lambda pcm: [pcm[0], np.zeros(0, np.int16)], ValueError,
     r"expected a 1-D recording of int16 samples at 8000 Hz, got shape \(0,\) in recording 1"),
    (lambda pcm: [pcm[0], pcm[:2]], ValueError,
     r"expected a 1-D recording of int16 samples at 8000 Hz, got shape \(2, 8000\) in recording 1"),
    (lambda pcm: pcm[0], ValueError,
     r"expected int16 PCM of shape \(N, 8000\).*got an array of shape \(8000,\) "
     r"\(one recording\? pass pcm\[None\]\)"),
    (lambda pcm: pcm.reshape(5, 1, 8000), ValueError, r"expected int16 PCM of shape \(N, 8000\)"),
])
def test_bad_pcm_is_refused_by_name(pipeline, bad, error, message):
    q, pcm = pipeline[3], pipeline[1]
    with pytest.raises(error, match=message):
        q.predict_int8(bad(pcm))


def test_recordings_of_any_length_are_padded_or_trimmed_as_mfcc_does(pipeline):
    mfcc, pcm, _, q = pipeline
    recordings = [pcm[0][:1], pcm[1][:5000], pcm[2], np.concatenate([pcm[3], pcm[4]])]
    one_second = np.stack([np.pad(r[:8000], (0, 8000 - len(r[:8000]))) for r in recordings])
    np.testing.assert_array_equal(q.predict_int8(recordings), q.predict_int8(one_second))
    # the front end alone gives MFCC()(pcm) whatever the length
    features = mfcc.int8_model().predict_int8(recordings)
    np.testing.assert_array_equal(features, mfcc.batch(recordings).reshape(len(recordings), -1))
    np.testing.assert_array_equal(q.predict_int8(pcm[:2, :6000]),
                                  q.predict_int8([pcm[0][:6000], pcm[1][:6000]]))


def test_sample_rate_mismatch_is_refused(pipeline):
    q, pcm = pipeline[3], pipeline[1]
    with pytest.raises(ValueError, match=r"its front end takes 8000 Hz PCM, got 16000 Hz audio "
                                         r"\(resample it to 8000 Hz, or quantize with "
                                         r"bb.audio.MFCC\(sample_rate=16000\)\)"):
        q.predict(pcm, sample_rate=16000)
    np.testing.assert_array_equal(q.predict_int8(pcm, sample_rate=8000), q.predict_int8(pcm))
    plain = bb.quantize(pipeline[2], pipeline[0].to_float(pipeline[0].batch(pcm)))
    with pytest.raises(ValueError, match="sample_rate applies to a model with a front end"):
        plain.predict_int8(pipeline[0].to_float(pipeline[0].batch(pcm)), sample_rate=8000)


def test_quantize_refuses_a_wrong_front_end_or_calibration(pipeline):
    mfcc, pcm, model, _ = pipeline
    with pytest.raises(TypeError, match="frontend must be a bb.audio.MFCC, got str"):
        bb.quantize(model, pcm, frontend="mfcc")
    with pytest.raises(TypeError, match=r"calibration_data with a front end is int16 PCM, got dtype "
                                        r"float32 \(features\? quantize the network without frontend=\)"):
        bb.quantize(model, mfcc.to_float(mfcc.batch(pcm)).reshape(5, -1), frontend=mfcc)
    with pytest.raises(ValueError, match=r"got one 1-D array of 8000 samples \(pass \[pcm\]"):
        bb.quantize(model, pcm[0], frontend=mfcc)
    with pytest.raises(TypeError, match="expected int16 PCM samples, got dtype int32"):
        bb.quantize(model, [pcm[0].astype(np.int32)], frontend=mfcc)
    other = network()
    other.predict(np.zeros((1, 1, 40, 10), np.float32))  # built for another feature map
    with pytest.raises(ValueError, match=r"built for inputs of shape \(1, 40, 10\); the front end "
                                         r"gives \(1, 49, 10\) per recording"):
        bb.quantize(other, pcm, frontend=mfcc)


@pytest.mark.parametrize("field, value, where, status", [
    ("sample_rate", 44100, "op 0", "BB_ERR_ARGUMENT"),
    ("in_shape", (16002,), "op 0", "BB_ERR_SHAPE"),       # more than 1 s of samples
    ("out_shape", (1, 49, 9), "op 0", "BB_ERR_SHAPE"),
    ("in_shape", (15999,), "the model's input", "BB_ERR_SHAPE"),  # half a sample
])
def test_runtime_refuses_a_corrupted_front_end_op(field, value, where, status):
    q = bb.audio.MFCC().int8_model()
    setattr(q.ops[0], field, value)
    if field == "out_shape":
        q.output_shape = value
    if value == (16002,):
        q.input_shape = (8001,)  # consistent with the op: the op's own check refuses it
    with pytest.raises(ValueError, match=rf"refuses the model at {where}.*: {status}"):
        q.c_model()


def test_float_scale_is_checked_and_only_changes_the_reading():
    with pytest.raises(ValueError, match="float_scale must be a positive number, got 0"):
        bb.audio.MFCC(float_scale=0)
    with pytest.raises(ValueError, match="float_scale must be a positive number"):
        bb.audio.MFCC(float_scale=float("nan"))
    a, b = bb.audio.MFCC(), bb.audio.MFCC(float_scale=1 / 64)
    pcm = recordings()[2]
    np.testing.assert_array_equal(a(pcm), b(pcm))
    np.testing.assert_array_equal(b.to_float(b(pcm)), a.to_float(a(pcm)) / 32)
    assert "read as float_scale 0.015625" in repr(b) and "read as" not in repr(a)


# ----------------------------------------------------------------- on the boards

@needs_host
def test_host_image_takes_pcm(pipeline):
    q, pcm = pipeline[3], pipeline[1]
    r = bb.embedded.run(q, pcm[1:3], target="host")
    np.testing.assert_array_equal(r.outputs_int8, q.predict_int8(pcm[1:3]))


@needs_board
@pytest.mark.parametrize("target", BOARDS)
def test_board_features_are_the_host_bytes(target):
    mfcc = bb.audio.MFCC()
    pcm = recordings()[[1, 2, 4]]
    r = bb.embedded.run(mfcc.int8_model(), pcm, target=target)
    np.testing.assert_array_equal(r.outputs_int8, mfcc.batch(pcm).reshape(len(pcm), -1))
    assert r.ticks > 0 and r.ram_bytes < 128 * 1024


@needs_board
def test_board_ds_cnn_pipeline_pcm_in_label_out(ds_cnn_pipeline):
    q, pcm = ds_cnn_pipeline[3], ds_cnn_pipeline[1]
    r = bb.embedded.run(q, pcm[[1, 3]], target="mps2-an386")
    np.testing.assert_array_equal(r.outputs_int8, q.predict_int8(pcm[[1, 3]]))
    assert len(r.op_ticks) == len(q.ops) and r.op_ticks[0] > 0   # the front end's own ticks


@needs_board
def test_board_pipeline_pcm_in_label_out(pipeline):
    q, pcm = pipeline[3], pipeline[1]
    r = bb.embedded.run(q, pcm[[0, 3, 4]], target="mps2-an386")
    np.testing.assert_array_equal(r.outputs_int8, q.predict_int8(pcm[[0, 3, 4]]))
    assert r.ram_bytes < 128 * 1024
