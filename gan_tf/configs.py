"""Named presets: one per tutorial setup, plus the default.

A config is a frozen tree of dataclasses; each builder gets only its slice
(`config.data` -> `data.load`, `config.model` -> the two models, `config.train` ->
optimizers, loss and fit). `get(name)` returns a preset, `override(config, **fields)`
returns a copy with dotted fields replaced ("train.epochs", "data.batch_size"),
`quick(config)` shrinks any preset to run in seconds (tests, notebooks' smoke mode).

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
from typing import Optional

# "auto": mixed_bfloat16 on CPUs with AVX-512 BF16 / AMX, mixed_float16 on GPUs with
# tensor cores, float32 elsewhere (gan_tf.precision.resolve).
PRECISIONS = ("auto", "float32", "mixed_bfloat16", "mixed_float16")
OPTIMIZERS = ("adam", "rmsprop")
STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")
ON_DIVERGENCE = ("stop", "rollback")
# train.loss_kwargs of an image-to-image family that go to CycleGAN.compile, not the loss
CYCLE_LOSS_KEYS = ("cycle_weight", "identity_weight")


@dataclasses.dataclass(frozen=True)
class DataConfig:
    name: str = "mnist_sample"
    name_b: Optional[str] = None       # second, unpaired dataset (image-to-image models)
    split: str = "train"
    batch_size: int = 64
    image_size: Optional[int] = None
    data_dir: Optional[str] = None
    manual_dir: Optional[str] = None   # original files for offline use (data.load)
    on_bad_image: str = "fail"         # or "skip" unreadable image files


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    family: str = "dcgan"                        # generator family (models.families())
    discriminator_family: Optional[str] = None   # None: same as `family`
    latent_dim: int = 100
    latent_distribution: str = "normal"          # "normal" or "uniform"
    generator: dict = dataclasses.field(default_factory=dict)      # constructor kwargs
    discriminator: dict = dataclasses.field(default_factory=dict)  # constructor kwargs
    ema_decay: Optional[float] = None    # sample from an EMA of G's weights (e.g. 0.999)
    augment: Optional[str] = None        # DiffAugment policy, e.g. "color,translation,cutout"


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    epochs: int = 20
    steps_per_epoch: Optional[int] = None        # None: one pass over the data
    g_lr: float = 2e-4
    d_lr: float = 2e-4
    beta_1: float = 0.5
    beta_2: float = 0.999
    loss: str = "non_saturating"
    loss_kwargs: dict = dataclasses.field(default_factory=dict)
    optimizer: str = "adam"                  # "adam" or "rmsprop" (WGAN)
    grad_clip_norm: Optional[float] = None   # clip each model's global gradient norm
    seed: int = 0
    precision: str = "float32"
    deterministic: bool = False        # tf.config.experimental.enable_op_determinism()
    jit_compile: bool = False          # XLA-compile the train step (GAN.compile)
    steps_per_execution: int = 1       # train steps per call from fit's Python loop
    strategy: str = "default"          # default, mirrored, multi_worker, tpu
    on_divergence: str = "stop"        # NaN/Inf loss or weights: "stop" or "rollback"
    rollback_lr_factor: float = 0.5    # learning rates are multiplied by this per rollback
    rollback_reseed: bool = True       # a rollback also moves the noise to a new seed
    max_rollbacks: int = 3             # then stop


@dataclasses.dataclass(frozen=True)
class CallbacksConfig:
    num_samples: int = 64          # images in each epoch's grid
    sample_columns: Optional[int] = None  # images per row of the grid; None: square
    sample_every: int = 1          # epochs between grids
    keep_checkpoints: int = 3
    eval_every: int = 0            # epochs between FID/KID evaluations; 0: never
    eval_samples: int = 5000       # real and generated images per evaluation
    checkpoint_every_steps: int = 0  # also checkpoint every N steps (0: epoch ends only)
    collapse_every: int = 1        # epochs between mode-collapse checks (0: never)
    collapse_threshold: float = 0.1  # warn when sample diversity / data diversity < this


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
        sections = {f.name: f.type for f in dataclasses.fields(cls)}
        kwargs = {}
        for key, value in d.items():
            if key not in sections:
                raise ValueError(f"unknown config section {key!r}")
            if isinstance(value, dict):
                section_cls = {"data": DataConfig, "model": ModelConfig,
                               "train": TrainConfig, "callbacks": CallbacksConfig}[key]
                known = {f.name for f in dataclasses.fields(section_cls)}
                unknown = set(value) - known
                if unknown:
                    raise ValueError(f"unknown {key} fields {sorted(unknown)}")
                value = section_cls(**value)
            kwargs[key] = value
        return cls(**kwargs)


def _default():
    return Config(
        preset="default",
        data=DataConfig(name="mnist_sample", batch_size=64),
        model=ModelConfig(family="dcgan", generator={"base_channels": 32},
                          discriminator={"base_channels": 32}),
        # "auto": bf16 on CPUs with AVX-512 BF16 (1.4x here), fp16 on tensor-core GPUs;
        # the same FID (docs/performance.md, "Precision").
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
    """The default preset (DCGAN base 32 on mnist_sample) with another loss recipe."""
    base = _default()
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
    # Tutorial 001's cGAN: the default's recipe with class-conditional models.
    base = _default()
    body = {"body_kwargs": {"base_channels": 32}}
    return Config(preset="cgan", data=base.data, train=base.train,
                  model=dataclasses.replace(base.model, family="conditional",
                                            generator=body, discriminator=body))


def _infogan():
    # Tutorial 003's InfoGAN (Chen et al. 2016, MNIST): 62 noise + 10 categorical + 2
    # continuous codes, a Q head sharing D's body, lambda 1.
    base = _default()
    return Config(
        preset="infogan", data=base.data,
        model=dataclasses.replace(
            base.model, family="infogan", latent_dim=74, generator={"base_channels": 32},
            discriminator={"body_kwargs": {"base_channels": 32, "dropout": 0.0}}),
        train=dataclasses.replace(base.train, loss="infogan",
                                  loss_kwargs={"num_categories": 10, "num_continuous": 2}))


def _stylegan():
    # Karras et al. 2020 / StyleGAN2-ADA's small-data setup (CIFAR-10: lr 2.5e-3, batch
    # 64, gamma 0.01, 2 mapping layers), scaled down to 28x28 digits on 2 CPU cores.
    base = _default()
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


def override(config, **fields):
    """Returns `config` with dotted fields replaced, e.g. override(c, **{"train.epochs": 3}).

    Raises:
        ValueError: an unknown field.
    """
    sections = {}
    for dotted, value in fields.items():
        section, _, name = dotted.partition(".")
        if not name or not hasattr(config, section) or not hasattr(getattr(config, section), name):
            raise ValueError(f"unknown config field {dotted!r}")
        sections.setdefault(section, {})[name] = value
    for section, values in sections.items():
        config = dataclasses.replace(
            config, **{section: dataclasses.replace(getattr(config, section), **values)})
    return config


def from_json_file(path):
    """The `Config` recorded in a workdir's config.json (reproduces that run).

    Raises:
        ValueError: the file is unreadable, not a config, or has unknown fields.
    """
    try:
        with open(path) as f:
            recorded = json.load(f)
        if not isinstance(recorded, dict):
            raise ValueError("not a JSON object")
        return Config.from_dict(_lists_to_tuples(recorded))
    except (OSError, ValueError, TypeError) as error:
        raise ValueError(f"cannot read the config {path}: {error}") from error


def _lists_to_tuples(value):
    if isinstance(value, dict):
        return {k: _lists_to_tuples(v) for k, v in value.items()}
    if isinstance(value, list):
        return tuple(_lists_to_tuples(v) for v in value)
    return value


def quick(config):
    """Shrinks any config to run in seconds: 2 epochs of 3 steps, batch 16, 16 samples."""
    return override(config, **{
        "train.epochs": 2, "train.steps_per_epoch": 3,
        "data.batch_size": min(config.data.batch_size, 16),
        "callbacks.num_samples": 16})


def _validate_translation(config):
    """The checks of an image-to-image (CycleGAN) config; raises ValueError."""
    from gan_tf import data, losses

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
    kwargs = dict(config.train.loss_kwargs)
    for key in CYCLE_LOSS_KEYS:
        if key in kwargs and not kwargs.pop(key) >= 0:
            raise ValueError(f"{key} must be >= 0, got {config.train.loss_kwargs[key]!r}")
    loss = losses.get(config.train.loss, **kwargs)
    if loss.regularizers or loss.code_dim or loss.d_steps != 1:
        raise ValueError(f"model {family} takes a plain adversarial loss (one D step, no "
                         f"regularisers or codes), got {config.train.loss!r} with "
                         f"{config.train.loss_kwargs}")
    if config.callbacks.eval_every:
        raise ValueError(f"eval_every does not apply to model {family} (it samples no "
                         f"latents); measure translations as docs/variants.md shows")
    if config.model.ema_decay is not None or config.model.augment:
        raise ValueError(f"ema and augment are options of the latent GANs, not of "
                         f"model {family}")


def validate(config):
    """Checks values a user can get wrong; returns the config.

    Raises:
        ValueError: with a one-line reason echoing the bad value.
    """
    from gan_tf import data, losses, models

    checks = [
        (config.train.epochs >= 1, f"epochs must be >= 1, got {config.train.epochs}"),
        (config.data.batch_size >= 1, f"batch_size must be >= 1, got {config.data.batch_size}"),
        (config.train.steps_per_epoch is None or config.train.steps_per_epoch >= 1,
         f"steps_per_epoch must be >= 1, got {config.train.steps_per_epoch}"),
        (config.train.steps_per_execution >= 1,
         f"steps_per_execution must be >= 1, got {config.train.steps_per_execution}"),
        (config.model.latent_dim >= 1,
         f"latent_dim must be >= 1, got {config.model.latent_dim}"),
        (config.train.g_lr > 0, f"g_lr must be > 0, got {config.train.g_lr}"),
        (config.train.d_lr > 0, f"d_lr must be > 0, got {config.train.d_lr}"),
        (config.train.precision in PRECISIONS,
         f"precision must be one of {', '.join(PRECISIONS)}, got {config.train.precision!r}"),
        (config.model.latent_distribution in ("normal", "uniform"),
         f"latent_distribution must be normal or uniform, got "
         f"{config.model.latent_distribution!r}"),
    ]
    checks += [
        (config.train.optimizer in OPTIMIZERS,
         f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {config.train.optimizer!r}"),
        (config.train.grad_clip_norm is None or config.train.grad_clip_norm > 0,
         f"grad_clip_norm must be > 0, got {config.train.grad_clip_norm}"),
        (config.model.ema_decay is None or 0 < config.model.ema_decay < 1,
         f"ema must be in (0, 1), got {config.model.ema_decay}"),
    ]
    train, cb = config.train, config.callbacks
    checks += [
        (train.strategy in STRATEGIES,
         f"strategy must be one of {', '.join(STRATEGIES)}, got {train.strategy!r}"),
        (train.on_divergence in ON_DIVERGENCE, f"on_divergence must be one of "
         f"{', '.join(ON_DIVERGENCE)}, got {train.on_divergence!r}"),
        (0 < train.rollback_lr_factor <= 1,
         f"rollback_lr_factor must be in (0, 1], got {train.rollback_lr_factor}"),
        (train.max_rollbacks >= 0, f"max_rollbacks must be >= 0, got {train.max_rollbacks}"),
        (cb.checkpoint_every_steps >= 0,
         f"checkpoint_every_steps must be >= 0, got {cb.checkpoint_every_steps}"),
        (cb.keep_checkpoints >= 1,
         f"keep_checkpoints must be >= 1, got {cb.keep_checkpoints}"),
        (cb.collapse_every >= 0, f"collapse_every must be >= 0, got {cb.collapse_every}"),
    ]
    for ok, message in checks:
        if not ok:
            raise ValueError(message)
    from gan_tf import augment
    augment.parse_policy(config.model.augment)
    models.get(config.model.family)
    models.get(config.model.discriminator_family or config.model.family)
    if models.is_translation(config.model.family):
        _validate_translation(config)
    else:
        if models.is_translation(config.model.discriminator_family or config.model.family):
            raise ValueError(f"discriminator_family {config.model.discriminator_family!r} "
                             f"is an image-to-image family; it needs --model of its own")
        losses.get(config.train.loss, **config.train.loss_kwargs)
        data.check_name(config.data.name)  # a names() entry or folder:PATH
    if config.callbacks.eval_every:
        from gan_tf.metrics import features

        if config.callbacks.eval_every < 0:
            raise ValueError(f"eval_every must be >= 0, got {config.callbacks.eval_every}")
        if config.data.name not in features.CLASSIFIER_FOR_DATASET:
            raise ValueError(
                f"eval_every needs a bundled classifier for the dataset; there is none "
                f"for {config.data.name!r} (only {', '.join(features.CLASSIFIERS)}); "
                "evaluate afterwards with python -m gan_tf.evaluate --extractor=inception")
    if config.data.image_size is not None and config.data.image_size < 1:
        raise ValueError(f"image_size must be >= 1, got {config.data.image_size}")
    if config.data.on_bad_image not in data.ON_BAD_IMAGE:
        raise ValueError(f"on_bad_image must be one of {', '.join(data.ON_BAD_IMAGE)}, "
                         f"got {config.data.on_bad_image!r}")
    return config
