"""The `tf.distribute` strategy of a run, and which of its workers writes.

    default       the current (one-device) strategy
    mirrored      `MirroredStrategy` over all local GPUs (or the logical devices set up)
    multi_worker  `MultiWorkerMirroredStrategy` over the hosts in the TF_CONFIG
                  environment variable (docs/distributed.md)
    tpu           `TPUStrategy` on the TPU that `TPUClusterResolver` finds

In a multi-worker run every worker computes the same steps; only the chief (worker 0,
or the task of type "chief") writes the workdir; the others get a scratch folder of
their own (`worker_scratch`) and restore the chief's checkpoints.

The workers of a run must take the same decisions at the same step, or one of them
waits forever in a collective operation that the others never start:

    gather(strategy, values)      every worker's numbers (one collective), the way
                                  workers agree: on stopping (a signal or a time
                                  budget on one worker stops all after the same step)
                                  and on what they restored
    average(strategy, arrays)     the workers' mean, which `SameStatistics` gives the
                                  batch-norm moving statistics after every step
    check_same_state(...)         the workers hold the same weights, optimizer slots,
                                  random states and step (digests compared)
    lost_worker(error)            the error a collective raises when a worker is gone
                                  (TensorFlow's coordination service notices a
                                  missing heartbeat and aborts the others' collectives)

Outside a multi-worker strategy these cost nothing: one worker agrees with itself.
"""

import os
import tempfile
import zlib

import keras
import numpy as np
import tensorflow as tf

from gan_tf import _keras_compat
from gan_tf import configs

def make_strategy(name):
    """The strategy named `name` (one of configs.STRATEGIES).

    Raises:
        ValueError: an unknown name.
    """
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    raise ValueError(f"strategy must be one of {', '.join(configs.STRATEGIES)}, "
                     f"got {name!r}")


def task(strategy):
    """(task type, task id) of this process in its cluster; ("chief", 0) outside one."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return "chief", 0
    return resolver.task_type, int(resolver.task_id or 0)


def is_chief(strategy):
    """True for the worker that writes samples, logs and checkpoints."""
    kind, index = task(strategy)
    if kind == "chief":
        return True
    resolver = strategy.cluster_resolver
    return kind == "worker" and index == 0 and "chief" not in \
        resolver.cluster_spec().as_dict()


def worker_scratch(strategy):
    """A private folder for a non-chief worker's writes (removed by the caller)."""
    kind, index = task(strategy)
    return tempfile.mkdtemp(prefix=f"gan_tf-{kind}{index}-{os.getpid()}-")


class WorkerLostError(RuntimeError):
    """A worker of a multi-worker run stopped (crashed, killed or preempted) while the
    others waited for it; the message says where the run can resume."""


class WorkersDisagreeError(RuntimeError):
    """The workers of a multi-worker run hold different states (another checkpoint)."""


def _cluster(strategy):
    """The cluster spec as a dict, or None outside a multi-worker strategy."""
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return None
    resolver = getattr(strategy, "cluster_resolver", None)
    return resolver.cluster_spec().as_dict() if resolver is not None else None


def num_workers(strategy):
    """The processes that train together: the chief and the workers of the cluster
    (1 outside a multi-worker strategy)."""
    cluster = _cluster(strategy) or {}
    return max(1, sum(len(cluster.get(kind, ())) for kind in ("chief", "worker")))


def worker_index(strategy):
    """This process's place among `num_workers` (the chief first)."""
    cluster = _cluster(strategy) or {}
    kind, index = task(strategy)
    if kind == "chief":
        return 0
    return index + (1 if "chief" in cluster else 0)


def is_multi_worker(strategy):
    """True under a MultiWorkerMirroredStrategy spanning more than one worker."""
    return num_workers(strategy) > 1


_SUMS = {}


def _sum(strategy, values):
    """The sum over all workers of each worker's float64 array `values` (one
    collective; a barrier too: it returns once all workers have called it)."""
    key = id(strategy)
    if key not in _SUMS:
        @tf.function
        def summed(local):  # traced once per shape: far cheaper than eager collectives
            per_replica = strategy.run(tf.identity, args=(local,))
            return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)
        _SUMS[key] = summed
    return _SUMS[key](tf.constant(values, tf.float64)).numpy()


def gather(strategy, values):
    """Every worker's `values`, gathered by one collective sum (a barrier too).

    Args:
        strategy: the run's strategy.
        values: this worker's numbers (a sequence of floats; integers up to 2**53
            stay exact).

    Returns:
        float64 numpy array (num_workers, len(values)); row i is worker i's
        (`worker_index`). Without other workers: one row, and no communication.
    """
    values = np.asarray(values, np.float64).reshape(-1)
    workers = num_workers(strategy)
    if workers == 1:
        return values[None]
    table = np.zeros((workers, values.size), np.float64)
    table[worker_index(strategy)] = values
    return _sum(strategy, table)


def average(strategy, arrays):
    """The mean over all workers of each of this worker's `arrays` (one collective
    for all; float64 sums, so workers that agree get their own values back exactly).

    Returns:
        a list of arrays of the shapes and dtypes of `arrays`.
    """
    workers = num_workers(strategy)
    if workers == 1 or not arrays:
        return [np.asarray(a) for a in arrays]
    flat = np.concatenate([np.asarray(a, np.float64).reshape(-1) for a in arrays])
    mean, found, start = _sum(strategy, flat) / workers, [], 0
    for a in arrays:
        a = np.asarray(a)
        found.append(mean[start:start + a.size].reshape(a.shape).astype(a.dtype))
        start += a.size
    return found


class SameStatistics(keras.callbacks.Callback):
    """Keeps the workers' non-trainable float weights (batch-norm moving statistics)
    equal: after every execution of the training function, each becomes the mean over
    the workers.

    Each worker updates them from its own share of the batch (Keras creates them
    without a cross-replica aggregation). A moving average is linear in what it
    averages, so, started equal, the mean of the workers' moving means is exactly the
    moving average of the workers' batch means: the statistics of the global batch,
    as TensorFlow's MEAN aggregation would keep them. `AdversarialModel.fit` adds this
    callback, first, under a multi-worker strategy.
    """

    def on_train_batch_end(self, batch, logs=None):
        variables = [w for w in self.model.non_trainable_weights
                     if "float" in str(w.dtype)]
        if not variables:
            return
        means = average(self.model.distribute_strategy, [v.numpy() for v in variables])
        for variable, value in zip(variables, means):
            variable.assign(value)


def state_digest(model):
    """A CRC-32 of everything training changes in `model` (an AdversarialModel): its
    weights, random generators' states, extra state (CycleGAN's image pools), step
    count and both optimizers' variables."""
    variables = (list(model.weights) + _keras_compat.random_states(model)
                 + list(model.extra_state().values()))
    for optimizer in (model.g_optimizer, model.d_optimizer):
        variables += list(optimizer.variables)
    digest = zlib.crc32(np.asarray(model.train_steps, np.int64).tobytes())
    for variable in variables:
        digest = zlib.crc32(np.ascontiguousarray(variable.numpy()).tobytes(), digest)
    return digest


def check_same_state(strategy, model, when):
    """Raises WorkersDisagreeError unless every worker holds the same state (its
    `state_digest` and step); returns this worker's digest. All workers must call it.

    Args:
        when: what just happened ("restored", "trained"), for the messages.
    """
    digest = state_digest(model)
    table = gather(strategy, [digest, model.train_steps])
    if len({tuple(row) for row in table}) > 1:
        rows = ", ".join(f"worker {i}: step {int(step)} digest {int(crc):08x}"
                         for i, (crc, step) in enumerate(table))
        raise WorkersDisagreeError(
            f"the workers hold different states after they {when} ({rows}); give every "
            "worker the same command and the same shared --workdir")
    return digest


def lost_worker(error):
    """True for the errors a collective raises when another worker is gone."""
    return isinstance(error, (tf.errors.UnavailableError, tf.errors.AbortedError,
                              tf.errors.CancelledError, tf.errors.DeadlineExceededError)) \
        or (isinstance(error, tf.errors.OpError) and "Collective ops is aborted" in str(error))
