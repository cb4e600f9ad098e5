"""Measures a trained CycleGAN workdir (python -m gan_tf.train --config=cyclegan ...).

    python -m benchmarks.cyclegan_quality WORKDIR [PICTURE.png]

Restores the last checkpoint and translates the test split of both datasets
(mnist_sample's 997 test digits; 997 images of B's test split):

- B = A inverted (the preset, data.name_b = mnist_sample_inverted): the true
  translation is known, so it prints the mean absolute error, in [-1, 1] units,
  of G_AB(a) against -a and of G_BA(b) against -b, next to that of the untranslated
  input (|a - (-a)|, what a generator that learned nothing would score).
- otherwise, when B has a bundled classifier (fashion_mnist): the FID, in that
  classifier's features, of G_AB(test A) against the real test B images, next to the
  FID of the untranslated A images against B (docs/evaluation.md explains the FID).

Also prints the cycle error |G_BA(G_AB(a)) - a| and, given PICTURE.png, writes a
grid of 10 test images per row group: A, G_AB(A), G_BA(G_AB(A)), B, G_BA(B),
G_AB(G_BA(B)).
"""

import json
import os
import sys

import numpy as np

from gan_tf import checkpoint, data, tasks, viz
from gan_tf import workdir as workdir_lib

NUM_TEST = 997  # mnist_sample's test split


def _test_images(config):
    ds = data.load_unpaired(config.data.name, config.data.name_b, split="test",
                            batch_size=NUM_TEST, shuffle=False,
                            manual_dir=config.data.manual_dir, data_dir=config.data.data_dir)
    images_a, images_b = next(iter(ds))
    return images_a.numpy(), images_b.numpy()


def measure(model, config, picture=None):
    """The report (a dict) of a trained CycleGAN `model` of `config` on the test split
    of both datasets; with `picture`, also writes the translation grid there."""
    images_a, images_b = _test_images(config)
    fake_b = model.translate(images_a, "a2b")
    fake_a = model.translate(images_b, "b2a")
    report = {"test_images": len(images_a),
              "cycle_error_a": float(np.mean(np.abs(model.translate(fake_b, "b2a")
                                                    - images_a))),
              "cycle_error_b": float(np.mean(np.abs(model.translate(fake_a, "a2b")
                                                    - images_b)))}
    if config.data.name_b == config.data.name + data.INVERTED_SUFFIX:
        report.update({
            "mae_g_ab_vs_inverse": float(np.mean(np.abs(fake_b + images_a))),
            "mae_g_ba_vs_inverse": float(np.mean(np.abs(fake_a + images_b))),
            "mae_untranslated_vs_inverse": float(np.mean(np.abs(2 * images_a))),
        })
    else:
        from gan_tf import metrics
        from gan_tf.metrics import features

        name_b = config.data.name_b
        if features.CLASSIFIER_FOR_DATASET.get(name_b) is not None:
            extractor = metrics.ClassifierExtractor(name_b)
            real = extractor.extract(images_b).features
            report["classifier"] = features.CLASSIFIER_FOR_DATASET[name_b]
            report["fid_g_ab_vs_b"] = float(metrics.frechet_distance(
                real, extractor.extract(fake_b).features))
            report["fid_untranslated_a_vs_b"] = float(metrics.frechet_distance(
                real, extractor.extract(images_a).features))
    if picture:
        rows = [images_a[:10], fake_b[:10], model.translate(fake_b[:10], "b2a"),
                images_b[:10], fake_a[:10], model.translate(fake_a[:10], "a2b")]
        viz.save_image_grid(np.concatenate(rows), picture, columns=10)
    return report


def main(workdir, picture=None):
    config = workdir_lib.read_config_file(os.path.join(workdir, "config.json"))
    model = tasks.build_model(config)
    checkpoints = checkpoint.CheckpointManager(os.path.join(workdir, "checkpoints"))
    state = checkpoints.restore(model)
    report = {"workdir": workdir, "epoch": state.epoch, "step": state.step,
              **measure(model, config, picture)}
    print(json.dumps(report, indent=1))
    if picture:
        print(f"wrote {picture}")
    return report


if __name__ == "__main__":
    main(*sys.argv[1:])
