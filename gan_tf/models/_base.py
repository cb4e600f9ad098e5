"""What every model family shares: a Keras model around one Sequential stack."""

import math

import keras


# The initialisation schemes a model's `init_stddev` argument names besides a float.
PYTORCH_INIT = "pytorch"
ACTIVATIONS = ("relu", "leaky_relu", "tanh")


def check_init(init):
    """Returns `init` if it names an initialisation: a float > 0, None or "pytorch".

    Raises:
        ValueError: anything else, echoing it.
    """
    if init is None or init == PYTORCH_INIT:
        return init
    if isinstance(init, (int, float)) and not isinstance(init, bool) and init > 0:
        return float(init)
    raise ValueError(f"init_stddev must be a float > 0, None (Glorot uniform, the Keras/TF "
                     f"default) or {PYTORCH_INIT!r} (PyTorch's default), got {init!r}")


def kernel_initializer(init):
    """The kernel initialiser that `init` names.

    - float s: N(0, s), as in DCGAN's weights_init;
    - None: Glorot uniform, U(+-sqrt(6 / (fan_in + fan_out))), the default of Keras and
      of TF1's tf.layers;
    - "pytorch": PyTorch's default for nn.Linear / nn.Conv2d (kaiming_uniform_ with
      a = sqrt(5)), U(+-1/sqrt(fan_in)) = VarianceScaling(1/3, "fan_in", "uniform"),
      whose limit is sqrt(3 * (1/3) / fan_in).
    """
    if init is None:
        return "glorot_uniform"
    if init == PYTORCH_INIT:
        return keras.initializers.VarianceScaling(1.0 / 3.0, "fan_in", "uniform")
    return keras.initializers.RandomNormal(mean=0.0, stddev=init)


def bias_initializer(init, fan_in):
    """Zeros (Keras, TF1, DCGAN), or PyTorch's U(+-1/sqrt(fan_in)) for "pytorch".

    Args:
        init: as for `kernel_initializer`.
        fan_in: inputs per unit of the layer (a Dense layer's input width).
    """
    if init == PYTORCH_INIT:
        bound = 1.0 / math.sqrt(fan_in)
        return keras.initializers.RandomUniform(-bound, bound)
    return "zeros"


def gamma_initializer(init):
    """BatchNorm scale N(1, s) for a float s (the PyTorch DCGAN example's init of the BN
    weight; docs/fidelity.md, the `default` preset under tutorial 002), else ones (the
    Keras and PyTorch default)."""
    if init is None or init == PYTORCH_INIT:
        return "ones"
    return keras.initializers.RandomNormal(mean=1.0, stddev=init)


def batch_norm(init, momentum, epsilon):
    """A BatchNormalization layer: moving = momentum * moving + (1 - momentum) * batch.

    PyTorch's BatchNorm momentum m is Keras' 1 - m (its default 0.1 / eps 1e-5 is
    Keras momentum 0.9, epsilon 1e-5); Keras' own default is 0.99 / 1e-3.
    """
    return keras.layers.BatchNormalization(momentum=momentum, epsilon=epsilon,
                                           gamma_initializer=gamma_initializer(init))


def activation(name, negative_slope=0.2):
    """The layer for an activation name: "relu", "leaky_relu" (with its slope) or "tanh".

    Raises:
        ValueError: another name.
    """
    if name == "leaky_relu":
        return keras.layers.LeakyReLU(negative_slope)
    if name == "relu":
        return keras.layers.ReLU()
    if name == "tanh":
        return keras.layers.Activation("tanh")
    raise ValueError(f"activation must be one of {ACTIVATIONS}, got {name!r}")


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
