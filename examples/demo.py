"""The main job: train the seed CNN on MNIST and report its test accuracy.

    make demo                      # or: python examples/demo.py [--epochs N] [--subset N]

MNIST is read by braininabox.datasets.load_mnist: from $BB_DATA_DIR, the cache folder,
or downloaded (and checksum-verified) when the machine is online.
"""
import argparse
import sys
import time

import braininabox as bb


def seed_cnn():
    return bb.Sequential([
        bb.layers.Conv2D(32, kernel=3),
        bb.layers.ReLU(),
        bb.layers.MaxPool(2),
        bb.layers.Flatten(),
        bb.layers.Linear(10),
    ])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10, help="training epochs (default 10)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--subset", type=int, default=None,
                        help="train on the first N training images only (quick runs)")
    parser.add_argument("--data", default=None, help="MNIST folder or mnist.npz (default: $BB_DATA_DIR, cache, download)")
    parser.add_argument("--save", default="mnist_cnn.bb", help="where to save the trained model")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    try:
        (X_train, y_train), (X_test, y_test) = bb.datasets.load_mnist(args.data)
    except (FileNotFoundError, ValueError) as exc:
        sys.exit(f"demo: {exc}")
    if args.subset:
        X_train, y_train = X_train[:args.subset], y_train[:args.subset]
    print(f"MNIST: {len(X_train):,} training and {len(X_test):,} test images, shape {X_train.shape[1:]}")

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
    result = model.evaluate(X_test, y_test)
    model.save(args.save)
    print(f"trained {args.epochs} epochs in {seconds:.0f} s "
          f"({args.epochs * len(X_train) / seconds:,.0f} samples/s)")
    print(f"float32 test accuracy: {100 * result['accuracy']:.2f}% "
          f"(loss {result['loss']:.4f}); model saved to {args.save}")
    predictions = model.predict(X_test[:10]).argmax(axis=1)
    print("first test images: predicted", predictions.tolist(), "true", y_test[:10].tolist())
    return 0 if result["accuracy"] >= 0.98 or args.subset or args.epochs < 3 else 1


if __name__ == "__main__":
    sys.exit(main())
