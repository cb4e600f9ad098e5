"""Measures what docs/evaluation.md reports: FID against the number of samples, and
how long each metric takes on 10,000 MNIST-size images.

    python -m gan_tf.metrics.benchmark --generator=runs/default/generator \
        --plot=docs/evaluation_fid_vs_samples.png

Prints markdown tables:
  1. FID and KID of the generator (against all real training digits) for growing
     numbers of generated images, mean +- std over --repeats draws from a pool;
  2. FID and KID between two disjoint sets of real training digits of N images each
     (the floor: 0 for infinite N, so what remains is the small-N bias);
  3. seconds for generating, extracting features of, and scoring 10,000 images.
"""

import time

from absl import app
from absl import flags

FLAGS = flags.FLAGS
flags.DEFINE_string("generator", None, "Exported generator (SavedModel folder).")
flags.DEFINE_string("dataset", "mnist_sample", "Real data (a dataset with a classifier).")
flags.DEFINE_integer("repeats", 3, "Draws per sample size.")
flags.DEFINE_string("plot", None, "PNG of FID against the number of samples.")

FAKE_SIZES = (250, 500, 1000, 2000, 5000, 10000, 20000)
REAL_SIZES = (250, 500, 1000, 2000, 4500)


def _stats(values):
    import numpy as np

    return float(np.mean(values)), float(np.std(values))


def main(argv):
    del argv
    import numpy as np

    from gan_tf import evaluate
    from gan_tf.metrics import distances, evaluation, features

    extractor = features.ClassifierExtractor(FLAGS.dataset)
    real_images, _ = evaluation.real_images(FLAGS.dataset, "train", 100_000)
    real = extractor.extract(real_images).features
    serve, metadata = evaluate.load_exported_generator(FLAGS.generator)
    pool_size = max(FAKE_SIZES) + 10_000

    start = time.perf_counter()
    fake_images = evaluation.generator_images(serve, 10_000, metadata["latent_dim"],
                                              metadata["latent_distribution"], seed=0)
    seconds_generate = time.perf_counter() - start
    start = time.perf_counter()
    fake10k = extractor.extract(fake_images)
    seconds_extract = time.perf_counter() - start
    timings = {"generate 10,000 images (exported DCGAN)": seconds_generate,
               "classifier features of 10,000 images": seconds_extract}
    real10k = real[:10_000]
    for name, fn in [
            ("FID (sqrtm), 10,000 vs 9,003", lambda: distances.frechet_distance(
                real10k, fake10k.features)),
            ("FID (eigh), 10,000 vs 9,003", lambda: distances.frechet_distance(
                real10k, fake10k.features, method="eigh")),
            ("KID (100 subsets of 1,000)", lambda: distances.kernel_inception_distance(
                real10k, fake10k.features)),
            ("Inception score (10 splits)", lambda: distances.inception_score(
                fake10k.probabilities)),
            ("precision/recall (k=3)", lambda: distances.precision_recall(
                real10k, fake10k.features))]:
        start = time.perf_counter()
        fn()
        timings[name] = time.perf_counter() - start

    pool_images = evaluation.generator_images(
        serve, pool_size, metadata["latent_dim"], metadata["latent_distribution"], seed=1)
    pool = extractor.extract(pool_images).features
    rng = np.random.default_rng(0)
    fake_rows = []
    for n in FAKE_SIZES:
        fids, kids = [], []
        for _ in range(FLAGS.repeats):
            fake = pool[rng.choice(len(pool), n, replace=False)]
            fids.append(distances.frechet_distance(real, fake))
            kids.append(distances.kernel_inception_distance(real, fake, num_subsets=50,
                                                            subset_size=1000))
        fake_rows.append((n, _stats(fids), _stats(kids)))
    real_rows = []
    for n in REAL_SIZES:
        fids, kids = [], []
        for _ in range(FLAGS.repeats):
            order = rng.permutation(len(real))
            a, b = real[order[:n]], real[order[n:2 * n]]
            fids.append(distances.frechet_distance(a, b))
            kids.append(distances.kernel_inception_distance(a, b, num_subsets=50,
                                                            subset_size=1000))
        real_rows.append((n, _stats(fids), _stats(kids)))

    print(f"Generator {FLAGS.generator} vs all {len(real)} real training images "
          f"({FLAGS.repeats} draws each):\n")
    print("| generated images | FID | KID |\n|---:|---:|---:|")
    for n, (fm, fs), (km, ks) in fake_rows:
        print(f"| {n:,} | {fm:.3f} +- {fs:.3f} | {km:.4f} +- {ks:.4f} |")
    print("\nTwo disjoint sets of N real training images:\n")
    print("| N | FID | KID |\n|---:|---:|---:|")
    for n, (fm, fs), (km, ks) in real_rows:
        print(f"| {n:,} | {fm:.3f} +- {fs:.3f} | {km:.4f} +- {ks:.4f} |")
    print("\nSeconds:\n")
    print("| step | seconds |\n|---|---:|")
    for name, seconds in timings.items():
        print(f"| {name} | {seconds:.2f} |")

    if FLAGS.plot:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
        for ax, column, title in ((axes[0], 1, "FID"), (axes[1], 2, "KID")):
            for rows, label in ((fake_rows, "generator vs 9,003 real"),
                                (real_rows, "real N vs real N (floor)")):
                sizes = [row[0] for row in rows]
                means = [row[column][0] for row in rows]
                stds = [row[column][1] for row in rows]
                ax.errorbar(sizes, means, yerr=stds, marker="o", capsize=3, label=label)
            ax.set_xscale("log")
            ax.set_xlabel("number of images N")
            ax.set_title(f"{title} against N (bundled MNIST classifier features)")
            ax.grid(alpha=0.3)
            ax.legend()
        fig.tight_layout()
        fig.savefig(FLAGS.plot, dpi=100)
        print(f"\nwrote {FLAGS.plot}")


if __name__ == "__main__":
    flags.mark_flag_as_required("generator")
    app.run(main)
