"""DCGAN-64 training speed on the accelerator at hand: img/s and GFLOP/s of `GAN.fit`
for every precision, XLA off and on.

    python -m benchmarks.gpu_dcgan64                        # a GPU day: the full grid
    python -m benchmarks.gpu_dcgan64 --batch_size=256 --json=benchmarks/gpu_dcgan64.json
    python -m benchmarks.gpu_dcgan64 --steps=1 --repeats=1 --batch_size=4   # CPU check

The model is the `dcgan_celeba64` preset's (the DCGAN recipe at 64x64x3 with tutorial
001's channels, batch 128 unless --batch_size), trained by `GAN.fit` on random
in-memory images (the speed does not depend on them; the input pipeline has its own
benchmark) under float32, mixed_bfloat16 and mixed_float16 (loss scaling, as
`--precision=auto` picks on compute capability 7.x), each with `jit_compile` off and
on, steps_per_execution "auto". It first prints the devices (each GPU's name and compute
capability) and the precision `--precision=auto` would choose there.

img/s: `--steps` steps x batch over the median time of `--repeats` timed `fit` calls,
after one untimed call that traces (and compiles). GFLOP/s = img/s x FLOPs per image of
a training step (`GAN.step_flops`, gan_tf.flops: matrix products and convolutions of
the traced models). A precision or XLA setting that fails prints its error in the
table and the others go on.
"""

import argparse
import os
import statistics
import sys
import time

from benchmarks import records

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")


def describe_devices():
    """One line per GPU (name, compute capability), or the CPU; and auto's choice."""
    import tensorflow as tf

    from gan_tf import precision

    lines = []
    for gpu in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(gpu)
        capability = details.get("compute_capability")
        lines.append(f"{gpu.name}: {details.get('device_name', 'GPU')}, compute "
                     f"capability {'.'.join(map(str, capability)) if capability else '?'}")
    if not lines:
        lines.append("no GPU: this runs on the CPU (slowly), which only checks the script")
    chosen, why = precision.choose(precision.gpu_capabilities(),
                                   precision.cpu_has_native_bf16())
    lines.append(f"--precision=auto would choose {chosen} ({why})")
    return lines


def measure(policy, xla, batch_size, steps, repeats):
    """One row: img/s and GFLOP/s of `GAN.fit` for this precision and XLA setting."""
    import keras
    import numpy as np
    import tensorflow as tf

    from gan_tf import configs, precision, tasks

    with precision.policy_scope(policy):
        config = configs.override(configs.get("dcgan_celeba64"), **{
            "data.batch_size": batch_size, "train.precision": policy})
        keras.utils.set_random_seed(0)
        gan = tasks.build_model(config, image_shape=(64, 64, 3))
        gan.compile(gan.g_optimizer, gan.d_optimizer, loss=gan.gan_loss, jit_compile=xla,
                    steps_per_execution="auto")
        images = np.random.default_rng(0).uniform(-1, 1, (batch_size, 64, 64, 3))
        data = tf.data.Dataset.from_tensors(images.astype("float32")).repeat()
        batches = steps * gan.gan_loss.d_steps
        gan.fit(data, epochs=1, steps_per_epoch=batches, verbose=0)  # traces
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            gan.fit(data, epochs=1, steps_per_epoch=batches, verbose=0)
            times.append(time.perf_counter() - start)
        images_per_s = batches * batch_size / statistics.median(times)
        step_flops = gan.step_flops(data.element_spec)
        per_image = step_flops / (gan.gan_loss.d_steps * batch_size) if step_flops else None
    return {"precision": policy, "xla": xla, "batch_size": batch_size,
            "images_per_s": round(images_per_s, 1),
            "gflop_per_image": per_image and round(per_image / 1e9, 4),
            "gflops_per_s": per_image and round(images_per_s * per_image / 1e9, 1),
            "steps_per_execution": int(gan.steps_per_execution)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--precisions", default=",".join(PRECISIONS))
    parser.add_argument("--xla", default="off,on", help="off, on, or both")
    parser.add_argument("--batch_size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20, help="timed steps per repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", default=None, help="append the results to this file")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    devices = describe_devices()
    print("\n".join(devices))
    print("| precision | XLA | img/s | GFLOP/s | GFLOP/image |")
    print("|---|---|---|---|---|")
    rows = []
    for policy in args.precisions.split(","):
        for xla in ({"off": False, "on": True}[x] for x in args.xla.split(",")):
            try:
                row = measure(policy, xla, args.batch_size, args.steps, args.repeats)
            except Exception as error:  # noqa: BLE001 - a setting this device lacks
                row = {"precision": policy, "xla": xla, "error": str(error).splitlines()[0]}
                print(f"| {policy} | {'on' if xla else 'off'} | failed: {row['error']} |")
            else:
                print(f"| {policy} | {'on' if xla else 'off'} | {row['images_per_s']:.1f} | "
                      f"{row['gflops_per_s']} | {row['gflop_per_image']} |")
            sys.stdout.flush()
            rows.append(row)
    if args.json:
        records.append(args.json, "gpu_dcgan64", {"devices": devices, "results": rows})
    return rows


if __name__ == "__main__":
    main()
