"""The GAN wrapper: one `keras.Model` whose `train_step` trains any generator/discriminator pair.

`GAN` takes two Keras models and a latent size. `compile` takes the two optimizers and
a loss (a name or a `gan_tf.losses.GANLoss`); `fit` then runs `train_step` under
`tf.function` on CPU, GPU or inside a `tf.distribute` strategy scope. Variants of GANs
differ in their models and their loss object, never in this loop; what GAN shares with
CycleGAN (optimizers, trackers, saving, fit) is in gan_tf.adversarial. `generate` and
`export_generator` run gan_tf.sampling and gan_tf.export.

Latent noise is drawn inside the step from a `keras.random.SeedGenerator` owned by the
model; its state is saved with the weights, so a restored model continues the same
noise sequence.
"""

import keras
import tensorflow as tf

from gan_tf import augment as augment_lib
from gan_tf import configs
from gan_tf import export
from gan_tf import flops
from gan_tf import losses
from gan_tf import memory
from gan_tf import noise
from gan_tf import sampling
from gan_tf.adversarial import AdversarialModel
from gan_tf.adversarial import unpack

EMA_RAMPUP = 0.05  # StyleGAN2-ADA's ema_rampup (see ema_decay_at)


@keras.saving.register_keras_serializable(package="gan_tf")
class GAN(AdversarialModel):
    """A generator and a discriminator trained against each other by `fit`.

    Args:
        generator: a Keras model mapping latents (batch, latent_dim) to images
            (batch, H, W, C) in [-1, 1]; a conditional one takes `(latents, labels)`.
        discriminator: a Keras model mapping images (and labels, when conditional)
            to logits (batch, 1); no final sigmoid. It may return
            `(logits, extra heads...)` (InfoGAN's Q head).
        latent_dim: size of the latent vector, > 0 (noise and any codes).
        seed: seed of the noise `SeedGenerator`; None draws one at random.
        latent_distribution: "normal" (N(0, 1), the default) or "uniform" (U(-1, 1)).
        conditional: feed labels to both models. None (the default) takes it from
            the models: gan_tf's conditional families say they are
            (`conditional = True`), any other model is taken as unconditional.
        ema_decay: keep an exponential moving average of the generator's weights with
            this decay (e.g. 0.999) and sample from it; None disables it.
        ema_rampup: the EMA's warm-up (`ema_decay_at`): its half-life is at most
            this fraction of the training steps run so far, so early samples come
            from recent weights, not initial ones; None: the constant decay.
        augment: DiffAugment policy applied to every discriminator input, e.g.
            "color,translation,cutout" (see gan_tf.augment); None disables it.

    Example:

        gan = GAN(models.dcgan.Generator(100, (28, 28, 1)),
                  models.dcgan.Discriminator((28, 28, 1)), latent_dim=100)
        gan.compile(keras.optimizers.Adam(2e-4, beta_1=0.5),
                    keras.optimizers.Adam(2e-4, beta_1=0.5))
        gan.fit(dataset, epochs=5)
        images = gan.generate(16, seed=0)   # (16, 28, 28, 1) float32 in [-1, 1]
        images = gan(latents)               # or gan.predict(latents)

    Raises:
        ValueError: latent_dim <= 0, an unknown latent_distribution or augmentation,
            ema_decay outside (0, 1), ema_rampup <= 0, or conditional=False for
            conditional models.
        TypeError: generator or discriminator is not a Keras model.
    """

    NETWORKS = ("generator", "discriminator")

    def __init__(self, generator, discriminator, latent_dim, seed=None,
                 latent_distribution="normal", conditional=None, ema_decay=None,
                 augment=None, ema_rampup=EMA_RAMPUP, **kwargs):
        super().__init__(**kwargs)
        if int(latent_dim) != latent_dim or latent_dim <= 0:
            raise ValueError(f"latent_dim must be a positive integer, got {latent_dim!r}")
        if latent_distribution not in configs.LATENT_DISTRIBUTIONS:
            raise ValueError(f"latent_distribution must be one of "
                             f"{configs.LATENT_DISTRIBUTIONS}, "
                             f"got {latent_distribution!r}")
        if ema_decay is not None and not 0 < ema_decay < 1:
            raise ValueError(f"ema_decay must be in (0, 1) or None, got {ema_decay!r}")
        if ema_rampup is not None and not ema_rampup > 0:
            raise ValueError(f"ema_rampup must be > 0 or None, got {ema_rampup!r}")
        self._set_networks(generator=generator, discriminator=discriminator)
        self.conditional = _conditional(conditional, generator, discriminator)
        self.latent_dim = int(latent_dim)
        self.seed = seed
        self.latent_distribution = latent_distribution
        self.ema_decay = None if ema_decay is None else float(ema_decay)
        self.ema_rampup = None if ema_rampup is None else float(ema_rampup)
        self.augment = augment_lib.parse_policy(augment)
        self.seed_generator = keras.random.SeedGenerator(seed)
        # The exponential moving average of the generator's weights (Karras et al.
        # 2018; Yazici et al. 2019, arXiv:1806.04498) samples better than the raw
        # weights; generate() and the export use it when enabled.
        self.ema_generator = _clone(generator) if self.ema_decay else None

    # -- Building and compiling ---------------------------------------------------------

    def build(self, input_shape=None):
        """Builds both models by running them on one symbolic batch if needed."""
        latents, labels = tf.zeros((1, self.latent_dim)), tf.zeros((1,), tf.int32)
        if not self.generator.built:
            self.generator(self._generator_inputs(latents, labels))
        if not self.discriminator.built:
            images = self.generator(self._generator_inputs(latents, labels))
            self.discriminator(self._discriminator_inputs(images, labels))
        self.built = True

    def compile(self, g_optimizer=None, d_optimizer=None, loss="non_saturating", **kwargs):
        """Sets the optimizers and the loss; see `AdversarialModel.compile`.

        A loss given by name takes the latent codes its model declares (an InfoGAN
        generator's `num_categories` / `num_continuous`).

        Raises:
            ValueError: an unknown loss, or codes that disagree with the models or
                leave no noise.
        """
        if isinstance(loss, str):
            loss = losses.get(loss, **losses.code_arguments(
                loss, losses.declared_codes(self.generator)))
        super().compile(g_optimizer, d_optimizer, loss, **kwargs)

    def _check_loss(self, gan_loss):
        gan_loss.check_models(self.generator, self.discriminator)
        if gan_loss.code_dim and gan_loss.code_dim >= self.latent_dim:
            raise ValueError(f"latent_dim={self.latent_dim} must exceed the loss's "
                             f"code_dim={gan_loss.code_dim} (noise + codes)")

    def tracker_names(self):
        names = ["d_loss", "g_loss", "real_score", "fake_score"]
        names += [regularizer.name for regularizer in self.gan_loss.regularizers]
        return names + (["info_loss"] if self.gan_loss.code_dim else [])

    def optimizer_targets(self):
        return [(self.g_optimizer, self.generator.trainable_variables),
                (self.d_optimizer, self.discriminator.trainable_variables)]

    def step_flops(self, element_spec):
        """FLOPs of one `train_step` on a batch of `element_spec`, from the forward
        FLOPs per image F_G, F_D (gan_tf.flops, matrix products and convolutions):
        per critic batch d F_G + 6 d F_D + 2 F_G + 2 F_D for d = d_steps (a backward
        pass costs twice its forward; the generator step needs D's input gradients
        only). Regularisers' extra passes are not counted. None without a static
        batch size."""
        images, _ = unpack(element_spec)
        d_steps = self.gan_loss.d_steps
        if images.shape.rank is None or images.shape[0] is None:
            return None
        labels = tf.TensorSpec((1,), tf.int32) if self.conditional else None
        image = tf.TensorSpec((1, *images.shape[1:]), tf.float32)
        f_g = flops.forward(self.generator, self._generator_inputs(
            tf.TensorSpec((1, self.latent_dim), tf.float32), labels))
        f_d = flops.forward(self.discriminator, self._discriminator_inputs(image, labels))
        per_image = d_steps * (f_g + 6 * f_d) + 2 * (f_g + f_d)
        return images.shape[0] // d_steps * per_image

    def step_floats(self, element_spec):
        """Floats of the activations one `train_step` on a batch of `element_spec`
        holds for its backward passes (gan_tf.memory), from the forward activations per
        critic batch A_G, A_D: A_G + 3 A_D (the generator's pass, and the
        discriminator's on real and fake images for its own step and on the fakes for
        the generator's). None without a static batch size."""
        images, _ = unpack(element_spec)
        if images.shape.rank is None or images.shape[0] is None:
            return None
        labels = tf.TensorSpec((1,), tf.int32) if self.conditional else None
        image = tf.TensorSpec((1, *images.shape[1:]), tf.float32)
        batch = images.shape[0] // self.gan_loss.d_steps
        a_g = memory.batch_floats(self.generator, batch, self._generator_inputs(
            tf.TensorSpec((1, self.latent_dim), tf.float32), labels))
        a_d = memory.batch_floats(self.discriminator, batch,
                                  self._discriminator_inputs(image, labels))
        return a_g + 3 * a_d

    def get_config(self):
        config = super().get_config()
        config.update({
            "latent_dim": self.latent_dim, "seed": self.seed,
            "latent_distribution": self.latent_distribution,
            "conditional": self.conditional, "ema_decay": self.ema_decay,
            "ema_rampup": self.ema_rampup,
            "augment": ",".join(self.augment) or None})
        return config

    # -- Training -----------------------------------------------------------------------

    def train_step(self, data):  # fit() traces this under tf.function: do not decorate it
        """One generator update and `gan_loss.d_steps` discriminator updates.

        The generator runs forward once per discriminator step: each discriminator step
        draws its own latents and takes its own real batch (rows i::d_steps of `data`;
        `fit` groups a dataset's batches so), and the last one's fakes also serve the
        generator update, which goes through the just-updated discriminator. G has not
        changed between the two uses, so this is exact (the PyTorch DCGAN example's
        order): 1 generator and 3 discriminator forward passes per step for d_steps 1.
        """
        self._require_compiled()
        real_images, labels = unpack(data)
        batches = critic_batches(real_images, labels if self.conditional else None,
                                 self.gan_loss.d_steps)
        for real_images, labels in batches[:-1]:
            latents = self.sample_latents(tf.shape(real_images)[0])
            fake_images = self.generator(self._generator_inputs(latents, labels),
                                         training=True)
            self.discriminator_step(real_images, fake_images, latents, labels)
        real_images, labels = batches[-1]
        latents = self.sample_latents(tf.shape(real_images)[0])
        with tf.GradientTape() as tape:
            fake_images = self.generator(self._generator_inputs(latents, labels),
                                         training=True)
            with tape.stop_recording():
                logs = self.discriminator_step(real_images, fake_images, latents, labels)
            total, g_logs = self.generator_losses(fake_images, latents, labels)
        self._apply(tape, total, self.g_optimizer, self.generator.trainable_variables)
        if self.ema_generator is not None:
            self._update_ema()
        return self._count_step(logs | g_logs)

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
        with tf.GradientTape() as tape:
            real_logits, _ = _split_outputs(self.discriminator(
                self._discriminator_inputs(real_images, labels, augment=True), training=True))
            fake_logits, fake_extras = _split_outputs(self.discriminator(
                self._discriminator_inputs(fake_images, labels, augment=True), training=True))
            d_loss = self.gan_loss.discriminator_scale * self.gan_loss.discriminator_loss(
                real_logits, fake_logits)
            logs = {"d_loss": d_loss}
            total = d_loss + self._auxiliary_loss(latents, fake_extras, logs)
            # Loss scaling (mixed_float16) scales the penalties' inner backward too.
            scaled = isinstance(self.d_optimizer, keras.optimizers.LossScaleOptimizer)
            extra = {"scale": self.d_optimizer.scale_loss(1.0)} if scaled else {}
            for regularizer in self.gan_loss.regularizers:
                penalty = regularizer(self.discriminator, real_images, fake_images, labels,
                                      seed=self.seed_generator.next(),
                                      step=self.d_optimizer.iterations, **extra)
                logs[regularizer.name] = penalty
                total += penalty
        self._apply(tape, total, self.d_optimizer, self.discriminator.trainable_variables)
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
        decay = ema_decay_at(self.ema_decay, self._steps.variable, self.ema_rampup)
        for average, weight in zip(self.ema_generator.weights, self.generator.weights):
            if weight.trainable:
                rate = tf.cast(decay, average.dtype)
                average.assign(rate * average + (1.0 - rate) * tf.cast(weight, average.dtype))
            else:  # batch-norm statistics follow the generator's
                average.assign(weight)

    def _prepare_fit_data(self, args, kwargs):
        return _group_for_critic(args, kwargs, self.gan_loss.d_steps)

    def _generator_inputs(self, latents, labels):
        return (latents, labels) if self.conditional else latents

    def _discriminator_inputs(self, images, labels, augment=False):
        if augment and self.augment:
            images = augment_lib.diff_augment(images, self.augment, self.seed_generator.next())
        return (images, labels) if self.conditional else images

    # -- Sampling -----------------------------------------------------------------------

    @property
    def code_layout(self):
        """(num_categories, num_continuous) of the latent codes (InfoGAN): declared by
        the generator, else by the compiled loss; (0, 0) without codes."""
        declared = losses.declared_codes(self.generator)
        if declared is not None:
            return declared
        loss = self.gan_loss
        return (getattr(loss, "num_categories", 0), getattr(loss, "num_continuous", 0)) \
            if loss is not None and loss.code_dim else (0, 0)

    @property
    def num_classes(self):
        """Classes of a conditional generator (its `num_classes`, else 10); None when
        unconditional."""
        if not self.conditional:
            return None
        return int(getattr(self.generator, "num_classes", 10))

    def sample_labels(self, num):
        """Balanced labels 0, 1, ..., num_classes - 1, 0, 1, ... (int32 numpy (num,)),
        or None for an unconditional GAN."""
        return None if not self.conditional else sampling.balanced_labels(
            num, self.num_classes)

    def sample_latents(self, num, seed=None):
        """Draws latent vectors.

        Args:
            num: how many (int or scalar tensor).
            seed: None draws from the model's SeedGenerator (advancing it, as in
                training); an int gives the same latents every time.

        Returns:
            float32 (num, latent_dim), N(0, 1) or U(-1, 1) per `latent_distribution`;
            with latent codes (InfoGAN, `code_layout`) the last columns are the codes
            (`gan_tf.noise.latents`).
        """
        if seed is None:
            seed = self.seed_generator.next()
        else:
            seed = tf.constant([int(seed), 0], tf.int32)
        return noise.latents(num, seed, self.latent_dim, self.latent_distribution,
                             self.code_layout)

    @property
    def sampling_generator(self):
        """The generator that `generate` and `export_generator` use: the EMA copy when
        `ema_decay` is set, else the trained generator."""
        return self.ema_generator if self.ema_generator is not None else self.generator

    def call(self, inputs, training=False):
        """`gan(latents)` / `gan.predict(latents)`: the sampling generator's images
        (inputs `(latents, labels)` when conditional)."""
        return self.sampling_generator(inputs, training=training)

    def generate(self, num_images=None, seed=None, latents=None, labels=None,
                 batch_size=256, truncation_psi=None):
        """Generates images with the sampling generator in inference mode
        (`gan_tf.sampling.generate`).

        Args:
            num_images: how many; may be omitted when `latents` is given.
            seed: int for reproducible images (same seed, same images); None for new
                ones.
            latents: float32 (n, latent_dim) to use instead of drawing them.
            labels: int (n,) class labels, for conditional models (a scalar: the
                same label for all); None: `sample_labels(n)`, every class in turn.
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
        return sampling.generate(self, num_images, seed=seed, latents=latents,
                                 labels=labels, batch_size=batch_size,
                                 truncation_psi=truncation_psi)

    def export_generator(self, path):
        """Writes the generator as a TensorFlow SavedModel (`gan_tf.export.export_gan`).

        Endpoints (load with plain `tf.saved_model.load(path)`, no gan_tf needed):

            serve(latents[, labels])  float32 (batch, latent_dim) [and int32 (batch,)
                                      when conditional] -> images float32 (batch, H,
                                      W, C) in [-1, 1]; also the `serving_default`
                                      signature
            sample(num, seed)         int32 scalars -> `num` images drawn as
                                      `generate(num, seed=seed)` draws them: the
                                      model's latent layout (InfoGAN codes included)
                                      and, when conditional, every class in turn

        `gan_tf_export.json` beside them records latent_dim, latent_distribution,
        conditional, num_classes, code_layout and the image shape. The export goes
        to a temporary folder renamed into place, so a failed one leaves the previous
        export intact.

        Returns:
            the path written.
        """
        return export.export_gan(self, path)


def ema_decay_at(decay, step, rampup=EMA_RAMPUP):
    """The EMA's decay at training step `step` (0 for the first update), with the
    warm-up of StyleGAN2-ADA (`ema_rampup`, Karras et al. 2020, arXiv:2006.06676):
    the average's half-life is at most `rampup` times the steps run so far,

        decay_t = min(decay, 0.5 ** (1 / (rampup * t))),

    so the first update copies the weights (decay 0), and the average spans the
    last few per cent of the run until it reaches its full half-life,
    ln 0.5 / ln decay steps (693 for 0.999, from step 13,863 on with rampup 0.05).
    Without it a decay of 0.999 keeps half of the initial weights for 700 steps.

    Args:
        decay: float in (0, 1), the final decay.
        step: int or int64 scalar tensor, training steps run before this update.
        rampup: float > 0, the half-life as a fraction of the steps run; None: no
            warm-up (the constant `decay`).

    Returns:
        float32 scalar tensor.
    """
    decay = tf.constant(decay, tf.float32)
    if rampup is None:
        return decay
    half_life = tf.maximum(float(rampup) * tf.cast(step, tf.float32), 1e-8)
    return tf.minimum(decay, tf.pow(0.5, 1.0 / half_life))


def _conditional(conditional, generator, discriminator):
    """The conditional flag: given, or taken from the models (see GAN's docstring)."""
    declared = bool(getattr(generator, "conditional", False) or
                    getattr(discriminator, "conditional", False))
    if conditional is None:
        return declared
    if declared and not conditional:
        raise ValueError(
            f"{type(generator).__name__} / {type(discriminator).__name__} take "
            "(inputs, labels): leave conditional unset (or True) to feed them labels")
    return bool(conditional)


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
        ValueError: the batch size is not static (batch with drop_remainder=True),
            or the dataset has fewer than `count` batches.
    """
    for spec in tf.nest.flatten(dataset.element_spec):
        if spec.shape.rank is None or spec.shape.rank < 1 or spec.shape[0] is None:
            raise ValueError(
                f"a loss with d_steps={count} takes each discriminator step's real batch "
                f"from the dataset, which needs a fixed batch size: batch it with "
                f"drop_remainder=True (gan_tf.data does)")
    batches = int(dataset.cardinality())
    if 0 <= batches < count:
        raise ValueError(f"a loss with d_steps={count} takes one real batch per "
                         f"discriminator step, but the dataset has only {batches} batches: "
                         f"give it at least {count}")

    def interleave(tensor):  # (count, B, ...) -> (B, count, ...) -> (B * count, ...)
        perm = [1, 0] + list(range(2, tensor.shape.rank))
        shape = tf.concat([[-1], tf.shape(tensor)[2:]], axis=0)
        return tf.reshape(tf.transpose(tensor, perm), shape)

    return dataset.batch(count, drop_remainder=True).map(
        lambda *element: tf.nest.map_structure(
            interleave, element if len(element) > 1 else element[0]))


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
