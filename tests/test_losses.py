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
                                    {"d_steps": None}, {"d_steps": "x"},
                                    {"d_steps": float("inf")}, {"discriminator_scale": 0}])
def test_loss_object_validates(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        losses.NonSaturating(**kwargs)


# -- Wasserstein, hinge, least squares --------------------------------------------


def test_wasserstein_hinge_least_squares_hand_values():
    real = tf.constant([[2.0], [0.0]])
    fake = tf.constant([[-1.0], [3.0]])
    # mean(fake) - mean(real) = 1 - 1 = 0; generator: -mean(fake) = -1
    assert _both_modes(losses.wasserstein_discriminator_loss, real, fake) == pytest.approx(0.0)
    assert _both_modes(losses.wasserstein_generator_loss, fake) == pytest.approx(-1.0)
    # relu(1-2)=0, relu(1-0)=1 -> 0.5; relu(1-1)=0, relu(1+3)=4 -> 2; total 2.5
    assert _both_modes(losses.hinge_discriminator_loss, real, fake) == pytest.approx(2.5)
    assert _both_modes(losses.hinge_generator_loss, fake) == pytest.approx(-1.0)
    # 0.5*mean((2-1)^2, (0-1)^2) = 0.5; 0.5*mean(1, 9) = 2.5; total 3
    assert _both_modes(losses.least_squares_discriminator_loss, real, fake) == pytest.approx(3.0)
    # 0.5*mean((-2)^2, 2^2) = 2
    assert _both_modes(losses.least_squares_generator_loss, fake) == pytest.approx(2.0)


class _LinearCritic:
    """D(x) = w.x + b on flattened images; its input gradient is w everywhere."""

    def __init__(self, w, b=0.3):
        self.w = tf.constant(w, tf.float32)
        self.b = b

    def __call__(self, images, training=False):
        flat = tf.reshape(images, [tf.shape(images)[0], -1])
        return tf.reduce_sum(flat * tf.reshape(self.w, [1, -1]), axis=1, keepdims=True) + self.b


def _linear_case():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(4, 4, 1)).astype(np.float32)
    real = rng.uniform(-1, 1, (6, 4, 4, 1)).astype(np.float32)
    fake = rng.uniform(-1, 1, (6, 4, 4, 1)).astype(np.float32)
    return w, real, fake


def test_gradient_penalty_of_a_linear_critic():
    w, real, fake = _linear_case()
    critic = _LinearCritic(w)
    expected = 10.0 * (np.linalg.norm(w) - 1.0) ** 2
    assert float(losses.gradient_penalty(critic, real, fake)) == pytest.approx(expected, rel=1e-5)
    seeded = losses.GradientPenalty(weight=10.0)(critic, real, fake, seed=tf.constant([1, 2]))
    assert float(seeded) == pytest.approx(expected, rel=1e-5)
    traced = tf.function(lambda r, f: losses.gradient_penalty(critic, r, f, weight=2.0))
    assert float(traced(real, fake)) == pytest.approx(2.0 * (np.linalg.norm(w) - 1) ** 2,
                                                      rel=1e-5)


def test_gradient_penalty_is_zero_for_unit_gradient():
    w = np.zeros((4, 4, 1), np.float32)
    w[0, 0, 0] = 1.0  # |w| = 1
    _, real, fake = _linear_case()
    assert float(losses.gradient_penalty(_LinearCritic(w), real, fake)) == pytest.approx(
        0.0, abs=1e-6)


def test_r1_of_a_linear_critic_and_lazy_schedule():
    w, real, fake = _linear_case()
    critic = _LinearCritic(w)
    expected = 10.0 / 2 * float(np.sum(w ** 2))
    assert float(losses.r1_penalty(critic, real, gamma=10.0)) == pytest.approx(expected, rel=1e-5)
    lazy = losses.R1(gamma=10.0, every=4)
    # Applied (times 4) on steps 0, 4, 8...; zero in between.
    assert float(lazy(critic, real, fake, step=8)) == pytest.approx(4 * expected, rel=1e-5)
    assert float(lazy(critic, real, fake, step=5)) == 0.0


def test_loss_objects_of_the_variants():
    wgan = losses.get("wasserstein")
    assert (wgan.d_steps, wgan.clip_value, wgan.regularizers) == (5, 0.01, ())
    gp = losses.get("wasserstein_gp")
    assert gp.d_steps == 5 and isinstance(gp.regularizers[0], losses.GradientPenalty)
    assert gp.regularizers[0].weight == 10.0
    r1 = losses.get("non_saturating", regularizers=["r1", {"name": "gp", "weight": 1.0}])
    assert [r.name for r in r1.regularizers] == ["r1", "gp"]
    restored = losses.WassersteinGP.from_config(losses.WassersteinGP(weight=5.0).get_config())
    assert restored.regularizers[0].weight == 5.0
    with pytest.raises(ValueError, match="unknown regularizer"):
        losses.get_regularizer("l2")
    with pytest.raises(ValueError, match="clip_value"):
        losses.Wasserstein(clip_value=-1.0)


def test_info_losses_hand_values():
    onehot = tf.constant([[1.0, 0.0], [0.0, 1.0]])
    # uniform logits: CE = log 2 for each sample
    assert float(losses.info_categorical_loss(onehot, tf.zeros((2, 2)))) == pytest.approx(LOG2)
    # 0.5 * mean(sum((c - m)^2)) = 0.5 * mean(1 + 4, 0) = 1.25
    codes, means = tf.constant([[1.0, 2.0], [0.5, 0.5]]), tf.constant([[0.0, 0.0], [0.5, 0.5]])
    assert float(losses.info_continuous_loss(codes, means)) == pytest.approx(1.25)
    loss = losses.InfoGAN(num_categories=2, num_continuous=2, weight=2.0, continuous_weight=0.1)
    value = loss.auxiliary_loss(tf.concat([onehot, codes], 1), (tf.zeros((2, 2)), means))
    assert float(value) == pytest.approx(2.0 * (LOG2 + 0.1 * 1.25))
    with pytest.raises(ValueError, match="needs codes"):
        losses.InfoGAN(num_categories=0, num_continuous=0)
