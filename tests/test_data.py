"""Data: the bundled mnist_sample builder and the offline errors of tfds datasets."""

import time

import numpy as np
import pytest
import tensorflow_datasets as tfds

from gan_tf import data


def test_mnist_sample_is_a_tfds_builder_with_real_digits():
    builder = data.builder("mnist_sample")
    assert isinstance(builder, tfds.core.GeneratorBasedBuilder)
    splits = builder.info.splits
    assert splits["train"].num_examples + splits["test"].num_examples == 10_000
    # Loaded through plain tfds.load, as any registered dataset.
    ds = tfds.load("mnist_sample", split="test", data_dir=builder.data_dir.rsplit(
        "/mnist_sample", 1)[0])
    labels = np.array([int(e["label"]) for e in ds])
    # Every tenth digit of each class: 997 test digits, all ten classes present.
    assert len(labels) == splits["test"].num_examples and set(labels) == set(range(10))


def test_load_yields_batches_in_range():
    ds = data.load("mnist_sample", batch_size=32, seed=0)
    images = next(iter(ds)).numpy()
    assert images.shape == (32, 28, 28, 1) and images.dtype == np.float32
    assert images.min() == -1.0 and images.max() == 1.0  # background 0 -> -1, ink 255 -> 1
    # Real digits: mostly background, a fair amount of ink.
    assert 0.1 < (images > 0).mean() < 0.3
    assert data.element_shape(ds) == (28, 28, 1)


def test_load_with_labels_and_resize():
    images, labels = next(iter(data.load("mnist_sample", split="test", batch_size=8,
                                         image_size=32, with_labels=True)))
    assert images.shape == (8, 32, 32, 1) and labels.shape == (8,)
    assert labels.dtype.name == "int32" and 0 <= int(labels.numpy().min())
    assert float(images.numpy().min()) >= -1 and float(images.numpy().max()) <= 1


def test_seeded_order_is_reproducible():
    first = [next(iter(data.load("mnist_sample", batch_size=16, seed=3))).numpy()
             for _ in range(2)]
    np.testing.assert_array_equal(first[0], first[1])


def test_unprepared_dataset_fails_at_once_offline(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "_network_reachable", lambda host=None: False)
    start = time.time()
    with pytest.raises(data.DatasetUnavailableError) as info:
        data.load("mnist", data_dir=str(tmp_path))
    message = str(info.value)
    assert "--data_dir" in message and "mnist_sample" in message and str(tmp_path) in message
    assert time.time() - start < 10


def test_download_false_never_downloads(tmp_path):
    with pytest.raises(data.DatasetUnavailableError, match="not prepared"):
        data.builder("fashion_mnist", data_dir=str(tmp_path), download=False)


@pytest.mark.parametrize("kwargs, match", [
    ({"name": "mnist_typo"}, "unknown dataset"),
    ({"name": "mnist_sample", "batch_size": 0}, "batch_size"),
    ({"name": "mnist_sample", "image_size": (0, 3)}, "image_size"),
    ({"name": "mnist_sample", "split": "test", "batch_size": 5000}, "fewer than batch_size"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        data.load(**kwargs)
