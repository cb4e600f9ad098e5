"""Model-family tasks: what the trainer needs to know to run one kind of model.

A task tells `gan_tf.trainer` how to check a config's names, load its data, build and
compile its model, draw its sample grids and feed its monitors. Two kinds exist:

    LatentTask       latents -> images (`gan_tf.GAN`): mlp, dcgan, conditional,
                     infogan, stylegan; one dataset, optional labels
    TranslationTask  images -> images (`gan_tf.CycleGAN`): cyclegan; two unpaired
                     datasets

`for_config(config)` picks the task of `config.model.family`; nothing else in the
trainer branches on the family. A task is made for the config's `model` and `train`
sections (its networks and its loss, built once); its methods take the other
sections they read (`data`, `callbacks`). `check` alone takes the whole config: it
checks the sections against each other (a dataset for the family, an evaluation
extractor for the dataset).
"""

import functools
import json

import keras

from gan_tf import augment
from gan_tf import callbacks
from gan_tf import configs
from gan_tf import cyclegan
from gan_tf import data
from gan_tf import losses
from gan_tf import models
from gan_tf.gan import GAN
from gan_tf.metrics import features


def for_config(config):
    """The task of `config.model.family`, for the config's model and train sections.

    Raises:
        ValueError: an unknown family.
    """
    if models.is_translation(config.model.family):
        return TranslationTask(config.model, config.train)
    return LatentTask(config.model, config.train)


def validate(config):
    """Checks every name of `config` by building what it names (loss, model families,
    dataset, augmentation policy, evaluation extractor), before any data is read;
    returns the config.

    Raises:
        ValueError: one line naming the bad value and the choices or the fix.
    """
    for_config(config).check(config)
    return config


def build_model(config, image_shape=None, image_shape_b=None):
    """The compiled model of `config`, built as the trainer builds it: a `GAN`, or a
    `CycleGAN` for an image-to-image family. Image shapes default to the preset's or
    the named dataset's, and a conditional family's classes to its generator's (10).

    Raises:
        ValueError: an unknown family or loss, or a dataset whose image shape is known
            only from its data (pass `image_shape`).
    """
    shapes = {"image_shape": tuple(image_shape or image_shape_of(config))}
    if image_shape_b:
        shapes["image_shape_b"] = tuple(image_shape_b)
    task = for_config(config)
    if not task.translation and task.conditional:
        shapes["num_classes"] = config.model.generator.get("num_classes", 10)
    return task.build(shapes, step_intervals(config.callbacks))


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
    raise ValueError(f"optimizer must be one of {', '.join(configs.OPTIMIZERS)}, "
                     f"got {train.optimizer!r}")


def _from_config(what, fields, arguments, make, refusals=(TypeError, ValueError)):
    """make(): `what` ("the generator"), built from the config's `fields`
    ("model.generator"), whose value is `arguments`.

    Raises:
        ValueError: the constructor refused them (one of `refusals` of its own, e.g. a
            TypeError for a null or a list where a number belongs), naming the field.
    """
    try:
        return make()
    except refusals as error:
        raise ValueError(f"cannot build {what} from {fields} = "
                         f"{json.dumps(arguments, default=str)}: {error}") from error


def step_intervals(callbacks_config):
    """The step counts the run's callbacks act on (mid-epoch checkpoints, sample
    grids, TensorBoard logs; the non-zero ones), which `steps_per_execution="auto"`
    divides so that they stay exact."""
    cb = callbacks_config
    return tuple(n for n in (cb.checkpoint_every_steps, cb.sample_every_steps,
                             cb.log_every_steps) if n)


def _load_kwargs(data_config):
    cfg = data_config
    return {"split": cfg.split, "batch_size": cfg.batch_size, "image_size": cfg.image_size,
            "data_dir": cfg.data_dir, "manual_dir": cfg.manual_dir,
            "on_bad_image": cfg.on_bad_image}


class LatentTask:
    """GAN families: latents (and labels) -> images, one dataset.

    Args:
        model: the config's `ModelConfig`.
        train: the config's `TrainConfig`.
    """

    translation = False

    def __init__(self, model, train):
        self.model, self.train = model, train

    @functools.cached_property
    def loss(self):
        """The run's `GANLoss`, built once: `train.loss` with `train.loss_kwargs` and
        the latent codes the generator declares (InfoGAN's sizes).

        Raises:
            ValueError: an unknown loss or family, or arguments the loss refuses.
        """
        codes = losses.codes_of(models.get(self.model.family).Generator,
                                self.model.generator)
        # the losses' ValueErrors name the argument (or the unknown loss) themselves
        return _from_config(
            f"loss {self.train.loss}", "train.loss_kwargs", self.train.loss_kwargs,
            lambda: losses.get(self.train.loss, **{
                **losses.code_arguments(self.train.loss, codes), **self.train.loss_kwargs}),
            refusals=(TypeError,))

    @property
    def d_steps(self):
        """Dataset batches one training step takes (one per critic step)."""
        return self.loss.d_steps

    @property
    def conditional(self):
        return bool(getattr(models.get(self.model.family).Generator, "conditional", False))

    def check(self, config):
        model = config.model
        generator_class = models.get(model.family).Generator
        discriminator_family = model.discriminator_family or model.family
        if models.is_translation(discriminator_family):
            raise ValueError(f"discriminator_family {discriminator_family!r} is an "
                             f"image-to-image family; it needs --model of its own")
        models.get(discriminator_family)
        loss = self.loss
        if getattr(generator_class, "latent_codes", False) and not loss.code_dim:
            raise ValueError(
                f"model {model.family} draws latent codes, which loss "
                f"{config.train.loss} does not train: use --loss=infogan (its adversarial "
                f"part: --set=train.loss_kwargs.base={config.train.loss})")
        augment.parse_policy(model.augment)
        data.check_name(config.data.name)
        if config.data.name_b:
            raise ValueError(f"--dataset_b (data.name_b) is the second dataset of an "
                             f"image-to-image model (--config=cyclegan); model "
                             f"{model.family} trains on one dataset: leave it out")
        if config.callbacks.eval_every and \
                config.data.name not in features.CLASSIFIER_FOR_DATASET:
            raise ValueError(
                f"eval_every needs a bundled classifier for the dataset; there is "
                f"none for {config.data.name!r} (only {', '.join(features.CLASSIFIERS)})"
                "; evaluate afterwards with python -m gan_tf.evaluate "
                "--extractor=inception")

    def load_data(self, data_config, repeat=True, shuffle=True):
        return data.load(data_config.name, seed=self.train.seed, repeat=repeat,
                         shuffle=shuffle, with_labels=self.conditional,
                         **_load_kwargs(data_config))

    def check_data(self, data_config, dataset, preset):
        """Data against the preset's models; returns the shapes `build` takes.

        Raises:
            ValueError: images that do not fit a preset's fixed model shape, or labels
                a conditional model cannot take.
        """
        image_shape = data.element_shape(dataset)
        declared = declared_image_shape(self.model)
        if declared:
            data.check_matches_model(image_shape, declared, name=data_config.name,
                                     model=f"preset {preset}")
        shapes = {"image_shape": tuple(image_shape)}
        if self.conditional:
            shapes["num_classes"] = self._num_classes(data_config)
        return shapes

    def _num_classes(self, data_config):
        found = data.num_classes(data_config.name)
        wanted = self.model.generator.get("num_classes")
        if not found or found < 2:
            raise ValueError(
                f"model {self.model.family} draws images of given classes but "
                f"{data_config.name} has {found or 'no'} class labels; use a dataset with "
                "two or more classes (a folder: one subfolder per class)")
        if wanted is not None and wanted != found:
            raise ValueError(
                f"{data_config.name} has {found} classes but the preset's generator "
                f"takes num_classes={wanted}; pass --set=model.generator.num_classes="
                f"{found} --set=model.discriminator.num_classes={found}")
        return found

    def build(self, shapes, intervals=()):
        """The compiled `GAN` for data of `shapes` (from `check_data`); `intervals`:
        the callbacks' step intervals (`step_intervals`)."""
        model, train = self.model, self.train
        image_shape = tuple(shapes["image_shape"])
        classes = {"num_classes": shapes["num_classes"]} if shapes.get("num_classes") else {}
        keras.utils.set_random_seed(train.seed)
        generator_class = models.get(model.family).Generator
        discriminator_class = models.get(
            model.discriminator_family or model.family).Discriminator
        generator = _from_config(
            "the generator", "model.generator", model.generator,
            lambda: generator_class(**{"latent_dim": model.latent_dim,
                                       "image_shape": image_shape, **classes,
                                       **model.generator}))
        discriminator = _from_config(
            "the discriminator", "model.discriminator", model.discriminator,
            lambda: discriminator_class(**{"image_shape": image_shape, **classes,
                                           **model.discriminator}))
        gan = GAN(generator, discriminator, latent_dim=model.latent_dim, seed=train.seed,
                  latent_distribution=model.latent_distribution, ema_decay=model.ema_decay,
                  ema_rampup=model.ema_rampup, augment=model.augment)
        gan.compile(g_optimizer=build_optimizer(train, train.g_lr),
                    d_optimizer=build_optimizer(train, train.d_lr), loss=self.loss,
                    jit_compile=train.jit_compile,
                    steps_per_execution=train.steps_per_execution)
        gan.step_intervals = tuple(intervals)
        return gan

    def sample_callback(self, data_config, callbacks_config, samples_dir, log_dir):
        cb = callbacks_config
        return callbacks.SampleGrid(samples_dir, num_images=cb.num_samples,
                                    columns=cb.sample_columns, seed=self.train.seed,
                                    log_dir=log_dir, every=cb.sample_every,
                                    every_steps=cb.sample_every_steps)

    def reference_images(self, data_config, num=256):
        """Unshuffled data images for the mode-collapse check (float (n, H, W, C))."""
        ds = data.load(data_config.name, shuffle=False, drop_remainder=False, cache=False,
                       **{**_load_kwargs(data_config), "batch_size": num})
        batch = next(iter(ds))
        return (batch[0] if isinstance(batch, tuple) else batch).numpy()

    def fingerprint(self, data_config):
        return {"a": _fingerprint(data_config.name, data_config)}


class TranslationTask:
    """Image-to-image families (CycleGAN): two unpaired datasets.

    Args:
        model: the config's `ModelConfig`.
        train: the config's `TrainConfig`; its `loss_kwargs` may hold the cycle and
            identity weights and the pool size (`configs.CYCLE_LOSS_KEYS`), which go
            to `CycleGAN.compile`.
    """

    translation = True
    conditional = False
    d_steps = 1

    def __init__(self, model, train):
        self.model, self.train = model, train
        kwargs = dict(train.loss_kwargs)
        self.options = {key: kwargs.pop(key) for key in configs.CYCLE_LOSS_KEYS
                        if key in kwargs}
        self._loss_kwargs = kwargs

    @functools.cached_property
    def loss(self):
        """The adversarial `GANLoss`, built once (the weights apart).

        Raises:
            ValueError: an unknown loss, or arguments the loss refuses.
        """
        return _from_config(f"loss {self.train.loss}", "train.loss_kwargs",
                            self.train.loss_kwargs,
                            lambda: losses.get(self.train.loss, **self._loss_kwargs),
                            refusals=(TypeError,))

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
        for key, value in self.options.items():
            if key == "pool_size":
                cyclegan.check_pool_size(value)
            else:
                cyclegan.check_weight(key, value)
        loss = self.loss
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

    def load_data(self, data_config, repeat=True, shuffle=True):
        return data.load_unpaired(data_config.name, data_config.name_b, repeat=repeat,
                                  shuffle=shuffle, seed=self.train.seed,
                                  **_load_kwargs(data_config))

    def check_data(self, data_config, dataset, preset):
        spec_a, spec_b = dataset.element_spec
        return {"image_shape": tuple(spec_a.shape[1:]),
                "image_shape_b": tuple(spec_b.shape[1:])}

    def build(self, shapes, intervals=()):
        """The compiled `CycleGAN`: `model.generator` and `.discriminator` are the
        networks' keyword arguments, `train.loss` the adversarial loss, and
        `train.loss_kwargs` may hold `cycle_weight`, `identity_weight` and `pool_size`;
        `intervals`: the callbacks' step intervals (`step_intervals`)."""
        model, train = self.model, self.train
        keras.utils.set_random_seed(train.seed)
        gan = _from_config(
            "the networks", "model.generator / model.discriminator",
            {"generator": model.generator, "discriminator": model.discriminator},
            lambda: cyclegan.build(shapes["image_shape"], shapes.get("image_shape_b"),
                                   generator=model.generator,
                                   discriminator=model.discriminator, seed=train.seed))
        gan.compile(g_optimizer=build_optimizer(train, train.g_lr),
                    d_optimizer=build_optimizer(train, train.d_lr), loss=self.loss,
                    jit_compile=train.jit_compile,
                    steps_per_execution=train.steps_per_execution, **self.options)
        gan.step_intervals = tuple(intervals)
        return gan

    def sample_callback(self, data_config, callbacks_config, samples_dir, log_dir):
        ds = data.load_unpaired(data_config.name, data_config.name_b, shuffle=False,
                                cache=False, **{**_load_kwargs(data_config), "batch_size": 8})
        images_a, images_b = next(iter(ds))  # the first 8 images of each, in order
        return callbacks.TranslationGrid(samples_dir, images_a.numpy(), images_b.numpy(),
                                         log_dir=log_dir, every=callbacks_config.sample_every,
                                         every_steps=callbacks_config.sample_every_steps)

    def reference_images(self, data_config, num=256):
        return None  # no latents to collapse

    def fingerprint(self, data_config):
        found = {}
        for key, name in (("a", data_config.name), ("b", data_config.name_b)):
            base = name[:-len(data.INVERTED_SUFFIX)] if name.endswith(
                data.INVERTED_SUFFIX) else name
            found[key] = _fingerprint(base, data_config)
        return found


def _fingerprint(name, data_config):
    return data.fingerprint(name, split=data_config.split, data_dir=data_config.data_dir,
                            manual_dir=data_config.manual_dir)


def declared_image_shape(model_config):
    """The image shape the preset fixes for its models, or None (they follow the data)."""
    for kwargs in (model_config.generator, model_config.discriminator):
        if kwargs.get("image_shape"):
            return tuple(kwargs["image_shape"])
    return None


def image_shape_of(config):
    """The image shape of `config`'s models before any data is read: the preset's
    declared one, else its named dataset's (`gan_tf.data.DATASETS`, resized by
    `data.image_size`).

    Raises:
        ValueError: the shape is known only from the data (a folder).
    """
    declared = declared_image_shape(config.model)
    if declared:
        return declared
    if config.data.name not in data.DATASETS:
        raise ValueError(f"the image shape of {config.data.name} is known only from its "
                         "data: pass the shapes from check_data to build")
    shape = data.DATASETS[config.data.name].shape
    if config.data.image_size:
        shape = (config.data.image_size, config.data.image_size, shape[-1])
    return shape
