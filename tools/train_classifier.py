"""Trains a bundled feature classifier (a data preparation script, not library code).

    python tools/train_classifier.py --dataset=mnist_sample --epochs=20
    python tools/train_classifier.py --dataset=fashion_mnist --epochs=12 \
        --idx_dir=/usr/share/datasets/fashion-mnist

writes gan_tf/assets/classifier_<family>.weights.h5 and classifier_<family>.json (the
architecture, the held-out accuracy and the command); docs/evaluation.md gives the
numbers. MNIST trains on the 9,003 "train" digits of `mnist_sample` and is scored on
its 997 "test" digits, which it never sees; Fashion-MNIST reads the official IDX files
(Debian package `dataset-fashion-mnist`, or the files from the Fashion-MNIST
repository) with gan_tf.data's IDX reader and is scored on the 10,000 test images.
Small shifts, rotations and zooms augment the training images. No model selection
uses the test split: the epochs are fixed.
"""

import argparse
import json
import os
import sys
import time

FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                   "Shirt", "Sneaker", "Bag", "Ankle boot"]
DEBIAN_FASHION_MNIST = "/usr/share/datasets/fashion-mnist"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=["mnist_sample", "fashion_mnist"],
                        default="mnist_sample", help="training data")
    parser.add_argument("--idx_dir", default=DEBIAN_FASHION_MNIST,
                        help="folder with the Fashion-MNIST IDX files "
                             "(train-images-idx3-ubyte.gz ...)")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch_size", type=int, default=128)
    parser.add_argument("--learning_rate", type=float, default=2e-3,
                        help="initial Adam learning rate (cosine decay to 0)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed for weights, augmentation and data order")
    parser.add_argument("--output_dir", default=None,
                        help="where to write the files (default gan_tf/assets)")
    return parser.parse_args(argv)


def load_arrays(dataset, idx_dir):
    """Returns (train_images, train_labels, test_images, test_labels) as numpy,
    images float32 (N, 28, 28, 1) in [-1, 1], labels int32 (N,).

    Raises:
        gan_tf.data.DatasetUnavailableError: IDX files missing from `idx_dir`.
        gan_tf.data.DataFileError: a corrupt IDX file.
    """
    import numpy as np

    from gan_tf import data

    arrays = []
    if dataset == "mnist_sample":
        for split in ("train", "test"):
            size = data.builder("mnist_sample").info.splits[split].num_examples
            ds = data.load("mnist_sample", split=split, batch_size=size, shuffle=False,
                           with_labels=True)
            images, labels = next(iter(ds))
            arrays += [images.numpy(), labels.numpy()]
        return tuple(arrays)
    for images_path, labels_path in data.idx_files(idx_dir).values():
        images, labels = data.read_idx(images_path), data.read_idx(labels_path)
        arrays += [data.to_float(images[..., None]).numpy(), labels.astype(np.int32)]
    return tuple(arrays)


def train(args, train_x, train_y):
    """A `features.Classifier` trained on augmented (train_x, train_y); its config."""
    import keras
    import tensorflow as tf

    from gan_tf.metrics import features

    augment = keras.Sequential([
        keras.layers.RandomRotation(10 / 360, fill_mode="constant", fill_value=-1.0),
        keras.layers.RandomTranslation(0.1, 0.1, fill_mode="constant", fill_value=-1.0),
        keras.layers.RandomZoom(0.1, fill_mode="constant", fill_value=-1.0),
    ])
    batches = (tf.data.Dataset.from_tensor_slices((train_x, train_y))
               .shuffle(len(train_x), seed=args.seed, reshuffle_each_iteration=True)
               .batch(args.batch_size)
               .map(lambda x, y: (augment(x, training=True), y),
                    num_parallel_calls=tf.data.AUTOTUNE)
               .prefetch(tf.data.AUTOTUNE))
    config = {"num_classes": 10, "image_shape": (28, 28, 1), "feature_dim": 128,
              "dropout": 0.3}
    model = features.Classifier(**config)
    model.build()
    steps = args.epochs * int(batches.cardinality())
    model.compile(
        optimizer=keras.optimizers.Adam(
            keras.optimizers.schedules.CosineDecay(args.learning_rate, steps)),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"])
    model.fit(batches, epochs=args.epochs, verbose=2, shuffle=False)
    return model, config


def feature_scale(model, train_x):
    """1 / root-mean-square of the classifier's features over the training images.

    The extractor multiplies features by it, so they are of order 1: the regime KID's
    kernel (x.y / D + 1)^3 is made for (unscaled relu features have RMS ~3 and the
    cubic term would dominate).
    """
    import numpy as np

    train_features = np.concatenate([
        model.features(train_x[i:i + 1000]).numpy() for i in range(0, len(train_x), 1000)])
    return float(1.0 / np.sqrt(np.mean(np.square(train_features.astype(np.float64)))))


def save(args, model, config, metadata):
    """Writes classifier_<family>.weights.h5 (uncompiled) and classifier_<family>.json."""
    from gan_tf.metrics import features

    family = "mnist" if args.dataset == "mnist_sample" else args.dataset
    output_dir = args.output_dir or features.ASSETS
    os.makedirs(output_dir, exist_ok=True)
    weights = os.path.join(output_dir, f"classifier_{family}.weights.h5")
    # A compiled model's save_weights also stores the optimizer's slots (3x the size):
    # ship a fresh, uncompiled copy.
    bare = features.Classifier(**config)
    bare.build()
    bare.set_weights(model.get_weights())
    bare.save_weights(weights)
    metadata = {
        "dataset": args.dataset,
        "config": config,
        "class_names": (FASHION_CLASSES if family == "fashion_mnist"
                        else [str(i) for i in range(10)]),
        **metadata,
        "epochs": args.epochs,
        "command": "python tools/train_classifier.py " + " ".join(
            f"--{name}={getattr(args, name)}" for name in
            ("dataset", "epochs", "batch_size", "learning_rate", "seed")),
    }
    with open(os.path.join(output_dir, f"classifier_{family}.json"), "w") as f:
        json.dump(metadata, f, indent=2)
    return weights


def main(argv=None):
    args = parse_args(argv)
    import keras
    import numpy as np

    from gan_tf import data

    keras.utils.set_random_seed(args.seed)
    try:
        train_x, train_y, test_x, test_y = load_arrays(args.dataset, args.idx_dir)
    except (data.DatasetUnavailableError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    print(f"{args.dataset}: {len(train_x)} train / {len(test_x)} test images")
    start = time.time()
    model, config = train(args, train_x, train_y)
    seconds = time.time() - start
    logits = model.predict(test_x, batch_size=500, verbose=0)
    accuracy = float(np.mean(np.argmax(logits, -1) == test_y))
    weights = save(args, model, config, {
        "train_images": int(len(train_x)),
        "test_images": int(len(test_x)),
        "test_accuracy": round(accuracy, 4),
        "feature_scale": feature_scale(model, train_x),
        "train_seconds": round(seconds)})
    print(f"held-out accuracy {accuracy:.4f} ({len(test_x)} images); wrote {weights} "
          f"({os.path.getsize(weights) / 1e6:.2f} MB)")


if __name__ == "__main__":
    main(sys.argv[1:])
