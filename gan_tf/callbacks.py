"""Keras callbacks for GAN training: sample grids, history file, checkpoints.

All of them work once per epoch (never per step), reach the GAN through
`self.model`, and write only under the directories they are given.
"""

import json
import os
import re
import tempfile
import warnings

from absl import logging
import keras
import numpy as np
import tensorflow as tf

from gan_tf import viz


def atomic_write_text(path, text):
    """Writes a text file so that a crash leaves either the old or the new file."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


class SampleGrid(keras.callbacks.Callback):
    """Saves a grid of generated images from fixed noise after every epoch.

    Writes `directory/epoch_NNNN.png` (epochs counted from 1), rewrites
    `directory/progress.gif` from all the epoch PNGs there at the end of training,
    and, given `log_dir`, logs the grid to TensorBoard as the image "samples".
    The noise is fixed by `seed`, so the grids of successive epochs compare.

    Args:
        directory: folder for the PNGs and the GIF.
        num_images: images per grid (64: an 8x8 grid).
        seed: seed of the fixed latents.
        columns: images per row; default square.
        labels: class labels for a conditional GAN (default: cycle 0..9).
        log_dir: TensorBoard log folder, or None.
        every: write every `every` epochs (and after the last).
    """

    def __init__(self, directory, num_images=64, seed=0, columns=None, labels=None,
                 log_dir=None, every=1):
        super().__init__()
        self.directory = directory
        self.num_images = int(num_images)
        self.seed = int(seed)
        self.columns = columns
        self.labels = labels
        self.log_dir = log_dir
        self.every = max(1, int(every))
        self._writer = None

    def on_train_begin(self, logs=None):
        os.makedirs(self.directory, exist_ok=True)
        if self.log_dir and self._writer is None:
            self._writer = tf.summary.create_file_writer(os.path.join(self.log_dir, "train"))

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every == 0:
            self.write(epoch + 1)

    def on_train_end(self, logs=None):
        frames = sorted(os.path.join(self.directory, f) for f in os.listdir(self.directory)
                        if re.fullmatch(r"epoch_\d+\.png", f))
        viz.save_gif(frames, os.path.join(self.directory, "progress.gif"))

    def write(self, epoch):
        """Generates the grid for `epoch` and writes it; returns the PNG path."""
        gan = self.model
        labels = self.labels
        if gan.conditional and labels is None:
            labels = np.arange(self.num_images) % 10
        images = gan.generate(latents=gan.sample_latents(self.num_images, seed=self.seed),
                              labels=labels)
        path = os.path.join(self.directory, f"epoch_{epoch:04d}.png")
        viz.save_image_grid(images, path, columns=self.columns)
        if self._writer is not None:
            grid = viz.image_grid(images, self.columns)
            with self._writer.as_default():
                tf.summary.image("samples", grid[None], step=epoch)
            self._writer.flush()
        return path


class HistoryFile(keras.callbacks.Callback):
    """Appends each epoch's logs to a JSON file {name: [per-epoch values], "epoch": [...]}.

    An existing file is continued (a resumed run keeps its earlier epochs); epochs at
    or after the resumed one are replaced. The file is rewritten atomically.
    """

    def __init__(self, path):
        super().__init__()
        self.path = path
        self.history = read_history(path)

    def on_epoch_end(self, epoch, logs=None):
        epochs = self.history.setdefault("epoch", [])
        keep = sum(1 for e in epochs if e < epoch + 1)
        for key in list(self.history):
            self.history[key] = self.history[key][:keep]
        self.history["epoch"].append(epoch + 1)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, [None] * keep).append(float(value))
        for values in self.history.values():  # metrics logged only on some epochs
            values.extend([None] * (len(self.history["epoch"]) - len(values)))
        atomic_write_text(self.path, json.dumps(self.history, indent=1))


def read_history(path):
    """Returns the dict in a history.json, {} when there is none.

    Raises:
        ValueError: the file exists but is not a JSON object of lists.
    """
    if not os.path.exists(path):
        return {}
    try:
        with open(path) as f:
            history = json.load(f)
        if not isinstance(history, dict) or not all(isinstance(v, list)
                                                    for v in history.values()):
            raise ValueError("not a JSON object of lists")
    except ValueError as error:
        raise ValueError(f"{path} is corrupt ({error}); move it away or pass --restart") \
            from error
    return history


class Checkpoint(keras.callbacks.Callback):
    """Saves the GAN's full training state after every epoch and keeps the last `keep`.

    Each checkpoint `directory/ckpt-NNNN.weights.h5` holds both models, both optimizers'
    slots and the noise generator's state; `directory/checkpoint.json` names the latest
    and its epoch. Files are written to a temporary name and renamed, so a crash
    during a save leaves the previous checkpoint intact.

    `restore_latest(gan, directory)` brings a compiled GAN back to that state.
    """

    def __init__(self, directory, keep=3):
        super().__init__()
        self.directory = directory
        self.keep = max(1, int(keep))

    def on_epoch_end(self, epoch, logs=None):
        save(self.model, self.directory, epoch + 1, self.keep)


INDEX_FILE = "checkpoint.json"


def save(gan, directory, epoch, keep=3):
    """Writes checkpoint `epoch` of `gan` into `directory`; returns its path."""
    os.makedirs(directory, exist_ok=True)
    gan.build_optimizers()  # a checkpoint always holds the optimizers' slots
    name = f"ckpt-{epoch:04d}.weights.h5"
    path = os.path.join(directory, name)
    tmp = os.path.join(directory, f".tmp-{name}")
    gan.save_weights(tmp)
    os.replace(tmp, path)
    atomic_write_text(os.path.join(directory, INDEX_FILE),
                      json.dumps({"epoch": epoch, "file": name}, indent=1))
    old = sorted(f for f in os.listdir(directory) if re.fullmatch(r"ckpt-\d+\.weights\.h5", f))
    for stale in old[:-keep]:
        os.remove(os.path.join(directory, stale))
    return path


class CheckpointError(RuntimeError):
    """A checkpoint exists but cannot be read; the message names the file and the fix."""


def latest(directory):
    """Returns (epoch, path) of the latest checkpoint in `directory`, or None.

    Raises:
        CheckpointError: the index or the file it names is missing or unreadable.
    """
    index = os.path.join(directory, INDEX_FILE)
    if not os.path.exists(index):
        return None
    try:
        with open(index) as f:
            entry = json.load(f)
        epoch, name = int(entry["epoch"]), str(entry["file"])
    except (ValueError, KeyError, TypeError) as error:
        raise CheckpointError(f"checkpoint index {index} is corrupt ({error}); "
                              "delete the checkpoints folder or pass --restart") from error
    path = os.path.join(directory, name)
    if not os.path.exists(path):
        raise CheckpointError(f"{index} names {path}, which is missing; "
                              "pass --restart to start over")
    return epoch, path


def restore_latest(gan, directory):
    """Loads the latest checkpoint into a compiled `gan`.

    Returns:
        the epoch restored (training continues at this epoch index), or 0 when the
        directory has no checkpoint.

    Raises:
        CheckpointError: a checkpoint exists but does not load (corrupt, truncated,
            or from a different model); nothing is loaded partially then.
    """
    found = latest(directory)
    if found is None:
        return 0
    epoch, path = found
    gan.build_optimizers()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            gan.load_weights(path)
        skipped = [str(w.message) for w in caught if "Skipping" in str(w.message)]
        if skipped:  # Keras only warns when an optimizer's slots do not match
            raise ValueError(skipped[0].strip())
    except Exception as error:  # h5py and Keras raise many types for a bad file
        raise CheckpointError(
            f"cannot restore checkpoint {path}: {type(error).__name__}: "
            f"{str(error).splitlines()[0] if str(error) else ''}. The file is corrupt or "
            "from a different model; pass --restart to start over (the old run's "
            "files are replaced) or use another --workdir") from error
    logging.info("restored %s (epoch %d)", path, epoch)
    return epoch
