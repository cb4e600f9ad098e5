"""The callbacks of a trainer run (gan_tf.trainer), in the order that keeps the
workdir consistent.

    DivergenceGuard   stops on NaN/Inf (and, per --on_explosion, on exploding losses)
    TimeBudget        stops at --train_minutes
    clock             the run state's training time, for a resumed budget
    stop together     several workers: a signal or the budget on any worker stops
                      every worker after the same step
    -- epoch ends below run only for complete epochs (and the budget's last one) --
    ModeCollapseMonitor, FrechetEvaluation (--eval_every), extra callbacks
    SampleGrid / TranslationGrid
    Checkpoint        records the epoch in the run state, saves, then rewrites
                      history.json and losses.png from what it saved
    TensorBoard       logs/train

An epoch that a signal or a divergence cuts short never reaches them at its end: the
trainer saves such a step itself (interrupt) or rolls back (divergence). Their hooks run
as critical sections (gan_tf.interrupt): a second Ctrl-C never cuts an epoch's grid,
history row and checkpoint apart.

Every worker of a multi-worker run has the same callbacks but the writing ones
(samples, TensorBoard; Checkpoint runs everywhere but writes on the chief only): a
callback that runs a collective (reading the running means of a mid-epoch checkpoint)
must run on all workers, or the others wait for it forever.
"""

import time

import keras

from gan_tf import _faults
from gan_tf import callbacks as callbacks_lib
from gan_tf import checkpoint as checkpoint_lib
from gan_tf import distribute
from gan_tf import interrupt
from gan_tf.metrics import frechet_evaluation


class RunCallbacks:
    """The callbacks of one trainer run, in order (`callbacks`), and what the trainer
    asks of them: the guard, the budget and the checkpoint callback, whether the last
    fit stopped early and why, the signal that ends the run.

    It reads the run (a `gan_tf.trainer.Run`, whole config included: the guard and
    budget read its train section, the checkpoints, grids and logs its callbacks
    section, the monitors its data section) and changes only the run state that the
    callbacks keep (`RunState`: steps, history, training time), never the run.

    Args:
        run: the trainer's run, prepared (its state restored).
        extra_callbacks: more Keras callbacks, run at epoch ends before the writers.
    """

    def __init__(self, run, extra_callbacks=()):
        config, workdir, chief = run.config, run.workdir, run.chief
        cb, train = config.callbacks, config.train
        self.model, self.steps_per_epoch = run.model, run.steps_per_epoch
        self.guard = callbacks_lib.DivergenceGuard(
            loss_limit=train.loss_limit, on_explosion=train.on_explosion,
            rollbacks=run.state.rollbacks)
        self.budget = (callbacks_lib.TimeBudget(train.train_minutes,
                                                run.state.train_seconds)
                       if train.train_minutes else None)
        self.clock = _Clock(run.state, self.budget)
        self.checkpoint = checkpoint_lib.Checkpoint(
            run.manager, every_steps=cb.checkpoint_every_steps, state=run.state,
            steps_per_epoch=run.steps_per_epoch,
            history_path=workdir / "history.json" if run.chief else None,
            plot_path=workdir / "losses.png" if run.chief else None,
            should_save=lambda: chief and not self.guard.diverged)
        epoch_end = self._monitors(run) + list(extra_callbacks or ())
        if run.chief:
            epoch_end += [
                run.task.sample_callback(config.data, cb, workdir / "samples",
                                         workdir / "logs"),
                self.checkpoint,
                keras.callbacks.TensorBoard(workdir / "logs", write_graph=False,
                                            update_freq=cb.log_every_steps or "epoch")]
        else:  # it writes nothing here, but its mid-epoch saves read the running means
            epoch_end.append(self.checkpoint)  # collectively, with the chief's
        first = [self.guard] + ([self.budget] if self.budget else []) + [self.clock]
        self.together = None
        if distribute.is_multi_worker(run.strategy):
            self.together = _StopTogether(run.strategy, self.budget)
            first.append(self.together)
        self.callbacks = first + [_CompleteEpochs(epoch_end, self._epoch_counts)]

    @property
    def stop_target(self):
        """What a first signal stops at once: the model, or with several workers
        nothing (`_StopTogether` stops them all after the same step)."""
        return self.model if self.together is None else _Unstoppable()

    def signal(self):
        """The signal that ends the run: this worker's, or another worker's that all
        agreed on; None when there is none."""
        monitor = interrupt.active()
        mine = monitor.requested if monitor is not None else None
        return mine or (self.together.signal if self.together is not None else None)

    @staticmethod
    def _monitors(run):
        data, cb, seed = run.config.data, run.config.callbacks, run.config.train.seed
        found = []
        if cb.collapse_every:
            reference = run.task.reference_images(data)
            if reference is not None:
                found.append(callbacks_lib.ModeCollapseMonitor(
                    reference, every=cb.collapse_every, threshold=cb.collapse_threshold,
                    seed=seed))
        if cb.eval_every and run.chief:
            found.append(frechet_evaluation.for_config(data, cb, seed, run.workdir.path))
        return found

    def _epoch_counts(self):
        """Whether the epoch that just ended runs the epoch-end callbacks: a complete
        epoch, or the last (partial) one of a time budget, and never a diverged one."""
        if self.guard.diverged:
            return False
        model, spe = self.model, self.steps_per_epoch
        if model.train_steps % spe == 0:
            return True
        return bool(self.budget and self.budget.stopped and not self.signal())

    def stopped(self):
        """Whether the last fit stopped early (divergence, budget or a signal)."""
        return bool(self.guard.diverged or (self.budget and self.budget.stopped) or
                    self.signal())

    def resume_epoch(self, trackers):
        """A callback that continues an epoch checkpointed in its middle."""
        return _ResumeEpoch(trackers)

    def adopt(self, state):
        """Continues from `state` (a rollback's restored one)."""
        self.checkpoint.state = state
        self.clock.state = state
        self.guard.rollbacks = state.rollbacks


class _CompleteEpochs(keras.callbacks.Callback):
    """Forwards every hook to `callbacks`, but `on_epoch_end` only when `counts()`."""

    def __init__(self, callbacks, counts):
        super().__init__()
        self.inner = list(callbacks)
        self.counts = counts

    def set_model(self, model):
        super().set_model(model)
        for callback in self.inner:
            callback.set_model(model)

    def set_params(self, params):
        super().set_params(params)
        for callback in self.inner:
            callback.set_params(params)

    def on_epoch_end(self, epoch, logs=None):
        if self.counts():
            with interrupt.critical():  # an epoch's grid, row and checkpoint: one unit
                for callback in self.inner:
                    callback.on_epoch_end(epoch, logs)

    def __getattribute__(self, name):
        if name.startswith("on_") and name != "on_epoch_end":
            inner = object.__getattribute__(self, "inner")

            def forward(*args, **kwargs):
                with interrupt.critical():  # a second signal waits for the writes
                    for callback in inner:
                        getattr(callback, name)(*args, **kwargs)
            return forward
        return object.__getattribute__(self, name)


class _Unstoppable:
    """Takes the `stop_training` a signal handler sets, and ignores it."""

    stop_training = False


class _StopTogether(keras.callbacks.Callback):
    """After every call of the training function, the workers of a multi-worker run
    agree whether to stop (one collective of two numbers per worker): a signal on any
    worker, or its time budget, stops every worker after the same step. A worker that
    stopped alone would leave the others waiting in the next step's collectives.

    Attributes:
        signal: the signal ("SIGINT", "SIGTERM") another worker received, or None.
    """

    _SIGNALS = (None, "SIGINT", "SIGTERM")

    def __init__(self, strategy, budget):
        super().__init__()
        self.strategy = strategy
        self.budget = budget
        self.signal = None

    def on_train_batch_end(self, batch, logs=None):
        monitor = interrupt.active()
        mine = self._SIGNALS.index(monitor.requested) if monitor and \
            monitor.requested in self._SIGNALS else 0
        budget = bool(self.budget and self.budget.stopped)
        table = distribute.gather(self.strategy, [mine, budget])
        if table[:, 0].any():
            self.signal = self._SIGNALS[int(table[:, 0].max())]
        if table[:, 1].any() and self.budget is not None:
            self.budget.stopped = True
        if table.any():
            self.model.stop_training = True


class _Clock(keras.callbacks.Callback):
    """Keeps the run state's training time (and whether the budget ended it)."""

    def __init__(self, state, budget):
        super().__init__()
        self.state = state
        self.budget = budget
        self._start = None
        self._base = 0.0

    def on_train_begin(self, logs=None):
        self._start, self._base = time.monotonic(), self.state.train_seconds

    def on_train_batch_end(self, batch, logs=None):
        self._tick()
        _faults.point("step", self.model.train_steps)

    def on_epoch_end(self, epoch, logs=None):
        self._tick()

    def _tick(self):
        self.state.train_seconds = self._base + time.monotonic() - self._start
        if self.budget is not None:
            self.state.budget_spent = self.budget.stopped


class _ResumeEpoch(keras.callbacks.Callback):
    """Continues an epoch checkpointed in its middle: restores its running means
    (after fit resets them)."""

    def __init__(self, trackers):
        super().__init__()
        self.trackers = trackers

    def on_epoch_begin(self, epoch, logs=None):
        checkpoint_lib.set_tracker_states(self.model, self.trackers)
