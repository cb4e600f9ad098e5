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
"""

import contextlib
import os
import signal
import sys
import threading

EXIT_CODES = {"SIGINT": 130, "SIGTERM": 143}


class Interrupted(KeyboardInterrupt):
    """The run was interrupted by a signal.

    Attributes:
        signal_name: "SIGINT" or "SIGTERM".
        exit_code: 130 or 143.
        step, epoch, path: where the run stands (set by the trainer: the last
            complete step it saved and the checkpoint holding it, or None).
    """

    def __init__(self, signal_name="SIGINT", step=None, epoch=None, path=None):
        super().__init__(signal_name)
        self.signal_name = signal_name
        self.exit_code = EXIT_CODES.get(signal_name, 130)
        self.step, self.epoch, self.path = step, epoch, path


class SignalMonitor:
    """Installs the SIGINT/SIGTERM handlers for the duration of a `with` block.

    Only the main thread can install handlers; elsewhere the monitor is inert (no
    handlers, `requested` stays None) and signals behave as Python's defaults.

    Attributes:
        requested: the name of the first signal received, or None.
    """

    def __init__(self):
        self.requested = None
        self._model = None
        self._critical = 0
        self._pending = None
        self._previous = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def reinstall(self):
        """Takes the signals back after something replaced the handlers at the C level
        (TensorFlow's coordination service, started by MultiWorkerMirroredStrategy,
        takes SIGTERM as a preemption notice and swallows it)."""
        for signum in self._previous:
            signal.signal(signum, self._handle)

    def __exit__(self, *exc_info):
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}
        return False

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
                raise Interrupted(name)

    def _handle(self, signum, frame):
        name = signal.Signals(signum).name
        first = self.requested is None
        self.requested = self.requested or name
        if first and self._model is not None:
            self._model.stop_training = True  # the trainer saves this step and stops
            return
        if self._critical:
            self._pending = self.requested
            return
        raise Interrupted(self.requested)


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
