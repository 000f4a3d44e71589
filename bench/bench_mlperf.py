#!/usr/bin/env python3
"""The MLPerf Tiny table (issue #13): the four reference models of bb.models at their
reference shapes, int8 on the QEMU Cortex-M boards, beside the peers' figures.

    PYTHONPATH=. python bench/bench_mlperf.py                 # all four, both boards
    PYTHONPATH=. python bench/bench_mlperf.py --models kws,ad --layers

Weights are random (seeded; BatchNorm statistics randomized too) and calibration uses
random inputs: arena, RAM, flash and ticks do not depend on the weights' values, only on
the shapes. For each model and board it checks the board's int8 outputs against
q.predict_int8 byte for byte, then prints the arena (the exact memory plan), RAM (static
data + arena + measured peak stack), flash, QEMU icount ticks per inference, and the
peers' TFLite Micro arena and CMSIS-NN ticks from the issue with our ratio. --layers adds
ticks per op (bb.embedded.run(...).op_ticks) and the plan's live bytes per op.
The memory planner streams chains of convolutions in row bands (deploy/streaming.py) with
the goal's arena (half of TFLite Micro's) as its budget: the smallest arena it can reach,
bands as tall as the budget allows (fewer ticks); --stream smallest / off for the others.

A benchmark, not a test: it exits with 1 only when a board disagrees with the host.
"""
import argparse
import sys

import numpy as np

import braininabox as bb
from braininabox.deploy import embedded

BOARDS = ("mps2-an385", "mps2-an386")
# (builder, input shape), the reference models of bb.models
MODELS = {
    "kws": ("KWS DS-CNN, 49x10x1", lambda: bb.models.ds_cnn(), (1, 49, 10)),
    "vww": ("VWW MobileNetV1-0.25, 96x96x3", lambda: bb.models.mobilenet_v1(), (3, 96, 96)),
    "ic": ("IC ResNet-8, 32x32x3", lambda: bb.models.resnet8(), (3, 32, 32)),
    "ad": ("AD FC autoencoder, 640", lambda: bb.models.fc_autoencoder(), (640,)),
}
# Issue #13's peers, measured on the same QEMU boards (-icount shift=0); not measured here.
PEER_TFLM_ARENA = {"kws": 24_128, "vww": 103_528, "ic": 55_840, "ad": 4_632}
PEER_CMSIS_NN_TICKS = {"kws": (263_186, 189_423), "vww": (798_858, 594_189),
                       "ic": (1_046_134, 744_347), "ad": (23_823, 14_504)}
RAM_LIMIT = 131_072


def goal_arena(key):
    """The issue's arena goal: half of TFLite Micro's."""
    return PEER_TFLM_ARENA[key] // 2


def build(key, seed=0, stream=None):
    """The model, its int8 version and the calibration inputs. stream: quantize's (None:
    the goal's arena as the budget the planner's row bands may grow into, for the fewest
    ticks within it; the smallest arena the chains reach is never exceeded by less)."""
    bb.seed(seed)
    _, builder, shape = MODELS[key]
    model = builder()
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, bb.layers.BatchNorm):
            c = layer.in_channels
            layer.running_mean[:] = rng.normal(0, 0.3, c)
            layer.running_var[:] = rng.uniform(0.5, 2.0, c)
    X = rng.normal(size=(16,) + shape).astype(np.float32)
    return model, bb.quantize(model, X, stream=goal_arena(key) if stream is None else stream), X


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="kws,vww,ic,ad")
    parser.add_argument("--boards", default=",".join(BOARDS))
    parser.add_argument("--layers", action="store_true", help="per-op ticks and live bytes")
    parser.add_argument("--stream", choices=("goal", "smallest", "off"), default="goal",
                        help="row bands within the goal's arena (default), the smallest arena, or none")
    args = parser.parse_args(argv)
    keys = [k.strip() for k in args.models.split(",") if k.strip()]
    boards = [b.strip() for b in args.boards.split(",") if b.strip()]
    failed = False
    rows = []
    for key in keys:
        title = MODELS[key][0]
        stream = {"goal": None, "smallest": True, "off": False}[args.stream]
        model, q, X = build(key, stream=stream)
        plan = q.memory_plan()
        want = q.predict_int8(X[:2])
        if not np.array_equal(bb.quantize(model, X, stream=False).predict_int8(X[:2]), want):
            print(f"FAIL {key}: the streamed model's bytes differ from the model's ops run whole")
            failed = True
        results = {}
        for board in boards:
            try:
                r = embedded.run(q, X[:2], target=board, timeout=600)
            except embedded.EmbeddedError as exc:
                print(f"FAIL {key} on {board}: {exc}")
                failed = True
                continue
            same = np.array_equal(r.outputs_int8, want)
            failed |= not same
            results[board] = (r, same)
        tflm = PEER_TFLM_ARENA[key]
        print(f"\n== {title}: {len(q.ops)} int8 ops, {model.macs():,} MACs")
        print(f"arena {plan.arena_bytes:,} B (TFLM {tflm:,} B, ratio {plan.arena_bytes / tflm:.2f}, "
              f"goal <= 0.50); peak at op {plan.peak_op} ({plan.op_names[plan.peak_op]})")
        for i, board in enumerate(boards):
            if board not in results:
                continue
            r, same = results[board]
            peer = PEER_CMSIS_NN_TICKS[key][BOARDS.index(board)] if board in BOARDS else None
            ratio = f"{r.ticks / peer:.2f}" if peer and r.ticks else "-"
            ram_ok = "ok" if r.ram_bytes is not None and r.ram_bytes <= RAM_LIMIT else "OVER"
            print(f"  {board}: board == predict_int8: {'yes' if same else 'NO (FAIL)'}; "
                  f"RAM {r.ram_bytes:,} B ({ram_ok} <= {RAM_LIMIT:,}; stack {r.stack_bytes:,}), "
                  f"flash {r.flash_bytes:,} B, ticks {r.ticks:,} (CMSIS-NN {peer:,}, ratio {ratio})")
            rows.append((key, board, plan.arena_bytes, tflm, r.ram_bytes, r.flash_bytes, r.ticks, peer))
        if args.layers and results:
            first = next(iter(results.values()))[0]
            print("  per op: live bytes, ticks on " + ", ".join(results))
            for t, op in enumerate(q.ops):
                ticks = "  ".join(f"{results[b][0].op_ticks[t]:>8,}" for b in results
                                  if results[b][0].op_ticks)
                band = f" ({op.band_rows}-row bands)" if op.kind == "band_chain" else ""
                print(f"  {t:>3} {op.kind + band:<30} {str(op.out_shape):<16} {plan.op_live_bytes[t]:>8,} B  {ticks}")
            del first
    print("\n| model | board | arena (B) | TFLM arena | arena ratio | RAM (B) | flash (B) | ticks | CMSIS-NN ticks | ticks ratio |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for key, board, arena, tflm, ram, flash, ticks, peer in rows:
        print(f"| {key} | {board} | {arena:,} | {tflm:,} | {arena / tflm:.2f} | {ram:,} | {flash:,} | "
              f"{ticks:,} | {peer:,} | {ticks / peer:.2f} |")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
