"""Training-time evaluation: FID and KID every N epochs, best checkpoint by FID.

`FrechetEvaluation` computes the features of a fixed set of real images once, then,
every `every` epochs, generates images from fixed latents, extracts their features
and adds "fid" and "kid" to the epoch's `logs`. Callbacks after it in the list
(gan_tf.callbacks.HistoryFile, keras.callbacks.TensorBoard) record them, so it must come
before them. It also redraws `metrics.png` (FID and KID against epochs) and keeps the
GAN's weights of the lowest FID in `checkpoints/best.weights.h5`.
"""

import json
import os

from absl import logging
import keras
import numpy as np

from gan_tf import _keras_compat
from gan_tf import fileio
from gan_tf import interrupt
from gan_tf import viz
from gan_tf.metrics import distances
from gan_tf.metrics import evaluation
from gan_tf.metrics import features

BEST_WEIGHTS = "best.weights.h5"
BEST_INDEX = "best.json"


class FrechetEvaluation(keras.callbacks.Callback):
    """Adds FID and KID (on an extractor's features) to the logs every N epochs.

    Args:
        real_images: float32 (N, H, W, C) in [-1, 1], the reference set (or pass
            `real_features`).
        extractor: a `gan_tf.metrics` extractor (`extract(images) -> Features`).
        every: evaluate every `every` epochs (and after the last one).
        num_samples: generated images per evaluation (default: as many as real).
        seed: seed of the fixed latents; the same latents every evaluation, so the
            curve shows the generator's change, not sampling noise.
        checkpoint_dir: where to keep `best.weights.h5` (+ `best.json`: epoch, fid);
            None keeps no best checkpoint.
        plot_path: PNG of the FID/KID curves, or None.
        kid_subsets, kid_subset_size: see `kernel_inception_distance`.
        real_features: precomputed float (N, D) features instead of `real_images`.

    Logs:
        "fid" and "kid" (floats) on evaluated epochs.
    """

    def __init__(self, real_images=None, extractor=None, every=1, num_samples=None,
                 seed=0, checkpoint_dir=None, plot_path=None, kid_subsets=20,
                 kid_subset_size=1000, real_features=None):
        super().__init__()
        if extractor is None:
            raise ValueError("FrechetEvaluation needs a feature extractor")
        if (real_images is None) == (real_features is None):
            raise ValueError("pass exactly one of real_images and real_features")
        if int(every) < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        self.extractor = extractor
        self.real_images = real_images
        self.real_features = (None if real_features is None
                              else np.asarray(real_features, np.float32))
        self.every = int(every)
        self.num_samples = num_samples
        self.seed = int(seed)
        self.checkpoint_dir = checkpoint_dir
        self.plot_path = plot_path
        self.kid_subsets = int(kid_subsets)
        self.kid_subset_size = int(kid_subset_size)
        self.records = {"epoch": [], "fid": [], "kid": []}
        self.best_fid = float("inf")
        self._epochs = None

    def on_train_begin(self, logs=None):
        self._epochs = self.params.get("epochs") if self.params else None
        if self.real_features is None:
            self.real_features = self.extractor.extract(self.real_images).features
            self.real_images = None  # features are all that is needed from now on
        if self.checkpoint_dir:
            index = fileio.join(self.checkpoint_dir, BEST_INDEX)
            if fileio.exists(index):  # a resumed run keeps its best so far
                self.best_fid = float(json.loads(fileio.read_text(index))["fid"])

    def on_epoch_end(self, epoch, logs=None):
        last = self._epochs is not None and epoch + 1 == self._epochs
        if (epoch + 1) % self.every and not last:
            return
        fid, kid = self.evaluate()
        if logs is not None:
            logs["fid"], logs["kid"] = fid, kid
        self.records["epoch"].append(epoch + 1)
        self.records["fid"].append(fid)
        self.records["kid"].append(kid)
        logging.info("epoch %d: FID %.3f, KID %.5f (%d samples, %s)", epoch + 1, fid, kid,
                     len(self.real_features), self.extractor.name)
        if self.plot_path:
            viz.plot_history(self.records, self.plot_path, keys=["fid", "kid"])
        if self.checkpoint_dir and fid < self.best_fid:
            self.best_fid = fid
            self._save_best(epoch + 1, fid)

    def evaluate(self):
        """(FID, KID) of the current generator against the real features."""
        gan = self.model
        num = int(self.num_samples or len(self.real_features))
        fake_images = gan.generate(latents=gan.sample_latents(num, seed=self.seed),
                                   labels=gan.sample_labels(num))
        fake_features = self.extractor.extract(fake_images).features
        fid = distances.frechet_distance(self.real_features, fake_features)
        kid = distances.kernel_inception_distance(
            self.real_features, fake_features, num_subsets=self.kid_subsets,
            subset_size=self.kid_subset_size)
        return fid, kid

    def _save_best(self, epoch, fid):
        path = fileio.join(self.checkpoint_dir, BEST_WEIGHTS)
        self.model.build_optimizers()
        with interrupt.critical():  # a crash leaves the previous best intact
            fileio.write_atomic(path, _keras_compat.weights_to_bytes(self.model))
            fileio.write_atomic(fileio.join(self.checkpoint_dir, BEST_INDEX),
                                json.dumps({"epoch": epoch, "fid": fid,
                                            "file": BEST_WEIGHTS}, indent=1))
        logging.info("best FID so far (%.3f at epoch %d): %s", fid, epoch, path)


def for_config(data_config, callbacks_config, seed, workdir):
    """The `FrechetEvaluation` that `python -m gan_tf.train --eval_every=N` adds.

    Uses the bundled classifier of `data_config.name`, `callbacks_config.eval_samples`
    real images of the training split drawn with `seed` (which also fixes the
    latents), and writes `workdir/metrics.png` and `workdir/checkpoints/best.weights.h5`.

    Raises:
        ValueError: no bundled classifier for the dataset.
    """
    extractor = features.ClassifierExtractor(data_config.name)
    extra = {"manual_dir": data_config.manual_dir} if data_config.manual_dir else {}
    real_images, _ = evaluation.real_images(
        data_config.name, data_config.split, callbacks_config.eval_samples,
        data_dir=data_config.data_dir, seed=seed, **extra)
    return FrechetEvaluation(
        real_images=real_images, extractor=extractor, every=callbacks_config.eval_every,
        num_samples=callbacks_config.eval_samples, seed=seed,
        checkpoint_dir=os.path.join(workdir, "checkpoints"),
        plot_path=os.path.join(workdir, "metrics.png"))
