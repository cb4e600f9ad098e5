"""Fingerprints of datasets: a small description of a split that changes when its data
changes (`fingerprint`), which a resumed run compares with its start's. Cheap: stat
calls and one small hash, no image decoded.
"""

import hashlib
import os

from gan_tf.data import digits
from gan_tf.data import folder
from gan_tf.data import registry
from gan_tf.data import sources

def _files_summary(paths):
    """{"files", "bytes", "newest_mtime_ns"} of `paths` (stat calls only)."""
    stats = [os.stat(p) for p in paths]
    return {"files": len(stats), "bytes": sum(s.st_size for s in stats),
            "newest_mtime_ns": max((s.st_mtime_ns for s in stats), default=0)}


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _manual_fingerprint(name, manual_dir):
    """The original files in `manual_dir`: their sizes (and the images' summary)."""
    found = sources.manual_files(name, manual_dir)
    if name != "celeb_a":
        paths = [p for pair in found.values() for p in pair]
        return {"files": {os.path.basename(p): os.path.getsize(p) for p in paths}}
    images = found["images"]
    if os.path.isdir(images):
        jpegs = [e.path for e in os.scandir(images) if e.name.lower().endswith(
            (".jpg", ".jpeg"))]
        summary = _files_summary(jpegs)
    else:
        summary = _files_summary([images])
    others = [p for p in (found["partition"], found["attributes"]) if p]
    return {"images": summary,
            "files": {os.path.basename(p): os.path.getsize(p) for p in others}}


def _prepared_fingerprint(dataset_builder, split):
    try:
        split_info = dataset_builder.info.splits[split]
    except (KeyError, ValueError) as error:
        known = ", ".join(sorted(dataset_builder.info.splits)) or "none recorded"
        raise ValueError(f"{dataset_builder.name} has no split {split!r} (its splits: "
                         f"{known}): {error}") from error
    return {"builder": f"{dataset_builder.info.full_name}",
            "num_examples": int(split_info.num_examples),
            "num_bytes": int(split_info.num_bytes)}


def fingerprint(name, split="train", data_dir=None, manual_dir=None):
    """A small JSON-able description of a dataset's split that changes when its data
    changes; two runs on the same data get equal fingerprints.

    What it holds besides "name" and "split":
        mnist_sample: the bundled file's SHA-256 and size, the builder version.
        folder:PATH: the split's image files: count, total bytes, newest mtime (ns).
        a tfds name with `manual_dir`: the original files' sizes (CelebA's images:
            count, bytes, newest mtime of the folder, or the zip's size).
        a tfds name without: the prepared copy `load` reads: builder name/config/
            version, the split's examples and bytes.

    Cheap: stat calls and one small hash, no decoding. It never downloads: call it
    after `load` has prepared a tfds dataset; a name that is not prepared (and has no
    manual files in tfds' default manual dir) raises DatasetUnavailableError. A copy
    is prepared from manual files in the default manual dir, as `load` does.

    Args:
        name: one of `names()` or "folder:PATH".
        split: as in `load`.
        data_dir, manual_dir: as in `load`.

    Returns:
        dict of str, int and dict values (json.dumps-able).

    Raises:
        ValueError: unknown name or split, manual_dir for a dataset without a manual
            route, a folder in none of the three layouts.
        DatasetUnavailableError: see above.
    """
    registry.check_name(name)
    named = {"name": name, "split": split}
    if name.startswith(folder.FOLDER_PREFIX):
        layout = folder.folder_layout(folder.folder_path(name))
        folder.check_folder_split(name, layout, split)
        return named | _files_summary(
            [f for files in layout[split].values() for f in files])
    if name == "mnist_sample":
        return named | {"asset_sha256": _sha256(digits.MNIST_SAMPLE_FILE),
                        "asset_bytes": os.path.getsize(digits.MNIST_SAMPLE_FILE),
                        "version": str(digits.MnistSample.VERSION)}
    if manual_dir is not None:
        if name not in registry.manual_names():
            raise ValueError(f"manual_dir works for "
                             f"{', '.join(registry.manual_names())}, not {name!r}")
        return named | _manual_fingerprint(name, manual_dir)
    dataset_builder = sources.builder(name, data_dir=data_dir, download=False)
    return named | _prepared_fingerprint(dataset_builder, split)
