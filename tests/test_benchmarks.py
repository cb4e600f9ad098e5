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

import gpu_dcgan64  # noqa: E402
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


def test_train_step_benchmark_runs_its_loops_in_workers(tmp_path, capsys):
    path = str(tmp_path / "bench.json")
    rows = train_step.main(["--groups=mlp", "--loops=t002_plain,t002_preset", "--steps=2",
                            "--repeats=1", "--threads=0", f"--json={path}"])
    assert [row["loop"] for row in rows] == ["t002_plain", "t002_preset"]
    assert all(row["images_per_s"] > 0 for row in rows)
    # tutorial 002's pair: 3 F_G + 8 F_D, F_G = 2 (100*256 + 256*512 + 512*1024 + 1024*784)
    f_g = 2 * (100 * 256 + 256 * 512 + 512 * 1024 + 1024 * 784)
    f_d = 2 * (784 * 512 + 512 * 256 + 256)
    assert rows[1]["flops_per_image"] == 3 * f_g + 8 * f_d
    assert rows[1]["steps_per_execution"] == 2  # "auto": a divisor of the 2 steps
    assert "| t002_preset | float32 | 2 |" in capsys.readouterr().out
    with open(path) as f:
        assert json.load(f)[0]["results"][0]["group"] == "mlp"


def test_train_step_benchmark_times_a_preset(capsys):
    rows = train_step.main(["--presets=tutorial_004", "--seconds=0.01", "--repeats=1",
                            "--threads=0"])
    assert rows[0]["loop"] == "tutorial_004" and rows[0]["images_per_s"] > 0
    assert "| tutorial_004 | float32 | 64 |" in capsys.readouterr().out


@pytest.mark.slow  # DCGAN-64 under fp16 on the CPU: about a minute
def test_gpu_dcgan64_benchmark_runs_on_the_cpu(capsys, tmp_path):
    """The GPU-day script, checked on the CPU: devices, auto's choice, and the fp16
    (loss-scaled) DCGAN-64 rows with XLA off and on."""
    path = str(tmp_path / "bench.json")
    rows = gpu_dcgan64.main(["--precisions=mixed_float16", "--steps=1", "--repeats=1",
                             "--batch_size=2", f"--json={path}"])
    out = capsys.readouterr().out
    assert "--precision=auto would choose" in out
    assert [(row["precision"], row["xla"]) for row in rows] == [
        ("mixed_float16", False), ("mixed_float16", True)]
    assert all(row["images_per_s"] > 0 and row["gflops_per_s"] > 0 for row in rows), rows
    assert "| mixed_float16 | on |" in out
    with open(path) as f:
        assert json.load(f)[0]["benchmark"] == "gpu_dcgan64"


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
