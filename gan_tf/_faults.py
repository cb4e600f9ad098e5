"""Named fault points for the fault-injection tests; inert unless GAN_TF_FAULT is set.

    GAN_TF_FAULT="<point>[@<text>]:<action>[:<n>]"

acts the n-th time (default 1) the code passes `point(<point>, detail)` with `<text>`
in its detail: action `kill` (SIGKILL, as a crash or an OOM killer would), `sigint`
or `sigterm` (the signal, as Ctrl-C or a scheduler would send it), `sigint_gc` or
`sigterm_gc` (the signal, handled while Python frees an object: inside its
`__del__`), `enospc` (an OSError "No space left on device" raised there). Points:
"write" (every atomic file write; detail: the path), "checkpoint" (phases of a save:
"weights", "state", "index"), "step" (after each call of the training function),
"export" (the stages of the export's swap: "written" (the SavedModel is in its
temporary folder), "ready" (the user's files linked in, renamed .tmp-<name>-new),
"moved" (the old export moved aside), "renamed" (the new one in place), "done" (the
export's critical section is over)), and "test" (the tests' own).
"""

import errno
import os
import signal

_ENV = "GAN_TF_FAULT"
_seen = {}


class _SignalWhenFreed:
    """Sends itself a signal from its `__del__`, so that the handler runs there (as it
    does when a signal comes while TensorFlow's objects are freed)."""

    def __init__(self, signum):
        self.signum = signum

    def __del__(self):
        os.kill(os.getpid(), self.signum)
        for _ in range(10_000):  # Python runs the handler within this loop
            pass


def _spec():
    text = os.environ.get(_ENV)
    if not text:
        return None
    parts = text.split(":")
    where, action = parts[0], parts[1] if len(parts) > 1 else "kill"
    nth = int(parts[2]) if len(parts) > 2 else 1
    name, _, detail = where.partition("@")
    return name, detail, action, nth


def point(name, detail=""):
    """Acts per GAN_TF_FAULT when it names this point; otherwise does nothing."""
    spec = _spec()
    if spec is None:
        return
    wanted, text, action, nth = spec
    if wanted != name or text not in str(detail):
        return
    _seen[name] = _seen.get(name, 0) + 1
    if _seen[name] != nth:
        return
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif action in ("sigint", "sigterm"):
        os.kill(os.getpid(), signal.SIGINT if action == "sigint" else signal.SIGTERM)
    elif action in ("sigint_gc", "sigterm_gc"):
        _SignalWhenFreed(signal.SIGINT if action == "sigint_gc" else signal.SIGTERM)
    elif action == "enospc":  # as the OS raises it: the file's path, if it is one
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC),
                      str(detail) if "/" in str(detail) else None)
    else:
        raise ValueError(f"{_ENV}: unknown action {action!r}")
