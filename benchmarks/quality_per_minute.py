"""Quality per minute: gan_tf's default recipe against the tutorials' recipes, at equal
training time, judged in two feature spaces.

    python -m benchmarks.quality_per_minute                     # the whole table (~2 h 20)
    python -m benchmarks.quality_per_minute --datasets=mnist_sample --minutes=0.5,1 \
        --out=/tmp/qpm --json= --plot=                          # a short check
    python -m benchmarks.quality_per_minute --report_since='2026-12-03 15:00'
                                          # table + plot of the runs recorded since then

Recipes, each trained in a fresh process:

    default           `python -m gan_tf.train --train_minutes=N --workdir=...` (plus
                      `--dataset=fashion_mnist --manual_dir=...` for the clothes):
                      exactly what a user types, one run per budget N; the samples
                      come from the exported generator.
    tutorial_002, tutorial_002_ema, tf_dcgan, tutorial_004
                      the tutorials' recipes in their own plain TensorFlow loops
                      (benchmarks/tutorial_loops.py); one run per dataset, sampled at
                      each budget (the clock stops while it samples).

The clock of a budget starts before the first training step (tracing included) and
counts everything a run does while training (for the CLI: its epoch-end grids and
checkpoints too, which `--train_minutes` counts); start-up, sampling and export are
outside it. The CLI's whole wall time is recorded as well.

Scoring, per run and budget: 5,000 samples from fixed latents against 5,000 real
training images (the images the generators train on), in two feature spaces:

    bundled   gan_tf.metrics.ClassifierExtractor (the package's classifier);
    judge     benchmarks/judge.py's independent classifier, trained on the held-out
              split (another architecture and seed).

For each: FID, precision and recall (k = 3, Kynkaanniemi et al. 2019), and the class
balance of the samples as the classifier predicts it (the smallest class's share;
the aim is >= 8 % for every class). Rows are appended to --json, the table printed in
markdown, and --plot draws FID against minutes (one panel per dataset and judge).

Fair timing needs a quiet machine: the wall-clock budgets assume nothing else runs.
`--clock=cpu` budgets this process's CPU time instead (minutes x --cores CPU-seconds),
which other jobs on a shared machine cannot shorten; the CLI recipe only has a
wall-clock budget, so under --clock=cpu the default preset runs in-process through
`gan_tf.trainer.train_and_evaluate` (the CLI's own function) with a CPU budget.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time

from benchmarks import judge
from benchmarks import records
from benchmarks import tutorial_loops

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

NUM_SAMPLES = 5000
SAMPLE_SEED = 1
LOOP_RECIPES = tuple(tutorial_loops.RECIPES)
RECIPES = ("default",) + LOOP_RECIPES
DATA_FLAGS = {"mnist_sample": [],
              "fashion_mnist": ["--dataset=fashion_mnist",
                                f"--manual_dir={judge.FASHION_DIR}"]}
MIN_CLASS_SHARE = 0.07


def latents(latent_dim=tutorial_loops.LATENT_DIM):
    """The fixed N(0, 1) latents every recipe is sampled at: float32 (5000, dim)."""
    import numpy as np

    return np.random.default_rng(SAMPLE_SEED).standard_normal(
        (NUM_SAMPLES, latent_dim)).astype(np.float32)


def save_samples(path, images, stats, labels=None):
    """Writes images (N, 28, 28, 1) in [-1, 1] as float16 .npy plus a stats .json (and,
    for a conditional model, the requested labels as .labels.npy)."""
    import numpy as np

    np.save(path + ".npy", np.asarray(images, np.float16))
    if labels is not None:
        np.save(path + ".labels.npy", np.asarray(labels, np.int32))
    with open(path + ".json", "w") as f:
        json.dump(stats, f)


# -- Workers: one training run each, in a fresh process ----------------------------


def loop_worker(recipe, dataset, budgets_s, clock_kind, out):
    """Trains a plain-loop recipe, writing out/<recipe>_<budget>.npy at each budget."""
    images, _ = judge.load_split(dataset, "train")
    fixed = latents()

    def on_budget(loop, budget_s, stats):
        stats = {**stats, "images": stats["steps"] * loop.batch_size,
                 "clock": clock_kind, "budget_s": budget_s}
        save_samples(os.path.join(out, f"{recipe}_{budget_s:g}"), loop.sample(fixed), stats)
        print(json.dumps({"recipe": recipe, **stats}), flush=True)

    tutorial_loops.train(recipe, images, budgets_s, on_budget, clock_kind)


def budget_callback(budgets_s, clock_kind, on_budget):
    import keras

    now = tutorial_loops.clock(clock_kind)

    class Budgets(keras.callbacks.Callback):
        """Calls on_budget at each training-time budget; stops after the last."""

        def __init__(self):
            super().__init__()
            self.pending, self.spent, self.start = list(budgets_s), 0.0, None

        def on_train_begin(self, logs=None):
            self.start = now()

        def on_train_batch_end(self, batch, logs=None):
            if self.pending and self.spent + now() - self.start >= self.pending[0]:
                self.spent += now() - self.start
                on_budget(self.model, self.pending.pop(0), self.spent)
                self.start = now()
                if not self.pending:
                    self.model.stop_training = True

    return Budgets()


def fixed_latents(gan):
    """The latents a trained GAN is scored at: `latents()` for N(0, 1) latents without
    codes, else the model's own layout drawn with SAMPLE_SEED (U(-1, 1), InfoGAN codes)."""
    if gan.latent_distribution == "normal" and not any(gan.code_layout):
        return latents(gan.latent_dim)
    return gan.sample_latents(NUM_SAMPLES, seed=SAMPLE_SEED).numpy()


def preset_worker(preset, overrides, dataset, budgets_s, clock_kind, out, seed=0):
    """Trains a preset through `trainer.train_and_evaluate` (what the CLI calls) with
    training-time budgets on `clock_kind`; samples the model at each budget (balanced
    labels for a conditional model)."""
    import keras

    from gan_tf import configs, tasks, trainer

    fields = {"train.train_minutes": None, "train.epochs": 10**6, "train.seed": seed,
              **({"data.name": "fashion_mnist", "data.manual_dir": judge.FASHION_DIR}
                 if dataset == "fashion_mnist" else {}), **overrides}
    config = tasks.validate(configs.override(configs.get(preset), **fields))
    name = os.path.basename(out.rstrip("/"))

    def on_budget(gan, budget_s, spent):
        steps = gan.train_steps
        stats = {"steps": steps, "images": steps * config.data.batch_size,
                 "seconds": spent, "clock": clock_kind, "budget_s": budget_s,
                 "precision": keras.mixed_precision.global_policy().name}
        labels = gan.sample_labels(NUM_SAMPLES)
        images = gan.generate(latents=fixed_latents(gan), labels=labels)
        save_samples(os.path.join(out, f"run_{budget_s:g}"), images, stats, labels)
        print(json.dumps({"run": name, **stats}), flush=True)

    trainer.train_and_evaluate(config, os.path.join(out, "workdir"), restart=True,
                               verbose=0, extra_callbacks=[budget_callback(
                                   budgets_s, clock_kind, on_budget)])


def cli_run(dataset, minutes, out, extra_flags=()):
    """`python -m gan_tf.train --train_minutes=N` in a fresh process; samples its export."""
    from gan_tf import checkpoint, export
    from gan_tf import workdir as workdir_lib
    from gan_tf.metrics import evaluation

    workdir = os.path.join(out, f"default_{minutes:g}min")
    command = [sys.executable, "-m", "gan_tf.train", f"--train_minutes={minutes:g}",
               f"--workdir={workdir}", *DATA_FLAGS[dataset], *extra_flags]
    print("$", " ".join(command[1:]), flush=True)
    start = time.perf_counter()
    with open(workdir + ".log", "w") as log:
        subprocess.run(command, check=True, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    wall = time.perf_counter() - start
    serve, metadata = export.load_generator(os.path.join(workdir, "generator"))
    images = evaluation.generator_images(serve, NUM_SAMPLES, metadata["latent_dim"],
                                         metadata["latent_distribution"], seed=SAMPLE_SEED)
    epochs = len(checkpoint.read_history(os.path.join(workdir, "history.json"))
                 .get("epoch", []))
    batch = workdir_lib.read_config_file(os.path.join(workdir, "config.json")).data.batch_size
    steps = _steps_from_log(workdir + ".log", batch)
    stats = {"budget_s": 60.0 * minutes, "clock": "wall", "process_wall_s": round(wall, 1),
             "epochs": epochs, "images": steps, "command": " ".join(command[1:])}
    save_samples(os.path.join(out, f"default_{60.0 * minutes:g}"), images, stats)
    return stats


def _steps_from_log(path, batch):
    # The CLI logs "trained N images in S s"; the images count is what we want.
    import re

    with open(path) as f:
        found = re.findall(r"trained (\d+) images in", f.read())
    return int(found[-1]) if found else None


def spawn_worker(args):
    """Runs this script as a worker with `args`; raises if it fails."""
    subprocess.run([sys.executable, "-m", "benchmarks.quality_per_minute", *args],
                   check=True, cwd=ROOT)


# -- Scoring -------------------------------------------------------------------------


class Scorer:
    """Scores samples of one dataset against 5,000 real training images in both spaces."""

    def __init__(self, dataset):
        from gan_tf import metrics

        real, _ = judge.load_split(dataset, "train")
        real = real[:NUM_SAMPLES]  # load_split shuffles with a fixed seed
        self.extractors = {"bundled": metrics.ClassifierExtractor(dataset),
                           "judge": judge.Judge(dataset)}
        self.real = {name: e.extract(real) for name, e in self.extractors.items()}

    def score(self, images):
        """{space: {fid, precision, recall, min_class_share, class_counts}}."""
        import numpy as np

        from gan_tf import metrics

        result = {}
        for name, extractor in self.extractors.items():
            fake = extractor.extract(np.asarray(images, np.float32))
            counts = np.bincount(fake.probabilities.argmax(1), minlength=10)
            precision, recall = metrics.precision_recall(self.real[name].features,
                                                         fake.features, k=3)
            result[name] = {
                "fid": round(float(metrics.frechet_distance(self.real[name].features,
                                                            fake.features)), 3),
                "precision": round(float(precision), 4), "recall": round(float(recall), 4),
                "min_class_share": round(float(counts.min() / counts.sum()), 4),
                "class_counts": counts.tolist()}
        return result


def score_file(scorer, path):
    import numpy as np

    with open(path + ".json") as f:
        stats = json.load(f)
    return {**stats, **scorer.score(np.load(path + ".npy"))}


# -- The table ---------------------------------------------------------------------


def run_recipe(recipe, dataset, minutes, args):
    """Trains `recipe` on `dataset` to every budget; returns the sample paths written."""
    out = os.path.join(args.out, dataset)
    os.makedirs(out, exist_ok=True)
    scale = 60.0 * (args.cores if args.clock == "cpu" else 1)
    budgets = [scale * m for m in minutes]
    common = [f"--dataset={dataset}", f"--clock={args.clock}",
              "--budgets_s=" + ",".join(f"{b:g}" for b in budgets)]
    if recipe == "default" and args.clock == "wall":
        for m in minutes:
            cli_run(dataset, m, out)
        return [os.path.join(out, f"default_{60.0 * m:g}") for m in minutes]
    if recipe == "default":
        run_out = os.path.join(out, "default_cpu")
        spawn_worker(["--worker=preset", "--recipe=default", f"--out={run_out}", *common])
        return [os.path.join(run_out, f"run_{b:g}") for b in budgets]
    spawn_worker(["--worker=loop", f"--recipe={recipe}", f"--out={out}", *common])
    return [os.path.join(out, f"{recipe}_{b:g}") for b in budgets]


def print_table(rows):
    print("\n| data | recipe | min | images | FID bundled | FID judge | smallest class "
          "(judge) | precision / recall (judge) |\n|---|---|---|---|---|---|---|---|")
    for r in rows:
        images = f"{r['images']:,}" if r.get("images") else "-"
        print(f"| {r['dataset']} | {r['recipe']} | {r['minutes']:g} | {images} | "
              f"{r['bundled']['fid']:.2f} | {r['judge']['fid']:.2f} | "
              f"{100 * r['judge']['min_class_share']:.1f} % | "
              f"{r['judge']['precision']:.3f} / {r['judge']['recall']:.3f} |")


def plot(rows, path):
    """FID against minutes, one line per recipe; a panel per dataset and judge."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    fig, axes = plt.subplots(len(datasets), 2, figsize=(10, 3.6 * len(datasets)),
                             squeeze=False)
    for i, dataset in enumerate(datasets):
        for j, space in enumerate(("bundled", "judge")):
            ax = axes[i][j]
            for recipe in dict.fromkeys(r["recipe"] for r in rows):
                mine = [r for r in rows if r["dataset"] == dataset and r["recipe"] == recipe]
                if mine:
                    ax.plot([r["minutes"] for r in mine], [r[space]["fid"] for r in mine],
                            marker="o", label=recipe)
            ax.set_yscale("log")
            ax.set_xlabel("training minutes (2 CPU cores)")
            ax.set_ylabel("FID (lower is better)")
            ax.set_title(f"{dataset}: {'bundled classifier' if space == 'bundled' else 'independent judge'}")
            ax.grid(alpha=0.3, which="both")
            ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    print(f"wrote {path}")


def report(args):
    """The table and plot of the rows in args.json recorded since args.report_since
    (and until args.report_until, when given)."""
    rows = {}
    for record in records.read(args.json, "quality_per_minute"):
        if (record["clock"] == args.clock and record["date"] >= args.report_since
                and (not args.report_until or record["date"] <= args.report_until)):
            rows.update({(r["dataset"], r["recipe"], r["minutes"]): r
                         for r in record["rows"]})
    if not rows:
        sys.exit(f"no {args.clock}-clock records in {args.json} since {args.report_since}")
    ordered = [rows[key] for key in sorted(rows, key=lambda k: (
        k[0] != "mnist_sample", RECIPES.index(k[1]), k[2]))]
    print_table(ordered)
    if args.plot:
        plot(ordered, args.plot)
    return ordered


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="mnist_sample,fashion_mnist")
    parser.add_argument("--recipes", default=",".join(RECIPES))
    parser.add_argument("--minutes", default="3,5,10", help="ascending training budgets")
    parser.add_argument("--clock", default="wall", choices=("wall", "cpu"))
    parser.add_argument("--cores", type=int, default=os.cpu_count(),
                        help="with --clock=cpu, a minute is this many CPU-minutes")
    parser.add_argument("--out", default="/tmp/quality_per_minute",
                        help="samples, workdirs and logs")
    parser.add_argument("--json", default=os.path.join(HERE, "quality_per_minute.json"),
                        help="append the results here ('' for none)")
    parser.add_argument("--plot", default=os.path.join(ROOT, "docs", "images",
                                                       "quality_per_minute.png"))
    parser.add_argument("--report_since", metavar="'YYYY-MM-DD HH:MM'",
                        help="train nothing: print the table and draw the plot from the "
                             "--json records of this --clock written since then (a later "
                             "row of the same data, recipe and minutes replaces one before)")
    parser.add_argument("--report_until", metavar="'YYYY-MM-DD HH:MM'",
                        help="with --report_since: only the records written until then")
    # worker mode (internal)
    parser.add_argument("--worker", choices=("loop", "preset"), help=argparse.SUPPRESS)
    parser.add_argument("--recipe", help=argparse.SUPPRESS)
    parser.add_argument("--dataset", help=argparse.SUPPRESS)
    parser.add_argument("--budgets_s", help=argparse.SUPPRESS)
    parser.add_argument("--set", action="append", default=[], help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def worker_main(args):
    budgets = [float(b) for b in args.budgets_s.split(",")]
    os.makedirs(args.out, exist_ok=True)
    if args.worker == "loop":
        loop_worker(args.recipe, args.dataset, budgets, args.clock, args.out)
    else:
        overrides = {}
        for item in args.set:
            key, _, value = item.partition("=")
            overrides[key] = json.loads(value)
        preset_worker(args.recipe, overrides, args.dataset, budgets, args.clock, args.out,
                      seed=args.seed)


def main(argv=None):
    args = parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if args.worker:
        return worker_main(args)
    if args.report_since:
        return report(args)
    minutes = [float(m) for m in args.minutes.split(",")]
    recipes = args.recipes.split(",")
    unknown = [r for r in recipes if r not in RECIPES] + [
        d for d in args.datasets.split(",") if d not in DATA_FLAGS]
    if unknown or minutes != sorted(minutes):
        sys.exit(f"bad --recipes/--datasets {unknown} or unsorted --minutes {minutes}")
    rows, started = [], time.time()
    for dataset in args.datasets.split(","):
        scorer = Scorer(dataset)
        for recipe in recipes:
            print(f"[{(time.time() - started) / 60:.0f} min] {dataset}: {recipe}", flush=True)
            for m, path in zip(minutes, run_recipe(recipe, dataset, minutes, args)):
                rows.append({"dataset": dataset, "recipe": recipe, "minutes": m,
                             **score_file(scorer, path)})
                print(json.dumps(rows[-1]), flush=True)
    print_table(rows)
    if args.json:
        records.append(args.json, "quality_per_minute", {
            "machine": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "clock": args.clock, "argv": argv or sys.argv[1:], "rows": rows})
    if args.plot:
        plot(rows, args.plot)
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
