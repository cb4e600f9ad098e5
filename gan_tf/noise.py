"""Random numbers drawn inside the training step, identical on 1 or N replicas.

Under a `tf.distribute` strategy every replica holds the same seed (the GAN's
SeedGenerator is mirrored). `sample` draws the *global* batch from that seed and
returns the replica's own slice of it, so R replicas with per-replica batch B/R see
exactly the numbers one device with batch B sees: distributed and single-device runs
compute the same losses and gradients.
"""

import tensorflow as tf

DISTRIBUTIONS = ("normal", "uniform", "uniform01")


def sample(shape, seed, distribution="normal"):
    """Stateless random tensor of `shape` (the per-replica shape).

    Args:
        shape: (batch, ...) for this replica; batch may be a scalar tensor.
        seed: int32 (2,) tensor or pair.
        distribution: "normal" N(0, 1), "uniform" U(-1, 1) or "uniform01" U(0, 1).

    Returns:
        float32 tensor of `shape`.

    Raises:
        ValueError: unknown distribution.
    """
    if distribution not in DISTRIBUTIONS:
        raise ValueError(f"distribution must be one of {DISTRIBUTIONS}, got {distribution!r}")
    seed = tf.cast(seed, tf.int32)
    context = tf.distribute.get_replica_context()
    replicas = context.num_replicas_in_sync if context is not None else 1
    batch = shape[0]
    global_shape = (batch * replicas, *shape[1:])
    if distribution == "normal":
        values = tf.random.stateless_normal(global_shape, seed)
    elif distribution == "uniform":
        values = tf.random.stateless_uniform(global_shape, seed, minval=-1.0, maxval=1.0)
    else:
        values = tf.random.stateless_uniform(global_shape, seed)
    if replicas == 1:
        return values
    start = tf.cast(context.replica_id_in_sync_group, tf.int32) * tf.cast(batch, tf.int32)
    return values[start:start + batch]


def sample_codes(batch, seed, num_categories, num_continuous):
    """InfoGAN latent codes: a one-hot categorical code and continuous U(-1, 1) codes.

    Args:
        batch: rows (int or scalar tensor), per replica.
        seed: int32 (2,) stateless seed.
        num_categories: K, size of the one-hot code (0: none).
        num_continuous: number of continuous codes (0: none).

    Returns:
        float32 (batch, K + num_continuous): [one-hot(category), continuous codes].
    """
    seed = tf.cast(seed, tf.int32)
    parts = []
    if num_categories:
        draws = sample((batch,), seed, "uniform01")
        categories = tf.minimum(tf.cast(draws * num_categories, tf.int32),
                                num_categories - 1)
        parts.append(tf.one_hot(categories, num_categories))
    if num_continuous:
        parts.append(sample((batch, num_continuous), seed + tf.constant([0, 1], tf.int32),
                            "uniform"))
    return tf.concat(parts, axis=-1)


def latents(num, seed, latent_dim, distribution="normal", code_layout=(0, 0)):
    """Latent vectors laid out as `gan_tf.GAN` takes them: noise, then the latent codes
    (InfoGAN) in the last columns.

    Args:
        num: rows (int or scalar tensor), per replica.
        seed: int32 (2,) stateless seed; the codes use seed + (1, 0).
        latent_dim: columns, noise and codes.
        distribution: of the noise, "normal" or "uniform" (`sample`).
        code_layout: (num_categories, num_continuous) of the codes; (0, 0) for none.

    Returns:
        float32 (num, latent_dim).
    """
    categories, continuous = code_layout
    code_dim = categories + continuous
    values = sample((num, latent_dim - code_dim), seed, distribution)
    if not code_dim:
        return values
    codes = sample_codes(num, tf.cast(seed, tf.int32) + [1, 0], categories, continuous)
    return tf.concat([values, codes], axis=-1)  # (num, noise_dim + code_dim)
