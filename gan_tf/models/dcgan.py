"""Convolutional generator and discriminator (tutorials 001, 000's D, 003's DCGAN).

One class per role, sized by `image_shape`: the generator starts at s x s (s = 7 for
28x28, 4 for 32 and 64) and doubles k times up to the image size. With the default
`base_channels=64`:

    28x28x1:  dense 7x7x256 -> 7x7x128 (stride 1) -> 14x14x64 -> 28x28x1
              (the TensorFlow DCGAN tutorial's channels)
    64x64x3:  dense 4x4x512 -> 4x4x512 (stride 1) -> 8x8x256 -> 16x16x128
              -> 32x32x64 -> 64x64x3 (tutorial 001's channels)

The defaults are the DCGAN recipe (BatchNorm + ReLU in G, N(0, 0.02) init). The
arguments rebuild the tutorials' own stacks (`configs/tutorials.py`): tutorial 001's dense
stack before the reshape (`dense_units`, `dense_activations`) and tanh after every
layer without BatchNorm; its discriminator's explicit channels and strides
(512 stride 1, 256, 128, 64, 1 stride 2) and the average of its last 1-channel map
as the logit (`head="average"`); the TensorFlow tutorial's LeakyReLU(0.3), bias-free
layers and Glorot init. docs/fidelity.md lists what each preset fixes.
"""

import keras

from gan_tf.models import _base

DOWNSAMPLING = ("stride", "pool")
HEADS = ("dense", "average")


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


def _check_init(init_stddev):
    init = _base.check_init(init_stddev)
    if init == _base.PYTORCH_INIT:
        raise ValueError("init_stddev='pytorch' is an option of the mlp models; dcgan models "
                         "take a float (N(0, s)) or None (Glorot uniform)")
    return init


def _positive_ints(values, name):
    values = tuple(int(v) for v in values)
    if any(v < 1 for v in values):
        raise ValueError(f"{name} must be positive integers, got {values!r}")
    return values


@keras.saving.register_keras_serializable(package="gan_tf.models.dcgan")
class Generator(_base.StackModel):
    """DCGAN generator: latents (batch, latent_dim) -> images (batch, H, W, C) in [-1, 1].

    [Dense(u_i) -> [BN] -> act_i]* -> Dense(s*s*c0) -> [BN] -> act -> reshape (s, s, c0)
    -> ConvT(c1, stride 1) -> [BN] -> act -> k-1 x [ConvT(stride 2) -> [BN] -> act]
    -> ConvT(C, stride 2) -> tanh, with channels c_j = min(max_channels,
    base_channels * 2**(k - j)).

    Args:
        latent_dim: size of z.
        image_shape: (H, W, C), square, H = s * 2**k with s <= 7.
        base_channels: channels of the last hidden layer; the others double.
        max_channels: cap on any layer's channels.
        kernel_size: transposed convolution kernel (5 in the tutorials).
        batch_norm: BatchNorm before each hidden activation (False: the plain stack
            of tutorial 001).
        init_stddev: N(0, init_stddev) kernels as in DCGAN (BN scale N(1, s)), or None
            for Glorot uniform (the Keras / TF1 default).
        dense_units: widths of dense layers applied to z before the dense projection to
            s*s*c0 (tutorial 001: 128, 256, 512, 1024); () for none.
        dense_activations: activation of each of `dense_units` (tutorial 001: relu,
            relu, tanh, tanh); None: `activation` for each.
        activation: activation after the projection and every hidden transposed
            convolution: "relu" (DCGAN), "leaky_relu" (TensorFlow tutorial) or "tanh"
            (tutorial 001).
        negative_slope: LeakyReLU slope (Keras' default 0.3, tf.nn.leaky_relu's 0.2).
        use_bias: None: biases only on layers not followed by BatchNorm, and on the
            output layer; True / False: on every layer, or on none.
        bn_momentum: Keras momentum of the moving statistics (PyTorch's 0.1 is 0.9).
        bn_epsilon: BatchNorm epsilon.
    """

    def __init__(self, latent_dim=100, image_shape=(28, 28, 1), base_channels=64,
                 max_channels=512, kernel_size=5, batch_norm=True, init_stddev=0.02,
                 dense_units=(), dense_activations=None, activation="relu",
                 negative_slope=0.2, use_bias=None, bn_momentum=0.99, bn_epsilon=1e-3,
                 **kwargs):
        image_shape = _base.check_image_shape(image_shape)
        size, doublings = _num_doublings(image_shape)
        init = _check_init(init_stddev)
        dense_units = _positive_ints(dense_units, "dense_units")
        if dense_activations is not None:
            dense_activations = tuple(dense_activations)
            if len(dense_activations) != len(dense_units):
                raise ValueError(f"dense_activations needs one activation per dense_units "
                                 f"entry ({len(dense_units)}), got {dense_activations!r}")
        kernel = _base.kernel_initializer(init)
        hidden_bias = not batch_norm if use_bias is None else bool(use_bias)

        def channels(j):
            return min(int(max_channels), int(base_channels) * 2 ** (doublings - j))

        def block(layer, name):  # layer -> [BN] -> activation
            normalise = [_base.batch_norm(init, bn_momentum, bn_epsilon)] if batch_norm else []
            return [layer, *normalise, _base.activation(name, negative_slope)]

        def transposed(filters, stride, bias):
            return keras.layers.Conv2DTranspose(filters, kernel_size, strides=stride,
                                                padding="same", use_bias=bias,
                                                kernel_initializer=kernel)

        layers = []
        for width, name in zip(dense_units, dense_activations or (activation,) * len(dense_units)):
            layers += block(keras.layers.Dense(width, use_bias=hidden_bias,
                                               kernel_initializer=kernel), name)
        layers += [*block(keras.layers.Dense(size * size * channels(0), use_bias=hidden_bias,
                                             kernel_initializer=kernel), activation),
                   keras.layers.Reshape((size, size, channels(0)))]  # (B, s*s*c0) -> (B, s, s, c0)
        for j in range(1, doublings + 1):  # the first keeps s x s, the others double H, W
            layers += block(transposed(channels(j), 1 if j == 1 else 2, hidden_bias),
                            activation)
        layers += [transposed(image_shape[-1], 2, True if use_bias is None else bool(use_bias)),
                   keras.layers.Activation("tanh", dtype="float32")]
        super().__init__((int(latent_dim),), layers, **kwargs)
        self.latent_dim = int(latent_dim)
        self.image_shape = image_shape
        self.base_channels = int(base_channels)
        self.max_channels = int(max_channels)
        self.kernel_size = int(kernel_size)
        self.batch_norm = bool(batch_norm)
        self.init_stddev = init
        self.dense_units = dense_units
        self.dense_activations = dense_activations
        self.activation = activation
        self.negative_slope = float(negative_slope)
        self.use_bias = use_bias if use_bias is None else bool(use_bias)
        self.bn_momentum = float(bn_momentum)
        self.bn_epsilon = float(bn_epsilon)

    def get_config(self):
        return {**super().get_config(), "latent_dim": self.latent_dim,
                "image_shape": self.image_shape, "base_channels": self.base_channels,
                "max_channels": self.max_channels, "kernel_size": self.kernel_size,
                "batch_norm": self.batch_norm, "init_stddev": self.init_stddev,
                "dense_units": self.dense_units, "dense_activations": self.dense_activations,
                "activation": self.activation, "negative_slope": self.negative_slope,
                "use_bias": self.use_bias, "bn_momentum": self.bn_momentum,
                "bn_epsilon": self.bn_epsilon}


def _conv_plan(image_shape, base_channels, max_channels, downsampling, channels, strides):
    """(channels, strides) of the discriminator's convolutions.

    Raises:
        ValueError: strides without channels, or lists of different lengths.
    """
    if channels is None:
        if strides is not None:
            raise ValueError("strides needs explicit channels (one stride per convolution)")
        _, doublings = _num_doublings(image_shape)
        channels = tuple(min(int(max_channels), int(base_channels) * 2 ** j)
                         for j in range(doublings))
    channels = _positive_ints(channels, "channels")
    if not channels:
        raise ValueError("channels must list at least one convolution, got ()")
    if strides is None:
        strides = (2 if downsampling == "stride" else 1,) * len(channels)
    strides = _positive_ints(strides, "strides")
    if len(strides) != len(channels):
        raise ValueError(f"strides needs one stride per convolution ({len(channels)}), "
                         f"got {strides!r}")
    return channels, strides


@keras.saving.register_keras_serializable(package="gan_tf.models.dcgan")
class Discriminator(_base.StackModel):
    """Convolutional discriminator: images (batch, H, W, C) -> logits (batch, 1).

    One block per convolution, then the head. By default there are k blocks that each
    halve H and W, block j with base_channels * 2**j channels (capped); `channels` and
    `strides` list them explicitly instead. A block is, by `downsampling`:

        "stride" (tutorial 001, DCGAN):  Conv(stride) -> [BN] -> LeakyReLU -> [Dropout]
        "pool"   (tutorial 000):         Conv(stride 1) -> [BN] -> LeakyReLU -> MaxPool(2)
                                         -> [Dropout]

    Heads: "dense" Flatten -> Dense(1); "average" the mean of the last block's
    (B, h, w, 1) map, (B, 1): tutorial 001 squeezes a 1-channel map where the labels
    want one logit per image, and averaging it adds no weights (docs/fidelity.md).

    Args:
        image_shape: (H, W, C); square, H = s * 2**k with s <= 7, unless `channels`
            is given.
        base_channels: channels of the first block.
        max_channels: cap on any block's channels.
        kernel_size: convolution kernel (5 in the tutorials).
        downsampling: "stride" or "pool".
        dropout: rate after each block, in [0, 1); 0.3 as in the TensorFlow DCGAN
            tutorial and tutorial 002.
        batch_norm: BatchNorm in every block but the first (DCGAN paper).
        negative_slope: LeakyReLU slope (0.2 in DCGAN and tf.nn.leaky_relu; 0.3 is
            Keras' default).
        init_stddev: N(0, init_stddev) kernels, or None for Glorot.
        spectral_norm: wrap every convolution and the last Dense layer in
            `keras.layers.SpectralNormalization` (Miyato et al. 2018,
            arXiv:1802.05957): each layer's spectral norm is kept at 1, which bounds
            the discriminator's Lipschitz constant.
        channels: the convolutions' widths, e.g. (512, 256, 128, 64, 1) for tutorial
            001; None for the halving blocks above.
        strides: one stride per entry of `channels` (e.g. (1, 2, 2, 2, 2)); None: 2
            for "stride", 1 for "pool".
        head: "dense" or "average" (needs a last convolution of 1 channel).
        bn_momentum: Keras momentum of the moving statistics.
        bn_epsilon: BatchNorm epsilon.
    """

    def __init__(self, image_shape=(28, 28, 1), base_channels=64, max_channels=512,
                 kernel_size=5, downsampling="stride", dropout=0.3, batch_norm=False,
                 negative_slope=0.2, init_stddev=0.02, spectral_norm=False, channels=None,
                 strides=None, head="dense", bn_momentum=0.99, bn_epsilon=1e-3, **kwargs):
        image_shape = _base.check_image_shape(image_shape)
        if downsampling not in DOWNSAMPLING:
            raise ValueError(f"downsampling must be one of {DOWNSAMPLING}, got {downsampling!r}")
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        if head not in HEADS:
            raise ValueError(f"head must be one of {HEADS}, got {head!r}")
        widths, steps = _conv_plan(image_shape, base_channels, max_channels, downsampling,
                                   channels, strides)
        if head == "average" and widths[-1] != 1:
            raise ValueError(f"head='average' averages a 1-channel map into one logit: the "
                             f"last convolution must have 1 channel, got {widths[-1]}")
        init = _check_init(init_stddev)
        layers = []
        for j, (width, stride) in enumerate(zip(widths, steps)):
            layers.append(_base.maybe_spectral_norm(keras.layers.Conv2D(
                width, kernel_size, strides=stride, padding="same",
                kernel_initializer=_base.kernel_initializer(init)), spectral_norm))
            if batch_norm and j > 0:
                layers.append(_base.batch_norm(init, bn_momentum, bn_epsilon))
            layers.append(keras.layers.LeakyReLU(negative_slope))
            if downsampling == "pool":
                layers.append(keras.layers.MaxPooling2D(2))
            if dropout:
                layers.append(keras.layers.Dropout(dropout))
        if head == "average":  # (B, h, w, 1) -> (B, 1)
            layers.append(keras.layers.GlobalAveragePooling2D(dtype="float32"))
        else:
            layers += [keras.layers.Flatten(),  # (B, h, w, c) -> (B, h*w*c)
                       _base.maybe_spectral_norm(keras.layers.Dense(
                           1, kernel_initializer=_base.kernel_initializer(init),
                           dtype="float32"), spectral_norm)]
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
        self.init_stddev = init
        self.channels = None if channels is None else widths
        self.strides = None if strides is None else steps
        self.head = head
        self.bn_momentum = float(bn_momentum)
        self.bn_epsilon = float(bn_epsilon)

    def get_config(self):
        return {**super().get_config(), "image_shape": self.image_shape,
                "base_channels": self.base_channels, "max_channels": self.max_channels,
                "kernel_size": self.kernel_size, "downsampling": self.downsampling,
                "dropout": self.dropout, "batch_norm": self.batch_norm,
                "negative_slope": self.negative_slope, "init_stddev": self.init_stddev,
                "spectral_norm": self.spectral_norm, "channels": self.channels,
                "strides": self.strides, "head": self.head,
                "bn_momentum": self.bn_momentum, "bn_epsilon": self.bn_epsilon}
