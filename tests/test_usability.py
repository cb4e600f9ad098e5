"""What a new user trips over (issue 18): one test per item, through the CLI where a
user would meet it."""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from gan_tf import callbacks
from tests.conftest import small_gan
from tests.test_train import QUICK, run_cli

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _event_tags(folder):
    """{event file name: set of summary tags} of the TensorBoard files in `folder`."""
    found = {}
    for name in os.listdir(folder):
        if name.startswith("events.out"):
            tags = set()
            for record in tf.data.TFRecordDataset(os.path.join(folder, name)):
                event = tf.compat.v1.Event.FromString(record.numpy())
                tags.update(value.tag for value in event.summary.value)
            found[name] = tags
    return found


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("usability") / "run"
    assert run_cli(*QUICK, "--steps_per_epoch=4", "--sample_every_steps=3",
                   "--log_every_steps=1", f"--workdir={workdir}") == 0
    return workdir


def test_each_tensorboard_folder_has_one_writer(quick_run):
    """1: the sample grids and Keras' scalars used to share logs/train (TensorBoard
    follows only the newest event file of a folder)."""
    scalars = _event_tags(quick_run / "logs" / "train")
    images = _event_tags(quick_run / "logs" / "samples")
    assert len(scalars) == 1 and len(images) == 1, (scalars, images)
    assert {"epoch_d_loss", "epoch_g_loss"} <= next(iter(scalars.values()))
    assert next(iter(images.values())) == {"samples"}


def test_step_intervals_for_samples_and_scalars(quick_run):
    """11: --sample_every_steps and --log_every_steps add step-based grids and scalars."""
    steps = sorted(f for f in os.listdir(quick_run / "samples") if f.startswith("step_"))
    assert steps == ["step_000000003.png", "step_000000006.png"]  # 2 epochs x 4 steps
    tags = next(iter(_event_tags(quick_run / "logs" / "train").values()))
    assert "batch_d_loss" in tags


def test_loss_curves_without_eval_every(quick_run):
    """10: every run draws losses.png, updated each epoch."""
    assert (quick_run / "losses.png").stat().st_size > 1000
    history = json.loads((quick_run / "history.json").read_text())
    assert history["epoch"] == [1, 2]


def test_licence_and_the_bundled_digits_notice():
    """2: a LICENSE, its declaration in setup.py, and the MIT notice of the digits."""
    licence = (ROOT / "LICENSE").read_text()
    assert "Apache License" in licence and "Version 2.0" in licence
    assert "Copyright (c) 2015 Juan Cazala" in licence and "MIT License" in licence
    setup = (ROOT / "setup.py").read_text()
    assert 'license="Apache-2.0"' in setup and "author=" in setup


def setup_arguments():
    """The literal keyword arguments of setup() in setup.py, e.g. extras_require."""
    import ast

    tree = ast.parse((ROOT / "setup.py").read_text())
    call = next(node for node in ast.walk(tree) if isinstance(node, ast.Call)
                and getattr(node.func, "id", None) == "setup")
    found = {}
    for keyword in call.keywords:
        try:
            found[keyword.arg] = ast.literal_eval(keyword.value)
        except ValueError:
            pass  # computed values (the version, the README)
    return found


def test_notebook_extra_has_what_the_notebooks_import():
    """9: notebook 002's t-SNE imports scikit-learn."""
    assert "scikit-learn" in setup_arguments()["extras_require"]["notebooks"]
    sources = " ".join(p.read_text() for p in (ROOT / "notebooks").glob("*.py"))
    assert "sklearn" in sources  # the reason for the extra


@pytest.mark.parametrize("args, expected", [
    (["--config=wgan", "--loss=hinge"], 0),
    (["--config=wgan_gp", "--loss=least_squares"], 0),
    (["--config=infogan", "--loss=hinge"], 2),
])
def test_swapping_a_presets_loss(tmp_path, capsys, args, expected):
    """4: the preset's loss options (clip_value, d_steps, codes) used to reach the new
    loss and crash; now they are dropped, or the conflict is named."""
    workdir = tmp_path / "run"
    assert run_cli(*QUICK, *args, f"--workdir={workdir}") == expected
    err = capsys.readouterr().err
    if expected == 0:
        config = json.loads((workdir / "config.json").read_text())
        assert config["train"]["loss_kwargs"] == {}
    else:
        line = err.strip().splitlines()[-1]
        assert line.startswith("error: ") and "--loss=infogan" in line
        assert "Traceback" not in err and not workdir.exists()


@pytest.mark.parametrize("arg", ["--epochs=abc", "--precision=float8", "--ema=2",
                                 "--set=train.beta_1=high", "--nonsense=1"])
def test_every_bad_flag_is_one_line_and_status_2(tmp_path, capsys, arg):
    """5: absl's "FATAL Flags parsing error" and status 1 became one line and 2."""
    assert run_cli(arg, f"--workdir={tmp_path / 'run'}") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err


@pytest.mark.parametrize("setting", ["env", "file"])
def test_other_keras_backends_are_named_at_import(tmp_path, setting):
    """13: with another Keras backend gan_tf says what to set."""
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    if setting == "env":
        env["KERAS_BACKEND"] = "jax"
    else:
        (tmp_path / "keras.json").write_text(json.dumps({"backend": "numpy"}))
        env["KERAS_HOME"] = str(tmp_path)
    result = subprocess.run([sys.executable, "-c", "import gan_tf"], capture_output=True,
                            text=True, env=env, timeout=120)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert "gan_tf needs Keras' TensorFlow backend" in last
    assert "set KERAS_BACKEND=tensorflow" in last


def test_sample_grid_after_the_last_epoch(tmp_path):
    """14: SampleGrid promised a grid after the last epoch; with every=3 and 4 epochs
    there is one after epochs 3 and 4."""
    gan = small_gan()
    images = np.random.default_rng(0).uniform(-1, 1, (32, 28, 28, 1)).astype("float32")
    dataset = tf.data.Dataset.from_tensor_slices(images).batch(8)
    gan.fit(dataset, epochs=4, verbose=0,
            callbacks=[callbacks.SampleGrid(str(tmp_path), num_images=4, every=3)])
    assert sorted(f for f in os.listdir(tmp_path) if f.endswith(".png")) == [
        "epoch_0003.png", "epoch_0004.png"]


def test_version_floors_are_the_ones_ci_tests():
    """3: setup.py's floors are the versions .ci/floor.txt pins, which .ci/run installs
    in a venv of their own to run the training-loop tests (keras>=3.3 was too low for
    the export's write_out(verbose=...))."""
    pins = dict(line.split("==") for line in (ROOT / ".ci" / "floor.txt").read_text()
                .splitlines() if line and not line.startswith("#"))
    requires = setup_arguments()["install_requires"]
    for name, version in pins.items():
        floor = ".".join(version.split(".")[:2])
        assert f"{name}>={floor}" in requires, (name, requires)
    ci = (ROOT / ".ci" / "run").read_text()
    assert "-c .ci/floor.txt" in ci and "tests/test_gan.py" in ci
