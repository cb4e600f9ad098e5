"""CycleGAN: networks, the unpaired data, the training step, saving, the CLI preset."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from gan_tf import checkpoint, configs, cyclegan, data, export, models, tasks, trainer
from gan_tf.models import cyclegan as networks

from test_train import run_cli

TINY = {"generator": {"base_channels": 4, "num_res_blocks": 1},
        "discriminator": {"base_channels": 4}}


def tiny_cyclegan(seed=0, identity_weight=5.0):
    keras.utils.set_random_seed(seed)
    model = cyclegan.build((28, 28, 1), **TINY)
    model.compile(keras.optimizers.Adam(2e-3, beta_1=0.5),
                  keras.optimizers.Adam(2e-3, beta_1=0.5), identity_weight=identity_weight)
    return model


def fixed_pair(num=8, seed=0):
    rng = np.random.default_rng(seed)
    images_a = rng.uniform(-1, 1, (num, 28, 28, 1)).astype(np.float32)
    images_b = rng.uniform(-1, 1, (num, 28, 28, 1)).astype(np.float32)
    return images_a, images_b


# -- Networks ---------------------------------------------------------------------------


@pytest.mark.parametrize("image_shape, downsamples, patches", [
    ((28, 28, 1), 2, (7, 7)),    # the preset: 28 -> 14 -> 7 -> 14 -> 28
    ((32, 32, 3), 3, (4, 4)),    # the paper's three downsamples
    ((64, 48, 3), 2, (16, 12)),
])
def test_shapes(image_shape, downsamples, patches):
    images = tf.random.uniform((2, *image_shape), -1, 1)
    generator = networks.Generator(image_shape, base_channels=4, num_res_blocks=2)
    discriminator = networks.Discriminator(image_shape, base_channels=4,
                                           num_downsamples=downsamples)
    outputs = generator(images)
    assert outputs.shape == (2, *image_shape)
    assert float(tf.reduce_max(tf.abs(outputs))) <= 1.0  # tanh
    assert discriminator(images).shape == (2, *patches, 1)


def test_generator_changes_channels():
    generator = networks.Generator((28, 28, 1), output_channels=3, base_channels=4)
    assert generator(tf.zeros((1, 28, 28, 1))).shape == (1, 28, 28, 3)


def test_reflection_padding_mirrors_the_border():
    # Each row [1, 2, 3] padded by 1 mirrors without repeating the edge: [2, 1, 2, 3, 2].
    image = tf.tile(tf.constant([1.0, 2.0, 3.0])[None, None, :, None], (1, 3, 1, 1))
    padded = networks.ReflectionPadding2D(1)(image)   # (1, 3, 3, 1) -> (1, 5, 5, 1)
    assert padded.shape == (1, 5, 5, 1)
    np.testing.assert_array_equal(padded[0, 2, :, 0], [2, 1, 2, 3, 2])


@pytest.mark.parametrize("make, match", [
    (lambda: networks.Generator((30, 30, 1)), "divisible by 4"),
    (lambda: networks.Discriminator((28, 28, 1), num_downsamples=3), "divisible by 8"),
    (lambda: networks.Discriminator((28, 28, 1), num_downsamples=0), "num_downsamples"),
])
def test_bad_sizes(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_config_round_trip():
    generator = networks.Generator((28, 28, 1), base_channels=4, num_res_blocks=1)
    clone = networks.Generator.from_config(generator.get_config())
    assert clone.get_config() == generator.get_config()
    assert keras.saving.get_registered_name(networks.Generator) == \
        "gan_tf.models.cyclegan>Generator"


def test_registry_keeps_translation_out_of_gan_families():
    # GAN code builds Generator(latent_dim, ...) for each of families(): cyclegan's
    # generators take images, so they are listed apart.
    assert "cyclegan" not in models.families()
    assert models.translation_families() == ["cyclegan"]
    assert models.get("cyclegan") is networks and models.is_translation("cyclegan")
    assert not models.is_translation("dcgan")


# -- Data -------------------------------------------------------------------------------


def test_unpaired_data_is_shuffled_independently():
    ordered = data.load_unpaired("mnist_sample", "mnist_sample_inverted", batch_size=8,
                                 shuffle=False)
    images_a, images_b = next(iter(ordered))
    np.testing.assert_allclose(images_b, -images_a)  # inverted, and in the same order
    shuffled = data.load_unpaired("mnist_sample", "mnist_sample_inverted", batch_size=8,
                                  seed=0)
    images_a, images_b = next(iter(shuffled))
    assert images_a.shape == images_b.shape == (8, 28, 28, 1)
    # Unpaired: B is not the inversion of the A it comes with.
    assert float(tf.reduce_mean(tf.abs(images_b + images_a))) > 0.2


def test_unpaired_data_names_the_bad_dataset():
    with pytest.raises(ValueError, match=r"second dataset \(data.name_b\): unknown "
                                         r"dataset 'nope'"):
        data.load_unpaired("mnist_sample", "nope")


# -- Training ---------------------------------------------------------------------------


def test_cycle_loss_goes_down_on_a_fixed_batch():
    model = tiny_cyclegan()
    images_a, images_b = fixed_pair()
    dataset = tf.data.Dataset.from_tensors((images_a, images_b)).repeat()
    history = model.fit(dataset, epochs=8, steps_per_epoch=1, verbose=0).history
    cycle = history["cycle_loss"]  # one step per epoch: 1.035, 1.012, ... 0.948 here
    assert all(later < earlier for earlier, later in zip(cycle, cycle[1:])), cycle
    assert cycle[-1] < 0.95 * cycle[0], cycle
    assert set(history) >= {"d_loss", "g_loss", "cycle_loss", "identity_loss"}
    assert model.train_steps == 8 and int(model.g_optimizer.iterations) == 8


def test_train_step_eagerly_and_without_identity():
    model = tiny_cyclegan(identity_weight=0.0)
    logs = model.train_step(tuple(tf.constant(x) for x in fixed_pair(4)))
    assert float(logs["identity_loss"]) == 0.0 and np.isfinite(float(logs["cycle_loss"]))
    with pytest.raises(ValueError, match="batches \\(a_images, b_images\\)"):
        model.train_step(tf.zeros((4, 28, 28, 1)))


def test_compile_rejects_regularised_losses():
    model = cyclegan.build((28, 28, 1), **TINY)
    with pytest.raises(ValueError, match="plain adversarial loss"):
        model.compile(loss="wasserstein_gp")
    with pytest.raises(TypeError, match="g_optimizer"):
        model.compile(optimizer="adam")


def test_translate():
    model = tiny_cyclegan()
    images_a, _ = fixed_pair(5)
    translated = model.translate(images_a, batch_size=2)
    assert translated.shape == (5, 28, 28, 1) and translated.dtype == np.float32
    np.testing.assert_allclose(translated, model.g_ab(images_a).numpy(), atol=1e-5)
    with pytest.raises(ValueError, match="direction"):
        model.translate(images_a, direction="ab")


@pytest.fixture(scope="module")
def trained():
    """A tiny CycleGAN after two steps of fit (traced once for the tests below)."""
    model = tiny_cyclegan()
    model.fit(tf.data.Dataset.from_tensors(fixed_pair(4)).repeat(), epochs=1,
              steps_per_epoch=2, verbose=0)
    return model


def test_save_and_load_round_trip(tmp_path, trained):
    model = trained
    path = str(tmp_path / "cyclegan.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, cyclegan.CycleGAN)
    assert (loaded.cycle_weight, loaded.identity_weight) == (10.0, 5.0)
    assert loaded.train_steps == 2 and int(loaded.g_optimizer.iterations) == 2
    for mine, theirs in zip(model.g_optimizer.variables + model.d_optimizer.variables,
                            loaded.g_optimizer.variables + loaded.d_optimizer.variables):
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())
    images_a, images_b = fixed_pair(3)
    np.testing.assert_allclose(loaded.translate(images_a), model.translate(images_a))
    np.testing.assert_allclose(loaded.translate(images_b, "b2a"),
                               model.translate(images_b, "b2a"))
    # The restored model trains on exactly as the original does.
    batch = tuple(tf.constant(x) for x in fixed_pair(4, seed=1))
    model.reset_metrics()  # the returned logs are running means since the last reset
    np.testing.assert_allclose(float(loaded.train_step(batch)["cycle_loss"]),
                               float(model.train_step(batch)["cycle_loss"]), rtol=1e-5)
    assert loaded.train_steps == model.train_steps == 3


def test_checkpoint_restore_and_finite_check(tmp_path, trained):
    manager = checkpoint.CheckpointManager(str(tmp_path))
    manager.save(trained, checkpoint.RunState(epoch=1, step=trained.train_steps))
    other = tiny_cyclegan(seed=1)
    assert manager.restore(other).step == trained.train_steps
    np.testing.assert_array_equal(other.d_b.get_weights()[0], trained.d_b.get_weights()[0])
    np.testing.assert_array_equal(other.d_optimizer.variables[1].numpy(),
                                  trained.d_optimizer.variables[1].numpy())
    assert checkpoint.weights_are_finite(other)
    other.d_b.weights[0].assign(np.full(other.d_b.weights[0].shape, np.nan, np.float32))
    assert not checkpoint.weights_are_finite(other)


def test_export_generator(tmp_path):
    model = tiny_cyclegan()
    path = model.export_generator(str(tmp_path / "generator"))
    loaded = tf.saved_model.load(path)
    images_a, images_b = fixed_pair(2)
    np.testing.assert_allclose(loaded.serve(images_a).numpy(), model.translate(images_a),
                               atol=1e-5)
    np.testing.assert_allclose(loaded.b2a(images_b).numpy(),
                               model.translate(images_b, "b2a"), atol=1e-5)
    with open(os.path.join(path, export.EXPORT_METADATA)) as f:
        assert json.load(f)["image_shape_b"] == [28, 28, 1]


# -- Config and CLI ---------------------------------------------------------------------


def test_preset_follows_the_paper():
    config = configs.get("cyclegan")
    assert (config.train.loss, config.train.g_lr, config.train.beta_1) == (
        "least_squares", 2e-4, 0.5)
    model = tasks.build_model(configs.quick(tasks.validate(config)))
    assert isinstance(model, cyclegan.CycleGAN)
    assert (model.cycle_weight, model.identity_weight) == (10.0, 5.0)


@pytest.mark.parametrize("field, value, match", [
    ("data.name_b", None, "needs a second, unpaired dataset"),
    ("data.name_b", "nope", r"second dataset \(data.name_b\): unknown dataset 'nope'"),
    ("train.loss", "wasserstein_gp", "plain adversarial loss"),
    ("callbacks.eval_every", 1, "eval_every does not apply"),
    ("model.discriminator_family", "dcgan", "discriminator_family must be unset"),
])
def test_validate_rejects(field, value, match):
    with pytest.raises(ValueError, match=match):
        tasks.validate(configs.override(configs.get("cyclegan"), **{field: value}))


def test_gan_presets_refuse_a_patchgan_discriminator():
    config = configs.override(configs.get(), **{"model.discriminator_family": "cyclegan"})
    with pytest.raises(ValueError, match="image-to-image family"):
        tasks.validate(config)


def quick_tiny_config():
    """The quick cyclegan preset with tiny networks (the same path, faster)."""
    return configs.override(configs.quick(configs.get("cyclegan")), **{
        "model.generator": TINY["generator"], "model.discriminator": TINY["discriminator"]})


def test_train_and_evaluate(tmp_path):
    workdir = str(tmp_path / "run")
    model = trainer.train_and_evaluate(quick_tiny_config(), workdir, verbose=0)
    assert model.train_steps == 6
    for name in ("config.json", "history.json", "samples/epoch_0002.png",
                 "samples/progress.gif", "checkpoints/checkpoint.json",
                 "generator/saved_model.pb", "generator/gan_tf_export.json"):
        assert os.path.exists(os.path.join(workdir, name)), name
    with open(os.path.join(workdir, "history.json")) as f:
        assert len(json.load(f)["cycle_loss"]) == 2


@pytest.mark.slow
def test_train_and_evaluate_resumes(tmp_path):
    workdir = str(tmp_path / "run")
    config = quick_tiny_config()
    trainer.train_and_evaluate(config, workdir, verbose=0)
    config = configs.override(config, **{"train.epochs": 3})
    model = trainer.train_and_evaluate(config, workdir, verbose=0)
    assert model.train_steps == 9 and int(model.g_optimizer.iterations) == 9
    with open(os.path.join(workdir, "history.json")) as f:
        assert json.load(f)["epoch"] == [1, 2, 3]


def test_cli_bad_second_dataset(capsys):
    assert run_cli("--config=cyclegan", "--quick", "--dataset_b=nope") == 2
    assert "second dataset (data.name_b): unknown dataset 'nope'" in capsys.readouterr().err
    assert run_cli("--model=cyclegan", "--quick") == 2
    assert "--dataset_b" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_preset_end_to_end(tmp_path, capsys):
    workdir = str(tmp_path / "run")
    assert run_cli("--config=cyclegan", "--quick", "--verbose=0", f"--workdir={workdir}") == 0
    assert f"done: {os.path.abspath(workdir)}" in capsys.readouterr().out
    assert os.path.exists(os.path.join(workdir, "samples", "epoch_0002.png"))
