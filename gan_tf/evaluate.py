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

The flags exist only while this command runs; it turns them into one call of the
flag-free `gan_tf.evaluator.evaluate`.
"""

import os
import sys

from absl import flags

from gan_tf import _cli
from gan_tf import data
from gan_tf import evaluator
from gan_tf.data import prepared
from gan_tf.metrics import features

# The flags that are evaluator.evaluate's arguments, by the same names.
_ARGUMENTS = ("workdir", "generator", "untrained", "fake_split", "dataset", "output",
              "data_dir", "manual_dir", "real_split", "num_samples", "num_real",
              "extractor", "inception_weights", "seed", "kid_subsets", "tsne_points")


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


def main(argv=None):
    """Runs the evaluation CLI on `argv` (sys.argv by default); returns the exit status:
    0, or 2 with one line "error: ..." for any bad input."""
    argv = list(sys.argv if argv is None else argv)
    flag_values = _cli.new_flag_values(define_flags)
    if _cli.wants_help(argv):
        _cli.print_help(flag_values, "gan_tf.evaluate", __doc__)
        return 0
    try:
        _cli.parse(flag_values, argv)
        _cli.setup_logging(flag_values)
        # TensorFlow's autograph writes temporary files that only an orderly exit
        # deletes: a folder of this process's holds them, deleted after it, or by the
        # next run of gan_tf when this one is killed.
        with prepared.private_tempdir():
            results, output = evaluator.evaluate(
                **{name: flag_values[name].value for name in _ARGUMENTS})
    except (_cli.UsageError, evaluator.UsageError, features.WeightsNotFoundError,
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
