"""gan_tf: generative adversarial networks in TensorFlow 2 / Keras 3."""

import re

from setuptools import find_packages
from setuptools import setup

with open("gan_tf/__init__.py") as f:
    VERSION = re.search(r'__version__ = "([^"]+)"', f.read()).group(1)

setup(
    name="gan_tf",
    version=VERSION,
    description="GANs in TensorFlow 2 / Keras 3: models, losses, data, metrics and "
                "the runnable ports of five GAN tutorials.",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    author="The gan_tf authors",
    license="Apache-2.0",
    license_files=["LICENSE"],
    python_requires=">=3.10",
    packages=find_packages(include=["gan_tf", "gan_tf.*"]),
    package_data={"gan_tf": ["assets/*.npz", "assets/*.json", "assets/*.h5"]},
    install_requires=[
        # Floors: the versions .ci/floor.txt pins and CI tests (.ci/run).
        "tensorflow>=2.20",
        "keras>=3.10",
        "tensorflow-datasets>=4.9",
        # tensorflow-datasets 4.9 imports importlib_resources without declaring it.
        "importlib_resources",
        # TensorFlow 2.21 no longer installs tensorboard; tf.summary needs it.
        "tensorboard",
        "numpy",
        "matplotlib",
        "pillow",
        "absl-py",
        # gan_tf.metrics: the matrix square root of FID, xlogy of the Inception score.
        "scipy",
    ],
    extras_require={
        # jupytext: tests/test_notebooks.py checks each .ipynb against its .py source;
        # executing the notebooks (-m slow) also needs the "notebooks" extra.
        "test": ["pytest>=7", "scikit-learn", "jupytext"],
        # the t-SNE plot of python -m gan_tf.evaluate
        "evaluate": ["scikit-learn"],
        # scikit-learn: the t-SNE plots of notebook 002 and of python -m gan_tf.evaluate
        "notebooks": ["jupyter", "nbclient", "nbformat", "ipykernel", "jupytext",
                      "scikit-learn"],
    },
)
