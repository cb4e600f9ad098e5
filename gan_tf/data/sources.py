"""Where the examples of a dataset come from: `builder` (the names: gan_tf.data.registry).

    mnist_sample   `MnistSample`, the digits bundled in gan_tf/assets (always offline).
    mnist, fashion_mnist, svhn_cropped, cifar10, celeb_a
                   `tfds.builder(name)`: a copy prepared in `data_dir`, else a download
                   when the network is reachable. Offline, `manual_dir` points at the
                   original files instead (IDX files -> `MnistIdx`; CelebA's aligned
                   faces -> `CelebAAligned`); a copy prepared from them once is found
                   again without `manual_dir`.
    folder:PATH    a folder of images, read without tfds (`folder.scan_folder`).

A dataset that cannot be had fails at once with `DatasetUnavailableError` saying what is
missing and how to provide it; nothing is ever substituted silently.
"""

import os
import socket

from absl import logging
import tensorflow_datasets as tfds

from gan_tf.data import celeb_a
from gan_tf.data import digits
from gan_tf.data import folder
from gan_tf.data import idx
from gan_tf.data import images as image_files
from gan_tf.data import prepared
from gan_tf.data import registry
from gan_tf.data.errors import DataFileError
from gan_tf.data.errors import DatasetUnavailableError

_DOWNLOAD_HOST = "storage.googleapis.com"


def network_reachable(host=_DOWNLOAD_HOST):
    """Whether tfds' download host resolves. A name lookup only: offline machines
    fail it at once, so the user gets the "prepare it yourself" message instead of a
    long download timeout (tests replace this function to be offline)."""
    try:
        socket.getaddrinfo(host, 443)
        return True
    except OSError:
        return False


def data_root(data_dir):
    """The tfds data directory `data_dir` stands for (None: tfds' default)."""
    return os.path.expanduser(data_dir or tfds.core.constants.DATA_DIR)


def _fix_sample(path):
    return f"delete {path}; the next load prepares it again from the bundled digits"


def _fix_manual(path):
    return (f"delete {path} and load again with --manual_dir=DIR (Python: "
            f"manual_dir=DIR) to prepare it again from the original files")


def _fix_download(path):
    return (f"delete {path} and load again with network access to download it again, "
            f"or copy a complete prepared folder there")


def _fix_for(dataset_builder):
    if isinstance(dataset_builder, digits.MnistSample):
        return _fix_sample
    if isinstance(dataset_builder, (digits.MnistIdx, celeb_a.CelebAAligned)):
        return _fix_manual
    return _fix_download


def sample_builder(data_dir=None):
    """`MnistSample` over `data_dir` (not prepared yet, maybe)."""
    return prepared.make_builder(lambda: digits.MnistSample(data_dir=data_dir),
                                 os.path.join(data_root(data_dir), "mnist_sample"),
                                 _fix_sample)


def manual_builder(name, data_dir=None, on_bad_image="fail"):
    """The builder that reads `name`'s original files from a manual dir, or None."""
    root = data_root(data_dir)
    if name in ("mnist", "fashion_mnist"):
        return prepared.make_builder(
            lambda: digits.MnistIdx(config=name, data_dir=data_dir),
            os.path.join(root, "mnist_idx", name), _fix_manual)
    if name == "celeb_a":
        return prepared.make_builder(
            lambda: celeb_a.CelebAAligned(data_dir=data_dir, on_bad_image=on_bad_image),
            os.path.join(root, "celeb_a_aligned"), _fix_manual)
    return None


def tfds_builder(name, data_dir=None):
    """`tfds.builder(name)` over `data_dir` (not prepared yet, maybe)."""
    return prepared.make_builder(lambda: tfds.builder(name, data_dir=data_dir),
                                 os.path.join(data_root(data_dir), name), _fix_download)


def manual_files(name, manual_dir):
    """The original files of `name` in `manual_dir` (`idx.idx_files` or
    `celeb_a.celeb_a_files`); DatasetUnavailableError when they are not all there."""
    if name == "celeb_a":
        return celeb_a.celeb_a_files(manual_dir)
    return idx.idx_files(manual_dir)


def _manual_hint(name):
    if name in ("mnist", "fashion_mnist"):
        return f"or pass --manual_dir=DIR (Python: manual_dir=DIR) with {idx.IDX_FILES_HELP}, "
    if name == "celeb_a":
        return (f"or, since the Google Drive download tfds uses often fails, use the "
                f"manual route: {celeb_a.MANUAL_DOWNLOAD_INSTRUCTIONS.rstrip('.')}; ")
    return "or use a folder of its images with --dataset=folder:PATH, "


def unavailable_message(name, data_dir, reason="cannot be downloaded (no network)"):
    """One line: `name` is not prepared in `data_dir`, why, and every way to get it."""
    where = data_dir or f"{tfds.core.constants.DATA_DIR} (the tfds default)"
    return (
        f"dataset {name!r} is not prepared in {where} and {reason}. Either run once "
        f"with network access (it downloads and prepares itself), or copy a prepared "
        f"tfds folder `{name}/` there and pass --data_dir=DIR (Python: data_dir=DIR), "
        f"{_manual_hint(name)}or train offline on the bundled digits with "
        f"--dataset=mnist_sample.")


def _prepare_manual(name, dataset_builder, manual_dir):
    """`dataset_builder` prepared from the original files in `manual_dir`: a copy
    prepared before is used only when it was prepared from the same folder and its
    files are unchanged (their sizes and modification times, recorded in the copy);
    otherwise DataFileError names the difference and the fix."""
    copy = os.fspath(dataset_builder.data_dir)
    if dataset_builder.is_prepared():
        changes = prepared.source_changes(copy, manual_dir)
        if changes:
            raise DataFileError(
                f"the copy of {name} prepared in {copy} is not of --manual_dir="
                f"{manual_dir}: {changes}; delete {copy} to prepare it again from "
                f"{manual_dir}, or pass another --data_dir to keep both")
        if changes == "":
            logging.warning("using %s, prepared before from files it did not record; "
                            "delete it to prepare it again from %s", copy, manual_dir)
        return dataset_builder
    manual_files(name, manual_dir)  # a clear message before tfds starts
    logging.info("preparing %s from %s into %s", dataset_builder.name, manual_dir, copy)
    dataset_builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=manual_dir))
    prepared.record_source(copy, manual_dir)
    return dataset_builder


def _tfds_or_manual(name, data_dir, download, manual_dir, on_bad_image):
    """A prepared builder for a tfds name, in `builder`'s order."""
    manual = manual_builder(name, data_dir, on_bad_image)
    if manual_dir is not None:
        if manual is None:
            manual_names = registry.manual_names()
            raise ValueError(
                f"manual_dir works for {', '.join(manual_names[:-1])} and "
                f"{manual_names[-1]}, not {name!r}; for {name} use a prepared --data_dir "
                f"or --dataset=folder:PATH")
        if not os.path.isdir(manual_dir):
            raise DatasetUnavailableError(f"manual_dir {manual_dir!r} is not a folder")
        return _prepare_manual(name, manual, manual_dir)
    dataset_builder = tfds_builder(name, data_dir)
    if dataset_builder.is_prepared():
        return dataset_builder
    if manual is not None:
        if manual.is_prepared():
            return manual
        default_manual = os.path.join(data_root(data_dir), "downloads", "manual")
        try:
            manual_files(name, default_manual)
        except DatasetUnavailableError:
            pass  # no manual files there either
        else:
            return _prepare_manual(name, manual, default_manual)
    if not download or not network_reachable():
        raise DatasetUnavailableError(unavailable_message(
            name, data_dir, "download=False" if not download else
            "cannot be downloaded (no network)"))
    try:
        dataset_builder.download_and_prepare()
    except Exception as error:  # tfds raises many types for network failures
        raise DatasetUnavailableError(
            f"{unavailable_message(name, data_dir, 'its download failed')} "
            f"(download error: {error})") from error
    return dataset_builder


def builder(name, data_dir=None, download=True, manual_dir=None, on_bad_image="fail"):
    """Returns a prepared tfds builder for `name` (a scanned folder for folder:PATH).

    In order: the bundled digits; a folder; `manual_dir`'s original files; a copy
    prepared in `data_dir` (tfds' own, then one prepared from manual files); the manual
    files in tfds' default manual dir `DATA_DIR/downloads/manual`; a download. A
    prepared copy is checked first (`prepared.check_prepared`: JSON files parse, shards
    complete).

    Args:
        name: one of `names()` or "folder:PATH".
        data_dir: tfds data directory; None for the tfds default.
        download: allow downloading and preparing when not prepared.
        manual_dir: folder with the original files (MNIST/Fashion-MNIST IDX files,
            CelebA's aligned images); see `load`.
        on_bad_image: "fail" or "skip" unreadable image files (folders, CelebA).

    Returns:
        a prepared `tfds.core.DatasetBuilder`; for folder:PATH a
        `folder.ScannedFolder` (folders are read without tfds).

    Raises:
        ValueError: unknown name, manual_dir for a dataset without a manual route.
        DataFileError (a ValueError): corrupt files, a broken prepared copy, unreadable
            images with on_bad_image="fail"; the message names the file and the fix.
        DatasetUnavailableError: not prepared, no manual files and not downloadable.
    """
    registry.check_name(name)
    image_files.check_on_bad_image(on_bad_image)
    if name.startswith(folder.FOLDER_PREFIX):
        return folder.scan_folder(folder.folder_path(name), on_bad_image)
    if registry.DATASETS[name].source == registry.BUNDLED:
        dataset_builder = sample_builder(data_dir)
        if not dataset_builder.is_prepared():
            dataset_builder.download_and_prepare()  # local: ~2 s, writes to data_dir
    else:
        dataset_builder = _tfds_or_manual(name, data_dir, download, manual_dir,
                                          on_bad_image)
    prepared.check_prepared(dataset_builder, _fix_for(dataset_builder))
    return dataset_builder
