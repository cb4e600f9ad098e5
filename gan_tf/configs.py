"""Configs as plain data: named presets, one per tutorial setup, plus the default.

A config is a frozen tree of dataclasses; each builder gets only its slice
(`config.data` -> `data.load`, `config.model` -> the two models, `config.train` ->
optimizers, loss and fit, `config.callbacks` -> what the run writes). `get(name)`
returns a preset, `override(config, **{"train.epochs": 3})` a copy with dotted fields
replaced, `override_from_strings(config, ["train.beta_1=0.7"])` the same from command
line text, `quick(config)` shrinks any preset to run in seconds (tests, notebooks).

Each field says what it is in its metadata: "help" (the command line's help text),
"flag" (its short command-line flag, if any), "resumable" (a run may be resumed with
another value), and the rule its value obeys ("min", "gt", "choices"), checked when a
config is made. Names of losses, model families and datasets are checked by the code
that builds them (`gan_tf.tasks.check`), not repeated here.

Presets. `tutorial_000` ... `tutorial_004` rebuild each tutorial's own code (layers,
activations, normalisation, framework-default init, optimiser, loss); only bugs are
fixed and what the tutorial leaves open is chosen, each listed in docs/fidelity.md and
checked by tests/test_fidelity.py. The others are the recommended recipes:

    default       DCGAN (base 32) on the bundled MNIST digits; chosen by measuring the
                  best digits in a 5-minute CPU budget (README). Precision "auto",
                  as the presets built on it and dcgan_celeba64 / dcgan_svhn; the
                  tutorial presets keep their tutorials' float32.
    tutorial_000  MLP G (784-dim z ~ U(-1, 1); widths chosen), conv + pool + dropout D
                  (sizes chosen), Glorot init, tf.train.AdamOptimizer() defaults
                  (lr 1e-3, beta1 0.9); MNIST.
    tutorial_001  001's TF1 pair: G dense 128-256 (ReLU) -512-1024-8192 (tanh) ->
                  4x4x512 -> 5x5 ConvT 512 s1, 256, 128, 64, 3 s2, tanh after every
                  layer, no BN; D 5x5 convs 512 s1, 256, 128, 64, 1 s2, leaky ReLU
                  0.2, mean of the last 4x4 map; CelebA 64x64 and Adam 2e-4 / 0.5
                  chosen (001 names neither).
    tutorial_002  002's PyTorch MLP pair: LeakyReLU 0.01, BatchNorm1d (Keras momentum
                  0.9, eps 1e-5), PyTorch default init; Adam 2e-4 beta1 0.5,
                  d_loss = 0.5 (real + fake); MNIST.
    tutorial_003  003 has no code: the TensorFlow DCGAN tutorial's pair and recipe
                  (Adam 1e-4, batch 256), chosen here, with 003's minimax loss; MNIST.
    dcgan_celeba64  the DCGAN recipe at 64x64x3 with tutorial 001's channels:
                  BatchNorm + ReLU G, BatchNorm + leaky ReLU D, N(0, 0.02) init,
                  Adam 2e-4 / 0.5, batch 128 (DCGAN paper), 5 epochs.
    dcgan_svhn    the DCGAN pair at 32x32x3 on SVHN (tutorial 003's DCGAN on another
                  dataset), Adam 2e-4 / 0.5, batch 128.
    tutorial_004  004's TF1 MLP pair (G 100-128-784 sigmoid, D 784-128-1 with dropout
                  before leaky ReLU 0.2, on [0, 1] pixels), Glorot init, Adam 1e-3
                  beta1 0.5.
    wgan, wgan_gp, hinge_sn, lsgan
                  the default's models and data with a loss variant and its paper's
                  recipe: WGAN weight clipping (RMSprop 5e-5, clip 0.01, 5 critic
                  steps), WGAN-GP (lambda 10, 5 critic steps, Adam 1e-4 (0, 0.9)), hinge
                  loss with spectral norm, least squares.
    cgan          class-conditional DCGAN (projection discriminator) on mnist_sample.
    infogan       InfoGAN with 10 categorical + 2 continuous codes on mnist_sample.
    cyclegan      CycleGAN (003) between mnist_sample and its colour inversion
                  (data.name_b): ResNet generators (base 16, 3 blocks), PatchGAN
                  discriminators, least squares + cycle 10 + identity 5, Adam 2e-4 / 0.5
                  (the paper's), batch 16.
    stylegan      a small StyleGAN2 (models.stylegan) at 28x28 on mnist_sample:
                  non-saturating loss + lazy R1 (gamma 0.01 every 16 D steps), Adam 2e-3
                  betas (0, 0.99), EMA of G (StyleGAN2-ADA's CIFAR-10 recipe, smaller).
"""

import dataclasses
import json
import typing
from typing import Optional

from absl import logging

from gan_tf import distribute
from gan_tf import precision
from gan_tf.callbacks import ON_DIVERGENCE
from gan_tf.callbacks import ON_EXPLOSION

OPTIMIZERS = ("adam", "rmsprop")
# train.loss_kwargs of an image-to-image family that go to CycleGAN.compile, not the loss
CYCLE_LOSS_KEYS = ("cycle_weight", "identity_weight")


def _field(default, help_text, flag=None, resumable=False, factory=None, **rule):
    metadata = {"help": help_text, "flag": flag, "resumable": resumable, **rule}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


class _Checked:
    """Checks every field's rule ("min", "gt", "choices") when a section is made."""

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value, rule = getattr(self, field.name), field.metadata
            if value is None or value in rule.get("words", ()):
                continue
            if "words" in rule and (isinstance(value, bool) or not isinstance(value, int)):
                flag = rule.get("flag") or field.name
                raise ValueError(f"{flag} must be {_rule_text(rule)}, got {value!r}")
            bad = (("min" in rule and value < rule["min"])
                   or ("gt" in rule and not value > rule["gt"])
                   or ("lt" in rule and not value < rule["lt"])
                   or ("max" in rule and value > rule["max"])
                   or ("choices" in rule and value not in rule["choices"]))
            if bad:
                flag = rule.get("flag") or field.name
                raise ValueError(f"{flag} must be {_rule_text(rule)}, got {value!r}")


def _rule_text(rule):
    if "choices" in rule:
        return "one of " + ", ".join(rule["choices"])
    parts = []
    if "min" in rule:
        parts.append(f">= {rule['min']}")
    if "gt" in rule:
        parts.append(f"> {rule['gt']}")
    if "lt" in rule:
        parts.append(f"< {rule['lt']}")
    if "max" in rule:
        parts.append(f"<= {rule['max']}")
    return " and ".join(parts) + "".join(f" or {word}" for word in rule.get("words", ()))


@dataclasses.dataclass(frozen=True)
class DataConfig(_Checked):
    name: str = _field("mnist_sample", "Dataset: a gan_tf.data name or folder:PATH "
                       "(docs/data.md).", flag="dataset")
    name_b: Optional[str] = _field(None, "Second, unpaired dataset of an image-to-image "
                                   "model (--config=cyclegan): a --dataset name, "
                                   "optionally ending in _inverted.", flag="dataset_b")
    split: str = _field("train", "Split of the dataset to train on.")
    batch_size: int = _field(64, "Images per batch.", flag="batch_size", min=1)
    image_size: Optional[int] = _field(None, "Resize images to this size (square).",
                                       flag="image_size", min=1)
    data_dir: Optional[str] = _field(None, "tfds data directory holding prepared "
                                     "datasets.", flag="data_dir")
    manual_dir: Optional[str] = _field(None, "Folder with a dataset's original files for "
                                       "offline use (MNIST/Fashion-MNIST IDX files, "
                                       "CelebA's aligned images).", flag="manual_dir")
    on_bad_image: str = _field("fail", "Unreadable image files in a folder or CelebA: "
                               "fail or skip.", flag="on_bad_image",
                               choices=("fail", "skip"))


@dataclasses.dataclass(frozen=True)
class ModelConfig(_Checked):
    family: str = _field("dcgan", "Model family of both networks (gan_tf.models).",
                         flag="model")
    discriminator_family: Optional[str] = _field(None, "Discriminator family, if not "
                                                 "the generator's.")
    latent_dim: int = _field(100, "Size of the latent vector z (noise + any codes).",
                             flag="latent_dim", min=1)
    latent_distribution: str = _field("normal", "Latent noise: normal N(0, 1) or "
                                      "uniform U(-1, 1).", choices=("normal", "uniform"))
    generator: dict = _field(None, "Generator constructor arguments (JSON).",
                             factory=dict)
    discriminator: dict = _field(None, "Discriminator constructor arguments (JSON).",
                                 factory=dict)
    ema_decay: Optional[float] = _field(None, "Sample from an exponential moving average "
                                        "of the generator's weights with this decay "
                                        "(e.g. 0.999).", flag="ema", gt=0, lt=1)
    ema_rampup: Optional[float] = _field(0.05, "Warm-up of the EMA: its half-life is at "
                                         "most this fraction of the steps run so far "
                                         "(StyleGAN2-ADA's ema_rampup); none: a "
                                         "constant decay from the first step.", gt=0)
    augment: Optional[str] = _field(None, "DiffAugment policy for the discriminator's "
                                    "inputs, e.g. color,translation,cutout.",
                                    flag="augment")


@dataclasses.dataclass(frozen=True)
class TrainConfig(_Checked):
    epochs: int = _field(20, "Epochs to train (total, counting resumed ones).",
                         flag="epochs", resumable=True, min=1)
    steps_per_epoch: Optional[int] = _field(None, "Training steps per epoch (default: "
                                            "one pass over the data).",
                                            flag="steps_per_epoch", min=1)
    train_minutes: Optional[float] = _field(None, "Wall-clock budget: stop training "
                                            "after N minutes (at most --epochs), then "
                                            "finish the run normally.",
                                            flag="train_minutes", resumable=True, gt=0)
    g_lr: float = _field(2e-4, "Generator learning rate.", flag="g_lr", gt=0)
    d_lr: float = _field(2e-4, "Discriminator learning rate.", flag="d_lr", gt=0)
    beta_1: float = _field(0.5, "Adam beta_1 of both optimizers.", min=0, max=1)
    beta_2: float = _field(0.999, "Adam beta_2 of both optimizers.", min=0, max=1)
    loss: str = _field("non_saturating", "Adversarial loss (gan_tf.losses).", flag="loss")
    loss_kwargs: dict = _field(None, "Arguments of the loss (JSON), e.g. "
                               "{\"d_steps\": 5}.", factory=dict)
    optimizer: str = _field("adam", "Optimizer of both networks.", flag="optimizer",
                            choices=OPTIMIZERS)
    grad_clip_norm: Optional[float] = _field(None, "Clip each network's global gradient "
                                             "norm.", flag="grad_clip_norm", gt=0)
    seed: int = _field(0, "Seed for weights, noise and data order.", flag="seed")
    precision: str = _field("float32", "Compute precision: auto (bf16 on CPUs with "
                            "AVX-512 BF16 / AMX and GPUs of compute capability >= 8.0, "
                            "fp16 on 7.x, else float32), float32, mixed_bfloat16, "
                            "mixed_float16 (docs/performance.md).", flag="precision",
                            choices=precision.PRECISIONS)
    deterministic: bool = _field(False, "TensorFlow op determinism: bit-exact reruns "
                                 "and resumptions (slower on GPUs).", flag="deterministic",
                                 resumable=True)
    jit_compile: bool = _field(False, "XLA-compile the training step.", flag="jit_compile",
                               resumable=True)
    steps_per_execution: typing.Union[int, str] = _field(
        "auto", "Training steps per call from fit's Python loop: an integer, or auto "
        "(about 32 GFLOP of work per call, at most 64 steps, dividing the epoch and the "
        "*_every_steps intervals; docs/performance.md); > 1 saves per-step overhead on "
        "small models.", flag="steps_per_execution", resumable=True, min=1, words=("auto",))
    strategy: str = _field("default", "tf.distribute strategy: default, mirrored, "
                           "multi_worker (TF_CONFIG), tpu (docs/distributed.md).",
                           flag="strategy", resumable=True, choices=distribute.STRATEGIES)
    on_divergence: str = _field("stop", "A NaN/Inf loss or weight: stop (exit 3) or roll "
                                "back to the last good checkpoint with lower learning "
                                "rates.", flag="on_divergence", resumable=True,
                                choices=ON_DIVERGENCE)
    loss_limit: float = _field(1e6, "A logged loss beyond +-this (finite) counts as an "
                               "explosion.", resumable=True, gt=0)
    on_explosion: str = _field("warn", "An exploding loss, or a discriminator pinned at "
                               "zero loss while the generator's grows: warn, stop or "
                               "rollback.", flag="on_explosion", resumable=True,
                               choices=ON_EXPLOSION)
    rollback_lr_factor: float = _field(0.5, "Multiply both learning rates by this at each "
                                       "rollback.", flag="rollback_lr_factor",
                                       resumable=True, gt=0, max=1)
    rollback_reseed: bool = _field(True, "Move the noise to a new seed at each rollback.",
                                   flag="rollback_reseed", resumable=True)
    max_rollbacks: int = _field(3, "Stop after this many rollbacks.", flag="max_rollbacks",
                                resumable=True, min=0)


@dataclasses.dataclass(frozen=True)
class CallbacksConfig(_Checked):
    num_samples: int = _field(64, "Images in each sample grid.", min=1)
    sample_columns: Optional[int] = _field(None, "Images per row of the grid (None: "
                                           "square).", min=1)
    sample_every: int = _field(1, "Epochs between sample grids.", resumable=True, min=1)
    sample_every_steps: int = _field(0, "Also write a sample grid every N training steps "
                                     "(0: never).", flag="sample_every_steps",
                                     resumable=True, min=0)
    log_every_steps: int = _field(0, "Also log the losses to TensorBoard every N training "
                                  "steps (0: per epoch only).", flag="log_every_steps",
                                  resumable=True, min=0)
    keep_checkpoints: int = _field(3, "Keep the last N checkpoints.",
                                   flag="keep_checkpoints", resumable=True, min=1)
    eval_every: int = _field(0, "Every N epochs compute FID and KID with the bundled "
                             "classifier (MNIST-like data), log them, plot metrics.png "
                             "and keep checkpoints/best.weights.h5 (0: never).",
                             flag="eval_every", resumable=True, min=0)
    eval_samples: int = _field(5000, "Real and generated images per evaluation.",
                               resumable=True, min=10)
    checkpoint_every_steps: int = _field(0, "Also checkpoint every N training steps "
                                         "inside an epoch (0: only at epoch ends).",
                                         flag="checkpoint_every_steps", resumable=True,
                                         min=0)
    collapse_every: int = _field(1, "Epochs between mode-collapse checks (0: never).",
                                 resumable=True, min=0)
    collapse_threshold: float = _field(0.1, "Warn when the samples' diversity falls "
                                       "under this fraction of the data's.",
                                       resumable=True, gt=0)


SECTIONS = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig,
            "callbacks": CallbacksConfig}


@dataclasses.dataclass(frozen=True)
class Config:
    preset: str = "default"
    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()
    callbacks: CallbacksConfig = CallbacksConfig()

    def to_dict(self):
        return dataclasses.asdict(self)

    def to_json(self):
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, d):
        """Inverse of `to_dict`; unknown keys raise ValueError."""
        kwargs = {}
        for key, value in d.items():
            if key != "preset" and key not in SECTIONS:
                raise ValueError(f"unknown config section {key!r}")
            if key != "preset" and not isinstance(value, dict):
                raise ValueError(f"config section {key!r} must be a JSON object, got "
                                 f"{value!r}")
            if isinstance(value, dict):
                known = {f.name for f in dataclasses.fields(SECTIONS[key])}
                unknown = set(value) - known
                if unknown:
                    raise ValueError(f"unknown {key} fields {sorted(unknown)}")
                value = SECTIONS[key](**value)
            kwargs[key] = value
        return cls(**kwargs)


def fields():
    """[(dotted name, dataclasses.Field, type)] of every config field, in order."""
    found = []
    for section, cls in SECTIONS.items():
        hints = typing.get_type_hints(cls)
        for field in dataclasses.fields(cls):
            found.append((f"{section}.{field.name}", field, hints[field.name]))
    return found


def _default():
    # Chosen for image quality per minute on a 2-core CPU (docs/performance.md, "Quality
    # per minute"): tutorial 002's MLP pair (the fastest networks per image there; DCGANs
    # of 32 base channels trained half as many images and scored worse) with N(0, 0.02)
    # init, LeakyReLU 0.2 and BatchNorm momentum 0.9 / epsilon 1e-5 (PyTorch's), sampled
    # from an EMA of G (decay 0.999: over 10,000 steps fit in 5 minutes, the average
    # spans the last ~1,000). Training stops after 5 minutes (--train_minutes); an
    # "epoch" is 700 steps (about 5 passes over the 9,003 digits), so that grids and
    # checkpoints come every several seconds rather than after every pass.
    return Config(
        preset="default",
        data=DataConfig(name="mnist_sample", batch_size=64),
        model=ModelConfig(family="mlp", generator={"bn_momentum": 0.9, "bn_epsilon": 1e-5},
                          ema_decay=0.999),
        # "auto": bf16 on CPUs with AVX-512 BF16 / AMX and GPUs of compute capability
        # >= 8.0, fp16 on 7.x, else float32 (docs/performance.md, "Precision").
        train=TrainConfig(epochs=100, steps_per_epoch=700, train_minutes=5.0, g_lr=2e-4,
                          d_lr=2e-4, beta_1=0.5, precision="auto"))


def _dcgan32():
    # The base of the loss variants, cgan, infogan and stylegan: DCGAN base 32 on the
    # bundled digits, Adam 5e-4 (0.5), batch 64, 25 epochs (the default preset's recipe
    # before its tuning for quality per minute, docs/performance.md).
    return Config(
        preset="dcgan32",
        data=DataConfig(name="mnist_sample", batch_size=64),
        model=ModelConfig(family="dcgan", generator={"base_channels": 32},
                          discriminator={"base_channels": 32}),
        train=TrainConfig(epochs=25, g_lr=5e-4, d_lr=5e-4, beta_1=0.5, precision="auto"))


def _tutorial_000():
    # Seed 000 names layer kinds, not sizes: the widths, the hidden activations, the
    # pooling and the dropout rate are chosen here (docs/fidelity.md, tutorial 000).
    # Its TensorFlow layers set no initialiser: Glorot uniform, zero biases.
    return Config(
        preset="tutorial_000",
        data=DataConfig(name="mnist", batch_size=64),  # MNIST: the seed's; batch: chosen
        model=ModelConfig(
            family="mlp", discriminator_family="dcgan",
            latent_dim=784,                  # "对于MNIST数据集来说，z的数量等于784"
            latent_distribution="uniform",   # "z（服从均匀分布）"; the range (-1, 1): chosen
            # "通过多个线性层与非线性激活函数，可以生成一副图像x'"
            generator={"hidden_units": (256, 512, 1024), "activation": "relu",
                       "batch_norm": False, "init_stddev": None},
            # "经过多个卷积、池化和丢弃层后，再送入一个全连接层和非线性激活函数"
            discriminator={"downsampling": "pool", "dropout": 0.3, "init_stddev": None}),
        # tf.train.AdamOptimizer(): lr 1e-3, beta1 0.9, beta2 0.999; loss_G = -log D(G(z))
        train=TrainConfig(epochs=20, g_lr=1e-3, d_lr=1e-3, beta_1=0.9, beta_2=0.999,
                          loss="non_saturating"))


def _tutorial_001():
    # Seed 001's generator and discriminator layer for layer (tf.layers: Glorot uniform,
    # zero biases; tf.nn.leaky_relu: slope 0.2), with its bugs fixed minimally:
    # G's last dense layer has 4*4*512 units (the seed's 2048 made the -1 reshape
    # quarter the batch); D convolves the image itself (the seed reshaped 64x64x3 to
    # 4x4x512) and averages its last 4x4x1 map into one logit per image (the seed's
    # squeeze left a 4x4 map against (batch, 1) labels); G's loss targets label 1.
    return Config(
        preset="tutorial_001",
        # 001 names no dataset and defines no batch_size, z_dim or optimiser: faces
        # (CelebA 64x64), batch 64, z 100 and Adam 2e-4 / 0.5 (DCGAN paper) are chosen.
        data=DataConfig(name="celeb_a", batch_size=64, image_size=64),
        model=ModelConfig(
            family="dcgan",
            generator={"image_shape": (64, 64, 3), "dense_units": (128, 256, 512, 1024),
                       "dense_activations": ("relu", "relu", "tanh", "tanh"),
                       "activation": "tanh", "batch_norm": False, "use_bias": True,
                       "init_stddev": None, "base_channels": 64, "kernel_size": 5},
            discriminator={"image_shape": (64, 64, 3), "channels": (512, 256, 128, 64, 1),
                           "strides": (1, 2, 2, 2, 2), "head": "average", "kernel_size": 5,
                           "negative_slope": 0.2, "batch_norm": False, "dropout": 0.0,
                           "init_stddev": None}),
        train=TrainConfig(epochs=10, g_lr=2e-4, d_lr=2e-4, beta_1=0.5, loss="non_saturating"))


def _dcgan_celeba64():
    # The DCGAN recipe at 64x64x3 (Radford et al. 2015): BatchNorm + ReLU in G, BatchNorm
    # + leaky ReLU 0.2 in a strided D ending in Dense(1), N(0, 0.02) init, Adam 2e-4 /
    # 0.5, batch 128. It keeps tutorial 001's channels (dense 4x4x512, 5x5 transposed
    # convolutions 512 s1, 256, 128, 64, 3 s2) and differs from the tutorial's code
    # (preset tutorial_001) in: no dense stack before the projection, BatchNorm + ReLU
    # instead of tanh, a DCGAN discriminator instead of 001's 512 -> 1 stack.
    return Config(
        preset="dcgan_celeba64",
        data=DataConfig(name="celeb_a", batch_size=128, image_size=64),
        model=ModelConfig(family="dcgan", generator={"image_shape": (64, 64, 3)},
                          discriminator={"image_shape": (64, 64, 3), "dropout": 0.0,
                                         "batch_norm": True}),
        train=TrainConfig(epochs=5, precision="auto"))


def _dcgan_svhn():
    return Config(
        preset="dcgan_svhn",
        data=DataConfig(name="svhn_cropped", batch_size=128),
        model=ModelConfig(family="dcgan", generator={"image_shape": (32, 32, 3)},
                          discriminator={"image_shape": (32, 32, 3), "dropout": 0.0,
                                         "batch_norm": True}),
        train=TrainConfig(epochs=20, precision="auto"))


def _tutorial_002():
    # Seed 002's PyTorch pair layer for layer. nn.LeakyReLU() has slope 0.01;
    # BatchNorm1d is momentum 0.1 / eps 1e-5 (Keras momentum 0.9); its weights_init
    # matches only Conv/BatchNorm2d layers, so every nn.Linear keeps PyTorch's default
    # init ("pytorch"). The sigmoid of D moves into the loss (BCE from logits).
    torch_leaky = {"activation": "leaky_relu", "negative_slope": 0.01, "init_stddev": "pytorch"}
    return Config(
        preset="tutorial_002",
        # datasets.MNIST; batch_size and num_epochs are undefined in the seed: chosen.
        data=DataConfig(name="mnist", batch_size=64),
        model=ModelConfig(
            family="mlp", latent_dim=100,    # torch.randn(10, 100): z ~ N(0, 1), 100
            generator={"hidden_units": (256, 512, 1024), "batch_norm": True,
                       "bn_momentum": 0.9, "bn_epsilon": 1e-5, **torch_leaky},
            discriminator={"hidden_units": (512, 256), "dropout": 0.3, **torch_leaky}),
        # optim.Adam(lr=0.0002, betas=(0.5, 0.999)); d_loss = 0.5 * (real_loss + fake_loss);
        # criterion (undefined in the seed) is BCE, as the sigmoid output asks.
        train=TrainConfig(epochs=50, g_lr=2e-4, d_lr=2e-4, beta_1=0.5, beta_2=0.999,
                          loss="non_saturating", loss_kwargs={"discriminator_scale": 0.5}),
        callbacks=CallbacksConfig(num_samples=10, sample_columns=10))  # its 1x10 grid


def _tutorial_003():
    # Seed 003 has no code: it names DCGAN on MNIST, z ~ N(0, 1) and the minimax value
    # V(D, G) as G's objective. The networks and the recipe are chosen here: the
    # TensorFlow DCGAN tutorial's (tensorflow.org/tutorials/generative/dcgan): G dense
    # 7x7x256 -> ConvT 128 s1 -> 64 s2 -> 1 s2, BatchNorm + LeakyReLU (Keras' 0.3), no
    # biases; D conv 64, 128 s2 + LeakyReLU + Dropout 0.3, Dense(1); Glorot init;
    # Adam(1e-4), batch 256, 50 epochs.
    return Config(
        preset="tutorial_003",
        data=DataConfig(name="mnist", batch_size=256),
        model=ModelConfig(
            family="dcgan",
            generator={"activation": "leaky_relu", "negative_slope": 0.3, "use_bias": False,
                       "batch_norm": True, "init_stddev": None},
            discriminator={"negative_slope": 0.3, "dropout": 0.3, "batch_norm": False,
                           "init_stddev": None}),
        # "生成器G的目标是优化如下的损失函数：min_G max_D V(D, G)": the minimax loss.
        train=TrainConfig(epochs=50, g_lr=1e-4, d_lr=1e-4, beta_1=0.9, beta_2=0.999,
                          loss="minimax"))


def _tutorial_004():
    # Seed 004's TF1 pair layer for layer (tf.layers.dense: Glorot uniform, zero biases;
    # tf.nn.leaky_relu: 0.2). Its G ends in a sigmoid on [0, 1] pixels: here G emits
    # 2 sigmoid(a) - 1 and D maps its input back with (x + 1) / 2, so both compute the
    # seed's functions of the seed's pixels inside the library's [-1, 1].
    return Config(
        preset="tutorial_004",
        # input_data.read_data_sets('MNIST_data'); batch_size and num_steps undefined: chosen.
        data=DataConfig(name="mnist", batch_size=64),
        model=ModelConfig(
            family="mlp", latent_dim=100,    # z_dim = 100; tf.random_normal
            generator={"hidden_units": (128,), "activation": "relu", "batch_norm": False,
                       "init_stddev": None, "output_activation": "sigmoid"},
            discriminator={"hidden_units": (128,), "activation": "leaky_relu",
                           "negative_slope": 0.2, "dropout": 0.3, "dropout_first": True,
                           "init_stddev": None, "unit_range_inputs": True}),
        # AdamOptimizer(learning_rate=0.001, beta1=0.5) for each network (the seed
        # overwrites the name `optimizer` and runs only G's: both run here).
        train=TrainConfig(epochs=50, g_lr=1e-3, d_lr=1e-3, beta_1=0.5, beta_2=0.999,
                          loss="non_saturating"))


def _variant(name, **train):
    """DCGAN base 32 on mnist_sample (`_dcgan32`) with another loss recipe."""
    base = _dcgan32()
    critic = {"base_channels": 32, "dropout": 0.0}  # no BN, no dropout in a critic
    return Config(preset=name, data=base.data,
                  model=dataclasses.replace(base.model, discriminator=critic),
                  train=dataclasses.replace(base.train, **train))


def _wgan():
    # Arjovsky et al. 2017: RMSprop 5e-5, clip 0.01, 5 critic steps per G step.
    return _variant("wgan", loss="wasserstein", optimizer="rmsprop", g_lr=5e-5, d_lr=5e-5,
                    loss_kwargs={"clip_value": 0.01, "d_steps": 5})


def _wgan_gp():
    # Gulrajani et al. 2017: lambda 10, 5 critic steps, Adam 1e-4, betas (0, 0.9).
    return _variant("wgan_gp", loss="wasserstein_gp", g_lr=1e-4, d_lr=1e-4, beta_1=0.0,
                    beta_2=0.9, loss_kwargs={"weight": 10.0, "d_steps": 5})


def _hinge_sn():
    # Miyato et al. 2018 (SNGAN): hinge loss, spectral norm in D, Adam 2e-4 (0.5, 0.999).
    config = _variant("hinge_sn", loss="hinge")
    return dataclasses.replace(config, model=dataclasses.replace(
        config.model, discriminator={**config.model.discriminator, "spectral_norm": True}))


def _lsgan():
    # Mao et al. 2017: least squares, Adam 2e-4, beta1 0.5.
    return _variant("lsgan", loss="least_squares", g_lr=2e-4, d_lr=2e-4)


def _cgan():
    # Tutorial 001's cGAN: the DCGAN base 32 recipe with class-conditional models.
    base = _dcgan32()
    body = {"body_kwargs": {"base_channels": 32}}
    return Config(preset="cgan", data=base.data, train=base.train,
                  model=dataclasses.replace(base.model, family="conditional",
                                            generator=body, discriminator=body))


def _infogan():
    # Tutorial 003's InfoGAN (Chen et al. 2016, MNIST): 62 noise + 10 categorical + 2
    # continuous codes, a Q head sharing D's body, lambda 1.
    base = _dcgan32()
    return Config(
        preset="infogan", data=base.data,
        model=dataclasses.replace(
            base.model, family="infogan", latent_dim=74,
            generator={"base_channels": 32, "num_categories": 10, "num_continuous": 2},
            discriminator={"body_kwargs": {"base_channels": 32, "dropout": 0.0}}),
        # The loss takes its code sizes from the generator (GAN.compile checks the Q head).
        train=dataclasses.replace(base.train, loss="infogan"))


def _stylegan():
    # Karras et al. 2020 / StyleGAN2-ADA's small-data setup (CIFAR-10: lr 2.5e-3, batch
    # 64, gamma 0.01, 2 mapping layers), scaled down to 28x28 digits on 2 CPU cores.
    base = _dcgan32()
    return Config(
        preset="stylegan", data=base.data,
        model=ModelConfig(family="stylegan", latent_dim=128, ema_decay=0.995,
                          generator={"w_dim": 128, "mapping_layers": 2,
                                     "base_channels": 16, "max_channels": 128,
                                     "mixing_prob": 0.9},
                          discriminator={"base_channels": 16, "max_channels": 128}),
        train=TrainConfig(epochs=10, g_lr=2e-3, d_lr=2e-3, beta_1=0.0, beta_2=0.99,
                          loss="non_saturating",
                          loss_kwargs={"regularizers": (
                              {"name": "r1", "gamma": 0.01, "every": 16},)}))


def _cyclegan():
    # Zhu et al. 2017: least squares, lambda 10, identity 0.5 * lambda, Adam 2e-4 / 0.5;
    # networks scaled from 256x256 (base 64, 9 blocks, 70x70 patches) to 28x28 digits.
    # The grid's mode-collapse check samples latents, which CycleGAN has none of.
    networks = {"base_channels": 16}
    return Config(
        preset="cyclegan",
        data=DataConfig(name="mnist_sample", name_b="mnist_sample_inverted", batch_size=16),
        model=ModelConfig(family="cyclegan",
                          generator={**networks, "num_res_blocks": 3},
                          discriminator={**networks, "num_downsamples": 2}),
        train=TrainConfig(epochs=5, steps_per_epoch=100, g_lr=2e-4, d_lr=2e-4,
                          beta_1=0.5, loss="least_squares",
                          loss_kwargs={"cycle_weight": 10.0, "identity_weight": 5.0}),
        callbacks=CallbacksConfig(collapse_every=0))


_PRESETS = {
    "default": _default,
    "tutorial_000": _tutorial_000,
    "tutorial_001": _tutorial_001,
    "tutorial_002": _tutorial_002,
    "tutorial_003": _tutorial_003,
    "tutorial_004": _tutorial_004,
    "wgan": _wgan,
    "wgan_gp": _wgan_gp,
    "hinge_sn": _hinge_sn,
    "lsgan": _lsgan,
    "cgan": _cgan,
    "infogan": _infogan,
    "cyclegan": _cyclegan,
    "stylegan": _stylegan,
    "dcgan_celeba64": _dcgan_celeba64,
    "dcgan_svhn": _dcgan_svhn,
}


def names():
    """The preset names `get` and --config accept."""
    return sorted(_PRESETS)


def get(name="default"):
    """Returns the preset `name`, or the config recorded in a run's config.json when
    `name` is a path ending in ".json" (`from_json_file`).

    Raises:
        ValueError: unknown preset, naming the known ones.
    """
    if str(name).endswith(".json"):
        return from_json_file(name)
    if name not in _PRESETS:
        raise ValueError(f"unknown config {name!r}; choose one of {', '.join(names())}")
    return _PRESETS[name]()


# Choosing another model family or loss drops the preset's options of the old one: a
# wgan preset's clip_value means nothing to the hinge loss.
_RESETS = {"model.family": ("model.discriminator_family", "model.generator",
                            "model.discriminator"),
           "train.loss": ("train.loss_kwargs",)}


def override(config, **fields):
    """Returns `config` with dotted fields replaced, e.g. override(c, **{"train.epochs": 3}).

    A new `model.family` or `train.loss` also resets the options that belonged to the
    old one (the models' and the loss's keyword arguments), unless they are given too.

    Raises:
        ValueError: an unknown field, or a value its rule refuses.
    """
    fields = dict(fields)
    for key, dependents in _RESETS.items():
        section, name = key.split(".")
        if key in fields and fields[key] != getattr(getattr(config, section), name):
            dropped = {d: _empty(config, d) for d in dependents if d not in fields}
            changed = {d: v for d, v in dropped.items() if _get(config, d) != v}
            if changed:
                logging.info("%s=%s replaces %s and its options %s", name, fields[key],
                             _get(config, key), ", ".join(
                                 f"{d.split('.')[1]}={_get(config, d)!r}" for d in changed))
            fields = {**dropped, **fields}
    sections = {}
    for dotted, value in fields.items():
        section, _, name = dotted.partition(".")
        if section not in SECTIONS or name not in {
                f.name for f in dataclasses.fields(SECTIONS[section])}:
            raise ValueError(f"unknown config field {dotted!r}; see --helpconfig")
        sections.setdefault(section, {})[name] = value
    for section, values in sections.items():
        config = dataclasses.replace(
            config, **{section: dataclasses.replace(getattr(config, section), **values)})
    return config


def _get(config, dotted):
    section, name = dotted.split(".")
    return getattr(getattr(config, section), name)


def _empty(config, dotted):
    return {} if isinstance(_get(config, dotted), dict) else None


def override_from_strings(config, assignments):
    """`override` from "section.field=value" texts (the command line's --set).

    Values are parsed by the field's type: numbers, true/false, none, JSON for dicts
    and lists; a key below a dict field sets one entry
    ("model.generator.base_channels=16").

    Raises:
        ValueError: a malformed assignment, an unknown field or a value that does not
            parse as the field's type; the message names the assignment.
    """
    types = {name: hint for name, _, hint in fields()}
    updates = {}
    for text in assignments:
        dotted, sep, raw = str(text).partition("=")
        dotted = dotted.strip().removeprefix("config.")
        parts = dotted.split(".")
        if not sep or len(parts) < 2:
            raise ValueError(f"--set {text!r}: write section.field=value, e.g. "
                             "train.beta_1=0.7")
        field = ".".join(parts[:2])
        if field not in types:
            raise ValueError(f"--set {text!r}: unknown config field {field!r}; see "
                             "--helpconfig")
        try:
            if len(parts) > 2:  # one entry of a dict field
                if typing.get_origin(types[field]) is not None or types[field] is not dict:
                    raise ValueError(f"{field} is not a dict")
                entries = dict(updates.get(field, _get(config, field)) or {})
                entries[".".join(parts[2:])] = _parse_literal(raw)
                updates[field] = entries
            else:
                updates[field] = parse_value(raw, types[field])
        except ValueError as error:
            raise ValueError(f"--set {text!r}: {error}") from None
    return override(config, **updates)


def parse_value(text, hint):
    """Parses command-line `text` as a value of type `hint` (int, float, bool, str,
    dict, tuple, Optional[...]).

    Raises:
        ValueError: `text` is not such a value.
    """
    text = str(text).strip()
    if typing.get_origin(hint) is typing.Union:  # Optional[X], or X or Y
        kinds = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(kinds) < len(typing.get_args(hint)) and text.lower() in ("none", "null", ""):
            return None
        for kind in kinds[:-1]:  # the first type that parses the text
            try:
                return parse_value(text, kind)
            except ValueError:
                pass
        hint = kinds[-1]
    if hint is bool:
        lowered = text.lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
        raise ValueError(f"expected true or false, got {text!r}")
    if hint in (int, float):
        try:
            return hint(text)
        except ValueError:
            raise ValueError(f"expected {hint.__name__}, got {text!r}") from None
    if hint is str:
        return text
    value = _parse_literal(text)
    if hint is dict and not isinstance(value, dict):
        raise ValueError(f"expected a JSON object, got {text!r}")
    return _lists_to_tuples(value)


def _parse_literal(text):
    try:
        return _lists_to_tuples(json.loads(text))
    except ValueError:
        return text  # a bare word: a string


def resumable_fields():
    """Dotted names of the fields a run may be resumed with other values of."""
    return tuple(name for name, field, _ in fields() if field.metadata.get("resumable"))


def identity(config):
    """The config without its resumable fields: what must match to resume a run."""
    values = json.loads(json.dumps(config.to_dict()))  # tuples -> lists
    for dotted in resumable_fields():
        section, name = dotted.split(".")
        values.get(section, {}).pop(name, None)
    return values


def from_json_file(path):
    """The `Config` recorded in a workdir's config.json (reproduces that run).

    Raises:
        ValueError: the file is unreadable, not a config, or has unknown fields.
    """
    from gan_tf import fileio

    try:
        recorded = json.loads(fileio.read_text(path))
        if not isinstance(recorded, dict):
            raise ValueError("not a JSON object")
        return Config.from_dict(_lists_to_tuples(recorded))
    except Exception as error:  # noqa: BLE001 - gfile, JSON and field errors alike
        reason = str(error).strip().splitlines()[0] if str(error).strip() else \
            type(error).__name__
        raise ValueError(f"cannot read the config {path}: {reason}") from error


def _lists_to_tuples(value):
    if isinstance(value, dict):
        return {k: _lists_to_tuples(v) for k, v in value.items()}
    if isinstance(value, list):
        return tuple(_lists_to_tuples(v) for v in value)
    return value


def quick(config):
    """Shrinks any config to run in seconds: 2 epochs of 3 steps, batch 16, 16 samples,
    one step per execution (so that per-step callbacks see every step)."""
    return override(config, **{
        "train.epochs": 2, "train.steps_per_epoch": 3, "train.train_minutes": None,
        "train.steps_per_execution": 1,
        "data.batch_size": min(config.data.batch_size, 16),
        "callbacks.num_samples": 16})


def validate(config):
    """Checks the names in `config` (loss, model families, dataset, augmentation...) by
    building what they name (gan_tf.tasks.check); returns the config.

    Raises:
        ValueError: with a one-line reason echoing the bad value.
    """
    from gan_tf import tasks

    tasks.check(config)
    return config
