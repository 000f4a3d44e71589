#!/usr/bin/env python3
"""Benchmark the int8 path on the QEMU Cortex-M boards, against the peers of issue #7.

    PYTHONPATH=. python bench/bench_board.py                          # A, B, C on both boards
    PYTHONPATH=. python bench/bench_board.py --cache out/bench_models # reuse trained models
    PYTHONPATH=. python bench/bench_board.py --quick --models A       # smoke run

For each MNIST model (A, B, C below) it trains (Adam, batch 64, bb.seed(0)) or loads
from --cache, reports float and int8 test accuracy on the full test set, quantizes
with 1,000 training images as calibration data, exports the C header, runs a few test
images on each board with braininabox.embedded.run and checks the board's int8 outputs
against q.predict_int8 byte for byte. It then prints per model and board: MACs, arena
vs all activations unshared, RAM / stack / flash / weights / code measured on the
board, QEMU icount ticks per inference and instructions per MAC; and the peer
figures of issue #7 (TFLite Micro arena, CMSIS-NN ticks) with ours/peer ratios and
the issue's goals. See bench/README.md ("Board benchmark").

A benchmark, not a test: it asserts no speed or size. It exits with 1 only when a
board disagrees with the host reference or a build/run fails (loud FAIL lines).
"""
import argparse
import os
import subprocess
import sys
import time

import numpy as np

import braininabox as bb
from braininabox.deploy import embedded

L = bb.layers
BOARDS = ("mps2-an385", "mps2-an386")
LABELS = {"mps2-an385": "mps2-an385 (Cortex-M3)", "mps2-an386": "mps2-an386 (Cortex-M4)",
          "host": "host"}
CALIBRATION_IMAGES = 1000
QUICK_TRAIN_IMAGES = 5000
BATCH_SIZE = 64
SEED = 0
# One SysTick tick under `qemu-system-arm -icount shift=0` on mps2: the 25 MHz clock
# against 1 ns of virtual time per instruction, i.e. 40 instructions (embedded/README.md).
INSTRUCTIONS_PER_TICK = 40

# The three models of issue #7: builders of fresh (untrained) layers.
MODELS = {
    "A": ("Conv(32,3)-ReLU-MaxPool2-Flatten-Dense(10)  (the seed CNN, `make demo`)",
          lambda: [L.Conv2D(32, kernel=3), L.ReLU(), L.MaxPool(2), L.Flatten(), L.Linear(10)]),
    "B": ("Conv(8,3)-ReLU-MaxPool2-Conv(16,3)-ReLU-MaxPool2-Flatten-Dense(10)",
          lambda: [L.Conv2D(8, kernel=3), L.ReLU(), L.MaxPool(2),
                   L.Conv2D(16, kernel=3), L.ReLU(), L.MaxPool(2), L.Flatten(), L.Linear(10)]),
    "C": ("Conv(32,3)-ReLU-MaxPool2-Conv(64,3)-ReLU-MaxPool2-Flatten-Dense(10)  (~10x A's MACs)",
          lambda: [L.Conv2D(32, kernel=3), L.ReLU(), L.MaxPool(2),
                   L.Conv2D(64, kernel=3), L.ReLU(), L.MaxPool(2), L.Flatten(), L.Linear(10)]),
}

# ---- Peer figures: copied from issue #7, which measured them on these machines for the
# same three models (TFLite Micro and CMSIS-NN built for the same QEMU mps2 boards).
# Not measured by this script.
PEER_TFLM_ARENA_BYTES = {"A": 28_928, "B": 9_000, "C": 29_848}  # smallest working arena
PEER_CMSIS_NN_TICKS = {  # QEMU icount ticks per inference, CMSIS-NN at -O2
    "A": {"mps2-an385": 53_444, "mps2-an386": 49_604},
    "B": {"mps2-an385": 33_493, "mps2-an386": 29_535},
    "C": {"mps2-an385": 206_416, "mps2-an386": 153_231},
}
GOAL_ARENA_RATIO = 0.5  # issue #7: arena <= 0.5 x TFLite Micro's
GOAL_TICKS_RATIO = 1.0  # issue #7: ticks <= 1.0 x CMSIS-NN's


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="int8 MNIST models on the QEMU Cortex-M boards, vs the peers of issue #7")
    parser.add_argument("--models", default="A,B,C", help="comma-separated, from A,B,C (default all)")
    parser.add_argument("--boards", default=",".join(BOARDS),
                        help=f"comma-separated targets (default {','.join(BOARDS)}; 'host' works too)")
    parser.add_argument("--epochs", type=int, default=1, help="training epochs (default 1)")
    parser.add_argument("--quick", action="store_true",
                        help=f"train on the first {QUICK_TRAIN_IMAGES:,} training images (smoke run)")
    parser.add_argument("--cache", default=None, metavar="DIR",
                        help="load trained models from DIR, or train and save them there "
                             "(e.g. out/bench_models; default: always train)")
    parser.add_argument("--board-images", type=int, default=3,
                        help="test images run on each board (default 3)")
    parser.add_argument("--out", default="out/bench_board",
                        help="folder for the exported headers and board builds (default out/bench_board)")
    parser.add_argument("--data", default=None,
                        help="MNIST folder or mnist.npz (default: $BB_DATA_DIR, cache, download)")
    args = parser.parse_args(argv)
    args.models = [m.strip().upper() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in args.models if m not in MODELS]
    if unknown or not args.models:
        parser.error(f"--models: unknown {', '.join(unknown) or '(none given)'}; choose from A,B,C")
    args.boards = [b.strip() for b in args.boards.split(",") if b.strip()]
    bad = [b for b in args.boards if b not in embedded.targets()]
    if bad:
        parser.error(f"--boards: unknown {', '.join(bad)}; choose from {', '.join(embedded.targets())}")
    if args.epochs < 1 or args.board_images < 1:
        parser.error("--epochs and --board-images must be >= 1")
    return args


# ------------------------------------------------------------------ models
def layer_specs(model):
    return [(type(layer).__name__, layer.get_config()) for layer in model.layers]


def compile_model(model):
    model.compile(optimizer=bb.optimizers.Adam(), loss=bb.loss.CrossEntropy(), metrics=["accuracy"])
    return model


def train_or_load(name, args, X_train, y_train):
    """(model, how): the trained float model, from the cache when it holds this model
    trained the same way (the file name records epochs, training images and seed)."""
    path = None
    if args.cache:
        path = os.path.join(args.cache, f"{name}-{args.epochs}ep-{len(X_train)}img-seed{SEED}.bb")
        if os.path.isfile(path):
            try:
                model = bb.load(path)
            except ValueError as exc:
                print(f"  {exc}: retraining")
            else:
                # Built, so that inferred sizes (in_channels, in_features) are in both configs.
                fresh = bb.Sequential(MODELS[name][1]()).build(X_train.shape[1:])
                if layer_specs(model) == layer_specs(fresh):
                    compile_model(model)  # evaluate() needs the loss and metrics
                    return model, f"loaded from {path}"
                print(f"  {path} holds another architecture: retraining")
    bb.seed(SEED)
    model = compile_model(bb.Sequential(MODELS[name][1]()))
    start = time.perf_counter()
    history = model.fit(X_train, y_train, epochs=args.epochs, batch_size=BATCH_SIZE,
                        verbose=0, seed=SEED)
    seconds = time.perf_counter() - start
    how = (f"trained {args.epochs} epoch(s) on {len(X_train):,} images in {seconds:.0f} s "
           f"(last epoch loss {history.history['loss'][-1]:.4f})")
    if path:
        os.makedirs(args.cache, exist_ok=True)
        model.save(path)
        how += f", saved to {path}"
    return model, how


def op_macs(op):
    """Multiply-accumulates of one int8 op per inference: every output value of a conv2d
    or linear takes one MAC per weight of its output channel (a fused conv2d_pool counts its
whole convolution output, as unfused); other ops take none."""
    if op.kind not in ("conv2d", "conv2d_pool", "linear"):
        return 0
    per_output = op.weights.size // op.weights.shape[0]
    if op.kind == "conv2d_pool":  # the model's convolution, as if unfused
        _, h, w = op.chw_in
        conv_hw = [(n + 2 * p - k) // s + 1 for n, p, k, s in
                   zip((h, w), op.padding, op.kernel, op.stride)]
        return op.weights.shape[0] * conv_hw[0] * conv_hw[1] * per_output
    return op.out_size * per_output


# ------------------------------------------------------------------ boards
def run_board(q, X, target, workdir):
    """(RunResult or None, equal, message) for q on X on target, checked byte for byte."""
    reference = q.predict_int8(X)
    try:
        result = embedded.run(q, X, target=target, workdir=workdir, timeout=600)
    except embedded.EmbeddedError as exc:
        return None, False, str(exc).splitlines()[0]
    board = result.outputs_int8
    if board.shape != reference.shape:
        return result, False, f"board outputs have shape {board.shape}, predict_int8 {reference.shape}"
    rows = [i for i in range(len(reference)) if not np.array_equal(board[i], reference[i])]
    message = (f"rows {rows} differ; board {board[rows].tolist()} vs predict_int8 "
               f"{reference[rows].tolist()}") if rows else ""
    return result, not rows, message


def figures(q, plan, result, n_inputs):
    """The numbers of one model on one board (sizes None off the boards)."""
    macs = sum(op_macs(op) for op in q.ops)
    f = {"macs": macs, "arena": plan.arena_bytes, "unshared": plan.activation_bytes,
         "saved": 1 - plan.arena_bytes / plan.activation_bytes, "weights": plan.flash_bytes,
         "inputs": n_inputs * q.input_size, "ram": None, "stack": None, "flash": None,
         "code": None, "ticks": None, "ipm": None}
    if result is not None and result.ticks is not None:
        flash = result.flash_bytes - f["inputs"]
        f.update(ram=result.ram_bytes, stack=result.stack_bytes, flash=flash,
                 code=flash - plan.flash_bytes, ticks=result.ticks,
                 ipm=result.ticks * INSTRUCTIONS_PER_TICK / macs)
    return f


# ------------------------------------------------------------------ printing
def fmt(value, spec=","):
    return "-" if value is None else format(value, spec)


def table(header, rows, left=1):
    """Text table; the first `left` columns are labels (left-aligned), the rest numbers."""
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    line = lambda r: " | ".join(str(c).ljust(w) if i < left else str(c).rjust(w)
                                for i, (c, w) in enumerate(zip(r, widths)))
    return "\n".join([line(header), "-+-".join("-" * w for w in widths)] + [line(r) for r in rows])


def model_table(name, per_board, n_inputs):
    boards = list(per_board)
    rows = [
        ("MACs per inference (conv + linear)", "macs", ","),
        ("arena (plan.arena_bytes), B", "arena", ","),
        ("all activations unshared, B", "unshared", ","),
        ("  saved by the planner", "saved", ".1%"),
        ("RAM on board (.data+.bss+stack), B", "ram", ","),
        ("  of which peak stack, B", "stack", ","),
        (f"flash without the {n_inputs} inputs, B", "flash", ","),
        ("  weights (plan.flash_bytes), B", "weights", ","),
        ("  code etc. (flash - weights), B", "code", ","),
        ("QEMU icount ticks / inference", "ticks", ","),
        (f"instructions / MAC (ticks*{INSTRUCTIONS_PER_TICK}/MACs)", "ipm", ".1f"),
    ]
    header = [f"model {name}"] + [LABELS[b] for b in boards]
    body = [[label] + [fmt(per_board[b][0][key], spec) for b in boards] for label, key, spec in rows]
    body.append([f"board == predict_int8 ({n_inputs} images)"]
                + [per_board[b][1] for b in boards])
    return table(header, body)


def ratio_cell(ours, peer, goal):
    if ours is None:
        return "-", "-"
    ratio = ours / peer
    return f"{ratio:.2f}x", "met" if ratio <= goal else "not met"


def peer_table(results):
    header = ["model", "board", "arena B", "TFLM arena B", "ours/TFLM", f"goal <={GOAL_ARENA_RATIO}x",
              "ticks", "CMSIS-NN ticks", "ours/CMSIS-NN", f"goal <={GOAL_TICKS_RATIO}x"]
    body = []
    for name, per_board in results.items():
        for board, (f, _) in per_board.items():
            if board not in PEER_CMSIS_NN_TICKS[name]:
                continue  # no peer figure for the host build
            peer_ticks = PEER_CMSIS_NN_TICKS[name][board]
            a_ratio, a_goal = ratio_cell(f["arena"], PEER_TFLM_ARENA_BYTES[name], GOAL_ARENA_RATIO)
            t_ratio, t_goal = ratio_cell(f["ticks"], peer_ticks, GOAL_TICKS_RATIO)
            body.append([name, LABELS[board], fmt(f["arena"]),
                         fmt(PEER_TFLM_ARENA_BYTES[name]), a_ratio, a_goal,
                         fmt(f["ticks"]), fmt(peer_ticks), t_ratio, t_goal])
    return table(header, body, left=2) if body else ""


def tool_versions(boards):
    lines = []
    commands = [["arm-none-eabi-gcc", "--version"], ["qemu-system-arm", "--version"]]
    for cmd in commands if any(b != "host" for b in boards) else []:
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout
            lines.append(out.splitlines()[0] if out else f"{cmd[0]}: no version")
        except (OSError, subprocess.TimeoutExpired):
            lines.append(f"{cmd[0]}: not found")
    return lines


# ------------------------------------------------------------------ main
def main(argv=None):
    args = parse_args(argv)
    wall = time.perf_counter()
    try:
        (X_train, y_train), (X_test, y_test) = bb.datasets.load_mnist(args.data)
    except (FileNotFoundError, ValueError) as exc:
        sys.exit(f"bench_board: {exc}")
    if args.quick:
        X_train, y_train = X_train[:QUICK_TRAIN_IMAGES], y_train[:QUICK_TRAIN_IMAGES]
    X_board = X_test[:args.board_images]
    print(f"braininabox {bb.__version__}: int8 MNIST models {','.join(args.models)} on "
          f"{', '.join(args.boards)}; training {len(X_train):,} images x {args.epochs} epoch(s), "
          f"Adam, batch {BATCH_SIZE}, seed {SEED}; calibration {CALIBRATION_IMAGES:,} training images; "
          f"accuracy on {len(X_test):,} test images; {len(X_board)} test images per board")
    for line in tool_versions(args.boards):
        print(f"  {line}")
    print("  runtime built by embedded/Makefile at -O2 (as the CMSIS-NN figures of issue #7)")

    failures, results = [], {}
    for name in args.models:
        print(f"\n=== model {name}: {MODELS[name][0]}")
        model, how = train_or_load(name, args, X_train, y_train)
        print(f"  {how}")
        float_acc = model.evaluate(X_test, y_test)["accuracy"]
        q = bb.quantize(model, X_train[:CALIBRATION_IMAGES])
        start = time.perf_counter()
        int8_acc = float(np.mean(q.predict_int8(X_test).argmax(axis=1) == y_test))
        print(f"  test accuracy: float32 {100 * float_acc:.2f}%, int8 {100 * int8_acc:.2f}% "
              f"({100 * (int8_acc - float_acc):+.2f} points; host int8 reference "
              f"{time.perf_counter() - start:.0f} s for {len(X_test):,} images)")
        print("  MACs per op: " + ", ".join(f"{op.name} {op_macs(op):,}" for op in q.ops if op_macs(op)))

        workdir = os.path.join(args.out, name)
        os.makedirs(workdir, exist_ok=True)
        header = os.path.join(workdir, f"model_{name}.h")
        plan = q.export_c(header, name=f"model_{name}")
        print(f"  exported {header} ({os.path.getsize(header):,} B of C); peak activations at "
              f"op {plan.peak_op} ({plan.op_names[plan.peak_op]}): {plan.peak_bytes:,} B alive")

        per_board = {}
        for board in args.boards:
            start = time.perf_counter()
            result, equal, message = run_board(q, X_board, board, os.path.join(workdir, board))
            seconds = time.perf_counter() - start
            if result is None:
                print(f"  FAIL !!! model {name} on {board}: {message}")
                failures.append(f"{name} on {board}: {message}")
            elif not equal:
                print(f"  FAIL !!! model {name} on {board}: board outputs differ from "
                      f"q.predict_int8: {message}")
                failures.append(f"{name} on {board}: outputs differ from predict_int8")
            else:
                print(f"  {board}: {len(X_board)} outputs equal q.predict_int8 byte for byte "
                      f"(build + run {seconds:.0f} s)")
            check = "yes" if equal else "NO (FAIL)" if result is not None else "run failed (FAIL)"
            per_board[board] = (figures(q, plan, result, len(X_board)), check)
        results[name] = per_board
        print()
        print(model_table(name, per_board, len(X_board)))

    peers = peer_table(results)
    if peers:
        print("\n=== peers: figures from issue #7, measured there on these machines for the same "
              "three models (hard-coded here, not measured by this script)")
        print("TFLM = TensorFlow Lite Micro's smallest working arena; CMSIS-NN = its ticks per "
              "inference at -O2 (Cortex-M3 on mps2-an385, Cortex-M4 + DSP on mps2-an386)")
        print(f"goals of issue #7: arena <= {GOAL_ARENA_RATIO} x TFLM, ticks <= "
              f"{GOAL_TICKS_RATIO} x CMSIS-NN\n")
        print(peers)

    print(f"\nnotes: MACs count conv2d and linear only (pooling and the fused ReLU are extra "
          f"work). Flash is .text + .data minus the {len(X_board)} compiled-in test inputs "
          f"({len(X_board)} x input size bytes); code = flash - weights, approximately (it "
          f"also holds the op table, vectors and libc helpers). RAM is what the image "
          f"touched: .data + .bss (with the arena) + the measured peak stack, under a 128 KB "
          f"budget. Ticks are QEMU icount ticks (repeatable, instruction-based, not real-board "
          f"cycles), averaged over the board images after one untimed warm-up.")
    print(f"total {time.perf_counter() - wall:.0f} s")
    if failures:
        print("\nFAIL !!! " + "; ".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
