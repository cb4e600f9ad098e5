"""Presets, overrides and validation."""

import dataclasses
import json

import numpy as np
import pytest

from gan_tf import configs
from gan_tf import tasks
from gan_tf.tasks import build_model


@pytest.mark.parametrize("name", configs.names())
def test_every_preset_validates_and_builds(name):
    config = configs.quick(tasks.validate(configs.get(name)))
    gan = build_model(config)
    if hasattr(gan, "translate"):  # image-to-image (cyclegan): no latents to sample
        image = gan.translate(np.zeros((1, *gan.d_a.image_shape), np.float32))
        assert image.shape[1:] == tuple(gan.d_b.image_shape)
        return
    image = gan.generate(1, seed=0, labels=[3] if gan.conditional else None)
    assert image.shape[1:] == tuple(gan.discriminator.image_shape)


def test_tutorial_hyper_parameters():
    t002 = configs.get("tutorial_002")
    assert (t002.train.g_lr, t002.train.beta_1, t002.train.loss_kwargs) == (
        2e-4, 0.5, {"discriminator_scale": 0.5})
    t004 = configs.get("tutorial_004")
    assert (t004.train.g_lr, t004.train.beta_1) == (1e-3, 0.5)
    assert t004.model.generator["hidden_units"] == (128,)


def test_override_and_quick():
    config = configs.override(configs.get(), **{"train.epochs": 7, "data.batch_size": 8})
    assert config.train.epochs == 7 and config.data.batch_size == 8
    assert configs.get().train.epochs != 7  # presets are not mutated
    quick = configs.quick(config)
    assert quick.train.steps_per_epoch == 3 and quick.train.epochs == 2
    with pytest.raises(ValueError, match="unknown config field"):
        configs.override(config, **{"train.epoch": 1})
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.train.epochs = 3


def test_set_takes_text_bare_or_as_a_json_string():
    """--set=model.augment=translation and --set=model.augment="translation" (the
    JSON spelling of the dict fields, which a quoted shell word keeps) are the same."""
    for text in ('model.augment=translation', 'model.augment="translation"'):
        config = configs.override_from_strings(configs.get(), [text])
        assert config.model.augment == "translation"
    assert configs.override_from_strings(configs.get(), ['data.split=test[:5]']
                                         ).data.split == "test[:5]"


def test_json_round_trip():
    config = configs.get("tutorial_004")
    assert configs.Config.from_dict(json.loads(config.to_json())).to_json() == config.to_json()
    assert configs.from_json(config.to_json()) == config  # lists back to tuples


@pytest.mark.parametrize("text, match", [
    ("{", "Expecting"),
    ("[1, 2]", "not a JSON object"),
    ('{"train": 5}', "section 'train' must be a JSON object"),
    ('{"train": {"epoch": 1}}', "unknown train fields"),
    ('{"data": {"batch_size": "many"}}', "data.batch_size must be an integer, got 'many'"),
])
def test_from_json_refuses_what_is_not_a_config(text, match):
    with pytest.raises(ValueError, match=match):
        configs.from_json(text)


def test_from_json_takes_defaults_for_fields_recorded_later():
    assert configs.from_json('{"data": {"name": "mnist"}}') == configs.Config(
        data=configs.DataConfig(name="mnist"))


@pytest.mark.parametrize("field, value, match", [
    ("train.epochs", 0, "epochs must be >= 1"),
    ("data.batch_size", -4, "batch_size must be >= 1"),
    ("train.loss", "hinge_typo", "unknown loss"),
    ("model.family", "vae", "unknown model"),
    ("data.name", "imagenet", "unknown dataset"),
    ("data.name", "folder:/nonexistent/gan_tf", "is not a folder"),
    ("data.image_size", 0, "image_size must be >= 1"),
    ("data.on_bad_image", "ignore", "on_bad_image must be one of fail, skip"),
    ("train.precision", "float8", "precision"),
    ("train.g_lr", 0.0, "g_lr"),
])
def test_validate_rejects(field, value, match):
    with pytest.raises(ValueError, match=match):
        tasks.validate(configs.override(configs.get(), **{field: value}))


def test_folder_dataset_validates(tmp_path):
    config = configs.override(configs.get(), **{"data.name": f"folder:{tmp_path}"})
    assert tasks.validate(config) is config


def test_unknown_preset():
    with pytest.raises(ValueError, match="unknown config 'nope'; choose one of"):
        configs.get("nope")


def test_variant_presets_follow_their_papers():
    from gan_tf import losses

    wgan = configs.get("wgan")
    assert (wgan.train.optimizer, wgan.train.d_lr) == ("rmsprop", 5e-5)
    loss = losses.get(wgan.train.loss, **wgan.train.loss_kwargs)
    assert (loss.clip_value, loss.d_steps) == (0.01, 5)
    gp = configs.get("wgan_gp")
    assert (gp.train.g_lr, gp.train.beta_1, gp.train.beta_2) == (1e-4, 0.0, 0.9)
    assert losses.get(gp.train.loss, **gp.train.loss_kwargs).regularizers[0].weight == 10.0
    assert configs.get("hinge_sn").model.discriminator["spectral_norm"] is True
    # Tuned beyond their papers (docs/leaderboard.md): the default's batch and EMA of G.
    default = configs.get()
    for name in ("cgan", "hinge_sn", "wgan_gp"):
        config = configs.get(name)
        assert (config.data.batch_size, config.model.ema_decay) == \
            (default.data.batch_size, default.model.ema_decay) == (32, 0.999)
    gan = build_model(configs.quick(wgan))
    assert type(gan.d_optimizer).__name__ == "RMSprop"


def test_variant_options_reach_the_gan():
    config = configs.override(configs.get(), **{
        "model.ema_decay": 0.99, "model.augment": "translation",
        "train.grad_clip_norm": 1.0})
    gan = build_model(tasks.validate(config))
    assert gan.ema_decay == 0.99 and gan.augment == ("translation",)
    assert gan.g_optimizer.global_clipnorm == 1.0 == gan.d_optimizer.global_clipnorm


@pytest.mark.parametrize("field, value, match", [
    ("model.augment", "blur", "unknown augmentation"),
    ("model.ema_decay", 1.5, "ema must be > 0 and < 1"),
    ("train.grad_clip_norm", -1.0, "grad_clip_norm"),
    ("train.optimizer", "sgd", "optimizer must be one of"),
])
def test_validate_rejects_bad_variant_options(field, value, match):
    with pytest.raises(ValueError, match=match):
        tasks.validate(configs.override(configs.get(), **{field: value}))
