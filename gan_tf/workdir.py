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
import errno
import json
import os
import platform
import socket

from absl import logging

from gan_tf import fileio

MARKER = ".gan_tf"
LOCK = ".lock"
CONFIG = "config.json"
VERSIONS = "versions.json"
HISTORY = "history.json"
# What gan_tf writes at the top of a workdir: files, and folders with their own names.
_FILES = (CONFIG, VERSIONS, HISTORY, "losses.png", "metrics.png", "metrics.json",
          "report.md", "eval_samples.png", "eval_tsne.png", "eval_classes.png")
_FOLDERS = {
    "samples": ("epoch_", "step_", "progress.gif", fileio.TMP_PREFIX),
    "checkpoints": ("ckpt-", "checkpoint.json", "best.", "abandoned", fileio.TMP_PREFIX),
    "logs": ("train", "samples", "validation"),
    "generator": ("saved_model.pb", "variables", "assets", "fingerprint.pb",
                  "gan_tf_export.json", "keras_metadata.pb"),
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
        """True when every entry is a name gan_tf writes (a gan_tf 0.1 workdir has no
        marker but only such names)."""
        ours = set(_FILES) | set(_FOLDERS) | {MARKER, LOCK}
        return all(name in ours or name.startswith(fileio.TMP_PREFIX)
                   for name in fileio.listdir(self.path))

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
        self._acquire()
        try:
            yield self
        finally:
            self._release()
            if created and self.is_empty:
                fileio.rmtree(self.path)

    def _acquire(self):
        mine = {"pid": os.getpid(), "host": socket.gethostname(),
                "started": datetime.datetime.now().isoformat(timespec="seconds")}
        for _ in range(3):
            if self._create_lock(json.dumps(mine)):
                return
            holder = self._read_lock()
            if holder is None or _is_stale(holder):
                logging.warning("removing the stale lock of %s (pid %s on %s, gone)",
                                self.path, (holder or {}).get("pid"),
                                (holder or {}).get("host"))
                fileio.remove(self / LOCK)
                continue
            raise WorkdirError(
                f"{self.path} is in use by another run (pid {holder.get('pid')} on "
                f"{holder.get('host')}, since {holder.get('started')}); wait for it to "
                f"finish or stop it, or choose another --workdir (if no run uses it, "
                f"delete {self / LOCK})")
        raise WorkdirError(f"cannot take the lock {self / LOCK}; remove it if no run "
                           "uses this workdir")

    def _create_lock(self, content):
        path = self / LOCK
        if fileio.is_local(path):
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                return False
            except OSError as error:
                raise WorkdirError(f"cannot write {path}: {fileio.reason(error)}; choose "
                                   "a writable --workdir") from error
            with os.fdopen(fd, "w") as f:
                f.write(content)
            return True
        if fileio.exists(path):  # object stores: no exclusive create, best effort
            return False
        fileio.write_atomic(path, content)
        return True

    def _read_lock(self):
        try:
            return json.loads(fileio.read_text(self / LOCK))
        except Exception:  # noqa: BLE001 - a half-written or vanished lock
            return None

    def _release(self):
        holder = self._read_lock()
        if holder is not None and holder.get("pid") == os.getpid() and \
                holder.get("host") == socket.gethostname():
            fileio.remove(self / LOCK)

    # -- Contents -----------------------------------------------------------------------

    def mark(self):
        """Writes the marker (once): gan_tf made this folder."""
        if not self.is_gan_tf:
            import gan_tf

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
        from gan_tf import configs

        if not fileio.exists(self / CONFIG):
            return None
        try:
            recorded = json.loads(fileio.read_text(self / CONFIG))
            # Fields added since that run was recorded take their defaults.
            return configs.Config.from_dict(configs._lists_to_tuples(recorded))
        except (ValueError, TypeError, AttributeError) as error:
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
        for folder, prefixes in _FOLDERS.items():
            removed += self._clean_folder(folder, prefixes)
        return removed

    def _clean_folder(self, folder, prefixes):
        path = self / folder
        removed = []
        for name in fileio.listdir(path):
            if name.startswith(tuple(prefixes)) or (folder == "logs" and
                                                    name.startswith("events.out")):
                target = fileio.join(path, name)
                if fileio.isdir(target):
                    fileio.rmtree(target)
                else:
                    fileio.remove(target)
                removed.append(f"{folder}/{name}")
        if fileio.isdir(path) and not fileio.listdir(path):
            fileio.rmtree(path)
        return removed


def _is_stale(holder):
    """True when the lock's process is gone (same host only: others cannot be told)."""
    if holder.get("host") != socket.gethostname():
        return False
    try:
        os.kill(int(holder.get("pid", -1)), 0)
    except OSError as error:
        return error.errno == errno.ESRCH
    except (TypeError, ValueError):
        return True
    return False


def versions():
    """The versions that, with config.json, reproduce a run."""
    import keras
    import tensorflow as tf

    import gan_tf

    return {"gan_tf": gan_tf.__version__, "tensorflow": tf.__version__,
            "keras": keras.__version__, "python": platform.python_version()}
