"""The compute precision of a run: `--precision=auto` picks the fastest safe policy.

    resolve("auto")            # -> "mixed_bfloat16", "mixed_float16" or "float32"
    resolve("float32")         # explicit names pass through

"auto" chooses, in this order:

    mixed_float16    a GPU of compute capability >= 7.0 (tensor cores); `GAN.compile`
                     wraps both optimizers in loss scaling.
    mixed_bfloat16   a CPU with native bf16 arithmetic: AVX-512 BF16 or AMX
                     (/proc/cpuinfo flags avx512_bf16, amx_bf16).
    float32          everything else. Without those instructions bf16 is emulated
                     and slower than float32 (docs/performance.md measures it).

Under every mixed policy the models keep their variables in float32 and their last
layers (the generator's tanh, the discriminator's logit) compute in float32, and
every loss casts logits to float32, so losses, gradients' reductions and written
images stay float32.
"""

from absl import logging

from gan_tf.configs import PRECISIONS
_BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_flags():
    """The processor's feature flags from /proc/cpuinfo (empty where unreadable)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def cpu_has_native_bf16(flags=None):
    """True when the CPU computes bf16 natively (AVX-512 BF16 or AMX)."""
    flags = cpu_flags() if flags is None else flags
    return any(flag in flags for flag in _BF16_CPU_FLAGS)


def gpus_with_tensor_cores():
    """True when there is a GPU and every visible GPU has compute capability >= 7."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return False
    for gpu in gpus:
        capability = tf.config.experimental.get_device_details(gpu).get(
            "compute_capability")
        if not capability or tuple(capability) < (7, 0):
            return False
    return True


def resolve(name):
    """The Keras dtype policy name for `name`.

    Args:
        name: one of PRECISIONS.

    Returns:
        "float32", "mixed_bfloat16" or "mixed_float16".

    Raises:
        ValueError: `name` is not one of PRECISIONS.
    """
    if name not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {name!r}")
    if name != "auto":
        return name
    if gpus_with_tensor_cores():
        chosen, why = "mixed_float16", "GPUs with tensor cores"
    elif cpu_has_native_bf16():
        chosen, why = "mixed_bfloat16", "a CPU with AVX-512 BF16 / AMX"
    else:
        chosen, why = "float32", "no native bf16/fp16 hardware found"
    logging.info("precision auto -> %s (%s)", chosen, why)
    return chosen
