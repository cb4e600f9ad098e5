"""Loss recipes: what `GAN.train_step` needs to know about one GAN variant.

A recipe (`GANLoss` subclass) bundles the discriminator and generator losses (pure
functions of gan_tf.losses.functions), how many discriminator steps to take per
generator step (`d_steps`), the regularisers added to the discriminator loss, and,
for InfoGAN, latent codes and their auxiliary loss. `GAN.train_step` asks the recipe
and never branches on the variant, so a new variant is a new recipe, not a new loop.
Recipes by name (`get`, `names`, `register`): "minimax", "non_saturating" (default),
"wasserstein" (weight clipping), "wasserstein_gp", "hinge", "least_squares", "infogan".

Under a `tf.distribute` strategy each replica sees its share of the global batch;
the model divides every loss by the number of replicas before taking gradients, so
the summed gradients equal the global-batch mean.
"""

import inspect
import numbers

import keras
import tensorflow as tf

from gan_tf import noise
from gan_tf.losses.functions import *  # noqa: F401,F403 - the recipes' building blocks
from gan_tf.losses.functions import gradient_penalty
from gan_tf.losses.functions import hinge_discriminator_loss
from gan_tf.losses.functions import hinge_generator_loss
from gan_tf.losses.functions import info_categorical_loss
from gan_tf.losses.functions import info_continuous_loss
from gan_tf.losses.functions import least_squares_discriminator_loss
from gan_tf.losses.functions import least_squares_generator_loss
from gan_tf.losses.functions import minimax_discriminator_loss
from gan_tf.losses.functions import minimax_generator_loss
from gan_tf.losses.functions import non_saturating_discriminator_loss
from gan_tf.losses.functions import non_saturating_generator_loss
from gan_tf.losses.functions import r1_penalty
from gan_tf.losses.functions import wasserstein_discriminator_loss
from gan_tf.losses.functions import wasserstein_generator_loss


# -- Regularisers: what GANLoss.regularizers holds -------------------------------------


class Regularizer:
    """A penalty added to the discriminator loss; see `GradientPenalty` and `R1`.

    `GAN.discriminator_step` calls `regularizer(discriminator, real_images,
    fake_images, labels, seed=..., step=...)` where `seed` is an int32 (2,) tensor for
    the regulariser's own randomness and `step` the discriminator's update count.
    Under mixed_float16 it passes `scale=` too, the discriminator optimizer's loss
    scale, for the inner backward pass of a penalty on input gradients (float16
    flushes small gradients to zero without it).
    """

    name = None

    def __call__(self, discriminator, real_images, fake_images, labels=None, seed=None,
                 step=None, scale=None):
        raise NotImplementedError

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="gan_tf.losses")
class GradientPenalty(Regularizer):
    """`gradient_penalty` as a regulariser, logged as "gp"; epsilon from the step's seed."""

    name = "gp"

    def __init__(self, weight=10.0):
        if not weight > 0:
            raise ValueError(f"gradient penalty weight must be > 0, got {weight!r}")
        self.weight = float(weight)

    def __call__(self, discriminator, real_images, fake_images, labels=None, seed=None,
                 step=None, scale=None):
        epsilon = None
        if seed is not None:
            epsilon = noise.sample((tf.shape(real_images)[0], 1, 1, 1), seed, "uniform01")
        return gradient_penalty(discriminator, real_images, fake_images, labels,
                                epsilon=epsilon, weight=self.weight, scale=scale)

    def get_config(self):
        return {"weight": self.weight}


@keras.saving.register_keras_serializable(package="gan_tf.losses")
class R1(Regularizer):
    """`r1_penalty` as a regulariser, logged as "r1".

    Args:
        gamma: weight of the penalty.
        every: lazy regularisation (StyleGAN2): apply it only every `every`
            discriminator steps, multiplied by `every` so its average weight is kept.
    """

    name = "r1"

    def __init__(self, gamma=10.0, every=1):
        if not gamma > 0:
            raise ValueError(f"R1 gamma must be > 0, got {gamma!r}")
        if int(every) != every or every < 1:
            raise ValueError(f"R1 every must be an integer >= 1, got {every!r}")
        self.gamma = float(gamma)
        self.every = int(every)

    def __call__(self, discriminator, real_images, fake_images, labels=None, seed=None,
                 step=None, scale=None):
        if self.every == 1 or step is None:
            return r1_penalty(discriminator, real_images, labels, self.gamma, scale)
        return tf.cond(
            tf.equal(tf.math.floormod(tf.cast(step, tf.int64), self.every), 0),
            lambda: self.every * r1_penalty(discriminator, real_images, labels, self.gamma,
                                            scale),
            lambda: tf.constant(0.0))

    def get_config(self):
        return {"gamma": self.gamma, "every": self.every}


# -- Loss objects --------------------------------------------------------------------


class GANLoss:
    """What the training loop needs to know about one GAN variant.

    Subclasses implement `discriminator_loss` and `generator_loss`. The training loop
    takes `d_steps` discriminator steps per generator step and adds, for each
    regulariser in `regularizers` (a `Regularizer`), `regularizer(discriminator,
    real_images, fake_images, labels, seed=..., step=...)` to the discriminator loss,
    logging it under the regulariser's `name`.

    Args:
        d_steps: discriminator updates per generator update, >= 1.
        discriminator_scale: factor on the discriminator loss; tutorial 002 writes
            d_loss = 0.5 * (real_loss + fake_loss), i.e. 0.5.
        regularizers: callables added to the discriminator loss (see above).

    Raises:
        ValueError: d_steps < 1 or discriminator_scale <= 0.
    """

    name = None  # the name `get` knows this loss by

    def __init__(self, d_steps=1, discriminator_scale=1.0, regularizers=()):
        if isinstance(d_steps, bool) or not isinstance(d_steps, numbers.Real) \
                or not float(d_steps).is_integer() or d_steps < 1:
            raise ValueError(f"d_steps must be an integer >= 1, got {d_steps!r}")
        if not discriminator_scale > 0:
            raise ValueError(
                f"discriminator_scale must be > 0, got {discriminator_scale!r}")
        self.d_steps = int(d_steps)
        self.discriminator_scale = float(discriminator_scale)
        self.regularizers = tuple(regularizers)

    def discriminator_loss(self, real_logits, fake_logits):
        raise NotImplementedError

    def generator_loss(self, fake_logits):
        raise NotImplementedError

    def after_discriminator_step(self, discriminator):
        """Hook run after each discriminator update (weight clipping lives here)."""

    # Latent codes (InfoGAN): the last `code_dim` latent columns are codes that the
    # loss samples itself and asks the discriminator's extra outputs to recover.
    code_dim = 0

    def auxiliary_loss(self, codes, extras):
        """A loss on the discriminator's extra outputs for the fakes (e.g. InfoGAN's
        mutual-information term), added to both networks' losses; None for none."""
        return None

    def check_models(self, generator, discriminator):
        """Raises ValueError when the models cannot train with this loss."""

    def get_config(self):
        config = {"d_steps": self.d_steps, "discriminator_scale": self.discriminator_scale}
        if self.regularizers:
            config["regularizers"] = [keras.saving.serialize_keras_object(r)
                                      for r in self.regularizers]
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if "regularizers" in config:
            config["regularizers"] = [keras.saving.deserialize_keras_object(r)
                                      for r in config["regularizers"]]
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


@keras.saving.register_keras_serializable(package="gan_tf.losses")
class Minimax(GANLoss):
    """The original minimax GAN loss pair (see `minimax_discriminator_loss`)."""

    name = "minimax"

    def discriminator_loss(self, real_logits, fake_logits):
        return minimax_discriminator_loss(real_logits, fake_logits)

    def generator_loss(self, fake_logits):
        return minimax_generator_loss(fake_logits)


@keras.saving.register_keras_serializable(package="gan_tf.losses")
class NonSaturating(GANLoss):
    """BCE for the discriminator and -log D(G(z)) for the generator (the default)."""

    name = "non_saturating"

    def discriminator_loss(self, real_logits, fake_logits):
        return non_saturating_discriminator_loss(real_logits, fake_logits)

    def generator_loss(self, fake_logits):
        return non_saturating_generator_loss(fake_logits)


@keras.saving.register_keras_serializable(package="gan_tf.losses")
class Wasserstein(GANLoss):
    """WGAN with weight clipping (Arjovsky et al. 2017).

    The paper's recipe: 5 critic steps per generator step, every critic weight clipped
    to [-clip_value, clip_value] after each critic update, RMSprop with lr 5e-5 (preset
    "wgan").

    Args:
        clip_value: the clipping bound c > 0 (0.01 in the paper); None disables
            clipping (then add a `GradientPenalty`, or use `WassersteinGP`).
        d_steps: critic updates per generator update.
    """

    name = "wasserstein"

    def __init__(self, clip_value=0.01, d_steps=5, **kwargs):
        super().__init__(d_steps=d_steps, **kwargs)
        if clip_value is not None and not clip_value > 0:
            raise ValueError(f"clip_value must be > 0 or None, got {clip_value!r}")
        self.clip_value = None if clip_value is None else float(clip_value)

    def discriminator_loss(self, real_logits, fake_logits):
        return wasserstein_discriminator_loss(real_logits, fake_logits)

    def generator_loss(self, fake_logits):
        return wasserstein_generator_loss(fake_logits)

    def after_discriminator_step(self, discriminator):
        if self.clip_value is None:
            return
        for variable in discriminator.trainable_variables:
            variable.assign(tf.clip_by_value(variable, -self.clip_value, self.clip_value))

    def get_config(self):
        return {**super().get_config(), "clip_value": self.clip_value}


@keras.saving.register_keras_serializable(package="gan_tf.losses")
class WassersteinGP(GANLoss):
    """WGAN-GP (Gulrajani et al. 2017): the Wasserstein loss plus a gradient penalty.

    The paper's recipe: lambda 10, 5 critic steps per generator step, Adam(1e-4,
    beta_1=0, beta_2=0.9) (preset "wgan_gp"), no batch norm in the critic.

    Args:
        weight: lambda of the gradient penalty.
        d_steps: critic updates per generator update.
    """

    name = "wasserstein_gp"

    def __init__(self, weight=10.0, d_steps=5, regularizers=None, **kwargs):
        if regularizers is None:
            regularizers = (GradientPenalty(weight),)
        super().__init__(d_steps=d_steps, regularizers=regularizers, **kwargs)

    def discriminator_loss(self, real_logits, fake_logits):
        return wasserstein_discriminator_loss(real_logits, fake_logits)

    def generator_loss(self, fake_logits):
        return wasserstein_generator_loss(fake_logits)


@keras.saving.register_keras_serializable(package="gan_tf.losses")
class Hinge(GANLoss):
    """Hinge loss pair (see `hinge_discriminator_loss`)."""

    name = "hinge"

    def discriminator_loss(self, real_logits, fake_logits):
        return hinge_discriminator_loss(real_logits, fake_logits)

    def generator_loss(self, fake_logits):
        return hinge_generator_loss(fake_logits)


@keras.saving.register_keras_serializable(package="gan_tf.losses")
class LeastSquares(GANLoss):
    """Least-squares GAN loss pair (see `least_squares_discriminator_loss`)."""

    name = "least_squares"

    def discriminator_loss(self, real_logits, fake_logits):
        return least_squares_discriminator_loss(real_logits, fake_logits)

    def generator_loss(self, fake_logits):
        return least_squares_generator_loss(fake_logits)


@keras.saving.register_keras_serializable(package="gan_tf.losses")
class InfoGAN(GANLoss):
    """InfoGAN (Chen et al. 2016, arXiv:1606.03657): a base loss plus mutual information.

    The latent vector ends with a categorical code (one-hot, `num_categories`) and
    `num_continuous` codes ~ U(-1, 1). The discriminator returns
    `(logits, code_logits, code_means)` (see `models.infogan.Discriminator`: a Q head
    sharing its body). Both networks minimise

        base loss + weight * [CE(c_cat, Q_cat(x)) + continuous_weight * 0.5 |c_cont - Q_mean(x)|^2]

    on generated images x = G(z, c), a lower bound on -I(c; G(z, c)).

    Args:
        num_categories: size of the categorical code (10 for MNIST digits); 0 for none.
        num_continuous: number of continuous codes (2 in the paper's MNIST run).
        weight: lambda of the mutual-information term (1 in the paper).
        continuous_weight: extra factor on the continuous part (the paper's MNIST run
            uses a smaller weight for continuous codes).
        base: the adversarial loss, a name from `names()` without codes.
    """

    name = "infogan"

    def __init__(self, num_categories=10, num_continuous=2, weight=1.0, continuous_weight=0.1,
                 base="non_saturating", **kwargs):
        super().__init__(**kwargs)
        if num_categories < 0 or num_continuous < 0 or num_categories + num_continuous == 0:
            raise ValueError(f"InfoGAN needs codes: num_categories={num_categories}, "
                             f"num_continuous={num_continuous}")
        self.num_categories = int(num_categories)
        self.num_continuous = int(num_continuous)
        self.weight = float(weight)
        self.continuous_weight = float(continuous_weight)
        self.base = get(base) if isinstance(base, str) else base
        if self.base.code_dim:
            raise ValueError("the base loss of InfoGAN cannot itself have codes")
        self.code_dim = self.num_categories + self.num_continuous

    def discriminator_loss(self, real_logits, fake_logits):
        return self.base.discriminator_loss(real_logits, fake_logits)

    def generator_loss(self, fake_logits):
        return self.base.generator_loss(fake_logits)

    def check_models(self, generator, discriminator):
        """The codes of the generator (models.infogan) and the Q head of the
        discriminator must be this loss's."""
        mine = (self.num_categories, self.num_continuous)
        for role, model in (("generator", generator), ("discriminator", discriminator)):
            declared = declared_codes(model)
            if declared is not None and declared != mine:
                raise ValueError(
                    f"the {role} has {declared[0]} categorical + {declared[1]} continuous "
                    f"codes but the InfoGAN loss {mine[0]} + {mine[1]}: give the loss the "
                    f"model's (losses.get('infogan', num_categories={declared[0]}, "
                    f"num_continuous={declared[1]}), or compile with loss='infogan')")

    def auxiliary_loss(self, codes, extras):
        code_logits, code_means = extras[0], extras[1]
        loss = tf.constant(0.0)
        if self.num_categories:
            loss += info_categorical_loss(codes[:, :self.num_categories], code_logits)
        if self.num_continuous:
            loss += self.continuous_weight * info_continuous_loss(
                codes[:, self.num_categories:], code_means)
        return self.weight * loss

    def get_config(self):
        return {**super().get_config(), "num_categories": self.num_categories,
                "num_continuous": self.num_continuous, "weight": self.weight,
                "continuous_weight": self.continuous_weight, "base": self.base.name}


_LOSSES = {cls.name: cls for cls in (Minimax, NonSaturating, Wasserstein, WassersteinGP,
                                     Hinge, LeastSquares, InfoGAN)}


def names():
    """The loss names `get` accepts."""
    return sorted(_LOSSES)


def register(cls):
    """Makes a `GANLoss` subclass available by its `name` to `get` and the CLI."""
    if not (isinstance(cls, type) and issubclass(cls, GANLoss) and cls.name):
        raise TypeError(f"register takes a GANLoss subclass with a name, got {cls!r}")
    _LOSSES[cls.name] = cls
    return cls


_REGULARIZERS = {"gradient_penalty": GradientPenalty, "gp": GradientPenalty, "r1": R1}


def get_regularizer(identifier):
    """Returns a `Regularizer` from itself, a name ("gradient_penalty", "r1") or
    {"name": ..., **kwargs}.

    Raises:
        ValueError: unknown name.
    """
    if isinstance(identifier, Regularizer):
        return identifier
    kwargs = {}
    if isinstance(identifier, dict):
        kwargs = {k: v for k, v in identifier.items() if k != "name"}
        identifier = identifier.get("name")
    if identifier not in _REGULARIZERS:
        raise ValueError(f"unknown regularizer {identifier!r}; choose one of "
                         f"{', '.join(sorted(_REGULARIZERS))}")
    return _REGULARIZERS[identifier](**kwargs)


def declared_codes(model):
    """(num_categories, num_continuous) that a model declares for its latent codes
    (models.infogan's generator and discriminator do), or None."""
    if not getattr(model, "latent_codes", False):
        return None
    return int(model.num_categories), int(model.num_continuous)


def codes_of(generator_class, kwargs):
    """What `declared_codes` says of `generator_class(**kwargs)`, before it is built:
    None, or (num_categories, num_continuous) from `kwargs` and else the constructor's
    defaults."""
    if not getattr(generator_class, "latent_codes", False):
        return None
    defaults = inspect.signature(generator_class.__init__).parameters
    return tuple(int(kwargs.get(name, defaults[name].default))
                 for name in ("num_categories", "num_continuous"))


def code_arguments(name, codes):
    """The keyword arguments that loss `name` takes from a generator's latent `codes`
    (`declared_codes` or `codes_of`): {"num_categories", "num_continuous"} for a loss
    with codes and a generator that declares them, else {}."""
    cls = _LOSSES.get(name)
    if codes is None or cls is None or "num_categories" not in _parameters(cls):
        return {}
    return {"num_categories": codes[0], "num_continuous": codes[1]}


def _parameters(cls):
    names = []
    for klass in cls.__mro__:
        if klass is object:
            continue
        names += [p for p in inspect.signature(klass.__init__).parameters
                  if p not in ("self", "kwargs") and p not in names]
        if "kwargs" not in inspect.signature(klass.__init__).parameters:
            break
    return names


def get(identifier, **kwargs):
    """Returns a loss object from a name, a config dict or a `GANLoss`.

    Args:
        identifier: a name from `names()`, a `GANLoss` instance (returned as is),
            or `{"name": ..., "config": {...}}`.
        **kwargs: constructor arguments when `identifier` is a name;
            `regularizers` may hold names or dicts (see `get_regularizer`).

    Raises:
        ValueError: unknown name, or an argument the loss does not take.
        TypeError: anything else.
    """
    if isinstance(identifier, GANLoss):
        return identifier
    if isinstance(identifier, dict):
        return get(identifier["name"], **identifier.get("config", {}))
    if isinstance(identifier, str):
        if identifier not in _LOSSES:
            raise ValueError(
                f"unknown loss {identifier!r}; choose one of {', '.join(names())}")
        if "regularizers" in kwargs:  # names or dicts, as in a config file
            kwargs["regularizers"] = [get_regularizer(r) for r in kwargs["regularizers"]]
        cls = _LOSSES[identifier]
        unknown = sorted(set(kwargs) - set(_parameters(cls)))
        if unknown:
            raise ValueError(f"loss {identifier} takes no {', '.join(unknown)} (it takes "
                             f"{', '.join(_parameters(cls))})")
        return cls(**kwargs)
    raise TypeError(f"a loss must be a name or a gan_tf.losses.GANLoss, got {identifier!r}")
