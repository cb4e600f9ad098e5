"""The default preset's ablation: each choice against its alternatives, at an equal
CPU-time budget, scored like benchmarks/quality_per_minute.py.

    python -m benchmarks.default_ablation                        # every variant, 2 seeds
    python -m benchmarks.default_ablation --variants=default,no_ema --seeds=0,1,2
    python -m benchmarks.default_ablation --variants=default \
        --extra='wide={"model.generator": {"base_channels": 48}}'

A variant is the `default` preset with some config fields replaced (VARIANTS, or
--extra NAME=JSON). Each run is a fresh process through `gan_tf.trainer.
train_and_evaluate` (what `python -m gan_tf.train` calls), budgeted in CPU time of its
process (--cpu_minutes x --cores CPU-seconds, start-up excluded) so that other jobs on
a shared machine slow a run down without changing what it trains; the runs alternate
between variants (variant A seed 0, B seed 0, ..., A seed 1, ...). Samples are
taken at each --snapshots budget; scores (FID, precision/recall, class balance in the
bundled classifier's and the independent judge's features, 5,000 samples against
5,000 training images) are appended to --json and tabulated as means over seeds.
"""

import argparse
import json
import os
import statistics
import sys
import time

from benchmarks import quality_per_minute as qpm
from benchmarks import records

HERE = os.path.dirname(os.path.abspath(__file__))

# The default preset before this benchmark's tuning (base 32, Adam 5e-4, batch 64,
# dropout 0.3 in D, no EMA, no augmentation), pinned field by field.
BEFORE = {"model.generator": {"base_channels": 32}, "model.discriminator": {
    "base_channels": 32}, "model.ema_decay": None, "model.augment": None,
    "data.batch_size": 64, "train.g_lr": 5e-4, "train.d_lr": 5e-4, "train.beta_1": 0.5,
    "train.precision": "auto", "train.steps_per_execution": 1}

K3 = {"model.generator": {"base_channels": 32, "kernel_size": 3},
      "model.discriminator": {"base_channels": 32, "kernel_size": 3}}

# Screening, from BEFORE: one or two changes each.
SCREENING = {
    "before": BEFORE,
    "before+ema": {**BEFORE, "model.ema_decay": 0.999},
    "k3+ema": {**BEFORE, **K3, "model.ema_decay": 0.999},
    "k3+ema+lr2e-4": {**BEFORE, **K3, "model.ema_decay": 0.999, "train.g_lr": 2e-4,
                      "train.d_lr": 2e-4},
    "k3+ema+translation": {**BEFORE, **K3, "model.ema_decay": 0.999,
                           "model.augment": "translation"},
    "base16+ema": {**BEFORE, "model.generator": {"base_channels": 16},
                   "model.discriminator": {"base_channels": 16}, "model.ema_decay": 0.999},
}

VARIANTS = {"default": {}, **SCREENING}


def parse_extra(items):
    variants = {}
    for item in items:
        name, _, spec = item.partition("=")
        variants[name] = json.loads(spec)
    return variants


def run(variant, overrides, seed, args):
    """Trains one variant for one seed; returns the scored rows, one per snapshot."""
    out = os.path.join(args.out, f"{variant}_s{seed}")
    budgets = [60.0 * args.cores * m for m in args.snapshots]
    qpm.spawn_worker(["--worker=preset", "--recipe=default", f"--dataset={args.dataset}",
                      "--clock=cpu", "--budgets_s=" + ",".join(f"{b:g}" for b in budgets),
                      f"--out={out}", f"--seed={seed}",
                      *[f"--set={k}={json.dumps(v)}" for k, v in overrides.items()]])
    return [{"variant": variant, "seed": seed, "cpu_minutes": m, "overrides": overrides,
             **qpm.score_file(args.scorer, os.path.join(out, f"run_{b:g}"))}
            for m, b in zip(args.snapshots, budgets)]


def summarise(rows):
    """Markdown table: per variant and budget, means over seeds (and the spread)."""
    lines = ["| variant | CPU min | seeds | images | FID bundled | FID judge | smallest "
             "class (judge) | precision / recall (judge) |",
             "|---|---|---|---|---|---|---|---|"]
    keys = list(dict.fromkeys((r["variant"], r["cpu_minutes"]) for r in rows))
    for variant, minutes in keys:
        mine = [r for r in rows if r["variant"] == variant and r["cpu_minutes"] == minutes]

        def stat(get, fmt="{:.2f}"):
            values = [get(r) for r in mine]
            mean = fmt.format(statistics.mean(values))
            return mean + (f" ({fmt.format(min(values))}-{fmt.format(max(values))})"
                           if len(values) > 1 else "")

        lines.append(
            f"| {variant} | {minutes:g} | {len(mine)} | "
            f"{statistics.mean(r['images'] for r in mine):,.0f} | "
            f"{stat(lambda r: r['bundled']['fid'])} | {stat(lambda r: r['judge']['fid'])} | "
            f"{stat(lambda r: 100 * r['judge']['min_class_share'], '{:.1f}')} % | "
            f"{stat(lambda r: r['judge']['precision'], '{:.3f}')} / "
            f"{stat(lambda r: r['judge']['recall'], '{:.3f}')} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--extra", action="append", default=[],
                        help="NAME=JSON of config overrides, e.g. "
                             "'lr1e3={\"train.g_lr\": 1e-3}'")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--dataset", default="mnist_sample", choices=tuple(qpm.DATA_FLAGS))
    parser.add_argument("--cpu_minutes", default="5", help="snapshots, ascending")
    parser.add_argument("--cores", type=int, default=os.cpu_count())
    parser.add_argument("--out", default="/tmp/default_ablation")
    parser.add_argument("--json", default=os.path.join(HERE, "default_ablation.json"))
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    variants = {**VARIANTS, **parse_extra(args.extra)}
    names = [v for v in args.variants.split(",") if v] + list(parse_extra(args.extra))
    names = list(dict.fromkeys(names))
    missing = [v for v in names if v not in variants]
    if missing:
        sys.exit(f"unknown variants {missing}; known: {', '.join(variants)}")
    args.snapshots = [float(m) for m in args.cpu_minutes.split(",")]
    args.scorer = qpm.Scorer(args.dataset)
    rows = []
    for seed in [int(s) for s in args.seeds.split(",")]:
        for name in names:
            start = time.time()
            rows += run(name, variants[name], seed, args)
            print(f"{name} seed {seed}: {json.dumps(rows[-1])} ({time.time() - start:.0f} s "
                  "wall)", flush=True)
            if args.json:
                for row in rows[-len(args.snapshots):]:
                    records.append(args.json, "default_ablation", {
                        "dataset": args.dataset, "cores": args.cores, **row})
    print(summarise(rows))
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
