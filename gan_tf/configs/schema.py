"""The schema of a config: its dataclasses, their rules, and how a config is changed.

A config is a frozen tree of four sections (`Config`: `DataConfig`, `ModelConfig`,
`TrainConfig`, `CallbacksConfig`). Each field says what it is in its metadata: "help"
(the command line's help text), "flag" (its short command-line flag, if any),
"resumable" (a run may be resumed with another value), and the rule its value obeys
("min", "gt", "lt", "max", "choices", "words"), checked when a section is made, with
the field's type and that its numbers are finite (no NaN or inf).

The choice lists below are the one place their values are written: the runtime
modules that act on them (gan_tf.precision, distribute, callbacks, tasks, gan,
data) read them from here.

    override(config, **{"train.epochs": 3})              dotted fields replaced
    override_from_strings(config, ["train.beta_1=0.7"])   the same from command-line text
    parse_value(text, hint)                               one value from text
    quick(config)                                         shrunk to run in seconds
    identity(config), resumable_fields()                  what a resumed run must keep
    from_json(text)                                       a recorded config.json's config
"""

import dataclasses
import json
import math
import numbers
import typing
from typing import Optional

from absl import logging

# Compute precisions (gan_tf.precision): "auto" picks by the hardware.
PRECISIONS = ("auto", "float32", "mixed_bfloat16", "mixed_float16")
# tf.distribute strategies (gan_tf.distribute).
STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")
# What a NaN/Inf and an exploding loss do (gan_tf.callbacks.DivergenceGuard).
ON_DIVERGENCE = ("stop", "rollback")
ON_EXPLOSION = ("warn", "stop", "rollback")
# Optimizers of both networks (gan_tf.tasks.build_optimizer).
OPTIMIZERS = ("adam", "rmsprop")
# Latent noise (gan_tf.GAN): N(0, 1) or U(-1, 1).
LATENT_DISTRIBUTIONS = ("normal", "uniform")
# Unreadable image files of a folder or CelebA (gan_tf.data).
ON_BAD_IMAGE = ("fail", "skip")
# train.loss_kwargs of an image-to-image family that go to CycleGAN.compile, not the loss
CYCLE_LOSS_KEYS = ("cycle_weight", "identity_weight", "pool_size")


def _field(default, help_text, flag=None, resumable=False, factory=None, **rule):
    metadata = {"help": help_text, "flag": flag, "resumable": resumable, **rule}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


class _Checked:
    """Checks every field's type, that its numbers are finite, and its rule ("min",
    "gt", "lt", "max", "choices") when a section is made."""

    def __post_init__(self):
        hints = typing.get_type_hints(type(self))
        section = next((name for name, kind in SECTIONS.items() if kind is type(self)),
                       type(self).__name__)
        for field in dataclasses.fields(self):
            value, rule = getattr(self, field.name), field.metadata
            if value in rule.get("words", ()) and isinstance(value, str):
                continue
            _check_type(f"{section}.{field.name}", value, hints[field.name])
            _check_finite(rule.get("flag") or f"{section}.{field.name}", value)
            if value is None:
                continue
            if "words" in rule and (isinstance(value, bool) or not isinstance(value, int)):
                flag = rule.get("flag") or field.name
                raise ValueError(f"{flag} must be {_rule_text(rule)}, got {value!r}")
            bad = (("min" in rule and value < rule["min"])
                   or ("gt" in rule and not value > rule["gt"])
                   or ("lt" in rule and not value < rule["lt"])
                   or ("max" in rule and value > rule["max"])
                   or ("choices" in rule and value not in rule["choices"]))
            if bad:
                flag = rule.get("flag") or field.name
                raise ValueError(f"{flag} must be {_rule_text(rule)}, got {value!r}")


_TYPE_NAMES = {int: "an integer", float: "a number", bool: "true or false",
               str: "a string", dict: "a JSON object", tuple: "a list"}


def _accepts(value, hint):
    """Whether `value` is of type `hint` (int, float, bool, str, dict, tuple, Optional
    or Union of them); an integer is a float too (numpy's included), a bool is not
    a number."""
    if typing.get_origin(hint) is typing.Union:
        return any(_accepts(value, kind) for kind in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is dict:
        return value is None or isinstance(value, dict)  # None: the empty default
    if hint is float:
        return isinstance(value, numbers.Real) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)
    return isinstance(value, typing.get_origin(hint) or hint)


def _check_type(dotted, value, hint):
    """Raises ValueError naming the field unless `value` is of type `hint` (a config
    file's "epochs": "2")."""
    if _accepts(value, hint):
        return
    kinds = [kind for kind in typing.get_args(hint) if kind is not type(None)] or [hint]
    wanted = " or ".join(_TYPE_NAMES.get(kind, getattr(kind, "__name__", str(kind)))
                         for kind in kinds)
    if type(None) in typing.get_args(hint):
        wanted += " or null"
    raise ValueError(f"{dotted} must be {wanted}, got {value!r}")


def _check_finite(name, value):
    """Raises ValueError when `value`, or a number inside it, is NaN or infinite."""
    if (isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral)
            and not math.isfinite(value)):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if isinstance(value, dict):
        for key, item in value.items():
            _check_finite(f"{name}.{key}", item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _check_finite(name, item)


def _rule_text(rule):
    if "choices" in rule:
        return "one of " + ", ".join(rule["choices"])
    parts = []
    if "min" in rule:
        parts.append(f">= {rule['min']}")
    if "gt" in rule:
        parts.append(f"> {rule['gt']}")
    if "lt" in rule:
        parts.append(f"< {rule['lt']}")
    if "max" in rule:
        parts.append(f"<= {rule['max']}")
    return " and ".join(parts) + "".join(f" or {word}" for word in rule.get("words", ()))


@dataclasses.dataclass(frozen=True)
class DataConfig(_Checked):
    name: str = _field("mnist_sample", "Dataset: a gan_tf.data name or folder:PATH "
                       "(docs/data.md).", flag="dataset")
    name_b: Optional[str] = _field(None, "Second, unpaired dataset of an image-to-image "
                                   "model (--config=cyclegan): a --dataset name, "
                                   "optionally ending in _inverted.", flag="dataset_b")
    split: str = _field("train", "Split of the dataset to train on.")
    batch_size: int = _field(64, "Images per batch.", flag="batch_size", min=1)
    image_size: Optional[int] = _field(None, "Resize images to this size (square).",
                                       flag="image_size", min=1)
    data_dir: Optional[str] = _field(None, "tfds data directory holding prepared "
                                     "datasets.", flag="data_dir")
    manual_dir: Optional[str] = _field(None, "Folder with a dataset's original files for "
                                       "offline use (MNIST/Fashion-MNIST IDX files, "
                                       "CelebA's aligned images).", flag="manual_dir")
    on_bad_image: str = _field("fail", "Unreadable image files in a folder or CelebA: "
                               "fail or skip.", flag="on_bad_image", resumable=True,
                               choices=ON_BAD_IMAGE)


@dataclasses.dataclass(frozen=True)
class ModelConfig(_Checked):
    family: str = _field("dcgan", "Model family of both networks (gan_tf.models).",
                         flag="model")
    discriminator_family: Optional[str] = _field(None, "Discriminator family, if not "
                                                 "the generator's.")
    latent_dim: int = _field(100, "Size of the latent vector z (noise + any codes).",
                             flag="latent_dim", min=1)
    latent_distribution: str = _field("normal", "Latent noise: normal N(0, 1) or "
                                      "uniform U(-1, 1).", choices=LATENT_DISTRIBUTIONS)
    generator: dict = _field(None, "Generator constructor arguments (JSON).",
                             factory=dict)
    discriminator: dict = _field(None, "Discriminator constructor arguments (JSON).",
                                 factory=dict)
    ema_decay: Optional[float] = _field(None, "Sample from an exponential moving average "
                                        "of the generator's weights with this decay "
                                        "(e.g. 0.999).", flag="ema", gt=0, lt=1)
    ema_rampup: Optional[float] = _field(0.05, "Warm-up of the EMA: its half-life is at "
                                         "most this fraction of the steps run so far "
                                         "(StyleGAN2-ADA's ema_rampup); none: a "
                                         "constant decay from the first step.", gt=0)
    augment: Optional[str] = _field(None, "DiffAugment policy for the discriminator's "
                                    "inputs, e.g. color,translation,cutout.",
                                    flag="augment")


@dataclasses.dataclass(frozen=True)
class TrainConfig(_Checked):
    epochs: int = _field(20, "Epochs to train (total, counting resumed ones).",
                         flag="epochs", resumable=True, min=1)
    steps_per_epoch: Optional[int] = _field(None, "Training steps per epoch (default: "
                                            "one pass over the data).",
                                            flag="steps_per_epoch", min=1)
    train_minutes: Optional[float] = _field(None, "Wall-clock budget: stop training "
                                            "after N minutes (at most --epochs), then "
                                            "finish the run normally.",
                                            flag="train_minutes", resumable=True, gt=0)
    g_lr: float = _field(2e-4, "Generator learning rate.", flag="g_lr", gt=0)
    d_lr: float = _field(2e-4, "Discriminator learning rate.", flag="d_lr", gt=0)
    beta_1: float = _field(0.5, "Adam beta_1 of both optimizers.", min=0, lt=1)
    beta_2: float = _field(0.999, "Adam beta_2 of both optimizers.", min=0, lt=1)
    loss: str = _field("non_saturating", "Adversarial loss (gan_tf.losses).", flag="loss")
    loss_kwargs: dict = _field(None, "Arguments of the loss (JSON), e.g. "
                               "{\"d_steps\": 5}.", factory=dict)
    optimizer: str = _field("adam", "Optimizer of both networks.", flag="optimizer",
                            choices=OPTIMIZERS)
    grad_clip_norm: Optional[float] = _field(None, "Clip each network's global gradient "
                                             "norm.", flag="grad_clip_norm", gt=0)
    seed: int = _field(0, "Seed for weights, noise and data order.", flag="seed")
    precision: str = _field("float32", "Compute precision: auto (bf16 on CPUs with "
                            "AVX-512 BF16 / AMX and GPUs of compute capability >= 8.0, "
                            "fp16 on 7.x, else float32), float32, mixed_bfloat16, "
                            "mixed_float16 (docs/performance.md).", flag="precision",
                            choices=PRECISIONS)
    deterministic: bool = _field(False, "TensorFlow op determinism: bit-exact reruns "
                                 "and resumptions (slower on GPUs).", flag="deterministic",
                                 resumable=True)
    jit_compile: bool = _field(False, "XLA-compile the training step.", flag="jit_compile",
                               resumable=True)
    steps_per_execution: typing.Union[int, str] = _field(
        "auto", "Training steps per call from fit's Python loop: an integer, or auto "
        "(about 32 GFLOP of work per call, at most 64 steps, dividing the epoch and the "
        "*_every_steps intervals; docs/performance.md); > 1 saves per-step overhead on "
        "small models.", flag="steps_per_execution", resumable=True, min=1, words=("auto",))
    strategy: str = _field("default", "tf.distribute strategy: default, mirrored, "
                           "multi_worker (TF_CONFIG), tpu (docs/distributed.md).",
                           flag="strategy", resumable=True, choices=STRATEGIES)
    on_divergence: str = _field("stop", "A NaN/Inf loss or weight: stop (exit 3) or roll "
                                "back to the last good checkpoint with lower learning "
                                "rates.", flag="on_divergence", resumable=True,
                                choices=ON_DIVERGENCE)
    loss_limit: float = _field(1e6, "A logged loss beyond +-this (finite) counts as an "
                               "explosion.", resumable=True, gt=0)
    on_explosion: str = _field("warn", "An exploding loss, or a discriminator pinned at "
                               "zero loss while the generator's grows: warn, stop or "
                               "rollback.", flag="on_explosion", resumable=True,
                               choices=ON_EXPLOSION)
    rollback_lr_factor: float = _field(0.5, "Multiply both learning rates by this at each "
                                       "rollback.", flag="rollback_lr_factor",
                                       resumable=True, gt=0, max=1)
    rollback_reseed: bool = _field(True, "Move the noise to a new seed at each rollback.",
                                   flag="rollback_reseed", resumable=True)
    max_rollbacks: int = _field(3, "Stop after this many rollbacks.", flag="max_rollbacks",
                                resumable=True, min=0)


@dataclasses.dataclass(frozen=True)
class CallbacksConfig(_Checked):
    num_samples: int = _field(64, "Images in each sample grid.", min=1, max=1024)
    sample_columns: Optional[int] = _field(None, "Images per row of the grid (None: "
                                           "square).", min=1)
    sample_every: int = _field(1, "Epochs between sample grids.", resumable=True, min=1)
    sample_every_steps: int = _field(0, "Also write a sample grid every N training steps "
                                     "(0: never).", flag="sample_every_steps",
                                     resumable=True, min=0)
    log_every_steps: int = _field(0, "Also log the losses to TensorBoard every N training "
                                  "steps (0: per epoch only).", flag="log_every_steps",
                                  resumable=True, min=0)
    keep_checkpoints: int = _field(3, "Keep the last N checkpoints.",
                                   flag="keep_checkpoints", resumable=True, min=1)
    eval_every: int = _field(0, "Every N epochs compute FID and KID with the bundled "
                             "classifier (MNIST-like data), log them, plot metrics.png "
                             "and keep checkpoints/best.weights.h5 (0: never).",
                             flag="eval_every", resumable=True, min=0)
    eval_samples: int = _field(5000, "Real and generated images per evaluation.",
                               resumable=True, min=10)
    checkpoint_every_steps: int = _field(0, "Also checkpoint every N training steps "
                                         "inside an epoch (0: only at epoch ends).",
                                         flag="checkpoint_every_steps", resumable=True,
                                         min=0)
    collapse_every: int = _field(1, "Epochs between mode-collapse checks (0: never).",
                                 resumable=True, min=0)
    collapse_threshold: float = _field(0.1, "Warn when the samples' diversity falls "
                                       "under this fraction of the data's.",
                                       resumable=True, gt=0)


SECTIONS = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig,
            "callbacks": CallbacksConfig}


@dataclasses.dataclass(frozen=True)
class Config:
    preset: str = "default"
    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()
    callbacks: CallbacksConfig = CallbacksConfig()

    def to_dict(self):
        return dataclasses.asdict(self)

    def to_json(self):
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, d):
        """Inverse of `to_dict`; unknown keys raise ValueError."""
        kwargs = {}
        for key, value in d.items():
            if key != "preset" and key not in SECTIONS:
                raise ValueError(f"unknown config section {key!r}")
            if key != "preset" and not isinstance(value, dict):
                raise ValueError(f"config section {key!r} must be a JSON object, got "
                                 f"{value!r}")
            if isinstance(value, dict):
                known = {f.name for f in dataclasses.fields(SECTIONS[key])}
                unknown = set(value) - known
                if unknown:
                    raise ValueError(f"unknown {key} fields {sorted(unknown)}")
                value = SECTIONS[key](**value)
            kwargs[key] = value
        return cls(**kwargs)


def fields():
    """[(dotted name, dataclasses.Field, type)] of every config field, in order."""
    found = []
    for section, cls in SECTIONS.items():
        hints = typing.get_type_hints(cls)
        for field in dataclasses.fields(cls):
            found.append((f"{section}.{field.name}", field, hints[field.name]))
    return found


# Choosing another model family or loss drops the preset's options of the old one: a
# wgan preset's clip_value means nothing to the hinge loss.
_RESETS = {"model.family": ("model.discriminator_family", "model.generator",
                            "model.discriminator"),
           "train.loss": ("train.loss_kwargs",)}


def override(config, **fields):
    """Returns `config` with dotted fields replaced, e.g. override(c, **{"train.epochs": 3}).

    A new `model.family` or `train.loss` also resets the options that belonged to the
    old one (the models' and the loss's keyword arguments), unless they are given too.

    Raises:
        ValueError: an unknown field, or a value its rule refuses.
    """
    fields = dict(fields)
    for key, dependents in _RESETS.items():
        section, name = key.split(".")
        if key in fields and fields[key] != getattr(getattr(config, section), name):
            dropped = {d: _empty(config, d) for d in dependents if d not in fields}
            changed = {d: v for d, v in dropped.items() if _get(config, d) != v}
            if changed:
                logging.info("%s=%s replaces %s and its options %s", name, fields[key],
                             _get(config, key), ", ".join(
                                 f"{d.split('.')[1]}={_get(config, d)!r}" for d in changed))
            fields = {**dropped, **fields}
    sections = {}
    for dotted, value in fields.items():
        section, _, name = dotted.partition(".")
        if section not in SECTIONS or name not in {
                f.name for f in dataclasses.fields(SECTIONS[section])}:
            raise ValueError(f"unknown config field {dotted!r}; see --helpconfig")
        sections.setdefault(section, {})[name] = value
    for section, values in sections.items():
        config = dataclasses.replace(
            config, **{section: dataclasses.replace(getattr(config, section), **values)})
    return config


def _get(config, dotted):
    section, name = dotted.split(".")
    return getattr(getattr(config, section), name)


def _empty(config, dotted):
    return {} if isinstance(_get(config, dotted), dict) else None


def override_from_strings(config, assignments):
    """`override` from "section.field=value" texts (the command line's --set).

    Values are parsed by the field's type: numbers, true/false, none, text (bare or a
    JSON string, "..."), JSON for dicts and lists; a key below a dict field sets one entry
    ("model.generator.base_channels=16").

    Raises:
        ValueError: a malformed assignment, an unknown field or a value that does not
            parse as the field's type; the message names the assignment.
    """
    types = {name: hint for name, _, hint in fields()}
    updates = {}
    for text in assignments:
        dotted, sep, raw = str(text).partition("=")
        dotted = dotted.strip().removeprefix("config.")
        parts = dotted.split(".")
        if not sep or len(parts) < 2:
            raise ValueError(f"--set {text!r}: write section.field=value, e.g. "
                             "train.beta_1=0.7")
        field = ".".join(parts[:2])
        if field not in types:
            raise ValueError(f"--set {text!r}: unknown config field {field!r}; see "
                             "--helpconfig")
        try:
            if len(parts) > 2:  # one entry of a dict field
                if typing.get_origin(types[field]) is not None or types[field] is not dict:
                    raise ValueError(f"{field} is not a dict")
                entries = dict(updates.get(field, _get(config, field)) or {})
                entries[".".join(parts[2:])] = _parse_literal(raw)
                updates[field] = entries
            else:
                updates[field] = parse_value(raw, types[field])
        except ValueError as error:
            raise ValueError(f"--set {text!r}: {error}") from None
    return override(config, **updates)


def parse_value(text, hint):
    """Parses command-line `text` as a value of type `hint` (int, float, bool, str,
    dict, tuple, Optional[...]).

    Raises:
        ValueError: `text` is not such a value.
    """
    text = str(text).strip()
    if typing.get_origin(hint) is typing.Union:  # Optional[X], or X or Y
        kinds = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(kinds) < len(typing.get_args(hint)) and text.lower() in ("none", "null", ""):
            return None
        for kind in kinds[:-1]:  # the first type that parses the text
            try:
                return parse_value(text, kind)
            except ValueError:
                pass
        hint = kinds[-1]
    if hint is bool:
        lowered = text.lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
        raise ValueError(f"expected true or false, got {text!r}")
    if hint in (int, float):
        try:
            return hint(text)
        except ValueError:
            raise ValueError(f"expected {hint.__name__}, got {text!r}") from None
    if hint is str:
        if len(text) >= 2 and text[0] == text[-1] == '"':  # a JSON string: its text
            try:
                return json.loads(text)
            except ValueError:
                pass
        return text
    value = _parse_literal(text)
    if hint is dict and not isinstance(value, dict):
        raise ValueError(f"expected a JSON object, got {text!r}")
    return _lists_to_tuples(value)


def _parse_literal(text):
    try:
        return _lists_to_tuples(json.loads(text))
    except ValueError:
        return text  # a bare word: a string


def resumable_fields():
    """Dotted names of the fields a run may be resumed with other values of."""
    return tuple(name for name, field, _ in fields() if field.metadata.get("resumable"))


def identity(config):
    """The config without its resumable fields: what must match to resume a run."""
    values = json.loads(json.dumps(config.to_dict()))  # tuples -> lists
    for dotted in resumable_fields():
        section, name = dotted.split(".")
        values.get(section, {}).pop(name, None)
    return values


def from_json(text):
    """The `Config` in the JSON text of a run's config.json (it reproduces that run);
    fields added since that run was recorded take their defaults. File I/O is not
    done here: `gan_tf.workdir.read_config_file` reads the file.

    Raises:
        ValueError: the text is not JSON, not an object, or not a config (an unknown
            section or field, a value its rule refuses); the message is the reason.
    """
    recorded = json.loads(text)
    if not isinstance(recorded, dict):
        raise ValueError("not a JSON object")
    try:
        return Config.from_dict(_lists_to_tuples(recorded))
    except (TypeError, AttributeError) as error:  # a value of the wrong type
        raise ValueError(str(error)) from error


def _lists_to_tuples(value):
    if isinstance(value, dict):
        return {k: _lists_to_tuples(v) for k, v in value.items()}
    if isinstance(value, list):
        return tuple(_lists_to_tuples(v) for v in value)
    return value


def quick(config):
    """Shrinks any config to run in seconds: 2 epochs of 3 steps, batch 16, 16 samples,
    one step per execution (so that per-step callbacks see every step)."""
    return override(config, **{
        "train.epochs": 2, "train.steps_per_epoch": 3, "train.train_minutes": None,
        "train.steps_per_execution": 1,
        "data.batch_size": min(config.data.batch_size, 16),
        "callbacks.num_samples": 16})
