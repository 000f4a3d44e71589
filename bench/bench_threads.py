"""Default threads against one thread, on an idle machine and next to a busy process.

    python bench/bench_threads.py                 # about a minute
    python bench/bench_threads.py --seconds 2     # shorter

Each cell is a fresh process (so libgomp starts with that environment) that times
CNN training steps (bench_core's CNN, batch 64 of 1x28x28, Adam) and batch-1 CNN
inference, and prints the median time. "loaded" runs next to one `yes > /dev/null`-like
busy process per spare core (one on a 2-core machine). The ratio default/1-thread above
1.0 means the default threads lose to one thread.

--env NAME=VALUE (repeatable) is passed to every cell: --env GOMP_SPINCOUNT=300000 gives
libgomp's own default (spinning idle workers), which braininabox used before choosing
passive waiting (a user's OMP_WAIT_POLICY or GOMP_SPINCOUNT always wins).
The machine may be shared: the figures are medians over a few seconds, not a benchmark.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CELL = r"""
import json, statistics, sys, time
import numpy as np
import braininabox as bb
seconds = float(sys.argv[1])
L = bb.layers
bb.seed(0)
model = bb.Sequential([L.Conv2D(32, 3), L.ReLU(), L.MaxPool(2), L.Conv2D(64, 3), L.ReLU(),
                       L.MaxPool(2), L.Flatten(), L.Linear(10)])
model.compile(optimizer=bb.optimizers.Adam(), loss=bb.loss.CrossEntropy())
rng = np.random.default_rng(0)
x = rng.random((64, 1, 28, 28), dtype=np.float32)
y = rng.integers(0, 10, 64)
model.build((1, 28, 28))
model.optimizer.bind(model.parameters())
model._bind_optimizer = False

def train_step():
    model.train()
    loss = model.loss(model(bb.Tensor(x)), y)
    model.optimizer.zero_grad()
    loss.backward()
    model.optimizer.step()

one = x[:1]
def infer():
    model.eval()
    with bb.no_grad():
        model(bb.Tensor(one))

out = {"threads": bb.get_num_threads()}
for name, fn in (("train_step", train_step), ("infer_batch1", infer)):
    fn(); fn()
    times, end = [], time.perf_counter() + seconds
    while time.perf_counter() < end:
        t = time.perf_counter(); fn(); times.append(time.perf_counter() - t)
    out[name] = statistics.median(times)
print(json.dumps(out))
"""


def cell(threads, seconds, extra_env):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("OMP_NUM_THREADS", None)
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    for item in extra_env:
        name, _, value = item.partition("=")
        if value:
            env[name] = value
        else:
            env.pop(name, None)
    result = subprocess.run([sys.executable, "-c", CELL, str(seconds)], env=env, check=True,
                            capture_output=True, text=True, timeout=600)
    return json.loads(result.stdout)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="timing per cell (default 4)")
    parser.add_argument("--env", action="append", default=[],
                        help="NAME=VALUE for every cell (NAME= removes it)")
    args = parser.parse_args(argv)
    cores = os.cpu_count() or 1
    print(f"{cores} cores; load average before: {os.getloadavg()[0]:.2f}; env {args.env or '-'}")
    rows = []
    for state in ("idle", "loaded"):
        competitors = []
        if state == "loaded":
            competitors = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
                           for _ in range(max(1, cores - 1))]
            time.sleep(0.5)
        try:
            default = cell(None, args.seconds, args.env)
            single = cell(1, args.seconds, args.env)
        finally:
            for p in competitors:
                p.kill()
                p.wait()
        for case in ("train_step", "infer_batch1"):
            rows.append((state, case, default["threads"], default[case], single[case]))
    print(f"{'machine':8} {'case':13} {'default (threads)':>20} {'1 thread':>10} {'ratio':>7}")
    for state, case, threads, d, s in rows:
        print(f"{state:8} {case:13} {d * 1e3:14.3f} ms ({threads}) {s * 1e3:7.3f} ms {d / s:7.2f}")


if __name__ == "__main__":
    main()
