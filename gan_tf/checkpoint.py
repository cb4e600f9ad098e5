"""Checkpoints of a run: the run state, atomic saves, restore, and the save callback.

A checkpoint is two files in the checkpoint folder, written in this order:

    ckpt-EEEE.weights.h5              the model's full training state: both networks
                                      (and the EMA copy), both optimizers' slots and
                                      learning rates, every random generator's state
                                      and the step count (`model.save_weights`'s
                                      format: `model.load_weights` reads it)
    ckpt-EEEE.state.json              the `RunState`: epoch, step, history so far,
                                      rollbacks, training time, data fingerprint

then `checkpoint.json` (the index) names it. Mid-epoch checkpoints are named
`ckpt-EEEE-SSSSSSSSS.*` (epoch in progress, step). Each file is written atomically
(gan_tf.fileio), so after a crash at any instant every pair of files is either
complete or not there; the newest complete pair is the run's state even when the
index is older or missing, and anything newer that is incomplete is garbage
(`CheckpointManager.clean`). Nothing here raises on a state that gan_tf produced: a
missing index, an interrupted save or leftover temporary files are repaired; a file
that does not load (damaged after the fact, or from another model) is refused with a
message naming it and the way out (`--resume_from` an older one, or `--restart`).
"""

import dataclasses
import json
import re
from typing import Optional

from absl import logging
import keras
import numpy as np

from gan_tf import _faults
from gan_tf import _keras_compat
from gan_tf import fileio
from gan_tf import interrupt
from gan_tf import viz

INDEX_FILE = "checkpoint.json"
WEIGHTS_SUFFIX = ".weights.h5"
STATE_SUFFIX = ".state.json"
ABANDONED = "abandoned"
_NAME = re.compile(r"ckpt-(\d+)(?:-(\d+))?")


def _count(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# RunState field -> (check, what it must be): a state file is data from disk.
_STATE_TYPES = {
    "epoch": (_count, "an integer >= 0"),
    "step": (_count, "an integer >= 0"),
    "steps_per_epoch": (_count, "an integer >= 0"),
    "history": (lambda v: isinstance(v, dict) and all(isinstance(x, list)
                                                      for x in v.values()),
                "an object of lists"),
    "trackers": (lambda v: v is None or isinstance(v, dict) and all(
        isinstance(x, list) and all(_number(n) for n in x) for x in v.values()),
                 "null or an object of number lists"),
    "rollbacks": (_count, "an integer >= 0"),
    "train_seconds": (lambda v: _number(v) and v >= 0, "a number >= 0"),
    "budget_spent": (lambda v: isinstance(v, bool), "true or false"),
    "data": (lambda v: v is None or isinstance(v, dict), "null or an object"),
}


class CheckpointError(RuntimeError):
    """A checkpoint cannot be read or written; the message names the file and the fix."""


class WriteError(CheckpointError):
    """A file of the run cannot be written (a full disk, a read-only folder); the
    message names the file and says that the latest checkpoint is intact."""


@dataclasses.dataclass
class RunState:
    """Where a run stands; saved with every checkpoint.

    Attributes:
        epoch: epochs completed.
        step: training steps (generator updates) completed.
        steps_per_epoch: training steps per epoch of the run.
        history: {"epoch": [1, 2, ...], "d_loss": [...], ...}, one value per completed
            epoch (and a last one for the epoch a time budget ended, see `partial`).
        trackers: {metric name: [total, count]}: the running means of the epoch in
            progress, for a checkpoint inside an epoch; None at epoch ends.
        rollbacks: divergence rollbacks so far.
        train_seconds: wall-clock seconds spent training (the time budget's account).
        budget_spent: the run's time budget ended it.
        data: the data fingerprint (`gan_tf.data.fingerprint`) the run trains on.
    """

    epoch: int = 0
    step: int = 0
    steps_per_epoch: int = 0
    history: dict = dataclasses.field(default_factory=dict)
    trackers: Optional[dict] = None
    rollbacks: int = 0
    train_seconds: float = 0.0
    budget_spent: bool = False
    data: Optional[dict] = None

    @property
    def partial(self):
        """True inside an epoch (a mid-epoch checkpoint or a budget's last epoch)."""
        return bool(self.steps_per_epoch) and self.step % self.steps_per_epoch != 0

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values):
        """The state in a state file's JSON object (unknown keys are ignored).

        Raises:
            ValueError: not an object, or a field of the wrong type (a damaged file).
        """
        if not isinstance(values, dict):
            raise ValueError(f"a JSON object was expected, not {type(values).__name__}")
        known = {f.name: _STATE_TYPES[f.name] for f in dataclasses.fields(cls)}
        for key, value in values.items():
            if key in known and not known[key][0](value):
                raise ValueError(f"{key} must be {known[key][1]}, got {value!r:.60}")
        return cls(**{k: v for k, v in values.items() if k in known})

    def record_epoch(self, epoch, logs):
        """Sets the history row of `epoch` (1-based) to `logs`; later rows are dropped."""
        history = self.history
        keep = sum(1 for e in history.get("epoch", []) if e < epoch)
        for key in list(history):
            history[key] = history[key][:keep]
        history.setdefault("epoch", []).append(int(epoch))
        for key, value in (logs or {}).items():
            history.setdefault(key, [None] * keep).append(float(value))
        for values in history.values():  # metrics logged only on some epochs
            values.extend([None] * (len(history["epoch"]) - len(values)))


def checkpoint_name(epoch, step, mid_epoch):
    """ckpt-EEEE (after epoch EEEE) or ckpt-EEEE-SSSSSSSSS (step S of epoch EEEE)."""
    return f"ckpt-{epoch:04d}-{step:09d}" if mid_epoch else f"ckpt-{epoch:04d}"


def _order(name):
    match = _NAME.fullmatch(name)
    epoch, step = int(match.group(1)), match.group(2)
    return (epoch, int(step) if step is not None else float("inf"))


def weights_are_finite(model):
    """True when every weight of every network of `model` is finite."""
    for variable in model.weights:
        if not np.all(np.isfinite(np.asarray(variable.numpy(), np.float64))):
            return False
    return True


def tracker_states(model):
    """{metric name: [total, count]}: the running means of the epoch in progress."""
    return {metric.name: [float(np.asarray(v.numpy())) for v in metric.variables]
            for metric in model.metrics}


def epoch_means(model):
    """{metric name: mean} of the epoch so far, as Keras logs it at the epoch's end
    (float32 total / count)."""
    return {name: float(np.float32(total) / np.float32(count)) if count else float("nan")
            for name, (total, count) in tracker_states(model).items()}


def set_tracker_states(model, states):
    by_name = {metric.name: metric for metric in model.metrics}
    for name, values in (states or {}).items():
        metric = by_name.get(name)
        if metric is not None and len(metric.variables) == len(values):
            for variable, value in zip(metric.variables, values):
                variable.assign(value)


class CheckpointManager:
    """Saves, finds and restores the checkpoints in one folder.

    Args:
        directory: the checkpoint folder (any tf.io.gfile path).
        keep: how many checkpoints to keep (the newest; >= 1).
    """

    def __init__(self, directory, keep=3):
        self.directory = str(directory)
        self.keep = max(1, int(keep))
        self.rerun = interrupt.rerun_command()  # what resumes the run, for the messages

    def path(self, name, suffix=WEIGHTS_SUFFIX):
        return fileio.join(self.directory, name + suffix)

    def names(self):
        """Names (ckpt-...) of the complete checkpoints, oldest first."""
        files = set(fileio.listdir(self.directory))
        names = [f[:-len(WEIGHTS_SUFFIX)] for f in files if f.endswith(WEIGHTS_SUFFIX)]
        complete = [n for n in names if _NAME.fullmatch(n) and n + STATE_SUFFIX in files]
        return sorted(complete, key=_order)

    # -- Writing ------------------------------------------------------------------------

    def save(self, model, state):
        """Writes a checkpoint of `model` with `state`; returns its weights path, or
        None when the weights are not finite (nothing is written then: a diverged run
        keeps its last good checkpoint).

        Raises:
            CheckpointError: it cannot be written (a full disk, a read-only folder);
                the previous checkpoint is intact and nothing partial is left.
        """
        mid_epoch = state.partial
        name = checkpoint_name(state.epoch + (1 if mid_epoch else 0), state.step, mid_epoch)
        if not weights_are_finite(model):
            logging.warning("not saving a checkpoint at step %d: the weights are not "
                            "finite (the last good checkpoint in %s is kept)",
                            state.step, self.directory)
            return None
        state_json = json.dumps(state.to_dict(), indent=1)
        existed = fileio.exists(self.path(name, STATE_SUFFIX))  # a step saved again
        with interrupt.critical():
            try:
                model.build_optimizers()  # a checkpoint always holds the optimizers' slots
                fileio.write_atomic(self.path(name), _keras_compat.weights_to_bytes(model))
                _faults.point("checkpoint", "weights")
                fileio.write_atomic(self.path(name, STATE_SUFFIX), state_json)
                _faults.point("checkpoint", "state")
                index = json.dumps({"file": name + WEIGHTS_SUFFIX, **state.to_dict()},
                                   indent=1)
                fileio.write_atomic(fileio.join(self.directory, INDEX_FILE), index)
                _faults.point("checkpoint", "index")
            except OSError as error:
                if not existed:
                    self._discard(name)
                raise WriteError(self.write_failure(error.filename or self.path(name),
                                                    error)) from error
            self.prune(protect=name)
        return self.path(name)

    def write_failure(self, path, error):
        """The one-line message for a file of the run that could not be written (a
        full disk...): the file, why, the checkpoint a resumed run starts from."""
        try:
            found = self.latest()
        except CheckpointError:
            found = None
        kept = (f"the latest checkpoint {found[1]} is intact" if found
                else "no checkpoint was saved yet")
        what = "checkpoint " if str(path).startswith(self.directory) else ""
        return (f"cannot write {what}{path}: {fileio.reason(error)}; {kept}. Free disk "
                "space or make the workdir writable (or choose another --workdir), then "
                f"run {self.rerun} again to resume")

    def _discard(self, name):
        for suffix in (WEIGHTS_SUFFIX, STATE_SUFFIX):
            try:
                fileio.remove(self.path(name, suffix))
            except Exception:  # noqa: BLE001 - best effort on a failing disk
                pass

    def prune(self, protect=None):
        """Deletes all but the newest `keep` checkpoints (never `protect`)."""
        names = self.names()
        for stale in names[:-self.keep]:
            if stale != protect:
                self._discard(stale)

    def clean(self):
        """Deletes what interrupted saves and prunes left: temporary files, and one
        file of a pair without the other. Returns the names removed."""
        removed = fileio.remove_temporary(self.directory)
        files = set(fileio.listdir(self.directory))
        pairs = ((WEIGHTS_SUFFIX, STATE_SUFFIX), (STATE_SUFFIX, WEIGHTS_SUFFIX))
        for name in sorted(files):
            for suffix, other in pairs:
                stem = name[:-len(suffix)]
                if name.endswith(suffix) and _NAME.fullmatch(stem) and \
                        stem + other not in files:
                    fileio.remove(fileio.join(self.directory, name))
                    removed.append(name)
        return removed

    def abandon_after(self, name):
        """Moves the checkpoints newer than `name` into `abandoned/` (resuming from an
        older checkpoint starts a new branch of the run), or into `abandoned/2/`,
        `abandoned/3/`... when an earlier branch's files there have their names;
        returns (their names, the folder)."""
        names = self.names()
        newer = names[names.index(name) + 1:]
        target, branch = fileio.join(self.directory, ABANDONED), 1
        while any(fileio.exists(fileio.join(target, stale + suffix)) for stale in newer
                  for suffix in (WEIGHTS_SUFFIX, STATE_SUFFIX)):
            branch += 1
            target = fileio.join(self.directory, ABANDONED, str(branch))
        for stale in newer:
            fileio.makedirs(target)
            for suffix in (WEIGHTS_SUFFIX, STATE_SUFFIX):
                fileio.rename(self.path(stale, suffix), fileio.join(target, stale + suffix))
        return newer, target

    # -- Reading ------------------------------------------------------------------------

    def latest(self, name=None):
        """(RunState, weights path) of the newest complete checkpoint (or of `name`),
        or None when there is none.

        Raises:
            CheckpointError: `name` is not a complete checkpoint, or a state file is
                unreadable.
        """
        names = self.names()
        if name is not None:
            name = name_of(name)
            if name not in names:
                raise CheckpointError(
                    f"no checkpoint {name!r} in {self.directory}; the complete ones are: "
                    f"{', '.join(names) or 'none'}")
        elif names:
            name = names[-1]
        else:
            return None
        path = self.path(name, STATE_SUFFIX)
        try:
            state = RunState.from_dict(json.loads(fileio.read_text(path)))
        except (ValueError, TypeError) as error:  # JSON, UTF-8 or a field's type
            raise CheckpointError(self._damaged(path, error)) from error
        return state, self.path(name)

    def restore(self, model, name=None):
        """Loads the newest checkpoint (or `name`) into a compiled `model`; returns
        its RunState, or None when the folder has no checkpoint.

        Raises:
            CheckpointError: it does not load (damaged, or from another model); the
                message names the file, an older checkpoint to resume from and
                --restart.
        """
        found = self.latest(name)
        if found is None:
            return None
        state, path = found
        model.build_optimizers()
        try:
            _keras_compat.load_weights_from_bytes(model, fileio.read_bytes(path))
        except Exception as error:  # h5py and Keras raise many types for a bad file
            raise CheckpointError(self._damaged(path, error)) from error
        logging.info("restored %s (epoch %d, step %d)", path, state.epoch, state.step)
        return state

    def _damaged(self, path, error):
        """The message for a checkpoint file that does not load: the file, why, and
        the ways out (an older checkpoint by name, --restart)."""
        current = name_of(path)
        older = [n for n in self.names() if not _NAME.fullmatch(current)
                 or _order(n) < _order(current)]
        hint = (f" An older checkpoint is there: pass --resume_from={older[-1]} to resume "
                "from it." if older else "")
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        return (f"cannot restore checkpoint {path}: {type(error).__name__}: {first}. The "
                "file is damaged or from a different model; pass --restart to start over "
                f"(the old run's files are replaced) or use another --workdir.{hint}")


def name_of(path):
    """The checkpoint name (ckpt-EEEE or ckpt-EEEE-SSSSSSSSS) in a path, a file name
    or a name."""
    name = str(path).rsplit("/", 1)[-1]
    for suffix in (WEIGHTS_SUFFIX, STATE_SUFFIX):
        if name.endswith(suffix):
            name = name[:-len(suffix)]
    return name


class Checkpoint(keras.callbacks.Callback):
    """Saves the model's full training state after every epoch (and every
    `every_steps` steps inside epochs), keeping the newest `keep` checkpoints.

    Each epoch end records the epoch's logs in the run state's history, saves the
    checkpoint (its state file holds that history) and then, given `history_path`,
    rewrites that history.json (and the `plot_path` PNG of the loss curves) from the
    saved state: the files always agree with a checkpoint. An epoch that ends early
    (a time budget) is saved as a checkpoint inside that epoch with its row of logs;
    `save_now()` saves the current step (an interrupted run).

    Args:
        directory: the checkpoint folder, or a `CheckpointManager`.
        keep: checkpoints kept.
        every_steps: also save every N training steps inside epochs (0: never).
        state: the `RunState` to continue (a resumed run); a new one by default.
        steps_per_epoch: training steps per epoch (default: fit's `steps`).
        history_path, plot_path: history.json and loss-curve PNG to keep in step.
        should_save: callable() -> bool; False skips a save (a diverged run).
    """

    def __init__(self, directory, keep=3, every_steps=0, state=None, steps_per_epoch=None,
                 history_path=None, plot_path=None, should_save=None):
        super().__init__()
        self.manager = directory if isinstance(directory, CheckpointManager) else \
            CheckpointManager(directory, keep)
        self.every_steps = int(every_steps or 0)
        self.state = state if state is not None else RunState()
        self.steps_per_epoch = steps_per_epoch
        self.history_path, self.plot_path = history_path, plot_path
        self.should_save = should_save or (lambda: True)
        self.last_path = None
        self._saved_step = None
        self._epoch = 0
        self._last_batch = -1

    @property
    def state(self):
        return self._state

    @state.setter
    def state(self, value):
        # A new state (a rollback's restored one) trains its steps again: save them.
        self._state, self._saved_step = value, None

    def on_train_begin(self, logs=None):
        if not self.state.steps_per_epoch:
            self.state.steps_per_epoch = int(self.steps_per_epoch or
                                             (self.params or {}).get("steps") or 0)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch, self._last_batch = epoch, -1

    def on_train_batch_end(self, batch, logs=None):
        # With steps_per_execution = k, Keras calls this once per k steps (`batch` is
        # the last one's index): save when a multiple of every_steps was passed.
        ran, self._last_batch = batch - self._last_batch, batch
        steps = self.model.train_steps
        if (not self.every_steps or steps // self.every_steps <= (steps - ran) //
                self.every_steps or steps % max(self.state.steps_per_epoch, 1) == 0):
            return  # not due, or the epoch's end saves this step
        self.save_now()

    def on_epoch_end(self, epoch, logs=None):
        # Every worker of a multi-worker run keeps the state (and reads the running
        # means, a collective) the same way; only the chief writes (`should_save`).
        state = self.state
        state.step = self.model.train_steps
        state.epoch = epoch + (0 if state.partial else 1)
        state.trackers = tracker_states(self.model) if state.partial else None
        state.record_epoch(epoch + 1, logs)
        self._save()

    def save_now(self):
        """Saves the current step (inside an epoch: with its running means); returns
        the path, or that of the checkpoint already holding this step."""
        state = self.state
        if self._saved_step == self.model.train_steps:  # handled (saved on the chief)
            return self.last_path
        state.step = self.model.train_steps
        state.epoch = state.step // state.steps_per_epoch if state.steps_per_epoch else \
            state.epoch
        state.trackers = tracker_states(self.model) if state.partial else None
        if not state.partial and state.epoch > max(state.history.get("epoch") or [0]):
            # Stopped between an epoch's last step and its end: the row from its means.
            state.record_epoch(state.epoch, {**epoch_means(self.model),
                                             "rollbacks": float(state.rollbacks)})
        self._save()
        return self.last_path

    def _save(self):
        self._saved_step = self.state.step  # a retry would skip (or not write) it again
        if not self.should_save():
            return
        path = self.manager.save(self.model, self.state)
        if path is not None:
            self.last_path = path
            if self.history_path:
                write_history(self.history_path, self.state.history, self.plot_path)


def write_history(path, history, plot_path=None):
    """Writes history.json (atomically) and, given `plot_path`, its loss curves."""
    with interrupt.critical():
        fileio.write_atomic(path, json.dumps(history, indent=1))
    if plot_path and history.get("epoch"):
        keys = [k for k in history if k.endswith("loss") and any(
            v is not None for v in history[k])]
        if keys:
            viz.plot_history(history, plot_path, keys=keys)


def read_history(path):
    """The dict in a history.json, {} when there is none.

    Raises:
        CheckpointError: the file exists but is not a JSON object of lists.
    """
    if not fileio.exists(path):
        return {}
    try:
        history = json.loads(fileio.read_text(path))
        if not isinstance(history, dict) or not all(isinstance(v, list)
                                                    for v in history.values()):
            raise ValueError("not a JSON object of lists")
    except ValueError as error:
        raise CheckpointError(f"{path} is corrupt ({error}); move it away or pass "
                              "--restart") from error
    return history
