"""Command line evaluation: a workdir or an exported generator -> metrics report.

    python -m gan_tf.evaluate --workdir=runs/x
    python -m gan_tf.evaluate --generator=runs/x/generator --dataset=mnist_sample
    python -m gan_tf.evaluate --workdir=runs/x --extractor=inception \
        --inception_weights=inception_v3_weights_tf_dim_ordering_tf_kernels.h5
    python -m gan_tf.evaluate --dataset=mnist_sample --fake_split=test --output=runs/floor
    python -m gan_tf.evaluate --untrained=default --output=runs/ceiling

compares `--num_samples` generated images (10,000 by default) with up to `--num_real`
real images (10,000) of the dataset's `--real_split` on the extractor's features (FID
is biased at small N: compare numbers at equal sample sizes), and writes into
the output folder (the workdir by default):

    metrics.json          FID, KID, Inception score, precision/recall, sizes, timings
    report.md             the numbers, the pictures below, missing classes
    eval_samples.png      a grid of generated images
    eval_tsne.png         t-SNE of real vs generated classifier features (scikit-learn)
    eval_classes.png      generated (and real) images per predicted class

`--fake_split=test` evaluates real held-out images instead of a generator (the floor
of the metrics: what real data scores); `--untrained=PRESET` evaluates a freshly
initialised generator of a preset (the ceiling). Bad inputs print one line
"error: ..." and exit with status 2.
"""

import json
import os
import sys
import time

from absl import flags
from absl import logging

from gan_tf import _cli
from gan_tf import workdir as workdir_lib


def define_flags(flag_values):
    """Defines the CLI's flags on `flag_values` (a `flags.FlagValues` of the caller's:
    the command line makes its own when it runs; importing defines none)."""
    where = {"flag_values": flag_values}
    flags.DEFINE_string("workdir", None, "A training workdir (uses its generator/ and "
                        "config.json); results are written there.", **where)
    flags.DEFINE_string("generator", None, "An exported generator (SavedModel folder with "
                        "gan_tf_export.json), instead of --workdir.", **where)
    flags.DEFINE_string("untrained", None, "Evaluate the untrained generator of this preset "
                        "(the ceiling), instead of --workdir.", **where)
    flags.DEFINE_string("fake_split", None, "Evaluate real images of this split (e.g. test) "
                        "instead of a generator (the floor).", **where)
    flags.DEFINE_string("dataset", None, "Real data to compare with (default: the workdir's "
                        "config, else mnist_sample).", **where)
    flags.DEFINE_string("data_dir", None, "tfds data directory.", **where)
    flags.DEFINE_string("manual_dir", None, "Folder with the dataset's original files "
                        "(e.g. Fashion-MNIST IDX files), as for gan_tf.train.", **where)
    flags.DEFINE_string("real_split", "train", "Split of the real reference images.", **where)
    flags.DEFINE_integer("num_samples", 10_000, "Generated (or --fake_split) images.",
                         **where)
    flags.DEFINE_integer("num_real", 10_000, "Real reference images (at most; the split "
                         "may hold fewer).", **where)
    flags.DEFINE_enum("extractor", "classifier", ["classifier", "inception"],
                      "Features: the bundled classifier (offline) or InceptionV3.", **where)
    flags.DEFINE_string("inception_weights", None, "InceptionV3 weights file (inception_v3_"
                        "weights_tf_dim_ordering_tf_kernels.h5).", **where)
    flags.DEFINE_integer("seed", 0, "Seed of the latents and of the real images drawn.", **where)
    flags.DEFINE_string("output", None, "Folder for metrics.json, report.md and the PNGs "
                        "(default: the workdir, or the generator's parent folder).", **where)
    flags.DEFINE_integer("kid_subsets", 100, "Subsets averaged by KID.", **where)
    flags.DEFINE_integer("tsne_points", 1000, "Real and generated points in the t-SNE plot "
                         "(0: no t-SNE).", **where)




class UsageError(_cli.UsageError):
    """Bad user input found before any work; the message is one line."""


def load_exported_generator(path):
    """Loads an exported generator.

    An exported generator is a TensorFlow program: it runs whatever graph it holds.
    Load only ones you trust (docs/reliability.md, "Trust").

    Returns:
        (serve function latents [, labels] -> images, metadata dict with latent_dim,
        latent_distribution, conditional, image_shape; and "sample": the export's
        sample(num, seed) -> images function when it has one).

    Raises:
        UsageError: not a gan_tf export, or a damaged one (the message names the file).
    """
    import tensorflow as tf

    from gan_tf import fileio
    from gan_tf.adversarial import EXPORT_METADATA

    metadata_path = fileio.join(path, EXPORT_METADATA)
    if not fileio.isdir(path) or not fileio.exists(metadata_path):
        raise UsageError(f"{path} is not an exported generator (no {EXPORT_METADATA}); "
                         "train one with python -m gan_tf.train --workdir=DIR, or "
                         "GAN.export_generator(path)")
    metadata = _read_metadata(metadata_path)
    if metadata.get("model") == "cyclegan":
        raise UsageError(f"{path} is a CycleGAN export (images -> images, no latents); "
                         "measure it with python benchmarks/cyclegan_quality.py WORKDIR")
    try:
        model = tf.saved_model.load(path)
    except Exception as error:  # noqa: BLE001 - protobuf, checkpoint and OS errors
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise UsageError(f"cannot load the exported generator: {_damaged_part(path)} is "
                         f"damaged ({type(error).__name__}: {first[:160]}); export it "
                         "again (run the training command once more, or "
                         "GAN.export_generator)") from error

    def serve(*args):  # holds `model`: its variables die with the last reference
        return model.serve(*args).numpy()

    if hasattr(model, "sample"):
        metadata["sample"] = lambda num, seed: model.sample(
            tf.constant(num, tf.int32), tf.constant(seed, tf.int32)).numpy()
    return serve, metadata


def _damaged_part(path):
    """The file of an export that does not load: saved_model.pb when it does not
    parse, else its variables/ (the checkpoint of the weights)."""
    from tensorflow.core.protobuf import saved_model_pb2

    from gan_tf import fileio

    graph = fileio.join(path, "saved_model.pb")
    try:
        saved_model_pb2.SavedModel().ParseFromString(fileio.read_bytes(graph))
    except Exception:  # noqa: BLE001 - protobuf's DecodeError, a missing file
        return graph
    return fileio.join(path, "variables") + "/"


def _read_metadata(path):
    from gan_tf import fileio

    try:
        metadata = json.loads(fileio.read_text(path))
        if not isinstance(metadata, dict):
            raise ValueError("not a JSON object")
        latent_dim = metadata.get("latent_dim")
        if metadata.get("model") != "cyclegan" and not (
                isinstance(latent_dim, int) and latent_dim > 0):
            raise ValueError(f"latent_dim must be a positive integer, got {latent_dim!r}")
        return metadata
    except ValueError as error:
        raise UsageError(f"{path} is damaged ({error}); export the generator again "
                         "(GAN.export_generator or the training command)") from error


def untrained_generator(preset, image_shape, seed=0):
    """The generator of `preset` as initialised before training (the metrics' ceiling).

    Returns:
        (serve function latents [, labels] -> images, metadata dict).

    Raises:
        UsageError: unknown preset.
    """
    import keras

    from gan_tf import configs, models

    try:
        model = configs.get(preset).model
    except ValueError as error:
        raise UsageError(str(error)) from error
    keras.utils.set_random_seed(seed)
    generator = models.get(model.family).Generator(
        **{"latent_dim": model.latent_dim, **model.generator,
           "image_shape": tuple(image_shape)})
    conditional = bool(getattr(models, "is_conditional", lambda family: False)(
        model.family))
    metadata = {"latent_dim": model.latent_dim,
                "latent_distribution": model.latent_distribution,
                "conditional": conditional}

    def serve(latents, labels=None):
        inputs = (latents, labels) if conditional else latents
        return keras.ops.convert_to_numpy(generator(inputs, training=False))

    return serve, metadata


def resolve_inputs(flag_values):
    """Checks the flags; returns (source description, dataset, output folder).

    Raises:
        UsageError: with the one-line reason.
    """
    from gan_tf import data

    sources = [name for name in ("workdir", "generator", "untrained", "fake_split")
               if flag_values[name].value]
    if len(sources) != 1:
        raise UsageError("pass exactly one of --workdir, --generator, --untrained, "
                         f"--fake_split (got {', '.join('--' + s for s in sources) or 'none'})")
    for name in ("num_samples", "num_real"):
        if flag_values[name].value < 10:
            raise UsageError(f"{name} must be >= 10, got {flag_values[name].value}")
    dataset, output = flag_values.dataset, flag_values.output
    if flag_values.workdir:
        workdir = flag_values.workdir
        if not os.path.isdir(workdir):
            raise UsageError(f"workdir {workdir} does not exist")
        if not os.path.isdir(os.path.join(workdir, "generator")):
            raise UsageError(f"{workdir} has no exported generator/; train it first "
                             f"(python -m gan_tf.train --workdir={workdir}) or pass "
                             "--generator")
        config_path = os.path.join(workdir, "config.json")
        if dataset is None and os.path.exists(config_path):
            dataset = _dataset_of(config_path)
        output = output or workdir
    elif flag_values.generator:
        if not os.path.isdir(flag_values.generator):
            raise UsageError(f"generator {flag_values.generator} does not exist")
        output = output or os.path.dirname(os.path.abspath(flag_values.generator))
    elif not output:
        raise UsageError("--untrained and --fake_split need --output=DIR")
    if flag_values.untrained:
        from gan_tf import configs

        if flag_values.untrained not in configs.names():
            raise UsageError(f"unknown preset {flag_values.untrained!r}; choose one of "
                             f"{', '.join(configs.names())}")
    _check_output(output)
    dataset = dataset or "mnist_sample"
    if dataset not in data.names() and not dataset.startswith("folder:"):
        raise UsageError(f"unknown dataset {dataset!r}; choose one of "
                         f"{', '.join(data.names())} or folder:PATH")
    source = next(f"--{s}={flag_values[s].value}" for s in sources)
    return source, dataset, output


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


def _dataset_of(config_path):
    try:
        return workdir_lib.read_config_file(config_path).data.name
    except ValueError as error:
        raise UsageError(f"{config_path} is corrupt ({error}); pass --dataset") from error


def evaluate(flag_values):
    """Runs the evaluation the flags describe; returns (metrics dict, output folder)."""
    from gan_tf.metrics import evaluation, features

    source, dataset, output = resolve_inputs(flag_values)
    num, seed = flag_values.num_samples, flag_values.seed
    exported = None
    if flag_values.workdir or flag_values.generator:  # a damaged one fails before work
        exported = load_exported_generator(
            flag_values.generator or os.path.join(flag_values.workdir, "generator"))
    try:
        extractor = features.get_extractor(flag_values.extractor, dataset,
                                           inception_weights=flag_values.inception_weights)
    except ValueError as error:
        raise UsageError(str(error)) from error
    # The classifier also counts classes when the metrics run on Inception features.
    classifier = extractor if flag_values.extractor == "classifier" else None
    if classifier is None and dataset in features.CLASSIFIER_FOR_DATASET:
        classifier = features.ClassifierExtractor(dataset)

    start = time.perf_counter()
    load_kwargs = {"data_dir": flag_values.data_dir, "seed": seed}
    if flag_values.manual_dir:
        load_kwargs["manual_dir"] = flag_values.manual_dir
    real_images, _ = evaluation.real_images(dataset, flag_values.real_split,
                                            flag_values.num_real, **load_kwargs)
    if flag_values.fake_split:
        fake_images, _ = evaluation.real_images(dataset, flag_values.fake_split, num,
                                                **load_kwargs)
    else:
        if flag_values.untrained:
            serve, metadata = untrained_generator(flag_values.untrained,
                                                  real_images.shape[1:], seed)
        else:
            serve, metadata = exported
        if "sample" in metadata:  # the export draws its own latents (codes, labels)
            fake_images = evaluation.sampled_images(metadata["sample"], num, seed)
        else:
            fake_images = evaluation.generator_images(
                serve, num, metadata["latent_dim"],
                metadata.get("latent_distribution", "normal"),
                conditional=metadata.get("conditional", False),
                num_classes=metadata.get("num_classes") or 10, seed=seed)
    if fake_images.shape[1:] != real_images.shape[1:]:
        raise UsageError(f"generated images are {fake_images.shape[1:]} but {dataset} "
                         f"images are {real_images.shape[1:]}")
    data_seconds = time.perf_counter() - start

    start = time.perf_counter()
    real = extractor.extract(real_images)
    fake = extractor.extract(fake_images)
    extract_seconds = time.perf_counter() - start
    results = evaluation.compute_metrics(real, fake, kid_subsets=flag_values.kid_subsets)
    results.update({
        "source": source, "dataset": dataset, "real_split": flag_values.real_split,
        "extractor": extractor.name, "seed": seed,
        "seconds_images": round(data_seconds, 2),
        "seconds_features": round(extract_seconds, 2),
    })
    class_info = None
    if classifier is not None:
        fake_probs = (fake if classifier is extractor else classifier.extract(fake_images)
                      ).probabilities
        real_probs = (real if classifier is extractor else classifier.extract(real_images)
                      ).probabilities
        fake_counts = evaluation.class_counts(fake_probs).tolist()
        real_counts = evaluation.class_counts(real_probs).tolist()
        results["class_counts"] = dict(zip(classifier.class_names, fake_counts))
        results["missing_classes"] = [name for name, count in zip(
            classifier.class_names, fake_counts) if count < 0.01 * len(fake_images)]
        class_info = (classifier.class_names, fake_counts, real_counts)

    os.makedirs(output, exist_ok=True)
    pictures = write_pictures(output, fake_images, real.features, fake.features,
                              class_info, flag_values.tsne_points, seed)
    with open(os.path.join(output, "metrics.json"), "w") as f:
        json.dump(results, f, indent=2)
    with open(os.path.join(output, "report.md"), "w") as f:
        f.write(markdown_report(results, pictures))
    return results, output


def write_pictures(output, fake_images, real_features, fake_features, class_info,
                   tsne_points, seed):
    """Writes the sample grid, t-SNE and class histogram; returns {title: file name}."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from gan_tf import viz

    pictures = {}
    viz.save_image_grid(fake_images[:100], os.path.join(output, "eval_samples.png"),
                        columns=10)
    pictures["Generated samples"] = "eval_samples.png"
    if class_info is not None:
        names, fake_counts, real_counts = class_info
        fig, ax = plt.subplots(figsize=(7, 3.2))
        positions = np.arange(len(names))
        total_fake, total_real = max(sum(fake_counts), 1), max(sum(real_counts), 1)
        ax.bar(positions - 0.2, np.asarray(real_counts) / total_real, 0.4, label="real")
        ax.bar(positions + 0.2, np.asarray(fake_counts) / total_fake, 0.4, label="generated")
        ax.set_xticks(positions, names, rotation=30 if len(names[0]) > 2 else 0, fontsize=8)
        ax.set_ylabel("fraction (predicted class)")
        ax.legend()
        fig.tight_layout()
        fig.savefig(os.path.join(output, "eval_classes.png"), dpi=100)
        plt.close(fig)
        pictures["Images per predicted class"] = "eval_classes.png"
    if tsne_points > 0:
        try:
            from sklearn.manifold import TSNE
        except ImportError:
            logging.warning("scikit-learn is not installed: no t-SNE plot "
                            "(pip install 'gan_tf[evaluate]')")
        else:
            rng = np.random.default_rng(seed)
            real = real_features[rng.permutation(len(real_features))[:tsne_points]]
            fake = fake_features[rng.permutation(len(fake_features))[:tsne_points]]
            points = TSNE(n_components=2, init="pca", random_state=seed,
                          perplexity=30).fit_transform(np.concatenate([real, fake]))
            fig, ax = plt.subplots(figsize=(5, 5))
            ax.scatter(*points[:len(real)].T, s=3, alpha=0.5, label="real")
            ax.scatter(*points[len(real):].T, s=3, alpha=0.5, label="generated")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.legend(markerscale=4)
            ax.set_title("t-SNE of the features")
            fig.tight_layout()
            fig.savefig(os.path.join(output, "eval_tsne.png"), dpi=100)
            plt.close(fig)
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


def main(argv=None):
    """Runs the evaluation CLI on `argv` (sys.argv by default); returns the exit status:
    0, or 2 with one line "error: ..." for any bad input."""
    from gan_tf import data
    from gan_tf.metrics import features

    argv = list(sys.argv if argv is None else argv)
    flag_values = _cli.new_flag_values(define_flags)
    if _cli.wants_help(argv):
        _cli.print_help(flag_values, "gan_tf.evaluate", __doc__)
        return 0
    try:
        _cli.parse(flag_values, argv)
        _cli.setup_logging(flag_values)
        results, output = evaluate(flag_values)
    except (_cli.UsageError, features.WeightsNotFoundError,
            data.DatasetUnavailableError) as error:
        return _cli.fail(error)
    keys = ("fid", "kid", "inception_score", "precision", "recall")
    print(" ".join(f"{key}={results[key]:.4g}" for key in keys if key in results))
    if results.get("missing_classes"):
        print(f"missing classes: {', '.join(results['missing_classes'])}")
    print(f"wrote {os.path.join(output, 'metrics.json')} and "
          f"{os.path.join(output, 'report.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
