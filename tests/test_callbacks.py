"""Callbacks writing into tmp_path: sample grids, history file, checkpoints."""

import json
import os

import keras
import numpy as np
import pytest
from PIL import Image

from gan_tf import callbacks
from gan_tf import checkpoint
from tests.conftest import image_dataset, small_gan


def test_sample_grid_history_and_checkpoints(tmp_path):
    gan = small_gan()
    samples, history, checkpoints = (str(tmp_path / n) for n in
                                     ("samples", "history.json", "ckpt"))
    gan.fit(image_dataset(16, 8), epochs=4, verbose=0, callbacks=[
        callbacks.SampleGrid(samples, num_images=9, log_dir=str(tmp_path / "logs")),
        callbacks.HistoryFile(history),
        checkpoint.Checkpoint(checkpoints, keep=2)])
    pngs = sorted(f for f in os.listdir(samples) if f.endswith(".png"))
    assert pngs == [f"epoch_{e:04d}.png" for e in range(1, 5)]
    assert Image.open(os.path.join(samples, "progress.gif")).n_frames == 4
    # TensorBoard image events in a folder of their own (one writer per folder).
    assert os.listdir(str(tmp_path / "logs" / "samples"))
    with open(history) as f:
        logged = json.load(f)
    assert logged["epoch"] == [1, 2, 3, 4] and len(logged["d_loss"]) == 4
    assert sorted(os.listdir(checkpoints)) == [
        "checkpoint.json", "ckpt-0003.state.json", "ckpt-0003.weights.h5",
        "ckpt-0004.state.json", "ckpt-0004.weights.h5"]
    assert checkpoint.CheckpointManager(checkpoints).latest()[0].epoch == 4


def test_sample_grid_uses_fixed_noise(tmp_path):
    gan = small_gan()
    grid = callbacks.SampleGrid(str(tmp_path), num_images=4, seed=1)
    grid.set_model(gan)
    grid.on_train_begin()
    first = np.asarray(Image.open(grid.write(1)))
    second = np.asarray(Image.open(grid.write(2)))
    np.testing.assert_array_equal(first, second)  # same weights, same noise


def test_history_file_resumes(tmp_path):
    path = str(tmp_path / "history.json")
    first = callbacks.HistoryFile(path)
    for epoch in range(3):
        first.on_epoch_end(epoch, {"g_loss": float(epoch)})
    resumed = callbacks.HistoryFile(path)
    resumed.on_epoch_end(2, {"g_loss": 20.0})  # epoch 3 again after a resume at 2
    with open(path) as f:
        assert json.load(f) == {"epoch": [1, 2, 3], "g_loss": [0.0, 1.0, 20.0]}


def test_corrupt_history_is_reported(tmp_path):
    path = tmp_path / "history.json"
    path.write_text("{not json")
    with pytest.raises(checkpoint.CheckpointError, match="history.json is corrupt"):
        callbacks.HistoryFile(str(path))


def save(gan, directory, epoch):
    """A checkpoint of `gan` after `epoch` epochs in `directory`."""
    state = checkpoint.RunState(epoch=epoch, step=gan.train_steps)
    return checkpoint.CheckpointManager(directory).save(gan, state)


def test_restore_round_trip_and_corrupt_checkpoint(tmp_path):
    gan = small_gan()
    gan.fit(image_dataset(16, 8), epochs=1, verbose=0)
    save(gan, str(tmp_path), epoch=1)
    other = small_gan(seed=3)
    assert checkpoint.CheckpointManager(str(tmp_path)).restore(other).epoch == 1
    np.testing.assert_array_equal(other.generate(2, seed=0), gan.generate(2, seed=0))
    assert checkpoint.CheckpointManager(str(tmp_path / "empty")).restore(small_gan()) is None

    (tmp_path / "ckpt-0001.weights.h5").write_bytes(b"garbage, not HDF5")
    with pytest.raises(checkpoint.CheckpointError, match="ckpt-0001.weights.h5.*--restart"):
        checkpoint.CheckpointManager(str(tmp_path)).restore(small_gan())


def test_checkpoint_of_another_model_is_refused(tmp_path):
    save(small_gan(family="dcgan"), str(tmp_path), epoch=1)
    with pytest.raises(checkpoint.CheckpointError, match="different model"):
        checkpoint.CheckpointManager(str(tmp_path)).restore(small_gan(family="mlp"))


def test_time_budget_stops_training_after_the_budget():
    import time as time_lib

    class Slow(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            time_lib.sleep(0.05)

    gan = small_gan()
    budget = callbacks.TimeBudget(minutes=0.3 / 60)  # 0.3 s
    history = gan.fit(image_dataset(64, 8).repeat(), epochs=50, steps_per_epoch=8,
                      verbose=0, callbacks=[Slow(), budget])
    assert budget.stopped and 0.3 <= budget.spent_seconds < 60  # tracing counts too
    assert 1 <= gan.train_steps < 50 * 8 and len(history.history["d_loss"]) < 50
    resumed = callbacks.TimeBudget(minutes=1, elapsed_seconds=60.0)
    gan.fit(image_dataset(64, 8).repeat(), epochs=1, steps_per_epoch=8, verbose=0,
            callbacks=[resumed])
    assert resumed.stopped  # a resumed run continues its budget
    with pytest.raises(ValueError, match="train_minutes"):
        callbacks.TimeBudget(0)
