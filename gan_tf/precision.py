"""The compute precision of a run: `--precision=auto` picks the fastest safe policy.

    resolve("auto")            # -> "mixed_bfloat16", "mixed_float16" or "float32"
    resolve("float32")         # explicit names pass through

"auto" chooses, in this order:

    mixed_bfloat16   GPUs that all have compute capability >= 8.0 (Ampere, Hopper...:
                     bf16 tensor cores, no loss scaling needed).
    mixed_float16    GPUs of compute capability 7.x (Volta, Turing: fp16 tensor cores
                     only); `GAN.compile` wraps both optimizers in loss scaling.
    mixed_bfloat16   no GPU and a CPU with native bf16 arithmetic: AVX-512 BF16 or AMX
                     (/proc/cpuinfo flags avx512_bf16, amx_bf16).
    float32          everything else (GPUs older than 7.0; CPUs without those
                     instructions, where bf16 is emulated and slower than float32:
                     docs/performance.md measures it).

Under every mixed policy the models keep their variables in float32 and their last
layers (the generator's tanh, the discriminator's logit) compute in float32, and
every loss casts logits to float32, so losses, gradients' reductions and written
images stay float32.
"""

import contextlib

from absl import logging
import keras
import tensorflow as tf

from gan_tf import configs

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


def gpu_capabilities():
    """[(major, minor) compute capability] of every visible GPU ((0, 0) when unknown)."""
    found = []
    for gpu in tf.config.list_physical_devices("GPU"):
        capability = tf.config.experimental.get_device_details(gpu).get(
            "compute_capability")
        found.append(tuple(capability) if capability else (0, 0))
    return found


def choose(capabilities, cpu_bf16):
    """The policy "auto" picks for GPUs of these compute capabilities (a list of
    (major, minor); empty: no GPU) and a CPU with (`cpu_bf16`) or without native bf16.

    Returns:
        (policy name, reason).
    """
    if capabilities:
        lowest = min(capabilities)
        if lowest >= (8, 0):
            return "mixed_bfloat16", f"GPUs of compute capability {lowest[0]}.{lowest[1]}"
        if lowest >= (7, 0):
            return "mixed_float16", f"GPUs of compute capability {lowest[0]}.{lowest[1]}"
        return "float32", "GPUs without tensor cores"
    if cpu_bf16:
        return "mixed_bfloat16", "a CPU with AVX-512 BF16 / AMX"
    return "float32", "no native bf16/fp16 hardware found"


def resolve(name):
    """The Keras dtype policy name for `name`.

    Args:
        name: one of configs.PRECISIONS.

    Returns:
        "float32", "mixed_bfloat16" or "mixed_float16".

    Raises:
        ValueError: `name` is not one of configs.PRECISIONS.
    """
    if name not in configs.PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(configs.PRECISIONS)}, "
                         f"got {name!r}")
    if name != "auto":
        return name
    chosen, why = choose(gpu_capabilities(), cpu_has_native_bf16())
    logging.info("precision auto -> %s (%s)", chosen, why)
    return chosen


@contextlib.contextmanager
def policy_scope(name=None):
    """Sets the Keras global dtype policy `name` for the block (None: leaves it to
    the block) and gives the previous one back after it: models built in the block
    keep the block's policy, later ones get the caller's."""
    previous = keras.mixed_precision.global_policy()
    if name is not None:
        keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)
