"""Truncation and style-mixing pictures of a trained `stylegan` workdir.

    python -m gan_tf.train --config=stylegan --workdir=/tmp/sg --epochs=3
    python -m benchmarks.stylegan_pictures /tmp/sg docs/images

restores the workdir's last checkpoint and writes OUT/stylegan_truncation.png (rows:
latents, columns: psi = 1, 0.7, 0.5, 0.2, 0), OUT/stylegan_mixing_coarse.png and
OUT/stylegan_mixing_fine.png (top row: source A, left column: source B; the cells take
from B the coarse styles, layers 0-1: the 7x7 conv and the first 14x14 conv, or the
fine ones, the last two: the last 28x28 conv and its toRGB), and copies the last
sample grid to OUT/stylegan_samples.png.
"""
import os
import shutil
import sys

from gan_tf import checkpoint, tasks, viz
from gan_tf import workdir as workdir_lib

workdir, out = sys.argv[1], sys.argv[2]
config = workdir_lib.read_config_file(os.path.join(workdir, "config.json"))
gan = tasks.build_model(config)
state = checkpoint.CheckpointManager(os.path.join(workdir, "checkpoints")).restore(gan)
print("restored epoch", state.epoch)
num_ws = gan.generator.num_ws
psis = (1.0, 0.7, 0.5, 0.2, 0.0)
viz.save_image_grid(viz.truncation_grid(gan, psis, num_rows=6, seed=10),
                    os.path.join(out, "stylegan_truncation.png"), columns=len(psis), scale=3)
for name, layers in (("coarse", range(0, 2)), ("fine", range(num_ws - 2, num_ws))):
    grid = viz.style_mixing_grid(gan, num_a=6, num_b=4, layers=layers, seed=20)
    viz.save_image_grid(grid, os.path.join(out, f"stylegan_mixing_{name}.png"), columns=7,
                        scale=3)
samples = sorted(f for f in os.listdir(os.path.join(workdir, "samples")) if f.endswith(".png"))
shutil.copy(os.path.join(workdir, "samples", samples[-1]),
            os.path.join(out, "stylegan_samples.png"))
print("wrote", out)
