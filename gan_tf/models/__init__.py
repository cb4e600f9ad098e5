"""Model families: each module defines a `Generator` and a `Discriminator`.

    mlp          fully connected pair (tutorials 002 and 004)
    dcgan        convolutional pair sized by image_shape (tutorials 001 and 000)
    conditional  class-conditional DCGAN pair, projection discriminator (001's cGAN)
    infogan      DCGAN generator + discriminator with a Q head (003's InfoGAN; use
                 with losses.InfoGAN)

`get(family)` returns a module by name; `families()` lists them.
"""

from gan_tf.models import conditional
from gan_tf.models import dcgan
from gan_tf.models import infogan
from gan_tf.models import mlp

_FAMILIES = {"mlp": mlp, "dcgan": dcgan, "conditional": conditional, "infogan": infogan}
_CONDITIONAL = {"conditional"}


def families():
    """Names accepted by `get` and by the CLI's --model flag."""
    return sorted(_FAMILIES)


def get(family):
    """Returns the module of a model family by name.

    Raises:
        ValueError: unknown family, naming the known ones.
    """
    if family not in _FAMILIES:
        raise ValueError(f"unknown model {family!r}; choose one of {', '.join(families())}")
    return _FAMILIES[family]


def is_conditional(family):
    """Whether the family's models take `(inputs, labels)`."""
    get(family)
    return family in _CONDITIONAL
