"""gan_tf: generative adversarial networks in TensorFlow 2 / Keras 3.

The public API:

    gan_tf.GAN                 the model that `fit` trains (gan.py)
    gan_tf.CycleGAN            unpaired image-to-image translation, also by `fit` (cyclegan.py)
    gan_tf.models              generator/discriminator families
    gan_tf.losses              adversarial losses and loss objects
    gan_tf.data                tfds pipelines -> float32 images in [-1, 1]
    gan_tf.callbacks           sample grids, checkpoints, history
    gan_tf.metrics             FID, KID, Inception score, precision/recall + extractors
    gan_tf.configs             named presets, one per tutorial setup
    gan_tf.viz                 image grids and curves
"""

__version__ = "0.1.0"

import os as _os

# TensorFlow's C++ INFO lines (CPU feature notes, buffer sizes) drown Keras' progress
# bar; warnings and errors still show. A value set by the user wins.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

from gan_tf import callbacks
from gan_tf import data
from gan_tf import losses
from gan_tf import metrics
from gan_tf import models
from gan_tf import viz
from gan_tf.cyclegan import CycleGAN
from gan_tf.gan import GAN
