"""DCGAN-64 training speed on the accelerator at hand: img/s and GFLOP/s of `GAN.fit`
(and the plain TensorFlow loop doing the same maths) for every precision, XLA off and on.

    python benchmarks/gpu_dcgan64.py                       # a GPU day: the full grid
    python benchmarks/gpu_dcgan64.py --batch_size=128 --json=benchmarks/gpu_dcgan64.json
    python benchmarks/gpu_dcgan64.py --steps=1 --repeats=1 --batch_size=4   # CPU check

It runs benchmarks/train_step.py's dcgan64 pair (tutorial 001's 64x64x3 DCGAN, batch
32 unless --batch_size) over float32, mixed_bfloat16 and mixed_float16 (loss scaling,
as `--precision=auto` picks on compute capability 7.x), XLA off and on, GAN.fit with
steps_per_execution 1 and 8; TensorFlow's own thread pools (--threads=0). It first
prints the devices (each GPU's name and compute capability) and the precision
`--precision=auto` would choose there. GFLOP/s counts 4 F_G + 8 F_D per image
(train_step.py's docstring). Any other train_step.py flag passes through.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

DEFAULTS = ["--pairs=dcgan64", "--precisions=float32,mixed_bfloat16,mixed_float16",
            "--xla=off,on", "--spe=1,8", "--no_tutorial", "--threads=0"]


def describe_devices():
    """One line per GPU (name, compute capability), or the CPU; and the auto choice."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
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


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    for line in describe_devices():
        print(line)
    given = {arg.split("=", 1)[0] for arg in argv}
    import train_step

    return train_step.main([a for a in DEFAULTS if a.split("=", 1)[0] not in given] + argv)


if __name__ == "__main__":
    main()
