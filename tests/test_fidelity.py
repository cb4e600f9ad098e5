"""The tutorial presets rebuild the tutorials' own code (docs/fidelity.md).

Each preset's networks are built the way a user builds them (`configs.get`, then the
model family's classes with the preset's kwargs) and compared layer by layer with the
structure transcribed from the tutorial's code, the tutorial's line in a comment. Where
the port differs from the line, the comment says why (a bug fixed, or a convention:
D returns a logit and its sigmoid moves into the loss; images are NHWC in [-1, 1]).
"""

import math

import keras
import numpy as np
import pytest

from gan_tf import configs, models

MNIST = (28, 28, 1)  # data.load("mnist") images; the MNIST presets declare no shape


def build(name):
    """(config, generator, discriminator) of preset `name`, as a user builds them."""
    config = configs.get(name)
    model = config.model
    shape = tuple(model.generator.get("image_shape") or MNIST)
    generator = models.get(model.family).Generator(
        **{"latent_dim": model.latent_dim, "image_shape": shape, **model.generator})
    discriminator = models.get(model.discriminator_family or model.family).Discriminator(
        **{"image_shape": shape, **model.discriminator})
    return config, generator, discriminator


def describe(model):
    """One tuple per layer of a gan_tf model's stack: kind and the numbers that matter."""
    rows = []
    for layer in model.stack.layers:
        kind = type(layer).__name__
        if isinstance(layer, keras.layers.Dense):
            rows.append(("Dense", layer.units, layer.use_bias))
        elif isinstance(layer, (keras.layers.Conv2D, keras.layers.Conv2DTranspose)):
            rows.append((kind, layer.filters, layer.kernel_size[0], layer.strides[0],
                         layer.use_bias))
        elif isinstance(layer, keras.layers.LeakyReLU):
            rows.append(("LeakyReLU", round(float(layer.negative_slope), 6)))
        elif isinstance(layer, keras.layers.Activation):
            rows.append(("Activation", layer.get_config()["activation"]))
        elif isinstance(layer, keras.layers.BatchNormalization):
            rows.append(("BatchNorm", round(layer.momentum, 6), round(layer.epsilon, 8)))
        elif isinstance(layer, keras.layers.Dropout):
            rows.append(("Dropout", layer.rate))
        elif isinstance(layer, keras.layers.Reshape):
            rows.append(("Reshape", tuple(layer.target_shape)))
        elif isinstance(layer, keras.layers.Rescaling):
            rows.append(("Rescaling", float(layer.scale), float(layer.offset)))
        elif isinstance(layer, keras.layers.MaxPooling2D):
            rows.append(("MaxPool", layer.pool_size[0]))
        else:  # ReLU, Flatten, GlobalAveragePooling2D
            rows.append((kind,))
    return rows


TANH = ("Activation", "tanh")


# -- Tutorial 000: prose and a TF1 sketch; every size below is chosen here --------------
# "生成器…通过多个线性层与非线性激活函数，可以生成一副图像x'" (no sizes, no activation named)
G_000 = [("Dense", 256, True), ("ReLU",), ("Dense", 512, True), ("ReLU",),
         ("Dense", 1024, True), ("ReLU",),
         ("Dense", 784, True), TANH, ("Reshape", MNIST)]  # tanh: images in [-1, 1]
# "判别器…经过多个卷积、池化和丢弃层后，再送入一个全连接层和非线性激活函数，输出判别结果y"
D_000 = [("Conv2D", 64, 5, 1, True), ("LeakyReLU", 0.2), ("MaxPool", 2), ("Dropout", 0.3),
         ("Conv2D", 128, 5, 1, True), ("LeakyReLU", 0.2), ("MaxPool", 2), ("Dropout", 0.3),
         ("Flatten",), ("Dense", 1, True)]  # "Sigmoid或Tanh": the sigmoid is in the loss

# -- Tutorial 001 (TF1 tf.layers: use_bias=True, Glorot uniform; tf.nn.leaky_relu 0.2) ---
G_001 = [
    ("Dense", 128, True), ("ReLU",),   # tf.nn.relu(tf.layers.dense(z, 128))
    ("Dense", 256, True), ("ReLU",),   # tf.nn.relu(tf.layers.dense(h, 256))
    ("Dense", 512, True), TANH,        # tf.nn.tanh(tf.layers.dense(h, 512))
    ("Dense", 1024, True), TANH,       # tf.nn.tanh(tf.layers.dense(h, 1024))
    # tf.nn.tanh(tf.layers.dense(h, 2048)): bug fixed, 2048 -> 4*4*512 = 8192 units, so
    # that tf.reshape(h, [-1, 4, 4, 512]) keeps one image per latent
    ("Dense", 4 * 4 * 512, True), TANH,
    ("Reshape", (4, 4, 512)),          # tf.reshape(h, [-1, 4, 4, 512])
    # tf.nn.tanh(tf.layers.conv2d_transpose(h, 512, (5, 5), strides=(1, 1), padding='SAME')),
    # then 256, 128, 64, 3 with strides=(2, 2)
    ("Conv2DTranspose", 512, 5, 1, True), TANH,
    ("Conv2DTranspose", 256, 5, 2, True), TANH,
    ("Conv2DTranspose", 128, 5, 2, True), TANH,
    ("Conv2DTranspose", 64, 5, 2, True), TANH,
    ("Conv2DTranspose", 3, 5, 2, True), TANH,
]
D_001 = [
    # h = tf.reshape(image, [-1, 4, 4, 512]): bug fixed, removed (the image is convolved)
    # tf.nn.leaky_relu(tf.layers.conv2d(h, 512, (5, 5), strides=(1, 1), padding='SAME')),
    # then 256, 128, 64, 1 with strides=(2, 2), each followed by tf.nn.leaky_relu
    ("Conv2D", 512, 5, 1, True), ("LeakyReLU", 0.2),
    ("Conv2D", 256, 5, 2, True), ("LeakyReLU", 0.2),
    ("Conv2D", 128, 5, 2, True), ("LeakyReLU", 0.2),
    ("Conv2D", 64, 5, 2, True), ("LeakyReLU", 0.2),
    ("Conv2D", 1, 5, 2, True), ("LeakyReLU", 0.2),
    # output = tf.squeeze(h): a (B, 4, 4) map; bug fixed: its mean is the image's logit
    ("GlobalAveragePooling2D",),
]

# -- Tutorial 002 (PyTorch: nn.LeakyReLU() slope 0.01; BatchNorm1d momentum 0.1, i.e.
# Keras momentum 0.9, eps 1e-5) ---------------------------------------------------------
TORCH_BN = ("BatchNorm", 0.9, 1e-5)
G_002 = [
    # nn.Linear(100, 256), nn.LeakyReLU(), nn.BatchNorm1d(256), then 512 and 1024
    ("Dense", 256, True), ("LeakyReLU", 0.01), TORCH_BN,
    ("Dense", 512, True), ("LeakyReLU", 0.01), TORCH_BN,
    ("Dense", 1024, True), ("LeakyReLU", 0.01), TORCH_BN,
    ("Dense", 784, True), TANH,   # nn.Linear(1024, 784), nn.Tanh()
    ("Reshape", MNIST),           # out.view(-1, 1, 28, 28), as NHWC
]
D_002 = [
    ("Flatten",),                                                 # x = x.view(-1, 784)
    # nn.Linear(784, 512), nn.LeakyReLU(), nn.Dropout(0.3), then 256
    ("Dense", 512, True), ("LeakyReLU", 0.01), ("Dropout", 0.3),
    ("Dense", 256, True), ("LeakyReLU", 0.01), ("Dropout", 0.3),
    ("Dense", 1, True),   # nn.Linear(256, 1), nn.Sigmoid() (the sigmoid is in the loss)
]

# -- Tutorial 003: no code; chosen here: the TensorFlow DCGAN tutorial's pair
# (tensorflow.org/tutorials/generative/dcgan; keras LeakyReLU() slope 0.3, Keras BN) ---
KERAS_BN = ("BatchNorm", 0.99, 1e-3)
G_003 = [
    ("Dense", 7 * 7 * 256, False), KERAS_BN, ("LeakyReLU", 0.3),  # use_bias=False
    ("Reshape", (7, 7, 256)),
    ("Conv2DTranspose", 128, 5, 1, False), KERAS_BN, ("LeakyReLU", 0.3),
    ("Conv2DTranspose", 64, 5, 2, False), KERAS_BN, ("LeakyReLU", 0.3),
    ("Conv2DTranspose", 1, 5, 2, False), TANH,  # use_bias=False, activation='tanh'
]
D_003 = [
    ("Conv2D", 64, 5, 2, True), ("LeakyReLU", 0.3), ("Dropout", 0.3),
    ("Conv2D", 128, 5, 2, True), ("LeakyReLU", 0.3), ("Dropout", 0.3),
    ("Flatten",), ("Dense", 1, True),
]

# -- Tutorial 004 (TF1 tf.layers.dense: Glorot uniform; tf.nn.leaky_relu 0.2) -----------
G_004 = [
    # fc1 = tf.layers.dense(inputs=z, units=128); relu1 = tf.nn.relu(fc1)
    ("Dense", 128, True), ("ReLU",),
    # fc2 = tf.layers.dense(inputs=relu1, units=28*28); output = tf.nn.sigmoid(fc2), in
    # [0, 1]; mapped to [-1, 1] exactly: 2 sigmoid(a) - 1
    ("Dense", 784, True), ("Activation", "sigmoid"), ("Rescaling", 2.0, -1.0),
    ("Reshape", MNIST),
]
D_004 = [
    ("Rescaling", 0.5, 0.5),                           # [-1, 1] -> the seed's [0, 1] pixels
    ("Flatten",),                                      # tf.layers.flatten(input_images)
    ("Dense", 128, True),                              # fc1 = tf.layers.dense(..., units=128)
    ("Dropout", 0.3),                                  # tf.layers.dropout(fc1, rate=0.3, ...)
    ("LeakyReLU", 0.2),                                # tf.nn.leaky_relu(dropout1)
    ("Dense", 1, True),                                # logits = tf.layers.dense(relu1, units=1)
]

STRUCTURE = {
    "tutorial_000": (G_000, D_000),
    "tutorial_001": (G_001, D_001),
    "tutorial_002": (G_002, D_002),
    "tutorial_003": (G_003, D_003),
    "tutorial_004": (G_004, D_004),
}

# Training settings: (data, latent_dim, latents, optimiser (name, g_lr, d_lr, beta_1,
# beta_2), loss, loss_kwargs).
TRAINING = {
    # "以MNIST手写数字数据集…为例"; "对于MNIST数据集来说，z的数量等于784"; "z（服从均匀分布）";
    # tf.train.AdamOptimizer() (lr 1e-3, beta1 0.9, beta2 0.999);
    # loss_G = -tf.reduce_mean(tf.log(D_fake)): non-saturating
    "tutorial_000": ("mnist", 784, "uniform", ("adam", 1e-3, 1e-3, 0.9, 0.999),
                     "non_saturating", {}),
    # dataset, z_dim and optimiser undefined: CelebA, 100, Adam 2e-4 / 0.5 chosen;
    # z = tf.random.normal([batch_size, z_dim]); generator_loss with
    # labels=generated_image_label is a bug fixed: G targets label 1 (non-saturating)
    "tutorial_001": ("celeb_a", 100, "normal", ("adam", 2e-4, 2e-4, 0.5, 0.999),
                     "non_saturating", {}),
    # datasets.MNIST; torch.randn(10, 100); optim.Adam(lr=0.0002, betas=(0.5, 0.999));
    # d_loss = 0.5 * (real_loss + fake_loss); g_loss = criterion(discriminator(gen_imgs), valid)
    "tutorial_002": ("mnist", 100, "normal", ("adam", 2e-4, 2e-4, 0.5, 0.999),
                     "non_saturating", {"discriminator_scale": 0.5}),
    # "DCGAN…主要用于MNIST"; "服从标准正态分布"; "min_G max_D V(D, G)": minimax;
    # the TensorFlow tutorial's tf.keras.optimizers.Adam(1e-4) (chosen here)
    "tutorial_003": ("mnist", 100, "normal", ("adam", 1e-4, 1e-4, 0.9, 0.999), "minimax", {}),
    # input_data.read_data_sets('MNIST_data'); z_dim = 100; tf.random_normal;
    # tf.train.AdamOptimizer(learning_rate=0.001, beta1=0.5) for both networks
    "tutorial_004": ("mnist", 100, "normal", ("adam", 1e-3, 1e-3, 0.5, 0.999),
                     "non_saturating", {}),
}

# The initialisation each tutorial's framework gives its layers (none states one that
# takes effect: 002's weights_init matches no layer of its MLP pair).
INIT = {"tutorial_000": "glorot", "tutorial_001": "glorot", "tutorial_002": "pytorch",
        "tutorial_003": "glorot", "tutorial_004": "glorot"}


@pytest.mark.parametrize("name", sorted(STRUCTURE))
def test_networks_are_the_tutorials_layer_for_layer(name):
    _, generator, discriminator = build(name)
    expected_g, expected_d = STRUCTURE[name]
    assert describe(generator) == expected_g
    assert describe(discriminator) == expected_d
    assert discriminator.output_shape == (None, 1)  # one logit per image


@pytest.mark.parametrize("name", sorted(TRAINING))
def test_training_settings_are_the_tutorials(name):
    config = configs.get(name)
    data, latent_dim, latents, optimiser, loss, loss_kwargs = TRAINING[name]
    train = config.train
    assert config.data.name == data
    assert (config.model.latent_dim, config.model.latent_distribution) == (latent_dim, latents)
    assert (train.optimizer, train.g_lr, train.d_lr, train.beta_1, train.beta_2) == optimiser
    assert (train.loss, dict(train.loss_kwargs)) == (loss, loss_kwargs)
    assert train.precision == "float32" and train.grad_clip_norm is None
    assert config.model.ema_decay is None and config.model.augment is None


def _weighted_layers(model):
    return [layer for layer in model.stack.layers
            if isinstance(layer, (keras.layers.Dense, keras.layers.Conv2D,
                                  keras.layers.Conv2DTranspose))]


def _fan_in(layer):
    kernel = layer.kernel.shape
    if isinstance(layer, keras.layers.Conv2DTranspose):  # (kh, kw, out, in)
        return kernel[0] * kernel[1] * kernel[2]
    return math.prod(kernel[:-1])


@pytest.mark.parametrize("name", sorted(INIT))
def test_initialisers_are_the_frameworks(name):
    _, generator, discriminator = build(name)
    for model in (generator, discriminator):
        for layer in _weighted_layers(model):
            kernel_init = layer.kernel_initializer
            if INIT[name] == "glorot":  # tf.layers / Keras: glorot_uniform, zero biases
                assert isinstance(kernel_init, keras.initializers.GlorotUniform), layer.name
                if layer.use_bias:
                    assert isinstance(layer.bias_initializer, keras.initializers.Zeros)
                continue
            # PyTorch nn.Linear.reset_parameters: kaiming_uniform_(a=sqrt(5)) =
            # U(+-1/sqrt(fan_in)) for the weight, U(+-1/sqrt(fan_in)) for the bias
            bound = 1 / math.sqrt(_fan_in(layer))
            kernel = np.asarray(layer.kernel)
            bias = np.asarray(layer.bias)
            assert np.abs(kernel).max() <= bound and np.abs(bias).max() <= bound
            # U(-b, b) has std b / sqrt(3); sample std of >= 128 values within ~15%
            assert kernel.std() == pytest.approx(bound / math.sqrt(3), rel=0.15), layer.name
            if bias.size >= 128:
                assert bias.std() == pytest.approx(bound / math.sqrt(3), rel=0.15)
        for layer in model.stack.layers:
            if isinstance(layer, keras.layers.BatchNormalization):  # weight 1, bias 0
                assert np.all(np.asarray(layer.gamma) == 1)
                assert np.all(np.asarray(layer.beta) == 0)


def _leaky_relu(x, slope):
    return np.where(x > 0, x, slope * x)


def test_tutorial_004_computes_the_tutorials_functions_of_its_pixels():
    """G(z) = 2 G_seed(z) - 1 and D(2x - 1) = D_seed(x) with the same weights, where
    G_seed, D_seed are the seed's TF1 graphs (D without dropout, i.e. at test time)."""
    _, generator, discriminator = build("tutorial_004")
    z = np.random.default_rng(0).normal(size=(4, 100)).astype(np.float32)
    w1, b1, w2, b2 = (np.asarray(w) for w in generator.weights)
    seed_images = 1 / (1 + np.exp(-(np.maximum(z @ w1 + b1, 0) @ w2 + b2)))  # (4, 784), [0, 1]
    np.testing.assert_allclose(np.asarray(generator(z)).reshape(4, 784), 2 * seed_images - 1,
                               atol=1e-5)
    v1, c1, v2, c2 = (np.asarray(w) for w in discriminator.weights)
    seed_logits = _leaky_relu(seed_images @ v1 + c1, 0.2) @ v2 + c2        # (4, 1)
    port_logits = discriminator(2 * seed_images.reshape(4, *MNIST) - 1, training=False)
    np.testing.assert_allclose(np.asarray(port_logits), seed_logits, rtol=1e-4, atol=1e-5)


def test_tutorial_001_discriminator_averages_its_last_map():
    """The seed's last layer leaves a (B, 4, 4) map after tf.squeeze; the port's logit is
    its mean: the same convolutions, then GlobalAveragePooling2D over 4x4x1."""
    _, _, discriminator = build("tutorial_001")
    layers = discriminator.stack.layers
    last_map = layers[-2].output.shape  # the LeakyReLU after conv2d(h, 1, ...)
    assert tuple(last_map) == (None, 4, 4, 1)
