"""Prepared tfds copies: making builders without litter, and refusing a broken copy in
one line before any training instead of with tfds' or TensorFlow's errors mid-epoch.

A prepared copy is DATA_DIR/NAME[/CONFIG]/VERSION/ with `dataset_info.json`,
`features.json` and the examples in TFRecord shards. Two things go wrong in practice:
a JSON file that is not JSON (an interrupted copy, an editor), a shard shorter than
recorded (a copy or download that stopped early) and a shard of the right size with
bytes changed (a failing disk or copy), which TensorFlow only reports as "truncated
record" or "corrupted record" when an epoch reaches it.
"""

import contextlib
import glob
import json
import os
import re
import shutil
import struct
import tempfile

from gan_tf import fileio
from gan_tf.data.errors import DataFileError

_TMP_PREFIX = "gan_tf_builder-"  # + pid: whose folder it is ("-": never in mkdtemp's names)
_RECORD_OVERHEAD = 16  # bytes around each TFRecord: length, its CRC, the data's CRC


@contextlib.contextmanager
def private_tempdir():
    """Points `tempfile` at a folder of ours for the block, then deletes the folder.

    tfds makes an empty `tmp*tfds` folder in $TMPDIR for every builder made over a
    data_dir without a prepared copy (DatasetInfo.initialize_from_bucket) and never
    deletes it; builders made inside this block leave nothing behind, and the folder
    of a process killed inside it is deleted by the next one. `tempfile.tempdir` is
    process-wide: keep the block to the making of a builder, or to a whole run of the
    command line (which owns its process).
    """
    remove_orphans(_TMP_PREFIX)
    folder = tempfile.mkdtemp(prefix=f"{_TMP_PREFIX}{os.getpid()}_")
    saved, tempfile.tempdir = tempfile.tempdir, folder
    try:
        yield
    finally:
        tempfile.tempdir = saved
        shutil.rmtree(folder, ignore_errors=True)


def remove_orphans(prefix, root=None):
    """Deletes the folders named `prefix` + pid + "_..." in `root` ($TMPDIR by default)
    whose process is gone (killed: it could not delete its own); a live process's
    folder is left alone. Returns the names removed."""
    root = root or tempfile.gettempdir()
    try:
        names = [n for n in os.listdir(root) if n.startswith(prefix)]
    except OSError:
        return []
    removed = []
    for name in names:
        pid = name[len(prefix):].split("_", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not fileio.process_alive(int(pid)):
            shutil.rmtree(os.path.join(root, name), ignore_errors=True)
            removed.append(name)
    return removed


SOURCE_FILE = "gan_tf_source.json"  # in a copy prepared from a manual dir: what from


def source_files(manual_dir):
    """{relative path: [size, mtime_ns]} of every file under `manual_dir`."""
    found = {}
    for root, _, files in os.walk(manual_dir):
        for name in files:
            path = os.path.join(root, name)
            stat = os.stat(path)
            found[os.path.relpath(path, manual_dir)] = [stat.st_size, stat.st_mtime_ns]
    return found


def record_source(copy_folder, manual_dir):
    """Writes which folder, and which files of it (sizes and modification times), the
    copy in `copy_folder` was prepared from (SOURCE_FILE, atomically)."""
    record = {"manual_dir": os.path.abspath(manual_dir),
              "files": source_files(manual_dir)}
    fileio.write_atomic(os.path.join(copy_folder, SOURCE_FILE),
                        json.dumps(record, indent=1, sort_keys=True))


def source_changes(copy_folder, manual_dir):
    """How `manual_dir` differs from the source recorded in `copy_folder`: a short
    text ("prepared from /a, not /b", "3 files changed, e.g. x: 40 -> 56 bytes"),
    None when it is the same, "" when nothing was recorded (an older copy)."""
    try:
        with open(os.path.join(copy_folder, SOURCE_FILE), encoding="utf-8") as f:
            record = json.load(f)
        recorded_dir, recorded = record["manual_dir"], record["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return ""
    if os.path.abspath(manual_dir) != recorded_dir:
        return f"it was prepared from {recorded_dir}, not {os.path.abspath(manual_dir)}"
    now = source_files(manual_dir)
    changed = sorted(set(now) ^ set(recorded) | {
        name for name in set(now) & set(recorded) if list(now[name]) != list(recorded[name])})
    if not changed:
        return None
    name = changed[0]
    if name not in now:
        example = f"{name} is gone"
    elif name not in recorded:
        example = f"{name} is new"
    elif now[name][0] != recorded[name][0]:
        example = f"{name}: {recorded[name][0]:,} -> {now[name][0]:,} bytes"
    else:
        example = f"{name} was modified"
    return (f"{len(changed)} of the files of {recorded_dir} changed since it was prepared "
            f"(e.g. {example})")


def _unreadable_json(folder):
    """(path, error) of the first JSON file under `folder` that does not parse, or None."""
    for path in sorted(glob.glob(os.path.join(glob.escape(folder), "**", "*.json"),
                                 recursive=True)):
        try:
            with open(path, encoding="utf-8") as f:
                json.load(f)
        except (OSError, ValueError) as error:  # JSONDecodeError, UnicodeDecodeError
            return path, error
    return None


def make_builder(make, dataset_folder, fix):
    """Calls `make()` to build a tfds builder, without litter in $TMPDIR, turning a
    prepared copy that tfds cannot read into a DataFileError.

    Args:
        make: () -> builder.
        dataset_folder: DATA_DIR/NAME[/CONFIG], where the builder's copies live.
        fix: what to do with a broken copy, given its folder: (folder) -> str.

    Raises:
        DataFileError: a JSON file of a prepared copy does not parse, or tfds fails
            on a folder that holds a copy; the message names the file and the fix.
    """
    with private_tempdir():
        try:
            return make()
        except Exception as error:  # tfds: ParseError, KeyError, ... on a bad copy
            if not os.path.isdir(dataset_folder):
                raise
            broken = _unreadable_json(dataset_folder)
            if broken:
                path, reason = broken
                raise DataFileError(f"{path} of a prepared copy is not valid JSON "
                                    f"({reason}); {fix(os.path.dirname(path))}") from None
            raise DataFileError(f"the prepared copy in {dataset_folder} cannot be read "
                                f"({type(error).__name__}: {error}); "
                                f"{fix(dataset_folder)}") from error


def count_records(path):
    """(number of whole TFRecords in `path`, whether the file ends after the last one).

    Walks the length fields only (12 bytes read per record), never the data.
    """
    size = os.path.getsize(path)
    count = offset = 0
    with open(path, "rb") as f:
        while offset < size:
            f.seek(offset)
            header = f.read(8)
            if len(header) < 8:
                return count, False
            offset += struct.unpack("<Q", header)[0] + _RECORD_OVERHEAD
            if offset > size:
                return count, False
            count += 1
    return count, True


def _check_shards(split_info, fix, folder):
    paths = [os.fspath(p) for p in split_info.filepaths]
    if any("://" in p for p in paths):
        return  # a remote data_dir (gs://...): not checked
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        raise DataFileError(f"{missing[0]} of a prepared copy is missing ({len(missing)} "
                            f"of {len(paths)} files of split {split_info.name!r}); "
                            f"{fix(folder)}")
    recorded = split_info.num_bytes + _RECORD_OVERHEAD * split_info.num_examples
    if sum(os.path.getsize(p) for p in paths) == recorded:
        for path in paths:  # the sizes written when it was prepared; and the content?
            _check_checksums(path, fix, folder)
        return
    for path, length in zip(paths, split_info.shard_lengths):
        count, complete = count_records(path)
        if count != length or not complete:
            raise DataFileError(
                f"{path} of a prepared copy is truncated or corrupt: it holds {count:,} "
                f"whole records{'' if complete else ' and a cut one'}, {length:,} were "
                f"written; {fix(folder)}")


def _check_checksums(path, fix, folder):
    """Reads every record of the TFRecord file `path`, which checks each one's CRCs
    (in TensorFlow's C++ reader: the cost of reading the file once), so that a flipped
    byte is named before training rather than as a DataLossError when an epoch reaches
    it."""
    import tensorflow as tf

    try:
        tf.data.TFRecordDataset(path, buffer_size=2**22).reduce(
            tf.constant(0, tf.int64), lambda count, _: count + 1)
    except tf.errors.DataLossError as error:
        found = re.search(r"corrupted record at \d+", error.message or "")
        raise DataFileError(f"{path} of a prepared copy is corrupt ("
                            f"{found.group(0) if found else 'a record fails its checksum'}"
                            f", though of the right size); {fix(folder)}") from None


def check_prepared(dataset_builder, fix):
    """Raises DataFileError when a shard of a prepared copy is missing or truncated.

    Compares the shards' total size per split with the one recorded when the copy was
    made (stat calls); when they differ it walks the record lengths of each shard to
    name the broken one, and when they agree it reads the records, whose checksums
    find bytes that changed in place.

    Args:
        dataset_builder: a prepared tfds builder.
        fix: (folder) -> what to do, for the message.
    """
    info = dataset_builder.info
    if str(getattr(info.file_format, "value", info.file_format)) != "tfrecord":
        return  # other formats keep their own framing
    for split_info in info.splits.values():
        _check_shards(split_info, fix, os.fspath(dataset_builder.data_dir))
