"""DiffAugment: shapes, determinism, each policy's effect, gradients."""

import numpy as np
import pytest
import tensorflow as tf

from gan_tf import augment


def _images():
    rng = np.random.default_rng(0)
    return tf.constant(rng.uniform(-1, 1, (6, 16, 16, 3)).astype(np.float32))


@pytest.mark.parametrize("policy", ["color", "translation", "cutout",
                                    "color,translation,cutout"])
def test_shape_determinism_and_change(policy):
    images = _images()
    seed = tf.constant([1, 2])
    out = augment.diff_augment(images, policy, seed)
    assert out.shape == images.shape and out.dtype == tf.float32
    np.testing.assert_array_equal(out, augment.diff_augment(images, policy, seed))
    assert not np.allclose(out, images)
    assert not np.allclose(out, augment.diff_augment(images, policy, tf.constant([5, 6])))
    traced = tf.function(lambda x, s: augment.diff_augment(x, policy, s))
    np.testing.assert_allclose(traced(images, seed), out, atol=1e-6)


def test_translation_moves_pixels_and_pads_with_zero():
    images = tf.ones((8, 16, 16, 1))
    out = augment.diff_augment(images, "translation", tf.constant([0, 3])).numpy()
    # Values are either the image (1) or the zero padding shifted in (at most 2 px).
    assert set(np.unique(out)) <= {0.0, 1.0}
    assert (out == 1).mean() >= (14 * 14) / (16 * 16) - 1e-6
    assert (out == 0).any()


def test_cutout_zeroes_a_square_of_half_the_size():
    out = augment.diff_augment(tf.ones((64, 16, 16, 1)), "cutout", tf.constant([0, 9])).numpy()
    zeroed = (out == 0).reshape(64, -1).sum(axis=1)
    assert zeroed.max() == 8 * 8 and zeroed.min() > 0  # clipped at borders, never empty


def test_gradients_flow_to_the_images():
    images = _images()
    with tf.GradientTape() as tape:
        tape.watch(images)
        total = tf.reduce_sum(augment.diff_augment(images, "translation,cutout",
                                                   tf.constant([1, 1])))
    gradient = tape.gradient(total, images).numpy()
    # Each output pixel copies at most one input pixel: gradients are 0 or 1, some 1.
    assert set(np.unique(gradient)) <= {0.0, 1.0} and gradient.sum() > 0


def test_unknown_policy():
    with pytest.raises(ValueError, match="unknown augmentation 'blur'"):
        augment.parse_policy("color,blur")
