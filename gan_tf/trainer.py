"""`train_and_evaluate(config, workdir)`: the flag-free library call that trains a config.

    setup      check the config's names, build the strategy, precision, data and
               model: nothing is written yet, so a failed start leaves the workdir
               as it was and the corrected command just works
    prepare    take the workdir's lock; --restart deletes gan_tf's files; refuse a
               run of another config or on changed data; restore the newest
               checkpoint (or --resume_from); repair what a crash left
    train      fit from the restored step, with the run's callbacks; roll back on
               divergence; stop at the time budget; save and end as interrupted on
               SIGINT/SIGTERM
    export     the SavedModel (through a temporary folder renamed into place)

The batches form one stream that is a pure function of the seed (the shuffled data
repeated); a run restored at step S skips the S steps' batches, so a resumed run sees
exactly the batches, noise and dropout of an uninterrupted one, bit for bit with
`config.train.deterministic` (docs/reliability.md). docs/architecture.md draws the
whole flow.
"""

import contextlib
import dataclasses
import json
import re
import shutil
import time
from typing import Optional, Union

from absl import logging
import keras
import numpy as np
import tensorflow as tf

from gan_tf import adversarial
from gan_tf import checkpoint as checkpoint_lib
from gan_tf import configs
from gan_tf import distribute
from gan_tf import export as export_lib
from gan_tf import fileio
from gan_tf import interrupt
from gan_tf import memory
from gan_tf import precision
from gan_tf import run_callbacks
from gan_tf import tasks
from gan_tf import workdir as workdir_lib
from gan_tf.data import DatasetUnavailableError
from gan_tf.data import folder as folder_lib
from gan_tf.data import images as image_files

ON_DATA_CHANGE = ("refuse", "continue")


class UsageError(ValueError):
    """Bad user input found before any training; the message is one line."""


class DivergedError(RuntimeError):
    """Training diverged and was stopped; the message says where and what next."""


@dataclasses.dataclass
class Run:
    """Everything one call of `train_and_evaluate` works with. `setup` makes it, and
    only this module changes it: `prepare` sets the restored `state` (and may keep
    the run's recorded `steps_per_epoch`), `train` adopts a rollback's state.

    Attributes:
        config: the run's config.
        task: what the model family needs (tasks.for_config).
        workdir: the run's folder; a scratch folder on the other workers of a
            multi-worker run (only the chief writes the workdir).
        chief: whether this worker writes the workdir.
        strategy: the tf.distribute strategy the model was built in.
        model: the compiled `GAN` or `CycleGAN`.
        steps_per_epoch: training steps per epoch.
        manager: this worker's checkpoints (in its workdir).
        shared_checkpoints: the chief's checkpoints, which every worker resumes from.
        dataset: the data built by `setup`, used by the first stream only.
        state: the run state, restored by `prepare`.
        data_changed: the data differs from the data the run started on (accepted).
    """

    config: configs.Config
    task: Union[tasks.LatentTask, tasks.TranslationTask]
    workdir: workdir_lib.Workdir
    chief: bool
    strategy: tf.distribute.Strategy
    model: adversarial.AdversarialModel
    steps_per_epoch: int
    manager: checkpoint_lib.CheckpointManager
    shared_checkpoints: checkpoint_lib.CheckpointManager
    dataset: Optional[tf.data.Dataset] = None
    state: Optional[checkpoint_lib.RunState] = None
    data_changed: bool = False
    rerun: str = interrupt.rerun_command()  # what continues the run (after
    # --resume_from, the command without it: with it, the run would go back there again)

    @property
    def checkpoints(self):
        """The checkpoints this worker restores: the chief's own, which the other
        workers of a multi-worker run read from the shared workdir."""
        return self.manager if self.chief else self.shared_checkpoints

    @property
    def total_steps(self):
        return self.config.train.epochs * self.steps_per_epoch

    def stream(self, skip=0):
        """The run's batches from training step `skip` on (a fresh tf.data iterator:
        tf.data reshuffles per iterator, so every fit takes a newly built stream)."""
        built = self.dataset if self.dataset is not None else \
            self.task.load_data(self.config.data, repeat=self.config.train.steps_per_epoch
                                is not None)
        self.dataset = None
        if self.config.train.steps_per_epoch is None:
            built = built.repeat()
        return built.skip(skip * self.task.d_steps) if skip else built


def train_and_evaluate(config, workdir, restart=False, verbose=1, extra_callbacks=None,
                       resume_from=None, on_data_change="refuse"):
    """Trains `config` into `workdir`, resuming from its newest checkpoint.

    Args:
        config: a `configs.Config`.
        workdir: the run's folder (any tf.io.gfile path).
        restart: delete the previous run's files first (gan_tf's files only, in a
            folder gan_tf made).
        verbose: Keras fit verbosity.
        extra_callbacks: more Keras callbacks for `fit`.
        resume_from: resume from this checkpoint (a name like "ckpt-0003") instead of
            the newest; the newer ones are moved to checkpoints/abandoned/.
        on_data_change: "refuse" (default) or "continue" when the data differs from
            the data the run started on.

    Returns:
        the trained model (`GAN` or `CycleGAN`).

    Raises:
        UsageError: a bad config, data that cannot be had or does not fit, a busy or
            foreign workdir; nothing was written.
        gan_tf.checkpoint.CheckpointError: a checkpoint does not load, or cannot be
            written.
        DivergedError: training diverged and was stopped.
        gan_tf.interrupt.Interrupted: SIGINT/SIGTERM; the last complete step is saved.
    """
    if on_data_change not in ON_DATA_CHANGE:
        raise UsageError(f"on_data_change must be one of {', '.join(ON_DATA_CHANGE)}, "
                         f"got {on_data_change!r}")
    if restart and resume_from:
        raise UsageError(f"--restart deletes the checkpoints that --resume_from="
                         f"{resume_from} names; pass one of them")
    # setup sets the run's policy; the caller gets its own back after the run.
    with precision.policy_scope(), _monitor() as monitor:
        seen = monitor.received
        run = setup(config, workdir)
        try:
            with _writer_lock(run):
                if prepare(run, restart, resume_from, on_data_change):
                    train(run, monitor, verbose, extra_callbacks)
                    export(run)
                elif _export_is_stale(run):  # a finished run: its export may be missing
                    export(run)
                monitor.check(seen)  # a signal whose exception a __del__ dropped
        except workdir_lib.WorkdirError as error:
            raise UsageError(str(error)) from error
        except fileio.NotWrittenError as error:
            raise UsageError(f"{error.filename} is not gan_tf's (it did not write it "
                             "there), and the run would replace it; move it out of "
                             f"{run.workdir.path}, then run {run.rerun} again"
                             ) from None
        except interrupt.Interrupted as interrupted:  # wherever it struck: what is saved
            raise _with_saved_step(run, interrupted) from None
        except tf.errors.InvalidArgumentError as error:
            if not _decoding(error):
                raise
            raise UsageError(_undecodable(run, error)) from None
        except tf.errors.ResourceExhaustedError as error:  # beyond the estimate's reach
            raise UsageError(f"training ran out of memory ({_first_line(error)}); start "
                             "over with a smaller --image_size or --batch_size and "
                             "--restart (or another --workdir)") from None
        except (OSError, tf.errors.OpError) as error:
            if (isinstance(error, tf.errors.OpError) and distribute.is_multi_worker(run.strategy)
                    and distribute.lost_worker(error)):
                raise distribute.WorkerLostError(_worker_lost_message(run, error)) from None
            failed = fileio.io_error(error)
            if failed is None:
                raise
            raise checkpoint_lib.WriteError(run.manager.write_failure(
                failed.filename or run.workdir.path, failed)) from error
        finally:
            if not run.chief:
                shutil.rmtree(run.workdir.path, ignore_errors=True)
    return run.model


def _decoding(error):
    """Whether `error` comes from decoding an image in the input pipeline."""
    return any(word in (error.message or "") for word in ("DecodeImage", "DecodeJpeg",
                                                          "DecodePng", "Invalid JPEG data",
                                                          "Invalid PNG data"))


def _undecodable(run, error):
    """The one-line message of an image that failed to decode in training: for a
    folder dataset, which files (each decoded once to find them) and the fix."""
    data_config = run.config.data
    for name in (data_config.name, data_config.name_b):
        if not (name or "").startswith(folder_lib.FOLDER_PREFIX):
            continue
        scanned = folder_lib.scan_folder(folder_lib.folder_path(name),
                                         data_config.on_bad_image)
        bad = folder_lib.undecodable_files(scanned)
        if bad:
            total = sum(len(examples) for examples in scanned.splits.values())
            return image_files.bad_images_message(bad, total, f"folder {scanned.path}")
    return (f"an image of {data_config.name} does not decode ({_first_line(error)}); "
            "fix or delete the damaged image file")


def _first_line(error):
    """The first line of `error`'s message without TensorFlow's {{function_node ...}}."""
    text = re.sub(r"\{\{[^}]*\}\}\s*", "", str(getattr(error, "message", error))).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _worker_lost_message(run, error):
    """The one-line message of a multi-worker run whose other worker is gone."""
    reason = next((line.strip() for line in str(getattr(error, "message", error))
                   .splitlines() if line.strip()), type(error).__name__)
    try:
        found = run.checkpoints.latest()
    except checkpoint_lib.CheckpointError:
        found = None
    where = (f"the last checkpoint is {found[1]} (step {found[0].step})" if found
             else "no checkpoint was saved yet")
    return (f"another worker of the multi-worker run stopped ({reason}); {where}: start "
            f"every worker again with {run.rerun} to resume")


def _monitor():
    active = interrupt.active()
    if active is not None:  # a caller (the CLI) already watches the signals
        return contextlib.nullcontext(active)
    return interrupt.monitoring()


def _writer_lock(run):
    """The workdir's lock (the chief's: other workers write nothing there)."""
    return run.workdir.lock() if run.chief else contextlib.nullcontext()


# -- Setup: everything that can fail before anything is written ------------------------


def setup(config, workdir):
    """Checks `config` and builds the strategy, data and model; writes nothing.

    Raises:
        UsageError: a bad name, data that cannot be had or does not fit the models.
    """
    train = config.train
    try:
        # A multi-worker strategy must come before any TensorFlow op or variable.
        strategy = distribute.make_strategy(train.strategy)
        if interrupt.active() is not None:
            interrupt.active().reinstall()  # the strategy may have taken SIGTERM
        task = tasks.for_config(config)
        task.check(config)
        if train.deterministic:
            tf.config.experimental.enable_op_determinism()
        keras.mixed_precision.set_global_policy(precision.resolve(train.precision))
        # The data order depends on the global seed too: fix it before the data.
        keras.utils.set_random_seed(train.seed)
        dataset = task.load_data(config.data, repeat=train.steps_per_epoch is not None)
        shapes = task.check_data(config.data, dataset, config.preset)
    except (ValueError, DatasetUnavailableError) as error:
        raise UsageError(str(error)) from error
    except OSError as error:  # an unreadable data file or folder
        raise UsageError(f"cannot read {error.filename or config.data.name}: "
                         f"{fileio.reason(error)}") from error
    chief = distribute.is_chief(strategy)
    own = workdir_lib.Workdir(workdir if chief else distribute.worker_scratch(strategy))
    steps_per_epoch = train.steps_per_epoch or int(dataset.cardinality()) // task.d_steps
    if steps_per_epoch < 1:
        raise UsageError(f"{config.data.name} gives fewer than {task.d_steps} batches of "
                         f"{config.data.batch_size}: lower --batch_size")
    _check_memory(config, task, strategy, dataset, shapes)
    try:
        with strategy.scope():
            model = task.build(shapes, tasks.step_intervals(config.callbacks))
    except ValueError as error:
        raise UsageError(str(error)) from error
    except tf.errors.ResourceExhaustedError as error:  # beyond the estimate's reach
        raise UsageError(_too_large(config, shapes, "more memory than is free")) from error
    return Run(config=config, task=task, workdir=own, chief=chief, strategy=strategy,
               model=model, steps_per_epoch=steps_per_epoch, dataset=dataset,
               manager=checkpoint_lib.CheckpointManager(own / "checkpoints",
                                                        config.callbacks.keep_checkpoints),
               # every worker resumes from the chief's checkpoints
               shared_checkpoints=checkpoint_lib.CheckpointManager(
                   workdir_lib.Workdir(workdir) / "checkpoints"))


def _check_memory(config, task, strategy, dataset, shapes):
    """Refuses a config whose training step needs more memory than is free
    (gan_tf.memory's estimate), before the real models take any of it."""
    on_gpu = bool(tf.config.list_logical_devices("GPU"))
    replicas = strategy.num_replicas_in_sync if on_gpu else 1
    batch = -(-config.data.batch_size // replicas) * task.d_steps  # one device's
    values = batch * sum(int(np.prod(shape)) for key, shape in shapes.items()
                         if key.startswith("image_shape"))
    if values < memory.ESTIMATE_FROM:  # small enough not to spend the estimate's time
        return
    free = memory.free_bytes(on_gpu)
    if free is None:
        return
    element_spec = tf.nest.map_structure(
        lambda spec: tf.TensorSpec((batch, *spec.shape[1:]), spec.dtype),
        dataset.element_spec)
    # Without EMA: its copy of the generator is made from the weights' values, which a
    # graph's variables do not have; it is counted as the generator's weights again.
    estimate_task = tasks.for_config(configs.override(config, **{"model.ema_decay": None}))
    with tf.Graph().as_default():
        try:
            model = estimate_task.build(shapes)
        except ValueError as error:  # as the real build would say (setup)
            raise UsageError(str(error)) from error
        needed = memory.training_bytes(model, element_spec, compute_bytes=tf.as_dtype(
            keras.mixed_precision.global_policy().compute_dtype).size)
        if config.model.ema_decay:
            needed += 4 * memory.variable_floats(model.generator.weights)
    if needed > free:
        raise UsageError(_too_large(config, shapes, f"about {memory.describe(needed)} of "
                                    f"memory but {memory.describe(free)} is free"))


def _too_large(config, shapes, what):
    height, width = shapes["image_shape"][:2]
    return (f"training on {height}x{width} images in batches of {config.data.batch_size} "
            f"needs {what} (the models' weights, their optimizer state and one batch's "
            "activations); pass a smaller --image_size or --batch_size")


# -- Prepare: the workdir, under its lock ----------------------------------------------


def prepare(run, restart=False, resume_from=None, on_data_change="refuse"):
    """Readies the workdir and restores the run's state; returns False when there is
    nothing to train (the message says why) and True otherwise.

    Raises:
        UsageError: a foreign folder for --restart, another config, changed data.
        CheckpointError: a checkpoint does not load.
    """
    workdir, config = run.workdir, run.config
    try:
        if run.chief:
            workdir.check_ownership()
            if restart:
                workdir.restart()
        previous = workdir.read_config()
    except workdir_lib.WorkdirError as error:
        raise UsageError(str(error)) from error
    if previous is not None:
        _check_same_run(previous, config, workdir.path)
    if run.chief:
        workdir.clean_temporary()
        run.manager.clean()
    run.state = _restore(run, resume_from)
    _check_data(run, on_data_change)
    _check_steps(run)
    if _finished(run):
        return False
    if run.chief:
        _write_start(run, resume_from)
    return True


def _write_start(run, resume_from=None):
    """The first writes, once everything is checked: the manifest (with this run's
    TensorBoard files), the checkpoints newer than --resume_from moved away,
    config.json, versions.json, and the history of the restored state."""
    workdir = run.workdir
    workdir.record_event_files()
    if resume_from:
        abandoned, where = run.manager.abandon_after(checkpoint_lib.name_of(resume_from))
        if abandoned:
            logging.info("resuming from %s: moved the newer %s to %s", resume_from,
                         ", ".join(abandoned), where)
        # The branch is taken: the newest checkpoint continues it from now on.
        run.rerun = run.manager.rerun = interrupt.rerun_command(resume_from)
    workdir.write_config(run.config)
    checkpoint_lib.write_history(workdir / workdir_lib.HISTORY, run.state.history)


def _check_same_run(previous, config, path):
    before, now = configs.identity(previous), configs.identity(config)
    if before != now:
        changed = sorted(f"{section}.{key}" for section, values in now.items()
                         if isinstance(values, dict) for key in values
                         if before.get(section, {}).get(key) != values[key])
        raise UsageError(f"{path} holds a run with a different config "
                         f"({', '.join(changed) or 'preset'} differ); pass --restart to "
                         "replace it or choose another --workdir")


def _restore(run, resume_from):
    """The restored RunState. Several workers restore together once the chief has
    cleaned (or --restart-ed) the checkpoints (a restore runs collectives, the same on
    every worker), then check they hold the same state."""
    together = distribute.is_multi_worker(run.strategy)
    if together:
        distribute.gather(run.strategy, [0])  # the chief's clean-up is done
    state = _restore_state(run, resume_from)
    if together:
        distribute.check_same_state(run.strategy, run.model, "restored")
    return state


def _restore_state(run, resume_from):
    state = run.checkpoints.restore(run.model, resume_from)
    history_path = run.workdir / workdir_lib.HISTORY
    if state is None:
        recorded = checkpoint_lib.read_history(history_path).get("epoch") if run.chief \
            else None
        if recorded and not run.manager.names():
            raise checkpoint_lib.CheckpointError(
                f"{history_path} records {len(recorded)} epochs but "
                f"{run.manager.directory} has no checkpoint to resume from; pass "
                "--restart to start over or choose another --workdir")
        return checkpoint_lib.RunState(steps_per_epoch=run.steps_per_epoch)
    return state


def _check_steps(run):
    """The run's epochs keep their length: on data that changed (and was accepted)
    the recorded steps per epoch stay; otherwise a different count is refused."""
    state = run.state
    if state.steps_per_epoch and state.steps_per_epoch != run.steps_per_epoch:
        if not run.data_changed:
            raise UsageError(f"the run has {state.steps_per_epoch} steps per epoch but "
                             f"the data now gives {run.steps_per_epoch}; pass --restart")
        logging.warning("keeping the run's %d steps per epoch (its data now gives %d)",
                        state.steps_per_epoch, run.steps_per_epoch)
        run.steps_per_epoch = state.steps_per_epoch
    state.steps_per_epoch = run.steps_per_epoch


def _check_data(run, on_data_change):
    try:
        found = run.task.fingerprint(run.config.data)
    except (ValueError, DatasetUnavailableError) as error:
        raise UsageError(str(error)) from error
    before = run.state.data
    if before is not None and before != found:
        what = "; ".join(_changes(before.get(k), found[k]) for k in found
                         if before.get(k) != found[k])
        if on_data_change == "refuse":
            raise UsageError(f"the data of {run.workdir.path} changed since its run started "
                             f"({what}); pass --on_data_change=continue to resume on the "
                             "new data, or --restart")
        logging.warning("the data changed since the run started (%s); continuing", what)
        run.data_changed = True
    run.state.data = found


def _changes(before, now):
    """What differs between two fingerprints of one dataset, briefly."""
    if not isinstance(before, dict) or not isinstance(now, dict):
        return f"{before} -> {now}"
    changed = [f"{key} {before.get(key)} -> {now.get(key)}" for key in now
               if key not in ("name", "split") and before.get(key) != now.get(key)
               and not isinstance(now.get(key), dict)]
    changed += [f"{key} differ" for key in now if isinstance(now.get(key), dict)
                and before.get(key) != now.get(key)]
    return f"{now.get('name')}: {', '.join(changed) or 'another dataset'}"


def _finished(run):
    """True (after saying why) when the restored run has nothing left to train."""
    state, train = run.state, run.config.train
    epochs_done = state.step / run.steps_per_epoch
    if state.step > run.total_steps:
        logging.info("%s already trained %.4g epochs; --epochs=%d asks for fewer: nothing "
                     "to do", run.workdir.path, epochs_done, train.epochs)
        return True
    if state.step == run.total_steps:
        logging.info("%s already trained for %d epochs; raise --epochs to continue",
                     run.workdir.path, train.epochs)
        return True
    budget = train.train_minutes
    if budget and state.train_seconds >= 60 * budget:
        logging.info("%s already trained for its %.4g-minute budget (%.4g epochs); raise "
                     "--train_minutes to continue", run.workdir.path, budget, epochs_done)
        return True
    if state.step:
        logging.info("resuming %s at epoch %d, step %d", run.workdir.path,
                     state.step // run.steps_per_epoch + 1, state.step)
    return False


def _export_is_stale(run):
    """Whether the chief of a run with steps holds no sound export of its last step
    (the export missing, older than the checkpoint, or damaged: a part that does not
    read back, named in a warning)."""
    if not (run.chief and run.state.step):
        return False
    if _exported_steps(run) != run.model.train_steps:
        return True
    damaged = export_lib.damaged_part(run.workdir / workdir_lib.EXPORT)
    if damaged:
        logging.warning("%s is damaged: exporting the generator again", damaged)
    return bool(damaged)


def _exported_steps(run):
    path = fileio.join(run.workdir / workdir_lib.EXPORT, export_lib.EXPORT_METADATA)
    try:
        return json.loads(fileio.read_text(path)).get("train_steps")
    except Exception:  # noqa: BLE001 - missing or unreadable: export again
        return None


# -- Train ------------------------------------------------------------------------------


def train(run, monitor, verbose=1, extra_callbacks=None):
    """Fits from the restored step to the end (or the budget), rolling back on
    divergence per the config.

    Raises:
        DivergedError, interrupt.Interrupted, CheckpointError.
    """
    hooks = run_callbacks.RunCallbacks(run, extra_callbacks)
    start, first_step = time.time(), run.model.train_steps
    while run.model.train_steps < run.total_steps:
        try:
            with monitor.stopping(hooks.stop_target):
                _fit_from(run, hooks, verbose)
        except KeyboardInterrupt as error:  # a second signal, or one raised elsewhere:
            # fit stops between steps, so the model holds a complete step; save it.
            interrupted = error if isinstance(error, interrupt.Interrupted) \
                else interrupt.Interrupted()
            if not hooks.guard.diverged:
                with interrupt.critical():
                    hooks.checkpoint.save_now()
            raise _with_saved_step(run, interrupted) from None
        if hooks.guard.diverged:
            _roll_back(run, hooks)
            continue
        if hooks.signal():
            hooks.checkpoint.save_now()
            distribute.gather(run.strategy, [0])  # every worker waits for the chief's save
            raise _with_saved_step(run, interrupt.Interrupted(hooks.signal())) from None
        break
    if distribute.is_multi_worker(run.strategy):
        digest = distribute.check_same_state(run.strategy, run.model, "trained")
        logging.info("all %d workers hold the same state after step %d (digest %08x)",
                     distribute.num_workers(run.strategy), run.model.train_steps, digest)
    seconds, steps = time.time() - start, run.model.train_steps - first_step
    if steps:
        images = steps * run.task.d_steps * run.config.data.batch_size
        logging.info("trained %d images in %.0f s: %.0f images/s", images, seconds,
                     images / max(seconds, 1e-9))


def _with_saved_step(run, interrupted):
    """`interrupted` with the last complete step saved, its checkpoint and the command
    that resumes."""
    interrupted.rerun = run.rerun
    if interrupted.path is not None or run.checkpoints is None:
        return interrupted
    return _saved_in(run.checkpoints, interrupted)


def interrupted_in(workdir, interrupted, resume_from=None):
    """`interrupted` (a signal that came as a run in `workdir`, started with
    `resume_from`, ended) with the last step saved there, its checkpoint and the
    command that resumes."""
    interrupted.rerun = interrupt.rerun_command(resume_from)
    return _saved_in(checkpoint_lib.CheckpointManager(
        workdir_lib.Workdir(workdir) / "checkpoints"), interrupted)


def _saved_in(checkpoints, interrupted):
    try:
        found = checkpoints.latest()
    except checkpoint_lib.CheckpointError:
        found = None
    if found is not None:
        state, path = found  # the epoch the step is in, as checkpoint names count
        interrupted.step, interrupted.path = state.step, path
        interrupted.epoch = state.epoch + (1 if state.partial else 0)
    return interrupted


def _fit_from(run, hooks, verbose):
    """Runs `fit` from the restored step: the rest of a partly done epoch (its running
    means restored), then whole epochs, until the end, a stop or the budget."""
    model, spe = run.model, run.steps_per_epoch
    step = model.train_steps
    epoch, done = divmod(step, spe)
    epochs = run.config.train.epochs
    if done:
        model.fit(run.stream(step), epochs=epoch + 1, initial_epoch=epoch,
                  steps_per_epoch=spe - done, verbose=verbose,
                  callbacks=hooks.callbacks + [hooks.resume_epoch(run.state.trackers)])
        if hooks.stopped():
            return
        epoch += 1
    if epoch < epochs:
        model.fit(run.stream(epoch * spe), epochs=epochs, initial_epoch=epoch,
                  steps_per_epoch=spe, verbose=verbose, callbacks=hooks.callbacks)


def _roll_back(run, hooks):
    """After a divergence: stops (DivergedError) or restores the last good checkpoint,
    lowers the learning rates and moves the noise seed."""
    train, state = run.config.train, run.state
    what = hooks.guard.diverged
    where = f"step {what['step']} (epoch {what['epoch']}): {what['reason']}"
    found = run.checkpoints.latest()
    policy = train.on_explosion if what.get("kind") == "explosion" else train.on_divergence
    if found is None:  # nothing to roll back to, whatever the policy
        _record_diverged_epoch(run, what)
        raise DivergedError(f"training diverged at {where} before the first checkpoint; "
                            "lower --g_lr/--d_lr and pass --restart")
    if policy == "stop" or state.rollbacks >= train.max_rollbacks:
        _record_diverged_epoch(run, what)
        last = f"the last good checkpoint is {found[1]} (epoch {found[0].epoch})"
        if policy == "stop":
            flag = "on_explosion" if what.get("kind") == "explosion" else "on_divergence"
            raise DivergedError(
                f"training diverged at {where}; {last}. Pass --{flag}=rollback to resume "
                "from it and roll back automatically, or lower --g_lr/--d_lr and pass "
                "--restart")
        raise DivergedError(
            f"training diverged at {where} after {state.rollbacks} rollbacks "
            f"(--max_rollbacks); {last}. Lower --g_lr/--d_lr and pass --restart")
    rollbacks = state.rollbacks + 1
    restored = run.checkpoints.restore(run.model)
    if distribute.is_multi_worker(run.strategy):
        distribute.check_same_state(run.strategy, run.model, "rolled back")
    restored.rollbacks = rollbacks
    restored.steps_per_epoch = run.steps_per_epoch
    run.state = restored
    hooks.adopt(restored)
    model = run.model
    for optimizer in (model.g_optimizer, model.d_optimizer):
        optimizer.learning_rate.assign(
            float(optimizer.learning_rate.numpy()) * train.rollback_lr_factor)
    if train.rollback_reseed and hasattr(model, "seed_generator"):  # CycleGAN: no noise
        value = model.seed_generator.state.numpy()
        model.seed_generator.state.assign(
            np.asarray([train.seed + 7919 * rollbacks, 0], value.dtype))
    logging.warning(
        "rolled back to %s (epoch %d, step %d) after divergence at %s; rollback %d of "
        "%d: learning rates now g %.3g, d %.3g%s", found[1], restored.epoch,
        restored.step, where, rollbacks, train.max_rollbacks,
        float(model.g_optimizer.learning_rate.numpy()),
        float(model.d_optimizer.learning_rate.numpy()),
        ", noise reseeded" if train.rollback_reseed else "")


def _record_diverged_epoch(run, what):
    """history.json gets the diverged epoch's running means (its NaN included), so the
    file tells what happened; the checkpoints keep the last good state."""
    # Every worker reads the running means: under several workers that read is a
    # collective.
    means = checkpoint_lib.epoch_means(run.model)
    if not run.chief:
        return
    history = checkpoint_lib.RunState(history={k: list(v) for k, v in
                                               run.state.history.items()})
    history.record_epoch(what["epoch"], means)
    checkpoint_lib.write_history(run.workdir / workdir_lib.HISTORY, history.history)


# -- Export -----------------------------------------------------------------------------


def export(run):
    """Exports the generator(s) into workdir/generator (the chief only)."""
    if run.chief:
        run.model.export_generator(run.workdir / workdir_lib.EXPORT)
