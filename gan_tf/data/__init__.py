"""Datasets: tf.data pipelines that yield float32 images in [-1, 1].

`load(name, ...)` returns a batched, shuffled, prefetched `tf.data.Dataset` of images
(B, H, W, C), or `(images, labels)` with `with_labels=True`. docs/data.md lists what a
user types for each source.

    mnist_sample   10,000 real MNIST digits bundled in gan_tf/assets; works offline,
                   always. Splits "train" (9,003) and "test" (997).
    mnist, fashion_mnist, svhn_cropped, cifar10, celeb_a
                   tfds: a copy prepared in `data_dir`, else a download. Offline,
                   `manual_dir` points at the original files (the IDX files of MNIST /
                   Fashion-MNIST, CelebA's aligned faces), prepared once into data_dir.
    folder:PATH    any folder of .jpg/.jpeg/.png images: PATH/SPLIT/CLASS/*.png,
                   PATH/CLASS/*.png (split "train"), or PATH/*.png (one class).

The modules, one concern each:

    registry.py   DATASETS: each name's source, shape, classes and splits; names,
                  check_name, check_split, num_classes
    pipeline.py   load, load_unpaired, element_shape, check_matches_model
    sources.py    builder: which source serves a name (bundled, tfds, manual files)
    fingerprints.py  fingerprint: what a resumed run compares with its start's data
    digits.py     tfds builders MnistSample (bundled) and MnistIdx (IDX files)
    celeb_a.py    tfds builder CelebAAligned (official aligned faces)
    idx.py        the IDX reader (read_idx) and finder (idx_files)
    folder.py     folder:PATH: layout, scan, tf.data of its files
    images.py     the cheap image check (inspect_image), on_bad_image
    prepared.py   prepared tfds copies: made without litter, checked before use
    errors.py     DatasetUnavailableError, DataFileError

A dataset that cannot be had fails at once with `DatasetUnavailableError`, which says
what is missing and how to provide it; a file that cannot be used raises
`DataFileError` (a ValueError) naming the file and the fix; bad arguments raise
`ValueError` naming the value and the fix. Nothing is ever substituted silently, and
nothing is left in $TMPDIR.
"""

from gan_tf.data.celeb_a import CELEB_A_ATTRIBUTES
from gan_tf.data.celeb_a import CELEB_A_CROP
from gan_tf.data.celeb_a import CELEB_A_SHAPE
from gan_tf.data.celeb_a import celeb_a_files
from gan_tf.data.celeb_a import CelebAAligned
from gan_tf.data.digits import ASSETS
from gan_tf.data.digits import MNIST_SAMPLE_FILE
from gan_tf.data.digits import MnistIdx
from gan_tf.data.digits import MnistSample
from gan_tf.data.errors import DatasetUnavailableError
from gan_tf.data.errors import DataFileError
from gan_tf.data.fingerprints import fingerprint
from gan_tf.data.folder import FOLDER_PREFIX
from gan_tf.data.folder import scan_folder
from gan_tf.data.folder import ScannedFolder
from gan_tf.data.idx import idx_files
from gan_tf.data.idx import read_idx
from gan_tf.data.images import IMAGE_EXTENSIONS
from gan_tf.data.images import inspect_image
from gan_tf.data.pipeline import check_matches_model
from gan_tf.data.pipeline import check_unpaired_name
from gan_tf.data.pipeline import element_shape
from gan_tf.data.pipeline import INVERTED_SUFFIX
from gan_tf.data.pipeline import load
from gan_tf.data.pipeline import load_unpaired
from gan_tf.data.pipeline import to_float
from gan_tf.data.registry import check_name
from gan_tf.data.registry import check_split
from gan_tf.data.registry import Dataset
from gan_tf.data.registry import DATASETS
from gan_tf.data.registry import names
from gan_tf.data.registry import num_classes
from gan_tf.data.sources import builder
