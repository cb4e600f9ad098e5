"""Images from a trained GAN: what `GAN.generate` runs, and the labels and the
truncation trick it uses. The latents' layout (noise, then InfoGAN's codes) is
`gan_tf.noise.latents`; the trained model lives in gan_tf.gan.
"""

import inspect

import numpy as np
import tensorflow as tf


def balanced_labels(num, num_classes):
    """Labels 0, 1, ..., num_classes - 1, 0, 1, ...: int32 numpy (num,)."""
    return np.arange(num, dtype=np.int32) % num_classes


def supports_truncation(generator):
    """Whether `generator`'s call takes `truncation_psi` (the truncation trick)."""
    return "truncation_psi" in inspect.signature(generator.call).parameters


def _truncation_kwargs(gan, truncation_psi):
    if truncation_psi is None or float(truncation_psi) == 1.0:
        return {}
    if not supports_truncation(gan.sampling_generator):
        raise ValueError(
            f"truncation_psi={truncation_psi!r} needs a generator whose call takes "
            f"truncation_psi (e.g. models.stylegan.Generator); "
            f"{type(gan.generator).__name__} does not")
    return {"truncation_psi": float(truncation_psi)}


def generate(gan, num_images=None, seed=None, latents=None, labels=None, batch_size=256,
             truncation_psi=None):
    """Images of `gan`'s sampling generator in inference mode; the arguments, return
    value and errors are `GAN.generate`'s.

    Returns:
        numpy float32 (n, H, W, C) in [-1, 1].
    """
    call_kwargs = _truncation_kwargs(gan, truncation_psi)
    if latents is None:
        if num_images is None or num_images < 1:
            raise ValueError(f"num_images must be >= 1, got {num_images!r}")
        if seed is None:
            seed = np.random.randint(2**31 - 1)
        latents = gan.sample_latents(int(num_images), seed=seed)
    latents = tf.convert_to_tensor(latents, tf.float32)
    num = int(latents.shape[0])
    if num_images is not None and num_images != num:
        raise ValueError(f"num_images={num_images} but latents has {num} rows")
    if latents.shape[-1] != gan.latent_dim:
        raise ValueError(f"latents must have {gan.latent_dim} columns, got "
                         f"shape {tuple(latents.shape)}")
    if gan.conditional:
        labels = gan.sample_labels(num) if labels is None else labels
        labels = tf.convert_to_tensor(np.broadcast_to(np.asarray(labels), (num,)),
                                      tf.int32)
    chunks = []
    for start in range(0, num, batch_size):
        batch = latents[start:start + batch_size]
        batch_labels = None if labels is None else labels[start:start + batch_size]
        inputs = (batch, batch_labels) if gan.conditional else batch
        images = gan.sampling_generator(inputs, training=False, **call_kwargs)
        chunks.append(tf.cast(images, tf.float32).numpy())
    return np.concatenate(chunks)
