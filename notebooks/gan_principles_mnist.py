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
# # GAN 原理：从 MNIST 到 CelebA
#
# 本笔记本移植教程 000（GAN 原理 + MNIST/CelebA 代码）。内容：
#
# 1. 生成器 G 与判别器 D（预设 `tutorial_000`）。教程只说了层的**种类**：G 是“多个线性层与非线性激活”，
#    输入 z 服从均匀分布、MNIST 上 784 维；D 是“卷积、池化、丢弃层，再接全连接层”。它**没有给出任何
#    尺寸**，所以下面的宽度、激活函数、池化方式、dropout 比例都是**本移植的选择**（不是教程的），
#    第 1 节会打印出来；
# 2. 损失：`loss_G = -log D(G(z))`（非饱和损失），D 用二元交叉熵；优化器是教程的
#    `tf.train.AdamOptimizer()` 默认值；
# 3. 在 MNIST 上训练（用的是哪份数据见第 2 节）：教程的网络与优化器在小设置的预算里**模式坍塌**——
#    这里把它作为一个标注清楚的**演示**保留下来；旁边是库的 `default` 配方（DCGAN base 32）在同样
#    几分钟里训练出的、各类都有的数字。画出不同噪声下生成的数字、潜空间插值、训练 GIF；
# 4. 用 FID / IS / 精确率-召回率评价；
# 5. CelebA 人脸：离线时数据不可得，如实说明。
#
# 教程代码与本移植的逐条对照、以及原代码中的错误（例如“MNIST 的 z 必须是 784 维”）见
# [`docs/fidelity.md`](../docs/fidelity.md#tutorial-000--gan-principles-mnist-and-celeba)。
#
# 默认是“小设置”，几分钟跑完；设置环境变量 `GAN_TF_FULL=1` 则使用预设的完整设置。

# %%
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's C++ start-up lines (no GPU, CPU features)
import time

import numpy as np
import matplotlib.pyplot as plt
from IPython.display import Image, display

import gan_tf
from gan_tf import configs, data, metrics, models, viz
from gan_tf.trainer import train_and_evaluate

plt.rcParams.update({"figure.dpi": 72, "image.interpolation": "nearest"})
FULL = os.environ.get("GAN_TF_FULL") == "1"
WORKDIR = os.path.abspath("runs/gan_principles_mnist")
print("完整设置" if FULL else "小设置（GAN_TF_FULL=1 切换到完整设置）")

# %% [markdown]
# ## 1. 对抗的两方
#
# - **生成器 G**：把噪声 z 映射为图像 x' = G(z)。教程说 z 服从均匀分布、MNIST 上 z 是 784 维，
#   预设 `tutorial_000` 照做：z ~ U(-1, 1)（区间是本移植选的），784 维。但教程给的理由——
#   “因为 MNIST 像素是 0-255 的整数”——是错的：z 的维度与图像大小**无关**，任何 `latent_dim`
#   都可以（见 fidelity.md）。
# - **判别器 D**：输入图像，输出“是真图”的打分。库里 D 输出 logit `l`，概率是 sigmoid(l)；
#   损失直接用 logit 计算，数值上更稳定（不会出现 log(0)）。
#
# 损失（均为最小化）：
#
# $$L_D = -\mathbb{E}_x[\log D(x)] - \mathbb{E}_z[\log(1 - D(G(z)))],\qquad
#   L_G = -\mathbb{E}_z[\log D(G(z))]$$
#
# 教程中 `loss_G = -tf.reduce_mean(tf.log(D_fake))` 把 `D_fake` 当成概率，而 `loss_D`
# 又把同一个张量当 logit 送进 `sigmoid_cross_entropy_with_logits`——同一个张量不能两者都是。
# 库中对应的是 `losses.non_saturating_*`，只用 logit：

# %%
config = configs.get("tutorial_000")
print(config.model)
print(config.train)


def print_line(line, line_break=True):  # Keras' summary, as plain text
    print(line)


# The networks this notebook trains, built from the preset as train_and_evaluate builds them.
generator = models.get(config.model.family).Generator(
    latent_dim=config.model.latent_dim, image_shape=(28, 28, 1), **config.model.generator)
discriminator = models.get(config.model.discriminator_family).Discriminator(
    image_shape=(28, 28, 1), **config.model.discriminator)
generator.stack.summary(line_length=80, print_fn=print_line)
discriminator.stack.summary(line_length=80, print_fn=print_line)

import tensorflow as tf
logits = tf.constant([[-3.0], [0.0], [3.0]])          # D 的 logit，sigmoid = 0.05 / 0.5 / 0.95
print("L_G for each logit:", [float(gan_tf.losses.non_saturating_generator_loss(l[None]))
                              for l in logits])
print("-log sigmoid(l):    ", (-np.log(1 / (1 + np.exp(-logits.numpy())))).ravel())

# %% [markdown]
# ## 2. 数据与训练设置
#
# 预设的数据是完整的 MNIST（`mnist`，60,000 张训练图）。
#
# - **小设置**（默认）`tutorial_000` 只训练 4 x 50 步（旁边的 `default` 配方 3 x 200 步，它的步子便宜得多，用时更短），
#   用随包附带的 `mnist_sample`：它是 MNIST 训练集中的 9,003 张真实手写数字（外加 997 张测试数字），
#   离线可用；这么短的训练用不完它。
# - **完整设置**（`GAN_TF_FULL=1`）先尝试完整的 `mnist`（需要网络，或准备好的 tfds 目录 /
#   原始 IDX 文件，见 docs/data.md）。**离线时 MNIST 无法获得**：下面会打印原因，并明确说明改用
#   9,003 张的 `mnist_sample`——这样的“完整设置”只是 epoch 数完整，数据不完整。

# %%
dataset_name = "mnist" if FULL else "mnist_sample"
try:
    data.load(dataset_name, batch_size=64)  # fails at once, naming what is missing
except data.DatasetUnavailableError as error:
    dataset_name = "mnist_sample"
    print("完整的 MNIST 不可得，本次“完整设置”仍用随包的 9,003 张 mnist_sample：\n", error)
print("训练数据：", dataset_name, "(60,000 张)" if dataset_name == "mnist" else "(9,003 张)")

if FULL:
    config = configs.override(config, **{"data.name": dataset_name})
else:
    config = configs.override(config, **{
        "data.name": dataset_name, "train.epochs": 4, "train.steps_per_epoch": 50,
        "callbacks.num_samples": 36})
print(config.data, config.train.epochs, config.train.steps_per_epoch)

# %% [markdown]
# 先照教程训练：预设 `tutorial_000` 原样，优化器是教程的 `tf.train.AdamOptimizer()` 默认值
# （lr 1e-3、beta1 0.9）。**预告**：在小设置的 200 步里，这一次会模式坍塌（库的检查会打印
# “possible mode collapse”警告）。我们试过在教程没有规定的地方改动（G 用 leaky ReLU、D 的
# dropout 0.5、批量 128），也试过只把优化器换成 DCGAN 论文的 Adam 2e-4 / 0.5：200 步时样本都还是
# 几乎只有一种数字（recall 为 0）。所以这里不掩盖它，而是把它当作第 3 节“模式坍塌长什么样、指标如何发现它”的演示。

# %%
start = time.time()
tutorial_gan = train_and_evaluate(config, WORKDIR + "_tutorial_adam", restart=True, verbose=0)
print(f"教程的优化器：训练用时 {time.time() - start:.0f} s")
tutorial_history = gan_tf.checkpoint.read_history(
    os.path.join(WORKDIR + "_tutorial_adam", "history.json"))
print({k: round(v[-1], 3) for k, v in tutorial_history.items() if isinstance(v[-1], float)})

# %% [markdown]
# 再训练一个**能用的**生成器：库的 `default` 预设（DCGAN base 32：卷积生成器带批归一化，
# Adam 5e-4 / 0.5，批量 32，从生成器权重的指数滑动平均采样；它怎样偏离教程见 docs/fidelity.md），
# 同样的随包数据，小设置 3 x 200 步（每步比上面便宜得多，用时见打印）。它仍是同一个对抗游戏、同样的
# 非饱和损失；本笔记本后面的评价和图片把两次并排，插值与训练 GIF 看这一次。

# %%
working_config = configs.override(configs.get("default"), **{"data.name": dataset_name})
if not FULL:
    working_config = configs.override(working_config, **{
        "train.epochs": 3, "train.steps_per_epoch": 200, "train.train_minutes": None,
        "callbacks.num_samples": 36})
start = time.time()
gan = train_and_evaluate(working_config, WORKDIR, restart=True, verbose=0)
print(f"default 配方：训练用时 {time.time() - start:.0f} s；结果在 {WORKDIR}")
history = gan_tf.checkpoint.read_history(os.path.join(WORKDIR, "history.json"))
print({k: round(v[-1], 3) for k, v in history.items() if isinstance(v[-1], float)})

# %% [markdown]
# `real_score` / `fake_score` 是 D 对真图、假图给出的平均概率：两者都接近 0.5 时，
# D 已经分不清真假——这正是对抗的“平衡”。上面打印的是两次训练各自最后一个 epoch 的值；
# `diversity` 是样本之间的差异与真实数据之间差异的比（库的模式坍塌检查，低于 0.1 时会警告）。

# %% [markdown]
# ## 3. 评价：FID、IS、精确率/召回率
#
# 特征来自库里随包附带的 MNIST 分类器（离线），所以这些 FID 只能和本库的其它 FID 比较，
# 不能和论文里基于 Inception 的数值比较。对照：997 张真实测试数字（下限）。

# %%
real = next(iter(data.load("mnist_sample", split="test", batch_size=997, shuffle=False))).numpy()
fake = gan.generate(997, seed=1)
extractor = metrics.ClassifierExtractor("mnist")
real_f, fake_f = extractor.extract(real), extractor.extract(fake)
train_real = next(iter(data.load("mnist_sample", batch_size=2000, seed=0))).numpy()
train_f = extractor.extract(train_real)
tutorial_f = extractor.extract(tutorial_gan.generate(997, seed=1))
scores = {}
for name, feats in (("real test digits", real_f), ("tutorial_000", tutorial_f),
                    ("default", fake_f)):
    precision, recall = metrics.precision_recall(train_f.features, feats.features)
    scores[name] = {
        "FID": metrics.frechet_distance(train_f.features, feats.features),
        "IS": metrics.inception_score(feats.probabilities)[0],
        "precision": precision, "recall": recall}
for name, s in scores.items():
    print(f"{name:17s} " + "  ".join(f"{k}={v:.3f}" for k, v in s.items()))
for name, feats in (("tutorial_000", tutorial_f), ("default", fake_f)):
    print(f"{name:17s} digits by class (the classifier's argmax):",
          np.bincount(feats.probabilities.argmax(1), minlength=10).tolist())

# %% [markdown]
# 第一行是真实测试数字（指标的下限/上限）。`tutorial_000` 一行就是**模式坍塌**的样子（演示）：
# recall（真实数字有多少落在生成样本覆盖的范围内）接近 0，IS 接近 1（分类器把所有样本判成同一类），
# 按类别计数几乎全落在一个数字上。这一次 precision 也是 0：那一种形状不在真实数字的范围里；若坍塌到
# 一个像样的数字上，precision 反而会很高——所以只看 precision 或只看一张样本“清不清楚”不够，要看
# recall 和类别分布。`default` 一行的类别计数里十个数字都有，recall 明显大于 0；它与真实数字的
# FID 差距就是这次短训练还没学到的部分。坍塌来自教程的优化器设置
# （`tf.train.AdamOptimizer()` 的默认值 lr 1e-3、beta1 0.9，比 DCGAN 论文推荐的 2e-4 / 0.5 激进得多）
# 与这么短的训练；笔记本 `dcgan_faces_and_training_fixes` 并排比较了学习率等修正。完整设置训练更久。
# 上面的数字只来自这一次执行，不是一般结论。

# %% [markdown]
# ## 4. CelebA 人脸
#
# 教程的第二个实验在 CelebA 上训练同样的 GAN。库里**没有**专门的 CelebA 版 `tutorial_000`
# 预设：下面的单元就是同一个 `tutorial_000`，只把数据换成 `celeb_a`（64x64x3，G 的输出层和 D
# 的输入随之变大，其余不变）。先尝试加载真实数据；离线时库会抛出 `DatasetUnavailableError`
# 并说明如何获得数据。我们**不**用其它数据集冒充人脸：数据不可得时跳过人脸训练。
# 64x64 彩色 DCGAN 的结构与一次标注清楚的冒烟运行见笔记本 `dcgan_faces_and_training_fixes`。

# %%
try:
    faces = data.load("celeb_a", batch_size=64, image_size=64)
    faces_available = True
except data.DatasetUnavailableError as error:
    faces_available = False
    print("CelebA 不可用，跳过人脸训练：\n", error)

if faces_available:
    face_config = configs.override(configs.get("tutorial_000"), **{
        "data.name": "celeb_a", "data.image_size": 64,
        **({} if FULL else {"train.epochs": 2, "train.steps_per_epoch": 50})})
    face_gan = train_and_evaluate(face_config, WORKDIR + "_celeba", verbose=0)
    viz.save_image_grid(face_gan.generate(36, seed=0), WORKDIR + "_celeba/new_faces.png")
    display(Image(filename=WORKDIR + "_celeba/new_faces.png"))

# %% [markdown]
# ## 5. 图片
#
# 训练曲线（每个 epoch 的平均损失和 D 的打分）。先是 `tutorial_000`（演示：模式坍塌；`diversity`
# 掉到 0.1 以下时库发出警告），再是 `default`：

# %%
viz.plot_history(tutorial_history)
plt.show()
viz.plot_history(history)
plt.show()

# %% [markdown]
# 教程要的图：同一个生成器在**不同噪声**下生成的数字（三组不同的 z，每组 25 张）。上一行是
# `tutorial_000`——**演示：模式坍塌**，不同的 z 给出几乎同一个形状；下一行是 `default`，不同的 z
# 给出不同的数字：

# %%
fig, axes = plt.subplots(2, 3, figsize=(9, 6.6))
for row, (name, model) in enumerate((("tutorial_000 (mode collapse demo)", tutorial_gan),
                                     ("default", gan))):
    for ax, seed in zip(axes[row], (10, 20, 30)):
        ax.imshow(viz.image_grid(model.generate(25, seed=seed))[..., 0], cmap="gray")
        ax.set_title(f"{name}\nz seed {seed}", fontsize=9)
        ax.axis("off")
plt.tight_layout()
plt.show()

# %% [markdown]
# 潜空间插值（`default`）：在两个噪声向量之间走直线，每一行从左到右看数字如何渐变。

# %%
ends = gan.sample_latents(8, seed=5).numpy()
steps = np.linspace(0, 1, 10)[None, :, None]
latents = (ends[:4, None] * (1 - steps) + ends[4:, None] * steps).reshape(-1, gan.latent_dim)
path = viz.save_image_grid(gan.generate(latents=latents), os.path.join(WORKDIR, "interp.png"),
                           columns=10)
display(Image(filename=path))

# %% [markdown]
# `default` 的训练过程（固定噪声，每个 epoch 一帧）与最后一个 epoch 的样本：

# %%
display(Image(filename=os.path.join(WORKDIR, "samples", "progress.gif")))
last = sorted(f for f in os.listdir(os.path.join(WORKDIR, "samples")) if f.endswith(".png"))[-1]
display(Image(filename=os.path.join(WORKDIR, "samples", last)))
