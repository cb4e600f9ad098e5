"""Keras callbacks for GAN training: sample grids, history, time budget, divergence.

They reach the GAN through `self.model`, write only under the paths they are given
(any tf.io.gfile path, atomically), and work per epoch unless given step intervals.
Checkpoints have their own module: `gan_tf.checkpoint` (the `Checkpoint` callback,
`CheckpointManager`, `read_history`).
"""

import re
import time

from absl import logging
import keras
import numpy as np
import tensorflow as tf

from gan_tf import checkpoint as checkpoint_lib
from gan_tf import configs
from gan_tf import fileio
from gan_tf import viz

_EPOCH_PNG = re.compile(r"epoch_\d+\.png")


class SampleGrid(keras.callbacks.Callback):
    """Saves a grid of generated images from fixed noise every epoch (or N epochs/steps).

    Writes `directory/epoch_NNNN.png` (epochs counted from 1) every `every` epochs and
    after the last one, `directory/step_NNNNNNNNN.png` every `every_steps` training
    steps when given, and rewrites `directory/progress.gif` from the epoch PNGs at the
    end of training. Given `log_dir`, it also logs each grid to TensorBoard as the
    image "samples" in `log_dir/samples` (a folder of its own: TensorBoard follows one
    event file per folder). The noise is fixed by `seed`, so successive grids compare.

    Args:
        directory: folder for the PNGs and the GIF.
        num_images: images per grid (64: an 8x8 grid).
        seed: seed of the fixed latents.
        columns: images per row; default square.
        labels: class labels for a conditional GAN (default: every class in turn).
        log_dir: TensorBoard log folder, or None.
        every: write every `every` epochs.
        every_steps: also write every N training steps (0: never).
    """

    def __init__(self, directory, num_images=64, seed=0, columns=None, labels=None,
                 log_dir=None, every=1, every_steps=0):
        super().__init__()
        self.directory = str(directory)
        self.num_images = int(num_images)
        self.seed = int(seed)
        self.columns = columns
        self.labels = labels
        self.log_dir = log_dir
        self.every = max(1, int(every))
        self.every_steps = int(every_steps or 0)
        self._writer = None
        self._last_steps = None

    def on_train_begin(self, logs=None):
        fileio.makedirs(self.directory)
        if self.log_dir and self._writer is None:
            self._writer = tf.summary.create_file_writer(fileio.join(self.log_dir,
                                                                     "samples"))

    def on_train_batch_end(self, batch, logs=None):
        if not self.every_steps:
            return
        steps = self.model.train_steps
        last, self._last_steps = self._last_steps, steps
        if last is not None and steps // self.every_steps > last // self.every_steps:
            self.write_step(steps)

    def on_epoch_end(self, epoch, logs=None):
        last = (self.params or {}).get("epochs") == epoch + 1
        if (epoch + 1) % self.every == 0 or last:
            self.write(epoch + 1)

    def on_train_end(self, logs=None):
        frames = [fileio.join(self.directory, f) for f in fileio.listdir(self.directory)
                  if _EPOCH_PNG.fullmatch(f)]
        viz.save_gif(frames, fileio.join(self.directory, "progress.gif"))

    def images(self):
        """The grid's images (float (n, H, W, C) in [-1, 1]) from the current weights."""
        gan = self.model
        labels = self.labels if self.labels is not None else gan.sample_labels(
            self.num_images)
        return gan.generate(latents=gan.sample_latents(self.num_images, seed=self.seed),
                            labels=labels)

    def write(self, epoch):
        """Generates the grid for `epoch` and writes it; returns the PNG path."""
        return self._write(f"epoch_{epoch:04d}.png", epoch)

    def write_step(self, step):
        """Generates the grid at training step `step` and writes it."""
        return self._write(f"step_{step:09d}.png", step)

    def grid(self):
        """The grid picture: uint8 (height, width, channels)."""
        return viz.image_grid(self.images(), self.columns)

    def _write(self, name, tensorboard_step):
        grid = self.grid()
        path = viz.save_image_grid(grid[None], fileio.join(self.directory, name),
                                   columns=1)
        if self._writer is not None:
            with self._writer.as_default():
                tf.summary.image("samples", grid[None], step=tensorboard_step)
            self._writer.flush()
        return path


class TranslationGrid(SampleGrid):
    """SampleGrid for image-to-image models (CycleGAN): fixed inputs and their
    translations.

    Each PNG has six rows of `len(images_a)` columns: A, G_AB(A), G_BA(G_AB(A)), then
    B, G_BA(B), G_AB(G_BA(B)); a mid-grey border separates the images (MNIST's
    black and inverted white backgrounds both stand out). Files, GIF and TensorBoard
    image as `SampleGrid`.

    Args:
        directory: folder for the PNGs and the GIF.
        images_a: float (n, H, W, C_a) in [-1, 1], fixed A inputs.
        images_b: float (n, H, W, C_b) in [-1, 1], fixed B inputs.
        log_dir, every, every_steps: as `SampleGrid`.
    """

    def __init__(self, directory, images_a, images_b, log_dir=None, every=1,
                 every_steps=0):
        super().__init__(directory, num_images=len(images_a), columns=len(images_a),
                         log_dir=log_dir, every=every, every_steps=every_steps)
        self.images_a = np.asarray(images_a, np.float32)
        self.images_b = np.asarray(images_b, np.float32)

    def grid(self):
        model = self.model
        fake_b = model.translate(self.images_a, "a2b")
        fake_a = model.translate(self.images_b, "b2a")
        rows = [self.images_a, fake_b, model.translate(fake_b, "b2a"),
                self.images_b, fake_a, model.translate(fake_a, "a2b")]
        channels = max(r.shape[-1] for r in rows)
        images = np.concatenate([np.broadcast_to(r, r.shape[:-1] + (channels,))
                                 for r in rows])
        return viz.image_grid(images, self.columns, pad_value=128)


class HistoryFile(keras.callbacks.Callback):
    """Writes each epoch's logs to a JSON file {name: [per-epoch values], "epoch": [...]}
    (and, given `plot_path`, a PNG of the loss curves), atomically.

    An existing file is continued (a resumed run keeps its earlier epochs); epochs at
    or after the resumed one are replaced.
    """

    def __init__(self, path, plot_path=None):
        super().__init__()
        self.path = str(path)
        self.plot_path = plot_path
        self.state = checkpoint_lib.RunState(
            history=checkpoint_lib.read_history(self.path))

    @property
    def history(self):
        return self.state.history

    def on_epoch_end(self, epoch, logs=None):
        self.state.record_epoch(epoch + 1, logs)
        checkpoint_lib.write_history(self.path, self.history, self.plot_path)


class TimeBudget(keras.callbacks.Callback):
    """Stops training once `minutes` of wall-clock time have passed since training began
    (`on_train_begin`: the first step's tracing counts, as a user's clock counts it).

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

    def on_train_end(self, logs=None):
        self.elapsed_seconds = self.spent_seconds
        self._start = None

    def on_train_batch_end(self, batch, logs=None):
        if time.monotonic() - self._start >= self.seconds:
            self.stopped = True
            self.model.stop_training = True

    @property
    def spent_seconds(self):
        """Training seconds spent so far, this part of the run included."""
        return self.elapsed_seconds if self._start is None else \
            time.monotonic() - self._start


class DivergenceGuard(keras.callbacks.Callback):
    """Watches every logged value and the weights for divergence and explosions.

    Keras' TerminateOnNaN watches only "loss"; a GAN logs "d_loss", "g_loss" and one
    value per regulariser ("gp", "r1", "info_loss", CycleGAN's "cycle_loss"...): the
    guard checks all of them after every batch, and the weights at every epoch end.

    - Divergence: a value or a weight that is NaN/Inf. `diverged` is set to {"step",
      "epoch", "reason", "kind": "nan"} and training stops (`model.stop_training`); a caller
      (gan_tf.train) stops the run or rolls back to the last good checkpoint.
    - Explosion: a finite value beyond +-`loss_limit`, or a discriminator pinned at
      (near) zero loss while the generator's loss grew over `pinned_steps` checks. Per
      `on_explosion` it is logged once as a warning with the step ("warn"), or treated
      as a divergence of kind "explosion" ("stop", "rollback").

    Args:
        loss_limit: finite values beyond this count as an explosion.
        on_explosion: "warn", "stop" or "rollback".
        pinned_steps: checks of a pinned discriminator before it counts.
        rollbacks: the run's rollbacks so far, logged as "rollbacks" every epoch.
    """

    def __init__(self, loss_limit=1e6, on_explosion="warn", pinned_steps=200, rollbacks=0):
        super().__init__()
        if on_explosion not in configs.ON_EXPLOSION:
            raise ValueError(f"on_explosion must be one of {', '.join(configs.ON_EXPLOSION)}, "
                             f"got {on_explosion!r}")
        self.loss_limit = float(loss_limit)
        self.on_explosion = on_explosion
        self.pinned_steps = int(pinned_steps)
        self.rollbacks = int(rollbacks)
        self.diverged = None
        self.explosions = []
        self._epoch = 0
        self._pinned = 0
        self._g_start = None

    def on_train_begin(self, logs=None):
        self.diverged = None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        values = {k: float(np.asarray(v).reshape(-1)[0]) for k, v in (logs or {}).items()
                  if np.size(v) == 1}
        for name, value in values.items():
            if not np.isfinite(value):
                self._diverge(f"{name} is {value}")
                return
        for name, value in values.items():
            if abs(value) > self.loss_limit:
                self._explode(f"{name} is {value:.3g}, beyond the limit {self.loss_limit:g} "
                              "(train.loss_limit)")
                return
        self._check_pinned(values)

    def _check_pinned(self, values):
        d_loss, g_loss = values.get("d_loss"), values.get("g_loss")
        if d_loss is None or g_loss is None or abs(d_loss) > 1e-4:
            self._pinned, self._g_start = 0, None
            return
        self._pinned += 1
        self._g_start = g_loss if self._g_start is None else self._g_start
        if self._pinned >= self.pinned_steps and g_loss > self._g_start:
            self._explode(f"the discriminator's loss has been {d_loss:.2g} for "
                          f"{self._pinned} checks while the generator's grew from "
                          f"{self._g_start:.3g} to {g_loss:.3g}")
            self._pinned, self._g_start = 0, None

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["rollbacks"] = float(self.rollbacks)
        if not self.diverged and not checkpoint_lib.weights_are_finite(self.model):
            self._diverge("a weight is not finite")

    def _explode(self, reason):
        step = self.model.train_steps
        if self.on_explosion != "warn":
            self._diverge(reason, kind="explosion")
            return
        if not self.explosions:
            logging.warning("training is exploding at step %d (epoch %d): %s. Lower "
                            "--g_lr/--d_lr, or pass --on_explosion=stop|rollback",
                            step, self._epoch + 1, reason)
        self.explosions.append({"step": step, "epoch": self._epoch + 1, "reason": reason})

    def _diverge(self, reason, kind="nan"):
        if self.diverged:
            return
        self.diverged = {"step": self.model.train_steps, "epoch": self._epoch + 1,
                         "reason": reason, "kind": kind}
        self.model.stop_training = True
        logging.error("training diverged at step %d (epoch %d): %s",
                      self.diverged["step"], self._epoch + 1, reason)


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
        if (epoch + 1) % self.every:
            return
        gan = self.model
        images = gan.generate(latents=gan.sample_latents(self.num_samples, seed=self.seed),
                              labels=gan.sample_labels(self.num_samples))
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
