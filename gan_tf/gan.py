"""The GAN wrapper: one `keras.Model` whose `train_step` trains any generator/discriminator pair.

`GAN` takes two Keras models and a latent size. `compile` takes the two optimizers and
a loss (a name or a `gan_tf.losses.GANLoss`); `fit` then runs `train_step` under
`tf.function` on CPU, GPU or inside a `tf.distribute` strategy scope. Variants of GANs
differ in their models and their loss object, never in this loop.

Latent noise is drawn inside the step from a `keras.random.SeedGenerator` owned by the
model; its state is saved with the weights, so a restored model continues the same
noise sequence.
"""

import inspect
import json
import os

import keras
import numpy as np
import tensorflow as tf

from gan_tf import augment as augment_lib
from gan_tf import losses
from gan_tf import noise

LATENT_DISTRIBUTIONS = ("normal", "uniform")
EXPORT_METADATA = "gan_tf_export.json"
_RNG_KEY = "noise_rng_state"
_RNG_STATES_KEY = "rng_states"      # every SeedGenerator of the GAN (dropout...)
_STEPS_KEY = "train_steps"


class _Holder:
    """Keeps a variable out of Keras' weight tracking (its layout stays unchanged)."""

    def __init__(self, variable):
        self.variable = variable


def unpack(data):
    """Splits a batch from the dataset into (real_images, labels or None).

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


@keras.saving.register_keras_serializable(package="gan_tf")
class GAN(keras.Model):
    """A generator and a discriminator trained against each other by `fit`.

    Args:
        generator: a Keras model mapping latents (batch, latent_dim) to images
            (batch, H, W, C) in [-1, 1]; for a conditional GAN it takes
            `(latents, labels)`.
        discriminator: a Keras model mapping images (and labels, when conditional)
            to logits (batch, 1); no final sigmoid.
        latent_dim: size of the latent vector, > 0.
        seed: seed of the noise `SeedGenerator`; None draws one at random.
        latent_distribution: "normal" (N(0, 1), the default) or "uniform" (U(-1, 1)).
        conditional: feed labels to both models (set by conditional model families).
        ema_decay: keep an exponential moving average of the generator's weights with
            this decay (e.g. 0.999) and sample from it; None disables it.
        augment: DiffAugment policy applied to every discriminator input, e.g.
            "color,translation,cutout" (see gan_tf.augment); None disables it.

    Example:

        gan = GAN(models.dcgan.Generator(100, (28, 28, 1)),
                  models.dcgan.Discriminator((28, 28, 1)), latent_dim=100)
        gan.compile(keras.optimizers.Adam(2e-4, beta_1=0.5),
                    keras.optimizers.Adam(2e-4, beta_1=0.5))
        gan.fit(dataset, epochs=5)
        images = gan.generate(16, seed=0)   # (16, 28, 28, 1) float32 in [-1, 1]

    Raises:
        ValueError: latent_dim <= 0, an unknown latent_distribution or augmentation,
            or ema_decay outside (0, 1).
        TypeError: generator or discriminator is not a Keras model.
    """

    def __init__(self, generator, discriminator, latent_dim, seed=None,
                 latent_distribution="normal", conditional=False, ema_decay=None,
                 augment=None, **kwargs):
        super().__init__(**kwargs)
        for role, model in (("generator", generator), ("discriminator", discriminator)):
            if not isinstance(model, keras.layers.Layer):
                raise TypeError(f"{role} must be a Keras model, got {type(model).__name__}")
        if int(latent_dim) != latent_dim or latent_dim <= 0:
            raise ValueError(f"latent_dim must be a positive integer, got {latent_dim!r}")
        if latent_distribution not in LATENT_DISTRIBUTIONS:
            raise ValueError(f"latent_distribution must be one of {LATENT_DISTRIBUTIONS}, "
                             f"got {latent_distribution!r}")
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = int(latent_dim)
        self.seed = seed
        self.latent_distribution = latent_distribution
        self.conditional = bool(conditional)
        if ema_decay is not None and not 0 < ema_decay < 1:
            raise ValueError(f"ema_decay must be in (0, 1) or None, got {ema_decay!r}")
        self.ema_decay = None if ema_decay is None else float(ema_decay)
        self.augment = augment_lib.parse_policy(augment)
        self.seed_generator = keras.random.SeedGenerator(seed)
        # The exponential moving average of the generator's weights (Karras et al.
        # 2018; Yazici et al. 2019, arXiv:1806.04498) samples better than the raw
        # weights; generate() and the export use it when enabled.
        self.ema_generator = _clone(generator) if self.ema_decay else None
        # Training steps run so far (saved with the weights): the data position of a
        # resumed run and the step count of mid-epoch checkpoints.
        self._steps = _Holder(tf.Variable(
            0, dtype=tf.int64, trainable=False, name="train_steps",
            aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA))
        self.gan_loss = None
        self._trackers = {}
        if generator.built and discriminator.built:
            self.built = True

    # -- Building, compiling, saving --------------------------------------------------

    def build(self, input_shape=None):
        """Builds both models by running them on one symbolic batch if needed."""
        if not self.generator.built:
            self.generator(self._generator_inputs(
                tf.zeros((1, self.latent_dim)), tf.zeros((1,), tf.int32)))
        if not self.discriminator.built:
            images = self.generator(self._generator_inputs(
                tf.zeros((1, self.latent_dim)), tf.zeros((1,), tf.int32)))
            self.discriminator(self._discriminator_inputs(images, tf.zeros((1,), tf.int32)))
        self.built = True

    def compile(self, g_optimizer=None, d_optimizer=None, loss="non_saturating", **kwargs):
        """Sets the optimizers and the loss.

        Args:
            g_optimizer: optimizer for the generator (a Keras optimizer or its name);
                default Adam(2e-4, beta_1=0.5) as in DCGAN.
            d_optimizer: optimizer for the discriminator; same default.
            loss: a name from `gan_tf.losses.names()` or a `gan_tf.losses.GANLoss`.
            **kwargs: passed to `keras.Model.compile` (`steps_per_execution`,
                `jit_compile`, `run_eagerly`); `optimizer`, `loss` and `metrics`
                of the base class are not used by a GAN.

        Raises:
            ValueError: unknown loss name.
            TypeError: `optimizer=` given instead of `g_optimizer`/`d_optimizer`.
        """
        if "optimizer" in kwargs:
            raise TypeError("GAN.compile takes g_optimizer= and d_optimizer=, not optimizer=")
        super().compile(optimizer=None, **kwargs)
        self._wanted_steps_per_execution = int(self.steps_per_execution)
        self.g_optimizer = keras.optimizers.get(
            g_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5))
        self.d_optimizer = keras.optimizers.get(
            d_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5))
        if keras.mixed_precision.global_policy().name == "mixed_float16":
            self.g_optimizer = _loss_scaled(self.g_optimizer)
            self.d_optimizer = _loss_scaled(self.d_optimizer)
        self.gan_loss = losses.get(loss)
        names = ["d_loss", "g_loss", "real_score", "fake_score"]
        names += [r.name for r in self.gan_loss.regularizers]
        if self.gan_loss.code_dim:
            if self.gan_loss.code_dim >= self.latent_dim:
                raise ValueError(f"latent_dim={self.latent_dim} must exceed the loss's "
                                 f"code_dim={self.gan_loss.code_dim} (noise + codes)")
            names.append("info_loss")
        self._trackers = {name: keras.metrics.Mean(name=name) for name in names}

    def build_optimizers(self):
        """Creates both optimizers' slots (Adam moments...) so a restore can fill them."""
        if not self.built:
            self.build()
        # Slots must live under the strategy that made the model (fit() is often
        # called outside its scope).
        with self.distribute_strategy.scope():
            for optimizer, model in ((self.g_optimizer, self.generator),
                                     (self.d_optimizer, self.discriminator)):
                if not optimizer.built:
                    optimizer.build(model.trainable_variables)

    def get_compile_config(self):
        if self.gan_loss is None:
            return None
        return {
            "g_optimizer": keras.optimizers.serialize(self.g_optimizer),
            "d_optimizer": keras.optimizers.serialize(self.d_optimizer),
            "loss": keras.saving.serialize_keras_object(self.gan_loss),
        }

    def compile_from_config(self, config):
        self.compile(
            g_optimizer=keras.optimizers.deserialize(config["g_optimizer"]),
            d_optimizer=keras.optimizers.deserialize(config["d_optimizer"]),
            loss=keras.saving.deserialize_keras_object(config["loss"]))
        self.build_optimizers()

    def get_config(self):
        config = super().get_config()
        config.update({
            "generator": keras.saving.serialize_keras_object(self.generator),
            "discriminator": keras.saving.serialize_keras_object(self.discriminator),
            "latent_dim": self.latent_dim,
            "seed": self.seed,
            "latent_distribution": self.latent_distribution,
            "conditional": self.conditional,
            "ema_decay": self.ema_decay,
            "augment": ",".join(self.augment) or None,
        })
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        for key in ("generator", "discriminator"):
            config[key] = keras.saving.deserialize_keras_object(
                config[key], custom_objects=custom_objects)
        return cls(**config)

    @property
    def train_steps(self):
        """Training steps (batches) run so far, restored with the weights."""
        return int(self._steps.variable.numpy())

    def _all_seed_generators(self):
        # Every SeedGenerator: the noise's, then those of the models' layers (Dropout,
        # augmentation), in a fixed order.
        found = [self.seed_generator]
        for layer in self._flatten_layers(include_self=False, recursive=True):
            for generator in getattr(layer, "_seed_generators", ()):
                if all(generator is not g for g in found):
                    found.append(generator)
        return found

    def save_own_variables(self, store):
        # SeedGenerators are not Keras saveables: store their states here so a
        # restored model continues the same noise (and dropout) sequences.
        super().save_own_variables(store)
        store[_RNG_KEY] = np.asarray(self.seed_generator.state.numpy())
        store[_RNG_STATES_KEY] = np.stack(
            [np.asarray(g.state.numpy()) for g in self._all_seed_generators()])
        store[_STEPS_KEY] = np.asarray(self.train_steps, np.int64)

    def load_own_variables(self, store):
        keys = list(store.keys())
        if _RNG_KEY in keys:
            self.seed_generator.state.assign(np.asarray(store[_RNG_KEY]))
        if _RNG_STATES_KEY in keys:
            states = np.asarray(store[_RNG_STATES_KEY])
            generators = self._all_seed_generators()
            if len(states) == len(generators):
                for generator, state in zip(generators, states):
                    generator.state.assign(state.astype(generator.state.dtype))
        if _STEPS_KEY in keys:
            self._steps.variable.assign(int(np.asarray(store[_STEPS_KEY])))
        own = (_RNG_KEY, _RNG_STATES_KEY, _STEPS_KEY)
        super().load_own_variables({k: store[k] for k in keys if k not in own})

    # -- Training ---------------------------------------------------------------------

    @property
    def metrics(self):
        # fit() resets these at the start of every epoch.
        return list(self._trackers.values())

    def train_step(self, data):  # fit() traces this under tf.function: do not decorate it
        """One generator update and `gan_loss.d_steps` discriminator updates.

        The generator runs forward once per discriminator step: each discriminator step
        draws its own latents and takes its own real batch (row i::d_steps of `data`;
        `fit` groups a dataset's batches so), and the last one's fakes also serve the
        generator update, which goes through the just-updated discriminator. G has not
        changed between the two uses, so this is exact (the PyTorch DCGAN example's
        order): 1 generator and 3 discriminator forward passes per step for d_steps 1.
        """
        if self.gan_loss is None:
            raise RuntimeError("call GAN.compile(g_optimizer, d_optimizer, loss) before fit")
        real_images, labels = unpack(data)
        if not self.conditional:
            labels = None
        batches = critic_batches(real_images, labels, self.gan_loss.d_steps)
        for real_images, labels in batches[:-1]:
            latents = self.sample_latents(tf.shape(real_images)[0])
            fake_images = self.generator(self._generator_inputs(latents, labels),
                                         training=True)
            self.discriminator_step(real_images, fake_images, latents, labels)
        real_images, labels = batches[-1]
        latents = self.sample_latents(tf.shape(real_images)[0])
        variables = self.generator.trainable_variables
        with tf.GradientTape() as tape:
            fake_images = self.generator(self._generator_inputs(latents, labels),
                                         training=True)
            with tape.stop_recording():
                logs = self.discriminator_step(real_images, fake_images, latents, labels)
            total, g_logs = self.generator_losses(fake_images, latents, labels)
            scaled = self._scale_for_replicas(total, self.g_optimizer)
        gradients = tape.gradient(scaled, variables)
        self.g_optimizer.apply_gradients(zip(gradients, variables))
        if self.ema_generator is not None:
            self._update_ema()
        self._steps.variable.assign_add(1)
        return self.update_trackers(logs | g_logs)

    def discriminator_step(self, real_images, fake_images, latents, labels=None):
        """One update of the discriminator on a real batch and a batch of fakes.

        Args:
            real_images: float32 (batch, H, W, C) in [-1, 1].
            fake_images: the generator's images for `latents` (gradients to the
                generator are stopped here).
            latents: float32 (batch, latent_dim), the fakes' latents (InfoGAN's codes).
            labels: int (batch,) for conditional models, else None.

        Returns:
            dict of float32 scalars: d_loss, real_score, fake_score, and one entry
            per regulariser of the loss (and info_loss for InfoGAN).
        """
        fake_images = tf.stop_gradient(fake_images)
        variables = self.discriminator.trainable_variables
        with tf.GradientTape() as tape:
            real_logits, _ = _split_outputs(self.discriminator(
                self._discriminator_inputs(real_images, labels, augment=True), training=True))
            fake_logits, fake_extras = _split_outputs(self.discriminator(
                self._discriminator_inputs(fake_images, labels, augment=True), training=True))
            d_loss = self.gan_loss.discriminator_scale * self.gan_loss.discriminator_loss(
                real_logits, fake_logits)
            logs = {"d_loss": d_loss}
            total = d_loss + self._auxiliary_loss(latents, fake_extras, logs)
            for regularizer in self.gan_loss.regularizers:
                penalty = regularizer(self.discriminator, real_images, fake_images, labels,
                                      seed=self.seed_generator.next(),
                                      step=self.d_optimizer.iterations)
                logs[regularizer.name] = penalty
                total += penalty
            total = self._scale_for_replicas(total, self.d_optimizer)
        gradients = tape.gradient(total, variables)
        self.d_optimizer.apply_gradients(zip(gradients, variables))
        self.gan_loss.after_discriminator_step(self.discriminator)
        logs["real_score"] = tf.reduce_mean(tf.sigmoid(tf.cast(real_logits, tf.float32)))
        logs["fake_score"] = tf.reduce_mean(tf.sigmoid(tf.cast(fake_logits, tf.float32)))
        return logs

    def generator_losses(self, fake_images, latents, labels=None):
        """The generator's loss on its fakes through the (current) discriminator.

        Returns:
            (total, logs): the float32 scalar to minimise (adversarial + auxiliary
            terms) and {"g_loss": the adversarial term}.
        """
        fake_logits, fake_extras = _split_outputs(self.discriminator(
            self._discriminator_inputs(fake_images, labels, augment=True), training=True))
        g_loss = self.gan_loss.generator_loss(fake_logits)
        return g_loss + self._auxiliary_loss(latents, fake_extras, {}), {"g_loss": g_loss}

    def _auxiliary_loss(self, latents, extras, logs):
        # InfoGAN-style terms on the discriminator's extra heads; 0 for plain losses.
        if not self.gan_loss.code_dim:
            return 0.0
        codes = latents[:, self.latent_dim - self.gan_loss.code_dim:]
        loss = self.gan_loss.auxiliary_loss(codes, extras)
        logs["info_loss"] = loss
        return loss

    def _update_ema(self):
        decay = self.ema_decay
        for average, weight in zip(self.ema_generator.weights, self.generator.weights):
            if weight.trainable:
                average.assign(decay * average + (1.0 - decay) * tf.cast(weight, average.dtype))
            else:  # batch-norm statistics follow the generator's
                average.assign(weight)

    def update_trackers(self, logs):
        for name, value in logs.items():
            self._trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self._trackers.items()}

    def fit(self, *args, shuffle=False, **kwargs):
        # Optimizer slots created inside the first trace would make tf.function trace
        # train_step a second time; create them here, once.
        if self.gan_loss is not None:
            self.build_optimizers()
            args, kwargs = _group_for_critic(args, kwargs, self.gan_loss.d_steps)
        args, kwargs = one_iterator_per_fit(args, kwargs)
        self._fit_steps_per_execution(kwargs.get("steps_per_epoch"))
        # Datasets come shuffled from gan_tf.data; Keras would only warn about shuffle=True.
        return super().fit(*args, shuffle=shuffle, **kwargs)

    def _fit_steps_per_execution(self, steps_per_epoch):
        # Keras runs whole executions of steps_per_execution steps, so an epoch of
        # steps_per_epoch steps that is no multiple of it would run past its end (and
        # shift the step count that checkpoints and resumption rely on): use the
        # largest divisor of steps_per_epoch not above the compiled value instead.
        wanted = getattr(self, "_wanted_steps_per_execution", None)
        if wanted is None:
            wanted = self._wanted_steps_per_execution = int(self.steps_per_execution)
        chosen = wanted
        if steps_per_epoch and wanted > 1:
            chosen = max(d for d in range(1, wanted + 1) if steps_per_epoch % d == 0)
        if chosen != self.steps_per_execution:
            self.steps_per_execution = chosen
            self.train_function = None  # rebuilt (and retraced) for the new value

    def test_step(self, data):
        raise NotImplementedError(
            "GAN has no validation step; evaluate samples with gan_tf.metrics instead")

    def _scale_for_replicas(self, loss, optimizer):
        # Each replica computes the mean over its part of the batch and the strategy
        # sums gradients over replicas: divide so the sum is the global-batch mean.
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        if replicas > 1:
            loss = loss / tf.cast(replicas, loss.dtype)
        return optimizer.scale_loss(loss)

    def _generator_inputs(self, latents, labels):
        return (latents, labels) if self.conditional else latents

    def _discriminator_inputs(self, images, labels, augment=False):
        if augment and self.augment:
            images = augment_lib.diff_augment(images, self.augment, self.seed_generator.next())
        return (images, labels) if self.conditional else images

    # -- Sampling ---------------------------------------------------------------------

    def sample_latents(self, num, seed=None):
        """Draws latent vectors.

        Args:
            num: how many (int or scalar tensor).
            seed: None draws from the model's SeedGenerator (advancing it, as in
                training); an int gives the same latents every time.

        Returns:
            float32 (num, latent_dim), N(0, 1) or U(-1, 1) per `latent_distribution`;
            when the loss has codes (InfoGAN) the last `code_dim` columns are codes
            sampled by the loss.
        """
        if seed is None:
            seed = self.seed_generator.next()
        else:
            seed = tf.constant([int(seed), 0], tf.int32)
        code_dim = self.gan_loss.code_dim if self.gan_loss is not None else 0
        latents = noise.sample((num, self.latent_dim - code_dim), seed,
                               self.latent_distribution)
        if not code_dim:
            return latents
        codes = self.gan_loss.sample_codes(num, tf.cast(seed, tf.int32) + [1, 0])
        return tf.concat([latents, codes], axis=-1)  # (num, noise_dim + code_dim)

    @property
    def sampling_generator(self):
        """The generator that `generate` and `export_generator` use: the EMA copy when
        `ema_decay` is set, else the trained generator."""
        return self.ema_generator if self.ema_generator is not None else self.generator

    def generate(self, num_images=None, seed=None, latents=None, labels=None,
                 batch_size=256, truncation_psi=None):
        """Generates images with the generator in inference mode.

        Args:
            num_images: how many; may be omitted when `latents` is given.
            seed: int for reproducible images (same seed, same images); None for new
                ones.
            latents: float32 (n, latent_dim) to use instead of drawing them.
            labels: int (n,) class labels, for conditional models.
            batch_size: images per generator call, to bound memory.
            truncation_psi: the truncation trick, for generators whose `call` takes
                `truncation_psi` (models.stylegan): < 1 trades variety for typical
                images, 0 gives the average image; None or 1.0: none.

        Returns:
            numpy float32 (n, H, W, C) in [-1, 1].

        Raises:
            ValueError: neither num_images nor latents, sizes that disagree, or a
                truncation_psi (other than None/1.0) for a generator without one.
        """
        call_kwargs = {}
        if truncation_psi is not None and float(truncation_psi) != 1.0:
            if not supports_truncation(self.sampling_generator):
                raise ValueError(
                    f"truncation_psi={truncation_psi!r} needs a generator whose call takes "
                    f"truncation_psi (e.g. models.stylegan.Generator); "
                    f"{type(self.generator).__name__} does not")
            call_kwargs["truncation_psi"] = float(truncation_psi)
        if latents is None:
            if num_images is None or num_images < 1:
                raise ValueError(f"num_images must be >= 1, got {num_images!r}")
            if seed is None:
                seed = np.random.randint(2**31 - 1)
            latents = self.sample_latents(int(num_images), seed=seed)
        latents = tf.convert_to_tensor(latents, tf.float32)
        num = int(latents.shape[0])
        if num_images is not None and num_images != num:
            raise ValueError(f"num_images={num_images} but latents has {num} rows")
        if latents.shape[-1] != self.latent_dim:
            raise ValueError(f"latents must have {self.latent_dim} columns, got "
                             f"shape {tuple(latents.shape)}")
        if self.conditional:
            if labels is None:
                raise ValueError("a conditional GAN needs labels= to generate")
            labels = tf.convert_to_tensor(np.broadcast_to(np.asarray(labels), (num,)),
                                          tf.int32)
        chunks = []
        for start in range(0, num, batch_size):
            batch = latents[start:start + batch_size]
            batch_labels = None if labels is None else labels[start:start + batch_size]
            images = self.sampling_generator(self._generator_inputs(batch, batch_labels),
                                             training=False, **call_kwargs)
            chunks.append(tf.cast(images, tf.float32).numpy())
        return np.concatenate(chunks)

    # -- Export -----------------------------------------------------------------------

    def export_generator(self, path):
        """Writes the generator as a TensorFlow SavedModel.

        The SavedModel's `serving_default` signature (and its `serve` function) map
        `latents` float32 (batch, latent_dim) [and `labels` int32 (batch,) when
        conditional] to images float32 (batch, H, W, C) in [-1, 1]. It loads with plain
        `tf.saved_model.load(path)`, without gan_tf. `gan_tf_export.json` beside it
        records latent_dim, latent_distribution and the image shape.

        Returns:
            the path written.
        """
        if not self.built:
            self.build()
        generator = self.sampling_generator
        signature = [tf.TensorSpec((None, self.latent_dim), tf.float32, name="latents")]
        if self.conditional:
            signature.append(tf.TensorSpec((None,), tf.int32, name="labels"))

            def serve(latents, labels):
                return tf.cast(generator((latents, labels), training=False), tf.float32)
        else:

            def serve(latents):
                return tf.cast(generator(latents, training=False), tf.float32)

        archive = keras.export.ExportArchive()
        archive.track(generator)
        archive.add_endpoint("serve", serve, input_signature=signature)
        archive.write_out(path, verbose=False)
        image_shape = self.generate(1, seed=0, labels=0 if self.conditional else None).shape[1:]
        with open(os.path.join(path, EXPORT_METADATA), "w") as f:
            json.dump({"latent_dim": self.latent_dim,
                       "latent_distribution": self.latent_distribution,
                       "conditional": self.conditional,
                       "image_shape": list(image_shape)}, f, indent=2)
        return path


def _group_for_critic(args, kwargs, d_steps):
    """fit's (args, kwargs) with a tf.data.Dataset input grouped by `group_batches`."""
    if d_steps == 1:
        return args, kwargs
    args, kwargs = list(args), dict(kwargs)
    if args and isinstance(args[0], tf.data.Dataset):
        args[0] = group_batches(args[0], d_steps)
    elif isinstance(kwargs.get("x"), tf.data.Dataset):
        kwargs["x"] = group_batches(kwargs["x"], d_steps)
    return tuple(args), kwargs


def one_iterator_per_fit(args, kwargs):
    """`fit`'s (args, kwargs) with a finite tf.data.Dataset of known length n and no
    steps_per_epoch replaced by `dataset.repeat()` and steps_per_epoch=n.

    The epochs are the same batches, in the same (reshuffled) order, but Keras then
    keeps one iterator for the whole `fit` instead of one per epoch. Closing a
    tf.data iterator waits for its autotuning thread, which sleeps in periods of
    10 ms doubling up to seconds: measured on 2 CPU cores, the default preset trained
    6 epochs in 39 s this way and 50 s with a new iterator each epoch
    (docs/performance.md). Anything else is returned unchanged.
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


def critic_batches(real_images, labels, count):
    """Splits a step's batch into `count` real batches: [(images, labels), ...].

    Batch i is rows i, i + count, i + 2 count, ...: `group_batches` puts dataset batch
    i there, and under a distribution strategy every replica's contiguous slice of the
    rows then holds its share of each batch, as one device would see it.
    """
    if count == 1:
        return [(real_images, labels)]
    return [(real_images[i::count], None if labels is None else labels[i::count])
            for i in range(count)]


def group_batches(dataset, count):
    """A dataset of (B, ...) batches -> one of (count * B, ...) batches whose rows
    i::count are the original batch i (see `critic_batches`); any element structure.

    Raises:
        ValueError: the batch size is not static (batch with drop_remainder=True).
    """
    for spec in tf.nest.flatten(dataset.element_spec):
        if spec.shape.rank is None or spec.shape.rank < 1 or spec.shape[0] is None:
            raise ValueError(
                f"a loss with d_steps={count} takes each discriminator step's real batch "
                f"from the dataset, which needs a fixed batch size: batch it with "
                f"drop_remainder=True (gan_tf.data does)")

    def interleave(tensor):  # (count, B, ...) -> (B, count, ...) -> (B * count, ...)
        perm = [1, 0] + list(range(2, tensor.shape.rank))
        shape = tf.concat([[-1], tf.shape(tensor)[2:]], axis=0)
        return tf.reshape(tf.transpose(tensor, perm), shape)

    batches = int(dataset.cardinality())
    if 0 <= batches < count:
        raise ValueError(f"a loss with d_steps={count} takes one real batch per "
                         f"discriminator step, but the dataset has only {batches} batches: "
                         f"give it at least {count}")
    return dataset.batch(count, drop_remainder=True).map(
        lambda *element: tf.nest.map_structure(
            interleave, element if len(element) > 1 else element[0]))


def supports_truncation(generator):
    """Whether `generator`'s call takes `truncation_psi` (the truncation trick)."""
    return "truncation_psi" in inspect.signature(generator.call).parameters


def _split_outputs(outputs):
    """(logits, extras): a discriminator may return `(logits, extra heads...)`."""
    if isinstance(outputs, (tuple, list)):
        return outputs[0], tuple(outputs[1:])
    return outputs, ()


def _clone(model):
    """A copy of `model` (same config, same weights) that shares no variables."""
    clone = keras.models.clone_model(model)
    if not clone.built:
        clone.build(model.input_shape if hasattr(model, "input_shape") else None)
    clone.set_weights(model.get_weights())
    clone.trainable = False
    return clone


def _loss_scaled(optimizer):
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return optimizer
    return keras.optimizers.LossScaleOptimizer(optimizer)
