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
import logging as std_logging
import os
import shutil
import sys
import time

from absl import app
from absl import flags
from absl import logging

from gan_tf import configs

FLAGS = flags.FLAGS

flags.DEFINE_string("config", "default", f"Preset: one of {', '.join(configs.names())}.")
flags.DEFINE_string("model", None, "Model family for both networks (mlp, dcgan).")
flags.DEFINE_string("loss", None, "Adversarial loss: minimax, non_saturating, "
                    "wasserstein, wasserstein_gp, hinge, least_squares.")
flags.DEFINE_string("dataset", None, "Dataset: mnist_sample, mnist, fashion_mnist, "
                    "svhn_cropped, cifar10, celeb_a, or folder:PATH (docs/data.md).")
flags.DEFINE_string("data_dir", None, "tfds data directory holding prepared datasets.")
flags.DEFINE_string("manual_dir", None, "Folder with a dataset's original files for "
                    "offline use: MNIST/Fashion-MNIST IDX files, CelebA's aligned images.")
flags.DEFINE_integer("image_size", None, "Resize images to this size (square).")
flags.DEFINE_enum("on_bad_image", None, ["fail", "skip"],
                  "Unreadable image files in a folder or CelebA: fail (default) or skip.")
flags.DEFINE_integer("epochs", None, "Epochs to train (total, counting resumed ones).")
flags.DEFINE_integer("steps_per_epoch", None, "Batches per epoch (default: one pass).")
flags.DEFINE_integer("batch_size", None, "Images per batch.")
flags.DEFINE_integer("latent_dim", None, "Size of the latent vector z.")
flags.DEFINE_float("g_lr", None, "Generator learning rate.")
flags.DEFINE_float("d_lr", None, "Discriminator learning rate.")
flags.DEFINE_integer("seed", None, "Seed for weights, noise and data order.")
flags.DEFINE_enum("precision", None, list(configs.PRECISIONS),
                  "Compute precision (mixed_bfloat16 for CPUs with AVX-512 BF16, "
                  "mixed_float16 for GPUs).")
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

# flag name -> dotted config field it overrides
_OVERRIDES = {
    "model": "model.family", "loss": "train.loss", "dataset": "data.name",
    "data_dir": "data.data_dir", "manual_dir": "data.manual_dir",
    "image_size": "data.image_size", "on_bad_image": "data.on_bad_image",
    "epochs": "train.epochs",
    "steps_per_epoch": "train.steps_per_epoch", "batch_size": "data.batch_size",
    "latent_dim": "model.latent_dim", "g_lr": "train.g_lr", "d_lr": "train.d_lr",
    "seed": "train.seed", "precision": "train.precision", "ema": "model.ema_decay",
    "augment": "model.augment", "grad_clip_norm": "train.grad_clip_norm",
    "optimizer": "train.optimizer",
    "eval_every": "callbacks.eval_every",
}
# Fields that may change between a run and its resumption.
_RESUMABLE_CHANGES = ("train.epochs", "callbacks.eval_every", "callbacks.eval_samples")


class UsageError(ValueError):
    """Bad user input found before any training; the message is one line."""


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
                     "generator"):
            target = os.path.join(workdir, name)
            if os.path.isdir(target):
                shutil.rmtree(target)
            elif os.path.exists(target):
                os.remove(target)
    if os.path.exists(path):
        try:
            with open(path) as f:
                previous = json.load(f)
        except ValueError as error:
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
    os.makedirs(workdir, exist_ok=True)
    atomic_write_text(path, config.to_json())


def build_gan(config, image_shape=None):
    """Builds and compiles the GAN described by `config.model` and `config.train`.

    Args:
        config: a `configs.Config`.
        image_shape: (H, W, C) of the data (`data.element_shape`); None: the preset's
            or the dataset's known shape.
    """
    import keras

    from gan_tf import losses, models
    from gan_tf.gan import GAN

    model, train = config.model, config.train
    image_shape = tuple(image_shape or _image_shape(config))
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
                loss=losses.get(train.loss, **train.loss_kwargs))
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


def train_and_evaluate(config, workdir, restart=False, verbose=1):
    """Trains `config` into `workdir`, resuming from its last checkpoint.

    Returns:
        the trained `GAN`.

    Raises:
        UsageError: bad config or workdir.
        gan_tf.callbacks.CheckpointError: a checkpoint exists but does not load.
        gan_tf.data.DatasetUnavailableError: the dataset cannot be had.
    """
    import keras

    from gan_tf import callbacks, data, models

    prepare_workdir(config, workdir, restart=restart)
    keras.mixed_precision.set_global_policy(config.train.precision)
    try:
        dataset = data.load(
            config.data.name, split=config.data.split, batch_size=config.data.batch_size,
            image_size=config.data.image_size, data_dir=config.data.data_dir,
            manual_dir=config.data.manual_dir, on_bad_image=config.data.on_bad_image,
            seed=config.train.seed, repeat=config.train.steps_per_epoch is not None,
            with_labels=models.is_conditional(config.model.family))
        # Before any model is built: data and the preset's models must agree.
        image_shape = data.element_shape(dataset)
        declared = _declared_image_shape(config)
        if declared:
            data.check_matches_model(image_shape, declared, name=config.data.name,
                                     model=f"preset {config.preset}")
    except ValueError as error:
        raise UsageError(str(error)) from error
    gan = build_gan(config, image_shape=image_shape)
    model_shape = tuple(gan.discriminator.input_shape[1:]) if hasattr(
        gan.discriminator, "input_shape") else None
    if model_shape and tuple(data.element_shape(dataset)) != model_shape:
        raise UsageError(f"dataset images are {data.element_shape(dataset)} but the "
                         f"discriminator expects {model_shape}")
    checkpoint_dir = os.path.join(workdir, "checkpoints")
    initial_epoch = callbacks.restore_latest(gan, checkpoint_dir)
    if initial_epoch >= config.train.epochs:
        logging.info("%s already trained for %d epochs; raise --epochs to continue",
                     workdir, initial_epoch)
    elif initial_epoch:
        logging.info("resuming %s at epoch %d", workdir, initial_epoch + 1)
    fit_callbacks = [
        callbacks.SampleGrid(os.path.join(workdir, "samples"),
                             num_images=config.callbacks.num_samples,
                             seed=config.train.seed, log_dir=os.path.join(workdir, "logs"),
                             every=config.callbacks.sample_every),
        callbacks.HistoryFile(os.path.join(workdir, "history.json")),
        callbacks.Checkpoint(checkpoint_dir, keep=config.callbacks.keep_checkpoints),
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
    if initial_epoch < config.train.epochs:
        start = time.time()
        gan.fit(dataset, epochs=config.train.epochs, initial_epoch=initial_epoch,
                steps_per_epoch=config.train.steps_per_epoch, callbacks=fit_callbacks,
                verbose=verbose)
        seconds = time.time() - start
        steps = config.train.steps_per_epoch or int(dataset.cardinality())
        images = (config.train.epochs - initial_epoch) * steps * config.data.batch_size
        logging.info("trained %d images in %.0f s: %.0f images/s", images, seconds,
                     images / max(seconds, 1e-9))
    gan.export_generator(os.path.join(workdir, "generator"))
    return gan


class _OwnInfoOnly(std_logging.Filter):
    _package = os.path.dirname(os.path.abspath(__file__))

    def filter(self, record):
        return (record.levelno >= std_logging.WARNING
                or os.path.abspath(record.pathname).startswith(self._package))


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    from gan_tf import callbacks, data

    if not FLAGS["verbosity"].present:
        # TensorFlow and tfds log dozens of INFO lines (saver shards, file readers);
        # keep gan_tf's own INFO lines and everyone's warnings.
        logging.get_absl_handler().addFilter(_OwnInfoOnly())
    try:
        config = config_from_flags()
        train_and_evaluate(config, FLAGS.workdir, restart=FLAGS.restart,
                           verbose=FLAGS.verbose)
    except (UsageError, callbacks.CheckpointError, data.DatasetUnavailableError) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        found = callbacks.latest(os.path.join(FLAGS.workdir, "checkpoints"))
        where = f"epoch {found[0]} is saved" if found else "no epoch was completed"
        print(f"\ninterrupted: {where}; run the same command again to resume",
              file=sys.stderr)
        sys.exit(130)
    samples = os.path.join(FLAGS.workdir, "samples")
    last = sorted(f for f in os.listdir(samples) if f.endswith(".png"))
    print(f"done: {os.path.abspath(FLAGS.workdir)}")
    if last:
        print(f"  last samples: {os.path.join(samples, last[-1])}")
    print(f"  training GIF: {os.path.join(samples, 'progress.gif')}")
    print(f"  TensorBoard:  tensorboard --logdir {os.path.join(FLAGS.workdir, 'logs')}")


if __name__ == "__main__":
    app.run(main)
