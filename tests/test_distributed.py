"""Training beyond one process, and workdirs on any tf.io.gfile filesystem.

Slow (-m slow): two worker processes on loopback ports (TF_CONFIG) train one run
through the CLI (`--strategy=multi_worker`) and through the Python API
(MultiWorkerMirroredStrategy + GAN.fit / CycleGAN.fit); both end with the same
weights, equal (1e-5) to one process with the same global batch. A SIGTERM to one
worker stops both after the same step, and the run resumes. Fast: a whole CLI run in a
`ram://` workdir (TensorFlow's in-memory filesystem), then its resume.
"""

import json
import os
import socket
import subprocess
import sys

import h5py
import numpy as np
import pytest
import tensorflow as tf

from gan_tf import train

# No batch norm and no dropout: both differ by design between one process and
# several (statistics of each worker's share; each worker's masks).
EXACT = ["--quick", "--model=mlp", "--verbose=0",
         '--set=model.generator={"batch_norm": false}',
         '--set=model.discriminator={"dropout": 0.0}']


def _ports(num):
    sockets = [socket.socket() for _ in range(num)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _run_workers(command, cwd, faults=(None, None), timeout=420):
    """Runs `command` as worker 0 and worker 1 of one cluster on loopback; returns
    [(exit status, stdout + stderr)] per worker."""
    cluster = {"worker": [f"localhost:{port}" for port in _ports(2)]}
    processes = []
    for index, fault in enumerate(faults):
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "TF_CONFIG": json.dumps(
            {"cluster": cluster, "task": {"type": "worker", "index": index}})}
        env.pop("GAN_TF_FAULT", None)
        if fault:
            env["GAN_TF_FAULT"] = fault
        processes.append(subprocess.Popen(command, env=env, cwd=str(cwd), text=True,
                                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
    try:
        outputs = [p.communicate(timeout=timeout)[0] for p in processes]
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
    return [(p.returncode, out) for p, out in zip(processes, outputs)]


def _cli(*args):
    return [sys.executable, "-m", "gan_tf.train", *args]


def _worker_cli(*args):
    return _cli("--strategy=multi_worker", *args)


def _weights(path):
    """Every array of a .weights.h5 file (weights, optimizer slots, step), by name."""
    found = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, item: found.__setitem__(name, np.asarray(item))
                     if isinstance(item, h5py.Dataset) else None)
    return found


def _assert_same_weights(a, b, atol=1e-5):
    first, second = _weights(a), _weights(b)
    assert first.keys() == second.keys() and first
    worst = max(float(np.max(np.abs(first[k].astype(np.float64) - second[k])))
                for k in first)
    assert worst <= atol, (a, b, worst)


@pytest.fixture(scope="module")
def single_process(tmp_path_factory):
    """One process, the same global batch, 3 epochs: the reference the workers match."""
    from gan_tf import data

    data.builder("mnist_sample")  # prepared once here, not by both workers at once
    workdir = tmp_path_factory.mktemp("single") / "run"
    result = subprocess.run(_cli(*EXACT, "--epochs=3", f"--workdir={workdir}"),
                            capture_output=True, text=True, timeout=300,
                            cwd=str(workdir.parent))
    assert result.returncode == 0, result.stderr[-3000:]
    return workdir / "checkpoints"


@pytest.mark.slow
def test_two_workers_through_the_cli_equal_one_process_and_resume(tmp_path, single_process):
    workdir = tmp_path / "run"
    results = _run_workers(_worker_cli(*EXACT, f"--workdir={workdir}"), tmp_path)
    assert [code for code, _ in results] == [0, 0], results[0][1][-3000:] + results[1][1][-3000:]
    assert all("all 2 workers hold the same state after step 6" in out for _, out in results)
    # Only the chief wrote: the workdir is worker 0's; worker 1 left nothing behind.
    assert (workdir / "generator" / "saved_model.pb").exists()
    assert sorted(p.name for p in (workdir / "samples").iterdir()) == [
        "epoch_0001.png", "epoch_0002.png", "progress.gif"]
    _assert_same_weights(workdir / "checkpoints" / "ckpt-0002.weights.h5",
                         single_process / "ckpt-0002.weights.h5")
    # Resume for a third epoch: every worker restores the chief's checkpoint (they
    # compare digests after restoring), and the result is the uninterrupted run's.
    results = _run_workers(_worker_cli(*EXACT, "--epochs=3", f"--workdir={workdir}"),
                           tmp_path)
    assert [code for code, _ in results] == [0, 0], results[1][1][-3000:]
    assert all("resuming" in out and "after step 9" in out for _, out in results)
    _assert_same_weights(workdir / "checkpoints" / "ckpt-0003.weights.h5",
                         single_process / "ckpt-0003.weights.h5")
    history = json.loads((workdir / "history.json").read_text())
    assert history["epoch"] == [1, 2, 3]
    assert all(isinstance(v, float) for v in history["d_loss"])


@pytest.mark.slow
def test_sigterm_to_one_worker_stops_both_and_the_run_resumes(tmp_path, single_process):
    """Worker 1 gets SIGTERM after step 3 (--quick runs 3 steps per execution): both
    stop after that step, the chief saves it (exit 143 on both); the same command on
    both resumes to the end, with the uninterrupted run's weights."""
    workdir = tmp_path / "run"
    command = _worker_cli(*EXACT, f"--workdir={workdir}")
    results = _run_workers(command, tmp_path, faults=(None, "step@3:sigterm"))
    assert [code for code, _ in results] == [143, 143], results[0][1][-3000:]
    saved = json.loads((workdir / "checkpoints" / "checkpoint.json").read_text())
    assert saved["step"] == 3
    results = _run_workers(command, tmp_path)
    assert [code for code, _ in results] == [0, 0], results[0][1][-3000:]
    assert all("resuming" in out for _, out in results)
    _assert_same_weights(workdir / "checkpoints" / "ckpt-0002.weights.h5",
                         single_process / "ckpt-0002.weights.h5")


_API_SCRIPT = """
import json, os, sys
import numpy as np, tensorflow as tf
multi = "TF_CONFIG" in os.environ
strategy = tf.distribute.MultiWorkerMirroredStrategy() if multi else \\
    tf.distribute.get_strategy()
import keras, gan_tf
from gan_tf import cyclegan, models

def dataset(*arrays):
    ds = tf.data.Dataset.from_tensor_slices(arrays if len(arrays) > 1 else arrays[0])
    return ds.batch(16, drop_remainder=True)  # the global batch

rng = np.random.default_rng(0)
images = rng.uniform(-1, 1, (64, 28, 28, 1)).astype("float32")
keras.utils.set_random_seed(0)
with strategy.scope():
    gan = gan_tf.GAN(models.mlp.Generator(8, hidden_units=(16,), batch_norm=False),
                     models.mlp.Discriminator(hidden_units=(16,), dropout=0.0),
                     latent_dim=8, seed=0)
    gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3),
                loss="wasserstein_gp")
history = gan.fit(dataset(images).repeat(), epochs=2, steps_per_epoch=2, verbose=0)
keras.utils.set_random_seed(0)
with strategy.scope():
    translator = cyclegan.build((28, 28, 1), generator={"base_channels": 4, "num_res_blocks": 1},
                                discriminator={"base_channels": 4}, seed=0)
    # Pools of 8: the first step's 16 fakes fill them and swap, gathered across workers.
    translator.compile(keras.optimizers.Adam(2e-3), keras.optimizers.Adam(2e-3), pool_size=8)
other = rng.uniform(-1, 1, (32, 28, 28, 1)).astype("float32")
cycle = translator.fit(dataset(images[:32], other), epochs=1, verbose=0)
arrays = {f"gan/{v.path}": v.numpy() for v in gan.weights + gan.g_optimizer.variables}
# CycleGAN by its outputs (the test says why).
probe = rng.uniform(-1, 1, (4, 28, 28, 1)).astype("float32")
for name in ("g_ab", "g_ba", "d_a", "d_b"):
    arrays[f"cyclegan/{name}"] = getattr(translator, name)(probe, training=False).numpy()
arrays.update({f"cyclegan/{k}": v.numpy() for k, v in translator.extra_state().items()})
index = json.loads(os.environ["TF_CONFIG"])["task"]["index"] if multi else ""
np.savez(f"{sys.argv[1]}{index}.npz", **arrays)
logs = {k: v for k, v in {**history.history, **cycle.history}.items()}
assert all(isinstance(x, float) for v in logs.values() for x in v), logs
print("steps", gan.train_steps, translator.train_steps, json.dumps(logs))
"""


@pytest.mark.slow
def test_two_workers_through_the_api_equal_one_process(tmp_path):
    """MultiWorkerMirroredStrategy + GAN.fit (WGAN-GP: noise and epsilon slices
    across workers) and CycleGAN.fit, against one process with the same global batch."""
    script = tmp_path / "api.py"
    script.write_text(_API_SCRIPT)
    one = subprocess.run([sys.executable, str(script), str(tmp_path / "one")],
                         capture_output=True, text=True, timeout=300, cwd=str(tmp_path))
    assert one.returncode == 0, one.stderr[-3000:]
    results = _run_workers([sys.executable, str(script), "worker"], tmp_path)
    assert [code for code, _ in results] == [0, 0], results[0][1][-3000:]
    logs = [out.split("steps 4 2 ", 1)[1].strip().splitlines()[0] for _, out in results]
    assert logs[0] == logs[1]
    single = np.load(tmp_path / "one.npz")
    assert any(k.startswith("cyclegan/") for k in single.files)
    for index in (0, 1):
        worker = np.load(tmp_path / f"worker{index}.npz")
        assert sorted(single.files) == sorted(worker.files)
        for key in single.files:
            # CycleGAN: its convolutions' biases before instance norm get gradients of
            # rounding noise only, which Adam turns into lr-sized steps (2e-3) that
            # differ with the summation order; the outputs move by ~1e-4.
            atol = 1e-3 if key.startswith("cyclegan/") else 1e-5
            np.testing.assert_allclose(worker[key], single[key], atol=atol, err_msg=key)
    expected = json.loads(one.stdout.split("steps 4 2 ", 1)[1].splitlines()[0])
    for key, values in json.loads(logs[0]).items():
        np.testing.assert_allclose(values, expected[key], rtol=1e-4, atol=1e-6, err_msg=key)


# -- Workdirs on any filesystem ------------------------------------------------------


def test_a_whole_run_in_a_ram_workdir_then_its_resume():
    """All of a run's I/O goes through tf.io.gfile: a `ram://` workdir (which no
    os/open call can reach) gets the config, history, checkpoint index, samples,
    TensorBoard logs and the export; the same command with more epochs resumes it."""
    workdir = "ram://gan_tf_tests/run"
    gfile = tf.io.gfile
    assert train.main(["gan_tf.train", "--quick", "--model=mlp", "--verbose=0",
                       f"--workdir={workdir}"]) == 0
    for name in ("config.json", "versions.json", "history.json", "losses.png",
                 "checkpoints/checkpoint.json", "checkpoints/ckpt-0002.weights.h5",
                 "samples/epoch_0002.png", "samples/progress.gif",
                 "generator/saved_model.pb", "generator/gan_tf_export.json"):
        assert gfile.exists(f"{workdir}/{name}"), name
    assert gfile.listdir(f"{workdir}/logs")
    assert not os.path.exists("ram:")  # nothing went to a local folder named "ram:"
    assert train.main(["gan_tf.train", "--quick", "--model=mlp", "--verbose=0",
                       "--epochs=3", f"--workdir={workdir}"]) == 0
    with gfile.GFile(f"{workdir}/history.json") as f:
        assert json.load(f)["epoch"] == [1, 2, 3]
    with gfile.GFile(f"{workdir}/checkpoints/checkpoint.json") as f:
        assert json.load(f)["step"] == 9
    exported = tf.saved_model.load(f"{workdir}/generator")
    assert exported.signatures["serving_default"] is not None
