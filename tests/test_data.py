"""Data: every source on data the tests make (tfds mock data, tiny IDX files, image
folders, a small fake CelebA), value ranges, shapes, labels, seeded order, every error
(one line naming the file and the fix), nothing left in $TMPDIR, the facts a trainer
reads (fingerprint, num_classes). The slow test reads the real Fashion-MNIST of
Debian's `dataset-fashion-mnist`."""

import gzip
import hashlib
import io
import json
import logging
import os
import re
import shutil
import struct
import tempfile
import time
import zipfile

import numpy as np
from PIL import Image
import pytest
import tensorflow_datasets as tfds

from gan_tf import data

DEBIAN_FASHION_MNIST = "/usr/share/datasets/fashion-mnist"


def batches(ds):
    return [b.numpy() if not isinstance(b, tuple) else tuple(t.numpy() for t in b)
            for b in ds]


# ---------------------------------------------------------------- the package

def test_one_registry_lists_every_named_dataset():
    assert data.names() == tuple(data.DATASETS) == (
        "mnist_sample", "mnist", "fashion_mnist", "svhn_cropped", "cifar10", "celeb_a")
    for name, dataset in data.DATASETS.items():
        assert dataset.name == name and len(dataset.shape) == 3 and "train" in dataset.splits
    assert data.DATASETS["celeb_a"].num_classes is None
    assert data.registry.manual_names() == ("mnist", "fashion_mnist", "celeb_a")
    # load's images have the shape the registry records
    assert data.element_shape(data.load("mnist_sample", batch_size=2)) == \
        data.DATASETS["mnist_sample"].shape
    data.check_split("mnist", "train[:10%]")
    with pytest.raises(ValueError, match="mnist_sample has no split 'tset'; its splits: "
                                         "train, test"):
        data.check_split("mnist_sample", "tset")
    assert issubclass(data.DataFileError, ValueError)


# ---------------------------------------------------------------- bundled digits


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
    other = next(iter(data.load("mnist_sample", batch_size=16, seed=4))).numpy()
    assert not np.array_equal(first[0], other)


# ---------------------------------------------------------------- tfds names (mock data)


@pytest.mark.parametrize("name, shape, label_shape", [
    ("mnist", (28, 28, 1), ()), ("fashion_mnist", (28, 28, 1), ()),
    ("svhn_cropped", (32, 32, 3), ()), ("cifar10", (32, 32, 3), ()),
    ("celeb_a", (64, 64, 3), (40,)),  # center crop 140x140 -> 64x64, 40 attributes
])
def test_tfds_names_through_tfds(monkeypatch, name, shape, label_shape):
    # mock_data makes download_and_prepare a no-op: nothing reaches the network.
    monkeypatch.setattr(data.sources, "network_reachable", lambda host=None: True)
    with tfds.testing.mock_data(num_examples=12):
        ds = data.load(name, batch_size=4, with_labels=True, seed=0)
        images, labels = next(iter(ds))
        resized = next(iter(data.load(name, batch_size=4, image_size=16, seed=0)))
    assert images.shape == (4, *shape) and images.dtype.name == "float32"
    assert -1 <= float(images.numpy().min()) and float(images.numpy().max()) <= 1
    assert float(images.numpy().std()) > 0.1  # random mock pixels, not a constant
    assert labels.shape == (4, *label_shape) and labels.dtype.name == "int32"
    assert resized.shape == (4, 16, 16, shape[-1])


# ---------------------------------------------------------------- MNIST IDX files


def write_idx(path, array, magic_type=0x08):
    header = struct.pack(">2BBB", 0, 0, magic_type, array.ndim) + struct.pack(
        f">{array.ndim}I", *array.shape)
    raw = header + array.astype(np.uint8).tobytes()
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(raw)


def write_mnist_idx(folder, num_train=20, num_test=8, gz=True, seed=0):
    """Four IDX files with random digits; returns {split: (images, labels)}."""
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    arrays = {}
    for split, prefix, num in (("train", "train", num_train), ("test", "t10k", num_test)):
        images = rng.integers(0, 256, (num, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, num, dtype=np.uint8)
        suffix = ".gz" if gz else ""
        write_idx(os.path.join(folder, f"{prefix}-images-idx3-ubyte{suffix}"), images)
        write_idx(os.path.join(folder, f"{prefix}-labels-idx1-ubyte{suffix}"), labels)
        arrays[split] = (images, labels)
    return arrays


@pytest.mark.parametrize("gz", [True, False])
def test_idx_files_through_a_manual_builder(tmp_path, monkeypatch, gz):
    monkeypatch.setattr(data.sources, "network_reachable", lambda host=None: False)
    arrays = write_mnist_idx(str(tmp_path / "idx"), gz=gz)
    data_dir = str(tmp_path / "tfds")
    builder = data.builder("fashion_mnist", data_dir=data_dir, manual_dir=str(tmp_path / "idx"))
    assert isinstance(builder, data.MnistIdx) and builder.builder_config.name == "fashion_mnist"
    assert builder.info.splits["train"].num_examples == 20
    for split, (images, labels) in arrays.items():
        ds = data.load("fashion_mnist", split=split, batch_size=4, data_dir=data_dir,
                       manual_dir=str(tmp_path / "idx"), shuffle=False, with_labels=True)
        got = batches(ds)
        got_images = np.concatenate([b[0] for b in got])
        got_labels = np.concatenate([b[1] for b in got])
        # Same examples (tfds stores them in its own order): compare sorted by content.
        expected = images[..., None].astype(np.float32) / 127.5 - 1
        order, got_order = (np.lexsort(x.reshape(len(x), -1).T) for x in (expected, got_images))
        np.testing.assert_allclose(got_images[got_order], expected[order], atol=1e-6)
        np.testing.assert_array_equal(got_labels[got_order], labels[order])
    # Later runs find the prepared copy without manual_dir, offline.
    images = next(iter(data.load("fashion_mnist", batch_size=4, data_dir=data_dir)))
    assert images.shape == (4, 28, 28, 1)


def test_idx_files_in_tfds_default_manual_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(data.sources, "network_reachable", lambda host=None: False)
    data_dir = tmp_path / "tfds"
    write_mnist_idx(str(data_dir / "downloads" / "manual"))
    images = next(iter(data.load("mnist", batch_size=4, data_dir=str(data_dir))))
    assert images.shape == (4, 28, 28, 1)


def test_missing_idx_files_name_what_is_needed(tmp_path):
    arrays_dir = tmp_path / "idx"
    write_mnist_idx(str(arrays_dir))
    os.remove(arrays_dir / "t10k-labels-idx1-ubyte.gz")
    with pytest.raises(data.DatasetUnavailableError, match="t10k-labels-idx1-ubyte") as info:
        data.load("mnist", data_dir=str(tmp_path / "tfds"), manual_dir=str(arrays_dir))
    assert "dataset-fashion-mnist" in str(info.value)


@pytest.mark.parametrize("corruption, match", [
    ("magic", "not an IDX file"), ("truncate", "truncated or corrupt"),
    ("gzip", "cannot be read")])
def test_corrupt_idx_file_fails_naming_it(tmp_path, corruption, match):
    folder = tmp_path / "idx"
    write_mnist_idx(str(folder))
    path = str(folder / "train-images-idx3-ubyte.gz")
    if corruption == "magic":
        write_idx(path, np.zeros((3, 28, 28)), magic_type=0x0D)  # float32 type code
    elif corruption == "truncate":
        with gzip.open(path, "rb") as f:
            raw = f.read()
        with gzip.open(path, "wb") as f:
            f.write(raw[:-100])
    else:
        with open(path, "r+b") as f:
            f.truncate(200)
    with pytest.raises(ValueError, match=match) as info:
        data.load("mnist", data_dir=str(tmp_path / "tfds"), manual_dir=str(folder))
    assert "train-images-idx3-ubyte.gz" in str(info.value)


def write_raw_gz(path, raw):
    with gzip.open(path, "wb") as f:
        f.write(raw)


@pytest.mark.parametrize("corruption, match", [
    ("short_header", "its rank 3 needs a 16-byte header, the file has 8 bytes"),
    ("long_data", r"header says \(20, 28, 28\) \(15,680 bytes\), it holds 15,681"),
    ("gzip_stream", "cannot be read \\(error: Error -3 while decompressing"),
    ("gzip_without_gz", "is gzipped but its name does not end in .gz: rename it"),
])
def test_every_broken_idx_file_fails_in_one_line(tmp_path, corruption, match):
    path = str(tmp_path / "train-images-idx3-ubyte.gz")
    images = np.zeros((20, 28, 28), np.uint8)
    if corruption == "short_header":  # rank 3, one size of three
        write_raw_gz(path, b"\0\0\x08\x03" + struct.pack(">I", 20))
    elif corruption == "long_data":
        write_raw_gz(path, b"\0\0\x08\x03" + struct.pack(">3I", 20, 28, 28)
                     + images.tobytes() + b"\0")
    elif corruption == "gzip_stream":  # bytes flipped inside the deflate stream
        write_idx(path, images + np.arange(28, dtype=np.uint8) % 4 * 60)
        raw = bytearray(open(path, "rb").read())
        for i in range(len(raw) // 2, len(raw) // 2 + 8):
            raw[i] ^= 0xFF
        open(path, "wb").write(bytes(raw))
    else:
        write_idx(path, images)
        os.rename(path, path[:-3])
        path = path[:-3]
    with pytest.raises(ValueError, match=match) as info:
        data.read_idx(path)
    assert isinstance(info.value, data.DataFileError) and path in str(info.value)
    assert len(str(info.value).splitlines()) == 1


def prepared_fashion_mnist(tmp_path, monkeypatch, num_train=50):
    """A fashion_mnist copy prepared from tiny IDX files; (builder, data_dir)."""
    monkeypatch.setattr(data.sources, "network_reachable", lambda host=None: False)
    write_mnist_idx(str(tmp_path / "idx"), num_train=num_train)
    data_dir = str(tmp_path / "tfds")
    return data.builder("fashion_mnist", data_dir=data_dir,
                        manual_dir=str(tmp_path / "idx")), data_dir


def test_truncated_prepared_shard_is_named_before_training(tmp_path, monkeypatch):
    builder, data_dir = prepared_fashion_mnist(tmp_path, monkeypatch)
    shard = os.fspath(builder.info.splits["train"].filepaths[0])
    with open(shard, "r+b") as f:  # a copy that stopped early
        f.truncate(os.path.getsize(shard) - 100)
    with pytest.raises(ValueError, match=(
            f"{re.escape(shard)} of a prepared copy is truncated or corrupt: it holds 49 "
            f"whole records and a cut one, 50 were written; delete "
            f"{re.escape(os.fspath(builder.data_dir))} and load again with --manual_dir")):
        data.load("fashion_mnist", batch_size=10, data_dir=data_dir)  # not mid-epoch


def test_missing_prepared_shard_is_named(tmp_path, monkeypatch):
    builder, data_dir = prepared_fashion_mnist(tmp_path, monkeypatch)
    shard = os.fspath(builder.info.splits["test"].filepaths[0])
    os.remove(shard)
    with pytest.raises(data.DataFileError, match=f"{re.escape(shard)} of a prepared copy "
                                                 f"is missing"):
        data.load("fashion_mnist", split="test", data_dir=data_dir)


@pytest.mark.parametrize("garbage", [b"garbage{", b"", b"\xff\xfe not text"])
def test_garbage_dataset_info_is_named_with_the_fix(tmp_path, monkeypatch, garbage):
    builder, data_dir = prepared_fashion_mnist(tmp_path, monkeypatch, num_train=8)
    info_path = os.path.join(builder.data_dir, "dataset_info.json")
    with open(info_path, "wb") as f:
        f.write(garbage)
    with pytest.raises(ValueError, match=(
            f"{re.escape(info_path)} of a prepared copy is not valid JSON .*; delete "
            f"{re.escape(os.fspath(builder.data_dir))} and load again with "
            f"--manual_dir=DIR")) as info:
        data.load("fashion_mnist", data_dir=data_dir)
    assert len(str(info.value).splitlines()) == 1


def test_garbage_json_of_the_bundled_digits_says_it_is_prepared_again(tmp_path):
    shutil.copytree(os.path.dirname(data.builder("mnist_sample").data_dir),
                    tmp_path / "mnist_sample")  # a prepared copy, without preparing it
    with open(tmp_path / "mnist_sample" / "1.0.0" / "dataset_info.json", "w") as f:
        f.write("{")
    with pytest.raises(data.DataFileError, match="the next load prepares it again from "
                                                 "the bundled digits"):
        data.load("mnist_sample", data_dir=str(tmp_path))


def test_manual_dir_for_a_dataset_without_manual_route(tmp_path):
    with pytest.raises(ValueError, match="manual_dir works for mnist, fashion_mnist and celeb_a"):
        data.load("cifar10", data_dir=str(tmp_path), manual_dir=str(tmp_path))


# ---------------------------------------------------------------- CelebA, aligned faces


def write_celeb_a(folder, num=9, zipped=False, partition=True, attributes=True, seed=0):
    """A small CelebA layout; returns {file name: 40 attributes in {0, 1}, sorted}."""
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    names = [f"{i:06d}.jpg" for i in range(1, num + 1)]
    images_dir = os.path.join(folder, "img_align_celeba")
    os.makedirs(images_dir)
    for name in names:
        pixels = rng.integers(0, 256, (218, 178, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(os.path.join(images_dir, name), quality=90)
    if zipped:
        with zipfile.ZipFile(os.path.join(folder, "img_align_celeba.zip"), "w") as z:
            for name in names:
                z.write(os.path.join(images_dir, name), f"img_align_celeba/{name}")
        for name in names:
            os.remove(os.path.join(images_dir, name))
        os.rmdir(images_dir)
    if partition:  # 0 train, 1 validation, 2 test
        with open(os.path.join(folder, "list_eval_partition.txt"), "w") as f:
            f.writelines(f"{name} {i % 3}\n" for i, name in enumerate(names))
    values = rng.choice([-1, 1], (num, 40))
    if attributes:  # the official file: a count, the names, then +-1 per image
        header = list(data.CELEB_A_ATTRIBUTES)[::-1]  # any order in the file
        with open(os.path.join(folder, "list_attr_celeba.txt"), "w") as f:
            f.write(f"{num}\n{' '.join(header)}\n")
            for name, row in zip(names, values):
                f.write(f"{name} " + " ".join(f"{v:2d}" for v in row) + "\n")
    # Sorted attribute order is the reverse of the file's header.
    return {name: (row[::-1] == 1).astype(np.int32) for name, row in zip(names, values)}


def test_celeb_a_from_the_aligned_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(data.sources, "network_reachable", lambda host=None: False)
    expected = write_celeb_a(str(tmp_path / "celeba"))
    data_dir, manual_dir = str(tmp_path / "tfds"), str(tmp_path / "celeba")
    builder = data.builder("celeb_a", data_dir=data_dir, manual_dir=manual_dir)
    assert isinstance(builder, data.CelebAAligned)
    assert {s: builder.info.splits[s].num_examples for s in builder.info.splits} == {
        "train": 3, "validation": 3, "test": 3}
    images, labels = next(iter(data.load("celeb_a", batch_size=3, data_dir=data_dir,
                                         manual_dir=manual_dir, with_labels=True)))
    assert images.shape == (3, 64, 64, 3) and labels.shape == (3, 40)
    assert -1 <= float(images.numpy().min()) and float(images.numpy().max()) <= 1
    rows = {tuple(row) for row in labels.numpy()}
    assert rows == {tuple(expected[f"{i:06d}.jpg"]) for i in (1, 4, 7)}  # the train split
    big = next(iter(data.load("celeb_a", split="test", batch_size=3, image_size=128,
                              data_dir=data_dir)))  # prepared copy, no manual_dir
    assert big.shape == (3, 128, 128, 3)


def test_celeb_a_from_the_zip_without_annotations(tmp_path):
    write_celeb_a(str(tmp_path / "celeba"), num=5, zipped=True, partition=False,
                  attributes=False)
    kwargs = {"data_dir": str(tmp_path / "tfds"), "manual_dir": str(tmp_path / "celeba")}
    builder = data.builder("celeb_a", **kwargs)
    assert list(builder.info.splits) == ["train"] and builder.info.splits["train"].num_examples == 5
    assert data.load("celeb_a", batch_size=5, **kwargs).element_spec.shape == (5, 64, 64, 3)
    with pytest.raises(ValueError, match="without list_attr_celeba.txt"):
        data.load("celeb_a", batch_size=5, with_labels=True, **kwargs)


def test_celeb_a_missing_names_the_manual_route(tmp_path, monkeypatch):
    monkeypatch.setattr(data.sources, "network_reachable", lambda host=None: False)
    with pytest.raises(data.DatasetUnavailableError) as info:
        data.load("celeb_a", data_dir=str(tmp_path))
    message = str(info.value)
    assert "img_align_celeba.zip" in message and "--manual_dir" in message
    assert "Google Drive" in message
    with pytest.raises(data.DatasetUnavailableError, match="neither img_align_celeba/"):
        data.load("celeb_a", data_dir=str(tmp_path), manual_dir=str(tmp_path))


@pytest.mark.parametrize("on_bad_image", ["fail", "skip"])
def test_celeb_a_bad_jpeg(tmp_path, on_bad_image, caplog):
    write_celeb_a(str(tmp_path / "celeba"), num=6, partition=False)
    bad = tmp_path / "celeba" / "img_align_celeba" / "000002.jpg"
    bad.write_bytes(bad.read_bytes()[:600])  # truncated download
    kwargs = {"data_dir": str(tmp_path / "tfds"), "manual_dir": str(tmp_path / "celeba"),
              "on_bad_image": on_bad_image, "batch_size": 5}
    if on_bad_image == "fail":
        with pytest.raises(ValueError, match="000002.jpg") as info:
            data.load("celeb_a", **kwargs)
        assert "on_bad_image='skip'" in str(info.value)
    else:
        with caplog.at_level(logging.WARNING):
            ds = data.load("celeb_a", **kwargs)
        assert "skipping 1 of 6" in caplog.text
        assert len(batches(ds)) == 1  # 5 readable images


@pytest.mark.parametrize("file, content, match", [
    ("list_eval_partition.txt", "000001.jpg 0\n000002.jpg train\n",
     "list_eval_partition.txt line 2 is not an image name and a split 0, 1 or 2"),
    ("list_attr_celeba.txt", None, "list_attr_celeba.txt line 4 is not an image name "
                                   "and 40 values of 1 or -1"),
    ("img_align_celeba.zip", b"PK\x03\x04 not a zip", "img_align_celeba.zip is not a "
                                                         "readable zip file"),
])
def test_broken_celeb_a_files_are_named(tmp_path, file, content, match):
    write_celeb_a(str(tmp_path / "celeba"), num=3)
    path = tmp_path / "celeba" / file
    if file == "img_align_celeba.zip":
        for name in os.listdir(tmp_path / "celeba" / "img_align_celeba"):
            os.remove(tmp_path / "celeba" / "img_align_celeba" / name)
        os.rmdir(tmp_path / "celeba" / "img_align_celeba")
        path.write_bytes(content)
    elif content is None:  # the second image's row cut short
        lines = path.read_text().splitlines()
        lines[3] = lines[3][:40]
        path.write_text("\n".join(lines) + "\n")
    else:
        path.write_text(content)
    with pytest.raises(ValueError, match=match) as info:
        data.load("celeb_a", batch_size=1, data_dir=str(tmp_path / "tfds"),
                  manual_dir=str(tmp_path / "celeba"))
    assert str(path) in str(info.value)


# ---------------------------------------------------------------- folder:PATH


def write_images(folder, num, shape=(8, 8, 3), fmt="png", seed=0, prefix="img"):
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    pixels = rng.integers(0, 256, (num, *shape), dtype=np.uint8)
    for i, p in enumerate(pixels):
        Image.fromarray(p.squeeze(-1) if shape[-1] == 1 else p).save(
            os.path.join(folder, f"{prefix}{i}.{fmt}"))
    return pixels


def test_flat_folder_is_one_class_with_exact_pixels(tmp_path):
    pixels = write_images(str(tmp_path / "faces"), 6)
    (tmp_path / "faces" / "notes.txt").write_text("not an image")  # ignored, with a warning
    ds = data.load(f"folder:{tmp_path / 'faces'}", batch_size=3, with_labels=True, seed=0)
    got = batches(ds)
    images = np.concatenate([b[0] for b in got])
    assert images.shape == (6, 8, 8, 3) and {int(x) for b in got for x in b[1]} == {0}
    expected = pixels.astype(np.float32) / 127.5 - 1  # PNG is lossless
    assert sorted(map(bytes, np.round(images, 5))) == sorted(map(bytes, np.round(expected, 5)))


def test_class_folders_give_sorted_labels(tmp_path):
    root = tmp_path / "digits"
    write_images(str(root / "cat"), 4, shape=(8, 8, 1), seed=1)
    write_images(str(root / "dog"), 5, shape=(8, 8, 1), seed=2, fmt="jpg")
    ds = data.load(f"folder:{root}", batch_size=9, with_labels=True, image_size=16)
    images, labels = next(iter(ds))
    assert images.shape == (9, 16, 16, 1)  # grayscale stays one channel
    assert sorted(labels.numpy().tolist()) == [0] * 4 + [1] * 5  # cat 0, dog 1


def test_split_folders(tmp_path):
    root = tmp_path / "ds"
    for split, num in (("train", 6), ("test", 2)):
        for label in ("a", "b"):
            write_images(str(root / split / label), num)
    name = f"folder:{root}"
    assert len(batches(data.load(name, split="test", batch_size=2))) == 2
    assert len(batches(data.load(name, split="train", batch_size=4))) == 3
    with pytest.raises(ValueError, match="no split 'validation'.*test, train"):
        data.load(name, split="validation")


def test_folder_order_is_seeded(tmp_path):
    write_images(str(tmp_path / "x"), 40)
    name = f"folder:{tmp_path / 'x'}"
    first, second, other = (np.concatenate(batches(data.load(name, batch_size=8, seed=s)))
                            for s in (1, 1, 2))
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, other)


def test_folders_need_no_links_or_copies(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError("links are not allowed here")

    monkeypatch.setattr(os, "symlink", refuse)  # e.g. Windows without developer mode
    pixels = write_images(str(tmp_path / "x"), 5)
    images = np.concatenate(batches(data.load(f"folder:{tmp_path / 'x'}", batch_size=5,
                                              shuffle=False)))
    np.testing.assert_allclose(images, pixels / 127.5 - 1, atol=1e-6)  # sorted names


def test_a_folder_is_a_scanned_file_list(tmp_path):
    for split, label, num in (("train", "b", 2), ("train", "a", 3), ("test", "c", 1)):
        write_images(str(tmp_path / "x" / split / label), num, prefix=label)
    scanned = data.builder(f"folder:{tmp_path / 'x'}")
    assert isinstance(scanned, data.ScannedFolder)
    assert scanned.class_names == ("a", "b", "c")  # over all splits, sorted
    assert [label for _, label in scanned.splits["train"]] == [0, 0, 0, 1, 1]
    assert scanned.splits["test"] == ((str(tmp_path / "x" / "test" / "c" / "c0.png"), 2),)
    assert scanned.shapes == {(8, 8, 3): 6} and scanned.skipped == 0


def test_grayscale_and_colour_images_decode_as_rgb(tmp_path):
    gray = write_images(str(tmp_path / "x"), 2, shape=(8, 8, 1), prefix="g")
    write_images(str(tmp_path / "x"), 2, shape=(8, 8, 3), prefix="rgb")
    images = np.concatenate(batches(data.load(f"folder:{tmp_path / 'x'}", batch_size=4,
                                              shuffle=False)))
    assert images.shape == (4, 8, 8, 3)
    np.testing.assert_allclose(images[:2], np.repeat(gray / 127.5 - 1, 3, -1), atol=1e-6)


def cut_png(path):
    buffer = io.BytesIO()
    Image.fromarray(np.full((8, 8, 3), 9, np.uint8)).save(buffer, "PNG")
    path.write_bytes(buffer.getvalue()[:-30])  # a download that stopped early


@pytest.mark.parametrize("on_bad_image", ["fail", "skip"])
def test_files_tensorflow_cannot_decode_are_found_before_training(tmp_path, on_bad_image):
    write_images(str(tmp_path / "x"), 4)
    cut_png(tmp_path / "x" / "cut.png")
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "x" / "tiff.png",
                                                        format="TIFF")  # PIL reads it
    name = f"folder:{tmp_path / 'x'}"
    if on_bad_image == "fail":
        with pytest.raises(ValueError, match="2 of 6 image files.*cut.png.*tiff.png") as info:
            data.load(name, batch_size=2)
        assert len(str(info.value).splitlines()) == 1
    else:  # the 4 good images, with no decoding error left for training
        assert len(batches(data.load(name, batch_size=1, on_bad_image="skip"))) == 4


def test_long_scans_log_their_progress(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(data.folder, "PROGRESS_EVERY", 2)
    write_images(str(tmp_path / "x"), 5)
    with caplog.at_level(logging.INFO):
        data.load(f"folder:{tmp_path / 'x'}", batch_size=1)
    assert "checked 2 of 5 image files" in caplog.text
    assert "checked all 5 image files" in caplog.text


def test_inspect_image_reads_headers_and_end_markers(tmp_path):
    def encoded(mode, fmt, size=(5, 7)):
        buffer = io.BytesIO()
        Image.new(mode, size).save(buffer, fmt)
        return buffer.getvalue()

    assert data.inspect_image(encoded("L", "PNG")) == (7, 5, 1)
    assert data.inspect_image(encoded("RGBA", "PNG")) == (7, 5, 3)
    assert data.inspect_image(encoded("P", "PNG")) == (7, 5, 3)
    assert data.inspect_image(encoded("L", "JPEG")) == (7, 5, 1)
    assert data.inspect_image(encoded("RGB", "JPEG") + b"trailing bytes") == (7, 5, 3)
    assert data.inspect_image(encoded("L", "GIF")) == (7, 5, 3)  # GIF decodes as RGB
    for broken in (encoded("RGB", "JPEG")[:-2], encoded("RGB", "PNG")[:-12], b"\x89PNG",
                   encoded("RGB", "JPEG")[:20], b"text"):
        with pytest.raises(data.DataFileError):
            data.inspect_image(broken)
    # A PNG damaged in its middle, complete at both ends: its chunks' CRCs find it.
    png = bytearray(encoded("RGB", "PNG", (40, 40)))
    png[len(png) // 2] ^= 0xFF
    with pytest.raises(data.DataFileError, match="IDAT chunk at byte 33 fails its CRC"):
        data.inspect_image(bytes(png))


def test_mixed_sizes_need_image_size(tmp_path):
    write_images(str(tmp_path / "x"), 3, shape=(8, 8, 3))
    write_images(str(tmp_path / "x"), 3, shape=(12, 10, 3), prefix="big")
    with pytest.raises(ValueError, match="different sizes.*image_size"):
        data.load(f"folder:{tmp_path / 'x'}", batch_size=2)
    images = next(iter(data.load(f"folder:{tmp_path / 'x'}", batch_size=6, image_size=8)))
    assert images.shape == (6, 8, 8, 3)


@pytest.mark.parametrize("on_bad_image", ["fail", "skip"])
def test_unreadable_image_in_a_folder(tmp_path, on_bad_image, caplog):
    write_images(str(tmp_path / "x"), 5)
    (tmp_path / "x" / "broken.png").write_bytes(b"\x89PNG not really")
    name = f"folder:{tmp_path / 'x'}"
    if on_bad_image == "fail":
        with pytest.raises(ValueError, match="1 of 6 image files.*broken.png.*skip"):
            data.load(name, batch_size=2, on_bad_image=on_bad_image)
    else:
        with caplog.at_level(logging.WARNING):
            ds = data.load(name, batch_size=1, on_bad_image=on_bad_image)
        assert "skipping 1 of 6" in caplog.text and "broken.png" in caplog.text
        assert len(batches(ds)) == 5


@pytest.mark.parametrize("make, match", [
    (lambda root: None, "holds no .jpg/.jpeg/.png images"),
    (lambda root: (root / "notes.txt").write_text("x"), "holds no"),
    (lambda root: (write_images(str(root / "a"), 2), (root / "b.png").write_bytes(b"")),
     "mixes images and subfolders"),
])
def test_bad_folders(tmp_path, make, match):
    root = tmp_path / "empty"
    root.mkdir()
    make(root)
    with pytest.raises(ValueError, match=match):
        data.load(f"folder:{root}")


def test_missing_folder(tmp_path):
    with pytest.raises(ValueError, match="is not a folder"):
        data.load(f"folder:{tmp_path / 'nope'}")


# ---------------------------------------------------------------- errors and checks


def test_unprepared_dataset_fails_at_once_offline(tmp_path, monkeypatch):
    monkeypatch.setattr(data.sources, "network_reachable", lambda host=None: False)
    start = time.time()
    with pytest.raises(data.DatasetUnavailableError) as info:
        data.load("mnist", data_dir=str(tmp_path))
    message = str(info.value)
    assert "--data_dir" in message and "mnist_sample" in message and str(tmp_path) in message
    assert "--manual_dir" in message and "idx3-ubyte" in message
    assert time.time() - start < 10


def test_download_false_never_downloads(tmp_path):
    with pytest.raises(data.DatasetUnavailableError, match="not prepared"):
        data.builder("fashion_mnist", data_dir=str(tmp_path), download=False)


@pytest.mark.parametrize("kwargs, match", [
    ({"name": "mnist_typo"}, "unknown dataset 'mnist_typo'.*folder:PATH"),
    ({"name": "mnist_sample", "batch_size": 0}, "batch_size"),
    ({"name": "mnist_sample", "image_size": (0, 3)}, "image_size"),
    ({"name": "mnist_sample", "on_bad_image": "ignore"}, "on_bad_image.*'ignore'"),
    ({"name": "mnist_sample", "split": "validation"}, "no split 'validation'"),
    ({"name": "mnist_sample", "split": "test", "batch_size": 5000},
     "batch_size=5000 exceeds the 997 images of mnist_sample/test; use at most 997"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        data.load(**kwargs)


def test_check_matches_model():
    data.check_matches_model((64, 64, 3), (64, 64, 3))
    with pytest.raises(ValueError, match=r"grayscale images \(28, 28, 1\).*RGB"):
        data.check_matches_model((28, 28, 1), (64, 64, 3), model="preset dcgan_celeba64")
    with pytest.raises(ValueError, match="--image_size=32"):
        data.check_matches_model((64, 64, 3), (32, 32, 3))


def test_small_datasets_are_cached_large_ones_stream(monkeypatch):
    """The decoded cache is chosen by size: CelebA-sized data is never held in RAM."""
    def has_cache(ds):
        return b"CacheDataset" in ds._as_serialized_graph().numpy()
    assert has_cache(data.load("mnist_sample", batch_size=8))
    assert not has_cache(data.load("mnist_sample", batch_size=8, cache=False))
    monkeypatch.setattr(data.pipeline, "CACHE_LIMIT_BYTES", 1000)  # as if 9,003 digits were huge
    assert not has_cache(data.load("mnist_sample", batch_size=8))
    assert has_cache(data.load("mnist_sample", batch_size=8, cache=True))


def test_nothing_is_left_in_tmpdir(tmp_path, monkeypatch):
    """Every source, loaded and read, leaves $TMPDIR as it found it."""
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmpdir))
    monkeypatch.setattr(tempfile, "tempdir", None)  # tempfile caches the folder
    monkeypatch.setattr(data.sources, "network_reachable", lambda host=None: False)
    write_mnist_idx(str(tmp_path / "idx"))
    write_celeb_a(str(tmp_path / "celeba"), num=3, partition=False)
    write_images(str(tmp_path / "faces"), 3)
    data_dir = str(tmp_path / "tfds")  # nothing prepared: builders made from scratch
    for name, kwargs in (("fashion_mnist", {"manual_dir": str(tmp_path / "idx")}),
                         ("celeb_a", {"manual_dir": str(tmp_path / "celeba")}),
                         (f"folder:{tmp_path / 'faces'}", {}), ("mnist_sample", {})):
        if name == "mnist_sample":  # made over an empty data_dir, read where prepared
            data.sources.sample_builder(data_dir)
            data_dir = None
        next(iter(data.load(name, batch_size=3, data_dir=data_dir, **kwargs)))
        data.fingerprint(name, data_dir=data_dir, **kwargs)
    with pytest.raises(data.DatasetUnavailableError):
        data.load("cifar10", data_dir=data_dir)
    # TensorFlow's autograph writes its converted functions there and deletes them
    # when the process exits; everything else must be gone now.
    left = [n for n in os.listdir(tmpdir) if not n.startswith("__autograph_generated_file")]
    assert left == []


def test_batch_larger_than_the_split(tmp_path):
    with pytest.raises(ValueError, match="batch_size=1000 exceeds the 997 images of "
                                         "mnist_sample/test; use at most 997"):
        data.load("mnist_sample", split="test", batch_size=1000, repeat=True)
    write_images(str(tmp_path / "x"), 6)
    with pytest.raises(ValueError, match="exceeds the 6 images of folder:"):
        data.load(f"folder:{tmp_path / 'x'}", batch_size=8, drop_remainder=False,
                  repeat=True)
    # Without repeat or drop_remainder a larger batch is the whole split, once.
    whole = data.load("mnist_sample", split="test", batch_size=1000, shuffle=False,
                      drop_remainder=False)
    assert [int(b.shape[0]) for b in whole] == [997]


# ---------------------------------------------------------------- facts for the trainer


def test_fingerprint_of_a_folder_follows_its_files(tmp_path):
    root = tmp_path / "x"
    write_images(str(root / "train" / "a"), 3)
    write_images(str(root / "test" / "a"), 2)
    name = f"folder:{root}"
    first = data.fingerprint(name)
    assert first == data.fingerprint(name) and json.loads(json.dumps(first)) == first
    files = sorted((root / "train" / "a").iterdir())
    assert first["files"] == 3 and first["bytes"] == sum(f.stat().st_size for f in files)
    assert data.fingerprint(name, split="test")["files"] == 2
    write_images(str(root / "train" / "a"), 1, prefix="new")
    assert data.fingerprint(name)["files"] == 4
    files[0].write_bytes(files[0].read_bytes())  # same bytes, written again
    os.utime(files[0], ns=(0, first["newest_mtime_ns"] + 10**9))
    assert data.fingerprint(name)["newest_mtime_ns"] > first["newest_mtime_ns"]
    with pytest.raises(ValueError, match="no split 'validation'"):
        data.fingerprint(name, split="validation")


def test_fingerprint_of_each_kind_of_source(tmp_path, monkeypatch):
    with open(data.MNIST_SAMPLE_FILE, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    assert data.fingerprint("mnist_sample", "test") == {
        "name": "mnist_sample", "split": "test", "asset_sha256": digest,
        "asset_bytes": os.path.getsize(data.MNIST_SAMPLE_FILE), "version": "1.0.0"}
    monkeypatch.setattr(data.sources, "network_reachable", lambda host=None: False)
    idx_dir, data_dir = str(tmp_path / "idx"), str(tmp_path / "tfds")
    with pytest.raises(data.DatasetUnavailableError):  # never downloads
        data.fingerprint("fashion_mnist", data_dir=data_dir)
    write_mnist_idx(idx_dir, num_train=20, num_test=8)
    manual = data.fingerprint("fashion_mnist", data_dir=data_dir, manual_dir=idx_dir)
    assert manual["files"]["t10k-labels-idx1-ubyte.gz"] == os.path.getsize(
        os.path.join(idx_dir, "t10k-labels-idx1-ubyte.gz"))
    data.load("fashion_mnist", batch_size=4, data_dir=data_dir, manual_dir=idx_dir)
    prepared = data.fingerprint("fashion_mnist", split="test", data_dir=data_dir)
    assert prepared["builder"] == "mnist_idx/fashion_mnist/1.0.0"
    assert prepared["num_examples"] == 8 and prepared["num_bytes"] > 8 * 784
    write_celeb_a(str(tmp_path / "celeba"), num=4)
    celeb = data.fingerprint("celeb_a", manual_dir=str(tmp_path / "celeba"))
    assert celeb["images"]["files"] == 4 and set(celeb["files"]) == {
        "list_eval_partition.txt", "list_attr_celeba.txt"}


def test_num_classes(tmp_path):
    assert data.num_classes("mnist_sample") == 10 and data.num_classes("cifar10") == 10
    assert data.num_classes("celeb_a") is None  # 40 attributes, no classes
    write_images(str(tmp_path / "flat"), 2)
    assert data.num_classes(f"folder:{tmp_path / 'flat'}") is None
    for split, label in (("train", "a"), ("train", "b"), ("test", "c")):
        write_images(str(tmp_path / "split" / split / label), 1)
    assert data.num_classes(f"folder:{tmp_path / 'split'}") == 3
    with pytest.raises(ValueError, match="unknown dataset"):
        data.num_classes("mnist_typo")


# ---------------------------------------------------------------- real data (slow)


@pytest.mark.slow
def test_debian_fashion_mnist_offline(tmp_path, monkeypatch):
    """The full 70,000-image Fashion-MNIST from Debian's IDX files, no network."""
    if not os.path.isfile(os.path.join(DEBIAN_FASHION_MNIST, "train-images-idx3-ubyte.gz")):
        pytest.skip(f"{DEBIAN_FASHION_MNIST} is missing: apt-get install dataset-fashion-mnist")
    monkeypatch.setattr(data.sources, "network_reachable", lambda host=None: False)
    kwargs = {"data_dir": str(tmp_path), "manual_dir": DEBIAN_FASHION_MNIST}
    builder = data.builder("fashion_mnist", **kwargs)
    assert builder.info.splits["train"].num_examples == 60_000
    assert builder.info.splits["test"].num_examples == 10_000
    labels = np.concatenate([b[1] for b in batches(data.load(
        "fashion_mnist", split="test", batch_size=1000, with_labels=True, **kwargs))])
    assert np.bincount(labels).tolist() == [1000] * 10  # 1,000 test images per class
    images = next(iter(data.load("fashion_mnist", batch_size=256, seed=0, **kwargs))).numpy()
    assert images.shape == (256, 28, 28, 1) and images.min() == -1 and images.max() == 1
    # Clothes on black: about half the pixels are background.
    assert 0.3 < (images == -1).mean() < 0.7
