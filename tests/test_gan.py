"""The GAN wrapper: one train_step, sampling, save/load and export round trips."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import gan_tf
from gan_tf import adversarial
from gan_tf import gan as gan_lib
from gan_tf import losses, models
from tests.conftest import image_dataset, random_images, small_gan


def _np(variable):
    return variable.numpy()


def _weights(model):
    return [_np(v) for v in model.weights]


def _changed(before, after):
    return [not np.array_equal(b, a) for b, a in zip(before, after)]


@pytest.mark.parametrize("run_eagerly", [True, False])
def test_train_step_updates_both_models(run_eagerly):
    gan = small_gan(family="dcgan")
    gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3),
                run_eagerly=run_eagerly)
    g_before, d_before = _weights(gan.generator), _weights(gan.discriminator)
    history = gan.fit(image_dataset(16, 8), epochs=1, verbose=0)
    for key in ("d_loss", "g_loss", "real_score", "fake_score"):
        assert len(history.history[key]) == 1 and np.isfinite(history.history[key][0])
    g_trainable = [v.trainable for v in gan.generator.weights]
    g_changed = _changed(g_before, _weights(gan.generator))
    assert all(c for c, t in zip(g_changed, g_trainable) if t)
    assert all(_changed(d_before, _weights(gan.discriminator))[i]
               for i, v in enumerate(gan.discriminator.weights) if v.trainable)


def test_frozen_layers_are_left_alone():
    gan = small_gan()
    frozen_g = gan.generator.stack.layers[0]
    frozen_d = gan.discriminator.stack.layers[1]
    frozen_g.trainable = frozen_d.trainable = False
    gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    before = [_np(v) for v in frozen_g.weights + frozen_d.weights]
    others = _np(gan.generator.stack.layers[-3].kernel)
    gan.fit(image_dataset(16, 8), epochs=1, verbose=0)
    for b, v in zip(before, frozen_g.weights + frozen_d.weights):
        np.testing.assert_array_equal(b, _np(v))
    assert not np.array_equal(others, _np(gan.generator.stack.layers[-3].kernel))


def _twin_gans(loss="non_saturating", family="mlp", **gan_kwargs):
    """Two GANs with the same weights, noise seed and loss (no dropout)."""
    twins = []
    for _ in range(2):
        keras.utils.set_random_seed(0)
        if family == "conditional":
            generator = models.conditional.Generator(8, body_kwargs={"base_channels": 4})
            discriminator = models.conditional.Discriminator(
                body_kwargs={"base_channels": 4, "dropout": 0.0})
        elif family == "infogan":
            generator = models.infogan.Generator(20, base_channels=4)
            discriminator = models.infogan.Discriminator(
                body_kwargs={"base_channels": 4, "dropout": 0.0})
        else:
            generator = models.mlp.Generator(8 if family == "mlp" else 20,
                                             hidden_units=(16,))
            discriminator = models.mlp.Discriminator(hidden_units=(16,), dropout=0.0)
        gan = gan_tf.GAN(generator, discriminator, latent_dim=generator.latent_dim
                         if hasattr(generator, "latent_dim") else 8, seed=0, **gan_kwargs)
        gan.compile(keras.optimizers.Adam(1e-2, beta_1=0.5),
                    keras.optimizers.Adam(1e-2, beta_1=0.5), loss=loss)
        gan.build_optimizers()
        twins.append(gan)
    return twins


def _reference_step(gan, images, labels=None):
    """One training step written out with plain tapes (the PyTorch DCGAN example's
    order): each of the d_steps critic steps takes its own real batch (rows i::d) and
    its own latents; the last one's fakes, made once under the generator's tape, then
    train the generator through the updated discriminator. Random numbers are drawn
    from the GAN's SeedGenerator in the step's documented order."""
    from gan_tf import augment

    loss = gan.gan_loss
    d = loss.d_steps

    def d_inputs(x, y):
        if gan.augment:
            x = augment.diff_augment(x, gan.augment, gan.seed_generator.next())
        return x if y is None else (x, y)

    def g_inputs(z, y):
        return z if y is None else (z, y)

    def heads(outputs):
        return (outputs[0], outputs[1:]) if isinstance(outputs, (tuple, list)) else (outputs, ())

    def aux(z, extras):
        return loss.auxiliary_loss(z[:, gan.latent_dim - loss.code_dim:], extras) \
            if loss.code_dim else 0.0

    for i in range(d):
        real = images[i::d]
        y = None if labels is None else labels[i::d]
        z = gan.sample_latents(real.shape[0])
        with tf.GradientTape() as g_tape:
            fake = gan.generator(g_inputs(z, y), training=True)
            with tf.GradientTape() as d_tape:
                real_logits, _ = heads(gan.discriminator(d_inputs(real, y), training=True))
                fake_logits, extras = heads(gan.discriminator(
                    d_inputs(tf.stop_gradient(fake), y), training=True))
                d_total = loss.discriminator_scale * loss.discriminator_loss(
                    real_logits, fake_logits) + aux(z, extras)
                for regularizer in loss.regularizers:
                    d_total += regularizer(gan.discriminator, real, tf.stop_gradient(fake), y,
                                           seed=gan.seed_generator.next(),
                                           step=gan.d_optimizer.iterations)
            variables = gan.discriminator.trainable_variables
            gan.d_optimizer.apply_gradients(zip(d_tape.gradient(d_total, variables),
                                                variables))
            loss.after_discriminator_step(gan.discriminator)
            if i < d - 1:
                continue
            fake_logits, extras = heads(gan.discriminator(d_inputs(fake, y), training=True))
            g_total = loss.generator_loss(fake_logits) + aux(z, extras)
        variables = gan.generator.trainable_variables
        gan.g_optimizer.apply_gradients(zip(g_tape.gradient(g_total, variables), variables))


@pytest.mark.parametrize("variant", [
    {},
    {"loss": "wasserstein_gp"},
    {"loss": "wasserstein"},
    {"loss": losses.get("non_saturating", regularizers=[losses.R1(gamma=1.0)])},
    {"augment": "color,translation,cutout"},
    {"family": "conditional", "conditional": True},
    {"family": "infogan", "loss": "infogan"},
    {"ema_decay": 0.5},
])
def test_train_step_equals_the_reference_step(variant):
    """One fit step equals `_reference_step`: one generator forward per critic step,
    a new real batch per critic step, G updated through the updated D on the same
    fakes. (The earlier step drew new latents for G: its weights differ here.)"""
    variant = dict(variant)
    family = variant.pop("family", "mlp")
    loss = variant.pop("loss", "non_saturating")
    ours, reference = _twin_gans(loss, family, **variant)
    d = ours.gan_loss.d_steps
    images = tf.constant(random_images(8 * d))
    labels = tf.constant(np.arange(8 * d) % 10, tf.int32)
    rows = (images, labels) if family == "conditional" else images
    dataset = tf.data.Dataset.from_tensor_slices(rows).batch(8, drop_remainder=True)
    ours.fit(dataset, epochs=1, verbose=0)
    assert ours.train_steps == 1 and int(ours.d_optimizer.iterations) == d
    # fit groups batch i of the dataset into rows i::d of the step's batch.
    grouped = next(iter(gan_lib.group_batches(dataset, d))) if d > 1 else rows
    grouped_images = grouped[0] if family == "conditional" else grouped
    np.testing.assert_array_equal(grouped_images.numpy()[1::d], images.numpy()[8:16] if d > 1
                                  else images.numpy()[1::1])
    _reference_step(reference, grouped_images,
                    grouped[1] if family == "conditional" else None)
    if reference.ema_generator is not None:
        reference._update_ema()
    for model in ("generator", "discriminator"):
        for a, b in zip(getattr(ours, model).weights, getattr(reference, model).weights):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-5,
                                       err_msg=f"{model} {a.path}")
    if ours.ema_generator is not None:
        for a, b in zip(ours.ema_generator.weights, reference.ema_generator.weights):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-5)


def test_step_runs_the_generator_once_per_critic_step():
    calls = []

    class Counting(keras.layers.Layer):
        def call(self, x):
            calls.append(1)  # runs once per call while eager
            return x

    for loss, expected in (("non_saturating", 1), ("wasserstein_gp", 5)):
        gan = small_gan()
        gan.generator.stack.add(Counting())
        gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3), loss=loss,
                    run_eagerly=True)
        calls.clear()
        gan.fit(image_dataset(8 * expected, 8), epochs=1, verbose=0)
        assert len(calls) == expected, loss


def test_group_batches_needs_a_static_batch_size():
    dataset = tf.data.Dataset.from_tensor_slices(random_images(12)).batch(5)
    with pytest.raises(ValueError, match="drop_remainder=True"):
        gan_lib.group_batches(dataset, 2)


def test_train_step_traces_once():
    traces = []

    class CountingGAN(gan_tf.GAN):
        def train_step(self, data):
            traces.append(1)  # runs only while tracing
            return super().train_step(data)

    base = small_gan()
    gan = CountingGAN(base.generator, base.discriminator, latent_dim=8, seed=0)
    gan.compile()
    gan.fit(image_dataset(64, 8), epochs=3, verbose=0)  # 24 steps
    assert len(traces) == 1


def test_any_pair_of_keras_models():
    generator = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8 * 8),
                                  keras.layers.Reshape((8, 8, 1)),
                                  keras.layers.Activation("tanh")])
    discriminator = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                                      keras.layers.Dense(1)])
    gan = gan_tf.GAN(generator, discriminator, latent_dim=4)
    gan.compile(loss="minimax")
    history = gan.fit(image_dataset(16, 8, (8, 8, 1)), epochs=2, verbose=0)
    assert len(history.history["g_loss"]) == 2
    assert gan.generate(3, seed=1).shape == (3, 8, 8, 1)


def test_datasets_with_labels_are_accepted():
    images = random_images(16)
    dataset = tf.data.Dataset.from_tensor_slices((images, np.arange(16) % 10)).batch(8)
    small_gan().fit(dataset, epochs=1, verbose=0)


def test_generate_is_reproducible():
    gan = small_gan()
    a, b = gan.generate(5, seed=3), gan.generate(5, seed=3)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (5, 28, 28, 1) and a.dtype == np.float32
    assert a.min() >= -1 and a.max() <= 1
    assert not np.array_equal(a, gan.generate(5, seed=4))
    # Chunked generation gives the same images.
    np.testing.assert_allclose(gan.generate(5, seed=3, batch_size=2), a, atol=1e-6)


def test_uniform_latents():
    base = small_gan()
    gan = gan_tf.GAN(base.generator, base.discriminator, latent_dim=8,
                     latent_distribution="uniform")
    latents = np.asarray(gan.sample_latents(1000, seed=0))
    assert latents.min() >= -1 and latents.max() <= 1 and abs(latents.mean()) < 0.05


@pytest.mark.parametrize("kwargs, error", [
    ({"latent_dim": 0}, ValueError), ({"latent_dim": 8, "latent_distribution": "cauchy"},
                                      ValueError)])
def test_constructor_validates(kwargs, error):
    base = small_gan()
    with pytest.raises(error):
        gan_tf.GAN(base.generator, base.discriminator, **kwargs)


def test_constructor_rejects_non_models():
    with pytest.raises(TypeError, match="generator must be a Keras model"):
        gan_tf.GAN(lambda z: z, small_gan().discriminator, latent_dim=8)


def test_fit_without_compile_explains():
    base = small_gan()
    gan = gan_tf.GAN(base.generator, base.discriminator, latent_dim=8)
    with pytest.raises((RuntimeError, ValueError), match="compile"):
        gan.fit(image_dataset(8, 8), epochs=1, verbose=0)


def test_save_load_round_trip_keeps_optimizers_and_noise(tmp_path):
    gan = small_gan(family="dcgan")
    gan.compile(keras.optimizers.Adam(1e-3, beta_1=0.5), keras.optimizers.RMSprop(5e-4),
                loss=losses.NonSaturating(discriminator_scale=0.5))
    dataset = image_dataset(16, 8)
    gan.fit(dataset, epochs=1, verbose=0)
    path = str(tmp_path / "gan.keras")
    gan.save(path)
    restored = keras.models.load_model(path)
    assert isinstance(restored, gan_tf.GAN)
    assert isinstance(restored.d_optimizer, keras.optimizers.RMSprop)
    assert restored.gan_loss.discriminator_scale == 0.5
    np.testing.assert_array_equal(restored.generate(4, seed=0), gan.generate(4, seed=0))
    for mine, theirs in ((gan.g_optimizer, restored.g_optimizer),
                         (gan.d_optimizer, restored.d_optimizer)):
        assert int(theirs.iterations) == int(mine.iterations) == 2
        assert len(mine.variables) == len(theirs.variables)
        for a, b in zip(mine.variables, theirs.variables):
            np.testing.assert_array_equal(_np(a), _np(b))
    np.testing.assert_array_equal(_np(restored.seed_generator.state),
                                  _np(gan.seed_generator.state))
    # Training continues identically from the restored state (no dropout in dcgan G;
    # D dropout draws from Keras' global RNG, so compare with deterministic D).
    history = restored.fit(dataset, epochs=1, verbose=0)
    assert int(restored.g_optimizer.iterations) == 4
    assert np.isfinite(history.history["g_loss"][0])


def test_save_weights_round_trip_includes_optimizers(tmp_path):
    gan = small_gan()
    gan.fit(image_dataset(16, 8), epochs=1, verbose=0)
    path = str(tmp_path / "w.weights.h5")
    gan.save_weights(path)
    other = small_gan(seed=5)
    other.build_optimizers()
    other.load_weights(path)
    for a, b in zip(gan.d_optimizer.variables, other.d_optimizer.variables):
        np.testing.assert_array_equal(_np(a), _np(b))
    np.testing.assert_array_equal(other.generate(3, seed=1), gan.generate(3, seed=1))


def test_export_generator_serves_without_gan_tf(tmp_path):
    gan = small_gan(family="dcgan")
    path = gan.export_generator(str(tmp_path / "generator"))
    latents = np.asarray(gan.sample_latents(3, seed=7))
    np.save(tmp_path / "latents.npy", latents)
    np.save(tmp_path / "expected.npy", gan.generate(latents=latents))
    script = f"""
import sys, numpy as np, tensorflow as tf
loaded = tf.saved_model.load({path!r})
latents = np.load({str(tmp_path / 'latents.npy')!r})
images = loaded.serve(tf.constant(latents)).numpy()
outputs = loaded.signatures["serving_default"](latents=tf.constant(latents))
(signature_images,) = outputs.values()
np.testing.assert_allclose(images, np.load({str(tmp_path / 'expected.npy')!r}), atol=1e-5)
np.testing.assert_allclose(signature_images.numpy(), images, atol=1e-6)
assert "gan_tf" not in sys.modules, "gan_tf was imported"
print("ok", images.shape)
"""
    env = {**os.environ, "PYTHONPATH": ""}
    result = subprocess.run([sys.executable, "-c", script], cwd=str(tmp_path),
                            capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ok (3, 28, 28, 1)" in result.stdout
    assert os.path.exists(os.path.join(path, "gan_tf_export.json"))


@pytest.mark.parametrize("family", models.families())
def test_mixed_bfloat16_trains_every_family(family):
    keras.mixed_precision.set_global_policy("mixed_bfloat16")  # reset by conftest
    gan = small_gan(family=family)
    history = gan.fit(image_dataset(16, 8), epochs=1, verbose=0)
    assert all(np.isfinite(history.history[k][0]) for k in ("d_loss", "g_loss"))
    assert gan.generator.stack.layers[1].compute_dtype == "bfloat16"
    images = gan.generate(2, seed=0)
    assert images.dtype == np.float32 and np.abs(images).max() <= 1


_EQUIVALENCE_SCRIPT = """
import sys, numpy as np, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras, gan_tf
from gan_tf import models

def run(strategy, loss):
    # 4 generator steps per epoch: each takes d_steps batches of 8 (one per critic step).
    d_steps = gan_tf.losses.get(loss).d_steps
    images = np.random.default_rng(0).uniform(-1, 1, (32 * d_steps, 28, 28, 1)).astype("float32")
    keras.utils.set_random_seed(0)
    with strategy.scope():
        # No batch norm and no dropout: both would differ by design between one device
        # (statistics of 8 images) and two replicas (2 x 4 images).
        gan = gan_tf.GAN(models.mlp.Generator(8, hidden_units=(16,), batch_norm=False),
                         models.mlp.Discriminator(hidden_units=(16,), dropout=0.0),
                         latent_dim=8, seed=0)
        # 2 steps per call: kept on one device, 1 on two replicas (Keras' multi-step
        # loop fails there); the number of steps per call changes no result.
        gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3), loss=loss,
                    steps_per_execution=2)
    ds = tf.data.Dataset.from_tensor_slices(images).batch(8, drop_remainder=True)
    history = gan.fit(ds, epochs=2, verbose=0)
    weights = [v.numpy() for v in gan.generator.weights + gan.discriminator.weights]
    return weights, history.history, gan

loss = sys.argv[1]
one, h1, _ = run(tf.distribute.OneDeviceStrategy("/cpu:0"), loss)
two, h2, gan = run(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]), loss)
assert gan.distribute_strategy.num_replicas_in_sync == 2 and gan.steps_per_execution == 1
assert int(gan.g_optimizer.iterations.numpy()) == 8  # 2 epochs x 4 global batches
diff = max(float(np.abs(a - b).max()) for a, b in zip(one, two))
assert diff < 1e-5, ("weights differ", diff)
for key in h1:
    np.testing.assert_allclose(h1[key], h2[key], rtol=1e-4, atol=1e-6, err_msg=key)
print("equal", loss, diff)
"""


@pytest.mark.parametrize("loss", ["non_saturating", "wasserstein_gp"])
def test_two_replicas_train_exactly_like_one_device(tmp_path, loss):
    """MirroredStrategy on two logical CPUs with the same global batch gives the same
    losses and weights as one device: per-replica loss scaling and per-replica slices
    of the same noise (latents, gradient-penalty epsilon) are right."""
    script = tmp_path / "equivalence.py"
    script.write_text(_EQUIVALENCE_SCRIPT)
    result = subprocess.run([sys.executable, str(script), loss], capture_output=True,
                            text=True, timeout=300, cwd=str(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"equal {loss}" in result.stdout


@pytest.mark.parametrize("loss", ["minimax", "wasserstein", "wasserstein_gp", "hinge",
                                  "least_squares"])
def test_every_loss_trains_through_the_one_train_step(loss):
    gan = small_gan(family="dcgan")
    gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3), loss=loss)
    d_steps = gan.gan_loss.d_steps
    # Each critic step takes its own batch: 2 steps take 2 * d_steps batches.
    history = gan.fit(image_dataset(16 * d_steps, 8), epochs=1, verbose=0)
    assert int(gan.d_optimizer.iterations) == d_steps * int(gan.g_optimizer.iterations) == \
        d_steps * 2
    assert all(np.isfinite(v[0]) for v in history.history.values())
    if loss == "wasserstein_gp":
        assert history.history["gp"][0] > 0
    if loss == "wasserstein":
        bound = gan.gan_loss.clip_value
        assert all(np.abs(v.numpy()).max() <= bound + 1e-7
                   for v in gan.discriminator.trainable_variables)


def test_r1_regularizer_is_logged_and_saved(tmp_path):
    gan = small_gan()
    gan.compile(loss=losses.get("non_saturating", regularizers=[losses.R1(gamma=1.0)]))
    history = gan.fit(image_dataset(16, 8), epochs=1, verbose=0)
    assert history.history["r1"][0] > 0
    gan.save(str(tmp_path / "r1.keras"))
    restored = keras.models.load_model(str(tmp_path / "r1.keras"))
    assert restored.gan_loss.regularizers[0].gamma == 1.0


def test_ema_generator_averages_and_is_used_for_sampling(tmp_path):
    base = small_gan(family="dcgan")
    gan = gan_tf.GAN(base.generator, base.discriminator, latent_dim=8, seed=0, ema_decay=0.5,
                     ema_rampup=None)
    gan.compile(keras.optimizers.Adam(1e-2), keras.optimizers.Adam(1e-2))
    before = [w.numpy() for w in gan.ema_generator.trainable_weights or gan.ema_generator.weights]
    gan.fit(image_dataset(8, 8), epochs=1, verbose=0)  # one G step
    # Without the warm-up (ema_rampup=None), ema = 0.5 * old + 0.5 * new after one
    # step, for every trainable weight.
    for average, old, new, weight in zip(gan.ema_generator.weights, before,
                                         gan.generator.weights, gan.generator.weights):
        if weight.trainable:
            np.testing.assert_allclose(average.numpy(), 0.5 * old + 0.5 * new.numpy(),
                                       rtol=1e-5, atol=1e-6)
    latents = gan.sample_latents(3, seed=1)
    np.testing.assert_allclose(gan.generate(latents=latents),
                               gan.ema_generator(latents, training=False).numpy(), atol=1e-6)
    assert not np.allclose(gan.generate(latents=latents),
                           gan.generator(latents, training=False).numpy())
    gan.save(str(tmp_path / "ema.keras"))
    restored = keras.models.load_model(str(tmp_path / "ema.keras"))
    np.testing.assert_array_equal(restored.generate(latents=latents), gan.generate(latents=latents))


def test_ema_decay_warms_up_with_the_step_count():
    # 0.5 ** (1 / (0.05 t)): 0 at t = 0 (a copy), 0.5 ** 0.2 = 0.8706 at t = 100,
    # 0.5 ** 0.02 = 0.98623 at t = 1000, then the cap from t = 13,863 on.
    expected = {0: 0.0, 100: 0.5 ** 0.2, 1000: 0.5 ** 0.02, 13_863: 0.999, 10**6: 0.999}
    for step, decay in expected.items():
        assert float(gan_lib.ema_decay_at(0.999, step)) == pytest.approx(decay, abs=2e-6)
    assert float(gan_lib.ema_decay_at(0.5, tf.constant(100, tf.int64))) == 0.5
    assert float(gan_lib.ema_decay_at(0.999, 0, rampup=None)) == pytest.approx(0.999)
    # A half-life of at most 5 % of the run: after 13,000 steps the average's
    # half-life is 650 steps (decay ** 650 = 0.5).
    assert float(gan_lib.ema_decay_at(0.999, 13_000)) ** 650 == pytest.approx(0.5, rel=1e-3)
    base = small_gan()
    with pytest.raises(ValueError, match="ema_rampup"):
        gan_tf.GAN(base.generator, base.discriminator, latent_dim=8, ema_decay=0.9,
                   ema_rampup=0)


def test_ema_update_uses_the_restored_step_count(tmp_path):
    """The warm-up reads the saved step counter: a restored model's next update uses
    the decay of its step, as the uninterrupted model's does."""
    base = small_gan()
    gan = gan_tf.GAN(base.generator, base.discriminator, latent_dim=8, seed=0,
                     ema_decay=0.999)
    gan.compile(keras.optimizers.Adam(1e-2), keras.optimizers.Adam(1e-2))
    gan.fit(image_dataset(40, 8), epochs=1, verbose=0)  # 5 steps
    gan.save(str(tmp_path / "ema.keras"))
    restored = keras.models.load_model(str(tmp_path / "ema.keras"))
    assert restored.train_steps == 5
    before = [w.numpy() for w in restored.ema_generator.weights]
    raw = [w.numpy() for w in restored.generator.weights]
    restored._update_ema()  # the update after step 5: decay 0.5 ** (1 / 0.25) = 0.0625
    for average, old, new, weight in zip(restored.ema_generator.weights, before, raw,
                                         restored.generator.weights):
        if weight.trainable:
            np.testing.assert_allclose(average.numpy(), 0.0625 * old + 0.9375 * new,
                                       rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_default_ema_samples_are_no_worse_than_the_raw_generator_at_700_steps(tmp_path):
    """The default preset's first epoch (700 steps, float32): the EMA generator's 5,000
    samples score an FID no higher than the raw generator's in the bundled classifier's
    features (with a constant decay of 0.999 the average still held half of the
    initial weights there and drew noise). Measured for seeds 0, 1 and 2: EMA 29.9 /
    30.6 / 30.1 against raw 31.2 / 37.0 / 51.0 (docs/training.md)."""
    from gan_tf import configs, data, metrics, trainer

    config = configs.override(configs.get("default"), **{
        "train.epochs": 1, "train.train_minutes": None, "train.precision": "float32"})
    gan = trainer.train_and_evaluate(config, str(tmp_path / "run"), verbose=0)
    assert gan.train_steps == 700
    extractor = metrics.ClassifierExtractor("mnist")
    real = np.concatenate([batch.numpy() for batch in data.load(
        "mnist_sample", split="test", batch_size=997, repeat=False, shuffle=False)])
    real_features = extractor.extract(real).features
    latents = gan.sample_latents(5000, seed=123)
    scores = {}
    for name, generator in (("ema", gan.ema_generator), ("raw", gan.generator)):
        images = np.concatenate([np.asarray(generator(latents[i:i + 500], training=False),
                                            np.float32) for i in range(0, 5000, 500)])
        scores[name] = metrics.frechet_distance(real_features,
                                                extractor.extract(images).features)
    assert scores["ema"] <= scores["raw"], scores


@pytest.mark.slow
def test_cgan_preset_draws_varied_digits_of_each_label_after_1500_steps(tmp_path):
    """The cgan preset's generators (raw and EMA) still use z: samples of one label
    differ. Measured as the per-pixel standard deviation over 10 latents, averaged over
    labels and pixels (images in [-1, 1]): 0.15-0.22 for varied digits, 0.03-0.05 for
    the preset as it was (batch 64, no EMA), whose G drew one image per label by 1,400
    steps."""
    from gan_tf import configs, trainer

    config = configs.override(configs.get("cgan"), **{
        "train.epochs": 5, "train.steps_per_epoch": 300, "train.precision": "float32"})
    gan = trainer.train_and_evaluate(config, str(tmp_path / "run"), verbose=0)
    assert gan.train_steps == 1500
    latents = np.repeat(gan.sample_latents(10, seed=2).numpy(), 10, axis=0)
    labels = np.tile(np.arange(10), 10)  # each label under the same 10 latents
    for generator in (gan.generator, gan.ema_generator):
        images = np.asarray(generator((latents, labels), training=False), np.float32)
        spread = images.reshape(10, 10, -1).std(axis=0).mean()
        assert spread > 0.1, (generator.name, spread)


@pytest.mark.slow
def test_infogan_preset_uses_its_noise_and_its_categorical_code_after_1500_steps(tmp_path):
    """The infogan preset's generator still uses both parts of its latent: under one
    noise vector the 10 categories draw different images, and under one category the
    noise does. Each spread is the per-pixel standard deviation (images in [-1, 1])
    over one part with the other held, averaged over pixels and the held values: 0.28
    (categories) and 0.23 (noise) measured, and the Q head read back 100 % of the
    categories."""
    from gan_tf import configs, trainer, viz

    config = configs.override(configs.get("infogan"), **{
        "train.epochs": 5, "train.steps_per_epoch": 300, "train.precision": "float32"})
    gan = trainer.train_and_evaluate(config, str(tmp_path / "run"), verbose=0)
    assert gan.train_steps == 1500
    latents = viz.code_latents(gan, num_columns=10, seed=2)  # row: category, column: noise
    images = np.asarray(gan.generate(latents=latents), np.float32).reshape(10, 10, -1)
    by_code, by_noise = images.std(axis=0).mean(), images.std(axis=1).mean()
    assert by_code > 0.1 and by_noise > 0.1, (by_code, by_noise)
    # The Q head reads the category back from G's images far above chance (10 %).
    _, code_logits, _ = gan.discriminator(images.reshape(100, 28, 28, 1), training=False)
    agreement = np.mean(np.argmax(code_logits, axis=1) == np.repeat(np.arange(10), 10))
    assert agreement > 0.5, agreement


def test_diffaugment_in_the_training_step():
    base = small_gan()
    gan = gan_tf.GAN(base.generator, base.discriminator, latent_dim=8,
                     augment="color,translation,cutout")
    gan.compile()
    history = gan.fit(image_dataset(16, 8), epochs=1, verbose=0)
    assert np.isfinite(history.history["d_loss"][0])
    assert gan.get_config()["augment"] == "color,translation,cutout"
    with pytest.raises(ValueError, match="augmentation"):
        gan_tf.GAN(base.generator, base.discriminator, latent_dim=8, augment="flip")


def test_conditional_gan_generates_requested_labels_and_exports(tmp_path):
    generator = models.conditional.Generator(8, body_kwargs={"base_channels": 4})
    discriminator = models.conditional.Discriminator(body_kwargs={"base_channels": 4})
    gan = gan_tf.GAN(generator, discriminator, latent_dim=8)  # conditional: from the models
    assert gan.conditional and gan.num_classes == 10
    gan.compile()
    images = random_images(16)
    dataset = tf.data.Dataset.from_tensor_slices((images, np.arange(16) % 10)).batch(8)
    assert np.isfinite(gan.fit(dataset, epochs=1, verbose=0).history["d_loss"][0])
    latents = gan.sample_latents(2, seed=0)
    sevens = gan.generate(latents=latents, labels=[7, 7])
    np.testing.assert_allclose(
        sevens, generator((latents, tf.constant([7, 7])), training=False).numpy(), atol=1e-6)
    assert not np.allclose(sevens, gan.generate(latents=latents, labels=3))
    # Without labels: every class in turn (the generator's num_classes, not a fixed 10).
    np.testing.assert_allclose(
        gan.generate(12, seed=0), generator((gan.sample_latents(12, seed=0),
                                             tf.constant(np.arange(12) % 10)),
                                            training=False).numpy(), atol=1e-6)
    path = gan.export_generator(str(tmp_path / "cgan"))
    loaded = tf.saved_model.load(path)  # keep a reference: it owns the variables
    served = loaded.serve(latents, tf.constant([7, 7], tf.int32))
    np.testing.assert_allclose(served.numpy(), sevens, atol=1e-5)


def test_infogan_codes_q_head_and_mutual_information_loss(tmp_path):
    from gan_tf import viz

    keras.utils.set_random_seed(0)
    generator = models.infogan.Generator(8 + 12, base_channels=4)
    discriminator = models.infogan.Discriminator(body_kwargs={"base_channels": 4})
    gan = gan_tf.GAN(generator, discriminator, latent_dim=20, seed=0)
    gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3), loss=losses.get("infogan", weight=10.0))
    latents = gan.sample_latents(256, seed=0).numpy()
    codes = latents[:, 8:18]
    assert set(np.unique(codes)) == {0.0, 1.0} and np.all(codes.sum(axis=1) == 1)
    assert set(np.argmax(codes, axis=1)) == set(range(10))  # every category drawn
    assert np.abs(latents[:, 18:]).max() <= 1  # continuous codes in [-1, 1]
    logits, code_logits, code_means = discriminator(tf.zeros((2, 28, 28, 1)))
    assert (logits.shape, code_logits.shape, code_means.shape) == ((2, 1), (2, 10), (2, 2))
    history = gan.fit(image_dataset(64, 16), epochs=15, verbose=0)  # 60 steps
    info = np.asarray(history.history["info_loss"]) / 10.0  # per unit of weight
    # A Q head that knows nothing pays about log 10 = 2.30 (+ the continuous part);
    # recovering the codes from G's images makes it fall (to 1.3-2.0 over seeds 0-3;
    # with the paper's weight 1 this tiny model needs far longer to start).
    assert 2.3 < info[0] < 2.4 and min(info[-3:]) < info[0] - 0.2
    grid = viz.code_latents(gan, num_columns=3)
    assert grid.shape == (30, 20) and np.all(grid[3:6, 9] == 1) and np.all(grid[:3, :8] == grid[3:6, :8])
    gan.save(str(tmp_path / "info.keras"))
    restored = keras.models.load_model(str(tmp_path / "info.keras"))
    assert restored.gan_loss.num_categories == 10
    np.testing.assert_array_equal(restored.generate(latents=grid), gan.generate(latents=grid))


def test_infogan_latent_dim_must_exceed_codes():
    with pytest.raises(ValueError, match="must exceed the codes"):
        models.infogan.Generator(12, base_channels=4)  # 10 + 2 codes, no noise
    base = small_gan(family="dcgan")
    gan = gan_tf.GAN(base.generator, base.discriminator, latent_dim=8)
    with pytest.raises(ValueError, match="code_dim"):
        gan.compile(loss="infogan")  # a plain generator: the loss's 10 + 2 codes


def test_infogan_code_sizes_come_from_the_model_and_are_cross_checked():
    generator = models.infogan.Generator(8 + 4, num_categories=3, num_continuous=1,
                                         base_channels=4)
    discriminator = models.infogan.Discriminator(num_categories=3, num_continuous=1,
                                                 body_kwargs={"base_channels": 4})
    gan = gan_tf.GAN(generator, discriminator, latent_dim=12, seed=0)
    before = gan.sample_latents(6, seed=1).numpy()  # the layout is the model's...
    gan.compile(loss="infogan")                      # ...and the loss takes it
    assert (gan.gan_loss.num_categories, gan.gan_loss.num_continuous) == (3, 1)
    np.testing.assert_array_equal(before, gan.sample_latents(6, seed=1).numpy())
    assert set(np.argmax(before[:, 8:11], axis=1)) <= {0, 1, 2}
    with pytest.raises(ValueError, match="3 categorical"):
        gan.compile(loss=losses.get("infogan", num_categories=10, num_continuous=2))
    wrong_head = models.infogan.Discriminator(num_categories=5, num_continuous=1,
                                              body_kwargs={"base_channels": 4})
    with pytest.raises(ValueError, match="discriminator has 5"):
        gan_tf.GAN(generator, wrong_head, latent_dim=12).compile(loss="infogan")


def test_conditional_models_need_no_flag_and_refuse_a_false_one():
    generator = models.conditional.Generator(8, body_kwargs={"base_channels": 4})
    discriminator = models.conditional.Discriminator(body_kwargs={"base_channels": 4})
    gan = gan_tf.GAN(generator, discriminator, latent_dim=8)
    gan.compile()
    labels = np.arange(16) % 10
    dataset = tf.data.Dataset.from_tensor_slices((random_images(16), labels)).batch(8)
    gan.fit(dataset, epochs=1, verbose=0)  # graph mode, labels fed
    with pytest.raises(ValueError, match="leave conditional unset"):
        gan_tf.GAN(generator, discriminator, latent_dim=8, conditional=False)


def test_calling_the_gan_returns_generator_images():
    gan = small_gan()
    latents = gan.sample_latents(5, seed=2)
    expected = gan.generate(latents=latents)
    np.testing.assert_allclose(gan(latents).numpy(), expected, atol=1e-6)
    np.testing.assert_allclose(gan.predict(latents, verbose=0), expected, atol=1e-6)


@pytest.mark.parametrize("family", ["mlp", "conditional", "infogan"])
def test_export_has_a_sample_endpoint_with_the_models_layout(tmp_path, family):
    if family == "mlp":
        gan = small_gan()
    else:
        generator = (models.conditional.Generator(8, body_kwargs={"base_channels": 4})
                     if family == "conditional" else
                     models.infogan.Generator(20, base_channels=4))
        discriminator = (models.conditional.Discriminator(body_kwargs={"base_channels": 4})
                         if family == "conditional" else
                         models.infogan.Discriminator(body_kwargs={"base_channels": 4}))
        gan = gan_tf.GAN(generator, discriminator, latent_dim=generator.latent_dim, seed=0)
    path = gan.export_generator(str(tmp_path / "generator"))
    loaded = tf.saved_model.load(path)
    sampled = loaded.sample(tf.constant(12), tf.constant(5)).numpy()
    np.testing.assert_allclose(sampled, gan.generate(12, seed=5), atol=1e-5)
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".tmp-")]


def test_fit_keeps_one_iterator_for_a_finite_dataset():
    # A finite dataset of known length becomes dataset.repeat() with steps_per_epoch =
    # its length: the same epochs, one tf.data iterator for the whole fit.
    dataset = image_dataset(num=40, batch_size=8)  # 5 batches
    args, kwargs = adversarial.one_iterator_per_fit((dataset,), {"epochs": 2})
    assert kwargs["steps_per_epoch"] == 5 and kwargs["epochs"] == 2
    assert int(args[0].cardinality()) == int(tf.data.INFINITE_CARDINALITY)
    _, kept = adversarial.one_iterator_per_fit((), {"x": dataset, "steps_per_epoch": 3})
    assert kept["steps_per_epoch"] == 3 and kept["x"] is dataset
    endless = dataset.repeat()
    assert adversarial.one_iterator_per_fit((endless,), {})[0][0] is endless
    gan = small_gan()
    gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    history = gan.fit(dataset, epochs=2, verbose=0)
    assert gan.train_steps == 10 and len(history.history["d_loss"]) == 2


def test_conditional_sampling_follows_the_generators_classes(tmp_path):
    """Grid, evaluation and collapse-check labels follow the generator's num_classes
    (not `% 10`, which gives a 3-class model labels 3..9)."""
    from gan_tf import callbacks

    generator = models.conditional.Generator(8, num_classes=3,
                                             body_kwargs={"base_channels": 4})
    discriminator = models.conditional.Discriminator(num_classes=3,
                                                     body_kwargs={"base_channels": 4})
    gan = gan_tf.GAN(generator, discriminator, latent_dim=8, seed=0)
    assert gan.num_classes == 3
    np.testing.assert_array_equal(gan.sample_labels(7), [0, 1, 2, 0, 1, 2, 0])
    latents = gan.sample_latents(6, seed=0)
    expected = generator((latents, tf.constant([0, 1, 2, 0, 1, 2])), training=False)
    np.testing.assert_allclose(gan.generate(latents=latents), expected.numpy(), atol=1e-6)
    grid = callbacks.SampleGrid(str(tmp_path), num_images=6)
    grid.set_model(gan)
    np.testing.assert_allclose(grid.images(), expected.numpy(), atol=1e-6)
    loaded = tf.saved_model.load(gan.export_generator(str(tmp_path / "g")))
    np.testing.assert_allclose(loaded.sample(tf.constant(6), tf.constant(4)).numpy(),
                               gan.generate(6, seed=4), atol=1e-5)

