"""Thin wrappers from images and generators to the metrics: what the CLI and the
training callback share.

    real_images(dataset, split, num_images)     real data as numpy, [-1, 1]
    generator_images(serve, num_images, ...)    images from any latents -> images function
    compute_metrics(real, fake)                 Features x Features -> dict of floats
"""

import time

from absl import logging
import numpy as np

from gan_tf import data
from gan_tf.metrics import distances

# Evaluate this many samples unless told otherwise: FID is biased at small N, so
# numbers are only comparable at equal N (docs/evaluation.md).
DEFAULT_NUM_SAMPLES = 10_000


def real_images(dataset, split="train", num_images=DEFAULT_NUM_SAMPLES, data_dir=None,
                seed=0, **load_kwargs):
    """Up to `num_images` real images (and labels) of a `gan_tf.data` dataset.

    Args:
        dataset: a `gan_tf.data.names()` name or folder:PATH.
        split: tfds split.
        num_images: how many; fewer when the split is smaller (logged).
        data_dir: tfds data directory.
        seed: shuffle seed (which images are drawn).
        **load_kwargs: more `gan_tf.data.load` arguments (e.g. manual_dir).

    Returns:
        (images float32 (n, H, W, C) in [-1, 1], labels int32 (n,) or None).

    Raises:
        ValueError, gan_tf.data.DatasetUnavailableError: see `gan_tf.data.load`.
    """
    try:
        ds = data.load(dataset, split=split, batch_size=1000, data_dir=data_dir,
                       shuffle=True, seed=seed, with_labels=True, drop_remainder=False,
                       **load_kwargs)
        with_labels = True
    except (KeyError, ValueError):  # a folder without class subfolders has no labels
        ds = data.load(dataset, split=split, batch_size=1000, data_dir=data_dir,
                       shuffle=True, seed=seed, drop_remainder=False, **load_kwargs)
        with_labels = False
    images, labels, count = [], [], 0
    for batch in ds:
        batch_images, batch_labels = batch if with_labels else (batch, None)
        images.append(batch_images.numpy())
        if batch_labels is not None:
            labels.append(batch_labels.numpy())
        count += len(images[-1])
        if count >= num_images:
            break
    images = np.concatenate(images)[:num_images]
    labels = np.concatenate(labels)[:num_images] if labels else None
    if len(images) < num_images:
        logging.warning("%s[%s] has %d images, fewer than the %d asked for", dataset,
                        split, len(images), num_images)
    return images, labels


def sample_latents(num, latent_dim, distribution="normal", seed=0):
    """float32 (num, latent_dim) latents, N(0, 1) or U(-1, 1), from a numpy seed."""
    rng = np.random.default_rng(seed)
    if distribution == "uniform":
        return rng.uniform(-1.0, 1.0, (num, latent_dim)).astype(np.float32)
    return rng.standard_normal((num, latent_dim)).astype(np.float32)


def generator_images(serve, num_images, latent_dim, distribution="normal",
                     conditional=False, num_classes=10, seed=0, batch_size=500):
    """Runs a generator on fresh latents in batches.

    Args:
        serve: function latents [, labels] -> images (e.g. an exported SavedModel's
            `serve`, or a Keras generator).
        num_images: how many.
        latent_dim, distribution: the generator's latent space.
        conditional: pass labels cycling 0..num_classes-1 (balanced classes).
        seed: seed of the latents.
        batch_size: images per call.

    Returns:
        numpy float32 (num_images, H, W, C) in [-1, 1].
    """
    latents = sample_latents(num_images, latent_dim, distribution, seed)
    labels = (np.arange(num_images) % num_classes).astype(np.int32)
    chunks = []
    for start in range(0, num_images, batch_size):
        args = (latents[start:start + batch_size],)
        if conditional:
            args += (labels[start:start + batch_size],)
        chunks.append(np.asarray(serve(*args), dtype=np.float32))
    return np.concatenate(chunks)


def sampled_images(sample, num_images, seed=0, batch_size=500):
    """Images from an export's `sample(num, seed)` endpoint, in batches (batch i uses
    seed + i), as numpy float32 (num_images, H, W, C)."""
    chunks = [np.asarray(sample(min(batch_size, num_images - start),
                                seed + start // batch_size), np.float32)
              for start in range(0, num_images, batch_size)]
    return np.concatenate(chunks)


def compute_metrics(real, fake, kid_subsets=100, kid_subset_size=1000, k=3,
                    num_splits=10, which=("fid", "kid", "is", "precision_recall")):
    """All metrics of `fake` against `real` features, as a flat dict of floats.

    Args:
        real, fake: `gan_tf.metrics.Features` (features (N, D), probabilities or None).
        kid_subsets, kid_subset_size: see `kernel_inception_distance`.
        k: neighbour for precision/recall.
        num_splits: splits of the Inception score.
        which: subset of ("fid", "kid", "is", "precision_recall").

    Returns:
        dict with "fid", "kid", "kid_std", "inception_score", "inception_score_std",
        "precision", "recall", "num_real", "num_fake" (those asked for) and
        "seconds_<metric>" timings.
    """
    results = {"num_real": len(real.features), "num_fake": len(fake.features)}

    def timed(name, fn):
        start = time.perf_counter()
        value = fn()
        results[f"seconds_{name}"] = round(time.perf_counter() - start, 3)
        return value

    if "fid" in which:
        results["fid"] = timed("fid", lambda: distances.frechet_distance(
            real.features, fake.features))
    if "kid" in which:
        results["kid"], results["kid_std"] = timed(
            "kid", lambda: distances.kernel_inception_distance(
                real.features, fake.features, num_subsets=kid_subsets,
                subset_size=kid_subset_size, return_std=True))
    if "is" in which and fake.probabilities is not None:
        results["inception_score"], results["inception_score_std"] = timed(
            "is", lambda: distances.inception_score(fake.probabilities, num_splits))
    if "precision_recall" in which:
        results["precision"], results["recall"] = timed(
            "precision_recall", lambda: distances.precision_recall(
                real.features, fake.features, k=k))
    return results


def class_counts(probabilities, num_classes=None):
    """Images per predicted class (argmax of `probabilities` (N, classes)): int (classes,)."""
    probabilities = np.asarray(probabilities)
    num_classes = num_classes or probabilities.shape[1]
    return np.bincount(np.argmax(probabilities, axis=1), minlength=num_classes)
