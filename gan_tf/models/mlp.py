"""Fully connected generator and discriminator (tutorials 002, 004 and 000's G).

Tutorial 002 (PyTorch):  G 100-256-512-1024-784, each hidden Linear followed by
LeakyReLU (slope 0.01) then BatchNorm1d, tanh output; D 784-512-256-1 with LeakyReLU
and Dropout(0.3), sigmoid output; PyTorch's default init (its `weights_init` touches
no Linear layer).
Tutorial 004 (TF1):      G 100-128 (ReLU)-784, sigmoid output on [0, 1] pixels; D
784-128, Dropout(0.3) then leaky ReLU (0.2), then 1 logit; Glorot init.

The constructor defaults are the library's MLP recipe (LeakyReLU 0.2, N(0, 0.02)
init, Keras BatchNorm); `configs/tutorials.py` passes each tutorial's own values.
Conventions kept by every option (docs/fidelity.md):
- D returns a logit; its sigmoid moves into the loss (binary cross-entropy from
  logits), which computes the same value without overflow.
- Images are in [-1, 1]. A sigmoid generator (tutorial 004) emits 2 sigmoid(a) - 1,
  the exact image of its [0, 1] output under x -> 2x - 1; a discriminator trained on
  [0, 1] pixels maps its input back with (x + 1) / 2 (`unit_range_inputs`), so both
  networks compute the tutorial's functions of the tutorial's pixels.
"""

import math

import keras

from gan_tf.models import _base

OUTPUT_ACTIVATIONS = ("tanh", "sigmoid")


def _check_units(units):
    units = tuple(int(u) for u in units)
    if not units or min(units) < 1:
        raise ValueError(f"hidden_units must be a non-empty list of positive ints, got {units!r}")
    return units


def _dense(width, init, fan_in, **kwargs):
    return keras.layers.Dense(width, kernel_initializer=_base.kernel_initializer(init),
                              bias_initializer=_base.bias_initializer(init, fan_in), **kwargs)


def _output_layers(output_activation):
    """Float32 output layers (images feed losses and PNGs, also under mixed precision)."""
    if output_activation == "tanh":
        return [keras.layers.Activation("tanh", dtype="float32")]
    if output_activation == "sigmoid":  # [0, 1] -> [-1, 1]: 2 sigmoid(a) - 1
        return [keras.layers.Activation("sigmoid", dtype="float32"),
                keras.layers.Rescaling(2.0, offset=-1.0, dtype="float32")]
    raise ValueError(f"output_activation must be one of {OUTPUT_ACTIVATIONS}, "
                     f"got {output_activation!r}")


@keras.saving.register_keras_serializable(package="gan_tf.models.mlp")
class Generator(_base.StackModel):
    """MLP generator: latents (batch, latent_dim) -> images (batch, H, W, C) in [-1, 1].

    Each hidden block is Dense -> activation [-> BatchNorm], in tutorial 002's order;
    the output is Dense(H*W*C) -> tanh (or 2 sigmoid - 1) -> reshape (H, W, C).

    Args:
        latent_dim: size of z.
        image_shape: (H, W, C) of the images made.
        hidden_units: widths of the hidden layers; (256, 512, 1024) for tutorial 002,
            (128,) for tutorial 004.
        activation: "leaky_relu" (002), "relu" (004) or "tanh".
        negative_slope: slope of LeakyReLU for x < 0 (PyTorch's default is 0.01).
        batch_norm: BatchNorm after each hidden activation (002: yes, 004: no).
        init_stddev: N(0, init_stddev) kernels (BN scale N(1, init_stddev)), None for
            Glorot uniform (Keras / TF1 default), or "pytorch" for PyTorch's default
            U(+-1/sqrt(fan_in)) weights and biases (`_base.kernel_initializer`).
        bn_momentum: Keras momentum of the moving statistics (PyTorch's 0.1 is 0.9).
        bn_epsilon: BatchNorm epsilon (PyTorch's default 1e-5).
        output_activation: "tanh", or "sigmoid" for 2 sigmoid(a) - 1 (tutorial 004's
            sigmoid images, mapped from [0, 1] to the library's [-1, 1]).
    """

    def __init__(self, latent_dim=100, image_shape=(28, 28, 1),
                 hidden_units=(256, 512, 1024), activation="leaky_relu",
                 negative_slope=0.2, batch_norm=True, init_stddev=0.02,
                 bn_momentum=0.99, bn_epsilon=1e-3, output_activation="tanh", **kwargs):
        image_shape = _base.check_image_shape(image_shape)
        units = _check_units(hidden_units)
        init = _base.check_init(init_stddev)
        layers, fan_in = [], int(latent_dim)
        for width in units:
            layers += [_dense(width, init, fan_in),
                       _base.activation(activation, negative_slope)]
            if batch_norm:
                layers.append(_base.batch_norm(init, bn_momentum, bn_epsilon))
            fan_in = width
        layers += [_dense(math.prod(image_shape), init, fan_in),
                   *_output_layers(output_activation),
                   keras.layers.Reshape(image_shape, dtype="float32")]  # (B, H*W*C) -> (B, H, W, C)
        super().__init__((int(latent_dim),), layers, **kwargs)
        self.latent_dim = int(latent_dim)
        self.image_shape = image_shape
        self.hidden_units = units
        self.activation = activation
        self.negative_slope = float(negative_slope)
        self.batch_norm = bool(batch_norm)
        self.init_stddev = init
        self.bn_momentum = float(bn_momentum)
        self.bn_epsilon = float(bn_epsilon)
        self.output_activation = output_activation

    def get_config(self):
        return {**super().get_config(), "latent_dim": self.latent_dim,
                "image_shape": self.image_shape, "hidden_units": self.hidden_units,
                "activation": self.activation, "negative_slope": self.negative_slope,
                "batch_norm": self.batch_norm, "init_stddev": self.init_stddev,
                "bn_momentum": self.bn_momentum, "bn_epsilon": self.bn_epsilon,
                "output_activation": self.output_activation}


@keras.saving.register_keras_serializable(package="gan_tf.models.mlp")
class Discriminator(_base.StackModel):
    """MLP discriminator: images (batch, H, W, C) in [-1, 1] -> logits (batch, 1).

    [Rescale to [0, 1]] -> Flatten, then per hidden layer Dense -> activation ->
    Dropout (or Dense -> Dropout -> activation, tutorial 004's order), then Dense(1).

    Args:
        image_shape: (H, W, C) of the input images.
        hidden_units: widths of the hidden layers; (512, 256) for tutorial 002,
            (128,) for tutorial 004.
        activation: "leaky_relu", "relu" or "tanh".
        negative_slope: slope of LeakyReLU for x < 0.
        dropout: dropout rate after each hidden layer, in [0, 1).
        init_stddev: N(0, init_stddev) kernels, None for Glorot, or "pytorch".
        spectral_norm: wrap every Dense layer in `keras.layers.SpectralNormalization`
            (Miyato et al. 2018).
        dropout_first: Dropout before the activation (tutorial 004). For a 0/1 mask m
            and keep rate p, leaky_relu(m x / p) = m leaky_relu(x) / p, so this gives
            the same function as the default order; the option rebuilds the code.
        unit_range_inputs: map the images from [-1, 1] to [0, 1] first, x -> (x + 1) / 2,
            for a discriminator written for [0, 1] pixels (tutorial 004).
    """

    def __init__(self, image_shape=(28, 28, 1), hidden_units=(512, 256),
                 activation="leaky_relu", negative_slope=0.2, dropout=0.3,
                 init_stddev=0.02, spectral_norm=False, dropout_first=False,
                 unit_range_inputs=False, **kwargs):
        image_shape = _base.check_image_shape(image_shape)
        units = _check_units(hidden_units)
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        init = _base.check_init(init_stddev)
        layers = [keras.layers.Rescaling(0.5, offset=0.5)] if unit_range_inputs else []
        layers.append(keras.layers.Flatten())  # (B, H, W, C) -> (B, H*W*C)
        fan_in = math.prod(image_shape)
        for width in units:
            block = [_base.activation(activation, negative_slope)]
            if dropout:
                block.insert(0 if dropout_first else 1, keras.layers.Dropout(dropout))
            layers += [_base.maybe_spectral_norm(_dense(width, init, fan_in), spectral_norm),
                       *block]
            fan_in = width
        layers.append(_base.maybe_spectral_norm(
            _dense(1, init, fan_in, dtype="float32"), spectral_norm))
        super().__init__(image_shape, layers, **kwargs)
        self.spectral_norm = bool(spectral_norm)
        self.image_shape = image_shape
        self.hidden_units = units
        self.activation = activation
        self.negative_slope = float(negative_slope)
        self.dropout = float(dropout)
        self.init_stddev = init
        self.dropout_first = bool(dropout_first)
        self.unit_range_inputs = bool(unit_range_inputs)

    def get_config(self):
        return {**super().get_config(), "image_shape": self.image_shape,
                "hidden_units": self.hidden_units, "activation": self.activation,
                "negative_slope": self.negative_slope, "dropout": self.dropout,
                "init_stddev": self.init_stddev, "spectral_norm": self.spectral_norm,
                "dropout_first": self.dropout_first,
                "unit_range_inputs": self.unit_range_inputs}
