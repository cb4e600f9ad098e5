"""tools/: the script that trains the bundled classifiers reads IDX files through
gan_tf.data's one reader and writes weights plus the JSON beside them."""

import json
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "tools"))

import train_classifier  # noqa: E402

from test_data import write_mnist_idx  # noqa: E402


def test_idx_arrays_come_from_the_data_reader(tmp_path):
    arrays = write_mnist_idx(str(tmp_path / "idx"), num_train=6, num_test=4)
    train_x, train_y, test_x, test_y = train_classifier.load_arrays(
        "fashion_mnist", str(tmp_path / "idx"))
    images, labels = arrays["train"]
    np.testing.assert_allclose(train_x, images[..., None] / 127.5 - 1, atol=1e-6)
    np.testing.assert_array_equal(train_y, labels)
    assert test_x.shape == (4, 28, 28, 1) and test_y.dtype == np.int32


def test_corrupt_or_missing_idx_files_exit_with_one_line(tmp_path, capsys):
    write_mnist_idx(str(tmp_path / "idx"))
    with open(tmp_path / "idx" / "t10k-images-idx3-ubyte.gz", "r+b") as f:
        f.truncate(30)
    for idx_dir in (tmp_path / "idx", tmp_path / "nothing"):
        with pytest.raises(SystemExit) as info:
            train_classifier.main(["--dataset=fashion_mnist", f"--idx_dir={idx_dir}"])
        assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "t10k-images-idx3-ubyte.gz cannot be read" in err[0]
    assert "lacks" in err[1] and "dataset-fashion-mnist" in err[1]


def test_training_writes_weights_and_metadata(tmp_path):
    write_mnist_idx(str(tmp_path / "idx"), num_train=16, num_test=8)
    train_classifier.main(["--dataset=fashion_mnist", f"--idx_dir={tmp_path / 'idx'}",
                           "--epochs=1", "--batch_size=8", f"--output_dir={tmp_path}"])
    with open(tmp_path / "classifier_fashion_mnist.json") as f:
        metadata = json.load(f)
    assert metadata["train_images"] == 16 and metadata["test_images"] == 8
    assert metadata["command"].startswith("python tools/train_classifier.py --dataset=")
    assert os.path.getsize(tmp_path / "classifier_fashion_mnist.weights.h5") > 1e5
