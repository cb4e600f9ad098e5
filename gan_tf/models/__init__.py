"""Model families: each module defines a `Generator` and a `Discriminator`.

    mlp          fully connected pair (tutorials 002, 004 and 000's G)
    dcgan        convolutional pair sized by image_shape (tutorials 001, 003, 000's D)
    conditional  class-conditional DCGAN pair, projection discriminator (001's cGAN)
    infogan      DCGAN generator + discriminator with a Q head (003's InfoGAN; use
                 with losses.InfoGAN)
    stylegan     small StyleGAN2: mapping network, modulated convolutions, noise
                 inputs, style mixing, truncation; residual discriminator (001's
                 pointer)

Image-to-image families (their generators take images, not latents; `gan_tf.GAN`
cannot train them):

    cyclegan     ResNet generator + PatchGAN discriminator (003's CycleGAN; trained
                 by gan_tf.cyclegan.CycleGAN on two unpaired datasets)

`get(family)` returns a module of either kind by name; `families()` lists the GAN
(latent -> image) families only, so code that builds `Generator(latent_dim, ...)` for
each of them never meets a translation family; `translation_families()` lists those.
"""

from gan_tf.models import conditional
from gan_tf.models import cyclegan
from gan_tf.models import dcgan
from gan_tf.models import infogan
from gan_tf.models import mlp
from gan_tf.models import stylegan

_FAMILIES = {"mlp": mlp, "dcgan": dcgan, "conditional": conditional, "infogan": infogan,
             "stylegan": stylegan}
_CONDITIONAL = {"conditional"}
_TRANSLATION = {"cyclegan": cyclegan}


def families():
    """The GAN families (latents -> images) that `gan_tf.GAN` trains."""
    return sorted(_FAMILIES)


def translation_families():
    """The image-to-image families (images -> images), e.g. "cyclegan"."""
    return sorted(_TRANSLATION)


def is_translation(family):
    """Whether `family` maps images to images (trained by its own model class).

    Raises:
        ValueError: unknown family.
    """
    get(family)
    return family in _TRANSLATION


def get(family):
    """Returns the module of a model family by name.

    Raises:
        ValueError: unknown family, naming the known ones.
    """
    if family in _TRANSLATION:
        return _TRANSLATION[family]
    if family not in _FAMILIES:
        raise ValueError(f"unknown model {family!r}; choose one of "
                         f"{', '.join(families() + translation_families())}")
    return _FAMILIES[family]


def is_conditional(family):
    """Whether the family's models take `(inputs, labels)`."""
    get(family)
    return family in _CONDITIONAL
