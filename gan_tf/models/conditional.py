"""Class-conditional generator and discriminator (the cGAN of tutorial 001).

Mirza & Osindero 2014 (arXiv:1411.1784) condition both networks on the label y. Here:

- `Generator((latents, labels))`: the label's learned embedding is concatenated to z
  and fed to a DCGAN generator (`models.dcgan.Generator`, sized by image_shape).
- `Discriminator((images, labels))`: a projection discriminator (Miyato & Koyama
  2018, arXiv:1802.05637) on a DCGAN body: with phi(x) the body's flattened features,

      logit(x, y) = w . phi(x) + b + embed(y) . phi(x)

  which conditions through an inner product instead of concatenating y to the input.

Both take labels int (batch,) in [0, num_classes) and say so (`conditional = True`):
`GAN` feeds
them the dataset's labels in training and `generate(n, labels=...)`'s at sampling.
"""

import keras
import tensorflow as tf

from gan_tf.models import _base
from gan_tf.models import dcgan


@keras.saving.register_keras_serializable(package="gan_tf.models.conditional")
class Generator(keras.Model):
    """(latents (batch, latent_dim), labels int (batch,)) -> images (batch, H, W, C).

    Args:
        latent_dim: size of z.
        image_shape: (H, W, C) as for `dcgan.Generator`.
        num_classes: number of labels.
        embedding_dim: size of the label embedding concatenated to z.
        **body_kwargs: options of `dcgan.Generator` (base_channels, batch_norm, ...).
    """

    conditional = True  # gan_tf.GAN feeds it labels without being told

    def __init__(self, latent_dim=100, image_shape=(28, 28, 1), num_classes=10,
                 embedding_dim=50, body_kwargs=None, **kwargs):
        super().__init__(**kwargs)
        self.latent_dim = int(latent_dim)
        self.image_shape = _base.check_image_shape(image_shape)
        self.num_classes = _check_classes(num_classes)
        self.embedding_dim = int(embedding_dim)
        self.body_kwargs = dict(body_kwargs or {})
        self.embedding = keras.layers.Embedding(self.num_classes, self.embedding_dim)
        self.body = dcgan.Generator(self.latent_dim + self.embedding_dim, self.image_shape,
                                    **self.body_kwargs)
        self((tf.zeros((1, self.latent_dim)), tf.zeros((1,), tf.int32)))  # build

    def call(self, inputs, training=False):
        latents, labels = inputs
        embedded = tf.cast(self.embedding(labels), latents.dtype)  # (B, embedding_dim)
        return self.body(tf.concat([latents, embedded], axis=-1), training=training)

    def get_config(self):
        return {**super().get_config(), "latent_dim": self.latent_dim,
                "image_shape": self.image_shape, "num_classes": self.num_classes,
                "embedding_dim": self.embedding_dim, "body_kwargs": self.body_kwargs}


@keras.saving.register_keras_serializable(package="gan_tf.models.conditional")
class Discriminator(keras.Model):
    """(images (batch, H, W, C), labels int (batch,)) -> logits (batch, 1), projection.

    Args:
        image_shape: (H, W, C) as for `dcgan.Discriminator`.
        num_classes: number of labels.
        **body_kwargs: options of `dcgan.Discriminator` (base_channels, dropout,
            spectral_norm, ...).
    """

    conditional = True

    def __init__(self, image_shape=(28, 28, 1), num_classes=10, body_kwargs=None, **kwargs):
        super().__init__(**kwargs)
        self.image_shape = _base.check_image_shape(image_shape)
        self.num_classes = _check_classes(num_classes)
        self.body_kwargs = dict(body_kwargs or {})
        self.body = dcgan.Discriminator(self.image_shape, **self.body_kwargs)
        # The body's stack ends in Flatten -> Dense(1): phi(x) is the Flatten output.
        feature_dim = self.body.stack.layers[-2].output.shape[-1]
        self.projection = keras.layers.Embedding(
            self.num_classes, feature_dim, embeddings_initializer=keras.initializers.RandomNormal(
                stddev=0.02))
        self((tf.zeros((1, *self.image_shape)), tf.zeros((1,), tf.int32)))  # build

    def call(self, inputs, training=False):
        images, labels = inputs
        features = images
        for layer in self.body.stack.layers[:-1]:
            features = layer(features, training=training)  # (B, feature_dim) at the end
        logits = self.body.stack.layers[-1](features)      # (B, 1), float32
        projected = tf.reduce_sum(
            tf.cast(self.projection(labels), tf.float32) * tf.cast(features, tf.float32),
            axis=-1, keepdims=True)                         # (B, 1)
        return logits + projected

    def get_config(self):
        return {**super().get_config(), "image_shape": self.image_shape,
                "num_classes": self.num_classes, "body_kwargs": self.body_kwargs}


def _check_classes(num_classes):
    if int(num_classes) != num_classes or num_classes < 2:
        raise ValueError(f"num_classes must be an integer >= 2, got {num_classes!r}")
    return int(num_classes)
