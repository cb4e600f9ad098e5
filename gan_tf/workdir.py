"""A run's folder: its lock, its manifest of what gan_tf wrote, and how it is reset.

    config.json      the run's config (`configs.Config.to_json`)
    versions.json    gan_tf, TensorFlow, Keras and Python versions that made it
    history.json     per-epoch logs (rewritten from the latest checkpoint's state)
    losses.png       the loss curves; metrics.png the FID/KID curves (--eval_every)
    samples/         epoch_NNNN.png, step_NNNNNNNNN.png, progress.gif
    checkpoints/     see gan_tf.checkpoint
    logs/            TensorBoard: train/ (scalars), samples/ (images)
    generator/       the exported SavedModel
    .gan_tf          the manifest: every file and folder gan_tf wrote here (JSON)
    .lock            held while a run writes (JSON: pid, host, start time)

One writer at a time: `Workdir.lock()` creates `.lock` exclusively and refuses, in one
line naming the running process, while another live run holds it; a lock whose
process is gone (same host) is stale and taken over.

Ownership by record, not by name: while a run holds the lock, every write, rename and
deletion under the folder goes through its `Manifest` (gan_tf.fileio asks it), which
records each path before it is created. `restart()`, the start-up clean-up of
temporary files and the export's swap delete or replace only what the manifest lists;
anything else in the folder, in gan_tf's sub-folders too, is the user's and stays. A
run refuses a folder that holds files under the names a run writes (history.json,
samples/progress.gif...) that the manifest does not list (`check_ownership`): it would
replace them. A `.gan_tf` without a list (a workdir made before the manifest) or a
damaged one is rebuilt from the names gan_tf writes.
"""

import contextlib
import datetime
import errno
import fnmatch
import json
import os
import posixpath
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
EXPORT = "generator"  # the folder of the run's exported generator (gan_tf.export)
# The folders of the TensorBoard logs (the Keras callback's and the sample grids').
LOG_FOLDERS = ("logs/train", "logs/samples")
# What a run writes under names fixed in advance (paths relative to the workdir): a
# folder holding one of them that gan_tf did not write is refused, before any write.
_RUN_FILES = re.compile(
    r"(config|versions|history)\.json|(losses|metrics)\.png|"
    r"samples/((epoch|step)_\d+\.png|progress\.gif)|"
    r"checkpoints/(ckpt-\d+(-\d+)?\.(weights\.h5|state\.json)|checkpoint\.json|"
    r"best\.(weights\.h5|json))|"
    r"generator/(saved_model\.pb|fingerprint\.pb|gan_tf_export\.json|"
    r"variables/variables\.(index|data-\d+-of-\d+))")
_RUN_FOLDERS = ("", "samples", "checkpoints", "generator", "generator/variables")
# Everything gan_tf wrote by name before the manifest: a workdir without a list, or
# with a damaged one, takes these (where they are) as gan_tf's.
_ADOPTED = re.compile(
    _RUN_FILES.pattern + r"|metrics\.json|report\.md|eval_(samples|tsne|classes)\.png|"
    r"checkpoints/abandoned/ckpt-\d+(-\d+)?\.(weights\.h5|state\.json)|"
    r"logs/(train|samples|validation)/events\.out\.tfevents\..*|"
    r"generator/keras_metadata\.pb|\.tmp-generator-(export|old)")
_ADOPTED_FOLDERS = _RUN_FOLDERS + ("checkpoints/abandoned", "logs", "logs/train",
                                   "logs/samples", "logs/validation", "generator/assets")


class WorkdirError(RuntimeError):
    """The workdir cannot be used as asked; the message names the reason and the fix."""


class Workdir:
    """The folder of one run (any tf.io.gfile path).

    Attributes:
        path: the folder.
        manifest: its `Manifest` while this process holds the lock, else None.
    """

    def __init__(self, path):
        self.path = str(path).rstrip("/") or "."
        self.manifest = None

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
        """True when a run recorded what it wrote here (the folder has a manifest)."""
        return fileio.exists(self / MARKER)

    # -- Lock ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self):
        """Holds `.lock` for the block (creating the folder if needed; a folder this
        call created is removed again if the block fails before writing anything),
        with the folder's `Manifest` recording what is written.

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
            self.manifest = Manifest(self)
            with fileio.recording(self.path, self.manifest):
                try:
                    yield self
                finally:
                    self.manifest.close()
        finally:
            self.manifest = None
            held.release()
            if created and self.is_empty:
                fileio.rmtree(self.path)

    # -- Contents -----------------------------------------------------------------------

    def check_ownership(self):
        """Refuses a folder holding files under the names a run writes that gan_tf did
        not write (the run would replace them); needs the lock.

        Raises:
            WorkdirError: naming them and the fix.
        """
        found = self.manifest.foreign_run_files()
        if found:
            more = f" and {len(found) - 5} more" if len(found) > 5 else ""
            them = "them" if len(found) > 1 else "it"
            raise WorkdirError(
                f"{self.path} holds {', '.join(found[:5])}{more}, which gan_tf did not "
                f"write there and a run would replace; move {them} out of the folder or "
                "choose another --workdir")

    def record_event_files(self):
        """Records this process's TensorBoard event files as gan_tf's (TensorFlow names
        them as it writes: events.out.tfevents.<time>.<host>.<pid>.<n>.v2) and makes
        their folders; needs the lock."""
        self.manifest.add_pattern(f"logs/*/events.out.tfevents.*.{socket.gethostname()}."
                                  f"{os.getpid()}.*")
        for folder in LOG_FOLDERS:
            fileio.makedirs(self / folder)

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
        """Deletes what killed writers of gan_tf left (temporary files here and in
        samples/), after finishing the export's swap a kill cut short; needs the lock."""
        removed = fileio.remove_temporary(self.path)
        removed += fileio.remove_temporary(self / "samples")
        return removed

    def restart(self):
        """Deletes what gan_tf wrote in this folder, as its manifest lists it, and
        nothing else; needs the lock.

        Raises:
            WorkdirError: the folder has content but no manifest: no run recorded
                anything here.
        """
        if not self.exists or self.is_empty:
            return []
        if not self.manifest.found:
            raise WorkdirError(
                f"--restart deletes only the files a run recorded in {MARKER}, and "
                f"{self.path} has none: no run wrote there. Drop --restart (a run "
                "writes beside the folder's files) or choose another --workdir")
        return self.manifest.delete_all()


class Manifest:
    """The record of what gan_tf wrote in a workdir: `.gan_tf`, a JSON object

        {"created": ISO time, "gan_tf": version,
         "written": [paths relative to the workdir; folders end with "/"],
         "patterns": [fnmatch patterns of files named only as they are written:
                      TensorBoard's event files of one process (host and pid)]}

    gan_tf.fileio asks it before each write in the folder (`before_write` records a
    new path, which is then created: a kill between the two leaves a record of a
    missing file, which is harmless) and tells it of each deletion (`forget`, saved
    with the next record or at the end). A temporary file of an atomic write
    (.tmp-<name>-<8 hex digits>) is gan_tf's when <name> is; a recorded temporary
    folder holds only gan_tf's files (or links of files kept elsewhere too). The
    manifest itself and the lock are gan_tf's.

    Attributes:
        found: the folder had a `.gan_tf` (a run recorded something there).
    """

    def __init__(self, workdir):
        self.workdir, self.path = workdir, workdir / MARKER
        self.written, self.patterns = set(), []
        self.created = None
        self.found = fileio.exists(self.path)
        self._dirty = False
        if self.found:
            self._load()

    def _load(self):
        try:
            recorded = json.loads(fileio.read_text(self.path))
            written = recorded.get("written") if isinstance(recorded, dict) else None
            if written is None and isinstance(recorded, dict) and "created" in recorded:
                logging.info("%s was made before gan_tf recorded what it writes: taking "
                             "the files with gan_tf's names as gan_tf's", self.workdir.path)
                self.created = recorded.get("created")
                return self._adopt()
            patterns = recorded.get("patterns", [])
            if not (isinstance(written, list) and isinstance(patterns, list) and all(
                    isinstance(x, str) for x in written + patterns)):
                raise ValueError("not a manifest")
        except Exception as error:  # noqa: BLE001 - JSON, UTF-8, gfile errors alike
            logging.warning("%s is damaged (%s): taking the files with gan_tf's names as "
                            "gan_tf's", self.path, str(error).splitlines()[0][:80])
            return self._adopt()
        self.created = recorded.get("created")
        self.written, self.patterns = set(written), list(patterns)

    def _adopt(self):
        for folder in _ADOPTED_FOLDERS:
            for name in fileio.listdir(self.workdir / folder if folder else self.workdir.path):
                rel = posixpath.join(folder, name)
                if fileio.isdir(self.workdir / rel):
                    if rel in _ADOPTED_FOLDERS or _ADOPTED.fullmatch(rel):
                        self.written.add(rel + "/")
                elif _ADOPTED.fullmatch(rel):
                    self.written.add(rel)

    # -- What is gan_tf's ---------------------------------------------------------------

    def owns(self, rel):
        """Whether gan_tf wrote `rel` (a path relative to the workdir)."""
        rel = rel.rstrip("/")
        if rel in (MARKER, LOCK) or rel in self.written or rel + "/" in self.written:
            return True
        if self.owns_all(posixpath.dirname(rel)):
            return True
        directory, name = posixpath.split(rel)
        atomic = fileio.ATOMIC_TMP.fullmatch(name)
        if atomic and self.owns(posixpath.join(directory, atomic.group(1))):
            return True
        return any(fnmatch.fnmatchcase(rel, pattern) for pattern in self.patterns)

    def owns_all(self, rel):
        """Whether `rel` is a recorded temporary folder or lies in one (all of it is
        gan_tf's)."""
        parts = rel.strip("/").split("/") if rel.strip("/") else []
        return any(part.startswith(fileio.TMP_PREFIX) and
                   "/".join(parts[:i + 1]) + "/" in self.written
                   for i, part in enumerate(parts))

    def foreign_run_files(self):
        """The files under names a run writes that gan_tf did not write here."""
        found = []
        for folder in _RUN_FOLDERS:
            for name in fileio.listdir(self.workdir / folder if folder else
                                       self.workdir.path):
                rel = posixpath.join(folder, name)
                if _RUN_FILES.fullmatch(rel) and not self.owns(rel):
                    found.append(rel)
        return found

    # -- Recording (gan_tf.fileio calls these) ------------------------------------------

    def before_write(self, rel, folder=False):
        """Records `rel`, about to be created, and its missing parent folders.

        Raises:
            fileio.NotWrittenError: `rel` exists but gan_tf did not write it.
        """
        if self.owns(rel):
            return
        if fileio.exists(self.workdir / rel):
            raise fileio.NotWrittenError(errno.EEXIST, "not written by gan_tf",
                                         self.workdir / rel)
        new = [rel + "/" if folder else rel]
        parent = posixpath.dirname(rel)
        while parent and not self.owns(parent) and not fileio.exists(self.workdir / parent):
            new.append(parent + "/")
            parent = posixpath.dirname(parent)
        self.record(new)

    def record(self, paths):
        """Adds `paths` (relative; folders end with "/") and saves the manifest."""
        before = len(self.written)
        self.written.update(paths)
        if len(self.written) != before or self._dirty or not self.found:
            self.save()

    def add_pattern(self, pattern):
        if pattern not in self.patterns:
            self.patterns.append(pattern)
            self.save()

    def forget(self, rel):
        """`rel` (and what it held) was deleted."""
        rel = rel.rstrip("/")
        gone = {p for p in self.written if p in (rel, rel + "/") or p.startswith(rel + "/")}
        if gone:
            self.written -= gone
            self._dirty = True

    def forget_missing(self, rel):
        """Forgets what is recorded under the folder `rel` but is no longer there."""
        for path in [p for p in self.written if p.startswith(rel.rstrip("/") + "/")]:
            if not fileio.exists(self.workdir / path.rstrip("/")):
                self.written.discard(path)
                self._dirty = True

    def save(self):
        """Writes `.gan_tf` (atomically)."""
        self.created = self.created or datetime.datetime.now().isoformat(timespec="seconds")
        fileio.write_atomic(self.path, json.dumps(
            {"created": self.created, "gan_tf": gan_tf.__version__,
             "written": sorted(self.written), "patterns": self.patterns}, indent=0))
        self.found, self._dirty = True, False

    def close(self):
        """Saves the deletions not saved yet (a failure only warns: they are records
        of missing files, harmless)."""
        if self._dirty:
            try:
                self.save()
            except OSError as error:
                logging.warning("cannot write %s: %s", self.path, fileio.reason(error))

    def delete_all(self):
        """Deletes every file and folder recorded (a folder only once empty: a user's
        files stay in it) and the files of the patterns; returns the paths deleted."""
        removed = []
        for rel in sorted(p for p in self.written if not p.endswith("/")):
            if fileio.exists(self.workdir / rel):
                fileio.remove(self.workdir / rel)
                removed.append(rel)
        for pattern in self.patterns:
            top = pattern.split("*")[0].rsplit("/", 1)[0]
            for rel in fileio.walk(self.workdir / top) if top else []:
                rel = posixpath.join(top, rel)
                if fnmatch.fnmatchcase(rel, pattern):
                    fileio.remove(self.workdir / rel)
                    removed.append(rel)
        for rel in sorted((p for p in self.written if p.endswith("/")),
                          key=lambda p: -p.count("/")):
            if fileio.isdir(self.workdir / rel):
                fileio.rmtree(self.workdir / rel)
                if not fileio.exists(self.workdir / rel):
                    removed.append(rel)
        self.written, self.patterns = set(), []
        self.save()
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
