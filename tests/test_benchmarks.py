"""Smoke tests: each training-speed benchmark starts and writes its table and JSON.

The benchmarks themselves run on demand (docs/performance.md); these tests run them
with tiny settings only.
"""

import ast
import json
import pathlib
import re

import numpy as np
import pytest

from benchmarks import default_ablation
from benchmarks import gpu_dcgan64
from benchmarks import leaderboard
from benchmarks import matmul
from benchmarks import quality_per_minute
from benchmarks import records
from benchmarks import torch_mlp
from benchmarks import train_step
from benchmarks import tutorial_loops


def test_matmul_measures_and_appends_json(tmp_path, capsys):
    path = str(tmp_path / "bench.json")
    rows = matmul.main(["--sizes=64", "--dtypes=float32", "--iterations=2",
                        "--repeats=1", "--threads=0", f"--json={path}"])
    assert rows[0]["n"] == 64 and rows[0]["gflops"] > 0
    assert "GFLOP/s" in capsys.readouterr().out
    (record,) = records.read(path)
    assert record["benchmark"] == "matmul" and record["results"] == rows


def test_train_step_benchmark_runs_its_loops_in_workers(tmp_path, capsys, monkeypatch):
    path = str(tmp_path / "bench.json")
    monkeypatch.setattr(train_step, "torch_importable", lambda torch_path: False)
    rows = train_step.main(["--groups=mlp", "--loops=t002_plain,t002_preset,torch",
                            "--steps=2", "--repeats=1", "--threads=0", f"--json={path}"])
    assert [row["loop"] for row in rows] == ["t002_plain", "t002_preset"]
    assert all(row["images_per_s"] > 0 for row in rows)
    # tutorial 002's pair: 3 F_G + 8 F_D, F_G = 2 (100*256 + 256*512 + 512*1024 + 1024*784)
    f_g = 2 * (100 * 256 + 256 * 512 + 512 * 1024 + 1024 * 784)
    f_d = 2 * (784 * 512 + 512 * 256 + 256)
    assert rows[1]["flops_per_image"] == 3 * f_g + 8 * f_d
    assert rows[1]["steps_per_execution"] == 2  # "auto": a divisor of the 2 steps
    out = capsys.readouterr().out
    assert "torch: skipped, PyTorch cannot be imported" in out
    assert "| t002_preset | float32 | 2 |" in out
    (record,) = records.read(path, "train_step")
    assert record["results"][0]["group"] == "mlp" and record["date"]


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
    assert records.read(path)[0]["benchmark"] == "gpu_dcgan64"


def test_torch_loop_of_tutorial_002_runs():
    pytest.importorskip("torch")
    run = torch_mlp.torch_runner(batch_size=8, threads=1)
    run(2)


@pytest.mark.slow
def test_torch_benchmark_end_to_end(tmp_path):
    pytest.importorskip("torch")
    rows = train_step.main(["--groups=mlp", "--loops=torch,t002_preset", "--steps=2",
                            "--repeats=1", "--threads=1",
                            f"--json={tmp_path / 'bench.json'}"])
    assert [row["loop"] for row in rows] == ["torch", "t002_preset"]


@pytest.mark.parametrize("recipe", [
    "tutorial_004", *[pytest.param(r, marks=pytest.mark.slow)
                      for r in sorted(tutorial_loops.RECIPES) if r != "tutorial_004"]])
def test_tutorial_loop_trains_to_each_budget_and_samples(recipe):
    images = np.random.default_rng(0).uniform(-1, 1, (300, 28, 28, 1)).astype(np.float32)
    seen = []

    def on_budget(loop, budget_s, stats):
        samples = loop.sample(np.zeros((3, tutorial_loops.LATENT_DIM), np.float32))
        assert samples.shape == (3, 28, 28, 1) and np.abs(samples).max() <= 1
        seen.append((budget_s, stats["steps"]))

    # Budgets so small that each is reached after one step: the callback runs at both,
    # in order, and training stops after the last.
    tutorial_loops.train(recipe, images, [1e-9, 2e-9], on_budget, clock_kind="cpu")
    assert [b for b, _ in seen] == [1e-9, 2e-9] and seen[0][1] == 1 and seen[1][1] == 2


def test_ema_recipe_samples_from_the_average():
    loop = tutorial_loops.Loop("tutorial_002_ema")
    before = loop.generator.trainable_variables[0].numpy()
    loop.train_step(np.zeros((64, 28, 28, 1), np.float32))
    after = loop.generator.trainable_variables[0].numpy()
    # The average starts at G's initial weights and moves 1 - 0.999 of the way.
    assert not np.allclose(before, after)
    np.testing.assert_allclose(loop.ema.trainable_variables[0].numpy(),
                               0.999 * before + 0.001 * after, atol=1e-7)
    with pytest.raises(ValueError, match="unknown recipe"):
        tutorial_loops.Loop("tutorial_005")


def _row(recipe, minutes, fid):
    space = {"fid": fid, "precision": 0.8, "recall": 0.7, "min_class_share": 0.09,
             "class_counts": [500] * 10}
    return {"dataset": "mnist_sample", "recipe": recipe, "minutes": minutes,
            "images": 1000, "bundled": space, "judge": space, "variant": recipe,
            "cpu_minutes": minutes, "seed": 0}


def test_quality_table_plot_and_ablation_summary(tmp_path, capsys):
    rows = [_row("default", 3, 4.0), _row("default", 5, 3.0), _row("tf_dcgan", 3, 60.0)]
    quality_per_minute.print_table(rows)
    assert "| mnist_sample | default | 5 | 1,000 | 3.00 | 3.00 | 9.0 % |" in \
        capsys.readouterr().out
    quality_per_minute.plot(rows, str(tmp_path / "plot.png"))
    assert (tmp_path / "plot.png").stat().st_size > 0
    table = default_ablation.summarise(rows + [{**_row("default", 3, 6.0), "seed": 1}])
    assert "| default | 3 | 2 | 1,000 | 5.00 (4.00-6.00) |" in table


def test_quality_report_merges_the_records_since_a_time(tmp_path, capsys):
    path = tmp_path / "q.json"
    written = [("2026-01-01 10:00", "wall", [_row("default", 5, 9.0)]),  # too old
               ("2026-01-02 10:00", "wall", [_row("tf_dcgan", 3, 60.0), _row("default", 5, 4.0)]),
               ("2026-01-02 11:00", "cpu", [_row("default", 3, 1.0)]),  # other clock
               ("2026-01-02 12:00", "wall", [_row("default", 5, 3.0), _row("default", 3, 5.0)])]
    path.write_text("".join(json.dumps({"benchmark": "quality_per_minute", "date": t,
                                        "clock": c, "rows": rows}) + "\n"
                            for t, c, rows in written))
    rows = quality_per_minute.main([f"--json={path}", "--report_since=2026-01-02 00:00",
                                    f"--plot={tmp_path / 'plot.png'}"])
    # default first, by minutes; the later 5-minute row replaced the earlier one
    assert [(r["recipe"], r["minutes"], r["judge"]["fid"]) for r in rows] == [
        ("default", 3, 5.0), ("default", 5, 3.0), ("tf_dcgan", 3, 60.0)]
    assert (tmp_path / "plot.png").stat().st_size > 0
    until = quality_per_minute.main([f"--json={path}", "--report_since=2026-01-02 00:00",
                                     "--report_until=2026-01-02 11:30", "--plot="])
    assert [(r["recipe"], r["minutes"], r["judge"]["fid"]) for r in until] == [
        ("default", 5, 4.0), ("tf_dcgan", 3, 60.0)]
    with pytest.raises(SystemExit, match="no wall-clock records"):
        quality_per_minute.main([f"--json={path}", "--report_since=2027-01-01 00:00"])


BENCHMARKS = pathlib.Path(records.__file__).parent


def test_records_are_json_lines_with_one_date_key(tmp_path):
    path = str(tmp_path / "bench.json")
    records.append(path, "a", {"x": 1})
    records.append(path, "b", {"x": 2})
    assert [r["x"] for r in records.read(path)] == [1, 2]
    assert records.read(path, "b")[0]["benchmark"] == "b"
    assert records.read(str(tmp_path / "none.json")) == []
    for path in sorted(BENCHMARKS.glob("*.json")):  # the records kept in the repository
        found = records.read(str(path))
        assert found, path
        for record in found:
            assert "time" not in record and record["benchmark"], path
            assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", record["date"]), path


def test_benchmarks_are_a_package_without_path_edits_or_import_cycles():
    imports = {}
    for path in sorted(BENCHMARKS.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        assert not [n for n in ast.walk(tree) if isinstance(n, ast.Attribute)
                    and n.attr == "path" and getattr(n.value, "id", None) == "sys"], path
        imports[path.stem] = {alias.name for node in ast.walk(tree)
                              if isinstance(node, ast.ImportFrom)
                              and node.module == "benchmarks" for alias in node.names}

    def reaches(start, target, seen=()):
        return any(name == target or (name not in seen and reaches(
            name, target, (*seen, name))) for name in imports.get(start, ()))

    assert "train_step" in imports and "records" in imports["train_step"]
    assert not [name for name in imports if reaches(name, name)]



# -- The leaderboard -----------------------------------------------------------------


def _leaderboard_args(tmp_path, *extra):
    return [f"--out={tmp_path / 'out'}", f"--json={tmp_path / 'rows.json'}",
            f"--doc={tmp_path / 'board.md'}", f"--images={tmp_path / 'images'}", *extra]


def test_leaderboard_trains_a_preset_on_a_tiny_budget_and_appends_its_row(tmp_path):
    (row,) = leaderboard.main(_leaderboard_args(
        tmp_path, "--presets=tutorial_004", "--datasets=mnist_sample", "--minutes=0.05"))
    # A CPU budget of 0.05 minutes x 2 cores: 6 CPU-seconds of training, then scored.
    assert row["benchmark"] == "leaderboard" and row["preset"] == "tutorial_004"
    assert row["clock"] == "cpu" and row["budget_s"] == 6.0 and row["seconds"] >= 6.0
    assert row["precision"] == "float32" and row["steps"] > 0 and row["cpu"]
    for space in ("bundled", "judge"):
        assert row[space]["fid"] > 0 and sum(row[space]["class_counts"]) == 5000
    assert (tmp_path / "images" / "tutorial_004_mnist_sample.png").stat().st_size > 0
    assert records.read(str(tmp_path / "rows.json")) == [row]
    board = (tmp_path / "board.md").read_text()
    assert "| tutorial_004 | mnist_sample | float32 | 0.05 min |" in board
    assert "](images/tutorial_004_mnist_sample.png)" in board
    with pytest.raises(SystemExit, match="unknown --presets/--datasets tutorial_001"):
        leaderboard.main(_leaderboard_args(tmp_path, "--presets=tutorial_001"))


@pytest.mark.slow  # cgan and cyclegan, 6 CPU-seconds each: about three minutes
def test_leaderboard_scores_cgan_per_class_and_measures_cyclegan(tmp_path):
    cgan, cyclegan = leaderboard.main(_leaderboard_args(
        tmp_path, "--presets=cgan,cyclegan", "--datasets=mnist_sample", "--minutes=0.05"))
    assert cgan["precision"] == "mixed_bfloat16" or not cgan["avx512_bf16"]
    assert len(cgan["per_class_accuracy"]) == 10
    assert all(0 <= share <= 1 for share in cgan["per_class_accuracy"])
    measured = cyclegan["cyclegan"]
    assert measured["test_images"] == 997 and measured["mae_untranslated_vs_inverse"] > 1
    assert cyclegan["precision"] == "float32" and cyclegan["steps"] > 0
    assert (tmp_path / "images" / "cyclegan_mnist_sample.png").stat().st_size > 0


def _board_row(preset, dataset, date, fid=5.0, recall=0.5, smallest=0.08, **extra):
    space = {"fid": fid, "precision": 0.7, "recall": recall, "min_class_share": smallest,
             "class_counts": [500] * 10}
    return {"benchmark": "leaderboard", "date": date, "preset": preset, "dataset": dataset,
            "minutes": 5.0, "cpu": "AMD EPYC", "avx512_bf16": True, "cores": 2,
            "precision": "mixed_bfloat16", "steps": 1234, "bundled": space,
            "judge": {**space, "fid": 2 * fid}, "grid": f"../img/{preset}_{dataset}.png",
            **extra}


def test_leaderboard_report_writes_the_newest_rows_and_marks_collapse(tmp_path):
    cyclegan = {"test_images": 997, "cycle_error_a": 0.1, "cycle_error_b": 0.2,
                "mae_g_ab_vs_inverse": 0.055, "mae_g_ba_vs_inverse": 0.052,
                "mae_untranslated_vs_inverse": 1.89}
    rows = [_board_row("wgan_gp", "mnist_sample", "2026-01-01 10:00", fid=9.0),
            _board_row("wgan_gp", "mnist_sample", "2026-01-02 10:00", fid=4.0),  # newer
            _board_row("wgan", "mnist_sample", "2026-01-02 11:00", recall=0.01),
            _board_row("lsgan", "fashion_mnist", "2026-01-02 11:00", smallest=0.004),
            _board_row("cgan", "mnist_sample", "2026-01-02 12:00", fid=1.0,
                       per_class_accuracy=[0.9] * 9 + [0.5]),
            _board_row("cyclegan", "mnist_sample", "2026-01-02 13:00", cyclegan=cyclegan,
                       precision="float32"),
            {"benchmark": "other", "date": "2026-01-03 10:00", "preset": "wgan_gp"}]
    path = tmp_path / "sub" / "rows.json"
    path.parent.mkdir()
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    doc = tmp_path / "docs" / "board.md"
    doc.parent.mkdir()
    used = leaderboard.main([f"--json={path}", f"--doc={doc}", "--report"])
    assert len(used) == 5
    board = doc.read_text()
    assert ("| wgan_gp | mnist_sample | mixed_bfloat16 | 5 min | 1,234 | 4.00 | 8.00 | "
            "0.700 / 0.500 | 8.0 % / 8.0 % | 2026-01-02 10:00 |  |") in board
    assert "| wgan | mnist_sample |" in board and "collapsed: judge recall 0.010" in board
    assert "collapsed: a class holds 0.4 % of the samples |" in board  # no reason known
    assert "judge recall 0.010 < 0.05. Why: WGAN's own recipe" in board
    # cgan (FID 1 / 2 here) is left out: it is given the labels
    assert ("- mnist_sample (2 of the 11 unconditional presets run): lowest FID by the "
            "judge `wgan_gp` (8.00), by the bundled classifier `wgan_gp` (4.00)") in board
    assert ("- fashion_mnist (1 of the 11 unconditional presets run): lowest FID by the "
            "judge `lsgan`") in board
    assert board.count("collapsed: ") == 2
    assert ("not run yet: `python -m benchmarks.leaderboard --presets=stylegan "
            "--datasets=fashion_mnist`") in board
    assert "| mnist_sample | 90 % | 90 % |" in board and "| 50 % | 86.0 % |" in board
    assert "| mnist_sample | float32 | 5 min | 1,234 | 0.055 | 0.052 | 1.890 |" in board
    for preset in leaderboard.RGB_PRESETS:
        assert f"| {preset} |" in board
    # grids are relative to the rows' file, links relative to the report
    assert "![wgan on mnist_sample](../img/wgan_mnist_sample.png)" in board
    assert "AMD EPYC (with AVX-512 BF16), 2 cores" in board
    with pytest.raises(SystemExit, match="--report needs --json"):
        leaderboard.main(["--json=", f"--doc={doc}", "--report"])


def test_leaderboard_lists_every_preset_once():
    from gan_tf import configs

    listed = leaderboard.PRESETS + leaderboard.RGB_PRESETS
    assert sorted(listed) == sorted(configs.names())
    for preset in leaderboard.RGB_PRESETS:
        assert configs.get(preset).data.name in ("celeb_a", "svhn_cropped")


@pytest.mark.parametrize("preset", ["tutorial_000", "infogan"])
def test_scored_latents_follow_the_presets_layout(preset):
    from gan_tf import configs, tasks

    gan = tasks.build_model(configs.get(preset))
    fixed = quality_per_minute.fixed_latents(gan)
    assert fixed.shape == (quality_per_minute.NUM_SAMPLES, gan.latent_dim)
    np.testing.assert_array_equal(fixed, quality_per_minute.fixed_latents(gan))
    if preset == "tutorial_000":  # U(-1, 1), not N(0, 1)
        assert np.abs(fixed).max() <= 1 and np.abs(fixed).mean() > 0.4
    else:  # 62 noise columns, then a one-hot category of 10 and 2 continuous codes
        np.testing.assert_array_equal(fixed[:, 62:72].sum(1), 1)
