"""The `tf.distribute` strategy of a run, and which of its workers writes.

    default       the current (one-device) strategy
    mirrored      `MirroredStrategy` over all local GPUs (or the logical devices set up)
    multi_worker  `MultiWorkerMirroredStrategy` over the hosts in the TF_CONFIG
                  environment variable (docs/distributed.md)
    tpu           `TPUStrategy` on the TPU that `TPUClusterResolver` finds

In a multi-worker run every worker computes the same steps; only the chief (worker 0,
or the task of type "chief") writes the workdir. The others write their checkpoints
into a scratch folder of their own (`worker_scratch`), which MultiWorkerMirroredStrategy
needs (each worker saves, then all restore the chief's).
"""

import os
import tempfile

STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")


def make_strategy(name):
    """The strategy named `name` (one of STRATEGIES).

    Raises:
        ValueError: an unknown name.
    """
    import tensorflow as tf

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
    raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}, got {name!r}")


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
