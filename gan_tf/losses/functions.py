"""Adversarial losses and regularisers as pure functions on logits and images.

Discriminators in gan_tf return logits (unbounded real numbers), never probabilities.
Where a tutorial ends its discriminator with a sigmoid and applies `log` or binary
cross-entropy to the probability, the port feeds the logit to the same formula
rewritten with `softplus`, which is exact and does not overflow:

    log(sigmoid(l))     = -softplus(-l)
    log(1 - sigmoid(l)) = -softplus(l)

Loss pairs (`<family>_discriminator_loss` / `<family>_generator_loss`, TF-GAN's
naming): minimax, non_saturating, wasserstein, hinge, least_squares. Regularisers:
`gradient_penalty` (WGAN-GP) and `r1_penalty`. InfoGAN's mutual-information terms
and CycleGAN's cycle-consistency (L1) loss sit beside them. All return the mean over
the examples they see (float32, whatever the compute dtype).
"""

import tensorflow as tf


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


def wasserstein_discriminator_loss(real_logits, fake_logits):
    """Critic loss of the Wasserstein GAN (Arjovsky et al. 2017, arXiv:1701.07875).

    The critic maximises E[D(x)] - E[D(G(z))], an estimate of the Wasserstein-1
    distance when D is 1-Lipschitz (weight clipping or a gradient penalty):

        loss = mean(fake_logits) - mean(real_logits)

    Args:
        real_logits: float (batch, 1), unbounded critic scores of real images.
        fake_logits: float (batch', 1), on generated images.

    Returns:
        float32 scalar, unbounded; its negative estimates the distance.
    """
    return tf.reduce_mean(tf.cast(fake_logits, tf.float32)) - tf.reduce_mean(
        tf.cast(real_logits, tf.float32))


def wasserstein_generator_loss(fake_logits):
    """Generator loss of the Wasserstein GAN: loss = -mean(fake_logits)."""
    return -tf.reduce_mean(tf.cast(fake_logits, tf.float32))


def hinge_discriminator_loss(real_logits, fake_logits):
    """Hinge loss for the discriminator (Lim & Ye 2017, arXiv:1705.02894).

    loss = mean(relu(1 - real_logits)) + mean(relu(1 + fake_logits))

    Args:
        real_logits: float (batch, 1), unbounded.
        fake_logits: same shape, on generated images.

    Returns:
        float32 scalar, >= 0; 2 when both logits are 0.
    """
    return tf.reduce_mean(tf.nn.relu(1.0 - tf.cast(real_logits, tf.float32))) + tf.reduce_mean(
        tf.nn.relu(1.0 + tf.cast(fake_logits, tf.float32)))


def hinge_generator_loss(fake_logits):
    """Generator loss paired with the hinge loss (SAGAN, BigGAN): -mean(fake_logits)."""
    return -tf.reduce_mean(tf.cast(fake_logits, tf.float32))


def least_squares_discriminator_loss(real_logits, fake_logits):
    """Least-squares GAN discriminator loss (Mao et al. 2017, arXiv:1611.04076), a=0, b=1.

    loss = 0.5 * mean((real_logits - 1)^2) + 0.5 * mean(fake_logits^2)

    Returns:
        float32 scalar, >= 0; 0.5 when both logits are 0.
    """
    real_logits = tf.cast(real_logits, tf.float32)
    fake_logits = tf.cast(fake_logits, tf.float32)
    return 0.5 * tf.reduce_mean(tf.square(real_logits - 1.0)) + 0.5 * tf.reduce_mean(
        tf.square(fake_logits))


def least_squares_generator_loss(fake_logits):
    """Least-squares GAN generator loss, c=1: loss = 0.5 * mean((fake_logits - 1)^2)."""
    return 0.5 * tf.reduce_mean(tf.square(tf.cast(fake_logits, tf.float32) - 1.0))


def _input_gradients(discriminator, images, labels, scale=None):
    """Gradient of sum(D(images)) with respect to the images: (batch, H, W, C) float32.

    `scale` (a float32 scalar, e.g. a loss scale) multiplies sum(D) before the
    backward pass and divides the gradient after it: under float16 it keeps the
    backward pass's small values from flushing to zero, as loss scaling does.
    """
    images = tf.cast(images, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(images)
        inputs = images if labels is None else (images, labels)
        outputs = discriminator(inputs, training=True)
        if isinstance(outputs, (tuple, list)):  # (logits, extra heads...)
            outputs = outputs[0]
        total = tf.reduce_sum(tf.cast(outputs, tf.float32))
        if scale is not None:
            total = total * scale
    gradients = tape.gradient(total, images)
    return gradients if scale is None else gradients / scale


def gradient_penalty(discriminator, real_images, fake_images, labels=None, epsilon=None,
                     weight=10.0, scale=None):
    """WGAN-GP gradient penalty (Gulrajani et al. 2017, arXiv:1704.00028).

        x_hat = epsilon * real + (1 - epsilon) * fake,  epsilon ~ U(0, 1) per sample
        penalty = weight * mean((|grad_x D(x_hat)|_2 - 1)^2)

    For a linear critic D(x) = w.x + b the gradient is w everywhere, so the penalty is
    exactly weight * (|w| - 1)^2.

    Args:
        discriminator: the critic, called on x_hat (and labels when given).
        real_images: float32 (batch, H, W, C).
        fake_images: same shape.
        labels: int (batch,) for conditional critics, or None.
        epsilon: float32 (batch, 1, 1, 1) in [0, 1]; None draws it (unseeded).
        weight: lambda, 10 in the paper.
        scale: float32 scalar for the inner backward pass (the loss scale under
            mixed_float16, see `_input_gradients`), or None.

    Returns:
        float32 scalar, >= 0.
    """
    real_images = tf.cast(real_images, tf.float32)
    fake_images = tf.cast(fake_images, tf.float32)
    if epsilon is None:
        epsilon = tf.random.uniform([tf.shape(real_images)[0], 1, 1, 1])
    interpolated = epsilon * real_images + (1.0 - epsilon) * fake_images
    gradients = _input_gradients(discriminator, interpolated, labels, scale)
    norms = tf.sqrt(tf.reduce_sum(tf.square(gradients), axis=[1, 2, 3]) + 1e-12)
    return weight * tf.reduce_mean(tf.square(norms - 1.0))


def r1_penalty(discriminator, real_images, labels=None, gamma=10.0, scale=None):
    """R1 regulariser (Mescheder et al. 2018, arXiv:1801.04406).

        penalty = gamma / 2 * mean(|grad_x D(x)|_2^2) over real images x

    For a linear D(x) = w.x + b this is exactly gamma / 2 * |w|^2.

    Args:
        discriminator: called on the real images (and labels when given).
        real_images: float32 (batch, H, W, C).
        labels: int (batch,) or None.
        gamma: weight; 10 is common for 64x64 and smaller images.
        scale: as for `gradient_penalty`.

    Returns:
        float32 scalar, >= 0.
    """
    gradients = _input_gradients(discriminator, real_images, labels, scale)
    return 0.5 * gamma * tf.reduce_mean(tf.reduce_sum(tf.square(gradients), axis=[1, 2, 3]))


def info_categorical_loss(code_onehot, code_logits):
    """-E[log Q(c|x)] for a categorical code: softmax cross-entropy.

    Args:
        code_onehot: float32 (batch, K), the one-hot codes fed to the generator.
        code_logits: float (batch, K), the Q head's logits on the generated images.

    Returns:
        float32 scalar >= 0; log K for a Q head that knows nothing (uniform).
    """
    return tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(
        labels=tf.cast(code_onehot, tf.float32), logits=tf.cast(code_logits, tf.float32)))


def info_continuous_loss(codes, means):
    """-E[log Q(c|x)] up to a constant for continuous codes, Q = N(mean, 1):
    0.5 * mean over batch of sum_j (c_j - mean_j)^2."""
    diff = tf.cast(codes, tf.float32) - tf.cast(means, tf.float32)
    return 0.5 * tf.reduce_mean(tf.reduce_sum(tf.square(diff), axis=-1))




def cycle_consistency_loss(images, targets):
    """Mean absolute error, CycleGAN's cycle and identity loss (Zhu et al. 2017,
    arXiv:1703.10593).

        loss = mean(|images - targets|)

    Args:
        images: float (batch, H, W, C), e.g. G_BA(G_AB(a)).
        targets: same shape, e.g. a.

    Returns:
        float32 scalar, >= 0.
    """
    return tf.reduce_mean(tf.abs(tf.cast(images, tf.float32) - tf.cast(targets, tf.float32)))
