"""Image grids and picture files."""

import numpy as np
from PIL import Image
import pytest

from gan_tf import viz


def test_to_uint8_maps_range_and_clips():
    values = np.array([-2.0, -1.0, 0.0, 1.0, 3.0], np.float32)
    # (x + 1) * 127.5: -1 -> 0, 0 -> 127.5 -> 128 (round half to even gives 128), 1 -> 255
    np.testing.assert_array_equal(viz.to_uint8(values), [0, 0, 128, 255, 255])


def test_image_grid_layout():
    images = np.stack([np.full((2, 3, 1), v, np.float32) for v in (-1.0, 1.0, -1.0)])
    grid = viz.image_grid(images, columns=2, padding=1, pad_value=7)
    # 2 rows x 2 columns of 2x3 images with 1-pixel padding: (2*3+1, 2*4+1)
    assert grid.shape == (7, 9, 1)
    assert grid[1, 1, 0] == 0 and grid[1, 5, 0] == 255 and grid[4, 1, 0] == 0
    assert grid[0, 0, 0] == 7 and grid[5, 6, 0] == 7  # padding and the empty 4th cell


def test_image_grid_rejects_bad_input():
    with pytest.raises(ValueError, match="batch"):
        viz.image_grid(np.zeros((2, 8, 8, 2)))


def test_save_png_and_gif(tmp_path):
    images = np.random.default_rng(0).uniform(-1, 1, (4, 8, 8, 3)).astype(np.float32)
    paths = [viz.save_image_grid(images * s, str(tmp_path / f"{i}.png"), scale=2)
             for i, s in enumerate((0.5, 1.0))]
    assert Image.open(paths[0]).size == (2 * (2 * 10 + 2), 2 * (2 * 10 + 2))
    gif = viz.save_gif(paths, str(tmp_path / "p.gif"))
    assert Image.open(gif).n_frames == 2


def test_plot_history(tmp_path):
    path = str(tmp_path / "curves.png")
    viz.plot_history({"d_loss": [1.0, 0.5], "g_loss": [0.7, 0.9], "real_score": [0.5, 0.6]},
                     path)
    assert Image.open(path).size[0] > 0
