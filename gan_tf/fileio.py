"""File I/O of a run: every path goes through `tf.io.gfile`, every write is atomic.

Workdirs may live on any filesystem TensorFlow knows: local folders, `gs://`,
`hdfs://`, `s3://` (through plugins), or `ram://` (TensorFlow's in-memory filesystem,
which the tests use). A write goes to a temporary file beside its target, which is
then renamed over it, so a reader (or a run resumed after `kill -9`) sees either the
old or the new content, never a part. On local disks the data is also fsync'ed before
the rename, and the folder after it, so the rename survives a power cut.

Temporary files start with `TMP_PREFIX`; `remove_temporary` deletes those a killed
writer left behind.
"""

import errno
import os
import shutil
import uuid

import tensorflow as tf

from gan_tf import _faults

TMP_PREFIX = ".tmp-"


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
    tf.io.gfile.makedirs(str(path))


def remove(path):
    """Removes a file; a missing file is not an error."""
    try:
        tf.io.gfile.remove(str(path))
    except tf.errors.NotFoundError:
        pass


def rmtree(path):
    """Removes a folder and everything below it; a missing folder is not an error."""
    if isdir(path):
        tf.io.gfile.rmtree(str(path))


def rename(source, target):
    """Renames `source` to `target`, replacing a file there (atomic where the
    filesystem's rename is)."""
    tf.io.gfile.rename(str(source), str(target), overwrite=True)


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
        OSError: the write failed (errno ENOSPC for a full disk, EACCES for a
            read-only folder...); the previous file at `path` is untouched and no
            temporary file is left.
    """
    data = content.encode("utf-8") if isinstance(content, str) else bytes(content)
    directory = os.path.dirname(str(path))
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
    if isinstance(error, OSError):
        return error
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
    """Deletes the temporary files (and folders) a killed writer left in `directory`;
    returns their names."""
    found = [name for name in listdir(directory) if name.startswith(TMP_PREFIX)]
    for name in found:
        path = join(directory, name)
        if isdir(path):
            rmtree(path)
        else:
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


def remove_temporary_named(directory, name):
    """Deletes the temporary files and folders left for target `name` in `directory`."""
    for entry in listdir(directory):
        if entry.startswith(f"{TMP_PREFIX}{name}-"):
            path = join(directory, entry)
            if isdir(path):
                rmtree(path)
            else:
                remove(path)


def _copy_tree(source, target):
    makedirs(target)
    for name in listdir(source):
        if isdir(join(source, name)):
            _copy_tree(join(source, name), join(target, name))
        else:
            tf.io.gfile.copy(join(source, name), join(target, name), overwrite=True)


def _carry_over(target, source):
    """Puts into `source` what `target` holds and `source` does not (hard links on
    local disks, else copies): until `source` replaces `target`, the originals stay
    where they are, so no instant exists at which they are only in a temporary folder."""
    for name in listdir(target) if isdir(target) else []:
        old, new = join(target, name), join(source, name)
        if exists(new):
            continue
        if not is_local(old) and isdir(old):
            _copy_tree(old, new)
        elif not is_local(old):
            tf.io.gfile.copy(old, new)
        elif os.path.isdir(old):
            shutil.copytree(old, new, copy_function=os.link, symlinks=True)
        else:
            os.link(old, new)


def replace_folder(source, target, keep_others=False):
    """Moves the folder `source` to `target`, replacing what is there.

    On local disks the new folder appears with one rename (the old one is moved aside
    first and deleted after; on failure it is moved back). Other filesystems get a
    copy: object stores cannot rename folders, and some filesystems (TensorFlow's
    ram://) report a folder rename as done while the files stay at their old paths.
    With `keep_others`, the entries of the old `target` that `source` does not have (a
    user's files) are kept.
    """
    if keep_others:
        _carry_over(target, source)
    if not is_local(target):
        rmtree(target)
        _copy_tree(source, target)
        rmtree(source)
        return
    directory, name = os.path.split(str(target).rstrip("/"))
    old = join(directory, f"{TMP_PREFIX}{name}-old")
    moved = False
    try:
        if exists(target):
            rmtree(old)
            rename(target, old)
            moved = True
        rename(source, target)
    except (tf.errors.OpError, OSError):
        if moved and not exists(target):
            rename(old, target)
        raise
    if moved:
        rmtree(old)
