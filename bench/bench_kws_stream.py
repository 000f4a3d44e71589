"""examples/spoken_digits.py --stream measured: exact-match rates on seeded random streams.

    python bench/bench_kws_stream.py spoken_digits.bb            # 300 streams per condition
    python bench/bench_kws_stream.py spoken_digits.bb --streams 50 --conditions issue,noise_white_20

Each stream is four random recordings of the FSDD test split (any speakers), with
pauses and, per condition, other levels, speeds or background noise; the spotter
(spoken_digits.spot, at the program's default --threshold) must name the four digits in
order and nothing else ("exact"); "found" counts streams with one detection inside each
recording and none elsewhere (the detector's part, whatever the network names). The
table in examples/README.md was measured with this script (seeds 2026 + condition index).
"""
import argparse
import importlib.util
import pathlib
import sys

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import braininabox as bb  # noqa: E402

RATE = 8000
CONDITIONS = ["single", "issue", "varied", "gain", "speed", "noise_white_30", "noise_white_20",
              "noise_pink_20", "noise_brown_20", "noise_white_10"]
DESCRIPTIONS = {
    "single": "one recording alone, no pause around it",
    "issue": "0.5 s of silence around each recording (the issue's streams)",
    "varied": "pauses of 0.3-1 s, 0-1.5 s of silence before and after",
    "gain": "varied, and each recording x0.3-3 louder or quieter",
    "speed": "varied, and each recording 15 % faster or slower",
    "noise_white_30": "varied, white noise 30 dB below the quietest recording's RMS",
    "noise_white_20": "varied, white noise 20 dB below",
    "noise_pink_20": "varied, pink noise 20 dB below",
    "noise_brown_20": "varied, brown noise (rumble) 20 dB below",
    "noise_white_10": "varied, white noise 10 dB below",
}


def noise(n, rng, colour):
    """Unit-RMS noise: white, pink (power 1/f) or brown (1/f^2)."""
    white = rng.standard_normal(n)
    if colour == "white":
        return white
    spectrum = np.fft.rfft(white)
    k = np.maximum(np.arange(len(spectrum)), 1).astype(np.float64)
    x = np.fft.irfft(spectrum / (np.sqrt(k) if colour == "pink" else k), n)
    return x / x.std()


def stretch(x, factor):
    n = int(round(len(x) / factor))
    return np.interp(np.linspace(0, len(x) - 1, n), np.arange(len(x)), x)


def make_stream(fsdd, condition, rng):
    """(int16 pcm, labels, [(start, end) sample range of each recording])."""
    picks = rng.choice(len(fsdd.labels), 4, replace=False)
    if condition == "single":
        pcm = fsdd.pcm[picks[0]]
        return pcm, [int(fsdd.labels[picks[0]])], [(0, len(pcm))]
    recordings = [fsdd.pcm[i].astype(np.float64) for i in picks]
    if condition == "issue":
        lead, pauses = 0.5, [0.5] * 4
    else:
        lead, trail = rng.uniform(0, 1.5), rng.uniform(0, 1.5)
        pauses = list(rng.uniform(0.3, 1.0, 3)) + [trail]
    if condition == "gain":
        recordings = [r * rng.uniform(0.3, 3) for r in recordings]
    if condition == "speed":
        recordings = [stretch(r, rng.uniform(0.85, 1.15)) for r in recordings]
    parts, where, at = [np.zeros(int(lead * RATE))], [], int(lead * RATE)
    for r, pause in zip(recordings, pauses):
        gap = np.zeros(int(pause * RATE))
        parts += [r, gap]
        where.append((at, at + len(r)))
        at += len(r) + len(gap)
    pcm = np.concatenate(parts)
    if condition.startswith("noise"):
        _, colour, snr = condition.split("_")
        quietest = min(np.sqrt(np.mean(r ** 2)) for r in recordings)
        pcm += noise(len(pcm), rng, colour) * quietest * 10 ** (-float(snr) / 20)
    pcm = np.clip(np.rint(pcm), -32768, 32767).astype(np.int16)
    return pcm, [int(fsdd.labels[i]) for i in picks], where


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model", help="a model --train saved (float or .int8.bb)")
    p.add_argument("--streams", type=int, default=300, help="streams per condition (default 300)")
    p.add_argument("--conditions", default=",".join(CONDITIONS),
                   help=f"comma-separated, of {', '.join(CONDITIONS)}")
    p.add_argument("--threshold", type=float, default=None,
                   help="--stream's --threshold (default: the program's)")
    p.add_argument("--data", default=None, help="FSDD folder (default $BB_DATA_DIR/fsdd, ...)")
    args = p.parse_args(argv)
    spec = importlib.util.spec_from_file_location("spoken_digits", ROOT / "examples" / "spoken_digits.py")
    sd = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sd)
    threshold = args.threshold
    if threshold is None:
        threshold = sd.build_parser().get_default("threshold")
    fsdd = bb.datasets.load_fsdd(args.data, split="test")
    model = bb.load(args.model)
    print(f"{args.streams} streams per condition, threshold {threshold}")
    for condition in args.conditions.split(","):
        if condition not in CONDITIONS:
            p.error(f"unknown condition {condition!r}")
        rng = np.random.default_rng(2026 + (CONDITIONS.index(condition) - 1) % len(CONDITIONS))
        exact = found = 0
        for _ in range(args.streams):
            pcm, labels, where = make_stream(fsdd, condition, rng)
            heard = sd.spot(model, pcm, threshold)
            exact += [d for _, _, d, _ in heard] == labels
            found += len(heard) == len(labels) and all(
                a / RATE - 0.05 <= (s + e) / 2 <= b / RATE + 0.05
                for (s, e, _, _), (a, b) in zip(heard, where))
        n = args.streams
        print(f"{condition:15s} exact {100 * exact / n:5.1f} %  found {100 * found / n:5.1f} %  "
              f"({DESCRIPTIONS[condition]})", flush=True)


if __name__ == "__main__":
    main()
