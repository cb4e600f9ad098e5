"""CycleGAN's networks (tutorial 003): a ResNet generator and a PatchGAN discriminator.

Tutorial 003 names CycleGAN as the model for mapping images of one domain to
another without paired examples; it gives no architecture. These follow Zhu et al.
2017 (arXiv:1703.10593) and their reference code, with sizes that fit small images:

    Generator (image -> image, same H x W):
        c7s1-b          reflect-pad 3, conv 7x7 (b), instance norm, ReLU
        d2b, d4b        conv 3x3 stride 2, instance norm, ReLU     (H -> H/2 -> H/4)
        R4b x n         residual blocks of two reflect-padded 3x3 convs
        u2b, ub         transposed conv 3x3 stride 2, IN, ReLU     (H/4 -> H/2 -> H)
        c7s1-C          reflect-pad 3, conv 7x7 (C), tanh
      28x28 with b=32, n=3:  28x28x32 -> 14x14x64 -> 7x7x128 (x3 blocks) -> 14x14x64
                             -> 28x28x32 -> 28x28x1.  The paper: 256x256, b=64, n=9.

    Discriminator (PatchGAN, image -> map of logits):
        C(b) stride 2 (no norm), C(2b) stride 2, ..., C(b * 2**k) stride 1, conv 1:
        4x4 kernels, instance norm after all but the first, LeakyReLU 0.2. Each logit
        judges one patch; with k = 3 downsamples (the paper's 70x70 PatchGAN) a
        256x256 image gives 32x32 logits; `num_downsamples=2` on 28x28 gives 7x7
        logits, each seeing a 34x34 window (the image with its zero border).

Instance norm is `keras.layers.GroupNormalization(groups=-1)` without scale and
offset, as the reference code's `InstanceNorm2d(affine=False)`. "same" padding
replaces the PatchGAN's padding of 1 (its maps are then exactly H / 2**k).

These models take no latent vector: they are built by `gan_tf.cyclegan.CycleGAN`,
never by `gan_tf.GAN` (see `gan_tf.models.translation_families`).
"""

import keras

from gan_tf.models import _base


@keras.saving.register_keras_serializable(package="gan_tf.models.cyclegan")
class ReflectionPadding2D(keras.layers.Layer):
    """Pads H and W by mirroring the border (no edge repetition), as torch's
    ReflectionPad2d: (B, H, W, C) -> (B, H + 2p, W + 2p, C)."""

    def __init__(self, padding=1, **kwargs):
        super().__init__(**kwargs)
        self.padding = int(padding)

    def call(self, inputs):
        p = self.padding
        return keras.ops.pad(inputs, [[0, 0], [p, p], [p, p], [0, 0]], mode="reflect")

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        grow = 2 * self.padding
        return (batch, None if height is None else height + grow,
                None if width is None else width + grow, channels)

    def get_config(self):
        return {**super().get_config(), "padding": self.padding}


def instance_norm():
    """Instance normalisation without affine parameters (epsilon 1e-5, as torch)."""
    return keras.layers.GroupNormalization(groups=-1, epsilon=1e-5, center=False,
                                           scale=False)


class _FunctionalWrapper(keras.Model):
    """A model whose computation is one functional graph built at construction (like
    `_base.StackModel`, but the graph may branch: residual connections)."""

    def __init__(self, network, **kwargs):
        super().__init__(**kwargs)
        self.network = network
        self.built = True

    def build(self, input_shape=None):
        self.built = True

    def call(self, inputs, training=False):
        return self.network(inputs, training=training)

    @property
    def input_shape(self):
        """(None, H, W, C), like a functional model's."""
        return tuple(self.network.inputs[0].shape)

    @property
    def output_shape(self):
        return tuple(self.network.outputs[0].shape)

    def compute_output_shape(self, input_shape):
        return self.network.compute_output_shape(input_shape)


def _check_sizes(image_shape, divisor, role):
    height, width, _ = image_shape
    if height % divisor or width % divisor:
        raise ValueError(f"cyclegan {role} needs H and W divisible by {divisor} (its "
                         f"stride-2 steps), got {height}x{width}; pass image_size")


@keras.saving.register_keras_serializable(package="gan_tf.models.cyclegan")
class Generator(_FunctionalWrapper):
    """ResNet generator: images (batch, H, W, C) -> images (batch, H, W, C_out) in [-1, 1].

    Args:
        image_shape: (H, W, C) of the input domain; H and W divisible by 4.
        output_channels: channels of the output domain; None: C.
        base_channels: b, channels of the first layer (64 in the paper).
        num_res_blocks: residual blocks at H/4 (9 for 256x256, 6 for 128x128).
        init_stddev: N(0, init_stddev) kernels as the reference code, or None for
            Glorot.

    Raises:
        ValueError: a bad image_shape, H or W not divisible by 4, or counts < 1.
    """

    def __init__(self, image_shape=(28, 28, 1), output_channels=None, base_channels=32,
                 num_res_blocks=3, init_stddev=0.02, **kwargs):
        image_shape = _base.check_image_shape(image_shape)
        _check_sizes(image_shape, 4, "generators")
        if int(base_channels) < 1 or int(num_res_blocks) < 0:
            raise ValueError(f"base_channels must be >= 1 and num_res_blocks >= 0, got "
                             f"{base_channels!r} and {num_res_blocks!r}")
        output_channels = int(output_channels or image_shape[-1])
        base, init = int(base_channels), _base.kernel_initializer(init_stddev)

        def conv(channels, size, strides=1, padding="same"):
            return keras.layers.Conv2D(channels, size, strides=strides, padding=padding,
                                       kernel_initializer=init)

        inputs = keras.Input(shape=image_shape)
        x = ReflectionPadding2D(3)(inputs)                 # (B, H+6, W+6, C)
        x = conv(base, 7, padding="valid")(x)              # (B, H, W, b)
        x = keras.layers.ReLU()(instance_norm()(x))
        for multiple in (2, 4):                            # (B, H/2, W/2, 2b), (B, H/4, W/4, 4b)
            x = keras.layers.ReLU()(instance_norm()(conv(base * multiple, 3, strides=2)(x)))
        for _ in range(int(num_res_blocks)):
            y = conv(base * 4, 3, padding="valid")(ReflectionPadding2D(1)(x))
            y = keras.layers.ReLU()(instance_norm()(y))
            y = instance_norm()(conv(base * 4, 3, padding="valid")(ReflectionPadding2D(1)(y)))
            x = keras.layers.Add()([x, y])
        for multiple in (2, 1):                            # (B, H/2, W/2, 2b), (B, H, W, b)
            x = keras.layers.Conv2DTranspose(base * multiple, 3, strides=2, padding="same",
                                             kernel_initializer=init)(x)
            x = keras.layers.ReLU()(instance_norm()(x))
        x = conv(output_channels, 7, padding="valid")(ReflectionPadding2D(3)(x))
        outputs = keras.layers.Activation("tanh", dtype="float32")(x)
        super().__init__(keras.Model(inputs, outputs, name="resnet_generator"), **kwargs)
        self.image_shape = image_shape
        self.output_channels = output_channels
        self.base_channels = base
        self.num_res_blocks = int(num_res_blocks)
        self.init_stddev = init_stddev

    def get_config(self):
        return {**super().get_config(), "image_shape": self.image_shape,
                "output_channels": self.output_channels,
                "base_channels": self.base_channels,
                "num_res_blocks": self.num_res_blocks, "init_stddev": self.init_stddev}


@keras.saving.register_keras_serializable(package="gan_tf.models.cyclegan")
class Discriminator(_FunctionalWrapper):
    """PatchGAN: images (batch, H, W, C) -> logits (batch, H / 2**k, W / 2**k, 1).

    Args:
        image_shape: (H, W, C); H and W divisible by 2**num_downsamples.
        base_channels: channels of the first convolution (64 in the paper).
        num_downsamples: k stride-2 convolutions (3: the paper's 70x70 PatchGAN).
        max_channels: cap on any layer's channels.
        negative_slope: LeakyReLU slope.
        init_stddev: N(0, init_stddev) kernels, or None for Glorot.

    Raises:
        ValueError: a bad image_shape, sizes not divisible by 2**k, or k < 1.
    """

    def __init__(self, image_shape=(28, 28, 1), base_channels=32, num_downsamples=2,
                 max_channels=512, negative_slope=0.2, init_stddev=0.02, **kwargs):
        image_shape = _base.check_image_shape(image_shape)
        if int(num_downsamples) < 1:
            raise ValueError(f"num_downsamples must be >= 1, got {num_downsamples!r}")
        _check_sizes(image_shape, 2 ** int(num_downsamples), "discriminators")
        init = _base.kernel_initializer(init_stddev)
        inputs = keras.Input(shape=image_shape)
        x = inputs
        for j in range(int(num_downsamples) + 1):  # k stride-2 layers, then one stride 1
            x = keras.layers.Conv2D(min(int(max_channels), int(base_channels) * 2 ** j), 4,
                                    strides=2 if j < num_downsamples else 1,
                                    padding="same", kernel_initializer=init)(x)
            if j > 0:
                x = instance_norm()(x)
            x = keras.layers.LeakyReLU(negative_slope)(x)
        outputs = keras.layers.Conv2D(1, 4, padding="same", kernel_initializer=init,
                                      dtype="float32")(x)  # (B, H/2**k, W/2**k, 1)
        super().__init__(keras.Model(inputs, outputs, name="patchgan"), **kwargs)
        self.image_shape = image_shape
        self.base_channels = int(base_channels)
        self.num_downsamples = int(num_downsamples)
        self.max_channels = int(max_channels)
        self.negative_slope = float(negative_slope)
        self.init_stddev = init_stddev

    def get_config(self):
        return {**super().get_config(), "image_shape": self.image_shape,
                "base_channels": self.base_channels,
                "num_downsamples": self.num_downsamples,
                "max_channels": self.max_channels,
                "negative_slope": self.negative_slope, "init_stddev": self.init_stddev}
