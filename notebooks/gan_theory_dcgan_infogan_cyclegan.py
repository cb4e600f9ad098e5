# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # GAN 理论、DCGAN、InfoGAN 与 CycleGAN
#
# 本笔记本移植教程 003（理论 + 三种结构）。内容：
#
# 1. 理论：极小极大值函数 V(D, G)、最优判别器、为什么生成器常用非饱和损失、Wasserstein 距离；
# 2. DCGAN：MNIST 上训练（预设 `tutorial_003`）；SVHN（预设 `dcgan_svhn`）在数据可得时训练；
# 3. InfoGAN：用类别码控制生成（预设 `infogan`）；
# 4. CycleGAN：无配对的图像翻译（预设 `cyclegan`），离线在 MNIST 与颜色反转的 MNIST 之间训练。
#
# 教程（纯文字，无代码）中的公式错误与对照见
# [`docs/fidelity.md`](../docs/fidelity.md#tutorial-003--theory-dcgan--infogan--cyclegan)。
# `GAN_TF_FULL=1` 切换到完整设置。

# %%
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's C++ start-up lines (no GPU, CPU features)
import time

import numpy as np
import matplotlib.pyplot as plt
import tensorflow as tf
from IPython.display import Image, display

import gan_tf
from gan_tf import configs, data, losses, metrics, models, viz
from gan_tf.trainer import train_and_evaluate

plt.rcParams.update({"figure.dpi": 72, "image.interpolation": "nearest"})


def print_line(line, line_break=True):  # Keras' summary, as plain text
    print(line)


def print_networks(**networks):  # the layers of each network, to hold against the text
    for name, network in networks.items():
        print(name)
        inner = network  # a StackModel's Sequential, a CycleGAN network's functional graph
        for attribute in ("stack", "network"):
            inner = getattr(network, attribute, inner)
        inner.summary(line_length=90, print_fn=print_line, expand_nested=True)

FULL = os.environ.get("GAN_TF_FULL") == "1"
RUNS = os.path.abspath("runs/gan_theory_dcgan_infogan_cyclegan")
print("完整设置" if FULL else "小设置（GAN_TF_FULL=1 切换到完整设置）")

# %% [markdown]
# ## 1. 理论
#
# $$\min_G\max_D V(D,G)=\mathbb{E}_{x\sim p_{data}}[\log D(x)]+\mathbb{E}_{z\sim p_z}[\log(1-D(G(z)))]$$
#
# - 固定 G，逐点最大化可得最优判别器 $D^*(x)=\dfrac{p_{data}(x)}{p_{data}(x)+p_g(x)}$；
#   代回去得 $V(D^*,G)=-\log 4+2\,\mathrm{JS}(p_{data}\,\|\,p_g)$，所以 G 在最小化 JS 散度，
#   最优点是 $p_g=p_{data}$，此时 $D^*\equiv 1/2$。
# - 教程把 D 的训练目标写成“最小化 $-\log D(x)-\log(1-D(G(z)))$”是对的，但同时说 D 要在真图上
#   “输出低值”、在假图上“输出高值”，方向反了；它还把这个式子称为 Wasserstein 距离的损失——
#   那是交叉熵，不是 Wasserstein。
# - **非饱和损失**：训练初期 D 很容易识破假图，$D(G(z))\approx 0$ 时 $\log(1-D(G(z)))$ 几乎是平的，
#   G 得不到梯度；改为最小化 $-\log D(G(z))$，最优点不变，但此时梯度大。下图用库里的损失函数直接画出来。
# - **Wasserstein**：$W(p_{data},p_g)=\sup_{\|f\|_L\le 1}\mathbb{E}_{p_{data}}f-\mathbb{E}_{p_g}f$，
#   critic 输出不经 sigmoid 的实数，需要 1-Lipschitz 约束（权重裁剪 `wgan`，或梯度惩罚 `wgan_gp`）。

# %%
logits = tf.constant(np.linspace(-6, 6, 200, dtype=np.float32)[:, None])
d_of_g = tf.sigmoid(logits).numpy().ravel()
curves = {}
for name, fn in (("minimax: log(1 - D(G(z)))", losses.minimax_generator_loss),
                 ("non-saturating: -log D(G(z))", losses.non_saturating_generator_loss)):
    with tf.GradientTape() as tape:
        tape.watch(logits)
        per_sample = tf.stack([fn(logits[i:i + 1]) for i in range(200)])
    curves[name] = (per_sample.numpy(), tape.gradient(per_sample, logits).numpy().ravel())
print("在 D(G(z)) = 0.01 处对 logit 的梯度：",
      {k: round(float(np.interp(0.01, d_of_g, g)), 3) for k, (_, g) in curves.items()})

# %% [markdown]
# ## 2. DCGAN 在 MNIST 上
#
# 教程 003 **没有代码**：它只说 DCGAN 主要用于 MNIST（和 SVHN）、G 与 D 都是卷积网络、z 服从标准
# 正态分布，以及 G 的目标是 $\min_G\max_D V(D,G)$。所以预设 `tutorial_003` 的网络和训练配方是
# **本移植选的**：TensorFlow 官方 DCGAN 教程那一对模型（G：dense 7x7x256 -> 转置卷积 128（步长 1）
# -> 64 -> 1（步长 2），批归一化 + LeakyReLU(0.3)，无偏置；D：卷积 64、128（步长 2）+ LeakyReLU(0.3)
# + Dropout 0.3，Dense(1)；Glorot 初始化；Adam 1e-4、批量 256、50 个 epoch）。只有损失跟随教程的
# 公式：G 最小化 $\log(1-D(G(z)))$（`loss="minimax"`），也就是上面图里会饱和的那条曲线——
# 所以短训练里它学得比非饱和损失慢，这是教程公式本身的性质。
#
# **数据**：预设是完整的 MNIST（60,000 张）。小设置（3 x 40 步，批量 32）用随包的 `mnist_sample`
# （9,003 张真实 MNIST 训练数字，离线可用）；完整设置先尝试 `mnist`，**离线时 MNIST 无法获得**，
# 下面会打印原因并说明仍用这 9,003 张。

# %%
dcgan_config = configs.get("tutorial_003")
dataset_name = "mnist" if FULL else "mnist_sample"
try:
    data.load(dataset_name, batch_size=64)  # fails at once, naming what is missing
except data.DatasetUnavailableError as error:
    dataset_name = "mnist_sample"
    print("完整的 MNIST 不可得，本次“完整设置”仍用随包的 9,003 张 mnist_sample：\n", error)
print("训练数据：", dataset_name, "(60,000 张)" if dataset_name == "mnist" else "(9,003 张)")
dcgan_config = configs.override(dcgan_config, **{"data.name": dataset_name})
if not FULL:
    dcgan_config = configs.override(dcgan_config, **{
        "train.epochs": 3, "train.steps_per_epoch": 40, "data.batch_size": 32,
        "callbacks.num_samples": 25})
print(dcgan_config.train.loss, dcgan_config.model.generator, dcgan_config.model.discriminator)
start = time.time()
dcgan = train_and_evaluate(dcgan_config, os.path.join(RUNS, "dcgan_mnist"), restart=True, verbose=0)
print(f"DCGAN on MNIST: {time.time() - start:.0f} s")
print_networks(G=dcgan.generator, D=dcgan.discriminator)
extractor = metrics.ClassifierExtractor("mnist")
real = extractor.extract(next(iter(data.load("mnist_sample", batch_size=1000, seed=1))).numpy())
fake = extractor.extract(dcgan.generate(1000, seed=0))
dcgan_fid = metrics.frechet_distance(real.features, fake.features)
print(f"FID (1000 vs 1000, MNIST classifier): {dcgan_fid:.2f}")

# %% [markdown]
# ### SVHN
#
# 预设 `dcgan_svhn`（库推荐的 DCGAN 配方：批归一化 + ReLU、N(0, 0.02) 初始化、Adam 2e-4 / 0.5、
# 批量 128，不是上面的 TensorFlow 教程配方）是 32x32x3 的版本。SVHN 需要网络或准备好的 tfds 目录；
# 数据不可得时这里打印库的说明并跳过训练（不拿别的数据冒充 SVHN），只展示模型的形状。

# %%
svhn_config = configs.get("dcgan_svhn")
try:
    data.load("svhn_cropped", batch_size=128)
    svhn_available = True
except data.DatasetUnavailableError as error:
    svhn_available = False
    print("SVHN 不可用，跳过训练：\n", error)
if svhn_available:
    if not FULL:
        svhn_config = configs.override(svhn_config, **{"train.epochs": 2, "train.steps_per_epoch": 40})
    svhn = train_and_evaluate(svhn_config, os.path.join(RUNS, "dcgan_svhn"), verbose=0)
    display(Image(filename=viz.save_image_grid(svhn.generate(36, seed=0),
                                               os.path.join(RUNS, "svhn.png"))))
else:
    svhn_g = models.dcgan.Generator(latent_dim=svhn_config.model.latent_dim,
                                    **svhn_config.model.generator)
    svhn_d = models.dcgan.Discriminator(**svhn_config.model.discriminator)
    print("32x32x3 DCGAN:", svhn_g.input_shape, "->", svhn_g.output_shape,
          "; D:", svhn_d.input_shape, "->", svhn_d.output_shape)

# %% [markdown]
# ## 3. InfoGAN
#
# 把潜向量分成噪声（62 维）和“码”：10 类的类别码 + 2 个连续码。判别器多一个 Q 头，从生成图里
# 把码预测回来；最大化码与图像的互信息，使码获得可解释的含义（理想情况下类别码对应数字）。
# `info_loss` 从 log 10 ≈ 2.30 开始下降，说明 Q 能认出码。短训练下类别码还不会干净地对应数字；
# docs/variants.md 记录了 25 个 epoch 的测量结果。教程只有文字，网络与配方都是本移植选的（预设
# `infogan`：库的小 DCGAN + Q 头）；数据是这个预设自己的随包 `mnist_sample`（9,003 张真实 MNIST
# 数字），完整设置也一样，只是训练更久。

# %%
info_config = configs.get("infogan")
if not FULL:
    info_config = configs.override(info_config, **{
        "train.epochs": 5, "train.steps_per_epoch": 120, "callbacks.num_samples": 25})
start = time.time()
infogan = train_and_evaluate(info_config, os.path.join(RUNS, "infogan"), restart=True, verbose=0)
info_history = gan_tf.checkpoint.read_history(os.path.join(RUNS, "infogan", "history.json"))
print(f"InfoGAN: {time.time() - start:.0f} s; info_loss per epoch:",
      [round(v, 3) for v in info_history.get("info_loss", [])])
print_networks(G=infogan.generator, D_with_Q=infogan.discriminator)

# %% [markdown]
# ## 4. CycleGAN
#
# CycleGAN 做**无配对**的图像翻译（马 ↔ 斑马）：两个生成器 $G_{AB}: A\to B$、$G_{BA}: B\to A$，
# 两个判别器 $D_A, D_B$。生成器的目标是对抗损失（论文用最小二乘）加循环一致性损失
# $\lambda\,(\|G_{BA}(G_{AB}(a))-a\|_1+\|G_{AB}(G_{BA}(b))-b\|_1)$（$\lambda=10$）和恒等损失
# $0.5\lambda\,(\|G_{AB}(b)-b\|_1+\|G_{BA}(a)-a\|_1)$，保证翻译后还能翻译回来。
#
# 它有四个网络，所以是单独的 `gan_tf.CycleGAN`（自己的 `train_step`），但复用库的损失、`fit`、
# 回调、检查点和命令行。生成器是 ResNet 结构（下采样、残差块、上采样，实例归一化），判别器是
# PatchGAN（每个图块一个 logit）。离线没有马和斑马，这里用 MNIST（A）和颜色反转的 MNIST（B）：
# 两边各自打乱，没有配对，但正确答案已知（$x\to -x$），可以直接量误差（这是预设 `cyclegan` 自己的
# 数据，完整设置也用它，只训练更久；网络尺寸按 28x28 缩小，是本移植选的）。命令行：
# `python -m gan_tf.train --config=cyclegan --workdir=runs/cyclegan`；
# 加 `--dataset_b=fashion_mnist` 则翻译到 Fashion-MNIST（docs/variants.md 有两者的图与数字）。

# %%
cycle_config = configs.get("cyclegan")
if not FULL:
    cycle_config = configs.override(cycle_config, **{"train.epochs": 2, "train.steps_per_epoch": 30})
start = time.time()
cyclegan = train_and_evaluate(cycle_config, os.path.join(RUNS, "cyclegan"), restart=True, verbose=0)
cycle_history = gan_tf.checkpoint.read_history(os.path.join(RUNS, "cyclegan", "history.json"))
print(f"CycleGAN: {time.time() - start:.0f} s; cycle_loss per epoch:",
      [round(v, 3) for v in cycle_history.get("cycle_loss", [])])
test_a, test_b = next(iter(data.load_unpaired("mnist_sample", "mnist_sample_inverted",
                                              split="test", batch_size=500, shuffle=False)))
test_a, test_b = test_a.numpy(), test_b.numpy()
print_networks(G_AB=cyclegan.g_ab, D_B=cyclegan.d_b)  # G_BA, D_A: the same layers
print("mean |G_AB(a) - (-a)|:", round(float(np.mean(np.abs(cyclegan.translate(test_a, "a2b") + test_a))), 3),
      "  untranslated |a - (-a)|:", round(float(np.mean(np.abs(2 * test_a))), 3))

# %% [markdown]
# ## 5. 图片

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 3.5))
for name, (value, grad) in curves.items():
    axes[0].plot(d_of_g, value, label=name)
    axes[1].plot(d_of_g, np.abs(grad), label=name)
axes[0].set_title("generator loss")
axes[1].set_title("|d loss / d logit|")
for ax in axes:
    ax.set_xlabel("D(G(z))")
    ax.legend(fontsize=8)
plt.tight_layout()
plt.show()

# %%
viz.plot_history(os.path.join(RUNS, "dcgan_mnist", "history.json"))
plt.show()
display(Image(filename=os.path.join(RUNS, "dcgan_mnist", "samples", "progress.gif")))

# %% [markdown]
# DCGAN 的潜空间插值。小设置下它只训练 120 步（教程 003 的 minimax 损失、本移植选的 Adam 1e-4）：
# 上面的 FID 和 GIF 说明样本还是噪声纹理，插值里也看不出数字——这正是第 1 节说的 minimax 损失在
# 训练初期梯度很小；完整设置（`GAN_TF_FULL=1`，50 个 epoch）才会学出数字。

# %%
ends = dcgan.sample_latents(6, seed=2).numpy()
t = np.linspace(0, 1, 10)[None, :, None]
latents = (ends[:3, None] * (1 - t) + ends[3:, None] * t).reshape(-1, dcgan.latent_dim)
display(Image(filename=viz.save_image_grid(dcgan.generate(latents=latents),
                                           os.path.join(RUNS, "interp.png"), columns=10)))

# %% [markdown]
# 对照：一次能学出数字的 DCGAN。库的 `default` 预设也是 DCGAN（base 32 的 G 与 D），但用非饱和损失、
# Adam 5e-4、批量 32，并从 G 的指数滑动平均（EMA）采样。小设置里它只训练一个 epoch（700 步，
# 完整设置是它自己的 5 分钟），用同样的分类器特征算 FID。700 步后它已画出能认出的数字（0、2、3、8、9 等），
# 笔画还粗糙、有断笔；上面教程 003 的配方同样的时间里还是噪声：

# %%
default_config = configs.get("default")
if not FULL:
    default_config = configs.override(default_config, **{"train.epochs": 1,
                                                          "train.train_minutes": None})
start = time.time()
working = train_and_evaluate(default_config, os.path.join(RUNS, "default_dcgan"), restart=True,
                             verbose=0)
working_fid = metrics.frechet_distance(
    real.features, extractor.extract(working.generate(1000, seed=0)).features)
print(f"default，{working.train_steps} 步，{time.time() - start:.0f} s："
      f"FID {working_fid:.2f}（上面教程 003 的配方：{dcgan_fid:.2f}）")
display(Image(filename=viz.save_image_grid(working.generate(36, seed=0),
                                           os.path.join(RUNS, "default_dcgan.png"))))

# %% [markdown]
# CycleGAN 的翻译（每个 epoch 结束时写一张，这是最后一张）：六行依次是 A、$G_{AB}(A)$、
# $G_{BA}(G_{AB}(A))$、B、$G_{BA}(B)$、$G_{AB}(G_{BA}(B))$。几十步后背景和笔画的颜色已经对调，
# 数字形状还模糊；循环行也只是模糊地还原输入。完整设置（`GAN_TF_FULL=1`）训练 500 步，docs/variants.md
# 的图里翻译清楚得多，循环行几乎完全还原输入（即使翻译有错）——这是 CycleGAN 把输入“藏”在翻译里的已知现象。

# %%
cycle_samples = sorted(f for f in os.listdir(os.path.join(RUNS, "cyclegan", "samples"))
                       if f.endswith(".png"))
display(Image(filename=os.path.join(RUNS, "cyclegan", "samples", cycle_samples[-1])))

# %% [markdown]
# InfoGAN：每一行固定一个类别码，每一列固定一组噪声。码若已获得含义，同一行的数字应相同、
# 行与行之间不同。小设置的 600 步里 `info_loss` 从 2.3 降到了 0.1 以下（上面打印的），Q 已能从图里
# 认出类别码：行与行明显不同，有的行几乎都是同一个数字（例如一行 1、一行 0），但还不是每一行都对应
# 一个干净的数字，笔画也还粗糙；25 个 epoch 的结果见 docs/variants.md。

# %%
path = viz.save_image_grid(infogan.generate(latents=viz.code_latents(infogan, num_columns=10)),
                           os.path.join(RUNS, "infogan_codes.png"), columns=10)
display(Image(filename=path))
