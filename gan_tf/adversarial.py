"""What every adversarial model of gan_tf shares: `AdversarialModel(keras.Model)`.

`GAN` (a generator and a discriminator, gan.py) and `CycleGAN` (two of each,
cyclegan.py) differ in their networks, their `train_step` and how they sample or
translate. Everything else is here, once:

- `compile(g_optimizer, d_optimizer, loss)`: two optimizers (wrapped in loss scaling
  under mixed_float16), an adversarial loss from `gan_tf.losses`, and one
  `keras.metrics.Mean` per logged value (`metrics`, reset by `fit` every epoch);
- the training-step counter (`train_steps`), the state of every random generator and
  a subclass's `extra_state` (CycleGAN's image pools), saved with the weights, so a
  restored model continues exactly;
- get_config / from_config of the networks, compile configs, optimizer slots built
  before a restore (`build_optimizers`);
- `fit` that keeps one tf.data iterator per call and whole epochs with
  steps_per_execution > 1, and chooses it from the step's FLOPs with
  `steps_per_execution="auto"` (gan_tf.flops);
- losses divided by the number of replicas under a `tf.distribute` strategy, and logs
  shaped for Keras' multi-worker reduction.

Sampling and export are not the training contract: gan_tf.sampling and gan_tf.export.
"""

from absl import logging
import keras
import numpy as np
import tensorflow as tf

from gan_tf import _keras_compat
from gan_tf import distribute
from gan_tf import flops
from gan_tf import losses

_STEPS_KEY = "train_steps"
_RNG_STATES_KEY = "rng_states"  # every SeedGenerator of the model
_EXTRA_STATE_PREFIX = "state_"  # + an `extra_state` name


class _UntrackedVariable:
    """Holds a variable out of Keras' weight tracking (the weights' layout stays)."""

    def __init__(self, variable):
        self.variable = variable


class AdversarialModel(keras.Model):
    """Base of the models `fit` trains adversarially; see the module docstring.

    Subclasses set `NETWORKS` (the constructor arguments that are Keras models, in
    order), call `_set_networks(**networks)` in `__init__`, and implement
    `train_step`, `optimizer_targets` and `tracker_names`.
    """

    NETWORKS = ()
    DEFAULT_LOSS = "non_saturating"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # Training steps run so far (saved with the weights): the data position of a
        # resumed run and the step count of mid-epoch checkpoints.
        self._steps = _UntrackedVariable(tf.Variable(
            0, dtype=tf.int64, trainable=False, name="train_steps",
            aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA))
        self.gan_loss = None
        self._trackers = {}
        # Step counts that callbacks act on (checkpoint_every_steps, ...): with
        # steps_per_execution="auto", fit calls end on their multiples.
        self.step_intervals = ()

    def _set_networks(self, **networks):
        for role, model in networks.items():
            if not isinstance(model, keras.layers.Layer):
                raise TypeError(f"{role} must be a Keras model, got {type(model).__name__}")
            setattr(self, role, model)
        if all(model.built for model in networks.values()):
            self.built = True

    @property
    def networks(self):
        """The networks, in `NETWORKS` order."""
        return tuple(getattr(self, role) for role in self.NETWORKS)

    # -- Compiling ----------------------------------------------------------------------

    def compile(self, g_optimizer=None, d_optimizer=None, loss=None, **kwargs):
        """Sets the optimizers and the adversarial loss.

        Args:
            g_optimizer: optimizer of the generator(s) (a Keras optimizer or its
                name); default Adam(2e-4, beta_1=0.5) as in DCGAN.
            d_optimizer: optimizer of the discriminator(s); same default.
            loss: a name from `gan_tf.losses.names()` or a `gan_tf.losses.GANLoss`;
                default `DEFAULT_LOSS`.
            **kwargs: passed to `keras.Model.compile` (`steps_per_execution`,
                `jit_compile`, `run_eagerly`). `steps_per_execution="auto"` lets `fit`
                choose it: about AUTO_TARGET_FLOPS of work per call, a divisor of
                the epoch and of `step_intervals` (gan_tf.flops).

        Raises:
            ValueError: an unknown loss, one the model cannot train with, or a
                steps_per_execution that is neither an integer >= 1 nor "auto".
            TypeError: `optimizer=` given instead of `g_optimizer`/`d_optimizer`.
        """
        if "optimizer" in kwargs:
            raise TypeError(f"{type(self).__name__}.compile takes g_optimizer= and "
                            "d_optimizer=, not optimizer=")
        gan_loss = losses.get(self.DEFAULT_LOSS if loss is None else loss)
        self._check_loss(gan_loss)
        wanted = kwargs.pop("steps_per_execution", 1)
        if wanted != "auto" and (isinstance(wanted, bool) or not isinstance(
                wanted, (int, np.integer)) or wanted < 1):
            raise ValueError(f"steps_per_execution must be an integer >= 1 or \"auto\", "
                             f"got {wanted!r}")
        super().compile(optimizer=None, steps_per_execution=1 if wanted == "auto"
                        else int(wanted), **kwargs)
        self._wanted_steps_per_execution = wanted if wanted == "auto" else int(wanted)
        self._auto_step_flops = None  # (element_spec text, FLOPs) once counted
        optimizers = []
        for optimizer in (g_optimizer, d_optimizer):
            optimizer = keras.optimizers.get(optimizer or keras.optimizers.Adam(
                2e-4, beta_1=0.5))
            if keras.mixed_precision.global_policy().name == "mixed_float16" and \
                    not isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
                optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
            optimizers.append(optimizer)
        self.g_optimizer, self.d_optimizer = optimizers
        self.gan_loss = gan_loss
        self._trackers = {name: keras.metrics.Mean(name=name)
                          for name in self.tracker_names()}

    def _check_loss(self, gan_loss):
        """Raises ValueError for a loss this model cannot train with."""

    def tracker_names(self):
        """The names of the values `train_step` logs."""
        raise NotImplementedError

    def optimizer_targets(self):
        """[(optimizer, variables it updates), ...]."""
        raise NotImplementedError

    def step_flops(self, element_spec):
        """FLOPs of one `train_step` on a batch of `element_spec` (fit's dataset
        element, static batch size), or None when unknown (subclasses)."""
        return None

    def build_optimizers(self):
        """Creates the optimizers' slots (Adam moments...) so a restore can fill them."""
        if not self.built:
            self.build()
        # Slots must live under the strategy that made the model (fit() is often
        # called outside its scope).
        with self.distribute_strategy.scope():
            for optimizer, variables in self.optimizer_targets():
                if not optimizer.built:
                    optimizer.build(variables)

    def compile_options(self):
        """Arguments of `compile` beyond the optimizers and the loss (subclasses)."""
        return {}

    def get_compile_config(self):
        if self.gan_loss is None:
            return None
        return {"g_optimizer": keras.optimizers.serialize(self.g_optimizer),
                "d_optimizer": keras.optimizers.serialize(self.d_optimizer),
                "loss": keras.saving.serialize_keras_object(self.gan_loss),
                **self.compile_options()}

    def compile_from_config(self, config):
        config = dict(config)
        self.compile(g_optimizer=keras.optimizers.deserialize(config.pop("g_optimizer")),
                     d_optimizer=keras.optimizers.deserialize(config.pop("d_optimizer")),
                     loss=keras.saving.deserialize_keras_object(config.pop("loss")),
                     **config)
        self.build_optimizers()

    # -- Configs and saved state --------------------------------------------------------

    def get_config(self):
        config = super().get_config()
        config.update({role: keras.saving.serialize_keras_object(getattr(self, role))
                       for role in self.NETWORKS})
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        for role in cls.NETWORKS:
            config[role] = keras.saving.deserialize_keras_object(
                config[role], custom_objects=custom_objects)
        return cls(**config)

    def extra_state(self):
        """{name: tf.Variable} of training state that is neither a Keras weight nor a
        random generator's state nor the step count (subclasses: CycleGAN's image
        pools). It is saved with the weights and compared across workers."""
        return {}

    @property
    def train_steps(self):
        """Training steps (batches) run so far, restored with the weights."""
        return int(self._steps.variable.numpy())

    def save_own_variables(self, store):
        # SeedGenerators are not in `weights`: store their states here so a restored
        # model continues the same noise, dropout and augmentation sequences.
        super().save_own_variables(store)
        states = _keras_compat.random_states(self)
        if states:
            store[_RNG_STATES_KEY] = np.stack([np.asarray(v.numpy()) for v in states])
        store[_STEPS_KEY] = np.asarray(self.train_steps, np.int64)
        for name, variable in self.extra_state().items():
            store[_EXTRA_STATE_PREFIX + name] = np.asarray(variable.numpy())

    def load_own_variables(self, store):
        keys = list(store.keys())
        states = _keras_compat.random_states(self)
        if _RNG_STATES_KEY in keys:
            saved = np.asarray(store[_RNG_STATES_KEY])
            if len(saved) == len(states):
                for variable, value in zip(states, saved):
                    variable.assign(value.astype(variable.dtype))
        if _STEPS_KEY in keys:
            self._steps.variable.assign(int(np.asarray(store[_STEPS_KEY])))
        # Extra state the file lacks stays as it is (a file from before it existed);
        # extra state the model lacks (e.g. pools of a model compiled without) is left.
        for name, variable in self.extra_state().items():
            if _EXTRA_STATE_PREFIX + name in keys:
                value = np.asarray(store[_EXTRA_STATE_PREFIX + name])
                if value.shape != tuple(variable.shape):
                    raise ValueError(f"{name} holds shape {value.shape} in the file and "
                                     f"{tuple(variable.shape)} in the model")
                variable.assign(value)
        own = (_RNG_STATES_KEY, _STEPS_KEY)
        super().load_own_variables({k: store[k] for k in keys if k not in own
                                    and not k.startswith(_EXTRA_STATE_PREFIX)})

    # -- Training -----------------------------------------------------------------------

    @property
    def metrics(self):
        # fit() resets these at the start of every epoch.
        return list(self._trackers.values())

    def _require_compiled(self):
        if self.gan_loss is None:
            raise RuntimeError(f"call {type(self).__name__}.compile(g_optimizer, "
                               "d_optimizer, loss) before fit")

    def _count_step(self, logs):
        """Counts the step, updates the trackers; returns the logs fit reports."""
        self._steps.variable.assign_add(1)
        for name, value in logs.items():
            self._trackers[name].update_state(value)
        results = {name: tracker.result() for name, tracker in self._trackers.items()}
        if distribute.is_multi_worker(self.distribute_strategy):
            # Keras reduces a multi-worker run's logs with reduce("MEAN", axis=0),
            # which a scalar does not have (tensorflow/tensorflow#72388): give every
            # log a length-1 axis, which that reduction removes again.
            results = {name: tf.reshape(value, [1]) for name, value in results.items()}
        return results

    def _scale_for_replicas(self, loss, optimizer):
        # Each replica computes the mean over its part of the batch and the strategy
        # sums gradients over replicas: divide so the sum is the global-batch mean.
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        if replicas > 1:
            loss = loss / tf.cast(replicas, loss.dtype)
        return optimizer.scale_loss(loss)

    def _apply(self, tape, loss, optimizer, variables):
        """Applies d(loss)/d(variables), scaled as `_scale_for_replicas` scales the
        loss (the seed gradient carries the factor, so the tape need not have
        recorded the scaling)."""
        factor = self._scale_for_replicas(tf.ones_like(loss), optimizer)
        gradients = tape.gradient(loss, variables, output_gradients=factor)
        optimizer.apply_gradients(zip(gradients, variables))

    def _prepare_fit_data(self, args, kwargs):
        """fit's (args, kwargs) before Keras sees them (GAN groups critic batches)."""
        return args, kwargs

    def fit(self, *args, shuffle=False, **kwargs):
        # Optimizer slots created inside the first trace would make tf.function trace
        # train_step a second time; create them here, once.
        if self.gan_loss is not None:
            self.build_optimizers()
            args, kwargs = self._prepare_fit_data(args, kwargs)
        args, kwargs = one_iterator_per_fit(args, kwargs)
        if distribute.is_multi_worker(self.distribute_strategy):
            kwargs["callbacks"] = [distribute.SameStatistics(),
                                   *(kwargs.get("callbacks") or ())]
        self._fit_steps_per_execution(kwargs.get("steps_per_epoch"),
                                      args[0] if args else kwargs.get("x"))
        # Datasets come shuffled from gan_tf.data; Keras would only warn about shuffle=True.
        return super().fit(*args, shuffle=shuffle, **kwargs)

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Keras' TensorFlow trainer takes a batch here and averages it over the
        # replicas only to build unbuilt layers. Under MultiWorkerMirroredStrategy that
        # average fails for batches that are tuples ((images, labels), CycleGAN's
        # (a, b)) and costs a collective for the others; fit() has built the networks
        # and optimizers already.
        if all(layer.built for layer in self._flatten_layers()):
            return
        super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    def _fit_steps_per_execution(self, steps_per_epoch, data=None):
        # Keras runs whole executions of steps_per_execution steps, so an epoch of
        # steps_per_epoch steps that is no multiple of it would run past its end (and
        # shift the step count that checkpoints and resumption rely on): use the
        # largest divisor of steps_per_epoch not above the compiled value instead.
        wanted = getattr(self, "_wanted_steps_per_execution", None)
        if wanted is None:
            wanted = self._wanted_steps_per_execution = int(self.steps_per_execution)
        if wanted == "auto":
            chosen = flops.choose_steps_per_execution(
                self._step_flops_of(data), steps_per_epoch, self.step_intervals)
        else:
            chosen = flops.largest_divisor(wanted, (steps_per_epoch,))
        strategy = self.distribute_strategy
        if strategy.num_replicas_in_sync > 1 and not isinstance(
                strategy, tf.distribute.TPUStrategy):
            # Keras' loop of several steps per call fails under (MultiWorker)
            # MirroredStrategy with more than one replica (TF 2.21: "You must feed a
            # value for placeholder ... while/cond").
            chosen = 1
        if chosen != self.steps_per_execution:
            logging.info("steps_per_execution %s -> %d", wanted, chosen)
            self.steps_per_execution = chosen
            if getattr(self, "train_function", None) is not None:
                self.make_train_function(force=True)  # retraced for the new value

    def _step_flops_of(self, data):
        """FLOPs of one step per replica on `data` (a tf.data.Dataset), counted once."""
        if not isinstance(data, tf.data.Dataset):
            return None
        key = str(data.element_spec)
        if self._auto_step_flops is None or self._auto_step_flops[0] != key:
            try:
                count = self.step_flops(data.element_spec)
            except (ValueError, TypeError, tf.errors.OpError) as error:
                logging.warning("steps_per_execution auto: cannot count the step's "
                                "FLOPs (%s); using 1", error)
                count = None
            if count:
                count /= self.distribute_strategy.num_replicas_in_sync
            self._auto_step_flops = (key, count)
        return self._auto_step_flops[1]

    def test_step(self, data):
        raise NotImplementedError(f"{type(self).__name__} has no validation step; "
                                  "evaluate its images with gan_tf.metrics instead")


def unpack(data):
    """Splits a batch into (images, labels or None).

    Datasets may yield `images`, `(images,)`, `(images, labels)` or dicts with an
    "image" key (and optionally "label").
    """
    if isinstance(data, dict):
        return data["image"], data.get("label")
    if isinstance(data, (tuple, list)):
        if len(data) == 1:
            return data[0], None
        return data[0], data[1]
    return data, None


def one_iterator_per_fit(args, kwargs):
    """`fit`'s (args, kwargs) with a finite tf.data.Dataset of known length n and no
    steps_per_epoch replaced by `dataset.repeat()` and steps_per_epoch=n.

    The epochs are the same batches, in the same (reshuffled) order, but Keras then
    keeps one iterator for the whole `fit` instead of one per epoch: closing a
    tf.data iterator waits for its autotuning thread, which sleeps in periods of
    10 ms doubling up to seconds (docs/performance.md). Anything else is returned
    unchanged.
    """
    args, kwargs = list(args), dict(kwargs)
    in_args = bool(args)
    data = args[0] if in_args else kwargs.get("x")
    if kwargs.get("steps_per_epoch") is not None or not isinstance(data, tf.data.Dataset):
        return tuple(args), kwargs
    length = int(data.cardinality())
    if length <= 0:  # unknown, infinite or empty: Keras' own handling
        return tuple(args), kwargs
    if in_args:
        args[0] = data.repeat()
    else:
        kwargs["x"] = data.repeat()
    kwargs["steps_per_epoch"] = length
    return tuple(args), kwargs
