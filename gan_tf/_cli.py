"""What the command lines (train, evaluate) share."""

import logging as std_logging
import os

from absl import logging

_PACKAGE = os.path.dirname(os.path.abspath(__file__))


class _OwnInfoOnly(std_logging.Filter):
    """Keeps gan_tf's INFO lines and everyone's warnings."""

    def filter(self, record):
        return (record.levelno >= std_logging.WARNING
                or os.path.abspath(record.pathname).startswith(_PACKAGE))


def quiet_third_party_info(flag_values):
    """Unless --verbosity was given, drops the INFO lines of TensorFlow and tfds (saver
    shards, file readers: dozens per run) from absl's handler."""
    if "verbosity" in flag_values and not flag_values["verbosity"].present:
        logging.get_absl_handler().addFilter(_OwnInfoOnly())
