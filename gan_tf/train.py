"""Command line training: flags -> config -> `gan_tf.trainer.train_and_evaluate`.

    python -m gan_tf.train                        # the default preset, offline
    python -m gan_tf.train --config=tutorial_002 --dataset=mnist --epochs=20 \\
        --workdir=runs/mlp
    python -m gan_tf.train --config=wgan --set=train.beta_2=0.99 --config.train.seed=3
    python -m gan_tf.train --flagfile=my.flags
    python -m gan_tf.train --helpconfig           # every config field and its value
    python -m gan_tf.train --config=wgan_gp --helpconfig    # ... in preset wgan_gp

A workdir holds config.json, history.json, losses.png, samples/ (epoch_NNNN.png,
progress.gif), logs/ (TensorBoard), checkpoints/ and generator/ (the exported
SavedModel). Running the same command again resumes from the last checkpoint;
--restart starts over. Exit status: 0 done, 2 bad input (one line "error: ..."),
3 diverged, 4 another worker of a multi-worker run stopped (start them all again to
resume), 130 / 143 interrupted by SIGINT / SIGTERM (the last step is saved; with
several workers, a signal to any of them stops all after the same step).

Every config field has one generic spelling, `--set=section.field=value` (or
`--config.section.field=value`); the common ones also have a short flag, listed by
--help. The flags exist only while this command runs: importing gan_tf defines none.
"""

import os
import signal
import sys
import typing

from absl import flags
from absl import logging

from gan_tf import _cli
from gan_tf import checkpoint
from gan_tf import configs
from gan_tf import data
from gan_tf import distribute
from gan_tf import fileio
from gan_tf import interrupt
from gan_tf import losses
from gan_tf import models
from gan_tf import trainer
from gan_tf import workdir as workdir_lib
from gan_tf.data import prepared

EXIT_USAGE, EXIT_DIVERGED, EXIT_WORKER_LOST = 2, 3, 4
EXIT_SIGINT, EXIT_SIGTERM = interrupt.EXIT_CODES["SIGINT"], interrupt.EXIT_CODES["SIGTERM"]


def define_flags(flag_values):
    """Defines the training CLI's flags on `flag_values`: the run's own, and one short
    flag per config field that names one (its help and type from the field)."""
    where = {"flag_values": flag_values}
    flags.DEFINE_string("config", "default", f"Preset: one of {', '.join(configs.names())}"
                        "; or a run's config.json to reproduce that run.", **where)
    flags.DEFINE_multi_string("set", [], "Any config field: --set=section.field=value "
                              "(repeatable; also --config.section.field=value). "
                              "--helpconfig lists them.", **where)
    flags.DEFINE_string("workdir", None, "Folder for every output of the run (any "
                        "tf.io.gfile path; default runs/<preset>).", **where)
    flags.DEFINE_bool("restart", False, "Delete the workdir's previous run (gan_tf's "
                      "files only) and start over.", **where)
    flags.DEFINE_bool("quick", False, "Shrink the preset to a few steps (smoke test).",
                      **where)
    flags.DEFINE_integer("verbose", 1, "Keras fit verbosity: 0 silent, 1 progress bar, "
                         "2 one line per epoch.", **where)
    flags.DEFINE_string("resume_from", None, "Resume from this checkpoint (e.g. "
                        "ckpt-0003) instead of the newest; newer ones move to "
                        "checkpoints/abandoned/.", **where)
    flags.DEFINE_enum("on_data_change", "refuse", list(trainer.ON_DATA_CHANGE),
                      "Resuming on data that changed since the run started: refuse or "
                      "continue.", **where)
    flags.DEFINE_bool("helpconfig", False, "List every config field with its value in the "
                      "config the other flags make (--config, --set...) and exit.", **where)
    choices = {"config": configs.names(), "loss": losses.names(),
               "model": list(models.families()) + list(models.translation_families()),
               "dataset": list(data.names()) + ["folder:PATH"]}
    for dotted, field, hint in configs.fields():
        if field.metadata.get("flag"):
            _define_field_flag(flag_values, field, hint, choices)


def _define_field_flag(flag_values, field, hint, choices):
    name = field.metadata["flag"]
    help_text = field.metadata["help"]
    if name in choices:
        help_text += f" One of: {', '.join(choices[name])}."
    if "choices" in field.metadata:
        help_text += f" One of: {', '.join(field.metadata['choices'])}."
    kinds = _value_types(hint)
    define = {bool: flags.DEFINE_bool, int: flags.DEFINE_integer,
              float: flags.DEFINE_float}.get(kinds[0], flags.DEFINE_string)
    if len(kinds) > 1:  # e.g. an integer or "auto": text, parsed by config_from_flags
        define = flags.DEFINE_string
    define(name, None, help_text, flag_values=flag_values)


def _value_types(hint):
    """The types a field of type `hint` takes besides None: [int, str] for
    Union[int, str], [int] for Optional[int] and int."""
    return [a for a in typing.get_args(hint) if a is not type(None)] or [hint]


def config_aliases():
    """{short flag: dotted config field}, generated from the fields' metadata."""
    return {field.metadata["flag"]: dotted for dotted, field, _ in configs.fields()
            if field.metadata.get("flag")}


def expand_config_flags(argv):
    """argv with ml_collections' spelling --config.section.field=value as --set=..."""
    return [f"--set={arg[len('--config.'):]}" if arg.startswith("--config.") else arg
            for arg in argv]


def config_from_flags(flag_values):
    """The preset named by --config, shrunk by --quick, with the short flags and then
    the --set assignments applied.

    Raises:
        _cli.UsageError: an unknown preset or field, or a value its field refuses.
    """
    try:
        config = _preset_or_recorded(flag_values.config)
        if flag_values.quick:  # before the flags, so that explicit flags win
            config = configs.quick(config)
        hints = {dotted: hint for dotted, _, hint in configs.fields()}
        fields = {dotted: flag_values[name].value
                  for name, dotted in config_aliases().items()
                  if flag_values[name].value is not None}
        fields = {dotted: configs.parse_value(value, hints[dotted])
                  if len(_value_types(hints[dotted])) > 1 else value
                  for dotted, value in fields.items()}
        config = configs.override(config, **fields)
        return configs.override_from_strings(config, flag_values.set)
    except ValueError as error:
        raise _cli.UsageError(str(error)) from error


def _preset_or_recorded(name):
    """The config --config names: a preset, or the config a run's config.json records
    (a path ending in ".json"), which reproduces that run.

    Raises:
        ValueError: an unknown preset, or a config.json that cannot be read.
    """
    if not str(name).endswith(".json"):
        return configs.get(name)
    try:
        return workdir_lib.read_config_file(name)
    except Exception as error:  # noqa: BLE001 - gfile, JSON and field errors alike
        reason = str(error).strip().splitlines()[0] if str(error).strip() else \
            type(error).__name__
        raise ValueError(f"cannot read the config {name}: {reason}") from error


def config_from_argv(argv):
    """The config `python -m gan_tf.train ARGV` would run (argv[0] is the program).

    Raises:
        _cli.UsageError: as the command line would report it.
    """
    flag_values = _cli.new_flag_values(define_flags)
    _cli.parse(flag_values, expand_config_flags(list(argv)))
    return config_from_flags(flag_values)


def describe_config_fields(config=None):
    """The --helpconfig text: every field with its type, help and its value in `config`
    (the config the command's other flags make; default: the default preset)."""
    config = configs.get() if config is None else config
    lines = [f"Config fields (set any with --set=section.field=value), each = its value "
             f"in preset {config.preset!r} with this command's other flags applied:", ""]
    values = config.to_dict()
    for dotted, field, hint in configs.fields():
        section, name = dotted.split(".")
        flag = f" (--{field.metadata['flag']})" if field.metadata.get("flag") else ""
        type_name = " or ".join(kind.__name__ for kind in _value_types(hint))
        type_name += " or None" if type(None) in typing.get_args(hint) else ""
        lines.append(f"  {dotted}{flag}: {type_name} = {values[section][name]!r}")
        lines.append(f"      {field.metadata['help']}")
    return "\n".join(lines)


def main(argv=None):
    """Runs the training CLI on `argv` (sys.argv by default); returns the exit status."""
    argv = expand_config_flags(list(sys.argv if argv is None else argv))
    flag_values = _cli.new_flag_values(define_flags)
    if _cli.wants_help(argv):
        _cli.print_help(flag_values, "gan_tf.train", __doc__)
        return 0
    with interrupt.monitoring():
        try:
            _cli.parse(flag_values, argv)
            _cli.setup_logging(flag_values)
            config = config_from_flags(flag_values)
            if flag_values.helpconfig:
                print(describe_config_fields(config))
                return 0
            workdir = flag_values.workdir or os.path.join("runs", config.preset)
            return _train(config, workdir, flag_values)
        except _cli.UsageError as error:
            return _cli.fail(error)
        except interrupt.Interrupted as interrupted:
            return _report_interrupted(interrupted, flag_values)


def _train(config, workdir, flag_values):
    try:
        # TensorFlow's autograph and tfds write temporary files that only an orderly
        # exit deletes: a folder of this run's holds them, deleted after it, or by
        # the next run when this one is killed.
        with prepared.private_tempdir():
            trainer.train_and_evaluate(
                config, workdir, restart=flag_values.restart,
                verbose=flag_values.verbose, resume_from=flag_values.resume_from,
                on_data_change=flag_values.on_data_change)
        monitor = interrupt.active()
        if monitor.received:  # a signal at the very end, whose exception was dropped
            raise trainer.interrupted_in(workdir, interrupt.Interrupted(monitor.requested),
                                         flag_values.resume_from)
    except (trainer.UsageError, checkpoint.CheckpointError,
            data.DatasetUnavailableError, distribute.WorkersDisagreeError) as error:
        return _cli.fail(error)
    except trainer.DivergedError as error:
        _cli.fail(error)
        return EXIT_DIVERGED
    except distribute.WorkerLostError as error:
        _cli.fail(error)
        return EXIT_WORKER_LOST
    _report_done(workdir)
    return 0


def _report_done(workdir):
    samples = fileio.join(workdir, "samples")
    grids = [f for f in fileio.listdir(samples) if f.endswith(".png")]
    where = os.path.abspath(workdir) if fileio.is_local(workdir) else workdir
    print(f"done: {where}")
    if grids:
        print(f"  last samples: {fileio.join(samples, sorted(grids)[-1])}")
        print(f"  training GIF: {fileio.join(samples, 'progress.gif')}")
    print(f"  TensorBoard:  tensorboard --logdir {fileio.join(workdir, 'logs')}")


def _report_interrupted(interrupted, flag_values):
    if interrupted.path:
        where = (f"step {interrupted.step} (epoch {interrupted.epoch}) is saved in "
                 f"{interrupted.path}")
    else:
        where = "no training step was saved"
    print(f"\ninterrupted ({interrupted.signal_name}): {where}; run {interrupted.rerun} "
          "again to resume", file=sys.stderr)
    return interrupted.exit_code


def run(argv=None):
    """The console entry point: `main`, then exit with its status."""
    status = main(argv)
    # The run is over and its files are written: a signal now would only kill Python's
    # and TensorFlow's teardown (Python resets its own handlers to the defaults there,
    # so the process would die of the signal without a word; it keeps SIG_IGN).
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)
    if not os.environ.get("TF_CONFIG"):
        # Every file is written and closed, and there is nothing left to clean up.
        # Python's teardown could still wait up to tens of seconds on tf.data's
        # threads while it frees the training iterator (docs/performance.md, "The
        # default command, wall clock"), so a single process ends here. A worker of a
        # multi-worker run (TF_CONFIG) exits through the teardown, which also shuts
        # down its part of TensorFlow's coordination service.
        logging.flush()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    sys.exit(status)


if __name__ == "__main__":
    run()
