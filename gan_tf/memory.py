"""What training a model needs in memory, and what the machine has free.

    memory.forward_floats(generator, tf.TensorSpec((16, 100)))   # activations of a pass
    memory.training_bytes(model, element_spec)                   # one training step
    memory.free_bytes(on_gpu=False)                              # MemAvailable, cgroup

The trainer checks a run's estimate against the free memory before it builds the real
models (gan_tf.trainer), so that `--image_size=10000` is refused in one line instead of
failing with ResourceExhaustedError (or the kernel's OOM killer) mid-way. The models
of the estimate are built in a `tf.Graph` of their own: their variables are graph
nodes that are never initialised, so even a model far too large for the machine costs
nothing to build there.

The estimate of one step, in bytes:

    4 (W + 3 T)          the float32 variables W, and for the trainable ones T their
                         gradients and two optimizer slots (Adam; RMSprop has one)
    + 2 b A              A: floats of the activations one `train_step` holds for its
                         backward pass (the model's `step_floats`), twice (the
                         activations and their gradients), b bytes each in the
                         compute dtype (2 under a mixed policy)
    + 8 I                the batch of real images in float32, and the next one
                         prefetched

Batches of fewer than ESTIMATE_FROM image values are not estimated. Memory
allocators, workspaces of convolutions and TensorFlow itself add to it, so the
estimate is a lower bound: a run refused by it could not have trained.
"""

import math
import shutil
import subprocess

import numpy as np
import tensorflow as tf

from gan_tf import flops

# Batches of fewer image values (batch x height x width x channels) are not estimated:
# the estimate builds the models once more (seconds to a minute on a CPU), and by the
# estimate every preset's step on so small a batch needs under 2 GiB (stylegan's, the
# largest, 1.4 GiB under mixed_bfloat16).
ESTIMATE_FROM = 2**18

# Operations whose output is a view of (or as large as) what is already counted.
_NOT_NEW = frozenset({"ReadVariableOp", "VarHandleOp", "Const", "Identity", "IdentityN",
                      "Placeholder", "Reshape", "Squeeze", "ExpandDims", "StopGradient",
                      "Shape", "ShapeN", "Size", "Rank", "NoOp", "PreventGradient"})


def graph_floats(graph):
    """Floating-point values produced by the operations of `graph` (a tf.Graph or
    FuncGraph) and the graphs of the functions it calls; views and variable reads
    are not counted, nor outputs of unknown shape."""
    total = 0
    for op in flops.graph_operations(graph):
        if op.type in _NOT_NEW:
            continue
        for output in op.outputs:
            shape = output.shape
            if (output.dtype.is_floating and shape.rank is not None
                    and shape.is_fully_defined()):
                total += int(np.prod(shape.as_list(), dtype=np.int64))
    return total


def forward_floats(model, *input_specs, **call_kwargs):
    """Floats of the activations of `model(*inputs, training=True)` for inputs of
    `input_specs` (tf.TensorSpec with static shapes), from its traced graph."""
    return graph_floats(flops.traced_graph(model, True, *input_specs, **call_kwargs))


def batch_floats(model, batch_size, *input_specs, **call_kwargs):
    """Floats of the activations of `model` on a batch of `batch_size`, for inputs of
    `input_specs` (tf.TensorSpec of one example, batch dimension 1): traced at batch
    sizes 1 and 2, so that values made once per call (a mixed policy's float16 copy of
    a kernel) count once and those of each example `batch_size` times."""
    def at(size):
        specs = tf.nest.map_structure(
            lambda spec: tf.TensorSpec((size, *spec.shape[1:]), spec.dtype), input_specs)
        return forward_floats(model, *specs, **call_kwargs)

    one, two = at(1), at(2)
    return one + (batch_size - 1) * max(0, two - one)


def variable_floats(variables):
    """The number of values held by `variables`."""
    return sum(int(np.prod(tuple(v.shape), dtype=np.int64)) for v in variables)


def training_bytes(model, element_spec, compute_bytes=4):
    """Bytes one `train_step` of `model` needs on a batch of `element_spec` (static
    batch size), by the module docstring's estimate.

    Args:
        model: a built `GAN` or `CycleGAN` (any model with `step_floats`).
        element_spec: the batches' structure, as the dataset yields them.
        compute_bytes: bytes of one activation (2 under a mixed policy, else 4).
    """
    weights = variable_floats(model.weights)
    trainable = variable_floats(model.trainable_weights)
    images = sum(int(np.prod(spec.shape.as_list(), dtype=np.int64))
                 for spec in tf.nest.flatten(element_spec) if spec.dtype.is_floating)
    activations = model.step_floats(element_spec)
    return 4 * (weights + 3 * trainable) + 2 * compute_bytes * activations + 8 * images


def free_bytes(on_gpu=False):
    """Memory free for a run: the first GPU's free memory (nvidia-smi) when `on_gpu`,
    else the host's available memory (MemAvailable, within a cgroup's limit); None
    where it cannot be read."""
    if on_gpu:
        return _gpu_free_bytes()
    found = []
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    found.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    try:
        with open("/sys/fs/cgroup/memory.max") as f:
            limit = f.read().strip()
        with open("/sys/fs/cgroup/memory.current") as f:
            used = int(f.read().strip())
        if limit != "max":
            found.append(max(0, int(limit) - used))
    except (OSError, ValueError):
        pass
    return min(found) if found else None


def _gpu_free_bytes():
    tool = shutil.which("nvidia-smi")
    if tool is None:
        return None
    try:
        text = subprocess.run([tool, "--query-gpu=memory.free", "--format=csv,noheader,"
                               "nounits"], capture_output=True, text=True, timeout=20,
                              check=True).stdout
        return min(int(line) for line in text.split()) * 2**20  # MiB
    except (OSError, ValueError, subprocess.SubprocessError):
        return None


def describe(count):
    """`count` bytes as a short text: "412 GiB", "3.2 MiB"."""
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if count >= size:
            value = count / size
            return f"{value:.1f} {unit}" if value < 10 else f"{math.floor(value)} {unit}"
    return f"{count} B"
