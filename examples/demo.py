"""The main job, from the math to the machine: train the MNIST CNN, quantize it to int8,
export it as a C header, build the firmware and run it on a QEMU Cortex-M board.

    make demo                      # or: python examples/demo.py [--epochs N] [--subset N]

It prints the float and int8 test accuracy, the board's predictions on test images
next to their true labels (checked byte for byte against the host int8 reference),
and the RAM / flash / stack / tick report of each board.

MNIST is read by braininabox.datasets.load_mnist: from $BB_DATA_DIR, the cache folder,
or downloaded (checksum-verified) when the machine is online.
"""
import argparse
import os
import sys
import time

import numpy as np

import braininabox as bb
from braininabox.deploy import embedded


def seed_cnn():
    return bb.Sequential([
        bb.layers.Conv2D(32, kernel=3),
        bb.layers.ReLU(),
        bb.layers.MaxPool(2),
        bb.layers.Flatten(),
        bb.layers.Linear(10),
    ])


def train(args, X_train, y_train, X_test, y_test):
    bb.seed(args.seed)
    model = seed_cnn()
    model.compile(optimizer=bb.optimizers.Adam(), loss=bb.loss.CrossEntropy(), metrics=["accuracy"])
    model.build(X_train.shape[1:])
    model.summary()
    start = time.perf_counter()
    model.fit(X_train, y_train, epochs=args.epochs, batch_size=args.batch_size,
              validation_data=(X_test, y_test), verbose=1 if sys.stdout.isatty() else 2,
              seed=args.seed)
    seconds = time.perf_counter() - start
    print(f"trained {args.epochs} epochs in {seconds:.0f} s "
          f"({args.epochs * len(X_train) / seconds:,.0f} samples/s)")
    return model


def run_on_boards(q, X, y, targets):
    reference = q.predict_int8(X)
    for target in targets:
        result = embedded.run(q, X, target=target)
        same = np.array_equal(result.outputs_int8, reference)
        predicted = result.outputs_int8.argmax(axis=1)
        print(f"\n{target}: predictions {predicted.tolist()}")
        print(f"{' ' * len(target)}  true labels {y.tolist()}")
        print(f"{' ' * len(target)}  int8 outputs equal the host reference byte for byte: {same}")
        if result.ticks is not None:
            print(f"{' ' * len(target)}  RAM {result.ram_bytes:,} B (static data incl. arena + "
                  f"peak stack {result.stack_bytes:,} B), flash {result.flash_bytes:,} B, "
                  f"{result.ticks:,} QEMU icount ticks per inference")
        if not same:
            raise SystemExit(f"demo: {target} disagrees with the host int8 reference")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10, help="training epochs (default 10)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--subset", type=int, default=None,
                        help="train on the first N training images only (quick runs)")
    parser.add_argument("--data", default=None,
                        help="MNIST folder or mnist.npz (default: $BB_DATA_DIR, cache, download)")
    parser.add_argument("--out", default="out", help="folder for the model, header and plan (default out/)")
    parser.add_argument("--boards", default="host,mps2-an385,mps2-an386",
                        help="comma-separated targets to run the int8 model on ('' to skip)")
    parser.add_argument("--board-images", type=int, default=10, help="test images run on each board")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    try:
        (X_train, y_train), (X_test, y_test) = bb.datasets.load_mnist(args.data)
    except (FileNotFoundError, ValueError) as exc:
        sys.exit(f"demo: {exc}")
    if args.subset:
        X_train, y_train = X_train[:args.subset], y_train[:args.subset]
    print(f"MNIST: {len(X_train):,} training and {len(X_test):,} test images, shape {X_train.shape[1:]}")
    os.makedirs(args.out, exist_ok=True)

    # 1. float32 training, on the C kernels
    model = train(args, X_train, y_train, X_test, y_test)
    model.save(os.path.join(args.out, "mnist_cnn.bb"))
    float_accuracy = model.evaluate(X_test, y_test)["accuracy"]

    # 2. int8 post-training quantization, calibrated on 1,000 training images
    q = bb.quantize(model, X_train[:1000])
    q.summary()
    int8_accuracy = float(np.mean(q.predict_int8(X_test).argmax(axis=1) == y_test))
    print(f"\ntest accuracy: float32 {100 * float_accuracy:.2f}%, int8 {100 * int8_accuracy:.2f}% "
          f"({100 * (int8_accuracy - float_accuracy):+.2f} points)")

    # 3. export: the memory plan and one C header
    header = os.path.join(args.out, "mnist_cnn.h")
    plan = q.export_c(header, name="mnist_cnn")
    print(f"\nexported {header}\n{plan}")

    # 4. the same bytes on the boards
    targets = [t for t in args.boards.split(",") if t]
    try:
        run_on_boards(q, X_test[:args.board_images], y_test[:args.board_images], targets)
    except embedded.EmbeddedError as exc:
        sys.exit(f"demo: {exc}")
    return 0 if float_accuracy >= 0.98 or args.subset or args.epochs < 3 else 1


if __name__ == "__main__":
    sys.exit(main())
