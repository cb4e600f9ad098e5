"""The evaluate CLI: a workdir / exported generator / real split / untrained preset ->
metrics.json, report.md and pictures; every bad input -> "error: ..." and status 2."""

import json
import os

import pytest

from conftest import small_gan
from gan_tf import evaluate
from gan_tf import evaluator

SMALL = ["--num_samples=200", "--num_real=200", "--kid_subsets=2", "--tsne_points=40"]


def run_cli(*args):
    """Runs the evaluation CLI in this process; returns its exit status."""
    return evaluate.main(["gan_tf.evaluate", *args])


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    path = tmp_path_factory.mktemp("run")
    small_gan().export_generator(str(path / "generator"))
    with open(path / "config.json", "w") as f:
        json.dump({"data": {"name": "mnist_sample"}}, f)
    return str(path)


def test_workdir_report(workdir, capsys):
    assert run_cli(f"--workdir={workdir}", *SMALL) == 0
    out = capsys.readouterr().out
    assert "fid=" in out and "report.md" in out
    with open(os.path.join(workdir, "metrics.json")) as f:
        results = json.load(f)
    for key in ("fid", "kid", "inception_score", "precision", "recall", "class_counts"):
        assert key in results, key
    assert results["num_fake"] == 200 and results["num_real"] == 200
    assert results["extractor"] == "classifier_mnist" and results["dataset"] == "mnist_sample"
    assert sum(results["class_counts"].values()) == 200
    for name in ("eval_samples.png", "eval_classes.png", "eval_tsne.png"):
        assert os.path.getsize(os.path.join(workdir, name)) > 0, name
    with open(os.path.join(workdir, "report.md")) as f:
        report = f.read()
    assert "| FID |" in report and "![" in report


def test_generator_with_output_dir(workdir, tmp_path):
    output = str(tmp_path / "out")
    assert run_cli(f"--generator={workdir}/generator", "--dataset=mnist_sample",
                   f"--output={output}", "--tsne_points=0", *SMALL[:3]) == 0
    assert os.path.exists(os.path.join(output, "metrics.json"))
    assert not os.path.exists(os.path.join(output, "eval_tsne.png"))


def test_real_held_out_data_scores_better_than_an_untrained_generator(tmp_path):
    floor, ceiling = str(tmp_path / "floor"), str(tmp_path / "ceiling")
    small = [*SMALL[:3], "--tsne_points=0"]
    assert run_cli("--fake_split=test", f"--output={floor}", *small) == 0
    assert run_cli("--untrained=default", f"--output={ceiling}", *small) == 0
    results = {}
    for name, path in (("floor", floor), ("ceiling", ceiling)):
        with open(os.path.join(path, "metrics.json")) as f:
            results[name] = json.load(f)
    assert results["floor"]["fid"] < results["ceiling"]["fid"] / 10
    assert results["floor"]["inception_score"] > 7.0  # 10 splits of 20: biased low
    # An untrained generator draws one blur: every image in one class, no recall.
    assert results["floor"]["recall"] > 0.5 > results["ceiling"]["recall"]
    assert results["floor"]["missing_classes"] == []
    assert len(results["ceiling"]["missing_classes"]) >= 5


@pytest.mark.parametrize("args, message", [
    (["--workdir=/nonexistent/run"], "workdir /nonexistent/run does not exist"),
    (["--generator=/nonexistent/gen"], "generator /nonexistent/gen does not exist"),
    ([], "pass exactly one of --workdir"),
    (["--fake_split=test"], "need --output"),
    (["--untrained=nope", "--output=/tmp/x"], "unknown preset 'nope'"),
    (["--fake_split=test", "--output=/tmp/x", "--dataset=nope"], "unknown dataset 'nope'"),
    (["--fake_split=test", "--output=/tmp/x", "--dataset=cifar10"],
     "no bundled classifier for 'cifar10'"),
    (["--fake_split=test", "--output=/tmp/x", "--extractor=inception"],
     "inception_v3_weights_tf_dim_ordering_tf_kernels.h5"),
    (["--fake_split=test", "--output=/tmp/x", "--num_samples=3"], "num_samples must be"),
    (["--fake_split=tset", "--output=/tmp/x"], "mnist_sample has no split 'tset'"),
    (["--fake_split=test", "--output=/tmp/x", "--real_split=validation"],
     "mnist_sample has no split 'validation'; its splits: train, test"),
])
def test_bad_inputs_exit_2_with_one_line(args, message, capsys):
    assert run_cli(*args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err
    assert err.count("\n") == 1


def test_workdir_without_generator(tmp_path, capsys):
    assert run_cli(f"--workdir={tmp_path}") == 2
    assert "has no exported generator" in capsys.readouterr().err


def test_not_an_export(tmp_path, capsys):
    assert run_cli(f"--generator={tmp_path}", f"--output={tmp_path}") == 2
    assert "is not an exported generator" in capsys.readouterr().err


def test_a_workdir_given_as_generator_is_named_with_both_fixes(workdir, tmp_path, capsys):
    assert run_cli(f"--generator={workdir}", f"--output={tmp_path}") == 2
    err = capsys.readouterr().err
    assert f"{workdir} is a training workdir" in err
    # both commands the message suggests work
    assert f"--workdir={workdir}" in err and f"--generator={workdir}/generator" in err
    assert run_cli(f"--workdir={workdir}", f"--output={tmp_path / 'a'}", *SMALL) == 0
    assert run_cli(f"--generator={workdir}/generator", f"--output={tmp_path / 'b'}",
                   "--dataset=mnist_sample", *SMALL) == 0


def test_the_command_line_is_one_call_of_the_library(tmp_path):
    results, output = evaluator.evaluate(fake_split="test", output=str(tmp_path),
                                         num_samples=40, num_real=40, kid_subsets=2,
                                         tsne_points=0)
    assert output == str(tmp_path) and results["source"] == "--fake_split=test"
    assert results["num_fake"] == 40 and results["dataset"] == "mnist_sample"
    assert (tmp_path / "report.md").exists() and not (tmp_path / "eval_tsne.png").exists()
    with pytest.raises(evaluator.UsageError, match="pass exactly one of"):
        evaluator.evaluate(output=str(tmp_path))

