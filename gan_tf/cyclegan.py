"""CycleGAN (tutorial 003; Zhu et al. 2017, arXiv:1703.10593): unpaired translation.

Two generators, G_AB: A -> B and G_BA: B -> A, and two discriminators, D_A (real A
vs G_BA(b)) and D_B (real B vs G_AB(a)), trained on batches `(a_images, b_images)`
drawn independently from two datasets (`gan_tf.data.load_unpaired`). It is its own
`keras.Model` because its step has four networks and three loss terms; it reuses the
adversarial loss pairs of `gan_tf.losses`, and trains through `fit` with the
library's callbacks, checkpoints and CLI (`python -m gan_tf.train --config=cyclegan`).

Each step, as the paper's reference code (junyanz/pytorch-CycleGAN-and-pix2pix) runs
it: the generators are updated first, then the discriminators, on the fakes of the
same forward pass. With a, b the real batches, L1 the mean absolute error and G, D the
loss's generator and discriminator terms:

    generators minimise  s * [G(D_B(G_AB(a))) + G(D_A(G_BA(b)))]        (g_loss / s)
                         + cycle_weight * [L1(G_BA(G_AB(a)), a) + L1(G_AB(G_BA(b)), b)]
                         + identity_weight * [L1(G_AB(b), b) + L1(G_BA(a), a)]
    discriminators minimise  D(D_A(a), D_A(pool_A(G_BA(b)))) + D(D_B(b), D_B(pool_B(G_AB(a))))

s (`generator_scale`) is 2 for loss="least_squares" and 1 otherwise: the reference
code's generator term is its criterion against the "real" target, MSE(D(G(x)), 1) for
least squares, twice the 0.5 * MSE of Mao et al. that
`gan_tf.losses.least_squares_generator_loss` computes; its BCE and WGAN terms equal
gan_tf's. The least-squares discriminator term is the reference code's
0.5 * (MSE(D(real), 1) + MSE(D(fake), 0)) as it is. With the paper's weights (cycle
10, identity 5) the generators' objective is the reference code's.

pool_A and pool_B are `ImagePool`s of `pool_size` (50 in the paper) earlier fakes
(Shrivastava et al. 2017, arXiv:1612.07828): each fake shown to a discriminator is,
with probability 0.5, swapped for a stored one, which the new fake replaces, so the
discriminators also see the generators' history. pool_size=0 shows them the current
fakes only.
"""

import numbers

import keras
import numpy as np
import tensorflow as tf

from gan_tf import export
from gan_tf import flops
from gan_tf import losses
from gan_tf import memory
from gan_tf.adversarial import AdversarialModel
from gan_tf.models import cyclegan as networks

DIRECTIONS = ("a2b", "b2a")
POOL_SIZE = 50  # the paper's history of generated images per discriminator
# The reference code's generator term over gan_tf's, per loss (module docstring).
REFERENCE_GENERATOR_SCALE = {"least_squares": 2.0}


@keras.saving.register_keras_serializable(package="gan_tf")
class CycleGAN(AdversarialModel):
    """Two generators and two discriminators trained on unpaired batches by `fit`.

    Args:
        g_ab: a Keras model mapping A images (batch, H, W, C_a) to B images
            (batch, H, W, C_b) in [-1, 1].
        g_ba: the reverse mapping, B -> A.
        d_a: a Keras model mapping A images to logits of any shape (a PatchGAN map
            (batch, h, w, 1) or (batch, 1)); no final sigmoid.
        d_b: the same for B images.
        seed: seed of the `SeedGenerator` the image pools draw from; None draws one
            at random.

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

    NETWORKS = ("g_ab", "g_ba", "d_a", "d_b")
    DEFAULT_LOSS = "least_squares"

    def __init__(self, g_ab, g_ba, d_a, d_b, seed=None, **kwargs):
        super().__init__(**kwargs)
        self._set_networks(g_ab=g_ab, g_ba=g_ba, d_a=d_a, d_b=d_b)
        self.seed = seed
        # The image pools' random draws; its state is saved with the weights.
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.cycle_weight = 10.0
        self.identity_weight = 5.0
        self.pool_size = POOL_SIZE
        self.generator_scale = 1.0
        self.pool_a = self.pool_b = None  # ImagePools, made by compile once built
        self._image_shapes = None  # (A, B) image shapes given to build

    # -- Building and compiling ---------------------------------------------------------

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
        self._image_shapes = (tuple(shape_a[1:]), tuple(shape_b[1:]))
        if self.gan_loss is not None and self.pool_size and self.pool_a is None:
            self._make_pools()

    def compile(self, g_optimizer=None, d_optimizer=None, loss="least_squares",
                cycle_weight=10.0, identity_weight=5.0, pool_size=POOL_SIZE, **kwargs):
        """Sets the optimizers, the adversarial loss, the weights of the L1 terms and
        the image pools.

        Args:
            g_optimizer: optimizer of both generators; default Adam(2e-4, beta_1=0.5)
                as in the paper.
            d_optimizer: optimizer of both discriminators; same default.
            loss: an adversarial loss from `gan_tf.losses.names()` or a
                `gan_tf.losses.GANLoss` without regularisers or codes; the paper uses
                least squares.
            cycle_weight: lambda of the cycle-consistency term (10 in the paper).
            identity_weight: weight of the identity term (5 = 0.5 * lambda in the
                paper's reference code); 0 skips it (two generator calls fewer).
            pool_size: earlier fakes each discriminator's `ImagePool` keeps (50 in
                the paper); 0 shows the discriminators the current fakes only.
                Compiling empties the pools.
            **kwargs: passed to `keras.Model.compile`.

        Raises:
            ValueError: unknown loss, a loss with regularisers, codes or several
                discriminator steps, weights that are not numbers >= 0, or a
                pool_size that is not an integer >= 0.
            TypeError: `optimizer=` given instead of `g_optimizer`/`d_optimizer`.
        """
        check_weight("cycle_weight", cycle_weight)
        check_weight("identity_weight", identity_weight)
        check_pool_size(pool_size)
        self.cycle_weight = float(cycle_weight)
        self.identity_weight = float(identity_weight)
        super().compile(g_optimizer, d_optimizer, loss, **kwargs)
        self.generator_scale = REFERENCE_GENERATOR_SCALE.get(self.gan_loss.name, 1.0)
        self.pool_size = int(pool_size)
        self.pool_a = self.pool_b = None
        if self.pool_size and self.built:
            self._make_pools()

    def _make_pools(self):
        """Empty pools of `pool_size` images of each domain, made under the model's
        strategy; the image shapes are those given to `build`, else the generators'
        input shapes.

        Raises:
            ValueError: neither is known.
        """
        if self._image_shapes is not None:
            shape_a, shape_b = self._image_shapes
        else:
            try:
                shape_a, shape_b = self.g_ab.input_shape[1:], self.g_ba.input_shape[1:]
            except (AttributeError, ValueError) as error:
                raise ValueError(
                    "CycleGAN's image pools need the image shapes: build the networks "
                    "on keras.Input, call model.build(((None, H, W, C), (None, H, W, "
                    "C))) before compile, or compile with pool_size=0") from error
        with self.distribute_strategy.scope():
            self.pool_a = ImagePool(self.pool_size, tuple(shape_a), "pool_a")
            self.pool_b = ImagePool(self.pool_size, tuple(shape_b), "pool_b")

    def _check_loss(self, gan_loss):
        if gan_loss.regularizers or gan_loss.code_dim or gan_loss.d_steps != 1:
            raise ValueError(f"CycleGAN takes a plain adversarial loss (one D step, no "
                             f"regularisers or codes), got {gan_loss!r}")

    def compile_options(self):
        return {"cycle_weight": self.cycle_weight, "identity_weight": self.identity_weight,
                "pool_size": self.pool_size}

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}

    def extra_state(self):
        """The image pools' variables ({} without pools)."""
        if self.pool_a is None:
            return {}
        return {f"{pool.name}_{part}": variable for pool in (self.pool_a, self.pool_b)
                for part, variable in (("images", pool.images), ("count", pool.count))}

    def tracker_names(self):
        return ["d_loss", "g_loss", "cycle_loss", "identity_loss"]

    @property
    def generator_variables(self):
        return self.g_ab.trainable_variables + self.g_ba.trainable_variables

    @property
    def discriminator_variables(self):
        return self.d_a.trainable_variables + self.d_b.trainable_variables

    def optimizer_targets(self):
        return [(self.g_optimizer, self.generator_variables),
                (self.d_optimizer, self.discriminator_variables)]

    def step_flops(self, element_spec):
        """FLOPs of one `train_step` on a batch of `element_spec`: per image pair
        (6 + 3 i) (G_AB + G_BA) + 8 (D_A + D_B) forward FLOPs, i = 1 with the
        identity term (the generators run 2 + 2 i times and the discriminators twice,
        backward passes cost twice their forward; gan_tf.flops). None without a
        static batch size."""
        spec_a, spec_b = _unpack_pair(element_spec)
        if spec_a.shape.rank is None or spec_a.shape[0] is None:
            return None
        image_a = tf.TensorSpec((1, *spec_a.shape[1:]), tf.float32)
        image_b = tf.TensorSpec((1, *spec_b.shape[1:]), tf.float32)
        generators = flops.forward(self.g_ab, image_a) + flops.forward(self.g_ba, image_b)
        discriminators = flops.forward(self.d_a, image_a) + flops.forward(self.d_b, image_b)
        per_pair = (6 + 3 * bool(self.identity_weight)) * generators + 8 * discriminators
        return spec_a.shape[0] * per_pair

    def step_floats(self, element_spec):
        """Floats of the activations one `train_step` on a batch of `element_spec`
        holds for its backward passes (gan_tf.memory): (2 + i) (G_AB + G_BA) + 3 (D_A
        + D_B) forward activations on the batch, i = 1 with the identity term. None
        without a static batch size."""
        spec_a, spec_b = _unpack_pair(element_spec)
        if spec_a.shape.rank is None or spec_a.shape[0] is None:
            return None
        batch = spec_a.shape[0]
        image_a = tf.TensorSpec((1, *spec_a.shape[1:]), tf.float32)
        image_b = tf.TensorSpec((1, *spec_b.shape[1:]), tf.float32)
        generators = (memory.batch_floats(self.g_ab, batch, image_a)
                      + memory.batch_floats(self.g_ba, batch, image_b))
        discriminators = (memory.batch_floats(self.d_a, batch, image_a)
                          + memory.batch_floats(self.d_b, batch, image_b))
        return (2 + bool(self.identity_weight)) * generators + 3 * discriminators

    # -- Training -----------------------------------------------------------------------

    def train_step(self, data):  # fit() traces this under tf.function: do not decorate it
        self._require_compiled()
        real_a, real_b = _unpack_pair(data)
        logs, fake_a, fake_b = self.generator_step(real_a, real_b)
        if self.pool_a is not None:  # the fakes each discriminator is shown
            fake_a = self.pool_a.query(fake_a, self.seed_generator.next())
            fake_b = self.pool_b.query(fake_b, self.seed_generator.next())
        logs.update(self.discriminator_step(real_a, real_b, fake_a, fake_b))
        return self._count_step(logs)

    def generator_step(self, real_a, real_b):
        """One update of both generators through the (fixed) discriminators.

        Args:
            real_a: float32 (batch, H, W, C_a) in [-1, 1].
            real_b: float32 (batch, H, W, C_b) in [-1, 1].

        Returns:
            (logs, fake_a, fake_b): logs holds the float32 scalars g_loss (the
            adversarial term, `generator_scale` included), cycle_loss and
            identity_loss; fake_a = G_BA(b) and fake_b = G_AB(a) (no gradient), for
            the discriminator step.
        """
        cycle = losses.cycle_consistency_loss
        with tf.GradientTape() as tape:
            fake_b = self.g_ab(real_a, training=True)
            fake_a = self.g_ba(real_b, training=True)
            g_loss = self.generator_scale * (
                self.gan_loss.generator_loss(self.d_b(fake_b, training=True))
                + self.gan_loss.generator_loss(self.d_a(fake_a, training=True)))
            cycle_loss = (cycle(self.g_ba(fake_b, training=True), real_a)
                          + cycle(self.g_ab(fake_a, training=True), real_b))
            total = g_loss + self.cycle_weight * cycle_loss
            if self.identity_weight:
                identity_loss = (cycle(self.g_ab(real_b, training=True), real_b)
                                 + cycle(self.g_ba(real_a, training=True), real_a))
                total += self.identity_weight * identity_loss
            else:
                identity_loss = tf.constant(0.0)
        self._apply(tape, total, self.g_optimizer, self.generator_variables)
        logs = {"g_loss": g_loss, "cycle_loss": cycle_loss, "identity_loss": identity_loss}
        return logs, tf.stop_gradient(fake_a), tf.stop_gradient(fake_b)

    def discriminator_step(self, real_a, real_b, fake_a, fake_b):
        """One update of both discriminators on real batches and fakes (the pools'
        choice of current and earlier ones in `train_step`).

        Returns:
            dict with the float32 scalar d_loss (D_A's plus D_B's).
        """
        with tf.GradientTape() as tape:
            d_loss = self.gan_loss.discriminator_scale * (
                self.gan_loss.discriminator_loss(self.d_a(real_a, training=True),
                                                 self.d_a(fake_a, training=True))
                + self.gan_loss.discriminator_loss(self.d_b(real_b, training=True),
                                                   self.d_b(fake_b, training=True)))
        self._apply(tape, d_loss, self.d_optimizer, self.discriminator_variables)
        for discriminator in (self.d_a, self.d_b):  # weight clipping, for wasserstein
            self.gan_loss.after_discriminator_step(discriminator)
        return {"d_loss": d_loss}

    # -- Translation --------------------------------------------------------------------

    def call(self, images, training=False):
        """`model(images)` / `model.predict(images)`: G_AB's translation."""
        return self.g_ab(images, training=training)

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

    # -- Export -------------------------------------------------------------------------

    def export_generator(self, path):
        """Writes both generators as one TensorFlow SavedModel
        (`gan_tf.export.export_cyclegan`).

        Its `serving_default` signature (and `serve` function) is G_AB: `images`
        float32 (batch, H, W, C_a) in [-1, 1] -> float32 (batch, H, W, C_b); its
        `b2a` function is G_BA. It loads with plain `tf.saved_model.load(path)`,
        without gan_tf. `gan_tf_export.json` beside it records the model kind and
        both image shapes. The export goes to a temporary folder renamed into place.

        Returns:
            the path written.
        """
        return export.export_cyclegan(self, path)


class ImagePool:
    """A history of generated images for one discriminator (Shrivastava et al. 2017,
    arXiv:1612.07828; CycleGAN's pool of 50), kept in variables that the training
    step updates.

    `query(images, seed)` goes through the batch in order, as the reference code's
    ImagePool does: while the pool has room, an image is stored and shown as it is;
    once it is full, an image is, with probability 0.5, swapped for a stored one drawn
    uniformly (that one is shown, the new one takes its place), else shown as it is.
    Under a `tf.distribute` strategy every replica queries the global batch (its
    replicas' fakes gathered in replica order) with the same draws and keeps its own
    slice, so the pools and what each discriminator sees equal one device's with the
    same global batch. The variables are not Keras weights: `CycleGAN` saves them
    with its weights (`extra_state`).

    Args:
        size: images the pool holds, >= 1.
        image_shape: (H, W, C) of the images.
        name: prefix of the variables' names.

    Raises:
        ValueError: size is not an integer >= 1.
    """

    def __init__(self, size, image_shape, name="image_pool"):
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
            raise ValueError(f"an ImagePool holds >= 1 images, got size={size!r}")
        self.size = int(size)
        self.name = name
        # ONLY_FIRST_REPLICA: every replica computes the same update (see above).
        first = tf.VariableAggregation.ONLY_FIRST_REPLICA
        self.images = tf.Variable(tf.zeros((self.size, *image_shape), tf.float32),
                                  trainable=False, name=f"{name}_images", aggregation=first)
        self.count = tf.Variable(0, dtype=tf.int32, trainable=False,
                                 name=f"{name}_count", aggregation=first)

    def query(self, images, seed):
        """The images to show the discriminator in place of `images`; updates the pool.

        Args:
            images: float (batch, H, W, C), this replica's new fakes (no gradient
                flows through the pool).
            seed: int32 (2,) stateless seed, the same on every replica.

        Returns:
            a tensor like `images`.
        """
        context = tf.distribute.get_replica_context()
        replicas = context.num_replicas_in_sync if context is not None else 1
        local = tf.stop_gradient(images)
        batch = context.all_gather(local, axis=0) if replicas > 1 else local
        draws = tf.random.stateless_uniform(tf.stack([tf.shape(batch)[0], 2]),
                                            tf.cast(seed, tf.int32))
        slots = tf.minimum(tf.cast(draws[:, 1] * self.size, tf.int32), self.size - 1)
        shown, stored, count = swap_with_history(
            self.images, self.count, tf.cast(batch, tf.float32), draws[:, 0] > 0.5, slots)
        self.images.assign(stored)
        self.count.assign(count)
        shown = tf.cast(shown, images.dtype)
        if replicas == 1:
            return shown
        size = tf.shape(local)[0]
        start = tf.cast(context.replica_id_in_sync_group, tf.int32) * size
        return shown[start:start + size]


def swap_with_history(stored, count, images, swap, slots):
    """One query of an image pool, image by image in batch order (see `ImagePool`).

    Image i is stored in row count + i while that row is free, and shown as it is.
    Once the pool is full, an image with swap[i] True is shown the content of row
    slots[i] at that moment (a stored image, or an earlier image of this batch that
    went there) and takes its place; the others are shown as they are.

    Args:
        stored: float32 (size, H, W, C), the pool; rows from `count` on are unused.
        count: int32 scalar, images stored so far, <= size.
        images: float32 (batch, H, W, C), the new images in order.
        swap: bool (batch,), the draws with probability 0.5.
        slots: int32 (batch,) in [0, size), the row each swap takes.

    Returns:
        (shown, stored, count): float32 (batch, H, W, C), the pool after the batch
        (size, H, W, C), and the int32 count min(count + batch, size).
    """
    size, batch = tf.shape(stored)[0], tf.shape(images)[0]
    order = tf.range(batch)
    filling = count + order < size
    swapping = swap & ~filling
    slot = tf.where(filling, count + order, slots)     # the row image i reads or writes
    writes = filling | swapping

    def broadcast(flags):  # (n,) -> (n, 1, 1, 1) against images
        return tf.reshape(flags, tf.concat([[-1], tf.ones([tf.rank(images) - 1], tf.int32)],
                                           axis=0))

    # Row slot[i] just before image i: the last earlier image of the batch written
    # there, else what the pool held.
    earlier = (writes[None, :] & (slot[None, :] == slot[:, None])
               & (order[None, :] < order[:, None]))                      # (batch, batch)
    writer = tf.reduce_max(tf.where(earlier, order[None, :], -1), axis=1)
    before = tf.where(broadcast(writer >= 0), tf.gather(images, tf.maximum(writer, 0)),
                      tf.gather(stored, slot))
    shown = tf.where(broadcast(swapping), before, images)
    # Each row after the batch: its last writer's image, else unchanged.
    rows = tf.range(size)
    hits = writes[None, :] & (slot[None, :] == rows[:, None])              # (size, batch)
    last = tf.reduce_max(tf.where(hits, order[None, :], -1), axis=1)
    stored = tf.where(broadcast(last >= 0), tf.gather(images, tf.maximum(last, 0)), stored)
    return shown, stored, tf.minimum(count + batch, size)


def check_weight(name, weight):
    """Raises ValueError unless `weight` (the loss term `name`'s) is a number >= 0."""
    if isinstance(weight, bool) or not isinstance(weight, numbers.Real) or not weight >= 0:
        raise ValueError(f"{name} must be a number >= 0, got {weight!r}")


def check_pool_size(pool_size):
    """Raises ValueError unless pool_size is an integer >= 0."""
    if isinstance(pool_size, bool) or not isinstance(pool_size, (int, np.integer)) \
            or pool_size < 0:
        raise ValueError(f"pool_size must be an integer >= 0 (0: no image pool), got "
                         f"{pool_size!r}")


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


def build(image_shape=(28, 28, 1), image_shape_b=None, generator=None,
          discriminator=None, seed=None):
    """CycleGAN with the `gan_tf.models.cyclegan` networks (not compiled).

    Args:
        image_shape: (H, W, C) of domain A.
        image_shape_b: (H, W, C) of domain B; None: as A.
        generator: keyword arguments of both `Generator`s (base_channels, ...).
        discriminator: keyword arguments of both `Discriminator`s.
        seed: seed of the image pools' draws (`CycleGAN`).

    Returns:
        a `CycleGAN`.
    """
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
        d_b=networks.Discriminator(shape_b, name="d_b", **discriminator), seed=seed)
