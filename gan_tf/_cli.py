"""What the command lines (train, evaluate) share: flags defined only when a CLI runs,
bad values reported in one line with exit status 2, and quieter logs.

A CLI defines its flags on a `flags.FlagValues` of its own when it runs (importing a
gan_tf module defines none), parses argv with `parse`, and turns every parse error
into "error: <one line>" and exit status 2, as it does for its own usage errors.
"""

import logging as std_logging
import os
import sys

from absl import flags
from absl import logging

_PACKAGE = os.path.dirname(os.path.abspath(__file__))
EXIT_USAGE = 2
_HELP = ("--help", "-h", "--helpfull", "-?", "--helpshort")


class UsageError(ValueError):
    """Bad command-line input; the message is one line."""


class _OwnInfoOnly(std_logging.Filter):
    """Keeps gan_tf's INFO lines and everyone's warnings."""

    def filter(self, record):
        return (record.levelno >= std_logging.WARNING
                or os.path.abspath(record.pathname).startswith(_PACKAGE))


def setup_logging(flag_values):
    """absl logging to stderr at INFO; unless --verbosity was given, without the INFO
    lines of TensorFlow and tfds (saver shards, file readers: dozens per run)."""
    # absl warns "Logging before flag parsing" until its global FLAGS are parsed; this
    # CLI parses its own FlagValues (it defines nothing on the global one).
    if not flags.FLAGS.is_parsed():
        flags.FLAGS.mark_as_parsed()
    logging.use_absl_handler()
    verbosity = flag_values["verbosity"].value if "verbosity" in flag_values else None
    logging.set_verbosity(verbosity if verbosity is not None else logging.INFO)
    if "verbosity" in flag_values and not flag_values["verbosity"].present:
        handler = logging.get_absl_handler()
        if not any(isinstance(f, _OwnInfoOnly) for f in handler.filters):
            handler.addFilter(_OwnInfoOnly())


def new_flag_values(define):
    """A FlagValues holding absl's logging flags and those `define(flag_values)` adds."""
    flag_values = flags.FlagValues()
    flags.DEFINE_integer("verbosity", None, "Logging verbosity (absl: -1 warnings only, "
                         "0 info, 1 debug).", flag_values=flag_values)
    define(flag_values)
    return flag_values


def parse(flag_values, argv):
    """Parses argv (argv[0] is the program); returns the positional arguments.

    Raises:
        UsageError: a bad flag, value or flagfile, in one line.
    """
    try:
        rest = flag_values(list(argv))
    except flags.Error as error:
        raise UsageError(str(error).strip().splitlines()[0]) from None
    if len(rest) > 1:
        raise UsageError(f"unexpected arguments: {' '.join(rest[1:])}")
    return rest


def wants_help(argv):
    return any(arg in _HELP for arg in argv[1:])


def print_help(flag_values, program, doc):
    print(doc.strip().split("\n\n")[0])
    print(f"\nusage: python -m {program} [flags]\n")
    print(flag_values.main_module_help() or flag_values.get_help())


def fail(message):
    """Prints "error: message" to stderr; returns the usage exit status."""
    print(f"error: {message}", file=sys.stderr)
    return EXIT_USAGE
