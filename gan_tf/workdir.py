"""A run's folder: its lock, its marker, what it holds and how it is reset.

    config.json      the run's config (`configs.Config.to_json`)
    versions.json    gan_tf, TensorFlow, Keras and Python versions that made it
    history.json     per-epoch logs (rewritten from the latest checkpoint's state)
    losses.png       the loss curves; metrics.png the FID/KID curves (--eval_every)
    samples/         epoch_NNNN.png, step_NNNNNNNNN.png, progress.gif
    checkpoints/     see gan_tf.checkpoint
    logs/            TensorBoard: train/ (scalars), samples/ (images)
    generator/       the exported SavedModel
    .gan_tf          the marker: gan_tf made this folder (JSON: when, which version)
    .lock            held while a run writes (JSON: pid, host, start time)

One writer at a time: `Workdir.lock()` creates `.lock` exclusively and refuses, in one
line naming the running process, while another live run holds it; a lock whose
process is gone (same host) is stale and taken over. `restart()` deletes only what
gan_tf writes (the names above), only in a folder that carries the marker.
"""

import contextlib
import datetime
import json
import os
import re
import platform
import socket

from absl import logging
import keras
import tensorflow as tf

import gan_tf
from gan_tf import configs
from gan_tf import fileio

MARKER = ".gan_tf"
LOCK = ".lock"
CONFIG = "config.json"
VERSIONS = "versions.json"
HISTORY = "history.json"
# What gan_tf writes at the top of a workdir: files, and folders of its own names
# (full-match patterns). `restart` deletes these and nothing else.
_FILES = (CONFIG, VERSIONS, HISTORY, "losses.png", "metrics.png", "metrics.json",
          "report.md", "eval_samples.png", "eval_tsne.png", "eval_classes.png")
_TMP = re.escape(fileio.TMP_PREFIX) + ".*"
_FOLDERS = {
    "samples": re.compile(rf"(epoch|step)_\d+\.png|progress\.gif|{_TMP}"),
    "checkpoints": re.compile(r"ckpt-\d+(-\d+)?\.(weights\.h5|state\.json)|"
                              rf"checkpoint\.json|best\.(weights\.h5|json)|abandoned|{_TMP}"),
    "logs": re.compile(r"train|samples|validation|events\.out\.tfevents\..*"),
    "generator": re.compile(r"saved_model\.pb|variables|assets|fingerprint\.pb|"
                            r"gan_tf_export\.json|keras_metadata\.pb"),
}


class WorkdirError(RuntimeError):
    """The workdir cannot be used as asked; the message names the reason and the fix."""


class Workdir:
    """The folder of one run (any tf.io.gfile path).

    Attributes:
        path: the folder.
    """

    def __init__(self, path):
        self.path = str(path).rstrip("/") or "."

    def __truediv__(self, name):
        return fileio.join(self.path, name)

    @property
    def exists(self):
        return fileio.isdir(self.path)

    @property
    def is_empty(self):
        return not [name for name in fileio.listdir(self.path) if name != LOCK]

    @property
    def is_gan_tf(self):
        return fileio.exists(self / MARKER)

    @property
    def holds_only_gan_tf_names(self):
        """True when every entry, and every entry of gan_tf's folders, is a name
        gan_tf writes: a folder gan_tf filled without its marker (the marker lost, or
        the callbacks writing there outside the trainer)."""
        ours = set(_FILES) | set(_FOLDERS) | {MARKER, LOCK}
        for name in fileio.listdir(self.path):
            if name not in ours and not name.startswith(fileio.TMP_PREFIX):
                return False
            if name in _FOLDERS and not all(_FOLDERS[name].fullmatch(entry) for entry
                                            in fileio.listdir(self / name)):
                return False
        return True

    # -- Lock ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self):
        """Holds `.lock` for the block (creating the folder if needed; a folder this
        call created is removed again if the block fails before writing anything).

        Raises:
            WorkdirError: another live run holds the lock.
        """
        created = not self.exists
        try:
            fileio.makedirs(self.path)
        except Exception as error:  # noqa: BLE001 - gfile errors and OSErrors alike
            raise WorkdirError(f"cannot create the workdir {self.path}: "
                               f"{str(error).splitlines()[0]}; choose a writable "
                               "--workdir") from error
        held = _LocalLock(self) if fileio.is_local(self.path) else _FileLock(self)
        held.acquire()
        try:
            yield self
        finally:
            held.release()
            if created and self.is_empty:
                fileio.rmtree(self.path)

    # -- Contents -----------------------------------------------------------------------

    def mark(self):
        """Writes the marker (once): gan_tf made this folder."""
        if not self.is_gan_tf:
            fileio.write_atomic(self / MARKER, json.dumps(
                {"created": datetime.datetime.now().isoformat(timespec="seconds"),
                 "gan_tf": gan_tf.__version__}))

    def write_config(self, config):
        fileio.write_atomic(self / CONFIG, config.to_json())
        fileio.write_atomic(self / VERSIONS, json.dumps(versions(), indent=1))

    def read_config(self):
        """The `configs.Config` in config.json, or None when there is none.

        Raises:
            WorkdirError: it is unreadable.
        """
        if not fileio.exists(self / CONFIG):
            return None
        try:
            return read_config_file(self / CONFIG)
        except ValueError as error:
            raise WorkdirError(f"{self / CONFIG} is corrupt ({error}); pass --restart "
                               "to start over or choose another --workdir") from error

    def clean_temporary(self):
        """Deletes what killed writers left (temporary files here and in samples/)."""
        removed = fileio.remove_temporary(self.path)
        removed += fileio.remove_temporary(self / "samples")
        return removed

    def restart(self):
        """Deletes what gan_tf wrote in this folder (and nothing else).

        Raises:
            WorkdirError: the folder has content but no marker: gan_tf did not make it.
        """
        if not self.exists or self.is_empty:
            return []
        if not self.is_gan_tf:
            raise WorkdirError(
                f"--restart deletes only a run's files in a folder gan_tf made, and "
                f"{self.path} has no {MARKER} marker; choose another --workdir (or "
                "delete the folder yourself)")
        removed = []
        for name in _FILES:
            if fileio.exists(self / name):
                fileio.remove(self / name)
                removed.append(name)
        for folder, pattern in _FOLDERS.items():
            removed += self._clean_folder(folder, pattern)
        return removed

    def _clean_folder(self, folder, pattern):
        path = self / folder
        removed = []
        for name in fileio.listdir(path):
            if pattern.fullmatch(name):
                target = fileio.join(path, name)
                if fileio.isdir(target):
                    fileio.rmtree(target)
                else:
                    fileio.remove(target)
                removed.append(f"{folder}/{name}")
        if fileio.isdir(path) and not fileio.listdir(path):
            fileio.rmtree(path)
        return removed


def read_config_file(path):
    """The `configs.Config` a config.json file records (any tf.io.gfile path): the one
    reader of config.json files. Fields added since that run was recorded take their
    defaults.

    Raises:
        ValueError: the text is not a config (not JSON, an unknown field...); the
            message is the reason alone.
        OSError, tf.errors.OpError: the file cannot be read.
    """
    return configs.from_json(fileio.read_text(path))


def _busy(workdir, holder):
    holder = holder or {}
    who = (f"pid {holder.get('pid')} on {holder.get('host')}, since "
           f"{holder.get('started')}" if holder.get("pid") else "a run starting now")
    return WorkdirError(
        f"{workdir.path} is in use by another run ({who}); wait for it to finish or "
        f"stop it, or choose another --workdir (if no run uses it, delete "
        f"{workdir / LOCK})")


def _lock_content():
    return json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                       "started": datetime.datetime.now().isoformat(timespec="seconds")})


def _parse_lock(text):
    try:
        holder = json.loads(text)
    except ValueError:  # empty (being written) or damaged
        return None
    return holder if isinstance(holder, dict) else None


class _LocalLock:
    """`.lock` on a local disk: an exclusive `flock` on the file, which the kernel
    releases when the process ends however it ends (`kill -9` included), so a lock
    left by a dead run is never mistaken for a live one, whatever its pid became.
    The file's JSON (pid, host, start) names the holder in the message of a refused
    run. Filesystems without flock get `_FileLock`'s pid check."""

    def __init__(self, workdir):
        self.workdir, self.path, self.fd = workdir, workdir / LOCK, None

    def acquire(self):
        for _ in range(10):
            fd = self._open()
            try:
                import fcntl  # POSIX only: elsewhere the fallback below

                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _parse_lock(_read_fd(fd))
                os.close(fd)
                raise _busy(self.workdir, holder) from None
            except (OSError, ImportError):  # no flock here (some network filesystems)
                os.close(fd)
                self.fallback = _FileLock(self.workdir)
                self.fallback.acquire()
                return
            if self._replaced(fd):  # a releasing run deleted it meanwhile: again
                os.close(fd)
                continue
            self._write(fd)
            return
        raise WorkdirError(f"cannot take the lock {self.path}; remove it if no run uses "
                           "this workdir")

    def _open(self):
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise WorkdirError(f"cannot write {self.path}: {fileio.reason(error)}; choose "
                               "a writable --workdir") from error

    def _replaced(self, fd):
        try:
            return os.fstat(fd).st_ino != os.stat(self.path).st_ino
        except FileNotFoundError:
            return True

    def _write(self, fd):
        previous = _parse_lock(_read_fd(fd))
        if previous and previous.get("pid") != os.getpid():
            logging.warning("taking over the lock of %s left by pid %s on %s (that run "
                            "is gone)", self.workdir.path, previous.get("pid"),
                            previous.get("host"))
        content = _lock_content().encode()
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, content, 0)
        except OSError as error:  # a full disk: the flock alone still excludes others
            logging.warning("cannot write %s: %s", self.path, fileio.reason(error))
        self.fd = fd

    def release(self):
        if getattr(self, "fallback", None) is not None:
            self.fallback.release()
            return
        if self.fd is None:
            return
        try:
            if not self._replaced(self.fd):
                os.remove(self.path)  # before the unlock: nobody takes a dying file
        except OSError:
            pass
        os.close(self.fd)
        self.fd = None


def _read_fd(fd):
    try:
        return os.pread(fd, 4096, 0).decode("utf-8", "replace")
    except OSError:
        return ""


class _FileLock:
    """`.lock` where flock is not available (object stores, some network
    filesystems): created exclusively where the filesystem can, its process checked
    for life (on the same host only: others cannot be told)."""

    def __init__(self, workdir):
        self.workdir, self.path = workdir, workdir / LOCK

    def acquire(self):
        for _ in range(3):
            if self._create(_lock_content()):
                return
            holder = self._read()
            if holder is None or _is_stale(holder):
                logging.warning("removing the stale lock of %s (pid %s on %s, gone)",
                                self.workdir.path, (holder or {}).get("pid"),
                                (holder or {}).get("host"))
                fileio.remove(self.path)
                continue
            raise _busy(self.workdir, holder)
        raise WorkdirError(f"cannot take the lock {self.path}; remove it if no run "
                           "uses this workdir")

    def _create(self, content):
        if fileio.is_local(self.path):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                return False
            except OSError as error:
                raise WorkdirError(f"cannot write {self.path}: {fileio.reason(error)}; "
                                   "choose a writable --workdir") from error
            with os.fdopen(fd, "w") as f:
                f.write(content)
            return True
        if fileio.exists(self.path):  # object stores: no exclusive create, best effort
            return False
        fileio.write_atomic(self.path, content)
        return True

    def _read(self):
        try:
            return _parse_lock(fileio.read_text(self.path))
        except Exception:  # noqa: BLE001 - a vanished lock
            return None

    def release(self):
        holder = self._read()
        if holder is not None and holder.get("pid") == os.getpid() and \
                holder.get("host") == socket.gethostname():
            fileio.remove(self.path)


def _is_stale(holder):
    """True when the lock's process is gone (same host only: others cannot be told)."""
    if holder.get("host") != socket.gethostname():
        return False
    try:
        pid = int(holder.get("pid", -1))
    except (TypeError, ValueError):
        return True
    return not fileio.process_alive(pid)


def versions():
    """The versions that, with config.json, reproduce a run."""
    return {"gan_tf": gan_tf.__version__, "tensorflow": tf.__version__,
            "keras": keras.__version__, "python": platform.python_version()}
