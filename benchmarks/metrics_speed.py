"""Measures what docs/evaluation.md reports: FID against the number of samples, and
how long each metric takes on 10,000 MNIST-size images.

    python -m benchmarks.metrics_speed --generator=runs/default/generator \
        --plot=docs/evaluation_fid_vs_samples.png

Prints markdown tables (docs/evaluation.md has the figures of a run):
  1. FID and KID of the generator (against all real training digits) for growing
     numbers of generated images, mean +- std over --repeats draws from a pool;
  2. FID and KID between two disjoint sets of real training digits of N images each
     (the floor: 0 for infinite N, so what remains is the small-N bias);
  3. seconds for generating, extracting features of, and scoring 10,000 images.
"""

import argparse
import sys
import time

FAKE_SIZES = (250, 500, 1000, 2000, 5000, 10000, 20000)
REAL_SIZES = (250, 500, 1000, 2000, 4500)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generator", required=True,
                        help="exported generator (SavedModel folder)")
    parser.add_argument("--dataset", default="mnist_sample",
                        help="real data (a dataset with a bundled classifier)")
    parser.add_argument("--repeats", type=int, default=3, help="draws per sample size")
    parser.add_argument("--plot", default=None, help="PNG of FID against the number of samples")
    return parser.parse_args(argv)


def _stats(values):
    import numpy as np

    return float(np.mean(values)), float(np.std(values))


def time_metrics(serve, metadata, extractor, real):
    """{step: seconds} of generating, extracting and scoring 10,000 images."""
    from gan_tf.metrics import distances, evaluation

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
    return timings


def _fid_kid_rows(sizes, repeats, draw):
    """[(n, (fid mean, std), (kid mean, std))]; draw(n) -> (set a, set b) of features."""
    from gan_tf.metrics import distances

    rows = []
    for n in sizes:
        fids, kids = [], []
        for _ in range(repeats):
            a, b = draw(n)
            fids.append(distances.frechet_distance(a, b))
            kids.append(distances.kernel_inception_distance(a, b, num_subsets=50,
                                                            subset_size=1000))
        rows.append((n, _stats(fids), _stats(kids)))
    return rows


def plot(path, fake_rows, real_rows):
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
    fig.savefig(path, dpi=100)


def _print_rows(rows, first_column):
    print(f"| {first_column} | FID | KID |\n|---:|---:|---:|")
    for n, (fm, fs), (km, ks) in rows:
        print(f"| {n:,} | {fm:.3f} +- {fs:.3f} | {km:.4f} +- {ks:.4f} |")


def main(argv=None):
    args = parse_args(argv)
    import numpy as np

    from gan_tf import export
    from gan_tf.metrics import evaluation, features

    extractor = features.ClassifierExtractor(args.dataset)
    real_images, _ = evaluation.real_images(args.dataset, "train", 100_000)
    real = extractor.extract(real_images).features
    serve, metadata = export.load_generator(args.generator)
    timings = time_metrics(serve, metadata, extractor, real)
    pool_images = evaluation.generator_images(
        serve, max(FAKE_SIZES) + 10_000, metadata["latent_dim"],
        metadata["latent_distribution"], seed=1)
    pool = extractor.extract(pool_images).features
    rng = np.random.default_rng(0)
    fake_rows = _fid_kid_rows(FAKE_SIZES, args.repeats, lambda n: (
        real, pool[rng.choice(len(pool), n, replace=False)]))

    def two_real_sets(n):
        order = rng.permutation(len(real))
        return real[order[:n]], real[order[n:2 * n]]

    real_rows = _fid_kid_rows(REAL_SIZES, args.repeats, two_real_sets)
    print(f"Generator {args.generator} vs all {len(real)} real training images "
          f"({args.repeats} draws each):\n")
    _print_rows(fake_rows, "generated images")
    print("\nTwo disjoint sets of N real training images:\n")
    _print_rows(real_rows, "N real vs N real")
    print("\nSeconds:\n")
    print("| step | seconds |\n|---|---:|")
    for name, seconds in timings.items():
        print(f"| {name} | {seconds:.2f} |")
    if args.plot:
        plot(args.plot, fake_rows, real_rows)
        print(f"\nwrote {args.plot}")


if __name__ == "__main__":
    main(sys.argv[1:])
