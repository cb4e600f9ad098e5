"""Feature extractors for the metrics: the bundled classifiers and InceptionV3.

FID, KID and precision/recall compare *features* of real and generated images; the
Inception score reads *class probabilities*. Both come from an extractor:

    ClassifierExtractor("mnist")          a small CNN trained by the project on MNIST
                                          (or "fashion_mnist"), weights bundled in
                                          gan_tf/assets: 128-d penultimate features,
                                          10 class probabilities; works offline.
    InceptionExtractor(weights_path)      keras.applications.InceptionV3 on images
                                          resized to 299x299: 2048-d pool features
                                          (and 1000 ImageNet probabilities when the
                                          file holds the top). Its weights are never
                                          downloaded here: the user passes the file.

Every extractor has `extract(images) -> Features(features, probabilities)`, where
`images` are float (N, H, W, C) in [-1, 1] (gan_tf's convention), and `features`,
`probabilities` numpy float32 (N, D) and (N, classes).

`tools/train_classifier.py` trains the bundled classifiers
(docs/evaluation.md gives their held-out accuracy).
"""

import collections
import json
import os
import warnings

from absl import logging
import keras
import numpy as np
import tensorflow as tf

from gan_tf import precision

ASSETS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "assets")

# dataset name -> the classifier family whose weights fit its images
CLASSIFIER_FOR_DATASET = {
    "mnist": "mnist",
    "mnist_sample": "mnist",
    "fashion_mnist": "fashion_mnist",
}
CLASSIFIERS = ("mnist", "fashion_mnist")

INCEPTION_WEIGHTS_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels.h5"
INCEPTION_WEIGHTS_NOTOP_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
INCEPTION_WEIGHTS_URL = ("https://storage.googleapis.com/tensorflow/keras-applications/"
                         "inception_v3/" + INCEPTION_WEIGHTS_FILE)
INCEPTION_SIZE = 299

Features = collections.namedtuple("Features", ["features", "probabilities"])
Features.__doc__ = """What an extractor returns for a batch of images.

features: numpy float32 (N, D), the embedding FID/KID/precision-recall compare.
probabilities: numpy float32 (N, classes), softmax outputs (rows sum to 1) for the
    Inception score; None when the extractor has no classification head.
"""


class WeightsNotFoundError(FileNotFoundError):
    """An extractor's weights file is missing; the message says how to get one."""


class WeightsMismatchError(ValueError):
    """An extractor's weights file holds another model's weights (or is no weights
    file); the message names it and says which file to pass."""


@keras.saving.register_keras_serializable(package="gan_tf.metrics")
class Classifier(keras.Model):
    """A small CNN classifier whose penultimate layer serves as the feature space.

    conv3x3(32) - maxpool - conv3x3(64) - maxpool - conv3x3(128) - maxpool(7 -> 3)
    - dense(feature_dim, relu) [features] - dropout - dense(num_classes) [logits]

    About 240k parameters (under 1 MB of float32 weights) and 8 MFLOP-MACs per 28x28
    image, so 10,000 images pass in a few seconds on two CPU cores.

    Args:
        num_classes: number of classes (10 for MNIST and Fashion-MNIST).
        image_shape: (H, W, C) of the input images, float in [-1, 1].
        feature_dim: width of the penultimate (feature) layer.
        dropout: dropout rate before the logits, during training only.

    Call:
        images float32 (N, H, W, C) in [-1, 1] -> logits float32 (N, num_classes).
        `features(images)` -> float32 (N, feature_dim), non-negative (after relu).
    """

    def __init__(self, num_classes=10, image_shape=(28, 28, 1), feature_dim=128,
                 dropout=0.3, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = int(num_classes)
        self.image_shape = tuple(int(s) for s in image_shape)
        self.feature_dim = int(feature_dim)
        self.dropout_rate = float(dropout)
        layers = keras.layers
        self.conv1 = layers.Conv2D(32, 3, padding="same", activation="relu", name="conv1")
        self.conv2 = layers.Conv2D(64, 3, padding="same", activation="relu", name="conv2")
        self.conv3 = layers.Conv2D(128, 3, padding="same", activation="relu", name="conv3")
        self.pool = layers.MaxPooling2D(2)
        self.flatten = layers.Flatten()
        self.dense = layers.Dense(self.feature_dim, activation="relu", name="features")
        self.dropout = layers.Dropout(self.dropout_rate)
        self.head = layers.Dense(self.num_classes, name="logits")

    def build(self, input_shape=None):
        self.call(keras.ops.zeros((1, *self.image_shape)))
        self.built = True

    def features(self, images, training=False):
        x = self.pool(self.conv1(images))       # (N, H/2, W/2, 32)
        x = self.pool(self.conv2(x))            # (N, H/4, W/4, 64)
        x = self.pool(self.conv3(x))            # (N, H/8, W/8, 128)
        return self.dense(self.flatten(x))      # (N, feature_dim)

    def call(self, images, training=False):
        features = self.features(images, training=training)
        return self.head(self.dropout(features, training=training))

    def get_config(self):
        config = super().get_config()
        config.update({"num_classes": self.num_classes, "image_shape": self.image_shape,
                       "feature_dim": self.feature_dim, "dropout": self.dropout_rate})
        return config


def classifier_paths(name):
    """(weights path, metadata json path) of the bundled classifier `name`."""
    return (os.path.join(ASSETS, f"classifier_{name}.weights.h5"),
            os.path.join(ASSETS, f"classifier_{name}.json"))


def _batched(forward, images, batch_size):
    """Runs `forward` (images -> (features, probabilities)) over `images` in chunks.

    Returns:
        (features float32 (N, D), probabilities float32 (N, classes)) as numpy.
    """
    features, probabilities = [], []
    for start in range(0, int(images.shape[0]), batch_size):
        f, p = forward(images[start:start + batch_size])
        features.append(f.numpy())
        probabilities.append(p.numpy())
    return (np.concatenate(features).astype(np.float32),
            np.concatenate(probabilities).astype(np.float32))


def _as_images(images):
    images = tf.convert_to_tensor(images)
    if images.shape.rank != 4:
        raise ValueError(f"images must be (N, H, W, C), got shape {tuple(images.shape)}")
    return tf.cast(images, tf.float32)


class ClassifierExtractor:
    """Features and class probabilities from a bundled (or given) `Classifier`.

    Features are the classifier's penultimate (relu) activations times the
    `feature_scale` of its metadata, 1 / their root-mean-square over the training
    images, so they are of order 1 as KID's kernel (x.y / D + 1)^3 expects.

    Args:
        name: "mnist" or "fashion_mnist" (`CLASSIFIERS`), or a dataset name that maps
            to one (`CLASSIFIER_FOR_DATASET`, e.g. "mnist_sample").
        weights_path: a `.weights.h5` file to use instead of the bundled one (its
            metadata JSON, if beside it with the same stem, gives the architecture).
        batch_size: images per forward pass.

    Raises:
        ValueError: no classifier for `name`.
        WeightsNotFoundError: the weights file is missing.
    """

    def __init__(self, name="mnist", weights_path=None, batch_size=500):
        family = CLASSIFIER_FOR_DATASET.get(name, name)
        if family not in CLASSIFIERS and weights_path is None:
            raise ValueError(
                f"no bundled classifier for {name!r}; bundled: "
                f"{', '.join(sorted(CLASSIFIER_FOR_DATASET))}. For other images use the "
                "InceptionV3 extractor (--extractor=inception --inception_weights=FILE)")
        bundled_weights, metadata_path = classifier_paths(family)
        if weights_path is not None:
            metadata_path = weights_path[:-len(".weights.h5")] + ".json"
        weights_path = weights_path or bundled_weights
        if not os.path.exists(weights_path):
            raise WeightsNotFoundError(
                f"classifier weights {weights_path} are missing; train them with "
                f"python tools/train_classifier.py --dataset={family}")
        self.metadata = {}
        if os.path.exists(metadata_path):
            with open(metadata_path) as f:
                self.metadata = json.load(f)
        self.name = f"classifier_{family}"
        # The features are measurements: float32 whatever global policy a training run
        # in this process left behind (a bf16 softmax misses a row sum of 1 by ~1e-2).
        with precision.policy_scope("float32"):
            self.model = Classifier(**self.metadata.get("config", {}))
            self.model.build()
        self.model.load_weights(weights_path)
        self.batch_size = int(batch_size)
        self.image_shape = self.model.image_shape
        self.feature_dim = self.model.feature_dim
        self.num_classes = self.model.num_classes
        self.class_names = self.metadata.get("class_names",
                                             [str(i) for i in range(self.num_classes)])
        # 1 / RMS of the features over the classifier's training images (metadata).
        self.feature_scale = float(self.metadata.get("feature_scale", 1.0))
        model, scale = self.model, self.feature_scale

        @tf.function(reduce_retracing=True)
        def forward(images):
            features = model.features(images)
            return features * scale, tf.nn.softmax(model.head(features), axis=-1)

        self._forward = forward

    def extract(self, images):
        """Returns `Features` of float images (N, H, W, C) in [-1, 1].

        Raises:
            ValueError: images of another shape than the classifier's (H, W, C).
        """
        images = _as_images(images)
        if tuple(images.shape[1:]) != self.image_shape:
            raise ValueError(f"{self.name} takes images of shape {self.image_shape}, got "
                             f"{tuple(images.shape[1:])}")
        return Features(*_batched(self._forward, images, self.batch_size))


def _inception_message(weights_path):
    where = (f"{weights_path} does not exist" if weights_path
             else "no InceptionV3 weights file was given")
    return (f"{where}. InceptionV3 features need the Keras ImageNet weights "
            f"{INCEPTION_WEIGHTS_FILE} (or {INCEPTION_WEIGHTS_NOTOP_FILE}, features only, "
            f"no Inception score), which gan_tf never downloads. On a machine with "
            f"network access, download {INCEPTION_WEIGHTS_URL} (or run "
            f"keras.applications.InceptionV3(), which caches it in ~/.keras/models/), "
            f"copy it here and pass --inception_weights=PATH "
            f"(Python: InceptionExtractor(weights_path=PATH)). Offline MNIST-like data "
            f"can use the bundled classifier instead (--extractor=classifier).")


def _load_inception_weights(model, weights_path):
    """`model.load_weights(weights_path)`; WeightsMismatchError in one line when the
    file is not InceptionV3's (Keras' own message lists every layer: tens of KB, and
    it warns once per layer it skips: shown only when the file loads)."""
    try:
        with warnings.catch_warnings(record=True) as warned:
            warnings.simplefilter("always")
            model.load_weights(weights_path)
        for warning in warned:
            warnings.warn_explicit(warning.message, warning.category, warning.filename,
                                   warning.lineno)
    except Exception as error:  # noqa: BLE001 - ValueError, OSError, KeyError of h5py
        raise WeightsMismatchError(
            f"{weights_path} does not hold InceptionV3 weights ({type(error).__name__} "
            f"loading it into keras.applications.InceptionV3, with and without its "
            f"classification top); pass --inception_weights= the Keras ImageNet weights "
            f"{INCEPTION_WEIGHTS_FILE} (or {INCEPTION_WEIGHTS_NOTOP_FILE}) from "
            f"{INCEPTION_WEIGHTS_URL}, or measure MNIST-like data with the bundled "
            f"classifier (--extractor=classifier)") from None


class InceptionExtractor:
    """InceptionV3 (`keras.applications`) features from a user-supplied weights file.

    Images are mapped to InceptionV3's input: grayscale is repeated to 3 channels and
    every image resized (bilinear, antialiased) to 299x299; values stay in [-1, 1],
    which is what `keras.applications.inception_v3.preprocess_input` produces.
    Features are the 2048-d global-average-pool output; probabilities the 1000-way
    ImageNet softmax when the file holds the classification top.

    Keras' ImageNet weights are not those of the 2015 TF graph that the FID paper
    (Heusel et al. 2017) used, so the numbers compare with each other, not with
    published FIDs.

    Args:
        weights_path: path of an InceptionV3 weights file (the Keras ImageNet file,
            with or without top, or any `.weights.h5` saved from
            `keras.applications.InceptionV3`).
        batch_size: images per forward pass.

    Raises:
        WeightsNotFoundError: `weights_path` is None or does not exist.
        WeightsMismatchError: the file does not hold InceptionV3 weights.
    """

    def __init__(self, weights_path, batch_size=50):
        if not weights_path or not os.path.exists(weights_path):
            raise WeightsNotFoundError(_inception_message(weights_path))
        self.name = "inception_v3"
        self.batch_size = int(batch_size)
        try:
            model = keras.applications.InceptionV3(weights=None, include_top=True)
            _load_inception_weights(model, weights_path)
            pool = model.get_layer("avg_pool").output
            self.model = keras.Model(model.input, [pool, model.output])
            self.num_classes = 1000
        except WeightsMismatchError:  # a file without the classification top?
            model = keras.applications.InceptionV3(
                weights=None, include_top=False, pooling="avg",
                input_shape=(INCEPTION_SIZE, INCEPTION_SIZE, 3))
            _load_inception_weights(model, weights_path)
            logging.info("%s has no classification top: features only", weights_path)
            self.model = model
            self.num_classes = None
        self.feature_dim = 2048
        self._forward = tf.function(self._forward_eager, reduce_retracing=True)

    def _forward_eager(self, images):
        if images.shape[-1] == 1:
            images = tf.repeat(images, 3, axis=-1)  # grayscale -> RGB
        images = tf.image.resize(images, (INCEPTION_SIZE, INCEPTION_SIZE),
                                 method="bilinear", antialias=True)
        outputs = self.model(tf.clip_by_value(images, -1.0, 1.0), training=False)
        return outputs if self.num_classes else (outputs, tf.zeros((0,)))

    def extract(self, images):
        """Returns `Features` of float images (N, H, W, 1 or 3) in [-1, 1]."""
        images = _as_images(images)
        if images.shape[-1] not in (1, 3):
            raise ValueError(f"InceptionV3 takes 1- or 3-channel images, got "
                             f"{images.shape[-1]} channels")
        features, probabilities = _batched(self._forward, images, self.batch_size)
        return Features(features, probabilities if self.num_classes else None)


def get_extractor(kind="classifier", dataset="mnist_sample", inception_weights=None,
                  classifier_weights=None):
    """Builds the extractor the evaluate CLI and the training callback use.

    Args:
        kind: "classifier" (bundled, offline) or "inception".
        dataset: dataset name; picks the classifier family.
        inception_weights: path of the InceptionV3 weights file (kind="inception").
        classifier_weights: a `.weights.h5` file replacing the bundled classifier.

    Raises:
        ValueError: unknown kind, or no classifier for `dataset`.
        WeightsNotFoundError: a weights file is missing.
    """
    if kind == "classifier":
        return ClassifierExtractor(dataset, weights_path=classifier_weights)
    if kind == "inception":
        return InceptionExtractor(inception_weights)
    raise ValueError(f"unknown extractor {kind!r}; choose classifier or inception")
