"""Trains a bundled feature classifier (data preparation script, not library code).

    python -m gan_tf.metrics.train_classifier --dataset=mnist_sample
    python -m gan_tf.metrics.train_classifier --dataset=fashion_mnist \
        --idx_dir=/usr/share/datasets/fashion-mnist

writes gan_tf/assets/classifier_<family>.weights.h5 and classifier_<family>.json (the
architecture, the held-out accuracy and the command). MNIST trains on the 9,003
"train" digits of `mnist_sample` and is scored on its 997 "test" digits, which it
never sees; Fashion-MNIST reads the official IDX files (Debian package
`dataset-fashion-mnist`, or the files from the Fashion-MNIST repository) and is scored
on the 10,000 test images. Small shifts, rotations and zooms augment the training
images. No model selection uses the test split: the epochs are fixed.
"""

import gzip
import json
import os
import sys
import time

from absl import app
from absl import flags
from absl import logging

FLAGS = flags.FLAGS
flags.DEFINE_enum("dataset", "mnist_sample", ["mnist_sample", "fashion_mnist"],
                  "Training data.")
flags.DEFINE_string("idx_dir", "/usr/share/datasets/fashion-mnist",
                    "Folder with the Fashion-MNIST IDX files (train-images-idx3-ubyte.gz ...).")
flags.DEFINE_integer("epochs", 20, "Training epochs.")
flags.DEFINE_integer("batch_size", 128, "Images per batch.")
flags.DEFINE_float("learning_rate", 2e-3, "Initial Adam learning rate (cosine decay to 0).")
flags.DEFINE_integer("seed", 0, "Seed for weights, augmentation and data order.")
flags.DEFINE_string("output_dir", None, "Where to write the files (default gan_tf/assets).")

FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                   "Shirt", "Sneaker", "Bag", "Ankle boot"]


def read_idx(path):
    """Reads a (gzipped) IDX file into a numpy array (uint8 images or labels)."""
    import numpy as np

    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def load_arrays(dataset, idx_dir):
    """Returns (train_images, train_labels, test_images, test_labels) as numpy,
    images float32 (N, 28, 28, 1) in [-1, 1], labels int32 (N,)."""
    import numpy as np

    if dataset == "mnist_sample":
        from gan_tf import data

        arrays = []
        for split in ("train", "test"):
            ds = data.load("mnist_sample", split=split, batch_size=100_000, shuffle=False,
                           with_labels=True, drop_remainder=False)
            images, labels = next(iter(ds))
            arrays += [images.numpy(), labels.numpy()]
        return tuple(arrays)
    arrays = []
    for prefix in ("train", "t10k"):
        images = read_idx(os.path.join(idx_dir, f"{prefix}-images-idx3-ubyte.gz"))
        labels = read_idx(os.path.join(idx_dir, f"{prefix}-labels-idx1-ubyte.gz"))
        arrays += [(images[..., None].astype(np.float32) / 127.5 - 1.0),
                   labels.astype(np.int32)]
    return tuple(arrays)


def main(argv):
    del argv
    import keras
    import numpy as np
    import tensorflow as tf

    from gan_tf.metrics import features

    keras.utils.set_random_seed(FLAGS.seed)
    family = "mnist" if FLAGS.dataset == "mnist_sample" else FLAGS.dataset
    try:
        train_x, train_y, test_x, test_y = load_arrays(FLAGS.dataset, FLAGS.idx_dir)
    except FileNotFoundError as error:
        print(f"error: {error}; install the Debian package dataset-fashion-mnist or pass "
              "--idx_dir", file=sys.stderr)
        sys.exit(2)
    logging.info("%s: %d train / %d test images", FLAGS.dataset, len(train_x), len(test_x))

    augment = keras.Sequential([
        keras.layers.RandomRotation(10 / 360, fill_mode="constant", fill_value=-1.0),
        keras.layers.RandomTranslation(0.1, 0.1, fill_mode="constant", fill_value=-1.0),
        keras.layers.RandomZoom(0.1, fill_mode="constant", fill_value=-1.0),
    ])
    train = (tf.data.Dataset.from_tensor_slices((train_x, train_y))
             .shuffle(len(train_x), seed=FLAGS.seed, reshuffle_each_iteration=True)
             .batch(FLAGS.batch_size)
             .map(lambda x, y: (augment(x, training=True), y),
                  num_parallel_calls=tf.data.AUTOTUNE)
             .prefetch(tf.data.AUTOTUNE))
    config = {"num_classes": 10, "image_shape": (28, 28, 1), "feature_dim": 128,
              "dropout": 0.3}
    model = features.Classifier(**config)
    model.build()
    steps = FLAGS.epochs * int(train.cardinality())
    model.compile(
        optimizer=keras.optimizers.Adam(
            keras.optimizers.schedules.CosineDecay(FLAGS.learning_rate, steps)),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"])
    start = time.time()
    model.fit(train, epochs=FLAGS.epochs, verbose=2, shuffle=False)
    seconds = time.time() - start
    logits = model.predict(test_x, batch_size=500, verbose=0)
    accuracy = float(np.mean(np.argmax(logits, -1) == test_y))
    logging.info("held-out accuracy %.4f on %d images", accuracy, len(test_x))
    # The extractor divides features by their root-mean-square over the training
    # images, so they are of order 1: the regime KID's kernel (x.y / D + 1)^3 is made
    # for (unscaled relu features have RMS ~3 and the cubic term would dominate).
    train_features = np.concatenate([
        model.features(train_x[i:i + 1000]).numpy() for i in range(0, len(train_x), 1000)])
    feature_scale = float(1.0 / np.sqrt(np.mean(np.square(train_features.astype(np.float64)))))

    output_dir = FLAGS.output_dir or features.ASSETS
    os.makedirs(output_dir, exist_ok=True)
    weights = os.path.join(output_dir, f"classifier_{family}.weights.h5")
    # A compiled model's save_weights also stores the optimizer's slots (3x the size):
    # ship a fresh, uncompiled copy.
    bare = features.Classifier(**config)
    bare.build()
    bare.set_weights(model.get_weights())
    bare.save_weights(weights)
    metadata = {
        "dataset": FLAGS.dataset,
        "config": config,
        "class_names": (FASHION_CLASSES if family == "fashion_mnist"
                        else [str(i) for i in range(10)]),
        "train_images": int(len(train_x)),
        "test_images": int(len(test_x)),
        "test_accuracy": round(accuracy, 4),
        "feature_scale": feature_scale,
        "epochs": FLAGS.epochs,
        "train_seconds": round(seconds),
        "command": "python -m gan_tf.metrics.train_classifier " + " ".join(
            f"--{name}={FLAGS[name].value}" for name in
            ("dataset", "epochs", "batch_size", "learning_rate", "seed")),
    }
    with open(os.path.join(output_dir, f"classifier_{family}.json"), "w") as f:
        json.dump(metadata, f, indent=2)
    print(f"held-out accuracy {accuracy:.4f} ({len(test_x)} images); wrote {weights} "
          f"({os.path.getsize(weights) / 1e6:.2f} MB)")


if __name__ == "__main__":
    app.run(main)
