"""models.stylegan: shapes, modulation, noise, mixing, truncation, saving, the CLI preset."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import gan_tf
from gan_tf import configs, models, viz
from gan_tf import train as train_cli
from gan_tf.models import stylegan

from conftest import image_dataset

LATENT = 8
SMALL = {"w_dim": 8, "mapping_layers": 2, "base_channels": 4, "max_channels": 8}


def small_generator(image_shape=(28, 28, 1), **kwargs):
    return stylegan.Generator(LATENT, image_shape, seed=1, **{**SMALL, **kwargs})


def small_gan(ema_decay=None, **kwargs):
    keras.utils.set_random_seed(0)
    gan = gan_tf.GAN(small_generator(**kwargs),
                     stylegan.Discriminator((28, 28, 1), base_channels=4, max_channels=8),
                     latent_dim=LATENT, seed=0, ema_decay=ema_decay)
    gan.compile(keras.optimizers.Adam(2e-3, beta_1=0.0, beta_2=0.99),
                keras.optimizers.Adam(2e-3, beta_1=0.0, beta_2=0.99),
                loss=gan_tf.losses.get("non_saturating",
                                       regularizers=[gan_tf.losses.R1(0.01, every=2)]))
    return gan


def latents(num=4, seed=0):
    return np.random.default_rng(seed).normal(size=(num, LATENT)).astype(np.float32)


def set_noise_strength(generator, value):
    for conv in generator.convs:
        conv.noise_strength.assign(value)


@pytest.mark.parametrize("shape", [(28, 28, 1), (32, 32, 1), (64, 64, 3)])
def test_shapes_and_ranges(shape):
    generator = small_generator(shape)
    discriminator = stylegan.Discriminator(shape, base_channels=4, max_channels=8)
    doublings = {28: 2, 32: 3, 64: 4}[shape[0]]
    assert generator.num_ws == 2 * doublings + 2
    images = np.asarray(generator(latents(3) * 10))
    assert images.shape == (3, *shape) and images.dtype == np.float32
    assert images.min() >= -1 and images.max() <= 1  # tanh output
    logits = np.asarray(discriminator(images))
    assert logits.shape == (3, 1) and np.all(np.isfinite(logits))


@pytest.mark.parametrize("make, match", [
    (lambda: stylegan.Generator(8, (30, 30, 1)), "s \\* 2\\*\\*k"),
    (lambda: stylegan.Generator(8, (6, 6, 1)), "s \\* 2\\*\\*k"),  # k = 0
    (lambda: stylegan.Discriminator((28, 32, 1)), "square"),
    (lambda: stylegan.Generator(8, mixing_prob=1.5), "mixing_prob"),
    (lambda: stylegan.Generator(8, output_activation="relu"), "output_activation"),
])
def test_bad_arguments_raise(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_modulated_conv_equals_per_sample_kernels():
    # The scale-conv-scale form must equal convolving each sample with its own
    # modulated, demodulated kernel k'_b = s_b k / sigma_b (StyleGAN2 eq. 1-3).
    layer = stylegan.ModulatedConv2D(5, use_noise=False, activation=False)
    x = tf.random.stateless_normal((2, 6, 6, 3), [1, 2])
    w = tf.random.stateless_normal((2, 4), [3, 4])
    got = np.asarray(layer(x, w))
    styles = np.asarray(layer.affine(w))                                  # (2, 3)
    kernel = np.asarray(layer.kernel) * layer.scale                       # (3, 3, 3, 5)
    for b in range(2):
        modulated = kernel * styles[b][None, None, :, None]
        modulated /= np.sqrt((modulated ** 2).sum(axis=(0, 1, 2)) + 1e-8)
        want = tf.nn.conv2d(x[b:b + 1], modulated, 1, "SAME") + np.asarray(layer.bias)
        np.testing.assert_allclose(got[b], want[0], rtol=1e-4, atol=1e-5)


def test_minibatch_stddev_matches_numpy():
    x = np.random.default_rng(0).normal(size=(6, 2, 2, 3)).astype(np.float32)
    out = np.asarray(stylegan.minibatch_stddev(x, group_size=4))  # 6 -> groups of 3
    assert out.shape == (6, 2, 2, 4)
    np.testing.assert_array_equal(out[..., :3], x)
    # Member b belongs to group b % 2: {0, 2, 4} and {1, 3, 5}.
    for members in ([0, 2, 4], [1, 3, 5]):
        want = np.sqrt(x[members].var(axis=0) + 1e-8).mean()
        np.testing.assert_allclose(out[members, ..., 3], want, rtol=1e-5)


def test_truncation_psi_zero_gives_one_image():
    gan = small_gan()
    gan.generator.w_avg.assign(np.linspace(-1, 1, SMALL["w_dim"]).astype(np.float32))
    images = gan.generate(5, seed=0, truncation_psi=0.0)
    np.testing.assert_allclose(images, np.broadcast_to(images[:1], images.shape), atol=1e-6)
    # ... the image of w_avg itself; psi=1.0 is no truncation.
    w_avg_image = np.asarray(gan.generator.synthesis(gan.generator.w_avg[None]))
    np.testing.assert_allclose(images[0], w_avg_image[0], atol=1e-6)
    np.testing.assert_array_equal(gan.generate(5, seed=0, truncation_psi=1.0),
                                  gan.generate(5, seed=0))
    assert not np.allclose(gan.generate(5, seed=0, truncation_psi=0.5), images)


def test_truncation_needs_a_generator_that_has_it():
    gan = gan_tf.GAN(models.dcgan.Generator(8, base_channels=4),
                     models.dcgan.Discriminator(base_channels=4), latent_dim=8)
    gan.generate(2, seed=0, truncation_psi=1.0)  # no truncation: accepted
    with pytest.raises(ValueError, match="truncation_psi=0.7 needs a generator"):
        gan.generate(2, seed=0, truncation_psi=0.7)


def test_w_avg_moves_in_training_calls_only():
    generator = small_generator(w_avg_beta=0.9)
    z = latents(4)
    generator(z, training=False)
    np.testing.assert_array_equal(np.asarray(generator.w_avg), 0.0)
    generator(z, training=True)
    w_mean = np.asarray(generator.mapping(z)).mean(axis=0)
    np.testing.assert_allclose(np.asarray(generator.w_avg), 0.1 * w_mean, rtol=1e-5,
                               atol=1e-7)


def test_style_mixing_changes_training_outputs():
    z = latents(6)
    no_mixing = small_generator(mixing_prob=0.0)
    np.testing.assert_allclose(np.asarray(no_mixing(z, training=True, noise_mode="none")),
                               np.asarray(no_mixing(z, noise_mode="none")), atol=1e-6)
    mixing = small_generator(mixing_prob=1.0)
    mixed = np.asarray(mixing(z, training=True, noise_mode="none"))
    plain = np.asarray(mixing(z, noise_mode="none"))
    assert np.abs(mixed - plain).max(axis=(1, 2, 3)).min() > 1e-4  # every sample mixed
    # Mixing takes styles from the next sample: the first styles stay the sample's.
    ws = tf.constant(np.arange(6, dtype=np.float32)[:, None, None]
                     * np.ones((1, mixing.num_ws, 2), np.float32))
    mixed_ws = np.asarray(mixing._mix(ws))[..., 0]                   # (6, num_ws)
    np.testing.assert_array_equal(mixed_ws[:, 0], np.arange(6))
    assert set(np.unique(mixed_ws - np.arange(6)[:, None])) <= {0.0, 1.0, -5.0}
    assert (mixed_ws[:, -1] != np.arange(6)).all()  # the crossover is before the last


def test_noise_differs_between_training_calls_but_generate_is_reproducible():
    gan = small_gan(mixing_prob=0.0)
    set_noise_strength(gan.generator, 1.0)
    z = latents(3)
    first = np.asarray(gan.generator(z, training=True))
    second = np.asarray(gan.generator(z, training=True))
    assert np.abs(first - second).max() > 1e-3
    np.testing.assert_array_equal(np.asarray(gan.generator(z)), np.asarray(gan.generator(z)))
    np.testing.assert_array_equal(gan.generate(4, seed=3), gan.generate(4, seed=3))
    # Inference uses the saved noise images, not none.
    assert np.abs(np.asarray(gan.generator(z)) -
                  np.asarray(gan.generator(z, noise_mode="none"))).max() > 1e-3


def test_noise_is_seeded_under_tf_function():
    # Two generators with the same weights and seed draw the same noise and mixing in
    # traced training calls, and the SeedGenerator advances between calls.
    outputs = []
    for _ in range(2):
        keras.utils.set_random_seed(0)
        generator = small_generator(mixing_prob=0.5)
        set_noise_strength(generator, 1.0)
        step = tf.function(lambda z, g=generator: g(z, training=True))
        outputs.append([np.asarray(step(latents(3))) for _ in range(2)])
    np.testing.assert_array_equal(outputs[0][0], outputs[1][0])
    np.testing.assert_array_equal(outputs[0][1], outputs[1][1])
    assert np.abs(outputs[0][0] - outputs[0][1]).max() > 1e-3


def test_config_round_trip():
    for model in (small_generator(),
                  stylegan.Discriminator((28, 28, 1), base_channels=4, max_channels=8)):
        clone = type(model).from_config(model.get_config())
        assert clone.get_config() == model.get_config()
        clone.set_weights(model.get_weights())
        inputs = (latents(2) if isinstance(model, stylegan.Generator)
                  else np.ones((2, 28, 28, 1), np.float32))
        np.testing.assert_allclose(np.asarray(clone(inputs)), np.asarray(model(inputs)),
                                   atol=1e-6)


def test_train_save_load_export(tmp_path):
    gan = small_gan(ema_decay=0.9)
    set_noise_strength(gan.generator, 0.5)
    gan.fit(image_dataset(32, 8), epochs=1, verbose=0)
    assert np.abs(np.asarray(gan.generator.w_avg)).max() > 0
    # The EMA copy follows w_avg and the noise images (non-trainable weights).
    np.testing.assert_array_equal(np.asarray(gan.ema_generator.w_avg),
                                  np.asarray(gan.generator.w_avg))
    path = str(tmp_path / "gan.keras")
    gan.save(path)
    restored = keras.models.load_model(path)
    assert isinstance(restored.generator, stylegan.Generator)
    for psi in (None, 0.5):
        np.testing.assert_allclose(restored.generate(6, seed=1, truncation_psi=psi),
                                   gan.generate(6, seed=1, truncation_psi=psi), atol=1e-6)
    # The generator's noise RNG is restored: the next training calls agree.
    z = latents(2)
    np.testing.assert_allclose(np.asarray(restored.generator(z, training=True)),
                               np.asarray(gan.generator(z, training=True)), atol=1e-6)

    exported = tf.saved_model.load(gan.export_generator(str(tmp_path / "generator")))
    z = gan.sample_latents(3, seed=2)
    np.testing.assert_allclose(np.asarray(exported.serve(z)), gan.generate(latents=z),
                               atol=1e-5)


def test_viz_grids():
    gan = small_gan()
    grid = viz.truncation_grid(gan, psis=(1.0, 0.0), num_rows=3)
    assert grid.shape == (6, 28, 28, 1)
    np.testing.assert_allclose(grid[1::2], np.broadcast_to(grid[1:2], (3, 28, 28, 1)),
                               atol=1e-6)  # the psi = 0 column
    mixing = viz.style_mixing_grid(gan, num_a=3, num_b=2, layers=(0, 1))
    assert mixing.shape == (12, 28, 28, 1)
    # Copying every layer from B reproduces B's image in each cell of its row.
    full = viz.style_mixing_grid(gan, num_a=3, num_b=2, layers=range(gan.generator.num_ws))
    for row in (1, 2):
        for cell in range(1, 4):
            np.testing.assert_allclose(full[4 * row + cell], full[4 * row], atol=1e-5)
    with pytest.raises(ValueError, match="layers must be indices"):
        viz.style_mixing_grid(gan, layers=(99,))
    dcgan = gan_tf.GAN(models.dcgan.Generator(8, base_channels=4),
                       models.dcgan.Discriminator(base_channels=4), latent_dim=8)
    with pytest.raises(ValueError, match="style-based generator"):
        viz.style_mixing_grid(dcgan)


def test_preset_follows_stylegan2():
    config = configs.get("stylegan")
    loss = gan_tf.losses.get(config.train.loss, **config.train.loss_kwargs)
    (r1,) = loss.regularizers
    assert (type(loss).__name__, r1.name, r1.every) == ("NonSaturating", "r1", 16)
    assert (config.train.beta_1, config.train.beta_2, config.train.g_lr) == (0.0, 0.99, 2e-3)
    assert config.model.family == "stylegan" and config.model.ema_decay


@pytest.mark.slow  # about 100 s on 2 busy cores: build, 6 steps, grids, export
def test_cli_preset_quick(tmp_path):
    workdir = str(tmp_path / "run")
    assert train_cli.main(["gan_tf.train", "--config=stylegan", "--quick", "--verbose=0",
                           f"--workdir={workdir}"]) == 0
    for name in ("samples/epoch_0002.png", "generator/saved_model.pb", "history.json"):
        assert os.path.exists(os.path.join(workdir, name)), name
