"""Every model family: shapes, value ranges, layer structure, config round trips."""

import keras
import numpy as np
import pytest

from gan_tf import models

SHAPES = [(28, 28, 1), (32, 32, 3), (64, 64, 3)]
# Families whose models take one input and return logits (conditional and infogan
# models are tested with their GAN, in test_gan.py).
UNCONDITIONAL = ["dcgan", "mlp"]


def _dense_units(model):
    return [layer.units for layer in model.stack.layers if isinstance(layer, keras.layers.Dense)]


@pytest.mark.parametrize("family", UNCONDITIONAL)
@pytest.mark.parametrize("shape", SHAPES)
def test_shapes_and_ranges(family, shape):
    module = models.get(family)
    kwargs = {"base_channels": 8} if family == "dcgan" else {}
    generator = module.Generator(latent_dim=12, image_shape=shape, **kwargs)
    discriminator = module.Discriminator(image_shape=shape, **kwargs)
    latents = np.random.default_rng(0).normal(size=(3, 12)).astype(np.float32) * 10
    images = np.asarray(generator(latents))
    assert images.shape == (3, *shape) and images.dtype == np.float32
    assert images.min() >= -1 and images.max() <= 1  # tanh output
    logits = np.asarray(discriminator(images))
    assert logits.shape == (3, 1) and np.all(np.isfinite(logits))


def test_default_mlp_layers():
    # The library's MLP recipe: tutorial 002's widths with DCGAN's init and slope 0.2
    # (the preset tutorial_002 rebuilds 002 itself: tests/test_fidelity.py).
    generator = models.mlp.Generator()
    assert _dense_units(generator) == [256, 512, 1024, 784]
    assert sum(isinstance(l, keras.layers.BatchNormalization) for l in generator.stack.layers) == 3
    discriminator = models.mlp.Discriminator()
    assert _dense_units(discriminator) == [512, 256, 1]
    assert [l.rate for l in discriminator.stack.layers
            if isinstance(l, keras.layers.Dropout)] == [0.3, 0.3]
    # N(0, 0.02) init: the sample std of a 784x512 kernel is 0.02 to within ~1%.
    kernel = np.asarray(discriminator.stack.layers[1].kernel)
    assert kernel.std() == pytest.approx(0.02, rel=0.03)
    # Parameters: 100*256+256 + 256*512+512 + 512*1024+1024 + 1024*784+784 + BN 2*(256+512+1024)
    # trainable (and as many moving statistics).
    assert generator.count_params() == (
        100 * 256 + 256 + 256 * 512 + 512 + 512 * 1024 + 1024 + 1024 * 784 + 784
        + 4 * (256 + 512 + 1024))


def test_small_mlp_parameter_count():
    generator = models.mlp.Generator(hidden_units=(128,), activation="relu",
                                     batch_norm=False, init_stddev=None)
    discriminator = models.mlp.Discriminator(hidden_units=(128,), init_stddev=None)
    # G: 100*128+128 + 128*784+784; D: 784*128+128 + 128+1
    assert generator.count_params() == 100 * 128 + 128 + 128 * 784 + 784
    assert discriminator.count_params() == 784 * 128 + 128 + 128 + 1


def test_dcgan_64_matches_tutorial_001_channels():
    generator = models.dcgan.Generator(100, (64, 64, 3))
    dense = generator.stack.layers[0]
    assert dense.units == 4 * 4 * 512
    transposed = [l for l in generator.stack.layers
                  if isinstance(l, keras.layers.Conv2DTranspose)]
    assert [(l.filters, l.strides[0]) for l in transposed] == [
        (512, 1), (256, 2), (128, 2), (64, 2), (3, 2)]
    assert all(l.kernel_size == (5, 5) for l in transposed)


def test_dcgan_28_matches_tensorflow_dcgan_tutorial():
    generator = models.dcgan.Generator(100, (28, 28, 1))
    assert generator.stack.layers[0].units == 7 * 7 * 256
    transposed = [l for l in generator.stack.layers
                  if isinstance(l, keras.layers.Conv2DTranspose)]
    assert [(l.filters, l.strides[0]) for l in transposed] == [(128, 1), (64, 2), (1, 2)]
    discriminator = models.dcgan.Discriminator((28, 28, 1))
    convs = [l for l in discriminator.stack.layers if isinstance(l, keras.layers.Conv2D)]
    assert [(l.filters, l.strides[0]) for l in convs] == [(64, 2), (128, 2)]


def test_pool_discriminator_of_tutorial_000():
    discriminator = models.dcgan.Discriminator((28, 28, 1), downsampling="pool", dropout=0.3)
    kinds = [type(l).__name__ for l in discriminator.stack.layers]
    assert kinds == ["Conv2D", "LeakyReLU", "MaxPooling2D", "Dropout",
                     "Conv2D", "LeakyReLU", "MaxPooling2D", "Dropout", "Flatten", "Dense"]


@pytest.mark.parametrize("family", UNCONDITIONAL)
def test_config_round_trip_and_serialization(family):
    module = models.get(family)
    kwargs = {"base_channels": 8} if family == "dcgan" else {"hidden_units": (32,)}
    for cls, args in ((module.Generator, {"latent_dim": 6, **kwargs}),
                      (module.Discriminator, kwargs)):
        model = cls(**args)
        clone = cls.from_config(model.get_config())
        assert clone.get_config() == model.get_config()
        clone.set_weights(model.get_weights())
        inputs = np.ones((2, *model.input_shape[1:]), np.float32)
        np.testing.assert_allclose(np.asarray(clone(inputs)), np.asarray(model(inputs)),
                                   atol=1e-6)
        restored = keras.saving.deserialize_keras_object(
            keras.saving.serialize_keras_object(model))
        assert type(restored) is cls


def test_serialization_keys_differ_between_families():
    names = {keras.saving.get_registered_name(models.get(f).Generator)
             for f in models.families()}
    assert len(names) == len(models.families())


@pytest.mark.parametrize("make, match", [
    (lambda: models.dcgan.Generator(100, (30, 30, 1)), "s \\* 2\\*\\*k"),
    (lambda: models.dcgan.Generator(100, (28, 32, 1)), "square"),
    (lambda: models.dcgan.Discriminator((28, 28, 1), downsampling="avg"), "downsampling"),
    (lambda: models.mlp.Generator(100, (28, 28)), "image_shape"),
    (lambda: models.mlp.Discriminator(dropout=1.0), "dropout"),
    (lambda: models.mlp.Generator(activation="gelu"), "activation"),
    (lambda: models.get("vae"), "unknown model"),
    (lambda: models.mlp.Generator(output_activation="relu"), "output_activation"),
    (lambda: models.mlp.Generator(init_stddev="torch"), "init_stddev"),
    (lambda: models.dcgan.Generator(init_stddev="pytorch"), "mlp models"),
    (lambda: models.dcgan.Generator(dense_units=(8, 8), dense_activations=("relu",)),
     "one activation per"),
    (lambda: models.dcgan.Generator(activation="gelu"), "activation"),
    (lambda: models.dcgan.Discriminator(head="average"), "1 channel"),
    (lambda: models.dcgan.Discriminator(head="max"), "head"),
    (lambda: models.dcgan.Discriminator(strides=(2, 2)), "explicit channels"),
    (lambda: models.dcgan.Discriminator(channels=(8, 1), strides=(2,)), "one stride per"),
    (lambda: models.dcgan.Discriminator(channels=()), "at least one"),
])
def test_bad_arguments_raise(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize("family", UNCONDITIONAL)
def test_spectral_norm_bounds_each_layer(family):
    module = models.get(family)
    kwargs = {"base_channels": 8} if family == "dcgan" else {"hidden_units": (32,)}
    discriminator = module.Discriminator(spectral_norm=True, **kwargs)
    wrapped = [l for l in discriminator.stack.layers
               if isinstance(l, keras.layers.SpectralNormalization)]
    assert wrapped and wrapped[-1].layer.units == 1
    images = np.random.default_rng(0).uniform(-1, 1, (4, 28, 28, 1)).astype(np.float32)
    for _ in range(30):  # power iterations converge while training
        discriminator(images, training=True)
    dense = wrapped[-1]
    kernel = np.asarray(dense.layer.kernel)
    # After the wrapped call the kernel is normalised: largest singular value ~1.
    assert np.linalg.svd(kernel.reshape(-1, kernel.shape[-1]), compute_uv=False)[0] == \
        pytest.approx(1.0, rel=0.05)
    clone = module.Discriminator.from_config(discriminator.get_config())
    assert clone.spectral_norm


@pytest.mark.parametrize("shape", SHAPES)
def test_conditional_pair_uses_the_labels(shape):
    generator = models.conditional.Generator(12, shape, body_kwargs={"base_channels": 8})
    discriminator = models.conditional.Discriminator(shape, body_kwargs={"base_channels": 8})
    latents = np.random.default_rng(0).normal(size=(4, 12)).astype(np.float32)
    images_a = np.asarray(generator((latents, np.array([0, 1, 2, 3]))))
    images_b = np.asarray(generator((latents, np.array([5, 5, 5, 5]))))
    assert images_a.shape == (4, *shape) and np.abs(images_a).max() <= 1
    assert not np.allclose(images_a, images_b)  # same z, other label, other image
    # The projection term: train-mode-free logits differ only through embed(y) . phi(x).
    logits_a = np.asarray(discriminator((images_a, np.array([0, 1, 2, 3]))))
    logits_b = np.asarray(discriminator((images_a, np.array([9, 9, 9, 9]))))
    assert logits_a.shape == (4, 1) and not np.allclose(logits_a, logits_b)
    for model in (generator, discriminator):
        restored = keras.saving.deserialize_keras_object(
            keras.saving.serialize_keras_object(model))
        assert restored.get_config() == model.get_config()
    with pytest.raises(ValueError, match="num_classes"):
        models.conditional.Generator(num_classes=1)


# Every constructor option the tutorial presets use, away from its default.
OPTIONS = [
    (models.mlp.Generator, {"latent_dim": 6, "hidden_units": (16,), "negative_slope": 0.01,
                            "init_stddev": "pytorch", "bn_momentum": 0.9, "bn_epsilon": 1e-5,
                            "output_activation": "sigmoid"}),
    (models.mlp.Discriminator, {"hidden_units": (16,), "init_stddev": None,
                                "dropout_first": True, "unit_range_inputs": True}),
    (models.dcgan.Generator, {"latent_dim": 6, "base_channels": 4, "dense_units": (8, 12),
                              "dense_activations": ("relu", "tanh"), "activation": "tanh",
                              "batch_norm": False, "use_bias": True, "init_stddev": None}),
    (models.dcgan.Generator, {"latent_dim": 6, "base_channels": 4, "activation": "leaky_relu",
                              "negative_slope": 0.3, "use_bias": False, "bn_momentum": 0.9,
                              "bn_epsilon": 1e-5}),
    (models.dcgan.Discriminator, {"channels": (8, 4, 1), "strides": (1, 2, 2), "head": "average",
                                  "dropout": 0.0, "init_stddev": None, "batch_norm": True,
                                  "bn_momentum": 0.9}),
]


@pytest.mark.parametrize("cls, kwargs", OPTIONS, ids=lambda v: getattr(v, "__name__", ""))
def test_options_round_trip(cls, kwargs):
    model = cls(**kwargs)
    clone = cls.from_config(model.get_config())
    assert clone.get_config() == model.get_config()
    clone.set_weights(model.get_weights())
    inputs = np.random.default_rng(1).uniform(-1, 1, (2, *model.input_shape[1:]))
    np.testing.assert_allclose(np.asarray(clone(inputs.astype(np.float32))),
                               np.asarray(model(inputs.astype(np.float32))), atol=1e-6)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(model))
    assert restored.get_config() == model.get_config()


def test_sigmoid_generator_spans_the_image_range():
    # 2 sigmoid(a) - 1 in (-1, 1); unit_range_inputs maps -1 -> 0 and 1 -> 1 before Flatten.
    generator = models.mlp.Generator(6, hidden_units=(8,), batch_norm=False, init_stddev=None,
                                     output_activation="sigmoid")
    images = np.asarray(generator(np.random.default_rng(0).normal(size=(3, 6)) * 100))
    assert images.min() >= -1 and images.max() <= 1 and images.min() < -0.9
    discriminator = models.mlp.Discriminator(hidden_units=(8,), unit_range_inputs=True)
    rescale = discriminator.stack.layers[0]
    np.testing.assert_allclose(np.asarray(rescale(np.array([-1.0, 0.0, 1.0]))), [0, 0.5, 1])


def test_dropout_first_is_the_same_function():
    """leaky_relu(m x / p) = m leaky_relu(x) / p for a 0/1 mask m: equal in training mode
    under the same dropout seed, and in inference mode."""
    kwargs = {"hidden_units": (16,), "negative_slope": 0.2}
    after = models.mlp.Discriminator(**kwargs)
    before = models.mlp.Discriminator(dropout_first=True, **kwargs)
    before.set_weights(after.get_weights())
    images = np.random.default_rng(2).uniform(-1, 1, (4, 28, 28, 1)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(before(images)), np.asarray(after(images)), atol=1e-6)
    for model in (after, before):  # the same dropout masks in both
        dropout = [l for l in model.stack.layers if isinstance(l, keras.layers.Dropout)][0]
        dropout.seed_generator.state.assign(np.array([7, 0], np.uint32))
    np.testing.assert_allclose(np.asarray(before(images, training=True)),
                               np.asarray(after(images, training=True)), atol=1e-5)
