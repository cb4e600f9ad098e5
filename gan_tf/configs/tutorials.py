"""The tutorial presets: `tutorial_000` ... `tutorial_004` rebuild each tutorial's own
code (layers, activations, normalisation, framework-default init, optimiser, loss);
only bugs are fixed and what a tutorial leaves open is chosen, each listed in
docs/fidelity.md and checked by tests/test_fidelity.py. Tutorial presets keep their
tutorials' float32.

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
    tutorial_004  004's TF1 MLP pair (G 100-128-784 sigmoid, D 784-128-1 with dropout
                  before leaky ReLU 0.2, on [0, 1] pixels), Glorot init, Adam 1e-3
                  beta1 0.5; MNIST.
"""

from gan_tf.configs.schema import CallbacksConfig
from gan_tf.configs.schema import Config
from gan_tf.configs.schema import DataConfig
from gan_tf.configs.schema import ModelConfig
from gan_tf.configs.schema import TrainConfig


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


PRESETS = {
    "tutorial_000": _tutorial_000,
    "tutorial_001": _tutorial_001,
    "tutorial_002": _tutorial_002,
    "tutorial_003": _tutorial_003,
    "tutorial_004": _tutorial_004,
}
