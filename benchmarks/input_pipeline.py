"""Input pipeline speed and memory per source, next to the training step's speed.

    python -m benchmarks.input_pipeline                      # every source available
    python -m benchmarks.input_pipeline --sources=mnist_sample,celeb_a --batches=40
    python -m benchmarks.input_pipeline --json=benchmarks/results.json

For each source: images/s of `data.load(..., batch_size=256)` (the first pass, which
decodes and, for small data, fills the cache, and a later pass), the peak resident
memory of a process that only reads the data, and images/s of one `train_step` of the
preset that trains on it at the same batch size. Each measurement runs in a fresh
process so that peaks do not mix; datasets are prepared in yet another one first.

Sources and where their data comes from here (no network needed):
    mnist_sample   the bundled digits.
    fashion_mnist  Debian's IDX files (/usr/share/datasets/fashion-mnist, `apt-get
                   install dataset-fashion-mnist`) through --manual_dir.
    celeb_a        a CelebA layout of synthetic 218x178 JPEGs (smooth colour fields,
                   about the size of real faces' JPEGs) written by this script; read
                   with cache=False, as the real 162,770-face split is (streaming).
    folder         a folder of 64x64 RGB PNGs written by this script.
The table is printed and appended, with the machine, to --json.
"""

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time

from benchmarks import records

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

DEBIAN_FASHION_MNIST = "/usr/share/datasets/fashion-mnist"
# source -> (load kwargs, preset whose train step is timed)
SOURCES = ("mnist_sample", "fashion_mnist", "celeb_a", "folder")


def _rss_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _peak_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _write_fake_celeb_a(folder, num):
    import numpy as np
    from PIL import Image

    images = os.path.join(folder, "img_align_celeba")
    os.makedirs(images, exist_ok=True)
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:218, 0:178] / 40.0
    for i in range(1, num + 1):
        phase = rng.uniform(0, 6.3, 3)
        pixels = np.stack([np.sin(x * (c + 1) + y + phase[c]) for c in range(3)], -1)
        pixels = pixels * 100 + 128 + rng.normal(0, 6, pixels.shape)  # a little texture
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(
            os.path.join(images, f"{i:06d}.jpg"), quality=90)


def _write_folder(folder, num):
    import numpy as np
    from PIL import Image

    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(num):
        Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(
            os.path.join(folder, f"{i:05d}.png"))


def _load_kwargs(source, work):
    data_dir = os.path.join(work, "tfds")
    if source == "mnist_sample":
        return {"name": "mnist_sample", "data_dir": data_dir}
    if source == "fashion_mnist":
        return {"name": "fashion_mnist", "data_dir": data_dir,
                "manual_dir": DEBIAN_FASHION_MNIST}
    if source == "celeb_a":
        # The real train split (162,770 faces, 2 GB decoded at 64x64) is past the cache
        # limit and streams; the smaller synthetic one is made to stream the same way.
        return {"name": "celeb_a", "data_dir": data_dir, "cache": False,
                "manual_dir": os.path.join(work, "celeba")}
    return {"name": f"folder:{os.path.join(work, 'folder')}"}


def _preset(source):
    return "dcgan_celeba64" if source in ("celeb_a", "folder") else "default"


def prepare(source, work, num_images):
    """Writes the synthetic files and prepares the tfds copy (not timed)."""
    from gan_tf import data

    if source == "celeb_a" and not os.path.isdir(os.path.join(work, "celeba")):
        _write_fake_celeb_a(os.path.join(work, "celeba"), num_images)
    if source == "folder" and not os.path.isdir(os.path.join(work, "folder")):
        _write_folder(os.path.join(work, "folder"), num_images)
    kwargs = _load_kwargs(source, work)
    kwargs.pop("cache", None)  # a load option, not a builder one
    if not kwargs["name"].startswith("folder:"):
        data.builder(**kwargs)


def measure_pipeline(source, work, batch_size, num_batches):
    """images/s of a first and a later pass, and memory, in this (fresh) process."""
    import tensorflow as tf

    from gan_tf import data

    tf.constant(0)  # TensorFlow's own start-up memory belongs to the baseline
    baseline = _rss_mib()
    kwargs = _load_kwargs(source, work)
    image_size = 64 if source == "folder" else None
    ds = data.load(**kwargs, batch_size=batch_size, image_size=image_size, seed=0,
                   repeat=True)
    builder_ds = data.load(**kwargs, batch_size=batch_size, image_size=image_size,
                           seed=0, shuffle=False)
    steps_per_pass = int(builder_ds.cardinality())
    del builder_ds
    iterator = iter(ds)
    results = {}
    # First pass: decoding (and filling the cache when the data is small).
    start, seen = time.perf_counter(), 0
    for _ in range(min(num_batches, steps_per_pass)):
        seen += int(next(iterator).shape[0])
    results["first_pass_images_per_s"] = seen / (time.perf_counter() - start)
    # Finish the epoch so a cache is complete, then time the steady state.
    for _ in range(steps_per_pass - min(num_batches, steps_per_pass)):
        next(iterator)
    start, seen = time.perf_counter(), 0
    for _ in range(num_batches):
        seen += int(next(iterator).shape[0])
    results["images_per_s"] = seen / (time.perf_counter() - start)
    results["element_shape"] = list(data.element_shape(ds))
    results["num_examples"] = steps_per_pass * batch_size
    results["baseline_rss_mib"] = baseline
    results["peak_rss_mib"] = _peak_mib()
    return results


def measure_train_step(source, batch_size, num_steps, image_shape):
    """images/s of the preset's train_step on a fixed batch (no input pipeline)."""
    import numpy as np
    import tensorflow as tf

    from gan_tf import configs, tasks

    config = configs.get(_preset(source))
    gan = tasks.build_model(config, image_shape=tuple(image_shape))
    images = tf.constant(np.random.default_rng(0).uniform(
        -1, 1, (batch_size, *image_shape)).astype(np.float32))
    step = tf.function(gan.train_step)
    step(images)  # trace
    start = time.perf_counter()
    for _ in range(num_steps):
        step(images)
    return {"train_images_per_s": num_steps * batch_size / (time.perf_counter() - start),
            "preset": config.preset}


def _child(args):
    if args.child == "prepare":
        prepare(args.sources, args.work, args.num_images)
        print(json.dumps({}))
    elif args.child == "pipeline":
        print(json.dumps(measure_pipeline(args.sources, args.work, args.batch_size,
                                          args.batches)))
    else:
        print(json.dumps(measure_train_step(args.sources, args.batch_size,
                                            args.train_steps, json.loads(args.shape))))


def _run_child(kind, source, args, shape=None):
    command = [sys.executable, "-m", "benchmarks.input_pipeline", f"--child={kind}",
               f"--sources={source}", f"--work={os.path.abspath(args.work)}",
               f"--batch_size={args.batch_size}",
               f"--batches={args.batches}", f"--train_steps={args.train_steps}",
               f"--num_images={args.num_images}"]
    if shape:
        command.append(f"--shape={json.dumps(shape)}")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    out = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
    if out.returncode:
        raise RuntimeError(f"{kind} {source} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", default=",".join(SOURCES))
    parser.add_argument("--batch_size", type=int, default=256)
    parser.add_argument("--batches", type=int, default=30, help="batches timed per pass")
    parser.add_argument("--train_steps", type=int, default=3)
    parser.add_argument("--num_images", type=int, default=10_000,
                        help="images in the synthetic CelebA layout and folder")
    parser.add_argument("--work", default=os.path.join(tempfile.gettempdir(),
                                                       "gan_tf_bench"))
    parser.add_argument("--json", default=None, help="append the results to this file")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--shape", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return _child(args)

    rows = []
    for source in args.sources.split(","):
        if source == "fashion_mnist" and not os.path.isdir(DEBIAN_FASHION_MNIST):
            print(f"{source}: skipped, {DEBIAN_FASHION_MNIST} missing "
                  f"(apt-get install dataset-fashion-mnist)", file=sys.stderr)
            continue
        _run_child("prepare", source, args)
        row = {"source": source, **_run_child("pipeline", source, args)}
        row.update(_run_child("train", source, args, shape=row["element_shape"]))
        rows.append(row)
    header = (f"{'source':<14}{'shape':<13}{'examples':>9}{'1st pass img/s':>16}"
              f"{'img/s':>9}{'peak RSS MiB':>14}{'(TF base)':>11}  train step img/s")
    print(f"batch {args.batch_size}, {os.cpu_count()} CPU cores, {platform.processor() or platform.machine()}")
    print(header)
    for r in rows:
        shape = "x".join(map(str, r["element_shape"]))
        print(f"{r['source']:<14}{shape:<13}{r['num_examples']:>9}"
              f"{r['first_pass_images_per_s']:>16.0f}{r['images_per_s']:>9.0f}"
              f"{r['peak_rss_mib']:>14.0f}{r['baseline_rss_mib']:>11.0f}  "
              f"{r['train_images_per_s']:.0f} ({r['preset']})")
    if args.json:
        records.append(args.json, "input_pipeline", {
            "cpu_count": os.cpu_count(), "batch_size": args.batch_size, "results": rows})


if __name__ == "__main__":
    main()
