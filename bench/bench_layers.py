#!/usr/bin/env python3
"""Benchmark the MobileNet / DS-CNN layer kernels against PyTorch on the CPU (float32).

    PYTHONPATH=. python bench/bench_layers.py              # 1 and 2 threads
    PYTHONPATH=. python bench/bench_layers.py --quick      # fewer repeats (noisy)

Cases, batch 64, forward + backward (every gradient) of one layer:
  depthwise  3x3 depthwise conv2d, 64 channels, 48x48 and 24x24, stride 1 and 2 ("same"
             padding, TensorFlow's: the extra row / column at the bottom / right; torch gets
             symmetric padding 1, the same output size without an F.pad copy)
  batchnorm  BatchNorm in training mode on (64, 64, 24, 24)
Each cell is the median of the repeats (braininabox and torch alternating); ratio = torch time / braininabox time (> 1:
braininabox faster). PyTorch runs its depthwise convolution through
F.conv2d(groups=channels) and its batch norm through F.batch_norm. "% peak" is
braininabox's depthwise FLOP rate (forward, dx and dw: 3 x 2 x 9 FLOP per output) over
threads x the per-core float32 peak bench_core.py derives from /proc/cpuinfo; batch norm
moves a few bytes per FLOP (memory-bound), so it gets no such figure.
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _REPO not in sys.path:
    sys.path.append(_REPO)

import braininabox as bb  # noqa: E402
from braininabox import _core  # noqa: E402
from bench_core import read_cpuinfo, single_core_peak  # noqa: E402

BATCH, CHANNELS = 64, 64


def timed(steps, repeats, warmup=2):
    """Median seconds of each step function, the repeats interleaved (bb, torch, bb, ...)
    so that a shared machine's load changes hit both sides alike."""
    for _ in range(warmup):
        for step in steps:
            step()
    samples = [[] for _ in steps]
    for _ in range(repeats):
        for step, times in zip(steps, samples):
            start = time.perf_counter()
            step()
            times.append(time.perf_counter() - start)
    return [statistics.median(times) for times in samples]


def compare(bb_step, torch_step, repeats):
    if torch_step is None:
        return timed([bb_step], repeats)[0], None
    return tuple(timed([bb_step, torch_step], repeats))


def same_padding(size, stride, kernel=3):
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def depthwise_case(size, stride, torch, repeats):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, CHANNELS, size, size), dtype=np.float32)
    w = rng.standard_normal((CHANNELS, 1, 3, 3), dtype=np.float32)
    b = rng.standard_normal(CHANNELS, dtype=np.float32)
    top, bottom = same_padding(size, stride)
    pad = (top, bottom, top, bottom)
    y = _core.depthwise_conv2d(x, w, b, (stride, stride), pad)
    dy = rng.standard_normal(y.shape, dtype=np.float32)

    def bb_step():
        _core.depthwise_conv2d(x, w, b, (stride, stride), pad)
        _core.depthwise_conv2d_backward(x, w, dy, (stride, stride), pad)
    torch_step = None
    if torch is not None:
        F = torch.nn.functional
        tx = torch.from_numpy(x).requires_grad_()
        tw = torch.from_numpy(w).requires_grad_()
        tb = torch.from_numpy(b).requires_grad_()
        tdy = torch.from_numpy(dy)
        assert tuple(F.conv2d(tx, tw, tb, stride, 1, groups=CHANNELS).shape) == y.shape

        def torch_step():
            tx.grad = tw.grad = tb.grad = None
            # symmetric padding 1: the same output size as "same" here, and torch's fastest
            # form (a Keras port would F.pad the odd row first, a copy this leaves out)
            out = F.conv2d(tx, tw, tb, stride, 1, groups=CHANNELS)
            out.backward(tdy)
    bb_time, torch_time = compare(bb_step, torch_step, repeats)
    flops = 3 * 2 * 9 * y.size
    return f"depthwise 3x3 {size}x{size} s{stride}", bb_time, torch_time, flops


def batchnorm_case(torch, repeats):
    rng = np.random.default_rng(1)
    shape = (64, CHANNELS, 24, 24)
    x = rng.standard_normal(shape, dtype=np.float32)
    gamma = rng.standard_normal(CHANNELS, dtype=np.float32)
    beta = rng.standard_normal(CHANNELS, dtype=np.float32)
    rm, rv = np.zeros(CHANNELS, np.float32), np.ones(CHANNELS, np.float32)
    dy = rng.standard_normal(shape, dtype=np.float32)

    def bb_step():
        _, mean, invstd = _core.batch_norm(x, gamma, beta, rm, rv, True, 0.1, 1e-5)
        _core.batch_norm_backward(x, gamma, mean, invstd, True, dy)
    torch_step = None
    if torch is not None:
        F = torch.nn.functional
        tx = torch.from_numpy(x).requires_grad_()
        tg = torch.from_numpy(gamma).requires_grad_()
        tb = torch.from_numpy(beta).requires_grad_()
        trm, trv = torch.zeros(CHANNELS), torch.ones(CHANNELS)
        tdy = torch.from_numpy(dy)

        def torch_step():
            tx.grad = tg.grad = tb.grad = None
            F.batch_norm(tx, trm, trv, tg, tb, True, 0.1, 1e-5).backward(tdy)
    bb_time, torch_time = compare(bb_step, torch_step, repeats)
    return "batchnorm (64,64,24,24) train", bb_time, torch_time, None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 repeats instead of 20")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--no-torch", action="store_true")
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        torch = None
    if args.no_torch:
        torch = None
    repeats = 5 if args.quick else 20
    peak, how = single_core_peak(read_cpuinfo(), None)
    print(f"peak: {how}")
    print(f"{'case':34s} {'threads':>7s} {'braininabox':>12s} {'torch':>10s} {'ratio':>7s} "
          f"{'% peak':>7s}")
    for threads in args.threads:
        bb.set_num_threads(threads)
        if torch is not None:
            torch.set_num_threads(threads)
        cases = [depthwise_case(s, st, torch, repeats) for s in (48, 24) for st in (1, 2)]
        cases.append(batchnorm_case(torch, repeats))
        for name, bb_time, torch_time, flops in cases:
            t = f"{1e3 * torch_time:8.2f}ms" if torch_time else "-"
            ratio = f"{torch_time / bb_time:6.2f}x" if torch_time else "-"
            share = (f"{100 * flops / bb_time / 1e9 / (peak * threads):6.1f}%"
                     if flops and peak else "-")
            print(f"{name:34s} {threads:7d} {1e3 * bb_time:10.2f}ms {t:>10s} {ratio:>7s} "
                  f"{share:>7s}", flush=True)


if __name__ == "__main__":
    main()
