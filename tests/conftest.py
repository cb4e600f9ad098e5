"""Shared fixtures: a private tfds data dir, small models, a tiny dataset."""

import os
import shutil
import tempfile
import time

# Before TensorFlow/tfds import: keep prepared datasets out of the user's home and
# make sure no test reaches the network for a dataset. The folder is the session's
# (its name holds the pid): deleted at the session's end, or by the next session when
# this one was killed.
_TFDS_PREFIX = "gan_tf_tfds-"  # + pid ("-": never in the random part of mkdtemp's names)
_LEGACY_PREFIX = "gan_tf_tfds_"  # made before the names held a pid
_TFDS_DIR = None
if "TFDS_DATA_DIR" not in os.environ:
    _TFDS_DIR = tempfile.mkdtemp(prefix=f"{_TFDS_PREFIX}{os.getpid()}_")
    os.environ["TFDS_DATA_DIR"] = _TFDS_DIR
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

import gan_tf  # noqa: E402
from gan_tf import models  # noqa: E402


def pytest_configure(config):
    _remove_old_data_dirs()
    config.addinivalue_line("markers", "slow: long end-to-end tests (run with -m slow)")
    if not config.option.markexpr:  # the default suite stays fast
        config.option.markexpr = "not slow"
    # Upstream, not ours: TensorFlow's ResourceVariable.__array__ predates numpy 2's
    # `copy` keyword, so every np.array(variable) inside Keras' saving code warns.
    config.addinivalue_line(
        "filterwarnings", "ignore:__array__ implementation doesn't accept a copy keyword")


def pytest_unconfigure(config):
    if _TFDS_DIR:
        shutil.rmtree(_TFDS_DIR, ignore_errors=True)


def _remove_old_data_dirs(root=None, max_age_hours=12):
    """Deletes the data dirs of killed sessions: those whose pid is gone, and those
    named without a pid (gan_tf_tfds_*, made before names held one) untouched for
    `max_age_hours`."""
    from gan_tf.data import prepared

    root = root or tempfile.gettempdir()
    prepared.remove_orphans(_TFDS_PREFIX, root)
    for name in os.listdir(root):
        path = os.path.join(root, name)
        if name.startswith(_LEGACY_PREFIX) and \
                time.time() - _newest_mtime(path) > max_age_hours * 3600:
            shutil.rmtree(path, ignore_errors=True)


def _newest_mtime(path):
    return max([os.path.getmtime(os.path.join(folder, name)) for folder, dirs, files
                in os.walk(path) for name in dirs + files] + [os.path.getmtime(path)])


@pytest.fixture(autouse=True)
def _float32_policy():
    keras.mixed_precision.set_global_policy("float32")
    yield
    keras.mixed_precision.set_global_policy("float32")


def small_gan(seed=0, family="mlp", image_shape=(28, 28, 1)):
    """A small compiled GAN for fast tests."""
    keras.utils.set_random_seed(seed)
    if family == "mlp":
        generator = models.mlp.Generator(8, image_shape, hidden_units=(16,))
        discriminator = models.mlp.Discriminator(image_shape, hidden_units=(16,))
    else:
        generator = models.dcgan.Generator(8, image_shape, base_channels=4)
        discriminator = models.dcgan.Discriminator(image_shape, base_channels=4)
    gan = gan_tf.GAN(generator, discriminator, latent_dim=8, seed=seed)
    gan.compile(keras.optimizers.Adam(1e-3, beta_1=0.5), keras.optimizers.Adam(1e-3, beta_1=0.5))
    return gan


def random_images(num=16, shape=(28, 28, 1), seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, (num, *shape)).astype(np.float32)


def image_dataset(num=32, batch_size=8, shape=(28, 28, 1)):
    return tf.data.Dataset.from_tensor_slices(random_images(num, shape)).batch(
        batch_size, drop_remainder=True)
