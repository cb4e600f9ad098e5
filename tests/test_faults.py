"""Fault injection: a workdir survives whatever a user or a cluster does to it (issue 20).

One data-driven test per group of docs/reliability.md, each case a row of a table:

    signals       seeded SIGINT/SIGTERM trials at random moments and in saves (slow)
    kill -9       at each phase of a step, a save and the export (slow)
    lock          two runs on one workdir; a lock left by a dead run
    restart       --restart on foreign folders, and validating before deleting
    setup         a failed start leaves the workdir as it found it
    data          data that changed under a run
    readers       a damaged file for every reader, named in one line with the fix
    disk          a full disk (injected ENOSPC; a real tmpfs where mount works, slow)
    leftovers     nothing in $TMPDIR, no .tmp-* left after the next start (slow)
    divergence    losses that explode without becoming NaN
    trust         crafted .keras files refused by safe_mode

The subprocess tests run `python -m gan_tf.train` as a user would (`-m slow`); the fast
ones call `gan_tf.train.main(argv)` in this process. Faults are real signals and
`kill -9`s, at random seeded moments or at the named points of gan_tf/_faults.py
(GAN_TF_FAULT), and real or injected ENOSPC.
"""

import gzip
import hashlib
import io
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import types

import numpy as np
from PIL import Image
import pytest

from gan_tf import _faults
from gan_tf import checkpoint
from gan_tf import evaluate
from gan_tf import workdir as workdir_lib

from test_reliability import assert_same_run
from test_reliability import PoisonOnce
from test_reliability import TINY
from test_train import QUICK
from test_train import run_cli

EXIT = {"SIGINT": 130, "SIGTERM": 143}
RESUME_HINT = "run the same command again to resume"


# -- Helpers ---------------------------------------------------------------------------

def _slow(*values):
    """A case of a table (its first value names it) in the slow part of the suite."""
    return pytest.param(*values, marks=pytest.mark.slow, id=values[0])


def _ids(cases):
    return [None if isinstance(case, type(_slow(""))) else case[0] for case in cases]


def snapshot(path):
    """{relative path: (size, sha256, mtime_ns)} of every file and folder under
    `path`; None when it does not exist. Equal snapshots: nothing was touched."""
    if not os.path.exists(path):
        return None
    found = {}
    for root, dirs, files in os.walk(path):
        for name in dirs:
            found[os.path.relpath(os.path.join(root, name), path) + "/"] = None
        for name in files:
            full = os.path.join(root, name)
            with open(full, "rb") as f:
                digest = hashlib.sha256(f.read()).hexdigest()
            found[os.path.relpath(full, path)] = (os.path.getsize(full), digest,
                                                  os.stat(full).st_mtime_ns)
    return found


def error_lines(err):
    """gan_tf's "error: ..." lines (not TensorFlow's C++ log, e.g. "CUDA error: ...")."""
    return [line for line in err.splitlines() if line.startswith("error: ")]


def one_line_error(err, *names):
    """The single "error: ..." line of a failed run (no traceback), naming `names`."""
    assert "Traceback" not in err, err[-3000:]
    lines = error_lines(err)
    assert len(lines) == 1, err[-3000:]
    for name in names:
        assert str(name) in lines[0], (name, lines[0])
    return lines[0]


def interrupted_line(err, signal_name):
    """The single "interrupted (SIG...)" line of an interrupted run (no traceback)."""
    assert "Traceback" not in err and not error_lines(err), err[-3000:]
    lines = [line for line in err.splitlines() if line.startswith("interrupted (")]
    assert len(lines) == 1, err[-3000:]
    assert lines[0].startswith(f"interrupted ({signal_name})") and RESUME_HINT in lines[0]
    return lines[0]


def temporaries(path):
    """Every .tmp-* file or folder under `path`."""
    return sorted(os.path.relpath(os.path.join(root, name), path)
                  for root, dirs, files in os.walk(path) for name in dirs + files
                  if name.startswith(".tmp-"))


def latest_step(workdir):
    found = checkpoint.CheckpointManager(os.path.join(workdir, "checkpoints")).latest()
    return 0 if found is None else found[0].step


def write_png(path, shape=(28, 28), seed=0):
    pixels = np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)
    Image.fromarray(pixels).save(path)


def image_folder(path, num, classes=1, shape=(28, 28)):
    for i in range(num):
        folder = os.path.join(path, f"class{i % classes:02d}") if classes > 1 else path
        os.makedirs(folder, exist_ok=True)
        write_png(os.path.join(folder, f"img{i:03d}.png"), shape, seed=i)
    os.makedirs(path, exist_ok=True)
    return str(path)


def cli_in_process(capsys, workdir, *args, fault=None, monkeypatch=None):
    """`python -m gan_tf.train ARGS --workdir=W` in this process: (status, stderr)."""
    if fault is not None:
        monkeypatch.setenv("GAN_TF_FAULT", fault)
        monkeypatch.setattr(_faults, "_seen", {})
    try:
        status = run_cli(*args, f"--workdir={workdir}")
    finally:
        if fault is not None:
            monkeypatch.delenv("GAN_TF_FAULT")
    return status, capsys.readouterr().err


class Run:
    """`python -m gan_tf.train` in a subprocess (stderr to a file, TMPDIR of its own)."""

    def __init__(self, workdir, *args, fault=None, tmpdir=None, base=TINY):
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
        env.pop("GAN_TF_FAULT", None)
        if fault:
            env["GAN_TF_FAULT"] = fault
        if tmpdir:
            env["TMPDIR"] = str(tmpdir)
        self.err_path = f"{workdir}.{time.monotonic_ns()}.err"
        os.makedirs(os.path.dirname(self.err_path), exist_ok=True)
        self.err_file = open(self.err_path, "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gan_tf.train", *base, f"--workdir={workdir}", *args],
            env=env, stdout=subprocess.DEVNULL, stderr=self.err_file)

    def signal(self, signum):
        if self.process.poll() is None:
            self.process.send_signal(signum)

    def wait(self, timeout=900):
        """(exit status, stderr); a process killed by a signal gives -signum."""
        try:
            self.process.wait(timeout=timeout)
        finally:
            self.err_file.close()
        with open(self.err_path) as f:
            return self.process.returncode, f.read()


def wait_for(predicate, run, timeout=600, poll=0.005):
    """Polls until `predicate()`; False when the run ended first."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        if run.process.poll() is not None:
            return predicate()
        time.sleep(poll)
    raise AssertionError("timed out")


def saving(workdir):
    """True while a temporary file of a save is in checkpoints/ (or samples/)."""
    return lambda: any(temporaries(os.path.join(workdir, sub)) for sub in
                       ("checkpoints", "samples") if os.path.isdir(os.path.join(workdir, sub)))


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished quick run (2 epochs of 3 steps: ckpt-0001, ckpt-0002, generator/)."""
    workdir = str(tmp_path_factory.mktemp("finished") / "run")
    assert run_cli(*QUICK, "--seed=3", f"--workdir={workdir}") == 0
    return workdir


@pytest.fixture
def copy_of(finished, tmp_path):
    def copy(name="run"):
        target = str(tmp_path / name)
        shutil.copytree(finished, target)
        return target
    return copy


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """Image folders: flat (40 digits-sized images), twelve classes, one cut PNG, one
    PNG damaged in its middle, mixed sizes, empty."""
    root = tmp_path_factory.mktemp("folders")
    made = {"flat": image_folder(root / "flat", 40),
            "twelve": image_folder(root / "twelve", 48, classes=12),
            "mixed": image_folder(root / "mixed", 10)}
    for i in range(10):
        write_png(root / "mixed" / f"big{i}.png", (32, 32), seed=100 + i)
    made["cut"] = image_folder(root / "cut", 20)
    buffer = io.BytesIO()
    Image.fromarray(np.full((28, 28), 9, np.uint8)).save(buffer, "PNG")
    (root / "cut" / "cut.png").write_bytes(buffer.getvalue()[:-30])
    made["middle"] = image_folder(root / "middle", 20)
    damaged = bytearray((root / "middle" / "img007.png").read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF  # complete at both ends, damaged inside
    (root / "middle" / "img007.png").write_bytes(bytes(damaged))
    made["empty"] = str(root / "empty")
    os.makedirs(made["empty"])
    return made


# The signal trials' run: long enough (120 steps) that 24 interrupted trials, each
# resumed, do not reach its end.
LONG = ["--epochs=20"]


@pytest.fixture(scope="module")
def long_reference(tmp_path_factory):
    """An uninterrupted TINY run of 20 epochs in a subprocess."""
    workdir = str(tmp_path_factory.mktemp("long_reference") / "run")
    status, err = Run(workdir, *LONG).wait()
    assert status == 0, err[-3000:]
    return workdir


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted TINY run in a subprocess: what every resumed run must equal."""
    workdir = str(tmp_path_factory.mktemp("reference") / "run")
    status, err = Run(workdir).wait()
    assert status == 0, err[-3000:]
    return workdir


# -- Validate before writing: a failed start leaves the workdir as it found it ---------

# (case, arguments ({name} is a folder of `folders`), what the one line says, the
# corrected arguments that then just work, or None)
SETUP_FAILURES = [
    ("unreadable image", ["--dataset=folder:{cut}"], ["cut.png", "--on_bad_image=skip"],
     ["--on_bad_image=skip"]),
    ("PNG damaged in its middle", ["--dataset=folder:{middle}"],
     ["img007.png", "fails its CRC", "--on_bad_image=skip"], ["--on_bad_image=skip"]),
    ("mixed image sizes", ["--dataset=folder:{mixed}"], ["different sizes", "--image_size"],
     ["--image_size=28"]),
    ("empty folder", ["--dataset=folder:{empty}"], ["holds no"], None),
    ("missing folder", ["--dataset=folder:{empty}/nothing"], ["is not a folder"], None),
    ("dcgan at image size 3", ["--model=dcgan", "--image_size=3"], ["got 3"],
     ["--image_size=28"]),
    ("batch larger than the data", ["--batch_size=100000"], ["use at most 9003"],
     ["--batch_size=16"]),
    ("batch larger than a folder", ["--dataset=folder:{flat}", "--batch_size=41"],
     ["use at most 40"], ["--batch_size=40"]),
    ("cgan on a one-class folder", ["--config=cgan", "--dataset=folder:{flat}"],
     ["class labels"], None),
    ("cgan classes differ from the preset's",
     ["--config=cgan", "--dataset=folder:{twelve}", "--set=model.generator.num_classes=10"],
     ["has 12 classes", "num_classes=12"],
     ["--set=model.generator.num_classes=12", "--set=model.discriminator.num_classes=12"]),
    ("preset shape differs from the data", ["--config=dcgan_svhn", "--dataset=mnist_sample"],
     ["dcgan_svhn"], None),
    ("model and loss conflict", ["--model=infogan"], ["--loss=infogan"], ["--loss=infogan"]),
    ("unknown model argument", ["--set=model.generator.nonsense=1"], ["nonsense"], None),
    ("translation without a second dataset", ["--model=cyclegan"], ["--dataset_b"], None),
    ("NaN beta_1", ["--set=train.beta_1=nan"], ["beta_1 must be a finite number"],
     ["--set=train.beta_1=0.5"]),
    ("beta_1 of 1", ["--set=train.beta_1=1"], ["beta_1 must be >= 0 and < 1"],
     ["--set=train.beta_1=0.9"]),
    ("infinite grad_clip_norm", ["--grad_clip_norm=inf"],
     ["grad_clip_norm must be a finite number"], ["--grad_clip_norm=1"]),
    ("image size beyond the free memory", ["--model=mlp", "--image_size=10000"],
     ["10000x10000", "TiB of memory", "is free", "smaller --image_size"], ["--image_size=28"]),
    ("the default's DCGAN at image size 10000", ["--image_size=10000"],
     ["dcgan models need an image size", "got 10000"], ["--image_size=28"]),
]


def _setup_args(args, folders):
    return [*QUICK, *(a.format(**folders) for a in args)]


@pytest.mark.parametrize("case, args, says, fix", SETUP_FAILURES,
                         ids=[c[0] for c in SETUP_FAILURES])
def test_failed_start_leaves_the_workdir_as_it_found_it(case, args, says, fix, folders,
                                                        copy_of, tmp_path, capsys):
    """A missing workdir stays missing; a finished run's workdir is untouched, bit for
    bit (config.json included, so the corrected command is not "another config")."""
    for workdir in (str(tmp_path / "new"), copy_of()):
        before = snapshot(workdir)
        status, err = cli_in_process(capsys, workdir, *_setup_args(args, folders))
        assert status == 2
        one_line_error(err, *says)
        assert snapshot(workdir) == before, case


@pytest.mark.slow
@pytest.mark.parametrize("case, args, says, fix", [c for c in SETUP_FAILURES if c[3]],
                         ids=[c[0] for c in SETUP_FAILURES if c[3]])
def test_the_corrected_command_just_works(case, args, says, fix, folders, tmp_path,
                                          capsys):
    workdir = str(tmp_path / "run")
    assert cli_in_process(capsys, workdir, *_setup_args(args, folders))[0] == 2
    status, err = cli_in_process(capsys, workdir, *_setup_args(args, folders), *fix)
    assert status == 0, err[-3000:]
    assert json.load(open(os.path.join(workdir, "history.json")))["epoch"] == [1, 2]


@pytest.mark.slow
def test_a_run_whose_memory_is_estimated_trains_as_one_that_is_not(tmp_path, capsys,
                                                                  monkeypatch):
    """The estimate builds the models once more, in a graph of its own: the run that
    follows is the same, loss for loss."""
    from gan_tf import memory

    estimated = []
    training_bytes = memory.training_bytes
    monkeypatch.setattr(memory, "training_bytes",
                        lambda *a, **k: estimated.append(training_bytes(*a, **k)) or
                        estimated[-1])
    losses = []
    for estimate_from in (1, 2**62):  # every batch estimated; none
        monkeypatch.setattr(memory, "ESTIMATE_FROM", estimate_from)
        workdir = str(tmp_path / f"run{estimate_from}")
        status, err = cli_in_process(capsys, workdir, *QUICK, "--image_size=64",
                                     "--deterministic", "--seed=1")
        assert status == 0, err[-3000:]
        history = json.load(open(os.path.join(workdir, "history.json")))
        losses.append({key: values for key, values in history.items()
                       if key.endswith("loss")})
    assert len(estimated) == 1 and 0 < estimated[0] < memory.free_bytes()
    assert losses[0] == losses[1] and losses[0]


def test_out_of_memory_in_training_says_how_to_start_over(tmp_path, capsys, monkeypatch):
    """An out-of-memory error the estimate did not foresee, in training (after the
    workdir was written): one line whose advice works in the same workdir."""
    import tensorflow as tf

    from gan_tf import trainer

    def out_of_memory(*args, **kwargs):
        raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor")

    workdir = str(tmp_path / "run")
    with monkeypatch.context() as patched:
        patched.setattr(trainer, "train", out_of_memory)
        status, err = cli_in_process(capsys, workdir, *QUICK, "--image_size=32")
    assert status == 2
    one_line_error(err, "ran out of memory", "OOM when allocating", "--restart")
    assert os.path.exists(os.path.join(workdir, "config.json"))
    status, err = cli_in_process(capsys, workdir, *QUICK, "--image_size=28", "--restart")
    assert status == 0, err[-3000:]


def test_a_config_json_with_a_string_for_an_integer(tmp_path, capsys):
    """"epochs": "2" is named with the field and the type it needs, before any work."""
    from gan_tf import configs

    recorded = json.loads(configs.quick(configs.get("default")).to_json())
    recorded["train"]["epochs"] = "2"
    path = tmp_path / "config.json"
    path.write_text(json.dumps(recorded))
    workdir = str(tmp_path / "run")
    status, err = cli_in_process(capsys, workdir, f"--config={path}")
    assert status == 2
    one_line_error(err, str(path), "train.epochs must be an integer, got '2'")
    assert not os.path.exists(workdir)


def test_a_finished_run_asked_for_fewer_epochs_changes_nothing(copy_of, capsys, caplog):
    workdir = copy_of()
    before = snapshot(workdir)
    for epochs, says in ((1, "--epochs=1 asks for fewer: nothing to do"),
                         (2, "already trained for 2 epochs; raise --epochs")):
        status, _ = cli_in_process(capsys, workdir, *QUICK, "--seed=3", f"--epochs={epochs}")
        assert status == 0 and says in caplog.text
        assert snapshot(workdir) == before  # config.json still says epochs: 2


@pytest.mark.parametrize("inside", ["run", "runs/a"])
def test_a_workdir_inside_the_image_folder_is_not_data(inside, tmp_path, capsys):
    """--dataset=folder:D --workdir=D/run (before this change, D was refused as
    "mixing images and subfolders", the subfolder being the workdir): the workdir, or a folder of
    workdirs, is left out of the scan and of the fingerprint, so the run starts and
    resumes although its samples grow."""
    data = image_folder(tmp_path / "images", 40)
    workdir = os.path.join(data, inside)
    args = [*QUICK, f"--dataset=folder:{data}", "--batch_size=8", "--epochs=1"]
    status, err = cli_in_process(capsys, workdir, *args)
    assert status == 0, err[-3000:]
    status, err = cli_in_process(capsys, workdir, *args[:-1], "--epochs=2")
    assert status == 0, err[-3000:]
    assert json.load(open(os.path.join(workdir, "history.json")))["epoch"] == [1, 2]


@pytest.mark.slow
def test_a_conditional_preset_takes_the_classes_of_its_folder(folders, tmp_path, capsys):
    """--config=cgan on a 12-class folder trains a 12-class model (not a 10-class one
    that fails mid-training with "indices[4] = 11 is not in [0, 10)")."""
    workdir = str(tmp_path / "run")
    status, err = cli_in_process(capsys, workdir, "--config=cgan", *QUICK,
                                 "--epochs=1", f"--dataset=folder:{folders['twelve']}")
    assert status == 0, err[-3000:]
    exported = json.load(open(os.path.join(workdir, "generator", "gan_tf_export.json")))
    assert exported["num_classes"] == 12


# -- --restart --------------------------------------------------------------------------

def _user_files(root, names):
    for name in names:
        os.makedirs(os.path.dirname(os.path.join(root, name)), exist_ok=True)
        with open(os.path.join(root, name), "w") as f:
            f.write(f"the user's {name}")


FOREIGN = ["notes.txt", "logs/app.log", "samples/a.png", "samples/epoch_final.png",
           "logs/training_notes.txt", "checkpoints/README", "generator/model.onnx",
           "logs/train/my_notes.txt", "generator/assets/labels.txt",
           "checkpoints/abandoned/keep_me.weights.h5", "generator/variables/mine.txt",
           "generator/variables_mine/w.txt", "samples/.tmp-notes.txt-0123abcd", ".tmp-mine"]

# (case, how the folder is made, extra arguments, what the refusal says)
RESTART_REFUSED = [
    ("a folder gan_tf did not make", "foreign", [], ["has none", "Drop --restart"]),
    ("a folder gan_tf did not make, bad data (checked before deleting)", "foreign",
     ["--dataset=folder:{empty}"], ["holds no"]),
    ("gan_tf's folder, --resume_from too", "finished", ["--resume_from=ckpt-0001"],
     ["--restart deletes the checkpoints"]),
    ("gan_tf's folder, a bad flag", "finished", ["--model=dcgan", "--image_size=3"],
     ["got 3"]),
    ("gan_tf's folder, another run holds it", "busy", [], ["in use by another run",
                                                             f"pid {os.getpid()}"]),
]


@pytest.mark.parametrize("case, kind, args, says", RESTART_REFUSED,
                         ids=[c[0] for c in RESTART_REFUSED])
def test_restart_refused_deletes_nothing(case, kind, args, says, folders, copy_of,
                                         tmp_path, capsys):
    workdir = str(tmp_path / "foreign") if kind == "foreign" else copy_of()
    _user_files(workdir, FOREIGN)
    before = snapshot(workdir)
    holder = workdir_lib.Workdir(workdir).lock() if kind == "busy" else None
    if holder:
        holder.__enter__()
    try:
        status, err = cli_in_process(capsys, workdir, *_setup_args(args, folders),
                                     "--restart")
    finally:
        if holder:
            holder.__exit__(None, None, None)
    assert status == 2
    one_line_error(err, *says)
    assert snapshot(workdir) == before
    if case == "a folder gan_tf did not make":  # its fix: drop --restart
        status, err = cli_in_process(capsys, workdir, *QUICK, "--epochs=1")
        assert status == 0, err[-3000:]
        assert {name: snapshot(workdir)[name] for name in FOREIGN} == \
            {name: before[name] for name in FOREIGN}


def _restart(workdir):
    """What `--restart` deletes, after the start-up clean-up of temporary files."""
    folder = workdir_lib.Workdir(workdir)
    with folder.lock():
        folder.clean_temporary()
        return folder.restart()


def test_restart_deletes_only_what_gan_tf_wrote(copy_of):
    """--restart and the start-up clean-up of .tmp-* delete what the manifest lists
    and nothing else: a user's files in gan_tf's sub-folders (logs/train/my_notes.txt, generator/assets/labels.txt,
    checkpoints/abandoned/keep_me.weights.h5) stay, with the folders holding them."""
    workdir = copy_of()
    _user_files(workdir, FOREIGN)
    user = snapshot(workdir)
    removed = _restart(workdir)
    assert "checkpoints/ckpt-0002.weights.h5" in removed and "config.json" in removed
    assert {name: value for name, value in snapshot(workdir).items() if value and
            name != ".gan_tf"} == {name: user[name] for name in FOREIGN}
    assert json.load(open(os.path.join(workdir, ".gan_tf")))["written"] == []


def test_a_workdir_made_before_the_manifest_takes_gan_tfs_names(copy_of, caplog):
    """A .gan_tf without a list (the marker of a workdir made before the manifest), or
    a damaged one, is rebuilt from the names gan_tf writes: --restart deletes those
    (events files and the export's parts included) and keeps the user's files."""
    for content in ('{"created": "2020-01-01T00:00:00"}', "{damaged"):
        workdir = copy_of(f"run{len(content)}")
        with open(os.path.join(workdir, ".gan_tf"), "w") as f:
            f.write(content)
        _user_files(workdir, FOREIGN)
        user = snapshot(workdir)
        removed = _restart(workdir)
        assert "generator/variables/variables.index" in removed, removed
        assert any(name.startswith("logs/train/events.out.tfevents.") for name in removed)
        assert {name: value for name, value in snapshot(workdir).items() if value and
                name != ".gan_tf"} == {name: user[name] for name in FOREIGN}
    assert "is damaged" in caplog.text


# The files of a user's folder that a run would replace, and others it leaves alone.
USERS_RUN_NAMES = ["history.json", "losses.png", "versions.json", "samples/progress.gif",
                   "config.json"]
USERS_OTHERS = ["notes.txt", "samples/holiday.png", "logs/app.log", "my_model.onnx"]


def test_a_first_run_into_a_users_folder_replaces_nothing(tmp_path, capsys):
    """A folder holding files under the names a run writes, but no record of a run,
    is refused in one line naming them, untouched; the fix it gives (move them out)
    then works, and the run writes beside the user's other files."""
    workdir = str(tmp_path / "mine")
    _user_files(workdir, USERS_RUN_NAMES + USERS_OTHERS)
    before = snapshot(workdir)
    status, err = cli_in_process(capsys, workdir, *QUICK, "--epochs=1")
    assert status == 2
    line = one_line_error(err, *USERS_RUN_NAMES, "move them out of the folder",
                          "choose another --workdir")
    assert not any(name in line for name in USERS_OTHERS)
    assert snapshot(workdir) == before
    for name in USERS_RUN_NAMES:  # the fix: move them out
        os.renames(os.path.join(workdir, name), str(tmp_path / "moved" / name))
    status, err = cli_in_process(capsys, workdir, *QUICK, "--epochs=1")
    assert status == 0, err[-3000:]
    assert {name: before[name] for name in USERS_OTHERS} == \
        {name: snapshot(workdir)[name] for name in USERS_OTHERS}
    status, err = cli_in_process(capsys, str(tmp_path / "another"), *QUICK, "--epochs=1",
                                 "--steps_per_epoch=1")  # the other fix: another --workdir
    assert status == 0, err[-3000:]


def test_gan_tf_never_replaces_a_file_it_did_not_write(tmp_path):
    """In a recording workdir, a write, rename or deletion of a path the manifest does
    not list: refused (writes) or left alone (deletions); what gan_tf writes is
    recorded before it is created."""
    from gan_tf import fileio

    root = str(tmp_path / "run")
    _user_files(root, ["samples/mine.png", "logs/a.txt"])
    folder = workdir_lib.Workdir(root)
    with folder.lock():
        fileio.write_atomic(os.path.join(root, "samples", "epoch_0001.png"), b"grid")
        written = json.load(open(os.path.join(root, ".gan_tf")))["written"]
        assert "samples/epoch_0001.png" in written and "samples/" not in written
        with pytest.raises(fileio.NotWrittenError):
            fileio.write_atomic(os.path.join(root, "samples", "mine.png"), b"grid")
        with pytest.raises(fileio.NotWrittenError):
            fileio.rename(os.path.join(root, "samples", "epoch_0001.png"),
                          os.path.join(root, "logs", "a.txt"))
        fileio.remove(os.path.join(root, "samples", "mine.png"))
        fileio.rmtree(os.path.join(root, "samples"))
        fileio.rmtree(os.path.join(root, "logs"))
    assert sorted(name for name, value in snapshot(root).items() if value) == \
        [".gan_tf", "logs/a.txt", "samples/mine.png"]


class _UsersFileAppears(__import__("keras").callbacks.Callback):
    """A user's file appears under the name of the next epoch's grid, mid-run."""

    def __init__(self, path):
        super().__init__()
        self.path = path

    def on_epoch_end(self, epoch, logs=None):
        if epoch == 0:
            with open(self.path, "w") as f:
                f.write("the user's")


def test_a_file_put_where_the_run_writes_is_not_replaced(tmp_path, capsys, monkeypatch):
    """A file gan_tf did not write, put during a run where the run is about to write:
    the run ends in one line naming it and the fix, the file untouched; the fix
    (move it out, run the same command again) works."""
    from gan_tf import trainer

    workdir = str(tmp_path / "run")
    grid = os.path.join(workdir, "samples", "epoch_0002.png")
    original = trainer.train_and_evaluate
    with monkeypatch.context() as patch:
        patch.setattr(trainer, "train_and_evaluate", lambda *a, **k: original(
            *a, **k, extra_callbacks=[_UsersFileAppears(grid)]))
        status, err = cli_in_process(capsys, workdir, *QUICK)
    assert status == 2
    one_line_error(err, grid, "is not gan_tf's", "move it out of",
                   "run the same command again")
    assert open(grid).read() == "the user's"
    os.rename(grid, str(tmp_path / "moved.png"))
    status, err = cli_in_process(capsys, workdir, *QUICK)
    assert status == 0, err[-3000:]
    assert json.load(open(os.path.join(workdir, "history.json")))["epoch"] == [1, 2]


# -- The export's swap: a kill at any instant loses neither the export nor user files -

USERS_EXPORT_FILES = ["generator/model.onnx", "generator/variables_mine/w.txt",
                      "generator/assets/labels.txt", "generator/variables/mine.txt"]


class _Killed(BaseException):
    """What a kill -9 at a fault point leaves, in this process: nothing runs after."""


def _stale_export(workdir):
    """Makes the finished run's export older than its checkpoint: the run exports."""
    path = os.path.join(workdir, "generator", "gan_tf_export.json")
    metadata = json.load(open(path))
    with open(path, "w") as f:
        json.dump({**metadata, "train_steps": 0}, f)


@pytest.mark.parametrize("instant", ["written", "ready", "moved", "renamed"])
def test_the_export_survives_a_kill_at_any_instant_of_its_swap(instant, copy_of, capsys,
                                                               monkeypatch):
    """The export is written to .tmp-generator-export, which (the user's files linked
    in) becomes .tmp-generator-new; generator/ moves aside to .tmp-generator-old, the
    new one into place, the old one is deleted. Killed at each step (here: the
    process stops there, nothing else runs), the same command finds generator/ whole
    with the user's files, and no temporary folder left."""
    workdir = copy_of()
    _user_files(workdir, USERS_EXPORT_FILES)
    user = snapshot(workdir)
    _stale_export(workdir)

    def point(name, detail=""):
        if name == "export" and detail == instant:
            raise _Killed(instant)

    with monkeypatch.context() as patch:
        patch.setattr(_faults, "point", point)
        with pytest.raises(_Killed):
            cli_in_process(capsys, workdir, *QUICK, "--seed=3")
    if instant == "moved":  # between the renames: generator/ is not there at all
        assert not os.path.exists(os.path.join(workdir, "generator"))
    status, err = cli_in_process(capsys, workdir, *QUICK, "--seed=3")
    assert status == 0, err[-3000:]
    after = snapshot(workdir)
    assert {name: after.get(name) for name in USERS_EXPORT_FILES} == \
        {name: user[name] for name in USERS_EXPORT_FILES}
    exported = json.load(open(os.path.join(workdir, "generator", "gan_tf_export.json")))
    assert exported["train_steps"] == 6 and temporaries(workdir) == []
    assert os.path.exists(os.path.join(workdir, "generator", "saved_model.pb"))


@pytest.mark.slow
def test_a_kill_between_the_exports_renames_then_the_same_command(copy_of, tmp_path):
    """kill -9 between generator/ moving aside and the new export moving into place
    (before this change, the next start deleted both temporary folders: the export and
    the user's files in generator/ were gone); the same command exits 0 with the export there."""
    workdir = copy_of()
    _user_files(workdir, USERS_EXPORT_FILES)
    user = snapshot(workdir)
    _stale_export(workdir)
    status, err = Run(workdir, fault="export@moved:kill", base=[*QUICK, "--seed=3"]).wait()
    assert status == -signal.SIGKILL, err[-3000:]
    assert not os.path.exists(os.path.join(workdir, "generator"))
    status, err = Run(workdir, base=[*QUICK, "--seed=3"]).wait()
    assert status == 0, err[-3000:]
    assert {name: snapshot(workdir).get(name) for name in USERS_EXPORT_FILES} == \
        {name: user[name] for name in USERS_EXPORT_FILES}
    import tensorflow as tf

    loaded = tf.saved_model.load(os.path.join(workdir, "generator"))
    assert loaded.sample(tf.constant(2), tf.constant(0)).shape[0] == 2
    assert temporaries(workdir) == []


# -- One writer per workdir -------------------------------------------------------------

def _dead_pid():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


# (case, the .lock file's content, or "held" for a live holder)
LOCKS = [
    ("a live run holds it", "held"),
    ("left by a killed run", lambda: json.dumps({"pid": _dead_pid(),
                                                 "host": socket.gethostname(),
                                                 "started": "2020-01-01T00:00:00"})),
    ("left by a run on another host", lambda: json.dumps({"pid": 1, "host": "elsewhere",
                                                          "started": "2020-01-01"})),
    ("damaged", lambda: "{half a lock"),
    ("empty", lambda: ""),
]


@pytest.mark.parametrize("case, content", LOCKS, ids=[c[0] for c in LOCKS])
def test_lock(case, content, copy_of, capsys, caplog):
    """A live holder refuses the second run in one line that names it; a lock file
    whose run is gone (kill -9, another host's finished run, damaged) is taken over:
    the kernel's flock tells, not the pid, which may have been reused."""
    workdir = copy_of()
    lock = os.path.join(workdir, workdir_lib.LOCK)
    if content == "held":
        with workdir_lib.Workdir(workdir).lock():
            before = snapshot(workdir)
            status, err = cli_in_process(capsys, workdir, *QUICK, "--seed=3")
            assert snapshot(workdir) == before
        assert status == 2
        one_line_error(err, "is in use by another run", f"pid {os.getpid()} on "
                       f"{socket.gethostname()}")
        return
    with open(lock, "w") as f:
        f.write(content())
    status, err = cli_in_process(capsys, workdir, *QUICK, "--seed=3")
    assert status == 0, err[-3000:]
    assert not os.path.exists(lock)  # released
    if case.startswith("left by"):
        assert "taking over the lock" in caplog.text


@pytest.mark.slow
def test_two_runs_on_one_workdir(reference, tmp_path):
    """The second run is refused while the first trains (which ends as if alone); a
    run killed with -9 leaves a lock that the same command takes over."""
    workdir = str(tmp_path / "run")
    first = Run(workdir)
    assert wait_for(lambda: os.path.exists(os.path.join(workdir, "history.json")), first)
    first.signal(signal.SIGSTOP)  # still training, however slowly the second starts
    try:
        status, err = Run(workdir).wait()
    finally:
        first.signal(signal.SIGCONT)
    assert status == 2
    one_line_error(err, "is in use by another run", f"pid {first.process.pid} on")
    status, err = first.wait()
    assert status == 0, err[-3000:]
    assert_same_run(reference, workdir)
    killed = str(tmp_path / "killed")
    run = Run(killed)
    assert wait_for(lambda: latest_step(killed) >= 2, run)
    run.signal(signal.SIGKILL)
    assert run.wait()[0] == -signal.SIGKILL
    assert os.path.exists(os.path.join(killed, workdir_lib.LOCK))
    status, err = Run(killed).wait()
    assert status == 0 and "taking over the lock" in err, err[-3000:]
    assert_same_run(reference, killed)


# -- Changed data -------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("fixed_steps", [True, False],
                         ids=["fixed steps per epoch", "steps per epoch from the data"])
def test_data_that_changed_is_refused_or_continued(fixed_steps, tmp_path, capsys, caplog):
    data = image_folder(tmp_path / "images", 40)
    workdir = str(tmp_path / "run")
    args = [*QUICK, f"--dataset=folder:{data}", "--batch_size=8"] + (
        [] if fixed_steps else ["--set=train.steps_per_epoch=None"])
    assert cli_in_process(capsys, workdir, *args)[0] == 0
    for i in range(16):  # the folder grew
        write_png(os.path.join(data, f"new{i:02d}.png"), seed=1000 + i)
    before = snapshot(workdir)
    status, err = cli_in_process(capsys, workdir, *args, "--epochs=3")
    assert status == 2
    one_line_error(err, "changed since its run started", "files 40 -> 56",
                   "--on_data_change=continue", "--restart")
    assert snapshot(workdir) == before
    status, err = cli_in_process(capsys, workdir, *args, "--epochs=3",
                                 "--on_data_change=continue")
    assert status == 0, err[-3000:]
    assert "the data changed since the run started" in caplog.text
    assert json.load(open(os.path.join(workdir, "history.json")))["epoch"] == [1, 2, 3]
    if not fixed_steps:  # the run's epochs keep their length: 40 // 8 steps
        assert "keeping the run's 5 steps per epoch (its data now gives 7)" in caplog.text
        assert latest_step(workdir) == 15


# -- Every reader explains itself ---------------------------------------------------------

def _truncate(path):
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) // 2)


def _content(data):
    def write(path):
        with open(path, "wb") as f:
            f.write(data)
    return write


# (case, file in a finished workdir, damage, arguments, what happens: a list of what
# the one-line refusal names ({path}: the file), or "repaired": the run goes on)
TRAIN_READERS = [
    ("checkpoint weights truncated", "checkpoints/ckpt-0002.weights.h5", _truncate, [],
     ["{path}", "--resume_from=ckpt-0001", "--restart"]),
    ("checkpoint weights not HDF5", "checkpoints/ckpt-0002.weights.h5",
     _content(b"not a weights file"), [], ["{path}", "--resume_from=ckpt-0001"]),
    ("checkpoint weights empty", "checkpoints/ckpt-0002.weights.h5", _content(b""), [],
     ["{path}", "--resume_from=ckpt-0001"]),
    ("checkpoint state not JSON", "checkpoints/ckpt-0002.state.json", _content(b"{"), [],
     ["{path}", "--resume_from=ckpt-0001"]),
    ("checkpoint state not UTF-8", "checkpoints/ckpt-0002.state.json",
     _content(b"\xff\xfe\x00"), [], ["{path}", "--resume_from=ckpt-0001"]),
    ("checkpoint state a list", "checkpoints/ckpt-0002.state.json", _content(b"[]"), [],
     ["{path}", "a JSON object was expected"]),
    ("checkpoint state of wrong types", "checkpoints/ckpt-0002.state.json",
     _content(b'{"epoch": "two", "step": 6}'), [], ["{path}", "epoch must be"]),
    ("checkpoint resumed from by name is damaged", "checkpoints/ckpt-0001.weights.h5",
     _truncate, ["--resume_from=ckpt-0001"], ["{path}", "--restart"]),
    ("config.json not JSON", "config.json", _content(b"{"), [], ["{path}", "--restart"]),
    ("config.json a list", "config.json", _content(b"[1, 2]"), [], ["{path}", "--restart"]),
    ("config.json of wrong shape", "config.json", _content(b'{"train": 5}'), [],
     ["{path}", "--restart"]),
    _slow("config.json damaged, --restart", "config.json", _content(b"{"), ["--restart"],
     "repaired"),
    _slow("checkpoint index damaged", "checkpoints/checkpoint.json", _content(b"{"), [],
     "repaired"),
    _slow("history.json damaged", "history.json", _content(b"[not json"), [], "repaired"),
    _slow("an older checkpoint damaged", "checkpoints/ckpt-0001.weights.h5", _truncate, [],
     "repaired"),
    ("export metadata damaged", "generator/gan_tf_export.json", _content(b"{"),
     ["--epochs=2"], "repaired"),
    _slow("lock damaged", workdir_lib.LOCK, _content(b"\x00garbage"), [], "repaired"),
]


@pytest.mark.parametrize("case, name, damage, args, outcome", TRAIN_READERS,
                         ids=_ids(TRAIN_READERS))
def test_a_damaged_file_of_a_run(case, name, damage, args, outcome, copy_of, capsys):
    """Refused in one line naming the file and the way out, the workdir untouched; or,
    for files the run rewrites from its checkpoint, repaired."""
    workdir = copy_of()
    path = os.path.join(workdir, name)
    damage(path)
    before = snapshot(workdir)
    status, err = cli_in_process(capsys, workdir, *QUICK, "--seed=3", "--epochs=3", *args)
    if outcome == "repaired":
        assert status == 0, err[-3000:]
        epochs = json.load(open(os.path.join(workdir, "history.json")))["epoch"]
        assert epochs == list(range(1, 1 + latest_step(workdir) // 3))
        json.load(open(os.path.join(workdir, "generator", "gan_tf_export.json")))
        assert temporaries(workdir) == [] and not os.path.exists(
            os.path.join(workdir, workdir_lib.LOCK))
        return
    assert status == 2
    one_line_error(err, *(n.format(path=path) for n in outcome))
    assert snapshot(workdir) == before


def test_a_damaged_sample_grid_is_named_and_left_out_of_the_gif(copy_of, capsys,
                                                                caplog):
    """A damaged samples/epoch_0001.png (before this change, every later run ended with
    "cannot write <workdir>: image file is truncated ... Free disk space", naming no
    file): the GIF,
    derived from the grids, leaves it out with a warning naming it and the fix
    (delete it); after that fix, the warning is gone."""
    from PIL import Image

    workdir = copy_of()
    grid = os.path.join(workdir, "samples", "epoch_0001.png")
    _truncate(grid)
    status, err = cli_in_process(capsys, workdir, *QUICK, "--seed=3", "--epochs=3")
    assert status == 0, err[-3000:]
    assert f"{grid} is damaged" in caplog.text and "delete it" in caplog.text
    assert Image.open(os.path.join(workdir, "samples", "progress.gif")).n_frames == 2
    os.remove(grid)  # the fix
    caplog.clear()
    status, err = cli_in_process(capsys, workdir, *QUICK, "--seed=3", "--epochs=4")
    assert status == 0, err[-3000:]
    assert "is damaged" not in caplog.text
    assert Image.open(os.path.join(workdir, "samples", "progress.gif")).n_frames == 3


@pytest.mark.parametrize("part", ["generator/saved_model.pb",
                                  "generator/variables/variables.data-00000-of-00001"])
def test_a_damaged_export_of_a_finished_run_is_exported_again(part, copy_of, capsys,
                                                             caplog):
    """A truncated part of the export (before this change: "already trained", the
    export left damaged): the same command exports it again, and it loads."""
    import tensorflow as tf

    workdir = copy_of()
    _truncate(os.path.join(workdir, part))
    status, err = cli_in_process(capsys, workdir, *QUICK, "--seed=3")
    assert status == 0, err[-3000:]
    assert "is damaged: exporting the generator again" in caplog.text
    loaded = tf.saved_model.load(os.path.join(workdir, "generator"))
    assert loaded.sample(tf.constant(2), tf.constant(0)).shape[0] == 2


def _evaluate(capsys, *args):
    status = evaluate.main(["gan_tf.evaluate", "--num_samples=10", "--num_real=10",
                            "--tsne_points=0", "--kid_subsets=2", *args])
    return status, capsys.readouterr().err


def _foreign_saved_model(path):
    """Replaces the export at `path` by a SavedModel of another program (a tf.Module
    without `serve`), keeping gan_tf's metadata file beside it."""
    import tensorflow as tf

    from gan_tf.export import EXPORT_METADATA

    metadata = open(os.path.join(path, EXPORT_METADATA)).read()
    shutil.rmtree(path)
    module = tf.Module()
    module.scale = tf.Variable(2.0)
    module.double = tf.function(lambda x: x * module.scale,
                                input_signature=[tf.TensorSpec(None, tf.float32)])
    tf.saved_model.save(module, path)
    with open(os.path.join(path, EXPORT_METADATA), "w") as f:
        f.write(metadata)


# (case, file of the workdir, damage, evaluate's arguments, what the one line names)
EVALUATE_READERS = [
    ("variables truncated", "generator/variables/variables.data-00000-of-00001",
     _truncate, ["--generator={workdir}/generator"], ["{workdir}/generator/variables/"]),
    ("variables index garbage", "generator/variables/variables.index",
     _content(b"garbage"), ["--generator={workdir}/generator"],
     ["{workdir}/generator/variables/"]),
    ("saved_model.pb garbage", "generator/saved_model.pb", _content(b"\x08garbage\xff"),
     ["--generator={workdir}/generator"], ["{path}", "export it again"]),
    ("saved_model.pb truncated", "generator/saved_model.pb", _truncate,
     ["--generator={workdir}/generator"], ["{path}", "export it again"]),
    ("export metadata not JSON", "generator/gan_tf_export.json", _content(b"{"),
     ["--generator={workdir}/generator"], ["{path}", "export the generator again"]),
    ("export metadata of wrong types", "generator/gan_tf_export.json",
     _content(b'{"latent_dim": "many"}'), ["--workdir={workdir}"],
     ["{path}", "latent_dim must be"]),
    ("export metadata missing", "generator/gan_tf_export.json", os.remove,
     ["--generator={workdir}/generator"], ["is not an exported generator"]),
    ("config.json damaged", "config.json", _content(b"{"), ["--workdir={workdir}"],
     ["{path}", "--dataset"]),
    ("--kid_subsets=0", "notes.txt", _content(b"mine"),
     ["--workdir={workdir}", "--kid_subsets=0"], ["--kid_subsets must be >= 1"]),
    ("--seed=-1", "notes.txt", _content(b"mine"),
     ["--workdir={workdir}", "--seed=-1"], ["--seed must be >= 0"]),
    ("--tsne_points=-1", "notes.txt", _content(b"mine"),
     ["--workdir={workdir}", "--tsne_points=-1"], ["--tsne_points must be >= 0"]),
    ("a foreign SavedModel", "generator", _foreign_saved_model,
     ["--generator={workdir}/generator"], ["{path}", "serve function", "export_generator"]),
    ("--output is a file", "notes.txt", _content(b"mine"),
     ["--workdir={workdir}", "--output={path}"], ["{path}", "is a file"]),
    ("--output below a file", "notes.txt", _content(b"mine"),
     ["--workdir={workdir}", "--output={path}/eval"], ["{path}", "is a file"]),
]


@pytest.mark.parametrize("case, name, damage, args, says", EVALUATE_READERS,
                         ids=[c[0] for c in EVALUATE_READERS])
def test_evaluate_explains_a_damaged_input_before_any_work(case, name, damage, args, says,
                                                           copy_of, capsys):
    workdir = copy_of()
    path = os.path.join(workdir, name)
    damage(path)
    before = snapshot(workdir)
    status, err = _evaluate(capsys, *(a.format(workdir=workdir, path=path) for a in args))
    assert status == 2
    one_line_error(err, *(n.format(workdir=workdir, path=path) for n in says))
    assert snapshot(workdir) == before  # no metrics.json, no report.md


def test_evaluate_inception_weights_of_another_model(copy_of, tmp_path, capsys, recwarn):
    """One short line naming the file and the fix (not Keras' tens of KB, nor a warning
    per layer), before any work; the other extractor it suggests then just works."""
    from gan_tf.metrics import features

    weights = os.path.join(os.path.dirname(os.path.dirname(features.__file__)), "assets",
                           "classifier_mnist.weights.h5")
    workdir, output = copy_of(), str(tmp_path / "eval")
    status, err = _evaluate(capsys, f"--workdir={workdir}", f"--output={output}",
                            "--extractor=inception", f"--inception_weights={weights}")
    assert status == 2
    assert len(one_line_error(err, weights, "does not hold InceptionV3 weights",
                              "--extractor=classifier")) < 1000
    assert len(err) < 5000, err[:5000]
    assert not [w for w in recwarn if "Skipping" in str(w.message)], len(recwarn)
    assert not os.path.exists(output)
    status, err = _evaluate(capsys, f"--workdir={workdir}", f"--output={output}",
                            "--extractor=classifier")
    assert status == 0, err[-3000:]


def test_evaluate_needs_no_lock(copy_of, tmp_path, capsys):
    """Evaluation reads a workdir while a run holds it (and writes only its --output)."""
    workdir = copy_of()
    with workdir_lib.Workdir(workdir).lock():
        status, err = _evaluate(capsys, f"--workdir={workdir}",
                                f"--output={tmp_path / 'eval'}")
    assert status == 0, err[-3000:]
    assert os.path.exists(tmp_path / "eval" / "metrics.json")


def _idx_header(length):
    """The first `length` bytes of an IDX header of 20 images of 28x28 (rank 3)."""
    return (b"\0\0\x08\x03" + np.asarray([20, 28, 28], ">u4").tobytes())[:length]


@pytest.mark.parametrize("length", range(0, 17))
def test_idx_header_of_any_length(length, tmp_path):
    from gan_tf import data

    path = str(tmp_path / "train-images-idx3-ubyte")
    with open(path, "wb") as f:
        f.write(_idx_header(length))
    with pytest.raises(data.DataFileError) as info:
        data.read_idx(path)
    assert path in str(info.value) and "download it again" in str(info.value)
    assert len(str(info.value).splitlines()) == 1


def _idx_folder(root, header_length=None):
    import gzip

    os.makedirs(root, exist_ok=True)
    rng = np.random.default_rng(0)
    for prefix, num in (("train", 20), ("t10k", 8)):
        images = rng.integers(0, 256, (num, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, num, dtype=np.uint8)
        for kind, array in (("images-idx3", images), ("labels-idx1", labels)):
            raw = (b"\0\0\x08" + bytes([array.ndim]) + np.asarray(array.shape, ">u4")
                   .tobytes() + array.tobytes())
            if header_length is not None and prefix == "train" and kind == "images-idx3":
                raw = raw[:header_length]
            with gzip.open(os.path.join(root, f"{prefix}-{kind}-ubyte.gz"), "wb") as f:
                f.write(raw)
    return str(root)


def _prepared_digits(root):
    from gan_tf import data

    shutil.copytree(os.path.dirname(data.builder("mnist_sample").data_dir),
                    os.path.join(root, "mnist_sample"))
    return str(root)


def _damage_prepared(name, damage):
    def make(root):
        data_dir = _prepared_digits(root)
        target = os.path.join(data_dir, "mnist_sample", "1.0.0")
        if name == "shard":
            target = os.path.join(target, sorted(f for f in os.listdir(target)
                                                 if "train.tfrecord" in f)[0])
        else:
            target = os.path.join(target, name)
        damage(target)
        return ["--dataset=mnist_sample", f"--data_dir={data_dir}"], target
    return make


def _broken_idx(length):
    def make(root):
        folder = _idx_folder(os.path.join(root, "idx"), length)
        return (["--dataset=mnist", f"--manual_dir={folder}",
                 f"--data_dir={os.path.join(root, 'tfds')}"],
                os.path.join(folder, "train-images-idx3-ubyte.gz"))
    return make


# (case, makes the data (root) -> (arguments, the damaged file), what the line says)
DATA_READERS = [
    ("IDX file of 0 bytes", _broken_idx(0), ["not an IDX file"]),
    ("IDX header cut in its magic", _broken_idx(3), ["not an IDX file"]),
    ("IDX header cut in its sizes", _broken_idx(9), ["16-byte header"]),
    ("IDX data cut", _broken_idx(100), ["truncated or corrupt"]),
    ("prepared dataset_info.json garbage",
     _damage_prepared("dataset_info.json", _content(b"{garbage")), ["not valid JSON",
                                                                     "delete"]),
    ("prepared shard truncated", _damage_prepared("shard", _truncate),
     ["truncated or corrupt", "delete"]),
]


def _flip_bytes(path):
    """Eight bytes in the middle of `path` inverted; its size unchanged."""
    with open(path, "r+b") as f:
        f.seek(os.path.getsize(path) // 2)
        middle = f.read(8)
        f.seek(-len(middle), os.SEEK_CUR)
        f.write(bytes(b ^ 0xFF for b in middle))


def test_a_prepared_tfrecord_with_flipped_bytes(tmp_path, capsys):
    """Bytes changed in place (the size is right) fail the records' CRCs: named before
    any write, with the fix, which then just works."""
    args, damaged = _damage_prepared("shard", _flip_bytes)(str(tmp_path / "data"))
    workdir = str(tmp_path / "run")
    status, err = cli_in_process(capsys, workdir, *QUICK, *args)
    assert status == 2
    line = one_line_error(err, damaged, "corrupt", "corrupted record at")
    assert not os.path.exists(workdir)
    shutil.rmtree(re.search(r"; delete (\S+);", line).group(1))  # as the line says
    status, err = cli_in_process(capsys, workdir, *QUICK, *args)
    assert status == 0, err[-3000:]


def _jpeg_folder(root, num, damaged=()):
    """`num` JPEGs; those numbered in `damaged` with a bad length in their scan header
    (complete at both ends: the scan's cheap check passes, decoding fails)."""
    os.makedirs(root, exist_ok=True)
    for i in range(num):
        buffer = io.BytesIO()
        Image.fromarray(np.random.default_rng(i).integers(0, 256, (28, 28), np.uint8)
                        ).save(buffer, "JPEG")
        encoded = buffer.getvalue()
        if i in damaged:
            scan = encoded.index(b"\xff\xda")
            encoded = encoded[:scan + 4] + b"\x09" + encoded[scan + 5:]
        with open(os.path.join(root, f"img{i:03d}.jpg"), "wb") as f:
            f.write(encoded)
    return str(root)


def test_a_jpeg_damaged_in_its_middle(tmp_path, capsys):
    """Found only when decoded in training: one line naming the file and
    --on_bad_image=skip, which goes on in the same workdir (a flag that only changes
    how data is read may change on resume)."""
    images = _jpeg_folder(tmp_path / "images", 40, damaged=(7,))
    workdir = str(tmp_path / "run")
    args = [*QUICK, f"--dataset=folder:{images}", "--batch_size=8"]
    status, err = cli_in_process(capsys, workdir, *args)
    assert status == 2
    one_line_error(err, "img007.jpg", "--on_bad_image=skip")
    status, err = cli_in_process(capsys, workdir, *args, "--on_bad_image=skip")
    assert status == 0, err[-3000:]
    assert json.load(open(os.path.join(workdir, "history.json")))["epoch"] == [1, 2]


def test_a_dataset_prepared_from_another_manual_dir(tmp_path, capsys):
    """A copy prepared from --manual_dir=A is not used for --manual_dir=B, nor after
    A's files changed: one line naming the difference and the fixes, which work."""
    from gan_tf.data import prepared

    folder_a = _idx_folder(str(tmp_path / "a"))
    folder_b = str(tmp_path / "b")
    shutil.copytree(folder_a, folder_b)
    with gzip.open(os.path.join(folder_b, "train-labels-idx1-ubyte.gz"), "rb") as f:
        labels = bytearray(f.read())
    labels[-1] = (labels[-1] + 1) % 10  # other data of the same size
    with gzip.open(os.path.join(folder_b, "train-labels-idx1-ubyte.gz"), "wb") as f:
        f.write(bytes(labels))
    data_dir = str(tmp_path / "tfds")
    args = [*QUICK, "--dataset=mnist", "--batch_size=4", f"--data_dir={data_dir}"]
    assert cli_in_process(capsys, str(tmp_path / "run_a"), *args,
                          f"--manual_dir={folder_a}")[0] == 0
    copy = os.path.join(data_dir, "mnist_idx", "mnist", "1.0.0")
    assert json.load(open(os.path.join(copy, prepared.SOURCE_FILE)))["manual_dir"] == \
        folder_a
    for changed in ("another folder", "changed files"):
        manual = folder_b
        if changed == "changed files":
            manual = folder_a
            os.utime(os.path.join(folder_a, "t10k-images-idx3-ubyte.gz"),
                     ns=(0, 10**18))
        workdir = str(tmp_path / "run_b")
        status, err = cli_in_process(capsys, workdir, *args, f"--manual_dir={manual}")
        assert status == 2
        line = one_line_error(err, copy, manual, "--data_dir")
        assert ("not " + manual if changed == "another folder" else "changed") in line
        assert not os.path.exists(workdir)
    # The fixes: another --data_dir keeps both; deleting the copy prepares it again.
    status, err = cli_in_process(capsys, str(tmp_path / "run_b"), *args[:-1],
                                 f"--data_dir={tmp_path / 'tfds_b'}",
                                 f"--manual_dir={folder_b}")
    assert status == 0, err[-3000:]
    shutil.rmtree(copy)
    status, err = cli_in_process(capsys, str(tmp_path / "run_a2"), *args,
                                 f"--manual_dir={folder_a}")
    assert status == 0, err[-3000:]


@pytest.mark.parametrize("case, make, says", DATA_READERS, ids=[c[0] for c in DATA_READERS])
def test_a_damaged_data_file_is_named_before_any_write(case, make, says, tmp_path, capsys):
    args, damaged = make(str(tmp_path / "data"))
    workdir = str(tmp_path / "run")
    status, err = cli_in_process(capsys, workdir, *QUICK, *args)
    assert status == 2
    one_line_error(err, damaged, *says)
    assert not os.path.exists(workdir)


# -- Full disks -----------------------------------------------------------------------------

# (case, fault point (GAN_TF_FAULT, the action enospc), the file the line names or None)
FULL_DISK = [
    pytest.param("first checkpoint's weights", "write@ckpt-0001.weights:enospc",
                 "ckpt-0001.weights.h5", id="first checkpoint's weights"),
    _slow("second checkpoint's state", "write@ckpt-0002.state:enospc", "ckpt-0002.state.json"),
    _slow("checkpoint index", "write@checkpoint.json:enospc:2", "checkpoint.json"),
    _slow("history after a save", "write@history.json:enospc:2", "history.json"),
    _slow("a sample grid", "write@epoch_0002.png:enospc", "epoch_0002.png"),
    _slow("the loss curves", "write@losses.png:enospc", "losses.png"),
    _slow("the training GIF", "write@progress.gif:enospc", "progress.gif"),
    _slow("config.json at the start", "write@config.json:enospc", "config.json"),
    _slow("the marker at the start", "write@.gan_tf:enospc", ".gan_tf"),
    _slow("the export", "export:enospc", None),
]


@pytest.mark.parametrize("case, fault, names", FULL_DISK)
def test_full_disk_injected(case, fault, names, tmp_path, capsys, monkeypatch):
    """One line, the checkpoints intact, nothing partial left; the same command resumes
    once space is freed."""
    workdir = str(tmp_path / "run")
    status, err = cli_in_process(capsys, workdir, *QUICK, fault=fault,
                                 monkeypatch=monkeypatch)
    assert status == 2
    line = one_line_error(err, "No space left on device", names or workdir)
    assert "is intact" in line or "no checkpoint was saved yet" in line
    assert temporaries(workdir) == []
    if os.path.isdir(os.path.join(workdir, "checkpoints")):
        manager = checkpoint.CheckpointManager(os.path.join(workdir, "checkpoints"))
        for name in manager.names():
            import h5py

            h5py.File(manager.path(name), "r").close()
    assert not os.path.exists(os.path.join(workdir, "generator"))  # never a broken one
    status, err = cli_in_process(capsys, workdir, *QUICK)
    assert status == 0, err[-3000:]
    assert json.load(open(os.path.join(workdir, "history.json")))["epoch"] == [1, 2]
    json.load(open(os.path.join(workdir, "generator", "gan_tf_export.json")))
    assert temporaries(workdir) == []


@pytest.fixture
def tmpfs(tmp_path):
    """A real 20 MiB tmpfs (root, where mount is permitted); (path, resize(mib))."""
    path = str(tmp_path / "tmpfs")
    os.makedirs(path)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=20m", "tmpfs", path],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip()[:200]}); "
                    "test_full_disk_injected covers the same paths")
    try:
        yield path, lambda mib: subprocess.run(
            ["mount", "-o", f"remount,size={mib}m", path], check=True)
    finally:
        subprocess.run(["umount", "-l", path], capture_output=True)


@pytest.mark.slow
def test_full_disk_real(tmpfs, reference, tmp_path):
    """A checkpoint (11.6 MB) does not fit twice in 20 MiB: one line, exit 2 (not a
    segfault), the previous checkpoint intact; after space is freed the same command
    resumes and ends bit-identical. Then a full disk during the export of a finished
    run: no generator/, nothing partial; after space is freed, it is exported."""
    mount, resize = tmpfs
    workdir = os.path.join(mount, "run")
    status, err = Run(workdir).wait()
    assert status == 2, err[-3000:]
    one_line_error(err, "No space left on device", "is intact")
    assert latest_step(workdir) >= 2 and temporaries(workdir) == []
    resize(100)
    status, err = Run(workdir).wait()
    assert status == 0, err[-3000:]
    assert_same_run(reference, workdir)
    shutil.rmtree(os.path.join(workdir, "generator"))
    free = os.statvfs(mount).f_bavail * os.statvfs(mount).f_frsize
    with open(os.path.join(mount, "filler"), "wb") as f:
        f.write(b"\0" * (free - 1_000_000))  # 1 MB left: the export needs 7.5
    status, err = Run(workdir).wait()
    assert status == 2, err[-3000:]
    one_line_error(err, "No space left on device")
    assert not os.path.exists(os.path.join(workdir, "generator"))
    assert temporaries(workdir) == []
    os.remove(os.path.join(mount, "filler"))
    status, err = Run(workdir).wait()
    assert status == 0, err[-3000:]
    json.load(open(os.path.join(workdir, "generator", "gan_tf_export.json")))


# -- Divergence beyond NaN -------------------------------------------------------------------

# (case, arguments, exit status, what the log says)
EXPLOSIONS = [
    ("warns by default", [], 3, ["training is exploding at step 2 (epoch 1)"]),
    ("stops", ["--on_explosion=stop"], 3,
     ["training diverged at step 2 (epoch 1)", "beyond the limit"]),
    _slow("rolls back", ["--on_explosion=rollback", "--checkpoint_every_steps=1"], 3,
          ["rolled back to", "rollback 3 of 3"]),
]


@pytest.mark.parametrize("case, args, status, says", EXPLOSIONS, ids=_ids(EXPLOSIONS))
def test_exploding_losses_are_reported_with_the_step(case, args, status, says, tmp_path,
                                                     capsys, caplog):
    """--g_lr=1e6 --d_lr=1e6: losses near 1e22 that are not NaN, caught as an explosion
    (not trained on). The DCGAN pair at seed 3 explodes for a step before it turns NaN."""
    workdir = str(tmp_path / "run")
    found, err = cli_in_process(capsys, workdir, *QUICK, "--model=dcgan", "--seed=3",
                                "--g_lr=1e6", "--d_lr=1e6", *args)
    assert found == status
    one_line_error(err, "training diverged")
    for text in says:
        assert text in caplog.text + err, text


def test_the_advice_after_a_divergence_before_any_checkpoint_works(tmp_path, capsys):
    """Diverged before the first checkpoint, a rollback has nothing to go back to: the
    line says to lower the rates and pass --restart (before this
    change, it advised --on_divergence=rollback, which the next run refused), and that command works."""
    workdir = str(tmp_path / "run")
    status, err = cli_in_process(capsys, workdir, *QUICK, "--model=dcgan", "--seed=3",
                                 "--g_lr=1e6", "--d_lr=1e6")
    assert status == 3
    line = one_line_error(err, "before the first checkpoint",
                          "lower --g_lr/--d_lr and pass --restart")
    assert "rollback" not in line
    status, err = cli_in_process(capsys, workdir, *QUICK, "--model=dcgan", "--seed=3",
                                 "--g_lr=1e-4", "--d_lr=1e-4", "--restart")
    assert status == 0, err[-3000:]


@pytest.mark.parametrize("advice", [["--on_divergence=rollback"],
                                    ["--g_lr=1e-4", "--d_lr=1e-4", "--restart"]],
                         ids=["roll back", "lower rates"])
def test_the_advice_after_a_divergence_works(advice, tmp_path, capsys, monkeypatch,
                                             caplog):
    """A NaN at step 4, after ckpt-0001: the line names the last good checkpoint and
    two commands (--on_divergence=rollback resumes from it; lower rates need
    --restart, as the config differs); each works."""
    from gan_tf import trainer

    workdir = str(tmp_path / "run")
    original = trainer.train_and_evaluate
    with monkeypatch.context() as patch:
        patch.setattr(trainer, "train_and_evaluate", lambda *a, **k: original(
            *a, **k, extra_callbacks=[PoisonOnce(4)]))
        status, err = cli_in_process(capsys, workdir, *QUICK)
    assert status == 3
    one_line_error(err, "the last good checkpoint is", "ckpt-0001",
                   "Pass --on_divergence=rollback to resume from it",
                   "lower --g_lr/--d_lr and pass --restart")
    status, err = cli_in_process(capsys, workdir, *QUICK, *advice)
    assert status == 0, err[-3000:]
    if advice[-1] != "--restart":
        assert "at epoch 2, step 3" in caplog.text
    assert json.load(open(os.path.join(workdir, "history.json")))["epoch"] == [1, 2]


# -- Signals at random moments and in saves (slow) --------------------------------------------

# Where a fault point sends the signal: each phase of a save, the writes of a run's
# files, a training step, the export (gan_tf/_faults.py).
# Points a run passes again and again (config.json's write and the export, passed once,
# are trials of their own: first and last).
SIGNAL_POINTS = ["checkpoint@weights", "checkpoint@state", "checkpoint@index",
                 "write@.weights.h5", "write@history.json", "write@epoch_",
                 "write@losses.png", "step"]
IN_SAVES = ("checkpoint@", "write@.weights", "write@history", "write@losses", "save",
            "double")


def signal_trials(seed=20, count=24):
    """Seeded trials: (description, signal name, (kind, detail)). Kinds: "fault" (a
    named point), "time" (seconds after the run took the workdir's lock: set-up is
    over; the first trial counts from the start instead), "save" (the moment a save's
    temporary file appears), "double" (two signals 50 ms apart in a save)."""
    rng = random.Random(seed)
    trials = [("while TensorFlow imports", "SIGINT", ("import", 1.0)),
              ("fault write@config.json:sigterm:1", "SIGTERM",
               ("fault", "write@config.json:sigterm:1"))]
    for i in range(count - 3):
        name = rng.choice(["SIGINT", "SIGTERM"])
        kind = ("fault", "save", "time", "fault", "double")[i % 5]
        if kind == "fault":
            detail = f"{rng.choice(SIGNAL_POINTS)}:{name.lower()}:{rng.randint(1, 2)}"
        else:
            detail = round(rng.uniform(0, 2), 2) if kind == "time" else None
        trials.append((f"{kind} {detail or ''}".strip(), name, (kind, detail)))
    return trials + [("fault export:sigint:1", "SIGINT", ("fault", "export:sigint:1"))]


def _signal_trial(workdir, name, kind, detail, tmpdir):
    signum = getattr(signal, name)
    run = Run(workdir, *LONG, fault=detail if kind == "fault" else None, tmpdir=tmpdir)
    if kind == "import":
        time.sleep(detail)
        run.signal(signum)
    elif kind == "time" and wait_for(lambda: os.path.exists(
            os.path.join(workdir, workdir_lib.LOCK)), run):
        time.sleep(detail)
        run.signal(signum)
    elif kind in ("save", "double") and wait_for(saving(workdir), run):
        run.signal(signum)
        if kind == "double":
            time.sleep(0.05)
            run.signal(signum)
    return run.wait()


@pytest.mark.slow
def test_signals_at_random_moments_and_in_saves(long_reference, tmp_path):
    """24 seeded SIGINT/SIGTERM trials on one run, each resumed by the next: each ends
    in exit 130/143 with one line and the resume hint (the step it names is the
    newest checkpoint) or completes; the run then ends bit-identical to an
    uninterrupted one, with nothing left in $TMPDIR or the workdir."""
    workdir, tmpdir = str(tmp_path / "run"), tmp_path / "tmp"
    tmpdir.mkdir()
    interrupted, in_saves, outcomes = 0, 0, []
    for description, name, (kind, detail) in signal_trials():
        status, err = _signal_trial(workdir, name, kind, detail, tmpdir)
        outcomes.append((description, name, status))
        assert status in (0, EXIT[name]), (description, err[-3000:])
        assert "Traceback" not in err, (description, err[-3000:])
        if status == 0:
            continue
        line = interrupted_line(err, name)
        interrupted += 1
        in_saves += any(part in description for part in IN_SAVES)
        if " is saved in " in line:
            path = line.split(" is saved in ")[1].split(";")[0]
            assert os.path.exists(path) and f"step {latest_step(workdir)} " in line, line
    status, err = Run(workdir, *LONG, tmpdir=tmpdir).wait()
    assert status == 0, err[-3000:]
    assert_same_run(long_reference, workdir)
    assert interrupted >= 14 and in_saves >= 8, outcomes
    assert os.listdir(tmpdir) == [] and temporaries(workdir) == []


def test_a_signal_in_a_del_is_not_swallowed(capsys, monkeypatch):
    """Python runs a signal handler wherever the main thread is, also in an object's
    __del__, where the raised exception is dropped ("Exception ignored in ...").
    The monitor sends the signal again, raised once the __del__ is over, silently."""
    from gan_tf import interrupt

    monkeypatch.setenv("GAN_TF_FAULT", "test:sigterm_gc")
    monkeypatch.setattr(_faults, "_seen", {})
    with interrupt.monitoring() as monitor:
        with pytest.raises(interrupt.Interrupted) as raised:
            _faults.point("test")  # sends SIGTERM from an object's __del__
            for _ in range(5000):  # the signal sent again is raised in this loop
                time.sleep(0.001)
        assert monitor.received >= 2 and raised.value.exit_code == 143
    assert "Exception ignored" not in capsys.readouterr().err


@pytest.mark.parametrize("instant", ["done"])
def test_a_signal_as_the_export_is_freed_ends_as_interrupted(instant, copy_of, capsys,
                                                            monkeypatch):
    """SIGINT the moment generator/ is in place, handled while the export's functions
    are freed (before this change: "Exception ignored in: AtomicFunction.__del__ ...
    Interrupted", then "done", exit 0): exit 130 and the interrupted line; the same
    command then finds the run done and its export whole."""
    workdir = copy_of()
    _stale_export(workdir)
    status, err = cli_in_process(capsys, workdir, *QUICK, "--seed=3",
                                 fault=f"export@{instant}:sigint_gc",
                                 monkeypatch=monkeypatch)
    assert status == 130, err[-3000:]
    line = interrupted_line(err, "SIGINT")
    assert "Exception ignored" not in err and "step 6 (epoch 2) is saved" in line
    status, err = cli_in_process(capsys, workdir, *QUICK, "--seed=3")
    assert status == 0, err[-3000:]
    exported = json.load(open(os.path.join(workdir, "generator", "gan_tf_export.json")))
    assert exported["train_steps"] == 6 and temporaries(workdir) == []


def test_the_resume_hint_after_resume_from_continues_that_branch(copy_of, capsys,
                                                                monkeypatch, caplog):
    """Interrupted after --resume_from=ckpt-0001, the hint names the command without
    it (the same command would go back to ckpt-0001 again); that command continues
    the branch. Going back to ckpt-0001 again later keeps the earlier branch's
    abandoned checkpoints (before this change, it overwrote them)."""
    workdir = copy_of()
    abandoned = os.path.join(workdir, "checkpoints", "abandoned")
    args = [*QUICK, "--seed=3", "--epochs=3", "--keep_checkpoints=9",
            "--resume_from=ckpt-0001"]
    status, err = cli_in_process(capsys, workdir, *args, fault="step:sigint:2",
                                 monkeypatch=monkeypatch)
    assert status == 130, err[-3000:]
    assert "run the command without --resume_from=ckpt-0001 again to resume" in err
    assert "step 5 (epoch 2) is saved" in err
    first_branch = snapshot(abandoned)
    assert sorted(first_branch) == ["ckpt-0002.state.json", "ckpt-0002.weights.h5"]
    hinted = [a for a in args if not a.startswith("--resume_from")]
    status, err = cli_in_process(capsys, workdir, *hinted)
    assert status == 0, err[-3000:]
    assert "resuming" in caplog.text and "at epoch 2, step 5" in caplog.text
    assert latest_step(workdir) == 9 and snapshot(abandoned) == first_branch
    second_branch = checkpoint.CheckpointManager(os.path.join(workdir, "checkpoints")
                                                 ).names()[1:]
    status, err = cli_in_process(capsys, workdir, *args, fault="step:sigint:1",
                                 monkeypatch=monkeypatch)
    assert status == 130, err[-3000:]
    assert {k: v for k, v in snapshot(abandoned).items() if "/" not in k} == first_branch
    assert checkpoint.CheckpointManager(os.path.join(abandoned, "2")).names() == \
        second_branch == ["ckpt-0002-000000005", "ckpt-0002", "ckpt-0003"]


@pytest.mark.slow
def test_a_signal_after_the_run_ended_changes_nothing(copy_of):
    """A signal during Python's teardown (the run said it is done): exit 0, not a
    death by the signal (Python resets its handlers to the defaults there)."""
    workdir = copy_of()
    run = Run(workdir, base=[*QUICK, "--seed=3"])  # the finished run's command
    assert wait_for(lambda: "already trained" in open(run.err_path).read(), run)
    time.sleep(0.1)
    run.signal(signal.SIGINT)
    status, err = run.wait()
    assert status == 0, err[-3000:]


# -- kill -9 at each phase (slow) ---------------------------------------------------------------

# (phase, GAN_TF_FAULT (action kill) or ("time", seconds), whether a temporary file
# of an atomic write is left for the next start to clean)
KILL_PHASES = [
    ("writing config.json at the start", "write@config.json:kill", True),
    ("after a training step", "step:kill:3", False),
    ("a save: weights written, no state yet", "checkpoint@weights:kill", False),
    ("a save: state written, index not", "checkpoint@state:kill", False),
    ("a save: index written, history.json not", "checkpoint@index:kill", False),
    ("at a random moment", ("time", 7.0), False),
    ("inside the atomic write of a checkpoint's weights", "write@.weights.h5:kill", True),
    ("inside the write of history.json after a save", "write@history.json:kill:2", True),
    ("inside the write of an epoch's sample grid", "write@epoch_:kill", True),
    ("at a random moment", ("time", 13.0), False),
    ("inside the write of the loss curves", "write@losses.png:kill", True),
    ("at a random moment", ("time", 17.5), False),
    ("the export, written but not renamed into place", "export:kill", True),
]


@pytest.mark.slow
def test_kill_at_each_phase_of_a_step_and_a_save(reference, tmp_path):
    """After each kill the same command resumes from the newest complete checkpoint
    (and cleans what the killed writer left); the run ends bit-identical."""
    workdir, tmpdir = str(tmp_path / "run"), tmp_path / "tmp"
    tmpdir.mkdir()
    killed, saved = 0, None
    for phase, fault, leaves_temporary in KILL_PHASES:
        timed = isinstance(fault, tuple)
        run = Run(workdir, fault=None if timed else fault, tmpdir=tmpdir)
        if timed:
            time.sleep(fault[1])
            run.signal(signal.SIGKILL)
        status, err = run.wait()
        assert "Traceback" not in err and not error_lines(err), (phase, err[-3000:])
        if saved and "resuming" in err:  # the newest complete checkpoint, repaired
            assert f"at epoch {saved // 6 + 1}, step {saved}" in err, (phase, saved, err)
        if status == 0:
            assert timed or phase.startswith("the export"), (phase, err[-3000:])
            saved = None
            continue
        assert status == -signal.SIGKILL, (phase, err[-3000:])
        killed += 1
        if leaves_temporary:
            assert temporaries(workdir), phase
        saved = latest_step(workdir)
    status, err = Run(workdir, tmpdir=tmpdir).wait()
    assert status == 0, err[-3000:]
    assert killed >= 11
    assert_same_run(reference, workdir)
    json.load(open(os.path.join(workdir, "generator", "gan_tf_export.json")))
    assert temporaries(workdir) == [] and os.listdir(tmpdir) == []


@pytest.mark.slow
@pytest.mark.parametrize("what, appeared", ids=["history.json", "the first checkpoint"], argvalues=[
    ("history.json", lambda w: os.path.exists(os.path.join(w, "history.json"))),
    ("the first checkpoint", lambda w: os.path.isdir(os.path.join(w, "checkpoints")) and
     any(n.startswith(("ckpt-", ".tmp-ckpt")) for n in os.listdir(os.path.join(
         w, "checkpoints")))),
])
def test_kill_the_moment_a_file_appears(what, appeared, reference, tmp_path):
    """The run resumes its own state after this (not "history.json records 1 epochs
    but ... no checkpoint")."""
    workdir = str(tmp_path / "run")
    run = Run(workdir)
    assert wait_for(lambda: appeared(workdir), run, poll=0.001)
    run.signal(signal.SIGKILL)
    assert run.wait()[0] == -signal.SIGKILL
    status, err = Run(workdir).wait()
    assert status == 0, err[-3000:]
    assert_same_run(reference, workdir)


# -- Nothing left behind (slow) ------------------------------------------------------------------

# (case, arguments, GAN_TF_FAULT, exit status)
TMPDIR_RUNS = [
    ("a run on the bundled digits", [], None, 0),
    ("a run on an image folder", ["--dataset=folder:{flat}"], None, 0),
    ("an interrupted run", [], "step:sigterm:2", 143),
    ("a run refused during set-up", ["--dataset=folder:{cut}"], None, 2),
]


@pytest.mark.slow
@pytest.mark.parametrize("case, args, fault, status", TMPDIR_RUNS, ids=_ids(TMPDIR_RUNS))
def test_nothing_is_left_in_tmpdir(case, args, fault, status, folders, tmp_path):
    """$TMPDIR of its own: empty after a run however it ended (tfds' tmp*tfds
    folders, the builders' folders, the weights' scratch files)."""
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    found, err = Run(str(tmp_path / "run"), *(a.format(**folders) for a in args),
                     fault=fault, tmpdir=tmpdir, base=QUICK).wait()
    assert found == status, err[-3000:]
    assert os.listdir(tmpdir) == []


@pytest.mark.slow
def test_evaluate_leaves_nothing_in_tmpdir_also_when_killed(copy_of, tmp_path):
    """TensorFlow's autograph files of `python -m gan_tf.evaluate` go to a folder of
    its own: deleted when it ends, and after a kill -9 by the next run."""
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = {**os.environ, "TMPDIR": str(tmpdir), "TF_CPP_MIN_LOG_LEVEL": "2"}
    command = [sys.executable, "-m", "gan_tf.evaluate", f"--workdir={copy_of()}",
               "--num_samples=200", "--num_real=200", "--kid_subsets=2",
               f"--output={tmp_path / 'eval'}"]

    def autograph_files():
        return [name for root, _, files in os.walk(tmpdir) for name in files
                if name.startswith("__autograph_generated_file")]

    killed = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    assert wait_for(autograph_files, types.SimpleNamespace(process=killed), timeout=600)
    killed.kill()
    killed.wait()
    assert autograph_files()  # what the kill left
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert os.listdir(tmpdir) == []


def test_what_a_killed_process_left_in_tmpdir_is_removed_by_the_next(tmp_path):
    """The folders named with a pid (tfds builders' temp folders, test sessions' data
    dirs) of a process that is gone are deleted; a live one's, and a recent folder
    without a pid, are left alone."""
    import conftest
    from gan_tf.data import prepared

    dead, root = _dead_pid(), str(tmp_path)
    names = {f"gan_tf_builder-{dead}_ab": False, f"gan_tf_builder-{os.getpid()}_cd": True,
             f"gan_tf_tfds-{dead}_ef": False, f"gan_tf_tfds-{os.getpid()}_gh": True,
             "gan_tf_tfds_oldxyz": False, "gan_tf_tfds_4_newxyz": True, "other": True}
    for name in names:
        os.makedirs(os.path.join(root, name, "mnist_sample"))
    day_ago = time.time() - 86400
    for path in (os.path.join(root, "gan_tf_tfds_oldxyz"),
                 os.path.join(root, "gan_tf_tfds_oldxyz", "mnist_sample")):
        os.utime(path, (day_ago, day_ago))
    prepared.remove_orphans("gan_tf_builder-", root)
    conftest._remove_old_data_dirs(root)
    assert sorted(os.listdir(root)) == sorted(n for n, kept in names.items() if kept)


@pytest.mark.slow
def test_a_test_session_leaves_no_data_dir(tmp_path):
    """The tests' tfds data dir is the session's: gone when it ends, and a killed
    session's is removed by the next one."""
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "TFDS_DATA_DIR"}
    env["TMPDIR"] = str(tmpdir)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
               os.path.join(os.path.dirname(__file__), "test_faults.py"),
               "-k", "test_idx_header_of_any_length and 16"]
    killed = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    assert wait_for(lambda: any(n.startswith("gan_tf_tfds-") for n in os.listdir(tmpdir)),
                    types.SimpleNamespace(process=killed), timeout=120)
    killed.kill()
    killed.wait()
    assert [n for n in os.listdir(tmpdir) if n.startswith("gan_tf_tfds-")]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:]
    assert [n for n in os.listdir(tmpdir) if not n.startswith("pytest-of-")] == []


# -- Trust: .keras files load with safe_mode ---------------------------------------------

def _crafted_keras_file(path, layer):
    """A .keras archive of a Sequential model whose one layer's config is `layer`."""
    import zipfile

    config = {"module": "keras", "class_name": "Sequential", "registered_name": None,
              "config": {"name": "crafted", "layers": [
                  {"module": "keras.layers", "class_name": "InputLayer",
                   "registered_name": None, "config": {"batch_shape": [None, 2],
                                                       "dtype": "float32"}},
                  layer]}}
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.10.0"}))
    return str(path)


def _lambda_layer(marker):
    """A Lambda layer whose Python code writes `marker` when it runs."""
    import keras

    layer = keras.layers.Lambda(lambda x: (open(marker, "w").close(), x)[1])
    return keras.saving.serialize_keras_object(layer)


# (case, the crafted layer's config given the marker file it would write, what the
# refusal says). Only the Lambda runs with safe_mode=False; Keras refuses the others'
# modules either way.
CRAFTED = [
    ("a Lambda layer's bytecode", _lambda_layer, "safe_mode"),
    ("os.system as a layer", lambda marker: {
        "module": "os", "class_name": "system", "registered_name": None,
        "config": {"command": f"touch {marker}"}}, "could not be deserialized"),
    ("subprocess.Popen as a layer", lambda marker: {
        "module": "subprocess", "class_name": "Popen", "registered_name": None,
        "config": {"args": ["touch", marker]}}, "could not be deserialized"),
]


@pytest.mark.parametrize("case, layer, says", CRAFTED, ids=[c[0] for c in CRAFTED])
def test_a_crafted_keras_file_is_refused_in_safe_mode(case, layer, says, tmp_path):
    """keras.models.load_model's default safe_mode refuses code in a .keras file; the
    GAN wrappers load with it (tests/test_reliability.py), so nothing of theirs needs
    it off."""
    import keras

    marker = str(tmp_path / "ran")
    path = _crafted_keras_file(tmp_path / "crafted.keras", layer(marker))
    with pytest.raises((ValueError, TypeError), match=says):
        keras.models.load_model(path).predict(np.zeros((1, 2), "float32"), verbose=0)
    assert not os.path.exists(marker)
