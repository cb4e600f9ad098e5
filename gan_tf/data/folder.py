"""`folder:PATH`: a folder of .jpg/.jpeg/.png images, read straight from its files.

Three layouts: PATH/*.png (one class, split "train"), PATH/CLASS/*.png (split "train")
and PATH/SPLIT/CLASS/*.png. Classes are the sorted subfolder names (over all splits).
Hidden entries and gan_tf workdirs inside the folder (`--workdir=PATH/run`, runs/)
are not data: they are left out of the scan and of the data's fingerprint.
`scan_folder` lists the files and checks each one cheaply (`images.inspect_image`,
in threads, with progress in the log); `folder_examples` turns a split's file list into
a `tf.data.Dataset` of (encoded image, label) without any copy, link or temporary file.
"""

import collections
import concurrent.futures
import dataclasses
import os
import time

from absl import logging
import tensorflow as tf

from gan_tf.data import images as image_files
from gan_tf.data.errors import DataFileError

FOLDER_PREFIX = "folder:"
PROGRESS_EVERY = 10_000  # files between two progress lines of a scan
_CHUNK = 256  # files a thread checks at a time


@dataclasses.dataclass(frozen=True)
class ScannedFolder:
    """The readable images of a folder dataset.

    Attributes:
        path: the folder.
        class_names: sorted class subfolder names; () for PATH/*.png.
        splits: {split: ((file, label), ...)} of the readable files, sorted by file.
        shapes: {(height, width, channels): count} over all splits.
        skipped: unreadable files left out (on_bad_image="skip").
    """

    path: str
    class_names: tuple
    splits: dict
    shapes: dict
    skipped: int = 0

    def num_examples(self, split):
        return len(self.splits[split])


def folder_path(name):
    """The folder of a "folder:PATH" name (`~` expanded)."""
    return os.path.expanduser(name[len(FOLDER_PREFIX):])


# What marks a folder as a gan_tf workdir (its manifest, its lock: gan_tf.workdir).
_WORKDIR_MARKS = (".gan_tf", ".lock")


def _is_workdir(path):
    """Whether `path` is a gan_tf workdir, or a folder of nothing but workdirs (runs/):
    a run's outputs, never its data, even when the workdir lies in the image folder."""
    try:
        names = os.listdir(path)
    except OSError:
        return False
    if any(mark in names for mark in _WORKDIR_MARKS):
        return True
    visible = [os.path.join(path, n) for n in names if not n.startswith(".")]
    return bool(visible) and all(os.path.isdir(p) and _is_workdir(p) for p in visible)


def _list_images(folder):
    """(image files, subfolders, other files) of `folder`, sorted, hidden ones and
    gan_tf workdirs left out."""
    images, dirs, others = [], [], []
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_dir():
                if not _is_workdir(entry.path):
                    dirs.append(entry.name)
            elif not entry.is_file():
                continue
            elif entry.name.lower().endswith(image_files.IMAGE_EXTENSIONS):
                images.append(entry.name)
            else:
                others.append(entry.name)
    return sorted(images), sorted(dirs), sorted(others)


def _class_tree(root, relative=""):
    """{class: [image paths]} of root/CLASS/*.png and the ignored files' names."""
    classes, ignored = {}, []
    for label in _list_images(root)[1]:
        images, _, others = _list_images(os.path.join(root, label))
        classes[label] = [os.path.join(root, label, n) for n in images]
        ignored += [os.path.join(relative, label, n) for n in others]
    return classes, ignored


def folder_layout(path):
    """{split: {class: [image paths]}} of a folder in one of the three layouts.

    A flat folder is {"train": {"": files}}: one class without a name.

    Raises:
        ValueError: images beside subfolders, or no image at all.
    """
    images, dirs, ignored = _list_images(path)
    if images and dirs:
        raise ValueError(f"folder {path} mixes images and subfolders; put every image "
                         f"in a class subfolder (PATH/CLASS/img.png) or none")
    if images:  # PATH/img.png
        layout = {"train": {"": [os.path.join(path, n) for n in images]}}
    else:
        listed = {d: _list_images(os.path.join(path, d)) for d in dirs}
        ignored += [os.path.join(d, n) for d, (_, _, others) in listed.items() for n in others]
        if dirs and all(sub and not imgs for imgs, sub, _ in listed.values()):
            layout = {}  # PATH/SPLIT/CLASS/img.png
            for split in dirs:
                layout[split], split_ignored = _class_tree(os.path.join(path, split), split)
                ignored += split_ignored
        else:  # PATH/CLASS/img.png
            layout = {"train": {d: [os.path.join(path, d, n) for n in listed[d][0]]
                                for d in dirs}}
    if ignored:
        logging.warning("folder %s: ignoring %d files that are not %s (e.g. %s)", path,
                        len(ignored), "/".join(image_files.IMAGE_EXTENSIONS), ignored[0])
    if not any(files for classes in layout.values() for files in classes.values()):
        raise ValueError(f"folder {path} holds no {'/'.join(image_files.IMAGE_EXTENSIONS)} "
                         f"images; expected PATH/*.png, PATH/CLASS/*.png or "
                         f"PATH/SPLIT/CLASS/*.png")
    return layout


def _inspect(file):
    try:
        return image_files.inspect_image(file), None
    except (DataFileError, OSError) as error:
        return None, str(error)


def _inspect_all(files, where):
    """[(shape or None, error or None)] per file, checked in threads; logs progress."""
    size = max(1, min(_CHUNK, PROGRESS_EVERY))
    chunks = [files[i:i + size] for i in range(0, len(files), size)]
    results, logged, start = [], 0, time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(min(8, os.cpu_count() or 1)) as pool:
        for chunk_results in pool.map(lambda chunk: [_inspect(f) for f in chunk], chunks):
            results += chunk_results
            if len(results) - logged >= PROGRESS_EVERY and len(results) < len(files):
                logged = len(results)
                logging.info("%s: checked %d of %d image files (%.0f s)", where, logged,
                             len(files), time.monotonic() - start)
    if logged:
        logging.info("%s: checked all %d image files in %.1f s", where, len(files),
                     time.monotonic() - start)
    return results


def scan_folder(path, on_bad_image="fail"):
    """Lists and checks the images of a folder dataset.

    Args:
        path: the folder (PATH/*.png, PATH/CLASS/*.png or PATH/SPLIT/CLASS/*.png).
        on_bad_image: "fail" or "skip" files that do not decode.

    Returns:
        `ScannedFolder`.

    Raises:
        ValueError: a layout that is none of the three, no images.
        DataFileError: unreadable files with on_bad_image="fail" (how many, which, and
            how to skip them).
    """
    image_files.check_on_bad_image(on_bad_image)
    layout = folder_layout(path)
    class_names = tuple(sorted({c for classes in layout.values() for c in classes} - {""}))
    labels = {name: index for index, name in enumerate(class_names)} | {"": 0}
    files = [(f, labels[c]) for classes in layout.values()
             for c, fs in classes.items() for f in fs]
    results = dict(zip((f for f, _ in files), _inspect_all(
        [f for f, _ in files], f"folder {path}")))
    bad = [(f, error) for f, (_, error) in results.items() if error]
    image_files.report_bad_images(bad, len(files), f"folder {path}", on_bad_image)
    if len(bad) == len(files):
        raise DataFileError(f"none of the {len(files)} image files in folder {path} can be "
                            f"read (e.g. {bad[0][0]}: {bad[0][1]}); fix them")
    splits = {split: tuple(sorted((f, labels[c]) for c, fs in classes.items() for f in fs
                                  if not results[f][1]))
              for split, classes in layout.items()}
    shapes = collections.Counter(shape for shape, _ in results.values() if shape)
    return ScannedFolder(path, class_names, splits, dict(shapes), len(bad))


def undecodable_files(scanned):
    """[(file, reason)] of the scanned folder's files that TensorFlow cannot decode,
    each decoded once (in threads): what explains a decoding error in training, where
    TensorFlow's message names no file (a JPEG damaged in its middle passes the scan's
    cheap check)."""
    files = sorted(f for examples in scanned.splits.values() for f, _ in examples)

    def decode(file):
        try:
            with open(file, "rb") as f:
                image_files.decode_with_tensorflow(f.read())
            return None
        except (DataFileError, OSError) as error:
            return file, str(error)

    with concurrent.futures.ThreadPoolExecutor(min(8, os.cpu_count() or 1)) as pool:
        return [found for found in pool.map(decode, files) if found]


def check_folder_split(name, split_names, split):
    """Raises ValueError unless `split` is one of the folder's `split_names` (no slicing
    for folders)."""
    if split not in split_names:
        raise ValueError(f"{name} has no split {split!r} (it has "
                         f"{', '.join(sorted(split_names))}; a folder's splits are its "
                         f"PATH/SPLIT/CLASS/ subfolders, and slicing like train[:10%] is "
                         f"not supported for folders)")


def folder_examples(scanned, split, shuffle=True, seed=None):
    """A split's images as a dataset of (encoded image bytes, int32 label).

    Args:
        scanned: `ScannedFolder`.
        split: one of `scanned.splits`.
        shuffle: shuffle the file list (all of it, seeded, anew each epoch).
        seed: shuffle seed.

    Returns:
        `tf.data.Dataset` of (tf.string scalar, int32 scalar).
    """
    files = scanned.splits[split]
    paths = tf.constant([os.fsencode(f) for f, _ in files], tf.string)
    labels = tf.constant([label for _, label in files], tf.int32)
    ds = tf.data.Dataset.from_tensor_slices((paths, labels))
    if shuffle:
        ds = ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    return ds.map(lambda path, label: (tf.io.read_file(path), label),
                  num_parallel_calls=tf.data.AUTOTUNE)


def folder_shape(name, scanned, size):
    """(H, W, C) that decoding yields before any resize: (None, None, C) for images of
    mixed sizes when `size` is given; any colour image makes every image RGB.

    Raises:
        ValueError: mixed sizes without `size`.
    """
    channels = max(c for _, _, c in scanned.shapes)
    sizes = sorted({(h, w) for h, w, _ in scanned.shapes})
    if len(sizes) == 1:
        return sizes[0] + (channels,)
    if size is None:
        raise ValueError(
            f"images in {name} have {len(sizes)} different sizes (e.g. "
            f"{sizes[0][0]}x{sizes[0][1]} and {sizes[-1][0]}x{sizes[-1][1]}); pass "
            f"image_size (CLI: --image_size=64) to resize them all")
    return (None, None, channels)
