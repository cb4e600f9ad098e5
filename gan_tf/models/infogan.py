"""InfoGAN pair (tutorial 003): a DCGAN generator and a discriminator with a Q head.

Chen et al. 2016 (arXiv:1606.03657). The generator is a DCGAN generator whose input
is [noise, codes]: it declares its codes (`num_categories` one-hot + `num_continuous`
U(-1, 1) columns at the end of the latent vector), which `GAN.sample_latents` draws
and `losses.InfoGAN` (compiled by name, it takes the generator's sizes) asks the Q
head to recover. The discriminator shares one body
between the real/fake logit and the Q head that predicts the codes back:

    phi(x) -> Dense(1)                                       logits       (B, 1)
    phi(x) -> Dense(128) -> LeakyReLU -> Dense(K)            code_logits  (B, K)
                                      -> Dense(num_cont)     code_means   (B, num_cont)
"""

import keras
import tensorflow as tf

from gan_tf.models import _base
from gan_tf.models import dcgan


@keras.saving.register_keras_serializable(package="gan_tf.models.infogan")
class Generator(dcgan.Generator):
    """A `dcgan.Generator` whose latent_dim counts noise and codes (62 + 10 + 2 in the
    paper's MNIST run).

    Args:
        latent_dim: noise + codes.
        num_categories: K, size of the one-hot categorical code.
        num_continuous: number of continuous codes.
        **kwargs: as `dcgan.Generator` (image_shape, base_channels, ...).

    Raises:
        ValueError: no codes, or codes that leave no noise.
    """

    latent_codes = True  # GAN.sample_latents and losses.InfoGAN read the sizes

    def __init__(self, latent_dim=74, num_categories=10, num_continuous=2, **kwargs):
        _check_codes(latent_dim, num_categories, num_continuous)
        super().__init__(latent_dim, **kwargs)
        self.num_categories = int(num_categories)
        self.num_continuous = int(num_continuous)

    def get_config(self):
        return {**super().get_config(), "num_categories": self.num_categories,
                "num_continuous": self.num_continuous}


@keras.saving.register_keras_serializable(package="gan_tf.models.infogan")
class Discriminator(keras.Model):
    """images (batch, H, W, C) -> (logits (B, 1), code_logits (B, K), code_means (B, n)).

    Args:
        image_shape: (H, W, C) as for `dcgan.Discriminator`.
        num_categories: K, size of the categorical code.
        num_continuous: number of continuous codes.
        q_units: width of the Q head's hidden layer.
        body_kwargs: options of `dcgan.Discriminator` for the shared body.
    """

    latent_codes = True  # its Q head's sizes: checked against the generator's

    def __init__(self, image_shape=(28, 28, 1), num_categories=10, num_continuous=2,
                 q_units=128, body_kwargs=None, **kwargs):
        super().__init__(**kwargs)
        self.image_shape = _base.check_image_shape(image_shape)
        self.num_categories = int(num_categories)
        self.num_continuous = int(num_continuous)
        self.q_units = int(q_units)
        self.body_kwargs = dict(body_kwargs or {})
        self.body = dcgan.Discriminator(self.image_shape, **self.body_kwargs)
        init = _base.kernel_initializer(0.02)
        self.q_hidden = keras.layers.Dense(self.q_units, kernel_initializer=init)
        self.q_activation = keras.layers.LeakyReLU(0.2)
        self.q_categories = keras.layers.Dense(max(1, self.num_categories), dtype="float32",
                                               kernel_initializer=init)
        self.q_means = keras.layers.Dense(max(1, self.num_continuous), dtype="float32",
                                          kernel_initializer=init)
        self(tf.zeros((1, *self.image_shape)))  # build

    def call(self, images, training=False):
        features = images
        for layer in self.body.stack.layers[:-1]:
            features = layer(features, training=training)  # phi(x): (B, feature_dim)
        logits = self.body.stack.layers[-1](features)
        hidden = self.q_activation(self.q_hidden(features))
        return logits, self.q_categories(hidden), self.q_means(hidden)

    def get_config(self):
        return {**super().get_config(), "image_shape": self.image_shape,
                "num_categories": self.num_categories, "num_continuous": self.num_continuous,
                "q_units": self.q_units, "body_kwargs": self.body_kwargs}


def _check_codes(latent_dim, num_categories, num_continuous):
    if num_categories < 0 or num_continuous < 0 or num_categories + num_continuous == 0:
        raise ValueError(f"an InfoGAN generator needs codes: num_categories="
                         f"{num_categories}, num_continuous={num_continuous}")
    if num_categories + num_continuous >= latent_dim:
        raise ValueError(f"latent_dim={latent_dim} must exceed the codes "
                         f"({num_categories} + {num_continuous}): noise + codes")
