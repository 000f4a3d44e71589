#!/usr/bin/env python3
"""Training throughput of the MLPerf Tiny models: braininabox vs. an equivalent PyTorch model.

    PYTHONPATH=. python bench/bench_models.py                # 1 and 2 threads
    PYTHONPATH=. python bench/bench_models.py --quick        # fewer steps (noisy)
    PYTHONPATH=. python bench/bench_models.py --models ds_cnn --threads 1

Cases (float32, random data, Adam, cross-entropy; every step is forward, backward and
the optimizer update):
  ds_cnn        bb.models.ds_cnn(), input (1, 49, 10), 12 classes, batch 64
  mobilenet_v1  bb.models.mobilenet_v1(alpha=0.25), input (3, 96, 96), 2 classes, batch 32
braininabox trains through model.fit (the path a user takes: batching, shuffling, the
progress bookkeeping); PyTorch through a plain loop over the same batches, with
nn.Module equivalents of the same layers (TensorFlow's "same" padding as an explicit
F.pad, depthwise as Conv2d(groups=channels), BatchNorm2d). Dropout is active on both sides.
samples/s is the median over repeats; ratio = braininabox / PyTorch (> 1: braininabox
faster). "% of peak" counts 6 FLOPs per MAC per sample (2 forward, 4 backward) against
the single-core peak from /proc/cpuinfo times the threads. The machine may be shared:
the load average is printed with each row.
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for path in (_REPO, os.path.join(_REPO, "bench")):
    if path not in sys.path:
        sys.path.append(path)

import braininabox as bb  # noqa: E402
from bench_core import read_cpuinfo, single_core_peak  # noqa: E402

CASES = {"ds_cnn": (lambda: bb.models.ds_cnn(), 64),
         "mobilenet_v1": (lambda: bb.models.mobilenet_v1(alpha=0.25), 32)}


def torch_models(torch):
    """PyTorch twins of the two models, layer for layer."""
    nn, F = torch.nn, torch.nn.functional

    class SameConv(nn.Conv2d):
        """Conv2d with TensorFlow's 'same' padding (extra row/column at the bottom/right)."""

        def forward(self, x):
            pads = []
            for size, k, s in zip(reversed(x.shape[2:]), reversed(self.kernel_size),
                                  reversed(self.stride)):
                total = max((-(-size // s) - 1) * s + k - size, 0)
                pads += [total // 2, total - total // 2]
            return super().forward(F.pad(x, pads))

    def conv_bn_relu(cin, cout, kernel, stride=1):
        return [SameConv(cin, cout, kernel, stride), nn.BatchNorm2d(cout), nn.ReLU()]

    def separable(cin, cout, stride=1):
        return [SameConv(cin, cin, 3, stride, groups=cin), nn.BatchNorm2d(cin), nn.ReLU(),
                *conv_bn_relu(cin, cout, 1)]

    def ds_cnn():
        layers = conv_bn_relu(1, 64, (10, 4), 2) + [nn.Dropout(0.2)]
        for _ in range(4):
            layers += separable(64, 64)
        return nn.Sequential(*layers, nn.Dropout(0.4), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                             nn.Linear(64, 12))

    def mobilenet_v1():
        layers, cin = conv_bn_relu(3, 8, 3, 2), 8
        for filters, stride in ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
                                *[(512, 1)] * 5, (1024, 2), (1024, 1)):
            layers += separable(cin, filters // 4, stride)
            cin = filters // 4
        return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, 2))

    return {"ds_cnn": ds_cnn, "mobilenet_v1": mobilenet_v1}


def bb_throughput(make, batch, steps, repeats):
    model = make()
    classes = model.output_shape[0]
    rng = np.random.default_rng(0)
    X = rng.standard_normal((batch * steps,) + model.input_shape, dtype=np.float32)
    y = rng.integers(0, classes, size=len(X))
    model.compile(optimizer=bb.optimizers.Adam(lr=1e-3), loss="cross_entropy")
    model.fit(X[:2 * batch], y[:2 * batch], batch_size=batch, verbose=0)  # warm-up
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.fit(X, y, batch_size=batch, verbose=0)
        rates.append(len(X) / (time.perf_counter() - start))
    return statistics.median(rates), model.macs(), model.count_params()


def torch_throughput(torch, make, input_shape, classes, batch, steps, repeats):
    model = make()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(0)
    X = torch.randn((batch * steps,) + input_shape, generator=gen)
    y = torch.randint(0, classes, (len(X),), generator=gen)
    model.train()

    def epoch(n):
        for i in range(0, n, batch):
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(X[i:i + batch]), y[i:i + batch])
            loss.backward()
            optimizer.step()

    epoch(2 * batch)
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        epoch(len(X))
        rates.append(len(X) / (time.perf_counter() - start))
    return statistics.median(rates), sum(p.numel() for p in model.parameters())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--models", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--quick", action="store_true", help="fewer steps and repeats")
    parser.add_argument("--no-torch", action="store_true")
    args = parser.parse_args(argv)
    torch = None
    if not args.no_torch:
        try:
            import torch
        except ImportError:
            print("PyTorch is not installed: braininabox only")
    steps, repeats = (3, 1) if args.quick else (8, 3)
    peak, why = single_core_peak(read_cpuinfo(), None)
    print(f"single-core peak: {why}")
    print(f"{steps} steps per timing, median of {repeats}\n")
    head = (f"{'model':14s} {'batch':>5s} {'threads':>7s} {'bb samples/s':>13s} "
            f"{'torch samples/s':>16s} {'ratio':>6s} {'% of peak (bb)':>15s} {'load':>5s}")
    print(head)
    for threads in args.threads:
        bb.set_num_threads(threads)
        if torch is not None:
            torch.set_num_threads(threads)
        for name in args.models:
            make, batch = CASES[name]
            rate, macs, params = bb_throughput(make, batch, steps, repeats)
            t_rate, ratio = "-", "-"
            if torch is not None:
                torch.manual_seed(0)
                model = make()
                t, t_params = torch_throughput(torch, torch_models(torch)[name], model.input_shape,
                                               model.output_shape[0], batch, steps, repeats)
                assert t_params == params, (name, t_params, params)  # the same model
                t_rate, ratio = f"{t:,.0f}", f"{rate / t:.2f}"
            pct = f"{100 * rate * 6 * macs / 1e9 / (peak * threads):.1f}%" if peak else "-"
            print(f"{name:14s} {batch:5d} {threads:7d} {rate:13,.0f} {t_rate:>16s} {ratio:>6s} "
                  f"{pct:>15s} {os.getloadavg()[0]:5.1f}", flush=True)


if __name__ == "__main__":
    main()
