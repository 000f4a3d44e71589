"""Spoken digits: a keyword spotter from a WAV file to a label, on the integer front end.

    python examples/spoken_digits.py --train                  # train, test, save spoken_digits.bb
                                                              # (and spoken_digits.int8.bb)
    python examples/spoken_digits.py --wav 7_jackson_0.wav    # Prediction: 7 (Confidence: 98.1%)
    python examples/spoken_digits.py --wav 7_jackson_0.wav --target mps2-an386   # on the board
    python examples/spoken_digits.py --stream digits.wav      # each digit heard, with its time

What it teaches:

* the front end: a microcontroller cannot afford to learn from raw samples, so a keyword
  spotter first turns one second of 8 kHz audio into a small picture, 49 time frames x
  10 MFCC coefficients (bb.audio.MFCC, integer arithmetic, the same C code as on the
  board): a short-time spectrum, squeezed into 40 mel bands (finer at low frequencies,
  as the ear is), logged (loudness is heard logarithmically), then decorrelated by a DCT
  whose first coefficients keep the spectral envelope, which is what tells vowels apart;
* the network sees that picture like an image: MLPerf Tiny's DS-CNN (bb.models.ds_cnn: a
  10x4 stride-2 convolution, then four depthwise-separable blocks, each a 3x3 filter per
  channel followed by a 1x1 mix of the 64 channels, with BatchNorm, global average pooling
  and a linear layer; about 2.7 M multiply-adds and 23 K weights), or with --arch conv a
  plain Conv2D stack;
* augmentation: the Free Spoken Digit Dataset has 6 speakers in one quiet setting, so a
  model memorises them easily. Each epoch every training recording is heard anew, as
  another voice and microphone would give it: moved up to 150 ms off the centre of the
  1 s window, faster or slower (+-15 %), up to 20 dB louder or quieter, with a random
  spectral tilt, a broad bump or dip around 2 kHz and a DC offset, and background noise
  10-40 dB below the speech; then a few frames and coefficients of its features are
  masked (SpecAugment);
* int8: bb.quantize(model, pcm, frontend=MFCC) turns the model into int8 arithmetic with
  the front end as its first op, so the int8 model takes raw PCM, as a board does; the
  test accuracy is printed for both. The network reads the features as
  MFCC.to_float gives them ((q + 64) / 64, float_scale 1/64: about -1..3), and its int8
  input has exactly that quantization: the front end's bytes go straight into it;
* --target: the whole pipeline, 1 s of PCM in and a digit out, on the embedded runtime
  (the host build or a QEMU Cortex-M board), with its RAM, flash and the ticks of the
  front end and of the network;
* --stream: an always-on spotter runs the network only where there is sound. A
  two-threshold energy detector (speech_segments) finds the sounds: a frame level in the
  speech band, a background level measured from the recording itself, a start threshold
  and a lower one that extends each sound over its quiet onset and tail, gaps under
  200 ms bridged (pauses between words are longer), clicks under 100 ms dropped. Each
  sound then gets one decision: the 1 s window slides over it (centred, +-100 ms in
  50 ms steps) with the other sounds silenced, and the averaged probabilities name it;
* --train saves the float model and, beside it, the int8 one (spoken_digits.int8.bb, the
  front end included): --target runs that file, so neither it nor a board needs the data
  set, and --wav / --stream accept either file.

Data: bb.datasets.load_fsdd, official split (test = takes 0-4, 300 recordings; train =
the other 2,700): from --data, $BB_DATA_DIR/fsdd, the cache, or downloaded when online.
Input WAV files are best 16-bit mono PCM at 8 kHz (FSDD's format); other PCM WAV files
(8-32 bit, stereo, 16 or 44.1 kHz...) are converted, with a note on stderr.
"""
import argparse
import os
import sys
import time

import numpy as np

import braininabox as bb

PROG = "spoken_digits.py"
RATE = 8000
WINDOW = RATE                 # the front end's 1 s
FRAME = RATE * 30 // 1000     # 240 samples: shorter files are refused
SPEECH_RMS = 50.0             # a 30 ms frame this loud (int16 RMS, -56 dBFS) counts as sound
LEVEL_HOP = RATE // 100       # --stream's detector: a 30 ms frame level every 10 ms
SPEECH_BAND = (200, 3500)     # Hz: the band whose level says speech
START_DB = 12.0               # a sound reaches 12 dB above the background
KEEP_DB = 6.0                 # and lasts while 6 dB above it
BRIDGE = RATE // 5            # gaps under 200 ms are inside a word (pauses are >= 300 ms)
MIN_SOUND = RATE // 10        # shorter sounds (under 100 ms) are clicks, not words
SWAY = RATE // 10             # each sound is heard centred and moved up to 100 ms
SWAY_STEP = RATE // 20        #   in 50 ms steps: 5 windows, probabilities averaged
MAX_SHIFT = RATE * 15 // 100  # augmentation: up to 150 ms off centre
# The network reads feature q as (q + 64) / 64 (about -1..3 on speech), the front end's
# int8 map at 1/32 of its natural scale 0.5: to_float gives it, and the int8 model's input
# has the same (scale, zero point), so the board passes the features on unchanged.
MFCC = bb.audio.MFCC(RATE, float_scale=1 / 64)
CALIBRATION = 500             # training recordings that set the int8 activation ranges


class InputError(ValueError):
    """A problem with the user's input: printed as one line, exit code 2."""


# ------------------------------------------------------------------------ features

def place(pcm):
    """A 1 s window holding the recording: centred when it is shorter, else its loudest
    second."""
    out = np.zeros(WINDOW, dtype=np.int16)
    if len(pcm) <= WINDOW:
        start = (WINDOW - len(pcm)) // 2
        out[start:start + len(pcm)] = pcm
        return out
    energy = np.cumsum(np.concatenate([[0.0], pcm.astype(np.float64) ** 2]))
    start = int(np.argmax(energy[WINDOW:] - energy[:-WINDOW]))
    return pcm[start:start + WINDOW].copy()


def features(windows):
    """Model inputs (N, 1, 49, 10) float32 of 1 s int16 windows."""
    return MFCC.to_float(MFCC.batch(windows))


def quantize(model, recordings):
    """The int8 model, PCM in: the front end as its first op, ranges from `recordings`."""
    return bb.quantize(model, [place(p) for p in recordings[:CALIBRATION]], frontend=MFCC)


def augment(pcm, rng):
    """One random hearing of a recording, as another speaker and microphone would give it:
    faster or slower (+-15 %: pitch and formants move, roughly a longer or shorter vocal
    tract), 20 dB louder or quieter (FSDD's speakers differ tenfold in level), half the
    time a spectral tilt, a broad bump or dip and a DC offset (another microphone), up to
    MAX_SHIFT off the centre of the window (a random second when it is longer), with
    background noise 10-40 dB below."""
    x = pcm.astype(np.float64)
    n = max(FRAME, int(round(len(x) / rng.uniform(0.85, 1.15))))
    x = np.interp(np.linspace(0, len(x) - 1, n), np.arange(len(x)), x)
    if rng.random() < 0.5:  # half the time another microphone, half as recorded
        x = x + rng.uniform(-0.7, 0.7) * np.concatenate([[0.0], x[:-1]])  # tilt: x[t] + a x[t-1]
        if rng.random() < 0.5:  # and a broad bump or dip (at 2 kHz): x[t] + b x[t-2]
            x = x + rng.uniform(-0.6, 0.6) * np.concatenate([[0.0, 0.0], x[:-2]])
        x = x + rng.uniform(-300, 300)
    peak = max(float(np.abs(x).max()), 1.0)
    x = x * min(10 ** rng.uniform(-1, 1), 30000 / peak)  # no clipping
    rms = np.sqrt(np.mean(x ** 2))
    window = np.zeros(WINDOW)
    if len(x) >= WINDOW:
        start = int(rng.integers(0, len(x) - WINDOW + 1))
        window[:] = x[start:start + WINDOW]
    else:
        centred = (WINDOW - len(x)) // 2
        start = int(np.clip(centred + rng.integers(-MAX_SHIFT, MAX_SHIFT + 1), 0, WINDOW - len(x)))
        window[start:start + len(x)] = x
    if rng.random() < 0.8:
        window += rng.standard_normal(WINDOW) * rms * 10 ** (-rng.uniform(10, 40) / 20)
    return np.clip(np.rint(window), -32768, 32767).astype(np.int16)


def mask_features(X, rng):
    """SpecAugment on the training features (N, 1, 49, 10), in place: in half of the
    recordings, up to 7 frames in a row set to the quietest value (a gap in the sound)
    and up to 2 neighbouring coefficients set to 0 (their mean), so that no single frame
    or coefficient is relied on. Returns X."""
    low = X.min()
    for i in np.flatnonzero(rng.random(len(X)) < 0.5):  # half of them
        x = X[i]  # a view: masked in place
        t = rng.integers(0, 8)
        t0 = rng.integers(0, x.shape[1] - t + 1)
        x[:, t0:t0 + t, :] = low
        f = rng.integers(0, 3)
        f0 = rng.integers(0, x.shape[2] - f + 1)
        x[:, :, f0:f0 + f] = 0.0
    return X


# --------------------------------------------------------------------------- model

def build_model(arch):
    if arch == "ds_cnn":
        return bb.models.ds_cnn(input_shape=(1, MFCC.frames, MFCC.coefficients), classes=10)
    return conv_model()


def conv_model():
    """Conv(32,3,same)-ReLU-MaxPool2-Conv(64,3,same)-ReLU-MaxPool2-Flatten-Dropout(0.25)-
    Linear(128)-ReLU-Linear(10): (1, 49, 10) -> (32, 24, 5) -> (64, 12, 2) -> 10 logits."""
    return bb.Sequential([
        bb.layers.Conv2D(32, kernel=3, padding="same"), bb.layers.ReLU(), bb.layers.MaxPool(2),
        bb.layers.Conv2D(64, kernel=3, padding="same"), bb.layers.ReLU(), bb.layers.MaxPool(2),
        bb.layers.Flatten(), bb.layers.Dropout(0.25),
        bb.layers.Linear(128), bb.layers.ReLU(), bb.layers.Linear(10)])


def probabilities(model, windows):
    """Class probabilities (N, 10) of 1 s int16 windows, by the float model (on the
    features) or by the int8 model (a QuantizedModel takes the PCM itself)."""
    if isinstance(model, bb.QuantizedModel):
        return softmax(model.predict(np.stack(windows)))
    return softmax(model.predict(features(windows)))


def int8_path(path):
    """Where --train saves the int8 model beside the float one: digits.bb -> digits.int8.bb."""
    root, ext = os.path.splitext(path)
    return f"{root}.int8{ext or '.bb'}"


def softmax(logits):
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def confusion_matrix(y, predicted):
    m = np.zeros((10, 10), dtype=np.int64)
    np.add.at(m, (y, predicted), 1)
    return m


def print_confusion(m):
    print("confusion matrix (rows: spoken digit, columns: predicted)")
    print("     " + "".join(f"{j:>5}" for j in range(10)))
    for i in range(10):
        print(f"{i:>5}" + "".join(f"{v:>5}" for v in m[i]))


def pick(fsdd, rows):
    return bb.datasets.FSDD([fsdd.pcm[i] for i in rows], fsdd.labels[rows], fsdd.speakers[rows],
                            fsdd.takes[rows])


def fit(args, training, X_test, y_test):
    """A new model trained on `training` (every recording heard anew each epoch), with the
    test accuracy printed after each epoch."""
    bb.seed(args.seed)
    model = build_model(args.arch)
    model.compile(optimizer=bb.optimizers.Adam(lr=args.lr), loss=bb.loss.CrossEntropy(),
                  metrics=["accuracy"])
    rng = np.random.default_rng(args.seed)
    for epoch in range(1, args.epochs + 1):
        start = time.perf_counter()
        X = mask_features(features([augment(p, rng) for p in training.pcm]), rng)
        history = model.fit(X, training.labels, epochs=1, batch_size=args.batch_size, verbose=0,
                            seed=args.seed * 1000 + epoch)
        test = float(np.mean(model.predict(X_test).argmax(axis=1) == y_test))
        print(f"epoch {epoch}/{args.epochs}: loss {history.history['loss'][0]:.4f}, "
              f"train accuracy {100 * history.history['accuracy'][0]:.2f}% (augmented), "
              f"test accuracy {100 * test:.2f}% ({time.perf_counter() - start:.1f} s)", flush=True)
        model.optimizer.lr *= args.lr_decay
    return model


def train(args):
    fsdd_train = bb.datasets.load_fsdd(args.data, split="train")
    fsdd_test = bb.datasets.load_fsdd(args.data, split="test")
    if args.subset:
        fsdd_train = pick(fsdd_train, np.random.default_rng(args.seed).permutation(
            len(fsdd_train.pcm))[:args.subset])
    y_test = fsdd_test.labels
    print(f"FSDD: {len(fsdd_train.labels):,} training and {len(y_test):,} test recordings "
          f"(speakers {', '.join(sorted(set(fsdd_test.speakers)))}); features "
          f"{MFCC.frames}x{MFCC.coefficients} int8, scale {MFCC.scale}, zero point {MFCC.zero_point}")
    test_windows = np.stack([place(p) for p in fsdd_test.pcm])
    model = fit(args, fsdd_train, features(test_windows), y_test)

    predicted = model.predict(features(test_windows)).argmax(axis=1)
    float_accuracy = float(np.mean(predicted == y_test))
    q = quantize(model, fsdd_train.pcm)
    int8_accuracy = float(np.mean(q.predict_int8(test_windows).argmax(axis=1) == y_test))
    print(f"test accuracy: float {100 * float_accuracy:.2f}%, int8 {100 * int8_accuracy:.2f}% "
          f"({len(y_test)} recordings; int8: the front end and the network, PCM in)")
    print_confusion(confusion_matrix(y_test, predicted))
    model.save(args.save)
    q.save(int8_path(args.save))
    print(f"saved the model to {args.save} and its int8 version (front end included, PCM in) "
          f"to {int8_path(args.save)}")
    return 0


def leave_one_speaker_out(args):
    """Speaker independence: train on five speakers (all their takes), test on the sixth."""
    fsdd = bb.datasets.load_fsdd(args.data, split="all")
    speakers = sorted(set(fsdd.speakers))
    held_out = speakers if args.loso == "all" else [args.loso]
    if held_out[0] not in speakers:
        raise InputError(f"--loso {args.loso}: no such speaker; FSDD's are {', '.join(speakers)}")
    results = []
    for speaker in held_out:
        training = pick(fsdd, np.flatnonzero(fsdd.speakers != speaker))
        tested = np.flatnonzero(fsdd.speakers == speaker)
        print(f"held out: {speaker} ({len(tested)} recordings); training on "
              f"{len(training.labels):,} recordings of {', '.join(s for s in speakers if s != speaker)}",
              flush=True)
        X_test = features([place(fsdd.pcm[i]) for i in tested])
        model = fit(args, training, X_test, fsdd.labels[tested])
        accuracy = float(np.mean(model.predict(X_test).argmax(axis=1) == fsdd.labels[tested]))
        results.append((speaker, accuracy))
    print(f"leave-one-speaker-out, {args.epochs} epochs each: float accuracy on the held-out speaker")
    for speaker, accuracy in results:
        print(f"  {speaker:<10} {100 * accuracy:6.2f}%")
    if len(results) > 1:
        print(f"  {'mean':<10} {100 * np.mean([a for _, a in results]):6.2f}%")
    return 0


# --------------------------------------------------------------------- prediction

def read_input(file):
    """The int16 samples of a user's WAV file, or InputError saying what is wrong."""
    if not os.path.isfile(file):
        raise InputError(f"{file}: no such file")
    try:
        channels, bits, rate, _ = bb.audio.wav_format(file)
        pcm = bb.audio.read_wav(file, sample_rate=RATE, convert=True)
    except ValueError as e:
        raise InputError(f"{e} (expected a PCM WAV file, best 16-bit mono 8 kHz)") from None
    if len(pcm) < FRAME:
        raise InputError(f"{file}: {len(pcm)} samples ({len(pcm) / RATE:.3f} s) is shorter "
                         f"than one 30 ms frame ({FRAME} samples)")
    loudest = frame_rms(pcm).max()
    if loudest < SPEECH_RMS:
        level = 20 * np.log10(max(loudest, 1e-3) / 32768)
        raise InputError(f"{file}: no speech found (the loudest 30 ms is at {level:.0f} dBFS)")
    if (channels, bits, rate) != (1, 16, RATE):
        print(f"{PROG}: note: {file} is {bits}-bit, {channels} channel{'s' * (channels > 1)} at "
              f"{rate:,} Hz; converted to 16-bit mono at {RATE:,} Hz", file=sys.stderr)
    return pcm


def frame_rms(pcm):
    n = len(pcm) // FRAME
    x = pcm[:n * FRAME].astype(np.float64).reshape(n, FRAME)
    return np.sqrt(np.mean(x ** 2, axis=1))


def load_model(path, int8=False):
    """The float model at path (or an int8 one, which --wav and --stream also run), or with
    int8 the int8 model --train saved beside it (PCM in: what --target runs)."""
    if int8:
        path = path if path.endswith(".int8.bb") else int8_path(path)
    if not os.path.isfile(path):
        raise InputError(f"model {path} not found: train one first with --train "
                         f"(or give --model)")
    try:
        model = bb.load(path)
    except bb.ModelFileError as e:  # e.g. saved by an older braininabox: train again
        raise InputError(f"{str(e).splitlines()[0]} (train it again with --train)") from None
    if int8 and not (isinstance(model, bb.QuantizedModel) and model.frontend is not None):
        raise InputError(f"{path} is not an int8 model with the audio front end (train again "
                         f"with --train)")
    if isinstance(model, bb.QuantizedModel) and model.frontend is None:
        raise InputError(f"{path} is an int8 model without the audio front end")
    return model


def predict_wav(args):
    pcm = read_input(args.wav)
    if args.target:
        return predict_on_target(args, load_model(args.model, int8=True), place(pcm))
    p = probabilities(load_model(args.model), [place(pcm)])[0]
    digit = int(p.argmax())
    print(f"Prediction: {digit} (Confidence: {100 * p[digit]:.1f}%)")
    return 0


def predict_on_target(args, q, window):
    """The int8 pipeline (front end + network; q as --train saved it) on the embedded
    runtime of args.target."""
    reference = q.predict_int8(window[None])
    try:
        run = bb.embedded.run(q, window[None], target=args.target)
    except bb.embedded.EmbeddedError as e:
        raise InputError(f"--target {args.target}: {str(e).splitlines()[0]}") from None
    if not np.array_equal(run.outputs_int8, reference):
        raise RuntimeError(f"{args.target} computed {run.outputs_int8[0].tolist()}, the host "
                           f"reference {reference[0].tolist()}")
    scale, zero_point = q.output_q
    p = softmax((run.outputs_int8.astype(np.float64) - zero_point) * scale)[0]
    digit = int(p.argmax())
    print(f"Prediction: {digit} (Confidence: {100 * p[digit]:.1f}%)")
    print(f"{args.target}: int8 front end + network, PCM in; outputs byte-equal to the host reference")
    if run.ticks is None:
        return 0
    plan = q.memory_plan()
    front, network = run.op_ticks[0], sum(run.op_ticks[1:])  # op 0 is the front end
    print(f"  RAM   {run.ram_bytes:>9,} B of 128 KB (arena {plan.arena_bytes:,} B: the 1 s of PCM, "
          f"the front end's {q.ops[0].scratch_bytes():,} B of scratch, then the network's "
          f"activations and scratch in the same bytes; stack {run.stack_bytes:,} B)")
    print(f"  flash {run.flash_bytes:>9,} B ({plan.flash_bytes:,} B of weights; the test harness "
          f"adds the recording's {q.input_size:,} B)")
    print(f"  ticks {run.ticks:>9,} per recording: front end {front:,}, network {network:,}, "
          f"runtime {run.ticks - front - network:,} (QEMU icount ticks, 40 instructions each)")
    return 0


def frame_levels(pcm):
    """The level in dB (10 log10 of the power, int16 units) of each 30 ms frame, every
    10 ms (frame i covers samples [i * LEVEL_HOP, i * LEVEL_HOP + FRAME)), in the speech
    band SPEECH_BAND only: hum and rumble below it, hiss above it are not speech."""
    n = (len(pcm) - FRAME) // LEVEL_HOP + 1
    if n < 1:
        return np.zeros(0)
    frames = np.lib.stride_tricks.sliding_window_view(pcm.astype(np.float64), FRAME)[::LEVEL_HOP]
    power = np.abs(np.fft.rfft(frames * np.hanning(FRAME), 256)) ** 2
    hz = np.fft.rfftfreq(256, 1 / RATE)
    band = (hz >= SPEECH_BAND[0]) & (hz <= SPEECH_BAND[1])
    return 10 * np.log10(power[:, band].sum(axis=1) / FRAME + 1.0)


def speech_segments(pcm):
    """(start, end) sample ranges of the sounds in pcm, by a two-threshold energy detector
    (Rabiner and Sambur's endpoint detector, simplified).

    The background level is the 10th percentile of the frame levels (a stream is mostly
    pauses), at most 2 * START_DB below the loudest frame. A sound must reach START_DB
    above it (and SPEECH_RMS, and -50 dB of the loudest frame: FSDD's speakers differ by
    40 dB), and it extends both ways while the frames stay KEEP_DB above it, so that its
    quiet onset and tail belong to it. Sounds closer than BRIDGE (a stop consonant's
    closure, the breath in "seven") are one word: pauses between words are at least
    0.3 s, so a gap under 0.2 s is inside one, and a tail cannot become a word of its
    own. Sounds shorter than MIN_SOUND are clicks."""
    levels = frame_levels(pcm)
    if len(levels) == 0:
        return []
    # A file without a pause (one trimmed word) has no background to measure: its 10th
    # percentile is the word's own quiet part. Speech stands 2 * START_DB above the
    # background at its loudest, so that is the highest the background can be.
    background = min(np.percentile(levels, 10), levels.max() - 2 * START_DB)
    start_db = max(background + START_DB, 20 * np.log10(SPEECH_RMS), levels.max() - 50)
    keep = levels >= max(background + KEEP_DB, start_db - (START_DB - KEEP_DB))
    segments = []  # [first frame, last frame + 1] of runs of kept frames that reach start_db
    i = 0
    while i < len(levels):
        if not keep[i]:
            i += 1
            continue
        j = i
        while j < len(levels) and keep[j]:
            j += 1
        if levels[i:j].max() >= start_db:
            if segments and (i - segments[-1][1]) * LEVEL_HOP < BRIDGE:
                segments[-1][1] = j
            else:
                segments.append([i, j])
        i = j
    spans = [(i * LEVEL_HOP, (j - 1) * LEVEL_HOP + FRAME) for i, j in segments]
    return [(a, min(b, len(pcm))) for a, b in spans if b - a >= MIN_SOUND]


def sound_windows(pcm, sounds, k):
    """The 1 s windows the network hears sound k of `sounds` in: centred on it, and moved
    by -SWAY..+SWAY in SWAY_STEP steps (training moved recordings by up to 150 ms), with
    the other sounds silenced (it was trained on one word per window) but the background
    and whatever quiet part of the word the detector left out kept. A sound longer than
    1 s is heard at its loudest second."""
    quiet = pcm.copy()
    for j, (start, end) in enumerate(sounds):
        if j != k:
            quiet[start:end] = 0
    start, end = sounds[k]
    centre = (start + end) // 2
    if end - start > WINDOW:
        energy = np.cumsum(np.concatenate([[0.0], pcm[start:end].astype(np.float64) ** 2]))
        centre = start + int(np.argmax(energy[WINDOW:] - energy[:-WINDOW])) + WINDOW // 2
    half = WINDOW // 2 + SWAY
    padded = np.concatenate([np.zeros(half, np.int16), quiet, np.zeros(half, np.int16)])
    return [padded[centre + shift + SWAY:centre + shift + SWAY + WINDOW]
            for shift in range(-SWAY, SWAY + 1, SWAY_STEP)]


def spot(model, pcm, threshold=0.0):
    """[(start s, end s, digit, confidence)]: one decision per sound, the network's
    probabilities averaged over the windows that hear it (sound_windows); a sound whose
    best average is below threshold is not a digit."""
    heard = []
    sounds = speech_segments(pcm)
    for k, (start, end) in enumerate(sounds):
        scores = probabilities(model, sound_windows(pcm, sounds, k)).mean(axis=0)
        digit = int(scores.argmax())
        if scores[digit] >= threshold:
            heard.append((start / RATE, end / RATE, digit, float(scores[digit])))
    return heard


def stream(args):
    pcm = read_input(args.stream)
    model = load_model(args.model)
    heard = spot(model, pcm, args.threshold)
    for start, end, digit, confidence in heard:
        print(f"{start:6.2f}-{end:.2f} s: {digit} (Confidence: {100 * confidence:.1f}%)")
    print(f"digits: {' '.join(str(d) for _, _, d, _ in heard) if heard else 'none'}")
    return 0


# ---------------------------------------------------------------------- arguments

def build_parser():
    p = argparse.ArgumentParser(
        prog=PROG, description="Train a spoken-digit spotter on FSDD, or run it on a WAV file.",
        epilog="Errors give one line and exit code 2.")
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--train", action="store_true", help="train, test and save a model")
    mode.add_argument("--wav", metavar="FILE", help="predict the digit spoken in FILE")
    mode.add_argument("--stream", metavar="FILE", help="detect each digit in a longer FILE")
    mode.add_argument("--loso", nargs="?", const="all", metavar="SPEAKER",
                      help="leave one speaker out: train on the other five, test on SPEAKER "
                           "(all six in turn without one; use a few --epochs)")
    p.add_argument("--target", choices=bb.embedded.targets(), default=None,
                   help="--wav: run the int8 pipeline (front end + network) on the embedded "
                        "runtime: host or a QEMU board (mps2-an385: Cortex-M3, mps2-an386: M4)")
    p.add_argument("--model", default="spoken_digits.bb",
                   help="model to use (default spoken_digits.bb; --target uses the int8 "
                        "spoken_digits.int8.bb --train saved beside it)")
    p.add_argument("--save", default="spoken_digits.bb", help="where --train saves (default spoken_digits.bb)")
    p.add_argument("--arch", choices=("ds_cnn", "conv"), default="ds_cnn",
                   help="--train, --loso: the DS-CNN of MLPerf Tiny (default) or a plain Conv2D stack")
    p.add_argument("--epochs", type=int, default=60, help="passes over the training set (default 60)")
    p.add_argument("--batch-size", type=int, default=32, help="recordings per update (default 32)")
    p.add_argument("--lr", type=float, default=2e-3, help="Adam learning rate (default 0.002)")
    p.add_argument("--lr-decay", type=float, default=0.97,
                   help="multiply the learning rate by this after each epoch (default 0.97)")
    p.add_argument("--subset", type=int, default=None, help="train on N random training recordings")
    p.add_argument("--threshold", type=float, default=0.3,
                   help="--stream: least averaged confidence to report a digit (default 0.3, "
                        "three times chance)")
    p.add_argument("--data", default=None, help="FSDD recordings folder (default: $BB_DATA_DIR/fsdd, "
                                                "the cache, download)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    return p


def check_args(args):
    for name in ("epochs", "batch_size", "subset"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise InputError(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    if not (args.lr > 0 and 0 < args.lr_decay <= 1 and 0 <= args.threshold <= 1):
        raise InputError("--lr must be > 0, --lr-decay in (0, 1] and --threshold in [0, 1]")
    if args.target and not args.wav:
        raise InputError("--target goes with --wav FILE")
    if args.train:
        folder = os.path.dirname(os.path.abspath(args.save))
        if not os.path.isdir(folder):
            raise InputError(f"--save {args.save}: folder {folder} does not exist")


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        check_args(args)
        if args.train:
            return train(args)
        if args.loso:
            return leave_one_speaker_out(args)
        if args.wav:
            return predict_wav(args)
        return stream(args)
    except (InputError, bb.datasets.DatasetNotFoundError) as e:
        print(f"{PROG}: error: {str(e).splitlines()[0]}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
