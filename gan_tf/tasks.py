"""Model-family tasks: what the trainer needs to know to run one kind of model.

A task tells `gan_tf.trainer` how to check a config's names, load its data, build and
compile its model, draw its sample grids and feed its monitors. Two kinds exist:

    LatentTask       latents -> images (`gan_tf.GAN`): mlp, dcgan, conditional,
                     infogan, stylegan; one dataset, optional labels
    TranslationTask  images -> images (`gan_tf.CycleGAN`): cyclegan; two unpaired
                     datasets

`for_config(config)` picks the task of `config.model.family`; nothing else in the
trainer branches on the family.
"""

import keras

from gan_tf import augment
from gan_tf import data
from gan_tf import losses
from gan_tf import models

OPTIMIZERS = ("adam", "rmsprop")
# Shapes of the named datasets, for building models before any data is read.
KNOWN_SHAPES = {"mnist_sample": (28, 28, 1), "mnist": (28, 28, 1),
                "fashion_mnist": (28, 28, 1), "svhn_cropped": (32, 32, 3),
                "cifar10": (32, 32, 3), "celeb_a": (64, 64, 3)}


def for_config(config):
    """The task of `config.model.family`.

    Raises:
        ValueError: an unknown family.
    """
    if models.is_translation(config.model.family):
        return TranslationTask()
    return LatentTask()


def check(config):
    """Checks every name of `config` by building what it names (loss, model families,
    dataset, augmentation policy, evaluation extractor), before any data is read.

    Raises:
        ValueError: one line naming the bad value and the choices or the fix.
    """
    for_config(config).check(config)


def build_model(config, image_shape=None, image_shape_b=None):
    """The compiled model of `config`, built as the trainer builds it: a `GAN`, or a
    `CycleGAN` for an image-to-image family. Image shapes default to the preset's or
    the named dataset's, and a conditional family's classes to its generator's (10).

    Raises:
        ValueError: an unknown family or loss, or a dataset whose image shape is known
            only from its data (pass `image_shape`).
    """
    shapes = {k: tuple(v) for k, v in (("image_shape", image_shape),
                                       ("image_shape_b", image_shape_b)) if v}
    task = for_config(config)
    if not task.translation and task.conditional(config):
        shapes["num_classes"] = config.model.generator.get("num_classes", 10)
    return task.build(config, shapes)


def build_optimizer(train, learning_rate):
    """The optimizer `train.optimizer` names, with `train`'s betas and clipping.

    Raises:
        ValueError: an unknown optimizer name.
    """
    if train.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate, global_clipnorm=train.grad_clip_norm)
    if train.optimizer == "adam":
        return keras.optimizers.Adam(learning_rate, beta_1=train.beta_1, beta_2=train.beta_2,
                                     global_clipnorm=train.grad_clip_norm)
    raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, "
                     f"got {train.optimizer!r}")


def step_intervals(config):
    """The step counts the run's callbacks act on (mid-epoch checkpoints, sample
    grids, TensorBoard logs; the non-zero ones), which `steps_per_execution="auto"`
    divides so that they stay exact."""
    cb = config.callbacks
    return tuple(n for n in (cb.checkpoint_every_steps, cb.sample_every_steps,
                             cb.log_every_steps) if n)


def _load_kwargs(config):
    cfg = config.data
    return {"split": cfg.split, "batch_size": cfg.batch_size, "image_size": cfg.image_size,
            "data_dir": cfg.data_dir, "manual_dir": cfg.manual_dir,
            "on_bad_image": cfg.on_bad_image}


class LatentTask:
    """GAN families: latents (and labels) -> images, one dataset."""

    translation = False

    def check(self, config):
        model = config.model
        generator_class = models.get(model.family).Generator
        discriminator_family = model.discriminator_family or model.family
        if models.is_translation(discriminator_family):
            raise ValueError(f"discriminator_family {discriminator_family!r} is an "
                             f"image-to-image family; it needs --model of its own")
        models.get(discriminator_family)
        loss = losses.get(config.train.loss, **config.train.loss_kwargs)
        if getattr(generator_class, "latent_codes", False) and not loss.code_dim:
            raise ValueError(
                f"model {model.family} draws latent codes, which loss "
                f"{config.train.loss} does not train: use --loss=infogan (its adversarial "
                f"part: --set=train.loss_kwargs.base={config.train.loss})")
        augment.parse_policy(model.augment)
        data.check_name(config.data.name)
        if config.callbacks.eval_every:
            from gan_tf.metrics import features

            if config.data.name not in features.CLASSIFIER_FOR_DATASET:
                raise ValueError(
                    f"eval_every needs a bundled classifier for the dataset; there is "
                    f"none for {config.data.name!r} (only {', '.join(features.CLASSIFIERS)})"
                    "; evaluate afterwards with python -m gan_tf.evaluate "
                    "--extractor=inception")

    def d_steps(self, config):
        """Dataset batches one training step takes (one per critic step)."""
        return losses.get(config.train.loss, **config.train.loss_kwargs).d_steps

    def conditional(self, config):
        return bool(getattr(models.get(config.model.family).Generator, "conditional", False))

    def load_data(self, config, repeat=True, shuffle=True):
        return data.load(config.data.name, seed=config.train.seed, repeat=repeat,
                         shuffle=shuffle, with_labels=self.conditional(config),
                         **_load_kwargs(config))

    def check_data(self, config, dataset):
        """Data against the preset's models; returns the shapes `build` takes.

        Raises:
            ValueError: images that do not fit a preset's fixed model shape, or labels
                a conditional model cannot take.
        """
        image_shape = data.element_shape(dataset)
        declared = declared_image_shape(config)
        if declared:
            data.check_matches_model(image_shape, declared, name=config.data.name,
                                     model=f"preset {config.preset}")
        shapes = {"image_shape": tuple(image_shape)}
        if self.conditional(config):
            shapes["num_classes"] = self._num_classes(config)
        return shapes

    def _num_classes(self, config):
        found = data.num_classes(config.data.name, data_dir=config.data.data_dir,
                                 manual_dir=config.data.manual_dir)
        wanted = config.model.generator.get("num_classes")
        if not found or found < 2:
            raise ValueError(
                f"model {config.model.family} draws images of given classes but "
                f"{config.data.name} has {found or 'no'} class labels; use a dataset with "
                "two or more classes (a folder: one subfolder per class)")
        if wanted is not None and wanted != found:
            raise ValueError(
                f"{config.data.name} has {found} classes but the preset's generator "
                f"takes num_classes={wanted}; pass --set=model.generator.num_classes="
                f"{found} --set=model.discriminator.num_classes={found}")
        return found

    def build(self, config, shapes):
        """The compiled `GAN` of `config` for data of `shapes` (from `check_data`)."""
        from gan_tf.gan import GAN

        model, train = config.model, config.train
        image_shape = tuple(shapes.get("image_shape") or _image_shape(config))
        classes = {"num_classes": shapes["num_classes"]} if shapes.get("num_classes") else {}
        keras.utils.set_random_seed(train.seed)
        generator = models.get(model.family).Generator(
            **{"latent_dim": model.latent_dim, "image_shape": image_shape,
               **classes, **model.generator})
        discriminator = models.get(model.discriminator_family or model.family).Discriminator(
            **{"image_shape": image_shape, **classes, **model.discriminator})
        gan = GAN(generator, discriminator, latent_dim=model.latent_dim, seed=train.seed,
                  latent_distribution=model.latent_distribution, ema_decay=model.ema_decay,
                  ema_rampup=model.ema_rampup, augment=model.augment)
        loss = losses.get(train.loss, **{**losses.code_arguments(train.loss, generator),
                                        **train.loss_kwargs})
        gan.compile(g_optimizer=build_optimizer(train, train.g_lr),
                    d_optimizer=build_optimizer(train, train.d_lr), loss=loss,
                    jit_compile=train.jit_compile,
                    steps_per_execution=train.steps_per_execution)
        gan.step_intervals = step_intervals(config)
        return gan

    def sample_callback(self, config, samples_dir, log_dir):
        from gan_tf import callbacks

        cb = config.callbacks
        return callbacks.SampleGrid(samples_dir, num_images=cb.num_samples,
                                    columns=cb.sample_columns, seed=config.train.seed,
                                    log_dir=log_dir, every=cb.sample_every,
                                    every_steps=cb.sample_every_steps)

    def reference_images(self, config, num=256):
        """Unshuffled data images for the mode-collapse check (float (n, H, W, C))."""
        ds = data.load(config.data.name, shuffle=False, drop_remainder=False, cache=False,
                       **{**_load_kwargs(config), "batch_size": num})
        batch = next(iter(ds))
        return (batch[0] if isinstance(batch, tuple) else batch).numpy()

    def fingerprint(self, config):
        return {"a": _fingerprint(config.data.name, config)}


class TranslationTask:
    """Image-to-image families (CycleGAN): two unpaired datasets."""

    translation = True
    CYCLE_LOSS_KEYS = ("cycle_weight", "identity_weight")

    def check(self, config):
        family = config.model.family
        if config.model.discriminator_family not in (None, family):
            raise ValueError(f"model {family} trains its own discriminators; "
                             f"discriminator_family must be unset, got "
                             f"{config.model.discriminator_family!r}")
        if not config.data.name_b:
            raise ValueError(f"model {family} needs a second, unpaired dataset: pass "
                             f"--dataset_b (data.name_b), e.g. mnist_sample_inverted")
        data.check_unpaired_name(config.data.name, "dataset (data.name)")
        data.check_unpaired_name(config.data.name_b, "second dataset (data.name_b)")
        loss_kwargs, weights = self._split_loss_kwargs(config)
        for key, value in weights.items():
            if not value >= 0:
                raise ValueError(f"{key} must be >= 0, got {value!r}")
        loss = losses.get(config.train.loss, **loss_kwargs)
        if loss.regularizers or loss.code_dim or loss.d_steps != 1:
            raise ValueError(f"model {family} takes a plain adversarial loss (one D step, "
                             f"no regularisers or codes), got {config.train.loss!r} with "
                             f"{config.train.loss_kwargs}")
        if config.callbacks.eval_every:
            raise ValueError(f"eval_every does not apply to model {family} (it samples "
                             "no latents); measure translations as docs/variants.md shows")
        if config.model.ema_decay is not None or config.model.augment:
            raise ValueError(f"ema and augment are options of the latent GANs, not of "
                             f"model {family}")

    def _split_loss_kwargs(self, config):
        kwargs = dict(config.train.loss_kwargs)
        weights = {key: kwargs.pop(key) for key in self.CYCLE_LOSS_KEYS if key in kwargs}
        return kwargs, weights

    def d_steps(self, config):
        return 1

    def load_data(self, config, repeat=True, shuffle=True):
        return data.load_unpaired(config.data.name, config.data.name_b, repeat=repeat,
                                  shuffle=shuffle, seed=config.train.seed,
                                  **_load_kwargs(config))

    def check_data(self, config, dataset):
        spec_a, spec_b = dataset.element_spec
        return {"image_shape": tuple(spec_a.shape[1:]),
                "image_shape_b": tuple(spec_b.shape[1:])}

    def build(self, config, shapes):
        """The compiled `CycleGAN` of `config`: `config.model.generator` and
        `.discriminator` are the networks' keyword arguments, `config.train.loss` the
        adversarial loss and `config.train.loss_kwargs` may hold `cycle_weight` and
        `identity_weight`."""
        from gan_tf import cyclegan

        model, train = config.model, config.train
        keras.utils.set_random_seed(train.seed)
        loss_kwargs, weights = self._split_loss_kwargs(config)
        gan = cyclegan.build(shapes.get("image_shape") or _image_shape(config),
                             shapes.get("image_shape_b"), generator=model.generator,
                             discriminator=model.discriminator)
        gan.compile(g_optimizer=build_optimizer(train, train.g_lr),
                    d_optimizer=build_optimizer(train, train.d_lr),
                    loss=losses.get(train.loss, **loss_kwargs),
                    jit_compile=train.jit_compile,
                    steps_per_execution=train.steps_per_execution, **weights)
        gan.step_intervals = step_intervals(config)
        return gan

    def sample_callback(self, config, samples_dir, log_dir):
        from gan_tf import callbacks

        ds = data.load_unpaired(config.data.name, config.data.name_b, shuffle=False,
                                cache=False, **{**_load_kwargs(config), "batch_size": 8})
        images_a, images_b = next(iter(ds))  # the first 8 images of each, in order
        return callbacks.TranslationGrid(samples_dir, images_a.numpy(), images_b.numpy(),
                                         log_dir=log_dir, every=config.callbacks.sample_every,
                                         every_steps=config.callbacks.sample_every_steps)

    def reference_images(self, config, num=256):
        return None  # no latents to collapse

    def fingerprint(self, config):
        found = {}
        for key, name in (("a", config.data.name), ("b", config.data.name_b)):
            base = name[:-len(data.INVERTED_SUFFIX)] if name.endswith(
                data.INVERTED_SUFFIX) else name
            found[key] = _fingerprint(base, config)
        return found


def _fingerprint(name, config):
    return data.fingerprint(name, split=config.data.split, data_dir=config.data.data_dir,
                            manual_dir=config.data.manual_dir)


def declared_image_shape(config):
    """The image shape the preset fixes for its models, or None (they follow the data)."""
    for kwargs in (config.model.generator, config.model.discriminator):
        if kwargs.get("image_shape"):
            return tuple(kwargs["image_shape"])
    return None


def _image_shape(config):
    declared = declared_image_shape(config)
    if declared:
        return declared
    if config.data.name not in KNOWN_SHAPES:
        raise ValueError(f"the image shape of {config.data.name} is known only from its "
                         "data: pass the shapes from check_data to build")
    shape = KNOWN_SHAPES[config.data.name]
    if config.data.image_size:
        shape = (config.data.image_size, config.data.image_size, shape[-1])
    return shape
