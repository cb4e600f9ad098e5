"""CycleGAN: networks, the unpaired data, the training step, saving, the CLI preset."""

import json
import os
import subprocess
import sys

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf

from gan_tf import checkpoint, configs, cyclegan, data, export, models, tasks, trainer
from gan_tf.models import cyclegan as networks

from test_train import run_cli

TINY = {"generator": {"base_channels": 4, "num_res_blocks": 1},
        "discriminator": {"base_channels": 4}}


def tiny_cyclegan(seed=0, identity_weight=5.0, pool_size=cyclegan.POOL_SIZE):
    keras.utils.set_random_seed(seed)
    model = cyclegan.build((28, 28, 1), **TINY, seed=seed)
    model.compile(keras.optimizers.Adam(2e-3, beta_1=0.5),
                  keras.optimizers.Adam(2e-3, beta_1=0.5), identity_weight=identity_weight,
                  pool_size=pool_size)
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


# -- The image pool ---------------------------------------------------------------------


def column(*values):
    """(n, 1, 1, 1) float32 "images", one value each."""
    return tf.constant(np.asarray(values, np.float32).reshape(-1, 1, 1, 1))


def values(images):
    return images.numpy().ravel().tolist()


def test_pool_fills_then_swaps_image_by_image_as_the_reference_code():
    # Pool of 3 holding [-1] (count 1); the batch 10, 20, 30, 40, all drawn to swap,
    # slots 0, 1, 2, 1. 10 and 20 fill rows 1 and 2 and are shown as they are; the pool
    # is then full: 30 takes row 2 and is shown what it held, 20; 40 takes row 1,
    # shown 10 (stored by this batch's first image). Rows: [-1, 40, 30].
    stored = tf.constant([[[[-1.0]]], [[[0.0]]], [[[0.0]]]])
    shown, stored, count = cyclegan.swap_with_history(
        stored, tf.constant(1), column(10, 20, 30, 40), tf.constant([True] * 4),
        tf.constant([0, 1, 2, 1]))
    assert values(shown) == [10, 20, 20, 10]
    assert values(stored) == [-1, 40, 30] and int(count) == 3


def test_pool_when_full_swaps_only_the_drawn_images():
    # Full pool [1, 2, 3]; swaps drawn for the 1st and 3rd image (slots 2 and 2): the
    # 1st is shown 3 and stored in row 2, the 3rd is shown that 1st image, 10, and
    # stored there; the 2nd (no swap, slot ignored) is shown as it is.
    shown, stored, count = cyclegan.swap_with_history(
        column(1, 2, 3), tf.constant(3), column(10, 20, 30),
        tf.constant([True, False, True]), tf.constant([2, 0, 2]))
    assert values(shown) == [3, 20, 10]
    assert values(stored) == [1, 2, 30] and int(count) == 3


def test_pool_with_room_shows_every_image_and_stores_it():
    shown, stored, count = cyclegan.swap_with_history(
        column(0, 0, 0, 0, 0), tf.constant(0), column(7, 8), tf.constant([True, True]),
        tf.constant([0, 0]))
    assert values(shown) == [7, 8] and values(stored) == [7, 8, 0, 0, 0] and int(count) == 2


def query_many(pool, batches, first_seed=0):
    return [values(pool.query(column(*batch), tf.constant([first_seed + i, 0])))
            for i, batch in enumerate(batches)]


def test_pool_swaps_half_of_the_images_once_full_and_keeps_its_size():
    pool = cyclegan.ImagePool(10, (1, 1, 1))
    batches = np.arange(1, 4001, dtype=np.float32).reshape(500, 8)  # every image unique
    shown = query_many(pool, batches)
    assert int(pool.count) == 10 and pool.images.shape == (10, 1, 1, 1)
    assert shown[0] == batches[0].tolist()  # the first 10 images fill the pool
    assert shown[1][:2] == batches[1][:2].tolist()
    seen = set()
    swapped = 0
    for batch, out in zip(batches, shown):
        for image, got in zip(batch, out):
            assert got == image or got in seen  # an earlier fake, never anything else
            swapped += got != image
            seen.add(image)
    rate = swapped / (4000 - 10)  # 0.5 +- 0.016 (two standard deviations)
    assert 0.484 < rate < 0.516, rate
    assert set(values(pool.images)) <= seen


def test_pool_is_deterministic_given_the_seed_and_the_same_traced():
    batches = np.arange(1, 65, dtype=np.float32).reshape(8, 8)
    first = query_many(cyclegan.ImagePool(4, (1, 1, 1)), batches)
    assert query_many(cyclegan.ImagePool(4, (1, 1, 1)), batches) == first
    assert query_many(cyclegan.ImagePool(4, (1, 1, 1)), batches, first_seed=100) != first
    pool = cyclegan.ImagePool(4, (1, 1, 1))
    traced = tf.function(lambda images, seed: pool.query(images, seed))
    assert [values(traced(column(*batch), tf.constant([i, 0])))
            for i, batch in enumerate(batches)] == first


@pytest.mark.parametrize("size", [0, -1, 2.5, True])
def test_pool_rejects_a_bad_size(size):
    with pytest.raises(ValueError, match="size"):
        cyclegan.ImagePool(size, (1, 1, 1))
    if size != 0:
        with pytest.raises(ValueError, match="pool_size must be an integer >= 0"):
            cyclegan.build((28, 28, 1), **TINY).compile(pool_size=size)


@pytest.mark.parametrize("weights", [{"cycle_weight": None}, {"identity_weight": -1},
                                     {"cycle_weight": "10"}, {"identity_weight": True}])
def test_compile_rejects_a_bad_loss_weight(weights):
    name = next(iter(weights))
    with pytest.raises(ValueError, match=f"{name} must be a number >= 0"):
        cyclegan.build((28, 28, 1), **TINY).compile(**weights)


_REPLICAS_SCRIPT = """
import numpy as np, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from gan_tf import cyclegan

def run(strategy, batches):
    with strategy.scope():
        pool = cyclegan.ImagePool(5, (2, 2, 1))
    step = tf.function(lambda images, seed: strategy.run(pool.query, (images, seed)))
    shown = []
    for i, batch in enumerate(batches):
        data = iter(strategy.experimental_distribute_dataset(
            tf.data.Dataset.from_tensors(batch)))
        out = strategy.experimental_local_results(step(next(data), tf.constant([i, 0])))
        shown.append(np.concatenate([x.numpy() for x in out]))
    return np.stack(shown), pool.images.numpy(), int(pool.count.numpy())

batches = np.arange(6 * 4 * 4, dtype=np.float32).reshape(6, 4, 2, 2, 1)
one = run(tf.distribute.OneDeviceStrategy("/cpu:0"), batches)
two = run(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]), batches)
assert one[2] == two[2] == 5
assert (one[0] != batches).any()  # swaps happened
np.testing.assert_array_equal(one[0], two[0])
np.testing.assert_array_equal(one[1], two[1])
print("equal")
"""


def test_two_replicas_query_the_pool_exactly_like_one_device(tmp_path):
    """MirroredStrategy on two logical CPUs: each replica gets its slice of what one
    device shows for the global batch, and the pools end equal."""
    script = tmp_path / "replicas.py"
    script.write_text(_REPLICAS_SCRIPT)
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                            timeout=300, cwd=str(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "equal" in result.stdout


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


def test_least_squares_generator_term_is_the_reference_codes():
    # The reference code's G term is MSE(D(G(x)), 1) per direction, computed before
    # the step's updates (the generators are updated first); its D term is gan_tf's.
    model = tiny_cyclegan(pool_size=0)
    images_a, images_b = (tf.constant(x) for x in fixed_pair(4))
    fake_b, fake_a = model.g_ab(images_a, training=True), model.g_ba(images_b, training=True)
    expected = sum(float(tf.reduce_mean(tf.square(d(fake, training=True) - 1.0)))
                   for d, fake in ((model.d_b, fake_b), (model.d_a, fake_a)))
    assert model.generator_scale == 2.0
    logs = model.train_step((images_a, images_b))
    np.testing.assert_allclose(float(logs["g_loss"]), expected, rtol=1e-5)
    model.compile(loss="non_saturating")
    assert model.generator_scale == 1.0


def test_fit_shows_the_discriminators_pooled_fakes():
    model = tiny_cyclegan(pool_size=6)
    assert int(model.pool_a.count) == 0
    model.fit(tf.data.Dataset.from_tensors(fixed_pair(4)).repeat(), epochs=1,
              steps_per_epoch=3, verbose=0)
    for pool in (model.pool_a, model.pool_b):
        assert int(pool.count) == 6 and float(tf.reduce_max(tf.abs(pool.images))) > 0
    assert set(model.extra_state()) == {"pool_a_images", "pool_a_count",
                                        "pool_b_images", "pool_b_count"}
    assert tiny_cyclegan(pool_size=0).extra_state() == {}


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
    assert loaded.pool_size == cyclegan.POOL_SIZE and int(loaded.pool_a.count) == 8
    for mine, theirs in zip(model.g_optimizer.variables + model.d_optimizer.variables
                            + list(model.extra_state().values())
                            + [model.seed_generator.state],
                            loaded.g_optimizer.variables + loaded.d_optimizer.variables
                            + list(loaded.extra_state().values())
                            + [loaded.seed_generator.state]):
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


def test_checkpoint_restores_the_pools_and_the_next_step(tmp_path):
    # Pools of 4 are full after 2 steps of 4 images; the next step swaps (the seed
    # draws swaps), so a model whose pools were not restored would show D other fakes.
    batches = [tuple(tf.constant(x) for x in fixed_pair(4, seed=i)) for i in range(3)]
    model = tiny_cyclegan(pool_size=4)
    for batch in batches[:2]:
        model.train_step(batch)
    manager = checkpoint.CheckpointManager(str(tmp_path))
    manager.save(model, checkpoint.RunState(epoch=1, step=2))
    other = tiny_cyclegan(seed=1, pool_size=4)
    assert manager.restore(other).step == other.train_steps == 2
    for name, variable in model.extra_state().items():
        np.testing.assert_array_equal(other.extra_state()[name].numpy(), variable.numpy())
    np.testing.assert_array_equal(other.seed_generator.state.numpy(),
                                  model.seed_generator.state.numpy())
    before = model.pool_a.images.numpy()
    model.reset_metrics()
    np.testing.assert_allclose(float(other.train_step(batches[2])["d_loss"]),
                               float(model.train_step(batches[2])["d_loss"]), rtol=1e-5)
    assert (model.pool_a.images.numpy() != before).any()  # the step swapped
    for name, variable in model.extra_state().items():
        np.testing.assert_allclose(other.extra_state()[name].numpy(), variable.numpy(),
                                   atol=1e-6, err_msg=name)


def test_a_checkpoint_with_other_pools_does_not_load(tmp_path):
    manager = checkpoint.CheckpointManager(str(tmp_path))
    manager.save(tiny_cyclegan(pool_size=4), checkpoint.RunState(epoch=1))
    with pytest.raises(checkpoint.CheckpointError,
                       match=r"pool_a_images holds shape \(4, 28, 28, 1\) in the file"):
        manager.restore(tiny_cyclegan(pool_size=5))


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
    assert model.pool_size == 50 and model.pool_a.images.shape == (50, 28, 28, 1)
    assert model.generator_scale == 2.0  # MSE(D(G(x)), 1), the reference code's
    without = configs.override_from_strings(config, ["train.loss_kwargs.pool_size=0"])
    model = tasks.build_model(configs.quick(tasks.validate(without)))
    assert model.pool_size == 0 and model.pool_a is None


@pytest.mark.parametrize("field, value, match", [
    ("data.name_b", None, "needs a second, unpaired dataset"),
    ("data.name_b", "nope", r"second dataset \(data.name_b\): unknown dataset 'nope'"),
    ("train.loss", "wasserstein_gp", "plain adversarial loss"),
    ("train.loss_kwargs", {"pool_size": -1}, "pool_size must be an integer >= 0"),
    ("train.loss_kwargs", {"pool_size": 2.5}, "pool_size must be an integer >= 0"),
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
    # The export is not a latent generator; the command its error advises measures it.
    with pytest.raises(export.ExportError, match="is a CycleGAN export") as error:
        export.load_generator(os.path.join(workdir, "generator"))
    command = str(error.value).split("measure its workdir with ")[1].split(" (from")[0]
    assert command == f"python -m benchmarks.cyclegan_quality {os.path.abspath(workdir)}"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run([sys.executable, *command.split()[1:]], cwd=root,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["mae_g_ab_vs_inverse"] >= 0


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


def checkpoint_arrays(workdir):
    """{dataset name: array} of every dataset in the latest checkpoint's weights file."""
    state, path = checkpoint.CheckpointManager(os.path.join(workdir, "checkpoints")).latest()
    found = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, item: found.__setitem__(name, np.asarray(item))
                     if isinstance(item, h5py.Dataset) else None)
    return state.step, found


@pytest.mark.slow
def test_a_resumed_run_with_pools_is_bit_exact(tmp_path, capsys):
    """--deterministic: 2 epochs, then a third on resume, equals 3 epochs straight;
    the pools (4 images, full after the first step of 16, then swapping) included."""
    args = ["--config=cyclegan", "--quick", "--verbose=0", "--deterministic", "--seed=5",
            "--set=train.loss_kwargs.pool_size=4",
            "--set=model.generator.base_channels=4", "--set=model.generator.num_res_blocks=1",
            "--set=model.discriminator.base_channels=4"]
    straight, resumed = str(tmp_path / "straight"), str(tmp_path / "resumed")
    assert run_cli(*args, "--epochs=3", f"--workdir={straight}") == 0
    assert run_cli(*args, "--epochs=2", f"--workdir={resumed}") == 0
    assert run_cli(*args, "--epochs=3", f"--workdir={resumed}") == 0
    step, expected = checkpoint_arrays(straight)
    assert checkpoint_arrays(resumed)[0] == step == 9
    found = checkpoint_arrays(resumed)[1]
    assert sorted(found) == sorted(expected)
    assert sum("state_pool" in name for name in found) == 4
    for name in expected:
        np.testing.assert_array_equal(found[name], expected[name], err_msg=name)


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
