"""`evaluate(...)`: the flag-free evaluation of a generator against real data, which
`python -m gan_tf.evaluate` calls (and notebooks, tests and benchmarks may).

    evaluate(workdir="runs/x")          a training workdir: its exported generator,
                                        the dataset of its config.json
    evaluate(generator="runs/x/generator", dataset="mnist_sample")
                                        an exported generator
    evaluate(fake_split="test", output="runs/floor")
                                        real held-out images instead of a generator
                                        (the floor of the metrics: what real data scores)
    evaluate(untrained="default", output="runs/ceiling")
                                        a freshly initialised generator of a preset
                                        (the ceiling)

It compares `num_samples` generated images (10,000 by default) with up to `num_real`
real images (10,000) of the dataset's `real_split` on the extractor's features (FID
is biased at small N: compare numbers at equal sample sizes), and writes into the
output folder (the workdir by default):

    metrics.json          FID, KID, Inception score, precision/recall, sizes, timings
    report.md             the numbers, the pictures below, missing classes
    eval_samples.png      a grid of generated images
    eval_tsne.png         t-SNE of real vs generated classifier features (scikit-learn)
    eval_classes.png      generated (and real) images per predicted class

Bad input raises `UsageError` (one line) before any work.
"""

import json
import os
import time

import keras

from gan_tf import configs
from gan_tf import data
from gan_tf import export
from gan_tf import models
from gan_tf import viz
from gan_tf import workdir as workdir_lib
from gan_tf.metrics import evaluation
from gan_tf.metrics import features

SOURCES = ("workdir", "generator", "untrained", "fake_split")


class UsageError(ValueError):
    """Bad user input found before any work; the message is one line."""


def evaluate(workdir=None, generator=None, untrained=None, fake_split=None, *,
             dataset=None, output=None, data_dir=None, manual_dir=None,
             real_split="train", num_samples=10_000, num_real=10_000,
             extractor="classifier", inception_weights=None, seed=0, kid_subsets=100,
             tsne_points=1000):
    """Evaluates one source of images against real data; writes the report.

    Args:
        workdir, generator, untrained, fake_split: the source, exactly one of them (see
            the module docstring).
        dataset: the real data (default: the workdir's config's, else mnist_sample).
        output: the folder of the report (default: the workdir, or the generator's
            parent folder; needed for `untrained` and `fake_split`).
        data_dir, manual_dir: as for gan_tf.data.load.
        real_split: the split of the real reference images.
        num_samples: generated (or `fake_split`) images, >= 10.
        num_real: real reference images at most (the split may hold fewer), >= 10.
        extractor: "classifier" (the bundled one, offline) or "inception".
        inception_weights: the InceptionV3 weights file, for "inception".
        seed: seed of the latents and of the real images drawn, >= 0.
        kid_subsets: subsets averaged by KID, >= 1.
        tsne_points: real and generated points of the t-SNE plot (0: none).

    Returns:
        (metrics dict, output folder).

    Raises:
        UsageError: bad input, found before any work.
        gan_tf.metrics.WeightsNotFoundError: no InceptionV3 weights file.
        gan_tf.data.DatasetUnavailableError: the data cannot be had.
    """
    sources = {"workdir": workdir, "generator": generator, "untrained": untrained,
               "fake_split": fake_split}
    dataset, output = _check_inputs(sources, dataset, output, real_split, {
        "num_samples": num_samples, "num_real": num_real, "kid_subsets": kid_subsets,
        "tsne_points": tsne_points, "seed": seed})
    exported = None
    if workdir or generator:  # a damaged one fails before any work
        try:
            exported = export.load_generator(
                generator or os.path.join(workdir, workdir_lib.EXPORT))
        except export.ExportError as error:
            if generator and _is_workdir(generator):
                raise UsageError(f"{generator} is a training workdir, not an exported "
                                 f"generator: pass --workdir={generator} (or --generator="
                                 f"{os.path.join(generator, workdir_lib.EXPORT)})") from error
            raise UsageError(str(error)) from error
    try:
        extract = features.get_extractor(extractor, dataset,
                                         inception_weights=inception_weights)
    except ValueError as error:
        raise UsageError(str(error)) from error
    # The classifier also counts classes when the metrics run on Inception features.
    classifier = extract if extractor == "classifier" else None
    if classifier is None and dataset in features.CLASSIFIER_FOR_DATASET:
        classifier = features.ClassifierExtractor(dataset)

    start = time.perf_counter()
    load_kwargs = {"data_dir": data_dir, "seed": seed}
    if manual_dir:
        load_kwargs["manual_dir"] = manual_dir
    try:
        real_images, _ = evaluation.real_images(dataset, real_split, num_real,
                                                **load_kwargs)
        if fake_split:
            fake_images, _ = evaluation.real_images(dataset, fake_split, num_samples,
                                                    **load_kwargs)
    except ValueError as error:  # a file that does not decode, a split a copy lacks
        raise UsageError(str(error)) from error
    if not fake_split:
        serve, metadata = exported or untrained_generator(untrained,
                                                          real_images.shape[1:], seed)
        fake_images = _generated_images(serve, metadata, num_samples, seed)
    if fake_images.shape[1:] != real_images.shape[1:]:
        raise UsageError(f"generated images are {fake_images.shape[1:]} but {dataset} "
                         f"images are {real_images.shape[1:]}")
    data_seconds = time.perf_counter() - start

    start = time.perf_counter()
    real, fake = extract.extract(real_images), extract.extract(fake_images)
    extract_seconds = time.perf_counter() - start
    results = _compute_metrics(real, fake, kid_subsets)
    source = next(f"--{name}={value}" for name, value in sources.items() if value)
    results.update({
        "source": source, "dataset": dataset, "real_split": real_split,
        "extractor": extract.name, "seed": seed,
        "seconds_images": round(data_seconds, 2),
        "seconds_features": round(extract_seconds, 2),
    })
    class_info = None
    if classifier is not None:
        class_info = _class_counts(results, classifier, extract, real, fake, real_images,
                                   fake_images)
    os.makedirs(output, exist_ok=True)
    pictures = write_pictures(output, fake_images, real.features, fake.features,
                              class_info, tsne_points, seed)
    with open(os.path.join(output, "metrics.json"), "w") as f:
        json.dump(results, f, indent=2)
    with open(os.path.join(output, "report.md"), "w") as f:
        f.write(markdown_report(results, pictures))
    return results, output


def _check_inputs(sources, dataset, output, real_split, numbers):
    """Checks the arguments (`numbers`: the integer arguments by name); returns
    (dataset, output folder).

    Raises:
        UsageError: with the one-line reason.
    """
    given = [name for name, value in sources.items() if value]
    if len(given) != 1:
        raise UsageError("pass exactly one of --workdir, --generator, --untrained, "
                         f"--fake_split (got {', '.join('--' + s for s in given) or 'none'})")
    for name, least in (("num_samples", 10), ("num_real", 10), ("kid_subsets", 1),
                        ("tsne_points", 0), ("seed", 0)):
        if numbers[name] < least:
            raise UsageError(f"--{name} must be >= {least}, got {numbers[name]}")
    workdir, generator = sources["workdir"], sources["generator"]
    if workdir:
        if not os.path.isdir(workdir):
            raise UsageError(f"workdir {workdir} does not exist")
        if not os.path.isdir(os.path.join(workdir, workdir_lib.EXPORT)):
            raise UsageError(f"{workdir} has no exported generator/; train it first "
                             f"(python -m gan_tf.train --workdir={workdir}) or pass "
                             "--generator")
        config_path = os.path.join(workdir, workdir_lib.CONFIG)
        if dataset is None and os.path.exists(config_path):
            dataset = _dataset_of(config_path)
        output = output or workdir
    elif generator:
        if not os.path.isdir(generator):
            raise UsageError(f"generator {generator} does not exist")
        output = output or os.path.dirname(os.path.abspath(generator))
    elif not output:
        raise UsageError("--untrained and --fake_split need --output=DIR")
    if sources["untrained"] and sources["untrained"] not in configs.names():
        raise UsageError(f"unknown preset {sources['untrained']!r}; choose one of "
                         f"{', '.join(configs.names())}")
    _check_output(output)
    dataset = dataset or "mnist_sample"
    try:
        data.check_name(dataset)
        for split in (real_split, sources["fake_split"]):
            if split:
                data.check_split(dataset, split)
    except ValueError as error:
        raise UsageError(str(error)) from error
    return dataset, output


def _compute_metrics(real, fake, kid_subsets):
    try:
        return evaluation.compute_metrics(real, fake, kid_subsets=kid_subsets)
    except ValueError as error:  # e.g. features of a diverged generator's NaN images
        raise UsageError(f"cannot compute the metrics: {error}") from error


def _check_output(output):
    """Refuses an output folder that cannot be made or written, before any work."""
    if os.path.exists(output) and not os.path.isdir(output):
        raise UsageError(f"--output={output} is a file; give a folder (it is created if "
                         "missing)")
    existing = os.path.abspath(output)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise UsageError(f"--output={output} cannot be created: {existing} is a file; "
                         "give a folder")
    if not os.access(existing, os.W_OK):
        raise UsageError(f"--output={output}: {existing} is not writable; give another "
                         "folder")


def _is_workdir(path):
    """Whether `path` is a training run's workdir (it holds the run's config.json)."""
    return os.path.isfile(os.path.join(path, workdir_lib.CONFIG))


def _dataset_of(config_path):
    try:
        return workdir_lib.read_config_file(config_path).data.name
    except ValueError as error:
        raise UsageError(f"{config_path} is corrupt ({error}); pass --dataset") from error


def untrained_generator(preset, image_shape, seed=0):
    """The generator of `preset` as initialised before training (the metrics' ceiling).

    Returns:
        (serve function latents [, labels] -> images, metadata dict).

    Raises:
        UsageError: unknown preset.
    """
    try:
        model = configs.get(preset).model
    except ValueError as error:
        raise UsageError(str(error)) from error
    keras.utils.set_random_seed(seed)
    generator = models.get(model.family).Generator(
        **{"latent_dim": model.latent_dim, **model.generator,
           "image_shape": tuple(image_shape)})
    conditional = models.is_conditional(model.family)
    metadata = {"latent_dim": model.latent_dim,
                "latent_distribution": model.latent_distribution,
                "conditional": conditional}

    def serve(latents, labels=None):
        inputs = (latents, labels) if conditional else latents
        return keras.ops.convert_to_numpy(generator(inputs, training=False))

    return serve, metadata


def _generated_images(serve, metadata, num, seed):
    if "sample" in metadata:  # the export draws its own latents (codes, labels)
        return evaluation.sampled_images(metadata["sample"], num, seed)
    return evaluation.generator_images(
        serve, num, metadata["latent_dim"], metadata.get("latent_distribution", "normal"),
        conditional=metadata.get("conditional", False),
        num_classes=metadata.get("num_classes") or 10, seed=seed)


def _class_counts(results, classifier, extract, real, fake, real_images, fake_images):
    """Adds the generated images' class counts and missing classes to `results`;
    returns (class names, generated counts, real counts)."""
    fake_probs = (fake if classifier is extract else classifier.extract(fake_images)
                  ).probabilities
    real_probs = (real if classifier is extract else classifier.extract(real_images)
                  ).probabilities
    fake_counts = evaluation.class_counts(fake_probs).tolist()
    real_counts = evaluation.class_counts(real_probs).tolist()
    results["class_counts"] = dict(zip(classifier.class_names, fake_counts))
    results["missing_classes"] = [name for name, count in zip(
        classifier.class_names, fake_counts) if count < 0.01 * len(fake_images)]
    return classifier.class_names, fake_counts, real_counts


def write_pictures(output, fake_images, real_features, fake_features, class_info,
                   tsne_points, seed):
    """Writes the sample grid, class histogram and t-SNE; returns {title: file name}."""
    pictures = {}
    viz.save_image_grid(fake_images[:100], os.path.join(output, "eval_samples.png"),
                        columns=10)
    pictures["Generated samples"] = "eval_samples.png"
    if class_info is not None:
        viz.plot_class_counts(*class_info, os.path.join(output, "eval_classes.png"))
        pictures["Images per predicted class"] = "eval_classes.png"
    if tsne_points > 0 and viz.plot_tsne(real_features, fake_features,
                                         os.path.join(output, "eval_tsne.png"),
                                         points=tsne_points, seed=seed):
        pictures["t-SNE: real vs generated features"] = "eval_tsne.png"
    return pictures


def markdown_report(results, pictures):
    """The report.md text for a metrics dict and {title: PNG file}."""
    lines = [f"# Evaluation: {results['source']}", "",
             f"{results['num_fake']} generated vs {results['num_real']} real images of "
             f"{results['dataset']}[{results['real_split']}], features of "
             f"{results['extractor']}.", "",
             "| metric | value |", "|---|---|"]
    rows = [("FID", "fid", "{:.3f}"), ("KID", "kid", "{:.5f}"),
            ("KID std over subsets", "kid_std", "{:.5f}"),
            ("Inception score", "inception_score", "{:.3f}"),
            ("Inception score std", "inception_score_std", "{:.3f}"),
            ("precision (k=3)", "precision", "{:.4f}"), ("recall (k=3)", "recall", "{:.4f}")]
    lines += [f"| {title} | {fmt.format(results[key])} |" for title, key, fmt in rows
              if key in results]
    if "class_counts" in results:
        missing = results["missing_classes"]
        lines += ["", "Generated images per predicted class: " + ", ".join(
            f"{name}: {count}" for name, count in results["class_counts"].items()) + ".",
            "", ("Missing classes (under 1% of samples, a sign of mode collapse): "
                 + ", ".join(missing) + ".") if missing else
            "No class is missing (each has at least 1% of the samples)."]
    for title, name in pictures.items():
        lines += ["", f"## {title}", "", f"![{title}]({name})"]
    return "\n".join(lines) + "\n"
