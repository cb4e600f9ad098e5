"""How training cost grows with batch size and resolution, and peak memory of a run.

    python -m benchmarks.scaling                           # all three tables
    python -m benchmarks.scaling --tables=batch --steps=20

Tables:

    batch       images/second and milliseconds per step of `GAN.fit` on the default
                preset's DCGAN pair (base 32, 28x28x1) for batch sizes 32 to 1024.
    resolution  the same pair family sized for 28x28x1, 32x32x3, 64x64x3 and 128x128x3
                (base 32, batch 64), with generator + discriminator parameters.
    memory      peak resident memory (ru_maxrss) of `python -m gan_tf.train` (the
                default preset, one epoch) in a child process, and of the same process
                after importing TensorFlow only (the floor).

Inputs are a fixed random batch repeated (no input pipeline), so the figures are the
training step's own cost. Each point is the median of --repeats timed runs of --steps
steps after one untimed warm-up run (tracing). Appends to benchmarks/scaling.json.
"""

import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time

from absl import app
from absl import flags

from benchmarks import records

flags.DEFINE_list("tables", ["batch", "resolution", "memory"], "Which tables to make.")
flags.DEFINE_list("batch_sizes", ["32", "64", "128", "256", "512", "1024"], "Batch sizes.")
flags.DEFINE_list("resolutions", ["28", "32", "64", "128"], "Image sizes.")
flags.DEFINE_integer("steps", 30, "Timed steps per run.")
flags.DEFINE_integer("repeats", 3, "Timed runs per point (median).")
flags.DEFINE_string("output", os.path.join(os.path.dirname(__file__), "scaling.json"),
                    "JSON file the results are appended to ('' for none).")
FLAGS = flags.FLAGS


def images_per_second(image_shape, batch_size, steps, repeats):
    """Median images/s of GAN.fit on the default preset's pair sized for image_shape."""
    import keras
    import numpy as np
    import tensorflow as tf

    import gan_tf
    from gan_tf import models

    keras.utils.set_random_seed(0)
    gan = gan_tf.GAN(models.dcgan.Generator(100, image_shape=image_shape, base_channels=32),
                     models.dcgan.Discriminator(image_shape=image_shape, base_channels=32),
                     latent_dim=100, seed=0)
    gan.compile(keras.optimizers.Adam(5e-4, beta_1=0.5), keras.optimizers.Adam(5e-4, beta_1=0.5))
    batch = np.random.default_rng(0).uniform(-1, 1, (batch_size, *image_shape)).astype("float32")
    # Without autotuning: closing an autotuned iterator (one per timed fit) can wait
    # seconds for its tuning thread (benchmarks/train_step.py, make_dataset).
    options = tf.data.Options()
    options.autotune.enabled = False
    ds = tf.data.Dataset.from_tensors(batch).repeat().with_options(options)
    gan.fit(ds, steps_per_epoch=2, epochs=1, verbose=0)  # trace and warm up
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        gan.fit(ds, steps_per_epoch=steps, epochs=1, verbose=0)
        rates.append(steps * batch_size / (time.perf_counter() - start))
    params = gan.generator.count_params() + gan.discriminator.count_params()
    return float(np.median(rates)), params


def batch_table():
    rows = []
    for batch_size in [int(b) for b in FLAGS.batch_sizes]:
        steps = max(3, FLAGS.steps * 64 // batch_size)
        rate, _ = images_per_second((28, 28, 1), batch_size, steps, FLAGS.repeats)
        rows.append({"batch_size": batch_size, "images_per_s": round(rate, 1),
                     "ms_per_step": round(1000 * batch_size / rate, 2)})
        print(json.dumps(rows[-1]), flush=True)
    base = rows[0]
    print("\nbatch  images/s  ms/step  step time vs batch " + str(base["batch_size"]))
    for r in rows:
        print(f"{r['batch_size']:5d} {r['images_per_s']:9.0f} {r['ms_per_step']:8.1f}"
              f"  {r['ms_per_step'] / base['ms_per_step']:6.2f}x")
    return rows


def resolution_table():
    rows = []
    for size in [int(s) for s in FLAGS.resolutions]:
        shape = (size, size, 1 if size == 28 else 3)
        rate, params = images_per_second(shape, 64, FLAGS.steps, FLAGS.repeats)
        rows.append({"image_shape": list(shape), "params": params,
                     "images_per_s": round(rate, 1), "ms_per_step": round(64_000 / rate, 2)})
        print(json.dumps(rows[-1]), flush=True)
    print("\nimage        params  images/s  ms/step (batch 64)")
    for r in rows:
        h, w, c = r["image_shape"]
        print(f"{h}x{w}x{c:<5d} {r['params']:9,d} {r['images_per_s']:9.0f} {r['ms_per_step']:8.1f}")
    return rows


def _peak_rss_mib(argv, cwd):
    """Peak resident memory of a child process, MiB (Linux reports ru_maxrss in KiB)."""
    code = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", code, *argv], cwd=cwd, check=True,
                         capture_output=True, text=True)
    return int(out.stdout.split()[-1]) / 1024


def memory_table():
    with tempfile.TemporaryDirectory() as tmp:
        floor = _peak_rss_mib([sys.executable, "-c", "import tensorflow, keras"], tmp)
        run = _peak_rss_mib([sys.executable, "-m", "gan_tf.train", "--epochs=1",
                             f"--workdir={tmp}/run"], tmp)
    rows = [{"what": "import tensorflow + keras", "peak_rss_mib": round(floor)},
            {"what": "python -m gan_tf.train --epochs=1 (default preset)",
             "peak_rss_mib": round(run)}]
    print()
    for r in rows:
        print(f"{r['peak_rss_mib']:6d} MiB  {r['what']}")
    return rows


def main(argv):
    del argv
    unknown = set(FLAGS.tables) - {"batch", "resolution", "memory"}
    if unknown:
        raise app.UsageError(f"unknown --tables {sorted(unknown)}; choose batch, resolution, memory")
    record = {"machine": platform.processor() or platform.machine(),
              "cores": os.cpu_count(), "argv": sys.argv[1:]}
    if "batch" in FLAGS.tables:
        record["batch"] = batch_table()
    if "resolution" in FLAGS.tables:
        record["resolution"] = resolution_table()
    if "memory" in FLAGS.tables:
        record["memory"] = memory_table()
    print(f"(this process: peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB)")
    if FLAGS.output:
        records.append(FLAGS.output, "scaling", record)


if __name__ == "__main__":
    app.run(main)
