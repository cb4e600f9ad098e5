"""gan_tf: generative adversarial networks in TensorFlow 2 / Keras 3.

The public API:

    gan_tf.GAN                 the model that `fit` trains (gan.py)
    gan_tf.CycleGAN            unpaired image-to-image translation, also by `fit` (cyclegan.py)
    gan_tf.models              generator/discriminator families
    gan_tf.losses              adversarial losses and loss objects
    gan_tf.data                tfds pipelines -> float32 images in [-1, 1]
    gan_tf.callbacks           sample grids, history, time budget, divergence guard
    gan_tf.checkpoint          checkpoints of a run: save, restore, history.json
    gan_tf.metrics             FID, KID, Inception score, precision/recall + extractors
    gan_tf.configs             configs as plain data: the schema and the presets
    gan_tf.viz                 image grids and curves
"""

__version__ = "0.1.0"

import json as _json
import os as _os

# TensorFlow's C++ INFO lines (CPU feature notes, buffer sizes) drown Keras' progress
# bar; warnings and errors still show. A value set by the user wins.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")


def _check_backend():
    """gan_tf trains with tf.GradientTape, tf.data and tf.distribute: Keras must run on
    TensorFlow. Raises ImportError naming the setting otherwise (before Keras is
    imported: another backend may fail to import without its own library)."""
    wanted = _os.environ.get("KERAS_BACKEND")
    where = f"KERAS_BACKEND={wanted}"
    if wanted is None:
        home = _os.environ.get("KERAS_HOME") or _os.path.join(
            _os.path.expanduser("~"), ".keras")
        where = _os.path.join(home, "keras.json")
        try:
            with open(where) as f:
                wanted = _json.load(f).get("backend")
        except (OSError, ValueError, AttributeError):
            wanted = None
    if wanted not in (None, "tensorflow"):
        raise ImportError(f"gan_tf needs Keras' TensorFlow backend, but Keras is set to "
                          f"{wanted} ({where}); set KERAS_BACKEND=tensorflow")


_check_backend()

from gan_tf import interrupt as _interrupt  # noqa: E402  (standard library only)

# `python -m gan_tf.train`: a Ctrl-C or SIGTERM while TensorFlow imports exits cleanly.
_interrupt.watch_startup()

from gan_tf import callbacks
from gan_tf import checkpoint
from gan_tf import configs
from gan_tf import data
from gan_tf import losses
from gan_tf import metrics
from gan_tf import models
from gan_tf import viz
from gan_tf.cyclegan import CycleGAN
from gan_tf.gan import GAN
