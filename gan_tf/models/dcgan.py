"""Convolutional generator and discriminator (tutorials 001 and 000, DCGAN-style).

Tutorial 001's generator maps z through dense layers to a 4x4x512 tensor, then
transposed 5x5 convolutions (512 stride 1, then 256, 128, 64, 3 with stride 2) to a
64x64x3 image with tanh; its discriminator is a stack of strided 5x5 convolutions with
leaky ReLU. Tutorial 000 describes a discriminator of convolution, pooling and dropout
layers followed by a fully connected layer.

Here one class per role is sized by `image_shape`: the generator starts at
s x s (s = 7 for 28x28, 4 for 32 and 64) and doubles k times up to the image size.
With the default `base_channels=64`:

    28x28x1:  dense 7x7x256 -> 7x7x128 (stride 1) -> 14x14x64 -> 28x28x1
              (the TensorFlow DCGAN tutorial's generator)
    64x64x3:  dense 4x4x512 -> 4x4x512 (stride 1) -> 8x8x256 -> 16x16x128
              -> 32x32x64 -> 64x64x3 (tutorial 001's generator)

Fixes to tutorial 001's code (docs/fidelity.md): its discriminator reshapes the
64x64x3 image to 4x4x512, which does not fit (12288 != 8192 values) — here it
convolves the image itself; its generator reshapes a 2048-wide dense output to
4x4x512 (= 8192), which silently quarters the batch — here the dense layer has
s*s*channels units; tanh after every hidden layer is replaced by BatchNorm + ReLU,
the DCGAN recipe the tutorial's own FAQ recommends against unstable training.
"""

import keras

from gan_tf.models import _base

DOWNSAMPLING = ("stride", "pool")


def _num_doublings(image_shape):
    """Returns (s, k) with H = W = s * 2**k and s <= 7, k >= 1.

    Raises:
        ValueError: non-square images, or sizes that cannot be halved down to <= 7.
    """
    height, width, _ = image_shape
    if height != width:
        raise ValueError(f"dcgan models need square images, got {height}x{width}")
    size, doublings = height, 0
    while size > 7 and size % 2 == 0:
        size, doublings = size // 2, doublings + 1
    if doublings == 0 or size > 7:
        raise ValueError(
            f"dcgan models need an image size of s * 2**k with s <= 7 and k >= 1 "
            f"(e.g. 28, 32, 64, 128), got {height}")
    return size, doublings


@keras.saving.register_keras_serializable(package="gan_tf.models.dcgan")
class Generator(_base.StackModel):
    """DCGAN generator: latents (batch, latent_dim) -> images (batch, H, W, C) in [-1, 1].

    Dense(s*s*c0) -> BN -> ReLU -> reshape (s, s, c0) -> ConvT(c1, stride 1) -> BN ->
    ReLU -> k-1 x [ConvT(stride 2) -> BN -> ReLU] -> ConvT(C, stride 2) -> tanh, with
    channels c_j = min(max_channels, base_channels * 2**(k - j)).

    Args:
        latent_dim: size of z.
        image_shape: (H, W, C), square, H = s * 2**k with s <= 7.
        base_channels: channels of the last hidden layer; the others double.
        max_channels: cap on any layer's channels.
        kernel_size: transposed convolution kernel (5 in the tutorials).
        batch_norm: BatchNorm after the hidden layers (False reproduces a plain stack,
            for tutorial 001's FAQ experiment).
        init_stddev: N(0, init_stddev) kernels as in DCGAN, or None for Glorot.
    """

    def __init__(self, latent_dim=100, image_shape=(28, 28, 1), base_channels=64,
                 max_channels=512, kernel_size=5, batch_norm=True, init_stddev=0.02,
                 **kwargs):
        image_shape = _base.check_image_shape(image_shape)
        size, doublings = _num_doublings(image_shape)
        init = _base.kernel_initializer(init_stddev)

        def channels(j):
            return min(int(max_channels), int(base_channels) * 2 ** (doublings - j))

        def normalised():
            if not batch_norm:
                return [keras.layers.ReLU()]
            return [keras.layers.BatchNormalization(
                gamma_initializer=_base.gamma_initializer(init_stddev)), keras.layers.ReLU()]

        layers = [keras.layers.Dense(size * size * channels(0), use_bias=not batch_norm,
                                     kernel_initializer=init),
                  *normalised(),
                  keras.layers.Reshape((size, size, channels(0)))]  # (B, s*s*c0) -> (B, s, s, c0)
        layers += [keras.layers.Conv2DTranspose(
                       channels(1), kernel_size, strides=1, padding="same",
                       use_bias=not batch_norm, kernel_initializer=init),
                   *normalised()]
        for j in range(2, doublings + 1):  # each doubles H and W
            layers += [keras.layers.Conv2DTranspose(
                           channels(j), kernel_size, strides=2, padding="same",
                           use_bias=not batch_norm, kernel_initializer=init),
                       *normalised()]
        layers += [keras.layers.Conv2DTranspose(
                       image_shape[-1], kernel_size, strides=2, padding="same",
                       kernel_initializer=init),
                   keras.layers.Activation("tanh", dtype="float32")]
        super().__init__((int(latent_dim),), layers, **kwargs)
        self.latent_dim = int(latent_dim)
        self.image_shape = image_shape
        self.base_channels = int(base_channels)
        self.max_channels = int(max_channels)
        self.kernel_size = int(kernel_size)
        self.batch_norm = bool(batch_norm)
        self.init_stddev = init_stddev

    def get_config(self):
        return {**super().get_config(), "latent_dim": self.latent_dim,
                "image_shape": self.image_shape, "base_channels": self.base_channels,
                "max_channels": self.max_channels, "kernel_size": self.kernel_size,
                "batch_norm": self.batch_norm, "init_stddev": self.init_stddev}


@keras.saving.register_keras_serializable(package="gan_tf.models.dcgan")
class Discriminator(_base.StackModel):
    """Convolutional discriminator: images (batch, H, W, C) -> logits (batch, 1).

    k blocks that each halve H and W, then Flatten -> Dense(1). Block j has
    base_channels * 2**j channels (capped) and is, by `downsampling`:

        "stride" (tutorial 001, DCGAN):  Conv(stride 2) -> [BN] -> LeakyReLU -> [Dropout]
        "pool"   (tutorial 000):         Conv(stride 1) -> [BN] -> LeakyReLU -> MaxPool(2)
                                         -> [Dropout]

    Args:
        image_shape: (H, W, C), square, H = s * 2**k with s <= 7.
        base_channels: channels of the first block.
        max_channels: cap on any block's channels.
        kernel_size: convolution kernel (5 in the tutorials).
        downsampling: "stride" or "pool".
        dropout: rate after each block, in [0, 1); 0.3 as in the TensorFlow DCGAN
            tutorial and tutorial 002.
        batch_norm: BatchNorm in every block but the first (DCGAN paper).
        negative_slope: LeakyReLU slope (0.2 in DCGAN and tf.nn.leaky_relu).
        init_stddev: N(0, init_stddev) kernels, or None for Glorot.
        spectral_norm: wrap every convolution and the last Dense layer in
            `keras.layers.SpectralNormalization` (Miyato et al. 2018,
            arXiv:1802.05957): each layer's spectral norm is kept at 1, which bounds
            the discriminator's Lipschitz constant.
    """

    def __init__(self, image_shape=(28, 28, 1), base_channels=64, max_channels=512,
                 kernel_size=5, downsampling="stride", dropout=0.3, batch_norm=False,
                 negative_slope=0.2, init_stddev=0.02, spectral_norm=False, **kwargs):
        image_shape = _base.check_image_shape(image_shape)
        _, doublings = _num_doublings(image_shape)
        if downsampling not in DOWNSAMPLING:
            raise ValueError(f"downsampling must be one of {DOWNSAMPLING}, got {downsampling!r}")
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        init = _base.kernel_initializer(init_stddev)
        layers = []
        for j in range(doublings):  # each halves H and W
            stride = 2 if downsampling == "stride" else 1
            layers.append(_base.maybe_spectral_norm(keras.layers.Conv2D(
                min(int(max_channels), int(base_channels) * 2 ** j), kernel_size,
                strides=stride, padding="same", kernel_initializer=init), spectral_norm))
            if batch_norm and j > 0:
                layers.append(keras.layers.BatchNormalization(
                    gamma_initializer=_base.gamma_initializer(init_stddev)))
            layers.append(keras.layers.LeakyReLU(negative_slope))
            if downsampling == "pool":
                layers.append(keras.layers.MaxPooling2D(2))
            if dropout:
                layers.append(keras.layers.Dropout(dropout))
        layers += [keras.layers.Flatten(),  # (B, s, s, c) -> (B, s*s*c)
                   _base.maybe_spectral_norm(
                       keras.layers.Dense(1, kernel_initializer=init, dtype="float32"),
                       spectral_norm)]
        super().__init__(image_shape, layers, **kwargs)
        self.spectral_norm = bool(spectral_norm)
        self.image_shape = image_shape
        self.base_channels = int(base_channels)
        self.max_channels = int(max_channels)
        self.kernel_size = int(kernel_size)
        self.downsampling = downsampling
        self.dropout = float(dropout)
        self.batch_norm = bool(batch_norm)
        self.negative_slope = float(negative_slope)
        self.init_stddev = init_stddev

    def get_config(self):
        return {**super().get_config(), "image_shape": self.image_shape,
                "base_channels": self.base_channels, "max_channels": self.max_channels,
                "kernel_size": self.kernel_size, "downsampling": self.downsampling,
                "dropout": self.dropout, "batch_norm": self.batch_norm,
                "negative_slope": self.negative_slope, "init_stddev": self.init_stddev,
                "spectral_norm": self.spectral_norm}
