"""The absl CLI: end to end into a tmp workdir, resuming, and every bad input."""

import json
import os
import subprocess
import sys

import pytest

from gan_tf import checkpoint
from gan_tf import configs
from gan_tf import data
from gan_tf import tasks
from gan_tf import train
from gan_tf import trainer

QUICK = ["--quick", "--verbose=0"]


def run_cli(*args):
    """Runs the training CLI in this process (as `python -m gan_tf.train ARGS`);
    returns its exit status."""
    return train.main(["gan_tf.train", *args])


def test_end_to_end_then_resume(tmp_path, capsys):
    workdir = str(tmp_path / "run")
    assert run_cli(*QUICK, f"--workdir={workdir}") == 0
    assert f"done: {os.path.abspath(workdir)}" in capsys.readouterr().out
    for name in ("config.json", "history.json", "samples/epoch_0001.png",
                 "samples/epoch_0002.png", "samples/progress.gif", "checkpoints/checkpoint.json",
                 "generator/saved_model.pb", "generator/gan_tf_export.json"):
        assert os.path.exists(os.path.join(workdir, name)), name
    assert os.listdir(os.path.join(workdir, "logs"))

    # The same command with more epochs resumes at epoch 3.
    assert run_cli(*QUICK, f"--workdir={workdir}", "--epochs=3") == 0
    with open(os.path.join(workdir, "history.json")) as f:
        assert json.load(f)["epoch"] == [1, 2, 3]
    checkpoints = checkpoint.CheckpointManager(os.path.join(workdir, "checkpoints"))
    assert checkpoints.latest()[0].epoch == 3
    gan = tasks.build_model(configs.quick(configs.get()))
    checkpoints.restore(gan)
    assert int(gan.g_optimizer.iterations) == 3 * 3  # 3 epochs x 3 steps, none lost

    # Run again unchanged: nothing to train, still exports and exits 0.
    assert run_cli(*QUICK, f"--workdir={workdir}", "--epochs=3") == 0


def test_restart_starts_over(tmp_path):
    workdir = str(tmp_path / "run")
    assert run_cli(*QUICK, f"--workdir={workdir}") == 0
    assert run_cli(*QUICK, f"--workdir={workdir}", "--model=mlp", "--restart") == 0
    with open(os.path.join(workdir, "config.json")) as f:
        assert json.load(f)["model"]["family"] == "mlp"
    with open(os.path.join(workdir, "history.json")) as f:
        assert json.load(f)["epoch"] == [1, 2]


def test_flagfile(tmp_path):
    flagfile = tmp_path / "my.flags"
    workdir = tmp_path / "run"
    flagfile.write_text(f"--config=tutorial_004\n--dataset=mnist_sample\n--quick\n"
                        f"--verbose=0\n--workdir={workdir}\n")
    assert run_cli(f"--flagfile={flagfile}") == 0
    with open(workdir / "config.json") as f:
        config = json.load(f)
    assert config["preset"] == "tutorial_004" and config["model"]["family"] == "mlp"


def test_helpconfig_shows_the_values_the_command_would_train_with(capsys):
    # The default preset's, not the schema's (batch 64): what `python -m gan_tf.train`
    # trains with.
    assert run_cli("--helpconfig") == 0
    out = capsys.readouterr().out
    assert "in preset 'default'" in out.splitlines()[0]
    assert "data.batch_size (--batch_size): int = 32" in out
    assert "model.ema_decay (--ema): float or None = 0.999" in out
    assert run_cli("--config=lsgan", "--set=train.seed=7", "--helpconfig") == 0
    out = capsys.readouterr().out
    assert "in preset 'lsgan'" in out.splitlines()[0]
    assert "data.batch_size (--batch_size): int = 64" in out
    assert "train.loss (--loss): str = 'least_squares'" in out
    assert "train.seed (--seed): int = 7" in out
    assert run_cli("--batch_size=0", "--helpconfig") == 2  # a bad flag is still named
    assert "batch_size must be >= 1" in capsys.readouterr().err


@pytest.mark.parametrize("args, message", [
    (["--config=nope"], "unknown config 'nope'"),
    (["--model=vae"], "unknown model 'vae'"),
    (["--loss=wgan_typo"], "unknown loss 'wgan_typo'"),
    (["--dataset=imagenet"], "unknown dataset 'imagenet'"),
    (["--epochs=0"], "epochs must be >= 1, got 0"),
    (["--batch_size=0"], "batch_size must be >= 1, got 0"),
    (["--steps_per_epoch=-1"], "steps_per_epoch must be >= 1"),
    (["--g_lr=-1"], "g_lr must be > 0"),
    # network and loss arguments refused with a TypeError: a usage error naming them
    (['--set=model.generator={"base_channels": null}'],
     'cannot build the generator from model.generator = {"base_channels": null}'),
    (['--set=model.discriminator={"channels": 5}'],
     "cannot build the discriminator from model.discriminator"),
    (["--config=cyclegan", '--set=model.generator={"base_channels": null}'],
     "cannot build the networks from model.generator / model.discriminator"),
    (['--set=train.loss_kwargs={"regularizers": [{"name": "r1", "gamma": null}]}'],
     "cannot build loss non_saturating from train.loss_kwargs"),
    (['--set=train.loss_kwargs={"d_steps": null}'], "d_steps must be an integer >= 1"),
    (["--config=cyclegan", '--set=train.loss_kwargs={"cycle_weight": null}'],
     "cycle_weight must be a number >= 0, got None"),
    # silently ignored before: a second dataset for a one-dataset model
    (["--dataset_b=mnist_sample_inverted"], "--dataset_b (data.name_b) is the second "
     "dataset of an image-to-image model (--config=cyclegan); model dcgan"),
    # a grid too large for the progress GIF's reader (it ended the run in a traceback)
    (["--set=callbacks.num_samples=100000"], "num_samples must be >= 1 and <= 1024"),
])
def test_bad_values_fail_before_work(tmp_path, capsys, args, message):
    workdir = tmp_path / "run"
    assert run_cli(*args, f"--workdir={workdir}") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and message in err[-1]
    assert not workdir.exists()  # no work was done


def test_offline_unprepared_dataset(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(data.sources, "network_reachable", lambda host=None: False)
    assert run_cli("--dataset=mnist", f"--data_dir={tmp_path / 'tfds'}", *QUICK,
                   f"--workdir={tmp_path / 'run'}") == 2
    err = capsys.readouterr().err
    assert "--data_dir" in err and "mnist_sample" in err


def _write_rgb_folder(folder, num=20, size=64):
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True)
    pixels = np.random.default_rng(0).integers(0, 256, (num, size, size, 3), dtype=np.uint8)
    for i, p in enumerate(pixels):
        Image.fromarray(p).save(folder / f"{i}.png")


def test_folder_dataset_with_image_size(tmp_path):
    """--dataset=folder:PATH --image_size: the models follow the data (32x32x3)."""
    _write_rgb_folder(tmp_path / "faces")
    workdir = tmp_path / "run"
    assert run_cli(*QUICK, f"--dataset=folder:{tmp_path / 'faces'}", "--image_size=32",
                   f"--workdir={workdir}") == 0
    with open(workdir / "config.json") as f:
        assert json.load(f)["data"]["image_size"] == 32
    assert os.path.exists(workdir / "samples" / "epoch_0002.png")


@pytest.mark.parametrize("args, message", [
    (["--config=dcgan_svhn", "--dataset=mnist_sample"],
     "mnist_sample has grayscale images (28, 28, 1) but preset dcgan_svhn takes RGB"),
    (["--config=dcgan_svhn", "--dataset=folder:{faces}"], "--image_size=32"),
    (["--dataset=folder:{faces}", "--on_bad_image=fail", "--image_size=0"],
     "image_size must be >= 1"),
    (["--dataset=folder:{missing}"], "is not a folder"),
    (["--dataset=cifar10", "--manual_dir={faces}"], "manual_dir works for mnist"),
])
def test_data_and_model_mismatch_fail_before_training(tmp_path, capsys, args, message):
    _write_rgb_folder(tmp_path / "faces", num=16)  # one quick batch
    args = [a.format(faces=tmp_path / "faces", missing=tmp_path / "nope") for a in args]
    workdir = tmp_path / "run"
    assert run_cli(*QUICK, *args, f"--workdir={workdir}") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and message in err[-1]
    assert not (workdir / "checkpoints").exists()  # no training started


def test_workdir_with_another_config_is_refused(tmp_path, capsys):
    workdir = str(tmp_path / "run")
    assert run_cli(*QUICK, f"--workdir={workdir}") == 0
    capsys.readouterr()
    assert run_cli(*QUICK, f"--workdir={workdir}", "--latent_dim=64") == 2
    err = capsys.readouterr().err
    assert "different config" in err and "model.latent_dim" in err and "--restart" in err


def test_a_damaged_recorded_config_is_reported(tmp_path, capsys):
    recorded = tmp_path / "config.json"
    recorded.write_text('{"train": {"epoch": 1}}')
    assert run_cli(*QUICK, f"--config={recorded}", f"--workdir={tmp_path / 'run'}") == 2
    assert f"cannot read the config {recorded}: unknown train fields" in \
        capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_corrupt_config_json_is_reported(tmp_path, capsys):
    workdir = tmp_path / "run"
    workdir.mkdir()
    (workdir / "config.json").write_text("{")  # a run's config.json, damaged
    (workdir / ".gan_tf").write_text('{"written": ["config.json"], "patterns": []}')
    assert run_cli(*QUICK, f"--workdir={workdir}") == 2
    assert "config.json is corrupt" in capsys.readouterr().err


def test_corrupt_checkpoint_never_starts_from_scratch(tmp_path, capsys):
    workdir = tmp_path / "run"
    assert run_cli(*QUICK, f"--workdir={workdir}") == 0
    latest = workdir / "checkpoints" / "ckpt-0002.weights.h5"
    latest.write_bytes(latest.read_bytes()[:1000])  # truncated
    history_before = (workdir / "history.json").read_text()
    capsys.readouterr()
    assert run_cli(*QUICK, f"--workdir={workdir}", "--epochs=3") == 2
    err = capsys.readouterr().err
    assert "cannot restore checkpoint" in err and "ckpt-0002" in err
    assert (workdir / "history.json").read_text() == history_before


def test_module_entry_point_in_a_subprocess(tmp_path):
    """`python -m gan_tf.train` as a user runs it: bad flag, then a real quick run."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    bad = subprocess.run([sys.executable, "-m", "gan_tf.train", "--batch_size=0"],
                         capture_output=True, text=True, env=env, cwd=str(tmp_path),
                         timeout=300)
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines()[-1] == "error: batch_size must be >= 1, got 0"
    absl_bad = subprocess.run([sys.executable, "-m", "gan_tf.train", "--epochs=ten"],
                              capture_output=True, text=True, env=env, cwd=str(tmp_path),
                              timeout=300)
    assert absl_bad.returncode == 2  # a value absl cannot parse: one line too
    assert absl_bad.stderr.strip().splitlines()[-1] == (
        "error: flag --epochs=ten: invalid literal for int() with base 10: 'ten'")
    assert not (tmp_path / "runs").exists()


class _Exited(Exception):
    pass


@pytest.mark.parametrize("tf_config", [None, '{"cluster": {}}'])
def test_run_skips_the_teardown_of_a_single_process(monkeypatch, capsys, tf_config):
    """A single process ends with os._exit (Python's teardown can wait on tf.data's
    threads); a worker of a multi-worker run (TF_CONFIG) exits through sys.exit."""
    import signal

    ended = []

    def fake_exit(status):
        ended.append(status)
        raise _Exited()

    monkeypatch.setattr(train, "main", lambda argv=None: print("done: here") or 3)
    monkeypatch.setattr(train.os, "_exit", fake_exit)
    if tf_config:
        monkeypatch.setenv("TF_CONFIG", tf_config)
    else:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        with pytest.raises((_Exited, SystemExit)) as raised:
            train.run([])
    finally:  # run() ignores SIGINT/SIGTERM from its end on
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    assert capsys.readouterr().out == "done: here\n"
    if tf_config:
        assert raised.type is SystemExit and raised.value.code == 3 and not ended
    else:
        assert raised.type is _Exited and ended == [3]


@pytest.mark.slow
def test_training_on_real_digits_moves_samples_towards_them(tmp_path):
    """Three epochs of tutorial 002's MLP GAN on mnist_sample: the generated digits'
    mean image and ink fraction approach the real ones (an untrained G is far)."""
    import numpy as np

    config = configs.override(configs.get("tutorial_002"), **{
        "data.name": "mnist_sample", "train.epochs": 3})
    real = np.concatenate([b.numpy() for b in data.load("mnist_sample", batch_size=500,
                                                        shuffle=False).take(4)])

    def distance(images):
        # correlation of mean images and gap in ink fraction (pixels > 0)
        corr = np.corrcoef(images.mean(0).ravel(), real.mean(0).ravel())[0, 1]
        return corr, abs((images > 0).mean() - (real > 0).mean())

    untrained = tasks.build_model(config)
    corr0, ink0 = distance(untrained.generate(2000, seed=0))
    gan = trainer.train_and_evaluate(config, str(tmp_path / "run"), verbose=0)
    corr, ink = distance(gan.generate(2000, seed=0))
    assert corr0 < 0.5 and corr > 0.8, (corr0, corr)
    assert ink < 0.08 and ink < ink0, (ink0, ink)


def test_variant_flags_end_to_end(tmp_path):
    workdir = tmp_path / "run"
    assert run_cli(*QUICK, "--config=wgan_gp", "--ema=0.9", "--augment=color,cutout",
                   "--grad_clip_norm=5", f"--workdir={workdir}") == 0
    with open(workdir / "config.json") as f:
        config = json.load(f)
    assert config["model"]["ema_decay"] == 0.9 and config["train"]["loss"] == "wasserstein_gp"
    with open(workdir / "history.json") as f:
        assert "gp" in json.load(f)
