"""Quality per compute: FID reached by each training recipe after fixed CPU budgets.

    python -m benchmarks.quality_per_compute              # 3 and 10 minutes on 2 cores
    python -m benchmarks.quality_per_compute --budgets=1,3 --recipes=default,tutorial_002

Each recipe trains on the same data (`mnist_sample`, the 9,003 bundled MNIST training
digits) until its process has used `budget x cores` CPU-seconds, then 10,000 samples
are scored with the bundled MNIST classifier's FID against the 10,000 bundled digits
(docs/evaluation.md). The budget is counted in CPU time of this process
(`time.process_time`), not wall time, so that other jobs on a shared machine slow a
run down without shortening it; evaluation time is not counted.

Recipes (models and hyper-parameters; data and budget are the same for all):

    default       gan_tf's default preset (gan_tf.configs.recipes: DCGAN base 32 with an
                  EMA of G, Adam 5e-4 (0.5), batch 32), precision auto (bf16 on a CPU
                  with AVX-512 BF16)
    tutorial_002  tutorial 002's MLP pair, Adam 2e-4 (0.5), batch 64, d_loss halved
    tf_dcgan      the TensorFlow DCGAN tutorial: its 28x28 pair, Adam 1e-4 (0.9),
                  batch 256

Prints a table and appends it to benchmarks/quality_per_compute.json.
"""

import json
import os
import platform
import sys
import time

from absl import app
from absl import flags

from benchmarks import records

flags.DEFINE_list("budgets", ["3", "10"], "Minutes of all cores' CPU time, ascending.")
flags.DEFINE_list("recipes", ["default", "tutorial_002", "tf_dcgan"], "Recipes to train.")
flags.DEFINE_integer("cores", os.cpu_count(), "Cores a budget minute counts (CPU-seconds = "
                     "60 x budget x cores).")
flags.DEFINE_integer("num_samples", 10_000, "Generated images per FID.")
flags.DEFINE_string("dtype_policy", None, "Precision for every recipe (auto, float32, "
                    "mixed_bfloat16...); default: each recipe's own (the default preset's "
                    "auto, the tutorials' float32).")
flags.DEFINE_string("output", os.path.join(os.path.dirname(__file__),
                                           "quality_per_compute.json"),
                    "JSON file the results are appended to ('' for none).")
FLAGS = flags.FLAGS


def recipe_config(name):
    """The `configs.Config` of a recipe, on mnist_sample with no step limit."""
    from gan_tf import configs

    if name == "default":
        config = configs.get("default")
    elif name == "tutorial_002":
        config = configs.override(configs.get("tutorial_002"), **{"data.name": "mnist_sample"})
    elif name == "tf_dcgan":
        config = configs.override(configs.get("tutorial_003"), **{
            "data.name": "mnist_sample", "data.batch_size": 256,
            "train.g_lr": 1e-4, "train.d_lr": 1e-4, "train.beta_1": 0.9})
    else:
        raise app.UsageError(f"unknown recipe {name!r}; choose default, tutorial_002, tf_dcgan")
    if FLAGS.dtype_policy:
        config = configs.override(config, **{"train.precision": FLAGS.dtype_policy})
    return config


def run_recipe(name, budgets_s, real_features, extractor):
    """Trains one recipe through the budgets; returns one row per budget."""
    from gan_tf import precision

    config = recipe_config(name)
    policy = precision.resolve(config.train.precision)
    with precision.policy_scope(policy):
        return _train_to_budgets(name, config, policy, budgets_s, real_features,
                                 extractor)


def _train_to_budgets(name, config, policy, budgets_s, real_features, extractor):
    """`run_recipe`'s training, under the recipe's precision `policy`."""
    import keras

    from gan_tf import data, metrics, tasks

    gan = tasks.build_model(config)
    ds = data.load(config.data.name, batch_size=config.data.batch_size, seed=config.train.seed)
    rows = []

    class Budget(keras.callbacks.Callback):
        """Stops at each budget, scores the generator, goes on to the next."""

        def __init__(self):
            super().__init__()
            self.used = 0.0          # training CPU-seconds so far
            self.images = 0
            self.wall = 0.0
            self._start = None

        def on_train_batch_begin(self, batch, logs=None):
            self._start = (time.process_time(), time.perf_counter())

        def on_train_batch_end(self, batch, logs=None):
            cpu, wall = self._start
            self.used += time.process_time() - cpu
            self.wall += time.perf_counter() - wall
            self.images += config.data.batch_size
            while budgets_s[len(rows)] <= self.used:
                images = gan.generate(FLAGS.num_samples, seed=1)
                fid = metrics.frechet_distance(real_features,
                                               extractor.extract(images).features)
                rows.append({"recipe": name, "precision": policy,
                             "budget_cpu_s": budgets_s[len(rows)],
                             "cpu_s": round(self.used, 1), "wall_s": round(self.wall, 1),
                             "images": self.images, "epochs": round(
                                 self.images / 9003, 2), "fid": round(float(fid), 2)})
                print(json.dumps(rows[-1]), flush=True)
                if len(rows) == len(budgets_s):
                    self.model.stop_training = True
                    return

    gan.fit(ds.repeat(), steps_per_epoch=100, epochs=10**6, verbose=0, callbacks=[Budget()])
    return rows


def main(argv):
    del argv
    from gan_tf import metrics
    from gan_tf.metrics import evaluation

    budgets = [float(b) for b in FLAGS.budgets]
    if budgets != sorted(budgets) or budgets[0] <= 0:
        raise app.UsageError(f"--budgets must be ascending and > 0, got {FLAGS.budgets}")
    budgets_s = [60.0 * b * FLAGS.cores for b in budgets]
    extractor = metrics.ClassifierExtractor("mnist")
    real, _ = evaluation.real_images("mnist_sample", split="train", num_images=10_000)
    real_features = extractor.extract(real).features
    rows = []
    for name in FLAGS.recipes:
        recipe_config(name)  # fail on a bad name before any training
    for name in FLAGS.recipes:
        rows += run_recipe(name, budgets_s, real_features, extractor)

    print(f"\nFID (MNIST classifier, {FLAGS.num_samples} samples) after a CPU budget of "
          f"{FLAGS.cores} cores x minutes; precision {FLAGS.dtype_policy or 'per recipe'}")
    print(f"{'recipe':14s} " + " ".join(f"{b:>10g} min" for b in budgets)
          + "   images trained at the last budget")
    for name in FLAGS.recipes:
        mine = [r for r in rows if r["recipe"] == name]
        print(f"{name:14s} " + " ".join(f"{r['fid']:14.2f}" for r in mine)
              + f"   {mine[-1]['images']:,}")
    if FLAGS.output:
        records.append(FLAGS.output, "quality_per_compute", {
            "machine": platform.processor() or platform.machine(), "cores": FLAGS.cores,
            "budgets_min": budgets, "argv": sys.argv[1:], "rows": rows})


if __name__ == "__main__":
    app.run(main)
