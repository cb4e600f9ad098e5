"""Tutorial 002's MLP GAN: its own PyTorch code against gan_tf's `GAN.fit`.

    python benchmarks/torch_mlp.py                     # batch 64, 2 threads, 200 steps x 5
    python benchmarks/torch_mlp.py --steps=100 --repeats=3 --spe=1,16
    python benchmarks/torch_mlp.py --json=benchmarks/train_step.json

PyTorch is needed for the first loop only (CPU build: `pip install torch`); it is
never a dependency of gan_tf. Without it the script prints a skip line and exits 0.

torch     tutorial 002's code as written (docs/fidelity.md): G 100-256-512-1024-784
          (Linear -> LeakyReLU -> BatchNorm1d, tanh), D 784-512-256-1 (Linear ->
          LeakyReLU -> Dropout(0.3), sigmoid), BCELoss, Adam(2e-4, (0.5, 0.999)),
          a DataLoader(batch_size=64, shuffle=True) over in-memory images, and its
          loop: D step on `gen_imgs.detach()` with d_loss = 0.5 (real + fake), G step
          on the same `gen_imgs`, `d_loss.item()` and `g_loss.item()` formatted into
          its progress line every step (written to os.devnull here). Two fixes, as
          the loop cannot run without them: `gen_imgs = generator(torch.randn(b, 100))`
          is drawn at the start of each step (the tutorial uses it undefined), and
          `save_sample_images`, indented into the batch loop (a matplotlib figure
          per batch), is left out.
gan_tf    the same pair from `gan_tf.models.mlp` trained by `GAN.fit` with
          `tutorial_002`'s loss (d_loss scaled by 0.5), once per `--spe`
          (steps_per_execution). Note the work differs: GAN.train_step draws new
          fakes for the generator step (2 generator forwards per step, PyTorch's
          loop reuses one), so gan_tf does more FLOPs per image.

Each loop runs in its own worker process (so neither framework's idle thread pool
competes with the other's timing), both on the same bundled MNIST digits, the same
batch and the same number of threads; the timed repeats alternate between them and
each figure is the median.
"""

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def _mnist_images():
    """The bundled digits as float32 (N, 28, 28, 1) in [-1, 1]."""
    import numpy as np

    from gan_tf import data

    ds = data.load("mnist_sample", batch_size=1000, shuffle=False, drop_remainder=False)
    return np.concatenate([batch.numpy() for batch in ds])


def _torch_runner(batch_size, threads):

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


def _gan_tf_runner(batch_size, threads, spe):
    import matmul
    import train_step

    matmul.set_threads(threads)
    dataset = train_step.make_dataset("mlp", batch_size)
    return train_step.make_gan_runner("mlp", dataset, spe=spe)


def _worker(kind, batch_size, threads, spe):
    """Serves timing requests: reads a step count per line, answers the seconds."""
    run = (_torch_runner(batch_size, threads) if kind == "torch"
           else _gan_tf_runner(batch_size, threads, spe))
    run(max(spe, 2))  # warm up (traces the tf.function)
    print("ready", flush=True)
    for line in sys.stdin:
        steps = int(line)
        start = time.perf_counter()
        run(steps)
        print(time.perf_counter() - start, flush=True)


def torch_available():
    return importlib.util.find_spec("torch") is not None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="timed steps per repeat")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--spe", default="1,16", help="gan_tf steps_per_execution values")
    parser.add_argument("--json", default=None, help="append the results to this file")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if args.worker:
        kind, spe = args.worker.split(":")
        _worker(kind, args.batch_size, args.threads, int(spe))
        return None
    if not torch_available():
        print("skipped: PyTorch is not installed (pip install torch to compare with "
              "tutorial 002's own code)")
        return None
    spes = [int(s) for s in args.spe.split(",")]
    steps = args.steps - args.steps % max(spes) or max(spes)
    loops = {"torch": "torch:1", **{f"gan_tf spe={s}": f"gan_tf:{s}" for s in spes}}
    workers = {}
    for name, spec in loops.items():
        workers[name] = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), f"--worker={spec}",
             f"--batch_size={args.batch_size}", f"--threads={args.threads}"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            env={**os.environ, "OMP_NUM_THREADS": str(args.threads)})
        if workers[name].stdout.readline().strip() != "ready":  # one at a time
            raise RuntimeError(f"the {name} worker failed to start")
    seconds = {name: [] for name in loops}
    try:
        for _ in range(args.repeats):
            for name, worker in workers.items():
                worker.stdin.write(f"{steps}\n")
                worker.stdin.flush()
                seconds[name].append(float(worker.stdout.readline()))
    finally:
        for worker in workers.values():
            worker.stdin.close()
            worker.wait()
    rows = []
    for name, times in seconds.items():
        rows.append({"loop": name, "batch": args.batch_size, "steps": steps,
                     "threads": args.threads, "repeats": args.repeats,
                     "images_per_s": round(steps * args.batch_size
                                           / statistics.median(times), 1),
                     "seconds": [round(t, 3) for t in times]})
    base = rows[0]["images_per_s"]
    import matmul

    info = matmul.machine()
    print(f"tutorial 002 MLP GAN, batch {args.batch_size}, {args.threads} threads, "
          f"{steps} steps x {args.repeats}, on {info['cpu']}")
    print("| loop | img/s | vs torch |\n|---|---|---|")
    for row in rows:
        row["vs_torch"] = round(row["images_per_s"] / base, 3)
        print(f"| {row['loop']} | {row['images_per_s']:.0f} | {row['vs_torch']:.2f}x |")
    if args.json:
        import torch

        matmul._append_json(args.json, {"benchmark": "torch_mlp", "machine": info,
                                        "torch": torch.__version__, "results": rows})
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
