"""An independent judge for the quality benchmark: a classifier gan_tf never sees.

    python -m benchmarks.judge                                 # both judges
    python -m benchmarks.judge --datasets=mnist_sample --folds=5

FID in the package's own classifier features (gan_tf.metrics.ClassifierExtractor) is
one view; a sceptic wants a second one that shares nothing with the package. This
judge differs from the bundled classifier in every respect that could make the two
agree by construction:

- architecture: conv(32) - conv(64, stride 2) - conv(128, stride 2) - conv(192),
  3x3, each with batch norm and ReLU, then global average pooling: 192 features (the
  FID space), dropout 0.3, dense(10). The bundled classifier has no batch norm, max
  pooling instead of strides, and a dense 128-d feature layer.
- data: trained on the split the generators never see: the 997 held-out bundled
  digits (`mnist_sample` test) or Fashion-MNIST's 10,000 test images. Generators
  train on the other split (9,003 digits, 60,000 clothes), which is also where the
  judge's accuracy is measured (it never saw those images). The digits judge is
  also cross-validated on its 997 images (`--folds`).
- seed 7 (the bundled classifiers use 0), augmentation of its own (random affine
  warps; horizontal flips for clothes), AdamW with a cosine schedule.

Features are scaled by 1 / their root-mean-square over the judge's training images,
so FIDs are of order one per unit of feature variance, as in the bundled extractor.

Writes benchmarks/judges/<dataset>.weights.h5 (1.1 MB) and <dataset>.json (accuracy,
scale, command). `load(dataset)` returns an extractor with the same `extract(images)
-> Features(features, probabilities)` as gan_tf's.
"""

import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
JUDGES = os.path.join(HERE, "judges")
FASHION_DIR = "/usr/share/datasets/fashion-mnist"
SEED = 7
# dataset -> (epochs, batch size, augmentation): more epochs for the 997 digits.
SETTINGS = {"mnist_sample": (100, 64, "affine"),
            "fashion_mnist": (25, 128, "affine_flip")}


def build_judge():
    """The judge network: images float32 (N, 28, 28, 1) in [-1, 1] -> logits (N, 10)."""
    import keras

    layers = keras.layers
    inputs = keras.Input((28, 28, 1))
    x = inputs
    for filters, stride in ((32, 1), (64, 2), (128, 2), (192, 1)):
        x = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False)(x)
        # momentum 0.9: the 997-digit judge trains for only 1,600 steps
        x = layers.ReLU()(layers.BatchNormalization(momentum=0.9)(x))  # (N, s, s, filters)
    features = layers.GlobalAveragePooling2D(name="features")(x)  # (N, 192)
    logits = layers.Dense(10, name="logits")(layers.Dropout(0.3)(features))
    return keras.Model(inputs, logits, name="judge")


def _augmenter(kind):
    import keras

    fill = {"fill_mode": "constant", "fill_value": -1.0}
    steps = [keras.layers.RandomRotation(12 / 360, **fill),
             keras.layers.RandomZoom((-0.12, 0.12), **fill),
             keras.layers.RandomTranslation(0.1, 0.1, **fill)]
    if kind == "affine_flip":
        steps = [keras.layers.RandomFlip("horizontal"), *steps[1:]]
    return keras.Sequential(steps)


def train_judge(images, labels, dataset, epochs=None, seed=SEED):
    """Trains a judge on `images` float32 (N, 28, 28, 1) in [-1, 1], `labels` int (N,)."""
    import keras
    import tensorflow as tf

    default_epochs, batch_size, augmentation = SETTINGS[dataset]
    epochs = epochs or default_epochs
    keras.utils.set_random_seed(seed)
    augment = _augmenter(augmentation)
    train = (tf.data.Dataset.from_tensor_slices((images, labels))
             .shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
             .batch(batch_size)
             .map(lambda x, y: (augment(x, training=True), y))
             .prefetch(2))
    steps = epochs * int(train.cardinality())
    model = build_judge()
    model.compile(optimizer=keras.optimizers.AdamW(
                      keras.optimizers.schedules.CosineDecay(2e-3, steps), weight_decay=1e-4),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    model.fit(train, epochs=epochs, verbose=0, shuffle=False)
    return model


def accuracy(model, images, labels):
    import numpy as np

    logits = model.predict(images, batch_size=1000, verbose=0)
    return float(np.mean(np.argmax(logits, -1) == labels))


def load_split(dataset, split):
    """(images float32 (N, 28, 28, 1) in [-1, 1], labels int32 (N,)) of a whole split."""
    from gan_tf.metrics import evaluation

    kwargs = {"manual_dir": FASHION_DIR} if dataset == "fashion_mnist" else {}
    return evaluation.real_images(dataset, split=split, num_images=10**6, seed=0, **kwargs)


class Judge:
    """A trained judge as a feature extractor (the interface of gan_tf's extractors)."""

    def __init__(self, dataset):
        import keras
        import tensorflow as tf

        weights, metadata = paths(dataset)
        if not os.path.exists(weights):
            raise FileNotFoundError(f"judge weights {weights} are missing; train them with "
                                    f"python -m benchmarks.judge --datasets={dataset}")
        with open(metadata) as f:
            self.metadata = json.load(f)
        model = build_judge()
        model.load_weights(weights)
        self.name = f"judge_{dataset}"
        self.scale = float(self.metadata["feature_scale"])
        extractor = keras.Model(model.input, [model.get_layer("features").output,
                                              model.output])

        @tf.function(reduce_retracing=True)
        def forward(images):
            features, logits = extractor(images, training=False)
            return features * self.scale, tf.nn.softmax(logits, axis=-1)

        self._forward = forward

    def extract(self, images, batch_size=1000):
        """`Features` (features (N, 192), probabilities (N, 10)) of images in [-1, 1]."""
        import numpy as np

        from gan_tf.metrics import Features

        features, probabilities = [], []
        for start in range(0, len(images), batch_size):
            f, p = self._forward(np.asarray(images[start:start + batch_size], np.float32))
            features.append(f.numpy())
            probabilities.append(p.numpy())
        return Features(np.concatenate(features), np.concatenate(probabilities))


def paths(dataset):
    return (os.path.join(JUDGES, f"{dataset}.weights.h5"),
            os.path.join(JUDGES, f"{dataset}.json"))


def cross_validate(images, labels, dataset, folds, epochs=None):
    """Accuracy of each of `folds` judges trained on the other folds."""
    import numpy as np

    order = np.random.default_rng(SEED).permutation(len(images))
    scores = []
    for fold in np.array_split(order, folds):
        rest = np.setdiff1d(order, fold)
        model = train_judge(images[rest], labels[rest], dataset, epochs)
        scores.append(accuracy(model, images[fold], labels[fold]))
        print(f"  fold {len(scores)}/{folds}: {scores[-1]:.4f}", flush=True)
    return scores


def make(dataset, folds, epochs=None):
    """Trains, scores and writes the judge of `dataset`; returns its metadata."""
    import numpy as np

    images, labels = load_split(dataset, "test")      # the judge's training split
    unseen, unseen_labels = load_split(dataset, "train")  # what the generators train on
    print(f"{dataset}: judge trains on {len(images)} test images", flush=True)
    metadata = {"dataset": dataset, "seed": SEED, "train_split": "test",
                "train_images": len(images), "epochs": epochs or SETTINGS[dataset][0]}
    if folds > 1:
        scores = cross_validate(images, labels, dataset, folds, epochs)
        metadata["cv_folds"] = folds
        metadata["cv_accuracy"] = [round(s, 4) for s in scores]
        metadata["cv_accuracy_mean"] = round(float(np.mean(scores)), 4)
    start = time.time()
    model = train_judge(images, labels, dataset, epochs)
    metadata["train_seconds"] = round(time.time() - start)
    metadata["unseen_split"] = "train"
    metadata["unseen_images"] = len(unseen)
    metadata["unseen_accuracy"] = round(accuracy(model, unseen, unseen_labels), 4)
    import keras

    features_model = keras.Model(model.input, model.get_layer("features").output)
    seen = features_model.predict(images, batch_size=1000, verbose=0).astype(np.float64)
    metadata["feature_scale"] = float(1.0 / np.sqrt(np.mean(np.square(seen))))
    metadata["command"] = " ".join(["python -m benchmarks.judge", f"--datasets={dataset}",
                                    f"--folds={folds}"]
                                   + ([f"--epochs={epochs}"] if epochs else []))
    weights, metadata_path = paths(dataset)
    os.makedirs(JUDGES, exist_ok=True)
    bare = build_judge()  # uncompiled: the file holds no optimizer slots
    bare.set_weights(model.get_weights())
    bare.save_weights(weights)
    with open(metadata_path, "w") as f:
        json.dump(metadata, f, indent=2)
    print(json.dumps(metadata), flush=True)
    return metadata


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="mnist_sample,fashion_mnist")
    parser.add_argument("--folds", type=int, default=None,
                        help="cross-validation folds (default: 5 for the digits, 0 for "
                             "Fashion-MNIST, whose 60,000 unseen images already measure it)")
    parser.add_argument("--epochs", type=int, default=None, help="override (smoke runs)")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    results = []
    for dataset in args.datasets.split(","):
        if dataset not in SETTINGS:
            sys.exit(f"unknown dataset {dataset!r}; choose from {', '.join(SETTINGS)}")
        folds = args.folds if args.folds is not None else (
            5 if dataset == "mnist_sample" else 0)
        results.append(make(dataset, folds, args.epochs))
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
