"""The datasets gan_tf knows by name, in one table: where each comes from, the image
shape `load` yields, its classes and its splits. `gan_tf.data`, `gan_tf.tasks` and
the command lines read it; nothing else lists datasets.

    name            source    shape        classes  splits                 manual_dir
    mnist_sample    bundled   (28, 28, 1)  10       train, test            -
    mnist           tfds      (28, 28, 1)  10       train, test            IDX files
    fashion_mnist   tfds      (28, 28, 1)  10       train, test            IDX files
    svhn_cropped    tfds      (32, 32, 3)  10       train, test, extra     -
    cifar10         tfds      (32, 32, 3)  10       train, test            -
    celeb_a         tfds      (64, 64, 3)  -        train, validation,     aligned faces
                                                    test

celeb_a's images are its aligned faces' central 140x140 crop, resized to 64x64 unless
`load` is given another `image_size`; it has 40 binary attributes instead of classes.
A manual copy of CelebA without list_eval_partition.txt has one split, "train".
`folder:PATH` (any folder of images) is not in the table: its shape, classes and
splits are read from the folder (`num_classes`).
"""

import dataclasses
import os
from typing import Optional

from gan_tf.data import folder

BUNDLED, TFDS = "bundled", "tfds"


@dataclasses.dataclass(frozen=True)
class Dataset:
    """One named dataset.

    Attributes:
        name: what `load` and --dataset take.
        source: BUNDLED (gan_tf/assets, always offline) or TFDS (`tfds.builder(name)`).
        shape: (H, W, C) of the images `load` yields without `image_size`.
        num_classes: classes of `load(..., with_labels=True)`'s labels; None for none.
        splits: the split names.
        manual: whether a `manual_dir` of the original files can stand in for the
            download (gan_tf.data.sources).
    """

    name: str
    source: str
    shape: tuple
    num_classes: Optional[int]
    splits: tuple
    manual: bool = False


DATASETS = {dataset.name: dataset for dataset in (
    Dataset("mnist_sample", BUNDLED, (28, 28, 1), 10, ("train", "test")),
    Dataset("mnist", TFDS, (28, 28, 1), 10, ("train", "test"), manual=True),
    Dataset("fashion_mnist", TFDS, (28, 28, 1), 10, ("train", "test"), manual=True),
    Dataset("svhn_cropped", TFDS, (32, 32, 3), 10, ("train", "test", "extra")),
    Dataset("cifar10", TFDS, (32, 32, 3), 10, ("train", "test")),
    Dataset("celeb_a", TFDS, (64, 64, 3), None, ("train", "validation", "test"),
            manual=True),
)}


def names():
    """The dataset names `load` accepts (besides `folder:PATH`)."""
    return tuple(DATASETS)


def manual_names():
    """The names a `manual_dir` of original files can serve."""
    return tuple(name for name, dataset in DATASETS.items() if dataset.manual)


def check_name(name):
    """Raises ValueError unless `load` knows `name` (a `names()` entry or folder:PATH)."""
    if isinstance(name, str) and name.startswith(folder.FOLDER_PREFIX):
        path = folder.folder_path(name)
        if not os.path.isdir(path):
            raise ValueError(f"dataset {name!r}: {path!r} is not a folder; "
                             f"folder:PATH needs a folder of images")
        return
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of "
                         f"{', '.join(names())} or folder:PATH")


def check_split(name, split):
    """Raises ValueError when `split` (or the split a tfds slice such as
    "train[:10%]" names) is not a split of the named dataset `name`; folders and
    unknown names are left to `load`."""
    dataset = DATASETS.get(name)
    base = str(split).split("[", 1)[0]
    if dataset is not None and base not in dataset.splits:
        raise ValueError(f"{name} has no split {base!r}; its splits: "
                         f"{', '.join(dataset.splits)}")


def num_classes(name):
    """The number of classes `load(name, with_labels=True)` labels images with.

    Returns:
        10 for the digit, SVHN and CIFAR-10 sets; the number of class subfolders of a
        folder (over all its splits; None for a flat PATH/*.png folder, whose labels
        are all 0); None for celeb_a (40 binary attributes, no classes).

    Raises:
        ValueError: unknown name, a folder in none of the three layouts.
    """
    check_name(name)
    if name.startswith(folder.FOLDER_PREFIX):
        layout = folder.folder_layout(folder.folder_path(name))
        classes = {c for split in layout.values() for c in split} - {""}
        return len(classes) or None
    return DATASETS[name].num_classes
