"""The tutorials' GAN recipes, each in its own plain TensorFlow loop, as a user would
write them without gan_tf (the quality benchmark's baselines).

Every recipe is Keras layers, a `tf.function` train step with `GradientTape`s and a
`for` loop over a shuffled `tf.data` pipeline, in float32 on images in [-1, 1]:

    tutorial_002      tutorial 002's PyTorch MLP GAN ported line by line: G 100-256-512-
                      1024-784 (Linear -> LeakyReLU -> BatchNorm1d, tanh), D 784-512-
                      256-1 (Linear -> LeakyReLU -> Dropout 0.3), BCE, Adam 2e-4 (0.5,
                      0.999), batch 64. Its loop: one batch of fakes `gen_imgs`, a D step
                      on `gen_imgs.detach()` with d_loss = 0.5 (real + fake), then a G step
                      on the same `gen_imgs` through the updated D. As its code runs
                      (the `tutorial_002` preset, docs/fidelity.md): LeakyReLU slope
                      0.01, PyTorch's default Linear init (its `weights_init` matches no
                      layer of these networks), BatchNorm1d's defaults (momentum 0.1, eps
                      1e-5); z drawn every step (its one fix).
    tutorial_002_ema  the same, sampling from an exponential moving average of G's
                      weights (decay 0.999; BN statistics are G's own).
    tf_dcgan          the TensorFlow DCGAN tutorial (tensorflow.org/tutorials/generative/
                      dcgan), its code: G dense 7x7x256 -> convT 128 -> 64 -> 1 (5x5, BN,
                      LeakyReLU), D conv 64 -> 128 (5x5 stride 2, LeakyReLU, Dropout 0.3)
                      -> dense 1, Adam 1e-4 for both, batch 256, one batch of noise per
                      step and both models updated at once from two tapes.
    tutorial_004      tutorial 004's TF1 GAN in TF2: G 100-128 (ReLU)-784, D 784-128
                      (Dropout 0.3, leaky ReLU)-1, Glorot init, Adam 1e-3 beta1 0.5 for
                      both, batch 64 (the tutorial leaves it undefined), both models
                      updated from one batch of fakes (its graph's two `minimize` ops;
                      the tutorial runs only G's, a bug fixed in docs/fidelity.md), tanh
                      output for [-1, 1] data.

`train(recipe, images, snapshot_seconds, ...)` runs a recipe and calls back at each
training-time budget (the clock is paused while the callback works).
"""

import time

LATENT_DIM = 100


def _normal(stddev, mean=0.0):
    import keras

    return keras.initializers.RandomNormal(mean, stddev)


def _pytorch_uniform(fan_in):
    """PyTorch's nn.Linear default for weights and biases: U(+-1/sqrt(fan_in))."""
    import keras

    bound = fan_in ** -0.5
    return keras.initializers.RandomUniform(-bound, bound)


def _linear(width, fan_in):
    import keras

    init = _pytorch_uniform(fan_in)
    return keras.layers.Dense(width, kernel_initializer=init, bias_initializer=init)


def _mlp_002():
    # The tutorial's code: nn.LeakyReLU() (slope 0.01), PyTorch's default Linear init
    # (its weights_init touches only Conv and BatchNorm2d layers, none of which exist
    # here), BatchNorm1d's defaults (momentum 0.1, eps 1e-5, scale 1).
    import keras

    layers = keras.layers
    generator = keras.Sequential([keras.Input((LATENT_DIM,))])
    fan_in = LATENT_DIM
    for width in (256, 512, 1024):
        generator.add(_linear(width, fan_in))
        generator.add(layers.LeakyReLU(0.01))
        generator.add(layers.BatchNormalization(momentum=0.9, epsilon=1e-5))
        fan_in = width
    generator.add(_linear(784, fan_in))
    generator.add(layers.Activation("tanh"))
    generator.add(layers.Reshape((28, 28, 1)))
    discriminator = keras.Sequential([keras.Input((28, 28, 1)), layers.Flatten()])
    fan_in = 784
    for width in (512, 256):
        discriminator.add(_linear(width, fan_in))
        discriminator.add(layers.LeakyReLU(0.01))
        discriminator.add(layers.Dropout(0.3))
        fan_in = width
    discriminator.add(_linear(1, fan_in))
    return generator, discriminator


def _tf_dcgan():
    import keras

    layers = keras.layers
    generator = keras.Sequential([
        keras.Input((LATENT_DIM,)),
        layers.Dense(7 * 7 * 256, use_bias=False), layers.BatchNormalization(),
        layers.LeakyReLU(),
        layers.Reshape((7, 7, 256)),
        layers.Conv2DTranspose(128, 5, strides=1, padding="same", use_bias=False),
        layers.BatchNormalization(), layers.LeakyReLU(),
        layers.Conv2DTranspose(64, 5, strides=2, padding="same", use_bias=False),
        layers.BatchNormalization(), layers.LeakyReLU(),
        layers.Conv2DTranspose(1, 5, strides=2, padding="same", use_bias=False,
                               activation="tanh")])
    discriminator = keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.Conv2D(64, 5, strides=2, padding="same"), layers.LeakyReLU(),
        layers.Dropout(0.3),
        layers.Conv2D(128, 5, strides=2, padding="same"), layers.LeakyReLU(),
        layers.Dropout(0.3),
        layers.Flatten(), layers.Dense(1)])
    return generator, discriminator


def _mlp_004():
    import keras

    layers = keras.layers
    generator = keras.Sequential([keras.Input((LATENT_DIM,)),
                                  layers.Dense(128, activation="relu"),
                                  layers.Dense(784, activation="tanh"),
                                  layers.Reshape((28, 28, 1))])
    discriminator = keras.Sequential([keras.Input((28, 28, 1)), layers.Flatten(),
                                      layers.Dense(128), layers.Dropout(0.3),
                                      layers.LeakyReLU(0.2), layers.Dense(1)])
    return generator, discriminator


# name: (models, batch, Adam (lr, beta_1), step style, d_loss scale, EMA decay)
RECIPES = {
    "tutorial_002": (_mlp_002, 64, (2e-4, 0.5), "sequential", 0.5, None),
    "tutorial_002_ema": (_mlp_002, 64, (2e-4, 0.5), "sequential", 0.5, 0.999),
    "tf_dcgan": (_tf_dcgan, 256, (1e-4, 0.9), "simultaneous", 1.0, None),
    "tutorial_004": (_mlp_004, 64, (1e-3, 0.5), "simultaneous", 1.0, None),
}


class Loop:
    """One recipe's models, optimizers and train step.

    Attributes:
        batch_size: images per step.
        train_step: tf.function, real images float32 (B, 28, 28, 1) -> (d_loss, g_loss).
    """

    def __init__(self, name, seed=0, models=None):
        """name: a `RECIPES` key; seed: weights and noise; models: (generator,
        discriminator) to train instead of the recipe's own networks."""
        import keras
        import tensorflow as tf

        if name not in RECIPES:
            raise ValueError(f"unknown recipe {name!r}; choose from {', '.join(RECIPES)}")
        build, self.batch_size, (lr, beta_1), style, d_scale, self.ema_decay = RECIPES[name]
        keras.utils.set_random_seed(seed)
        self.generator, self.discriminator = models or build()
        self.g_opt = keras.optimizers.Adam(lr, beta_1=beta_1)
        self.d_opt = keras.optimizers.Adam(lr, beta_1=beta_1)
        self.ema = None
        if self.ema_decay:
            self.ema = keras.models.clone_model(self.generator)
            self.ema.set_weights(self.generator.get_weights())
        bce = keras.losses.BinaryCrossentropy(from_logits=True)

        def d_loss_fn(real_logits, fake_logits):
            return d_scale * (bce(tf.ones_like(real_logits), real_logits)
                              + bce(tf.zeros_like(fake_logits), fake_logits))

        def g_loss_fn(fake_logits):
            return bce(tf.ones_like(fake_logits), fake_logits)

        generator, discriminator = self.generator, self.discriminator

        @tf.function
        def sequential_step(images):  # tutorial 002's order
            latents = tf.random.normal([tf.shape(images)[0], LATENT_DIM])
            with tf.GradientTape() as g_tape:
                fakes = generator(latents, training=True)
                with g_tape.stop_recording(), tf.GradientTape() as d_tape:
                    d_loss = d_loss_fn(discriminator(images, training=True),
                                       discriminator(tf.stop_gradient(fakes), training=True))
                d_grads = d_tape.gradient(d_loss, discriminator.trainable_variables)
                self.d_opt.apply_gradients(zip(d_grads, discriminator.trainable_variables))
                g_loss = g_loss_fn(discriminator(fakes, training=True))
            g_grads = g_tape.gradient(g_loss, generator.trainable_variables)
            self.g_opt.apply_gradients(zip(g_grads, generator.trainable_variables))
            self._update_ema()
            return d_loss, g_loss

        @tf.function
        def simultaneous_step(images):  # the TF DCGAN tutorial's order
            latents = tf.random.normal([self.batch_size, LATENT_DIM])
            with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
                fakes = generator(latents, training=True)
                real_logits = discriminator(images, training=True)
                fake_logits = discriminator(fakes, training=True)
                g_loss = g_loss_fn(fake_logits)
                d_loss = d_loss_fn(real_logits, fake_logits)
            g_grads = g_tape.gradient(g_loss, generator.trainable_variables)
            d_grads = d_tape.gradient(d_loss, discriminator.trainable_variables)
            self.g_opt.apply_gradients(zip(g_grads, generator.trainable_variables))
            self.d_opt.apply_gradients(zip(d_grads, discriminator.trainable_variables))
            return d_loss, g_loss

        self.train_step = sequential_step if style == "sequential" else simultaneous_step

    def _update_ema(self):
        if self.ema is None:
            return
        for average, weight in zip(self.ema.trainable_variables,
                                   self.generator.trainable_variables):
            average.assign(self.ema_decay * average + (1.0 - self.ema_decay) * weight)

    def sample(self, latents, batch_size=500):
        """Images float32 (N, 28, 28, 1) in [-1, 1] from latents (N, 100), inference mode."""
        import numpy as np

        model = self.generator
        if self.ema is not None:  # the average's batch-norm statistics are G's own
            for average, weight in zip(self.ema.non_trainable_variables,
                                       self.generator.non_trainable_variables):
                average.assign(weight)
            model = self.ema
        return np.concatenate([model(latents[i:i + batch_size], training=False).numpy()
                               for i in range(0, len(latents), batch_size)])


def clock(kind):
    """The training clock: "wall" (time.perf_counter) or "cpu" (this process's CPU
    time over all its threads, time.process_time)."""
    if kind not in ("wall", "cpu"):
        raise ValueError(f"clock must be wall or cpu, got {kind!r}")
    return time.perf_counter if kind == "wall" else time.process_time


def train(name, images, budgets_s, on_budget, clock_kind="wall", seed=0):
    """Trains recipe `name` on `images` until each budget of training time.

    Args:
        name: a `RECIPES` key.
        images: float32 (N, 28, 28, 1) in [-1, 1].
        budgets_s: ascending training-time budgets in seconds.
        on_budget: called as on_budget(loop, budget_s, stats) at each budget; its own
            time is not counted.
        clock_kind: "wall" or "cpu" (see `clock`).
        seed: weights, noise and data order.

    Returns:
        the `Loop`.
    """
    import tensorflow as tf

    now = clock(clock_kind)
    loop = Loop(name, seed)
    dataset = (tf.data.Dataset.from_tensor_slices(images)
               .shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
               .batch(loop.batch_size))
    spent, steps, pending = 0.0, 0, list(budgets_s)
    start = now()
    while pending:
        for real_images in dataset:  # one epoch, as the tutorials loop
            loop.train_step(real_images)
            steps += 1
            if spent + now() - start >= pending[0]:
                spent += now() - start
                on_budget(loop, pending.pop(0), {"steps": steps, "seconds": spent})
                start = now()
                if not pending:
                    break
    return loop
