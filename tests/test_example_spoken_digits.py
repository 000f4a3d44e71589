"""examples/spoken_digits.py: the keyword-spotter learning program.

The input checks, the window placement, the augmentation and the speech detector run on
synthetic audio (no data needed). The training run is tiny (600 recordings, 2 epochs,
marked slow): it checks the output format, the saved model, --wav and --stream on real
FSDD recordings, not the accuracy (the full run's figures are in the program's report).
"""
import re
import wave

import numpy as np
import pytest

import shutil

import braininabox as bb
from example_support import call_main, load_example

HAVE_BOARD = shutil.which("arm-none-eabi-gcc") is not None and shutil.which("qemu-system-arm") is not None

sd = load_example("spoken_digits")


def write_wav(path, samples, rate=8000, channels=1):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.asarray(samples, "<i2").tobytes())
    return str(path)


def write_bytes(path, data):
    path.write_bytes(data)
    return str(path)


def burst(seconds, amplitude=3000, hz=300, rate=8000):
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * hz * t) * np.hanning(len(t))).astype(np.int16)


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    monkeypatch.setenv("BB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize("make, message", [
    (lambda p: str(p / "missing.wav"), r"missing.wav: no such file"),
    (lambda p: write_bytes(p / "notes.wav", b"RIFF\x10\x00\x00\x00WAVEjunk"),
     r"notes.wav: not a readable PCM WAV file \(.*\) \(expected a PCM WAV file, best 16-bit mono 8 kHz\)"),
    (lambda p: write_wav(p / "stereo.wav", np.zeros(8000, np.int16), channels=2, rate=44100),
     r"stereo.wav: no speech found"),
    (lambda p: write_wav(p / "silence.wav", np.zeros(8000, np.int16)),
     r"silence.wav: no speech found \(the loudest 30 ms is at -150 dBFS\)"),
    (lambda p: write_wav(p / "hiss.wav", np.random.default_rng(0).integers(-20, 21, 8000)),
     r"hiss.wav: no speech found"),
    (lambda p: write_wav(p / "short.wav", np.full(100, 5000, np.int16)),
     r"short.wav: 100 samples \(0.013 s\) is shorter than one 30 ms frame \(240 samples\)"),
])
@pytest.mark.parametrize("mode", ["--wav", "--stream"])
def test_bad_input_is_one_line(tmp_path, capsys, make, message, mode):
    code, out, err = call_main(sd, capsys, [mode, make(tmp_path)])
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert re.match(r"spoken_digits.py: error: .*" + message, err.strip())


def test_missing_model_is_one_line(tmp_path, capsys):
    wav = write_wav(tmp_path / "a.wav", burst(0.5))
    code, out, err = call_main(sd, capsys, ["--wav", wav, "--model", "none.bb"])
    assert code == 2 and "model none.bb not found: train one first with --train" in err


def test_target_needs_the_int8_model_with_its_front_end(tmp_path, capsys):
    wav = write_wav(tmp_path / "a.wav", burst(0.5))
    code, out, err = call_main(sd, capsys, ["--wav", wav, "--model", "digits.bb", "--target", "host"])
    assert code == 2 and "model digits.int8.bb not found: train one first with --train" in err
    bb.seed(0)
    features_only = bb.Sequential([bb.layers.Flatten(), bb.layers.Linear(10)])
    features_only.build((1, 49, 10))
    X = np.random.default_rng(0).normal(size=(4, 1, 49, 10)).astype(np.float32)
    bb.quantize(features_only, X).save(tmp_path / "digits.int8.bb")
    code, out, err = call_main(sd, capsys, ["--wav", wav, "--model", str(tmp_path / "digits.bb"),
                                            "--target", "host"])
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "digits.int8.bb is not an int8 model with the audio front end" in err


def test_unreadable_model_is_one_line(tmp_path, capsys):
    wav = write_wav(tmp_path / "a.wav", burst(0.5))
    (tmp_path / "junk.bb").write_bytes(b"not a model")
    code, out, err = call_main(sd, capsys, ["--wav", wav, "--model", str(tmp_path / "junk.bb")])
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "junk.bb is not a readable braininabox model file" in err and "--train" in err


def test_bad_options(capsys):
    code, _, err = call_main(sd, capsys, ["--train", "--epochs", "0"])
    assert code == 2 and "--epochs must be >= 1, got 0" in err
    code, _, err = call_main(sd, capsys, ["--wav", "a.wav", "--stream", "b.wav"])
    assert code == 2 and "not allowed with argument" in err
    code, _, err = call_main(sd, capsys, ["--stream", "a.wav", "--target", "host"])
    assert code == 2 and "--target goes with --wav FILE" in err
    code, _, err = call_main(sd, capsys, ["--wav", "a.wav", "--target", "esp32"])
    assert code == 2 and "invalid choice: 'esp32'" in err


def test_place_centres_short_and_keeps_the_loudest_second_of_long():
    short = burst(0.4)
    w = sd.place(short)
    assert w.dtype == np.int16 and len(w) == 8000
    start = (8000 - len(short)) // 2
    np.testing.assert_array_equal(w[start:start + len(short)], short)
    assert not w[:start].any() and not w[start + len(short):].any()
    long = np.concatenate([np.full(6000, 10, np.int16), burst(0.5), np.full(9000, 10, np.int16)])
    w = sd.place(long)
    assert len(w) == 8000 and np.abs(w).max() == np.abs(long).max()


def test_augment_stays_a_window_of_int16_and_is_reproducible():
    pcm = burst(0.6, amplitude=30000)
    a = [sd.augment(pcm, np.random.default_rng(5)) for _ in range(2)]
    np.testing.assert_array_equal(a[0], a[1])
    for seed in range(20):
        w = sd.augment(pcm, np.random.default_rng(seed))
        assert w.dtype == np.int16 and len(w) == 8000
        loud = np.flatnonzero(np.abs(w) > 3000)
        centre = (loud[0] + loud[-1]) / 2
        assert abs(centre - 4000) <= sd.MAX_SHIFT + 10   # off centre by at most 150 ms
    assert len(sd.augment(burst(1.5), np.random.default_rng(1))) == 8000


def test_speech_segments_finds_each_burst():
    gap = np.zeros(4000, np.int16)
    pcm = np.concatenate([gap, burst(0.4), gap, burst(0.5, 800), gap, burst(0.3), gap])
    segments = sd.speech_segments(pcm)
    assert len(segments) == 3
    for (a, b), centre in zip(segments, (0.7, 1.65, 2.55)):
        assert abs((a + b) / 2 / 8000 - centre) < 0.06


@pytest.fixture(scope="module")
def fsdd_test():
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BB_OFFLINE", "1")
        try:
            return bb.datasets.load_fsdd(split="test")
        except bb.datasets.DatasetNotFoundError as exc:
            pytest.skip(f"FSDD is not available (set BB_DATA_DIR): {str(exc).splitlines()[0]}")


@pytest.mark.slow
def test_tiny_training_then_wav_and_stream(tmp_path, capsys, fsdd_test):
    model = str(tmp_path / "digits.bb")
    code, out, err = call_main(sd, capsys, ["--train", "--subset", "600", "--epochs", "2",
                                            "--save", model])
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("FSDD: 600 training and 300 test recordings")
    assert re.match(r"epoch 2/2: loss \d+\.\d{4}, train accuracy \d+\.\d\d% \(augmented\), "
                    r"test accuracy \d+\.\d\d%", lines[2])
    assert re.search(r"test accuracy: float \d+\.\d\d%, int8 \d+\.\d\d% \(300 recordings; ", out)
    matrix = [l for l in lines if re.match(r"^\s+\d(\s+\d+){10}$", l)]
    assert len(matrix) == 10 and sum(int(v) for l in matrix for v in l.split()[1:]) == 300
    assert bb.load(model).predict(np.zeros((1, 1, 49, 10), np.float32)).shape == (1, 10)
    assert f"saved the model to {model} and its int8 version" in out
    q = bb.load(tmp_path / "digits.int8.bb")   # saved at --train: --target needs no data set
    assert isinstance(q, bb.QuantizedModel) and q.frontend is not None

    wav = write_wav(tmp_path / "seven.wav", fsdd_test.pcm[list(fsdd_test.labels).index(7)])
    code, out, err = call_main(sd, capsys, ["--wav", wav, "--model", model])
    assert code == 0 and re.fullmatch(r"Prediction: \d \(Confidence: \d+\.\d%\)\n", out)
    # The same recording as a phone would give it (44.1 kHz stereo) is heard alike.
    seven = fsdd_test.pcm[list(fsdd_test.labels).index(7)]
    phone = np.repeat(bb.audio.resample(seven, 8000, 44100)[:, None], 2, axis=1)
    phone_wav = write_wav(tmp_path / "phone.wav", phone.reshape(-1), rate=44100, channels=2)
    code, phone_out, err = call_main(sd, capsys, ["--wav", phone_wav, "--model", model])
    assert code == 0 and phone_out.split(" (")[0] == out.split(" (")[0]
    assert "phone.wav is 16-bit, 2 channels at 44,100 Hz; converted to 16-bit mono at 8,000 Hz" in err
    code, out, err = call_main(sd, capsys, ["--wav", wav, "--model", model, "--target", "host",
                                            "--data", str(tmp_path / "no-data-here")])
    assert code == 0 and "host: int8 front end + network, PCM in; outputs byte-equal" in out
    if HAVE_BOARD:  # the whole int8 pipeline, PCM in, on the Cortex-M4 board
        code, out, err = call_main(sd, capsys, ["--wav", wav, "--model", model,
                                                "--target", "mps2-an386"])
        assert code == 0, err
        lines = out.splitlines()
        assert re.fullmatch(r"Prediction: \d \(Confidence: \d+\.\d%\)", lines[0])
        assert "outputs byte-equal to the host reference" in lines[1]
        ram = int(re.search(r"RAM +([\d,]+) B of 128 KB", out).group(1).replace(",", ""))
        assert 0 < ram < 128 * 1024
        ticks = re.search(r"ticks +([\d,]+) per recording: front end ([\d,]+), network ([\d,]+), "
                          r"runtime ([\d,]+)", out)
        total, front, network, runtime = (int(g.replace(",", "")) for g in ticks.groups())
        assert front > 0 and network > 0 and front + network + runtime == total

    gap = np.zeros(4000, np.int16)
    picks = [list(fsdd_test.labels).index(d) for d in (3, 1, 4, 9)]
    pcm = np.concatenate([gap] + [x for i in picks for x in (fsdd_test.pcm[i], gap)])
    stream = write_wav(tmp_path / "stream.wav", pcm)
    code, out, err = call_main(sd, capsys, ["--stream", stream, "--model", model,
                                            "--threshold", "0"])
    detections = re.findall(r"^\s*(\d+\.\d\d)-(\d+\.\d\d) s: (\d) \(Confidence: \d+\.\d%\)$",
                            out, re.M)
    assert code == 0 and len(detections) == 4   # one per recording, none in the pauses
    assert out.splitlines()[-1] == "digits: " + " ".join(d for _, _, d in detections)
    code, out, err = call_main(sd, capsys, ["--stream", stream, "--model", str(tmp_path / "digits.int8.bb"),
                                            "--threshold", "0"])   # the int8 model hears the same sounds
    assert code == 0 and [(a, b) for a, b, _ in detections] == re.findall(
        r"^\s*(\d+\.\d\d)-(\d+\.\d\d) s: \d", out, re.M)


def streams(fsdd, rng, count=4):
    """Four-digit streams of test recordings (lucas's take 1 of "five", whose quiet tail
    was once heard as a word of its own, in the first), each in three versions: 0.5 s of
    silence around every recording (the issue's), pauses of 0.3-1 s with no leading
    silence, and those with white noise 20 dB below the quietest recording. Yields
    (pcm, [(start, end) of each recording], its recordings' indices)."""
    labels = list(zip(fsdd.labels, fsdd.speakers, fsdd.takes))
    five = labels.index((5, "lucas", 1))
    others = rng.permutation([i for i in range(len(labels)) if i != five])
    picks = [five] + list(others[:4 * count - 1])
    for s in range(count):
        recordings = picks[4 * s:4 * s + 4]
        for version in ("issue", "pauses", "noise"):
            pauses = [0.5] * 5 if version == "issue" else [0.0] + list(rng.uniform(0.3, 1.0, 4))
            pcm, where = [np.zeros(int(pauses[0] * 8000))], []
            at = len(pcm[0])
            for k, i in enumerate(recordings):
                gap = np.zeros(int(pauses[k + 1] * 8000))
                pcm += [fsdd.pcm[i].astype(np.float64), gap]
                where.append((at, at + len(fsdd.pcm[i])))
                at += len(fsdd.pcm[i]) + len(gap)
            pcm = np.concatenate(pcm)
            if version == "noise":
                quietest = min(np.sqrt(np.mean(fsdd.pcm[i].astype(np.float64) ** 2)) for i in recordings)
                pcm += rng.standard_normal(len(pcm)) * quietest / 10
            yield np.clip(np.rint(pcm), -32768, 32767).astype(np.int16), where, recordings


def test_speech_segments_find_each_recording_of_real_streams(fsdd_test):
    for pcm, where, _ in streams(fsdd_test, np.random.default_rng(14)):
        segments = sd.speech_segments(pcm)
        assert len(segments) == 4, (segments, where)
        for (a, b), (start, end) in zip(segments, where):
            assert start - 400 <= a < b <= end + 400   # inside its recording (50 ms slack)


@pytest.mark.slow
def test_stream_finds_exactly_the_digits_in_order(fsdd_test):
    """The detector and the decision per sound, on real streams, with a classifier that
    knows these recordings: a small Conv2D stack trained in seconds on augmented hearings
    of each recording's sound (as the detector finds it in the recording alone), so that
    every miss, extra or swapped digit is the stream spotter's: a sound cut differently
    in the stream, split, merged, or swayed by its neighbours."""
    rng = np.random.default_rng(14)
    made = list(streams(fsdd_test, rng))
    used = sorted({i for _, _, recordings in made for i in recordings})

    def sound(pcm):
        found = sd.speech_segments(np.concatenate([np.zeros(4000, np.int16), pcm]))
        return pcm[max(found[0][0] - 4000, 0):found[-1][1] - 4000]
    bb.seed(0)
    model = sd.conv_model()
    model.compile(optimizer=bb.optimizers.Adam(lr=2e-3), loss=bb.loss.CrossEntropy())
    X = sd.features([sd.augment(sound(fsdd_test.pcm[i]), rng) for i in used for _ in range(40)])
    model.fit(X, np.repeat(fsdd_test.labels[used], 40), epochs=16, batch_size=32, verbose=0, seed=1)
    alone = sd.probabilities(model, [sd.place(sound(fsdd_test.pcm[i])) for i in used]).argmax(axis=1)
    np.testing.assert_array_equal(alone, fsdd_test.labels[used])   # the classifier knows them
    for pcm, where, recordings in made:
        heard = sd.spot(model, pcm, threshold=0.5)
        assert [d for _, _, d, _ in heard] == [int(fsdd_test.labels[i]) for i in recordings]
        for (start, end, _, _), (a, b) in zip(heard, where):
            assert a / 8000 - 0.05 <= start < end <= b / 8000 + 0.05


@pytest.mark.slow
def test_leave_one_speaker_out_reports_the_held_out_speaker(capsys, fsdd_test):
    code, out, err = call_main(sd, capsys, ["--loso", "theo", "--epochs", "1", "--arch", "conv"])
    assert code == 0, err
    assert out.startswith("held out: theo (500 recordings); training on 2,500 recordings of "
                          "george, jackson, lucas, nicolas, yweweler")
    assert re.search(r"^  theo +\d+\.\d\d%$", out, re.M) and "mean" not in out
    code, _, err = call_main(sd, capsys, ["--loso", "nobody", "--epochs", "1"])
    assert code == 2 and "--loso nobody: no such speaker; FSDD's are george, jackson" in err
