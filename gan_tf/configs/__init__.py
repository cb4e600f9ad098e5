"""Configs as plain data: the schema of a run's config and the named presets.

A config is a frozen tree of dataclasses; each builder gets only its slice
(`config.data` -> the data, `config.model` -> the two models, `config.train` ->
optimizers, loss and fit, `config.callbacks` -> what the run writes). This package
imports no runtime module of gan_tf: it holds the data, the rules its fields obey and
the choice lists the runtime reads (`PRECISIONS`, `STRATEGIES`, `OPTIMIZERS`,
`ON_DIVERGENCE`, `ON_EXPLOSION`, `LATENT_DISTRIBUTIONS`, `ON_BAD_IMAGE`). The names
that only the runtime knows (losses, model families, datasets, augmentations) are
checked by building what they name: `gan_tf.tasks.validate(config)`.

    get(name), names()                     a preset, and the presets' names
    override(config, **{"train.epochs": 3})  a copy with dotted fields replaced
    override_from_strings(config, ["train.beta_1=0.7"])  the same from command-line text
    quick(config)                          any config shrunk to run in seconds
    identity(config)                       what must match to resume a run
    from_json(text)                        the config a run's config.json records
                                           (the file: gan_tf.workdir.read_config_file)

    schema.py     the dataclasses, their fields' metadata and rules, overrides
    tutorials.py  tutorial_000 ... tutorial_004: each tutorial's own code
    recipes.py    default and the other recommended recipes
"""

from gan_tf.configs import recipes
from gan_tf.configs import tutorials
from gan_tf.configs.schema import CallbacksConfig
from gan_tf.configs.schema import Config
from gan_tf.configs.schema import CYCLE_LOSS_KEYS
from gan_tf.configs.schema import DataConfig
from gan_tf.configs.schema import fields
from gan_tf.configs.schema import from_json
from gan_tf.configs.schema import identity
from gan_tf.configs.schema import LATENT_DISTRIBUTIONS
from gan_tf.configs.schema import ModelConfig
from gan_tf.configs.schema import ON_BAD_IMAGE
from gan_tf.configs.schema import ON_DIVERGENCE
from gan_tf.configs.schema import ON_EXPLOSION
from gan_tf.configs.schema import OPTIMIZERS
from gan_tf.configs.schema import override
from gan_tf.configs.schema import override_from_strings
from gan_tf.configs.schema import parse_value
from gan_tf.configs.schema import PRECISIONS
from gan_tf.configs.schema import quick
from gan_tf.configs.schema import resumable_fields
from gan_tf.configs.schema import SECTIONS
from gan_tf.configs.schema import STRATEGIES
from gan_tf.configs.schema import TrainConfig

_PRESETS = {**recipes.PRESETS, **tutorials.PRESETS}


def names():
    """The preset names `get` and --config accept."""
    return sorted(_PRESETS)


def get(name="default"):
    """Returns the preset `name` (a fresh `Config`).

    Raises:
        ValueError: unknown preset, naming the known ones.
    """
    if name not in _PRESETS:
        raise ValueError(f"unknown config {name!r}; choose one of {', '.join(names())}")
    return _PRESETS[name]()
