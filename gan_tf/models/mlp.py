"""Fully connected generator and discriminator (tutorials 002 and 004).

Tutorial 002 (PyTorch):  G 100-256-512-1024-784, each hidden Linear followed by
LeakyReLU then BatchNorm1d, tanh output; D 784-512-256-1 with LeakyReLU and
Dropout(0.3), sigmoid output. Both initialised from N(0, 0.02).
Tutorial 004 (TF1):      G 100-128 (ReLU)-784, sigmoid output; D 784-128 with
Dropout(0.3) and leaky ReLU, then 1 logit.

The defaults are tutorial 002's; `configs.py` has both presets. Differences from the
tutorials' code, each explained in docs/fidelity.md:
- D returns a logit; its sigmoid moves into the loss (binary cross-entropy from
  logits), which computes the same value without overflow.
- G ends in tanh for images in [-1, 1] (tutorial 004's sigmoid gave [0, 1]; tanh(x) =
  2 sigmoid(2x) - 1, so it is the same family rescaled).
"""

import math

import keras

from gan_tf.models import _base

_ACTIVATIONS = ("leaky_relu", "relu")


def _activation(name, negative_slope):
    if name == "leaky_relu":
        return keras.layers.LeakyReLU(negative_slope)
    if name == "relu":
        return keras.layers.ReLU()
    raise ValueError(f"activation must be one of {_ACTIVATIONS}, got {name!r}")


def _check_units(units):
    units = tuple(int(u) for u in units)
    if not units or min(units) < 1:
        raise ValueError(f"hidden_units must be a non-empty list of positive ints, got {units!r}")
    return units


@keras.saving.register_keras_serializable(package="gan_tf.models.mlp")
class Generator(_base.StackModel):
    """MLP generator: latents (batch, latent_dim) -> images (batch, H, W, C) in [-1, 1].

    Each hidden block is Dense -> activation [-> BatchNorm], in tutorial 002's order;
    the output is Dense(H*W*C) -> tanh -> reshape (H, W, C).

    Args:
        latent_dim: size of z.
        image_shape: (H, W, C) of the images made.
        hidden_units: widths of the hidden layers; (256, 512, 1024) for tutorial 002,
            (128,) for tutorial 004.
        activation: "leaky_relu" (002) or "relu" (004).
        negative_slope: slope of LeakyReLU for x < 0.
        batch_norm: BatchNorm after each hidden activation (002: yes, 004: no).
        init_stddev: N(0, init_stddev) kernels, or None for Glorot (004's default).
    """

    def __init__(self, latent_dim=100, image_shape=(28, 28, 1),
                 hidden_units=(256, 512, 1024), activation="leaky_relu",
                 negative_slope=0.2, batch_norm=True, init_stddev=0.02, **kwargs):
        image_shape = _base.check_image_shape(image_shape)
        units = _check_units(hidden_units)
        init = _base.kernel_initializer(init_stddev)
        layers = []
        for width in units:
            layers += [keras.layers.Dense(width, kernel_initializer=init),
                       _activation(activation, negative_slope)]
            if batch_norm:
                layers.append(keras.layers.BatchNormalization(
                    gamma_initializer=_base.gamma_initializer(init_stddev)))
        layers += [
            keras.layers.Dense(math.prod(image_shape), kernel_initializer=init),
            # Outputs in float32 under mixed precision: images feed losses and PNGs.
            keras.layers.Activation("tanh", dtype="float32"),
            keras.layers.Reshape(image_shape, dtype="float32"),  # (B, H*W*C) -> (B, H, W, C)
        ]
        super().__init__((int(latent_dim),), layers, **kwargs)
        self.latent_dim = int(latent_dim)
        self.image_shape = image_shape
        self.hidden_units = units
        self.activation = activation
        self.negative_slope = float(negative_slope)
        self.batch_norm = bool(batch_norm)
        self.init_stddev = init_stddev

    def get_config(self):
        return {**super().get_config(), "latent_dim": self.latent_dim,
                "image_shape": self.image_shape, "hidden_units": self.hidden_units,
                "activation": self.activation, "negative_slope": self.negative_slope,
                "batch_norm": self.batch_norm, "init_stddev": self.init_stddev}


@keras.saving.register_keras_serializable(package="gan_tf.models.mlp")
class Discriminator(_base.StackModel):
    """MLP discriminator: images (batch, H, W, C) in [-1, 1] -> logits (batch, 1).

    Flatten, then per hidden layer Dense -> activation -> Dropout, then Dense(1).
    (Tutorial 004 applies dropout before the leaky ReLU; for a 0/1 dropout mask m
    and keep rate p, leaky_relu(m x / p) = m leaky_relu(x) / p, so the order does not
    change the function.)

    Args:
        image_shape: (H, W, C) of the input images.
        hidden_units: widths of the hidden layers; (512, 256) for tutorial 002,
            (128,) for tutorial 004.
        activation: "leaky_relu" or "relu".
        negative_slope: slope of LeakyReLU for x < 0.
        dropout: dropout rate after each hidden layer, in [0, 1).
        init_stddev: N(0, init_stddev) kernels, or None for Glorot.
        spectral_norm: wrap every Dense layer in `keras.layers.SpectralNormalization`
            (Miyato et al. 2018).
    """

    def __init__(self, image_shape=(28, 28, 1), hidden_units=(512, 256),
                 activation="leaky_relu", negative_slope=0.2, dropout=0.3,
                 init_stddev=0.02, spectral_norm=False, **kwargs):
        image_shape = _base.check_image_shape(image_shape)
        units = _check_units(hidden_units)
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        init = _base.kernel_initializer(init_stddev)
        layers = [keras.layers.Flatten()]  # (B, H, W, C) -> (B, H*W*C)
        for width in units:
            layers += [_base.maybe_spectral_norm(
                           keras.layers.Dense(width, kernel_initializer=init), spectral_norm),
                       _activation(activation, negative_slope)]
            if dropout:
                layers.append(keras.layers.Dropout(dropout))
        layers.append(_base.maybe_spectral_norm(
            keras.layers.Dense(1, kernel_initializer=init, dtype="float32"), spectral_norm))
        super().__init__(image_shape, layers, **kwargs)
        self.spectral_norm = bool(spectral_norm)
        self.image_shape = image_shape
        self.hidden_units = units
        self.activation = activation
        self.negative_slope = float(negative_slope)
        self.dropout = float(dropout)
        self.init_stddev = init_stddev

    def get_config(self):
        return {**super().get_config(), "image_shape": self.image_shape,
                "hidden_units": self.hidden_units, "activation": self.activation,
                "negative_slope": self.negative_slope, "dropout": self.dropout,
                "init_stddev": self.init_stddev, "spectral_norm": self.spectral_norm}
