"""Pictures: image grids, PNG and GIF files, loss and metric curves, the evaluation's
class histogram and t-SNE plot, latent-code and StyleGAN grids.

Images inside gan_tf are float32 in [-1, 1]; the conversion to uint8 happens here,
where pictures are written. Figures written to files are figures of their own, made
without pyplot: writing a file must not switch the backend of a notebook that shows
figures.
"""

import io
import json
import math
import os

from absl import logging
from matplotlib.figure import Figure
import matplotlib.pyplot as plt
import numpy as np
from PIL import Image

from gan_tf import fileio


def to_uint8(images):
    """Maps float images in [-1, 1] to uint8 in [0, 255] (values outside are clipped).

    Args:
        images: array (..., H, W, C) float in [-1, 1].

    Returns:
        uint8 array of the same shape.
    """
    images = np.asarray(images, dtype=np.float32)
    return np.round((np.clip(images, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)


def image_grid(images, columns=None, padding=2, pad_value=255):
    """Tiles a batch of images into one picture.

    Args:
        images: (N, H, W, C) float in [-1, 1] or uint8; C is 1 or 3.
        columns: images per row; default ceil(sqrt(N)).
        padding: pixels between images and around the grid.
        pad_value: uint8 colour of the padding.

    Returns:
        uint8 (rows * (H + p) + p, columns * (W + p) + p, C).

    Raises:
        ValueError: not a 4-D batch with 1 or 3 channels, or an empty batch.
    """
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] not in (1, 3) or len(images) == 0:
        raise ValueError(f"image_grid needs a non-empty (N, H, W, 1 or 3) batch, "
                         f"got shape {images.shape}")
    if images.dtype != np.uint8:
        images = to_uint8(images)
    num, height, width, channels = images.shape
    columns = columns or math.ceil(math.sqrt(num))
    rows = math.ceil(num / columns)
    grid = np.full((rows * (height + padding) + padding,
                    columns * (width + padding) + padding, channels), pad_value, np.uint8)
    for index, image in enumerate(images):
        top = padding + (index // columns) * (height + padding)
        left = padding + (index % columns) * (width + padding)
        grid[top:top + height, left:left + width] = image
    return grid


def _to_pil(grid, scale):
    image = Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid)
    if scale != 1:
        image = image.resize((grid.shape[1] * scale, grid.shape[0] * scale), Image.NEAREST)
    return image


def _write_image(image, path, **save_kwargs):
    """Writes a PIL image atomically to any tf.io.gfile path (format from the name)."""
    buffer = io.BytesIO()
    image.save(buffer, format=os.path.splitext(str(path))[1][1:].upper().replace(
        "JPG", "JPEG"), **save_kwargs)
    fileio.write_atomic(path, buffer.getvalue())
    return path


def save_image_grid(images, path, columns=None, scale=2):
    """Writes `image_grid(images, columns)` as a PNG, enlarged `scale` times, atomically
    (any tf.io.gfile path).

    Returns:
        the path written.
    """
    return _write_image(_to_pil(image_grid(images, columns), scale), path)


def save_gif(png_paths, path, duration_ms=300):
    """Writes the PNGs as an animated GIF, one frame each, looping forever.

    The last frame is held three times as long, so the final result is seen. A PNG
    that does not decode (damaged after it was written) is left out, with a warning
    naming it: the GIF is derived from the PNGs, which are never written again.

    Returns:
        the path written, or None when there are no frames.
    """
    frames = [frame for frame in (_frame(p) for p in png_paths) if frame is not None]
    if not frames:
        return None
    durations = [duration_ms] * (len(frames) - 1) + [duration_ms * 3]
    return _write_image(frames[0], path, save_all=True, append_images=frames[1:],
                        duration=durations, loop=0)


def _frame(path):
    """The RGB image of the PNG at `path`, or None (with a warning) when it is damaged."""
    try:
        image = Image.open(io.BytesIO(fileio.read_bytes(path)))
        return image.convert("RGB")
    except (OSError, ValueError, SyntaxError) as error:  # PIL's errors for a bad file
        logging.warning("%s is damaged (%s): the GIF leaves it out; delete it, or "
                        "replace it with a good copy", path, str(error).strip() or
                        type(error).__name__)
        return None


def plot_history(history, path=None, keys=None):
    """Plots per-epoch curves from a Keras History, its `.history` dict or history.json.

    Args:
        history: `keras.callbacks.History`, a dict {name: [per-epoch values]}, or the
            path of a `history.json`.
        path: where to write a PNG; None returns the figure without writing.
        keys: names to plot; default every loss (names ending in "loss") on one
            axis and the other numbers on a second.

    Returns:
        the matplotlib Figure.
    """
    subplots = _file_subplots if path is not None else plt.subplots
    if isinstance(history, str):
        history = json.loads(fileio.read_text(history))
    history = getattr(history, "history", history)
    series = {k: v for k, v in history.items()
              if isinstance(v, list) and v and all(isinstance(x, (int, float)) for x in v)}
    if keys is not None:
        series = {k: series[k] for k in keys if k in series}
    loss_keys = [k for k in series if k.endswith("loss")]
    other_keys = [k for k in series if k not in loss_keys and k != "epoch"]
    panels = [ks for ks in (loss_keys, other_keys) if ks]
    fig, axes = subplots(1, max(1, len(panels)), figsize=(5 * max(1, len(panels)), 3.5),
                         squeeze=False)
    for ax, ks in zip(axes[0], panels):
        for k in ks:
            epochs = history.get("epoch", list(range(1, len(series[k]) + 1)))
            ax.plot(epochs[:len(series[k])], series[k], label=k)
        ax.set_xlabel("epoch")
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    if path is not None:
        save_figure(fig, path)
    return fig


def _file_subplots(*args, figsize, **kwargs):
    """`plt.subplots` for a figure written to a file: one of its own, no pyplot."""
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(*args, **kwargs)


def save_figure(fig, path, dpi=100):
    """Writes a matplotlib figure as a PNG, atomically, to any tf.io.gfile path."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    fileio.write_atomic(path, buffer.getvalue())
    return path


def plot_class_counts(names, fake_counts, real_counts, path):
    """Writes a bar chart of the share of images per (predicted) class, real beside
    generated, as a PNG; returns the path.

    Args:
        names: class names.
        fake_counts, real_counts: images per class, in `names` order.
        path: the PNG (any tf.io.gfile path).
    """
    fig, ax = _file_subplots(figsize=(7, 3.2))
    positions = np.arange(len(names))
    total_fake, total_real = max(sum(fake_counts), 1), max(sum(real_counts), 1)
    ax.bar(positions - 0.2, np.asarray(real_counts) / total_real, 0.4, label="real")
    ax.bar(positions + 0.2, np.asarray(fake_counts) / total_fake, 0.4, label="generated")
    ax.set_xticks(positions, names, rotation=30 if len(names[0]) > 2 else 0, fontsize=8)
    ax.set_ylabel("fraction (predicted class)")
    ax.legend()
    fig.tight_layout()
    return save_figure(fig, path)


def plot_tsne(real_features, fake_features, path, points=1000, seed=0):
    """Writes a t-SNE map of up to `points` real and `points` generated feature
    vectors (float (N, D) each) as a PNG; returns the path, or None when
    scikit-learn, which computes it, is not installed (a warning says how)."""
    try:
        from sklearn.manifold import TSNE  # optional: the [evaluate] extra
    except ImportError:
        logging.warning("scikit-learn is not installed: no t-SNE plot "
                        "(pip install 'gan_tf[evaluate]')")
        return None
    rng = np.random.default_rng(seed)
    real = real_features[rng.permutation(len(real_features))[:points]]
    fake = fake_features[rng.permutation(len(fake_features))[:points]]
    mapped = TSNE(n_components=2, init="pca", random_state=seed,
                  perplexity=30).fit_transform(np.concatenate([real, fake]))
    fig, ax = _file_subplots(figsize=(5, 5))
    ax.scatter(*mapped[:len(real)].T, s=3, alpha=0.5, label="real")
    ax.scatter(*mapped[len(real):].T, s=3, alpha=0.5, label="generated")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(markerscale=4)
    ax.set_title("t-SNE of the features")
    fig.tight_layout()
    return save_figure(fig, path)


def code_latents(gan, num_columns=10, seed=0, continuous=None):
    """Latents for an InfoGAN code grid: one row per categorical value, one column per
    noise vector (shared down each column), continuous codes fixed.

    Args:
        gan: a compiled `GAN` whose loss has codes (`losses.InfoGAN`).
        num_columns: noise vectors per row.
        seed: seed of the noise.
        continuous: values of the continuous codes, default all 0.

    Returns:
        float32 (num_categories * num_columns, latent_dim), row-major.

    Raises:
        ValueError: the GAN's loss has no categorical code.
    """
    loss = gan.gan_loss
    categories = getattr(loss, "num_categories", 0)
    if not categories:
        raise ValueError("code_latents needs a GAN compiled with losses.InfoGAN "
                         "with a categorical code")
    noise_dim = gan.latent_dim - loss.code_dim
    noise = np.asarray(gan.sample_latents(num_columns, seed=seed))[:, :noise_dim]
    continuous = np.zeros(loss.num_continuous) if continuous is None else np.asarray(continuous)
    rows = []
    for category in range(categories):
        onehot = np.zeros((num_columns, categories), np.float32)
        onehot[:, category] = 1.0
        rows.append(np.concatenate(
            [noise, onehot, np.tile(continuous, (num_columns, 1))], axis=1))
    return np.concatenate(rows).astype(np.float32)


def truncation_grid(gan, psis=(1.0, 0.7, 0.5, 0.2, 0.0), num_rows=6, seed=0):
    """Images for a truncation figure: one row per latent, one column per psi.

    Args:
        gan: a `GAN` whose generator takes `truncation_psi` (models.stylegan).
        psis: the truncation values, left to right (1.0: none; 0: w_avg's image, the
            same in every row).
        num_rows: latents.
        seed: seed of the latents.

    Returns:
        float32 (num_rows * len(psis), H, W, C) in [-1, 1], row-major: pass
        `columns=len(psis)` to `save_image_grid`.

    Raises:
        ValueError: the generator has no truncation.
    """
    latents = np.asarray(gan.sample_latents(num_rows, seed=seed))
    columns = [gan.generate(latents=latents, truncation_psi=psi) for psi in psis]
    return np.stack(columns, axis=1).reshape(-1, *columns[0].shape[1:])


def style_mixing_grid(gan, num_a=6, num_b=4, layers=(0, 1), seed=0):
    """Images for a style-mixing figure (StyleGAN, Karras et al. 2019, figure 3).

    The top row shows the images of `num_a` "source A" latents, the left column those
    of `num_b` "source B" latents; cell (i, j) is A_j's styles with the synthesis
    layers in `layers` taken from B_i. Low layer indices (the s x s and the next
    resolution) carry coarse styles: pose, thickness, the digit's shape; high ones
    fine styles: stroke texture and details.

    Args:
        gan: a `GAN` whose sampling generator has `mapping` and `synthesis`
            (models.stylegan.Generator).
        num_a: columns of source A.
        num_b: rows of source B.
        layers: indices of the styles (0 .. num_ws - 1) copied from B.
        seed: seed of the A latents (B uses seed + 1).

    Returns:
        float32 ((num_b + 1) * (num_a + 1), H, W, C) in [-1, 1], row-major with a white
        top-left cell: pass `columns=num_a + 1` to `save_image_grid`.

    Raises:
        ValueError: the generator has no mapping/synthesis, or a layer out of range.
    """
    generator = gan.sampling_generator
    if not (hasattr(generator, "mapping") and hasattr(generator, "synthesis")):
        raise ValueError(f"style mixing needs a style-based generator with mapping and "
                         f"synthesis (models.stylegan), got {type(generator).__name__}")
    num_ws = generator.num_ws
    layers = sorted({int(i) for i in layers})
    if not layers or layers[0] < 0 or layers[-1] >= num_ws:
        raise ValueError(f"layers must be indices in [0, {num_ws}), got {layers}")
    w_a = np.asarray(generator.mapping(gan.sample_latents(num_a, seed=seed)))
    w_b = np.asarray(generator.mapping(gan.sample_latents(num_b, seed=seed + 1)))
    from_b = np.zeros(num_ws, bool)
    from_b[layers] = True
    # (num_b, num_a, num_ws, w_dim): A's styles, B's where from_b
    mixed = np.where(from_b[None, None, :, None], w_b[:, None, None, :],
                     w_a[None, :, None, :])
    mixed = mixed.reshape(num_b * num_a, num_ws, -1)

    def synthesize(ws):
        return np.asarray(generator.synthesis(ws.astype(np.float32), training=False))

    images_a, images_b = synthesize(w_a), synthesize(w_b)
    cells = synthesize(mixed).reshape(num_b, num_a, *images_a.shape[1:])
    blank = np.ones((1, *images_a.shape[1:]), np.float32)
    rows = [np.concatenate([blank, images_a])]
    rows += [np.concatenate([images_b[i:i + 1], cells[i]]) for i in range(num_b)]
    return np.concatenate(rows)
