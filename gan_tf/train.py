"""Command line training: flags -> config -> `train_and_evaluate(config, workdir)`.

    python -m gan_tf.train                        # the default preset, offline
    python -m gan_tf.train --config=tutorial_002 --dataset=mnist --epochs=20 \
        --workdir=runs/mlp
    python -m gan_tf.train --flagfile=my.flags

A workdir holds config.json, history.json, samples/epoch_NNNN.png and progress.gif,
logs/ (TensorBoard), checkpoints/ and generator/ (the exported SavedModel). Running
the same command again resumes from the last checkpoint; --restart starts over.
"""

import json
import os
import shutil
import signal
import sys
import tempfile
import time

import numpy as np

from absl import app
from absl import flags
from absl import logging

from gan_tf import _cli
from gan_tf import configs

FLAGS = flags.FLAGS

flags.DEFINE_string("config", "default", f"Preset: one of {', '.join(configs.names())}; "
                    "or a run's config.json to reproduce that run.")
flags.DEFINE_string("model", None, "Model family for both networks (mlp, dcgan).")
flags.DEFINE_string("loss", None, "Adversarial loss: minimax, non_saturating, "
                    "wasserstein, wasserstein_gp, hinge, least_squares.")
flags.DEFINE_string("dataset", None, "Dataset: mnist_sample, mnist, fashion_mnist, "
                    "svhn_cropped, cifar10, celeb_a, or folder:PATH (docs/data.md).")
flags.DEFINE_string("dataset_b", None, "Second, unpaired dataset of an image-to-image "
                    "model (--config=cyclegan): a --dataset name, optionally ending in "
                    "_inverted (e.g. mnist_sample_inverted).")
flags.DEFINE_string("data_dir", None, "tfds data directory holding prepared datasets.")
flags.DEFINE_string("manual_dir", None, "Folder with a dataset's original files for "
                    "offline use: MNIST/Fashion-MNIST IDX files, CelebA's aligned images.")
flags.DEFINE_integer("image_size", None, "Resize images to this size (square).")
flags.DEFINE_enum("on_bad_image", None, ["fail", "skip"],
                  "Unreadable image files in a folder or CelebA: fail (default) or skip.")
flags.DEFINE_integer("epochs", None, "Epochs to train (total, counting resumed ones).")
flags.DEFINE_float("train_minutes", None, "Wall-clock budget: stop training after N "
                   "minutes (at most --epochs), then finish the run normally (samples, "
                   "checkpoint, history, export).")
flags.DEFINE_integer("steps_per_epoch", None, "Batches per epoch (default: one pass).")
flags.DEFINE_integer("batch_size", None, "Images per batch.")
flags.DEFINE_integer("latent_dim", None, "Size of the latent vector z.")
flags.DEFINE_float("g_lr", None, "Generator learning rate.")
flags.DEFINE_float("d_lr", None, "Discriminator learning rate.")
flags.DEFINE_integer("seed", None, "Seed for weights, noise and data order.")
flags.DEFINE_enum("precision", None, list(configs.PRECISIONS),
                  "Compute precision: auto (mixed_bfloat16 on CPUs with AVX-512 BF16 / "
                  "AMX, mixed_float16 on GPUs with tensor cores, else float32), "
                  "float32, mixed_bfloat16, mixed_float16 (docs/performance.md).")
flags.DEFINE_bool("jit_compile", None, "XLA-compile the training step (Keras leaves it "
                  "off on CPUs; docs/performance.md measures both).")
flags.DEFINE_integer("steps_per_execution", None, "Training steps per call from fit's "
                     "Python loop; > 1 saves per-step overhead on small models (batch "
                     "callbacks then run once per call).")
flags.DEFINE_float("ema", None, "Sample from an exponential moving average of the "
                   "generator's weights with this decay (e.g. 0.999).")
flags.DEFINE_string("augment", None, "DiffAugment policy for the discriminator's inputs, "
                    "e.g. color,translation,cutout.")
flags.DEFINE_float("grad_clip_norm", None, "Clip each network's global gradient norm.")
flags.DEFINE_enum("optimizer", None, ["adam", "rmsprop"], "Optimizer of both networks.")
flags.DEFINE_string("workdir", "runs/default", "Folder for every output of the run.")
flags.DEFINE_bool("restart", False, "Delete the workdir's previous run and start over.")
flags.DEFINE_bool("quick", False, "Shrink the preset to a few steps (smoke test).")
flags.DEFINE_integer("verbose", 1, "Keras fit verbosity: 0 silent, 1 progress bar, "
                     "2 one line per epoch.")
flags.DEFINE_integer("eval_every", None, "Every N epochs compute FID and KID with the "
                     "bundled classifier (MNIST-like data), log them to history.json and "
                     "TensorBoard, plot metrics.png and keep checkpoints/best.weights.h5 "
                     "(0: never).")
flags.DEFINE_integer("checkpoint_every_steps", None, "Also checkpoint every N training "
                     "steps inside an epoch (0: only at epoch ends).")
flags.DEFINE_integer("keep_checkpoints", None, "Keep the last N checkpoints.")
flags.DEFINE_bool("deterministic", None, "Enable TensorFlow op determinism: bit-exact "
                  "reruns and resumptions (slower on GPUs).")
flags.DEFINE_enum("strategy", None, list(configs.STRATEGIES),
                  "tf.distribute strategy: default (one device), mirrored (all local "
                  "GPUs), multi_worker (hosts from TF_CONFIG), tpu (docs/distributed.md).")
flags.DEFINE_enum("on_divergence", None, list(configs.ON_DIVERGENCE),
                  "A NaN/Inf loss or weight: stop (exit 3) or roll back to the last good "
                  "checkpoint with lower learning rates.")
flags.DEFINE_float("rollback_lr_factor", None, "Multiply both learning rates by this "
                   "at each rollback.")
flags.DEFINE_bool("rollback_reseed", None, "Move the noise to a new seed at each rollback.")
flags.DEFINE_integer("max_rollbacks", None, "Stop after this many rollbacks.")

# flag name -> dotted config field it overrides
_OVERRIDES = {
    "model": "model.family", "loss": "train.loss", "dataset": "data.name",
    "dataset_b": "data.name_b",
    "data_dir": "data.data_dir", "manual_dir": "data.manual_dir",
    "image_size": "data.image_size", "on_bad_image": "data.on_bad_image",
    "epochs": "train.epochs", "train_minutes": "train.train_minutes",
    "steps_per_epoch": "train.steps_per_epoch", "batch_size": "data.batch_size",
    "latent_dim": "model.latent_dim", "g_lr": "train.g_lr", "d_lr": "train.d_lr",
    "seed": "train.seed", "precision": "train.precision", "ema": "model.ema_decay",
    "jit_compile": "train.jit_compile", "steps_per_execution": "train.steps_per_execution",
    "augment": "model.augment", "grad_clip_norm": "train.grad_clip_norm",
    "optimizer": "train.optimizer",
    "eval_every": "callbacks.eval_every",
    "checkpoint_every_steps": "callbacks.checkpoint_every_steps",
    "keep_checkpoints": "callbacks.keep_checkpoints",
    "deterministic": "train.deterministic", "strategy": "train.strategy",
    "on_divergence": "train.on_divergence", "rollback_lr_factor": "train.rollback_lr_factor",
    "rollback_reseed": "train.rollback_reseed", "max_rollbacks": "train.max_rollbacks",
}
# Fields that may change between a run and its resumption.
_RESUMABLE_CHANGES = ("train.epochs", "train.train_minutes", "callbacks.eval_every", "callbacks.eval_samples",
                      "callbacks.checkpoint_every_steps", "callbacks.keep_checkpoints",
                      "train.strategy", "train.deterministic", "train.on_divergence",
                      "train.rollback_lr_factor", "train.rollback_reseed",
                      "train.max_rollbacks", "callbacks.collapse_every",
                      "callbacks.collapse_threshold", "train.jit_compile",
                      "train.steps_per_execution")
EXIT_USAGE, EXIT_DIVERGED, EXIT_SIGINT, EXIT_SIGTERM = 2, 3, 130, 143


class UsageError(ValueError):
    """Bad user input found before any training; the message is one line."""


class DivergedError(RuntimeError):
    """Training diverged (NaN/Inf) and was stopped; the message says where and what next."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM during training, after saving a checkpoint at the current step.

    Attributes: path (the checkpoint, or None), step, epoch, signal_name.
    """

    def __init__(self, path, step, epoch, signal_name="SIGINT"):
        super().__init__(path)
        self.path, self.step, self.epoch, self.signal_name = path, step, epoch, signal_name


class _Terminated(KeyboardInterrupt):
    """Raised by the SIGTERM handler (preemption) so training saves and exits."""


def config_from_flags(flag_values=FLAGS):
    """The preset named by --config with the explicitly given flags applied, validated."""
    try:
        config = configs.get(flag_values.config)
        if flag_values.quick:  # before the flags, so that explicit flags win
            config = configs.quick(config)
        fields = {field: flag_values[name].value for name, field in _OVERRIDES.items()
                  if flag_values[name].value is not None}
        if "model.family" in fields and fields["model.family"] != config.model.family:
            # Another family: the preset's per-model options no longer apply.
            config = configs.override(config, **{
                "model.discriminator_family": None, "model.generator": {},
                "model.discriminator": {}})
        config = configs.override(config, **fields)
        return configs.validate(config)
    except ValueError as error:
        raise UsageError(str(error)) from error


def _comparable(config_dict):
    config_dict = json.loads(json.dumps(config_dict))  # tuples -> lists
    for dotted in _RESUMABLE_CHANGES:
        section, name = dotted.split(".")
        config_dict.get(section, {}).pop(name, None)
    return config_dict


def prepare_workdir(config, workdir, restart=False):
    """Creates the workdir and writes config.json; refuses to mix two configs.

    Raises:
        UsageError: the workdir holds a run with another config (and not restart),
            or its config.json is unreadable.
    """
    path = os.path.join(workdir, "config.json")
    if restart and os.path.isdir(workdir):
        for name in ("config.json", "history.json", "samples", "logs", "checkpoints",
                     "generator", VERSIONS_FILE, "metrics.png"):
            target = os.path.join(workdir, name)
            if os.path.isdir(target):
                shutil.rmtree(target)
            elif os.path.exists(target):
                os.remove(target)
    if os.path.exists(path):
        try:
            with open(path) as f:
                previous = json.load(f)
            # Fields added since that run was recorded take their defaults.
            previous = configs.Config.from_dict(configs._lists_to_tuples(previous)).to_dict()
        except (ValueError, TypeError, AttributeError) as error:
            raise UsageError(f"{path} is corrupt ({error}); pass --restart to start over "
                             "or choose another --workdir") from error
        if _comparable(previous) != _comparable(config.to_dict()):
            changed = sorted(
                f"{section}.{key}" for section, values in _comparable(config.to_dict()).items()
                if isinstance(values, dict)
                for key in values
                if _comparable(previous).get(section, {}).get(key) != values[key])
            raise UsageError(
                f"{workdir} holds a run with a different config ({', '.join(changed) or 'preset'}"
                " differ); pass --restart to replace it or choose another --workdir")
    from gan_tf.callbacks import atomic_write_text
    try:
        os.makedirs(workdir, exist_ok=True)
        atomic_write_text(path, config.to_json())
        atomic_write_text(os.path.join(workdir, VERSIONS_FILE),
                          json.dumps(_versions(), indent=1))
    except OSError as error:
        raise UsageError(f"cannot write {path}: {error.strerror or error} (a read-only or "
                         "full disk?); free space or choose a writable --workdir") from error


VERSIONS_FILE = "versions.json"


def _versions():
    """The versions that, with config.json, reproduce a run."""
    import platform

    import keras
    import tensorflow as tf

    import gan_tf

    return {"gan_tf": gan_tf.__version__, "tensorflow": tf.__version__,
            "keras": keras.__version__, "python": platform.python_version()}


def build_gan(config, image_shape=None, image_shape_b=None):
    """Builds and compiles the GAN described by `config.model` and `config.train`.

    Args:
        config: a `configs.Config`.
        image_shape: (H, W, C) of the data (`data.element_shape`); None: the preset's
            or the dataset's known shape.
        image_shape_b: (H, W, C) of the second dataset of an image-to-image family;
            None: as `image_shape`.

    Returns:
        a compiled `GAN`, or a compiled `gan_tf.cyclegan.CycleGAN` when
        `config.model.family` is an image-to-image family (`build_cyclegan`).
    """
    import keras

    from gan_tf import losses, models
    from gan_tf.gan import GAN

    model, train = config.model, config.train
    image_shape = tuple(image_shape or _image_shape(config))
    if models.is_translation(model.family):
        return build_cyclegan(config, image_shape, image_shape_b)
    keras.utils.set_random_seed(train.seed)
    generator = models.get(model.family).Generator(
        **{"latent_dim": model.latent_dim, "image_shape": image_shape, **model.generator})
    discriminator = models.get(model.discriminator_family or model.family).Discriminator(
        **{"image_shape": image_shape, **model.discriminator})
    gan = GAN(generator, discriminator, latent_dim=model.latent_dim, seed=train.seed,
              latent_distribution=model.latent_distribution, ema_decay=model.ema_decay,
              augment=model.augment, conditional=models.is_conditional(model.family))
    gan.compile(g_optimizer=_optimizer(train, train.g_lr),
                d_optimizer=_optimizer(train, train.d_lr),
                loss=losses.get(train.loss, **train.loss_kwargs),
                jit_compile=train.jit_compile,
                steps_per_execution=train.steps_per_execution)
    return gan


def build_cyclegan(config, image_shape, image_shape_b=None):
    """Builds and compiles the CycleGAN of `config`: `config.model.generator` and
    `.discriminator` are the keyword arguments of the networks, `config.train.loss`
    the adversarial loss and `config.train.loss_kwargs` may hold its `cycle_weight`
    and `identity_weight` (`configs.CYCLE_LOSS_KEYS`)."""
    import keras

    from gan_tf import cyclegan, losses

    model, train = config.model, config.train
    keras.utils.set_random_seed(train.seed)
    loss_kwargs = dict(train.loss_kwargs)
    weights = {key: loss_kwargs.pop(key) for key in configs.CYCLE_LOSS_KEYS
               if key in loss_kwargs}
    gan = cyclegan.build(image_shape, image_shape_b, generator=model.generator,
                         discriminator=model.discriminator)
    gan.compile(g_optimizer=_optimizer(train, train.g_lr),
                d_optimizer=_optimizer(train, train.d_lr),
                loss=losses.get(train.loss, **loss_kwargs),
                jit_compile=getattr(train, "jit_compile", False), **weights)
    return gan


def _optimizer(train, learning_rate):
    import keras

    if train.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate, global_clipnorm=train.grad_clip_norm)
    return keras.optimizers.Adam(learning_rate, beta_1=train.beta_1, beta_2=train.beta_2,
                                 global_clipnorm=train.grad_clip_norm)


def _image_shape(config):
    declared = _declared_image_shape(config)
    if declared:
        return declared
    if config.data.name not in _KNOWN_SHAPES:
        raise UsageError(f"the image shape of {config.data.name} is known only from its "
                         f"data: pass image_shape to build_gan")
    shape = _KNOWN_SHAPES[config.data.name]
    if config.data.image_size:
        shape = (config.data.image_size, config.data.image_size, shape[-1])
    return shape


def _declared_image_shape(config):
    """The image shape the preset fixes for its models, or None (they follow the data)."""
    for kwargs in (config.model.generator, config.model.discriminator):
        if kwargs.get("image_shape"):
            return tuple(kwargs["image_shape"])
    return None


_KNOWN_SHAPES = {"mnist_sample": (28, 28, 1), "mnist": (28, 28, 1),
                 "fashion_mnist": (28, 28, 1), "svhn_cropped": (32, 32, 3),
                 "cifar10": (32, 32, 3), "celeb_a": (64, 64, 3)}


def make_strategy(name):
    """The `tf.distribute` strategy named by `--strategy`.

    default: the current (one-device) strategy; mirrored: `MirroredStrategy` over all
    local GPUs (or the logical devices configured); multi_worker:
    `MultiWorkerMirroredStrategy` from the TF_CONFIG environment variable; tpu:
    `TPUStrategy` on the TPU that `TPUClusterResolver` finds. See docs/distributed.md.
    """
    import tensorflow as tf

    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    raise UsageError(f"strategy must be one of {', '.join(configs.STRATEGIES)}, got {name!r}")


def is_chief(strategy):
    """True for the worker that writes samples, logs and checkpoints (worker 0)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return True
    return resolver.task_type == "chief" or (
        resolver.task_type == "worker" and resolver.task_id == 0
        and "chief" not in resolver.cluster_spec().as_dict())


def train_and_evaluate(config, workdir, restart=False, verbose=1, extra_callbacks=None):
    """Trains `config` into `workdir`, resuming from its last checkpoint.

    The batches form one stream that is a pure function of the seed (the shuffled data
    repeated); a run restored at step S skips the S consumed batches, so a resumed run
    sees exactly the batches, noise and dropout of an uninterrupted one. With
    `config.train.deterministic` the results are bit-identical (docs/reliability.md).

    Args:
        extra_callbacks: more Keras callbacks for `fit`.

    Returns:
        the trained `GAN`.

    Raises:
        UsageError: bad config or workdir.
        gan_tf.callbacks.CheckpointError: a checkpoint exists but does not load, or
            cannot be written.
        gan_tf.data.DatasetUnavailableError: the dataset cannot be had.
        DivergedError: training diverged and was stopped.
        Interrupted: Ctrl-C or SIGTERM; a checkpoint of the current step was saved.
    """
    import keras
    import tensorflow as tf

    from gan_tf import callbacks, data, models

    train = config.train
    if train.deterministic:
        tf.config.experimental.enable_op_determinism()
    strategy = make_strategy(train.strategy)
    chief = is_chief(strategy)
    if not chief:  # other workers write into a throwaway folder
        workdir = tempfile.mkdtemp(prefix="gan_tf-worker-")
    prepare_workdir(config, workdir, restart=restart)
    from gan_tf import precision

    keras.mixed_precision.set_global_policy(precision.resolve(train.precision))
    # The data order depends on the global seed too: fix it before building the data.
    keras.utils.set_random_seed(train.seed)
    try:
        dataset = _load_data(config)
        # Before any model is built: data and the preset's models must agree.
        image_shape = data.element_shape(dataset)
        declared = _declared_image_shape(config)
        if declared:
            data.check_matches_model(image_shape, declared, name=config.data.name,
                                     model=f"preset {config.preset}")
    except ValueError as error:
        raise UsageError(str(error)) from error
    # A fit step takes d_steps batches (one per discriminator step, see
    # gan.group_batches): an epoch of the data is cardinality // d_steps fit steps.
    d_steps = _d_steps(config)
    steps_per_epoch = train.steps_per_epoch or int(dataset.cardinality()) // d_steps
    # One stream of batches for the whole run: epoch k's batches are stream batches
    # [k * steps_per_epoch, (k + 1) * steps_per_epoch).
    # tf.data reshuffles on each new iterator of a dataset object, so every `fit` gets
    # a freshly built stream (the first one is `dataset`).
    fresh = [dataset]

    def make_stream(skip=0):
        built = fresh.pop() if fresh else _load_data(config)
        built = built if train.steps_per_epoch else built.repeat()
        return built.skip(skip * d_steps) if skip else built
    translation = models.is_translation(config.model.family)
    with strategy.scope():
        gan = build_gan(config, image_shape=image_shape, image_shape_b=tuple(
            dataset.element_spec[1].shape[1:]) if translation else None)
    discriminator = gan.d_a if translation else gan.discriminator
    model_shape = tuple(discriminator.input_shape[1:]) if hasattr(
        discriminator, "input_shape") else None
    if model_shape and tuple(data.element_shape(dataset)) != model_shape:
        raise UsageError(f"dataset images are {data.element_shape(dataset)} but the "
                         f"discriminator expects {model_shape}")
    checkpoint_dir = os.path.join(workdir, "checkpoints")
    _check_history_has_checkpoint(workdir, checkpoint_dir)
    state = callbacks.restore(gan, checkpoint_dir)
    extra = dict(state["extra"]) if state else {}
    extra.setdefault("rollbacks", 0)
    step = state["step"] if state else 0
    if state and state.get("step") is None:
        step = state["epoch"] * steps_per_epoch
    if step >= train.epochs * steps_per_epoch:
        logging.info("%s already trained for %d epochs; raise --epochs to continue",
                     workdir, step // steps_per_epoch)
    elif step:
        logging.info("resuming %s at epoch %d, step %d", workdir,
                     step // steps_per_epoch + 1, step)
    guard = callbacks.DivergenceGuard(extra)
    fit_callbacks = [guard]
    if config.callbacks.collapse_every and not translation:  # it samples latents
        fit_callbacks.append(callbacks.ModeCollapseMonitor(
            _reference_images(config), every=config.callbacks.collapse_every,
            threshold=config.callbacks.collapse_threshold, seed=train.seed))
    if translation:
        grid = callbacks.TranslationGrid(
            os.path.join(workdir, "samples"), *_translation_images(config),
            log_dir=os.path.join(workdir, "logs"), every=config.callbacks.sample_every)
    else:
        grid = callbacks.SampleGrid(os.path.join(workdir, "samples"),
                                    num_images=config.callbacks.num_samples,
                                    columns=config.callbacks.sample_columns,
                                    seed=train.seed, log_dir=os.path.join(workdir, "logs"),
                                    every=config.callbacks.sample_every)
    fit_callbacks += [
        grid,
        callbacks.HistoryFile(os.path.join(workdir, "history.json")),
        callbacks.Checkpoint(checkpoint_dir, keep=config.callbacks.keep_checkpoints,
                             every_steps=config.callbacks.checkpoint_every_steps,
                             extra=extra),
        keras.callbacks.TensorBoard(os.path.join(workdir, "logs"), write_graph=False,
                                    update_freq="epoch"),
    ]
    if config.callbacks.eval_every:
        from gan_tf.metrics import callbacks as metric_callbacks

        # Before HistoryFile and TensorBoard, so that they record its "fid" and "kid".
        fit_callbacks.insert(
            next(i for i, c in enumerate(fit_callbacks)
                 if isinstance(c, callbacks.HistoryFile)),
            metric_callbacks.for_config(config, workdir))
    if train.train_minutes:
        fit_callbacks.insert(0, callbacks.TimeBudget(train.train_minutes))
    fit_callbacks += list(extra_callbacks or ())
    trackers = state.get("trackers") if state else None
    start, first_step = time.time(), step
    while step < train.epochs * steps_per_epoch:
        try:
            _fit_from(gan, make_stream, step, steps_per_epoch, train.epochs, fit_callbacks,
                      verbose, trackers)
        except KeyboardInterrupt as interrupt:
            _finish_epoch_if_pending(gan, checkpoint_dir, steps_per_epoch, fit_callbacks)
            raise _save_on_interrupt(gan, checkpoint_dir, steps_per_epoch, config, extra,
                                     interrupt) from None
        if not getattr(gan, "diverged", None):
            step = gan.train_steps
            break
        step, trackers = _roll_back(gan, checkpoint_dir, config, extra, steps_per_epoch)
    seconds = time.time() - start
    images = (gan.train_steps - first_step) * config.data.batch_size
    if images:
        logging.info("trained %d images in %.0f s: %.0f images/s", images, seconds,
                     images / max(seconds, 1e-9))
    gan.export_generator(os.path.join(workdir, "generator"))
    return gan


def _fit_from(gan, make_stream, step, steps_per_epoch, epochs, fit_callbacks, verbose,
              trackers=None):
    """Runs `fit` from training step `step`: the rest of a partly done epoch (its
    running means restored from `trackers`), then whole epochs. `make_stream()`
    returns the run's stream of batches from its start."""
    epoch, done = divmod(step, steps_per_epoch)
    if done:
        gan.fit(make_stream(step), epochs=epochs, initial_epoch=epoch,
                steps_per_epoch=steps_per_epoch - done, verbose=verbose,
                callbacks=fit_callbacks + [_ResumeEpoch(trackers)])
        if getattr(gan, "diverged", None):
            return
        epoch += 1
    if epoch < epochs:
        gan.fit(make_stream(epoch * steps_per_epoch), epochs=epochs,
                initial_epoch=epoch, steps_per_epoch=steps_per_epoch, verbose=verbose,
                callbacks=fit_callbacks)


def _resume_epoch_callback():
    import keras

    class ResumeEpoch(keras.callbacks.Callback):
        """Continues an epoch checkpointed in its middle: restores its running means
        (after fit resets them) and stops fit after that epoch."""

        def __init__(self, trackers):
            super().__init__()
            self.trackers = trackers

        def on_epoch_begin(self, epoch, logs=None):
            from gan_tf import callbacks

            callbacks.set_tracker_states(self.model, self.trackers)

        def on_epoch_end(self, epoch, logs=None):
            self.model.stop_training = True

    return ResumeEpoch


def _ResumeEpoch(trackers):  # noqa: N802 (a class made on first use: keras is lazy here)
    return _resume_epoch_callback()(trackers)


def _finish_epoch_if_pending(gan, checkpoint_dir, steps_per_epoch, fit_callbacks):
    """Ctrl-C after an epoch's last step but before its end callbacks: run them (history
    row, samples, checkpoint) so the resumed run does not lose that epoch."""
    from gan_tf import callbacks

    step = gan.train_steps
    if not step or step % steps_per_epoch or getattr(gan, "diverged", None):
        return
    entry = callbacks.latest_entry(checkpoint_dir)
    if entry is not None and entry.get("step") == step:
        return  # the epoch end already ran
    logs = {name: float(tracker.result()) for name, tracker in gan._trackers.items()}
    for callback in fit_callbacks:
        callback.on_epoch_end(step // steps_per_epoch - 1, logs)


def _save_on_interrupt(gan, checkpoint_dir, steps_per_epoch, config, extra, interrupt):
    """Saves the current step after Ctrl-C/SIGTERM; returns the `Interrupted` to raise."""
    from gan_tf import callbacks

    signal_name = "SIGTERM" if isinstance(interrupt, _Terminated) else "SIGINT"
    step = gan.train_steps
    epoch, done = divmod(step, steps_per_epoch)
    path = None
    entry = callbacks.latest_entry(checkpoint_dir)
    if entry is not None and entry.get("step") == step:
        path = entry["path"]  # already saved at this step
    elif step and not getattr(gan, "diverged", None):
        path = callbacks.save(gan, checkpoint_dir, epoch,
                              keep=max(config.callbacks.keep_checkpoints, 1),
                              step=step, extra=extra, mid_epoch=bool(done))
    return Interrupted(path, step, epoch + (1 if done else 0), signal_name)


def _roll_back(gan, checkpoint_dir, config, extra, steps_per_epoch):
    """After a divergence: stops (DivergedError) or restores the last good checkpoint,
    lowers the learning rates and moves the noise seed; returns (step, trackers)."""
    from gan_tf import callbacks

    train = config.train
    what = gan.diverged
    where = f"step {what['step']} (epoch {what['epoch']}): {what['reason']}"
    found = callbacks.latest(checkpoint_dir)
    if train.on_divergence == "stop" or extra["rollbacks"] >= train.max_rollbacks:
        why = ("" if train.on_divergence == "stop"
               else f" after {extra['rollbacks']} rollbacks (--max_rollbacks)")
        last = (f"the last good checkpoint is {found[1]} (epoch {found[0]})" if found
                else "no checkpoint was saved")
        raise DivergedError(
            f"training diverged at {where}{why}; {last}. Lower --g_lr/--d_lr, or pass "
            "--on_divergence=rollback to roll back automatically")
    if found is None:
        raise DivergedError(f"training diverged at {where} before the first checkpoint; "
                            "lower --g_lr/--d_lr and run again with --restart")
    state = callbacks.restore(gan, checkpoint_dir)
    extra["rollbacks"] += 1
    for optimizer in (gan.g_optimizer, gan.d_optimizer):
        optimizer.learning_rate.assign(
            float(optimizer.learning_rate.numpy()) * train.rollback_lr_factor)
    if train.rollback_reseed and hasattr(gan, "seed_generator"):  # CycleGAN: no noise
        state_value = gan.seed_generator.state.numpy()
        gan.seed_generator.state.assign(
            np.asarray([train.seed + 7919 * extra["rollbacks"], 0], state_value.dtype))
    gan.diverged = None
    logging.warning(
        "rolled back to %s (epoch %d, step %d) after divergence at %s; rollback %d of "
        "%d: learning rates now g %.3g, d %.3g%s", state["path"], state["epoch"],
        state["step"], where, extra["rollbacks"], train.max_rollbacks,
        float(gan.g_optimizer.learning_rate.numpy()),
        float(gan.d_optimizer.learning_rate.numpy()),
        ", noise reseeded" if train.rollback_reseed else "")
    return state["step"], state.get("trackers")


def _d_steps(config):
    """Discriminator steps per generator step of the config's loss (1 for CycleGAN)."""
    from gan_tf import losses, models

    if models.is_translation(config.model.family):
        return 1
    return losses.get(config.train.loss, **config.train.loss_kwargs).d_steps


def _load_data(config):
    from gan_tf import data, models

    if models.is_translation(config.model.family):
        return data.load_unpaired(
            config.data.name, config.data.name_b, split=config.data.split,
            batch_size=config.data.batch_size, image_size=config.data.image_size,
            data_dir=config.data.data_dir, manual_dir=config.data.manual_dir,
            on_bad_image=config.data.on_bad_image, seed=config.train.seed,
            repeat=config.train.steps_per_epoch is not None)
    return data.load(
        config.data.name, split=config.data.split, batch_size=config.data.batch_size,
        image_size=config.data.image_size, data_dir=config.data.data_dir,
        manual_dir=config.data.manual_dir, on_bad_image=config.data.on_bad_image,
        seed=config.train.seed, repeat=config.train.steps_per_epoch is not None,
        with_labels=models.is_conditional(config.model.family))


def _check_history_has_checkpoint(workdir, checkpoint_dir):
    """Refuses to start from scratch over a history of epochs without a checkpoint."""
    from gan_tf import callbacks

    history = callbacks.read_history(os.path.join(workdir, "history.json"))
    if history.get("epoch") and callbacks.latest(checkpoint_dir) is None:
        raise callbacks.CheckpointError(
            f"{os.path.join(workdir, 'history.json')} records {len(history['epoch'])} "
            f"epochs but {checkpoint_dir} has no checkpoint to resume from; pass "
            "--restart to start over or choose another --workdir")


def _translation_images(config, num=8):
    """The first `num` images of each dataset in order (float (n, H, W, C) twice), the
    fixed inputs of a translation grid."""
    from gan_tf import data

    ds = data.load_unpaired(config.data.name, config.data.name_b, split=config.data.split,
                            batch_size=num, image_size=config.data.image_size,
                            data_dir=config.data.data_dir,
                            manual_dir=config.data.manual_dir,
                            on_bad_image=config.data.on_bad_image, shuffle=False,
                            cache=False)  # one batch is read: nothing to cache
    images_a, images_b = next(iter(ds))
    return images_a.numpy(), images_b.numpy()


def _reference_images(config, num=256):
    """Unshuffled data images for the mode-collapse check (float (n, H, W, C))."""
    from gan_tf import data

    ds = data.load(config.data.name, split=config.data.split, batch_size=num,
                   image_size=config.data.image_size, data_dir=config.data.data_dir,
                   manual_dir=config.data.manual_dir, on_bad_image=config.data.on_bad_image,
                   shuffle=False, drop_remainder=False)
    batch = next(iter(ds))
    return (batch[0] if isinstance(batch, tuple) else batch).numpy()




def _raise_terminated(signum, frame):
    raise _Terminated()


def _in_main_thread():
    import threading

    return threading.current_thread() is threading.main_thread()


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    from gan_tf import callbacks, data

    _cli.quiet_third_party_info(FLAGS)
    previous_handler = signal.signal(signal.SIGTERM, _raise_terminated) \
        if _in_main_thread() else None
    try:
        config = config_from_flags()
        train_and_evaluate(config, FLAGS.workdir, restart=FLAGS.restart,
                           verbose=FLAGS.verbose)
    except (UsageError, callbacks.CheckpointError, data.DatasetUnavailableError) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(EXIT_USAGE)
    except DivergedError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(EXIT_DIVERGED)
    except KeyboardInterrupt as interrupt:
        code = EXIT_SIGTERM if isinstance(interrupt, _Terminated) else EXIT_SIGINT
        if isinstance(interrupt, Interrupted) and interrupt.path:
            code = EXIT_SIGTERM if interrupt.signal_name == "SIGTERM" else EXIT_SIGINT
            where = (f"step {interrupt.step} (epoch {interrupt.epoch}) is saved in "
                     f"{interrupt.path}")
        else:
            try:
                found = callbacks.latest(os.path.join(FLAGS.workdir, "checkpoints"))
            except callbacks.CheckpointError:
                found = None
            where = f"epoch {found[0]} is saved in {found[1]}" if found else \
                "no checkpoint was saved"
        print(f"\ninterrupted: {where}; run the same command again to resume",
              file=sys.stderr)
        sys.exit(code)
    finally:
        if previous_handler is not None:
            signal.signal(signal.SIGTERM, previous_handler)
    samples = os.path.join(FLAGS.workdir, "samples")
    last = sorted(f for f in os.listdir(samples) if f.endswith(".png"))
    print(f"done: {os.path.abspath(FLAGS.workdir)}")
    if last:
        print(f"  last samples: {os.path.join(samples, last[-1])}")
    print(f"  training GIF: {os.path.join(samples, 'progress.gif')}")
    print(f"  TensorBoard:  tensorboard --logdir {os.path.join(FLAGS.workdir, 'logs')}")


if __name__ == "__main__":
    app.run(main)
