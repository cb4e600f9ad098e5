"""Keras callbacks for GAN training: sample grids, history file, checkpoints.

All of them work once per epoch (never per step), reach the GAN through
`self.model`, and write only under the directories they are given.
"""

import json
import os
import re
import tempfile
import time
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
        if (epoch + 1) % self.every == 0 and not getattr(self.model, "diverged", None):
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


class TranslationGrid(SampleGrid):
    """SampleGrid for image-to-image models (CycleGAN): fixed inputs and their
    translations after every epoch.

    Each PNG has six rows of `len(images_a)` columns: A, G_AB(A), G_BA(G_AB(A)), then
    B, G_BA(B), G_AB(G_BA(B)); a mid-grey border separates the images (MNIST's
    black and inverted white backgrounds both stand out). Files, GIF and TensorBoard
    image as `SampleGrid`.

    Args:
        directory: folder for the PNGs and the GIF.
        images_a: float (n, H, W, C_a) in [-1, 1], fixed A inputs.
        images_b: float (n, H, W, C_b) in [-1, 1], fixed B inputs.
        log_dir, every: as `SampleGrid`.
    """

    def __init__(self, directory, images_a, images_b, log_dir=None, every=1):
        super().__init__(directory, num_images=len(images_a), columns=len(images_a),
                         log_dir=log_dir, every=every)
        self.images_a = np.asarray(images_a, np.float32)
        self.images_b = np.asarray(images_b, np.float32)

    def write(self, epoch):
        """Translates the fixed images for `epoch` and writes the grid; returns its path."""
        model = self.model
        fake_b = model.translate(self.images_a, "a2b")
        fake_a = model.translate(self.images_b, "b2a")
        rows = [self.images_a, fake_b, model.translate(fake_b, "b2a"),
                self.images_b, fake_a, model.translate(fake_a, "a2b")]
        channels = max(r.shape[-1] for r in rows)
        images = np.concatenate([np.broadcast_to(r, r.shape[:-1] + (channels,))
                                 for r in rows])
        grid = viz.image_grid(images, self.columns, pad_value=128)
        path = os.path.join(self.directory, f"epoch_{epoch:04d}.png")
        viz.save_image_grid(grid[None], path, columns=1)
        if self._writer is not None:
            with self._writer.as_default():
                tf.summary.image("samples", grid[None], step=epoch)
            self._writer.flush()
        return path


class TimeBudget(keras.callbacks.Callback):
    """Stops training once `minutes` of wall-clock time have passed since the first batch.

    Checked after every batch (with steps_per_execution = k, every k steps), so
    training overruns the budget by at most one call of the training function. The
    run then ends as after its last epoch: `fit` returns and the remaining epoch-end
    work runs. `stopped` says whether the budget ended training.

    Args:
        minutes: the budget, > 0.
        elapsed_seconds: time already spent in an earlier part of the same run (a
            resumed run continues its budget).

    Raises:
        ValueError: minutes <= 0.
    """

    def __init__(self, minutes, elapsed_seconds=0.0):
        super().__init__()
        if not minutes > 0:
            raise ValueError(f"train_minutes must be > 0, got {minutes!r}")
        self.seconds = 60.0 * float(minutes)
        self.elapsed_seconds = float(elapsed_seconds)
        self.stopped = False
        self._start = None

    def on_train_begin(self, logs=None):
        self._start = time.monotonic() - self.elapsed_seconds

    def on_train_batch_end(self, batch, logs=None):
        if time.monotonic() - self._start >= self.seconds:
            self.stopped = True
            self.model.stop_training = True

    @property
    def spent_seconds(self):
        """Training seconds spent so far, this part of the run included."""
        return self.elapsed_seconds if self._start is None else \
            time.monotonic() - self._start


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
    slots (and learning rates), every RNG state (noise, dropout) and the step count;
    `directory/checkpoint.json` names the latest, its epoch, step, the running means
    of the epoch in progress and `extra` (e.g. the number of rollbacks). With
    `every_steps` it also saves `ckpt-NNNN-SSSSSSSSS.weights.h5` in the middle of
    epoch NNNN every that many steps. Files are written to a temporary name and
    renamed, so a crash during a save leaves the previous checkpoint intact. A GAN
    whose weights are not finite is never saved (a diverged run keeps its last good
    checkpoint).

    `restore_latest(gan, directory)` brings a compiled GAN back to that state.
    """

    def __init__(self, directory, keep=3, every_steps=0, extra=None):
        super().__init__()
        self.directory = directory
        self.keep = max(1, int(keep))
        self.every_steps = int(every_steps or 0)
        self.extra = extra if extra is not None else {}
        self._epoch = 0
        self._last_batch = -1   # index of the last step seen in this epoch

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._last_batch = -1

    def on_train_batch_end(self, batch, logs=None):
        # With steps_per_execution = k, Keras calls this once per k steps (`batch` is
        # the last step's index): save when a multiple of every_steps was passed.
        ran, self._last_batch = batch - self._last_batch, batch
        if not self.every_steps or getattr(self.model, "diverged", None):
            return
        if self.params and batch + 1 == self.params.get("steps"):
            return  # the epoch's end saves this step
        steps = self.model.train_steps
        if steps // self.every_steps > (steps - ran) // self.every_steps:
            save(self.model, self.directory, self._epoch, self.keep, step=steps,
                 extra=self.extra, mid_epoch=True)

    def on_epoch_end(self, epoch, logs=None):
        if getattr(self.model, "diverged", None):
            return
        save(self.model, self.directory, epoch + 1, self.keep, extra=self.extra)


INDEX_FILE = "checkpoint.json"
_CHECKPOINT_NAME = re.compile(r"ckpt-\d+(-\d+)?\.weights\.h5")


def weights_are_finite(gan):
    """True when every weight of the generator and discriminator is finite (of every
    network in `gan.networks` for models with more, e.g. CycleGAN)."""
    networks = getattr(gan, "networks", None) or (gan.generator, gan.discriminator)
    for variable in [w for network in networks for w in network.weights]:
        if not np.all(np.isfinite(np.asarray(variable.numpy(), np.float64))):
            return False
    return True


def tracker_states(gan):
    """{tracker name: [total, count]}: the running means of the epoch in progress."""
    return {name: [float(np.asarray(v.numpy())) for v in tracker.variables]
            for name, tracker in getattr(gan, "_trackers", {}).items()}


def set_tracker_states(gan, states):
    for name, values in (states or {}).items():
        tracker = gan._trackers.get(name)
        if tracker is not None and len(tracker.variables) == len(values):
            for variable, value in zip(tracker.variables, values):
                variable.assign(value)


def save(gan, directory, epoch, keep=3, step=None, extra=None, mid_epoch=False):
    """Writes a checkpoint of `gan` into `directory`; returns its path (None when the
    weights are not finite and nothing was written).

    Args:
        epoch: epochs completed (at an epoch end) or, with `mid_epoch`, the index of
            the epoch in progress.
        step: training steps run (default `gan.train_steps`).
        extra: JSON-able dict stored in the index (e.g. {"rollbacks": 1}).
        mid_epoch: a checkpoint inside epoch `epoch + 1`; the index records the
            running means of that epoch so a resumed run logs the same epoch means.

    Raises:
        CheckpointError: the file cannot be written (full disk, read-only folder);
            the previous checkpoint is left intact.
    """
    step = gan.train_steps if step is None else int(step)
    if not weights_are_finite(gan):
        logging.warning("not saving a checkpoint at step %d: the weights are not finite "
                        "(the last good checkpoint in %s is kept)", step, directory)
        return None
    name = (f"ckpt-{epoch + 1:04d}-{step:09d}.weights.h5" if mid_epoch
            else f"ckpt-{epoch:04d}.weights.h5")
    path = os.path.join(directory, name)
    tmp = os.path.join(directory, f".tmp-{name}")
    try:
        os.makedirs(directory, exist_ok=True)
        gan.build_optimizers()  # a checkpoint always holds the optimizers' slots
        gan.save_weights(tmp)
        os.replace(tmp, path)
        entry = {"epoch": epoch, "step": step, "file": name, "extra": dict(extra or {})}
        if mid_epoch:
            entry["trackers"] = tracker_states(gan)
        atomic_write_text(os.path.join(directory, INDEX_FILE), json.dumps(entry, indent=1))
    except OSError as error:
        if os.path.exists(tmp):
            os.remove(tmp)
        found = None
        try:
            found = latest(directory)
        except CheckpointError:
            pass
        kept = f"the previous checkpoint {found[1]} is intact" if found else \
            "no earlier checkpoint exists"
        raise CheckpointError(
            f"cannot write checkpoint {path}: {error.strerror or error}; {kept}. Free "
            "disk space or make the workdir writable, then run the same command again "
            "to resume") from error
    old = sorted(f for f in os.listdir(directory) if _CHECKPOINT_NAME.fullmatch(f))
    for stale in old[:-keep]:
        if stale != name:
            os.remove(os.path.join(directory, stale))
    return path


class CheckpointError(RuntimeError):
    """A checkpoint exists but cannot be read; the message names the file and the fix."""


def latest_entry(directory):
    """The index entry of the latest checkpoint: {"epoch", "step", "file", "path",
    "extra", ["trackers"]}, or None when `directory` has none.

    Raises:
        CheckpointError: the index or the file it names is missing or unreadable, or
            checkpoint files exist without an index (never start over silently).
    """
    index = os.path.join(directory, INDEX_FILE)
    if not os.path.exists(index):
        orphans = sorted(f for f in os.listdir(directory)
                         if _CHECKPOINT_NAME.fullmatch(f)) if os.path.isdir(directory) else []
        if orphans:
            raise CheckpointError(
                f"{directory} holds {orphans[-1]} but no {INDEX_FILE}; restore the index "
                "(or move the folder away) to resume, or pass --restart to start over")
        return None
    try:
        with open(index) as f:
            entry = json.load(f)
        entry["epoch"], entry["file"] = int(entry["epoch"]), str(entry["file"])
    except (ValueError, KeyError, TypeError) as error:
        raise CheckpointError(f"checkpoint index {index} is corrupt ({error}); "
                              "delete the checkpoints folder or pass --restart") from error
    path = os.path.join(directory, entry["file"])
    if not os.path.exists(path):
        raise CheckpointError(f"{index} names {path}, which is missing; "
                              "pass --restart to start over")
    entry["path"] = path
    entry.setdefault("extra", {})
    return entry


def latest(directory):
    """Returns (epoch, path) of the latest checkpoint in `directory`, or None.

    Raises:
        CheckpointError: the index or the file it names is missing or unreadable.
    """
    entry = latest_entry(directory)
    return None if entry is None else (entry["epoch"], entry["path"])


def restore(gan, directory):
    """Loads the latest checkpoint into a compiled `gan`; returns its index entry
    (see `latest_entry`, with "step" filled in) or None when there is none.

    Raises:
        CheckpointError: a checkpoint exists but does not load (corrupt, truncated,
            or from a different model); nothing is loaded partially then.
    """
    entry = latest_entry(directory)
    if entry is None:
        return None
    path = entry["path"]
    gan.build_optimizers()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            gan.load_weights(path)
        skipped = [str(w.message) for w in caught if "Skipping" in str(w.message)]
        if skipped:  # Keras only warns when an optimizer's slots do not match
            raise ValueError(skipped[0].strip())
    except Exception as error:  # h5py and Keras raise many types for a bad file
        older = sorted(f for f in os.listdir(directory)
                       if _CHECKPOINT_NAME.fullmatch(f) and f != entry["file"])
        hint = (f" An older checkpoint, {older[-1]}, is there: point {INDEX_FILE} at it "
                "to resume from it." if older else "")
        raise CheckpointError(
            f"cannot restore checkpoint {path}: {type(error).__name__}: "
            f"{str(error).splitlines()[0] if str(error) else ''}. The file is corrupt or "
            "from a different model; pass --restart to start over (the old run's "
            f"files are replaced) or use another --workdir.{hint}") from error
    if entry.get("step") is None:
        entry["step"] = gan.train_steps
    logging.info("restored %s (epoch %d, step %d)", path, entry["epoch"], entry["step"])
    return entry


def restore_latest(gan, directory):
    """Loads the latest checkpoint into a compiled `gan`.

    Returns:
        the epoch restored (training continues at this epoch index), or 0 when the
        directory has no checkpoint.

    Raises:
        CheckpointError: a checkpoint exists but does not load (corrupt, truncated,
            or from a different model); nothing is loaded partially then.
    """
    entry = restore(gan, directory)
    return 0 if entry is None else entry["epoch"]


class DivergenceGuard(keras.callbacks.Callback):
    """Stops training when d_loss, g_loss (or any logged loss) or a weight is NaN/Inf.

    Keras' TerminateOnNaN watches only "loss"; a GAN logs "d_loss" and "g_loss". The
    losses are checked after every batch (a non-finite weight makes the next step's
    losses non-finite), the weights at every epoch end. On divergence it sets
    `model.diverged` to a dict {"step", "epoch", "reason"} and `model.stop_training`;
    `Checkpoint` then saves nothing, and the caller stops or rolls back
    (`gan_tf.train` does either, per `--on_divergence`). It also logs
    "rollbacks" (the count so far, from `extra`) every epoch.
    """

    WATCHED = ("d_loss", "g_loss", "info_loss", "gradient_penalty", "r1")

    def __init__(self, extra=None):
        super().__init__()
        self.extra = extra if extra is not None else {}
        self._epoch = 0

    def on_train_begin(self, logs=None):
        self.model.diverged = None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        for name in self.WATCHED:
            if logs and name in logs and not np.isfinite(float(logs[name])):
                self._diverged(f"{name} is {float(logs[name])}")
                return

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["rollbacks"] = float(self.extra.get("rollbacks", 0))
        if not self.model.diverged and not weights_are_finite(self.model):
            self._diverged("a weight is not finite")

    def _diverged(self, reason):
        if self.model.diverged:
            return
        self.model.diverged = {"step": self.model.train_steps, "epoch": self._epoch + 1,
                               "reason": reason}
        self.model.stop_training = True
        logging.error("training diverged at step %d (epoch %d): %s",
                      self.model.diverged["step"], self._epoch + 1, reason)


class ModeCollapseMonitor(keras.callbacks.Callback):
    """Warns when the generated samples lose their diversity (mode collapse).

    Diversity is the mean over pixels of the standard deviation across samples; the
    monitor logs "diversity" = that of `num_samples` images from fixed latents divided
    by that of `real_images`, and warns when it has fallen under `threshold` after
    having been at least twice as high (a collapsed generator, drawing nearly one image
    for every z, gives values near 0; a healthy one about 1; a freshly initialised one
    is low too, which is not a collapse).

    Args:
        real_images: float (N, H, W, C) from the data, N >= 2.
        every: check every `every` epochs.
        num_samples: generated images per check.
        threshold: warn below this ratio.
        seed: seed of the fixed latents.
    """

    def __init__(self, real_images, every=1, num_samples=256, threshold=0.1, seed=0):
        super().__init__()
        self.reference = diversity(real_images)
        self.every = max(1, int(every))
        self.num_samples = int(num_samples)
        self.threshold = float(threshold)
        self.seed = int(seed)
        self.collapsed_epochs = []
        self.best = 0.0

    def on_epoch_end(self, epoch, logs=None):
        gan = self.model
        if (epoch + 1) % self.every or getattr(gan, "diverged", None):
            return
        labels = np.arange(self.num_samples) % 10 if gan.conditional else None
        images = gan.generate(latents=gan.sample_latents(self.num_samples, seed=self.seed),
                              labels=labels)
        ratio = diversity(images) / max(self.reference, 1e-12)
        if logs is not None:
            logs["diversity"] = ratio
        self.best = max(self.best, ratio)
        if ratio < self.threshold and self.best >= 2 * ratio:
            self.collapsed_epochs.append(epoch + 1)
            logging.warning(
                "possible mode collapse at epoch %d: the samples' diversity is %.3f of "
                "the data's (threshold %.2f); lower the learning rates, try another "
                "loss (wasserstein_gp, hinge) or roll back", epoch + 1, ratio,
                self.threshold)


def diversity(images):
    """Mean over pixels of the per-pixel standard deviation across images (N, ...)."""
    images = np.asarray(images, np.float64)
    return float(np.mean(np.std(images.reshape(len(images), -1), axis=0)))
