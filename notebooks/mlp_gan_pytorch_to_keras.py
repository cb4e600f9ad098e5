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
# # 把 PyTorch 的 MLP GAN 逐层搬到 Keras
#
# 本笔记本移植教程 002（PyTorch 全连接 GAN，MNIST）。教程的模型（逐层，包括 PyTorch 的默认值：
# `nn.LeakyReLU()` 的斜率 0.01、`BatchNorm1d` 的 momentum 0.1 / eps 1e-5、`nn.Linear` 的默认初始化）、
# 优化器、损失、训练步的顺序和“每个 epoch 存一行 10 张样本”都逐项对应到 gan_tf 的公开 API（预设
# `tutorial_002`）；然后是教程后半部分：数据增强、评价（距离、判别器的决策边界）、可视化（t-SNE / 嵌入）。
#
# 原代码里的错误（循环里从未生成 `gen_imgs`、`criterion` 未定义、`ToTensor` 的 [0, 1] 数据配 tanh
# 生成器、`save_sample_images` 从不保存、测试时把图像喂给生成器等）与修正见
# [`docs/fidelity.md`](../docs/fidelity.md#tutorial-002--a-pytorch-mlp-gan-on-mnist)。
# `GAN_TF_FULL=1` 切换到完整设置（50 个 epoch）。

# %%
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's C++ start-up lines (no GPU, CPU features)
import time

import keras
import numpy as np
import matplotlib.pyplot as plt
import tensorflow as tf
from IPython.display import Image, display

import gan_tf
from gan_tf import augment, configs, data, losses, metrics, models, viz

plt.rcParams.update({"figure.dpi": 72, "image.interpolation": "nearest"})

def print_line(line, line_break=True):  # Keras' summary, as plain text
    print(line)


FULL = os.environ.get("GAN_TF_FULL") == "1"
RUNS = os.path.abspath("runs/mlp_gan_pytorch_to_keras")
preset = configs.get("tutorial_002")
EPOCHS = preset.train.epochs if FULL else 8
STEPS = None if FULL else 600
print("完整设置" if FULL else "小设置（GAN_TF_FULL=1 切换到完整设置）", EPOCHS, STEPS)

# %% [markdown]
# ## 1. 逐层对照
#
# | PyTorch（教程） | Keras（gan_tf，预设 `tutorial_002` 的参数） |
# |---|---|
# | D: `Linear(784,512)` LeakyReLU Dropout(0.3) `Linear(512,256)` LeakyReLU Dropout(0.3) `Linear(256,1)` Sigmoid | `models.mlp.Discriminator`：Flatten, Dense 512/256 + LeakyReLU(0.01) + Dropout 0.3, Dense(1) 输出 logit（sigmoid 放进损失里） |
# | G: `Linear(100,256)` LeakyReLU BatchNorm1d ... `Linear(1024,784)` Tanh, `view(-1,1,28,28)` | `models.mlp.Generator`：Dense 256/512/1024 + LeakyReLU(0.01) + BatchNorm(momentum 0.9, epsilon 1e-5), Dense 784 + tanh, Reshape (28, 28, 1)（NHWC） |
# | `nn.LeakyReLU()`：斜率 0.01 | `negative_slope=0.01` |
# | `nn.BatchNorm1d`：momentum 0.1, eps 1e-5 | Keras 的 momentum 是 1 - 0.1 = 0.9，`epsilon=1e-5` |
# | `weights_init`（只匹配 Conv/BatchNorm2d） | 不起作用，所以保留 PyTorch 的默认初始化：`init_stddev="pytorch"` |
# | Adam lr 2e-4, betas (0.5, 0.999) | `keras.optimizers.Adam(2e-4, beta_1=0.5, beta_2=0.999)` |
# | `d_loss = 0.5 * (real_loss + fake_loss)` | `losses.get("non_saturating", discriminator_scale=0.5)` |
# | 每个 epoch 一行 10 张样本 | `callbacks.SampleGrid(num_images=10, columns=10)` |
#
# 注意：教程的 `weights_init` 只匹配 `Conv2d`/`ConvTranspose2d`/`BatchNorm2d`，这对 MLP 里一个都没有，
# 所以它写的 N(0, 0.02) 初始化从未发生，每个 `nn.Linear` 用的是 PyTorch 的默认初始化：权重和偏置都是
# U(-1/sqrt(fan_in), 1/sqrt(fan_in))。移植版照样如此（不是 N(0, 0.02)）。下面打印两个网络，
# 再量一下每个 Dense 的权重范围与 1/sqrt(fan_in)：

# %%
model_kwargs = {"generator": {"latent_dim": preset.model.latent_dim, **preset.model.generator},
                "discriminator": preset.model.discriminator}
generator = models.mlp.Generator(**model_kwargs["generator"])
discriminator = models.mlp.Discriminator(**model_kwargs["discriminator"])
generator.stack.summary(line_length=80, print_fn=print_line)      # the layers inside
discriminator.stack.summary(line_length=80, print_fn=print_line)
for w in generator.weights + discriminator.weights:
    if "kernel" in w.path:
        print(f"{w.path:32s} max |w| {np.abs(w.numpy()).max():.4f}   "
              f"1/sqrt(fan_in) {1 / np.sqrt(w.shape[0]):.4f}")

# %% [markdown]
# ## 2. 训练
#
# **数据**：教程用 `datasets.MNIST`（60,000 张）。小设置（8 x 600 步）用随包的 `mnist_sample`：
# MNIST 训练集中的 9,003 张真实数字，离线可用，这么短的训练用不完它。完整设置先尝试完整的 `mnist`；
# **离线时 MNIST 无法获得**，下面会打印原因并说明仍用这 9,003 张。教程的 `ToTensor()` 给出 [0, 1]
# 的图像，而 G 以 tanh 结尾、输出 [-1, 1]：D 单看取值范围就能分出真假。这是错误；库的数据都在
# [-1, 1]（相当于再加 `Normalize((0.5,), (0.5,))`）。
#
# **训练步**：就是 `gan.fit`。教程的循环用 `gen_imgs` 却从未生成它；修正后每一步采样一次 z、生成
# **一批**假图，先用它（`detach`）更新 D（真图标签 1、假图标签 0 的 BCE，乘 0.5），再用**同一批**
# 假图通过更新后的 D 更新 G（非饱和损失）——正是教程两处 `gen_imgs` 的用法。

# %%
dataset_name = "mnist" if FULL else "mnist_sample"
try:
    data.load(dataset_name, batch_size=64)  # fails at once, naming what is missing
except data.DatasetUnavailableError as error:
    dataset_name = "mnist_sample"
    print("完整的 MNIST 不可得，本次“完整设置”仍用随包的 9,003 张 mnist_sample：\n", error)
print("训练数据：", dataset_name, "(60,000 张)" if dataset_name == "mnist" else "(9,003 张)")
ds = data.load(dataset_name, batch_size=preset.data.batch_size, seed=0, repeat=STEPS is not None)


def make_gan(augment=None):
    """A GAN of the preset's networks, optimisers and loss (fresh weights)."""
    keras.utils.set_random_seed(0)
    made = gan_tf.GAN(models.mlp.Generator(**model_kwargs["generator"]),
                      models.mlp.Discriminator(**model_kwargs["discriminator"]),
                      latent_dim=preset.model.latent_dim, seed=0, augment=augment)
    train = preset.train
    made.compile(g_optimizer=keras.optimizers.Adam(train.g_lr, beta_1=train.beta_1,
                                                   beta_2=train.beta_2),
                 d_optimizer=keras.optimizers.Adam(train.d_lr, beta_1=train.beta_1,
                                                   beta_2=train.beta_2),
                 loss=losses.get(train.loss, **train.loss_kwargs))
    return made


gan = make_gan()
samples_dir = os.path.join(RUNS, "samples")
start = time.time()
history = gan.fit(ds, epochs=EPOCHS, steps_per_epoch=STEPS, verbose=0,
                  callbacks=[gan_tf.callbacks.SampleGrid(samples_dir, num_images=10, columns=10)])
print(f"{time.time() - start:.0f} s;",
      {k: round(v[-1], 3) for k, v in history.history.items()})

# %% [markdown]
# 每个 epoch 的 1x10 样本，从上到下是 epoch 1, 2, ...。教程的 `save_sample_images` 画完就 `plt.close()`、
# 从不保存，而且每次重新采样噪声；这里 `SampleGrid` 把每个 epoch 的一行写成 PNG，并用固定的噪声，
# 便于逐 epoch 比较：

# %%
rows = [plt.imread(os.path.join(samples_dir, f))
        for f in sorted(os.listdir(samples_dir)) if f.endswith(".png")]
plt.figure(figsize=(10, 1.1 * len(rows)))
plt.imshow(np.concatenate(rows), cmap="gray")
plt.axis("off")
plt.show()

# %% [markdown]
# ## 3. 数据增强
#
# 教程建议对训练图像做旋转、缩放等增强。对 GAN 来说只增强真图会让 G 学着生成“增强过的”图像；
# DiffAugment 对 D 看到的**所有**图（真与假）做同样的可微增强，梯度穿过增强传回 G。
# 库里是 `GAN(augment=...)`。这是本移植加的（教程只有文字）：用 `AUGMENT` 这一种策略——亮度/
# 饱和度/对比度（`color`，对应教程说的“变化亮度”）、平移、cutout——先看 D 眼中的真图，再用**同一个**
# 策略训练一个带增强的模型（同样的网络、优化器、数据和步数）。

# %%
AUGMENT = "color,translation,cutout"
real_batch = next(iter(data.load("mnist_sample", batch_size=10, seed=3)))
augmented = augment.diff_augment(real_batch, AUGMENT, tf.constant([1, 2]))
display(Image(filename=viz.save_image_grid(np.concatenate([real_batch, augmented]),
                                           os.path.join(RUNS, "augmented.png"), columns=10)))

aug_gan = make_gan(augment=AUGMENT)
aug_history = aug_gan.fit(ds, epochs=EPOCHS, steps_per_epoch=STEPS, verbose=0)

# %% [markdown]
# ## 4. 评价
#
# ### 距离
# 教程说“把真图和生成图各看作高斯分布，算它们之间的距离”——这正是 FID（两个高斯的 Fréchet
# 距离，用分类器特征而不是像素）。再加上 KID（无偏的 MMD）和精确率/召回率。
# 对照：997 张真实测试数字。

# %%
extractor = metrics.ClassifierExtractor("mnist")
train_f = extractor.extract(next(iter(data.load("mnist_sample", batch_size=2000, seed=0))).numpy())
test_images = next(iter(data.load("mnist_sample", split="test", batch_size=997, shuffle=False))).numpy()
sets = {"real test": test_images, "MLP GAN": gan.generate(997, seed=1),
        "MLP GAN + DiffAugment": aug_gan.generate(997, seed=1)}
features = {name: extractor.extract(images) for name, images in sets.items()}
for name, f in features.items():
    p, r = metrics.precision_recall(train_f.features, f.features)
    print(f"{name:22s} FID {metrics.frechet_distance(train_f.features, f.features):7.2f}  "
          f"KID {metrics.kernel_inception_distance(train_f.features, f.features, num_subsets=20, subset_size=500):.4f}  "
          f"precision {p:.2f}  recall {r:.2f}")

# %% [markdown]
# 增强在这么短的训练里未必更好：它主要在数据少、训练长、D 过拟合时起作用。
#
# ### 判别器的决策边界
# D 对一张图输出 sigmoid(logit)，0.5 就是它的决策边界。看 D 给真实测试数字和生成数字的分数分布：
# 两团分得越开，D 越容易分辨；重叠越多，G 越成功。

# %%
d_real = tf.sigmoid(gan.discriminator(test_images, training=False)).numpy().ravel()
d_fake = tf.sigmoid(gan.discriminator(sets["MLP GAN"], training=False)).numpy().ravel()
print(f"D 判为真 (>0.5)：真图 {np.mean(d_real > 0.5):.0%}，生成图 {np.mean(d_fake > 0.5):.0%}")

# %% [markdown]
# ## 5. 可视化：t-SNE 嵌入
#
# 把分类器的 128 维特征用 t-SNE 投到二维：真图和生成图混在一起说明分布相近；生成图只占据
# 某些簇说明模式坍塌（少了某些数字）；生成图聚在所有簇之外（小设置的 4,800 步里仍有一些），说明分类器
# 还认不出它们是哪个数字——上面 recall 不到一半也是这个意思。颜色是 D 的打分，可以看出决策边界落在嵌入的哪里。

# %%
from sklearn.manifold import TSNE

n = 500
embedded = TSNE(n_components=2, init="pca", random_state=0, perplexity=30).fit_transform(
    np.concatenate([features["real test"].features[:n], features["MLP GAN"].features[:n]]))

# %% [markdown]
# ## 6. 图片
#
# 生成器测试（修正后：输入是噪声，不是测试图像）——第一行是真实测试数字，下面两行是生成的：

# %%
display(Image(filename=viz.save_image_grid(
    np.concatenate([test_images[:10], gan.generate(20, seed=11)]),
    os.path.join(RUNS, "test.png"), columns=10)))

# %%
fig, axes = plt.subplots(1, 3, figsize=(15, 4))
axes[0].hist(d_real, bins=30, alpha=0.6, label="real test digits")
axes[0].hist(d_fake, bins=30, alpha=0.6, label="generated")
axes[0].axvline(0.5, color="k", ls="--", label="decision boundary")
axes[0].set_xlabel("D(x) = sigmoid(logit)")
axes[0].legend()
for name, h in (("plain", history.history), ("DiffAugment", aug_history.history)):
    axes[1].plot(h["d_loss"], label=f"d_loss {name}")
    axes[1].plot(h["g_loss"], "--", label=f"g_loss {name}")
axes[1].set_xlabel("epoch")
axes[1].legend()
sc = axes[2].scatter(embedded[n:, 0], embedded[n:, 1], c=d_fake[:n], cmap="coolwarm", s=8,
                     vmin=0, vmax=1, label="generated (colour: D)")
axes[2].scatter(embedded[:n, 0], embedded[:n, 1], c="k", s=4, alpha=0.4, label="real")
plt.colorbar(sc, ax=axes[2])
axes[2].legend(fontsize=8)
axes[2].set_title("t-SNE of classifier features")
plt.tight_layout()
plt.show()

# %% [markdown]
# 潜空间插值与训练 GIF（每帧是一个 epoch 的 1x10 样本）：

# %%
ends = gan.sample_latents(6, seed=4).numpy()
t = np.linspace(0, 1, 10)[None, :, None]
latents = (ends[:3, None] * (1 - t) + ends[3:, None] * t).reshape(-1, 100)
display(Image(filename=viz.save_image_grid(gan.generate(latents=latents),
                                           os.path.join(RUNS, "interp.png"), columns=10)))
display(Image(filename=os.path.join(samples_dir, "progress.gif")))
