"""The leaderboard: every preset trained for the same CPU time, on the bundled MNIST
digits and on Fashion-MNIST, scored the same way (docs/leaderboard.md).

    python -m benchmarks.leaderboard                        # every row (~2 h 30 of CPU
                                                            # training on 2 idle cores)
    python -m benchmarks.leaderboard --presets=wgan_gp,cgan --datasets=mnist_sample
    python -m benchmarks.leaderboard --report               # docs/leaderboard.md only

Each (preset, dataset) trains in a fresh process through `gan_tf.trainer.
train_and_evaluate` (what `python -m gan_tf.train --config=PRESET` calls) with the
preset's own networks, loss and recipe; only the dataset and the time budget change:

    budget    --minutes x --cores CPU-seconds of the training process
              (benchmarks/quality_per_minute.py, `--clock=cpu`: other jobs on a shared
              machine cannot shorten it); tracing and the preset's own epoch-end work
              (grids, checkpoints) count, start-up and scoring do not.
    data      mnist_sample (the 9,003 bundled digits; the tutorial presets, written for
              the full MNIST, are pointed at them) or fashion_mnist (60,000 training
              images from --manual_dir, Debian's dataset-fashion-mnist).

The latent presets are scored by quality_per_minute's `Scorer`: 5,000 samples from
fixed latents against 5,000 real training images, FID in the bundled classifier's
features and in benchmarks/judge.py's independent judge, the judge's precision and
recall (k = 3) and the smallest class share by each classifier. cgan also gets the
share of samples of label k that the bundled classifier calls k, per class. A row whose
judge recall is under 5 % or whose smallest class holds under 1 % (either classifier)
is marked collapsed. cyclegan is measured by benchmarks/cyclegan_quality.py: A <-> A
inverted, mean absolute error against the true inverse on the test split.

Each row is appended to --json (JSON lines, benchmarks/records.py) with the CPU, the
precision the run trained in and the date; a 10x10 grid of its first 100 samples goes
to --images. After each row, and with --report alone, --doc is rewritten from the
newest row of each (preset, dataset).
"""

import argparse
import json
import os
import subprocess
import sys
import time

from benchmarks import judge
from benchmarks import quality_per_minute
from benchmarks import records

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BENCHMARK = "leaderboard"

# The presets of 28x28 grayscale images, in the table's order.
LATENT_PRESETS = ("default", "wgan", "wgan_gp", "hinge_sn", "lsgan", "cgan", "infogan",
                  "stylegan", "tutorial_000", "tutorial_002", "tutorial_003",
                  "tutorial_004")
TRANSLATION_PRESETS = ("cyclegan",)
PRESETS = LATENT_PRESETS + TRANSLATION_PRESETS
# Presets of colour images whose data this offline machine does not have.
RGB_PRESETS = ("tutorial_001", "dcgan_celeba64", "dcgan_svhn")
DATASETS = tuple(quality_per_minute.DATA_FLAGS)
COLLAPSE_RECALL = 0.05
COLLAPSE_CLASS_SHARE = 0.01
# Why a preset kept as its source wrote it falls short in this budget (a collapsed
# row's note says it). The tutorial presets keep their tutorials' recipes, wgan its
# paper's.
KEPT_AS_WRITTEN = {
    "wgan": "WGAN's own recipe (RMSprop 5e-5, clipping 0.01) learns slowly: its paper "
            "trains about 100,000 generator steps",
    "tutorial_000": "tutorial 000's recipe as written (Adam 1e-3, beta1 0.9, a "
                    "784-dim uniform z); the notebook gan_principles_mnist shows it as "
                    "the tutorial's mode-collapse example",
    "tutorial_002": "tutorial 002's MLP pair as written: its speckled samples fill a "
                    "small corner of the judge's features (its grid still shows several "
                    "kinds of sample)",
    "tutorial_004": "tutorial 004's small MLP pair (one hidden layer of 128) as written: "
                    "its speckled samples fill a small corner of the judge's features "
                    "(its grid still shows several kinds of sample)",
    "tutorial_003": "tutorial 003's minimax loss gives G almost no gradient while D "
                    "wins, and the TensorFlow DCGAN tutorial's networks in float32 at "
                    "batch 256 run under 500 steps in this budget",
}
GRID_IMAGES = 100


def machine():
    """{"cpu": lscpu's model name, "avx512_bf16": bool, "cores": int}."""
    try:
        found = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    except OSError:
        found = ""
    fields = dict(line.split(":", 1) for line in found.splitlines() if ":" in line)
    model = fields.get("Model name", "").strip()
    if not model:
        import platform

        model = platform.processor() or platform.machine()
    return {"cpu": model, "avx512_bf16": "avx512_bf16" in fields.get("Flags", "").split(),
            "cores": os.cpu_count()}


def data_fields(dataset):
    """The config fields that point a preset at `dataset` (mnist_sample / fashion_mnist)."""
    if dataset == "fashion_mnist":
        return {"data.name": "fashion_mnist", "data.manual_dir": judge.FASHION_DIR}
    return {"data.name": "mnist_sample"}


# -- cyclegan: trained and measured in one worker process ----------------------------


def cyclegan_worker(dataset, budget_s, clock_kind, out):
    """Trains the cyclegan preset on `dataset` <-> its inversion for `budget_s` of
    `clock_kind` time, then writes out/result.json (cyclegan_quality's measure plus the
    run's steps and precision) and out/grid.png."""
    import keras

    from benchmarks import cyclegan_quality
    from gan_tf import configs, data, tasks, trainer

    fields = {**data_fields(dataset), "data.name_b": dataset + data.INVERTED_SUFFIX,
              "train.train_minutes": None, "train.epochs": 10**6, "train.seed": 0}
    config = tasks.validate(configs.override(configs.get("cyclegan"), **fields))

    def on_budget(model, budget, spent):
        steps = int(model.train_steps)
        result = {"steps": steps, "images": steps * config.data.batch_size,
                  "seconds": spent, "clock": clock_kind, "budget_s": budget,
                  "precision": keras.mixed_precision.global_policy().name,
                  **cyclegan_quality.measure(model, config, os.path.join(out, "grid.png"))}
        with open(os.path.join(out, "result.json"), "w") as f:
            json.dump(result, f)
        print(json.dumps(result), flush=True)

    trainer.train_and_evaluate(config, os.path.join(out, "workdir"), restart=True,
                               verbose=0, extra_callbacks=[quality_per_minute.budget_callback(
                                   [budget_s], clock_kind, on_budget)])


# -- One row -------------------------------------------------------------------------


def _grid_path(args, preset, dataset):
    os.makedirs(args.images, exist_ok=True)
    return os.path.join(args.images, f"{preset}_{dataset}.png")


def _stored_path(path, json_path):
    """`path` as a row keeps it: relative to the folder of the rows' file."""
    return os.path.relpath(os.path.abspath(path),
                           os.path.dirname(os.path.abspath(json_path or ".")))


def per_class_accuracy(scorer, images, labels):
    """For each class k: the share of samples of label k that the bundled classifier
    assigns to k."""
    import numpy as np

    predicted = scorer.extractors["bundled"].extract(
        np.asarray(images, np.float32)).probabilities.argmax(1)
    return [round(float(np.mean(predicted[labels == k] == k)), 4)
            for k in range(int(labels.max()) + 1)]


def run_latent(preset, dataset, args, scorer, budget_s):
    """Trains and scores a latent preset; returns its row fields."""
    import numpy as np

    from gan_tf import viz

    out = os.path.join(args.out, dataset, preset)
    fields = data_fields(dataset) if dataset == "mnist_sample" else {}
    quality_per_minute.spawn_worker([
        "--worker=preset", f"--recipe={preset}", f"--out={out}", f"--dataset={dataset}",
        f"--clock={args.clock}", f"--budgets_s={budget_s:g}",
        *(f"--set={k}={json.dumps(v)}" for k, v in fields.items())])
    path = os.path.join(out, f"run_{budget_s:g}")
    row = quality_per_minute.score_file(scorer, path)
    images = np.load(path + ".npy").astype(np.float32)
    if os.path.exists(path + ".labels.npy"):
        row["per_class_accuracy"] = per_class_accuracy(
            scorer, images, np.load(path + ".labels.npy"))
    grid = _grid_path(args, preset, dataset)
    viz.save_image_grid(images[:GRID_IMAGES], grid, columns=10)
    return {**row, "grid": _stored_path(grid, args.json)}


def run_translation(preset, dataset, args, budget_s):
    """Trains and measures cyclegan in a worker process; returns its row fields."""
    import shutil

    out = os.path.join(args.out, dataset, preset)
    os.makedirs(out, exist_ok=True)
    subprocess.run([sys.executable, "-m", "benchmarks.leaderboard", "--worker=cyclegan",
                    f"--dataset={dataset}", f"--clock={args.clock}",
                    f"--budget_s={budget_s:g}", f"--out={out}"], check=True, cwd=ROOT)
    with open(os.path.join(out, "result.json")) as f:
        row = {"cyclegan": json.load(f)}
    for key in ("steps", "images", "seconds", "clock", "budget_s", "precision"):
        row[key] = row["cyclegan"].pop(key)
    grid = _grid_path(args, preset, dataset)
    shutil.copyfile(os.path.join(out, "grid.png"), grid)
    return {**row, "grid": _stored_path(grid, args.json)}


def command_for(presets, datasets):
    return (f"python -m benchmarks.leaderboard --presets={','.join(presets)} "
            f"--datasets={','.join(datasets)}")


def run(args, presets, datasets):
    """Trains and scores each (preset, dataset); appends each row to args.json."""
    rows, started, host = [], time.time(), machine()
    budget_s = 60.0 * args.minutes * (args.cores if args.clock == "cpu" else 1)
    for dataset in datasets:
        scorer = None
        for preset in presets:
            print(f"[{(time.time() - started) / 60:.0f} min] {dataset}: {preset}",
                  flush=True)
            if preset in TRANSLATION_PRESETS:
                row = run_translation(preset, dataset, args, budget_s)
            else:
                scorer = scorer or quality_per_minute.Scorer(dataset)
                row = run_latent(preset, dataset, args, scorer, budget_s)
            row = {"preset": preset, "dataset": dataset, "minutes": args.minutes,
                   **host,
                   "command": command_for([preset], [dataset]), **row}
            if args.json:
                row = records.append(args.json, BENCHMARK, row)
                if args.doc:
                    write_report(args.json, args.doc)
            print(json.dumps(row), flush=True)
            rows.append(row)
    return rows


# -- The report ----------------------------------------------------------------------


def collapse_note(row):
    """"collapsed: ..." when the samples are collapsed, else ""."""
    reasons = []
    if row["judge"]["recall"] < COLLAPSE_RECALL:
        reasons.append(f"judge recall {row['judge']['recall']:.3f} < {COLLAPSE_RECALL:g}")
    smallest = min(row["judge"]["min_class_share"], row["bundled"]["min_class_share"])
    if smallest < COLLAPSE_CLASS_SHARE:
        reasons.append(f"a class holds {100 * smallest:.1f} % of the samples")
    if not reasons:
        return ""
    why = KEPT_AS_WRITTEN.get(row["preset"])
    return "collapsed: " + "; ".join(reasons) + (f". Why: {why}" if why else "")


def best_lines(rows):
    """One line per dataset: the unconditional presets with the lowest FID by each
    classifier (a conditional one is given the labels, hence the class balance)."""
    from gan_tf import configs

    unconditional = [p for p in LATENT_PRESETS
                     if configs.get(p).model.family != "conditional"]
    lines = []
    for dataset in DATASETS:
        scored = [r for (preset, data), r in rows.items()
                  if data == dataset and preset in unconditional]
        if not scored:
            continue
        best = {space: min(scored, key=lambda r: r[space]["fid"])
                for space in ("judge", "bundled")}
        lines.append(f"- {dataset} ({len(scored)} of the {len(unconditional)} "
                     f"unconditional presets run): lowest FID by the judge "
                     f"`{best['judge']['preset']}` ({best['judge']['judge']['fid']:.2f}), "
                     f"by the bundled classifier `{best['bundled']['preset']}` "
                     f"({best['bundled']['bundled']['fid']:.2f})")
    return (lines or ["- no rows yet"]) + [
        "- cgan is left out of that comparison: it is given the labels, so its samples "
        "are balanced by construction (its own table is below)"]


def newest_rows(path):
    """{(preset, dataset): the newest leaderboard row of that pair in `path`}."""
    return {(r["preset"], r["dataset"]): r for r in records.read(path, BENCHMARK)}


def _latent_table(rows):
    lines = ["| preset | data | compute | budget | steps | FID bundled | FID judge | "
             "precision / recall (judge) | smallest class judge / bundled | date | note |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for preset in LATENT_PRESETS:
        for dataset in DATASETS:
            r = rows.get((preset, dataset))
            if r is None:
                lines.append(f"| {preset} | {dataset} | | | | | | | | | not run yet: "
                             f"`{command_for([preset], [dataset])}` |")
                continue
            j, b = r["judge"], r["bundled"]
            lines.append(
                f"| {preset} | {dataset} | {r['precision']} | {r['minutes']:g} min | "
                f"{r['steps']:,} | {b['fid']:.2f} | {j['fid']:.2f} | "
                f"{j['precision']:.3f} / {j['recall']:.3f} | "
                f"{100 * j['min_class_share']:.1f} % / {100 * b['min_class_share']:.1f} % | "
                f"{r['date']} | {collapse_note(r)} |")
    return lines


def _cgan_table(rows):
    lines = ["| data | " + " | ".join(str(k) for k in range(10)) + " | mean |",
             "|---" * 12 + "|"]
    for dataset in DATASETS:
        r = rows.get(("cgan", dataset))
        if r and r.get("per_class_accuracy"):
            shares = r["per_class_accuracy"]
            lines.append(f"| {dataset} | " + " | ".join(f"{100 * s:.0f} %" for s in shares)
                         + f" | {100 * sum(shares) / len(shares):.1f} % |")
    return lines if len(lines) > 2 else ["Not run yet."]


def _cyclegan_table(rows):
    lines = ["| data | compute | budget | steps | MAE G_AB(a) vs -a | MAE G_BA(b) vs -b | "
             "untranslated | cycle error A / B | date |", "|---|---|---|---|---|---|---|---|---|"]
    for dataset in DATASETS:
        r = rows.get(("cyclegan", dataset))
        if r is None:
            lines.append(f"| {dataset} | | | | | | | | not run yet: "
                         f"`{command_for(['cyclegan'], [dataset])}` |")
            continue
        c = r["cyclegan"]
        lines.append(f"| {dataset} | {r['precision']} | {r['minutes']:g} min | "
                     f"{r['steps']:,} | {c['mae_g_ab_vs_inverse']:.3f} | "
                     f"{c['mae_g_ba_vs_inverse']:.3f} | "
                     f"{c['mae_untranslated_vs_inverse']:.3f} | "
                     f"{c['cycle_error_a']:.3f} / {c['cycle_error_b']:.3f} | {r['date']} |")
    return lines


def _rgb_lines():
    from gan_tf import configs

    lines = ["| preset | data | why not measured |", "|---|---|---|"]
    for preset in RGB_PRESETS:
        config = configs.get(preset)
        lines.append(f"| {preset} | {config.data.name}, colour | its real data cannot be "
                     f"had offline here (no internet; neither a prepared tfds copy nor "
                     f"the original files are on this machine) |")
    return lines


def _grid_lines(rows, doc, json_path):
    lines = ["| preset | " + " | ".join(DATASETS) + " |", "|---" * (len(DATASETS) + 1) + "|"]
    for preset in PRESETS:
        cells = []
        for dataset in DATASETS:
            r = rows.get((preset, dataset))
            if r is None or not r.get("grid"):
                cells.append("not run yet")
                continue
            grid = os.path.join(os.path.dirname(os.path.abspath(json_path)), r["grid"])
            link = os.path.relpath(grid, os.path.dirname(os.path.abspath(doc)))
            cells.append(f"![{preset} on {dataset}]({link})")
        lines.append(f"| {preset} | " + " | ".join(cells) + " |")
    return lines


def _machines(rows):
    found = sorted({(r["cpu"], r["avx512_bf16"], r["cores"]) for r in rows.values()})
    return "; ".join(f"{cpu} ({'with' if bf16 else 'without'} AVX-512 BF16), {cores} "
                     f"cores" for cpu, bf16, cores in found) or "none yet"


INTRO = """\
Every preset trained for the same CPU time on the bundled MNIST digits
(`mnist_sample`, 9,003 training images) and on Fashion-MNIST (60,000 training images,
Debian's `dataset-fashion-mnist`), each with its own networks, loss and recipe: only the
dataset and the time budget change (the tutorial presets, written for the full MNIST,
are pointed at the bundled digits). Each run trains in a fresh process through
`gan_tf.trainer.train_and_evaluate`, the function behind `python -m gan_tf.train
--config=PRESET`.

- **Budget**: 5 minutes x 2 cores = 600 CPU-seconds of the training process
  (`--clock=cpu` of benchmarks/quality_per_minute.py), which other jobs on the shared
  machine cannot shorten (they still cost some efficiency per CPU-second: step counts
  of one recipe vary by ~20 % between runs, docs/performance.md). Tracing and the preset's own
  epoch-end work (grids, checkpoints) count; start-up and scoring do not.
- **Scores** (quality_per_minute's `Scorer`): 5,000 samples from fixed latents against
  5,000 real training images; FID in the features of the bundled classifier of that
  dataset and of the independent judge (benchmarks/judge.py, trained only on the test
  split); the judge's precision and recall (k = 3); the smallest class's share of the
  samples by each classifier (balanced: 10 %). Lower FID is better. One seed per row.
- **Collapsed**: judge recall under 5 % or a class under 1 % of the samples (either
  classifier). The note of a collapsed row of a preset kept as its source wrote it (the
  tutorial presets, wgan) says why.
- **compute**: the Keras precision policy the run trained in (the recipes' `auto` is
  bf16 on a CPU with AVX-512 BF16; the tutorials, stylegan and cyclegan train in
  float32). **steps**: `GAN.train_steps` (in wgan and wgan_gp each holds 5 critic
  updates)."""


def report_text(rows, doc, json_path):
    """docs/leaderboard.md's text for `rows` ({(preset, dataset): row}) read from
    `json_path` (whose folder the rows' grid paths are relative to)."""
    dates = sorted(r["date"] for r in rows.values())
    period = f"{dates[0]} to {dates[-1]}" if dates else "none yet"
    return "\n".join([
        "# Leaderboard: every preset at equal CPU time", "",
        "Written by `python -m benchmarks.leaderboard --report` from the newest row of "
        "each preset and dataset in benchmarks/leaderboard.json; `python -m "
        "benchmarks.leaderboard --presets=P --datasets=D` trains and adds rows "
        "(benchmarks/leaderboard.py).", "",
        INTRO, "",
        f"Machine: {_machines(rows)}. Runs: {period} (the machine's local time).", "",
        "## Presets that generate 28x28 grayscale images", "", *best_lines(rows), "",
        *_latent_table(rows), "",
        "## cgan: does a sample of label k look like a k?", "",
        "Share of the 500 samples of each label that the bundled classifier assigns to "
        "that label; it says nothing of variety (a generator that ignores its noise "
        "scores 100 %: see the note column above and the grid below).", "", *_cgan_table(rows), "",
        "## cyclegan: A <-> A inverted", "",
        "benchmarks/cyclegan_quality.py: mean absolute error, in [-1, 1] units, on the "
        "first 997 test images of each side against the true translation (the inverse); "
        "\"untranslated\" is the error of returning the input.", "",
        *_cyclegan_table(rows), "",
        "## Presets not measured", "", *_rgb_lines(), "",
        "## Samples", "",
        "The first 100 of the 5,000 scored samples (cgan: one label per column, 0-9). "
        "cyclegan, by rows: test A, G_AB(A), G_BA(G_AB(A)), test B, G_BA(B), "
        "G_AB(G_BA(B)).", "",
        *_grid_lines(rows, doc, json_path), ""])


def write_report(path, doc):
    """Rewrites `doc` from the newest rows in `path`; returns the rows used."""
    rows = newest_rows(path)
    with open(doc, "w") as f:
        f.write(report_text(rows, doc, path))
    print(f"wrote {doc} ({len(rows)} rows)", flush=True)
    return rows


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default=",".join(PRESETS))
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--minutes", type=float, default=5.0, help="training budget")
    parser.add_argument("--clock", default="cpu", choices=("cpu", "wall"))
    parser.add_argument("--cores", type=int, default=os.cpu_count(),
                        help="with --clock=cpu, a minute is this many CPU-minutes")
    parser.add_argument("--out", default="/tmp/leaderboard",
                        help="workdirs, samples and logs")
    parser.add_argument("--json", default=os.path.join(HERE, "leaderboard.json"),
                        help="append the rows here ('' for none)")
    parser.add_argument("--doc", default=os.path.join(ROOT, "docs", "leaderboard.md"),
                        help="rewrite this report from --json ('' for none)")
    parser.add_argument("--images", default=os.path.join(ROOT, "docs", "images",
                                                         "leaderboard"))
    parser.add_argument("--report", action="store_true",
                        help="train nothing: rewrite --doc from --json")
    # worker mode (internal)
    parser.add_argument("--worker", choices=("cyclegan",), help=argparse.SUPPRESS)
    parser.add_argument("--dataset", help=argparse.SUPPRESS)
    parser.add_argument("--budget_s", type=float, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if args.worker:
        return cyclegan_worker(args.dataset, args.budget_s, args.clock, args.out)
    if args.report:
        if not args.json or not args.doc:
            sys.exit("--report needs --json (the rows) and --doc (the report to write)")
        return write_report(args.json, args.doc)
    presets, datasets = args.presets.split(","), args.datasets.split(",")
    unknown = [p for p in presets if p not in PRESETS] + [
        d for d in datasets if d not in DATASETS]
    if unknown:
        sys.exit(f"unknown --presets/--datasets {', '.join(unknown)}; presets: "
                 f"{', '.join(PRESETS)}; datasets: {', '.join(DATASETS)}")
    return run(args, presets, datasets)


if __name__ == "__main__":
    main(sys.argv[1:])
