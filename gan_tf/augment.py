"""DiffAugment: differentiable augmentations applied to real and fake images alike.

Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN Training"
(arXiv:2006.10738). The discriminator sees every image (real or generated, in its
step and in the generator's) through the same random augmentations, and gradients
flow through them to the generator. It helps most when the data is small (the
bundled 9,003 digits, a few thousand faces).

Policies, on float32 images in [-1, 1]:
    color        brightness + U(-0.5, 0.5); saturation x U(0, 2); contrast x U(0.5, 1.5)
    translation  shift by up to 1/8 of the size in each axis, zero padded
    cutout       a zeroed square of half the size at a random place
"""

import tensorflow as tf

from gan_tf import noise

POLICIES = ("color", "translation", "cutout")


def parse_policy(policy):
    """Returns a tuple of policy names from "color,translation" or a sequence.

    Raises:
        ValueError: an unknown name.
    """
    if not policy:
        return ()
    names = policy.split(",") if isinstance(policy, str) else list(policy)
    names = tuple(n.strip() for n in names if n.strip())
    unknown = [n for n in names if n not in POLICIES]
    if unknown:
        raise ValueError(f"unknown augmentation {unknown[0]!r}; choose from {', '.join(POLICIES)}")
    return names


def _uniform(batch, seed, index, shape=(1, 1, 1)):
    # One U(0, 1) value per image, its own stream per use (index), replica-exact.
    return noise.sample((batch, *shape), seed + tf.constant([0, 1], tf.int32) * index,
                        "uniform01")


def _color(images, seed, batch):
    images = images + (_uniform(batch, seed, 1) - 0.5)
    mean = tf.reduce_mean(images, axis=3, keepdims=True)
    images = (images - mean) * (_uniform(batch, seed, 2) * 2.0) + mean
    mean = tf.reduce_mean(images, axis=[1, 2, 3], keepdims=True)
    return (images - mean) * (_uniform(batch, seed, 3) + 0.5) + mean


def _translation(images, seed, batch, ratio=0.125):
    height, width = images.shape[1], images.shape[2]
    pad_y, pad_x = max(1, int(height * ratio + 0.5)), max(1, int(width * ratio + 0.5))
    shift = _uniform(batch, seed, 4, shape=(2,))  # (B, 2) in [0, 1)
    shift_y = tf.cast(tf.floor(shift[:, 0] * (2 * pad_y + 1)), tf.int32)  # 0 .. 2 pad
    shift_x = tf.cast(tf.floor(shift[:, 1] * (2 * pad_x + 1)), tf.int32)
    padded = tf.pad(images, [[0, 0], [pad_y, pad_y], [pad_x, pad_x], [0, 0]])
    rows = tf.range(height)[None, :] + shift_y[:, None]  # (B, H) rows of the padded image
    cols = tf.range(width)[None, :] + shift_x[:, None]   # (B, W)
    images = tf.gather(padded, rows, axis=1, batch_dims=1)  # (B, H, W + 2 pad_x, C)
    return tf.gather(images, cols, axis=2, batch_dims=1)    # (B, H, W, C)


def _cutout(images, seed, batch, ratio=0.5):
    height, width = images.shape[1], images.shape[2]
    size_y, size_x = int(height * ratio + 0.5), int(width * ratio + 0.5)
    centre = _uniform(batch, seed, 5, shape=(2,))  # (B, 2)
    top = tf.floor(centre[:, 0] * (height + 1 - size_y % 2)) - size_y // 2
    left = tf.floor(centre[:, 1] * (width + 1 - size_x % 2)) - size_x // 2
    ys = tf.range(height, dtype=tf.float32)[None, :]  # (1, H)
    xs = tf.range(width, dtype=tf.float32)[None, :]
    inside_y = (ys >= top[:, None]) & (ys < top[:, None] + size_y)   # (B, H)
    inside_x = (xs >= left[:, None]) & (xs < left[:, None] + size_x)  # (B, W)
    cut = inside_y[:, :, None] & inside_x[:, None, :]                 # (B, H, W)
    return images * tf.cast(~cut, images.dtype)[..., None]


_OPS = {"color": _color, "translation": _translation, "cutout": _cutout}


def diff_augment(images, policy, seed):
    """Applies the policy's augmentations, differentiably.

    Args:
        images: float32 (batch, H, W, C) in [-1, 1].
        policy: names from POLICIES (a tuple, or a comma-separated string).
        seed: int32 (2,) tensor; the same seed gives the same augmentation.

    Returns:
        float32 (batch, H, W, C).
    """
    seed = tf.cast(seed, tf.int32)
    batch = tf.shape(images)[0]
    images = tf.cast(images, tf.float32)
    for name in parse_policy(policy):
        images = _OPS[name](images, seed, batch)
    return images
