"""Training speed of gan_tf against what users would otherwise run, one process per loop.

    python -m benchmarks.train_step                              # both groups
    python -m benchmarks.train_step --groups=dcgan28 --steps=12 --repeats=5
    python -m benchmarks.train_step --groups=mlp --torch_path=/tmp/torchlib
    python -m benchmarks.train_step --groups=mlp --loops=torch,t002_preset --steps=128 \
        --repeats=3 --json=benchmarks/train_step.json       # against PyTorch
    python -m benchmarks.train_step --presets=all --json=benchmarks/train_step.json

Group `dcgan28`: the TensorFlow DCGAN tutorial (tensorflow.org/tutorials/generative/
dcgan), its pair (gan_tf's `tutorial_003` models), 28x28x1, batch 256, Adam(1e-4),
non-saturating BCE:

    tf_tutorial  the tutorial's `train_step` exactly (one batch of noise, both tapes
                 open at once, both models updated from the same forward pass) under
                 `tf.function`, called by its `for image_batch in dataset` loop,
                 float32: tutorial_loops.Loop("tf_dcgan") on these models. Per
                 image 3 F_G + 7 F_D FLOPs (F_G, F_D: forward FLOPs).
    gan_fit      `GAN.fit` on the same pair and recipe, built from the `tutorial_003`
                 preset with the tutorial's loss, float32, steps_per_execution "auto":
                 D step on the stopped-gradient fakes, G step through the updated D on
                 the same fakes (3 F_G + 8 F_D: one more D forward than the tutorial,
                 whose G step uses the D of before the update).
    gan_fit_auto the same with `--precision=auto` (gan_tf.precision; the table says what
                 it resolved to on this machine).

Group `mlp`: tutorial 002's MLP GAN (G 100-256-512-1024-784, D 784-512-256-1), batch 64:

    t002_plain   tutorial 002's step written in plain TensorFlow: a `tf.function` with
                 one generator forward, the D step on its stopped-gradient fakes with
                 d_loss = 0.5 (real + fake), the G step through the updated D on the
                 same fakes; a Python `for images in dataset` loop; float32:
                 tutorial_loops.Loop("tutorial_002") on the preset's models.
    t002_preset  the `tutorial_002` preset through `GAN.fit` at its default settings
                 (float32, steps_per_execution "auto").
    torch        tutorial 002's own PyTorch code (benchmarks/torch_mlp.py), when
                 PyTorch can be imported (`--torch_path` is put on that worker's
                 PYTHONPATH only: PyTorch is never a dependency of gan_tf).

All loops of a group train on the same in-memory bundled digits. Each loop runs in its
own worker process (one framework or loop per process, so no idle thread pool competes
with another's timing); every worker warms up (traces) first, then the timed repeats
alternate between the workers (A, B, C, A, B, C, ...) so that other load on a shared
machine slows them alike. Each figure is the median of `--repeats`.

GFLOP/s = img/s x FLOPs per trained image, counted by gan_tf.flops from the traced
models (matrix products and convolutions); "% peak" divides it by the float32 matmul
rate of the newest benchmarks/matmul.json entry measured on a CPU with this machine's
instruction-set flags (benchmarks/matmul.py).

`--presets=all` (or a comma list) instead times every preset's own model through
`GAN.fit` / `CycleGAN.fit` at its batch size, precision and steps_per_execution, on
random in-memory images of its shape (the input pipeline has its own benchmark).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from benchmarks import records

# The workers import their framework themselves (the torch worker no TensorFlow, so
# neither gan_tf nor benchmarks.matmul): those imports are inside the functions.
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
GROUPS = {"dcgan28": ("tf_tutorial", "gan_fit", "gan_fit_auto"),
          "mlp": ("t002_plain", "t002_preset", "torch")}
REPLY = "@@"  # starts the workers' answers on stdout
STEPS = {"dcgan28": 8, "mlp": 192}  # timed steps per repeat (multiples of 64 for mlp)


# -- Building the loops (in the worker) -------------------------------------------------


def preset_config(name, **fields):
    """The preset `name` on the bundled digits (or its own shape), with `fields`."""
    from gan_tf import configs

    config = configs.get(name)
    if config.data.name in ("mnist", "fashion_mnist"):
        config = configs.override(config, **{"data.name": "mnist_sample"})
    return configs.override(config, **fields)


def build_preset(config, shapes):
    """The compiled model of `config` under its precision policy, and that policy."""
    import keras

    from gan_tf import precision, tasks

    policy = precision.resolve(config.train.precision)
    keras.mixed_precision.set_global_policy(policy)
    return tasks.for_config(config).build(shapes, tasks.step_intervals(config.callbacks)), \
        policy


def digits(batch_size):
    """An endless stream of (batch, 28, 28, 1) bundled digits in [-1, 1], in memory.

    No tf.data autotuning: closing an autotuned iterator waits for its tuning thread
    (docs/performance.md), which would time tf.data instead of the loops."""
    import tensorflow as tf

    from gan_tf import data

    images = next(iter(data.load("mnist_sample", batch_size=4096, shuffle=False))).numpy()
    options = tf.data.Options()
    options.autotune.enabled = False
    return (tf.data.Dataset.from_tensor_slices(images).repeat()
            .batch(batch_size, drop_remainder=True).prefetch(2).with_options(options))


def random_batches(element_spec):
    """An endless stream repeating 4 random batches of `element_spec`'s shapes."""
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)

    def fill(spec):
        shape = (4 * spec.shape[0], *spec.shape[1:])
        if spec.dtype.is_integer:
            return rng.integers(0, 10, shape).astype(spec.dtype.as_numpy_dtype)
        return rng.uniform(-1, 1, shape).astype(np.float32)

    arrays = tf.nest.map_structure(fill, element_spec)
    batch = tf.nest.flatten(element_spec)[0].shape[0]
    return tf.data.Dataset.from_tensor_slices(arrays).repeat().batch(batch, drop_remainder=True)


def fit_runner(model, dataset):
    """run(steps) trains `model` with fit for `steps` steps (whole executions)."""
    def run(steps):
        model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0)
    return run


def python_loop_runner(step, dataset, last):
    """run(steps): `for images in dataset.take(steps): step(images)`, then waits for
    the last step by reading `last` (a variable the step updates)."""
    def run(steps):
        for images in dataset.take(steps):
            step(images)
        int(last.numpy())
    return run


def tutorial_runner(recipe, generator, discriminator, dataset):
    """A tutorial's own step and `for` loop (benchmarks/tutorial_loops.py, recipe
    "tf_dcgan" or "tutorial_002") training these models."""
    from benchmarks import tutorial_loops

    loop = tutorial_loops.Loop(recipe, models=(generator, discriminator))
    return python_loop_runner(loop.train_step, dataset, loop.g_opt.iterations)


def make_loop(name):
    """{run(steps), batch, flops_per_image, notes, model (fit loops)} of loop `name`."""

    if name == "torch":  # no TensorFlow in this process: FLOPs from the t002 loops
        from benchmarks import torch_mlp

        return {"run": torch_mlp.torch_runner(64, int(os.environ["BENCH_THREADS"])),
                "batch": 64, "flops_per_image": None,
                "notes": "PyTorch " + __import__("torch").__version__}
    group = "dcgan28" if name in GROUPS["dcgan28"] else "mlp"
    batch = 256 if group == "dcgan28" else 64
    fields = {"data.batch_size": batch}
    if group == "dcgan28":  # the TF tutorial's loss and recipe on tutorial_003's pair
        fields.update({"train.loss": "non_saturating", "train.precision":
                       "auto" if name == "gan_fit_auto" else "float32"})
    config = preset_config("tutorial_003" if group == "dcgan28" else "tutorial_002",
                           **fields)
    gan, policy = build_preset(config, {"image_shape": (28, 28, 1)})
    dataset = digits(batch)
    loop = {"batch": batch, "flops_per_image": gan.step_flops(dataset.element_spec) / batch,
            "notes": policy}
    if name in ("gan_fit", "gan_fit_auto", "t002_preset"):
        return {**loop, "run": fit_runner(gan, dataset), "model": gan}
    if name == "tf_tutorial":
        import tensorflow as tf

        from gan_tf import flops

        f_g = flops.forward(gan.generator, tf.TensorSpec((1, 100)))
        f_d = flops.forward(gan.discriminator, tf.TensorSpec((1, 28, 28, 1)))
        return {**loop, "run": tutorial_runner("tf_dcgan", gan.generator, gan.discriminator,
                                               dataset),
                "flops_per_image": 3 * f_g + 7 * f_d}
    return {**loop, "run": tutorial_runner("tutorial_002", gan.generator, gan.discriminator,
                                           dataset)}


def make_preset_loop(name):
    """As `make_loop`, for preset `name`'s model; "steps_per_execution" is what the
    preset's value (usually "auto") chooses when the epoch's length allows it."""
    from gan_tf import flops, tasks

    config = preset_config(name)
    task = tasks.for_config(config)
    shape = tasks.image_shape_of(config)
    shapes = {"image_shape": tuple(shape)}
    if task.translation:
        shapes["image_shape_b"] = tuple(shape)
    elif task.conditional:
        shapes["num_classes"] = 10
    model, policy = build_preset(config, shapes)
    spec = example_spec(config, task, shape)
    step_flops = model.step_flops(spec)
    wanted = config.train.steps_per_execution
    if wanted == "auto":
        wanted = flops.choose_steps_per_execution(step_flops)
    return {"run": fit_runner(model, random_batches(spec)), "model": model,
            "batch": config.data.batch_size, "notes": policy, "steps_per_execution": wanted,
            "flops_per_image": step_flops / config.data.batch_size}


def example_spec(config, task, shape):
    """The element spec of the batches `fit` gets for `config` (critic batches grouped)."""
    import tensorflow as tf

    batch = config.data.batch_size
    if task.translation:
        return (tf.TensorSpec((batch, *shape)),) * 2
    batch *= task.d_steps
    images = tf.TensorSpec((batch, *shape))
    return (images, tf.TensorSpec((batch,), tf.int32)) if task.conditional \
        else images


def worker(name, threads):
    """Serves timing requests on stdin: a step count per line, answers the seconds."""
    if name != "torch":  # matmul imports TensorFlow
        from benchmarks import matmul

        matmul.set_threads(threads)
    os.environ["BENCH_THREADS"] = str(threads)
    loop = (make_preset_loop(name.split(":", 1)[1]) if name.startswith("preset:")
            else make_loop(name))
    start = time.perf_counter()
    warmup = int(sys.stdin.readline()) or loop.get("steps_per_execution", 1)
    loop["run"](warmup)  # traces, builds optimizer slots, creates oneDNN primitives
    model = loop.pop("model", None)
    info = {key: loop[key] for key in ("batch", "flops_per_image", "notes")}
    print(REPLY, json.dumps({**info, "warmup_steps": warmup, "warmup_s": time.perf_counter() - start,
                      "steps_per_execution": model and int(model.steps_per_execution)}),
          flush=True)
    run = loop["run"]
    for line in sys.stdin:
        start = time.perf_counter()
        run(int(line))
        print(REPLY, time.perf_counter() - start, flush=True)


# -- Driving the workers ------------------------------------------------------------------


def start_worker(name, threads, torch_path=None):
    env = {**os.environ, "OMP_NUM_THREADS": str(threads),
           "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
    if name == "torch" and torch_path:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH"), torch_path) if p)
    return subprocess.Popen([sys.executable, "-m", "benchmarks.train_step",
                             f"--worker={name}", f"--threads={threads}"], cwd=ROOT,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)


def ask(process, steps):
    process.stdin.write(f"{steps}\n")
    process.stdin.flush()
    for line in process.stdout:  # other lines: what libraries print (tfds...)
        if line.startswith(REPLY):
            return line[len(REPLY):]
    raise RuntimeError(f"a worker ({process.args[3]}) stopped; see its error above")


def time_loops(names, steps, repeats, threads, torch_path=None, warmup_steps=None):
    """{name: row} for loops `names`: started one at a time, timed alternately."""
    rows = {}
    workers = {}
    try:
        for name in names:
            workers[name] = start_worker(name, threads, torch_path)
            rows[name] = json.loads(ask(workers[name], warmup_steps or steps))
            rows[name]["seconds"] = []
        for _ in range(repeats):
            for name, process in workers.items():
                rows[name]["seconds"].append(float(ask(process, steps)))
    finally:
        for process in workers.values():
            process.stdin.close()
            process.wait()
    flops_known = [row["flops_per_image"] for row in rows.values() if row["flops_per_image"]]
    for name, row in rows.items():
        row["flops_per_image"] = row["flops_per_image"] or flops_known[0]  # torch: same pair
        row.update(loop=name, steps=steps, repeats=repeats,
                   images_per_s=round(steps * row["batch"] / statistics.median(row["seconds"]), 1),
                   seconds=[round(t, 3) for t in row["seconds"]])
        row["gflops"] = round(row["images_per_s"] * row["flops_per_image"] / 1e9, 1)
    return rows


def matmul_peak():
    """(float32 GFLOP/s, n) of the newest matmul.json entry of a CPU with this machine's
    flags, or (None, None)."""
    from benchmarks import matmul

    flags = matmul.machine()["flags"]
    try:
        found = records.read(os.path.join(HERE, "matmul.json"), "matmul")
    except (OSError, ValueError):
        return None, None
    for record in reversed(found):
        if record["machine"]["flags"] == flags:
            best = max((r for r in record["results"] if r["dtype"] == "float32"),
                       key=lambda r: r["gflops"])
            return best["gflops"], best["n"]
    return None, None


def print_group(title, rows, base, peak):
    print(f"\n{title}")
    print("| loop | precision | steps/exec | img/s | vs " + base + " | GFLOP/image | GFLOP/s"
          " | % peak |\n|---|---|---|---|---|---|---|---|")
    for row in rows.values():
        ratio = row["images_per_s"] / rows[base]["images_per_s"]
        row[f"vs_{base}"] = round(ratio, 3)
        share = f"{100 * row['gflops'] / peak:.0f}%" if peak else "-"
        print(f"| {row['loop']} | {row['notes']} | {row['steps_per_execution'] or '-'} | "
              f"{row['images_per_s']:,.0f} | {ratio:.2f}x | "
              f"{row['flops_per_image'] / 1e9:.4f} | {row['gflops']:.1f} | {share} |")
    sys.stdout.flush()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", default="dcgan28,mlp")
    parser.add_argument("--loops", default=None, help="only these loops (comma list)")
    parser.add_argument("--presets", default=None, help="all, or a comma list of presets")
    parser.add_argument("--steps", type=int, default=None, help="timed steps per repeat")
    parser.add_argument("--seconds", type=float, default=4.0,
                        help="--presets: aim each repeat at this many seconds")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2,
                        help="TensorFlow / PyTorch threads (0: the frameworks' default)")
    parser.add_argument("--torch_path", default=None,
                        help="a folder with PyTorch, for the torch worker only")
    parser.add_argument("--json", default=None, help="append the results to this file")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if args.worker:
        return worker(args.worker, args.threads)
    from benchmarks import matmul

    peak, peak_n = matmul_peak()
    info = matmul.machine()
    print(f"{info['cpu']} ({info['cores']} cores; {', '.join(info['flags'])}), "
          f"{args.threads} threads; float32 matmul peak "
          + (f"{peak} GFLOP/s (n = {peak_n}, benchmarks/matmul.json)" if peak else "unknown"))
    results = []
    if args.presets:
        results += run_presets(args, peak)
    else:
        for group in args.groups.split(","):
            names = [n for n in GROUPS[group] if not args.loops or n in args.loops.split(",")]
            if "torch" in names and not torch_importable(args.torch_path):
                print("torch: skipped, PyTorch cannot be imported (--torch_path)")
                names.remove("torch")
            rows = time_loops(names, args.steps or STEPS[group], args.repeats, args.threads,
                              args.torch_path)
            print_group(f"{group}: {args.repeats} alternating repeats of "
                        f"{args.steps or STEPS[group]} steps", rows, names[0], peak)
            results += [dict(row, group=group) for row in rows.values()]
    if args.json:
        records.append(args.json, "train_step", {"machine": info, "threads": args.threads,
                                                 "matmul_peak": peak, "results": results})
    return results


def run_presets(args, peak):
    """Times each preset in its own worker: a first call measures, then `--repeats`."""
    from gan_tf import configs

    names = configs.names() if args.presets == "all" else args.presets.split(",")
    rows = {}
    for name in names:
        process = start_worker(f"preset:{name}", args.threads)
        try:
            row = json.loads(ask(process, 0))  # warm-up: one execution
            spe = row["steps_per_execution"]
            first = float(ask(process, spe))
            steps = max(1, round(args.seconds / first)) * spe
            row["seconds"] = [float(ask(process, steps)) for _ in range(args.repeats)]
        finally:
            process.stdin.close()
            process.wait()
        median = statistics.median(row["seconds"])
        row.update(loop=name, steps=steps, images_per_s=round(steps * row["batch"] / median, 1),
                   seconds=[round(t, 3) for t in row["seconds"]])
        row["gflops"] = round(row["images_per_s"] * row["flops_per_image"] / 1e9, 1)
        rows[name] = row
        print(f"| {name} | {row['notes']} | {row['batch']} | {spe} | "
              f"{row['images_per_s']:,.1f} | {row['flops_per_image'] / 1e9:.4f} | "
              f"{row['gflops']:.1f} | " + (f"{100 * row['gflops'] / peak:.0f}% |"
                                           if peak else "- |"), flush=True)
    return list(rows.values())


def torch_importable(torch_path):
    code = "import importlib.util, sys; sys.exit(importlib.util.find_spec('torch') is None)"
    env = dict(os.environ)
    if torch_path:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH"), torch_path) if p)
    return subprocess.run([sys.executable, "-c", code], env=env).returncode == 0


if __name__ == "__main__":
    main(sys.argv[1:])
