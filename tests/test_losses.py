"""Losses against their formulas on hand-computed cases, eagerly and traced."""

import math

import numpy as np
import pytest
import tensorflow as tf

from gan_tf import losses

LOG2 = math.log(2.0)


def _both_modes(fn, *args):
    """Returns fn(*args) computed eagerly and inside tf.function; checks they agree."""
    eager = float(fn(*args))
    traced = float(tf.function(fn)(*args))
    assert eager == pytest.approx(traced, rel=1e-6)
    return eager


def test_zero_logits_give_log2_values():
    zeros = tf.zeros((4, 1))
    # D(x) = sigmoid(0) = 1/2: BCE = -log(1/2) for real and for fake -> 2 log 2.
    assert _both_modes(losses.minimax_discriminator_loss, zeros, zeros) == pytest.approx(2 * LOG2)
    # -log D(G(z)) = -log(1/2) = log 2.
    assert _both_modes(losses.non_saturating_generator_loss, zeros) == pytest.approx(LOG2)
    # log(1 - D(G(z))) = log(1/2) = -log 2.
    assert _both_modes(losses.minimax_generator_loss, zeros) == pytest.approx(-LOG2)


def test_hand_computed_values():
    real = tf.constant([[2.0], [0.0]])
    fake = tf.constant([[-1.0], [3.0]])
    sigmoid = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    # mean(-log D(real)) + mean(-log(1 - D(fake)))
    expected_d = (-math.log(sigmoid(2)) - math.log(sigmoid(0))) / 2 + (
        -math.log(1 - sigmoid(-1)) - math.log(1 - sigmoid(3))) / 2
    assert _both_modes(losses.non_saturating_discriminator_loss, real, fake) == pytest.approx(
        expected_d, rel=1e-6)
    expected_g = (-math.log(sigmoid(-1)) - math.log(sigmoid(3))) / 2
    assert _both_modes(losses.non_saturating_generator_loss, fake) == pytest.approx(
        expected_g, rel=1e-6)
    expected_minimax_g = (math.log(1 - sigmoid(-1)) + math.log(1 - sigmoid(3))) / 2
    assert _both_modes(losses.minimax_generator_loss, fake) == pytest.approx(
        expected_minimax_g, rel=1e-6)


def test_matches_probability_formula_on_random_logits():
    logits = np.random.default_rng(0).normal(0, 3, (64, 1)).astype(np.float32)
    p = 1 / (1 + np.exp(-logits.astype(np.float64)))
    assert float(losses.non_saturating_generator_loss(logits)) == pytest.approx(
        -np.mean(np.log(p)), rel=1e-5)
    assert float(losses.minimax_generator_loss(logits)) == pytest.approx(
        np.mean(np.log(1 - p)), rel=1e-5)


def test_extreme_logits_stay_finite():
    # A probability-space log(sigmoid(-100)) underflows to log(0) = -inf in float32.
    huge = tf.constant([[100.0], [-100.0]])
    for value in (losses.minimax_discriminator_loss(huge, huge),
                  losses.non_saturating_generator_loss(huge),
                  losses.minimax_generator_loss(huge)):
        assert np.isfinite(float(value))
    assert float(losses.non_saturating_generator_loss(tf.constant([[-100.0]]))) == \
        pytest.approx(100.0)


def test_mixed_precision_logits_are_computed_in_float32():
    value = losses.non_saturating_generator_loss(tf.zeros((2, 1), tf.bfloat16))
    assert value.dtype == tf.float32


def test_loss_objects_and_registry():
    loss = losses.get("non_saturating")
    assert isinstance(loss, losses.NonSaturating) and loss.d_steps == 1
    assert losses.get(loss) is loss
    assert losses.get("minimax", discriminator_scale=0.5).discriminator_scale == 0.5
    assert set(losses.names()) >= {"minimax", "non_saturating"}
    restored = losses.NonSaturating.from_config(losses.NonSaturating(d_steps=2).get_config())
    assert restored.d_steps == 2


@pytest.mark.parametrize("bad, error", [
    ("wasserstein_typo", ValueError), (3, TypeError)])
def test_get_rejects_unknown(bad, error):
    with pytest.raises(error, match="loss"):
        losses.get(bad)


@pytest.mark.parametrize("kwargs", [{"d_steps": 0}, {"d_steps": 1.5},
                                    {"discriminator_scale": 0}])
def test_loss_object_validates(kwargs):
    with pytest.raises(ValueError):
        losses.NonSaturating(**kwargs)
