"""A small StyleGAN2 (Karras et al. 2020, arXiv:1912.04958): tutorial 001's pointer.

Tutorial 001 credits StyleGAN with a layered ("hierarchical") generator that improves
the quality and the controllability of the images. This module implements the parts
that give it that control, at MNIST sizes:

    z (batch, latent_dim) -> pixel norm -> mapping MLP (lr x 0.01) -> w (batch, w_dim)
    w -> one style per synthesis layer: ws (batch, num_ws, w_dim)
    learned constant (s, s, c0) -> [modulated conv 3x3 + noise + bias + lrelu] ...
        each block doubles H and W: bilinear x2 -> 2 modulated convs; a toRGB
        (modulated 1x1, no demodulation) per resolution, summed through bilinear
        skips -> tanh -> images (batch, H, W, C) in [-1, 1]

- Modulated convolution with demodulation (StyleGAN2 section 2.2): the input is
  scaled per channel by the style, convolved with the shared kernel, and each output
  channel divided by the norm the modulated kernel would have,
  sigma = sqrt(sum_{kh, kw, in} (s_in * k)^2 + 1e-8). Computed as scale - conv -
  scale (the "non-fused" form), which equals the per-sample kernel exactly.
- Per-layer noise: N(0, 1) of shape (batch, H, W, 1) times a learned strength
  (initialised 0) added after each convolution. In training calls it is drawn from
  the generator's own `keras.random.SeedGenerator`; in inference calls a fixed noise
  image per layer (saved with the weights) is used, so `GAN.generate(seed=...)` and
  the exported SavedModel are reproducible.
- Style mixing regularisation (StyleGAN section 3.1): in training calls, with
  probability `mixing_prob` per sample, the styles from a random crossover layer
  on come from another latent (the next sample's in the batch, so the second latent
  has the GAN's own latent distribution).
- Truncation (StyleGAN section 2 / appendix B): `w_avg`, a moving average of w
  (decay `w_avg_beta`) updated in training calls; inference calls take
  `truncation_psi` and return images of w' = w_avg + psi (w - w_avg).
- Equalised learning rate (ProGAN, arXiv:1710.10196): weights are N(0, 1 / lr_mul)
  and scaled by lr_mul / sqrt(fan_in) at run time, so Adam's steps are relative.

The discriminator is StyleGAN2's residual one: fromRGB 1x1, blocks of two 3x3
convolutions and a 2x average-pool with a 1x1 skip, summed with weight 1/sqrt(2); at
s x s a minibatch standard deviation channel (ProGAN), a 3x3 conv and two dense
layers give the logit.

Image sizes are s * 2**k with 4 <= s <= 7 and k >= 1 (28 = 7 * 4, 32, 64...): the
constant input is s x s. The preset `stylegan` trains at 28x28, the size of the data
and of the classifier behind the project's FID.
"""

import math

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from gan_tf import noise
from gan_tf.models import _base

_PACKAGE = "gan_tf.stylegan"
_LRELU_GAIN = math.sqrt(2.0)  # keeps activations' scale through leaky ReLU (StyleGAN2)
NOISE_MODES = ("random", "const", "none")


def _sizes(image_shape):
    """Returns (s, k) with H = W = s * 2**k, 4 <= s <= 7, k >= 1.

    Raises:
        ValueError: non-square images or sizes not of that form.
    """
    height, width, _ = image_shape
    if height != width:
        raise ValueError(f"stylegan models need square images, got {height}x{width}")
    size, doublings = height, 0
    while size > 7 and size % 2 == 0:
        size, doublings = size // 2, doublings + 1
    if doublings == 0 or not 4 <= size <= 7:
        raise ValueError(f"stylegan models need an image size of s * 2**k with 4 <= s <= 7 "
                         f"and k >= 1 (e.g. 28, 32, 64), got {height}")
    return size, doublings


def _lrelu(x):
    return tf.nn.leaky_relu(x, 0.2) * _LRELU_GAIN


def pixel_norm(x, epsilon=1e-8):
    """x / sqrt(mean(x^2) + eps) over the last axis (ProGAN's pixelwise normalisation)."""
    return x * tf.math.rsqrt(tf.reduce_mean(tf.square(x), axis=-1, keepdims=True) + epsilon)


def _channels(base_channels, max_channels, doublings, j):
    """Channels at resolution s * 2**j: base at the output, doubling towards 4x4."""
    return min(int(max_channels), int(base_channels) * 2 ** (doublings - j))


# -- Layers -----------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package=_PACKAGE)
class EqualizedDense(keras.layers.Layer):
    """Dense layer with an equalised learning rate.

    y = x @ (W * lr_multiplier / sqrt(fan_in)) + b * lr_multiplier, W ~ N(0, 1 /
    lr_multiplier), then leaky ReLU (slope 0.2, gain sqrt(2)) when `activation`.

    Args:
        units: output features.
        lr_multiplier: learning-rate factor of this layer (0.01 in the mapping net).
        bias_init: initial value of the (effective) bias.
        activation: apply the leaky ReLU.
    """

    def __init__(self, units, lr_multiplier=1.0, bias_init=0.0, activation=False, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.lr_multiplier = float(lr_multiplier)
        self.bias_init = float(bias_init)
        self.activation = bool(activation)

    def build(self, input_shape):
        fan_in = int(input_shape[-1])
        self.kernel = self.add_weight(
            shape=(fan_in, self.units), name="kernel",
            initializer=keras.initializers.RandomNormal(0.0, 1.0 / self.lr_multiplier))
        self.bias = self.add_weight(
            shape=(self.units,), name="bias",
            initializer=keras.initializers.Constant(self.bias_init / self.lr_multiplier))
        self.scale = self.lr_multiplier / math.sqrt(fan_in)

    def call(self, x):
        kernel = ops.cast(self.kernel, x.dtype) * self.scale
        y = ops.matmul(x, kernel) + ops.cast(self.bias, x.dtype) * self.lr_multiplier
        return _lrelu(y) if self.activation else y

    def get_config(self):
        return {**super().get_config(), "units": self.units,
                "lr_multiplier": self.lr_multiplier, "bias_init": self.bias_init,
                "activation": self.activation}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class EqualizedConv2D(keras.layers.Layer):
    """Conv2D ("same" padding) with an equalised learning rate, optional bias and
    leaky ReLU, optionally preceded by a 2x average pool (`downsample`: the
    convolution then runs at half resolution, like StyleGAN2's blur + stride 2)."""

    def __init__(self, filters, kernel_size=3, use_bias=True, activation=False,
                 downsample=False, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        self.use_bias = bool(use_bias)
        self.activation = bool(activation)
        self.downsample = bool(downsample)

    def build(self, input_shape):
        fan_in = int(input_shape[-1]) * self.kernel_size ** 2
        self.kernel = self.add_weight(
            shape=(self.kernel_size, self.kernel_size, int(input_shape[-1]), self.filters),
            name="kernel", initializer=keras.initializers.RandomNormal(0.0, 1.0))
        self.bias = self.add_weight(shape=(self.filters,), name="bias",
                                    initializer="zeros") if self.use_bias else None
        self.scale = 1.0 / math.sqrt(fan_in)

    def call(self, x):
        if self.downsample:
            x = tf.nn.avg_pool2d(x, 2, 2, "VALID")  # (B, H, W, C) -> (B, H/2, W/2, C)
        y = tf.nn.conv2d(x, ops.cast(self.kernel, x.dtype) * self.scale, 1, "SAME")
        if self.bias is not None:
            y = y + ops.cast(self.bias, x.dtype)
        return _lrelu(y) if self.activation else y

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": self.kernel_size, "use_bias": self.use_bias,
                "activation": self.activation, "downsample": self.downsample}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class ModulatedConv2D(keras.layers.Layer):
    """StyleGAN2's modulated convolution, with per-pixel noise, bias and activation.

    s = A(w) (an equalised dense layer, bias 1); y = conv(x * s, k) / sigma with
    sigma_{b, out} = sqrt(sum_{kh, kw, in} (s_{b, in} k_{kh, kw, in, out})^2 + 1e-8)
    when `demodulate`; then y += strength * noise, y += bias, leaky ReLU.

    Call: `layer(x, w, noise_input=None, const_noise=False)` with x (B, H, W, C_in),
    w (B, w_dim) and noise_input (B, H', W', 1) or None (no noise, or the layer's
    fixed noise image when const_noise); returns (B, H', W', filters) where H' = 2H
    when `upsample`.

    Args:
        filters: output channels.
        kernel_size: 3 for the synthesis layers, 1 for toRGB.
        demodulate: divide by sigma (False for toRGB).
        upsample: bilinear 2x before the convolution.
        use_noise: learn a noise strength (the toRGB layers have none).
        activation: leaky ReLU after the bias (False for toRGB).
        resolution: H' (sizes the fixed inference noise image).
    """

    def __init__(self, filters, kernel_size=3, demodulate=True, upsample=False,
                 use_noise=True, activation=True, resolution=None, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        self.demodulate = bool(demodulate)
        self.upsample = bool(upsample)
        self.use_noise = bool(use_noise)
        self.activation = bool(activation)
        self.resolution = None if resolution is None else int(resolution)
        if self.use_noise and self.resolution is None:
            raise ValueError("a ModulatedConv2D with noise needs its output resolution")

    def build(self, x_shape, w_shape):
        in_channels = int(x_shape[-1])
        self.affine = EqualizedDense(in_channels, bias_init=1.0, name="affine")
        self.affine.build(w_shape)
        self.kernel = self.add_weight(
            shape=(self.kernel_size, self.kernel_size, in_channels, self.filters),
            name="kernel", initializer=keras.initializers.RandomNormal(0.0, 1.0))
        self.bias = self.add_weight(shape=(self.filters,), name="bias", initializer="zeros")
        if self.use_noise:
            self.noise_strength = self.add_weight(shape=(), name="noise_strength",
                                                  initializer="zeros")
            # The noise of inference calls: one fixed image, saved with the weights.
            self.noise_const = self.add_weight(
                shape=(1, self.resolution, self.resolution, 1), name="noise_const",
                initializer=keras.initializers.RandomNormal(0.0, 1.0), trainable=False)
        self.scale = 1.0 / math.sqrt(in_channels * self.kernel_size ** 2)

    def call(self, x, w, noise_input=None, const_noise=False):
        if const_noise and self.use_noise:
            noise_input = self.noise_const                          # (1, H', W', 1)
        styles = ops.cast(self.affine(w), x.dtype)                  # (B, C_in)
        kernel = ops.cast(self.kernel, x.dtype) * self.scale        # (k, k, C_in, C_out)
        if self.upsample:
            size = tf.shape(x)[1:3] * 2
            x = tf.cast(tf.image.resize(x, size, "bilinear"), styles.dtype)
        x = x * styles[:, None, None, :]
        x = tf.nn.conv2d(x, kernel, 1, "SAME")                      # (B, H', W', C_out)
        if self.demodulate:
            # sum over kh, kw, in of (s_in k)^2 = s^2 @ sum_{kh, kw} k^2
            squared = tf.reduce_sum(tf.square(kernel), axis=[0, 1])   # (C_in, C_out)
            sigma_inv = tf.math.rsqrt(tf.matmul(tf.square(styles), squared) + 1e-8)
            x = x * sigma_inv[:, None, None, :]                     # (B, C_out)
        if self.use_noise and noise_input is not None:
            x = x + ops.cast(noise_input, x.dtype) * ops.cast(self.noise_strength, x.dtype)
        x = x + ops.cast(self.bias, x.dtype)
        return _lrelu(x) if self.activation else x

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": self.kernel_size, "demodulate": self.demodulate,
                "upsample": self.upsample, "use_noise": self.use_noise,
                "activation": self.activation, "resolution": self.resolution}


# -- Generator --------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package=_PACKAGE)
class Generator(keras.Model):
    """StyleGAN2 generator: latents (batch, latent_dim) -> images (batch, H, W, C).

    `generator(latents, training=False, truncation_psi=None, truncation_cutoff=None,
    noise_mode=None)`; `mapping(latents)` -> w (batch, w_dim) and `synthesis(ws)` with
    ws (batch, num_ws, w_dim) -> images are public for style mixing
    (`gan_tf.viz.style_mixing_grid`). Layer i of the synthesis network uses style
    ws[:, i]; there are `num_ws` = 2k + 2 of them (k doublings): the s x s conv, then
    per resolution two convs, and each toRGB shares the style of the next conv.

    Args:
        latent_dim: size of z.
        image_shape: (H, W, C), square, H = s * 2**k with 4 <= s <= 7.
        w_dim: size of w (and of each style).
        mapping_layers: dense layers of the mapping network (8 in StyleGAN).
        mapping_lr_multiplier: learning-rate factor of the mapping network (0.01).
        base_channels: channels at the output resolution; they double per halving.
        max_channels: cap on any layer's channels.
        mixing_prob: probability per sample of style mixing in training calls.
        w_avg_beta: decay of the moving average of w used by truncation.
        output_activation: "tanh" (images in [-1, 1]) or "linear" (StyleGAN2's; the
            GAN contract then holds only approximately).
        seed: seed of the generator's SeedGenerator (noise inputs, mixing); None
            draws one from Keras' global seed (`keras.utils.set_random_seed`).

    Raises:
        ValueError: bad image_shape, sizes or probabilities.
    """

    def __init__(self, latent_dim=100, image_shape=(28, 28, 1), w_dim=128,
                 mapping_layers=4, mapping_lr_multiplier=0.01, base_channels=32,
                 max_channels=256, mixing_prob=0.9, w_avg_beta=0.995,
                 output_activation="tanh", seed=None, **kwargs):
        super().__init__(**kwargs)
        image_shape = _base.check_image_shape(image_shape)
        size, doublings = _sizes(image_shape)
        if not 0 <= mixing_prob <= 1:
            raise ValueError(f"mixing_prob must be in [0, 1], got {mixing_prob!r}")
        if not 0 <= w_avg_beta < 1:
            raise ValueError(f"w_avg_beta must be in [0, 1), got {w_avg_beta!r}")
        if output_activation not in ("tanh", "linear"):
            raise ValueError(f"output_activation must be tanh or linear, got "
                             f"{output_activation!r}")
        if int(mapping_layers) < 1 or int(w_dim) < 1 or int(latent_dim) < 1:
            raise ValueError(f"latent_dim, w_dim and mapping_layers must be >= 1, got "
                             f"{latent_dim!r}, {w_dim!r}, {mapping_layers!r}")
        self.latent_dim = int(latent_dim)
        self.image_shape = image_shape
        self.w_dim = int(w_dim)
        self.mapping_layers = int(mapping_layers)
        self.mapping_lr_multiplier = float(mapping_lr_multiplier)
        self.base_channels = int(base_channels)
        self.max_channels = int(max_channels)
        self.mixing_prob = float(mixing_prob)
        self.w_avg_beta = float(w_avg_beta)
        self.output_activation = output_activation
        self.seed = seed
        self.start_size, self.doublings = size, doublings
        self.num_ws = 2 * doublings + 2
        self.seed_generator = keras.random.SeedGenerator(seed)

        def channels(j):
            return _channels(base_channels, max_channels, doublings, j)

        self.mapping_net = [
            EqualizedDense(self.w_dim, lr_multiplier=self.mapping_lr_multiplier,
                           activation=True, name=f"mapping_{i}")
            for i in range(self.mapping_layers)]
        self.convs = [ModulatedConv2D(channels(0), resolution=size, name="conv_0")]
        self.to_rgbs = [ModulatedConv2D(image_shape[-1], kernel_size=1, demodulate=False,
                                        use_noise=False, activation=False, name="to_rgb_0")]
        for j in range(1, doublings + 1):
            resolution = size * 2 ** j
            self.convs += [
                ModulatedConv2D(channels(j), upsample=True, resolution=resolution,
                                name=f"conv_{2 * j - 1}"),
                ModulatedConv2D(channels(j), resolution=resolution, name=f"conv_{2 * j}")]
            self.to_rgbs.append(ModulatedConv2D(
                image_shape[-1], kernel_size=1, demodulate=False, use_noise=False,
                activation=False, name=f"to_rgb_{j}"))
        self.build((None, self.latent_dim))

    def build(self, input_shape=None):
        if self.built:
            return
        self.const = self.add_weight(
            shape=(1, self.start_size, self.start_size, _channels(
                self.base_channels, self.max_channels, self.doublings, 0)),
            name="const", initializer=keras.initializers.RandomNormal(0.0, 1.0))
        self.w_avg = self.add_weight(shape=(self.w_dim,), name="w_avg", initializer="zeros",
                                     trainable=False, aggregation="mean")
        self.built = True
        self.call(ops.zeros((1, self.latent_dim)))  # creates the sub-layers' weights

    @property
    def input_shape(self):
        return (None, self.latent_dim)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self.image_shape)

    # -- The two networks ---------------------------------------------------------------

    def mapping(self, latents, truncation_psi=None, truncation_cutoff=None):
        """z -> w, and optionally the truncation trick.

        Args:
            latents: float32 (B, latent_dim).
            truncation_psi: None or a float; w' = w_avg + psi (w - w_avg).
            truncation_cutoff: apply psi only to the first N styles (None: all);
                with it the result is (B, num_ws, w_dim).

        Returns:
            float32 (B, w_dim), or (B, num_ws, w_dim) when truncation_cutoff is set.
        """
        w = pixel_norm(ops.cast(latents, self.compute_dtype))
        for layer in self.mapping_net:
            w = layer(w)
        w = ops.cast(w, "float32")
        if truncation_psi is None:
            return w
        w_avg = ops.convert_to_tensor(self.w_avg)
        truncated = w_avg + float(truncation_psi) * (w - w_avg)
        if truncation_cutoff is None:
            return truncated
        layer_ids = tf.range(self.num_ws)[None, :, None]              # (1, num_ws, 1)
        return tf.where(layer_ids < int(truncation_cutoff),
                        truncated[:, None, :], w[:, None, :])

    def synthesis(self, ws, training=False, noise_mode=None):
        """Styles -> images.

        Args:
            ws: float32 (B, num_ws, w_dim), one style per layer (or (B, w_dim): the
                same style everywhere).
            training: Keras' flag; picks the default noise mode.
            noise_mode: "random" (fresh N(0, 1) from the generator's SeedGenerator,
                the default in training), "const" (the saved noise images, the
                default otherwise) or "none".

        Returns:
            float32 (B, H, W, C).

        Raises:
            ValueError: unknown noise_mode.
        """
        noise_mode = noise_mode or ("random" if training else "const")
        if noise_mode not in NOISE_MODES:
            raise ValueError(f"noise_mode must be one of {NOISE_MODES}, got {noise_mode!r}")
        ws = ops.convert_to_tensor(ws)
        if len(ws.shape) == 2:
            ws = tf.tile(ws[:, None, :], [1, self.num_ws, 1])  # (B, w) -> (B, num_ws, w)
        ws = ops.cast(ws, self.compute_dtype)
        batch = tf.shape(ws)[0]
        x = tf.tile(ops.cast(self.const, self.compute_dtype), [batch, 1, 1, 1])
        image = None
        for j in range(self.doublings + 1):
            for index in ([0] if j == 0 else [2 * j - 1, 2 * j]):
                conv = self.convs[index]
                x = conv(x, ws[:, index], self._noise(conv, batch, noise_mode),
                         const_noise=noise_mode == "const")
            rgb = self.to_rgbs[j](x, ws[:, 2 * j + 1])                 # (B, r, r, C)
            if image is None:
                image = rgb
            else:  # skip architecture: upsampled previous image plus this toRGB
                image = tf.cast(tf.image.resize(image, tf.shape(rgb)[1:3], "bilinear"),
                                rgb.dtype) + rgb
        image = ops.cast(image, "float32")
        return tf.tanh(image) if self.output_activation == "tanh" else image

    def _noise(self, conv, batch, noise_mode):
        if noise_mode != "random":
            return None
        shape = (batch, conv.resolution, conv.resolution, 1)
        return noise.sample(shape, self.seed_generator.next())

    # -- Keras --------------------------------------------------------------------------

    def call(self, latents, training=False, truncation_psi=None, truncation_cutoff=None,
             noise_mode=None):
        """latents (B, latent_dim) -> images (B, H, W, C), float32 in [-1, 1] for tanh.

        In training calls w_avg moves towards the batch's mean w and, with
        probability `mixing_prob` per sample, the styles from a random layer on
        come from the next sample's w (style mixing regularisation).

        Args:
            truncation_psi: None or 1.0 (no truncation), or psi: w_avg + psi (w - w_avg);
                0 gives w_avg for every latent.
            truncation_cutoff: truncate only the first N styles.
            noise_mode: see `synthesis`.
        """
        if truncation_psi is not None and float(truncation_psi) == 1.0:
            truncation_psi = None
        w = self.mapping(latents, truncation_psi, truncation_cutoff)
        if training:
            batch_mean = tf.reduce_mean(w if len(w.shape) == 2 else w[:, 0], axis=0)
            self.w_avg.assign(batch_mean + self.w_avg_beta * (self.w_avg - batch_mean))
        ws = w if len(w.shape) == 3 else tf.tile(w[:, None, :], [1, self.num_ws, 1])
        if training and self.mixing_prob > 0:
            ws = self._mix(ws)
        return self.synthesis(ws, training=training, noise_mode=noise_mode)

    def _mix(self, ws):
        # ws (B, num_ws, w_dim); sample b keeps its styles before `cutoff[b]` and takes
        # sample b+1's after it; cutoff = num_ws (no mixing) with prob 1 - mixing_prob.
        batch = tf.shape(ws)[0]
        draws = noise.sample((batch, 2), self.seed_generator.next(), "uniform01")
        cutoff = 1 + tf.cast(draws[:, 0] * (self.num_ws - 1), tf.int32)  # in [1, num_ws)
        cutoff = tf.where(draws[:, 1] < self.mixing_prob, cutoff, self.num_ws)
        other = tf.roll(ws, shift=-1, axis=0)
        layer_ids = tf.range(self.num_ws)[None, :, None]               # (1, num_ws, 1)
        return tf.where(layer_ids < cutoff[:, None, None], ws, other)

    def get_config(self):
        return {**super().get_config(), "latent_dim": self.latent_dim,
                "image_shape": self.image_shape, "w_dim": self.w_dim,
                "mapping_layers": self.mapping_layers,
                "mapping_lr_multiplier": self.mapping_lr_multiplier,
                "base_channels": self.base_channels, "max_channels": self.max_channels,
                "mixing_prob": self.mixing_prob, "w_avg_beta": self.w_avg_beta,
                "output_activation": self.output_activation, "seed": self.seed}


# -- Discriminator ----------------------------------------------------------------------


def minibatch_stddev(x, group_size=4, epsilon=1e-8):
    """Appends the mean standard deviation over groups of samples as one channel.

    ProGAN (Karras et al. 2018, section 3): the batch is split into groups of G
    samples; for each group, the standard deviation of every feature over its G
    members, averaged over features and pixels, becomes a constant extra channel of
    those members. G is the largest divisor of the batch that is <= group_size, so any
    batch size works.

    Args:
        x: (B, H, W, C).

    Returns:
        (B, H, W, C + 1).
    """
    shape = tf.shape(x)
    batch = shape[0]
    candidates = tf.range(min(int(group_size), 64), 0, -1)
    divides = tf.equal(tf.math.floormod(batch, candidates), 0)
    group = tf.gather(candidates, tf.argmax(tf.cast(divides, tf.int32)))
    grouped = tf.reshape(x, tf.stack([group, -1, shape[1], shape[2], shape[3]]))
    std = tf.sqrt(tf.math.reduce_variance(tf.cast(grouped, tf.float32), axis=0) + epsilon)
    std = tf.reduce_mean(std, axis=[1, 2, 3])                           # (B / G,)
    std = tf.tile(std, [group])                                          # (B,) member b -> group b % (B/G)
    feature = tf.ones_like(x[..., :1]) * tf.cast(std[:, None, None, None], x.dtype)
    return tf.concat([x, feature], axis=-1)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class Discriminator(keras.Model):
    """StyleGAN2's residual discriminator: images (B, H, W, C) -> logits (B, 1).

    fromRGB 1x1 -> k residual blocks [conv3x3 -> avgpool 2 -> conv3x3, skip: avgpool 2
    -> 1x1 conv; sum / sqrt(2)] -> minibatch stddev -> conv3x3 -> flatten -> dense ->
    dense(1). Channels as in the generator: base at full size, doubling per block.

    Args:
        image_shape: (H, W, C), square, H = s * 2**k with 4 <= s <= 7.
        base_channels: channels at full resolution.
        max_channels: cap on any layer's channels.
        mbstd_group_size: group size of the minibatch stddev (0 disables it).

    Raises:
        ValueError: bad image_shape.
    """

    def __init__(self, image_shape=(28, 28, 1), base_channels=32, max_channels=256,
                 mbstd_group_size=4, **kwargs):
        super().__init__(**kwargs)
        image_shape = _base.check_image_shape(image_shape)
        size, doublings = _sizes(image_shape)
        self.image_shape = image_shape
        self.base_channels = int(base_channels)
        self.max_channels = int(max_channels)
        self.mbstd_group_size = int(mbstd_group_size)

        def channels(j):
            return _channels(base_channels, max_channels, doublings, j)

        self.from_rgb = EqualizedConv2D(channels(doublings), 1, activation=True,
                                        name="from_rgb")
        # Residual block i (i = 0 at full size) halves H and W.
        levels = range(doublings, 0, -1)
        self.block_conv0 = [EqualizedConv2D(channels(j), activation=True,
                                            name=f"block{j}_conv0") for j in levels]
        self.block_conv1 = [EqualizedConv2D(channels(j - 1), activation=True,
                                            downsample=True, name=f"block{j}_conv1")
                            for j in levels]
        self.block_skip = [EqualizedConv2D(channels(j - 1), 1, use_bias=False,
                                           downsample=True, name=f"block{j}_skip")
                           for j in levels]
        self.final_conv = EqualizedConv2D(channels(0), activation=True, name="final_conv")
        self.final_dense = EqualizedDense(channels(0), activation=True, name="final_dense")
        self.out = EqualizedDense(1, name="logit")
        self.build((None, *image_shape))

    def build(self, input_shape=None):
        if self.built:
            return
        self.built = True
        self.call(ops.zeros((1, *self.image_shape)))

    @property
    def input_shape(self):
        return (None, *self.image_shape)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1)

    def call(self, images, training=False):
        x = self.from_rgb(ops.cast(images, self.compute_dtype))
        for conv0, conv1, skip in zip(self.block_conv0, self.block_conv1, self.block_skip):
            x = (conv1(conv0(x)) + skip(x)) * (1.0 / math.sqrt(2.0))
        if self.mbstd_group_size:
            x = minibatch_stddev(x, self.mbstd_group_size)
        x = self.final_conv(x)
        x = tf.reshape(x, [tf.shape(x)[0], int(np.prod(x.shape[1:]))])  # (B, s*s*c)
        return ops.cast(self.out(self.final_dense(x)), "float32")

    def get_config(self):
        return {**super().get_config(), "image_shape": self.image_shape,
                "base_channels": self.base_channels, "max_channels": self.max_channels,
                "mbstd_group_size": self.mbstd_group_size}
