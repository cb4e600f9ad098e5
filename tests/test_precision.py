"""gan_tf.precision: the automatic precision choice, and the fast-path training options
(steps_per_execution, jit_compile) that GAN.fit and the CLI take."""

import json
import os

import keras
import numpy as np
import pytest

from gan_tf import checkpoint, configs, precision, tasks, trainer
from gan_tf import train as train_lib

from conftest import image_dataset, small_gan


def test_explicit_precisions_pass_through():
    for name in ("float32", "mixed_bfloat16", "mixed_float16"):
        assert precision.resolve(name) == name


def test_unknown_precision_raises_naming_it():
    with pytest.raises(ValueError, match="float8"):
        precision.resolve("float8")


@pytest.mark.parametrize("flags, gpus, expected", [
    (frozenset({"avx2", "fma"}), [], "float32"),
    (frozenset({"avx512f", "avx512_bf16"}), [], "mixed_bfloat16"),
    (frozenset({"amx_bf16", "amx_tile"}), [], "mixed_bfloat16"),
    # GPUs win over the CPU: bf16 from compute capability 8.0, fp16 (loss scaling) on 7.x
    (frozenset({"avx512_bf16"}), [(9, 0)], "mixed_bfloat16"),  # H100 / H200
    (frozenset({"avx2"}), [(8, 0), (8, 6)], "mixed_bfloat16"),  # A100 + RTX 30xx
    (frozenset({"avx512_bf16"}), [(7, 0)], "mixed_float16"),  # V100
    (frozenset({"avx2"}), [(8, 0), (7, 5)], "mixed_float16"),  # the oldest decides
    (frozenset({"avx512_bf16"}), [(6, 1)], "float32"),  # P40: no tensor cores
])
def test_auto_follows_the_hardware(monkeypatch, flags, gpus, expected):
    """The choice by compute capability, against a faked device list."""
    monkeypatch.setattr(precision, "cpu_flags", lambda: flags)
    monkeypatch.setattr(precision, "gpu_capabilities", lambda: gpus)
    assert precision.resolve("auto") == expected


def test_auto_is_a_valid_config_precision_and_steps_per_execution_is_checked():
    config = configs.override(configs.get("default"), **{"train.precision": "auto"})
    assert tasks.validate(config).train.precision == "auto"
    with pytest.raises(ValueError, match="steps_per_execution"):
        tasks.validate(configs.override(config, **{"train.steps_per_execution": 0}))


def test_fit_keeps_epochs_whole_when_steps_per_execution_does_not_divide_them():
    # 6 steps per epoch with steps_per_execution=4: Keras alone would run 8 steps.
    gan = small_gan()
    gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3),
                steps_per_execution=4)
    history = gan.fit(image_dataset(num=64).repeat(), epochs=2, steps_per_epoch=6,
                      verbose=0)
    assert gan.train_steps == 12
    assert gan.steps_per_execution == 3  # the largest divisor of 6 not above 4
    assert len(history.history["d_loss"]) == 2
    gan.fit(image_dataset(num=64).repeat(), epochs=1, steps_per_epoch=8, verbose=0)
    assert gan.train_steps == 20 and gan.steps_per_execution == 4


def test_checkpoint_every_steps_with_steps_per_execution(tmp_path, monkeypatch):
    # Batch callbacks run once per 3 steps: steps 3, 6 (epoch end), 9; every_steps=2
    # saves at 3 (passed 2) and 9 (passed 8); the epoch ends save 6 and 12.
    gan = small_gan()
    gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3),
                steps_per_execution=3)
    saved = []
    original = checkpoint.CheckpointManager.save

    def recording_save(manager, model, state):
        saved.append(state.step)
        return original(manager, model, state)

    monkeypatch.setattr(checkpoint.CheckpointManager, "save", recording_save)
    gan.fit(image_dataset(num=64).repeat(), epochs=2, steps_per_epoch=6, verbose=0,
            callbacks=[checkpoint.Checkpoint(str(tmp_path), keep=10, every_steps=2)])
    assert saved == [3, 6, 9, 12]


def test_cli_flags_reach_the_compiled_gan(tmp_path):
    config = configs.override(configs.quick(configs.get("default")), **{
        "train.jit_compile": True, "train.steps_per_execution": 3,
        "train.precision": "auto"})
    gan = trainer.train_and_evaluate(config, str(tmp_path), verbose=0)
    assert gan.generator.dtype_policy.name == precision.resolve("auto")
    # The run's policy does not leak into models the caller builds afterwards.
    assert keras.mixed_precision.global_policy().name == "float32"
    assert gan.jit_compile is True
    assert gan.train_steps == 6  # 2 epochs of 3 steps, one execution each
    with open(os.path.join(tmp_path, "config.json")) as f:
        recorded = json.load(f)["train"]
    assert recorded["precision"] == "auto" and recorded["steps_per_execution"] == 3
    assert np.isfinite(gan.generate(2, seed=0)).all()


# -- steps_per_execution="auto" (gan_tf.flops) -------------------------------------------


def test_flops_of_a_dense_and_a_conv_layer_follow_their_shapes():
    import tensorflow as tf

    from gan_tf import flops

    dense = keras.Sequential([keras.Input((100,)), keras.layers.Dense(256)])
    assert flops.forward(dense, tf.TensorSpec((3, 100))) == 2 * 3 * 100 * 256
    conv = keras.Sequential([keras.Input((8, 8, 4)),
                             keras.layers.Conv2D(16, 3, strides=2, padding="same"),
                             keras.layers.Conv2DTranspose(2, 5, strides=2, padding="same")])
    expected = 2 * (4 * 4 * 16) * (3 * 3 * 4) + 2 * (4 * 4 * 16) * (5 * 5 * 2)
    assert flops.forward(conv, tf.TensorSpec((1, 8, 8, 4))) == expected


@pytest.mark.parametrize("step_flops, epoch, intervals, expected", [
    (1e9, None, (), 32),        # 32 GFLOP per call
    (1e8, None, (), 64),        # at most 64
    (1e12, 100, (), 1),         # a big step: one per call
    (1e9, 140, (), 28),         # the largest divisor of the epoch not above 32
    (1e9, 937, (), 1),          # a prime epoch length keeps epochs whole
    (1e9, 140, (10,), 10),      # and the callbacks' intervals exact
    (1e9, 140, (0, 7), 7),      # 0: that callback is off
    (None, 140, (), 1),         # unknown cost
])
def test_choose_steps_per_execution(step_flops, epoch, intervals, expected):
    from gan_tf import flops

    chosen = flops.choose_steps_per_execution(step_flops, epoch, intervals)
    assert chosen == expected
    assert all(n % chosen == 0 for n in (epoch, *intervals) if n)


def test_auto_steps_per_execution_divides_the_epoch_and_the_intervals():
    gan = small_gan()
    gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3),
                steps_per_execution="auto")
    assert gan.steps_per_execution == 1  # chosen by fit, from the data's batch
    gan.fit(image_dataset(num=64).repeat(), epochs=1, steps_per_epoch=12, verbose=0)
    assert gan.steps_per_execution == 12  # a tiny model: the whole epoch per call
    assert gan.train_steps == 12
    gan.step_intervals = (8,)
    gan.fit(image_dataset(num=64).repeat(), epochs=1, steps_per_epoch=12, verbose=0)
    assert gan.steps_per_execution == 4 and gan.train_steps == 24
    gan.step_intervals = ()
    gan.fit(image_dataset(num=64).repeat(), epochs=1, steps_per_epoch=7, verbose=0)
    assert gan.steps_per_execution == 7 and gan.train_steps == 31


def test_auto_steps_per_execution_follows_the_step_flops(monkeypatch):
    from gan_tf import flops

    gan = small_gan()
    gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3),
                steps_per_execution="auto")
    counted = gan.step_flops(image_dataset(num=64).element_spec)
    assert counted > 0
    monkeypatch.setattr(flops, "AUTO_TARGET_FLOPS", 3 * counted)
    gan.fit(image_dataset(num=64).repeat(), epochs=1, steps_per_epoch=12, verbose=0)
    assert gan.steps_per_execution == 3


def test_explicit_steps_per_execution_is_kept_and_bad_values_are_refused():
    gan = small_gan()
    gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3),
                steps_per_execution=2)
    gan.fit(image_dataset(num=64).repeat(), epochs=1, steps_per_epoch=12, verbose=0)
    assert gan.steps_per_execution == 2
    for bad in (0, "fast", 2.5, True):
        with pytest.raises(ValueError, match="steps_per_execution"):
            gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3),
                        steps_per_execution=bad)


def test_training_is_the_same_for_any_steps_per_execution():
    """The step count per call changes no number: auto may pick any value, and a
    resumed epoch runs with a divisor of what is left."""
    weights = []
    for spe in (1, 4, "auto"):
        keras.utils.set_random_seed(0)
        gan = small_gan()
        gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3),
                    steps_per_execution=spe)
        gan.fit(image_dataset(num=64).repeat(), epochs=1, steps_per_epoch=8, verbose=0)
        weights.append(gan.get_weights())
    for other in weights[1:]:
        for a, b in zip(weights[0], other):
            np.testing.assert_array_equal(a, b)


def test_config_steps_per_execution_takes_auto_or_an_integer():
    assert configs.get("default").train.steps_per_execution == "auto"
    assert train_lib.config_from_argv(["x", "--steps_per_execution=8"]) \
        .train.steps_per_execution == 8
    assert train_lib.config_from_argv(["x", "--set=train.steps_per_execution=auto"]) \
        .train.steps_per_execution == "auto"
    for bad in ("0", "fast"):
        with pytest.raises(Exception, match="steps_per_execution must be >= 1 or auto"):
            train_lib.config_from_argv(["x", f"--steps_per_execution={bad}"])
    assert "train.steps_per_execution (--steps_per_execution): int or str = 'auto'" in \
        train_lib.describe_config_fields()


def test_the_run_passes_its_step_intervals_to_the_model(tmp_path):
    config = configs.override(configs.quick(configs.get("tutorial_004")), **{
        "data.name": "mnist_sample", "train.steps_per_epoch": 6,
        "train.steps_per_execution": "auto",  # quick() runs one step per execution
        "callbacks.checkpoint_every_steps": 4, "callbacks.sample_every_steps": 6})
    gan = trainer.train_and_evaluate(config, str(tmp_path), verbose=0)
    assert gan.step_intervals == (4, 6)
    assert gan.steps_per_execution == 2  # divides 6 (epoch), 4 and 6
    assert gan.train_steps == 12


def _discriminator(policy, weight_scale, source=None):
    """A DCGAN-64 critic without dropout (its masks would differ between the two)."""
    import keras
    from gan_tf import models

    keras.mixed_precision.set_global_policy(policy)
    try:
        keras.utils.set_random_seed(0)
        critic = models.dcgan.Discriminator((64, 64, 3), base_channels=16, dropout=0.0)
        critic(np.zeros((1, 64, 64, 3), "float32"))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    for mine, theirs in zip(critic.weights, (source or critic).weights):
        value = theirs.numpy()
        mine.assign(value * weight_scale if source is None and value.ndim > 1 else value)
    return critic


@pytest.mark.parametrize("name, weight_scale", [
    ("r1", 1.0), ("gp", 1.0),
    # Weights x 0.3: the critic's input gradients are ~1e-5 per pixel, below float16's
    # normal range; without the inner scale the GP's gradient is 27% off and R1's
    # value 5% off.
    ("r1", 0.3), ("gp", 0.3)])
def test_penalties_under_float16_loss_scaling_match_float32(name, weight_scale):
    """GP and R1 differentiate the critic twice. Under mixed_float16 the inner
    backward pass gets the loss scale too (GAN passes the optimizer's scale): the
    penalty and its gradient with respect to the critic's weights, through a
    LossScaleOptimizer's scaling, match a float32 computation."""
    import tensorflow as tf
    from gan_tf import losses

    reference = _discriminator("float32", weight_scale)
    half = _discriminator("mixed_float16", 1.0, source=reference)
    assert half.compute_dtype == "float16"
    rng = np.random.default_rng(1)
    real, fake = (rng.uniform(-1, 1, (8, 64, 64, 3)).astype("float32") for _ in range(2))
    seed = tf.constant([1, 2], tf.int32)
    regularizer = losses.R1(gamma=10.0) if name == "r1" else losses.GradientPenalty()
    optimizer = keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam())
    optimizer.build(half.trainable_variables)
    scale = optimizer.scale_loss(tf.constant(1.0))
    assert float(scale) == 2.0 ** 15
    found = {}
    for key, critic, extra in (("float32", reference, {}),
                               ("float16", half, {"scale": scale})):
        with tf.GradientTape() as tape:
            penalty = regularizer(critic, real, fake, seed=seed, **extra)
            scaled = optimizer.scale_loss(penalty) if extra else penalty
        gradients = tape.gradient(scaled, critic.trainable_variables)
        flat = np.concatenate([np.ravel(g) for g in gradients if g is not None])
        found[key] = float(penalty), flat / (float(scale) if extra else 1.0)
    (p32, g32), (p16, g16) = found["float32"], found["float16"]
    assert np.isfinite(g16).all()
    assert abs(p16 - p32) <= 1e-2 * abs(p32), (p16, p32)
    if name == "gp" or weight_scale == 1.0:
        # (R1 of the shrunken critic is ~1e-9: its gradient is float16 noise either
        # way and adds nothing next to the adversarial loss's.)
        assert np.linalg.norm(g16 - g32) <= 0.08 * np.linalg.norm(g32)


def test_gan_trains_under_float16_with_both_penalties():
    """GAN.compile wraps the optimizers in loss scaling under mixed_float16 and the
    discriminator step hands the scale to the penalties: a few steps stay finite."""
    from gan_tf import losses

    keras.mixed_precision.set_global_policy("mixed_float16")
    gan = small_gan(family="dcgan")
    gan.compile(loss=losses.get("wasserstein_gp", regularizers=[
        losses.GradientPenalty(), losses.R1(gamma=1.0)]))
    assert isinstance(gan.d_optimizer, keras.optimizers.LossScaleOptimizer)
    history = gan.fit(image_dataset(16 * gan.gan_loss.d_steps, 8), epochs=1, verbose=0)
    assert history.history["gp"][0] > 0 and history.history["r1"][0] > 0
    assert all(np.isfinite(v).all() for v in history.history.values())
    assert np.isfinite(gan.generate(2, seed=0)).all()
