"""Ctrl-C and SIGTERM as a state of the run, not an exception at a random line.

While training runs, the first SIGINT or SIGTERM only asks the training loop to stop
after the step in progress (`model.stop_training`); the trainer then saves that step
and ends the run as interrupted (exit 130 for SIGINT, 143 for SIGTERM). Anywhere else
a signal raises `Interrupted` at once, except inside a `critical()` section (a
checkpoint, history or export write), which always finishes first: the signal is
raised when the section ends. A second signal while stopping raises at once (outside
critical sections), so a user who presses Ctrl-C twice is not kept waiting for a slow
step. A cluster's preemption (SIGTERM, then SIGKILL after a grace period) takes the
same path; SIGKILL itself cannot be caught, which is what the crash-consistent
workdir is for.

A signal is never swallowed: Python runs a handler wherever the main thread is,
also inside an object's `__del__` (TensorFlow's functions and tf.data iterators are
freed often), where an exception is printed as "Exception ignored in ..." and dropped.
There the handler raises nothing and sends the signal again 10 ms later, to be raised
once the `__del__` is over; an `Interrupted` dropped elsewhere (a weakref callback) is
caught by `sys.unraisablehook`, silently, and sent again too; and the trainer and the
CLI check `received` at their ends, so a run that got a signal ends as interrupted,
never as done.
"""

import _thread
import contextlib
import os
import signal
import sys
import threading
import time

EXIT_CODES = {"SIGINT": 130, "SIGTERM": 143}


class Interrupted(KeyboardInterrupt):
    """The run was interrupted by a signal.

    Attributes:
        signal_name: "SIGINT" or "SIGTERM".
        exit_code: 130 or 143.
        step, epoch, path: where the run stands (set by the trainer: the last
            complete step it saved and the checkpoint holding it, or None).
        rerun: the command that resumes ("the same command", or after --resume_from
            the command without it).
    """

    def __init__(self, signal_name="SIGINT", step=None, epoch=None, path=None):
        super().__init__(signal_name)
        self.signal_name = signal_name
        self.exit_code = EXIT_CODES.get(signal_name, 130)
        self.step, self.epoch, self.path = step, epoch, path
        self.rerun = rerun_command()


def rerun_command(resume_from=None):
    """What continues a run started with `resume_from`: the same command, or after
    --resume_from the command without it (with it, the run would go back to that
    checkpoint again)."""
    if resume_from:
        return f"the command without --resume_from={resume_from}"
    return "the same command"


class SignalMonitor:
    """Installs the SIGINT/SIGTERM handlers for the duration of a `with` block.

    Only the main thread can install handlers; elsewhere the monitor is inert (no
    handlers, `requested` stays None) and signals behave as Python's defaults.

    Attributes:
        requested: the name of the first signal received, or None.
        received: how many signals were received.
    """

    def __init__(self):
        self.requested = None
        self.received = 0
        self._model = None
        self._critical = 0
        self._pending = None
        self._previous = {}
        self._unraisable = None
        self._owed = None  # a signal to send again (`_send_later`), or None
        self._owed_lock = threading.RLock()  # a handler may run while it is held

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._handle)
            self._unraisable = sys.unraisablehook
            sys.unraisablehook = self._dropped
        return self

    def reinstall(self):
        """Takes the signals back after something replaced the handlers at the C level
        (TensorFlow's coordination service, started by MultiWorkerMirroredStrategy,
        takes SIGTERM as a preemption notice and swallows it)."""
        for signum in self._previous:
            signal.signal(signum, self._handle)

    def __exit__(self, *exc_info):
        with self._owed_lock:
            self._owed = None
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}
        if self._unraisable is not None:
            sys.unraisablehook, self._unraisable = self._unraisable, None
        return False

    def _dropped(self, unraisable):
        """`sys.unraisablehook`: an `Interrupted` that Python dropped (raised where it
        cannot propagate: a finalizer, a weakref callback) is sent again."""
        if isinstance(unraisable.exc_value, Interrupted) and self._previous:
            self._send_later(signal.Signals[unraisable.exc_value.signal_name])
            return
        (self._unraisable or sys.__unraisablehook__)(unraisable)

    def _send_later(self, signum):
        """Sends `signum` to this process again in 10 ms, from another thread: its
        handler then runs in the main thread wherever that is by then (sent from here,
        it would run here). Starting the thread does not wait for it, so no handler
        runs here; an `Interrupted` raised meanwhile (`_interrupted`) cancels it."""
        with self._owed_lock:
            self._owed = signum

        def send():
            time.sleep(0.01)
            with self._owed_lock:
                if self._owed is not None:
                    self._owed = None
                    os.kill(os.getpid(), signum)

        _thread.start_new_thread(send, ())

    def _interrupted(self, name=None):
        """The `Interrupted` to raise now (a signal owed again is no longer owed)."""
        with self._owed_lock:
            self._owed = None
        return Interrupted(name or self.requested)

    def check(self, since=0):
        """Raises `Interrupted` when more than `since` signals were received: a run
        that got one must not end as if it had not (its exception was lost)."""
        if self.received > since:
            raise self._interrupted()

    @contextlib.contextmanager
    def stopping(self, model):
        """Within this block a first signal stops `model`'s fit after its step."""
        self._model = model
        try:
            yield
        finally:
            self._model = None

    @contextlib.contextmanager
    def critical(self):
        """A block that a signal never cuts: it is raised when the block ends."""
        self._critical += 1
        try:
            yield
        finally:
            self._critical -= 1
            if not self._critical and self._pending:
                name, self._pending = self._pending, None
                raise self._interrupted(name)

    def _handle(self, signum, frame):
        name = signal.Signals(signum).name
        first = self.requested is None
        self.requested = self.requested or name
        self.received += 1
        if first and self._model is not None:
            self._model.stop_training = True  # the trainer saves this step and stops
            return
        if self._critical:
            self._pending = self.requested
            return
        if _in_finalizer(frame):  # an exception raised here would be dropped
            self._send_later(signum)
            return
        raise self._interrupted()


def _in_finalizer(frame):
    """Whether `frame` runs inside an object's `__del__`."""
    while frame is not None:
        if frame.f_code.co_name == "__del__":
            return True
        frame = frame.f_back
    return False


_ACTIVE = []


def active():
    """The innermost active monitor, or None."""
    return _ACTIVE[-1] if _ACTIVE else None


@contextlib.contextmanager
def monitoring():
    """Runs a block under a `SignalMonitor` that `critical()` and the trainer find."""
    with SignalMonitor() as monitor:
        _ACTIVE.append(monitor)
        try:
            yield monitor
        finally:
            _ACTIVE.remove(monitor)


@contextlib.contextmanager
def critical():
    """A write that a signal must not cut (a no-op without an active monitor)."""
    monitor = active()
    if monitor is None:
        yield
        return
    with monitor.critical():
        yield


_CLIS = ("gan_tf.train",)  # the command lines whose start watch_startup guards


def watch_startup():
    """Under `python -m gan_tf.train`, from the first line of `import gan_tf` until
    the CLI's own monitor takes over (and again after it ended): a SIGINT or SIGTERM
    ends the process at once with one line and exit 130/143, instead of Python's
    KeyboardInterrupt traceback in the middle of importing TensorFlow. Nothing of the
    run is written then, so there is nothing to save. Elsewhere (a library import,
    a notebook, pytest) it does nothing.
    """
    argv = getattr(sys, "orig_argv", [])
    module = argv[argv.index("-m") + 1] if "-m" in argv[:-1] else None
    if module not in _CLIS or sys.argv[:1] != ["-m"]:
        return
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _exit_at_once)


def _exit_at_once(signum, frame):
    name = signal.Signals(signum).name
    os.write(2, f"\ninterrupted ({name}) outside training: nothing was being written; "
                "run the same command again to resume\n".encode())
    os._exit(EXIT_CODES[name])
