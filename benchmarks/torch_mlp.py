"""Tutorial 002's MLP GAN in its own PyTorch code: the `torch` loop that
benchmarks/train_step.py times against the `tutorial_002` preset (group `mlp`):

    python -m benchmarks.train_step --groups=mlp --loops=torch,t002_preset \
        --torch_path=/tmp/torchlib                  # 5 x 192 steps, 2 threads

PyTorch is needed for this loop only (CPU build: `pip install torch`, or a folder
given by --torch_path, put on that worker's PYTHONPATH alone); it is never a dependency
of gan_tf, and train_step.py skips the loop (saying so) when it cannot be imported.
This module imports neither TensorFlow nor gan_tf: the torch worker runs without them.

torch        tutorial 002's code as written (docs/fidelity.md): G 100-256-512-1024-784
             (Linear -> LeakyReLU -> BatchNorm1d, tanh), D 784-512-256-1 (Linear ->
             LeakyReLU -> Dropout(0.3), sigmoid), BCELoss, Adam(2e-4, (0.5, 0.999)), a
             DataLoader(batch_size=64, shuffle=True) over in-memory images, and its
             loop: D step on `gen_imgs.detach()` with d_loss = 0.5 (real + fake), G step
             on the same `gen_imgs`, `d_loss.item()` and `g_loss.item()` formatted into
             its progress line every step (written to os.devnull here). Two fixes, as
             the loop cannot run without them: `gen_imgs = generator(torch.randn(b,
             100))` is drawn at the start of each step (the tutorial uses it undefined),
             and `save_sample_images`, indented into the batch loop (a matplotlib figure
             per batch), is left out.
"""

import os

HERE = os.path.dirname(os.path.abspath(__file__))


def _mnist_images():
    """The bundled digits' train split as float32 (N, 28, 28, 1) in [-1, 1], read from
    gan_tf's npz without TensorFlow (the torch worker imports no TensorFlow)."""
    import numpy as np

    path = os.path.join(os.path.dirname(HERE), "gan_tf", "assets", "mnist_sample.npz")
    with np.load(path) as archive:
        images = archive["images"][:9003]  # gan_tf.data's train split: the first 9,003
    return (images[..., None].astype(np.float32) / 127.5 - 1.0)


def torch_runner(batch_size, threads):
    """run(steps): tutorial 002's PyTorch models and training loop (module docstring)."""

    import torch
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    torch.set_num_threads(threads)
    torch.manual_seed(0)

    class Discriminator(nn.Module):
        def __init__(self):
            super().__init__()
            self.model = nn.Sequential(
                nn.Linear(784, 512), nn.LeakyReLU(), nn.Dropout(0.3),
                nn.Linear(512, 256), nn.LeakyReLU(), nn.Dropout(0.3),
                nn.Linear(256, 1), nn.Sigmoid())

        def forward(self, x):
            return self.model(x.view(-1, 784))

    class Generator(nn.Module):
        def __init__(self):
            super().__init__()
            self.model = nn.Sequential(
                nn.Linear(100, 256), nn.LeakyReLU(), nn.BatchNorm1d(256),
                nn.Linear(256, 512), nn.LeakyReLU(), nn.BatchNorm1d(512),
                nn.Linear(512, 1024), nn.LeakyReLU(), nn.BatchNorm1d(1024),
                nn.Linear(1024, 784), nn.Tanh())

        def forward(self, x):
            return self.model(x).view(-1, 1, 28, 28)

    images = torch.from_numpy(_mnist_images().transpose(0, 3, 1, 2).copy())  # NCHW
    dataloader = DataLoader(TensorDataset(images, torch.zeros(len(images))),
                            batch_size=batch_size, shuffle=True)
    generator, discriminator = Generator(), Discriminator()
    criterion = nn.BCELoss()
    optimizer_g = torch.optim.Adam(generator.parameters(), lr=0.0002, betas=(0.5, 0.999))
    optimizer_d = torch.optim.Adam(discriminator.parameters(), lr=0.0002,
                                   betas=(0.5, 0.999))
    log = open(os.devnull, "w")  # the tutorial prints this line every step
    batches = iter(())

    def run(steps):
        nonlocal batches
        for i in range(steps):
            try:
                imgs, _ = next(batches)
            except StopIteration:  # a new epoch of the DataLoader
                batches = iter(dataloader)
                imgs, _ = next(batches)
            gen_imgs = generator(torch.randn(imgs.shape[0], 100))
            optimizer_d.zero_grad()
            valid = torch.ones(imgs.shape[0], 1)
            fake = torch.zeros(imgs.shape[0], 1)
            real_loss = criterion(discriminator(imgs), valid)
            fake_loss = criterion(discriminator(gen_imgs.detach()), fake)
            d_loss = 0.5 * (real_loss + fake_loss)
            d_loss.backward()
            optimizer_d.step()
            optimizer_g.zero_grad()
            g_loss = criterion(discriminator(gen_imgs), valid)
            g_loss.backward()
            optimizer_g.step()
            print("[Batch %d] [D loss: %f] [G loss: %f]" % (i + 1, d_loss.item(),
                                                           g_loss.item()), file=log)
    return run
