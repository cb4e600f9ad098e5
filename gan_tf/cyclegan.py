"""CycleGAN (tutorial 003; Zhu et al. 2017, arXiv:1703.10593): unpaired translation.

Two generators, G_AB: A -> B and G_BA: B -> A, and two discriminators, D_A (real A
vs G_BA(b)) and D_B (real B vs G_AB(a)), trained on batches `(a_images, b_images)`
drawn independently from two datasets (`gan_tf.data.load_unpaired`). It is its own
`keras.Model` because its step has four networks and three loss terms; it reuses the
adversarial loss pairs of `gan_tf.losses`, and trains through `fit` with the
library's callbacks, checkpoints and CLI (`python -m gan_tf.train --config=cyclegan`).

Losses per step, with a, b the real batches and L1 the mean absolute error:

    adversarial  g_loss = G(D_B(G_AB(a))) + G(D_A(G_BA(b)))        G: the loss's
                 d_loss = D(D_A(a), D_A(G_BA(b))) + D(D_B(b), D_B(G_AB(a)))
                                                                   generator / discriminator
    cycle        L1(G_BA(G_AB(a)), a) + L1(G_AB(G_BA(b)), b)
    identity     L1(G_AB(b), b) + L1(G_BA(a), a)
    generators minimise  g_loss + cycle_weight * cycle + identity_weight * identity

With loss="least_squares" the discriminator term is the reference code's
0.5 * (MSE(D(real), 1) + MSE(D(fake), 0)); gan_tf's least-squares generator term is
0.5 * MSE(D(fake), 1), half the reference code's, so the cycle and identity terms
weigh twice as much relative to it with the paper's weights (10 and 5).
The reference code's pool of 50 earlier fakes for the discriminator is not used:
the discriminators see the current fakes, as in the other GANs of this library.
"""

import json
import os

import keras
import numpy as np
import tensorflow as tf

from gan_tf import losses
from gan_tf.gan import _Holder, _loss_scaled, one_iterator_per_fit

EXPORT_METADATA = "gan_tf_export.json"
DIRECTIONS = ("a2b", "b2a")
_STEPS_KEY = "train_steps"


def l1_loss(images, targets):
    """Mean absolute error, the cycle and identity loss of CycleGAN.

    loss = mean(|images - targets|)

    Args:
        images: float (batch, H, W, C).
        targets: same shape.

    Returns:
        float32 scalar, >= 0.
    """
    return tf.reduce_mean(tf.abs(tf.cast(images, tf.float32) - tf.cast(targets, tf.float32)))


@keras.saving.register_keras_serializable(package="gan_tf")
class CycleGAN(keras.Model):
    """Two generators and two discriminators trained on unpaired batches by `fit`.

    Args:
        g_ab: a Keras model mapping A images (batch, H, W, C_a) to B images
            (batch, H, W, C_b) in [-1, 1].
        g_ba: the reverse mapping, B -> A.
        d_a: a Keras model mapping A images to logits of any shape (a PatchGAN map
            (batch, h, w, 1) or (batch, 1)); no final sigmoid.
        d_b: the same for B images.

    Example:

        from gan_tf.models import cyclegan as nets
        model = CycleGAN(nets.Generator((28, 28, 1)), nets.Generator((28, 28, 1)),
                         nets.Discriminator((28, 28, 1)), nets.Discriminator((28, 28, 1)))
        model.compile(keras.optimizers.Adam(2e-4, beta_1=0.5),
                      keras.optimizers.Adam(2e-4, beta_1=0.5))
        model.fit(data.load_unpaired("mnist_sample", "mnist_sample_inverted"), epochs=1)
        b_images = model.translate(a_images)             # numpy, in [-1, 1]

    Raises:
        TypeError: a network is not a Keras model.
    """

    def __init__(self, g_ab, g_ba, d_a, d_b, **kwargs):
        super().__init__(**kwargs)
        for role, model in (("g_ab", g_ab), ("g_ba", g_ba), ("d_a", d_a), ("d_b", d_b)):
            if not isinstance(model, keras.layers.Layer):
                raise TypeError(f"{role} must be a Keras model, got {type(model).__name__}")
        self.g_ab, self.g_ba, self.d_a, self.d_b = g_ab, g_ba, d_a, d_b
        # Training steps run so far (saved with the weights): the data position of a
        # resumed run and the step count of mid-epoch checkpoints.
        self._steps = _Holder(tf.Variable(
            0, dtype=tf.int64, trainable=False, name="train_steps",
            aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA))
        self.gan_loss = None
        self.cycle_weight = 10.0
        self.identity_weight = 5.0
        self._trackers = {}
        if all(m.built for m in self.networks):
            self.built = True

    @property
    def networks(self):
        """(g_ab, g_ba, d_a, d_b): every network whose weights must stay finite."""
        return (self.g_ab, self.g_ba, self.d_a, self.d_b)

    # -- Building, compiling, saving --------------------------------------------------

    def build(self, input_shape=None):
        """Builds unbuilt networks from `input_shape` = (A shape, B shape), each
        (batch, H, W, C); the default is the networks' own `input_shape`."""
        if input_shape is None:
            input_shape = (self.g_ab.input_shape, self.g_ba.input_shape)
        shape_a, shape_b = input_shape
        for model, shape in ((self.g_ab, shape_a), (self.d_a, shape_a),
                             (self.g_ba, shape_b), (self.d_b, shape_b)):
            if not model.built:
                model(tf.zeros((1, *shape[1:])))
        self.built = True

    def compile(self, g_optimizer=None, d_optimizer=None, loss="least_squares",
                cycle_weight=10.0, identity_weight=5.0, **kwargs):
        """Sets the optimizers, the adversarial loss and the weights of the L1 terms.

        Args:
            g_optimizer: optimizer of both generators (a Keras optimizer or its
                name); default Adam(2e-4, beta_1=0.5) as in the paper.
            d_optimizer: optimizer of both discriminators; same default.
            loss: an adversarial loss from `gan_tf.losses.names()` or a
                `gan_tf.losses.GANLoss` without regularisers or codes; the paper uses
                least squares.
            cycle_weight: lambda of the cycle-consistency term (10 in the paper).
            identity_weight: weight of the identity term (5 = 0.5 * lambda in the
                paper's reference code); 0 skips it (two generator calls fewer).
            **kwargs: passed to `keras.Model.compile` (`steps_per_execution`,
                `jit_compile`, `run_eagerly`).

        Raises:
            ValueError: unknown loss, a loss with regularisers, codes or several
                discriminator steps, or negative weights.
            TypeError: `optimizer=` given instead of `g_optimizer`/`d_optimizer`.
        """
        if "optimizer" in kwargs:
            raise TypeError("CycleGAN.compile takes g_optimizer= and d_optimizer=, "
                            "not optimizer=")
        gan_loss = losses.get(loss)
        if gan_loss.regularizers or gan_loss.code_dim or gan_loss.d_steps != 1:
            raise ValueError(f"CycleGAN takes a plain adversarial loss (one D step, no "
                             f"regularisers or codes), got {gan_loss!r}")
        if cycle_weight < 0 or identity_weight < 0:
            raise ValueError(f"cycle_weight and identity_weight must be >= 0, got "
                             f"{cycle_weight!r} and {identity_weight!r}")
        super().compile(optimizer=None, **kwargs)
        self.g_optimizer = keras.optimizers.get(
            g_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5))
        self.d_optimizer = keras.optimizers.get(
            d_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5))
        if keras.mixed_precision.global_policy().name == "mixed_float16":
            self.g_optimizer = _loss_scaled(self.g_optimizer)
            self.d_optimizer = _loss_scaled(self.d_optimizer)
        self.gan_loss = gan_loss
        self.cycle_weight = float(cycle_weight)
        self.identity_weight = float(identity_weight)
        names = ("d_loss", "g_loss", "cycle_loss", "identity_loss")
        self._trackers = {name: keras.metrics.Mean(name=name) for name in names}

    @property
    def generator_variables(self):
        return self.g_ab.trainable_variables + self.g_ba.trainable_variables

    @property
    def discriminator_variables(self):
        return self.d_a.trainable_variables + self.d_b.trainable_variables

    def build_optimizers(self):
        """Creates both optimizers' slots (Adam moments...) so a restore can fill them."""
        if not self.built:
            self.build()
        with self.distribute_strategy.scope():
            for optimizer, variables in ((self.g_optimizer, self.generator_variables),
                                         (self.d_optimizer, self.discriminator_variables)):
                if not optimizer.built:
                    optimizer.build(variables)

    def get_compile_config(self):
        if self.gan_loss is None:
            return None
        return {
            "g_optimizer": keras.optimizers.serialize(self.g_optimizer),
            "d_optimizer": keras.optimizers.serialize(self.d_optimizer),
            "loss": keras.saving.serialize_keras_object(self.gan_loss),
            "cycle_weight": self.cycle_weight,
            "identity_weight": self.identity_weight,
        }

    def compile_from_config(self, config):
        self.compile(
            g_optimizer=keras.optimizers.deserialize(config["g_optimizer"]),
            d_optimizer=keras.optimizers.deserialize(config["d_optimizer"]),
            loss=keras.saving.deserialize_keras_object(config["loss"]),
            cycle_weight=config["cycle_weight"], identity_weight=config["identity_weight"])
        self.build_optimizers()

    def get_config(self):
        config = super().get_config()
        config.update({role: keras.saving.serialize_keras_object(model)
                       for role, model in zip(("g_ab", "g_ba", "d_a", "d_b"), self.networks)})
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        for key in ("g_ab", "g_ba", "d_a", "d_b"):
            config[key] = keras.saving.deserialize_keras_object(
                config[key], custom_objects=custom_objects)
        return cls(**config)

    @property
    def train_steps(self):
        """Training steps (batches) run so far, restored with the weights."""
        return int(self._steps.variable.numpy())

    def save_own_variables(self, store):
        super().save_own_variables(store)
        store[_STEPS_KEY] = np.asarray(self.train_steps, np.int64)

    def load_own_variables(self, store):
        keys = list(store.keys())
        if _STEPS_KEY in keys:
            self._steps.variable.assign(int(np.asarray(store[_STEPS_KEY])))
        super().load_own_variables({k: store[k] for k in keys if k != _STEPS_KEY})

    # -- Training ---------------------------------------------------------------------

    @property
    def metrics(self):
        # fit() resets these at the start of every epoch.
        return list(self._trackers.values())

    def train_step(self, data):  # fit() traces this under tf.function: do not decorate it
        if self.gan_loss is None:
            raise RuntimeError("call CycleGAN.compile(g_optimizer, d_optimizer) before fit")
        real_a, real_b = _unpack_pair(data)
        logs, fake_a, fake_b = self.generator_step(real_a, real_b)
        logs.update(self.discriminator_step(real_a, real_b, fake_a, fake_b))
        self._steps.variable.assign_add(1)
        return self.update_trackers(logs)

    def generator_step(self, real_a, real_b):
        """One update of both generators through the (fixed) discriminators.

        Args:
            real_a: float32 (batch, H, W, C_a) in [-1, 1].
            real_b: float32 (batch, H, W, C_b) in [-1, 1].

        Returns:
            (logs, fake_a, fake_b): logs holds the float32 scalars g_loss,
            cycle_loss and identity_loss; fake_a = G_BA(b) and fake_b = G_AB(a)
            (no gradient), for the discriminator step.
        """
        with tf.GradientTape() as tape:
            fake_b = self.g_ab(real_a, training=True)
            fake_a = self.g_ba(real_b, training=True)
            g_loss = (self.gan_loss.generator_loss(self.d_b(fake_b, training=True))
                      + self.gan_loss.generator_loss(self.d_a(fake_a, training=True)))
            cycle_loss = (l1_loss(self.g_ba(fake_b, training=True), real_a)
                          + l1_loss(self.g_ab(fake_a, training=True), real_b))
            total = g_loss + self.cycle_weight * cycle_loss
            if self.identity_weight:
                identity_loss = (l1_loss(self.g_ab(real_b, training=True), real_b)
                                 + l1_loss(self.g_ba(real_a, training=True), real_a))
                total += self.identity_weight * identity_loss
            else:
                identity_loss = tf.constant(0.0)
            scaled = _scale_for_replicas(total, self.g_optimizer)
        variables = self.generator_variables
        gradients = tape.gradient(scaled, variables)
        self.g_optimizer.apply_gradients(zip(gradients, variables))
        logs = {"g_loss": g_loss, "cycle_loss": cycle_loss, "identity_loss": identity_loss}
        return logs, tf.stop_gradient(fake_a), tf.stop_gradient(fake_b)

    def discriminator_step(self, real_a, real_b, fake_a, fake_b):
        """One update of both discriminators on real batches and the generators' fakes.

        Returns:
            dict with the float32 scalar d_loss (D_A's plus D_B's).
        """
        with tf.GradientTape() as tape:
            d_loss = self.gan_loss.discriminator_scale * (
                self.gan_loss.discriminator_loss(self.d_a(real_a, training=True),
                                                 self.d_a(fake_a, training=True))
                + self.gan_loss.discriminator_loss(self.d_b(real_b, training=True),
                                                   self.d_b(fake_b, training=True)))
            scaled = _scale_for_replicas(d_loss, self.d_optimizer)
        variables = self.discriminator_variables
        gradients = tape.gradient(scaled, variables)
        self.d_optimizer.apply_gradients(zip(gradients, variables))
        for discriminator in (self.d_a, self.d_b):  # weight clipping, for wasserstein
            self.gan_loss.after_discriminator_step(discriminator)
        return {"d_loss": d_loss}

    def update_trackers(self, logs):
        for name, value in logs.items():
            self._trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self._trackers.items()}

    def fit(self, *args, shuffle=False, **kwargs):
        # Optimizer slots created inside the first trace would make tf.function trace
        # train_step a second time; create them here, once.
        if self.gan_loss is not None:
            self.build_optimizers()
        args, kwargs = one_iterator_per_fit(args, kwargs)  # see gan.one_iterator_per_fit
        # Datasets come shuffled from gan_tf.data; Keras would only warn about shuffle=True.
        return super().fit(*args, shuffle=shuffle, **kwargs)

    def test_step(self, data):
        raise NotImplementedError("CycleGAN has no validation step; translate images and "
                                  "evaluate them with gan_tf.metrics instead")

    # -- Translation ------------------------------------------------------------------

    def translate(self, images, direction="a2b", batch_size=256):
        """Maps images to the other domain with a generator in inference mode.

        Args:
            images: float (n, H, W, C) in [-1, 1] of the source domain.
            direction: "a2b" (G_AB) or "b2a" (G_BA).
            batch_size: images per generator call, to bound memory.

        Returns:
            numpy float32 (n, H, W, C_target) in [-1, 1].

        Raises:
            ValueError: an unknown direction or an empty batch.
        """
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
        images = tf.convert_to_tensor(images, tf.float32)
        if images.shape.rank != 4 or images.shape[0] == 0:
            raise ValueError(f"translate needs a non-empty (n, H, W, C) batch, got shape "
                             f"{tuple(images.shape)}")
        generator = self.g_ab if direction == "a2b" else self.g_ba
        chunks = [tf.cast(generator(images[start:start + batch_size], training=False),
                          tf.float32).numpy()
                  for start in range(0, int(images.shape[0]), batch_size)]
        return np.concatenate(chunks)

    # -- Export -----------------------------------------------------------------------

    def export_generator(self, path):
        """Writes both generators as one TensorFlow SavedModel.

        Its `serving_default` signature (and `serve` function) is G_AB: `images`
        float32 (batch, H, W, C_a) in [-1, 1] -> float32 (batch, H, W, C_b); its
        `b2a` function is G_BA. It loads with plain `tf.saved_model.load(path)`,
        without gan_tf. `gan_tf_export.json` beside it records the model kind and
        both image shapes.

        Returns:
            the path written.
        """
        if not self.built:
            self.build()
        shape_a = tuple(self.g_ab.input_shape[1:])
        shape_b = tuple(self.g_ba.input_shape[1:])
        g_ab, g_ba = self.g_ab, self.g_ba

        def serve(images):
            return tf.cast(g_ab(images, training=False), tf.float32)

        def b2a(images):
            return tf.cast(g_ba(images, training=False), tf.float32)

        archive = keras.export.ExportArchive()
        archive.track(g_ab)
        archive.track(g_ba)
        archive.add_endpoint("serve", serve, input_signature=[
            tf.TensorSpec((None, *shape_a), tf.float32, name="images")])
        archive.add_endpoint("b2a", b2a, input_signature=[
            tf.TensorSpec((None, *shape_b), tf.float32, name="images")])
        archive.write_out(path, verbose=False)
        with open(os.path.join(path, EXPORT_METADATA), "w") as f:
            json.dump({"model": "cyclegan", "serve": "a2b", "image_shape_a": list(shape_a),
                       "image_shape_b": list(shape_b)}, f, indent=2)
        return path


def _unpack_pair(data):
    """(a_images, b_images) from a batch of `load_unpaired`: a pair, or a dict with
    "a" and "b" keys.

    Raises:
        ValueError: anything else (e.g. one dataset's images alone).
    """
    if isinstance(data, dict) and "a" in data and "b" in data:
        return data["a"], data["b"]
    if isinstance(data, (tuple, list)) and len(data) == 2:
        return data[0], data[1]
    raise ValueError("CycleGAN trains on batches (a_images, b_images), e.g. from "
                     "gan_tf.data.load_unpaired(name_a, name_b)")


def _scale_for_replicas(loss, optimizer):
    # As GAN's: each replica's loss is a mean over its part of the batch and the
    # strategy sums gradients over replicas, so divide by the number of replicas.
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    if replicas > 1:
        loss = loss / tf.cast(replicas, loss.dtype)
    return optimizer.scale_loss(loss)


def build(image_shape=(28, 28, 1), image_shape_b=None, generator=None,
          discriminator=None):
    """CycleGAN with the `gan_tf.models.cyclegan` networks (not compiled).

    Args:
        image_shape: (H, W, C) of domain A.
        image_shape_b: (H, W, C) of domain B; None: as A.
        generator: keyword arguments of both `Generator`s (base_channels, ...).
        discriminator: keyword arguments of both `Discriminator`s.

    Returns:
        a `CycleGAN`.
    """
    from gan_tf.models import cyclegan as networks

    shape_a = tuple(image_shape)
    shape_b = tuple(image_shape_b or shape_a)
    generator = {k: v for k, v in (generator or {}).items()
                 if k not in ("image_shape", "output_channels")}
    discriminator = {k: v for k, v in (discriminator or {}).items() if k != "image_shape"}
    return CycleGAN(
        g_ab=networks.Generator(shape_a, output_channels=shape_b[-1], name="g_ab",
                                **generator),
        g_ba=networks.Generator(shape_b, output_channels=shape_a[-1], name="g_ba",
                                **generator),
        d_a=networks.Discriminator(shape_a, name="d_a", **discriminator),
        d_b=networks.Discriminator(shape_b, name="d_b", **discriminator))
