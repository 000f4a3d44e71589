"""ResNet-8, the MLPerf Tiny image classifier, on Fashion-MNIST: a residual graph model.

    python examples/train_resnet8_fashion.py                 # 5 epochs on all 60,000 images
    python examples/train_resnet8_fashion.py --epochs 1 --subset 5000 --test-subset 2000

What it shows:

* bb.models.resnet8(input_shape=(1, 28, 28)) is a functional bb.Model: three stacks of
  two 3x3 convolutions with BatchNorm, each stack's input added back to its output
  (Add: the "residual" connection), the second and third stacks halving the image and
  doubling the channels (their shortcut is a 1x1 stride-2 convolution so the shapes
  match), then global average pooling and a Linear(10). model.summary() prints every
  node with the nodes it reads, its MACs and its parameters;
* the residual connections let the gradient reach the first layers directly, which is
  why such a network trains quickly from scratch; BatchNorm normalizes each channel
  over the batch while training and uses its running averages in evaluate/predict;
* the trained model is saved (--save) as one file that bb.load reads back as a Model;
* bb.quantize turns it into int8 (BatchNorm folded into the convolutions, the residual
  Adds with TFLite's arithmetic), calibrated on 500 training images; the int8 test
  accuracy is printed beside the float one (--load FILE evaluates a saved model).

Fashion-MNIST (10 kinds of clothing, 28x28 grayscale) comes from $BB_DATA_DIR, the
download cache, or the Debian package dataset-fashion-mnist (see bb.datasets).
"""
import argparse
import time

import numpy as np

import braininabox as bb


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--subset", type=int, default=None, help="train on the first N images")
    parser.add_argument("--test-subset", type=int, default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--save", default="fashion_resnet8.bb")
    parser.add_argument("--load", metavar="FILE", help="evaluate this saved model (float and "
                        "int8) instead of training one")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.threads:
        bb.set_num_threads(args.threads)
    bb.seed(args.seed)

    (X, y), (Xt, yt) = bb.datasets.load_fashion_mnist()
    X, y = X[:args.subset], y[:args.subset]
    Xt, yt = Xt[:args.test_subset], yt[:args.test_subset]
    # standardize with the training set's statistics
    mean, std = X.mean(), X.std()
    X, Xt = (X - mean) / std, (Xt - mean) / std

    if args.load:
        model = bb.load(args.load)
        accuracy = float((model.predict(Xt).argmax(axis=1) == yt).mean())
        print(f"float test accuracy: {accuracy:.4f} ({args.load})")
        report_int8(model, X, Xt, yt)
        return
    model = bb.models.resnet8(input_shape=(1, 28, 28), classes=10)
    model.summary()
    # the learning rate halves after every epoch
    model.compile(optimizer=bb.optimizers.Adam(lr=args.lr), loss="cross_entropy",
                  metrics=["accuracy"])

    class HalveLearningRate(bb.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.model.optimizer.lr *= 0.5

    start = time.perf_counter()
    model.fit(X, y, epochs=args.epochs, batch_size=args.batch_size,
              validation_data=(Xt, yt), callbacks=[HalveLearningRate()], seed=args.seed)
    minutes = (time.perf_counter() - start) / 60
    result = model.evaluate(Xt, yt)
    print(f"test accuracy after {args.epochs} epochs: {result['accuracy']:.4f} "
          f"({len(X)} training images, {minutes:.1f} min)")
    model.save(args.save)
    again = bb.load(args.save)
    assert np.array_equal(again.predict(Xt[:256]), model.predict(Xt[:256]))
    print(f"saved to {args.save} (bb.load gives a {type(again).__name__} with the same predictions)")
    report_int8(model, X, Xt, yt)


def report_int8(model, X, Xt, yt):
    """int8 accuracy of the model quantized with 500 training images as calibration."""
    q = bb.quantize(model, X[:500])
    accuracy = float((q.predict_int8(Xt).argmax(axis=1) == yt).mean())
    plan = q.memory_plan()
    print(f"int8 test accuracy: {accuracy:.4f} ({len(q.ops)} int8 ops, arena "
          f"{plan.arena_bytes:,} B, weights {plan.flash_bytes:,} B)")
    return accuracy


if __name__ == "__main__":
    main()
