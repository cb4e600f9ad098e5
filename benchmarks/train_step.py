"""Training speed of `GAN.fit` against plain TensorFlow loops on identical models.

    python benchmarks/train_step.py                                  # everything
    python benchmarks/train_step.py --pairs=dcgan28 --precisions=float32 --xla=off
    python benchmarks/train_step.py --pairs=mlp --spe=1,16 --steps=64 --repeats=5
    python benchmarks/train_step.py --eager --json=benchmarks/train_step.json

For each model pair, precision and XLA setting, these loops train the same models
(same constructor, same seed, so the same initial weights) on the same batches:

    gan      `GAN.fit(..., steps_per_epoch=N)`, once per `--spe` value
             (`GAN.compile(steps_per_execution=...)`), verbose=0, no callbacks.
    plain    a `tf.function` step with two GradientTapes in the TensorFlow DCGAN
             tutorial's style, doing the same maths as `GAN.train_step`: a
             discriminator update on fresh fakes, then a generator update on new
             noise through the updated discriminator (2 generator and 3
             discriminator forward passes per step).
    tutorial the TensorFlow DCGAN tutorial's step exactly: one batch of fakes feeds
             both tapes and both models update at once (1 generator and 2
             discriminator forward passes: less work, other maths).

The timed repeats alternate between the loops (plain, tutorial, gan spe=1, gan
spe=k, plain, ...) so that other processes on a shared machine slow all of them
alike; each loop's figure is the median over `--repeats`. With `--eager` the gan and
plain loops also run eagerly (`run_eagerly=True`, no tf.function), for the record.

Pairs (gan_tf.models, as the presets build them):

    dcgan28  the TensorFlow DCGAN tutorial's pair (preset tutorial_003): 28x28x1,
             base 64, batch 128, bundled MNIST digits.
    mlp      tutorial 002's MLP pair: G 100-256-512-1024-784, D 784-512-256-1,
             batch 64, bundled MNIST digits, d_loss = 0.5 (real + fake).
    dcgan64  tutorial 001's 64x64x3 DCGAN pair (preset tutorial_001), batch 32
             (random images: the speed does not depend on them).

FLOPs per image count the multiply-adds of Dense, Conv2D and Conv2DTranspose layers
(2 per multiply-add) from the layer shapes; one training step of `GAN.train_step`
costs about 4 F_G + 8 F_D per image (forward 1x, backward 2x the forward; the
generator step needs the discriminator's input gradients only). "% of matmul" divides
the achieved GFLOP/s by the machine's measured float32 matmul throughput
(benchmarks/matmul.py). Results are printed as a table and appended to --json.
"""

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

PAIRS = {
    # name: (model family, image shape, batch, generator kwargs, discriminator kwargs,
    #        loss kwargs, default timed steps per repeat)
    "dcgan28": ("dcgan", (28, 28, 1), 128, {}, {}, {}, 40),
    "mlp": ("mlp", (28, 28, 1), 64, {}, {}, {"discriminator_scale": 0.5}, 300),
    "dcgan64": ("dcgan", (64, 64, 3), 32,
                {}, {"dropout": 0.0, "batch_norm": True}, {}, 8),
}
LATENT_DIM = 100


def model_flops(model):
    """Forward FLOPs per image of a gan_tf StackModel's Dense and conv layers.

    Dense: 2 * in * out. Conv2D: 2 * k_h * k_w * c_in * c_out * H_out * W_out.
    Conv2DTranspose: 2 * k_h * k_w * c_in * c_out * H_in * W_in (every input pixel
    scatters a k x k x c_out patch).
    """
    import keras

    total = 0
    for layer in model.stack.layers:
        inner = getattr(layer, "layer", layer)  # SpectralNormalization wraps a layer
        if isinstance(inner, keras.layers.Dense):
            total += 2 * int(layer.input.shape[-1]) * inner.units
        elif isinstance(inner, keras.layers.Conv2DTranspose):
            _, h, w, c_in = layer.input.shape
            k_h, k_w = inner.kernel_size
            total += 2 * k_h * k_w * int(c_in) * inner.filters * int(h) * int(w)
        elif isinstance(inner, keras.layers.Conv2D):
            _, h, w, _ = layer.output.shape
            k_h, k_w = inner.kernel_size
            c_in = int(layer.input.shape[-1])
            total += 2 * k_h * k_w * c_in * inner.filters * int(h) * int(w)
    return total


def train_flops_per_image(generator, discriminator):
    """FLOPs per image of one `GAN.train_step`: about 4 F_G + 8 F_D (module docstring)."""
    return 4 * model_flops(generator) + 8 * model_flops(discriminator)


def build_models(pair, seed=0):
    """(generator, discriminator) of `pair`, initialised from `seed`."""
    import keras

    from gan_tf import models

    family, shape, _, g_kwargs, d_kwargs, _, _ = PAIRS[pair]
    keras.utils.set_random_seed(seed)
    generator = models.get(family).Generator(latent_dim=LATENT_DIM, image_shape=shape,
                                             **g_kwargs)
    discriminator = models.get(family).Discriminator(image_shape=shape, **d_kwargs)
    return generator, discriminator


def make_dataset(pair, batch_size):
    """An endless tf.data stream of (batch, H, W, C) float32 images in [-1, 1].

    The images are held in memory (the 28x28 pairs: the first 4,096 bundled digits,
    read once through `data.load`; 64x64x3: 256 random images), so every loop reads
    the same batches and no loop pays for decoding: the input pipeline has its own
    benchmark (input_pipeline.py).
    """
    import numpy as np
    import tensorflow as tf

    from gan_tf import data

    shape = PAIRS[pair][1]
    if shape == (28, 28, 1):
        source = data.load("mnist_sample", batch_size=4096, shuffle=False)
        images = next(iter(source)).numpy()
    else:
        images = np.random.default_rng(0).uniform(-1, 1, (256, *shape)).astype(np.float32)
    # No tf.data autotuning: each timed repeat opens a new iterator (GAN.fit's, or the
    # plain loop's), and closing an autotuned iterator waits for its tuning thread's
    # next wake-up (10 ms doubling: a run of 2.6 s took 5.12 s about one time in
    # three here), which would time tf.data instead of the loops.
    options = tf.data.Options()
    options.autotune.enabled = False
    return (tf.data.Dataset.from_tensor_slices(images).repeat()
            .batch(batch_size, drop_remainder=True).prefetch(2).with_options(options))


def _adam():
    import keras

    return keras.optimizers.Adam(2e-4, beta_1=0.5)


def make_gan_runner(pair, dataset, spe=1, jit_compile=False, run_eagerly=False):
    """A function(steps) that trains a fresh GAN of `pair` with `GAN.fit` for `steps`."""
    from gan_tf import losses
    from gan_tf.gan import GAN

    generator, discriminator = build_models(pair)
    gan = GAN(generator, discriminator, latent_dim=LATENT_DIM, seed=0)
    gan.compile(_adam(), _adam(), loss=losses.get("non_saturating", **PAIRS[pair][5]),
                steps_per_execution=spe, jit_compile=jit_compile, run_eagerly=run_eagerly)

    def run(steps):
        gan.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0)
    return run


def make_plain_runner(pair, dataset, style="plain", jit_compile=False, eager=False):
    """A function(steps) that trains fresh models of `pair` with a hand-written step.

    style "plain": GAN.train_step's maths (D update, then G update on new noise);
    "tutorial": the TensorFlow DCGAN tutorial's simultaneous update.
    """
    import keras
    import tensorflow as tf

    generator, discriminator = build_models(pair)
    scale = PAIRS[pair][5].get("discriminator_scale", 1.0)
    g_optimizer, d_optimizer = _adam(), _adam()
    g_optimizer.build(generator.trainable_variables)
    d_optimizer.build(discriminator.trainable_variables)
    cross_entropy = keras.losses.BinaryCrossentropy(from_logits=True)

    def d_loss_fn(real_logits, fake_logits):
        real_logits = tf.cast(real_logits, tf.float32)
        fake_logits = tf.cast(fake_logits, tf.float32)
        return scale * (cross_entropy(tf.ones_like(real_logits), real_logits)
                        + cross_entropy(tf.zeros_like(fake_logits), fake_logits))

    def g_loss_fn(fake_logits):
        fake_logits = tf.cast(fake_logits, tf.float32)
        return cross_entropy(tf.ones_like(fake_logits), fake_logits)

    def plain_step(images):
        batch = tf.shape(images)[0]
        fake_images = generator(tf.random.normal([batch, LATENT_DIM]), training=True)
        with tf.GradientTape() as tape:
            d_loss = d_loss_fn(discriminator(images, training=True),
                               discriminator(fake_images, training=True))
        variables = discriminator.trainable_variables
        d_optimizer.apply_gradients(zip(tape.gradient(d_loss, variables), variables))
        with tf.GradientTape() as tape:
            fake_images = generator(tf.random.normal([batch, LATENT_DIM]), training=True)
            g_loss = g_loss_fn(discriminator(fake_images, training=True))
        variables = generator.trainable_variables
        g_optimizer.apply_gradients(zip(tape.gradient(g_loss, variables), variables))
        return d_loss, g_loss

    def tutorial_step(images):
        noise = tf.random.normal([tf.shape(images)[0], LATENT_DIM])
        with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
            generated_images = generator(noise, training=True)
            real_output = discriminator(images, training=True)
            fake_output = discriminator(generated_images, training=True)
            gen_loss = g_loss_fn(fake_output)
            disc_loss = d_loss_fn(real_output, fake_output)
        g_variables = generator.trainable_variables
        d_variables = discriminator.trainable_variables
        g_optimizer.apply_gradients(zip(gen_tape.gradient(gen_loss, g_variables),
                                        g_variables))
        d_optimizer.apply_gradients(zip(disc_tape.gradient(disc_loss, d_variables),
                                        d_variables))
        return disc_loss, gen_loss

    step = plain_step if style == "plain" else tutorial_step
    if not eager:
        step = tf.function(step, jit_compile=jit_compile)

    def run(steps):
        losses = None
        for images in dataset.take(steps):
            losses = step(images)
        float(losses[0])  # wait for the last step
    return run


def time_alternating(runners, steps, repeats, warmup_steps):
    """{name: [seconds per repeat]}: every runner once per round, `repeats` rounds."""
    for run in runners.values():
        run(warmup_steps)  # traces, builds optimizer slots, creates oneDNN primitives
    seconds = {name: [] for name in runners}
    for _ in range(repeats):
        for name, run in runners.items():
            start = time.perf_counter()
            run(steps)
            seconds[name].append(time.perf_counter() - start)
    return seconds


def bench_group(pair, precision, xla, spes, steps, repeats, batch_size, eager=False,
                eager_steps=2, tutorial=True):
    """Times every loop for one pair, precision and XLA setting; returns result rows."""
    import keras

    keras.mixed_precision.set_global_policy(precision)
    try:
        dataset = make_dataset(pair, batch_size)
        steps = max(steps, max(spes))
        steps -= steps % max(spes)  # whole executions for every spe value
        runners = {"plain": make_plain_runner(pair, dataset, "plain", jit_compile=xla)}
        if tutorial:
            runners["tutorial"] = make_plain_runner(pair, dataset, "tutorial",
                                                    jit_compile=xla)
        for spe in spes:
            runners[f"gan spe={spe}"] = make_gan_runner(pair, dataset, spe=spe,
                                                        jit_compile=xla)
        seconds = time_alternating(runners, steps, repeats,
                                   warmup_steps=2 * max(spes))
        counts = {name: steps for name in runners}
        if eager and not xla:
            eager_runners = {
                "plain eager": make_plain_runner(pair, dataset, "plain", eager=True),
                "gan eager": make_gan_runner(pair, dataset, run_eagerly=True)}
            seconds.update(time_alternating(eager_runners, eager_steps, repeats, 1))
            counts.update({name: eager_steps for name in eager_runners})
        generator, discriminator = build_models(pair)
        flops = train_flops_per_image(generator, discriminator)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    rows = []
    for name, times in seconds.items():
        median = statistics.median(times)
        rows.append({"pair": pair, "precision": precision, "xla": xla, "loop": name,
                     "batch": batch_size, "steps": counts[name], "repeats": repeats,
                     "images_per_s": round(counts[name] * batch_size / median, 1),
                     "seconds": [round(t, 3) for t in times],
                     "train_gflop_per_image": round(flops / 1e9, 4)})
    base = next(r["images_per_s"] for r in rows if r["loop"] == "plain")
    for row in rows:
        row["vs_plain"] = round(row["images_per_s"] / base, 3)
    return rows


def print_table(rows, matmul_gflops=None):
    print("| pair | precision | XLA | loop | img/s | vs plain | GFLOP/s | % of matmul |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        gflops = row["images_per_s"] * row["train_gflop_per_image"]
        share = f"{100 * gflops / matmul_gflops:.0f}%" if matmul_gflops else "-"
        if row["loop"] == "tutorial":  # less work per image: 2 F_G + 6 F_D roughly
            share = "-"
        print(f"| {row['pair']} | {row['precision']} | {'on' if row['xla'] else 'off'} | "
              f"{row['loop']} | {row['images_per_s']:.0f} | {row['vs_plain']:.2f}x | "
              f"{gflops:.1f} | {share} |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", default="dcgan28,mlp,dcgan64")
    parser.add_argument("--precisions", default="float32,mixed_bfloat16")
    parser.add_argument("--xla", default="off,on", help="off, on, or both")
    parser.add_argument("--spe", default="1,8", help="GAN.fit steps_per_execution values")
    parser.add_argument("--steps", type=int, default=None,
                        help="timed steps per repeat (default: per pair)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch_size", type=int, default=None,
                        help="override every pair's batch size")
    parser.add_argument("--eager", action="store_true", help="also time eager loops")
    parser.add_argument("--eager_steps", type=int, default=2)
    parser.add_argument("--no_tutorial", action="store_true",
                        help="skip the TF tutorial's simultaneous-update loop")
    parser.add_argument("--threads", type=int, default=2,
                        help="TensorFlow intra- and inter-op threads (0: TF's default)")
    parser.add_argument("--matmul", action="store_true",
                        help="measure float32 matmul GFLOP/s first (n = 1024)")
    parser.add_argument("--json", default=None, help="append the results to this file")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import matmul

    matmul.set_threads(args.threads)
    matmul_gflops = matmul.measure_gflops(1024) if args.matmul else None
    spes = [int(s) for s in args.spe.split(",")]
    xlas = [{"off": False, "on": True}[x] for x in args.xla.split(",")]
    rows = []
    for pair in args.pairs.split(","):
        if pair not in PAIRS:
            parser.error(f"unknown pair {pair!r}; choose from {', '.join(PAIRS)}")
        batch_size = args.batch_size or PAIRS[pair][2]
        steps = args.steps or PAIRS[pair][6]
        for precision in args.precisions.split(","):
            for xla in xlas:
                group = bench_group(pair, precision, xla, spes, steps, args.repeats,
                                    batch_size, eager=args.eager,
                                    eager_steps=args.eager_steps,
                                    tutorial=not args.no_tutorial)
                print_table(group, matmul_gflops)
                sys.stdout.flush()
                rows += group
    info = matmul.machine()
    print(f"\n{info['cpu']} ({info['cores']} cores; {', '.join(info['flags'])}), "
          f"{args.threads} threads" + (f", float32 matmul {matmul_gflops:.1f} GFLOP/s"
                                       if matmul_gflops else ""))
    print_table(rows, matmul_gflops)
    if args.json:
        matmul._append_json(args.json, {
            "benchmark": "train_step", "machine": info, "threads": args.threads,
            "matmul_gflops": matmul_gflops and round(matmul_gflops, 1), "results": rows})
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
