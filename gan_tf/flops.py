"""FLOPs of models from their traced graphs, and `steps_per_execution="auto"`.

    flops.forward(generator, tf.TensorSpec((1, 100)))   # FLOPs of one forward pass
    flops.graph_flops(concrete_function.graph)            # of any traced graph

Counted: the multiply-adds (2 FLOPs each) of the matrix products and convolutions
(MatMul, BatchMatMul, Conv2D, the transposed convolution Conv2DBackpropInput,
DepthwiseConv2dNative), from the shapes of their operands. Element-wise work (bias,
activations, normalisation) is left out: it is a few percent of these models' FLOPs,
though not of their time.

`choose_steps_per_execution` picks the training steps per call from `fit`'s Python loop
for compiled models with `steps_per_execution="auto"`: enough steps that one call
does about AUTO_TARGET_FLOPS of work (Keras spends about 1.3 ms of Python per call
on this project's 2-core CPU, docs/performance.md: 32 GFLOP take 100-300 ms there),
at most AUTO_MAX_STEPS, and a divisor of the epoch and of every step interval a
callback acts on, so that epochs stay whole and those intervals exact.
"""

import math

import numpy as np
import tensorflow as tf

AUTO_TARGET_FLOPS = 32e9
AUTO_MAX_STEPS = 64


def _dims(tensor):
    shape = tensor.shape
    if shape.rank is None or any(d is None for d in shape):
        return None
    return [int(d) for d in shape]


def op_flops(op):
    """FLOPs of one graph operation (0 for the kinds not counted, or unknown shapes)."""
    kind = op.type
    if kind not in ("MatMul", "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3", "Conv2D",
                    "Conv2DBackpropInput", "DepthwiseConv2dNative"):
        return 0
    if kind == "Conv2DBackpropInput":  # inputs: input_sizes, filter, out_backprop
        filters, grad = _dims(op.inputs[1]), _dims(op.inputs[2])
        if filters is None or grad is None:
            return 0
        # each pixel of out_backprop scatters a k_h x k_w x c_in patch of c_out taps
        return 2 * int(np.prod(grad)) * int(np.prod(filters[:3]))
    output = _dims(op.outputs[0])
    if output is None:
        return 0
    if kind == "Conv2D":  # filter (k_h, k_w, c_in, c_out); output (..., c_out)
        filters = _dims(op.inputs[1])
        return 0 if filters is None else 2 * int(np.prod(output)) * int(np.prod(filters[:3]))
    if kind == "DepthwiseConv2dNative":
        filters = _dims(op.inputs[1])
        return 0 if filters is None else 2 * int(np.prod(output)) * filters[0] * filters[1]
    # matrix products: the output's elements times the contracted size
    a = _dims(op.inputs[0])
    if a is None:
        return 0
    transposed = op.get_attr("transpose_a" if kind == "MatMul" else "adj_x")
    return 2 * int(np.prod(output)) * a[-2 if transposed else -1]


def graph_operations(graph):
    """Every operation of `graph` (a tf.Graph or FuncGraph) and of the graphs of the
    functions it calls, recursively."""
    yield from graph.get_operations()
    for function in getattr(graph, "_functions", {}).values():
        inner = getattr(function, "graph", None)
        if inner is not None:
            yield from graph_operations(inner)


def graph_flops(graph):
    """FLOPs of every counted operation of `graph` (a tf.Graph or FuncGraph),
    including the graphs of the functions it calls."""
    return sum(op_flops(op) for op in graph_operations(graph))


def traced_graph(model, training, *input_specs, **call_kwargs):
    """The graph of `model(*inputs, training=training)` traced for inputs of
    `input_specs` (tf.TensorSpec with static shapes; nested as the model takes them)."""
    function = tf.function(lambda *inputs: model(*inputs, training=training,
                                                  **call_kwargs))
    return function.get_concrete_function(*input_specs).graph


def forward(model, *input_specs, **call_kwargs):
    """FLOPs of `model(*inputs, training=False)` for inputs of `input_specs`
    (tf.TensorSpec with static shapes; nested structures as the model takes them)."""
    return graph_flops(traced_graph(model, False, *input_specs, **call_kwargs))


def largest_divisor(limit, multiples_of=()):
    """The largest d in [1, limit] that divides every non-zero entry of `multiples_of`."""
    common = 0
    for value in multiples_of:
        common = math.gcd(common, int(value or 0))
    limit = max(1, int(limit))
    if not common:
        return limit
    return max(d for d in range(1, min(limit, common) + 1) if common % d == 0)


def choose_steps_per_execution(step_flops, steps_per_epoch=None, intervals=()):
    """Steps per `fit` call for a training step of `step_flops` FLOPs (module docstring).

    Args:
        step_flops: FLOPs of one training step (None or 0: unknown, 1 step per call).
        steps_per_epoch: the epoch's length, which the result divides (None: any).
        intervals: step counts some callback acts on (checkpoints, sample grids,
            TensorBoard logs), which the result divides; 0 entries are ignored.

    Returns:
        int in [1, AUTO_MAX_STEPS].
    """
    if not step_flops:
        return 1
    wanted = min(AUTO_MAX_STEPS, max(1, int(AUTO_TARGET_FLOPS // step_flops)))
    return largest_divisor(wanted, (steps_per_epoch, *intervals))
