"""The recommended recipes, tuned for quality per minute; each says how it differs
from its tutorial. They train in precision "auto" (bf16 on CPUs with AVX-512 BF16 /
AMX and GPUs of compute capability >= 8.0, fp16 on 7.x, else float32), except
stylegan and cyclegan, which train in float32.

    default       DCGAN base 32 (the DCGAN paper's pair at 28x28: 5x5 kernels,
                  BatchNorm, ReLU G, leaky ReLU D, N(0, 0.02) init) sampled from an EMA of G (decay 0.999,
                  warming up with the step count), Adam 5e-4 / 0.5, batch 32, on the
                  bundled MNIST digits; it trains for 5 minutes (--train_minutes) in
                  "epochs" of 700 steps: chosen by measuring the best samples in 1-,
                  5- and 10-minute CPU budgets on the bundled digits and on
                  Fashion-MNIST (docs/performance.md, "Quality per minute").
    dcgan_celeba64  the DCGAN recipe at 64x64x3 with tutorial 001's channels:
                  BatchNorm + ReLU G, BatchNorm + leaky ReLU D, N(0, 0.02) init,
                  Adam 2e-4 / 0.5, batch 128 (DCGAN paper), 5 epochs.
    dcgan_svhn    the DCGAN pair at 32x32x3 on SVHN (tutorial 003's DCGAN on another
                  dataset), Adam 2e-4 / 0.5, batch 128.
    wgan, wgan_gp, hinge_sn, lsgan
                  DCGAN base 32 on the bundled digits (Adam 5e-4 / 0.5, batch 64, 25
                  epochs; a critic without BatchNorm or dropout) with a loss variant
                  and its paper's recipe: WGAN weight clipping (RMSprop 5e-5, clip
                  0.01, 5 critic steps), WGAN-GP (lambda 10, 5 critic steps, Adam 1e-4
                  (0, 0.9)), hinge loss with spectral norm, least squares (Adam 2e-4).
                  wgan_gp and hinge_sn train with the default's batch 32 and EMA of G
                  (docs/leaderboard.md).
    cgan          class-conditional DCGAN base 32 (projection discriminator) on the
                  bundled digits, with the default's batch 32 and EMA of G.
    infogan       InfoGAN with 10 categorical + 2 continuous codes (DCGAN base 32
                  networks) on the bundled digits.
    cyclegan      CycleGAN (003) between mnist_sample and its colour inversion
                  (data.name_b): ResNet generators (base 16, 3 blocks), PatchGAN
                  discriminators, batch 16; the paper's recipe as its reference code
                  runs it: least squares (the generator term MSE(D(G(x)), 1)) + cycle
                  10 + identity 5, a pool of 50 earlier fakes per discriminator
                  (train.loss_kwargs.pool_size, 0: none), Adam 2e-4 / 0.5.
    stylegan      a small StyleGAN2 (models.stylegan) at 28x28 on the bundled digits:
                  non-saturating loss + lazy R1 (gamma 0.01 every 16 D steps), Adam 2e-3
                  betas (0, 0.99), EMA of G (StyleGAN2-ADA's CIFAR-10 recipe, smaller).
"""

import dataclasses

from gan_tf.configs.schema import CallbacksConfig
from gan_tf.configs.schema import Config
from gan_tf.configs.schema import DataConfig
from gan_tf.configs.schema import ModelConfig
from gan_tf.configs.schema import TrainConfig


def _default():
    # Chosen for image quality per minute on a 2-core CPU, on the bundled digits and on
    # Fashion-MNIST (docs/performance.md, "Quality per minute"): DCGAN base 32 with an
    # EMA of G beat tutorial 002's MLP pair (the default before) on clothes at every
    # length and on digits by the independent judge, and tutorial 002's own recipe at 1
    # and 5 minutes on both datasets by both judges. Batch 32 trains twice the steps of batch 64 in the same
    # time and scored better at every length measured. The EMA (decay 0.999) warms up
    # with the step count (gan.ema_decay_at), so the first grids are as good as G's.
    # Training stops after 5 minutes (--train_minutes); an "epoch" is 700 steps (about
    # 2.5 passes over the 9,003 digits), so that grids and checkpoints come every
    # several seconds rather than once per pass.
    return Config(
        preset="default",
        data=DataConfig(name="mnist_sample", batch_size=32),
        model=ModelConfig(family="dcgan", generator={"base_channels": 32},
                          discriminator={"base_channels": 32}, ema_decay=0.999),
        # "auto": bf16 on CPUs with AVX-512 BF16 / AMX and GPUs of compute capability
        # >= 8.0, fp16 on 7.x, else float32 (docs/performance.md, "Precision").
        train=TrainConfig(epochs=100, steps_per_epoch=700, train_minutes=5.0, g_lr=5e-4,
                          d_lr=5e-4, beta_1=0.5, precision="auto"))


def _dcgan32():
    # The base of the loss variants, cgan, infogan and stylegan: DCGAN base 32 on the
    # bundled digits, Adam 5e-4 (0.5), batch 64, 25 epochs (the default preset's
    # networks and rates without its EMA, at batch 64).
    return Config(
        preset="dcgan32",
        data=DataConfig(name="mnist_sample", batch_size=64),
        model=ModelConfig(family="dcgan", generator={"base_channels": 32},
                          discriminator={"base_channels": 32}),
        train=TrainConfig(epochs=25, g_lr=5e-4, d_lr=5e-4, beta_1=0.5, precision="auto"))


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


def _variant(name, **train):
    """DCGAN base 32 on mnist_sample (`_dcgan32`) with another loss recipe."""
    base = _dcgan32()
    critic = {"base_channels": 32, "dropout": 0.0}  # no BN, no dropout in a critic
    return Config(preset=name, data=base.data,
                  model=dataclasses.replace(base.model, discriminator=critic),
                  train=dataclasses.replace(base.train, **train))


def _default_batch_and_ema(config):
    """`config` with the default preset's batch size (32) and EMA of G (0.999)."""
    default = _default()
    return dataclasses.replace(
        config, data=dataclasses.replace(config.data, batch_size=default.data.batch_size),
        model=dataclasses.replace(config.model, ema_decay=default.model.ema_decay))


def _wgan():
    # Arjovsky et al. 2017: RMSprop 5e-5, clip 0.01, 5 critic steps per G step.
    return _variant("wgan", loss="wasserstein", optimizer="rmsprop", g_lr=5e-5, d_lr=5e-5,
                    loss_kwargs={"clip_value": 0.01, "d_steps": 5})


def _wgan_gp():
    # Gulrajani et al. 2017: lambda 10, 5 critic steps, Adam 1e-4, betas (0, 0.9); with
    # the default's batch 32 and EMA of G (chosen here: docs/leaderboard.md).
    return _default_batch_and_ema(_variant(
        "wgan_gp", loss="wasserstein_gp", g_lr=1e-4, d_lr=1e-4, beta_1=0.0, beta_2=0.9,
        loss_kwargs={"weight": 10.0, "d_steps": 5}))


def _hinge_sn():
    # Miyato et al. 2018 (SNGAN): hinge loss, spectral norm in D; Adam 5e-4 (0.5, 0.999),
    # batch 32 and an EMA of G as in the default (chosen here: docs/leaderboard.md).
    config = _default_batch_and_ema(_variant("hinge_sn", loss="hinge"))
    return dataclasses.replace(config, model=dataclasses.replace(
        config.model, discriminator={**config.model.discriminator, "spectral_norm": True}))


def _lsgan():
    # Mao et al. 2017: least squares, Adam 2e-4, beta1 0.5.
    return _variant("lsgan", loss="least_squares", g_lr=2e-4, d_lr=2e-4)


def _cgan():
    # Tutorial 001's cGAN: the default's DCGAN base 32 recipe (batch 32, an EMA of G)
    # with class-conditional models, 25 epochs. At batch 64 without the EMA (this
    # preset before) G learned to ignore z within about 1,400 steps: one image per
    # label (docs/variants.md).
    base = _dcgan32()
    body = {"body_kwargs": {"base_channels": 32}}
    return _default_batch_and_ema(Config(
        preset="cgan", data=base.data, train=base.train,
        model=dataclasses.replace(base.model, family="conditional", generator=body,
                                  discriminator=body)))


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
    # Zhu et al. 2017 and their reference code: least squares with the generator term
    # MSE(D(G(x)), 1) (gan_tf.cyclegan), lambda 10, identity 0.5 * lambda, a history
    # pool of 50 fakes per discriminator, Adam 2e-4 / 0.5; networks scaled from 256x256
    # (base 64, 9 blocks, 70x70 patches) to 28x28 digits.
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
                          loss_kwargs={"cycle_weight": 10.0, "identity_weight": 5.0,
                                       "pool_size": 50}),
        callbacks=CallbacksConfig(collapse_every=0))


PRESETS = {
    "default": _default,
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
