"""File I/O of a run: every path goes through `tf.io.gfile`, every write is atomic.

Workdirs may live on any filesystem TensorFlow knows: local folders, `gs://`,
`hdfs://`, `s3://` (through plugins), or `ram://` (TensorFlow's in-memory filesystem,
which the tests use). A write goes to a temporary file beside its target, which is
then renamed over it, so a reader (or a run resumed after `kill -9`) sees either the
old or the new content, never a part. On local disks the data is also fsync'ed before
the rename, and the folder after it, so the rename survives a power cut.

Temporary files start with `TMP_PREFIX`; `remove_temporary` deletes those a killed
writer left behind, and finishes (or undoes) a folder swap that a kill cut short.

Inside a folder that is `recording` (a workdir under its lock), every write, rename
and deletion asks the folder's recorder (gan_tf.workdir's manifest): a path is
recorded before it is created, a file gan_tf did not write is never overwritten
(`NotWrittenError`) and never deleted (`remove` and `rmtree` leave it, and the
folders holding it, in place).
"""

import contextlib
import errno
import os
import re
import shutil
import uuid

import tensorflow as tf

from gan_tf import _faults

TMP_PREFIX = ".tmp-"
# The temporary file of an atomic write: .tmp-<target name>-<8 hex digits>.
ATOMIC_TMP = re.compile(re.escape(TMP_PREFIX) + r"(.+)-[0-9a-f]{8}")
# The stages of a folder swap (`replace_folder`): .tmp-<target name>-<stage>.
SWAP_STAGES = ("export", "new", "old", "ready")
_SWAP_TMP = re.compile(re.escape(TMP_PREFIX) + r"(.+)-(" + "|".join(SWAP_STAGES) + ")")


class NotWrittenError(OSError):
    """A write would replace a file (or folder) that gan_tf did not write."""


# -- Recording what gan_tf writes -------------------------------------------------------

_RECORDERS = []  # [(root key, recorder)]


@contextlib.contextmanager
def recording(root, recorder):
    """Within the block, writes, renames and deletions under `root` go through
    `recorder`, which has `owns(rel)`, `before_write(rel, folder)` (records a path
    about to be created; raises NotWrittenError for an existing one it does not own)
    and `forget(rel)` (a path deleted), with `rel` the path relative to `root`."""
    entry = (_key(root), recorder)
    _RECORDERS.append(entry)
    try:
        yield recorder
    finally:
        _RECORDERS.remove(entry)


def _key(path):
    path = str(path)
    if not is_local(path):
        return path.rstrip("/")
    if path.startswith("file://"):
        path = path[len("file://"):]
    return os.path.normpath(os.path.abspath(path))


def _recorder_of(path):
    """(recorder, path relative to its root) of a recorded path, else (None, None)."""
    if not _RECORDERS:
        return None, None
    key = _key(path)
    for root, recorder in reversed(_RECORDERS):
        if key.startswith(root + "/"):
            return recorder, key[len(root) + 1:]
    return None, None


def owned(path):
    """False when `path` lies in a recording folder and gan_tf did not write it."""
    recorder, rel = _recorder_of(path)
    return recorder is None or recorder.owns(rel)


def _before_write(path, folder=False):
    recorder, rel = _recorder_of(path)
    if recorder is not None:
        recorder.before_write(rel, folder)


def _forget(path):
    recorder, rel = _recorder_of(path)
    if recorder is not None:
        recorder.forget(rel)


def _record_tree(target, names):
    """Records `names` (paths relative to `target`, from `walk`) as gan_tf's, with
    `target` itself: the content a swap is about to put there."""
    recorder, rel = _recorder_of(target)
    if recorder is not None:
        recorder.record([f"{rel}/{name}" for name in names] + [rel + "/"])


def walk(folder):
    """Every path under `folder`, relative to it (folders end with "/"), parents first."""
    found = []
    for name in listdir(folder):
        path = join(folder, name)
        if isdir(path):
            found.append(name + "/")
            found += [f"{name}/{inner}" for inner in walk(path)]
        else:
            found.append(name)
    return found


def is_local(path):
    """True for paths of the local filesystem (no scheme, or file://)."""
    path = str(path)
    return "://" not in path or path.startswith("file://")


def join(*parts):
    return os.path.join(*[str(p) for p in parts])


def exists(path):
    return tf.io.gfile.exists(str(path))


def isdir(path):
    return tf.io.gfile.isdir(str(path))


def listdir(path):
    """Names in the folder `path` (sub-folders without a trailing slash); [] if none."""
    if not isdir(path):
        return []
    return sorted(name.rstrip("/") for name in tf.io.gfile.listdir(str(path)))


def makedirs(path):
    if not isdir(path):
        _before_write(path, folder=True)
    tf.io.gfile.makedirs(str(path))


def remove(path):
    """Removes a file (in a recording folder, only one gan_tf wrote); a missing file
    is not an error."""
    if not owned(path):
        return
    try:
        tf.io.gfile.remove(str(path))
    except tf.errors.NotFoundError:
        pass
    _forget(path)


def rmtree(path):
    """Removes a folder and everything below it; a missing folder is not an error.
    In a recording folder only what gan_tf wrote goes: the entries of others stay,
    and so do the folders that hold them."""
    if not isdir(path):
        return
    recorder, rel = _recorder_of(path)
    if recorder is None or recorder.owns_all(rel):
        tf.io.gfile.rmtree(str(path))
        _forget(path)
        return
    for name in listdir(path):
        inner = join(path, name)
        if isdir(inner):
            rmtree(inner)
        else:
            remove(inner)
    if recorder.owns(rel) and not listdir(path):
        tf.io.gfile.rmtree(str(path))
        _forget(path)


def rename(source, target):
    """Renames `source` to `target`, replacing a file there (atomic where the
    filesystem's rename is).

    In a recording folder `target` is recorded first, and a renamed file's old path
    forgotten (a renamed folder's records are the caller's: a swap keeps them).

    Raises:
        NotWrittenError: `target` lies in a recording folder and exists, but gan_tf
            did not write it.
    """
    if not owned(target) and exists(target):
        raise NotWrittenError(errno.EEXIST, "not written by gan_tf", str(target))
    folder = isdir(source)
    _before_write(target, folder=folder)
    tf.io.gfile.rename(str(source), str(target), overwrite=True)
    if not folder:
        _forget(source)


def read_bytes(path):
    with tf.io.gfile.GFile(str(path), "rb") as f:
        return f.read()


def read_text(path):
    return read_bytes(path).decode("utf-8")


def _tmp_name(path):
    directory, name = os.path.split(str(path))
    return join(directory, f"{TMP_PREFIX}{name}-{uuid.uuid4().hex[:8]}")


def write_atomic(path, content):
    """Writes `content` (bytes or str) to `path` so that readers see the old or the
    new file, never a part of it.

    Raises:
        NotWrittenError: `path` lies in a recording folder and exists, but gan_tf
            did not write it (nothing is written).
        OSError: the write failed (errno ENOSPC for a full disk, EACCES for a
            read-only folder...); the previous file at `path` is untouched and no
            temporary file is left.
    """
    data = content.encode("utf-8") if isinstance(content, str) else bytes(content)
    directory = os.path.dirname(str(path))
    _before_write(path)
    if directory:
        _makedirs_or_oserror(directory)
    tmp = _tmp_name(path)
    try:
        if is_local(path):
            _write_local(tmp, data)
        else:
            with tf.io.gfile.GFile(tmp, "wb") as f:
                f.write(data)
        _faults.point("write", path)
        rename(tmp, path)
        if is_local(path):
            _fsync_directory(directory or ".")
    except tf.errors.OpError as error:
        _discard(tmp)
        raise _as_oserror(error, path) from error
    except OSError as error:  # os.write's errors name no file: name the target
        _discard(tmp)
        if error.filename is None and error.errno is not None:
            raise OSError(error.errno, error.strerror, str(path)) from error
        raise
    except BaseException:
        _discard(tmp)
        raise


def _write_local(path, data):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_directory(directory):
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _discard(tmp):
    try:
        if is_local(tmp):
            if os.path.exists(tmp):
                os.remove(tmp)
        else:
            remove(tmp)
    except (OSError, tf.errors.OpError):
        pass


def _makedirs_or_oserror(directory):
    try:
        makedirs(directory)
    except tf.errors.OpError as error:
        raise _as_oserror(error, directory) from error


# What TensorFlow's I/O errors say when a disk, not the program, is at fault.
_IO_FAILURES = {"No space left": errno.ENOSPC, "ENOSPC": errno.ENOSPC,
                "ermission denied": errno.EACCES, "Read-only file system": errno.EROFS,
                "Input/output error": errno.EIO, "Disk quota exceeded": errno.EDQUOT}


def _errno_in(text):
    """The errno of the first `_IO_FAILURES` marker in an error's text, or None."""
    return next((code for marker, code in _IO_FAILURES.items() if marker in text), None)


def _as_oserror(error, path):
    """A TensorFlow I/O error as the OSError a local write would raise."""
    text = str(getattr(error, "message", error))
    code = _errno_in(text)
    if code is None:
        code = (errno.EACCES if isinstance(error, tf.errors.PermissionDeniedError)
                else errno.EIO)
    return OSError(code, text.splitlines()[0] if text else os.strerror(code),
                   None if path is None else str(path))


def io_error(error):
    """`error` as an OSError when it is a failure of the filesystem (a full disk, a
    read-only folder...), else None (a bug or a bad input, to be raised as it is).
    A TensorFlow op's error becomes the OSError the OS gave it: its errno, its
    reason and the file, without the op's boilerplate."""
    if isinstance(error, OSError):  # without an errno: a file's content (PIL's
        return error if error.errno is not None else None  # "image file is truncated")
    if isinstance(error, tf.errors.OpError):
        text = str(getattr(error, "message", error))
        code = _errno_in(text)
        if code is not None:
            return OSError(code, os.strerror(code), _path_in(text))
    return None


def _path_in(text):
    """The first absolute path or URL in a TensorFlow error message, or None."""
    for word in text.replace(";", " ").replace(",", " ").split():
        word = word.strip("'\"()[]")
        if word.startswith("/") or "://" in word:
            return word
    return None


def remove_temporary(directory):
    """Deletes the temporary files (and folders) a killed writer left in `directory`
    (in a recording folder, only gan_tf's own), after finishing or undoing the folder
    swaps a kill cut short (`recover_folder`); returns the names found."""
    found = [name for name in listdir(directory) if name.startswith(TMP_PREFIX)]
    for name in found:
        swap = _SWAP_TMP.fullmatch(name)
        if swap and owned(join(directory, name)):
            recover_folder(join(directory, swap.group(1)))
    for name in found:
        path = join(directory, name)
        if isdir(path):
            rmtree(path)
        elif exists(path):
            remove(path)
    return found


def process_alive(pid):
    """Whether process `pid` of this host exists (one of another user counts too): the
    owner check of a lock or temporary folder that a killed process could not remove."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process
        return True
    return True


def reason(error):
    """A short human reason for an OSError: "No space left on device" etc."""
    return error.strerror or str(error)


def _swap_path(target, stage):
    directory, name = os.path.split(str(target).rstrip("/"))
    return join(directory, f"{TMP_PREFIX}{name}-{stage}")


def temporary_folder(target):
    """A new, empty temporary folder beside `target` to write its next content into
    (`replace_folder` then moves it into place); a swap that a kill cut short is
    finished first."""
    recover_folder(target)
    tmp = _swap_path(target, "export")
    rmtree(tmp)
    makedirs(tmp)
    return tmp


def _copy_tree(source, target):
    makedirs(target)
    for name in listdir(source):
        if isdir(join(source, name)):
            _copy_tree(join(source, name), join(target, name))
        else:
            tf.io.gfile.copy(join(source, name), join(target, name), overwrite=True)


def _link_or_copy(old, new):
    if not is_local(old) and isdir(old):
        _copy_tree(old, new)
    elif not is_local(old):
        tf.io.gfile.copy(old, new)
    elif os.path.isdir(old) and not os.path.islink(old):
        shutil.copytree(old, new, copy_function=os.link, symlinks=True)
    else:
        os.link(old, new, follow_symlinks=False)


def _carry_over(target, source):
    """Puts into `source` the entries of `target` that gan_tf did not write (hard
    links on local disks, else copies), into gan_tf's sub-folders too: until `source`
    replaces `target` the originals stay where they are, so no instant exists at
    which they are only in a temporary folder. Outside a recording folder every entry
    of `target` that `source` lacks is carried.

    Raises:
        NotWrittenError: an entry that gan_tf did not write has the name of one that
            `source` holds.
    """
    recorder, _ = _recorder_of(target)
    for name in listdir(target):
        old, new = join(target, name), join(source, name)
        if recorder is None:
            if not exists(new):
                _link_or_copy(old, new)
        elif not exists(new):
            if not owned(old):
                _link_or_copy(old, new)
        elif isdir(old) and isdir(new):
            _carry_over(old, new)
        elif not owned(old) and not (is_local(old) and os.path.samefile(old, new)):
            raise NotWrittenError(errno.EEXIST, "not written by gan_tf, and the new "
                                  "content has that name", str(old))


def replace_folder(source, target):
    """Moves the complete folder `source` (from `temporary_folder`) to `target`,
    replacing what gan_tf wrote there and keeping the rest (a user's files).

    On local disks the new folder appears with one rename: `source` (its user files
    carried over) becomes .tmp-<name>-new, `target` moves aside to .tmp-<name>-old,
    .tmp-<name>-new becomes `target`, and .tmp-<name>-old is deleted. A kill at any
    instant leaves the old content or the new one reachable; `recover_folder` (run
    by `remove_temporary` and the next `temporary_folder`) finishes the swap. Other
    filesystems get a copy (object stores cannot rename folders, and TensorFlow's
    ram:// reports a folder rename as done while the files stay at their old paths),
    announced by a .tmp-<name>-ready file so that a cut copy is finished too.
    """
    content = walk(source)
    recorder, _ = _recorder_of(target)
    if is_local(target) or recorder is None:  # elsewhere rmtree keeps a user's files
        _carry_over(target, source)
    _record_tree(target, content)
    if is_local(target):
        rename(source, _swap_path(target, "new"))
        _forget(source)
    else:
        write_atomic(_swap_path(target, "ready"), "")
    _faults.point("export", "ready")
    _finish_swap(target)


def _finish_swap(target):
    """The rest of a swap whose new content is complete (.tmp-<name>-new on local
    disks, .tmp-<name>-export announced by .tmp-<name>-ready elsewhere)."""
    old = _swap_path(target, "old")
    if is_local(target):
        new = _swap_path(target, "new")
        if exists(target):
            rmtree(old)  # a finished swap's: what it held is in `target` too
            _carry_over(target, new)  # what a user added since the swap began
            rename(target, old)
            _faults.point("export", "moved")
        try:
            rename(new, target)
        except (tf.errors.OpError, OSError):
            if exists(old) and not exists(target):
                rename(old, target)
            raise
        _forget(new)
    else:
        source = _swap_path(target, "export")
        rmtree(target)  # in a recording folder, only gan_tf's files
        _faults.point("export", "moved")
        _copy_tree(source, target)
        rmtree(source)
        remove(_swap_path(target, "ready"))
    _faults.point("export", "renamed")
    rmtree(old)
    recorder, rel = _recorder_of(target)
    if recorder is not None:
        recorder.forget_missing(rel)


def recover_folder(target):
    """Finishes a swap of `target` that a kill cut short, or undoes it, so that the
    old or the new content is at `target` (never lost), and deletes the temporary
    folders it left: a complete new content moves into place; a cut copy is deleted."""
    new, old = _swap_path(target, "new"), _swap_path(target, "old")
    ready = _swap_path(target, "ready")
    if exists(new) or (exists(ready) and exists(_swap_path(target, "export"))):
        _finish_swap(target)
    elif exists(old) and not exists(target):
        rename(old, target)  # moved aside, and nothing new to put there
    remove(ready)
    rmtree(old)  # the swap ended: its user files are linked into the new content
    rmtree(_swap_path(target, "export"))  # a cut write: the old content is in place
