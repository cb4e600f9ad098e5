"""The tf.data pipelines: `load` (one dataset) and `load_unpaired` (two, for CycleGAN),
and the checks a trainer runs on what they yield.

Every source becomes (encoded image, label) pairs: a tfds split read with
`SkipDecoding`, or a folder's file list read with `tf.io.read_file`. From there one
path: parallel decode, crop (CelebA) and resize as uint8 -> cache in RAM when small ->
shuffle -> batch -> scale to [-1, 1] -> prefetch.
"""

import collections

import tensorflow as tf
import tensorflow_datasets as tfds

from gan_tf.data import celeb_a
from gan_tf.data import folder
from gan_tf.data import images as image_files
from gan_tf.data import registry
from gan_tf.data import sources

CACHE_LIMIT_BYTES = 1 << 30  # decoded datasets up to 1 GiB are cached in RAM
SHUFFLE_BUFFER = 10_000
INVERTED_SUFFIX = "_inverted"  # "mnist_sample_inverted": the images with x -> -x

# examples: tf.data of (encoded image, int32 label); shape: (H, W, C) decoded, before
# any resize ((None, None, C) for a folder of mixed sizes that gets resized).
_Split = collections.namedtuple("_Split", "examples num_examples shape")


def to_float(images):
    """uint8 [0, 255] -> float32 [-1, 1]: x / 127.5 - 1."""
    return tf.cast(images, tf.float32) / 127.5 - 1.0


def _check_batch_size(batch_size):
    try:
        valid = not isinstance(batch_size, bool) and int(batch_size) == batch_size >= 1
    except (TypeError, ValueError):
        valid = False
    if not valid:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    return int(batch_size)


def _check_image_size(image_size):
    if image_size is None:
        return None
    if isinstance(image_size, int):
        image_size = (image_size, image_size)
    try:
        size = tuple(int(s) for s in image_size)
    except (TypeError, ValueError):
        size = ()
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f"image_size must be an int or (height, width), got {image_size!r}")
    return size


def _check_batch_fits(name, split, batch_size, num_examples, drop_remainder, repeat):
    """A batch larger than the split would repeat images (repeat) or never come
    (drop_remainder); without either it is the whole split in one batch."""
    if batch_size <= num_examples or not (drop_remainder or repeat):
        return
    if num_examples == 0:
        raise ValueError(f"{name}/{split} holds no images")
    raise ValueError(f"batch_size={batch_size} exceeds the {num_examples:,} images of "
                     f"{name}/{split}; use at most {num_examples} (CLI: --batch_size)")


def _labels(name, example):
    if name == "celeb_a":
        attributes = example["attributes"]
        if isinstance(attributes, dict):  # tfds' celeb_a: 40 bools by name
            attributes = tf.stack([attributes[k] for k in sorted(attributes)], axis=-1)
        return tf.cast(attributes, tf.int32)
    return tf.cast(example["label"], tf.int32)


def _tfds_split(name, dataset_builder, split, shuffle, seed, with_labels):
    """A tfds split as (encoded image, label) pairs."""
    if with_labels and isinstance(dataset_builder, celeb_a.CelebAAligned) and not (
            dataset_builder.info.metadata.get("has_attributes")):
        raise ValueError(
            f"celeb_a in {dataset_builder.data_dir} was prepared without "
            f"list_attr_celeba.txt, so it has no attributes: put the file in the manual "
            f"dir, delete {dataset_builder.data_dir} and load again")
    try:
        ds = dataset_builder.as_dataset(
            # `load` decides what is cached (decoded images, by size), not tfds.
            split=split, read_config=tfds.ReadConfig(shuffle_seed=seed, try_autocache=False),
            decoders={"image": tfds.decode.SkipDecoding()}, shuffle_files=shuffle)
    except (KeyError, ValueError) as error:
        known = ", ".join(sorted(dataset_builder.info.splits)) or "none recorded"
        raise ValueError(f"{name} has no split {split!r} (its splits: {known}): "
                         f"{error}") from error
    num_examples = int(ds.cardinality())
    if num_examples < 0:  # not recorded: count once
        num_examples = int(ds.reduce(0, lambda count, _: count + 1))
    examples = ds.map(lambda example: (example["image"], _labels(name, example) if
                                       with_labels else tf.constant(0, tf.int32)))
    shape = ((celeb_a.CELEB_A_CROP, celeb_a.CELEB_A_CROP, 3) if name == "celeb_a"
             else tuple(dataset_builder.info.features["image"].shape))
    return _Split(examples, num_examples, shape)


def _folder_split(name, scanned, split, shuffle, seed, size):
    folder.check_folder_split(name, scanned.splits, split)
    return _Split(folder.folder_examples(scanned, split, shuffle, seed),
                  scanned.num_examples(split), folder.folder_shape(name, scanned, size))


def _decoder(shape, size, crop, with_labels):
    """(encoded, label) -> uint8 (H, W, C) [, label]: decode, central crop, resize."""
    height, width, channels = shape
    out_height, out_width = size or (height, width)

    def decode(encoded, label):
        images = tf.io.decode_image(encoded, channels=channels, expand_animations=False)
        if crop:  # e.g. CelebA: (218, 178, 3) -> central (140, 140, 3)
            image_shape = tf.shape(images)
            images = tf.image.crop_to_bounding_box(
                images, (image_shape[0] - crop) // 2, (image_shape[1] - crop) // 2,
                crop, crop)
        if size is not None and size != (height, width):
            images = tf.image.resize(images, (out_height, out_width), antialias=True)
            images = tf.cast(tf.round(tf.clip_by_value(images, 0.0, 255.0)), tf.uint8)
        images = tf.ensure_shape(images, (out_height, out_width, channels))
        return (images, label) if with_labels else images

    return decode, (out_height, out_width, channels)


def _batched(ds, num_examples, image_shape, batch_size, shuffle, seed, repeat,
             drop_remainder, cache, with_labels):
    """Decoded uint8 examples -> cached, shuffled, batched float batches, prefetched."""
    decoded_bytes = num_examples * image_shape[0] * image_shape[1] * image_shape[2]
    if cache or (cache is None and decoded_bytes <= CACHE_LIMIT_BYTES):
        ds = ds.cache()
    if shuffle:
        ds = ds.shuffle(max(1, min(num_examples, SHUFFLE_BUFFER)), seed=seed,
                        reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = ds.batch(batch_size, drop_remainder=drop_remainder,
                  num_parallel_calls=tf.data.AUTOTUNE)
    if with_labels:
        ds = ds.map(lambda images, labels: (to_float(images), labels),
                    num_parallel_calls=tf.data.AUTOTUNE)
    else:
        ds = ds.map(to_float, num_parallel_calls=tf.data.AUTOTUNE)
    # Under MultiWorkerMirroredStrategy each worker keeps its share of every batch: the
    # default FILE sharding fails on datasets stored in fewer files than workers (the
    # bundled digits are one file), and seeded shuffles give all workers one order.
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA)
    return ds.with_options(options).prefetch(tf.data.AUTOTUNE)


def load(name, split="train", batch_size=64, image_size=None, data_dir=None,
         manual_dir=None, shuffle=True, repeat=False, with_labels=False, seed=None,
         download=True, drop_remainder=True, cache=None, on_bad_image="fail"):
    """Returns a tf.data pipeline of images in [-1, 1].

    Encoded images are read (tfds files, or a folder's file list, shuffled with
    `seed`), decoded in parallel, cropped (CelebA: the central 140x140 of the aligned
    face) and resized as uint8, cached in RAM when small, shuffled, batched, scaled to
    [-1, 1] per batch and prefetched.

    Args:
        name: one of `names()`, or "folder:PATH" for a folder of .jpg/.jpeg/.png images
            (PATH/*.png, PATH/CLASS/*.png or PATH/SPLIT/CLASS/*.png; classes are the
            sorted subfolder names).
        split: tfds split, e.g. "train", "test", "train[:10%]" (folders: a split name).
        batch_size: images per batch, >= 1; at most the split's number of images when
            `drop_remainder` or `repeat` (a larger batch would be empty or repeat
            images); otherwise a larger one yields the whole split in one batch.
        image_size: int or (H, W) to resize to (bilinear, antialiased), or None for
            the shape `DATASETS` records (CelebA: 64x64; the others' own size).
        data_dir: tfds data directory (None: tfds default).
        manual_dir: folder with the original files, for offline use: the four IDX files
            of mnist / fashion_mnist, or CelebA's img_align_celeba/ (or .zip) with
            list_eval_partition.txt and list_attr_celeba.txt when present. Prepared once
            into data_dir.
        shuffle: shuffle examples (buffer of 10,000; reshuffled each epoch).
        repeat: repeat forever.
        with_labels: yield `(images, labels)`: int32 (B,) class ids (0 for a folder
            without class subfolders), or for celeb_a int32 (B, 40) attributes in
            {0, 1}, sorted by name.
        seed: shuffle seed, for reproducible order.
        download: allow tfds to download when not prepared.
        drop_remainder: drop the last partial batch, so every batch has the same
            shape (no retracing, constant batch statistics).
        cache: keep the decoded, resized uint8 images in RAM: None decides by size
            (up to 1 GiB: MNIST, SVHN, CIFAR-10 yes, CelebA 64x64 no), True/False force.
        on_bad_image: "fail" (default) or "skip" image files of a folder or of CelebA's
            manual files that do not decode; skipped files are counted in a warning.
            A folder file damaged in its middle (complete header and end) is found only
            when decoded: "skip" drops it then, "fail" stops with TensorFlow's error.

    Returns:
        `tf.data.Dataset` of float32 (B, H, W, C) in [-1, 1] [, int32 (B,) / (B, 40)].

    Raises:
        ValueError: unknown name or split, bad batch_size (also one larger than the
            split, see above), image_size, on_bad_image, images of mixed sizes and no
            image_size, labels asked of a CelebA copy prepared without
            list_attr_celeba.txt.
        DataFileError (a ValueError): unreadable images (with "fail"), corrupt files,
            a broken prepared copy; the message names the file and the fix.
        DatasetUnavailableError: see `builder`.
    """
    batch_size = _check_batch_size(batch_size)
    size = _check_image_size(image_size)
    image_files.check_on_bad_image(on_bad_image)
    registry.check_name(name)
    if size is None and name in registry.DATASETS:  # the registry's shape (celeb_a: 64x64)
        size = registry.DATASETS[name].shape[:2]
    source = sources.builder(name, data_dir=data_dir, download=download,
                             manual_dir=manual_dir, on_bad_image=on_bad_image)
    if isinstance(source, folder.ScannedFolder):
        read = _folder_split(name, source, split, shuffle, seed, size)
    else:
        read = _tfds_split(name, source, split, shuffle, seed, with_labels)
    _check_batch_fits(name, split, batch_size, read.num_examples, drop_remainder, repeat)
    decode, image_shape = _decoder(read.shape, size, celeb_a.CELEB_A_CROP if
                                   name == "celeb_a" else None, with_labels)
    ds = read.examples.map(decode, num_parallel_calls=tf.data.AUTOTUNE)
    if isinstance(source, folder.ScannedFolder) and on_bad_image == "skip":
        ds = ds.ignore_errors(log_warning=True)  # files that broke after the check
    return _batched(ds, read.num_examples, image_shape, batch_size, shuffle, seed,
                    repeat, drop_remainder, cache, with_labels)


def element_shape(dataset):
    """(H, W, C) of the images a `load` dataset yields."""
    spec = dataset.element_spec
    spec = spec[0] if isinstance(spec, tuple) else spec
    return tuple(spec.shape[1:])


def check_matches_model(image_shape, model_shape, name="the dataset", model="the model"):
    """Raises ValueError naming the fix when data and model image shapes differ.

    Args:
        image_shape: (H, W, C) of the dataset's images (`element_shape`).
        model_shape: (H, W, C) the model takes.
        name: the dataset, for the message.
        model: the model or preset, for the message.
    """
    image_shape, model_shape = tuple(image_shape), tuple(model_shape)
    if image_shape == model_shape:
        return
    kinds = {1: "grayscale", 3: "RGB"}
    if image_shape[-1] != model_shape[-1]:
        raise ValueError(
            f"{name} has {kinds.get(image_shape[-1], image_shape[-1])} images "
            f"{image_shape} but {model} takes {kinds.get(model_shape[-1], model_shape[-1])} "
            f"images {model_shape}: pick a dataset with {model_shape[-1]} channel(s) or a "
            f"preset made for {name} (e.g. --config=default or tutorial_003 for MNIST-like "
            f"data, dcgan_svhn or dcgan_celeba64 for RGB)")
    raise ValueError(
        f"{name} has images {image_shape} but {model} takes {model_shape}: pass "
        f"--image_size={model_shape[0]} (Python: image_size={model_shape[0]}) to resize "
        f"the data, or pick a preset made for {image_shape[0]}x{image_shape[1]} images")


def _split_inverted(name):
    """(base name, whether `name` ends in INVERTED_SUFFIX)."""
    if isinstance(name, str) and name.endswith(INVERTED_SUFFIX):
        return name[:-len(INVERTED_SUFFIX)], True
    return name, False


def check_unpaired_name(name, role="dataset"):
    """Raises ValueError unless `load_unpaired` knows `name`: a `load` name, or one
    with the suffix "_inverted" (e.g. "mnist_sample_inverted").

    Args:
        role: what the name is, for the message (e.g. "second dataset (data.name_b)").
    """
    try:
        registry.check_name(_split_inverted(name)[0])
    except ValueError as error:
        raise ValueError(f"{role}: {error}; any of them may end in {INVERTED_SUFFIX} "
                         f"for its colour-inverted images") from None


def load_unpaired(name_a, name_b, split="train", batch_size=64, seed=None, repeat=False,
                  shuffle=True, **load_kwargs):
    """Zips two `load` pipelines into unpaired batches `(a_images, b_images)` (CycleGAN).

    A and B are shuffled independently (B with seed + 1), so a batch's A and B images
    are unrelated even when B is a transform of A's dataset. A name ending in
    "_inverted" yields that dataset's images inverted (x -> -x in [-1, 1], white
    background for MNIST): "mnist_sample" <-> "mnist_sample_inverted" is an offline
    pair whose true translation is known.

    Args:
        name_a, name_b: `load` names, optionally with the suffix "_inverted".
        split, batch_size, repeat: as in `load`, for both.
        seed: shuffle seed of A (B uses seed + 1); None: unseeded.
        shuffle: shuffle both (False gives both in dataset order, for picture grids).
        **load_kwargs: more `load` arguments for both (image_size, data_dir,
            manual_dir, drop_remainder, on_bad_image...).

    Returns:
        `tf.data.Dataset` of (float32 (B, H, W, C_a), float32 (B, H, W, C_b)) in
        [-1, 1]; it ends with the shorter dataset unless `repeat`.

    Raises:
        ValueError: an unknown name (saying which of the two), images of different
            heights and widths, or what `load` raises.
        DatasetUnavailableError: see `builder`.
    """
    check_unpaired_name(name_a, "first dataset (data.name)")
    check_unpaired_name(name_b, "second dataset (data.name_b)")
    pipelines = []
    for name, offset in ((name_a, 0), (name_b, 1)):
        base, inverted = _split_inverted(name)
        ds = load(base, split=split, batch_size=batch_size, shuffle=shuffle,
                  seed=None if seed is None else seed + offset, repeat=repeat,
                  **load_kwargs)
        if inverted:
            ds = ds.map(tf.negative, num_parallel_calls=tf.data.AUTOTUNE)
        pipelines.append(ds)
    shape_a, shape_b = element_shape(pipelines[0]), element_shape(pipelines[1])
    if shape_a[:2] != shape_b[:2]:
        raise ValueError(f"{name_a} has images {shape_a} and {name_b} {shape_b}; an "
                         f"unpaired pair needs one height and width: pass image_size")
    return tf.data.Dataset.zip((pipelines[0], pipelines[1])).prefetch(tf.data.AUTOTUNE)
