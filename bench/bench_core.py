#!/usr/bin/env python3
"""Benchmark braininabox's core against numpy (OpenBLAS) and PyTorch on the CPU.

    PYTHONPATH=. python bench/bench_core.py                  # all cases, 1 thread
    PYTHONPATH=. python bench/bench_core.py --threads 2      # peers may use 2 threads
    PYTHONPATH=. python bench/bench_core.py --quick --cases matmul conv
    PYTHONPATH=. python bench/bench_core.py --profile        # + cProfile of a bb CNN epoch

Cases (float32, batch 64 unless said): matmul (C SGEMM vs numpy), conv (conv2d
forward+backward vs torch), cnn / mlp (training throughput with Adam vs torch), latency
(batch-1 inference vs torch). PyTorch is optional: without it its column shows "-".
See bench/README.md for what each case measures and how to read the table.
"""
import argparse
import os
import sys

CASES = ("matmul", "conv", "cnn", "mlp", "latency")
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="braininabox core benchmark (vs numpy and PyTorch, CPU, float32)")
    parser.add_argument("--threads", type=int, default=1,
                        help="threads for every side (default 1): numpy/OpenBLAS, PyTorch and, "
                             "when it has bb.set_num_threads, braininabox's OpenMP kernels")
    parser.add_argument("--quick", action="store_true",
                        help="fewer repetitions and a smaller data set (a smoke check, noisy)")
    parser.add_argument("--cases", nargs="+", default=list(CASES), metavar="CASE",
                        help=f"subset to run, space- or comma-separated, from: {' '.join(CASES)}")
    parser.add_argument("--peak-gflops", type=float, default=None,
                        help="single-core float32 peak to use for '%% of peak' (default: derived "
                             "from /proc/cpuinfo)")
    parser.add_argument("--samples", type=int, default=None,
                        help="training samples per epoch for cnn/mlp (default 2048, quick 512)")
    parser.add_argument("--no-torch", action="store_true", help="skip PyTorch even if installed")
    parser.add_argument("--profile", action="store_true",
                        help="also cProfile one epoch of the braininabox CNN training loop")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    args = parser.parse_args(argv)
    cases = [c for item in args.cases for c in item.split(",") if c]
    unknown = sorted(set(cases) - set(CASES))
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)}; choose from {', '.join(CASES)}")
    args.cases = [c for c in CASES if c in cases]
    if args.threads < 1:
        parser.error("--threads must be >= 1")
    return args


if __name__ == "__main__":
    # Before numpy or torch are imported: BLAS/OpenMP read these when they load.
    ARGS = parse_args()
    for _var in THREAD_VARS:
        os.environ[_var] = str(ARGS.threads)

import cProfile
import gc
import io
import json
import math
import platform
import pstats
import statistics
import time

import numpy as np

# Fallback so `python bench/bench_core.py` also finds the in-tree package (after
# PYTHONPATH and site-packages, so an explicit choice wins).
_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _REPO not in sys.path:
    sys.path.append(_REPO)

import braininabox as bb
from braininabox import _core

BATCH = 64
NOISY_SPREAD = 0.25  # repeats whose max - min exceeds this fraction of the median
CLASSES = 10


# ============================================================== machine facts
def read_cpuinfo():
    """model name, cpu MHz, flags and core count from the first processor in /proc/cpuinfo."""
    info = {"model": platform.processor() or platform.machine(), "mhz": None, "flags": set(),
            "cores": None}
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
    except OSError:
        return info
    first = text.split("\n\n")[0]
    for line in first.splitlines():
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if key == "model name":
            info["model"] = value
        elif key == "cpu MHz":
            try:
                info["mhz"] = float(value)
            except ValueError:
                pass
        elif key in ("flags", "Features"):
            info["flags"] = set(value.split())
        elif key == "cpu cores":
            info["cores"] = int(value) if value.isdigit() else None
    return info


def single_core_peak(cpu, override):
    """(GFLOPS or None, how it was derived): FLOP/cycle from the SIMD flags x clock."""
    if override:
        return override, f"{override:.1f} GFLOPS, given by --peak-gflops"
    flags = cpu["flags"]
    if "avx512f" in flags:
        per_cycle, why = 64, "AVX-512 (avx512f): 2 FMA units x 16 floats x 2 FLOP"
    elif "avx2" in flags and "fma" in flags:
        per_cycle, why = 32, "AVX2+FMA: 2 FMA units x 8 floats x 2 FLOP"
    elif "avx" in flags:
        per_cycle, why = 16, "AVX: 8-float add + 8-float multiply"
    elif "sse2" in flags:
        per_cycle, why = 8, "SSE2: 4-float add + 4-float multiply"
    else:
        return None, "unknown (no x86 SIMD flags in /proc/cpuinfo): pass --peak-gflops"
    if not cpu["mhz"]:
        return None, f"{per_cycle} FLOP/cycle ({why}) but no 'cpu MHz': pass --peak-gflops"
    peak = per_cycle * cpu["mhz"] / 1000.0
    return peak, (f"{per_cycle} FLOP/cycle ({why}) x {cpu['mhz']:.0f} MHz ('cpu MHz' in "
                  f"/proc/cpuinfo) = {peak:.1f} GFLOPS per core")


def bb_revision():
    """The git commit of the braininabox tree being measured, '+dirty' when its library
    or C sources differ from that commit (so a table can be tied to a build)."""
    import subprocess
    root = os.path.dirname(os.path.dirname(os.path.abspath(bb.__file__)))
    try:
        head = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10, check=False)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", root, "status", "--porcelain", "--",
                                "braininabox", "csrc", "setup.py"],
                               capture_output=True, text=True, timeout=10, check=False)
        changed = [line for line in dirty.stdout.splitlines() if not line.startswith("??")]
        return head.stdout.strip() + ("+dirty" if changed else "")
    except (OSError, subprocess.SubprocessError):
        return None


def blas_name():
    try:
        config = np.show_config(mode="dicts")
        blas = config["Build Dependencies"]["blas"]
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except (TypeError, KeyError, AttributeError):  # older numpy: no mode="dicts"
        return "unknown BLAS"


def blas_threads():
    """What the loaded BLAS really uses, when threadpoolctl is installed (else None)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    counts = [f"{p.get('internal_api')}={p.get('num_threads')}" for p in threadpool_info()]
    return ", ".join(counts) or None


class LoadMonitor:
    """How much CPU other processes took while we ran (from /proc/stat), so a table
    measured on a busy machine says so instead of silently looking slow."""

    def __init__(self):
        self.start = self._sample()

    @staticmethod
    def _sample():
        try:
            with open("/proc/stat") as f:
                fields = [int(v) for v in f.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        busy = sum(fields[:3]) + sum(fields[5:7])  # user nice system . . irq softirq
        steal = fields[7] if len(fields) > 7 else 0
        own = os.times()
        return time.perf_counter(), busy, steal, own.user + own.system

    def report(self):
        end = self._sample()
        if self.start is None or end is None:
            return None
        tick = os.sysconf("SC_CLK_TCK")
        wall = end[0] - self.start[0]
        cpus = os.cpu_count() or 1
        busy = (end[1] - self.start[1]) / tick
        steal = (end[2] - self.start[2]) / tick
        ours = end[3] - self.start[3]
        others = max(0.0, busy - ours) / (wall * cpus)
        return others, steal / (wall * cpus)


def load_before():
    try:
        with open("/proc/loadavg") as f:
            return float(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


# ================================================================== timing
class Timing:
    """Seconds per call: median over repeats; each repeat times `number` back-to-back calls."""

    def __init__(self, samples, number):
        self.samples, self.number = samples, number
        self.median = statistics.median(samples)
        self.lo, self.hi = min(samples), max(samples)

    def spread(self):
        return (self.hi - self.lo) / self.median if self.median else 0.0

    def noisy(self):
        return self.spread() > NOISY_SPREAD

    def describe(self):
        return (f"median {fmt_seconds(self.median)} per call, min {fmt_seconds(self.lo)}, "
                f"max {fmt_seconds(self.hi)} ({len(self.samples)} repeats x {self.number} calls)")


def settle(seconds):
    """Pause before switching sides. With more than one thread, each library's idle
    workers (OpenBLAS, torch's OpenMP, braininabox's OpenMP: three separate pools) keep
    spinning for a while after their last job; on a small machine that spinning would
    steal the next side's cores. A short sleep lets them park."""
    if seconds:
        time.sleep(seconds)


def measure(contenders, warmup, repeats, min_time, pause=0.0):
    """Time several callables fairly: warm each up, calibrate how many calls make one
    repeat last >= min_time, then interleave their repeats (A B A B ...) so slow drift
    (clock boost, a noisy neighbour) hits every side alike; `pause` seconds of settle()
    before each side's turn. Returns {name: Timing}."""
    numbers = {}
    for name, fn in contenders.items():
        settle(pause)
        for _ in range(warmup):
            fn()
        start = time.perf_counter()
        fn()
        once = max(time.perf_counter() - start, 1e-9)
        numbers[name] = max(1, math.ceil(min_time / once))
    samples = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, fn in contenders.items():
            number = numbers[name]
            settle(pause)
            start = time.perf_counter()
            for _ in range(number):
                fn()
            samples[name].append((time.perf_counter() - start) / number)
    return {name: Timing(samples[name], numbers[name]) for name in contenders}


def measure_calls(contenders, warmup, calls, blocks, pause=0.0):
    """Latency: every call timed on its own; `calls` calls per side in `blocks`
    interleaved blocks. Returns {name: (median, p10, p90)} in seconds."""
    per_block = max(1, calls // blocks)
    for fn in contenders.values():
        settle(pause)
        for _ in range(warmup):
            fn()
    times = {name: [] for name in contenders}
    clock = time.perf_counter
    for _ in range(blocks):
        for name, fn in contenders.items():
            out = times[name]
            settle(pause)
            for _ in range(per_block):
                start = clock()
                fn()
                out.append(clock() - start)
    result = {}
    for name, values in times.items():
        values.sort()
        n = len(values)
        result[name] = (statistics.median(values), values[n // 10], values[(9 * n) // 10])
    return result


# ============================================================== formatting
def fmt_seconds(s):
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.2f} ms"
    return f"{s * 1e6:.1f} µs"


def fmt_ratio(r):
    return "-" if r is None else f"{r:.2f}x"


class Results:
    def __init__(self):
        self.rows, self.notes = [], []

    def add(self, case, bb_cell, torch_cell="-", numpy_cell="-", ratio=None, gflops=None,
            peak=None, raw=None, noisy=False):
        self.rows.append({
            "case": case, "braininabox": bb_cell, "PyTorch": torch_cell, "numpy": numpy_cell,
            "ratio": ratio, "noisy": bool(noisy), "gflops": gflops,
            "pct_peak": 100.0 * gflops / peak if gflops and peak else None, "raw": raw or {}})

    def note(self, text):
        self.notes.append(text)
        print(f"  note: {text}", flush=True)

    def table(self):
        header = ["case", "braininabox", "PyTorch", "numpy", "ratio", "GFLOPS (bb)", "% of peak"]
        body = [[r["case"], r["braininabox"], r["PyTorch"], r["numpy"],
                 fmt_ratio(r["ratio"]) + ("*" if r["noisy"] else ""),
                 "-" if r["gflops"] is None else f"{r['gflops']:.1f}",
                 "-" if r["pct_peak"] is None else f"{r['pct_peak']:.0f}%"] for r in self.rows]
        widths = [max(len(line[i]) for line in [header] + body) for i in range(len(header))]

        def fmt(line):
            cells = [line[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(line[1:], widths[1:])]
            return " | ".join(cells)
        rule = "-+-".join("-" * w for w in widths)
        return "\n".join([fmt(header), rule] + [fmt(line) for line in body])


def log(text):
    print(text, flush=True)


# ============================================================ case: matmul
def case_matmul(ctx, res):
    log("\n[matmul] square float32 C = A @ B: braininabox._core.matmul (C SGEMM) vs numpy "
        "a @ b" + (" (and torch.mm)" if ctx.torch else ""))
    rng = np.random.default_rng(0)
    for n in (256, 512, 1024):
        a = rng.standard_normal((n, n), dtype=np.float32)
        b = rng.standard_normal((n, n), dtype=np.float32)
        ref = a.astype(np.float64) @ b.astype(np.float64)
        bb_out = _core.matmul(a, b)
        err = float(np.max(np.abs(bb_out - ref)) / np.max(np.abs(ref)))
        ok = err < 1e-4
        contenders = {"bb": lambda a=a, b=b: _core.matmul(a, b),
                      "numpy": lambda a=a, b=b: a @ b}
        if ctx.torch:
            ta, tb = ctx.torch.from_numpy(a), ctx.torch.from_numpy(b)
            contenders["torch"] = lambda ta=ta, tb=tb: ctx.torch.mm(ta, tb)
        t = measure(contenders, ctx.warmup, ctx.repeats, ctx.min_time, ctx.pause)
        flops = 2.0 * n ** 3
        gf = {k: flops / v.median / 1e9 for k, v in t.items()}
        for k, v in t.items():
            log(f"  n={n} {k:>5}: {gf[k]:6.1f} GFLOPS  {v.describe()}")
        if not ok:
            res.note(f"matmul n={n}: braininabox result differs from float64 reference "
                     f"(max rel err {err:.1e})")
        res.add(f"matmul {n}x{n}x{n} (GFLOPS)", f"{gf['bb']:.1f}" + ("" if ok else " WRONG"),
                f"{gf['torch']:.1f}" if "torch" in gf else "-", f"{gf['numpy']:.1f}",
                gf["bb"] / gf["numpy"], gf["bb"], ctx.peak,
                raw={"seconds": {k: v.median for k, v in t.items()}, "gflops": gf,
                     "max_rel_err": err},
                noisy=t["bb"].noisy() or t["numpy"].noisy())


# ============================================================== case: conv
def case_conv(ctx, res):
    n, c, h, w, oc, k = BATCH, 32, 13, 13, 64, 3
    log(f"\n[conv] conv2d forward+backward, x ({n}, {c}, {h}, {w}), w ({oc}, {c}, {k}, {k}), "
        f"padding 0, stride 1; dx, dw, db all computed")
    rng = np.random.default_rng(1)
    x = rng.standard_normal((n, c, h, w), dtype=np.float32)
    wt = (rng.standard_normal((oc, c, k, k), dtype=np.float32) * 0.05).astype(np.float32)
    bias = rng.standard_normal(oc, dtype=np.float32)
    oh, ow = h - k + 1, w - k + 1
    gy = rng.standard_normal((n, oc, oh, ow), dtype=np.float32)
    bx = bb.Tensor(x, requires_grad=True)
    bw = bb.Tensor(wt, requires_grad=True)
    bbias = bb.Tensor(bias, requires_grad=True)

    def bb_step():
        bx.grad = bw.grad = bbias.grad = None
        bb.functional.conv2d(bx, bw, bbias).backward(gy)

    contenders = {"bb": bb_step}
    torch = ctx.torch
    if torch:
        tF = torch.nn.functional
        tx = torch.from_numpy(x.copy()).requires_grad_(True)
        tw = torch.from_numpy(wt.copy()).requires_grad_(True)
        tb = torch.from_numpy(bias.copy()).requires_grad_(True)
        tgy = torch.from_numpy(gy)

        def torch_step():
            tx.grad = tw.grad = tb.grad = None
            tF.conv2d(tx, tw, tb).backward(tgy)
        contenders["torch"] = torch_step
        bb_step()
        torch_step()
        diffs = [float(np.max(np.abs(a - b.detach().numpy())) / (np.max(np.abs(a)) + 1e-30))
                 for a, b in ((bx.grad, tx.grad), (bw.grad, tw.grad), (bbias.grad, tb.grad))]
        y_diff = float(np.max(np.abs(bb.functional.conv2d(bx, bw, bbias).data
                                     - tF.conv2d(tx, tw, tb).detach().numpy())))
        log(f"  check vs torch: max |y diff| {y_diff:.1e}; relative dx/dw/db diffs "
            + "/".join(f"{d:.1e}" for d in diffs))
        if max(diffs) > 1e-3:
            res.note(f"conv: braininabox gradients differ from torch (rel {max(diffs):.1e})")
    t = measure(contenders, ctx.warmup, ctx.repeats, ctx.min_time, ctx.pause)
    fwd_flops = 2.0 * n * oc * oh * ow * c * k * k
    flops = 3 * fwd_flops
    for name, v in t.items():
        log(f"  {name:>5}: {flops / v.median / 1e9:6.1f} GFLOPS  {v.describe()}")
    bb_s = t["bb"].median
    torch_s = t["torch"].median if "torch" in t else None
    res.add("conv2d fwd+bwd 64x32x13x13 k3 (ms)", f"{bb_s * 1e3:.2f}",
            f"{torch_s * 1e3:.2f}" if torch_s else "-", "-",
            torch_s / bb_s if torch_s else None, flops / bb_s / 1e9, ctx.peak,
            raw={"seconds": {k: v.median for k, v in t.items()}, "flops": flops,
                 "torch_gflops": flops / torch_s / 1e9 if torch_s else None},
            noisy=any(v.noisy() for v in t.values()))


# ============================================================ models
def bb_cnn():
    L = bb.layers
    return bb.Sequential([L.Conv2D(32, 3), L.ReLU(), L.MaxPool(2), L.Conv2D(64, 3), L.ReLU(),
                          L.MaxPool(2), L.Flatten(), L.Linear(CLASSES)])


def bb_mlp():
    L = bb.layers
    return bb.Sequential([L.Linear(128), L.ReLU(), L.Linear(64), L.ReLU(), L.Linear(CLASSES)])


def torch_cnn(nn):
    return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3),
                         nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1600, CLASSES))


def torch_mlp(nn):
    return nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(),
                         nn.Linear(64, CLASSES))


# Multiply-adds x 2 per sample, GEMM-like layers only (ReLU, pooling, loss, Adam ignored).
# Training = forward + weight gradient + input gradient (3x forward), except the first
# layer, whose input gradient nobody needs (2x forward).
def _conv_flops(cin, cout, out_hw, k=3):
    return 2.0 * cin * cout * out_hw * out_hw * k * k


MODELS = {
    "cnn": {"input": (1, 28, 28), "build_bb": bb_cnn, "build_torch": torch_cnn,
            "label": "seed CNN", "layers": [_conv_flops(1, 32, 26), _conv_flops(32, 64, 11),
                                            2.0 * 1600 * CLASSES]},
    "mlp": {"input": (784,), "build_bb": bb_mlp, "build_torch": torch_mlp,
            "label": "MLP 784-128-64-10", "layers": [2.0 * 784 * 128, 2.0 * 128 * 64,
                                                     2.0 * 64 * CLASSES]},
}


def forward_flops(spec):
    return sum(spec["layers"])


def train_flops(spec):
    first, rest = spec["layers"][0], spec["layers"][1:]
    return 2 * first + 3 * sum(rest)


def copy_weights_to_torch(torch, bb_model, torch_model):
    """Same starting point on both sides: the layouts match ((out, in[, kh, kw]))."""
    with torch.no_grad():
        for bp, tp in zip(bb_model.parameters(), torch_model.parameters()):
            if tuple(bp.shape) != tuple(tp.shape):
                raise RuntimeError(f"parameter shapes differ: {bp.shape} vs {tuple(tp.shape)}")
            tp.copy_(torch.from_numpy(bp.data))


def make_models(ctx, which, seed):
    spec = MODELS[which]
    bb.seed(seed)
    model = spec["build_bb"]().build(spec["input"])
    tmodel = None
    if ctx.torch:
        ctx.torch.manual_seed(seed)
        tmodel = spec["build_torch"](ctx.torch.nn)
        copy_weights_to_torch(ctx.torch, model, tmodel)
    return spec, model, tmodel


def make_data(spec, samples, seed):
    rng = np.random.default_rng(seed)
    X = rng.random((samples,) + spec["input"], dtype=np.float32)
    y = rng.integers(0, CLASSES, samples).astype(np.int32)
    return X, y


# ========================================================= case: training
def case_train(ctx, res, which):
    spec, model, tmodel = make_models(ctx, which, seed=10)
    X, y = make_data(spec, ctx.samples, seed=11)
    batches = [(X[i:i + BATCH], y[i:i + BATCH]) for i in range(0, len(X), BATCH)]
    log(f"\n[{which}] training throughput, {spec['label']}, Adam(lr=1e-3) + cross-entropy, "
        f"batch {BATCH}, {len(X)} random samples of shape {spec['input']} per epoch, "
        f"no shuffling (same batch order both sides)")

    opt = bb.optimizers.Adam(model.parameters(), lr=1e-3)
    cross_entropy = bb.functional.cross_entropy
    model.train()

    def bb_batch(xb, yb):
        out = model(bb.Tensor(xb))  # data does not require grad: no input gradient
        loss = cross_entropy(out, yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    def bb_epoch():
        for xb, yb in batches:
            bb_batch(xb, yb)

    contenders = {"bb": bb_epoch}
    torch = ctx.torch
    if torch:
        tF = torch.nn.functional
        topt = torch.optim.Adam(tmodel.parameters(), lr=1e-3)
        tmodel.train()
        tbatches = [(torch.from_numpy(xb), torch.from_numpy(yb.astype(np.int64)))
                    for xb, yb in batches]

        def torch_batch(xb, yb):
            loss = tF.cross_entropy(tmodel(xb), yb)
            topt.zero_grad()
            loss.backward()
            topt.step()
            return loss

        def torch_epoch():
            for xb, yb in tbatches:
                torch_batch(xb, yb)
        contenders["torch"] = torch_epoch

        # Same work check: identical weights and batch -> same loss and same update.
        lb = float(bb_batch(*batches[0]).data)
        lt = float(torch_batch(*tbatches[0]).item())
        dp = max(float(np.max(np.abs(bp.data - tp.detach().numpy())))
                 for bp, tp in zip(model.parameters(), tmodel.parameters()))
        log(f"  check: first-batch loss bb {lb:.5f} vs torch {lt:.5f}; max |param diff| after "
            f"one Adam step {dp:.1e}")
        if abs(lb - lt) > 1e-3 * max(1.0, abs(lt)) or dp > 1e-4:
            res.note(f"{which}: braininabox and torch disagree on the first step "
                     f"(loss {lb:.5f} vs {lt:.5f}, param diff {dp:.1e})")

    t = measure(contenders, ctx.train_warmup, ctx.train_repeats, ctx.train_min_time,
                ctx.pause)
    for name, v in t.items():
        log(f"  {name:>5}: {len(X) / v.median:9.0f} samples/s  per epoch {v.describe()}")
    bb_rate = len(X) / t["bb"].median
    torch_rate = len(X) / t["torch"].median if "torch" in t else None
    flops = train_flops(spec)
    res.add(f"{which} train b{BATCH} (samples/s)", f"{bb_rate:,.0f}",
            f"{torch_rate:,.0f}" if torch_rate else "-", "-",
            bb_rate / torch_rate if torch_rate else None, flops * bb_rate / 1e9, ctx.peak,
            raw={"samples_per_s": {k: len(X) / v.median for k, v in t.items()},
                 "flops_per_sample": flops},
            noisy=any(v.noisy() for v in t.values()))

    # model.fit does the same per-batch work plus input checks, loss readback, the
    # finiteness check, logs, callbacks. Measured once (a single call) on the warm model.
    epochs = t["bb"].number
    model.compile(optimizer=opt, loss=bb.loss.CrossEntropy())
    settle(ctx.pause)
    start = time.perf_counter()
    model.fit(X, y, epochs=epochs, batch_size=BATCH, shuffle=False, verbose=0)
    fit_s = (time.perf_counter() - start) / epochs
    fit_rate = len(X) / fit_s
    overhead = fit_s / t["bb"].median - 1
    log(f"  model.fit(verbose=0, shuffle=False), one call of {epochs} epoch(s): "
        f"{fit_rate:,.0f} samples/s, {100 * overhead:+.1f}% time vs the manual loop")
    res.add(f"{which} train via model.fit (samples/s)", f"{fit_rate:,.0f}",
            f"{torch_rate:,.0f}" if torch_rate else "-", "-",
            fit_rate / torch_rate if torch_rate else None, flops * fit_rate / 1e9, ctx.peak,
            raw={"samples_per_s": fit_rate, "overhead_vs_loop": overhead})
    return model, batches, opt


def profile_bb_cnn(ctx):
    """cProfile one epoch of the braininabox CNN loop: where the Python-side time goes."""
    spec, model, _ = make_models(ctx._replace_torch(None), "cnn", seed=10)
    X, y = make_data(spec, ctx.samples, seed=11)
    opt = bb.optimizers.Adam(model.parameters(), lr=1e-3)
    batches = [(X[i:i + BATCH], y[i:i + BATCH]) for i in range(0, len(X), BATCH)]

    def epoch():
        for xb, yb in batches:
            loss = bb.functional.cross_entropy(model(bb.Tensor(xb)), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
    epoch()  # warm
    profiler = cProfile.Profile()
    profiler.enable()
    epoch()
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).sort_stats("tottime")
    stats.print_stats(18)
    log(f"\n[profile] cProfile of one bb CNN training epoch ({len(X)} samples), "
        f"top entries by own time (tottime):")
    lines = out.getvalue().splitlines()
    start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
    total = next((line for line in lines if "function calls" in line), "")
    log("  " + total.strip())
    for line in lines[start:]:
        if line.strip():
            log("  " + line.rstrip())


# ========================================================== case: latency
def case_latency(ctx, res):
    log(f"\n[latency] batch-1 inference, every call timed on its own, median of "
        f"{ctx.latency_calls} calls per side (interleaved blocks)")
    torch = ctx.torch
    for which in ("cnn", "mlp"):
        spec, model, tmodel = make_models(ctx, which, seed=20)
        model.eval()
        x = np.random.default_rng(21).random((1,) + spec["input"], dtype=np.float32)
        bx = bb.Tensor(x)

        def bb_call(model=model, bx=bx):
            with bb.no_grad():
                return model(bx)
        contenders = {"bb": bb_call}
        if torch:
            tmodel.eval()
            tx = torch.from_numpy(x)

            def torch_call(tmodel=tmodel, tx=tx):
                with torch.inference_mode():
                    return tmodel(tx)
            contenders["torch"] = torch_call
            diff = float(np.max(np.abs(bb_call().data - torch_call().numpy())))
            if diff > 1e-3:
                res.note(f"latency {which}: outputs differ from torch by {diff:.1e}")
        stats = measure_calls(contenders, ctx.latency_warmup, ctx.latency_calls, blocks=10,
                              pause=ctx.pause)
        for name, (med, p10, p90) in stats.items():
            log(f"  {which} {name:>5}: median {med * 1e6:8.1f} µs  (p10 {p10 * 1e6:.1f}, "
                f"p90 {p90 * 1e6:.1f})")
        bb_s = stats["bb"][0]
        torch_s = stats["torch"][0] if "torch" in stats else None
        res.add(f"{which} infer b1 (µs, median)", f"{bb_s * 1e6:.1f}",
                f"{torch_s * 1e6:.1f}" if torch_s else "-", "-",
                torch_s / bb_s if torch_s else None, forward_flops(spec) / bb_s / 1e9, ctx.peak,
                raw={"median_s": {k: v[0] for k, v in stats.items()},
                     "p90_s": {k: v[2] for k, v in stats.items()}},
                noisy=any(p90 > 1.5 * p10 for _, p10, p90 in stats.values()))


# ================================================================== main
class Context:
    def __init__(self, args, torch, peak):
        self.torch, self.peak = torch, peak
        quick = args.quick
        self.warmup, self.repeats, self.min_time = (1, 3, 0.05) if quick else (3, 7, 0.25)
        self.train_warmup, self.train_repeats, self.train_min_time = \
            (1, 2, 0.1) if quick else (1, 5, 0.5)
        self.samples = args.samples or (512 if quick else 2048)
        self.latency_warmup, self.latency_calls = (20, 200) if quick else (100, 2000)
        # Only thread pools spin: with one thread per library there is nothing to settle.
        self.pause = 0.2 if args.threads > 1 else 0.0

    def _replace_torch(self, torch):
        clone = Context.__new__(Context)
        clone.__dict__.update(self.__dict__, torch=torch)
        return clone


def set_bb_threads(n):
    """(threads braininabox's kernels use, how): builds with bb.set_num_threads have
    OpenMP kernels (SGEMM, conv2d); older ones are single-threaded."""
    if hasattr(bb, "set_num_threads"):
        bb.set_num_threads(n)
        used = bb.get_num_threads()
        return used, (f"{used} (bb.set_num_threads; OpenMP in its SGEMM and conv2d, the other "
                      f"kernels and the Python autograd single-threaded)")
    return 1, "1 (this build's C kernels are single-threaded; --threads does not change them)"


def import_torch(args):
    if args.no_torch:
        return None, "skipped (--no-torch)"
    try:
        import torch
    except ImportError as exc:
        return None, f"not importable ({exc})"
    torch.set_num_threads(args.threads)
    return torch, torch.__version__


def main(args):
    wall = time.perf_counter()
    load1 = load_before()
    monitor = LoadMonitor()
    torch, torch_version = import_torch(args)
    cpu = read_cpuinfo()
    core_peak, peak_how = single_core_peak(cpu, args.peak_gflops)
    bb_threads, bb_threads_how = set_bb_threads(args.threads)
    # braininabox's "% of peak" is against the cores it may use.
    peak = core_peak * bb_threads if core_peak else None
    ctx = Context(args, torch, peak)
    revision = bb_revision()
    try:
        from braininabox import _bb_c
        built = "extension built " + time.strftime(
            "%Y-%m-%d %H:%M", time.localtime(os.path.getmtime(_bb_c.__file__)))
    except (ImportError, OSError, AttributeError):
        built = None
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None

    machine = [
        f"CPU:     {cpu['model']}, {os.cpu_count()} logical CPUs"
        + (f", {cpu['cores']} cores per socket" if cpu["cores"] else "")
        + (f", {affinity} usable by this process" if affinity else ""),
        f"peak:    {peak_how}",
        f"Python {platform.python_version()}, numpy {np.__version__} ({blas_name()}), "
        f"PyTorch {torch_version}, braininabox {bb.__version__} ({os.path.dirname(bb.__file__)}"
        + (f", git {revision}" if revision else "") + (f", {built}" if built else "") + ")",
        f"threads: braininabox {bb_threads_how} | numpy/OpenBLAS {os.environ.get('OPENBLAS_NUM_THREADS', 'default')} "
        f"(OMP/OPENBLAS/MKL_NUM_THREADS={args.threads})"
        + (f" | PyTorch {torch.get_num_threads()} (torch.set_num_threads)" if torch else ""),
    ]
    measured = blas_threads()
    if measured:
        machine.append(f"         threadpoolctl reports: {measured}")
    if load1 is not None:
        busy = " (> 0.5: the machine may be busy, expect noise)" if load1 > 0.5 else ""
        machine.append(f"load:    1-min load average {load1:.2f} at the start{busy}")
    mode = "quick (smoke check: few repetitions, noisy)" if args.quick else "full"
    machine.append(f"run:     {mode}; cases: {' '.join(args.cases)}")
    log("braininabox core benchmark\n" + "\n".join(machine))

    res = Results()
    gc.collect()
    if "matmul" in args.cases:
        case_matmul(ctx, res)
    if "conv" in args.cases:
        case_conv(ctx, res)
    for which in ("cnn", "mlp"):
        if which in args.cases:
            case_train(ctx, res, which)
    if "latency" in args.cases:
        case_latency(ctx, res)
    if args.profile:
        profile_bb_cnn(ctx)

    usage = monitor.report()
    if usage is not None:
        others, steal = usage
        warn = ("  <-- the machine was shared: rerun on an idle one for clean numbers"
                if others > 0.05 or steal > 0.05 else "")
        machine.append(f"during:  other processes used {100 * others:.0f}% of all CPUs, "
                       f"hypervisor steal {100 * steal:.0f}%{warn}")
    log("\n" + "=" * 100)
    log("\n".join(machine))
    log("ratio = braininabox vs its peer (numpy for matmul, PyTorch otherwise), oriented so that "
        ">1 means braininabox is faster:\n  throughput rows (GFLOPS, samples/s) bb/peer; time rows "
        f"(ms, µs) peer/bb. GFLOPS and % of peak are braininabox's, against the peak of the "
        f"{bb_threads} core(s) it may use" + (f" ({peak:.1f} GFLOPS)." if peak else "."))
    if torch is None:
        log(f"PyTorch {torch_version}: its column shows '-'.")
    log("")
    log(res.table())
    if any(r["noisy"] for r in res.rows):
        log(f"* noisy: some side's repeats spread by more than {NOISY_SPREAD:.0%} of the median "
            f"(latency: p90 > 1.5 x p10); see its log line above, and rerun before trusting it.")
    for note in res.notes:
        log(f"note: {note}")
    log(f"\ntotal wall time {time.perf_counter() - wall:.0f} s")

    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine, "threads": args.threads, "bb_threads": bb_threads,
                       "quick": args.quick, "peak_gflops": peak, "core_peak_gflops": core_peak, "rows": res.rows, "notes": res.notes}, f, indent=2)
        log(f"results written to {args.json}")


if __name__ == "__main__":
    main(ARGS)
