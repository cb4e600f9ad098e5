"""Adversarial losses: pure functions on logits, and the loss objects `GAN` trains with.

Discriminators in gan_tf return logits (unbounded real numbers), never probabilities.
Where a tutorial ends its discriminator with a sigmoid and applies `log` or binary
cross-entropy to the probability, the port feeds the logit to the same formula
rewritten with `softplus`, which is exact and does not overflow:

    log(sigmoid(l))     = -softplus(-l)
    log(1 - sigmoid(l)) = -softplus(l)

A loss object (`GANLoss` subclass) bundles what the training loop needs to know about a
GAN variant: the discriminator and generator losses, how many discriminator steps to
take per generator step (`d_steps`), and the regularisers added to the discriminator
loss. `GAN.train_step` asks the loss object and never branches on the variant, so a new
variant is a new loss object, not a new training loop.

All losses return the mean over the examples they see. Under a `tf.distribute` strategy
each replica sees its share of the global batch; `GAN` divides every loss by the number
of replicas before taking gradients, so the summed gradients equal the global-batch mean.
"""

import keras
import tensorflow as tf


# -- Pure functions ------------------------------------------------------------------


def minimax_discriminator_loss(real_logits, fake_logits):
    """Discriminator loss of the original GAN (Goodfellow et al. 2014, arXiv:1406.2661).

    The discriminator maximises V(D, G) = E[log D(x)] + E[log(1 - D(G(z)))]; as a loss
    to minimise, with D = sigmoid(logits), this is binary cross-entropy with label 1 for
    real and 0 for fake:

        loss = mean(softplus(-real_logits)) + mean(softplus(fake_logits))

    Args:
        real_logits: float (batch, 1), unbounded, on real images.
        fake_logits: float (batch', 1), unbounded, on generated images.

    Returns:
        float32 scalar, >= 0; 2 log 2 ~= 1.386 when both logits are 0.
    """
    real_logits = tf.cast(real_logits, tf.float32)
    fake_logits = tf.cast(fake_logits, tf.float32)
    return tf.reduce_mean(tf.nn.softplus(-real_logits)) + tf.reduce_mean(
        tf.nn.softplus(fake_logits))


def minimax_generator_loss(fake_logits):
    """Generator loss of the original minimax game (Goodfellow et al. 2014).

    The generator minimises E[log(1 - D(G(z)))]:

        loss = mean(log(1 - sigmoid(fake_logits))) = -mean(softplus(fake_logits))

    Its gradient vanishes when the discriminator confidently rejects the fakes
    (sigmoid(l) -> 0), which is why `non_saturating_generator_loss` is the default.

    Args:
        fake_logits: float (batch, 1), unbounded, on generated images.

    Returns:
        float32 scalar, <= 0; -log 2 ~= -0.693 when the logits are 0.
    """
    return -tf.reduce_mean(tf.nn.softplus(tf.cast(fake_logits, tf.float32)))


def non_saturating_discriminator_loss(real_logits, fake_logits):
    """Discriminator loss of the non-saturating GAN: the same BCE as the minimax game.

    loss = mean(softplus(-real_logits)) + mean(softplus(fake_logits))

    Args:
        real_logits: float (batch, 1), unbounded, on real images.
        fake_logits: float (batch', 1), unbounded, on generated images.

    Returns:
        float32 scalar, >= 0.
    """
    return minimax_discriminator_loss(real_logits, fake_logits)


def non_saturating_generator_loss(fake_logits):
    """Non-saturating generator loss, loss_G = -log D(G(z)) (Goodfellow et al. 2014, 3).

    With D = sigmoid(logits):

        loss = -mean(log(sigmoid(fake_logits))) = mean(softplus(-fake_logits))

    This is the tutorials' `loss_G = -tf.reduce_mean(tf.log(D_fake))` and BCE of the
    fakes against label 1; it gives strong gradients early in training.

    Args:
        fake_logits: float (batch, 1), unbounded, on generated images.

    Returns:
        float32 scalar, >= 0; log 2 ~= 0.693 when the logits are 0.
    """
    return tf.reduce_mean(tf.nn.softplus(-tf.cast(fake_logits, tf.float32)))


# -- Loss objects --------------------------------------------------------------------


class GANLoss:
    """What the training loop needs to know about one GAN variant.

    Subclasses implement `discriminator_loss` and `generator_loss`. The training loop
    takes `d_steps` discriminator steps per generator step and adds, for each
    regulariser in `regularizers`, `regularizer(discriminator, real_images,
    fake_images, labels)` to the discriminator loss, logging it under the
    regulariser's `name`.

    Args:
        d_steps: discriminator updates per generator update, >= 1.
        discriminator_scale: factor on the discriminator loss; tutorial 002 writes
            d_loss = 0.5 * (real_loss + fake_loss), i.e. 0.5.
        regularizers: callables added to the discriminator loss (see above).

    Raises:
        ValueError: d_steps < 1 or discriminator_scale <= 0.
    """

    name = None  # the name `get` knows this loss by

    def __init__(self, d_steps=1, discriminator_scale=1.0, regularizers=()):
        if int(d_steps) != d_steps or d_steps < 1:
            raise ValueError(f"d_steps must be an integer >= 1, got {d_steps!r}")
        if not discriminator_scale > 0:
            raise ValueError(
                f"discriminator_scale must be > 0, got {discriminator_scale!r}")
        self.d_steps = int(d_steps)
        self.discriminator_scale = float(discriminator_scale)
        self.regularizers = tuple(regularizers)

    def discriminator_loss(self, real_logits, fake_logits):
        raise NotImplementedError

    def generator_loss(self, fake_logits):
        raise NotImplementedError

    def after_discriminator_step(self, discriminator):
        """Hook run after each discriminator update (weight clipping lives here)."""

    def get_config(self):
        if self.regularizers:
            raise NotImplementedError(
                f"{type(self).__name__}.get_config cannot serialise regularizers; "
                "subclass it and override get_config")
        return {"d_steps": self.d_steps, "discriminator_scale": self.discriminator_scale}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


@keras.saving.register_keras_serializable(package="gan_tf.losses")
class Minimax(GANLoss):
    """The original minimax GAN loss pair (see `minimax_discriminator_loss`)."""

    name = "minimax"

    def discriminator_loss(self, real_logits, fake_logits):
        return minimax_discriminator_loss(real_logits, fake_logits)

    def generator_loss(self, fake_logits):
        return minimax_generator_loss(fake_logits)


@keras.saving.register_keras_serializable(package="gan_tf.losses")
class NonSaturating(GANLoss):
    """BCE for the discriminator and -log D(G(z)) for the generator (the default)."""

    name = "non_saturating"

    def discriminator_loss(self, real_logits, fake_logits):
        return non_saturating_discriminator_loss(real_logits, fake_logits)

    def generator_loss(self, fake_logits):
        return non_saturating_generator_loss(fake_logits)


_LOSSES = {cls.name: cls for cls in (Minimax, NonSaturating)}


def names():
    """The loss names `get` accepts."""
    return sorted(_LOSSES)


def register(cls):
    """Makes a `GANLoss` subclass available by its `name` to `get` and the CLI."""
    if not (isinstance(cls, type) and issubclass(cls, GANLoss) and cls.name):
        raise TypeError(f"register takes a GANLoss subclass with a name, got {cls!r}")
    _LOSSES[cls.name] = cls
    return cls


def get(identifier, **kwargs):
    """Returns a loss object from a name, a config dict or a `GANLoss`.

    Args:
        identifier: a name from `names()`, a `GANLoss` instance (returned as is),
            or `{"name": ..., "config": {...}}`.
        **kwargs: constructor arguments when `identifier` is a name.

    Raises:
        ValueError: unknown name.
        TypeError: anything else.
    """
    if isinstance(identifier, GANLoss):
        return identifier
    if isinstance(identifier, dict):
        return get(identifier["name"], **identifier.get("config", {}))
    if isinstance(identifier, str):
        if identifier not in _LOSSES:
            raise ValueError(
                f"unknown loss {identifier!r}; choose one of {', '.join(names())}")
        return _LOSSES[identifier](**kwargs)
    raise TypeError(f"a loss must be a name or a gan_tf.losses.GANLoss, got {identifier!r}")


def serialize(loss):
    """Inverse of `get` for dict identifiers: {"name": ..., "config": {...}}."""
    return {"name": loss.name, "config": loss.get_config()}
