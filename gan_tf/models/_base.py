"""What every model family shares: a Keras model around one Sequential stack."""

import keras


def kernel_initializer(stddev):
    """N(0, stddev) as in DCGAN's weights_init, or Keras' Glorot default for None."""
    if stddev is None:
        return "glorot_uniform"
    return keras.initializers.RandomNormal(mean=0.0, stddev=stddev)


def gamma_initializer(stddev):
    """BatchNorm scale N(1, stddev): DCGAN's init of the BN weight (see docs/fidelity.md)."""
    if stddev is None:
        return "ones"
    return keras.initializers.RandomNormal(mean=1.0, stddev=stddev)


def maybe_spectral_norm(layer, enabled):
    """`layer` wrapped in SpectralNormalization (one power iteration) when enabled."""
    return keras.layers.SpectralNormalization(layer) if enabled else layer


def check_image_shape(image_shape):
    """Returns image_shape as a tuple (H, W, C) of positive ints.

    Raises:
        ValueError: not three positive integers.
    """
    try:
        shape = tuple(int(d) for d in image_shape)
    except (TypeError, ValueError):
        shape = ()
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"image_shape must be (height, width, channels), got {image_shape!r}")
    return shape


class StackModel(keras.Model):
    """A Keras model whose computation is one Sequential stack built at construction.

    Subclasses pass their input shape and layers to `__init__` and record their own
    constructor arguments in `get_config`. The stack is built immediately, so the
    model has its weights (and a summary) as soon as it is created.
    """

    def __init__(self, input_shape, layers, **kwargs):
        super().__init__(**kwargs)
        self.stack = keras.Sequential([keras.Input(shape=input_shape), *layers],
                                      name=f"{self.name}_stack")
        self.build((None, *input_shape))

    def build(self, input_shape=None):
        self.built = True

    def call(self, inputs, training=False):
        return self.stack(inputs, training=training)

    @property
    def input_shape(self):
        """(None, *input dims), like a functional model's."""
        return self.stack.input_shape

    @property
    def output_shape(self):
        return self.stack.output_shape

    def compute_output_shape(self, input_shape):
        return self.stack.compute_output_shape(input_shape)
