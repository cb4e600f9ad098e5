"""Smoke tests: each training-speed benchmark starts and writes its table and JSON.

The benchmarks themselves run on demand (docs/performance.md); these tests run them
with tiny settings only.
"""

import json
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "benchmarks"))

import matmul  # noqa: E402
import torch_mlp  # noqa: E402
import train_step  # noqa: E402


def test_matmul_measures_and_appends_json(tmp_path, capsys):
    path = str(tmp_path / "bench.json")
    rows = matmul.main(["--sizes=64", "--dtypes=float32", "--iterations=2",
                        "--repeats=1", "--threads=0", f"--json={path}"])
    assert rows[0]["n"] == 64 and rows[0]["gflops"] > 0
    assert "GFLOP/s" in capsys.readouterr().out
    with open(path) as f:
        assert json.load(f)[0]["benchmark"] == "matmul"


def test_flops_per_image_from_layer_shapes():
    generator, discriminator = train_step.build_models("mlp")
    # G 100-256-512-1024-784 and D 784-512-256-1: 2 FLOPs per multiply-add.
    assert train_step.model_flops(generator) == 2 * (
        100 * 256 + 256 * 512 + 512 * 1024 + 1024 * 784)
    assert train_step.model_flops(discriminator) == 2 * (784 * 512 + 512 * 256 + 256)
    generator, discriminator = train_step.build_models("dcgan28")
    # D's first conv: 5x5x1 -> 64 channels at 14x14 outputs.
    first = 2 * 5 * 5 * 1 * 64 * 14 * 14
    assert train_step.model_flops(discriminator) > first


def test_train_step_benchmark_runs_every_loop(tmp_path, capsys):
    path = str(tmp_path / "bench.json")
    rows = train_step.main(["--pairs=mlp", "--precisions=float32", "--xla=off",
                            "--spe=2", "--steps=2", "--repeats=1", "--batch_size=8",
                            "--eager", "--eager_steps=1", "--threads=0",
                            f"--json={path}"])
    loops = {row["loop"] for row in rows}
    assert loops == {"plain", "tutorial", "gan spe=2", "plain eager",
                     "gan eager"}
    assert all(row["images_per_s"] > 0 for row in rows)
    assert "| mlp | float32 | off | gan spe=2 |" in capsys.readouterr().out
    with open(path) as f:
        assert json.load(f)[0]["results"][0]["pair"] == "mlp"


def test_torch_benchmark_prints_a_skip_line_without_torch(monkeypatch, capsys):
    monkeypatch.setattr(torch_mlp, "torch_available", lambda: False)
    assert torch_mlp.main(["--steps=2", "--repeats=1"]) is None
    assert capsys.readouterr().out.startswith("skipped: PyTorch is not installed")


def test_torch_loop_of_tutorial_002_runs():
    pytest.importorskip("torch")
    run = torch_mlp._torch_runner(batch_size=8, threads=1)
    run(2)


@pytest.mark.slow
def test_torch_benchmark_end_to_end(tmp_path):
    pytest.importorskip("torch")
    rows = torch_mlp.main(["--steps=2", "--repeats=1", "--spe=1", "--threads=1",
                           f"--json={tmp_path / 'bench.json'}"])
    assert [row["loop"] for row in rows] == ["torch", "gan_tf spe=1"]
