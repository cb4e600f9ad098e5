"""gan_tf.precision: the automatic precision choice, and the fast-path training options
(steps_per_execution, jit_compile) that GAN.fit and the CLI take."""

import json
import os

import keras
import numpy as np
import pytest

from gan_tf import callbacks, checkpoint, configs, precision
from gan_tf import train as train_lib

from conftest import image_dataset, small_gan


def test_explicit_precisions_pass_through():
    for name in ("float32", "mixed_bfloat16", "mixed_float16"):
        assert precision.resolve(name) == name


def test_unknown_precision_raises_naming_it():
    with pytest.raises(ValueError, match="float8"):
        precision.resolve("float8")


@pytest.mark.parametrize("flags, gpus, expected", [
    (frozenset({"avx2", "fma"}), [], "float32"),
    (frozenset({"avx512f", "avx512_bf16"}), [], "mixed_bfloat16"),
    (frozenset({"amx_bf16", "amx_tile"}), [], "mixed_bfloat16"),
    # GPUs win over the CPU: bf16 from compute capability 8.0, fp16 (loss scaling) on 7.x
    (frozenset({"avx512_bf16"}), [(9, 0)], "mixed_bfloat16"),  # H100 / H200
    (frozenset({"avx2"}), [(8, 0), (8, 6)], "mixed_bfloat16"),  # A100 + RTX 30xx
    (frozenset({"avx512_bf16"}), [(7, 0)], "mixed_float16"),  # V100
    (frozenset({"avx2"}), [(8, 0), (7, 5)], "mixed_float16"),  # the oldest decides
    (frozenset({"avx512_bf16"}), [(6, 1)], "float32"),  # P40: no tensor cores
])
def test_auto_follows_the_hardware(monkeypatch, flags, gpus, expected):
    """The choice by compute capability, against a faked device list."""
    monkeypatch.setattr(precision, "cpu_flags", lambda: flags)
    monkeypatch.setattr(precision, "gpu_capabilities", lambda: gpus)
    assert precision.resolve("auto") == expected


def test_auto_is_a_valid_config_precision_and_steps_per_execution_is_checked():
    config = configs.override(configs.get("default"), **{"train.precision": "auto"})
    assert configs.validate(config).train.precision == "auto"
    with pytest.raises(ValueError, match="steps_per_execution"):
        configs.validate(configs.override(config, **{"train.steps_per_execution": 0}))


def test_fit_keeps_epochs_whole_when_steps_per_execution_does_not_divide_them():
    # 6 steps per epoch with steps_per_execution=4: Keras alone would run 8 steps.
    gan = small_gan()
    gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3),
                steps_per_execution=4)
    history = gan.fit(image_dataset(num=64).repeat(), epochs=2, steps_per_epoch=6,
                      verbose=0)
    assert gan.train_steps == 12
    assert gan.steps_per_execution == 3  # the largest divisor of 6 not above 4
    assert len(history.history["d_loss"]) == 2
    gan.fit(image_dataset(num=64).repeat(), epochs=1, steps_per_epoch=8, verbose=0)
    assert gan.train_steps == 20 and gan.steps_per_execution == 4


def test_checkpoint_every_steps_with_steps_per_execution(tmp_path, monkeypatch):
    # Batch callbacks run once per 3 steps: steps 3, 6 (epoch end), 9; every_steps=2
    # saves at 3 (passed 2) and 9 (passed 8); the epoch ends save 6 and 12.
    gan = small_gan()
    gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3),
                steps_per_execution=3)
    saved = []
    original = checkpoint.CheckpointManager.save

    def recording_save(manager, model, state):
        saved.append(state.step)
        return original(manager, model, state)

    monkeypatch.setattr(checkpoint.CheckpointManager, "save", recording_save)
    gan.fit(image_dataset(num=64).repeat(), epochs=2, steps_per_epoch=6, verbose=0,
            callbacks=[callbacks.Checkpoint(str(tmp_path), keep=10, every_steps=2)])
    assert saved == [3, 6, 9, 12]


def test_cli_flags_reach_the_compiled_gan(tmp_path):
    config = configs.override(configs.quick(configs.get("default")), **{
        "train.jit_compile": True, "train.steps_per_execution": 3,
        "train.precision": "auto"})
    gan = train_lib.train_and_evaluate(config, str(tmp_path), verbose=0)
    assert gan.jit_compile is True
    assert gan.train_steps == 6  # 2 epochs of 3 steps, one execution each
    with open(os.path.join(tmp_path, "config.json")) as f:
        recorded = json.load(f)["train"]
    assert recorded["precision"] == "auto" and recorded["steps_per_execution"] == 3
    assert np.isfinite(gan.generate(2, seed=0)).all()
